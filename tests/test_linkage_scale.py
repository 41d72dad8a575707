"""Linkage accuracy at scale: a generated 200k-person batch (default profile) through the
product's own path (synth → ingest → link_mentions), against the generator's truth.

Slow (about 75–100 s on 2 cores: generate, ingest, link; time is measured by benchmarks, not asserted here), so it runs only
when asked for: ``python -m pytest -m slow tests/test_linkage_scale.py``. The default suite skips it.
"""

from __future__ import annotations

import pandas as pd
import pytest


def _slow_requested(request) -> bool:
    return "slow" in (request.config.getoption("markexpr", default="") or "")


@pytest.mark.slow
def test_linkage_200k_default_profile(tmp_path, request):
    if not _slow_requested(request):
        pytest.skip("slow: run with -m slow")
    from relieflink import ingest_batch
    from relieflink.linkage import link_mentions
    from relieflink.linkage.evaluate import evaluate_mentions
    from relieflink.synth import generate_batch

    generate_batch(tmp_path / "gen", persons=200_000, seed=5, profile="default")
    ing = ingest_batch(tmp_path / "gen" / "batch")
    linked = link_mentions(ing.mentions, ing.records)
    truth = pd.read_parquet(tmp_path / "gen" / "truth" / "mentions.parquet")
    met, missing = evaluate_mentions(linked.mentions, truth)
    assert missing == 0
    assert met.f1 >= 0.995, met
    assert met.exact_entities >= 0.98, met
