"""Decisions round trip: dismiss, re-run, still dismissed; split two persons, re-run, their flags are gone."""

from __future__ import annotations

import pandas as pd
import pytest

from relieflink.audit.truth import write_true_flags
from relieflink.pipeline import run_batch
from relieflink.review import Decision, append_decision, load_decisions, open_items
from relieflink.review.decisions import MentionKey
from relieflink.synth import generate_batch


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("review")
    generate_batch(out / "gen", persons=1500, seed=11, profile="default")
    write_true_flags(out / "gen")
    return out


def _run(generated, decisions):
    out = generated / "run"
    run_batch(generated / "gen" / "batch", out, decisions=decisions)
    return pd.read_parquet(out / "flags.parquet"), out


def test_dismissed_flag_stays_dismissed(generated):
    decisions = generated / "decisions-dismiss.jsonl"
    flags, out = _run(generated, decisions)
    items = open_items(out, load_decisions(decisions))
    flag_item = items[items["kind"] == "flag"].iloc[0]
    append_decision(decisions, Decision("flag_dismissed", "审核员甲", "already handled by the subdistrict", flag_id=flag_item["item_id"]))
    again, out = _run(generated, decisions)
    row = again.set_index("flag_id").loc[flag_item["item_id"]]
    assert row["decision"] == "dismissed" and row["decided_by"] == "审核员甲"
    assert flag_item["item_id"] not in set(open_items(out, load_decisions(decisions))["item_id"])
    # everything else is unchanged by the decision
    pd.testing.assert_frame_equal(
        flags.drop(columns=["decision", "decided_by", "decision_reason"]),
        again.drop(columns=["decision", "decided_by", "decision_reason"]),
    )


def test_split_persons_removes_their_duplicate_flag(generated):
    decisions = generated / "decisions-split.jsonl"
    flags, out = _run(generated, decisions)
    dup = flags[(flags["rule_id"] == "DUP-SAME-PROGRAM") & flags["records"].map(len).eq(2)].iloc[0]
    (a, b) = [MentionKey(r["file"], int(r["row"]), "beneficiary") for r in dup["records"]]
    append_decision(decisions, Decision("different_persons", "审核员乙", "different people per the case files", mentions=(a, b)))
    again, out = _run(generated, decisions)
    assert dup["flag_id"] not in set(again["flag_id"])
    mentions = pd.read_parquet(out / "mentions.parquet").set_index(["file", "row", "role"])
    assert mentions.loc[(a.file, a.row, a.role), "person_id"] != mentions.loc[(b.file, b.row, b.role), "person_id"]
    # other rules' flags are untouched
    others = flags[~flags["person_id"].eq(dup["person_id"])]["flag_id"]
    assert set(others) <= set(again["flag_id"])


def test_same_person_decision_cannot_join_two_valid_ids(generated):
    decisions = generated / "decisions-join.jsonl"
    _, out = _run(generated, decisions)
    mentions = pd.read_parquet(out / "mentions.parquet")
    with_ids = mentions[mentions["id_number"].notna()].drop_duplicates("person_id").head(2)
    a, b = [MentionKey(r.file, int(r.row), r.role) for r in with_ids.itertuples()]
    append_decision(decisions, Decision("same_person", "审核员丙", "looks alike", mentions=(a, b)))
    run = run_batch(out.parent / "gen" / "batch", out, decisions=decisions)
    assert len(run.refused_decisions) == 1 and "different valid IDs" in run.refused_decisions[0]


def test_same_person_decision_makes_the_link_certain(generated):
    """A reviewer's 'same person' on a probabilistic link: the next run rests on it as on a shared
    valid ID (a held pattern on that link becomes a flag)."""
    decisions = generated / "decisions-same.jsonl"
    _, out = _run(generated, decisions)
    records = pd.read_parquet(out / "records.parquet")
    weak = records[(records["link_confidence"] > 0) & (records["link_confidence"] < 1)].iloc[0]
    certain = records[(records["person_id"] == weak["person_id"]) & (records["link_confidence"] == 1.0)].iloc[0]
    a, b = (MentionKey(r["file"], int(r["row"]), "beneficiary") for r in (certain, weak))
    append_decision(decisions, Decision("same_person", "审核员丁", "same person per the case file", mentions=(a, b)))
    _run(generated, decisions)
    again = pd.read_parquet(out / "records.parquet").set_index(["file", "row"])
    assert again.loc[(weak["file"], weak["row"]), "link_confidence"] == 1.0
    assert again.loc[(weak["file"], weak["row"]), "person_id"] == again.loc[(certain["file"], certain["row"]), "person_id"]
