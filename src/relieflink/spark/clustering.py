"""Clustering on Spark: connected components of the graph the local clustering reads, by
iterated min-label propagation on DataFrames (no pair leaves the executors), then each
component clustered by the local engine's own algorithm
(:meth:`relieflink.linkage.engine.Linker.cluster_nodes`) with ``applyInPandas``.

The graph: every scored pair (the anchored method compares a node's best anchor with its
second best, whatever the probability), every cannot-link pair and, per anchor key (a valid ID)
and per entity of the previous run (``--previous``: its records' nodes), a star joining its nodes.
No rule of the local algorithm looks across these edges, so a
component clustered alone is labelled as the whole graph labels it; node indices keep their
order inside a component, so the label (the smallest node index of an entity) is the same too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from relieflink.linkage.engine import Linker
    from relieflink.linkage.model import TermFrequencies


def _stars(node: np.ndarray, key: np.ndarray) -> pd.DataFrame:
    """Edges (``a``, ``b``) joining the nodes of each key to the key's smallest node."""
    d = pd.DataFrame({"b": node, "k": key}).drop_duplicates()
    root = d.groupby("k")["b"].transform("min").to_numpy()
    keep = root != d["b"].to_numpy()
    return pd.DataFrame({"a": root[keep], "b": d["b"].to_numpy()[keep]})


def components(spark: SparkSession, edges: DataFrame) -> tuple[DataFrame, int]:
    """(``node``, ``component`` = the smallest node of its component) for every node on an edge
    (``a``, ``b``), and the number of propagation rounds. Each round a node takes the smallest
    label among itself and its neighbours, then the label of its label (pointer jumping: the
    rounds grow with the logarithm of a component's diameter, not with the diameter)."""
    from pyspark.sql import functions as F

    both = edges.select("a", "b").union(edges.select(F.col("b").alias("a"), F.col("a").alias("b"))).distinct()
    # materialized without its lineage: else every round plans the whole blocking and scoring query again
    # (measured at 40k persons: the driver planning each round, statistics estimation of the joins)
    both = both.localCheckpoint()
    label = both.groupBy("a").agg(F.least(F.col("a"), F.min("b")).alias("c")).withColumnRenamed("a", "node")
    label = label.localCheckpoint()
    previous = label.agg(F.sum("c")).first()[0]
    rounds = 0
    while True:
        rounds += 1
        spread = (both.join(label.withColumnRenamed("node", "a"), "a")
                  .groupBy(F.col("b").alias("node")).agg(F.min("c").alias("c2")))
        new = label.join(spread, "node", "left").select(
            "node", F.least(F.col("c"), F.coalesce(F.col("c2"), F.col("c"))).alias("c"))
        hop = new.select(F.col("node").alias("c"), F.col("c").alias("cc"))
        new = new.join(hop, "c", "left").select("node", F.least(F.col("c"), F.coalesce(F.col("cc"), F.col("c")))
                                                .alias("c"))
        new = new.localCheckpoint()  # materialized: the plan does not grow with the rounds
        # labels only decrease: an unchanged sum is an unchanged labelling (no join needed)
        total = new.agg(F.sum("c")).first()[0]
        label = new
        if total == previous:
            break
        previous = total
    return label.withColumnRenamed("c", "component"), rounds


def cluster_components(spark: SparkSession, linker: Linker, n: int, anchor: np.ndarray | None,
                       forbidden: np.ndarray | None, scored: DataFrame,
                       cannot: tuple[np.ndarray, np.ndarray],
                       previous: tuple[np.ndarray, np.ndarray] | None = None, table: object = None,
                       tf: TermFrequencies | None = None) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Entity label per node (the smallest node index of its entity) and the ambiguous mask, as
    ``linker.cluster_nodes`` gives them on the whole graph; and figures on the components.

    ``previous``: (node, entity code in the previous run) of the records known last month, for
    the previous-link step, which scores node pairs blocking did not propose with the broadcast
    node ``table`` and the term frequencies ``tf``."""
    from pyspark.sql import functions as F

    cl_a, cl_b = (np.asarray(x, np.int64) for x in cannot)
    node_df = pd.DataFrame({"node": np.arange(n, dtype=np.int64),
                            "anchor": anchor if anchor is not None else np.full(n, -1, np.int64),
                            "forbidden": forbidden if forbidden is not None else np.full(n, -1, np.int64)})
    has = node_df[node_df["anchor"] >= 0]
    star = _stars(has["node"].to_numpy(np.int64), has["anchor"].to_numpy(np.int64))
    stars = [star, pd.DataFrame({"a": cl_a, "b": cl_b})]
    if previous is not None and len(previous[0]):
        stars.append(_stars(previous[0], previous[1]))
    side = pd.concat(stars, ignore_index=True)
    pairs = scored.select(F.col("left").alias("a"), F.col("right").alias("b"), "match_weight", "probability")
    edges = pairs.select("a", "b").union(spark.createDataFrame(side, "a long, b long"))
    comp, rounds = components(spark, edges)
    comp = comp.persist()

    nodes = spark.createDataFrame(node_df).join(comp, "node")
    lit_null = F.lit(None)
    parts = [
        nodes.select(F.lit(0).cast("tinyint").alias("kind"), "component", F.col("node").alias("a"),
                     lit_null.cast("long").alias("b"), lit_null.cast("double").alias("mw"),
                     lit_null.cast("double").alias("prob"), "anchor", "forbidden"),
        pairs.join(comp.withColumnRenamed("node", "a"), "a").select(
            F.lit(1).cast("tinyint").alias("kind"), "component", "a", "b", F.col("match_weight").alias("mw"),
            F.col("probability").alias("prob"), lit_null.cast("long").alias("anchor"),
            lit_null.cast("long").alias("forbidden")),
    ]
    if len(cl_a):
        cdf = spark.createDataFrame(pd.DataFrame({"a": cl_a, "b": cl_b}), "a long, b long")
        parts.append(cdf.join(comp.withColumnRenamed("node", "a"), "a").select(
            F.lit(2).cast("tinyint").alias("kind"), "component", "a", "b", lit_null.cast("double").alias("mw"),
            lit_null.cast("double").alias("prob"), lit_null.cast("long").alias("anchor"),
            lit_null.cast("long").alias("forbidden")))
    if previous is not None and len(previous[0]):  # kind 3: a known record (a: its node, anchor: its code)
        rdf = spark.createDataFrame(pd.DataFrame({"a": previous[0], "p": previous[1]}), "a long, p long")
        parts.append(rdf.join(comp.withColumnRenamed("node", "a"), "a").select(
            F.lit(3).cast("tinyint").alias("kind"), "component", "a", lit_null.cast("long").alias("b"),
            lit_null.cast("double").alias("mw"), lit_null.cast("double").alias("prob"),
            F.col("p").alias("anchor"), lit_null.cast("long").alias("forbidden")))
    with_previous = previous is not None
    rows = parts[0]
    for p in parts[1:]:
        rows = rows.unionByName(p)
    has_anchor = anchor is not None
    from relieflink.linkage.engine import Linker

    clusterer = Linker(linker.settings)  # the settings only, not the driver's node arrays

    def one_component(df: pd.DataFrame) -> pd.DataFrame:
        kind = df["kind"].to_numpy()
        nd = df[kind == 0].sort_values("a")
        node = nd["a"].to_numpy(np.int64)
        pr = df[kind == 1].sort_values(["a", "b"])
        cn = df[kind == 2].sort_values(["a", "b"])
        known = None
        score_pairs = None
        if with_previous:
            rc = df[kind == 3]
            known = (np.searchsorted(node, rc["a"].to_numpy(np.int64)), rc["anchor"].to_numpy(np.int64))

            def score_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
                return clusterer._match_weights(table.value, tf, node[a], node[b])  # type: ignore[attr-defined]
        li, ri = np.searchsorted(node, pr["a"].to_numpy(np.int64)), np.searchsorted(node, pr["b"].to_numpy(np.int64))
        ca, cb = np.searchsorted(node, cn["a"].to_numpy(np.int64)), np.searchsorted(node, cn["b"].to_numpy(np.int64))
        lab, amb = clusterer.cluster_nodes(
            len(node), nd["anchor"].to_numpy(np.int64) if has_anchor else None,
            nd["forbidden"].to_numpy(np.int64) if has_anchor else None, li, ri,
            pr["mw"].to_numpy(np.float64), pr["prob"].to_numpy(np.float64), (ca, cb), known, score_pairs)
        return pd.DataFrame({"node": node, "label": node[lab],
                             "ambiguous": amb if amb is not None else np.zeros(len(node), bool)})

    out = rows.groupBy("component").applyInPandas(one_component, "node long, label long, ambiguous boolean")
    got = out.toPandas()
    sizes = comp.groupBy("component").count()
    figures = {"propagation_rounds": rounds, "components": sizes.count(),
               "largest_component": int(sizes.agg(F.max("count")).first()[0] or 0)}
    comp.unpersist()
    label = np.arange(n, dtype=np.int64)  # a node on no edge is an entity of its own
    label[got["node"].to_numpy(np.int64)] = got["label"].to_numpy(np.int64)
    ambiguous = np.zeros(n, bool)
    ambiguous[got["node"].to_numpy(np.int64)] = got["ambiguous"].to_numpy(bool)
    return label, (ambiguous if has_anchor else None), figures
