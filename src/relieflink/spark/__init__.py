"""The pipeline on Apache Spark (``relieflink run --engine spark``): the same stages, the same
kernels, the same outputs as the local engine, with the pair-sized work distributed.

What runs where (docs/spark.md says it at length):

* distributed (Spark DataFrames): blocking (joins on the local engine's blocking keys, block
  caps by group counts), comparisons and scoring (the local kernels inside ``mapInPandas``),
  the gamma-pattern counts EM trains on, connected components of the pair graph (iterated
  min-label propagation) and the constrained clustering of each component (``applyInPandas``
  with the local algorithm);
* on the driver (node-sized or small): the ingest, the node features and blocking keys, the u
  sample, EM on the collected counts, person and household tables, the audit, the reports;
* collected to the driver for writing the run folder: the scored pairs (``pairs.parquet``).

Modules, one per stage: :mod:`.session` (the SparkSession), :mod:`.blocking`,
:mod:`.scoring` (comparisons and weights), :mod:`.clustering`, :mod:`.linker` (the
:class:`~relieflink.linkage.engine.Linker` whose pair stages run on Spark).
"""

from __future__ import annotations
