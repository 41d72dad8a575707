"""Comparisons and weights of the candidate pairs on the executors, with the local kernels
(:func:`relieflink.linkage.model.compute_gammas`, :func:`~relieflink.linkage.model.score`) applied
to each Arrow batch of pairs by ``mapInPandas``; the encoded node table is broadcast once.

Both kernels are per pair (a pair's levels and weights do not depend on the other pairs of its
batch), so the batches give the local engine's values exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np
import pandas as pd

from relieflink.linkage.model import compute_gammas, pattern_counts, score

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from relieflink.linkage.model import TermFrequencies
    from relieflink.linkage.settings import Settings
    from relieflink.linkage.table import Table


def gamma_columns(settings: Settings) -> list[str]:
    return [f"g{j}" for j in range(len(settings.comparisons))]


def weight_columns(settings: Settings) -> list[str]:
    return [f"w{j}" for j in range(len(settings.comparisons))]


def with_gammas(pairs: DataFrame, table: object, settings: Settings) -> DataFrame:
    """``pairs`` (``left``, ``right``, …) with the level index of each comparison (``g0``, ``g1``, …).
    ``table``: the broadcast :class:`~relieflink.linkage.table.Table` of the nodes."""
    comparisons = settings.comparisons
    names = gamma_columns(settings)
    schema = ", ".join([f"{f.name} {f.dataType.simpleString()}" for f in pairs.schema.fields]
                       + [f"{g} tinyint" for g in names])

    def compare(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        tab = table.value  # type: ignore[attr-defined]
        for b in batches:
            g = compute_gammas(tab, comparisons, b["left"].to_numpy(np.int64), b["right"].to_numpy(np.int64))
            yield b.assign(**{n: g[:, j] for j, n in enumerate(names)})

    return pairs.mapInPandas(compare, schema)


def collected_pattern_counts(gammas: DataFrame, settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (gamma pattern, set of passes) rows and their counts, collected: patterns ×
    pass sets, a few thousand rows whatever the number of pairs. Returns (patterns, passes, counts)."""
    from pyspark.sql import functions as F

    names = gamma_columns(settings)
    rows = gammas.groupBy(*names, "passes").agg(F.count("*").alias("n")).toPandas()
    pats = rows[names].to_numpy(np.int8) if len(rows) else np.zeros((0, len(names)), np.int8)
    return pats, rows["passes"].to_numpy(np.int64), rows["n"].to_numpy(np.float64)


def counts_of(pats: np.ndarray, counts: np.ndarray, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """Distinct patterns and their counts as :func:`~relieflink.linkage.model.pattern_counts` gives
    them for the pairs themselves (the same order; integer counts, summed exactly)."""
    return pattern_counts(pats, [len(c.levels) for c in settings.comparisons], counts)


def with_scores(gammas: DataFrame, table: object, settings: Settings, tf: TermFrequencies | None) -> DataFrame:
    """``gammas`` with the per-comparison weights (``w0``, …: float), ``match_weight`` and
    ``probability`` of the trained model ``settings``."""
    s = settings
    comparisons, gnames, wnames = s.comparisons, gamma_columns(s), weight_columns(s)
    m, u, prior, tf_min_u, gates = s.m, s.u, s.prior, s.training.tf_min_u, s.clustering.gates
    schema = ", ".join([f"{f.name} {f.dataType.simpleString()}" for f in gammas.schema.fields]
                       + [f"{w} float" for w in wnames] + ["match_weight double", "probability double"])

    def weigh(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        tab = table.value  # type: ignore[attr-defined]
        for b in batches:
            g = b[gnames].to_numpy(np.int8)
            fw, mw, prob = score(tab, comparisons, g, b["left"].to_numpy(np.int64), b["right"].to_numpy(np.int64),
                                 m, u, prior, tf, tf_min_u, gates=gates)
            yield b.assign(**{n: fw[:, j] for j, n in enumerate(wnames)}, match_weight=mw, probability=prob)

    return gammas.mapInPandas(weigh, schema)


def sample_level_counts(spark, table: object, settings: Settings, n_nodes: int, node_weights: np.ndarray | None,
                        dataset: np.ndarray | None) -> list[np.ndarray]:
    """Per comparison, how many pairs of the u sample (:mod:`relieflink.linkage.sampling`: pair
    ``k`` defined by hashing) fall in each level, the pairs drawn and compared by the executors
    (a range of ``k`` per task), only the counts collected: what
    :func:`~relieflink.linkage.model.estimate_u` counts on the driver, exactly."""
    from relieflink.linkage.sampling import sample_pairs

    comparisons, seed = settings.comparisons, settings.training.seed
    names = gamma_columns(settings)
    drawn = spark.sparkContext.broadcast((node_weights, dataset))

    def draw(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        tab = table.value  # type: ignore[attr-defined]
        weights, ds = drawn.value
        for b in batches:
            li, ri = sample_pairs(b["id"].to_numpy(np.int64), seed, n_nodes, weights, ds)
            g = compute_gammas(tab, comparisons, li, ri)
            yield pd.DataFrame({n: g[:, j] for j, n in enumerate(names)})

    schema = ", ".join(f"{g} tinyint" for g in names)
    rows = (spark.range(settings.training.u_sample_pairs).mapInPandas(draw, schema)
            .groupBy(*names).count().toPandas())
    drawn.unpersist()
    n = rows["count"].to_numpy(np.int64)
    return [np.bincount(rows[g].to_numpy(np.int64), weights=n, minlength=len(c.levels)).astype(np.int64)
            for g, c in zip(names, comparisons)]
