"""The screening index: the last run's persons and records, ready for one application at a time.

Joint review (联审联批) asks, for one application, *who is this and what do they
already receive?* The index answers in milliseconds by holding, from a run
folder, hash lookups from every valid ID, every name and every toneless pinyin
seen on a mention to the persons they belong to, and each person's records as
row positions into one records table. Built once per run (seconds at 200k
persons); nothing is scanned per application.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.audit import RuleSet, load_rules
from relieflink.config import load_catalog
from relieflink.config.catalog import Catalog

# what the audit engine reads of a record, of a person and of a mention
RECORD_COLUMNS = [
    "record_id", "file", "row", "source", "agency", "program", "kind", "category", "amount", "amount_basis",
    "period_start", "period_end", "event_date", "subdistrict", "household_no", "disability_level",
    "person_id", "household_id", "link_confidence", "identity_resolved",
]
PERSON_COLUMNS = ["person_id", "name", "id_number", "birth_date", "sex", "household_id"]
MENTION_COLUMNS = ["mention_id", "record_id", "role", "source", "name", "name_pinyin", "id_number", "person_id"]


def _lookup(keys: pd.Series, persons: pd.Series) -> dict[str, tuple[str, ...]]:
    """key → the distinct persons it was seen with, in a stable order."""
    pairs = pd.DataFrame({"k": keys.astype(object), "p": persons.astype(object)}).dropna().drop_duplicates()
    pairs = pairs.sort_values(["k", "p"], kind="stable")
    return {k: tuple(g) for k, g in pairs.groupby("k", sort=False)["p"]}


def flags_by_person(flags: pd.DataFrame) -> dict[str, set[tuple[str, frozenset]]]:
    """The active (not dismissed) flags of a run, per person: (rule id, its (file, row) set)."""
    if "decision" in flags:
        flags = flags[flags["decision"].ne("dismissed") | flags["decision"].isna()]
    out: dict[str, set[tuple[str, frozenset]]] = {}
    for pid, rule, recs in zip(flags["person_id"], flags["rule_id"], flags["records"]):
        if isinstance(pid, str):
            out.setdefault(pid, set()).add((rule, frozenset((r["file"], int(r["row"])) for r in recs)))
    return out


@dataclass
class ScreeningIndex:
    """Lookups and tables of one run, for :func:`relieflink.screening.screen`."""

    persons: pd.DataFrame  # one row per person, indexed by person_id
    person_at: dict[str, int]  # person_id → position in ``persons``
    records: pd.DataFrame
    mentions: pd.DataFrame  # beneficiary mentions of the records
    by_id: dict[str, tuple[str, ...]]
    by_name: dict[str, tuple[str, ...]]
    by_pinyin: dict[str, tuple[str, ...]]
    records_of: dict[str, np.ndarray]  # person_id → positions in ``records``
    mentions_of: dict[str, np.ndarray]  # person_id → positions in ``mentions``
    catalog: Catalog
    ruleset: RuleSet
    run_dir: Path | None = None
    # person_id → the run's flags about them: (rule_id, frozenset of (file, row))
    flags_of: dict[str, set[tuple[str, frozenset]]] = field(default_factory=dict)
    # screening's rule sets per program applied for, built on first use
    rules_cache: dict[str, RuleSet] = field(default_factory=dict, repr=False)
    next_record_id: int = field(init=False)  # no record of the run has it: the application's record
    rule_titles: dict[str, str] = field(init=False, repr=False)  # a rule of several clauses: its first title

    def __post_init__(self) -> None:
        self.next_record_id = int(self.records["record_id"].max()) + 1 if len(self.records) else 0
        self.rule_titles = {}
        for rule in self.ruleset.rules:
            self.rule_titles.setdefault(rule.id, rule.title_zh)

    @classmethod
    def from_run(cls, run_dir: Path, catalog: Catalog | None = None, ruleset: RuleSet | None = None) -> ScreeningIndex:
        """Build the index of a ``relieflink run`` output folder."""
        run_dir = Path(run_dir)
        missing = [n for n in ("persons", "records", "mentions") if not (run_dir / f"{n}.parquet").exists()]
        if missing:
            raise FileNotFoundError(
                f"{run_dir}: not a complete run folder (no {', '.join(n + '.parquet' for n in missing)}); "
                "run `relieflink run BATCH --out OUT` first and screen against OUT"
            )
        persons = pd.read_parquet(run_dir / "persons.parquet", columns=PERSON_COLUMNS)
        records = pd.read_parquet(run_dir / "records.parquet", columns=RECORD_COLUMNS)
        mentions = pd.read_parquet(run_dir / "mentions.parquet", columns=MENTION_COLUMNS)
        index = cls.build(persons, records, mentions, catalog, ruleset, run_dir)
        if (run_dir / "flags.parquet").exists():
            index.flags_of = flags_by_person(pd.read_parquet(run_dir / "flags.parquet"))
        return index

    @classmethod
    def build(cls, persons: pd.DataFrame, records: pd.DataFrame, mentions: pd.DataFrame,
              catalog: Catalog | None = None, ruleset: RuleSet | None = None, run_dir: Path | None = None) -> ScreeningIndex:
        catalog = catalog or load_catalog()
        ruleset = ruleset or load_rules(catalog=catalog)
        people = persons.drop_duplicates("person_id").set_index("person_id", drop=False)
        records = records[records["person_id"].notna()].reset_index(drop=True)
        linked = mentions[mentions["person_id"].notna()]
        beneficiaries = linked[linked["role"].eq("beneficiary")].reset_index(drop=True)
        return cls(
            persons=people,
            person_at={pid: i for i, pid in enumerate(people["person_id"])},
            records=records,
            mentions=beneficiaries,
            by_id=_lookup(linked["id_number"], linked["person_id"]),
            by_name=_lookup(pd.concat([linked["name"], people["name"]]), pd.concat([linked["person_id"], people["person_id"]])),
            by_pinyin=_lookup(linked["name_pinyin"], linked["person_id"]),
            records_of={k: np.asarray(v) for k, v in records.groupby("person_id", sort=False).indices.items()},
            mentions_of={k: np.asarray(v) for k, v in beneficiaries.groupby("person_id", sort=False).indices.items()},
            catalog=catalog,
            ruleset=ruleset,
            run_dir=run_dir,
        )
