"""The u sample defined by hashing (relieflink.linkage.sampling): pair k depends only on the seed,
k and the node weights, so any split of the indices into tasks gives the same pairs; sides are
drawn in proportion to the weights."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from relieflink.linkage.sampling import sample_pairs


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**63), st.lists(st.integers(0, 5), min_size=2, max_size=30),
       st.lists(st.integers(1, 400), min_size=1, max_size=6))
def test_any_split_of_the_indices_gives_the_same_pairs(seed, weights, cuts):
    w = np.asarray(weights, np.float64)
    if w.sum() == 0:
        w[0] = 1.0
    whole = sample_pairs(np.arange(1000), seed, len(w), w)
    bounds = np.unique(np.r_[0, np.minimum(np.cumsum(cuts), 1000), 1000])
    parts = [sample_pairs(np.arange(a, b), seed, len(w), w) for a, b in zip(bounds[:-1], bounds[1:])]
    for side in (0, 1):
        assert (np.concatenate([p[side] for p in parts]) == whole[side]).all()
    assert (whole[0] != whole[1]).all()  # no node paired with itself
    assert (w[np.r_[whole[0], whole[1]]] > 0).all()  # a node of no weight is never drawn


def test_sides_are_drawn_in_proportion_to_the_weights():
    rng = np.random.default_rng(0)
    w = rng.integers(1, 5, 2000).astype(np.float64)  # many nodes: few pairs of a node with itself
    li, ri = sample_pairs(np.arange(400_000), 11, len(w), w)
    for side in (li, ri):
        share = np.bincount(side, minlength=len(w)) / len(side)
        expected = w / w.sum()
        # per weight class, the drawn share equals the weights' share within 2 %
        for k in (1, 2, 3, 4):
            assert abs(share[w == k].sum() / expected[w == k].sum() - 1) < 0.02
    assert np.corrcoef(li[:-1], ri[1:])[0, 1] < 0.01  # the sides are not tied to each other


def test_seeds_give_other_pairs_and_link_mode_crosses_the_data_sets():
    a = sample_pairs(np.arange(1000), 1, 50)
    b = sample_pairs(np.arange(1000), 2, 50)
    n = min(len(a[0]), len(b[0]))
    assert (a[0][:n] != b[0][:n]).mean() > 0.9
    ds = np.r_[np.zeros(30, np.int8), np.ones(20, np.int8)]
    li, ri = sample_pairs(np.arange(5000), 3, 50, dataset=ds)
    assert len(li) == 5000 and (ds[li] == 0).all() and (ds[ri] == 1).all()
    assert len(np.unique(li)) == 30 and len(np.unique(ri)) == 20
