"""The :class:`~relieflink.linkage.engine.Linker` whose pair-sized stages run on Spark.

Node-sized stages are the local engine's own methods, on the driver: the features and the
encoded node table (``prepare``), the anchors split off and the cannot-links, EM on the
collected pattern counts (``train_on_counts``). Pair-sized ones are Spark jobs:
:mod:`.blocking`, :mod:`.scoring` (with the u sample: the local engine's hash-defined pairs,
drawn and compared by the executors), :mod:`.clustering`. The scored pairs are collected at
the end, in the local engine's order, for the run folder's ``pairs.parquet``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relieflink.linkage.engine import Linker, LinkResult, Scored
from relieflink.linkage.model import u_from_level_counts
from relieflink.spark import blocking as SB
from relieflink.spark import clustering as SC
from relieflink.spark import scoring as SS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from relieflink.linkage.blocking import BlockingPass
    from relieflink.linkage.prepare import Nodes
    from relieflink.linkage.settings import Settings
    from relieflink.linkage.table import Table


log = logging.getLogger(__name__)


class SparkLinker(Linker):
    """Links as :class:`~relieflink.linkage.engine.Linker` does, with the same results, on ``spark``."""

    def __init__(self, settings: Settings | str, spark: SparkSession):
        super().__init__(settings)
        self.spark = spark
        self.figures: dict[str, object] = {}

    def _tick(self, name: str, t0: float) -> float:
        t = super()._tick(name, t0)
        log.info("spark linkage: %s in %.1f s", name, t - t0)
        return t

    def u_probabilities(self, nodes: Nodes, tab: Table) -> dict[str, list[float]]:
        """The local engine's u (the same hash-defined pairs), the pairs drawn and compared on the executors."""
        s, tr = self.settings, self.settings.training
        ds = nodes.frame["dataset"].to_numpy() if s.link_type == "link" else None
        weights = nodes.weight.astype(float) if tr.u_weight_by_records else None
        return u_from_level_counts(s.comparisons, SS.sample_level_counts(self.spark, self._table, s, tab.n, weights, ds))

    def run(self, df: pd.DataFrame, dataset: np.ndarray | None = None, train: bool | None = None,
            labels: pd.DataFrame | None = None, previous: np.ndarray | None = None) -> LinkResult:
        if labels is not None and len(labels):
            raise NotImplementedError("clerical-review labels are not supported by the Spark engine yet")
        s = self.settings
        self.timings = {}
        nodes, tab = self.nodes(df, dataset)
        t = time.perf_counter()
        flags = {f: nodes.frame[f].to_numpy(dtype=bool) for f in s.flags}
        ds = nodes.frame["dataset"].to_numpy() if s.link_type == "link" else None
        pairs, stats = SB.candidate_pairs(self.spark, tab, s.blocking, flags, ds)
        t = self._tick("blocking", t)
        table = self._table = self.spark.sparkContext.broadcast(tab)
        gammas = SS.with_gammas(pairs, table, s).persist()
        pats, passes, counts = SS.collected_pattern_counts(gammas, s)
        pairs.unpersist()
        t = self._tick("comparisons", t)
        it = 0
        if train or (train is None and not s.is_trained):
            def session_counts(bp: BlockingPass) -> tuple[np.ndarray, np.ndarray]:
                bit = np.int64(1) << np.int64(s.blocking.index(bp))
                sel = (passes & bit) != 0
                return SS.counts_of(pats[sel], counts[sel], s)

            it = self.train_on_counts(nodes, tab, SS.counts_of(pats, counts, s), int(counts.sum()), session_counts)
        t = self._tick("training", t)
        tf = self.tf(tab)
        scored = SS.with_scores(gammas, table, s, tf).persist()
        t = self._tick("scoring", t)
        anchor, forbidden = self.anchor_codes(tab)
        known = None
        if previous is not None and anchor is not None:  # the previous-link step of the anchored method
            rec = np.flatnonzero(previous >= 0)
            known = (nodes.record_node[rec].astype(np.int64), previous[rec].astype(np.int64))
        lab, amb, self.figures = SC.cluster_components(self.spark, self, tab.n, anchor, forbidden, scored,
                                                       self.cannot, known, table, tf)
        log.info("spark linkage: %(components)d components, the largest %(largest_component)d nodes, "
                 "%(propagation_rounds)d propagation rounds", self.figures)
        t = self._tick("clustering", t)
        p = _collect(scored, s)
        scored.unpersist()
        gammas.unpersist()
        table.unpersist()
        p.review = self.review(p.probability, lab[p.left] == lab[p.right])
        self._tick("collect", t)
        return LinkResult(s, nodes, tab, p, lab, lab[nodes.record_node], stats, dict(self.timings), it, amb)


def _collect(scored, settings: Settings) -> Scored:
    """The scored pairs on the driver, ordered by (left, right) as the local engine's."""
    g, w = SS.gamma_columns(settings), SS.weight_columns(settings)
    cols = ["left", "right", "first_pass", *g, *w, "match_weight", "probability"]
    d = scored.select(*cols).toPandas().sort_values(["left", "right"], kind="stable")
    C = len(settings.comparisons)
    return Scored(
        d["left"].to_numpy(np.int64), d["right"].to_numpy(np.int64), d["first_pass"].to_numpy(np.int16),
        d[g].to_numpy(np.int8).reshape(len(d), C), d[w].to_numpy(np.float32).reshape(len(d), C),
        d["match_weight"].to_numpy(np.float64), d["probability"].to_numpy(np.float64))
