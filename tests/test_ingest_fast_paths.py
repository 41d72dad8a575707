"""The ingest's fast paths give what the per-row functions give.

IDs are normalized once per distinct text (and the columns of several files
joined as splits); Excel rows are joined to text per column; the files'
frames are concatenated column by column; JSON Lines are parsed by Arrow when
the file is well-formed. Each is compared here with the slow obvious
implementation it replaces (the line-by-line reader for JSONL), on generated
values with repeats and damage.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relieflink.identity import _cells as C
from relieflink.identity import check_char, normalize_ids
from relieflink.identity.resident_id import normalize_id
from relieflink.ingest.mapping import _joined_cells
from relieflink.ingest import readers
from relieflink.ingest.readers import arrow_text_columns
from relieflink.ingest.schema import concat_frames

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


@st.composite
def id_cells(draw):
    """One cell of an ID column as the agencies' exports hold it: valid or mistyped IDs, spelled in
    several ways, Excel numbers (exact or damaged), 15-digit IDs, junk and blanks."""
    prefix = f"{draw(st.integers(110000, 659999)):06d}{draw(st.dates(dt.date(1930, 1, 1), dt.date(2020, 12, 31))):%Y%m%d}"
    prefix += f"{draw(st.integers(0, 999)):03d}"
    valid = prefix + check_char(prefix)
    spelled = draw(st.sampled_from(["plain", "fullwidth", "spaced", "lower", "typo", "short", "float", "int", "sci"]))
    if spelled == "fullwidth":
        return valid.translate(FULLWIDTH)
    if spelled == "spaced":
        return f" {valid[:6]} {valid[6:14]}-{valid[14:]} "
    if spelled == "lower":
        return valid.lower()
    if spelled == "typo":
        return valid[:17] + str((int(valid[16]) + 1) % 10)
    if spelled == "short":
        return valid[:6] + valid[8:17]  # a 15-digit ID
    if spelled == "float":
        return float(valid[:17] + "0")
    if spelled == "int":
        return int(valid[:15])
    if spelled == "sci":
        return f"{float(valid[:17]):.5E}"
    return valid


def _columns(pool: list, picks: list[int]) -> list:
    return [pool[i % len(pool)] for i in picks]


POOLS = st.lists(st.one_of(id_cells(), st.none(), st.just(float("nan")), st.text(max_size=8)), min_size=1, max_size=8)
PICKS = st.lists(st.integers(0, 50), min_size=1, max_size=30)


@SETTINGS
@pytest.mark.parametrize("kind", ["resident", "disability_cert", "student_no"])
@given(pool=POOLS, picks=PICKS)
def test_ids_normalized_once_per_distinct_value_equal_each_cell_normalized_alone(kind, pool, picks):
    cells = _columns(pool, picks)
    together = normalize_ids(pd.Series(cells, dtype=object), kind=kind)
    for i, cell in enumerate(cells):
        alone = normalize_ids(pd.Series([cell], dtype=object), kind=kind)
        pd.testing.assert_frame_equal(together.iloc[[i]].reset_index(drop=True), alone, check_exact=True)
    if kind == "resident":  # and the scalar reference, cell by cell
        for cell, (_, row) in zip(cells, together.iterrows()):
            if isinstance(cell, str) or cell is None:
                status, number, clean = normalize_id(cell)
                assert (row["id_status"], row["id_number"] if pd.notna(row["id_number"]) else None,
                        row["id_clean"] if pd.notna(row["id_clean"]) else None) == (status, number, clean)


@SETTINGS
@given(pool=POOLS, first=PICKS, second=PICKS)
def test_id_columns_of_several_files_joined_as_splits_equal_one_stacked_column(pool, first, second):
    """A CSV column (Arrow text) and an Excel column (numbers among the text) joined as splits give
    what the stacked object column gives, on a default index."""
    text_only = [c if isinstance(c, str) or c is None else None for c in _columns(pool, first)]
    csv = pd.Series(pd.array(text_only, dtype="string[pyarrow]"))
    excel = pd.Series(_columns(pool, second), dtype=object)
    joined = normalize_ids(C.concat_splits([C.split_cells(csv), C.split_cells(excel)]))
    stacked = normalize_ids(pd.concat([csv.astype(object), excel], ignore_index=True))
    pd.testing.assert_frame_equal(joined, stacked, check_exact=True)


EXCEL_CELLS = st.one_of(
    st.text(max_size=6), st.none(), st.just(float("nan")), st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-10**18, 10**18), st.booleans(), st.dates(), st.datetimes(), st.just(pd.NaT),
)


@SETTINGS
@given(st.lists(st.lists(EXCEL_CELLS, min_size=3, max_size=3), min_size=1, max_size=30), st.data())
def test_excel_rows_joined_per_column_equal_the_row_by_row_join(rows, data):
    frame = arrow_text_columns(pd.DataFrame(rows, columns=["a", "b", "c"], dtype=object))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows))), dtype=bool)
    part = frame[mask]
    # what the mapping did before: every cell through pandas' astype(str), a row at a time
    expected = part.astype(object).where(part.notna(), "").astype(str).agg("\t".join, axis=1).tolist() if mask.any() else []
    assert _joined_cells([C.split_cells(frame[c]) for c in frame.columns], mask).tolist() == expected


def test_frames_with_a_column_of_other_dtypes_concatenate_as_pandas_does():
    """Files where a field is absent (all null, object) and files where it holds text (Arrow), with
    numbers, dates and nullable integers beside: column by column, the result of ``pd.concat``."""
    parts = [
        pd.DataFrame({"t": pd.array(["x", None], dtype="string[pyarrow]"), "o": np.array([None, None], dtype=object),
                      "i": np.array([1, 2]), "d": pd.to_datetime(["2024-01-01", None]),
                      "n": pd.array([1, None], dtype="Int32")}),
        pd.DataFrame({"t": np.array([None], dtype=object), "o": pd.array(["y"], dtype="string[pyarrow]"),
                      "i": np.array([3.5]), "d": pd.to_datetime(["2024-02-01"]), "n": pd.array([None], dtype="Int32")}),
        pd.DataFrame({"t": pd.array(["z"], dtype="string[pyarrow]"), "o": np.array(["w"], dtype=object),
                      "i": np.array([4]), "d": pd.to_datetime([None]), "n": pd.array([7], dtype="Int32")}),
    ]
    pd.testing.assert_frame_equal(concat_frames(parts), pd.concat(parts, ignore_index=True), check_exact=True)


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=5)  # a file's bytes hold no lone surrogate
JSON_VALUES = st.one_of(TEXT, st.none(), st.integers(), st.booleans(), st.just({"x": "1"}))
JSON_LINES = st.one_of(
    st.dictionaries(st.sampled_from(["姓名", "身份证号", "金额", "月份"]), JSON_VALUES, max_size=4).map(
        lambda d: json.dumps(d, ensure_ascii=False)
    ),
    st.sampled_from(["", "   ", '{"姓名": "王五", "姓名": "赵六"}', '{"姓名": "a"} {"姓名": "b"}',
                     '[1, 2]', '{"姓名": NaN}', '{"姓名": "a",}', "not json", '{"姓名": "x\ty"}']),
)


@SETTINGS
@given(st.lists(st.sampled_from(["姓名", "身份证号", "金额"]), min_size=1, max_size=3, unique=True),
       st.lists(st.tuples(st.booleans(), JSON_LINES), max_size=12), st.data())
def test_jsonl_read_by_arrow_equals_the_line_by_line_reader(keys, lines, data):
    """Well-formed exports (text values; keys left out or in another order on some lines) and
    damaged ones (numbers, nested values, repeated keys, raw control characters, two objects on a line, blank
    lines): the table is the one the line-by-line reader makes of the same bytes."""
    first = {k: data.draw(st.one_of(TEXT, st.none())) for k in keys}
    text = [json.dumps(first, ensure_ascii=False)]
    for shuffled, line in lines:
        if shuffled:  # a well-formed line: the first line's keys in another order, some left out
            keys = data.draw(st.permutations(keys))[: data.draw(st.integers(0, len(keys)))]
            line = json.dumps({k: data.draw(TEXT) for k in keys}, ensure_ascii=False)
        text.append(line)
    raw = ("\n".join(text) + "\n").encode("utf-8")
    fast = readers.read_jsonl(raw, list(keys))
    arrow = readers._arrow_json_columns
    readers._arrow_json_columns = lambda body: None
    try:
        slow = readers.read_jsonl(raw, list(keys))
    finally:
        readers._arrow_json_columns = arrow
    pd.testing.assert_frame_equal(fast.frame, slow.frame, check_exact=True)
    assert fast.row_numbers.tolist() == slow.row_numbers.tolist()
    assert fast.raw_lines.tolist() == slow.raw_lines.tolist()
    assert (fast.broken, fast.bad_cells) == (slow.broken, slow.bad_cells)


def test_a_well_formed_jsonl_file_is_parsed_by_arrow():
    """The normal path is Arrow's reader (the line-by-line reading is the fallback)."""
    lines = ['{"姓名": "王五", "身份证号": "330102199001011234"}', '{"身份证号": "1", "姓名": null}']
    assert readers._arrow_json_columns(lines) is not None
    assert readers._arrow_json_columns(lines + ['{"姓名": 1}']) is None


@SETTINGS
@given(st.lists(st.lists(EXCEL_CELLS, min_size=2, max_size=2), min_size=1, max_size=30))
def test_the_fingerprint_of_excel_cells_is_their_str_as_before(rows):
    """A re-saved copy is recognized by its cells' text: the Excel cells that are not text are
    hashed as ``str()`` gives them, as pandas' ``astype(str)`` did, blank cells as null."""
    from relieflink.ingest.pipeline import _cell_strings

    frame = pd.DataFrame(rows, columns=["a", "b"], dtype=object)
    for column in frame.columns:
        cells = frame[column]
        before = pa.array(cells.astype(str).to_numpy(dtype=object), mask=cells.isna().to_numpy(), type=pa.string())
        assert _cell_strings(None, cells).equals(before)
