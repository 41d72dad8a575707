"""Recorded applications: approvals an agency reported to the screening service between two runs.

When a subdistrict approves temporary relief, its case system tells the
screening service (``POST /v1/applications``) so that a second application for
the same need is caught before the next batch run. The service appends the
approval to an append-only JSON Lines file kept beside the run folder, like
the reviewers' decisions (``relieflink-applications.jsonl``; ``--applications
FILE`` elsewhere). This module owns that file: its lines, the locked append,
the reading, and what the next ``relieflink run`` makes of it:

* every recorded application still standing (not withdrawn) becomes a record
  of the approving agency, mapped by the ingest's own engine (names, IDs,
  dates and amounts parsed and checked like any export's), with file
  ``relieflink-applications.jsonl`` and its line as row — so linkage finds its
  person like any other row's;
* after linkage, :func:`settle` matches each such record to the export record
  that now carries the same grant (same person, program and approving agency,
  periods overlapping by month; each export record absorbs one application)
  and drops it: it is in ``quarantine.parquet`` as ``duplicate_delivery``
  (``application_in_export``), never a duplicate of itself. The unmatched ones
  stay records of the approving agency (an approval its export does not carry
  yet) and are listed in the summary;
* a withdrawn application, or a line that cannot be read, is in the
  quarantine as ``row_rejected``.

Lines (one JSON object each, keys sorted)::

    {"op": "record", "application_id": "APP-…", "agency": "jd-hushu", "idempotency_key": "…",
     "recorded_at": "2026-01-05T08:00:00Z", "application": {"name": …, "id_number": …, "program": …,
     "period_start": "2015-06-01", "period_end": …, "subdistrict": …, "amount": …, "phone": …}}
    {"op": "withdraw", "application_id": "APP-…", "agency": "jd-hushu", "withdrawn_at": "…"}

The file holds personal data (it is an input, like an export); logs and the
summary never show its contents, only application ids, lines and codes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Iterator, Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from relieflink.config.catalog import Catalog
from relieflink.config.sources import AmountSpec, Choice, ColumnSpec, MentionSpec, RecordSpec, SourceSpec, TableSpec
from relieflink.errors import InputRefused

APPLICATIONS_FILE = "relieflink-applications.jsonl"
#: the fields of an application, as the service takes them and the file keeps them
APPLICATION_FIELDS = ("name", "id_number", "program", "period_start", "period_end", "subdistrict", "amount", "phone")


def default_applications_file(out: Path) -> Path:
    """Recorded applications live beside the run folder, not in it (a run replaces OUT whole)."""
    return Path(out).resolve().parent / APPLICATIONS_FILE


def application_id(agency: str, idempotency_key: str) -> str:
    """The id of an agency's application under its idempotency key: the same key gives the same id."""
    return "APP-" + hashlib.sha256(f"{agency}\x1f{idempotency_key}".encode("utf-8")).hexdigest()[:16]


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordedLine(_Line):
    """An approved application as the service recorded it."""

    op: Literal["record"]
    application_id: str
    agency: str
    idempotency_key: str
    recorded_at: str
    application: dict[str, str | float | int | None]


class WithdrawnLine(_Line):
    """The withdrawal of a recorded application by the agency that recorded it."""

    op: Literal["withdraw"]
    application_id: str
    agency: str
    withdrawn_at: str


_LINE = TypeAdapter(Annotated[Union[RecordedLine, WithdrawnLine], Field(discriminator="op")])


@dataclass(frozen=True)
class Line:
    """One line of the file: its number (from 1), its text, and what it says (None: unreadable)."""

    number: int
    text: str
    entry: RecordedLine | WithdrawnLine | None


@dataclass
class ApplicationsLog:
    """The file as read at one moment: its complete lines, and the digest of those bytes."""

    path: Path
    lines: list[Line] = field(default_factory=list)
    sha256: str = hashlib.sha256(b"").hexdigest()
    size: int = 0  # bytes of the complete lines

    def standing(self) -> tuple[list[Line], list[Line], list[Line]]:
        """(standing, withdrawn, repeated) record lines: a record is withdrawn by a later
        withdrawal of its agency; a second record line with an id already seen repeats it."""
        withdrawn_at: dict[tuple[str, str], int] = {}
        for line in self.lines:
            if isinstance(line.entry, WithdrawnLine):
                withdrawn_at.setdefault((line.entry.application_id, line.entry.agency), line.number)
        seen: set[str] = set()
        standing, withdrawn, repeated = [], [], []
        for line in self.lines:
            entry = line.entry
            if not isinstance(entry, RecordedLine):
                continue
            if entry.application_id in seen:
                repeated.append(line)
                continue
            seen.add(entry.application_id)
            if withdrawn_at.get((entry.application_id, entry.agency), 0) > line.number:
                withdrawn.append(line)
            else:
                standing.append(line)
        return standing, withdrawn, repeated

    def unreadable(self) -> list[Line]:
        return [line for line in self.lines if line.entry is None]


def parse_lines(data: bytes, first_number: int = 1) -> tuple[list[Line], int]:
    """The complete lines of ``data`` (a last line without its newline is being written, or was
    cut by a crash: not read) and the number of bytes they take."""
    end = data.rfind(b"\n") + 1
    lines = []
    for i, raw in enumerate(data[:end].split(b"\n")[:-1]):
        text = raw.decode("utf-8", errors="replace")
        try:
            entry = _LINE.validate_python(json.loads(text)) if text.strip() else None
        except (ValueError, ValidationError):
            entry = None
        if text.strip():
            lines.append(Line(first_number + i, text, entry))
    return lines, end


@contextmanager
def locked(path: Path, exclusive: bool) -> Iterator[int]:
    """The file opened for appending (created if absent), under ``flock``: exclusive for a writer,
    shared for a reader, so a run never reads a line half-written by the service."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def read_from(fd: int, offset: int) -> bytes:
    """The bytes of an open file from ``offset`` on."""
    size = os.fstat(fd).st_size
    return os.pread(fd, size - offset, offset) if size > offset else b""


def append_entry(fd: int, entry: RecordedLine | WithdrawnLine) -> None:
    """One line, in one ``write`` on a descriptor opened with ``O_APPEND`` (hold the exclusive lock).
    A last line cut by a crash is closed first, so the new line is never glued to it."""
    size = os.fstat(fd).st_size
    prefix = b"\n" if size and os.pread(fd, 1, size - 1) != b"\n" else b""
    text = json.dumps(entry.model_dump(), ensure_ascii=False, sort_keys=True)
    os.write(fd, prefix + text.encode("utf-8") + b"\n")


def read_applications(path: Path | None) -> ApplicationsLog | None:
    """The file as it stands (None when there is none); a folder or an unreadable file is refused."""
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        return None
    if not path.is_file():
        raise InputRefused(f"{path} is not a file of recorded applications; pass --applications the JSON Lines "
                           f"file the screening service writes")
    try:
        with locked(path, exclusive=False) as fd:
            data = read_from(fd, 0)
    except OSError as exc:
        raise InputRefused(f"{path}: cannot read the recorded applications ({exc.strerror}); check its permissions") from None
    lines, end = parse_lines(data)
    return ApplicationsLog(path, lines, hashlib.sha256(data[:end]).hexdigest(), end)


def prefix_digest(data: bytes, lines: int) -> str | None:
    """SHA-256 of the first ``lines`` complete lines of ``data`` (None when it has fewer): what a run
    records of the file, so the service knows which of its lines that run took in."""
    at = 0
    for _ in range(lines):
        nl = data.find(b"\n", at)
        if nl < 0:
            return None
        at = nl + 1
    return hashlib.sha256(data[:at]).hexdigest()


# -- the lines as records -------------------------------------------------------------------------

def application_table(catalog: Catalog) -> TableSpec:
    """The mapping of an application's fields, as a source mapping file would say it: every
    program of the catalog may be applied for, so the program choice is built from it."""
    text, date = ColumnSpec(parse="text"), ColumnSpec(parse="date")
    return TableSpec(
        table="applications",
        files=[APPLICATIONS_FILE],
        columns={"name": ColumnSpec(parse="name"), "id_number": ColumnSpec(parse="resident_id"),
                 "program": ColumnSpec(parse="text", required=True), "period_start": ColumnSpec(parse="date", required=True),
                 "period_end": date, "subdistrict": ColumnSpec(parse="subdistrict"),
                 "amount": ColumnSpec(parse="amount"), "phone": ColumnSpec(parse="phone"), "application_id": text},
        mentions={"person": MentionSpec(role="beneficiary", name="name", id="id_number", phone="phone",
                                        subdistrict="subdistrict")},
        record=RecordSpec(beneficiary="person", program=Choice(column="program", values={p.code: p.code for p in catalog.programs}),
                          amount=AmountSpec(column="amount", basis="record"), start="period_start", end="period_end",
                          event_date="period_start", subdistrict="subdistrict", detail=["application_id"]),
    )


def _cell(value: object) -> str | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def map_lines(lines: list[Line], catalog, gazetteer, quarantine, checks=None) -> tuple[pd.DataFrame, pd.DataFrame]:  # type: ignore[no-untyped-def]
    """Mentions and records of recorded-application lines, through the ingest's mapping engine
    (rows it cannot use go to ``quarantine``); the approving agency is each record's agency and
    source, and a monthly program's amount is per month."""
    from relieflink.ingest.mapping import map_table
    from relieflink.ingest.readers import RawTable, arrow_text_columns

    entries = [line.entry for line in lines]
    assert all(isinstance(e, RecordedLine) for e in entries)
    frame = pd.DataFrame({name: [_cell(e.application.get(name)) for e in entries] for name in APPLICATION_FIELDS})  # type: ignore[union-attr]
    frame["application_id"] = [e.application_id for e in entries]  # type: ignore[union-attr]
    raw = RawTable(frame=arrow_text_columns(frame), row_numbers=np.array([line.number for line in lines], dtype=np.int32),
                   raw_lines=pd.Series([line.text for line in lines], dtype=object), header_row=0, encoding="UTF-8")
    table = application_table(catalog)
    source = SourceSpec(source="relieflink", tables=[table])
    mapped = map_table(raw, table, source, APPLICATIONS_FILE, catalog, gazetteer, quarantine, None, checks)
    records, mentions = mapped.records, mapped.mentions
    if len(records) == 0:
        return mentions, records
    agency_at = {line.number: line.entry.agency for line in lines}  # type: ignore[union-attr]
    records["agency"] = records["source"] = records["row"].map(agency_at).to_numpy()
    mentions["source"] = mentions["row"].map(agency_at).to_numpy()
    monthly = records["program"].map({p.code: p.periodicity == "monthly" for p in catalog.programs}).fillna(False)
    records["amount_basis"] = np.where(monthly.to_numpy(dtype=bool), "month", "record")
    mentions["mention_key"] = "person"
    return mentions, records


@dataclass
class Settlement:
    """What :func:`settle` did: the applications the export now carries, and those kept."""

    matched: pd.DataFrame  # application_id, row, export_file, export_row
    kept: pd.DataFrame  # application_id, row, agency, program, period_start

    def as_summary(self) -> dict[str, list[dict]]:
        def listing(frame: pd.DataFrame) -> list[dict]:
            return [{k: (v.isoformat() if hasattr(v, "isoformat") else int(v) if isinstance(v, (np.integer,)) else v)
                     for k, v in row.items()} for row in frame.to_dict("records")]
        return {"applications_matched": listing(self.matched), "applications_kept": listing(self.kept)}


def _months(days: pd.Series) -> pd.Series:
    d = pd.to_datetime(days, errors="coerce")
    return d.dt.year * 12 + d.dt.month - 1


def settle(tables: dict[str, pd.DataFrame]) -> Settlement:
    """Match each recorded application (after linkage: its person is known) to the export record
    that now carries the same grant, and drop the matched ones from ``tables`` (records, their
    mentions, the linkage pairs of nodes only they formed; the persons' mention counts and
    sources follow).

    Same grant: same person, program and agency (the approving agency's own export carries
    it: another agency's record of the same need is a duplicate to flag, not the grant),
    periods overlapping by month (an open end runs on), not a reversal. Each export record
    carries one application: nearest start month first, then file order (the greedy matching
    of :func:`relieflink.linkage.continuity.greedy_matching`)."""
    from relieflink.linkage.continuity import greedy_matching

    records = tables["records"]
    is_app = records["file"].eq(APPLICATIONS_FILE).to_numpy(dtype=bool)
    cols = ["record_id", "row", "agency", "program", "person_id", "period_start", "period_end"]
    app = records.loc[is_app, cols]
    exp = records.loc[~is_app, [*cols, "file", "amount", "reverses_record_id"]]
    exp = exp[exp["person_id"].notna() & exp["reverses_record_id"].isna() & ~(pd.to_numeric(exp["amount"]) < 0)]
    cand = app[app["person_id"].notna()].merge(exp.drop(columns=["amount", "reverses_record_id"]),
                                               on=["person_id", "program", "agency"], suffixes=("", "_exp"))
    lo, hi = _months(cand["period_start"]), _months(cand["period_end"]).fillna(np.inf)
    lo_exp, hi_exp = _months(cand["period_start_exp"]), _months(cand["period_end_exp"]).fillna(np.inf)
    cand = cand[(lo <= hi_exp) & (lo_exp <= hi)].assign(gap=(lo - lo_exp).abs())
    cand = cand.sort_values(["gap", "record_id", "record_id_exp"], kind="stable")
    edges = pd.DataFrame({"cur": cand["record_id"].to_numpy(), "prev": cand["record_id_exp"].to_numpy(),
                          "rank": np.arange(len(cand))})
    chosen = greedy_matching(edges)
    matched_ids = np.asarray(chosen.index, dtype=np.int64)
    by_id = records.set_index("record_id")
    app_id = records.loc[is_app, "detail"].map(lambda d: json.loads(d).get("application_id") if isinstance(d, str) else None)
    app_id.index = records.loc[is_app, "record_id"].to_numpy()
    matched = pd.DataFrame({
        "application_id": app_id.reindex(matched_ids).to_numpy(dtype=object),
        "row": by_id.loc[matched_ids, "row"].to_numpy(dtype=np.int64),
        "export_file": by_id.loc[chosen.to_numpy(dtype=np.int64), "file"].to_numpy(dtype=object),
        "export_row": by_id.loc[chosen.to_numpy(dtype=np.int64), "row"].to_numpy(dtype=np.int64),
    }).sort_values("row", kind="stable").reset_index(drop=True)
    kept_rows = app[~app["record_id"].isin(matched_ids)]
    kept = pd.DataFrame({
        "application_id": app_id.reindex(kept_rows["record_id"].to_numpy()).to_numpy(dtype=object),
        "row": kept_rows["row"].to_numpy(dtype=np.int64), "agency": kept_rows["agency"].to_numpy(dtype=object),
        "program": kept_rows["program"].to_numpy(dtype=object),
        "period_start": pd.to_datetime(kept_rows["period_start"]).dt.date.to_numpy(dtype=object),
    }).sort_values("row", kind="stable").reset_index(drop=True)
    if len(matched_ids):
        _drop_records(tables, matched_ids)
    return Settlement(matched, kept)


def _drop_records(tables: dict[str, pd.DataFrame], record_ids: np.ndarray) -> None:
    """Remove records and their mentions; pairs of a node only those mentions formed go too, and
    the persons' mention counts and sources are those of the mentions that stay."""
    records, mentions = tables["records"], tables["mentions"]
    tables["records"] = records[~records["record_id"].isin(record_ids)].reset_index(drop=True)
    gone = mentions["record_id"].isin(record_ids).to_numpy(dtype=bool)
    gone_ids = mentions.loc[gone, "mention_id"]
    affected = mentions.loc[gone, "person_id"].dropna().unique()
    mentions = mentions[~gone].reset_index(drop=True)
    tables["mentions"] = mentions
    pairs = tables.get("pairs")
    if pairs is not None and len(pairs):
        tables["pairs"] = pairs[~pairs["left_mention_id"].isin(gone_ids) & ~pairs["right_mention_id"].isin(gone_ids)
                                ].reset_index(drop=True)
    persons = tables["persons"].copy()
    mine = mentions[mentions["person_id"].isin(affected)]
    grouped = mine.groupby(mine["person_id"].astype(object), sort=True)
    at = persons["person_id"].isin(affected).to_numpy(dtype=bool)
    keys = persons.loc[at, "person_id"].astype(object)
    persons.loc[at, "n_mentions"] = grouped.size().reindex(keys).fillna(0).to_numpy(dtype=np.int64)
    sources = grouped["source"].agg(lambda s: ",".join(sorted(set(s.astype(str)))))
    persons.loc[at, "sources"] = sources.reindex(keys).to_numpy(dtype=object)
    tables["persons"] = persons


def add_to_ingest(result, log: ApplicationsLog, config):  # type: ignore[no-untyped-def]
    """The ingest's tables with the standing recorded applications of ``log`` added as records
    (ids after the batch's), every line accounted for: a withdrawn application, a line that
    cannot be read or a row the mapping rejects in the quarantine as ``row_rejected``, a second
    record line of one application as ``duplicate_delivery``; the file listed among the inputs."""
    from dataclasses import replace

    from relieflink.ingest.pipeline import FileReport, IngestResult
    from relieflink.ingest.plausibility import Checks
    from relieflink.ingest.quarantine import DUPLICATE_DELIVERY, ROW_REJECTED, Quarantine
    from relieflink.ingest.schema import conform

    assert isinstance(result, IngestResult)
    quarantine = Quarantine()
    standing, withdrawn, repeated = log.standing()
    unreadable = log.unreadable()
    for lines, problem, message, action in (
        (unreadable, "bad_application_line", "the line is not a recorded application; the service writes every line, "
                                             "do not edit the file by hand", ROW_REJECTED),
        (withdrawn, "application_withdrawn", "the agency withdrew the application", ROW_REJECTED),
        (repeated, "application_repeated", "the application was recorded before on an earlier line; counted once",
         DUPLICATE_DELIVERY),
    ):
        quarantine.add(APPLICATIONS_FILE, [line.number for line in lines], None, problem, message, action,
                       [line.text for line in lines])
    mentions, records = (pd.DataFrame(), pd.DataFrame())
    if standing:
        mentions, records = map_lines(standing, config.catalog, config.gazetteer, quarantine,
                                      Checks(config.plausibility, config.audit_period))
    report = FileReport(file=APPLICATIONS_FILE, sha256=log.sha256, size=log.size, source="relieflink",
                        table="applications", status="ingested", encoding="UTF-8", header_row=0,
                        data_rows=len(standing) + len(withdrawn) + len(repeated) + len(unreadable),
                        records=len(records))
    q = quarantine.frame()
    report.rows_quarantined = int(q["action"].isin([ROW_REJECTED, DUPLICATE_DELIVERY]).sum()) if len(q) else 0
    out_records, out_mentions = result.records, result.mentions
    if len(records):
        first_record = int(result.records["record_id"].max()) + 1 if len(result.records) else 0
        first_mention = int(result.mentions["mention_id"].max()) + 1 if len(result.mentions) else 0
        records = records.sort_values("row", kind="stable").reset_index(drop=True)
        records["record_id"] = np.arange(first_record, first_record + len(records), dtype=np.int64)
        record_of_row = pd.Series(records["record_id"].to_numpy(), index=records["row"].to_numpy())
        mentions = mentions.sort_values("row", kind="stable").reset_index(drop=True)
        mentions["mention_id"] = np.arange(first_mention, first_mention + len(mentions), dtype=np.int64)
        mentions["record_id"] = record_of_row.reindex(mentions["row"].to_numpy()).to_numpy(dtype=np.int64)
        mention_of_row = pd.Series(mentions["mention_id"].to_numpy(), index=mentions["row"].to_numpy())
        records["beneficiary_mention_id"] = mention_of_row.reindex(records["row"].to_numpy()).to_numpy()
        records["reverses_record_id"] = pd.array([pd.NA] * len(records), dtype="Int64")
        out_records = pd.concat([result.records, conform(records, "records")], ignore_index=True)
        out_mentions = pd.concat([result.mentions, conform(mentions, "mentions")], ignore_index=True)
    quarantine_all = pd.concat([result.quarantine, conform(q, "quarantine")], ignore_index=True) if len(q) else result.quarantine
    quarantine_all = quarantine_all.sort_values(["file", "row", "column", "problem"], kind="stable", na_position="first")
    return replace(result, mentions=out_mentions, records=out_records,
                   quarantine=conform(quarantine_all.reset_index(drop=True), "quarantine"),
                   files=[*result.files, report])
