"""Match probability with the run's trained linkage model (screening/evidence.py).

Oracles: the batch's own scores (``pairs.parquet``: every pair the linker scored gets the
same match weight when scored from the index's stored node features by the same kernels),
and the vectorized preparer (``prepare_relief``) for the one-row preparer screening uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relieflink.linkage.prepare import RELIEF_INPUTS, prepare_relief, prepare_relief_one, with_solo
from relieflink.linkage.settings import Settings
from relieflink.pipeline import run_batch
from relieflink.screening import Application, ScreeningIndex, screen

from conftest import FIXTURES


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("evidence") / "run"
    run_batch(FIXTURES / "small-hard" / "batch", out)
    return out


@pytest.fixture(scope="module")
def index(run_dir):
    return ScreeningIndex.open(run_dir)


def _same(a: object, b: object) -> bool:
    if pd.isna(a) or pd.isna(b):
        return bool(pd.isna(a) and pd.isna(b))
    return str(a) == str(b)


def test_one_row_preparer_equals_the_vectorized_one_on_every_mention(run_dir):
    m = with_solo(pd.read_parquet(run_dir / "mentions.parquet"))
    frame = prepare_relief(m, Settings.load("relief"))
    rows = m[[c for c in RELIEF_INPUTS if c in m]].to_dict("records")
    for i, row in enumerate(rows):
        one = prepare_relief_one(row)
        assert set(one) == set(frame.columns)
        for c in frame.columns:
            assert _same(frame[c].iat[i], one[c]), (i, c, frame[c].iat[i], one[c])


def test_stored_features_score_every_pair_as_the_batch_did(run_dir, index):
    """Every scored pair of pairs.parquet, from the index's node features through the linker's
    kernels and the trained model: the same match weight (the index's nodes are the run's)."""
    pairs = pd.read_parquet(run_dir / "pairs.parquet")
    mentions = pd.read_parquet(run_dir / "mentions.parquet", columns=["person_id", "link_node"])
    ev = index.evidence
    assert ev is not None and len(pairs) > 100
    assert np.array_equal(ev.node_of, mentions["link_node"][mentions["person_id"].notna()].to_numpy())
    left, right = pairs["left_node"].to_numpy(), pairs["right_node"].to_numpy()
    gammas, fw, mw, prob = ev.score(ev.node_rows(left), ev.node_rows(right))
    np.testing.assert_allclose(mw, pairs["match_weight"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(prob, pairs["probability"].to_numpy(), rtol=0, atol=1e-9)
    model = ev.settings
    for j, c in enumerate(model.comparisons):
        assert (np.array(c.labels)[gammas[:, j]] == pairs[f"level_{c.name}"].astype(str).to_numpy()).all()


def test_a_mention_as_application_against_its_persons_other_mentions_weighs_as_in_pairs(run_dir, index):
    """A record's own mention, prepared by the one-row preparer, against each other node of its
    person: the weight of pairs.parquet for that pair wherever the batch scored it."""
    m = with_solo(pd.read_parquet(run_dir / "mentions.parquet"))
    pairs = pd.read_parquet(run_dir / "pairs.parquet")
    weight = {(a, b): w for a, b, w in zip(pairs["left_node"], pairs["right_node"], pairs["match_weight"])}
    ev = index.evidence
    compared = list(ev.codes) + list(ev.ints)
    linked = m[m["person_id"].notna()]
    checked = 0
    for pid, group in linked.groupby("person_id", sort=True):
        nodes = np.unique(group["link_node"].to_numpy())
        if len(nodes) < 2:
            continue
        row = group.iloc[0]
        own = int(row["link_node"])
        app = prepare_relief_one(row[[c for c in RELIEF_INPUTS if c in row.index]].to_dict())
        stored = ev.node_rows(np.array([own]))
        if any(not _same(app[c], stored[c][0]) for c in compared):
            continue  # the anchor split cleared this node's ID evidence in the batch
        others = nodes[nodes != own]
        left = {c: [app[c]] * len(others) for c in compared}
        _, _, mw, _ = ev.score(left, ev.node_rows(others))
        for other, w in zip(others.tolist(), mw.tolist()):
            key = (min(own, other), max(own, other))
            if key in weight:
                assert abs(w - weight[key]) <= 1e-9, (pid, key, w, weight[key])
                checked += 1
    assert checked > 50


def test_candidates_carry_the_probability_and_the_fields(run_dir, index):
    people = pd.read_parquet(run_dir / "persons.parquet")
    person = people[people["id_number"].notna()].sort_values("person_id").iloc[0]
    result = screen(index, Application(name=person["name"], id_number=person["id_number"], program="MZJ-DB",
                                       period_start="2015-06-01"))
    best = result.matches[0]
    assert best.person_id == person["person_id"] and best.evidence is not None
    e = best.evidence
    assert {f.comparison for f in e.fields} == {c.name for c in index.evidence.settings.comparisons}
    assert next(f for f in e.fields if f.comparison == "id").level == "exact"
    assert e.match_weight == pytest.approx(e.prior_weight + sum(f.weight for f in e.fields), abs=1e-4)
    assert e.probability == pytest.approx(1 / (1 + 2 ** -e.match_weight))
    assert best.probability > 0.99
    # a namesake by name only is much less likely than the ID's holder
    by_name = screen(index, Application(name=person["name"], program="MZJ-DB", period_start="2015-06-01"))
    same = next(x for x in by_name.matches if x.person_id == person["person_id"])
    assert same.probability < best.probability
    d = result.to_dict()["matches"][0]
    assert d["probability"] == best.probability and d["evidence"]["fields"][0]["comparison"] == "id"


def test_an_index_without_the_model_answers_without_probability(run_dir, index, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "linkage_model.json").unlink()
    bare = ScreeningIndex.open(copy)
    people = pd.read_parquet(run_dir / "persons.parquet")
    person = people[people["id_number"].notna()].iloc[0]
    result = screen(bare, Application(name=person["name"], id_number=person["id_number"], program="MZJ-DB",
                                      period_start="2015-06-01"))
    assert result.matches and result.matches[0].evidence is None and result.to_dict()["matches"][0]["probability"] is None


def test_the_run_stores_the_linkers_own_nodes_and_a_rebuild_prepares_the_same(run_dir):
    """The run writes the evidence from the linker's node table; a folder without an index gets it by
    preparing the mentions again (ScreeningIndex.from_run): the same arrays."""
    from relieflink.screening.store import read_arrays

    written, _ = read_arrays(run_dir / "screening")
    rebuilt = ScreeningIndex.from_run(run_dir).arrays()
    names = sorted(k for k in written if k.startswith("e_"))
    assert "e_node_of" in names and len(names) > 20
    for name in names:
        assert np.array_equal(np.asarray(written[name]), np.asarray(rebuilt[name])), name
