"""Conform frames to the canonical schemas and write them as Parquet."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from relieflink.config import load_canonical
from relieflink.config.canonical import expand_per_comparison
from relieflink.identity._cells import _arrow_string_array


@lru_cache(maxsize=1)
def canonical_schemas() -> dict[str, pa.Schema]:
    return load_canonical()


def concat_frames(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(parts, ignore_index=True)``, column by column when the parts agree.

    When every part has the same columns with the same dtypes, each column is
    concatenated on its own (``np.concatenate`` for NumPy dtypes): the result
    is what ``pd.concat`` gives, without its per-cell NA checks on object
    columns that are all None in some part. Otherwise ``pd.concat``.
    """
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    first = parts[0]
    columns = list(first.columns)
    dtypes = list(first.dtypes)
    if not parts or first.columns.has_duplicates or any(
        list(p.columns) != columns or list(p.dtypes) != dtypes for p in parts[1:]
    ):
        return pd.concat(parts, ignore_index=True)
    out = {}
    for i, (column, dtype) in enumerate(zip(columns, dtypes)):
        if isinstance(dtype, np.dtype):
            out[column] = np.concatenate([p.iloc[:, i].to_numpy() for p in parts])
        else:
            out[column] = pd.concat([p.iloc[:, i] for p in parts], ignore_index=True)
    return pd.DataFrame(out, index=pd.RangeIndex(sum(len(p) for p in parts)), columns=first.columns)


def table_schema(table: str, comparisons: Sequence[str] = ()) -> pa.Schema:
    """The canonical Arrow schema of ``table`` (per-comparison fields expanded for ``comparisons``)."""
    return expand_per_comparison(canonical_schemas()[table], comparisons)


def conform(frame: pd.DataFrame, table: str, comparisons: Sequence[str] = ()) -> pd.DataFrame:
    """Exactly the canonical columns, in order; missing ones (filled later) are null."""
    schema = table_schema(table, comparisons)
    out = pd.DataFrame(index=frame.index)
    for f in schema:
        if f.name in frame.columns:
            out[f.name] = frame[f.name]
        else:
            out[f.name] = None
    return out


_PANDAS_DTYPES = {"int32": "int32", "int64": "int64", "double": "float64", "bool": "bool",
                  "date32[day]": "datetime64[ns]", "timestamp[ms]": "datetime64[ns]"}


def empty_frame(table: str) -> pd.DataFrame:
    """A canonical table without rows: every column, with the dtype the stages give it
    (text as object, dates as datetime64), so that later stages run on a batch with
    nothing readable as they do on any other."""
    schema = canonical_schemas()[table]
    return pd.DataFrame({f.name: pd.Series(dtype=_PANDAS_DTYPES.get(str(f.type), object)) for f in schema})


def to_arrow(frame: pd.DataFrame, table: str, comparisons: Sequence[str] = ()) -> pa.Table:
    """Arrow table with the canonical types (dates as date32, ints as int32/64, text as ``string``).

    The types come from the schema, never from the frame's dtypes, so the
    file is the same whether pandas 2 (object text) or pandas 3 (``str``,
    Arrow ``large_string``) built the frame.
    """
    schema = table_schema(table, comparisons)
    arrays = []
    for f in schema:
        col = frame[f.name] if f.name in frame.columns else pd.Series([None] * len(frame), dtype=object)
        if pa.types.is_date32(f.type):
            arr = _dates(col)
        elif pa.types.is_integer(f.type):
            arr = pa.array(pd.to_numeric(col, errors="coerce").astype("Int64"), type=f.type)
        elif pa.types.is_floating(f.type):
            arr = pa.array(pd.to_numeric(col, errors="coerce").astype("Float64"), type=f.type)
        elif pa.types.is_boolean(f.type):
            arr = pa.array(col.astype("boolean"), type=f.type)
        elif pa.types.is_dictionary(f.type):
            # a Categorical keeps its categories' order as the dictionary; other text is encoded
            arr = pa.array(col) if isinstance(col.dtype, pd.CategoricalDtype) else pc.dictionary_encode(_text(col))
            arr = arr.cast(f.type)
        else:
            arr = _text(col)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=schema)


def _dates(col: pd.Series) -> pa.Array:
    """Dates (the day of each timestamp) as date32, null where missing."""
    col = pd.to_datetime(col, errors="coerce")
    if isinstance(col.dtype, np.dtype) and col.dtype.kind == "M":  # tz-naive: the day in numpy, no date objects
        values = col.to_numpy()
        return pa.array(values.astype("datetime64[D]"), type=pa.date32(), mask=np.isnat(values))
    return pa.array(col.dt.date.where(col.notna(), None), type=pa.date32())


def _text(col: pd.Series) -> pa.Array:
    """Text as Arrow ``string``, null where missing (None, NaN, NA): an Arrow-backed column as it is,
    an object column in one conversion (no per-cell ``where``)."""
    arr = _arrow_string_array(col)
    if arr is not None:
        return arr
    values = col.to_numpy(dtype=object)
    return pa.array(values, type=pa.string(), mask=np.asarray(pd.isna(values), dtype=bool))


def write_parquet(frame: pd.DataFrame, table: str, path: Path, comparisons: Sequence[str] = ()) -> Path:
    """Write deterministically (no pandas index, fixed compression) with the canonical schema of ``table``."""
    pq.write_table(to_arrow(frame, table, comparisons), path, compression="zstd", write_statistics=True)
    return path
