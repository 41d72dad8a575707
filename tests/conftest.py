"""Shared fixtures (the sample batch of the contract, the loaded configuration) and the FEBRL requirement
of the pandas 2 environment of `.ci/run`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples" / "exports"
FIXTURES = ROOT / "fixtures"


@pytest.fixture(scope="session")
def ingest_config():
    from relieflink.ingest.pipeline import IngestConfig

    return IngestConfig.load()


@pytest.fixture(scope="session")
def sample_batch() -> Path:
    """The contract's sample batch; a committed copy under fixtures/ when shared/ is absent."""
    for candidate in (SAMPLES, FIXTURES / "samples" / "exports"):
        if candidate.is_dir():
            return candidate
    pytest.skip("sample batch not available")


@pytest.fixture(scope="session")
def run_dirs(tmp_path_factory):
    """A small generated run, with one flag dismissed, reported twice in two copies (the report tests'
    run: test_report, test_report_explorer, test_report_browser)."""
    import shutil

    import pandas as pd

    from relieflink.audit.output import write_flags
    from relieflink.pipeline import run_batch
    from relieflink.report import write_reports
    from relieflink.synth import generate_batch

    base = tmp_path_factory.mktemp("report")
    generate_batch(base / "gen", persons=900, seed=5, profile="default")
    run = base / "run"
    run_batch(base / "gen" / "batch", run)
    flags = pd.read_parquet(run / "flags.parquet")
    finding = flags[flags["status"] == "finding"].sort_values("flag_id").iloc[0]["flag_id"]
    flags.loc[flags["flag_id"] == finding, ["decision", "decided_by", "decision_reason"]] = ["dismissed", "审核员", "测试"]
    write_flags(flags, run / "flags.parquet")
    a, b = base / "a", base / "b"
    shutil.copytree(run, a)
    shutil.copytree(run, b)
    written = write_reports(a)
    write_reports(b)
    return a, b, written


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With RELIEFLINK_REQUIRE_FEBRL=1 (the pandas 2 environment of ``.ci/run``) a FEBRL test that
    skips (the febrl extra missing) fails instead: that environment exists to run them."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("febrl") and os.environ.get("RELIEFLINK_REQUIRE_FEBRL") == "1":
        report.outcome = "failed"
        report.longrepr = "RELIEFLINK_REQUIRE_FEBRL=1 but the FEBRL test was skipped: install the febrl extra"
