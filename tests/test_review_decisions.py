"""Reviewer decisions: bound to content, robust to bad files, never lost and never silent (issue #8)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from relieflink.cli import EXIT_CONFIG, EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
from relieflink.pipeline import run_batch
from relieflink.review import Decision, append_decision
from relieflink.review.decisions import MentionKey

from edited_batches import BASE_OUT, FIXTURES, MOVED, shuffled_copy

SMALL = FIXTURES / "small-default" / "batch"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("review") / "out"
    assert main(["run", str(SMALL), "--out", str(out)]) == EXIT_OK
    return out


@pytest.mark.parametrize("bad", ["binary", "folder"])
@pytest.mark.parametrize("command", ["run", "review", "decide"])
def test_a_decisions_file_that_is_binary_or_a_folder_is_one_sentence(tmp_path, small_run, capsys, bad, command):
    path = tmp_path / "decisions.jsonl"
    if bad == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00" * 10)
    else:
        path.mkdir()
    capsys.readouterr()
    argv = {"run": ["run", str(SMALL), "--out", str(tmp_path / "out")],
            "review": ["review", str(small_run)],
            "decide": ["decide", str(small_run), "L000000000000", "--decision", "same", "--reviewer", "甲",
                       "--reason", "r"]}[command]
    assert main(argv + ["--decisions", str(path)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert str(path) in err and "decisions file" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_decide_needs_a_reviewer_and_a_reason(small_run, tmp_path, capsys):
    for reviewer, reason in (("", "checked"), ("  ", "checked"), ("甲", "")):
        code = main(["decide", str(small_run), "L000000000000", "--decision", "same", "--reviewer", reviewer,
                     "--reason", reason, "--decisions", str(tmp_path / "d.jsonl")])
        assert code == EXIT_USAGE
        assert "must not be empty" in capsys.readouterr().err
    assert not (tmp_path / "d.jsonl").exists()


def test_decide_on_a_folder_that_does_not_exist(tmp_path, capsys):
    code = main(["decide", str(tmp_path / "nope"), "L000000000000", "--decision", "same", "--reviewer", "甲",
                 "--reason", "r"])
    assert code == EXIT_INPUT
    err = capsys.readouterr().err
    assert "is not a run folder" in err and "Traceback" not in err
    assert not (tmp_path / "relieflink-decisions.jsonl").exists()


def test_decisions_that_match_nothing_are_listed_kept_and_not_errors(small_run, tmp_path, capsys):
    path = tmp_path / "decisions.jsonl"
    lines = [
        {"decision": "same_person", "reviewer": "甲", "reason": "r", "at": "2016-01-02T00:00:00Z",
         "mentions": [{"file": "gone.csv", "row": 2, "role": "beneficiary", "fingerprint": "0" * 16},
                      {"file": "gone.csv", "row": 3, "role": "beneficiary", "fingerprint": "1" * 16}]},
        {"decision": "flag_dismissed", "reviewer": "乙", "reason": "r", "at": "2016-01-03T00:00:00Z",
         "flag_id": "F-no-such-flag"},
        # written before fingerprints existed, on rows this batch does not have
        {"decision": "different_persons", "reviewer": "丙", "reason": "r", "at": "2016-01-04T00:00:00Z",
         "mentions": [{"file": "mzj_医疗救助.csv", "row": 9999, "role": "beneficiary"},
                      {"file": "mzj_医疗救助.csv", "row": 9998, "role": "beneficiary"}]},
    ]
    text = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["run", str(SMALL), "--out", str(out), "--decisions", str(path)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "match nothing" in printed
    counts = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]
    assert counts["decisions_unmatched"] == {"different_persons": 1, "flag_dismissed": 1, "same_person": 1}
    assert counts["decisions_applied"] == 0
    listed = counts["decisions_unmatched_list"]
    assert {u["at"] for u in listed} == {x["at"] for x in lines}
    assert all("甲" not in u["subject"] and "乙" not in u["subject"] for u in listed)  # no personal data
    assert path.read_text(encoding="utf-8") == text  # kept in the file as it was
    assert main(["review", str(out), "--decisions", str(path)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "3 decisions match nothing" in printed and "F-no-such-flag" in printed and "mzj_医疗救助.csv row 9999" in printed


def test_decide_binds_an_identity_decision_to_content(small_run, tmp_path, capsys):
    items = main(["review", str(small_run), "--kind", "identity", "--limit", "1000", "--json"])
    assert items == EXIT_OK
    item = json.loads(capsys.readouterr().out)["items"][0]["item_id"]
    path = tmp_path / "d.jsonl"
    assert main(["decide", str(small_run), item, "--decision", "different", "--reviewer", "甲", "--reason", "r",
                 "--decisions", str(path)]) == EXIT_OK
    capsys.readouterr()
    from relieflink.linkage.continuity import read_run_mentions

    record = json.loads(path.read_text(encoding="utf-8"))
    fingerprints = set(read_run_mentions(small_run)["fingerprint"])
    assert all(m["fingerprint"] in fingerprints and m["file"] and m["row"] for m in record["mentions"])
    # decided: no longer open
    assert main(["review", str(small_run), "--limit", "1000", "--decisions", str(path)]) == EXIT_OK
    assert item not in capsys.readouterr().out


def test_a_base_version_decision_binds_through_the_previous_run(tmp_path):
    """A decision written by the base version (file, row, role of the run it was taken on) holds
    on next month's batch, where those rows have moved and the file is renamed."""
    from relieflink.linkage.continuity import read_run_mentions

    old = read_run_mentions(BASE_OUT)
    rsj = old[old["file"] == "rsj_就业援助.csv"]
    person = old[old["person_id"].isin(rsj["person_id"])].groupby("person_id").filter(lambda g: len(g) >= 3)
    a, b = person[person["person_id"] == person["person_id"].iloc[0]].iloc[[0, -1]].itertuples()
    assert "rsj_就业援助.csv" in (a.file, b.file)
    path = tmp_path / "decisions.jsonl"
    path.write_text(json.dumps({"decision": "different_persons", "reviewer": "甲", "reason": "r",
                                "at": "2016-01-02T00:00:00Z",
                                "mentions": [{"file": x.file, "row": int(x.row), "role": x.role} for x in (a, b)]},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    batch = shuffled_copy(FIXTURES / "small-hard" / "batch", tmp_path / "b", MOVED)
    run = run_batch(batch, tmp_path / "out", previous=BASE_OUT, decisions=path, stages=("ingest", "linkage"))
    new = pd.read_parquet(tmp_path / "out" / "mentions.parquet").set_index("fingerprint")
    assert new.at[a.fingerprint, "file"] != a.file or new.at[a.fingerprint, "row"] != a.row \
        or new.at[b.fingerprint, "file"] != b.file  # the rows did move
    assert new.at[a.fingerprint, "person_id"] != new.at[b.fingerprint, "person_id"]
    assert run.summary()["decisions_unmatched"] == {} and run.summary()["decisions_applied"] == 1


def test_same_person_moves_a_mention_without_id_from_a_person_with_another_valid_id(tmp_path):
    """'This row (no valid ID) is that person': the row leaves the person linkage gave it (who
    holds another valid ID) for the reviewer's, and the two persons stay apart."""
    from relieflink.linkage.continuity import read_run_mentions

    first = run_batch(FIXTURES / "small-hard" / "batch", tmp_path / "out", stages=("ingest", "linkage"))
    m = read_run_mentions(tmp_path / "out")
    ids = first.persons.set_index("person_id")["id_number"]
    m["person_valid_id"] = m["person_id"].map(ids)
    loose = m[m["id_number"].isna() & m["person_valid_id"].notna()].iloc[0]
    other = m[m["id_number"].notna() & (m["person_id"] != loose["person_id"])].iloc[0]
    path = tmp_path / "decisions.jsonl"
    append_decision(path, Decision("same_person", "甲", "per the case file", mentions=(
        MentionKey(loose["file"], int(loose["row"]), loose["role"], loose["fingerprint"]),
        MentionKey(other["file"], int(other["row"]), other["role"], other["fingerprint"]))))
    run = run_batch(FIXTURES / "small-hard" / "batch", tmp_path / "out", stages=("ingest", "linkage"), decisions=path)
    after = pd.read_parquet(tmp_path / "out" / "mentions.parquet").set_index("fingerprint")["person_id"]
    assert run.refused_decisions == []
    assert after[loose["fingerprint"]] == after[other["fingerprint"]] == other["person_id"]
    stayed = m[(m["person_id"] == loose["person_id"]) & (m["fingerprint"] != loose["fingerprint"])]
    assert (after[stayed["fingerprint"]] == loose["person_id"]).all()  # its old person keeps the rest
