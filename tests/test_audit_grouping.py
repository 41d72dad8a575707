"""Membership in Arrow (``is_in``): the obvious set test is the oracle, on every text dtype pandas gives."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from relieflink.audit.grouping import is_in

TEXT = st.one_of(st.none(), st.sampled_from(["P1", "P2", "张伟", "", "P10"]), st.text(max_size=3))
DTYPES = [object, pd.StringDtype("pyarrow"), "str" if pd.__version__ >= "3" else object]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(TEXT, max_size=12), candidates=st.lists(TEXT, max_size=8),
       left=st.sampled_from(DTYPES), right=st.sampled_from(DTYPES), as_index=st.booleans())
def test_is_in_is_isin(values, candidates, left, right, as_index):
    series = pd.Series(values, dtype=left)
    cands = pd.Index(candidates, dtype=right) if as_index else pd.Series(candidates, dtype=right)
    members = {c for c in candidates if c is not None}
    assert is_in(series, cands).tolist() == [v is not None and v in members for v in values]


def test_is_in_other_types():
    assert is_in(pd.Series([3, 1, 2]), [2, 3]).tolist() == [True, False, True]
    assert is_in(pd.Series(["a", 1.5, None], dtype=object), ["a", None]).tolist() == [True, False, False]
