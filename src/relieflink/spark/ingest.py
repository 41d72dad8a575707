"""The ingest on Spark: one task per delivered file, each running the local ingest's own
per-file code (:func:`relieflink.ingest.parallel.read_and_map`: read, check, fingerprint, map);
what depends on the other files — which file repeats an earlier delivery, the order of the
quarantine, row numbers as delivered — is decided on the driver in delivery order by
:func:`relieflink.ingest.pipeline.ingest_batch`, exactly as for local worker processes. So the
ingest's tables are the local ingest's, byte for byte.

The executors read each file by its path: on a cluster the batch folder must be on a file
system every executor sees at that path (a shared mount; ``file://`` URIs name such paths).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from relieflink.ingest.batch import BatchFile
    from relieflink.ingest.parallel import FileOutcome
    from relieflink.ingest.pipeline import IngestConfig


def file_processor(spark: SparkSession):
    """A ``process_files(jobs, config)`` for :func:`relieflink.ingest.pipeline.ingest_batch`: the
    jobs ((file, map its rows?) in the order given) as Spark tasks, one per file; outcomes by name."""

    def process(jobs: list[tuple[BatchFile, bool]], config: IngestConfig) -> dict[str, FileOutcome]:
        from relieflink.ingest.parallel import read_and_map

        if not jobs:
            return {}
        sc = spark.sparkContext
        rdd = sc.parallelize(jobs, len(jobs))  # one partition, so one task, per file
        outcomes = rdd.map(lambda job: read_and_map(job[0], config, job[1])).collect()
        return {bf.name: outcome for (bf, _), outcome in zip(jobs, outcomes)}

    return process
