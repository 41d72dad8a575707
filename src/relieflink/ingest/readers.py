"""Readers: a file's bytes → a grid of raw cells with the row numbers a person sees.

Each reader returns a :class:`RawTable`: the data rows under the header, cells
exactly as stored (str, float, date, …), each with its row number (the
spreadsheet row, or the line number with the header on line 1). Readers never
interpret cells; parsing and mapping happen in :mod:`relieflink.ingest.mapping`.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from itertools import repeat
from operator import itemgetter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineWorkbook

from relieflink.identity import _cells as C
from relieflink.ingest.encoding import detect_encoding

# How many rows at the top of a sheet may precede the header (title rows).
HEADER_SEARCH_ROWS = 10


class UnreadableFile(Exception):
    """The file cannot be read at all; the message says why (no personal data)."""

    def __init__(self, problem: str, message: str):
        self.problem = problem
        super().__init__(message)


@dataclass
class RawTable:
    """The data rows of one table, cells as stored, with their row numbers.

    ``frame`` has one object column per header cell (header text stripped);
    ``row_numbers`` are what a person opening the file sees. Rows that cannot
    be aligned with the header (wrong number of fields, a line that is not a
    JSON object) are in ``broken`` with their raw text and never in
    ``frame``.
    """

    frame: pd.DataFrame
    row_numbers: np.ndarray  # int32, aligned with frame
    raw_lines: pd.Series | None = None  # CSV/JSONL text of each frame row
    broken: list[tuple[int, str, str, str]] = field(default_factory=list)  # (row, problem, message, raw text)
    encoding: str | None = None
    sheet: str | None = None
    # Columns that hold cells other than text (Excel numbers, dates), split once by the reader.
    splits: dict[str, C.Split] = field(default_factory=dict)


def arrow_text_columns(frame: pd.DataFrame, splits: dict[str, C.Split] | None = None) -> pd.DataFrame:
    """Columns that hold only text become Arrow-backed strings (fast vectorized text ops);
    columns with numbers or dates (Excel) stay object so that parsers see the real cells.
    Their split (text / other cells) goes into ``splits`` when given."""
    out = {}
    for column in frame.columns:
        split = C.split_cells(frame[column])
        if len(split.other_pos) == 0:
            out[column] = pd.Series(pd.arrays.ArrowStringArray(split.text), index=frame.index)
        else:
            out[column] = frame[column]
            if splits is not None:
                splits[column] = split
    return pd.DataFrame(out, index=frame.index)


def _text_grid(rows: list[list[str]], width: int, header: list[str]) -> pd.DataFrame | None:
    """Rows of text cells (each of ``width`` cells, or none: an empty line) as Arrow string columns.

    What ``arrow_text_columns(pd.DataFrame(rows, dtype=object))`` gives, built
    column by column without the object frame. None when it cannot be built so
    (duplicate header names, cells Arrow cannot encode).
    """
    if len(set(header)) != len(header) or width == 0:
        return None
    full = [r for r in rows if r]
    try:
        columns = [pa.array(c, type=pa.string()) for c in zip(*full)] if full else []
    except (pa.ArrowException, UnicodeError):
        return None
    if not columns:
        columns = [pa.array([], type=pa.string())] * width
    if len(full) != len(rows):  # empty lines: rows of nulls
        codes = np.full(len(rows), -1, dtype=np.int64)
        codes[np.fromiter(map(bool, rows), dtype=bool, count=len(rows))] = np.arange(len(full))
        columns = [C.take_with_null(c, codes) for c in columns]
    index = pd.RangeIndex(len(rows))
    return pd.DataFrame(
        {name: pd.Series(pd.arrays.ArrowStringArray(arr), index=index) for name, arr in zip(header, columns)},
        index=index,
    )


def _find_header(rows: list[list[Any]], expected: set[str]) -> int | None:
    """Index of the row among the first few that names the most expected columns."""
    scores = [_header_score(r, expected) for r in rows[:HEADER_SEARCH_ROWS]]
    if not scores or max(scores) == 0:
        return None
    return int(np.argmax(scores))


def grid_to_table(
    rows: list[list[Any]],
    first_row_number: int,
    expected_columns: list[str],
    raw_lines: list[str] | None = None,
) -> RawTable:
    """Locate the header and turn the rows below it into a frame (vectorized)."""
    header_at = _find_header(rows, set(expected_columns))
    if header_at is None:
        raise UnreadableFile(
            "header_not_found",
            "none of the first rows holds the expected column names; check the export and the mapping file",
        )
    header = [str(c).strip() if c is not None else "" for c in rows[header_at]]
    while header and header[-1] == "":
        header.pop()
    width = len(header)
    body = rows[header_at + 1 :]
    numbers = np.arange(len(body), dtype=np.int32) + np.int32(first_row_number + header_at + 1)
    lengths = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    lines = pd.Series(raw_lines[header_at + 1 :], dtype=object) if raw_lines is not None else None
    if raw_lines is not None:  # CSV: rows of text; the kept ones are as wide as the header (or empty)
        ok = (lengths == width) | (lengths == 0)
        kept = body if ok.all() else [body[i] for i in np.flatnonzero(ok).tolist()]
        fast = _text_grid(kept, width, header)
        if fast is not None:
            assert lines is not None
            return RawTable(
                frame=fast,
                row_numbers=numbers[ok],
                raw_lines=lines[ok].reset_index(drop=True),
                broken=[
                    (int(numbers[i]), "wrong_field_count", _describe_broken("wrong_field_count", int(lengths[i]), width),
                     lines.iat[i])
                    for i in np.flatnonzero(~ok).tolist()
                ],
            )
    frame = pd.DataFrame(body, dtype=object) if body else pd.DataFrame(index=range(0), columns=range(width), dtype=object)
    if frame.shape[1] < width:
        for extra in range(frame.shape[1], width):
            frame[extra] = None
    # Excel rows are as wide as the sheet: trailing empty cells are not extra fields.
    if raw_lines is None:
        tail = frame.iloc[:, width:]
        extra_filled = tail.notna().to_numpy() & (tail.astype(str).to_numpy() != "") if tail.shape[1] else None
        ok = np.ones(len(body), dtype=bool) if extra_filled is None else ~extra_filled.any(axis=1)
        broken_problem = "extra_fields"
    else:
        ok = (lengths == width) | (lengths == 0)
        broken_problem = "wrong_field_count"
    broken = []
    if not ok.all():
        bad_idx = np.flatnonzero(~ok)
        for i in bad_idx.tolist():
            text = lines.iat[i] if lines is not None else "\t".join("" if c is None else str(c) for c in body[i])
            n = int(lengths[i]) if raw_lines is not None else width
            broken.append((int(numbers[i]), broken_problem, text, n))
    frame = frame.loc[ok, : width - 1]
    frame.columns = header
    splits: dict[str, C.Split] = {}
    frame = arrow_text_columns(frame.reset_index(drop=True), splits)
    kept_lines = lines[ok].reset_index(drop=True) if lines is not None else None
    return RawTable(
        frame=frame,
        row_numbers=numbers[ok],
        raw_lines=kept_lines,
        broken=[(row, f"{problem}", _describe_broken(problem, n, width), text) for row, problem, text, n in broken],
        splits=splits if not frame.columns.has_duplicates else {},
    )


def _describe_broken(problem: str, got: int, width: int) -> str:
    if problem == "wrong_field_count":
        what = "truncated" if got < width else "has extra fields"
        return f"the line {what}: {got} fields where the header has {width}; fix or re-export the line"
    return "cells beyond the last header column are filled; check the sheet layout"


def sniff_format(data: bytes, name: str) -> str:
    """``xlsx``, ``jsonl`` or ``csv`` from the content (the extension only breaks ties)."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    lower = name.lower()
    if lower.endswith((".xlsx", ".xlsm", ".xls")):
        return "xlsx"  # claims to be Excel but is not a workbook: the reader says so
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if lower.endswith((".jsonl", ".json", ".ndjson")) or stripped[:1] == b"{":
        return "jsonl"
    return "csv"


def _split_lines(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_csv(data: bytes, expected_columns: list[str]) -> RawTable:
    """CSV in any of the agencies' encodings; row numbers are line numbers."""
    encoding, text = detect_encoding(data, expected_columns)
    if text is None:
        raise UnreadableFile(
            "unknown_encoding",
            f"could not decode the file so that its header shows (best guess: {encoding or 'unknown'}); "
            "re-export it as UTF-8 or GBK CSV",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = _split_lines(text)
    rows = list(csv.reader(lines))  # csv.reader over a list: exactly one row per physical line
    table = grid_to_table(rows, 1, expected_columns, raw_lines=lines)
    table.encoding = encoding
    return table


def read_jsonl(data: bytes, expected_columns: list[str]) -> RawTable:
    """JSON Lines: one object a line, line numbers from 1; keys are the columns."""
    encoding, text = detect_encoding(data, expected_columns)
    if text is None:
        raise UnreadableFile("unknown_encoding", "could not decode the JSON Lines file; re-export it as UTF-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = _split_lines(text)
    numbers = np.arange(1, len(lines) + 1, dtype=np.int32)
    line_text = pa.array(lines, type=pa.string())
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(line_text)), 0).to_numpy(zero_copy_only=False)
    body_at = np.flatnonzero(~blank)
    body = line_text.filter(pa.array(~blank)).to_pylist()
    try:  # fast path: every non-blank line at once, as one JSON array parsed in C
        objects = json.loads("[" + ",".join(body) + "]")
    except json.JSONDecodeError:
        objects = [_loads_or_none(line) for line in body]
    is_object = np.fromiter(map(isinstance, objects, repeat(dict)), dtype=bool, count=len(objects))
    broken = [
        (int(numbers[at]), "bad_json_line", "the line is not a JSON object; fix or re-export the line", lines[at])
        for at in body_at[~is_object].tolist()
    ]
    records = [o for o, keep in zip(objects, is_object) if keep] if not is_object.all() else objects
    order = np.sort(np.concatenate([np.flatnonzero(blank), body_at[is_object]]))
    raw_lines = pd.Series(line_text.take(pa.array(order)).to_pylist() if len(order) else [], dtype=object)
    fast = _text_records(records, order, body_at[is_object])
    if fast is not None:
        return RawTable(frame=fast, row_numbers=numbers[order], raw_lines=raw_lines, broken=broken, encoding=encoding)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    # Blank lines stay as empty rows so that they are accounted for in quarantine.
    kept = np.flatnonzero(blank.copy())
    frame.index = body_at[is_object]
    order = np.sort(np.concatenate([kept, body_at[is_object]]))
    frame = frame.reindex(order).reset_index(drop=True)
    frame = arrow_text_columns(frame.astype(object).where(frame.notna(), None))
    return RawTable(
        frame=frame,
        row_numbers=numbers[order],
        raw_lines=pd.Series(line_text.take(pa.array(order)).to_pylist() if len(order) else [], dtype=object),
        broken=broken,
        encoding=encoding,
    )


def _text_records(records: list[dict], order: np.ndarray, at: np.ndarray) -> pd.DataFrame | None:
    """JSON objects that all have the same keys in the same order and only text (or null) values,
    as Arrow string columns with a row of nulls at each blank line (``order``: the line index of
    each output row, ``at``: that of each record). What the general path of :func:`read_jsonl`
    gives, without the object frame; None when the records are not so regular."""
    if not records:
        return None
    keys = tuple(records[0])
    if not keys or len(set(keys)) != len(keys) or any(tuple(r) != keys for r in records):
        return None
    get = itemgetter(*keys)
    rows = list(map(get, records)) if len(keys) > 1 else [(v,) for v in map(get, records)]
    try:
        columns = [pa.array(c, type=pa.string()) for c in zip(*rows)]
    except (pa.ArrowException, UnicodeError):
        return None
    if len(order) != len(records):  # blank lines: rows of nulls
        codes = np.full(len(order), -1, dtype=np.int64)
        codes[np.searchsorted(order, at)] = np.arange(len(records))
        columns = [C.take_with_null(c, codes) for c in columns]
    index = pd.RangeIndex(len(order))
    return pd.DataFrame(
        {str(k): pd.Series(pd.arrays.ArrowStringArray(arr), index=index) for k, arr in zip(keys, columns)}, index=index
    )


def _loads_or_none(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def _header_score(row: list[Any], expected: set[str]) -> int:
    return sum(1 for cell in row if isinstance(cell, str) and cell.strip() in expected)


def read_xlsx(data: bytes, expected_columns: list[str], preferred_sheet: str | None) -> RawTable:
    """XLSX via calamine (Rust): the preferred sheet, else the one whose header matches best."""
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for every kind of damage
        kind = "not a readable Excel workbook"
        if not zipfile.is_zipfile(io.BytesIO(data)):
            kind = "not an Excel workbook (the content is not a .xlsx zip archive)"
        raise UnreadableFile("unreadable_workbook", f"{kind}; re-export it from Excel ({type(exc).__name__})") from None
    expected = set(expected_columns)
    best: tuple[int, str, list[list[Any]], int] | None = None

    def load(name: str) -> tuple[int, list[list[Any]], int] | None:
        try:
            sheet = workbook.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False)
        except Exception:  # a damaged sheet: try the others
            return None
        first_row = sheet.start[0] if sheet.start else 0
        score = max((_header_score(r, expected) for r in rows[:HEADER_SEARCH_ROWS]), default=0)
        return score, rows, first_row

    # The preferred sheet first: when its header matches, no other sheet is loaded.
    loaded = load(preferred_sheet) if preferred_sheet in workbook.sheet_names else None
    if loaded is not None and loaded[0] > 0:
        best = (10**6, preferred_sheet, loaded[1], loaded[2])  # type: ignore[assignment]
    else:
        for name in workbook.sheet_names:
            got = loaded if name == preferred_sheet else load(name)
            if got is None:
                continue
            score, rows, first_row = got
            if best is None or score > best[0]:
                best = (score, name, rows, first_row)
    if best is None or best[0] == 0:
        raise UnreadableFile(
            "header_not_found",
            f"no sheet holds the expected header (sheets: {', '.join(workbook.sheet_names) or 'none'}); "
            "check the export and the mapping file",
        )
    _, name, rows, first_row = best
    table = grid_to_table(rows, first_row + 1, expected_columns)
    table.sheet = name
    return table


def read_file(path: Path, data: bytes, expected_columns: list[str], preferred_sheet: str | None) -> RawTable:
    """Read any supported file into a raw table; raises UnreadableFile with a reason."""
    if not data.strip():
        raise UnreadableFile("empty_file", "the file is empty; ask the agency to export it again")
    fmt = sniff_format(data, path.name)
    if fmt == "xls":
        raise UnreadableFile("legacy_xls", "legacy .xls workbooks are not supported; save it as .xlsx")
    if fmt == "xlsx":
        return read_xlsx(data, expected_columns, preferred_sheet)
    if fmt == "jsonl":
        return read_jsonl(data, expected_columns)
    return read_csv(data, expected_columns)
