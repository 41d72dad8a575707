"""Ingest a batch folder: every file read, mapped, and accounted for.

``ingest_batch`` is the whole ingest stage: discover the files, read each in
its format, detect repeated deliveries, map rows to mentions and records and
quarantine what cannot be used. Every data row of every readable file ends
in ``records`` or in ``quarantine`` (row conservation, tested on every
generated profile).
"""

from __future__ import annotations

import gc
import hashlib
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from relieflink.config import Catalog, Plausibility, SourceSpec, load_catalog, load_plausibility, load_sources
from relieflink.identity import Gazetteer
from relieflink.identity import _cells as C
from relieflink.ingest.batch import BatchFile, delivery_order, discover
from relieflink.ingest.mapping import blank_cells, map_table, normalize_identities, table_frame
from relieflink.ingest.plausibility import Checks
from relieflink.ingest.quarantine import (
    DUPLICATE_DELIVERY, FILE_REJECTED, NOTED, ROW_REJECTED, VALUE_DROPPED, Quarantine,
)
from relieflink.ingest.readers import RawTable, UnreadableFile, column_letter, read_file

if TYPE_CHECKING:
    from relieflink.ingest.parallel import FileOutcome

#: reads and maps the files of (file, map its rows?) jobs elsewhere; the outcomes by file name
ProcessFiles = Callable[[list[tuple[BatchFile, bool]], "IngestConfig"], "dict[str, FileOutcome]"]


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
    header_row: int | None = None  # the row (CSV: line) holding the header; 0 for JSON Lines
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
    """What the ingest reads its batch with: the catalog, the source mappings, the gazetteer, the
    plausibility thresholds and the audit period (first and last day) they may refer to (None:
    only the absolute bounds apply)."""

    catalog: Catalog
    sources: list[SourceSpec]
    gazetteer: Gazetteer
    plausibility: Plausibility
    audit_period: tuple[date, date] | None = None

    @classmethod
    def load(cls, schemas: Path | None = None, audit_period: tuple[date, date] | None = None) -> "IngestConfig":
        catalog = load_catalog(schemas / "programs.yaml" if schemas else None)
        sources = load_sources(schemas / "sources" if schemas else None, catalog)
        gazetteer = Gazetteer.load(schemas / "gazetteer.yaml" if schemas else None)
        plausibility = load_plausibility(schemas / "plausibility.yaml" if schemas else None, catalog)
        return cls(catalog=catalog, sources=sources, gazetteer=gazetteer, plausibility=plausibility,
                   audit_period=audit_period)


def _fingerprint(table: RawTable) -> str:
    """Content hash of the data rows, so a re-saved copy is recognized too.

    Two tables get the same fingerprint exactly when their cells read the same
    as text (``str`` of each cell, blank cells alike whether None or NaN) and
    the rows have the same numbers. Text columns are hashed from their Arrow
    buffers (lengths, then bytes), without building Python strings.
    """
    digest = hashlib.sha256()
    for column in table.frame.columns:
        arr = _arrow_text(table.frame[column])
        if arr is None:  # cells other than text (Excel numbers, dates): their str(); blank cells null
            arr = _cell_strings(table.splits.get(column), table.frame[column])
        arr = pc.fill_null(arr, "<NA>")
        digest.update(pc.binary_length(arr).to_numpy(zero_copy_only=False).astype(np.int64).tobytes())
        digest.update(b"\x00")
        for chunk in _data_chunks(arr):
            digest.update(chunk)
        digest.update(b"\x01")
    digest.update(np.ascontiguousarray(table.row_numbers).tobytes())
    return digest.hexdigest()


def _cell_strings(split: C.Split | None, cells: pd.Series) -> pa.Array:
    """``str()`` of every cell of a column that is not all text, null where blank: the text cells
    from the reader's split (Arrow), the other cells (numbers, dates) one by one."""
    if split is None or split.n != len(cells):
        split = C.split_cells(cells)
    other = pa.array([str(v) for v in split.other_vals.tolist()], type=pa.string())
    return C.replace_rows(split.text, split.other_pos, other)


def _arrow_text(series: pd.Series) -> pa.Array | None:
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        arr = series.array._pa_array  # type: ignore[attr-defined]
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return None


def _data_chunks(arr: pa.Array) -> list[bytes]:
    """The UTF-8 bytes of the valid strings of ``arr``, in order (offsets honoured)."""
    if len(arr) == 0:
        return []
    arr = arr.cast(pa.large_string()) if not pa.types.is_large_string(arr.type) else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is None:
        return []
    return [memoryview(data)[int(offsets[0]) : int(offsets[-1])].tobytes()]


@contextmanager
def _gc_paused():
    """The cyclic garbage collector off for the duration (restored after).

    Reading creates millions of acyclic Python objects (CSV rows, JSON
    objects, cell strings); each full collection would scan all of them
    again (measured: 5-7 % of the ingest CPU at 200k persons). Objects in
    reference cycles made meanwhile are collected after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ingest_batch(
    batch_dir: Path, config: IngestConfig | None = None, progress=None,
    audit_period: tuple[date, date] | None = None, workers: int | None = None,
    process_files: ProcessFiles | None = None,
) -> IngestResult:
    """Read and map every file of ``batch_dir``; never raises on bad input files (see :func:`_ingest_batch`).

    ``audit_period`` (first and last day), when given, replaces the config's: record dates far
    outside it and birth dates after it are implausible (``schemas/plausibility.yaml``).
    ``workers``: processes reading and mapping files at once (None: the usable cores for a batch
    large enough to pay for them when the cores are idle, else 1, see
    :func:`relieflink.ingest.parallel.worker_count`; 1: in this process). The result is the same
    for every number of workers. ``process_files``: reads and maps the files elsewhere instead of
    in worker processes (relieflink.spark: one task per file), given the jobs of
    :func:`relieflink.ingest.parallel.file_jobs` and the config, the outcomes by file name."""
    from relieflink.ingest.parallel import file_jobs, process_files as in_processes, worker_count

    config = config or IngestConfig.load()
    if audit_period is not None:
        config = replace(config, audit_period=audit_period)
    with _gc_paused():
        files = discover(Path(batch_dir), config.sources)
        if process_files is not None:
            return _ingest_parallel(files, config, process_files(file_jobs(files), config), progress)
        workers = worker_count(files, workers)
        if workers > 1:
            return _ingest_parallel(files, config, in_processes(files, config, workers), progress)
        return _ingest_batch(files, config, progress)


def _ingest_parallel(files: list[BatchFile], config: IngestConfig, outcomes: dict[str, FileOutcome],
                     progress=None) -> IngestResult:
    """:func:`_ingest_batch` with files read and mapped elsewhere (``outcomes`` by file name:
    worker processes, :mod:`relieflink.ingest.parallel`, or Spark tasks); what depends on the other
    files (repeated deliveries, the order of the quarantine) is decided here, in delivery order,
    as the serial path does."""
    from relieflink.ingest.parallel import read_and_map

    quarantine = Quarantine()
    first_delivery: dict[tuple[str, str], str] = {}
    reports: dict[str, FileReport] = {}
    to_map = []
    for bf in delivery_order(files):
        outcome = outcomes.get(bf.name) or read_and_map(bf, config, map_rows=False)
        quarantine.parts += outcome.read_parts
        report = reports[bf.name] = outcome.report
        if outcome.key is not None and _first_delivery(bf, None, report, outcome.key, quarantine, first_delivery,
                                                       outcome.row_numbers):
            if outcome.mentions is None:  # only fingerprinted (a byte-identical copy), yet a first delivery
                outcome = read_and_map(bf, config)
            quarantine.parts += outcome.unread_parts
            to_map.append((bf, outcome))
        elif progress is not None:
            progress(report)
    mentions, records = [], []
    for bf, outcome in to_map:
        quarantine.parts += outcome.map_parts
        report = reports[bf.name] = outcome.mapped_report
        mentions.append(outcome.mentions)
        records.append(outcome.records)
        if progress is not None:
            progress(report)
    for report in reports.values():
        report.seconds = round(report.seconds, 3)
    return _assemble(mentions, records, quarantine.frame(), [reports[bf.name] for bf in files])


def _ingest_batch(files: list[BatchFile], config: IngestConfig, progress=None) -> IngestResult:
    """Read and map every file of a batch (as :func:`~relieflink.ingest.batch.discover` lists them);
    never raises on bad input files.

    Two phases: every file is read, checked and fingerprinted first; then the
    names and IDs of all files to map are normalized at once (a name that
    occurs in several files is converted once), and each file is mapped.
    ``FileReport.seconds`` is the file's own reading and mapping time plus its
    share (by rows) of the batch-wide identity normalization.
    """
    quarantine = Quarantine()
    reports: dict[str, FileReport] = {}
    first_delivery: dict[tuple[str, str], str] = {}
    mentions, records = [], []
    to_map: list[tuple[BatchFile, RawTable, FileReport]] = []
    for bf in delivery_order(files):
        started = time.perf_counter()
        report, raw, key = _read_file(bf, config, quarantine)
        if raw is not None and key is not None and _first_delivery(bf, raw, report, key, quarantine, first_delivery):
            _prepare(bf, raw, quarantine)
        else:
            raw = None
        report.seconds = time.perf_counter() - started
        reports[bf.name] = report
        if raw is not None:
            to_map.append((bf, raw, report))
        elif progress is not None:
            progress(report)
    started = time.perf_counter()
    identities = normalize_identities([(raw.frame, bf.table) for bf, raw, _ in to_map],
                                      [raw.splits for _, raw, _ in to_map])
    shared = time.perf_counter() - started
    total_rows = sum(len(raw.frame) for _, raw, _ in to_map) or 1
    for i in range(len(to_map)):
        (bf, raw, report), ident = to_map[i], identities[i]
        to_map[i], identities[i] = None, None  # type: ignore[call-overload]  # free the raw cells once mapped
        started = time.perf_counter()
        _map_file(bf, raw, report, config, quarantine, mentions, records, ident)
        report.seconds += time.perf_counter() - started + shared * len(raw.frame) / total_rows
        del raw, ident
        if progress is not None:
            progress(report)
    for report in reports.values():
        report.seconds = round(report.seconds, 3)
    ordered = [reports[bf.name] for bf in files]
    return _assemble(mentions, records, quarantine.frame(), ordered)


def _read_file(
    bf: BatchFile, config: IngestConfig, quarantine: Quarantine,
) -> tuple[FileReport, RawTable | None, tuple[str, str] | None]:
    """Read one file and account for what cannot be mapped.

    Returns the report, and when the file's rows can be mapped the raw table
    and its delivery key (table, content fingerprint) for
    :func:`_first_delivery`; otherwise ``(report, None, None)``."""
    report = FileReport(
        file=bf.name, sha256=bf.sha256, size=bf.size,
        source=bf.source.source if bf.source else None, table=bf.table.table if bf.table else None,
        status="ingested",
    )
    if bf.source is None or bf.table is None:
        report.status = "unknown"
        report.message = "the file name matches no source mapping; rename it as the contract says or add a mapping"
        quarantine.add(bf.name, None, None, "unknown_file", report.message, FILE_REJECTED)
        return report, None, None
    table = bf.table
    try:
        raw = read_file(bf.path, bf.path.read_bytes(), list(table.columns), table.sheet)
    except UnreadableFile as exc:
        report.status, report.message = "rejected", str(exc)
        quarantine.add(bf.name, None, None, exc.problem, str(exc), FILE_REJECTED)
        return report, None, None
    report.encoding, report.sheet, report.header_row = raw.encoding, raw.sheet, raw.header_row
    report.data_rows = len(raw.frame) + len(raw.broken)
    for row, problem, message, text in raw.broken:
        quarantine.add(bf.name, [row], None, problem, message, ROW_REJECTED, [text])
    report.rows_quarantined += len(raw.broken)

    missing = [c for c in table.required_columns if c not in raw.frame.columns]
    if missing:
        _note_unread_cells(bf.name, raw, quarantine)  # a blank or repeated header name may be why
        report.status = "rejected"
        report.message = (
            f"missing required column(s) {', '.join(missing)}; the export must contain them "
            f"(see schemas/sources/{bf.source.path.name if bf.source.path else bf.source.source + '.yaml'})"
        )
        quarantine.add(bf.name, None, ", ".join(missing), "missing_column", report.message, FILE_REJECTED)
        quarantine.add(bf.name, raw.row_numbers, ", ".join(missing), "file_rejected",
                       "the file was rejected (missing required column); the row was not read", ROW_REJECTED)
        report.rows_quarantined += len(raw.frame)
        return report, None, None
    absent = [c for c in table.columns if c not in raw.frame.columns]
    if absent:
        quarantine.add(bf.name, None, ", ".join(absent), "missing_optional_column",
                       "optional column(s) absent from the export; their fields stay empty", "noted")

    return report, raw, (table.table, _fingerprint(raw))


def _first_delivery(
    bf: BatchFile, raw: RawTable | None, report: FileReport, key: tuple[str, str], quarantine: Quarantine,
    first_delivery: dict[tuple[str, str], str], row_numbers: np.ndarray | None = None,
) -> bool:
    """True when the file is the first delivery of its data (noted in ``first_delivery``); otherwise its
    rows are quarantined as copies of the first one. ``row_numbers``: the file's, when ``raw`` is None."""
    if key not in first_delivery:
        first_delivery[key] = bf.name
        return True
    rows = raw.row_numbers if raw is not None else row_numbers
    assert rows is not None
    original = first_delivery[key]
    report.status, report.duplicate_of = "duplicate", original
    report.message = f"same data as {original}: delivered twice, its rows are counted once"
    messages = f"a copy of {original} row " + pd.Series(rows).astype(str)
    quarantine.add(bf.name, rows, None, "duplicate_file", messages.to_numpy(), DUPLICATE_DELIVERY)
    report.rows_quarantined += len(rows)
    return False


def _prepare(bf: BatchFile, raw: RawTable, quarantine: Quarantine) -> None:
    """A first delivery before mapping: its unread cells noted, every mapped column present."""
    assert bf.table is not None
    _note_unread_cells(bf.name, raw, quarantine)
    raw.frame = table_frame(raw, bf.table)


def _note_unread_cells(file: str, raw: RawTable, quarantine: Quarantine) -> None:
    """Account for what the reader could not take as cells of kept rows.

    A column with a blank or repeated header name is named once at file
    level and each of its non-blank cells is listed (a repeated name's cells
    are dropped values: the first column of that name is the one read; a
    blank name's are noted, as any column the mapping does not use). A JSON
    object or array given as a value is a dropped value, its JSON text kept.
    """
    for column in raw.dropped_columns:
        filled = ~blank_cells(column.cells)
        if column.problem == "blank_column_name" and not filled.any():
            continue  # an empty column without a name (Excel's used range): nothing to say
        quarantine.add(file, None, column.label, column.problem, column.message, NOTED)
        action = VALUE_DROPPED if column.problem == "duplicate_column" else NOTED
        quarantine.add(file, raw.row_numbers[filled], column.label, column.problem,
                       f"a cell of {column.label} (column {column_letter(column.position)}), which is not read",
                       action, column.cells[filled])
    for row, column_name, problem, message, text in raw.bad_cells:
        quarantine.add(file, [row], column_name, problem, message, VALUE_DROPPED, [text])


def _map_file(
    bf: BatchFile,
    raw: RawTable,
    report: FileReport,
    config: IngestConfig,
    quarantine: Quarantine,
    mentions: list[pd.DataFrame],
    records: list[pd.DataFrame],
    identities: dict[str, pd.DataFrame],
) -> None:
    assert bf.source is not None and bf.table is not None
    rejected_before = len(quarantine.parts)
    mapped = map_table(raw, bf.table, bf.source, bf.name, config.catalog, config.gazetteer, quarantine, identities,
                       Checks(config.plausibility, config.audit_period))
    report.rows_quarantined += sum(
        len(p) for p in quarantine.parts[rejected_before:] if p["action"].iat[0] == ROW_REJECTED
    )
    report.records = len(mapped.records)
    mentions.append(mapped.mentions)
    records.append(mapped.records)


_ROLE_ORDER = {"beneficiary": 0, "guardian": 1, "head": 2}


def _assemble(
    mentions: list[pd.DataFrame], records: list[pd.DataFrame], quarantine: pd.DataFrame, files: list[FileReport]
) -> IngestResult:
    """Concatenate per-file outputs in (file, row) order and give dense ids.

    Per-file frames are concatenated in file-name order; within a file records
    are already in row order, so the (file, row) sort is a no-op checked in
    O(n). Mentions are ordered with one ``np.lexsort`` over integer codes, and
    ``record_id`` / ``beneficiary_mention_id`` are found by position
    (``searchsorted`` on a (file, row) key) instead of merges.
    """
    from relieflink.ingest.schema import concat_frames, conform

    if not records or not mentions:
        return _assemble_merge(mentions, records, quarantine, files)
    rec_parts = sorted((r for r in records if len(r)), key=lambda r: r["file"].iat[0])
    men_parts = sorted((m for m in mentions if len(m)), key=lambda m: m["file"].iat[0])
    if not rec_parts or not men_parts:
        return _assemble_merge(mentions, records, quarantine, files)
    file_names = [r["file"].iat[0] for r in rec_parts]
    code_of = {name: i for i, name in enumerate(file_names)}
    if len(code_of) != len(rec_parts) or any(m["file"].iat[0] not in code_of for m in men_parts):
        return _assemble_merge(mentions, records, quarantine, files)
    rec = concat_frames(rec_parts)
    rec_file = np.repeat(np.arange(len(rec_parts), dtype=np.int64), [len(r) for r in rec_parts])
    rec_key = (rec_file << 32) | rec["row"].to_numpy(dtype=np.int64)
    if len(rec_key) > 1 and not (np.diff(rec_key) >= 0).all():
        order = np.argsort(rec_key, kind="stable")
        rec = rec.take(order).reset_index(drop=True)
        rec_key = rec_key[order]
    rec["record_id"] = np.arange(len(rec), dtype=np.int64)

    men = concat_frames(men_parts)
    men_file = np.repeat(np.array([code_of[m["file"].iat[0]] for m in men_parts], dtype=np.int64),
                         [len(m) for m in men_parts])
    men_key = (men_file << 32) | men["row"].to_numpy(dtype=np.int64)
    men["_role_order"] = men["role"].map(_ROLE_ORDER)
    role_order = men["_role_order"].to_numpy(dtype=np.float64)
    role_code = np.where(np.isnan(role_order), len(_ROLE_ORDER), np.nan_to_num(role_order)).astype(np.int64)
    key_codes, _ = pd.factorize(men["mention_key"], sort=True)
    order = np.lexsort((key_codes, role_code, men_key))  # last key is the primary one; stable
    if not (order == np.arange(len(order))).all():
        men = men.take(order).reset_index(drop=True)
        men_key = men_key[order]
    men["mention_id"] = np.arange(len(men), dtype=np.int64)

    pos = np.searchsorted(rec_key, men_key)
    found = pos < len(rec_key)
    found[found] = rec_key[pos[found]] == men_key[found]
    if not found.all():
        return _assemble_merge(mentions, records, quarantine, files)
    men["record_id"] = pos.astype(np.int64)

    is_ben = men["role"].eq("beneficiary").to_numpy()
    ben_key = men_key[is_ben]
    ben_id = men["mention_id"].to_numpy()[is_ben]
    if len(ben_key) > 1 and not (np.diff(ben_key) > 0).all():  # not one beneficiary per row: let merge validate
        return _assemble_merge(mentions, records, quarantine, files)
    bpos = np.searchsorted(ben_key, rec_key)
    bfound = bpos < len(ben_key)
    bfound[bfound] = ben_key[bpos[bfound]] == rec_key[bfound]
    if bfound.all():
        rec["beneficiary_mention_id"] = ben_id[bpos].astype(np.int64)
    else:  # as a left merge gives it: float with NaN where a record has no beneficiary mention
        values = np.full(len(rec), np.nan)
        values[bfound] = ben_id[bpos[bfound]]
        rec["beneficiary_mention_id"] = values
    _link_reversals(rec)
    q = quarantine.sort_values(["file", "row", "column", "problem"], kind="stable", na_position="first")
    return IngestResult(
        mentions=conform(men, "mentions"), records=conform(rec, "records"),
        quarantine=conform(q.reset_index(drop=True), "quarantine"), files=files,
    )


def _link_reversals(rec: pd.DataFrame) -> None:
    """``reverses_record_id`` from the ``reverses_row`` the mapping found (same file): a merge of the
    few reversals with the records, by (file, row)."""
    rec["reverses_record_id"] = pd.array([pd.NA] * len(rec), dtype="Int64")
    if "reverses_row" not in rec or not rec["reverses_row"].notna().any():
        return
    at = np.flatnonzero(rec["reverses_row"].notna().to_numpy())
    wanted = pd.DataFrame({"file": rec["file"].to_numpy()[at],
                           "row": rec["reverses_row"].to_numpy()[at].astype(np.int64)})
    found = wanted.merge(rec[["file", "row", "record_id"]].astype({"row": np.int64}), on=["file", "row"], how="left")
    rec.loc[rec.index[at], "reverses_record_id"] = found["record_id"].to_numpy()


def _assemble_merge(
    mentions: list[pd.DataFrame], records: list[pd.DataFrame], quarantine: pd.DataFrame, files: list[FileReport]
) -> IngestResult:
    """The general form of :func:`_assemble` (sorts and merges), for the cases its fast path does not cover."""
    from relieflink.ingest.schema import conform, empty_frame

    q = quarantine.sort_values(["file", "row", "column", "problem"], kind="stable", na_position="first")
    q = conform(q.reset_index(drop=True), "quarantine")
    records = [r for r in records if len(r)]
    mentions = [m for m in mentions if len(m)]
    if not records:  # nothing readable: empty tables with the canonical columns
        return IngestResult(mentions=empty_frame("mentions"), records=empty_frame("records"), quarantine=q, files=files)
    rec = pd.concat(records, ignore_index=True)
    men = pd.concat(mentions, ignore_index=True)
    rec = rec.sort_values(["file", "row"], kind="stable").reset_index(drop=True)
    rec["record_id"] = np.arange(len(rec), dtype=np.int64)
    men["_role_order"] = men["role"].map(_ROLE_ORDER)
    men = men.sort_values(["file", "row", "_role_order", "mention_key"], kind="stable").reset_index(drop=True)
    men["mention_id"] = np.arange(len(men), dtype=np.int64)
    men = men.merge(rec[["file", "row", "record_id"]], on=["file", "row"], how="left", validate="many_to_one")
    ben = men.loc[men["role"].eq("beneficiary"), ["file", "row", "mention_id"]]
    rec = rec.merge(ben.rename(columns={"mention_id": "beneficiary_mention_id"}), on=["file", "row"], how="left",
                    validate="one_to_one")
    _link_reversals(rec)
    return IngestResult(mentions=conform(men, "mentions"), records=conform(rec, "records"), quarantine=q, files=files)


def file_reports_as_dicts(files: list[FileReport]) -> list[dict[str, object]]:
    return [asdict(f) for f in files]
