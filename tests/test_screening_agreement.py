"""Screening agrees with the batch audit, record by record (issue #10).

Every record of a fixture's run is left out of the screening index and screened
as a new application of its person; the conflicts found must be the batch flags
that cite it (relieflink.screening.agreement defines "the same" precisely: the
multiset of (rule id, status) of the run's non-missed-benefit flags citing the
record and another record). The run itself writes the index that is screened.
"""

from __future__ import annotations

from collections import Counter

import pytest

from relieflink.pipeline import run_batch
from relieflink.screening import ScreeningIndex
from relieflink.screening.agreement import agreement, batch_conflicts

from conftest import FIXTURES


@pytest.mark.parametrize("fixture", ["small-default", "small-hard"])
def test_every_record_screened_left_out_finds_the_batch_conflicts(fixture, tmp_path):
    out = tmp_path / "run"
    run_batch(FIXTURES / fixture / "batch", out)
    assert (out / "screening" / "index.json").exists()
    index = ScreeningIndex.open(out)
    expected = batch_conflicts(out, index)
    kinds = Counter(rule for counts in expected.values() for rule, _ in counts)
    # not vacuous: duplicates, exclusions and the review rules are all cited
    assert {"DUP-SAME-PROGRAM", "EXCL-STATUS", "MULTI-SOURCE", "TEMP-FREQ"} <= set(kinds)
    screened, disagreements = agreement(out, index)
    assert screened >= 1800
    listed = "\n".join(f"{d.record}: batch {d.batch} screening {d.screening}" for d in disagreements[:20])
    assert not disagreements, f"{len(disagreements)} of {screened} records disagree:\n{listed}"
