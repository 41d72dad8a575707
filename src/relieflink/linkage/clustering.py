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
``keep_previous_links``  month to month (``--previous``): a cluster linkage
                 left without a valid ID whose mentions were one person last
                 month stays with that person's successor, unless the current
                 evidence forbids it.
"""

from __future__ import annotations

from collections.abc import Callable

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


def _empty_pairs():
    return np.zeros(0, np.int64), np.zeros(0, np.int64)


def constrained_components(n: int, li, ri, mw, cl_a, cl_b) -> np.ndarray:
    """Components of the edges ``li``–``ri`` that hold no cannot-link pair: edges in descending
    weight order join two clusters unless a cannot-link pair would end up inside (greedy,
    deterministic: ties by node indices). Only components that hold a cannot-link pair are
    re-clustered edge by edge."""
    lab = _components(n, li, ri)
    if len(cl_a) == 0:
        return lab
    bad_cl = lab[cl_a] == lab[cl_b]
    if not bad_cl.any():
        return lab
    bad = np.zeros(n, bool)
    bad[np.isin(lab, np.unique(lab[cl_a[bad_cl]]))] = True
    keep = ~(bad[li] & bad[ri])
    sel = np.flatnonzero(~keep)
    order = sel[np.lexsort((ri[sel], li[sel], -mw[sel]))]
    parent = {}

    def find(x):
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root
    members: dict[int, set] = {}
    cannot: dict[int, set] = {}
    for a, b in zip(cl_a[bad[cl_a]].tolist(), cl_b[bad[cl_a]].tolist()):
        cannot.setdefault(a, set()).add(b)
        cannot.setdefault(b, set()).add(a)
    for e in order.tolist():
        a, b = find(int(li[e])), find(int(ri[e]))
        if a == b:
            continue
        ma, mb = members.get(a, {a}), members.get(b, {b})
        ca = set().union(*(cannot.get(x, ()) for x in ma))
        if ca & mb:
            continue
        if len(ma) < len(mb):
            a, b, ma, mb = b, a, mb, ma
        parent[b] = a
        members[a] = ma | mb
        members.pop(b, None)
    use = np.flatnonzero(keep)
    moved = np.array(sorted(parent), dtype=np.int64)
    roots = np.array([find(int(x)) for x in moved], dtype=np.int64)
    return _components(n, np.r_[li[use], moved], np.r_[ri[use], roots])


def components_clustering(n: int, li, ri, mw, prob, threshold: float, cannot_link_prob: float = 0.01,
                          nodes: np.ndarray | None = None, cannot_pairs=None) -> np.ndarray:
    """Connected components on strong pairs, falling back to mutual best links in chained components;
    no component holds a cannot-link pair (``cannot_pairs``)."""
    cl_a, cl_b = cannot_pairs if cannot_pairs is not None else _empty_pairs()
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
            strong = np.zeros(len(li), bool)
            strong[use] = True
    if len(cl_a) and (lab[cl_a] == lab[cl_b]).any():
        lab = constrained_components(n, li[strong], ri[strong], mw[strong], cl_a, cl_b)
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
             forbidden: np.ndarray | None = None, cannot=None):
    """Anchor-based clustering. Returns (labels, ambiguous_node_mask).

    ``cannot``: (left, right) node pairs that are two persons: a node never attaches to the
    anchor its cannot-link partner holds, and of two partners bidding for one anchor in the
    same round only the stronger attaches."""
    cl_a, cl_b = cannot if cannot is not None else _empty_pairs()
    label = np.where(anchor >= 0, anchor, -1).astype(np.int64)
    ambiguous = np.zeros(n, bool)
    K = np.int64(max(int(anchor.max(initial=-1)), int(forbidden.max(initial=-1)) if forbidden is not None else -1) + 2)
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
        # a node with pairs to the anchor's own (ID-bearing) nodes is judged on those: a chain
        # through a node attached in an earlier round only counts where there are none (one weak
        # link to an attached node must not outvote the ID's records)
        partner = np.where(la[one_side] < 0, ri[one_side], li[one_side])
        if len(u):
            orig = anchor[partner] >= 0
            if forbidden is not None:
                orig = orig[allowed]
            ut = u * K + t
            has_orig = np.isin(ut, ut[orig])
            keep_e = orig | ~has_orig
            u, t, w = u[keep_e], t[keep_e], w[keep_e]
        # nor to the anchor of a node it cannot be
        fa = (label[cl_b] >= 0) & (label[cl_a] < 0)
        fb = (label[cl_a] >= 0) & (label[cl_b] < 0)
        fkeys = np.r_[cl_a[fa] * K + label[cl_b[fa]], cl_b[fb] * K + label[cl_a[fb]]]
        if len(fkeys):
            allowed = ~np.isin(u * K + t, fkeys)
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
        if len(cl_a) and ok.any():
            # two cannot-link partners bidding for one anchor: the weaker waits (next round the
            # anchor is forbidden to it)
            prop = np.full(n, -1, np.int64)
            prop[un[ok]] = bt[ok]
            strength = np.full(n, -np.inf)
            strength[un[ok]] = bw[ok]
            clash = (prop[cl_a] >= 0) & (prop[cl_a] == prop[cl_b])
            if clash.any():
                a, b = cl_a[clash], cl_b[clash]
                loser = np.where((strength[a] > strength[b]) | ((strength[a] == strength[b]) & (a < b)), b, a)
                lose = np.zeros(n, bool)
                lose[loser] = True
                ok &= ~lose[un]
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
        csel = rest[cl_a] & rest[cl_b]
        sub = components_clustering(len(idx), pos[li[sel]], pos[ri[sel]], mw[sel], prob[sel], threshold,
                                    cannot_link_prob, cannot_pairs=(pos[cl_a[csel]], pos[cl_b[csel]]))
        # a would-be cluster member that was ambiguous between anchors keeps out of others
        label[idx] = offset + sub
    amb_idx = np.flatnonzero((label < 0) & ambiguous)
    label[amb_idx] = offset + tab_n_offset(label, offset) + np.arange(len(amb_idx))
    return label, ambiguous


def tab_n_offset(label: np.ndarray, offset: int) -> int:
    return int(label.max()) - offset + 1 if len(label) and label.max() >= offset else 0


def _first_per_group(groups: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Position of the first row of each group when rows are sorted by ``keys`` (the last key is
    the primary one, as in :func:`numpy.lexsort`); groups in ascending order."""
    order = np.lexsort((*keys, groups))
    g = groups[order]
    first = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, bool)
    return order[first]


def keep_previous_links(label: np.ndarray, record_node: np.ndarray, previous: np.ndarray, anchor: np.ndarray,
                        forbidden: np.ndarray, cannot, li: np.ndarray, ri: np.ndarray, mw: np.ndarray,
                        score_pairs: Callable[[np.ndarray, np.ndarray], np.ndarray],
                        margin: float, min_weight: float) -> np.ndarray:
    """Last month's links as evidence: a cluster linkage left without a valid ID, all of whose
    mentions known last month were one person P, joins P's successor — the cluster that holds
    P's mentions bearing a valid ID, else most of P's mentions (ties: the smallest label) —
    unless the current evidence forbids it. Returns the new labels (node indices, canonical).

    Why: linkage judges a pair against the random-pair prior (one pair in thousands is a match),
    but a row whose content was P's last month is P's with a prior near one. A moved
    household's row left in the old subdistrict's file shares only a name with the person now
    (no block proposes the pair, and its probability under the random-pair prior is tiny); a
    name a new arrival now shares leaves the row between two equal candidates. Both times the
    evidence this month does not contradict last month's link, and the link holds.

    ``label``: canonical cluster labels per node; ``record_node``: the node of each record;
    ``previous``: per record, the code of the entity it belonged to in the previous run (-1:
    not in it); ``anchor`` / ``forbidden``: per node, the code of its valid ID / of the ID it
    was split off (-1: none); ``cannot``: (left, right) cannot-link node pairs; ``li``, ``ri``,
    ``mw``: the scored candidate pairs. ``score_pairs(a, b)``: match weights of node pairs
    under the trained model, for every pair between a cluster and its successor (blocking
    proposed few of them). ``min_weight``: the match weight below which the best pair with
    the successor contradicts last month's link (the caller sets it from the model's prior:
    evidence that favours two persons).

    What forbids it: a cannot-link pair between the two clusters, or between two clusters
    going to one successor; a node of the cluster split off a valid ID joining a cluster with
    a valid ID; a best pair with the successor below ``min_weight`` (a merge the current
    evidence contradicts splits); the cluster's best pair to another cluster with a valid ID
    beating its best pair to the successor by ``margin`` bits (a competing attachment).
    Clusters holding a valid ID never move; a reviewer's ``different_persons`` decision is
    applied after linkage and separates what it names again.
    """
    n = len(label)
    known = np.flatnonzero(previous >= 0)
    if n == 0 or len(known) == 0:
        return label
    cl_a, cl_b = cannot if cannot is not None else _empty_pairs()
    anchored_label = np.zeros(n, bool)
    anchored_label[label[anchor >= 0]] = True
    # P's successor: the cluster holding P's mentions that bear a valid ID, else most of P's mentions
    pl = pd.DataFrame({"p": previous[known].astype(np.int64), "l": label[record_node[known]],
                       "a": anchor[record_node[known]] >= 0})
    pl = pl.groupby(["p", "l"], sort=False).agg(n=("a", "size"), a=("a", "max")).reset_index()
    p_, l_, a_, n_ = (pl[c].to_numpy() for c in ("p", "l", "a", "n"))
    best = _first_per_group(p_, l_, -n_, ~a_)
    successor = pd.Series(l_[best], index=p_[best])
    # movable clusters: no valid ID, every mention known last month from one person, not its successor
    per_label = pl.groupby("l", sort=False)["p"].agg(["nunique", "min"])
    per_label = per_label[(per_label["nunique"] == 1) & ~anchored_label[per_label.index.to_numpy()]]
    cand_l = per_label.index.to_numpy(dtype=np.int64)
    cand_t = successor.reindex(per_label["min"].to_numpy()).to_numpy(dtype=np.int64)
    move = cand_l != cand_t
    if not move.any():
        return label
    target = np.full(n, -1, np.int64)
    target[cand_l[move]] = cand_t[move]
    node_target = target[label]  # per node: where its cluster would go (-1: stays)
    ok = target >= 0  # per cluster label: may go
    # hard constraints: a cannot-link pair across the two clusters, or across two clusters
    # going to one successor
    for a, b in ((cl_a, cl_b), (cl_b, cl_a)):
        clash = (node_target[a] >= 0) & ((node_target[a] == label[b]) | (node_target[a] == node_target[b]))
        ok[label[a[clash]]] = False
    # a node split off a valid ID never joins a cluster with a valid ID
    split_off = (forbidden >= 0) & (node_target >= 0)
    ok[label[split_off & anchored_label[np.maximum(node_target, 0)]]] = False
    # the current evidence between the cluster and its successor: every node pair, scored
    movers = np.flatnonzero(ok[label])
    members = pd.DataFrame({"t": label, "b": np.arange(n)})
    cross = pd.DataFrame({"t": node_target[movers], "a": movers}).merge(members, on="t")
    a, b = cross["a"].to_numpy(dtype=np.int64), cross["b"].to_numpy(dtype=np.int64)
    to_successor = pd.Series(score_pairs(np.minimum(a, b), np.maximum(a, b))).groupby(label[a]).max()
    ok[to_successor.index[to_successor.to_numpy() < min_weight]] = False
    # a competing attachment: a cluster with a valid ID other than the successor, ahead by the margin
    for u, v in ((li, ri), (ri, li)):
        sel = (node_target[u] >= 0) & anchored_label[label[v]] & (label[v] != node_target[u])
        rival = pd.Series(mw[sel]).groupby(label[u[sel]]).max()
        ahead = rival.to_numpy() >= to_successor.reindex(rival.index).fillna(-np.inf).to_numpy() + margin
        ok[rival.index[ahead]] = False
    go = ok[label]
    return canonical_labels(np.where(go, node_target, label))
