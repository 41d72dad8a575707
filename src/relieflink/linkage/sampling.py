"""The random pairs u is estimated from, defined by hashing: pair ``k`` of the sample is a
function of the seed, ``k`` and the node weights only.

Why hashing and not a seeded generator: a generator's draws depend on the order in which they
are taken, so every engine would have to take them in one place, in one sequence. A hash of
``(seed, k)`` gives pair ``k`` wherever it is computed: the local engine computes all of them
at once, the Spark engine (:mod:`relieflink.spark`) a range of ``k`` per task, and both get the
same pairs — so the same u, weights and persons.

A side of a pair is drawn in proportion to the node weights (the records a node stands for,
``training.u_weight_by_records``): the hash, as a number in [0, 1), times the total weight,
falls into one node's share of the cumulative weights. Pairs of a node with itself are dropped.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection of 64-bit integers whose outputs look uniform."""
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _unit(seed: int, k: np.ndarray, side: int) -> np.ndarray:
    """A number in [0, 1) per pair index ``k`` and side (0: left, 1: right)."""
    key = mix64(np.array([seed % 2**64], dtype=np.uint64))[0]
    h = mix64(mix64(np.asarray(k, dtype=np.uint64) * np.uint64(2) + np.uint64(side)) ^ key)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _pick(u: np.ndarray, n: int, cumulative: np.ndarray | None) -> np.ndarray:
    if cumulative is None:
        return np.minimum((u * n).astype(np.int64), n - 1)
    return np.minimum(np.searchsorted(cumulative, u * cumulative[-1], side="right"), n - 1).astype(np.int64)


def sample_pairs(k: np.ndarray, seed: int, n: int, node_weights: np.ndarray | None = None,
                 dataset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of the sample whose indices are ``k`` (node indices ``left``, ``right``; pairs of
    a node with itself left out). ``n``: the number of nodes; ``dataset`` (link mode): left from
    data set 0, right from data set 1, uniformly."""
    k = np.asarray(k, dtype=np.int64)
    ul, ur = _unit(seed, k, 0), _unit(seed, k, 1)
    if dataset is not None:
        a_idx, b_idx = np.flatnonzero(dataset == 0), np.flatnonzero(dataset == 1)
        if len(a_idx) == 0 or len(b_idx) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return a_idx[_pick(ul, len(a_idx), None)], b_idx[_pick(ur, len(b_idx), None)]
    if n < 2:  # no pair to draw (a batch with nothing readable)
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cumulative = None if node_weights is None else np.cumsum(np.asarray(node_weights, dtype=np.float64))
    li, ri = _pick(ul, n, cumulative), _pick(ur, n, cumulative)
    keep = li != ri
    return li[keep], ri[keep]
