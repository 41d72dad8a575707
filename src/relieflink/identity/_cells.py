"""Private helpers: vectorized handling of raw spreadsheet cells.

Raw columns arrive as pandas Series of mixed Python objects (str, float, int,
``datetime.date`` ...), or as Arrow-backed string Series. The normalizers work
in three steps:

1. split the column into *text* cells (an Arrow string array, null elsewhere)
   and *other* cells (numbers, dates, ... — few, since only xlsx produces them);
2. clean the text with vectorized Arrow compute / numpy byte operations,
   touching the slow Unicode path (NFKC) only for non-ASCII cells and working on
   unique values where Python is unavoidable;
3. expand per-unique results back to the rows with ``take``.

Nothing here loops in Python over rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Output dtype for text columns (Arrow-backed pandas StringDtype: compares
#: equal to ``"string"``, zero-copy from Arrow compute and to Parquet).
STRING = pd.StringDtype("pyarrow")

#: Invisible characters that NFKC keeps but that must never matter in an
#: identifier or a name (zero-width spaces and joiners, BOM, word joiner,
#: soft hyphen).
#: Every character Python's str.isspace() accepts (RE2's \s is ASCII only).
SPACE_RE = r"[\s\x{0B}\x{1C}-\x{1F}\x{85}\p{Z}]"
INVISIBLE_RE = r"[\x{00AD}\x{180E}\x{200B}-\x{200F}\x{2060}-\x{2064}\x{FEFF}]"


@dataclass
class Split:
    """A raw column split by cell type."""

    n: int
    text: pa.StringArray  # length n, null where the cell is not a str
    na: np.ndarray  # bool: None / NaN / NaT / pd.NA
    other_pos: np.ndarray  # int positions of non-blank, non-str cells
    other_vals: np.ndarray  # object values at other_pos


def _arrow_string_array(values: pd.Series) -> pa.Array | None:
    dtype = values.dtype
    arr = None
    if isinstance(dtype, pd.StringDtype) and dtype.storage in ("pyarrow", "pyarrow_numpy"):
        arr = values.array._pa_array  # type: ignore[attr-defined]
    elif isinstance(dtype, pd.ArrowDtype) and (
        pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    ):
        arr = values.array._pa_array  # type: ignore[attr-defined]
    if arr is None:
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def obj_to_arrow(obj: np.ndarray, na: np.ndarray | None = None) -> pa.StringArray:
    """Object array of str (None/NaN allowed where ``na``) → Arrow string array.

    One ``str.join`` and one encode build the data buffer, per-string lengths
    give the offsets (byte lengths are computed in Python only for the
    non-ASCII strings). Unencodable surrogates become ``?``.
    """
    n = len(obj)
    if na is None:
        na = np.asarray(pd.isna(obj), dtype=bool)
    vals = obj[~na] if na.any() else obj
    if n == 0:
        return pa.array([], type=pa.string())
    try:
        joined = "\x00".join(vals)
    except TypeError:
        return pa.array(np.where(na, None, obj), type=pa.string(), from_pandas=True)
    data = np.frombuffer(joined.encode("utf-8", "replace"), dtype=np.uint8)
    if len(data) >= 2**31 - 1:
        return pa.array(np.where(na, None, obj), type=pa.string(), from_pandas=True)
    seps = np.flatnonzero(data == 0)
    if len(seps) != len(vals) - 1:  # a string holds NUL itself
        lens_vals = np.fromiter(
            (len(v.encode("utf-8", "replace")) for v in vals), dtype=np.int64, count=len(vals)
        )
        data = data[np.ones(len(data), dtype=bool) if len(vals) <= 1 else _not_sep_mask(data, lens_vals)]
    else:
        ends = np.empty(len(vals), dtype=np.int64)
        ends[:-1] = seps - np.arange(len(seps))
        ends[-1] = len(data) - len(seps)
        lens_vals = np.diff(ends, prepend=0)
        if len(seps):
            data = data[data != 0]
    lens = np.zeros(n, dtype=np.int64)
    lens[~na] = lens_vals
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    return from_offsets_data(offsets, data, ~na)


def _not_sep_mask(data: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Mask dropping the one-byte separators after each string but the last."""
    keep = np.ones(len(data), dtype=bool)
    sep_pos = np.cumsum(lens + 1)[:-1] - 1
    keep[sep_pos] = False
    return keep


def split_cells(raw: pd.Series | Sequence | np.ndarray) -> Split:
    """Split a raw column into text cells and other cells (see module doc)."""
    if not isinstance(raw, pd.Series):
        raw = pd.Series(raw, dtype=object) if not isinstance(raw, np.ndarray) else pd.Series(raw)
    n = len(raw)
    arrow = _arrow_string_array(raw)
    if arrow is not None:
        na = arrow.is_null().to_numpy(zero_copy_only=False)
        return Split(n, arrow, na, np.empty(0, dtype=np.int64), np.empty(0, dtype=object))
    if raw.dtype.kind in "fiub" or raw.dtype.kind == "M":
        obj = raw.to_numpy(dtype=object)
        na = pd.isna(raw.to_numpy())
        na = np.asarray(na, dtype=bool)
        pos = np.flatnonzero(~na)
        return Split(n, pa.nulls(n, type=pa.string()), na, pos, obj[pos])
    obj = raw.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(obj, skipna=False) == "string":  # no NA at all: skip isna
        na = np.zeros(n, dtype=bool)
        return Split(n, obj_to_arrow(obj, na), na, np.empty(0, dtype=np.int64), np.empty(0, dtype=object))
    na = np.asarray(pd.isna(obj), dtype=bool)
    kind = pd.api.types.infer_dtype(obj, skipna=True)
    if kind in ("string", "empty"):
        return Split(n, obj_to_arrow(obj, na), na, np.empty(0, dtype=np.int64), np.empty(0, dtype=object))
    is_str = np.fromiter((isinstance(v, str) for v in obj), dtype=bool, count=n)
    text_obj = np.where(is_str, obj, None)
    text = obj_to_arrow(text_obj, ~is_str)
    pos = np.flatnonzero(~is_str & ~na)
    return Split(n, text, na, pos, obj[pos])


def concat_splits(splits: Sequence[Split]) -> Split:
    """The columns of ``splits`` one after the other, as one split (what :func:`split_cells` of the
    concatenated columns gives, without making an object column of them)."""
    if len(splits) == 1:
        return splits[0]
    starts = np.concatenate([[0], np.cumsum([s.n for s in splits])])
    return Split(
        n=int(starts[-1]),
        text=pa.concat_arrays([s.text for s in splits]) if splits else pa.array([], type=pa.string()),
        na=np.concatenate([s.na for s in splits]) if splits else np.zeros(0, dtype=bool),
        other_pos=np.concatenate([s.other_pos + start for s, start in zip(splits, starts)] + [np.empty(0, np.int64)]),
        other_vals=np.concatenate([s.other_vals for s in splits] + [np.empty(0, dtype=object)]),
    )


def factorize_objects(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and uniques of an object array (NA → code -1)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def map_unique(values: np.ndarray, func: Callable[[object], object]) -> list:
    """Apply a scalar function once per unique value; results aligned with ``values``.

    Only for the few non-text cells (numbers, dates) and for genuinely
    per-item work (pinyin): the caller keeps the row count out of Python.
    """
    codes, uniques = factorize_objects(values)
    res = [func(u) for u in uniques]
    res.append(None)
    out = np.empty(len(res), dtype=object)
    out[:] = res
    return list(out[codes])


def unique_texts(raw: pd.Series, render: Callable[[object], str | None]) -> tuple[np.ndarray, pa.Array]:
    """A raw column as (row codes, distinct texts): non-text cells (numbers, dates) are rendered
    with ``render`` once per distinct value, then everything is dictionary-encoded."""
    split = split_cells(raw)
    text = split.text
    if len(split.other_pos):
        other = map_unique(split.other_vals, render)
        text = replace_rows(text, split.other_pos, pa.array(other, type=pa.string()))
    return dict_encode(text)


def dict_encode(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Arrow dictionary encoding: (int32 codes with -1 for null, uniques)."""
    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return idx, enc.dictionary


def take_with_null(arr: pa.Array, codes: np.ndarray) -> pa.Array:
    """``arr[codes]`` with code -1 giving null."""
    mask = codes < 0
    idx = pa.array(np.where(mask, 0, codes), mask=mask if mask.any() else None)
    if len(arr) == 0:
        return pa.nulls(len(codes), type=arr.type)
    return pc.take(arr, idx)


def nfkc(arr: pa.StringArray) -> pa.StringArray:
    """NFKC-normalize only the non-ASCII cells (ASCII is NFKC already)."""
    if len(arr) == 0:
        return arr
    ascii_ = pc.string_is_ascii(arr)
    if pc.all(pc.fill_null(ascii_, True)).as_py():
        return arr
    return pc.if_else(ascii_, arr, pc.utf8_normalize(arr, "NFKC"))


def replace_rows(arr: pa.Array, rows: np.ndarray, new: pa.Array) -> pa.Array:
    """``arr`` with ``arr[rows] = new``."""
    if len(rows) == 0:
        return arr
    pool = pa.concat_arrays([arr, new.cast(arr.type)])
    idx = np.arange(len(arr), dtype=np.int64)
    idx[rows] = len(arr) + np.arange(len(rows))
    return pc.take(pool, pa.array(idx))


def non_ascii_rows(text: pa.StringArray) -> np.ndarray:
    """Positions of the cells holding non-ASCII characters."""
    if len(text) == 0:
        return np.empty(0, dtype=np.int64)
    ascii_ = pc.fill_null(pc.string_is_ascii(text), True).to_numpy(zero_copy_only=False)
    return np.flatnonzero(~ascii_)


def normalize_non_ascii(text: pa.StringArray, junk_re: str | None = None) -> pa.StringArray:
    """NFKC (and removal of ``junk_re`` matches) on the non-ASCII cells only, once per unique value."""
    rows = non_ascii_rows(text)
    if len(rows) == 0:
        return text
    sub = text.take(pa.array(rows))
    codes, uniq = dict_encode(sub)
    uniq = pc.utf8_normalize(uniq, "NFKC")
    if junk_re:
        # removing a space can leave a combining mark next to a letter: normalize again
        uniq = pc.utf8_normalize(pc.replace_substring_regex(uniq, pattern=junk_re, replacement=""), "NFKC")
    return replace_rows(text, rows, take_with_null(uniq, codes))


def map_text_rows(text: pa.StringArray, rows: np.ndarray, func: Callable[[str], str | None]) -> pa.StringArray:
    """Replace ``text[rows]`` by ``func`` of each (once per unique value)."""
    if len(rows) == 0:
        return text
    vals = np.asarray(text.take(pa.array(rows)).to_numpy(zero_copy_only=False), dtype=object)
    new = map_unique(vals, lambda v: None if v is None else func(v))
    return replace_rows(text, rows, pa.array(new, type=pa.string()))


def offsets_data(arr: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets of length n+1, uint8 data) of an Arrow string array."""
    bufs = arr.buffers()
    n = len(arr)
    if bufs[1] is None:
        return np.zeros(n + 1, dtype=np.int64), np.empty(0, dtype=np.uint8)
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, dtype=np.uint8)
    return offsets, data


def from_offsets_data(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray) -> pa.StringArray:
    """Build an Arrow string array from int64 offsets and a uint8 data buffer."""
    n = len(offsets) - 1
    nulls = ~valid
    null_count = int(nulls.sum())
    validity = pa.py_buffer(np.packbits(valid, bitorder="little")) if null_count else None
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(np.ascontiguousarray(data)), validity, null_count
    )


def translate_bytes(arr: pa.StringArray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map every byte through ``table`` (int16, 256 entries, -1 = delete).

    Returns new (offsets, data). Bytes ≥ 0x80 should map to themselves so
    UTF-8 sequences survive intact. ASCII digits must map to themselves: they
    are the bulk of the data and skip the table lookup.
    """
    offsets, data = offsets_data(arr)
    start, stop = offsets[0], offsets[-1]
    seg = data[start:stop]
    cand = np.flatnonzero((seg - np.uint8(48)) > 9)  # not an ASCII digit
    if len(cand) == 0:
        return offsets - start, seg
    old = seg[cand]
    new = table[old]
    changed = new != old
    if not changed.any():
        return offsets - start, seg
    cand, new = cand[changed], new[changed]
    mapped = seg.copy()
    kept = new >= 0
    mapped[cand[kept]] = new[kept].astype(np.uint8)
    deleted = cand[~kept]
    if len(deleted) == 0:
        return offsets - start, mapped
    per_row = np.bincount(row_of(offsets - start, deleted), minlength=len(offsets) - 1)
    removed = np.zeros(len(offsets), dtype=np.int64)
    np.cumsum(per_row, out=removed[1:])
    keep = np.ones(len(mapped), dtype=bool)
    keep[deleted] = False
    return offsets - start - removed, mapped[keep]


def row_of(offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Row index of byte positions (offsets start at 0)."""
    return np.searchsorted(offsets, positions, side="right") - 1


def rows_with_bytes(arr_or_offsets, data: np.ndarray | None, table: np.ndarray) -> np.ndarray:
    """Bool per row: does the row hold a byte for which ``table`` (bool[256]) is True?"""
    if data is None:
        offsets, data = offsets_data(arr_or_offsets)
    else:
        offsets = arr_or_offsets
    start = offsets[0]
    hits = np.flatnonzero(table[data[start : offsets[-1]]])
    out = np.zeros(len(offsets) - 1, dtype=bool)
    if len(hits):
        out[row_of(offsets - start, hits)] = True
    return out


def byte_table(delete: str = "", mapping: dict[str, str] | None = None) -> np.ndarray:
    """Translation table for :func:`translate_bytes` (ASCII keys only)."""
    t = np.arange(256, dtype=np.int16)
    for ch in delete:
        t[ord(ch)] = -1
    for k, v in (mapping or {}).items():
        t[ord(k)] = ord(v)
    return t


def fixed_matrix(offsets: np.ndarray, data: np.ndarray, rows: np.ndarray, width: int, start: int = 0) -> np.ndarray:
    """(len(rows), width) uint8 matrix of bytes ``start:start+width`` of the given rows."""
    m = len(rows)
    if m == 0:
        return np.empty((0, width), dtype=np.uint8)
    first = offsets[rows[0]] + start
    if (
        m == len(offsets) - 1
        and start == 0
        and offsets[-1] - offsets[0] == m * width
        and bool((np.diff(offsets) == width).all())
    ):
        return data[first : first + m * width].reshape(m, width)
    idx = offsets[rows][:, None] + (start + np.arange(width, dtype=np.int64))[None, :]
    return data[idx]


def matrix_to_arrow(mat: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """(n, w) uint8 matrix of ASCII bytes → Arrow strings (null where not ``valid``)."""
    n, w = mat.shape
    data = np.ascontiguousarray(mat).reshape(-1)
    offsets = np.arange(n + 1, dtype=np.int64) * w
    if valid is None:
        valid = np.ones(n, dtype=bool)
    return from_offsets_data(offsets, data, valid)


def scatter(n: int, parts: list[tuple[np.ndarray, pa.Array]], type_: pa.DataType = pa.string()) -> pa.Array:
    """Assemble a length-n array from (positions, values) parts; null elsewhere."""
    arrays = [p[1] for p in parts if len(p[0])]
    if not arrays:
        return pa.nulls(n, type=type_)
    pool = pa.concat_arrays([a.cast(type_) if a.type != type_ else a for a in arrays])
    idx = np.full(n, -1, dtype=np.int64)
    base = 0
    for pos, vals in parts:
        if len(pos):
            idx[pos] = base + np.arange(len(pos))
            base += len(pos)
    return take_with_null(pool, idx)


def to_series(arr: pa.Array, index: pd.Index) -> pd.Series:
    """Arrow string array → pandas Series of :data:`STRING` dtype."""
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index, copy=False)


def labels_series(codes: np.ndarray, labels: Sequence[str | None], index: pd.Index) -> pd.Series:
    """Small-vocabulary text column from integer codes into ``labels`` (None = NA)."""
    dictionary = pa.array(list(labels), type=pa.string())
    return to_series(pc.take(dictionary, pa.array(codes.astype(np.int64))), index)


def ascii_upper(arr: pa.StringArray) -> pa.StringArray:
    return pc.ascii_upper(arr)
