"""Files read and mapped in worker processes give the serial ingest's outputs, byte for byte."""

from __future__ import annotations

import dataclasses
import io
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from relieflink.ingest.batch import discover
from relieflink.ingest.parallel import PARALLEL_MIN_BYTES, WORKERS_ENV, worker_count
from relieflink.ingest.pipeline import ingest_batch
from relieflink.ingest.schema import to_arrow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _outputs(result) -> dict[str, object]:
    """The ingest outputs as the run writes them (Parquet bytes), the file reports without their
    timings, and the summary."""
    out: dict[str, object] = {}
    for table in ("mentions", "records", "quarantine"):
        buffer = io.BytesIO()
        pq.write_table(to_arrow(getattr(result, table), table), buffer, compression="zstd", write_statistics=True)
        out[table] = buffer.getvalue()
    out["files"] = [{k: v for k, v in dataclasses.asdict(f).items() if k != "seconds"} for f in result.files]
    out["summary"] = result.summary()
    return out


def _assert_same(serial, parallel) -> None:
    for key in serial:
        assert serial[key] == parallel[key], f"{key} differs between the serial and the parallel ingest"


@pytest.mark.parametrize("name", ["small-default", "small-hard"])
def test_parallel_ingest_gives_the_serial_bytes_on_the_fixtures(name, ingest_config):
    batch = FIXTURES / name / "batch"
    serial = _outputs(ingest_batch(batch, ingest_config, workers=1))
    for workers in (2, 3):
        _assert_same(serial, _outputs(ingest_batch(batch, ingest_config, workers=workers)))


def test_parallel_ingest_gives_the_serial_bytes_on_the_samples(sample_batch, ingest_config):
    _assert_same(_outputs(ingest_batch(sample_batch, ingest_config, workers=1)),
                 _outputs(ingest_batch(sample_batch, ingest_config, workers=2)))


def test_parallel_ingest_decides_repeated_deliveries_and_bad_files_as_the_serial_one(tmp_path, ingest_config):
    """A byte-identical copy (only fingerprinted by its worker), a re-saved copy (CRLF line ends: other
    bytes, same data; mapped by its worker, then found a duplicate), an empty file, a file without its
    header and an unknown file: the same reports, quarantine and tables as in one process."""
    batch = tmp_path / "batch"
    shutil.copytree(FIXTURES / "small-default" / "batch", batch)
    csvs = sorted(p for p in batch.iterdir() if p.suffix == ".csv" and "(" not in p.name)
    first, second = csvs[0], csvs[1]
    shutil.copyfile(first, first.with_name(first.stem + "(1)" + first.suffix))
    resaved = second.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    second.with_name(second.stem + "(2)" + second.suffix).write_bytes(resaved)
    (batch / csvs[2].name.replace(csvs[2].stem, csvs[2].stem + "(3)")).write_bytes(b"")
    (batch / csvs[3].name.replace(csvs[3].stem, csvs[3].stem + "(4)")).write_text("a,b\n1,2\n", encoding="utf-8")
    (batch / "unknown_agency.csv").write_text("x\n1\n", encoding="utf-8")
    serial = ingest_batch(batch, ingest_config, workers=1)
    statuses = {f.file: f.status for f in serial.files}
    assert statuses[first.stem + "(1)" + first.suffix] == "duplicate"
    assert statuses[second.stem + "(2)" + second.suffix] == "duplicate"
    assert statuses["unknown_agency.csv"] == "unknown"
    _assert_same(_outputs(serial), _outputs(ingest_batch(batch, ingest_config, workers=2)))


def test_worker_count_is_serial_for_a_small_batch_unless_asked(monkeypatch, ingest_config):
    files = discover(FIXTURES / "small-default" / "batch", ingest_config.sources)
    assert sum(f.size for f in files) < PARALLEL_MIN_BYTES
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert worker_count(files, None) == 1
    assert worker_count(files, 2) == 2
    assert worker_count(files, 10**6) == sum(1 for f in files if f.table is not None)
    monkeypatch.setenv(WORKERS_ENV, "2")
    assert worker_count(files, None) == 2
    assert worker_count(files, 1) == 1


def test_worker_count_is_serial_when_the_cores_are_busy(monkeypatch, ingest_config):
    """Workers spend more CPU than the serial path: automatically only on idle cores."""
    import os

    import relieflink.ingest.parallel as parallel

    files = discover(FIXTURES / "small-default" / "batch", ingest_config.sources)
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert worker_count(files, None) == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (3.5, 3.0, 3.0))
    assert worker_count(files, None) == 1
    assert worker_count(files, 2) == 2  # asked for: granted
