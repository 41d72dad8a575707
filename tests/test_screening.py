"""Screening (联审联批): one application against the last run — matches, benefits, conflicts."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from relieflink.cli import main
from relieflink.identity.resident_id import check_char
from relieflink.pipeline import run_batch
from relieflink.screening import Application, ScreeningIndex, screen
from relieflink.screening.screen import _id_variants

from conftest import FIXTURES


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("screening") / "run"
    run_batch(FIXTURES / "small-default" / "batch", out)
    return out


@pytest.fixture(scope="module")
def index(run_dir):
    return ScreeningIndex.from_run(run_dir)


@pytest.fixture(scope="module")
def dibao_holder(index):
    """A person with a valid ID and a 低保 record covering June 2015, and nothing else of 特困."""
    r = index.records
    start = pd.to_datetime(r["period_start"])
    end = pd.to_datetime(r["period_end"])
    covers = (r["program"] == "MZJ-DB") & (start <= "2015-06-01") & (end.isna() | (end >= "2015-06-30"))
    p = index.persons
    tk = set(r.loc[r["program"] == "MZJ-TK", "person_id"])
    ok = [pid for pid in r.loc[covers, "person_id"].unique()
          if isinstance(p.at[pid, "id_number"], str) and pid not in tk]
    pid = sorted(ok)[0]
    return p.loc[pid]


def _app(person, program, start="2015-06-01", end="2015-06-30", **kw):
    return Application(name=person["name"], id_number=kw.pop("id_number", person["id_number"]), program=program,
                       period_start=start, period_end=end, **kw)


def test_dibao_holder_applying_for_tekun_is_an_exclusive_status(index, dibao_holder):
    result = screen(index, _app(dibao_holder, "MZJ-TK"))
    assert [(m.person_id, m.how) for m in result.matches][0] == (dibao_holder["person_id"], "valid_id")
    assert "MZJ-DB" in {b.program for b in result.benefits if b.person_id == dibao_holder["person_id"]}
    rules = {c.rule_id for c in result.conflicts if not c.already_flagged}
    assert "EXCL-STATUS" in rules
    excl = next(c for c in result.conflicts if c.rule_id == "EXCL-STATUS")
    assert excl.records and all(r["file"] != "（本次申请）" for r in excl.records)
    assert excl.status == "finding"  # a valid ID: the identity is certain


def test_dibao_again_is_a_duplicate_and_a_far_year_is_not(index, dibao_holder):
    again = screen(index, _app(dibao_holder, "MZJ-DB", subdistrict="jd-hushu"))
    assert "DUP-SAME-PROGRAM" in {c.rule_id for c in again.conflicts}
    later = screen(index, _app(dibao_holder, "ZGH-SWN", start="2031-01-20", end="2031-01-20"))
    assert not [c for c in later.conflicts if c.rule_id.startswith(("DUP", "EXCL"))]


def test_an_id_one_typo_away_matches_only_under_the_same_name(index, dibao_holder):
    valid = dibao_holder["id_number"]
    body = valid[:17]
    typo = body[:15] + str((int(body[15]) + 1) % 10) + body[16:]  # a sequence digit mistyped
    typo += valid[17]  # the check character now fails
    result = screen(index, _app(dibao_holder, "MZJ-TK", id_number=typo))
    assert result.id_status == "check_failed"
    assert (dibao_holder["person_id"], "id_typo") in {(m.person_id, m.how) for m in result.matches}
    # the check character alone mistyped: one typo away
    bad_check = body + ("0" if valid[17] != "0" else "1")
    result = screen(index, _app(dibao_holder, "MZJ-TK", id_number=bad_check))
    assert (dibao_holder["person_id"], "id_typo") in {(m.person_id, m.how) for m in result.matches}
    # ... but not under another name
    other = Application(name="欧阳无名", id_number=bad_check, program="MZJ-TK", period_start="2015-06-01")
    assert dibao_holder["person_id"] not in {m.person_id for m in screen(index, other).matches}


def test_id_variants_are_valid_and_one_typo_away():
    valid = "11010519491231002X"
    variants = _id_variants(valid[:17] + "5")
    assert valid in variants
    assert all(v[17] == check_char(v[:17]) for v in variants)
    assert all(sum(a != b for a, b in zip(v[:17], valid[:17])) <= 2 for v in _id_variants(valid))


def test_unknown_applicant_has_no_match_and_no_conflict(index):
    result = screen(index, Application(name="欧阳无名", program="MZJ-DB", period_start="2015-06-01"))
    assert result.matches == [] and result.conflicts == [] and result.benefits == []


def test_bad_applications_are_refused_with_what_to_do(index):
    with pytest.raises(ValueError, match=r"unknown program 'MZJ-XX'.*programs\.yaml"):
        screen(index, Application(name="张三", program="MZJ-XX", period_start="2015-06-01"))
    with pytest.raises(ValueError, match="ends before it starts"):
        screen(index, Application(name="张三", program="MZJ-DB", period_start="2015-06-01", period_end="2015-05-01"))


def test_results_are_masked_unless_asked(index, dibao_holder):
    result = screen(index, _app(dibao_holder, "MZJ-TK"))
    masked = json.dumps(result.to_dict(), ensure_ascii=False)
    assert dibao_holder["id_number"] not in masked and dibao_holder["name"] not in masked
    assert dibao_holder["id_number"] in json.dumps(result.to_dict(mask=False), ensure_ascii=False)


def test_screening_is_deterministic(index, dibao_holder):
    a = screen(index, _app(dibao_holder, "MZJ-TK")).to_dict()
    b = screen(index, _app(dibao_holder, "MZJ-TK")).to_dict()
    assert a == b


def test_cli_screen(run_dir, dibao_holder, capsys, tmp_path):
    args = ["screen", str(run_dir), "--name", dibao_holder["name"], "--id", dibao_holder["id_number"],
            "--program", "MZJ-TK", "--start", "2015-06-01", "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["matches"][0]["how"] == "valid_id" and any(c["rule_id"] == "EXCL-STATUS" for c in data["conflicts"])
    assert main(["screen", str(run_dir), "--name", "张三", "--program", "MZJ-XX", "--start", "2015-06-01"]) == 2
    assert main(["screen", str(tmp_path / "nope"), "--name", "张三", "--program", "MZJ-DB", "--start", "2015-06-01"]) == 4


def test_an_empty_name_with_a_valid_id_finds_the_person(index, run_dir, dibao_holder, capsys):
    for name in ("", "  "):
        result = screen(index, Application(name=name, id_number=dibao_holder["id_number"], program="MZJ-TK",
                                           period_start="2015-06-01", period_end="2015-06-30"))
        assert [(m.person_id, m.how) for m in result.matches] == [(dibao_holder["person_id"], "valid_id")]
        assert any(c.rule_id == "EXCL-STATUS" for c in result.conflicts)
    args = ["screen", str(run_dir), "--name", "", "--id", dibao_holder["id_number"], "--program", "MZJ-TK",
            "--start", "2015-06-01", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["matches"][0]["person_id"] == dibao_holder["person_id"]
    with pytest.raises(ValueError, match="needs the applicant's name or resident ID"):
        screen(index, Application(name="", program="MZJ-DB", period_start="2015-06-01"))


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("amount", ["-100", "nan", "inf", "-inf"])
def test_an_amount_that_is_not_a_sum_of_money_is_refused(run_dir, dibao_holder, amount, capsys):
    args = ["screen", str(run_dir), "--name", dibao_holder["name"], "--id", dibao_holder["id_number"],
            "--program", "MZJ-DB", "--start", "2015-06-01", "--json", f"--amount={amount}"]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "must be a number of yuan, 0 or more" in captured.err


def test_json_answers_are_strict_json(run_dir, dibao_holder, capsys):
    from relieflink.outputs import json_text

    assert _strict_json(json_text({"amount": float("nan"), "x": [float("inf"), 1.5]})) == {"amount": None, "x": [None, 1.5]}
    for amount in ([], ["--amount", "0"], ["--amount", "1200.5"]):
        args = ["screen", str(run_dir), "--name", dibao_holder["name"], "--id", dibao_holder["id_number"],
                "--program", "MZJ-TK", "--start", "2015-06-01", "--json", *amount]
        assert main(args) == 0
        data = _strict_json(capsys.readouterr().out)
        assert data["application"]["amount"] == (float(amount[1]) if amount else None)
