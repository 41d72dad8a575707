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
from datetime import date
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from relieflink import __version__
from relieflink.config import schemas_dir
from relieflink.ingest.applications import ApplicationsLog, Settlement, read_applications
from relieflink.ingest.pipeline import FileReport, IngestConfig, IngestResult, file_reports_as_dicts, ingest_batch
from relieflink.ingest.schema import conform, write_parquet
from relieflink.linkage.continuity import Continuity, PreviousRun, read_run_mentions
from relieflink.outputs import StagedOutput, kill_point, preflight, write_json
from relieflink.progress import StageCallback, notify

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from relieflink.audit.periods import AuditPeriod
    from relieflink.ingest.pipeline import ProcessFiles
    from relieflink.linkage.engine import Linker
    from relieflink.linkage.settings import Settings
    from relieflink.linkage.table import Table
    from relieflink.review.apply import Unmatched


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
    linkage_table: Table | None = None  # the linker's node table (LinkResult.table): the screening index's evidence
    linkage_settings: Settings | str = "relief"  # a name under schemas/linkage/, a file, or loaded settings
    decisions: list = field(default_factory=list)
    refused_decisions: list[str] = field(default_factory=list)
    # the audited year: given (``relieflink run --period``), else derived from the records by the audit
    period: int | None = None
    audit_period: AuditPeriod | None = None
    #: last month's run folder, read: persons and households keep its ids (linkage.continuity)
    previous: PreviousRun | None = None
    #: mentions of the run the decisions were taken on, when not ``previous`` (binds decisions
    #: written with file and row only to content)
    decided_on: pd.DataFrame | None = None
    continuity: Continuity | None = None
    #: the recorded applications file as read when the run began (ingest.applications)
    applications: ApplicationsLog | None = None
    settlement: Settlement | None = None  # which recorded applications the exports now carry
    #: where the linkage's pair stages run: "local" (this process) or "spark" (relieflink.spark)
    engine: str = "local"
    #: the Spark master URL of ``engine="spark"`` (None: local[*], or spark-submit's)
    spark_master: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    #: the linkage's own stages (prepare, blocking, comparisons, training, scoring, clustering, …)
    linkage_seconds: dict[str, float] = field(default_factory=dict)
    #: told when each stage (ingest, linkage, audit, writing) begins and ends (relieflink.progress)
    on_stage: StageCallback | None = None

    def _start(self, stage: str, **counts: int) -> float:
        """A stage begins: told to ``on_stage`` (and the tests' kill point of that name, outputs.kill_point)."""
        kill_point(stage)
        notify(self.on_stage, stage, "start", **counts)
        return time.perf_counter()

    def _done(self, stage: str, started: float, **counts: int) -> None:
        self.seconds[stage] = time.perf_counter() - started
        notify(self.on_stage, stage, "done", self.seconds[stage], **counts)

    def ingest_stage(self, progress: Callable[[FileReport], None] | None = None) -> IngestResult:
        started = self._start("ingest")
        # a given audit year bounds the credible record dates (schemas/plausibility.yaml); a derived one
        # is known only after the ingest, so then only the absolute bounds apply
        bounds = (date(self.period, 1, 1), date(self.period, 12, 31)) if self.period is not None else None
        self.ingest = ingest_batch(self.batch_dir, self.config, progress=progress, audit_period=bounds,
                                   process_files=self._file_processor())
        if self.applications is not None:  # approvals recorded by the screening service: records too
            from relieflink.ingest.applications import add_to_ingest

            self.ingest = add_to_ingest(self.ingest, self.applications, replace(self.config, audit_period=bounds))
        self.mentions, self.records = self.ingest.mentions, self.ingest.records
        self._done("ingest", started, files=len(self.ingest.files), records=len(self.records))
        return self.ingest

    def linkage_stage(self) -> None:
        from relieflink.audit.confidence import mention_confidence, records_confidence
        from relieflink.linkage import link_mentions

        assert self.mentions is not None and self.records is not None, "run the ingest stage first"
        started = self._start("linkage", mentions=len(self.mentions))
        linked = link_mentions(self.mentions, self.records, settings=self.linkage_settings,
                               previous=self.previous.mentions if self.previous is not None else None,
                               linker=self._linker_factory())
        confidence = mention_confidence(linked.mentions, linked.persons, linked.pairs, linked.result.nodes.record_node)
        records = linked.records
        if self.decisions:
            from relieflink.review.apply import apply_identity_decisions, reviewed_same
            from relieflink.review.decisions import bind_to_content

            decided_on = self.previous.mentions if self.previous is not None else self.decided_on
            if decided_on is not None:
                self.decisions = bind_to_content(self.decisions, decided_on)
            person_id, self.refused_decisions = apply_identity_decisions(
                linked.mentions, linked.result.nodes.record_node, self.decisions
            )
            linked.mentions["person_id"] = person_id.astype(linked.mentions["person_id"].dtype).to_numpy()
            by_mention = pd.Series(person_id.to_numpy(), index=linked.mentions["mention_id"].to_numpy())
            records["person_id"] = records["beneficiary_mention_id"].map(by_mention).astype(records["person_id"].dtype)
            linked.persons = _persons_after_decisions(linked.persons, linked.mentions)
            # two mentions a reviewer declared one person are joined for certain
            confidence.loc[reviewed_same(linked.mentions, self.decisions), "link_confidence"] = 1.0
        # one column at a time: whole columns replaced, never written into arrays the ingest's tables share
        for column, values in records_confidence(records, linked.mentions, confidence).items():
            records[column] = values.to_numpy()
        tables = {"mentions": linked.mentions, "records": records, "persons": linked.persons,
                  "households": linked.households, "pairs": linked.pairs}
        if self.applications is not None:  # a recorded application the export now carries is dropped
            self._settle_applications(tables)
        if self.previous is not None:
            from relieflink.linkage.continuity import carry_over

            carried = time.perf_counter()
            self.continuity = carry_over(tables, self.previous)
            self.seconds["continuity"] = time.perf_counter() - carried
        self.mentions, self.records = tables["mentions"], tables["records"]
        # the ingest's tables are the linked ones from now on: one mention and one record table held, not two
        assert self.ingest is not None
        self.ingest.mentions, self.ingest.records = self.mentions, self.records
        self.persons, self.households, self.pairs = tables["persons"], tables["households"], tables["pairs"]
        self.linkage_model = linked.model
        self.linkage_table = linked.result.table
        self.linkage_seconds = dict(linked.result.timings)
        self._done("linkage", started, persons=len(self.persons), households=int(self.households["household_id"].nunique()))

    def _spark(self) -> SparkSession | None:
        """The Spark session of ``engine="spark"`` (None: the local engine)."""
        if self.engine == "local":
            return None
        if self.engine != "spark":
            raise ValueError(f"unknown engine {self.engine!r}: local or spark")
        from relieflink.spark.session import spark_session

        return spark_session(self.spark_master)

    def _file_processor(self) -> ProcessFiles | None:
        """Where the ingest reads and maps files: None (here, or local worker processes) or Spark tasks."""
        spark = self._spark()
        if spark is None:
            return None
        from relieflink.spark.ingest import file_processor

        return file_processor(spark)

    def _linker_factory(self) -> Callable[[Settings], Linker]:
        from relieflink.linkage.engine import Linker

        spark = self._spark()
        if spark is None:
            return Linker
        from relieflink.spark.linker import SparkLinker

        return lambda settings: SparkLinker(settings, spark)

    def _settle_applications(self, tables: dict[str, pd.DataFrame]) -> None:
        from relieflink.ingest.applications import APPLICATIONS_FILE, settle
        from relieflink.ingest.quarantine import DUPLICATE_DELIVERY
        from relieflink.ingest.schema import conform

        assert self.ingest is not None
        self.settlement = settle(tables)
        matched = self.settlement.matched
        if len(matched):
            found = pd.DataFrame({
                "file": APPLICATIONS_FILE, "row": matched["row"].astype("Int32"), "column": None,
                "problem": "application_in_export",
                "message": "the recorded application " + matched["application_id"] + " is now in " + matched["export_file"]
                           + " row " + matched["export_row"].astype(str) + "; counted once",
                "action": DUPLICATE_DELIVERY, "raw_value": None})
            q = pd.concat([self.ingest.quarantine, found], ignore_index=True)
            q = q.sort_values(["file", "row", "column", "problem"], kind="stable", na_position="first")
            self.ingest.quarantine = conform(q.reset_index(drop=True), "quarantine")
            for report in self.ingest.files:
                if report.file == APPLICATIONS_FILE:
                    report.records -= len(matched)
                    report.rows_quarantined += len(matched)
        self.ingest.records, self.ingest.mentions = tables["records"], tables["mentions"]

    def audit_stage(self) -> pd.DataFrame:
        from relieflink.audit import audit_records, load_rules

        assert self.persons is not None and self.records is not None, "run the linkage stage first"
        started = self._start("audit", records=len(self.records))
        rules = load_rules(catalog=self.config.catalog)
        result = audit_records(self.records, self.persons, self.mentions, rules, self.config.catalog, self.period)
        self.flags, self.held, self.audit_period = result.flags, result.held, result.period
        if self.decisions:
            from relieflink.review.apply import apply_flag_decisions

            self.flags = apply_flag_decisions(self.flags, self.decisions)
        self._done("audit", started, flags=len(self.flags))
        return self.flags

    def unmatched_decisions(self) -> list[Unmatched]:
        """The decisions whose subject is not in this run — identity decisions judged once the
        linkage ran, flag decisions once the audit ran: kept in the file, not applied."""
        from relieflink.review.apply import unmatched_decisions

        return unmatched_decisions(self.decisions, self.mentions["fingerprint"] if self.persons is not None else None,
                                   self.flags["flag_id"] if self.flags is not None else None)

    def summary(self) -> dict[str, object]:
        assert self.ingest is not None
        out: dict[str, object] = dict(self.ingest.summary())
        if self.persons is not None and self.households is not None:
            out["persons"] = len(self.persons)
            out["households"] = int(self.households["household_id"].nunique())
        if self.flags is not None:
            out["audit_period"] = self.audit_period.as_dict() if self.audit_period is not None else None
            out.update(flag_counts(self.flags, self.held))
        if self.continuity is not None:
            from relieflink.linkage.continuity import merges_and_splits, moved

            out["continuity"] = self.continuity.counts
            out["continuity_merges_and_splits"] = merges_and_splits(self.continuity.changes)
            out["continuity_moved"] = moved(self.continuity.changes)
        if self.applications is not None:
            out["applications"] = self.applications_summary()
            if self.settlement is not None:
                out.update(self.settlement.as_summary())
        if self.decisions:
            out.update(decision_counts(self.decisions, self.refused_decisions, self.unmatched_decisions(), self.flags))
        out["seconds"] = {k: round(v, 2) for k, v in self.seconds.items()}
        return out

    def applications_summary(self) -> dict[str, object]:
        """The recorded applications file as the run read it (its complete lines and their SHA-256:
        the screening service knows from them which lines this run took in) and what became of them."""
        assert self.applications is not None
        standing, withdrawn, repeated = self.applications.standing()
        out: dict[str, object] = {
            "file": self.applications.path.name, "bytes": self.applications.size, "sha256": self.applications.sha256,
            "recorded": len(standing) + len(withdrawn) + len(repeated), "withdrawn": len(withdrawn),
            "unreadable_lines": len(self.applications.unreadable()),
        }
        if self.settlement is not None:
            out["matched"], out["kept"] = len(self.settlement.matched), len(self.settlement.kept)
        return out

    def write(self, out_dir: Path | StagedOutput, pseudonym_key: bytes | None = None) -> None:
        """Write every table that exists, the model and the manifest into a staging folder,
        then swap it into place (reports with keyed ID pseudonyms when ``pseudonym_key``
        is given). ``out_dir`` is checked by :func:`relieflink.outputs.preflight` first
        unless it is the :class:`~relieflink.outputs.StagedOutput` of a preflight already made."""
        target = out_dir if isinstance(out_dir, StagedOutput) else preflight(Path(out_dir), self.batch_dir)
        with target as staging:
            self._write_files(staging, pseudonym_key)

    def _write_files(self, staging: Path, pseudonym_key: bytes | None) -> None:
        from relieflink.audit.output import write_flags

        assert self.ingest is not None
        started = self._start("writing")
        write_parquet(conform(self.mentions, "mentions"), "mentions", staging / "mentions.parquet")
        kill_point("parquet")
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
        if self.continuity is not None:
            self.continuity.changes.to_parquet(staging / "changes.parquet", index=False)
        if self.flags is not None and self.persons is not None:
            from relieflink.screening.index import ScreeningIndex

            # screening (联审联批) reads these arrays: ScreeningIndex.open(OUT) loads, never rebuilds
            ScreeningIndex.write_for_run(staging, self.persons, self.records, self.mentions, self.config.catalog,
                                         self.flags, self.linkage_table)
        write_json(staging / "run.json", self._manifest(staging))
        if self.flags is not None:
            from relieflink.report import write_reports

            kill_point("reports")
            write_reports(staging, self.config.catalog, pseudonym_key=pseudonym_key)
            write_json(staging / "run.json", self._manifest(staging))  # lists the reports too
        self._done("writing", started, files=sum(1 for _ in staging.rglob("*") if _.is_file()))

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


def flag_counts(flags: pd.DataFrame, held: pd.DataFrame | None) -> dict[str, object]:
    """The summary's flag figures, with the reviewers' decisions applied: ``flags`` (all, the
    dismissed on record included), ``flags_by_rule`` (``RULE (finding|review|dismissed)``: a
    dismissed flag counts as dismissed only; a confirmed one is a finding), ``flags_decided``
    (confirmed and dismissed, per rule), ``held_for_identity_review`` and
    ``amount_at_stake_findings`` (active findings, each record once)."""
    from relieflink.audit.money import total

    decision = flags["decision"] if "decision" in flags else pd.Series(None, index=flags.index, dtype=object)
    dismissed = decision.eq("dismissed").to_numpy(dtype=bool, na_value=False)
    state = np.where(dismissed, "dismissed", flags["status"].astype(object).to_numpy())
    by_rule = pd.Series(1, index=pd.MultiIndex.from_arrays([flags["rule_id"].to_numpy(), state])).groupby(level=[0, 1]).size()
    decided = flags.loc[decision.notna().to_numpy(), ["rule_id"]].assign(decision=decision[decision.notna()])
    out: dict[str, object] = {
        "flags": len(flags),
        "flags_by_rule": {f"{rule} ({status})": int(n) for (rule, status), n in by_rule.items()},
        "flags_decided": {f"{rule} ({d})": int(n) for (rule, d), n in decided.groupby(["rule_id", "decision"]).size().items()},
    }
    if held is not None:
        out["held_for_identity_review"] = len(held)
    out["amount_at_stake_findings"] = total(flags[~dismissed & flags["status"].eq("finding").to_numpy()])
    return out


def decision_counts(decisions: list, refused: list[str], unmatched: list[Unmatched],
                    flags: pd.DataFrame | None) -> dict[str, object]:
    """The summary's decision figures: applied, refused, unmatched (per kind and listed), and
    the decided flags whose evidence changed since the decision."""
    from relieflink.review.apply import unmatched_summary

    out: dict[str, object] = {
        "decisions_applied": len(decisions) - len(refused) - len(unmatched),
        "decisions_refused": refused,
        "decisions_unmatched": unmatched_summary(unmatched),
        "decisions_unmatched_list": [u.as_dict() for u in unmatched],
    }
    if flags is not None and "decision_note" in flags:
        out["decided_flags_with_changed_evidence"] = int(flags["decision_note"].notna().sum())
    return out


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
    out_dir: Path | StagedOutput,
    *,
    config: IngestConfig | None = None,
    progress: Callable[[FileReport], None] | None = None,
    stages: tuple[str, ...] = ("ingest", "linkage", "audit"),
    decisions: Path | None = None,
    pseudonym_key: bytes | None = None,
    period: int | None = None,
    previous: Path | None = None,
    applications: Path | None = None,
    on_stage: StageCallback | None = None,
    engine: str = "local",
    spark_master: str | None = None,
) -> Run:
    """Run the pipeline on ``batch_dir`` and write ``out_dir`` atomically.

    ``out_dir`` is checked before any work (:func:`relieflink.outputs.preflight`:
    raises :class:`~relieflink.errors.OutputRefused` when it may not be written,
    :class:`~relieflink.errors.InputRefused` when ``batch_dir`` is not a folder)
    and locked until the run's outputs are in place; or it is the
    :class:`~relieflink.outputs.StagedOutput` of a preflight the caller made.
    ``decisions``: the reviewers' decisions file (kept outside the run folder);
    identity decisions are applied after linkage, flag decisions after the audit.
    ``pseudonym_key``: the reports carry keyed ID pseudonyms instead of masked IDs.
    ``period``: the calendar year to audit; None derives it from the data (the year in
    which most payment and service records begin), stated in the summary either way.
    ``previous``: last month's run folder; persons and households already known keep
    its ids and ``changes.parquet`` lists merges and splits since (raises
    :class:`~relieflink.linkage.continuity.PreviousRunError`, an
    :class:`~relieflink.errors.InputRefused`, when it is not a run folder).
    ``applications``: the file of applications recorded by the screening service
    (:mod:`relieflink.ingest.applications`), read once before any work; the standing ones become
    records, and those the exports now carry are dropped after linkage.
    ``on_stage``: told when each stage begins and ends (:mod:`relieflink.progress`).
    ``engine``: ``"spark"`` runs the linkage's pair stages on Spark (``spark_master``; see
    docs/spark.md) with the same outputs as the default ``"local"``.
    """
    from relieflink.review import load_decisions
    from relieflink.review.decisions import needs_binding

    staged = out_dir if isinstance(out_dir, StagedOutput) else None
    try:  # refused before any work: the rules and the decisions file are read first
        config = config or IngestConfig.load()
        if "audit" in stages:
            from relieflink.audit import load_rules

            load_rules(catalog=config.catalog)
        settings = None
        if "linkage" in stages:  # settings that do not validate are refused before any work
            from relieflink.linkage import Settings

            settings = Settings.load("relief")
        loaded = load_decisions(decisions)
        recorded = read_applications(applications)
    except BaseException:
        if staged is not None:
            staged.abandon()  # the caller's preflight: OUT stays as it was, nothing left beside it
        raise
    target = staged if staged is not None else preflight(Path(out_dir), Path(batch_dir))
    with target as staging:
        prev = PreviousRun.read(Path(previous)) if previous is not None else None
        decided_on = None
        if prev is None and needs_binding(loaded) and (target.out / "run.json").is_file():
            # decisions written with file and row only were taken on the run now in OUT
            decided_on = read_run_mentions(target.out)
        run = Run(batch_dir=Path(batch_dir), config=config, decisions=loaded, period=period, previous=prev,
                  decided_on=decided_on, applications=recorded, on_stage=on_stage, engine=engine,
                  spark_master=spark_master)
        if settings is not None:
            run.linkage_settings = settings
        run.ingest_stage(progress)
        if "linkage" in stages:
            run.linkage_stage()
        if "audit" in stages:
            run.audit_stage()
        run._write_files(staging, pseudonym_key)
    return run
