"""Clustering scored pairs into entities.

``components``   connected components of the pairs at or above the match
                 threshold; a component that holds a pair scored as a clear
                 non-match (a weak link chaining two people) is re-clustered
                 with mutual best links only.
``one_to_one``   link mode: each left record to at most one right record,
                 mutual best links above the threshold.
``anchored``     persons anchored on a key that is never shared by two
                 entities (a valid resident ID: two different valid IDs are
                 two persons, SPEC §4). Nodes without the key attach to their
                 best anchor only if the match probability is above the
                 threshold *and* it beats the second-best anchor by
                 ``margin`` bits; ambiguous nodes (a no-ID 王芳 matching two
                 王芳 equally well) stay apart and their pairs go to review.
                 What is left clusters by ``components``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def _components(n: int, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    if n == 0:
        return np.zeros(0, np.int64)
    g = coo_matrix((np.ones(len(li), np.int8), (li, ri)), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    return canonical_labels(lab)


def canonical_labels(lab: np.ndarray) -> np.ndarray:
    """Relabel so that each cluster is named by its smallest member index (order-stable)."""
    if len(lab) == 0:
        return lab.astype(np.int64)
    first = pd.Series(np.arange(len(lab))).groupby(lab).transform("min").to_numpy()
    return first.astype(np.int64)


def _best_per(node: np.ndarray, target: np.ndarray, mw: np.ndarray):
    """For each node: best target, its weight, and the best weight of any *other* target."""
    df = pd.DataFrame({"u": node, "t": target, "w": mw})
    df = df.sort_values(["u", "w", "t"], ascending=[True, False, True], kind="stable")
    df = df.drop_duplicates(["u", "t"])  # best edge per (node, target)
    rank = df.groupby("u", sort=False).cumcount().to_numpy()
    best = df[rank == 0].set_index("u")
    second = df[rank == 1].set_index("u")["w"]
    best = best.assign(w2=second.reindex(best.index).fillna(-np.inf))
    return best.index.to_numpy(), best["t"].to_numpy(), best["w"].to_numpy(), best["w2"].to_numpy()


def components_clustering(n: int, li, ri, mw, prob, threshold: float, cannot_link_prob: float = 0.01,
                          nodes: np.ndarray | None = None) -> np.ndarray:
    """Connected components on strong pairs, falling back to mutual best links in chained components."""
    strong = prob >= threshold
    lab = _components(n, li[strong], ri[strong])
    bad_pair = (prob < cannot_link_prob) & (lab[li] == lab[ri])
    if bad_pair.any():
        bad = np.zeros(n, bool)
        bad_clusters = np.unique(lab[li[bad_pair]])
        bad[np.isin(lab, bad_clusters)] = True
        sel = strong & bad[li] & bad[ri]
        keep = strong & ~(bad[li] | bad[ri])
        if sel.any():
            a, b, w = li[sel], ri[sel], mw[sel]
            u, t, _, _ = _best_per(np.r_[a, b], np.r_[b, a], np.r_[w, w])
            best = np.full(n, -1, np.int64)
            best[u] = t
            mutual = (best[a] == b) & (best[b] == a)
            keep_idx = np.flatnonzero(keep)
            sel_idx = np.flatnonzero(sel)[mutual]
            use = np.r_[keep_idx, sel_idx]
            lab = _components(n, li[use], ri[use])
    return lab


def one_to_one(n: int, li, ri, mw, prob, threshold: float) -> np.ndarray:
    """Mutual best links above the threshold (link mode)."""
    strong = prob >= threshold
    a, b, w = li[strong], ri[strong], mw[strong]
    best = np.full(n, -1, np.int64)
    if len(a):
        u, t, _, _ = _best_per(np.r_[a, b], np.r_[b, a], np.r_[w, w])
        best[u] = t
    mutual = (best[a] == b) & (best[b] == a)
    return _components(n, a[mutual], b[mutual])


def anchored(n: int, anchor: np.ndarray, li, ri, mw, prob, threshold: float, margin: float,
             max_rounds: int = 4, cannot_link_prob: float = 0.01, unique_probability: float | None = None,
             forbidden: np.ndarray | None = None):
    """Anchor-based clustering. Returns (labels, ambiguous_node_mask)."""
    label = np.where(anchor >= 0, anchor, -1).astype(np.int64)
    ambiguous = np.zeros(n, bool)
    for _ in range(max_rounds):
        la, lb = label[li], label[ri]
        one_side = (la >= 0) != (lb >= 0)
        if not one_side.any():
            break
        u = np.where(la[one_side] < 0, li[one_side], ri[one_side])
        t = np.where(la[one_side] < 0, lb[one_side], la[one_side])
        w = mw[one_side]
        if forbidden is not None:  # a node split off an ID group never attaches back to it
            allowed = forbidden[u] != t
            u, t, w = u[allowed], t[allowed], w[allowed]
            if len(u) == 0:
                break
        un, bt, bw, w2 = _best_per(u, t, w)
        bp = 1.0 / (1.0 + np.exp2(-bw))
        ok = (bp >= threshold) & (bw - w2 >= margin)
        if unique_probability is not None:
            # the only anchor in reach (blocking saw no other candidate worth a look): the pair's
            # probability under the random-pair prior understates it; a lower bar applies
            p2 = 1.0 / (1.0 + np.exp2(-np.where(np.isfinite(w2), w2, -1000.0)))
            ok |= (bp >= unique_probability) & (p2 < cannot_link_prob)
        ambiguous[un[(bp >= threshold) & ~ok]] = True
        if not ok.any():
            break
        label[un[ok]] = bt[ok]
        ambiguous[un[ok]] = False
    # the rest: components among unassigned nodes; they become their own entities
    # ambiguous nodes (strong to two anchors) stay alone: chaining them to other
    # unassigned nodes is exactly the bridge the margin rule is there to stop
    rest = (label < 0) & ~ambiguous
    offset = int(anchor.max()) + 1 if len(anchor) and anchor.max() >= 0 else 0
    sel = rest[li] & rest[ri]
    idx = np.flatnonzero(rest)
    if len(idx):
        pos = np.full(n, -1, np.int64)
        pos[idx] = np.arange(len(idx))
        sub = components_clustering(len(idx), pos[li[sel]], pos[ri[sel]], mw[sel], prob[sel], threshold,
                                    cannot_link_prob)
        # a would-be cluster member that was ambiguous between anchors keeps out of others
        label[idx] = offset + sub
    amb_idx = np.flatnonzero((label < 0) & ambiguous)
    label[amb_idx] = offset + tab_n_offset(label, offset) + np.arange(len(amb_idx))
    return label, ambiguous


def tab_n_offset(label: np.ndarray, offset: int) -> int:
    return int(label.max()) - offset + 1 if len(label) and label.max() >= offset else 0
