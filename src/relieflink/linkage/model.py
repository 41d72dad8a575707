"""Fellegi–Sunter model: u from random pairs, m and λ by EM over the counts of
distinct comparison patterns (fastLink), term-frequency adjustments, scoring.

EM works on the distinct gamma vectors with their counts, so one iteration
costs O(patterns) (a few hundred to a few thousand), whatever the number of
candidate pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from relieflink.linkage.comparisons import Comparison
from relieflink.linkage.settings import Gate
from relieflink.linkage.table import NULL, Table


def compute_gammas(tab: Table, comparisons: list[Comparison], li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """(n_pairs, n_comparisons) int8 matrix of level indices."""
    g = np.empty((len(li), len(comparisons)), dtype=np.int8)
    for j, c in enumerate(comparisons):
        g[:, j] = c.gamma(tab, li, ri)
    return g


def pattern_counts(gammas: np.ndarray, sizes: list[int], weights: np.ndarray | None = None):
    """Distinct gamma rows and their (weighted) counts."""
    key = np.zeros(len(gammas), dtype=np.int64)
    for j, s in enumerate(sizes):
        key = key * s + gammas[:, j]
    ukey, first, inv = np.unique(key, return_index=True, return_inverse=True)
    counts = np.bincount(inv.ravel(), weights=weights, minlength=len(ukey)).astype(np.float64)
    return gammas[first], counts


def estimate_u(tab: Table, comparisons: list[Comparison], n_pairs: int, seed: int,
               node_weights: np.ndarray | None = None, dataset: np.ndarray | None = None) -> dict[str, list[float]]:
    """u per level from random pairs of records (nodes drawn in proportion to their mentions),
    pair ``k`` defined by hashing (:func:`relieflink.linkage.sampling.sample_pairs`: any engine
    draws the same pairs)."""
    from relieflink.linkage.sampling import sample_pairs

    li, ri = sample_pairs(np.arange(n_pairs), seed, tab.n, node_weights, dataset)
    g = compute_gammas(tab, comparisons, li, ri)
    return u_from_level_counts(comparisons, [np.bincount(g[:, j], minlength=len(c.levels))
                                             for j, c in enumerate(comparisons)])


def u_from_level_counts(comparisons: list[Comparison], counts: list[np.ndarray]) -> dict[str, list[float]]:
    """u per level from how many random pairs fall in each level of each comparison."""
    u = {}
    for c, cnt in zip(comparisons, counts):
        cnt = np.asarray(cnt).astype(np.float64)
        null = np.array([lv.is_null for lv in c.levels])
        tot = cnt[~null].sum()
        # a level never seen among random pairs gets half a count (it is rare, not impossible)
        cnt = np.maximum(cnt, 0.5)
        uu = cnt / max(tot, 1.0)
        uu[null] = 1.0
        u[c.name] = [float(x) for x in uu]
    return u


def initial_m(comparisons: list[Comparison]) -> dict[str, list[float]]:
    m = {}
    for c in comparisons:
        non_null = [k for k, lv in enumerate(c.levels) if not lv.is_null]
        vals = np.zeros(len(c.levels))
        # geometric decay from the most to the least similar level, unless a prior is given
        for r, k in enumerate(non_null):
            lv = c.levels[k]
            vals[k] = lv.m_prior if lv.m_prior is not None else 0.9 * (0.25 ** r) + 1e-3
        vals[non_null] /= vals[non_null].sum()
        for k, lv in enumerate(c.levels):
            if lv.is_null:
                vals[k] = 1.0
        m[c.name] = [float(x) for x in vals]
    return m


def _loglik(patterns, comparisons, null_masks, p):
    out = np.zeros(len(patterns))
    for j, c in enumerate(comparisons):
        v = np.log(np.maximum(np.asarray(p[c.name]), 1e-12))
        v[null_masks[j]] = 0.0
        out += v[patterns[:, j]]
    return out


def _update(patterns, w, comparisons, null_masks, p, fixed, floor=1e-6):
    delta = 0.0
    for j, c in enumerate(comparisons):
        if c.name in fixed:
            continue
        L = len(c.levels)
        tot = np.bincount(patterns[:, j], weights=w, minlength=L)
        nn = ~null_masks[j]
        denom = tot[nn].sum()
        if denom <= 0:
            continue
        new = np.where(nn, np.maximum(tot / denom, floor), 1.0)
        new[nn] /= new[nn].sum()
        delta = max(delta, float(np.abs(new - np.asarray(p[c.name])).max()))
        p[c.name] = [float(x) for x in new]
    return delta


def em(patterns: np.ndarray, counts: np.ndarray, comparisons: list[Comparison], m: dict, u: dict,
       prior: float, max_iter: int = 200, tol: float = 1e-7, fixed_m: set[str] = frozenset(),
       estimate_u: bool = True):
    """EM for m, λ (and u among candidate pairs, fastLink-style) on pattern counts.

    Returns (m, u, λ, iterations). λ is the share of matches among the candidate
    pairs. With ``estimate_u=False`` u stays as given (random-pair u); on pairs
    from several blocking passes that collapses (non-matches that share a name
    and a subdistrict look nothing like random pairs, so the match class absorbs
    them): measured on relief data, λ → 1. With ``estimate_u=True`` the
    random-pair u is the starting point and u is re-estimated on the candidate
    pairs, so scores are P(match | γ, candidate).
    """
    null_masks = [np.array([lv.is_null for lv in c.levels]) for c in comparisons]
    u = {k: list(v) for k, v in u.items()}
    lam = prior
    it = 0
    if counts.sum() <= 0:  # no candidate pair (nothing readable): nothing to learn from
        return m, u, lam, it
    for it in range(1, max_iter + 1):
        logm = _loglik(patterns, comparisons, null_masks, m)
        logu = _loglik(patterns, comparisons, null_masks, u)
        a = np.log(lam) + logm
        b = np.log1p(-lam) + logu
        post = 1.0 / (1.0 + np.exp(np.clip(b - a, -700, 700)))
        w = counts * post
        new_lam = float(np.clip(w.sum() / counts.sum(), 1e-12, 1 - 1e-12))
        delta = abs(new_lam - lam)
        delta = max(delta, _update(patterns, w, comparisons, null_masks, m, fixed_m))
        if estimate_u:
            delta = max(delta, _update(patterns, counts * (1 - post), comparisons, null_masks, u, set(), 1e-7))
        lam = new_lam
        if delta < tol:
            break
    return m, u, lam, it


def m_from_labels(gammas: np.ndarray, is_match: np.ndarray, comparisons: list[Comparison]) -> dict[str, list[float]]:
    """m per level from clerically reviewed matches (Laplace-smoothed)."""
    out = {}
    g = gammas[is_match]
    for j, c in enumerate(comparisons):
        null = np.array([lv.is_null for lv in c.levels])
        cnt = np.bincount(g[:, j], minlength=len(c.levels)).astype(float) + 0.5
        cnt[null] = 0
        mm = cnt / cnt.sum()
        mm[null] = 1.0
        out[c.name] = [float(x) for x in mm]
    return out


@dataclass
class TermFrequencies:
    """Relative frequency of each value (vocab code) of the tf columns, counted over nodes."""

    freq: dict[str, np.ndarray]  # column -> array over vocab codes
    ref: dict[str, float]  # column -> sum of squared frequencies (chance two random nodes agree)

    @classmethod
    def from_table(cls, tab: Table, columns: set[str], weights: np.ndarray | None = None) -> "TermFrequencies":
        freq = {}
        nv = len(tab.vocab)
        for c in columns:
            codes = tab.col(c)
            ok = codes != NULL
            w = None if weights is None else weights[ok]
            cnt = np.bincount(codes[ok], weights=w, minlength=nv).astype(np.float64)
            freq[c] = cnt / max(cnt.sum(), 1.0)
        return cls(freq, {c: float((f ** 2).sum()) for c, f in freq.items()})


def level_weights(comparisons: list[Comparison], m: dict, u: dict) -> list[np.ndarray]:
    out = []
    for c in comparisons:
        mm, uu = np.asarray(m[c.name]), np.asarray(u[c.name])
        w = np.log2(np.maximum(mm, 1e-12) / np.maximum(uu, 1e-12))
        w[[lv.is_null for lv in c.levels]] = 0.0
        out.append(w)
    return out


def score(tab: Table, comparisons: list[Comparison], gammas: np.ndarray, li: np.ndarray, ri: np.ndarray,
          m: dict, u: dict, prior: float, tf: TermFrequencies | None, tf_min_u: float = 1e-6,
          tf_max_boost: float = 8.0, gates: Sequence[Gate] = ()):
    """Per-field weights (float32 matrix), match weight and probability of each pair.

    ``gates``: evidence that is not independent of another comparison's outcome, e.g.
    ``{when: {name: [surname_only, disagree]}, cap: {phone: 0, address: 0}}`` — family members
    share a phone and an address, so under a disagreeing name those fields add at most the cap
    (their negative weights stay)."""
    W = level_weights(comparisons, m, u)
    fw = np.empty(gammas.shape, dtype=np.float32)
    for j, c in enumerate(comparisons):
        fw[:, j] = W[j][gammas[:, j]]
        if tf is None:
            continue
        for k, lv in enumerate(c.levels):
            if not lv.tf:
                continue
            sel = np.flatnonzero(gammas[:, j] == k)
            if len(sel) == 0:
                continue
            codes = tab.col(lv.column)[li[sel]]
            f = np.maximum(tf.freq[lv.column][codes], tf_min_u)
            # Splink-style: the value's frequency replaces the level's average u; the average
            # agreeing frequency (sum of squares) is the neutral point, so rare values gain and
            # common ones (张伟) lose weight, on the exact and on the pinyin level alike
            adj = np.log2(max(tf.ref[lv.column], tf_min_u) / f)
            fw[sel, j] += np.clip(adj, -tf_max_boost, tf_max_boost).astype(np.float32)
    names = [c.name for c in comparisons]
    for gate in gates:
        hit = np.zeros(len(gammas), bool)
        for cname, labels in gate.when.items():
            j = names.index(cname)
            lv = [k for k, l in enumerate(comparisons[j].labels) if l in set(labels)]
            hit |= np.isin(gammas[:, j], lv)
        if hit.any():
            for cname, cap in gate.cap.items():
                j = names.index(cname)
                fw[hit, j] = np.minimum(fw[hit, j], np.float32(cap))
    mw = np.log2(prior / (1 - prior)) + fw.sum(axis=1, dtype=np.float64)
    prob = 1.0 / (1.0 + np.exp2(-np.clip(mw, -1000, 1000)))
    return fw, mw, prob
