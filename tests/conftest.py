"""Shared fixtures: the sample batch of the contract and the loaded configuration."""

from __future__ import annotations

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
