"""Blocking as Spark joins: the candidate pairs of every pass, their union, the first pass of
each pair and the set of passes that produced it.

The keys are the local engine's (:func:`relieflink.linkage.blocking.pass_keys`, computed once per
node on the driver: node-sized). A pass's pairs are the nodes sharing a key of one variant, in a
group of at most ``max_block`` nodes (groups counted, the larger ones skipped, as
:func:`~relieflink.linkage.blocking.pairs_within_groups` does), with one side flagged when the
pass has ``only_if`` (keys of no flagged node dropped first, as there). So the pairs, the first
pass and the statistics are the local engine's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from relieflink.linkage.blocking import BlockingPass, PassStats, pass_keys
from relieflink.linkage.table import Table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def key_frame(tab: Table, passes: list[BlockingPass], flags: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per (pass, variant, key, node) with the node's ``only_if`` flag (True without)."""
    parts = []
    for k, p in enumerate(passes):
        for v, (key, nodes, f) in enumerate(pass_keys(tab, p, flags)):
            parts.append(pd.DataFrame({
                "pass": np.full(len(key), k, np.int16), "variant": np.full(len(key), v, np.int16),
                "key": np.asarray(key, np.int64), "node": np.asarray(nodes, np.int64),
                "flag": np.ones(len(key), bool) if f is None else np.asarray(f, bool),
            }))
    if not parts:
        return pd.DataFrame({"pass": pd.Series(dtype=np.int16), "variant": pd.Series(dtype=np.int16),
                             "key": pd.Series(dtype=np.int64), "node": pd.Series(dtype=np.int64),
                             "flag": pd.Series(dtype=bool)})
    return pd.concat(parts, ignore_index=True)


def candidate_pairs(spark: SparkSession, tab: Table, passes: list[BlockingPass], flags: dict[str, np.ndarray],
                    dataset: np.ndarray | None = None) -> tuple[DataFrame, list[PassStats]]:
    """The union of the passes as a DataFrame (``left`` < ``right``, ``first_pass``, ``passes``:
    a bit per pass that produced the pair) and the statistics of each pass."""
    from pyspark.sql import functions as F

    if len(passes) > 62:
        raise ValueError("the Spark engine keeps the passes of a pair in a 64-bit mask: at most 62 passes")
    keys = spark.createDataFrame(key_frame(tab, passes, flags))
    grp = ["pass", "variant", "key"]
    only_if = {k for k, p in enumerate(passes) if p.only_if}
    caps = {k: p.max_block for k, p in enumerate(passes) if p.max_block is not None}
    groups = keys.groupBy(*grp).agg(F.count("*").alias("size"), F.max(F.col("flag").cast("int")).alias("flagged"))
    # a key no flagged node holds is no group of an only_if pass (it is not even counted as skipped)
    groups = groups.where(~F.col("pass").isin(list(only_if)) | (F.col("flagged") == 1)) if only_if else groups
    cap = F.lit(None).cast("long")
    for k, m in caps.items():
        cap = F.when(F.col("pass") == k, F.lit(m)).otherwise(cap)
    groups = groups.withColumn("cap", cap).persist()
    skipped = (groups.where(F.col("cap").isNotNull() & (F.col("size") > F.col("cap")))
               .groupBy("pass").agg(F.count("*").alias("blocks"),
                                    F.sum(F.col("size") * (F.col("size") - 1) / 2).cast("long").alias("pairs"))
               .collect())
    kept = groups.where(F.col("size") > 1)
    kept = kept.where(F.col("cap").isNull() | (F.col("size") <= F.col("cap"))).select(*grp)
    members = keys.join(kept, grp, "inner")
    a, b = members.alias("a"), members.alias("b")
    cond = [F.col("a.pass") == F.col("b.pass"), F.col("a.variant") == F.col("b.variant"),
            F.col("a.key") == F.col("b.key"), F.col("a.node") < F.col("b.node")]
    pairs = a.join(b, cond).where(
        ~F.col("a.pass").isin(list(only_if)) | F.col("a.flag") | F.col("b.flag") if only_if else F.lit(True))
    pairs = pairs.select(F.col("a.pass").alias("pass"), F.col("a.node").alias("left"), F.col("b.node").alias("right"))
    if dataset is not None:  # link mode: pairs across the two data sets only
        ds = spark.createDataFrame(pd.DataFrame({"node": np.arange(len(dataset), dtype=np.int64),
                                                 "ds": np.asarray(dataset, np.int8)}))
        pairs = (pairs.join(ds.withColumnRenamed("node", "left").withColumnRenamed("ds", "dl"), "left")
                 .join(ds.withColumnRenamed("node", "right").withColumnRenamed("ds", "dr"), "right")
                 .where(F.col("dl") != F.col("dr")).select("pass", "left", "right"))
    per_pass = pairs.distinct()
    union = per_pass.groupBy("left", "right").agg(
        F.min("pass").cast("short").alias("first_pass"),
        F.expr("bit_or(shiftleft(cast(1 as bigint), cast(pass as int)))").alias("passes"))
    union = union.persist()
    generated = {r["pass"]: r["n"] for r in union.select(
        F.explode(F.sequence(F.lit(0), F.lit(len(passes) - 1))).alias("pass"), "passes")
        .where(F.expr("passes & shiftleft(cast(1 as bigint), pass) != 0"))
        .groupBy("pass").agg(F.count("*").alias("n")).collect()}
    new = {r["first_pass"]: r["n"] for r in union.groupBy("first_pass").agg(F.count("*").alias("n")).collect()}
    skip = {r["pass"]: (r["blocks"], r["pairs"]) for r in skipped}
    groups.unpersist()
    stats = [PassStats(p.name, int(generated.get(k, 0)), int(new.get(k, 0)), int(skip.get(k, (0, 0))[0]),
                       int(skip.get(k, (0, 0))[1])) for k, p in enumerate(passes)]
    return union, stats
