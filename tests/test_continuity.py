"""Month-to-month continuity: ids of persons and households, and reviewer decisions, survive
rows moving, files renamed, persons leaving and arriving (issue #8).

Oracles: the generator's truth (the same true person ids in both months), a slow obvious
greedy matching, and the month-1 rows themselves (a row that stays is the same content).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relieflink.cli import EXIT_INPUT, EXIT_OK, main
from relieflink.ingest.pipeline import IngestConfig, ingest_batch
from relieflink.linkage import link_mentions
from relieflink.pipeline import run_batch
from relieflink.review import open_items

from edited_batches import BASE_OUT, FIXTURES, MOVED, shuffled_copy


def _content_ids(batch: Path) -> pd.DataFrame:
    """Person id of every mention of a batch, keyed by what the row says (not where it is)."""
    result = ingest_batch(batch, IngestConfig.load())
    linked = link_mentions(result.mentions, result.records)
    m = linked.mentions.merge(result.records[["record_id", "program", "amount", "period_start"]], on="record_id")
    key = ["source", "role", "name", "id_raw", "program", "amount", "period_start"]
    out = m[key + ["person_id"]].astype(str).assign(no_valid_id=m["id_number"].isna().to_numpy())
    return out.sort_values(list(out.columns)).reset_index(drop=True)


def test_person_ids_do_not_depend_on_file_names_or_rows(tmp_path):
    """Persons without a valid ID keep their id when their rows move and their file is renamed,
    even without --previous (their id was a hash of file|row|role)."""
    before = _content_ids(FIXTURES / "small-hard" / "batch")
    after = _content_ids(shuffled_copy(FIXTURES / "small-hard" / "batch", tmp_path / "b", MOVED))
    assert len(before) == len(after)
    pd.testing.assert_frame_equal(before, after)
    assert before["no_valid_id"].sum() > 0  # the persons at stake are there


def test_a_base_version_out_is_accepted_as_previous(tmp_path):
    """``--previous`` an OUT written by the base commit: every person and household keeps its id,
    those without a valid ID too, although their rows moved."""
    batch = shuffled_copy(FIXTURES / "small-hard" / "batch", tmp_path / "b", MOVED)
    run = run_batch(batch, tmp_path / "out", previous=BASE_OUT, stages=("ingest", "linkage"))
    old = pd.read_parquet(BASE_OUT / "persons.parquet")
    new = pd.read_parquet(tmp_path / "out" / "persons.parquet")
    assert sorted(new["person_id"]) == sorted(old["person_id"])
    assert old["id_number"].isna().sum() > 0
    assert set(new["household_id"]) == set(old["household_id"])
    counts = run.summary()["continuity"]["persons"]
    assert counts == {"kept": len(old), "new": 0, "gone": 0, "merged": 0, "split": 0}
    assert pd.read_parquet(tmp_path / "out" / "changes.parquet").empty


def test_fingerprints_are_the_same_from_memory_and_from_a_written_run_folder():
    """A run folder written by the base commit (no fingerprints stored): the fingerprints computed
    from its tables are those this version computes while linking the same batch."""
    from relieflink.linkage.continuity import read_run_mentions

    result = ingest_batch(FIXTURES / "small-hard" / "batch", IngestConfig.load())
    linked = link_mentions(result.mentions, result.records).mentions
    written = read_run_mentions(BASE_OUT)
    keys = ["file", "row", "role"]
    j = linked[keys + ["fingerprint"]].merge(written[keys + ["fingerprint"]], on=keys, how="outer", indicator=True)
    assert (j["_merge"] == "both").all() and (j["fingerprint_x"] == j["fingerprint_y"]).all()
    assert linked["fingerprint"].is_unique


@pytest.mark.parametrize("what", ["missing", "no_manifest", "ingest_only"])
def test_previous_that_is_not_a_run_folder_is_refused(tmp_path, capsys, what):
    prev = tmp_path / "prev"
    if what == "no_manifest":
        prev.mkdir()
        (prev / "mentions.parquet").write_bytes(b"not parquet")
    elif what == "ingest_only":
        assert main(["ingest", str(FIXTURES / "small-default" / "batch"), "--out", str(prev)]) == EXIT_OK
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["run", str(FIXTURES / "small-default" / "batch"), "--out", str(out), "--previous", str(prev)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert str(prev) in err and "--previous" in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ") and not out.exists()  # one sentence, before any work


# ---- the matching rules -------------------------------------------------------------------------------
def _evidence(groups: dict[str, list[str]], anchors: dict[str, str] | None = None) -> pd.DataFrame:
    rows = [{"group": g, "key": "fp:" + k, "tier": 1} for g, keys in groups.items() for k in keys]
    rows += [{"group": g, "key": "id:" + v, "tier": 0} for g, v in (anchors or {}).items()]
    return pd.DataFrame(rows, columns=["group", "key", "tier"])


def test_merge_keeps_the_id_of_the_previous_person_with_most_mentions_in_it():
    from relieflink.linkage.continuity import match_ids

    carry = match_ids(_evidence({"C": list("abcde")}), _evidence({"P1": list("ab"), "P2": list("cde")}), "P", "person")
    assert carry.ids["C"] == "P2"
    merged = carry.changes[carry.changes["change"] == "merged"]
    assert sorted(zip(merged["id_before"], merged["id_after"], merged["shared"])) == [("P1", "P2", 2), ("P2", "P2", 3)]
    assert carry.counts["merged"] == 1 and carry.counts["gone"] == 0


def test_split_part_holding_most_mentions_keeps_the_id():
    from relieflink.linkage.continuity import match_ids

    carry = match_ids(_evidence({"C1": list("ab"), "C2": list("cde")}), _evidence({"P": list("abcde")}), "P", "person")
    assert carry.ids["C2"] == "P" and carry.ids["C1"] not in ("P", "C2")
    assert carry.counts["split"] == 1


def test_the_summary_lists_each_merge_and_split_with_the_ids_before_and_after(capsys):
    from relieflink.cli import _print_summary as print_summary
    from relieflink.linkage.continuity import match_ids, merges_and_splits

    # P1 + P2 merged into one person; P3 split in two; P4 kept; P5 gone; a new person
    carry = match_ids(_evidence({"C": list("abcde"), "D1": list("fg"), "D2": list("h"), "E": list("i"), "N": list("z")}),
                      _evidence({"P1": list("ab"), "P2": list("cde"), "P3": list("fgh"), "P4": list("i"),
                                 "P5": list("y")}), "P", "person")
    listed = merges_and_splits(carry.changes)
    new_part = carry.ids["D2"]
    assert listed == [{"entity": "person", "change": "merged", "ids_before": ["P1", "P2"], "ids_after": ["P2"]},
                      {"entity": "person", "change": "split", "ids_before": ["P3"], "ids_after": sorted(["P3", new_part])}]
    assert merges_and_splits(carry.changes[carry.changes["change"].isin(["new", "gone"])]) == []
    print_summary({"files": 0, "files_by_status": {}, "duplicate_deliveries": {}, "data_rows": 0, "records": 0,
                   "mentions": 0, "rows_quarantined": 0, "id_status": {}, "quarantine_by_problem": {},
                   "continuity": {"persons": carry.counts}, "continuity_merges_and_splits": listed, "seconds": {}},
                  Path("out"))
    out = capsys.readouterr().out
    assert "person merged: P1 + P2 -> P2" in out and f"person split: P3 -> {' + '.join(sorted(['P3', new_part]))}" in out


def test_a_shared_valid_id_outranks_shared_mentions():
    from relieflink.linkage.continuity import match_ids

    carry = match_ids(_evidence({"C": list("a")}, {"C": "330105"}),
                      _evidence({"P1": list("a"), "P2": []}, {"P2": "330105"}), "P", "person")
    assert carry.ids["C"] == "P2"


def test_a_new_id_never_takes_an_old_one():
    """A new person whose content id was someone else's last month gets another id."""
    from relieflink.linkage.continuity import match_ids

    # C2's content id is "P": the id of the previous person that C1 continues
    carry = match_ids(_evidence({"C1": list("ab"), "P": list("x")}), _evidence({"P": list("ab"), "Q": list("y")}),
                      "P", "person")
    assert carry.ids["C1"] == "P"
    assert carry.ids["P"] not in {"P", "Q"} and carry.ids["P"].startswith("P")
    assert carry.counts == {"kept": 1, "new": 1, "gone": 1, "merged": 0, "split": 0}


def _slow_greedy(current: pd.DataFrame, previous: pd.DataFrame) -> dict[str, str]:
    """The obvious implementation: every edge, best first, taken while both ends are free."""
    shared: dict[tuple[str, str], list[int]] = {}
    for c in current.itertuples():
        for p in previous.itertuples():
            if c.key == p.key:
                shared.setdefault((c.group, p.group), []).append(min(c.tier, p.tier))
    edges = sorted(shared.items(), key=lambda e: (min(e[1]), -len(e[1]), e[0][1], e[0][0]))
    taken: dict[str, str] = {}
    for (cur, prev), _ in edges:
        if cur not in taken and prev not in taken.values():
            taken[cur] = prev
    return taken


group_keys = st.dictionaries(st.sampled_from([f"G{i}" for i in range(8)]),
                             st.lists(st.sampled_from(list("abcdefghijkl")), min_size=1, max_size=5, unique=True),
                             min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(cur=group_keys, prev=group_keys, anchors=st.dictionaries(st.sampled_from([f"G{i}" for i in range(8)]),
                                                               st.sampled_from(["1", "2", "3"]), max_size=3))
def test_matching_is_the_sequential_greedy(cur, prev, anchors):
    from relieflink.linkage.continuity import match_ids

    current = _evidence({"c" + g: k for g, k in cur.items()}, {"c" + g: v for g, v in anchors.items() if g in cur})
    previous = _evidence({"p" + g: k for g, k in prev.items()}, {"p" + g: v for g, v in anchors.items() if g in prev})
    carry = match_ids(current, previous, "P", "person")
    expected = _slow_greedy(current, previous)
    assert {c: i for c, i in carry.ids.items() if i in set(previous["group"])} == expected
    assert carry.ids.is_unique and set(carry.ids.index) == set(current["group"])


# ---- two months of a generated batch ---------------------------------------------------------------------
PERSONS, SEED = 1000, 8


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """Month 1 and 2 of one population; month 1 run with decisions of every kind, month 2 run
    with --previous and the same decisions file."""
    from relieflink.evaluate import simulate_decisions
    from relieflink.synth import generate_batch

    root = tmp_path_factory.mktemp("months")
    for month in (1, 2):
        generate_batch(root / f"m{month}", persons=PERSONS, seed=SEED, profile="hard", month=month)
    decisions = root / "decisions.jsonl"
    run_batch(root / "m1" / "batch", root / "r1", decisions=decisions)
    taken = simulate_decisions(root / "r1", root / "m1" / "truth", decisions, per_kind=4)
    run2 = run_batch(root / "m2" / "batch", root / "r2", decisions=decisions, previous=root / "r1")
    return root, taken, run2


def test_persons_seen_in_both_months_keep_their_id(months):
    from relieflink.linkage.evaluate import continuity_metrics

    root, _, _ = months
    m = continuity_metrics(root / "r1", root / "r2", root / "m1" / "truth", root / "m2" / "truth")
    assert m["persons_in_both_months"] > 500
    assert m["persons_kept"] >= 0.999, m
    assert m["mentions_kept"] >= 0.995, m
    # every listed merge or split is a repair, or the month-2 linkage changed its mind on a moved person
    assert m["merges_listed"] + m["splits_listed"] <= 0.01 * m["persons_in_both_months"], m


def test_changes_list_exactly_the_merges_splits_new_and_gone(months):
    """changes.parquet against the obvious computation from the two runs' mentions and IDs."""
    root, _, _ = months
    a = pd.read_parquet(root / "r1" / "mentions.parquet")
    b = pd.read_parquet(root / "r2" / "mentions.parquet")
    pa, pb = pd.read_parquet(root / "r1" / "persons.parquet"), pd.read_parquet(root / "r2" / "persons.parquet")
    links = set(zip(*a.merge(b, on="fingerprint")[["person_id_x", "person_id_y"]].T.to_numpy()))
    ids = pa.dropna(subset=["id_number"]).merge(pb.dropna(subset=["id_number"]), on="id_number")
    links |= set(zip(ids["person_id_x"], ids["person_id_y"]))
    merged = {(p, c) for p, c in links if sum(1 for _, c2 in links if c2 == c) > 1}
    split = {(p, c) for p, c in links if sum(1 for p2, _ in links if p2 == p) > 1}
    changes = pd.read_parquet(root / "r2" / "changes.parquet")
    changes = changes[changes["entity"] == "person"]
    listed = lambda kind: set(zip(*changes.loc[changes["change"] == kind, ["id_before", "id_after"]].T.to_numpy()))  # noqa: E731
    assert listed("merged") == merged and listed("split") == split
    seen_before, seen_after = {p for p, _ in links}, {c for _, c in links}
    assert set(changes.loc[changes["change"] == "gone", "id_before"]) == set(pa["person_id"]) - seen_before
    assert set(changes.loc[changes["change"] == "new", "id_after"]) == set(pb["person_id"]) - seen_after
    assert len(set(pb["person_id"]) - seen_after) > 0  # the arrivals
    from relieflink.linkage.continuity import merges_and_splits

    summary = json.loads((root / "r2" / "run.json").read_text(encoding="utf-8"))["counts"]
    assert summary["continuity_merges_and_splits"] == merges_and_splits(pd.read_parquet(root / "r2" / "changes.parquet"))


def test_identity_decisions_of_month_1_hold_in_month_2(months):
    from relieflink.evaluate import decisions_held

    root, taken, run2 = months
    held = decisions_held(root / "r2", taken)
    for kind in ("same_person", "different_persons"):
        assert held[kind]["present"] > 0 and held[kind]["held"] == held[kind]["present"], held
    # a decision whose mentions left the batch is listed, not applied, not an error
    unmatched = [u for u in run2.summary()["decisions_unmatched_list"] if u["decision"] in held
                 and u["decision"].endswith(("person", "persons"))]
    assert len(unmatched) == sum(held[k]["taken"] - held[k]["present"] for k in ("same_person", "different_persons"))


def test_identity_item_ids_stay_when_rows_move(months):
    """The same question (same two mentions by content) has the same item id next month."""
    root, _, _ = months
    one = open_items(root / "r1", [])
    two = open_items(root / "r2", [])
    key = lambda i: i.assign(pair=[tuple(sorted(p)) for p in zip(i["left_key"], i["right_key"])])  # noqa: E731
    one, two = key(one[one["kind"] == "identity"]), key(two[two["kind"] == "identity"])
    both = one.merge(two, on="pair")
    assert len(both) > 10
    assert (both["item_id_x"] == both["item_id_y"]).all()
    assert (both["left_x"] != both["left_y"]).any()  # their rows did move


def test_a_run_with_previous_is_deterministic(months, tmp_path):
    root, _, _ = months
    run_batch(root / "m2" / "batch", tmp_path / "again", decisions=root / "decisions.jsonl", previous=root / "r1")
    for name in ("mentions", "persons", "households", "records", "changes", "flags"):
        assert (root / "r2" / f"{name}.parquet").read_bytes() == (tmp_path / "again" / f"{name}.parquet").read_bytes(), name


def test_flag_decisions_of_month_1_hold_in_month_2(months):
    from relieflink.evaluate import decisions_held

    root, taken, _ = months
    held = decisions_held(root / "r2", taken)
    for kind in ("flag_confirmed", "flag_dismissed"):
        assert held[kind]["present"] > 0 and held[kind]["held"] == held[kind]["present"], held


# ---- the synthetic next month ------------------------------------------------------------------------------
def test_month_2_is_month_1_minus_leavers_plus_arrivals(months):
    root, _, _ = months
    t1, t2 = root / "m1" / "truth", root / "m2" / "truth"
    changes = pd.read_parquet(t2 / "months.parquet")
    m1, m2 = pd.read_parquet(t1 / "mentions.parquet"), pd.read_parquet(t2 / "mentions.parquet")
    seen1, seen2 = set(m1["person_id"]), set(m2["person_id"])
    by = {k: set(g["person_id"]) for k, g in changes.groupby("change")}
    assert seen2 == (seen1 - by["left"]) | by["arrived"]
    assert not by["arrived"] & seen1 and by["left"] <= seen1
    n = len(seen1)
    for kind, rate in (("left", 0.03), ("arrived", 0.03), ("moved", 0.05)):
        assert abs(len(by[kind]) / n - rate) < 0.015, (kind, len(by[kind]), n)
    # movers live elsewhere now
    p1 = pd.read_parquet(t1 / "persons.parquet").set_index("person_id")
    p2 = pd.read_parquet(t2 / "persons.parquet").set_index("person_id")
    moved = sorted(by["moved"])
    assert (p1.loc[moved, "subdistrict"] != p2.loc[moved, "subdistrict"]).all()
    stayed = sorted(seen1 - by["moved"] - by["left"])
    assert (p1.loc[stayed, "address"] == p2.loc[stayed, "address"]).all()
    # every record of a person who stayed is there again, the same content, elsewhere in its file
    cols = ["source", "program", "person_id", "amount", "period_start", "period_end"]
    r1, r2 = pd.read_parquet(t1 / "records.parquet"), pd.read_parquet(t2 / "records.parquet")
    data = lambda r: r[r["row_kind"] == "data"]  # noqa: E731
    r1 = data(r1)[~data(r1)["person_id"].isin(by["left"])]
    k1 = r1[cols].astype(str).value_counts()
    k2 = data(r2)[cols].astype(str).value_counts()
    assert (k2.reindex(k1.index).fillna(0) >= k1).all()
    moved_rows = data(r1).merge(data(r2), on=cols)
    assert (moved_rows["row_x"] != moved_rows["row_y"]).mean() > 0.9
    files1, files2 = ({p.name for p in (root / m / "batch").iterdir() if "(1)" not in p.name} for m in ("m1", "m2"))
    assert len(files1 - files2) == 1 and len(files2 - files1) == 1  # one file renamed (a repeated delivery with it)
