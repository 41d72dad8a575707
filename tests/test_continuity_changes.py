"""Two months of a generated batch in which persons truly merge and split: every merge and split
the run lists is true, the planted ones are listed, and mentions moved between two persons who both
go on are counted apart (issue #8: "the merges and splits listed are the true ones").

The month-2 evidence that changes persons is a reviewer's: the rows of a person who stays do not
change, and a row whose content changes (an ID repaired) shares no evidence with last month, so
rows alone make no merge or split of known persons. Planted on month 1's run, from the truth:

* a true merge: a true person whom month 1's linkage left in two persons, joined in month 2 by a
  ``same_person`` decision;
* a true split: a singleton without a valid ID, joined in month 1 to another person by a wrong
  ``same_person`` decision which the reviewer replaces in month 2 by ``different_persons``.

Oracle: the generator's truth (``continuity_metrics``), and the ids the plants must show.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from relieflink.linkage.evaluate import _true_persons, continuity_metrics
from relieflink.pipeline import run_batch
from relieflink.review import Decision, append_decision
from relieflink.review.decisions import MentionKey

PERSONS, SEED = 2000, 11


def _key(m: pd.Series) -> MentionKey:
    return MentionKey(m["file"], int(m["row"]), m["role"], m["fingerprint"])


@pytest.fixture(scope="module")
def two_months(tmp_path_factory):
    from relieflink.synth import generate_batch

    root = tmp_path_factory.mktemp("changes")
    for month in (1, 2):
        generate_batch(root / f"m{month}", persons=PERSONS, seed=SEED, profile="hard", month=month)
    run_batch(root / "m1" / "batch", root / "r0", stages=("ingest", "linkage"))
    a = _true_persons(root / "r0", root / "m1" / "truth")
    a = a.merge(pd.read_parquet(root / "r0" / "mentions.parquet", columns=["fingerprint", "role", "id_number"]),
                on=["fingerprint", "role"])
    in_month_2 = set(pd.read_parquet(root / "m2" / "truth" / "mentions.parquet", columns=["person_id"])["person_id"])
    a = a[a["true_person_id"].isin(list(in_month_2))]
    parts = a.groupby("true_person_id")["person_id"].transform("nunique")
    # the merge: a true person in two run persons, one of which holds no valid ID (nothing forbids joining)
    valid_of = a.groupby("person_id")["id_number"].agg(lambda s: s.dropna().nunique())
    split_apart = a[(parts == 2) & a["person_id"].map(valid_of).eq(0)].iloc[0]
    other_part = a[(a["true_person_id"] == split_apart["true_person_id"]) & (a["person_id"] != split_apart["person_id"])].iloc[0]
    # the split: a singleton without a valid ID (one mention, its own run person) and another person with a valid ID
    sizes = a.groupby("true_person_id")["fingerprint"].transform("size")
    run_sizes = a.groupby("person_id")["fingerprint"].transform("size")
    loner = a[(sizes == 1) & (run_sizes == 1) & a["id_number"].isna()].iloc[0]
    host = a[a["id_number"].notna() & (run_sizes >= 2) & (a["true_person_id"] != split_apart["true_person_id"])].iloc[0]
    d1, d2 = root / "decisions-1.jsonl", root / "decisions-2.jsonl"
    append_decision(d1, Decision("same_person", "审核员", "mistaken", mentions=(_key(host), _key(loner))))
    append_decision(d2, Decision("different_persons", "审核员", "per the case file", mentions=(_key(host), _key(loner))))
    append_decision(d2, Decision("same_person", "审核员", "per the case file", mentions=(_key(other_part), _key(split_apart))))
    run_batch(root / "m1" / "batch", root / "r1", decisions=d1)
    run_batch(root / "m2" / "batch", root / "r2", decisions=d2, previous=root / "r1")
    r1 = pd.read_parquet(root / "r1" / "mentions.parquet").set_index("fingerprint")["person_id"]
    plants = {"merged": sorted({r1[split_apart["fingerprint"]], r1[other_part["fingerprint"]]}),
              "split": r1[host["fingerprint"]]}
    assert r1[loner["fingerprint"]] == plants["split"]  # month 1: the loner joined the host
    return root, plants


def test_every_listed_merge_and_split_is_true_and_the_planted_ones_are_listed(two_months):
    root, plants = two_months
    m = continuity_metrics(root / "r1", root / "r2", root / "m1" / "truth", root / "m2" / "truth")
    assert m["merges_listed"] >= 1 and m["splits_listed"] >= 1, m
    assert m["merges_true"] == m["merges_listed"] and m["splits_true"] == m["splits_listed"], m
    listed = json.loads((root / "r2" / "run.json").read_text(encoding="utf-8"))["counts"]["continuity_merges_and_splits"]
    persons = [c for c in listed if c["entity"] == "person"]
    assert any(c["change"] == "merged" and c["ids_before"] == plants["merged"] for c in persons), persons
    assert any(c["change"] == "split" and c["ids_before"] == [plants["split"]] and plants["split"] in c["ids_after"]
               and len(c["ids_after"]) == 2 for c in persons), persons


def test_moved_mentions_are_listed_apart_and_counted(two_months):
    """The moves are in changes.parquet, run.json and the counts alike, never also listed as a merge
    or a split; the truth figure of each is computed (how many are right is reported, not assumed)."""
    root, _ = two_months
    counts = json.loads((root / "r2" / "run.json").read_text(encoding="utf-8"))["counts"]
    changes = pd.read_parquet(root / "r2" / "changes.parquet")
    moved = changes[(changes["change"] == "moved") & (changes["entity"] == "person")]
    assert counts["continuity"]["persons"]["moved"] == int(moved["shared"].sum())
    assert [(e["id_before"], e["id_after"]) for e in counts["continuity_moved"] if e["entity"] == "person"] == \
        sorted(zip(moved["id_before"], moved["id_after"]))
    listed = changes[changes["change"].isin(["merged", "split"])]
    pairs = set(zip(listed["id_before"], listed["id_after"]))
    assert not pairs & set(zip(moved["id_before"], moved["id_after"]))
    m = continuity_metrics(root / "r1", root / "r2", root / "m1" / "truth", root / "m2" / "truth")
    assert m["moves_listed"] == len(moved) and 0 <= m["moves_true"] <= m["moves_listed"]
