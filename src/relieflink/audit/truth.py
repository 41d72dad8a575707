"""The true flags of a generated batch: the rules applied to the generator's clean data.

The generator knows the true person and household behind every record; the
audit engine run on those clean records (with full identity confidence)
gives the flags a perfect pipeline would raise. They are written beside the
batch as ``truth/flags.parquet``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from relieflink.audit.engine import run_audit
from relieflink.audit.rules import RuleSet, load_rules
from relieflink.config.catalog import Catalog, load_catalog

_MONTHLY_BASIS = {"monthly"}
# The truth column that holds what ingest maps to ``category`` (per source mapping files).
_CATEGORY_COLUMNS = ["aid_item", "medical_category", "elderly_category", "employment_category", "case_type", "reason"]


def truth_inputs(truth_dir: Path, catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Records, persons and mentions of the truth in the audit engine's input shape."""
    truth_dir = Path(truth_dir)
    rec = pd.read_parquet(truth_dir / "records.parquet")
    rec = rec[rec["row_kind"] == "data"].reset_index(drop=True)
    periodicity = {p.code: p.periodicity for p in catalog.programs}
    kinds = {p.code: p.kind for p in catalog.programs}
    records = pd.DataFrame(
        {
            "record_id": range(len(rec)),
            "file": rec["file"],
            "row": rec["row"].astype(int),
            "source": rec["source"],
            "agency": rec["source"],
            "program": rec["program"],
            "kind": rec["program"].map(kinds),
            "category": rec[[c for c in _CATEGORY_COLUMNS if c in rec]].bfill(axis=1).iloc[:, 0],
            "amount": rec["amount"],
            "amount_basis": rec["program"].map(periodicity).map(lambda p: "month" if p in _MONTHLY_BASIS else "record"),
            "period_start": pd.to_datetime(rec["period_start"]),
            "period_end": pd.to_datetime(rec["period_end"]),
            "event_date": pd.to_datetime(rec["period_start"]),
            "household_no": rec.get("roster_no"),
            "disability_level": rec.get("disability_level"),
            "person_id": rec["person_id"],
            "household_id": rec["household_id"],
        }
    )
    persons = pd.read_parquet(truth_dir / "persons.parquet", columns=["person_id", "name", "id_number", "birth_date", "household_id"])
    men = pd.read_parquet(truth_dir / "mentions.parquet", columns=["file", "row", "role", "person_id", "source"])
    men = men.merge(records[["file", "row", "record_id"]], on=["file", "row"], how="inner")
    return records, persons, men


def generated_year(truth_dir: Path) -> int | None:
    """The calendar year the generator wrote the batch for (``truth.json``), if it says."""
    path = Path(truth_dir) / "truth.json"
    if not path.exists():
        return None
    year = json.loads(path.read_text(encoding="utf-8")).get("year")
    return int(year) if year is not None else None


def true_flags(truth_dir: Path, ruleset: RuleSet | None = None, catalog: Catalog | None = None) -> pd.DataFrame:
    """The flags of the generated batch's own year (else of the year derived from its records)."""
    catalog = catalog or load_catalog()
    ruleset = ruleset or load_rules(catalog=catalog)
    records, persons, mentions = truth_inputs(truth_dir, catalog)
    return run_audit(records, persons, mentions, ruleset, catalog, generated_year(truth_dir))


def write_true_flags(generated_dir: Path) -> Path:
    """Compute the true flags of a generated batch and write ``truth/flags.parquet``."""
    from relieflink.audit.output import write_flags

    truth_dir = Path(generated_dir) / "truth"
    return write_flags(true_flags(truth_dir), truth_dir / "flags.parquet")
