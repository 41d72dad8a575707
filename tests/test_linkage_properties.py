"""Property tests of the linkage: order independence, locality, the valid-ID hard rule,
and the combinatorial metrics against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from relieflink.linkage import Settings, link_mentions
from relieflink.linkage._testdata import generate
from relieflink.linkage.evaluate import cluster_metrics

from test_linkage_engine import mention, valid_id  # noqa: E402

HSET = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])


@pytest.fixture(scope="module")
def model() -> Settings:
    m, _ = generate(1500, seed=21)
    s = Settings.load("relief")
    s.training.u_sample_pairs = 200_000
    return link_mentions(m, settings=s).model


@pytest.fixture(scope="module")
def batch():
    m, truth = generate(300, seed=8, profile="hard")
    return m, truth


def _pid(r) -> pd.Series:
    m = r.mentions.assign(row=r.mentions["row"].astype("int64"))
    return m.set_index(["file", "row", "role"])["person_id"].sort_index()


@HSET
@given(seed=st.integers(0, 2**31 - 1))
def test_result_independent_of_row_order(model, batch, seed):
    m, _ = batch
    a = link_mentions(m, settings=model)
    perm = np.random.default_rng(seed).permutation(len(m))
    b = link_mentions(m.iloc[perm].reset_index(drop=True), settings=model)
    pd.testing.assert_series_equal(_pid(a), _pid(b))
    ha = a.mentions.set_index(["file", "row", "role"])["household_id"].sort_index()
    hb = b.mentions.set_index(["file", "row", "role"])["household_id"].sort_index()
    pd.testing.assert_series_equal(ha, hb)
    pd.testing.assert_frame_equal(a.persons, b.persons)


def test_training_is_order_independent_too(batch):
    m, _ = batch
    s = Settings.load("relief")
    s.training.u_sample_pairs = 100_000
    a = link_mentions(m, settings=s)
    s = Settings.load("relief")
    s.training.u_sample_pairs = 100_000
    b = link_mentions(m.iloc[::-1].reset_index(drop=True), settings=s)
    pd.testing.assert_series_equal(_pid(a), _pid(b))
    assert a.model.m == b.model.m


@HSET
@given(birth=st.integers(1930, 2010), seq=st.integers(0, 999), with_id=st.booleans(),
       name=st.sampled_from(["欧阳震华", "诸葛亮亮", "上官婉儿", "司马相如"]))
def test_adding_an_unrelated_record_changes_no_other_person(model, batch, birth, seq, with_id, name):
    m, _ = batch
    a = link_mentions(m, settings=model)
    extra = mention("new_source.csv", 2, name, id_clean=valid_id(birth * 10000 + 101, seq) if with_id else None,
                    subdistrict="jd-hushu")
    m2 = pd.concat([m, pd.DataFrame([extra]).dropna(axis=1, how="all")], ignore_index=True)
    m2["birth_year_from_age"] = pd.array(m2["birth_year_from_age"], dtype="Int32")
    b = link_mentions(m2, settings=model)
    pb = _pid(b)
    new = pb.loc[("new_source.csv", 2, "beneficiary")]
    pd.testing.assert_series_equal(_pid(a), pb.drop(("new_source.csv", 2, "beneficiary")))
    assert (pb == new).sum() == 1  # the new record is a person of its own


@HSET
@given(data=st.data())
def test_distinct_valid_ids_never_share_a_person(model, data):
    n_people = data.draw(st.integers(2, 8))
    names = ["王芳", "汪芳", "王方"]  # one pinyin: the names never tell them apart
    rows, r = [], 2
    for k in range(n_people):
        pid = valid_id(19700101 + data.draw(st.integers(0, 3)), 100 + k)
        for _ in range(data.draw(st.integers(1, 3))):
            rows.append(mention("a.csv", r, data.draw(st.sampled_from(names)), id_clean=pid, sex="F",
                                subdistrict="jd-hushu", community="社区1", phone="13800000000"))
            r += 1
    for _ in range(data.draw(st.integers(0, 3))):  # and some no-ID namesakes
        rows.append(mention("b.csv", r, "王芳", subdistrict="jd-hushu", community="社区1", phone="13800000000"))
        r += 1
    m = pd.DataFrame(rows)
    m["mention_id"] = np.arange(len(m))
    m["birth_year_from_age"] = pd.array(m["birth_year_from_age"], dtype="Int32")
    res = link_mentions(m, settings=model)
    ids = res.mentions.dropna(subset=["id_number"]).groupby("person_id")["id_number"].nunique()
    assert (ids <= 1).all()
    assert res.mentions.dropna(subset=["id_number"])["person_id"].nunique() == n_people


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=40))
def test_pairwise_metrics_match_bruteforce(labels):
    p = [a for a, _ in labels]
    t = [b for _, b in labels]
    met = cluster_metrics(p, t)
    pairs = list(itertools.combinations(range(len(p)), 2))
    pp = {(i, j) for i, j in pairs if p[i] == p[j]}
    tt = {(i, j) for i, j in pairs if t[i] == t[j]}
    assert met.predicted_pairs == len(pp) and met.true_pairs == len(tt)
    assert met.true_positive_pairs == len(pp & tt)
    exact = sum(1 for lab in set(t) if {i for i in range(len(t)) if t[i] == lab} in
                [{i for i in range(len(p)) if p[i] == q} for q in set(p)])
    assert met.exact_entities == pytest.approx(exact / len(set(t)))
