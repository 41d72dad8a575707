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
    return ScreeningIndex.open(run_dir)


@pytest.fixture(scope="module")
def dibao_holder(run_dir):
    """A person with a valid ID and a 低保 record covering June 2015, and nothing else of 特困."""
    r = pd.read_parquet(run_dir / "records.parquet")
    start = pd.to_datetime(r["period_start"])
    end = pd.to_datetime(r["period_end"])
    covers = (r["program"] == "MZJ-DB") & (start <= "2015-06-01") & (end.isna() | (end >= "2015-06-30"))
    p = pd.read_parquet(run_dir / "persons.parquet").set_index("person_id", drop=False)
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


# -- the index written by the run ---------------------------------------------------------

def test_the_run_writes_the_index_listed_in_run_json_and_open_reads_it(run_dir, index, dibao_holder, tmp_path):
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert "screening" in manifest["outputs"] and (run_dir / "screening" / "index.json").exists()
    built = ScreeningIndex.from_run(run_dir)
    for program in ("MZJ-TK", "MZJ-DB", "ZGH-SWN"):
        app = _app(dibao_holder, program)
        assert screen(index, app).to_dict(mask=False) == screen(built, app).to_dict(mask=False)
    # the same run's index, written again, has the same bytes
    built.write(tmp_path)
    names = sorted(p.name for p in (run_dir / "screening").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "screening").iterdir())
    for name in names:
        assert (run_dir / "screening" / name).read_bytes() == (tmp_path / "screening" / name).read_bytes(), name


def test_open_builds_the_index_of_a_run_folder_written_before_it(run_dir, dibao_holder, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    shutil.rmtree(old / "screening")
    result = screen(ScreeningIndex.open(old), _app(dibao_holder, "MZJ-TK"))
    assert "EXCL-STATUS" in {c.rule_id for c in result.conflicts}


# -- issue #9: Chinese ID status labels, the MULTI-SOURCE wording ----------------------------

def test_every_id_status_has_a_chinese_label_and_the_cli_prints_it(run_dir, dibao_holder, capsys):
    from relieflink.identity.resident_id import ID_STATUSES
    from relieflink.screening.screen import ID_STATUS_ZH

    assert set(ID_STATUS_ZH) == set(ID_STATUSES)
    valid = dibao_holder["id_number"]
    bad_check = valid[:17] + ("0" if valid[17] != "0" else "1")
    assert main(["screen", str(run_dir), "--name", dibao_holder["name"], "--id", bad_check, "--program", "MZJ-TK",
                 "--start", "2015-06-01"]) == 0
    out = capsys.readouterr().out
    assert "身份证号状态：校验位错误" in out and "check_failed" not in out


def test_many_agencies_lists_what_the_person_receives_without_the_program_applied_for(run_dir, index):
    """A person aided by two agencies in 2015 applies to a third: MULTI-SOURCE, worded on the two."""
    r = pd.read_parquet(run_dir / "records.parquet")
    r = r[r["person_id"].notna() & pd.to_datetime(r["period_start"]).dt.year.eq(2015)]
    p = pd.read_parquet(run_dir / "persons.parquet").set_index("person_id", drop=False)
    agencies = r.groupby("person_id")["agency"].agg(set)
    two = sorted(pid for pid, a in agencies.items() if len(a) == 2 and "zgh" not in a
                 and isinstance(p.at[pid, "id_number"], str))
    person = p.loc[two[0]]
    result = screen(index, _app(person, "ZGH-SWN", start="2015-06-01", end="2015-06-01"))
    multi = [c for c in result.conflicts if c.rule_id == "MULTI-SOURCE"]
    assert multi, [c.rule_id for c in result.conflicts]
    received, applying = multi[0].explanation_zh.split("本次申请")
    assert "送温暖" not in received and applying.startswith("春节送温暖（区总工会）")
    listed = received.split("：", 1)[1].split("（")[0].split("、")
    n_agencies = int(received.split("（", 2)[2].split("个部门")[0]) if "个部门" in received else None
    names = {x.code: x.name for x in index.catalog.programs}
    theirs = {names[c] for c in pd.read_parquet(run_dir / "records.parquet").query("person_id == @person.person_id")["program"]}
    assert set(listed) <= theirs
    assert n_agencies == len(multi[0].agencies) - 1  # the agencies counted are those of the records received


# -- scope: what one agency reads -------------------------------------------------------

def test_an_agency_reads_its_own_records_in_full_and_others_as_agency_program_period(index, dibao_holder):
    from relieflink.visibility import Scope

    result = screen(index, _app(dibao_holder, "MZJ-TK"))
    platform = result.to_dict()
    other = result.to_dict(scope=Scope("zgh"))
    own = result.to_dict(scope=Scope("mzj"))
    assert [b for b in own["benefits"] if b["agency"] == "mzj"] == [b for b in platform["benefits"] if b["agency"] == "mzj"]
    for b in other["benefits"]:
        if b["agency"] != "zgh":
            assert b["amount"] is None and b["records"] is None and b["program"] and "first" in b
    excl = next(c for c in other["conflicts"] if c["rule_id"] == "EXCL-STATUS")
    assert excl["records"] == [] and "金额" not in excl["explanation_zh"] and "条记录" not in excl["explanation_zh"]
    mine = next(c for c in own["conflicts"] if c["rule_id"] == "EXCL-STATUS")
    assert mine["records"] and "条记录" in mine["explanation_zh"]
    # screen(..., scope=) makes it the answer's default
    assert screen(index, _app(dibao_holder, "MZJ-TK"), scope=Scope("zgh")).to_dict() == other


def test_one_id_and_one_name_normalize_as_the_columns_do():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from relieflink.identity.names import normalize_name, normalize_names
    from relieflink.identity.resident_id import normalize_id, normalize_ids

    digits = st.text(alphabet="0123456789", min_size=14, max_size=17)

    @settings(max_examples=200, deadline=None)
    @given(st.one_of(digits.map(lambda b: b + check_char(b.ljust(17, "0")[:17]) if len(b) == 17 else b),
                     digits.map(lambda b: (b + "X")[:18]), st.text(max_size=20)))
    def same_id(raw):
        t = normalize_ids(pd.Series([raw], dtype=object))
        as_table = tuple(v if isinstance(v, str) else None for v in (t["id_status"].iat[0], t["id_number"].iat[0],
                                                                      t["id_clean"].iat[0]))
        assert normalize_id(raw) == as_table

    @settings(max_examples=100, deadline=None)
    @given(st.one_of(st.sampled_from(["张三", " 張 三", "欧阳·娜娜", "李?明", "", "王 小明 "]), st.text(max_size=6)))
    def same_name(raw):
        t = normalize_names(pd.Series([raw], dtype=object))
        assert normalize_name(raw) == tuple(v if isinstance(v, str) else None for v in (t["name"].iat[0], t["name_pinyin"].iat[0]))

    same_id()
    same_name()


def test_a_conflict_the_last_run_flagged_is_marked_already_flagged(run_dir, index):
    flags = pd.read_parquet(run_dir / "flags.parquet")
    dup = flags[flags["rule_id"].eq("EXCL-STATUS")].iloc[0]
    p = pd.read_parquet(run_dir / "persons.parquet").set_index("person_id", drop=False).loc[dup["person_id"]]
    r = pd.read_parquet(run_dir / "records.parquet")
    mine = r[r["person_id"].eq(dup["person_id"]) & r["program"].isin(dup["programs"])]
    program = sorted(mine["program"])[0]
    start = pd.Timestamp(dup["period_start"]).date().isoformat()
    result = screen(index, Application(name=p["name"], id_number=p["id_number"], program=program,
                                       period_start=start, period_end=start))
    same = [c for c in result.conflicts if c.rule_id == "EXCL-STATUS"]
    assert same and same[0].already_flagged
    assert {(x["file"], x["row"]) for x in same[0].records} == {(x["file"], int(x["row"])) for x in dup["records"]}


def test_approving_dibao_opens_the_medical_insurance_subsidy(run_dir, index):
    """The entitlement_missing rules with the application as a record: 低保 makes 医保补贴 due."""
    r = pd.read_parquet(run_dir / "records.parquet")
    p = pd.read_parquet(run_dir / "persons.parquet")
    has = set(r.loc[r["program"].isin(["MZJ-DB", "MZJ-TK", "JD-YBBT"]), "person_id"].dropna())
    person = p[~p["person_id"].isin(has) & p["id_number"].notna()].iloc[0]
    app = dict(name=person["name"], id_number=person["id_number"], period_start="2015-06-01", period_end="2015-12-31")
    opened = screen(index, Application(program="MZJ-DB", **app)).entitlements
    medical = [e for e in opened if e.rule_id == "MISS-MEDICAL-INSURANCE"]
    assert medical and medical[0].opened_by_application and medical[0].programs == ["JD-YBBT"]
    assert medical[0].person_id == person["person_id"]
    assert not [e for e in screen(index, Application(program="ZGH-SWN", **app)).entitlements
                if e.rule_id == "MISS-MEDICAL-INSURANCE"]


def test_records_added_to_the_index_screen_as_if_they_were_of_the_run(run_dir, dibao_holder):
    """ScreeningIndex.with_records (approvals recorded before the next run) against the oracle:
    the index built from the run's tables with those records in. Held out: the 低保 holder's
    latest records, and a whole person (their records, mentions and row of the persons table)."""
    from relieflink.screening.index import MENTION_COLUMNS, PERSON_COLUMNS, RECORD_COLUMNS
    from relieflink.visibility import Scope

    persons = pd.read_parquet(run_dir / "persons.parquet", columns=PERSON_COLUMNS)
    records = pd.read_parquet(run_dir / "records.parquet")
    records = records[[c for c in RECORD_COLUMNS if c in records]]
    mentions = pd.read_parquet(run_dir / "mentions.parquet", columns=MENTION_COLUMNS)
    flags = pd.read_parquet(run_dir / "flags.parquet")
    theirs = records[records["person_id"].eq(dibao_holder["person_id"])].sort_values("record_id")
    with_id = persons[persons["id_number"].notna() & persons["person_id"].ne(dibao_holder["person_id"])]
    gone = with_id.sort_values("person_id").iloc[len(with_id) // 2]
    held = records["record_id"].isin(theirs["record_id"].iloc[-3:]) | records["person_id"].eq(gone["person_id"])
    held_mentions = mentions["record_id"].isin(records.loc[held, "record_id"])
    held_persons = persons["person_id"].eq(gone["person_id"])
    assert held.sum() > 3 and held_persons.sum() == 1

    full = ScreeningIndex.build(persons, records, mentions, flags=flags)
    base = ScreeningIndex.build(persons[~held_persons], records[~held], mentions[~held_mentions], flags=flags)
    joined = base.with_records(records[held], mentions[held_mentions], persons[held_persons])
    assert joined.data.persons.known.sum() == full.data.persons.known.sum()
    assert len(joined.data.records) == len(full.data.records) and len(base.data.records) < len(full.data.records)
    applications = [_app(dibao_holder, "MZJ-DB", subdistrict="jd-hushu"), _app(dibao_holder, "MZJ-TK"),
                    _app(gone, "MZJ-DB"), _app(gone, "MZJ-TK", id_number=None), Application(name=gone["name"],
                    program="JD-LSJZ", period_start="2015-06-01")]
    for app in applications:
        for scope in (Scope(None), Scope("mzj"), Scope("jd-hushu")):
            expected = screen(full, app).to_dict(mask=False, scope=scope)
            assert screen(joined, app).to_dict(mask=False, scope=scope) == expected, (app, scope)
    # the index it was joined to answers as before
    assert not screen(base, _app(gone, "MZJ-DB")).matches
