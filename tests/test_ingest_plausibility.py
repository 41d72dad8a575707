"""Values that read well but cannot be true (issue #8: "accepts nonsense silently").

Thresholds come from ``schemas/plausibility.yaml``; each test plants a value on
one side of a threshold and checks the quarantine, the record and, where it
matters, the money at stake of the audit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relieflink.ingest.pipeline import ingest_batch

JD_HEADER = "序号,申请人,身份证号,联系电话,所属社区,救助类型,救助事由,救助金额,审批日期,经办人"
WANG = "王芳,330105198703105467,13812345678,卖鱼桥社区"
LI = "李强,330105197001011234,0571-88849709,双荡弄"
RSJ_HEADER = "姓名,公民身份号码,人员类别,补贴类型,补贴起始年月,补贴终止年月,月补贴额,联系电话,所属街道"
MED_HEADER = "姓名,身份证号,救助类别,医院,入院日期,出院日期,医疗总费用,救助金额,所属街道"
PERIOD_2015 = (dt.date(2015, 1, 1), dt.date(2015, 12, 31))


def _grant(serial: int, who: str, amount: str, date: str, kind: str = "临时救助") -> str:
    return f"{serial},{who},{kind},因病,{amount},{date},赵敏"


def _batch(tmp_path: Path, files: dict[str, list[str]], encoding: str = "gbk") -> Path:
    d = tmp_path / "batch"
    d.mkdir(parents=True)
    for name, lines in files.items():
        (d / name).write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return d


def _q(result, problem: str) -> pd.DataFrame:
    q = result.quarantine
    return q[q["problem"] == problem].reset_index(drop=True)


def test_absurd_amount_is_dropped_and_the_row_kept(tmp_path, ingest_config):
    d = _batch(tmp_path, {"jd-hushu_临时救助.csv": [
        JD_HEADER, _grant(1, WANG, "99999999999999", "2015-03-05"), _grant(2, LI, "200000", "2015-04-05"),
        _grant(3, LI, "200000.01", "2015-05-05")]})
    result = ingest_batch(d, ingest_config)
    assert result.records["row"].tolist() == [2, 3, 4]
    assert result.records["amount"].tolist()[1] == 200000.0  # at the limit: credible
    assert result.records["amount"].isna().tolist() == [True, False, True]
    found = _q(result, "implausible_amount")
    assert found[["row", "column", "action", "raw_value"]].values.tolist() == [
        [2, "救助金额", "value_dropped", "99999999999999"], [4, "救助金额", "value_dropped", "200000.01"]]
    assert "200,000 yuan" in found["message"].iat[0]
    assert "plausibility.yaml amounts.max_per_record" in found["message"].iat[0]
    assert "99999" not in found["message"].iat[0]  # the value is in raw_value, not in the message


def test_amount_limits_depend_on_the_program_and_the_basis(tmp_path, ingest_config):
    d = _batch(tmp_path, {
        "mzj_医疗救助.csv": [MED_HEADER,
                          "王芳,330105198703105467,大病救助,浙一医院,2015-03-01,2015-04-01,800000,300000,湖墅街道",
                          "李强,330105197001011234,住院救助,浙一医院,2015-03-01,2015-03-09,9000,1000001,湖墅街道"],
        "rsj_就业援助.csv": [RSJ_HEADER,
                          "王芳,330105198703105467,就业困难人员,公益性岗位补贴,201501,201512,1650,13812345678,湖墅街道",
                          "李强,330105197001011234,就业困难人员,公益性岗位补贴,201501,201512,50001,13812345678,湖墅街道"],
    }, encoding="utf-8")
    result = ingest_batch(d, ingest_config)
    amounts = result.records.set_index(["file", "row"])["amount"]
    assert amounts[("mzj_医疗救助.csv", 2)] == 300000.0  # a catastrophic illness: credible
    assert pd.isna(amounts[("mzj_医疗救助.csv", 3)])
    assert amounts[("rsj_就业援助.csv", 2)] == 1650.0
    assert pd.isna(amounts[("rsj_就业援助.csv", 3)])  # ¥50,001 a month
    found = _q(result, "implausible_amount").set_index("file")["message"]
    assert "amounts.by_program.MZJ-YLJZ" in found["mzj_医疗救助.csv"]
    assert "50,000 yuan" in found["rsj_就业援助.csv"] and "amounts.max_per_month" in found["rsj_就业援助.csv"]


def test_an_absurd_amount_is_no_money_at_stake(tmp_path, ingest_config):
    """Two identical grants (a duplicate) of ¥99,999,999,999,999: flagged, but not as 100 trillion yuan."""
    from relieflink.pipeline import run_batch

    d = _batch(tmp_path, {"jd-hushu_临时救助.csv": [
        JD_HEADER, _grant(1, WANG, "99999999999999", "2015-03-05"), _grant(2, WANG, "99999999999999", "2015-03-05"),
        _grant(3, LI, "800", "2015-03-05"), _grant(4, LI, "800", "2015-03-05")]})
    run = run_batch(d, tmp_path / "out", config=ingest_config)
    dup = run.flags[run.flags["rule_id"] == "DUP-SAME-PROGRAM"]
    assert len(dup) == 2  # both duplicates are still found
    assert dup["amount_at_stake"].fillna(0).max() == 800.0


def test_end_before_start_covers_the_start_period_only(tmp_path, ingest_config):
    d = _batch(tmp_path, {"rsj_就业援助.csv": [
        RSJ_HEADER,
        "王芳,330105198703105467,就业困难人员,公益性岗位补贴,201506,201503,1650,13812345678,湖墅街道",
        "李强,330105197001011234,就业困难人员,公益性岗位补贴,201503,201506,1650,13812345678,湖墅街道"]})
    result = ingest_batch(d, ingest_config)
    rec = result.records.set_index("row")
    assert rec.loc[2, "period_start"] == pd.Timestamp("2015-06-01")
    assert rec.loc[2, "period_end"] == pd.Timestamp("2015-06-30")
    assert rec.loc[3, "period_end"] == pd.Timestamp("2015-06-30")  # a sound period is untouched
    assert (result.records["period_end"] >= result.records["period_start"]).all()
    found = _q(result, "end_before_start")
    assert found[["row", "column", "action", "raw_value"]].values.tolist() == [[2, "补贴终止年月", "noted", "201503"]]


def test_an_episode_ending_before_it_starts(tmp_path, ingest_config):
    d = _batch(tmp_path, {"mzj_医疗救助.csv": [
        MED_HEADER, "王芳,330105198703105467,住院救助,浙一医院,2015-03-09,2015-03-01,9000,3000,湖墅街道"]},
        encoding="utf-8")
    result = ingest_batch(d, ingest_config)
    assert result.records["period_end"].iat[0] == result.records["period_start"].iat[0] == pd.Timestamp("2015-03-09")
    assert _q(result, "end_before_start")["column"].tolist() == ["出院日期"]


def test_approval_date_of_1900_rejects_the_row(tmp_path, ingest_config):
    d = _batch(tmp_path, {"jd-hushu_临时救助.csv": [
        JD_HEADER, _grant(1, WANG, "800", "1900-01-01"), _grant(2, LI, "800", "1990-01-01"),
        _grant(3, LI, "800", "1989-12-31")]})
    result = ingest_batch(d, ingest_config)
    assert result.records["row"].tolist() == [3]
    found = _q(result, "implausible_date")
    assert found[["row", "column", "action", "raw_value"]].values.tolist() == [
        [2, "审批日期", "row_rejected", "1900-01-01"], [4, "审批日期", "row_rejected", "1989-12-31"]]
    assert "1990-01-01, the earliest credible date of a record" in found["message"].iat[0]


def test_dates_far_outside_the_audit_period(tmp_path, ingest_config):
    lines = [JD_HEADER, _grant(1, WANG, "800", "2020-12-31"), _grant(2, LI, "800", "2021-01-01"),
             _grant(3, LI, "800", "1985-12-31"), _grant(4, WANG, "800", "2095-03-05")]
    d = _batch(tmp_path, {"jd-hushu_临时救助.csv": lines})
    # without an audit period only the absolute bounds apply
    assert ingest_batch(d, ingest_config).records["row"].tolist() == [2, 3, 5]
    result = ingest_batch(d, ingest_config, audit_period=PERIOD_2015)
    assert result.records["row"].tolist() == [2]
    found = _q(result, "implausible_date")
    assert found["row"].tolist() == [3, 4, 5]
    messages = found.set_index("row")["message"]
    assert "2020-12-31, 5 years after the audit period" in messages[3]
    assert "1990-01-01, the earliest credible date of a record" in messages[4]  # later than 30 years before 2015
    # the same batch audited for 2050: 30 years before it is the stricter bound
    late = ingest_batch(d, ingest_config, audit_period=(dt.date(2050, 1, 1), dt.date(2050, 12, 31)))
    assert late.records["row"].tolist() == [2, 3]
    assert "2020-01-01, 30 years before the audit period" in _q(late, "implausible_date").set_index("row")["message"][4]


def test_birth_dates_outside_their_bounds_are_dropped(tmp_path, ingest_config):
    """The bounds come from the configuration: here an earliest birth date of 1930 (the shipped
    1900-01-01 is also where the date parser stops) and the end of the audit period."""
    from dataclasses import replace

    from openpyxl import Workbook

    header = ["户编号", "户主姓名", "户主身份证号", "成员姓名", "成员身份证号", "与户主关系", "性别", "出生日期",
              "保障类别", "月保障金额", "保障起始年月", "保障终止年月", "所属街道", "所属社区", "家庭住址", "联系电话"]
    rows = [["H1", "王芳", None, "王芳", None, "户主", "女", "1929-12-31", "低保", 744, "201501", None, "湖墅街道"],
            ["H1", "王芳", None, "王小明", None, "子", "男", "2016-03-01", "低保", None, "201501", None, "湖墅街道"],
            ["H1", "王芳", None, "王小红", None, "女", "女", "2015-12-31", "低保", None, "201501", None, "湖墅街道"]]
    wb = Workbook()
    ws = wb.active
    ws.title = "保障对象"
    for row in [header, *rows]:
        ws.append(row)
    d = tmp_path / "batch"
    d.mkdir()
    wb.save(d / "mzj_低保低边特困.xlsx")
    limits = ingest_config.plausibility
    earliest = limits.dates.earliest.model_copy(update={"birth_date": dt.date(1930, 1, 1)})
    limits = limits.model_copy(update={"dates": limits.dates.model_copy(update={"earliest": earliest})})
    result = ingest_batch(d, replace(ingest_config, plausibility=limits), audit_period=PERIOD_2015)
    assert result.records["row"].tolist() == [2, 3, 4]
    members = result.mentions[result.mentions["role"] == "beneficiary"].set_index("row")["birth_date"]
    assert members.isna().tolist() == [True, True, False]
    found = _q(result, "implausible_date")
    assert found[["row", "column", "action", "raw_value"]].values.tolist() == [
        [2, "出生日期", "value_dropped", "1929-12-31"], [3, "出生日期", "value_dropped", "2016-03-01"]]
    assert "1930-01-01, the earliest credible birth date" in found["message"].iat[0]
    assert "2015-12-31, the end of the audit period" in found["message"].iat[1]


# ---------------------------------------------------------------- reversals (冲正)


def test_a_reversal_is_linked_to_the_record_it_reverses(tmp_path, ingest_config):
    d = _batch(tmp_path, {"jd-hushu_临时救助.csv": [
        JD_HEADER,
        _grant(1, WANG, "800", "2015-03-05"),    # row 2: reversed by row 5 (the earliest of two)
        _grant(2, WANG, "800", "2015-03-05"),    # row 3: not reversed
        _grant(3, WANG, "500", "2015-03-05"),    # row 4: another amount
        _grant(4, WANG, "-800", "2015-03-05"),   # row 5: reverses row 2
        _grant(5, LI, "-800", "2015-03-05"),     # row 6: another person: nothing to reverse here
        _grant(6, WANG, "-500", "2015-04-05"),   # row 7: another date: nothing to reverse here
    ]})
    result = ingest_batch(d, ingest_config)
    rec = result.records.set_index("row")
    assert rec["amount"].tolist() == [800, 800, 500, -800, -800, -500]  # kept as delivered
    reverses = rec["reverses_record_id"]
    assert reverses[5] == rec.loc[2, "record_id"]
    assert reverses.drop(5).isna().all()
    noted = _q(result, "negative_amount")
    assert noted[["row", "column", "action"]].values.tolist() == [
        [5, "救助金额", "noted"], [6, "救助金额", "noted"], [7, "救助金额", "noted"]]
    assert "reversal (冲正) of row 2" in noted["message"].iat[0]
    assert "not in this file" in noted["message"].iat[1]
    assert _q(result, "reversed_record")[["row", "action"]].values.tolist() == [[2, "noted"]]


def test_a_payment_and_its_reversal_are_no_duplicate(tmp_path, ingest_config):
    from relieflink.pipeline import run_batch

    def dup_flags(amounts: list[str]) -> pd.DataFrame:
        lines = [JD_HEADER] + [_grant(i + 1, WANG, a, "2015-03-05") for i, a in enumerate(amounts)]
        d = _batch(tmp_path / "-".join(amounts), {"jd-hushu_临时救助.csv": lines})
        run = run_batch(d, tmp_path / "-".join(amounts) / "out", config=ingest_config)
        return run.flags[run.flags["rule_id"] == "DUP-SAME-PROGRAM"]

    assert len(dup_flags(["800", "800"])) == 1  # the control: paid twice
    assert dup_flags(["800", "-800"]).empty
    # rows 2 and 3 cancel out; row 4 is a payment like any other, and no duplicate on its own
    assert dup_flags(["800", "-800", "800"]).empty
    assert dup_flags(["800", "-800", "800", "800"])["records"].map(len).tolist() == [2]


def test_reversal_matching_against_a_slow_oracle():
    """match_reversals against a direct implementation: for each reversal in row order, the first
    earlier-unclaimed record of the same key with the opposite amount."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from relieflink.ingest.plausibility import match_reversals

    row = st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["P1", "P2"]), st.sampled_from([None, "c"]),
                    st.sampled_from([100.0, -100.0, 50.0, -50.0, 0.0, None]))

    @settings(max_examples=200, deadline=None)
    @given(st.lists(row, max_size=12))
    def check(rows):
        frame = pd.DataFrame(rows, columns=["who", "program", "category", "amount"]) if rows else \
            pd.DataFrame(columns=["who", "program", "category", "amount"])
        frame["period_start"] = pd.Timestamp("2015-03-05")
        frame["period_end"] = pd.Timestamp("2015-03-05")
        got = match_reversals(frame, frame["who"])
        claimed: set[int] = set()
        want = []
        for i, (who, program, category, amount) in enumerate(rows):
            match = -1
            if amount is not None and amount < 0:
                for j, (w2, p2, c2, a2) in enumerate(rows):
                    if j not in claimed and (w2, p2, c2) == (who, program, category) and a2 == -amount:
                        match = j
                        claimed.add(j)
                        break
            want.append(match)
        assert got.tolist() == want

    check()


# ---------------------------------------------------------------- the configuration


def _write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plausibility.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_thresholds_load():
    from relieflink.config import load_catalog, load_plausibility

    limits = load_plausibility(catalog=load_catalog())
    assert limits.amounts.limit("MZJ-YLJZ", "record") == 1_000_000
    assert limits.amounts.limit("JD-LSJZ", "record") == 200_000
    assert limits.amounts.limit("MZJ-DB", "month") == 50_000
    assert limits.dates.earliest.birth_date == dt.date(1900, 1, 1)


@pytest.mark.parametrize(("old", "new", "key"), [
    ("max_per_month:", "max_per_mnth:", "amounts.max_per_mnth"),
    ("years_after: 5", "years_after: -1", "dates.audit_period.years_after"),
    ("birth_date: 1900-01-01", "birth_date: yesterday", "dates.earliest.birth_date"),
    ("MZJ-YLJZ: 1000000", "MZJ-YLJX: 1000000", "amounts.by_program.MZJ-YLJX"),
])
def test_a_wrong_key_or_value_names_the_file_and_the_key(tmp_path, old, new, key):
    from relieflink.config import ConfigError, load_catalog, load_plausibility, packaged_schemas_dir

    text = (packaged_schemas_dir() / "plausibility.yaml").read_text(encoding="utf-8")
    assert old in text
    path = _write_config(tmp_path, text.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_plausibility(path, catalog=load_catalog())
    assert str(path) in str(err.value) and key in str(err.value)
