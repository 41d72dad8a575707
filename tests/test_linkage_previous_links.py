"""Last month's links as evidence (``--previous``): a row without a valid ID that was person P's
last month and that linkage leaves unattached stays with P, unless the current evidence forbids it
(issue #8: the merges and splits listed month to month are the true ones, not linkage instability).

Oracles: planted clusters with known weights (the unit tests), and a fixture batch edited as a
moved household would be (the ID'd rows of a person get a new subdistrict, community and address,
the row left in the old subdistrict's 临时救助 file does not) or as another person would be (a
different name besides): the first must stay with its person, the second must split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relieflink.linkage import clustering as CL

# ---- planted clusters -------------------------------------------------------------------------------------
# nodes: 0 holds P's valid ID (its successor); 1: P's row without an ID, left alone this month;
# 2: another person with a valid ID (a rival); 3: a row without an ID nobody knew last month
ANCHOR = np.array([0, -1, 1, -1])
PREVIOUS = np.array([0, 0, -1, -1])  # per record (one per node): P is code 0
PRIOR_WEIGHT = -13.0  # the weight of a pair without evidence (the random-pair prior's log-odds)


def _keep(weight_to_p: float = -10.0, rival: float | None = None, cannot=None, forbidden=None,
          label=None, previous=PREVIOUS, anchor=ANCHOR) -> np.ndarray:
    label = np.arange(4) if label is None else np.asarray(label)
    li, ri, mw = (np.array([1]), np.array([2]), np.array([rival])) if rival is not None else \
        (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))

    def weights(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where((a == 0) & (b == 1), weight_to_p, -40.0)
    return CL.keep_previous_links(label, np.arange(4), previous, anchor, np.full(4, -1) if forbidden is None else
                                  np.asarray(forbidden), cannot, li, ri, mw, weights, margin=4.0,
                                  min_weight=PRIOR_WEIGHT)


def test_an_unattached_row_stays_with_last_months_person():
    # -10 is a tiny probability under the random-pair prior (-13 bits) but 3 bits of evidence for
    assert _keep().tolist() == [0, 0, 2, 3]


def test_evidence_against_last_months_link_splits_it():
    assert _keep(weight_to_p=-14.0).tolist() == [0, 1, 2, 3]


def test_a_cannot_link_pair_or_a_split_off_id_forbids_it():
    assert _keep(cannot=(np.array([0]), np.array([1]))).tolist() == [0, 1, 2, 3]
    assert _keep(forbidden=[-1, 0, -1, -1]).tolist() == [0, 1, 2, 3]


def test_a_competing_attachment_ahead_by_the_margin_wins():
    assert _keep(rival=-6.0).tolist() == [0, 1, 2, 3]
    assert _keep(rival=-7.0).tolist() == [0, 0, 2, 3]  # within the margin: last month decides


def test_a_cluster_with_a_valid_id_never_moves_and_mixed_clusters_stay():
    # node 2 (its own valid ID) was P's last month: it stays a person of its own
    assert _keep(previous=np.array([0, -1, 0, -1])).tolist() == [0, 1, 2, 3]
    # a cluster holding rows of two previous persons is linkage's new judgement: it stays
    assert _keep(label=[0, 1, 2, 1], previous=np.array([0, 0, -1, 1])).tolist() == [0, 1, 2, 1]


def test_without_a_valid_id_the_successor_holds_most_of_the_previous_persons_rows():
    # P had no valid ID: rows 0, 1, 3 were P's; this month 0 and 3 are one cluster, 1 alone
    label = np.array([0, 1, 2, 0])
    out = _keep(label=label, previous=np.array([0, 0, -1, 0]), anchor=np.array([-1, -1, 1, -1]))
    assert out.tolist() == [0, 0, 2, 0]


# ---- a fixture batch, edited as next month's ----------------------------------------------------------------
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "small-hard" / "batch"
MOVED = {"subdistrict": "jd-banshan", "community": "半山社区", "address": "半山路1号1幢1单元101室"}
RENAMED = dict(MOVED, name="欧阳正华", name_raw="欧阳正华", name_pinyin="ou yang zheng hua",
               name_pinyin_tone="ou1 yang2 zheng4 hua2", surname="欧阳", given_name="正华")


@pytest.fixture(scope="module")
def month_1():
    """The fixture batch linked; the rows without any ID in a subdistrict's 临时救助 file that
    linkage attached to a person with a valid ID."""
    from relieflink.ingest.pipeline import IngestConfig, ingest_batch
    from relieflink.linkage import link_mentions

    batch = ingest_batch(FIXTURE, IngestConfig.load())
    linked = link_mentions(batch.mentions, batch.records)
    m = linked.mentions
    no_id = m["id_clean"].isna() & m["id_number"].isna()
    with_id = m.groupby("person_id")["id_number"].transform(lambda s: s.notna().any()).astype(bool)
    left_behind = m[no_id & with_id & m["file"].str.startswith("jd-")]
    assert len(left_behind) >= 5
    return batch, linked, left_behind


def _month_2(month_1, edit: dict[str, str], previous: bool) -> pd.Series:
    """Per left-behind row: is it, next month, still with its person's other rows? The person's
    other rows are edited by ``edit``; the month-1 model is used as is (no retraining)."""
    from relieflink.linkage import link_mentions

    batch, linked, rows = month_1
    m1 = linked.mentions
    m2 = batch.mentions.copy()
    others = m1["person_id"].isin(rows["person_id"]).to_numpy() & ~m1.index.isin(rows.index)
    for column, value in edit.items():
        m2.loc[others, column] = value
    two = link_mentions(m2, batch.records, settings=linked.result.settings,
                        previous=m1[["fingerprint", "person_id"]] if previous else None).mentions
    now = two["person_id"]
    return pd.Series([now[i] in set(now[(m1["person_id"] == p).to_numpy() & (m1.index != i)])
                      for i, p in rows["person_id"].items()], index=rows.index)


def test_a_row_left_in_the_old_subdistricts_file_stays_with_its_moved_person(month_1):
    alone = _month_2(month_1, MOVED, previous=False)
    kept = _month_2(month_1, MOVED, previous=True)
    assert not alone.any()  # the planted case: linkage alone splits every one of them off
    assert kept.sum() >= 0.6 * len(kept), kept.tolist()


def test_last_months_link_does_not_hold_against_a_different_name(month_1):
    assert not _month_2(month_1, RENAMED, previous=True).any()


def test_the_same_batch_keeps_the_same_persons(month_1):
    """Nothing moves where nothing changed (and the carried links are deterministic)."""
    from relieflink.linkage import link_mentions

    batch, linked, _ = month_1
    again = link_mentions(batch.mentions.copy(), batch.records, settings=linked.result.settings,
                          previous=linked.mentions[["fingerprint", "person_id"]]).mentions["person_id"]
    assert again.equals(linked.mentions["person_id"])
