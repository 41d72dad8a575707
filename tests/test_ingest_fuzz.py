"""Fuzzing the ingest with broken batches (issue #8: bad input never crashes and never disappears).

Batches are built from the committed sample exports (``fixtures/samples/exports``)
with the damage real deliveries show: headers with blank and repeated names,
line breaks and stray quotes in cells, missing cells, blank lines, nested JSON
values, other encodings, and then random bytes and truncations. The oracle
does not read the files the way the ingest does; it counts physical lines
(split on ``\\r\\n``, ``\\r`` or ``\\n``, as the contract numbers rows) and
spreadsheet rows:

* the ingest raises nothing;
* a file rejected as a whole has a file-level quarantine entry;
* in every other file, each row below the header is accounted for exactly
  once: a record, or a quarantine entry ``row_rejected`` / ``duplicate_delivery``,
  and nothing else is; a CSV line is exempt only when it continues a quoted
  cell opened on an earlier line of an accounted record (an odd number of
  quote characters since that record's first line);
* every record's period ends no earlier than it starts, and no amount exceeds
  the largest credible one.

The default run is short; the ``slow`` variant tries many more batches.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relieflink.ingest.pipeline import IngestConfig, ingest_batch

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples" / "exports"
FILES = sorted(p.name for p in SAMPLES.iterdir() if p.is_file())
CONFIG = IngestConfig.load()
ENCODINGS = ["keep", "utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "big5"]
ACCOUNTED = ("row_rejected", "duplicate_delivery")

# structural damage: (kind, a, b, text) with a, b taken modulo the sizes they index
structural = st.tuples(
    st.sampled_from(["blank_header", "dup_header", "newline_in_cell", "stray_quote", "drop_cell", "blank_line",
                     "nest_value", "not_an_object"]),
    st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(["\n", "\r\n", "x\ny", '"', "{}", "[1, 2]"]),
)
# byte damage: (kind, position, byte values)
byte_damage = st.tuples(
    st.sampled_from(["overwrite", "insert", "truncate"]), st.integers(0, 10**6),
    st.binary(min_size=1, max_size=4),
)
one_file = st.tuples(
    st.sampled_from(FILES), st.lists(structural, max_size=4), st.sampled_from(ENCODINGS),
    st.lists(byte_damage, max_size=2),
)


def split_lines(text):
    """Physical lines as the contract numbers them (``\\r\\n``, ``\\r`` or ``\\n`` ends one); str or bytes."""
    lines = re.split(r"\r\n|\r|\n" if isinstance(text, str) else rb"\r\n|\r|\n", text)
    return lines[:-1] if lines and not lines[-1] else lines


def _decode(data: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("a sample export that is neither UTF-8 nor GB18030")


def _encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("gb18030")


def _damage_grid(rows: list[list[object]], damage: list[tuple], header_at: int) -> list[list[object]]:
    rows = [list(r) for r in rows]
    for kind, a, b, text in damage:
        header = rows[header_at]
        body = range(header_at + 1, len(rows))
        if kind == "blank_header" and header:
            header[a % len(header)] = ""
        elif kind == "dup_header" and len(header) > 1:
            header[a % len(header)] = header[b % len(header)]
        elif kind in ("newline_in_cell", "stray_quote", "drop_cell", "nest_value") and len(body) and rows[body[a % len(body)]]:
            row = rows[body[a % len(body)]]
            at = b % len(row)
            if kind == "newline_in_cell":
                row[at] = f"{row[at]}{text if text != '{}' else chr(10)}尾"
            elif kind == "stray_quote":
                row[at] = f'"{row[at]}'
            elif kind == "drop_cell":
                del row[at]
            else:
                row[at] = {"值": row[at]} if text == "{}" else [row[at], row[at]]
        elif kind == "blank_line":
            rows.insert(header_at + 1 + a % (len(rows) - header_at), [])
    return rows


def _write_csv(original: bytes, damage: list[tuple], encoding: str) -> bytes:
    text, found = _decode(original)
    rows = list(csv.reader(split_lines(text)))
    rows = _damage_grid(rows, [d for d in damage if d[0] not in ("nest_value", "not_an_object")], 0)
    out = io.StringIO()
    stray = {i for i, r in enumerate(rows) if any(isinstance(c, str) and c.startswith('"') for c in r)}
    writer = csv.writer(out, lineterminator="\r\n")
    for i, row in enumerate(rows):
        if i in stray:  # a quote the exporting program did not escape
            out.write(",".join(str(c) for c in row) + "\r\n")
        else:
            writer.writerow(row)
    return _encode(out.getvalue(), found if encoding == "keep" else encoding)


def _write_jsonl(original: bytes, damage: list[tuple], encoding: str) -> bytes:
    text, found = _decode(original)
    lines = split_lines(text)
    for kind, a, b, value in damage:
        at = a % len(lines)
        if kind == "nest_value" and lines[at].strip():
            obj = json.loads(lines[at])
            key = sorted(obj)[b % len(obj)]
            obj[key] = {"v": obj[key]} if value == "{}" else [obj[key]]
            lines[at] = json.dumps(obj, ensure_ascii=False)
        elif kind == "not_an_object":
            lines[at] = value
        elif kind == "blank_line":
            lines.insert(at, "")
        elif kind == "newline_in_cell":
            lines[at] = lines[at][: b % (len(lines[at]) + 1)] + "\n" + lines[at][b % (len(lines[at]) + 1):]
    return _encode("\n".join(lines) + "\n", found if encoding == "keep" else encoding)


def _write_xlsx(original: bytes, damage: list[tuple], table) -> bytes:
    from openpyxl import Workbook
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(original))
    name = table.sheet if table.sheet in book.sheet_names else book.sheet_names[0]
    rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    expected = set(table.columns)
    header_at = int(np.argmax([sum(isinstance(c, str) and c in expected for c in r) for r in rows[:10]]))
    rows = _damage_grid(rows, [d for d in damage if d[0] in ("blank_header", "dup_header", "blank_line", "drop_cell")],
                        header_at)
    wb = Workbook()
    ws = wb.active
    ws.title = name
    for row in rows:
        ws.append([None if c == "" else c for c in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _damage_bytes(data: bytes, damage: list[tuple]) -> bytes:
    for kind, at, value in damage:
        if not data:
            break
        at %= len(data)
        if kind == "overwrite":
            data = data[:at] + value + data[at + len(value):]
        elif kind == "insert":
            data = data[:at] + value + data[at:]
        else:
            data = data[:at]
    return data


def build_batch(batch: Path, files: list[tuple]) -> dict[str, bytes]:
    """Write the damaged copies of the chosen sample files; their bytes by name."""
    from relieflink.ingest.batch import match_table

    written = {}
    for name, damage, encoding, raw_damage in files:
        original = (SAMPLES / name).read_bytes()
        _, table = match_table(name, CONFIG.sources)
        if name.endswith(".csv"):
            data = _write_csv(original, damage, encoding)
        elif name.endswith(".jsonl"):
            data = _write_jsonl(original, damage, "utf-8" if encoding == "keep" else encoding)
        else:
            data = _write_xlsx(original, damage, table)
        data = _damage_bytes(data, raw_damage)
        (batch / name).write_bytes(data)
        written[name] = data
    return written


def _lines(data: bytes, encoding: str | None) -> list[bytes] | list[str]:
    if encoding and encoding.startswith("utf-16"):
        return split_lines(data.decode(encoding))
    return split_lines(data)


def _quotes(line: bytes | str) -> int:
    return line.count(b'"' if isinstance(line, bytes) else '"')


def _xlsx_last_row(data: bytes, sheet: str | None) -> int:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    start = book.get_sheet_by_name(sheet).start
    filled = [i for i, r in enumerate(rows) if any(c not in ("", None) for c in r)]
    return (filled[-1] + 1 + (start[0] if start else 0)) if filled else 0


def check_batch(batch: Path, written: dict[str, bytes]) -> None:
    result = ingest_batch(batch, CONFIG)
    result.summary()
    q = result.quarantine
    assert q["file"].notna().all() and q["problem"].notna().all()
    assert set(q["action"]) <= {"file_rejected", "row_rejected", "duplicate_delivery", "value_dropped", "noted"}
    assert q.loc[q["action"].isin(ACCOUNTED), "row"].notna().all()
    records = result.records
    assert (records["period_end"].isna() | records["period_start"].isna()
            | (records["period_end"] >= records["period_start"])).all()
    assert (records["amount"].abs().fillna(0) <= 1_000_000).all()
    reports = {f.file: f for f in result.files}
    for name, data in written.items():
        report = reports[name]
        mine = q[q["file"] == name]
        if report.status == "rejected":
            assert (mine["row"].isna() & (mine["action"] == "file_rejected")).any(), name
            continue
        assert report.status in ("ingested", "duplicate"), (name, report.status)
        rows = np.concatenate([records.loc[records["file"] == name, "row"].to_numpy(dtype=np.int64),
                               mine.loc[mine["action"].isin(ACCOUNTED), "row"].to_numpy(dtype=np.int64)])
        assert len(rows) == len(set(rows.tolist())), f"{name}: a row accounted for twice"
        accounted = set(rows.tolist())
        header = int(report.header_row)
        if name.endswith(".xlsx"):
            expected = set(range(header + 1, _xlsx_last_row(data, report.sheet) + 1))
            assert accounted == expected, (name, sorted(expected - accounted), sorted(accounted - expected))
            continue
        lines = _lines(data, report.encoding)
        assert accounted <= set(range(header + 1, len(lines) + 1)), (name, "rows that are no line")
        undecodable = set(mine.loc[mine["problem"] == "undecodable_line", "row"].astype(int))
        open_record, parity = None, 0
        for number in range(header + 1, len(lines) + 1):
            if number in undecodable:
                continue
            if number in accounted:
                open_record, parity = number, _quotes(lines[number - 1]) % 2
                continue
            # not accounted: only the continuation of a quoted cell of a CSV record
            assert name.endswith(".csv") and open_record is not None and parity == 1, (name, number)
            parity ^= _quotes(lines[number - 1]) % 2


def _run(tmp_path_factory, files: list[tuple]) -> None:
    batch = tmp_path_factory.mktemp("fuzz")
    names = [f[0] for f in files]
    files = [f for i, f in enumerate(files) if f[0] not in names[:i]]  # one copy of each file
    check_batch(batch, build_batch(batch, files))
    shutil.rmtree(batch, ignore_errors=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(files=st.lists(one_file, min_size=1, max_size=3))
def test_broken_batches_never_crash_and_keep_every_row(tmp_path_factory, files):
    _run(tmp_path_factory, files)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(files=st.lists(one_file, min_size=1, max_size=5))
def test_broken_batches_never_crash_and_keep_every_row_many(tmp_path_factory, files):
    _run(tmp_path_factory, files)


def test_the_oracle_sees_a_lost_row(tmp_path):
    """The oracle itself: a row missing from both records and quarantine is reported."""
    name = "jd-hushu_临时救助.csv"
    written = build_batch(tmp_path, [(name, [], "keep", [])])
    import relieflink.ingest.pipeline as pipeline

    real = pipeline.ingest_batch

    def losing(*args, **kwargs):
        result = real(*args, **kwargs)
        result.records = result.records[~((result.records["file"] == name) & (result.records["row"] == 2))]
        return result

    globals()["ingest_batch"] = losing
    try:
        with pytest.raises(AssertionError):
            check_batch(tmp_path, written)
    finally:
        globals()["ingest_batch"] = real
    check_batch(tmp_path, written)
