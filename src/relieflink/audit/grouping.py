"""Lists per group without a Python function per group (pandas ``agg(list)`` with lambdas is slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
