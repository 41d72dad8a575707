"""Batch and output folders given as ``file://`` URIs (as Spark jobs are handed them) are their
paths; URIs of file systems not mounted here are refused with the fix, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from relieflink.cli import EXIT_ATTENTION, EXIT_INPUT, EXIT_OK, main
from relieflink.errors import InputRefused, OutputRefused
from relieflink.locations import local_path

from conftest import FIXTURES

SAMPLES = FIXTURES / "samples" / "exports"


@pytest.mark.parametrize("uri, path", [
    ("file:///data/batch", "/data/batch"),
    ("file:/data/batch", "/data/batch"),
    ("file://localhost/data/batch", "/data/batch"),
    ("file:///data/%E6%89%B9%20a", "/data/批 a"),
    ("/data/batch", "/data/batch"),
    ("batch", "batch"),
])
def test_file_uris_are_their_paths(uri, path):
    assert local_path(uri) == Path(path)


def test_other_file_systems_are_refused_naming_the_fix():
    with pytest.raises(InputRefused, match="hdfs://nn/batch: the batch folder .* mount the hdfs file system"):
        local_path("hdfs://nn/batch")
    with pytest.raises(OutputRefused, match="s3a://b/out"):
        local_path("s3a://b/out", "the output folder", output=True)
    with pytest.raises(InputRefused):  # a file URI of another host is not a path here
        local_path("file://otherhost/data")


def test_run_with_file_uris_writes_the_run_folder_at_the_path(tmp_path, capsys):
    out = tmp_path / "出 out"
    assert main(["ingest", SAMPLES.as_uri(), "--out", out.as_uri()]) in (EXIT_OK, EXIT_ATTENTION)
    assert (out / "run.json").is_file() and (out / "mentions.parquet").is_file()
    assert main(["run", "hdfs://nn/batch", "--out", str(tmp_path / "o2")]) == EXIT_INPUT
    assert "hdfs://nn/batch" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()
