"""The batch job: ingest → linkage → audit, into one run folder.

Each stage's tables are kept in a :class:`Run`, so the library can run the
pipeline step by step (``run.ingest_stage()``, ``run.linkage_stage()``,
``run.audit_stage()``) or at once (:func:`run_batch`). The run folder is
written aside and moved into place at the end (never half-written).
"""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pandas as pd

from relieflink import __version__
from relieflink.config import schemas_dir
from relieflink.ingest.pipeline import FileReport, IngestConfig, IngestResult, file_reports_as_dicts, ingest_batch
from relieflink.ingest.schema import conform, write_parquet
from relieflink.outputs import staged_output, write_json

if TYPE_CHECKING:
    from relieflink.linkage.settings import Settings


@dataclass
class Run:
    """The state of one pipeline run: each stage's outputs once it has run."""

    batch_dir: Path
    config: IngestConfig
    ingest: IngestResult | None = None
    mentions: pd.DataFrame | None = None
    records: pd.DataFrame | None = None
    persons: pd.DataFrame | None = None
    households: pd.DataFrame | None = None
    pairs: pd.DataFrame | None = None
    flags: pd.DataFrame | None = None
    held: pd.DataFrame | None = None
    linkage_model: Settings | None = None  # the trained model
    linkage_settings: Settings | str = "relief"  # a name under schemas/linkage/, a file, or loaded settings
    decisions: list = field(default_factory=list)
    refused_decisions: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def ingest_stage(self, progress: Callable[[FileReport], None] | None = None) -> IngestResult:
        started = time.perf_counter()
        self.ingest = ingest_batch(self.batch_dir, self.config, progress=progress)
        self.mentions, self.records = self.ingest.mentions, self.ingest.records
        self.seconds["ingest"] = time.perf_counter() - started
        return self.ingest

    def linkage_stage(self) -> None:
        from relieflink.audit.confidence import mention_confidence, records_confidence
        from relieflink.linkage import link_mentions

        assert self.mentions is not None and self.records is not None, "run the ingest stage first"
        started = time.perf_counter()
        linked = link_mentions(self.mentions, self.records, settings=self.linkage_settings)
        confidence = mention_confidence(linked.mentions, linked.persons, linked.pairs, linked.result.nodes.record_node)
        records = linked.records
        if self.decisions:
            from relieflink.review.apply import apply_identity_decisions, reviewed_same

            person_id, self.refused_decisions = apply_identity_decisions(
                linked.mentions, linked.result.nodes.record_node, self.decisions
            )
            linked.mentions["person_id"] = person_id.astype(linked.mentions["person_id"].dtype).to_numpy()
            by_mention = pd.Series(person_id.to_numpy(), index=linked.mentions["mention_id"].to_numpy())
            records["person_id"] = records["beneficiary_mention_id"].map(by_mention).astype(records["person_id"].dtype)
            linked.persons = _persons_after_decisions(linked.persons, linked.mentions)
            # two mentions a reviewer declared one person are joined for certain
            confidence.loc[reviewed_same(linked.mentions, self.decisions), "link_confidence"] = 1.0
        records[["link_confidence", "identity_resolved"]] = records_confidence(records, linked.mentions, confidence)
        self.mentions, self.records = linked.mentions, records
        self.persons, self.households, self.pairs = linked.persons, linked.households, linked.pairs
        self.linkage_model = linked.model
        self.seconds["linkage"] = time.perf_counter() - started

    def audit_stage(self) -> pd.DataFrame:
        from relieflink.audit import audit_records, load_rules

        assert self.persons is not None and self.records is not None, "run the linkage stage first"
        started = time.perf_counter()
        rules = load_rules(catalog=self.config.catalog)
        result = audit_records(self.records, self.persons, self.mentions, rules, self.config.catalog)
        self.flags, self.held = result.flags, result.held
        if self.decisions:
            from relieflink.review.apply import apply_flag_decisions

            self.flags = apply_flag_decisions(self.flags, self.decisions)
        self.seconds["audit"] = time.perf_counter() - started
        return self.flags

    def summary(self) -> dict[str, object]:
        assert self.ingest is not None
        out: dict[str, object] = dict(self.ingest.summary())
        if self.persons is not None and self.households is not None:
            out["persons"] = len(self.persons)
            out["households"] = int(self.households["household_id"].nunique())
        if self.flags is not None:
            f = self.flags
            out["flags"] = len(f)
            out["flags_by_rule"] = {
                f"{rule} ({status})": int(n) for (rule, status), n in f.groupby(["rule_id", "status"]).size().items()
            }
            if self.held is not None:
                out["held_for_identity_review"] = len(self.held)
            out["amount_at_stake_findings"] = round(float(f.loc[f["status"] == "finding", "amount_at_stake"].fillna(0).sum()), 2)
        if self.decisions:
            out["decisions_applied"] = len(self.decisions) - len(self.refused_decisions)
            out["decisions_refused"] = self.refused_decisions
        out["seconds"] = {k: round(v, 2) for k, v in self.seconds.items()}
        return out

    def write(self, out_dir: Path, pseudonym_key: bytes | None = None) -> None:
        """Write every table that exists, the model and the manifest, atomically
        (reports with keyed ID pseudonyms when ``pseudonym_key`` is given)."""
        from relieflink.audit.output import write_flags

        assert self.ingest is not None
        with staged_output(Path(out_dir)) as staging:
            write_parquet(conform(self.mentions, "mentions"), "mentions", staging / "mentions.parquet")
            write_parquet(conform(self.records, "records"), "records", staging / "records.parquet")
            write_parquet(self.ingest.quarantine, "quarantine", staging / "quarantine.parquet")
            if self.linkage_model is not None:
                self.linkage_model.save(staging / "linkage_model.json")
                comparisons = [c.name for c in self.linkage_model.comparisons]
                for name in ("pairs", "persons", "households"):
                    write_parquet(getattr(self, name), name, staging / f"{name}.parquet", comparisons)
            if self.flags is not None:
                write_flags(self.flags, staging / "flags.parquet")
            if self.held is not None:
                write_flags(self.held, staging / "held_flags.parquet")
            write_json(staging / "run.json", self._manifest(staging))
            if self.flags is not None:
                from relieflink.report import write_reports

                write_reports(staging, self.config.catalog, pseudonym_key=pseudonym_key)
                write_json(staging / "run.json", self._manifest(staging))  # lists the reports too

    def _manifest(self, staging: Path) -> dict[str, object]:
        assert self.ingest is not None
        summary = self.summary()
        summary.pop("seconds", None)
        return {
            "relieflink_version": __version__,
            "python": platform.python_version(),
            # per-file seconds stay out: the manifest is byte-identical for the same inputs
            "inputs": [{k: v for k, v in d.items() if k != "seconds"} for d in file_reports_as_dicts(self.ingest.files)],
            "config_sha256": config_digest(),
            "outputs": sorted(p.name for p in staging.iterdir()),
            "counts": summary,
        }


def _smallest(values: pd.Series) -> object:
    present = values.dropna()
    return present.min() if len(present) else None


def _persons_after_decisions(persons: pd.DataFrame, mentions: pd.DataFrame) -> pd.DataFrame:
    """The persons table for person ids that identity decisions created or merged."""
    current = set(mentions["person_id"].dropna().astype(str))
    kept = persons[persons["person_id"].astype(str).isin(current)]
    new_ids = sorted(current - set(kept["person_id"].astype(str)))
    if not new_ids:
        return kept.reset_index(drop=True)
    m = mentions[mentions["person_id"].astype(str).isin(new_ids)]
    grouped = m.groupby(m["person_id"].astype(str), sort=True)
    fresh = pd.DataFrame({
        "person_id": grouped.size().index,
        "name": grouped["name"].agg(lambda s: s.mode().min() if s.notna().any() else None).to_numpy(),
        "id_number": grouped["id_number"].agg(_smallest).to_numpy(),
        "birth_date": grouped["birth_date"].agg(_smallest).to_numpy(),
        "sex": grouped["sex"].first().to_numpy(),
        "n_mentions": grouped.size().to_numpy(),
        "household_id": grouped["household_id"].first().to_numpy(),
    })
    return pd.concat([kept, fresh], ignore_index=True).sort_values("person_id").reset_index(drop=True)


def config_digest(schemas: Path | None = None) -> dict[str, str]:
    """SHA-256 of every configuration file, for the manifest."""
    root = schemas or schemas_dir()
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.yaml"))
    }


def run_batch(
    batch_dir: Path,
    out_dir: Path,
    *,
    config: IngestConfig | None = None,
    progress: Callable[[FileReport], None] | None = None,
    stages: tuple[str, ...] = ("ingest", "linkage", "audit"),
    decisions: Path | None = None,
    pseudonym_key: bytes | None = None,
) -> Run:
    """Run the pipeline on ``batch_dir`` and write ``out_dir`` atomically.

    ``decisions``: the reviewers' decisions file (kept outside the run folder);
    identity decisions are applied after linkage, flag decisions after the audit.
    ``pseudonym_key``: the reports carry keyed ID pseudonyms instead of masked IDs.
    """
    from relieflink.review import load_decisions

    run = Run(batch_dir=Path(batch_dir), config=config or IngestConfig.load(), decisions=load_decisions(decisions))
    if "linkage" in stages:  # settings that do not validate are refused before any work
        from relieflink.linkage import Settings

        run.linkage_settings = Settings.load("relief")
    run.ingest_stage(progress)
    if "linkage" in stages:
        run.linkage_stage()
    if "audit" in stages:
        run.audit_stage()
    run.write(Path(out_dir), pseudonym_key=pseudonym_key)
    return run
