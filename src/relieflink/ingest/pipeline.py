"""Ingest a batch folder: every file read, mapped, and accounted for.

``ingest_batch`` is the whole ingest stage: discover the files, read each in
its format, detect repeated deliveries, map rows to mentions and records and
quarantine what cannot be used. Every data row of every readable file ends
in ``records`` or in ``quarantine`` (row conservation, tested on every
generated profile).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.config import Catalog, SourceSpec, load_catalog, load_sources
from relieflink.identity import Gazetteer
from relieflink.ingest.batch import BatchFile, delivery_order, discover
from relieflink.ingest.mapping import map_table
from relieflink.ingest.quarantine import DUPLICATE_DELIVERY, FILE_REJECTED, ROW_REJECTED, Quarantine
from relieflink.ingest.readers import RawTable, UnreadableFile, read_file


@dataclass
class FileReport:
    """What happened to one delivered file (goes into the run manifest)."""

    file: str
    sha256: str
    size: int
    source: str | None
    table: str | None
    status: str  # ingested | duplicate | rejected | unknown
    encoding: str | None = None
    sheet: str | None = None
    data_rows: int = 0
    records: int = 0
    rows_quarantined: int = 0
    duplicate_of: str | None = None
    message: str | None = None
    seconds: float = 0.0


@dataclass
class IngestResult:
    """The ingest stage's output tables and per-file accounting."""

    mentions: pd.DataFrame
    records: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[FileReport] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """Counts for the run summary and manifest (no personal data)."""
        q = self.quarantine
        return {
            "files": len(self.files),
            "files_by_status": pd.Series([f.status for f in self.files]).value_counts().sort_index().to_dict(),
            "duplicate_deliveries": {f.file: f.duplicate_of for f in self.files if f.status == "duplicate"},
            "data_rows": int(sum(f.data_rows for f in self.files)),
            "records": len(self.records),
            "mentions": len(self.mentions),
            "rows_quarantined": int(q.loc[q["action"].isin([ROW_REJECTED, DUPLICATE_DELIVERY])].shape[0]),
            "quarantine_by_problem": q["problem"].value_counts().sort_index().to_dict(),
            "id_status": self.mentions["id_status"].value_counts().sort_index().to_dict(),
        }


@dataclass
class IngestConfig:
    catalog: Catalog
    sources: list[SourceSpec]
    gazetteer: Gazetteer

    @classmethod
    def load(cls, schemas: Path | None = None) -> "IngestConfig":
        catalog = load_catalog(schemas / "programs.yaml" if schemas else None)
        sources = load_sources(schemas / "sources" if schemas else None, catalog)
        gazetteer = Gazetteer.load(schemas / "gazetteer.yaml" if schemas else None)
        return cls(catalog=catalog, sources=sources, gazetteer=gazetteer)


def _fingerprint(table: RawTable) -> str:
    """Content hash of the data rows, so a re-saved copy is recognized too."""
    hashed = pd.util.hash_pandas_object(table.frame.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + table.row_numbers.tobytes()).hexdigest()


def ingest_batch(batch_dir: Path, config: IngestConfig | None = None, progress=None) -> IngestResult:
    """Read and map every file of ``batch_dir``; never raises on bad input files."""
    config = config or IngestConfig.load()
    files = discover(Path(batch_dir), config.sources)
    quarantine = Quarantine()
    reports: dict[str, FileReport] = {}
    first_delivery: dict[tuple[str, str], str] = {}
    mentions, records = [], []
    for bf in delivery_order(files):
        started = time.perf_counter()
        report = _ingest_file(bf, config, quarantine, first_delivery, mentions, records)
        report.seconds = round(time.perf_counter() - started, 3)
        reports[bf.name] = report
        if progress is not None:
            progress(report)
    ordered = [reports[bf.name] for bf in files]
    return _assemble(mentions, records, quarantine.frame(), ordered)


def _ingest_file(
    bf: BatchFile,
    config: IngestConfig,
    quarantine: Quarantine,
    first_delivery: dict[tuple[str, str], str],
    mentions: list[pd.DataFrame],
    records: list[pd.DataFrame],
) -> FileReport:
    report = FileReport(
        file=bf.name, sha256=bf.sha256, size=bf.size,
        source=bf.source.source if bf.source else None, table=bf.table.table if bf.table else None,
        status="ingested",
    )
    if bf.source is None or bf.table is None:
        report.status = "unknown"
        report.message = "the file name matches no source mapping; rename it as the contract says or add a mapping"
        quarantine.add(bf.name, None, None, "unknown_file", report.message, FILE_REJECTED)
        return report
    table = bf.table
    try:
        raw = read_file(bf.path, bf.path.read_bytes(), list(table.columns), table.sheet)
    except UnreadableFile as exc:
        report.status, report.message = "rejected", str(exc)
        quarantine.add(bf.name, None, None, exc.problem, str(exc), FILE_REJECTED)
        return report
    report.encoding, report.sheet = raw.encoding, raw.sheet
    report.data_rows = len(raw.frame) + len(raw.broken)
    for row, problem, message, text in raw.broken:
        quarantine.add(bf.name, [row], None, problem, message, ROW_REJECTED, [text])
    report.rows_quarantined += len(raw.broken)

    missing = [c for c in table.required_columns if c not in raw.frame.columns]
    if missing:
        report.status = "rejected"
        report.message = (
            f"missing required column(s) {', '.join(missing)}; the export must contain them "
            f"(see schemas/sources/{bf.source.path.name if bf.source.path else bf.source.source + '.yaml'})"
        )
        quarantine.add(bf.name, None, ", ".join(missing), "missing_column", report.message, FILE_REJECTED)
        quarantine.add(bf.name, raw.row_numbers, ", ".join(missing), "file_rejected",
                       "the file was rejected (missing required column); the row was not read", ROW_REJECTED)
        report.rows_quarantined += len(raw.frame)
        return report
    absent = [c for c in table.columns if c not in raw.frame.columns]
    if absent:
        quarantine.add(bf.name, None, ", ".join(absent), "missing_optional_column",
                       "optional column(s) absent from the export; their fields stay empty", "noted")

    key = (table.table, _fingerprint(raw))
    if key in first_delivery:
        original = first_delivery[key]
        report.status, report.duplicate_of = "duplicate", original
        report.message = f"same data as {original}: delivered twice, its rows are counted once"
        messages = f"a copy of {original} row " + pd.Series(raw.row_numbers).astype(str)
        quarantine.add(bf.name, raw.row_numbers, None, "duplicate_file", messages.to_numpy(), DUPLICATE_DELIVERY)
        report.rows_quarantined += len(raw.frame)
        return report
    first_delivery[key] = bf.name

    before = sum(len(p) for p in quarantine.parts if (p["file"].iat[0] == bf.name and p["action"].iat[0] == ROW_REJECTED))
    mapped = map_table(raw, table, bf.source, bf.name, config.catalog, config.gazetteer, quarantine)
    after = sum(len(p) for p in quarantine.parts if (p["file"].iat[0] == bf.name and p["action"].iat[0] == ROW_REJECTED))
    report.rows_quarantined += after - before
    report.records = len(mapped.records)
    mentions.append(mapped.mentions)
    records.append(mapped.records)
    return report


_ROLE_ORDER = {"beneficiary": 0, "guardian": 1, "head": 2}


def _assemble(
    mentions: list[pd.DataFrame], records: list[pd.DataFrame], quarantine: pd.DataFrame, files: list[FileReport]
) -> IngestResult:
    """Concatenate per-file outputs in (file, row) order and give dense ids."""
    from relieflink.ingest.schema import conform

    rec = pd.concat(records, ignore_index=True) if records else pd.DataFrame(columns=["file", "row"])
    men = pd.concat(mentions, ignore_index=True) if mentions else pd.DataFrame(columns=["file", "row", "role"])
    rec = rec.sort_values(["file", "row"], kind="stable").reset_index(drop=True)
    rec["record_id"] = np.arange(len(rec), dtype=np.int64)
    men["_role_order"] = men["role"].map(_ROLE_ORDER)
    men = men.sort_values(["file", "row", "_role_order", "mention_key"], kind="stable").reset_index(drop=True)
    men["mention_id"] = np.arange(len(men), dtype=np.int64)
    men = men.merge(rec[["file", "row", "record_id"]], on=["file", "row"], how="left", validate="many_to_one")
    ben = men.loc[men["role"].eq("beneficiary"), ["file", "row", "mention_id"]]
    rec = rec.merge(ben.rename(columns={"mention_id": "beneficiary_mention_id"}), on=["file", "row"], how="left",
                    validate="one_to_one")
    q = quarantine.sort_values(["file", "row", "column", "problem"], kind="stable", na_position="first")
    return IngestResult(
        mentions=conform(men, "mentions"), records=conform(rec, "records"),
        quarantine=conform(q.reset_index(drop=True), "quarantine"), files=files,
    )


def write_ingest_outputs(result: IngestResult, out_dir: Path) -> dict[str, Path]:
    """Write mentions/records/quarantine Parquet files into ``out_dir``."""
    from relieflink.ingest.schema import write_parquet

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in ("mentions", "records", "quarantine"):
        paths[name] = write_parquet(getattr(result, name), name, out_dir / f"{name}.parquet")
    return paths


def file_reports_as_dicts(files: list[FileReport]) -> list[dict[str, object]]:
    return [asdict(f) for f in files]
