"""Lists per group without a Python function per group (pandas ``agg(list)`` with lambdas is slow),
and membership tests that stay vectorized on Arrow-backed text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def is_in(values: pd.Series | pd.Index, candidates: pd.Series | pd.Index | np.ndarray | list) -> np.ndarray:
    """Bool per value: is it one of ``candidates``? A missing value never is.

    ``Series.isin`` on an Arrow-backed text column (pandas 3 ``str``, or
    ``string[pyarrow]``) builds one Arrow scalar per candidate in Python;
    ``pyarrow.compute.is_in`` takes the candidates as one array. On pandas 3
    the rules' person-id tests through it took ``benchmarks/audit.py --run``
    from 78 to 42 CPU seconds at 1M records (pandas 2.2: 41).
    (``isin`` also lets a missing value match a missing candidate on some
    dtypes and not on others; here it never matches.)
    """
    try:
        left = pa.array(values, from_pandas=True)
        right = pa.array(candidates, from_pandas=True)
        if left.type != right.type:
            right = right.cast(left.type)
        return pc.is_in(left, value_set=right, skip_nulls=True).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # mixed object values
        series = pd.Series(values)
        return (series.isin(candidates) & series.notna()).to_numpy()


def lists_by_group(keys: pd.Series | np.ndarray, values: pd.Series | np.ndarray, *, unique: bool = False) -> pd.Series:
    """Sorted list of ``values`` per key (distinct values when ``unique``), indexed by the sorted keys.

    One sort, one ``np.split``; the only per-group work is turning each
    array slice into a list for the output.
    """
    frame = pd.DataFrame({"k": np.asarray(keys, dtype=object) if not isinstance(keys, pd.Series) else keys.to_numpy(),
                          "v": values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)})
    frame = frame[frame["v"].notna()]
    if unique:
        frame = frame.drop_duplicates()
    if frame.empty:
        return pd.Series(dtype=object)
    frame = frame.sort_values(["k", "v"], kind="stable")
    k = frame["k"].to_numpy()
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    parts = np.split(frame["v"].to_numpy(), starts[1:])
    return pd.Series([p.tolist() for p in parts], index=pd.Index(k[starts]), dtype=object)
