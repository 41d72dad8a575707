"""The SparkSession of a run: the master given (``--spark-master``), the workers on this
interpreter (the same pandas and pyarrow as the driver), Arrow transfers, few shuffle partitions
unless the caller sets them."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: settings a run uses unless the environment (spark-submit --conf, spark-defaults.conf) sets them
DEFAULTS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    # node-sized tables sent from the driver (blocking keys, node attributes, side edges) become RDDs,
    # not LocalRelations holding every row in the plan: Catalyst walks a LocalRelation's rows in
    # every plan transformation, and at 40k persons (millions of key rows) planning the blocking
    # join took longer than 20 minutes (the "stall" of docs/spark.md; jstack: QueryExecution.normalize)
    "spark.sql.execution.arrow.localRelationThreshold": "0",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def spark_session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """The active session, or a new one on ``master`` (default ``local[*]``; ignored when a session
    exists already, e.g. under spark-submit, whose ``--master`` decides)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - the message names the fix
        raise ImportError("--engine spark needs PySpark: pip install 'relieflink[spark]'") from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # executors on a local master run this interpreter (the package's pandas and pyarrow)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("relieflink").master(master or "local[*]")
    for key, value in {**DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
