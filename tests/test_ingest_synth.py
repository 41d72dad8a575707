"""Ingest of generated batches against the generator's truth (issue #2, "Must show")."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from relieflink.ingest.accuracy import id_accuracy
from relieflink.ingest.pipeline import ingest_batch
from relieflink.synth import generate_batch


@pytest.fixture(scope="module", params=["clean", "default", "hard"])
def generated(request, tmp_path_factory, ingest_config):
    out = tmp_path_factory.mktemp(f"gen-{request.param}")
    generate_batch(out, persons=3000, seed=7, profile=request.param)
    return request.param, out, ingest_batch(out / "batch", ingest_config)


def test_row_conservation(generated):
    """Every physical data row of every file is in records or rejected in quarantine, exactly once."""
    _, out, result = generated
    truth = pd.read_parquet(out / "truth" / "records.parquet", columns=["file", "row"])
    q = result.quarantine
    rejected = q.loc[q["action"].isin(["row_rejected", "duplicate_delivery"]), ["file", "row"]]
    accounted = pd.concat([result.records[["file", "row"]], rejected], ignore_index=True)
    accounted["row"] = accounted["row"].astype(int)
    assert not accounted.duplicated().any(), "a row is both a record and rejected, or rejected twice"
    expected = set(map(tuple, truth.astype({"row": int}).values.tolist()))
    got = set(map(tuple, accounted.values.tolist()))
    assert got == expected
    assert q.loc[q["action"] == "file_rejected"].empty


def test_every_data_row_becomes_a_record(generated):
    """Data rows (not blank, totals or repeated deliveries) are never rejected in a generated batch."""
    _, out, result = generated
    truth = pd.read_parquet(out / "truth" / "records.parquet", columns=["file", "row", "row_kind", "program"])
    data = truth[truth["row_kind"] == "data"]
    merged = data.merge(result.records[["file", "row", "program"]], on=["file", "row"], how="left", suffixes=("", "_got"))
    assert merged["program_got"].notna().all()
    assert (merged["program_got"] == merged["program"]).all()


def test_duplicate_delivery_reported(generated):
    profile, out, result = generated
    truth = pd.read_parquet(out / "truth" / "records.parquet", columns=["file", "row_kind"])
    copies = set(truth.loc[truth["row_kind"] == "duplicate_delivery", "file"])
    assert set(result.summary()["duplicate_deliveries"]) == copies
    if profile != "clean":
        assert copies


def test_id_accuracy(generated):
    """Recoverable IDs are recovered; no mention ever gets a valid ID that is not the person's."""
    _, out, result = generated
    acc = id_accuracy(result.mentions, out / "truth")
    assert acc["wrong_valid_ids"] == 0
    assert acc["recovered_share"] >= 0.999, acc
    assert acc["mentions"] == len(pd.read_parquet(out / "truth" / "mentions.parquet").query("file in @result.records.file.unique()"))


def test_ingest_is_deterministic(generated, ingest_config, tmp_path):
    _, out, result = generated
    again = ingest_batch(out / "batch", ingest_config)
    pd.testing.assert_frame_equal(result.mentions, again.mentions)
    pd.testing.assert_frame_equal(result.records, again.records)
    pd.testing.assert_frame_equal(result.quarantine, again.quarantine)
