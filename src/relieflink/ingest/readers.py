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
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineWorkbook

from relieflink.identity import _cells as C
from relieflink.ingest.encoding import DecodedLines, decode_lines

# How many rows at the top of a sheet may precede the header (title rows).
HEADER_SEARCH_ROWS = 10


class UnreadableFile(Exception):
    """The file cannot be read at all; the message says why (no personal data)."""

    def __init__(self, problem: str, message: str):
        self.problem = problem
        super().__init__(message)


@dataclass
class DroppedColumn:
    """A column of the file that is not read: its header cell is blank, or repeats an earlier one.

    ``label`` names it for the quarantine (the header text, or ``column G``
    for a blank one), ``position`` is its 1-based place in the header and
    ``cells`` its cells, aligned with the rows of the table's ``frame``.
    """

    label: str
    position: int
    problem: str  # duplicate_column | blank_column_name
    message: str
    cells: pd.Series


@dataclass
class RawTable:
    """The data rows of one table, cells as stored, with their row numbers.

    ``frame`` has one column per distinct, non-blank header name (header text
    stripped; a repeated name's first column, see ``dropped_columns``);
    ``row_numbers`` are what a person opening the file sees. Rows that cannot
    be aligned with the header (wrong number of fields, a line that is not a
    JSON object, a line that cannot be decoded) are in ``broken`` with their
    raw text and never in ``frame``; cells of kept rows that cannot be taken
    as cells (a JSON object or array as a value) are in ``bad_cells`` and
    empty in ``frame``.
    """

    frame: pd.DataFrame
    row_numbers: np.ndarray  # int32, aligned with frame
    raw_lines: pd.Series | None = None  # CSV/JSONL text of each frame row
    broken: list[tuple[int, str, str, str]] = field(default_factory=list)  # (row, problem, message, raw text)
    bad_cells: list[tuple[int, str, str, str, str]] = field(default_factory=list)  # (row, column, problem, message, raw)
    dropped_columns: list[DroppedColumn] = field(default_factory=list)
    header_row: int | None = None  # the row (line) the header is on
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


def _text_grid(rows: list[list[str]], width: int) -> list[pa.Array] | None:
    """Rows of text cells (at most ``width`` cells each, or none: an empty line) as one Arrow
    string array per column position, short rows padded with nulls. None when Arrow cannot
    encode the cells (lone surrogates)."""
    full = [r if len(r) == width else r + [None] * (width - len(r)) for r in rows if r]
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
    return columns


def _find_header(rows: list[list[Any]], expected: set[str]) -> int | None:
    """Index of the row among the first few that names the most expected columns."""
    scores = [_header_score(r, expected) for r in rows[:HEADER_SEARCH_ROWS]]
    if not scores or max(scores) == 0:
        return None
    return int(np.argmax(scores))


def column_letter(position: int) -> str:
    """The spreadsheet letter of a 1-based column position (1 → A, 27 → AA)."""
    letters = ""
    while position > 0:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True)
class _Header:
    """A header row: its names, which positions are read, and how wide a data row may be.

    A data row is aligned when it has at least ``named_width`` cells (up to
    the last named column) and at most ``width`` (the header's cells,
    trailing blank ones included)."""

    names: list[str]
    keep: list[int]
    dropped: list[tuple[int, str, str, str]]  # (position, label, problem, message)
    named_width: int
    width: int

    def fits(self, lengths: np.ndarray) -> np.ndarray:
        return (lengths == 0) | ((lengths >= self.named_width) & (lengths <= self.width))


def _header(cells: list[Any]) -> _Header:
    """Read the header row: the first column of each name is read; a blank name or a name an
    earlier column has is a dropped column (its cells are noted by the ingest, not read)."""
    names = [str(c).strip() if c is not None else "" for c in cells]
    named_width = len(names)
    while named_width and names[named_width - 1] == "":
        named_width -= 1
    keep: list[int] = []
    dropped: list[tuple[int, str, str, str]] = []
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        letter = column_letter(i + 1)
        if name == "":
            dropped.append((i, f"column {letter}", "blank_column_name",
                            f"column {letter} has no header name, so its cells are not read; "
                            "name the column in the export or leave it empty"))
        elif name in first:
            dropped.append((i, name, "duplicate_column",
                            f"the header names {name} twice (columns {column_letter(first[name] + 1)} and {letter}); "
                            f"the first is read, the cells of column {letter} are not; rename or remove one"))
        else:
            first[name] = i
            keep.append(i)
    return _Header(names, keep, dropped, named_width, len(names))


def grid_to_table(
    rows: list[list[Any]],
    row_numbers: np.ndarray,
    expected_columns: list[str],
    raw_lines: list[str] | None = None,
) -> RawTable:
    """Locate the header and turn the rows below it into a frame (vectorized).

    ``row_numbers`` are the row numbers of ``rows`` (for CSV the line each
    record starts on); ``raw_lines`` the text of each row (CSV). Columns whose
    header name is blank or repeated are returned apart (``dropped_columns``).
    """
    header_at = _find_header(rows, set(expected_columns))
    if header_at is None:
        raise UnreadableFile(
            "header_not_found",
            "none of the first rows holds the expected column names; check the export and the mapping file",
        )
    header = _header(rows[header_at])
    body = rows[header_at + 1 :]
    numbers = np.asarray(row_numbers[header_at + 1 :], dtype=np.int32)
    header_row = int(row_numbers[header_at])
    lengths = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    lines = pd.Series(raw_lines[header_at + 1 :], dtype=object) if raw_lines is not None else None
    names = [header.names[i] for i in header.keep]
    if raw_lines is not None:  # CSV: rows of text, each as wide as the header (or empty)
        assert lines is not None
        ok = header.fits(lengths)
        broken = [
            (int(numbers[i]), "wrong_field_count", _describe_broken(int(lengths[i]), header.width), lines.iat[i])
            for i in np.flatnonzero(~ok).tolist()
        ]
        kept = body if ok.all() else [body[i] for i in np.flatnonzero(ok).tolist()]
        grid = _text_grid(kept, header.width)
        if grid is not None:
            index = pd.RangeIndex(len(kept))

            def column(position: int) -> pd.Series:
                return pd.Series(pd.arrays.ArrowStringArray(grid[position]), index=index)

            return RawTable(
                frame=pd.DataFrame({name: column(i) for name, i in zip(names, header.keep)}, index=index),
                row_numbers=numbers[ok],
                raw_lines=lines[ok].reset_index(drop=True),
                broken=broken,
                dropped_columns=_dropped(header, column),
                header_row=header_row,
            )
    width = header.width
    frame = pd.DataFrame(body, dtype=object) if body else pd.DataFrame(index=range(0), columns=range(width), dtype=object)
    for extra in range(frame.shape[1], width):
        frame[extra] = None
    if raw_lines is None:  # Excel: every row is as wide as the sheet, the header row included
        ok = np.ones(len(body), dtype=bool)
        broken = []
    frame = frame.loc[ok, : width - 1].reset_index(drop=True)
    dropped = _dropped(header, lambda i: frame[i])
    frame = frame[header.keep]
    frame.columns = names
    splits: dict[str, C.Split] = {}
    frame = arrow_text_columns(frame, splits)
    return RawTable(
        frame=frame,
        row_numbers=numbers[ok],
        raw_lines=lines[ok].reset_index(drop=True) if lines is not None else None,
        broken=broken,
        dropped_columns=dropped,
        header_row=header_row,
        splits=splits,
    )


def _dropped(header: _Header, cells_at: Callable[[int], pd.Series]) -> list[DroppedColumn]:
    """The header's dropped columns, each with its cells (``cells_at``: the cells of a position)."""
    return [DroppedColumn(label, position + 1, problem, message, cells_at(position))
            for position, label, problem, message in header.dropped]


def _describe_broken(got: int, width: int) -> str:
    what = "truncated" if got < width else "has extra fields"
    return f"the line {what}: {got} fields where the header has {width}; fix or re-export the line"


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


_UNDECODABLE = ("the line holds bytes that are not text in the file's encoding ({encoding}); "
                "the line was not read, fix or re-export it")


def _decoded(data: bytes, expected_columns: list[str], what: str) -> DecodedLines:
    decoded = decode_lines(data, expected_columns)
    if decoded.lines is None:
        raise UnreadableFile(
            "unknown_encoding",
            f"could not decode the file so that its header shows (best guess: {decoded.encoding or 'unknown'}); "
            f"re-export it as {what}",
        )
    return decoded


def _undecodable_rows(decoded: DecodedLines, after_row: int) -> list[tuple[int, str, str, str]]:
    """Broken-row entries for the undecodable lines below ``after_row`` (the header)."""
    message = _UNDECODABLE.format(encoding=decoded.encoding)
    return [(int(i) + 1, "undecodable_line", message, text)
            for i, text in zip(decoded.undecodable.tolist(), decoded.escaped) if i + 1 > after_row]


def read_csv(data: bytes, expected_columns: list[str]) -> RawTable:
    """CSV in any of the agencies' encodings; row numbers are the line a record starts on.

    A quoted cell may hold a line break: its record spans several lines and is
    named by its first; the lines after it keep their numbers. A line that
    cannot be decoded is a broken row of its own (the other lines are read).
    """
    decoded = _decoded(data, expected_columns, "UTF-8 or GBK CSV")
    lines = decoded.lines
    line_index = None
    if len(decoded.undecodable):
        line_index = np.delete(np.arange(len(lines)), decoded.undecodable)
        lines = [lines[i] for i in line_index.tolist()]
    rows, starts, texts = csv_records(lines, expected_columns)
    numbers = (line_index[starts] if line_index is not None else starts) + 1
    table = grid_to_table(rows, numbers, expected_columns, raw_lines=texts)
    assert table.header_row is not None
    table.broken += _undecodable_rows(decoded, table.header_row)
    table.encoding = decoded.encoding
    return table


def csv_records(lines: list[str], expected_columns: list[str]) -> tuple[list[list[str]], np.ndarray, list[str]]:
    """The CSV records of ``lines``: (cells, index of the line each starts on, text of each).

    Fast path: one record per line (``csv.reader`` over the lines yields fewer
    rows than lines only when a quoted cell runs over a line end). Otherwise
    :func:`_records_over_lines`. Lines are split before parsing (see
    :func:`~relieflink.ingest.encoding.split_lines`), so a line break inside a
    cell reads as ``\n`` whatever the file used.
    """
    try:
        rows = list(csv.reader(lines))
    except csv.Error:  # a field beyond the csv module's size limit: read record by record
        rows = []
    if len(rows) == len(lines):
        return rows, np.arange(len(lines), dtype=np.int64), lines
    return _records_over_lines(lines, set(expected_columns))


# A quoted cell may hold a few line breaks (an address, a remark); an open quote running longer is a stray quote.
MAX_RECORD_LINES = 50


def _records_over_lines(lines: list[str], expected: set[str]) -> tuple[list[list[str]], np.ndarray, list[str]]:
    """CSV records of which some span lines (a line break inside a quoted cell).

    A line with an odd number of quote characters leaves a quoted cell open,
    so the record runs on to the line that closes it (at most
    :data:`MAX_RECORD_LINES`). Such a record is kept when it reads as one
    record that fits the header and none of its further lines would be a
    record on its own; otherwise its first line is read alone and reading
    resumes on the next line. So a stray quote, which would swallow the rest
    of the file into one cell, costs its own line only.
    """
    head = [_line_cells(line) for line in lines[:HEADER_SEARCH_ROWS]]
    at = _find_header(head, expected)
    header = _header(head[at]) if at is not None else None
    odd = [line.count('"') % 2 == 1 for line in lines]
    rows: list[list[str]] = []
    starts: list[int] = []
    texts: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        j, open_quote = i, odd[i]
        while open_quote and j + 1 < n and j + 1 - i < MAX_RECORD_LINES:
            j += 1
            open_quote ^= odd[j]
        record = _spanning_record(lines[i : j + 1], header) if j > i and not open_quote else None
        if record is None:
            rows.append(_line_cells(lines[i]))
            starts.append(i)
            texts.append(lines[i])
            i += 1
            continue
        rows.append(record)
        starts.append(i)
        texts.append("\n".join(lines[i : j + 1]))
        i = j + 1
    return rows, np.asarray(starts, dtype=np.int64), texts


def _spanning_record(lines: list[str], header: _Header | None) -> list[str] | None:
    """The cells of ``lines`` read as one record, or None when they are not one record that fits
    ``header`` (or a further line would be a record by itself)."""
    if header is None:
        return None
    try:
        records = list(csv.reader(line + "\n" for line in lines))
    except csv.Error:
        return None
    if len(records) != 1 or not header.fits(np.array([len(records[0])]))[0]:
        return None
    alone = np.array([len(_line_cells(line)) for line in lines[1:]])
    if ((alone >= max(header.named_width, 2)) & (alone <= header.width)).any():
        return None
    return records[0]


def _line_cells(line: str) -> list[str]:
    """The cells of one line read alone (an open quote runs to the line's end)."""
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return line.split(",")


def read_jsonl(data: bytes, expected_columns: list[str]) -> RawTable:
    """JSON Lines: one object a line, line numbers from 1; keys are the columns.

    A value that is an object or an array is not a cell: it is reported in
    ``bad_cells`` with its JSON text and left empty, the row kept.
    """
    decoded = _decoded(data, expected_columns, "UTF-8")
    lines = decoded.lines
    numbers = np.arange(1, len(lines) + 1, dtype=np.int32)
    line_text = pa.array(lines, type=pa.string())
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(line_text)), 0).to_numpy(zero_copy_only=False)
    undecodable = np.zeros(len(lines), dtype=bool)
    undecodable[decoded.undecodable] = True
    blank = blank & ~undecodable
    body_at = np.flatnonzero(~blank & ~undecodable)
    body = lines if len(body_at) == len(lines) else [lines[i] for i in body_at.tolist()]
    try:  # fast path: every non-blank line at once, as one JSON array parsed in C
        objects = json.loads("[" + ",".join(body) + "]")
        if len(objects) != len(body):  # a line such as `{..},{..}` parses as two values
            raise ValueError
    except ValueError:  # json.JSONDecodeError, or the count mismatch
        objects = [_loads_or_none(line) for line in body]
    is_object = np.fromiter(map(isinstance, objects, repeat(dict)), dtype=bool, count=len(objects))
    broken = [
        (int(numbers[at]), "bad_json_line", "the line is not a JSON object; fix or re-export the line", lines[at])
        for at in body_at[~is_object].tolist()
    ] + _undecodable_rows(decoded, 0)
    records = [o for o, keep in zip(objects, is_object) if keep] if not is_object.all() else objects
    order = np.sort(np.concatenate([np.flatnonzero(blank), body_at[is_object]]))
    # the text of each kept line, for the quarantine of rejected rows: Arrow, no Python string per line
    raw_lines = C.to_series(line_text.take(pa.array(order, type=pa.int64())), pd.RangeIndex(len(order)))
    fast = _text_records(records, order, body_at[is_object])
    if fast is not None:
        return RawTable(frame=fast, row_numbers=numbers[order], raw_lines=raw_lines, broken=broken,
                        header_row=0, encoding=decoded.encoding)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame.columns = [str(c) for c in frame.columns]
    # Blank lines stay as empty rows so that they are accounted for in quarantine.
    frame.index = body_at[is_object]
    frame = frame.reindex(order).reset_index(drop=True)
    frame, bad_cells = _nested_values(frame, numbers[order])
    frame = arrow_text_columns(frame.astype(object).where(frame.notna(), None))
    return RawTable(
        frame=frame,
        row_numbers=numbers[order],
        raw_lines=raw_lines,
        broken=broken,
        bad_cells=bad_cells,
        header_row=0,
        encoding=decoded.encoding,
    )


def _nested_values(frame: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, list[tuple[int, str, str, str, str]]]:
    """JSON objects and arrays taken out of the cells: the frame with them empty, and a
    ``bad_cells`` entry (row, column, problem, message, JSON text) for each."""
    bad: list[tuple[int, str, str, str, str]] = []
    for column in frame.columns:
        values = frame[column].to_numpy(dtype=object)
        nested = np.fromiter((isinstance(v, (dict, list)) for v in values), dtype=bool, count=len(values))
        if not nested.any():
            continue
        for i in np.flatnonzero(nested).tolist():
            kind = "object" if isinstance(values[i], dict) else "array"
            message = f"the value of {column} is a JSON {kind}, not a single value; it was left empty, export it as text"
            bad.append((int(rows[i]), column, "nested_json_value", message, json.dumps(values[i], ensure_ascii=False)))
        values = values.copy()
        values[nested] = None
        frame[column] = values
    return frame, bad


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
    table = grid_to_table(rows, np.arange(len(rows), dtype=np.int64) + first_row + 1, expected_columns)
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
