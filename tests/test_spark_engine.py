"""The Spark engine (``--engine spark``) against the local engine on the committed fixtures: the
same run folder — persons and person ids, households, flags, reports byte for byte — and the same
pairs with weights within 1e-9. Marked ``spark`` (PySpark and a JVM; ``.ci/run`` runs them with
``pytest -m spark``); skipped when PySpark is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from relieflink.pipeline import run_batch  # noqa: E402

pytestmark = pytest.mark.spark
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def spark():
    from relieflink.spark.session import spark_session

    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "1g"})
    yield session
    session.stop()


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fixture", ["small-default", "small-hard"])
def test_spark_run_equals_local_run(spark, fixture, tmp_path):
    batch = FIXTURES / fixture / "batch"
    local = run_batch(batch, tmp_path / "local")
    distributed = run_batch(batch, tmp_path / "spark", engine="spark")
    # persons and their ids, households, flags: equal tables
    pd.testing.assert_frame_equal(distributed.persons, local.persons)
    pd.testing.assert_frame_equal(distributed.households, local.households)
    pd.testing.assert_frame_equal(distributed.flags, local.flags)
    pd.testing.assert_series_equal(distributed.mentions["person_id"], local.mentions["person_id"])
    # pairs: the same pairs, levels, passes and review marks; weights within 1e-9
    lp, sp = local.pairs, distributed.pairs
    weights = [c for c in lp.columns if c.startswith("w_")] + ["match_weight", "probability"]
    pd.testing.assert_frame_equal(sp.drop(columns=weights), lp.drop(columns=weights))
    for c in weights:
        np.testing.assert_allclose(sp[c].to_numpy(np.float64), lp[c].to_numpy(np.float64), rtol=0, atol=1e-9)
    # the run folders: the same file set, and (the weights being equal) the same bytes
    lf, sf = _files(tmp_path / "local"), _files(tmp_path / "spark")
    assert sorted(sf) == sorted(lf)
    assert [name for name in lf if lf[name] != sf[name]] == []


def test_spark_keeps_last_months_links_as_the_local_engine(spark):
    """Two months (``--previous``): small-hard linked, then its rows edited as next month's (the
    persons of rows left without an ID in a subdistrict's file moved away), linked again with last
    month's persons. The previous-link step moves rows (checked), and the Spark engine gives the
    local engine's persons."""
    from test_linkage_previous_links import FIXTURE, MOVED

    from relieflink.ingest.pipeline import IngestConfig, ingest_batch
    from relieflink.linkage import link_mentions
    from relieflink.spark.linker import SparkLinker

    batch = ingest_batch(FIXTURE, IngestConfig.load())
    m1 = link_mentions(batch.mentions, batch.records).mentions
    no_id = (m1["id_clean"].isna() & m1["id_number"].isna()).to_numpy()
    has_id = m1.groupby("person_id")["id_number"].transform(lambda s: s.notna().any()).to_numpy(bool)
    behind = no_id & has_id & m1["file"].str.startswith("jd-").to_numpy()
    m2 = batch.mentions.copy()
    m2.loc[m1["person_id"].isin(m1.loc[behind, "person_id"]).to_numpy() & ~behind, list(MOVED)] = list(MOVED.values())
    prev = m1[["fingerprint", "person_id"]]
    alone = link_mentions(m2, batch.records).mentions["person_id"]
    local = link_mentions(m2, batch.records, previous=prev)
    distributed = link_mentions(m2, batch.records, previous=prev, linker=lambda s: SparkLinker(s, spark))
    assert not local.mentions["person_id"].equals(alone)  # last month's links moved rows
    pd.testing.assert_series_equal(distributed.mentions["person_id"], local.mentions["person_id"])
    pd.testing.assert_frame_equal(distributed.persons, local.persons)
    np.testing.assert_array_equal(distributed.result.node_label, local.result.node_label)


def test_spark_ingest_one_task_per_file_gives_the_local_bytes(spark, tmp_path, ingest_config):
    """Files read and mapped as Spark tasks by the local per-file code: with a byte-identical copy,
    a re-saved copy (other bytes, same rows), an empty file and an unknown one, the same tables,
    quarantine and file reports (row numbers, repeated deliveries) as the serial ingest."""
    import shutil

    from test_ingest_parallel import _assert_same, _outputs

    from relieflink.ingest.pipeline import ingest_batch
    from relieflink.spark.ingest import file_processor

    batch = tmp_path / "batch"
    shutil.copytree(FIXTURES / "small-default" / "batch", batch)
    csvs = sorted(p for p in batch.iterdir() if p.suffix == ".csv" and "(" not in p.name)
    copy, resaved = csvs[0].stem + "(1)" + csvs[0].suffix, csvs[1].stem + "(2)" + csvs[1].suffix
    shutil.copyfile(csvs[0], batch / copy)
    (batch / resaved).write_bytes(csvs[1].read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    (batch / csvs[2].name.replace(csvs[2].stem, csvs[2].stem + "(3)")).write_bytes(b"")
    (batch / "unknown_agency.csv").write_text("x\n1\n", encoding="utf-8")
    serial = ingest_batch(batch, ingest_config, workers=1)
    statuses = {f.file: f.status for f in serial.files}
    assert statuses[copy] == statuses[resaved] == "duplicate"
    _assert_same(_outputs(serial), _outputs(ingest_batch(batch, ingest_config, process_files=file_processor(spark))))


def test_components_by_label_propagation_equal_scipys(spark):
    """Random graphs with chains (the worst case of propagation) against scipy's components."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from relieflink.spark.clustering import components

    rng = np.random.default_rng(3)
    n = 400
    a = rng.integers(0, n, 300)
    b = rng.integers(0, n, 300)
    chain = np.arange(200, 260)  # a path of 60 nodes, listed from its far end
    a, b = np.r_[a, chain[1:][::-1]], np.r_[b, chain[:-1][::-1]]
    got, rounds = components(spark, spark.createDataFrame(pd.DataFrame({"a": a, "b": b}), "a long, b long"))
    got = got.toPandas().sort_values("node")
    _, lab = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    smallest = pd.Series(np.arange(n)).groupby(lab).transform("min").to_numpy()
    on_edge = np.unique(np.r_[a, b])
    assert got["node"].tolist() == on_edge.tolist()
    assert (got["component"].to_numpy() == smallest[on_edge]).all()
    assert rounds < 60  # pointer jumping: fewer rounds than the path is long
