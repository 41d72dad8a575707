"""Grouping and pairing on plain arrays, shared by the rule kinds (no Python loop per group or pair)."""

from __future__ import annotations

import numpy as np

_I64 = np.int64


def run_starts(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal keys begins (``keys`` grouped, e.g. sorted)."""
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(keys) else np.zeros(0, dtype=_I64)


def group_ids(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs of grouped ``keys``: their starts, and each element's run number."""
    first = run_starts(keys)
    return first, np.repeat(np.arange(len(first)), np.diff(np.r_[first, len(keys)]))


def combined_key(*codes: np.ndarray) -> np.ndarray:
    """One int64 key per row of several code arrays (codes >= -1): equal keys, equal codes; the
    order of the keys is the order of the code tuples."""
    key = np.zeros(len(codes[0]), dtype=_I64)
    for c in codes:
        c = np.asarray(c).astype(_I64) + 1
        key = key * (int(c.max(initial=0)) + 1) + c
    return key


def pair_key(a: np.ndarray, b: np.ndarray, radix: int) -> np.ndarray:
    """One int64 key per (a, b) code pair, b in [-1, radix - 1): the same radix gives the same
    key in every call (unlike :func:`combined_key`, which sizes itself on its arguments)."""
    return np.asarray(a).astype(_I64) * _I64(radix) + (np.asarray(b).astype(_I64) + 1)


def cross_pairs(left: np.ndarray, right: np.ndarray, key_left: np.ndarray, key_right: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (l, r) of ``left`` and ``right`` elements sharing a key (``key_right`` ascending),
    in the order of ``left``, then of ``right``."""
    lo = np.searchsorted(key_right, key_left, side="left")
    cnt = np.searchsorted(key_right, key_left, side="right") - lo
    a = np.repeat(left, cnt)
    inner = np.arange(int(cnt.sum()), dtype=_I64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return a, right[np.repeat(lo, cnt) + inner]


def join(left_keys: np.ndarray, right_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inner join on equal keys: positions (i, j) with ``left_keys[i] == right_keys[j]``."""
    order = np.argsort(right_keys, kind="stable")
    i, j = cross_pairs(np.arange(len(left_keys)), order, left_keys, right_keys[order])
    return i, j


def sorted_lists(values: np.ndarray, group_starts: np.ndarray) -> list[list]:
    """Per run (beginning at ``group_starts``): the sorted distinct non-null values."""
    bounds = np.r_[group_starts, len(values)]
    vals = values.tolist()
    return [sorted({v for v in vals[s:e] if v is not None}) for s, e in zip(bounds[:-1], bounds[1:])]


def kahan_sums(values: np.ndarray, group_starts: np.ndarray, min_count: int = 1) -> np.ndarray:
    """Per run: the sum of the non-NaN values, compensated (Kahan) as pandas' groupby ``sum`` adds
    them (so the batch audit's totals stay bit-identical); NaN below ``min_count`` values."""
    n_groups = len(group_starts)
    sizes = np.diff(np.r_[group_starts, len(values)])
    total = np.zeros(n_groups)
    comp = np.zeros(n_groups)
    count = np.zeros(n_groups, dtype=_I64)
    for k in range(int(sizes.max(initial=0))):
        g = np.flatnonzero(sizes > k)
        v = values[group_starts[g] + k]
        ok = ~np.isnan(v)
        g, v = g[ok], v[ok]
        count[g] += 1
        y = v - comp[g]
        t = total[g] + y
        c = (t - total[g]) - y
        comp[g] = np.where(np.isnan(c), 0.0, c)
        total[g] = t
    return np.where(count >= min_count, total, np.nan)
