"""The linker: prepare → collapse → block → compare → train → score → cluster.

Generic over the settings document; :mod:`relieflink.linkage.persons` adds
what is specific to relief mentions (person and household tables).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from relieflink.linkage import clustering as CL
from relieflink.linkage.blocking import BlockingPass, PassStats, _combined_key, block
from relieflink.linkage.model import (
    TermFrequencies, compute_gammas, em, estimate_u, initial_m, m_from_labels, pattern_counts, score)
from relieflink.linkage.prepare import PREPARER_INPUTS, PREPARERS, Nodes, collapse, distinct_rows
from relieflink.linkage.settings import SameRecordRule, Settings
from relieflink.linkage.table import NULL, Table


@dataclass
class Scored:
    """Scored candidate pairs of nodes (aligned arrays)."""

    left: np.ndarray
    right: np.ndarray
    first_pass: np.ndarray
    gammas: np.ndarray  # (n, C) int8 level index
    field_weights: np.ndarray  # (n, C) float32
    match_weight: np.ndarray
    probability: np.ndarray
    review: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.left)


@dataclass
class LinkResult:
    settings: Settings  # trained model
    nodes: Nodes
    table: Table
    pairs: Scored
    node_label: np.ndarray  # entity label per node (smallest node index of its cluster)
    record_label: np.ndarray  # entity label per input record
    blocking_stats: list[PassStats]
    timings: dict[str, float] = field(default_factory=dict)
    em_iterations: int = 0
    ambiguous: np.ndarray | None = None

    def pairs_frame(self) -> pd.DataFrame:
        """Pairs with per-field levels (labels) and weights, match weight, probability, review flag."""
        p = self.pairs
        d: dict[str, Any] = {"left_node": p.left, "right_node": p.right}
        for j, c in enumerate(self.settings.comparisons):
            d[f"level_{c.name}"] = pd.Categorical.from_codes(p.gammas[:, j].astype(np.int16), categories=c.labels)
            d[f"w_{c.name}"] = p.field_weights[:, j]
        d["match_weight"] = p.match_weight
        d["probability"] = p.probability
        d["review"] = p.review if p.review is not None else np.zeros(len(p), bool)
        names = [b.name for b in self.settings.blocking]
        d["blocking_pass"] = pd.Categorical.from_codes(p.first_pass.astype(np.int16), categories=names)
        return pd.DataFrame(d)


class Linker:
    """Splink-like linker driven by a :class:`Settings` document."""

    def __init__(self, settings: Settings | str):
        self.settings = settings if isinstance(settings, Settings) else Settings.load(settings)
        self.timings: dict[str, float] = {}

    def _tick(self, name: str, t0: float) -> float:
        t = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + t - t0
        return t

    # ------------------------------------------------------------------
    def prepare(self, df: pd.DataFrame, dataset: np.ndarray | None = None) -> tuple[Nodes, Table]:
        """Features of the distinct input rows only, collapsed into nodes (identical features)."""
        s = self.settings
        inputs = PREPARER_INPUTS.get(s.prepare) or tuple(s.string_columns + s.int_columns)
        first, group = distinct_rows(df, [c for c in inputs if c in df], dataset)
        sub = df.iloc[first].reset_index(drop=True)
        feats = PREPARERS[s.prepare](sub, s)
        for f in s.flags:
            feats[f] = feats[f].astype(bool)
        cols = s.string_columns + s.int_columns + s.flags
        nodes = collapse(feats, cols, None if dataset is None else np.asarray(dataset)[first])
        record_node = nodes.record_node[group]
        nodes = Nodes(nodes.frame, record_node, np.bincount(record_node, minlength=nodes.n), nodes.encoded)
        tab = Table.from_frame(nodes.frame, s.string_columns, s.int_columns, nodes.encoded)
        return nodes, tab

    def split_contradicting_anchors(self, nodes: Nodes, tab: Table) -> np.ndarray:
        """Nodes whose name contradicts the name of their valid-ID group lose their ID evidence.

        The household head's ID typed on a member's row, an ID copied onto another
        person's record: the node keeps its name and other fields, but its ID is no
        longer evidence (the member must not become the head). Returns the mask.
        """
        a = self.settings.clustering.anchor
        if a is None:
            return np.zeros(tab.n, bool)
        key = tab.col(a.column)
        has = np.flatnonzero(key != NULL)
        if len(has) == 0:
            return np.zeros(tab.n, bool)
        # reference node of each key: the name (by ``vote_column``, e.g. pinyin) carried by the
        # most records of the key wins; within it the node with most records, then the smallest
        # (canonical) node index
        vote = tab.col(a.vote_column or a.column)[has]
        df = pd.DataFrame({"node": has, "key": key[has], "w": nodes.weight[has], "v": vote})
        df["vw"] = df.groupby(["key", "v"])["w"].transform("sum")
        df = df.sort_values(["key", "vw", "w", "node"], ascending=[True, False, False, True], kind="stable")
        ref = df.drop_duplicates("key").set_index("key")["node"]
        refn = ref.reindex(key[has]).to_numpy()
        sel = has[refn != has]
        refn = refn[refn != has]
        comp = self.settings.comparison(a.name_comparison)
        g = comp.gamma(tab, sel, refn)
        bad_levels = [k for k, lv in enumerate(comp.levels) if lv.label in set(a.contradicting_levels)]
        bad = np.isin(g, bad_levels)
        mask = np.zeros(tab.n, bool)
        mask[sel[bad]] = True
        # remember which key the node was split from: it may not attach back to it
        self.forbidden_key = np.full(tab.n, NULL, np.int64)
        self.forbidden_key[mask] = key[mask]
        for c in a.clear_columns or [a.column]:
            tab.codes[c] = tab.codes[c].copy()
            tab.codes[c][mask] = NULL
            tab.cache.pop(("int", c), None)
        return mask

    def cannot_links(self, df: pd.DataFrame, nodes: Nodes, tab: Table) -> tuple[np.ndarray, np.ndarray]:
        """Node pairs that are two persons whatever their scores (``clustering.cannot_link``).

        ``same_record``: nodes named on one input record (``columns``, e.g. file and row);
        ``same_key``: nodes sharing ``key``. Of those, the pairs whose ``differ`` values differ
        (both present), and/or whose level on ``comparison`` is one of ``levels``: a student and
        a guardian named differently on one row; two relations of one roster 户编号 (the roster
        lists each member of a household once).
        Returns sorted, distinct (left, right) node arrays with left < right."""
        rules = self.settings.clustering.cannot_link
        n = np.int64(tab.n)
        keys = [np.zeros(0, np.int64)]
        for r in rules:
            differ = tab.col(r.differ) if r.differ is not None else None
            if isinstance(r, SameRecordRule):
                cols = [c for c in r.columns if c in df]
                if len(cols) != len(r.columns) or len(df) == 0:
                    continue
                rk = np.zeros(len(df), np.int64)
                for c in cols:
                    cc = pd.factorize(df[c], use_na_sentinel=True)[0].astype(np.int64)
                    rk = pd.factorize(rk * (int(cc.max()) + 2) + cc + 1)[0].astype(np.int64)
                pairs = pd.DataFrame({"k": rk, "v": nodes.record_node}).drop_duplicates()
                multi = pairs["k"].duplicated(keep=False).to_numpy()
                k, v = pairs["k"].to_numpy()[multi], pairs["v"].to_numpy()[multi]
            else:
                key = tab.col(r.key)
                ok = key != NULL
                k, v = key[ok].astype(np.int64), np.flatnonzero(ok).astype(np.int64)
            from relieflink.linkage.blocking import pairs_within_groups
            a, b, _, _ = pairs_within_groups(k, v)
            keep = a != b
            if differ is not None:
                da, db = differ[a], differ[b]
                keep &= (da != NULL) & (db != NULL) & (da != db)
            if r.comparison is not None:  # the pair's level on a comparison says they differ
                comp = self.settings.comparison(r.comparison)
                bad = [k for k, lv in enumerate(comp.levels) if lv.label in set(r.levels)]
                keep &= np.isin(comp.gamma(tab, a, b), bad)
            keys.append(a[keep] * n + b[keep])
        from relieflink.linkage.table import sorted_unique
        allk = sorted_unique(np.concatenate(keys))
        return allk // n, allk % n

    def block(self, nodes: Nodes, tab: Table):
        s = self.settings
        flags = {f: nodes.frame[f].to_numpy(dtype=bool) for f in s.flags}
        ds = nodes.frame["dataset"].to_numpy() if s.link_type == "link" else None
        return block(tab, s.blocking, flags, ds)

    def _session_pairs(self, tab: Table, bp, flags, ds, pairs, gammas):
        """Gammas of the pairs one blocking pass generates: taken from the candidate pairs (the
        union holds every pair of every pass) when the pass is a key pass, else blocked anew."""
        s = self.settings
        if pairs is not None and bp.kind == "key":
            li, ri = pairs
            key, ok = _combined_key(tab, bp.columns)
            key = np.where(ok, key, -1)
            sel = (key[li] == key[ri]) & ok[li]
            if bp.max_block is not None:
                size = np.bincount(key[ok], minlength=int(key.max()) + 1 if len(key) else 0)
                sel &= size[np.maximum(key[li], 0)] <= bp.max_block
            if bp.only_if:
                f = flags[bp.only_if]
                sel &= f[li] | f[ri]
            return gammas[sel].copy()
        li, ri, _, _ = block(tab, [bp], flags, ds)
        return compute_gammas(tab, s.comparisons, li, ri)

    def train(self, nodes: Nodes, tab: Table, gammas: np.ndarray, labels: tuple | None = None,
              pairs: tuple[np.ndarray, np.ndarray] | None = None) -> int:
        """Estimate u (random pairs), then m and λ by EM on pattern counts. Updates the settings."""
        s = self.settings
        sizes = [len(c.levels) for c in s.comparisons]
        flags = {f: nodes.frame[f].to_numpy(dtype=bool) for f in s.flags}
        ds = nodes.frame["dataset"].to_numpy() if s.link_type == "link" else None

        def session_counts(bp: BlockingPass) -> tuple[np.ndarray, np.ndarray]:
            return pattern_counts(self._session_pairs(tab, bp, flags, ds, pairs, gammas), sizes)

        return self.train_on_counts(nodes, tab, pattern_counts(gammas, sizes), len(gammas), session_counts, labels)

    def u_probabilities(self, nodes: Nodes, tab: Table) -> dict[str, list[float]]:
        """u per level from the random pairs of ``training.u_sample_pairs`` (defined by hashing,
        :mod:`relieflink.linkage.sampling`; relieflink.spark draws and compares them on executors)."""
        s, tr = self.settings, self.settings.training
        ds = nodes.frame["dataset"].to_numpy() if s.link_type == "link" else None
        return estimate_u(tab, s.comparisons, tr.u_sample_pairs, tr.seed,
                          node_weights=nodes.weight.astype(float) if tr.u_weight_by_records else None, dataset=ds)

    def train_on_counts(self, nodes: Nodes, tab: Table, candidate_counts: tuple[np.ndarray, np.ndarray],
                        n_candidates: int, session_counts: Callable[[BlockingPass], tuple[np.ndarray, np.ndarray]],
                        labels: tuple | None = None) -> int:
        """:meth:`train` from the distinct gamma patterns and their counts: of all candidate pairs
        (``candidate_counts``, as :func:`~relieflink.linkage.model.pattern_counts` gives them) and
        of the pairs one blocking pass generates (``session_counts(pass)``). The counts are all
        EM needs, so an engine that compares pairs elsewhere (relieflink.spark) collects only them."""
        s = self.settings
        tr = s.training
        comps = s.comparisons
        ds = nodes.frame["dataset"].to_numpy() if s.link_type == "link" else None
        s.u = self.u_probabilities(nodes, tab)
        m = initial_m(comps)
        fixed: set[str] = set()
        if labels is not None:
            lg, is_match = labels
            m.update(m_from_labels(lg, is_match, comps))
            fixed = {c.name for c in comps}
        sizes = [len(c.levels) for c in comps]
        prior0 = tr.initial_prior
        max_it, tol = tr.em_max_iter, tr.em_tol
        sessions = tr.sessions
        it = 0
        if sessions and labels is None:
            # Splink-style: one EM per training blocking pass, u fixed (random pairs), the
            # comparisons on the pass's own key ignored (they agree by construction); m of a
            # comparison = mean over the sessions that estimated it.
            acc: dict[str, list[np.ndarray]] = {c.name: [] for c in comps}
            takes: list[tuple[str, int, float]] = []
            for sess in sessions:
                bp = next(b for b in s.blocking if b.name == sess.blocking_pass)
                pats, counts = session_counts(bp)
                if len(pats) == 0:
                    continue
                excl = set(sess.exclude)
                pats = pats.copy()
                for j, c in enumerate(comps):
                    if c.name in excl:
                        pats[:, j] = next(k for k, lv in enumerate(c.levels) if lv.is_null)
                # the excluded comparisons read as null: patterns that now coincide add up (integer
                # counts in float64, exactly the counts of the pairs' own patterns)
                pats, counts = pattern_counts(pats, sizes, counts)
                mm = {k: list(v) for k, v in m.items()}
                mm, _, _, k_it = em(pats, counts, comps, mm, s.u, prior0, max_it, tol, excl, estimate_u=False)
                it += k_it
                if sess.take:  # this session estimates only these levels
                    for cname, labels in sess.take.items():
                        c = s.comparison(cname)
                        for lab in labels:
                            takes.append((cname, c.labels.index(lab), mm[cname][c.labels.index(lab)]))
                    continue
                for c in comps:
                    if c.name not in excl:
                        acc[c.name].append(np.asarray(mm[c.name]))
            for c in comps:
                if acc[c.name]:
                    m[c.name] = [float(x) for x in np.mean(acc[c.name], axis=0)]
            for cname, k, val in takes:
                # the session's m of the level is conditional on pairs where the level can occur
                # at all (one side with an age only); the other levels keep their relative sizes
                # and the vector is renormalized, so that neither side is scaled to nothing
                c = s.comparison(cname)
                v = np.asarray(m[cname], dtype=float)
                nn = np.array([not lv.is_null for lv in c.levels])
                v[k] = val
                v[nn] /= v[nn].sum()
                m[cname] = [float(x) for x in v]
            fixed = {c.name for c in comps}
        pats, counts = candidate_counts
        u_random = s.u
        m, u, lam, k_it = em(pats, counts, comps, m, u_random, prior0, max_it, tol, fixed,
                             tr.estimate_u and not fixed)
        it += k_it
        s.m = m
        s.u = u
        s.u_random = u_random
        s.prior = lam
        if tr.prior == "random_pairs":
            # Fellegi–Sunter with u from random pairs needs the prior of random pairs too:
            # expected matches among the candidates over all node pairs (blocking recall ≈ 1)
            if ds is not None:
                total = float((ds == 0).sum()) * float((ds == 1).sum())
            else:
                total = tab.n * (tab.n - 1) / 2.0
            s.prior = float(min(max(lam * n_candidates / max(total, 1.0), 1e-15), 0.5))
        s.trained_on = {"candidate_pairs": int(n_candidates), "patterns": int(len(pats)), "nodes": int(tab.n),
                        "em_iterations": it, "candidate_match_share": lam}
        return it

    def tf(self, tab: Table) -> TermFrequencies | None:
        cols = {lv.column for c in self.settings.comparisons for lv in c.levels if lv.tf}
        if not cols:
            return None
        return TermFrequencies.from_table(tab, cols)

    def cluster(self, tab: Table, nodes: Nodes, p: Scored, previous: np.ndarray | None = None,
                tf: TermFrequencies | None = None):
        """Cluster the scored pairs; ``previous`` (per record, the entity it belonged to in the previous
        run, -1: none) keeps last month's links where the current evidence allows
        (:func:`~relieflink.linkage.clustering.keep_previous_links`, which scores pairs blocking did not
        propose with the trained model and ``tf``, the term frequencies the pairs were scored with)."""
        anchor, forbidden = self.anchor_codes(tab)
        return self.cluster_nodes(tab.n, anchor, forbidden, p.left, p.right, p.match_weight, p.probability,
                                  getattr(self, "cannot", None),
                                  (nodes.record_node, previous) if previous is not None else None,
                                  functools.partial(self._match_weights, tab, tf))

    def anchor_codes(self, tab: Table) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per node, the code of its anchor key (a valid ID) and of the key it was split off (-1:
        none), for the ``anchored`` method (None otherwise)."""
        c = self.settings.clustering
        if c.method != "anchored":
            return None, None
        assert c.anchor is not None  # the settings validation requires it for this method
        key = tab.col(c.anchor.column).astype(np.int64)
        fk = getattr(self, "forbidden_key", np.full(tab.n, NULL, np.int64))
        codes, _ = pd.factorize(np.r_[key, fk])
        codes = np.where(np.r_[key, fk] != NULL, codes, -1)
        return codes[:tab.n], codes[tab.n:]

    def cluster_nodes(self, n: int, anchor: np.ndarray | None, forbidden: np.ndarray | None, li: np.ndarray,
                      ri: np.ndarray, mw: np.ndarray, prob: np.ndarray,
                      cannot: tuple[np.ndarray, np.ndarray] | None,
                      previous: tuple[np.ndarray, np.ndarray] | None = None,
                      score_pairs: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                      ) -> tuple[np.ndarray, np.ndarray | None]:
        """Entity label per node (the smallest node index of its entity) and the ambiguous mask.

        ``previous``: (node of each record, the code of its entity in the previous run, -1: none),
        the records may be any that include all those known last month; ``score_pairs``: match
        weights of node pairs under the trained model (both needed for the previous-link step of
        the anchored method, :func:`~relieflink.linkage.clustering.keep_previous_links`).

        Depends only on the nodes, pairs, cannot-links and records given: run on one connected
        component of pairs, cannot-links, shared anchors and shared previous entities (node indices
        renumbered in the same order), it labels that component as the whole graph would
        (relieflink.spark relies on it)."""
        c = self.settings.clustering
        method, thr, cannot_p = c.method, c.match_probability, c.cannot_link_probability
        ambiguous = None
        if method == "components":
            lab = CL.components_clustering(n, li, ri, mw, prob, thr, cannot_p, cannot_pairs=cannot)
        elif method == "one_to_one":
            lab = CL.one_to_one(n, li, ri, mw, prob, thr)
        elif method == "anchored":
            assert anchor is not None and forbidden is not None
            lab, ambiguous = CL.anchored(n, anchor, li, ri, mw, prob, thr, c.margin, c.max_rounds, cannot_p,
                                         c.unique_candidate_probability, forbidden, cannot)
            lab = CL.canonical_labels(lab)
            if previous is not None:
                assert score_pairs is not None
                # the pair's own evidence (its weight without the random-pair prior) must not favour two persons
                min_weight = float(np.log2(self.settings.prior / (1 - self.settings.prior))) + c.previous_link_evidence
                lab = CL.keep_previous_links(lab, previous[0], previous[1], anchor, forbidden, cannot, li, ri, mw,
                                             score_pairs, c.margin, min_weight)
        else:
            raise ValueError(f"unknown clustering method {method!r}")
        return lab, ambiguous

    def review(self, prob: np.ndarray, same: np.ndarray) -> np.ndarray:
        """Pairs for clerical review: between the review and the match probability, or strong
        pairs the clustering kept apart (``same``: both nodes in one entity; ambiguous, hard rule)."""
        thr, lo = self.settings.clustering.match_probability, self.settings.clustering.review_probability
        return ((prob >= lo) & (prob < thr)) | ((prob >= thr) & ~same)

    def nodes(self, df: pd.DataFrame, dataset: np.ndarray | None = None) -> tuple[Nodes, Table]:
        """The node-sized start of a run: the nodes and their encoded table, anchors contradicted
        by their names split off, the cannot-links (``self.cannot``)."""
        t = time.perf_counter()
        nodes, tab = self.prepare(df, dataset)
        t = self._tick("prepare", t)
        self.split_contradicting_anchors(nodes, tab)
        self.cannot = self.cannot_links(df, nodes, tab)
        self._tick("anchors", t)
        return nodes, tab

    def _match_weights(self, tab: Table, tf: TermFrequencies | None, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
        """Match weights of node pairs under the trained model (pairs blocking need not have proposed)."""
        s = self.settings
        gam = compute_gammas(tab, s.comparisons, li, ri)
        _, mw, _ = score(tab, s.comparisons, gam, li, ri, s.m, s.u, s.prior, tf, s.training.tf_min_u,
                         gates=s.clustering.gates)
        return mw

    # ------------------------------------------------------------------
    def run(self, df: pd.DataFrame, dataset: np.ndarray | None = None, train: bool | None = None,
            labels: pd.DataFrame | None = None, previous: np.ndarray | None = None) -> LinkResult:
        """Link the records of ``df`` (dedupe) or of two data sets (``dataset`` 0/1, link mode).

        ``previous``: per record, the code of the entity it belonged to in the previous run (-1:
        not in it); with anchored clustering, last month's links hold where linkage leaves a
        record unattached and the current evidence does not forbid it."""
        s = self.settings
        self.timings = {}
        nodes, tab = self.nodes(df, dataset)
        t = time.perf_counter()
        li, ri, first, stats = self.block(nodes, tab)
        t = self._tick("blocking", t)
        gam = compute_gammas(tab, s.comparisons, li, ri)
        t = self._tick("comparisons", t)
        it = 0
        if train or (train is None and not s.is_trained):
            lab_arg = None
            if labels is not None and len(labels):
                ln = nodes.record_node[labels["left"].to_numpy()]
                rn = nodes.record_node[labels["right"].to_numpy()]
                lab_arg = (compute_gammas(tab, s.comparisons, ln, rn), labels["is_match"].to_numpy(bool))
            it = self.train(nodes, tab, gam, lab_arg, (li, ri))
        t = self._tick("training", t)
        tf = self.tf(tab)
        fw, mw, prob = score(tab, s.comparisons, gam, li, ri, s.m, s.u, s.prior, tf,
                             s.training.tf_min_u, gates=s.clustering.gates)
        p = Scored(li, ri, first, gam, fw, mw, prob)
        t = self._tick("scoring", t)
        lab, amb = self.cluster(tab, nodes, p, previous, tf)
        p.review = self.review(prob, lab[li] == lab[ri])
        t = self._tick("clustering", t)
        return LinkResult(s, nodes, tab, p, lab, lab[nodes.record_node], stats, dict(self.timings), it, amb)


def dedupe(df: pd.DataFrame, settings: Settings | str, **kw) -> LinkResult:
    """Deduplicate one table."""
    return Linker(settings).run(df, **kw)


def link(left: pd.DataFrame, right: pd.DataFrame, settings: Settings | str, **kw) -> LinkResult:
    """Link two tables; labels of ``result.record_label`` cover ``left`` then ``right``."""
    df = pd.concat([left, right], ignore_index=True)
    ds = np.r_[np.zeros(len(left), np.int8), np.ones(len(right), np.int8)]
    return Linker(settings).run(df, dataset=ds, **kw)
