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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With RELIEFLINK_REQUIRE_FEBRL=1 (the pandas 2 environment of ``.ci/run``) a FEBRL test that
    skips (the febrl extra missing) fails instead: that environment exists to run them."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and item.get_closest_marker("febrl") and os.environ.get("RELIEFLINK_REQUIRE_FEBRL") == "1":
        report.outcome = "failed"
        report.longrepr = "RELIEFLINK_REQUIRE_FEBRL=1 but the FEBRL test was skipped: install the febrl extra"
