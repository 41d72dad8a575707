"""The sort-based helpers that replace pandas' and numpy's own on the hot paths give exactly
their results (the oracles: ``pd.factorize(sort=True)``, ``np.unique``), on every text dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from relieflink.audit.arrays import distinct, distinct_columns
from relieflink.audit.columns import encode, recode
from relieflink.linkage.table import sorted_factorize

# surrogates cannot be UTF-8 encoded (nor written to Parquet): no data holds them
TEXT = st.one_of(st.none(), st.sampled_from(["张伟", "张", "a", "", "𠀀", "?"]),
                 st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=4))
DTYPES = [object, pd.StringDtype("pyarrow"), "str" if pd.__version__ >= "3" else object]


@settings(max_examples=80, deadline=None)
@given(values=st.lists(TEXT, max_size=30), dtype=st.sampled_from(DTYPES))
def test_sorted_factorize_is_factorize_sorted(values, dtype):
    s = pd.Series(values, dtype=dtype)
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
    got_codes, got_uniques = sorted_factorize(s)
    assert got_codes.tolist() == codes.tolist()
    assert got_uniques.tolist() == list(np.asarray(uniques, dtype=object))


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.floats(-5, 5), st.booleans()), max_size=20))
def test_sorted_factorize_of_other_values(values):
    s = pd.Series([v for v in values if not isinstance(v, bool)], dtype=float)
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
    got_codes, got_uniques = sorted_factorize(s)
    assert got_codes.tolist() == codes.tolist() and got_uniques.tolist() == list(uniques)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(TEXT, max_size=30), extra=st.lists(TEXT, max_size=4), dtype=st.sampled_from(DTYPES))
def test_encode_and_recode_are_the_object_versions(values, extra, dtype):
    s = pd.Series(values, dtype=dtype)
    arr = np.asarray(s.astype(object).where(s.notna(), None), dtype=object)
    everything = np.concatenate([arr, np.asarray(extra, dtype=object)])
    codes, uniques = pd.factorize(everything, sort=True, use_na_sentinel=True)
    got, vocab = encode(s, extra)
    assert vocab.values.tolist() == list(uniques) and got.tolist() == codes[: len(arr)].tolist()
    assert recode(s, vocab).tolist() == pd.Index(vocab.values).get_indexer(arr).tolist()


@settings(max_examples=80, deadline=None)
@given(a=st.lists(st.integers(-3, 40), max_size=40), b=st.lists(st.integers(-3, 40), max_size=40))
def test_distinct_is_unique(a, b):
    n = min(len(a), len(b))
    rows = np.stack([np.asarray(a[:n], dtype=np.int64), np.asarray(b[:n], dtype=np.int64)])
    assert distinct(np.asarray(a, dtype=np.int64)).tolist() == np.unique(np.asarray(a, dtype=np.int64)).tolist()
    got = distinct_columns(rows)
    assert got.dtype == rows.dtype and got.tolist() == np.unique(rows, axis=1).tolist()
