"""Flag decisions bound to content (issue #8): they hold when rows move and files are renamed,
say when the evidence changed since, and a decision that matches nothing is listed, kept and
not applied — never silently ignored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from relieflink.pipeline import run_batch
from relieflink.review import Decision, load_decisions
from relieflink.review.apply import apply_flag_decisions, unmatched_decisions
from relieflink.synth import generate_batch
from test_audit_flags import audit, frame
from test_audit_rules import rec

# a flag id as the base version wrote them (hash of file, row and clause): matches no flag now
OLD_STYLE = '{"at": "2016-01-05T08:00:00Z", "decision": "flag_dismissed", "flag_id": "F1b2c3d4e5f607182", ' \
            '"reason": "handled", "reviewer": "审核员"}\n'


def _excl_status(end: str | None = None) -> pd.Series:
    flags = audit(frame([rec("MZJ-DB", start="2015-01-01", end=end, household_no="A", amount=500.0),
                         rec("MZJ-DBBY", start="2015-07-01", household_no="B", amount=300.0)]))
    return flags, flags[flags["rule_id"] == "EXCL-STATUS"].iloc[0]


def test_a_decision_holds_when_the_evidence_changes_and_the_flag_says_so():
    from relieflink.audit.output import EVIDENCE_CHANGED

    flags, flag = _excl_status()
    decision = Decision("flag_dismissed", "审核员甲", "两户已核实", flag_id=flag["flag_id"], evidence=flag["evidence"])
    same = apply_flag_decisions(flags, [decision])
    row = same.set_index("flag_id").loc[flag["flag_id"]]
    assert row["decision"] == "dismissed" and pd.isna(row["decision_note"])
    assert unmatched_decisions([decision], None, flags["flag_id"]) == []
    # next month the 低保 record has an end month: the same flag, other evidence
    later, _ = _excl_status(end="2015-09-30")
    changed = apply_flag_decisions(later, [decision])
    row = changed.set_index("flag_id").loc[flag["flag_id"]]
    assert row["decision"] == "dismissed" and row["decision_note"] == EVIDENCE_CHANGED
    assert unmatched_decisions([decision], None, later["flag_id"]) == []


def test_a_decision_matching_no_flag_is_returned_not_applied(tmp_path):
    flags, flag = _excl_status()
    path = tmp_path / "decisions.jsonl"
    path.write_text(OLD_STYLE, encoding="utf-8")  # written by an older version: still loads
    decisions = load_decisions(path)
    out = apply_flag_decisions(flags, decisions)
    unmatched = unmatched_decisions(decisions, None, flags["flag_id"])
    assert [u.as_dict() for u in unmatched] == [{"decision": "flag_dismissed", "at": "2016-01-05T08:00:00Z",
                                                 "subject": "flag F1b2c3d4e5f607182: no such flag in this run"}]
    assert out["decision"].isna().all()


def _next_month(batch: Path, dest: Path, renamed: str) -> str:
    """The same exports as next month delivers them: every CSV's data lines in reverse order,
    one file renamed. Returns the new name."""
    shutil.copytree(batch, dest)
    for path in dest.glob("*.csv"):
        header, *lines = path.read_bytes().split(b"\n")
        last = lines.pop() if lines and lines[-1] == b"" else None
        path.write_bytes(b"\n".join([header, *reversed(lines), *([last] if last is not None else [])]))
    old = dest / renamed
    new = old.with_name(old.stem + "_2016年1月" + old.suffix)
    old.rename(new)
    return new.name


@pytest.fixture(scope="module")
def month_one(tmp_path_factory):
    root = tmp_path_factory.mktemp("months")
    generate_batch(root / "gen", persons=1200, seed=21, profile="default")
    run_batch(root / "gen" / "batch", root / "m1", decisions=None)
    return root


def test_a_dismissed_flag_stays_dismissed_when_rows_move_and_a_file_is_renamed(month_one, capsys):
    from relieflink.cli import main

    root = month_one
    flags = pd.read_parquet(root / "m1" / "flags.parquet")
    persons = pd.read_parquet(root / "m1" / "persons.parquet").set_index("person_id")
    # a review item of a person with a valid ID that cites a CSV row (whose row number will change)
    with_csv = flags["records"].map(lambda rs: any(str(r["file"]).endswith(".csv") for r in rs))
    known = flags["person_id"].map(persons["id_number"]).notna()
    item = flags[(flags["status"] == "review") & with_csv & known & (flags["rule_id"] != "MISS-REFERRAL")].iloc[0]
    decisions = root / "decisions.jsonl"
    assert main(["decide", str(root / "m1"), item["flag_id"], "--decision", "dismiss", "--reviewer", "审核员甲",
                 "--reason", "已核实", "--decisions", str(decisions)]) == 0
    stored = json.loads(decisions.read_text(encoding="utf-8").splitlines()[-1])
    assert stored["flag_id"] == item["flag_id"]
    with decisions.open("a", encoding="utf-8") as handle:
        handle.write(OLD_STYLE)
    kept = decisions.read_bytes()

    csv_file = next(str(r["file"]) for r in item["records"] if str(r["file"]).endswith(".csv"))
    renamed = _next_month(root / "gen" / "batch", root / "batch2", csv_file)
    run = run_batch(root / "batch2", root / "m2", decisions=decisions)
    again = pd.read_parquet(root / "m2" / "flags.parquet").set_index("flag_id")
    row = again.loc[item["flag_id"]]
    assert row["decision"] == "dismissed" and row["decided_by"] == "审核员甲" and pd.isna(row["decision_note"])
    assert renamed in {r["file"] for r in row["records"]}  # the same flag, on the renamed file's rows
    assert {(r["file"], r["row"]) for r in row["records"]} != {(r["file"], r["row"]) for r in item["records"]}
    assert stored["evidence"] == item["evidence"] == row["evidence"]  # `decide` keeps what the reviewer saw
    # the decision taken on an old id matches nothing: listed, kept in the file, not applied
    summary = run.summary()
    assert summary["decisions_unmatched"] == {"flag_dismissed": 1}
    assert summary["decisions_unmatched_list"] == [{"decision": "flag_dismissed", "at": "2016-01-05T08:00:00Z",
                                                    "subject": "flag F1b2c3d4e5f607182: no such flag in this run"}]
    assert summary["decisions_applied"] == 1
    counts = json.loads((root / "m2" / "run.json").read_text(encoding="utf-8"))["counts"]
    assert counts["decisions_unmatched"] == summary["decisions_unmatched"]
    assert counts["decisions_unmatched_list"] == summary["decisions_unmatched_list"]
    assert decisions.read_bytes() == kept
    capsys.readouterr()
    assert main(["review", str(root / "m2"), "--decisions", str(decisions)]) == 0
    out = capsys.readouterr().out
    assert "1 decision matches nothing in this run" in out and "F1b2c3d4e5f607182" in out
    assert item["flag_id"] not in out  # dismissed: no longer an open item
