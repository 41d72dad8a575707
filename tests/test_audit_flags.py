"""One flag per pattern, money once, flag ids from content (issue #8).

Planted records (the rules' own helpers), the generator's truth, and a slow obvious
implementation of "each record's money once" as the oracle.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relieflink.audit import run_audit
from relieflink.audit.rules import RuleSet
from relieflink.audit.truth import true_flags, truth_inputs
from test_audit_rules import CATALOG, RULES, person, rec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def frame(records: list[dict], files: list[str] | None = None, rows: list[int] | None = None) -> pd.DataFrame:
    f = pd.DataFrame(records)
    f["record_id"] = range(len(f))
    f["file"] = files or "f.csv"
    f["row"] = rows or list(f["record_id"] + 2)
    f["source"] = f["agency"]
    return f


def audit(records: pd.DataFrame, persons: pd.DataFrame | None = None, mentions: pd.DataFrame | None = None,
          rules: RuleSet = RULES) -> pd.DataFrame:
    if persons is None:
        ids = sorted(set(records["person_id"]))
        hh = records.drop_duplicates("person_id").set_index("person_id")["household_id"]
        persons = pd.DataFrame([person(p, "1980-01-01", hh[p]) for p in ids])
    if mentions is None:
        mentions = pd.DataFrame({"person_id": records["person_id"], "source": records["source"],
                                 "record_id": records["record_id"], "role": "beneficiary"})
    return run_audit(records, persons, mentions, rules, CATALOG, 2015)


def keys(flags: pd.DataFrame) -> pd.Series:
    return flags["records"].map(lambda rs: frozenset((r["file"], int(r["row"])) for r in rs))


# ---------------------------------------------------------------- one flag per pattern
def test_two_exclusive_statuses_in_two_households_are_one_flag_naming_both_reasons():
    """EXCL-STATUS has two clauses (exclusive statuses; member of two relief households):
    低保 in one household and 低保边缘 in another is one pattern, one flag, money once."""
    flags = audit(frame([rec("MZJ-DB", start="2015-01-01", household_no="A", amount=500.0),
                         rec("MZJ-DBBY", start="2015-07-01", household_no="B", amount=300.0)]))
    excl = flags[flags["rule_id"] == "EXCL-STATUS"]
    assert len(excl) == 1
    flag = excl.iloc[0]
    assert flag["programs"] == ["MZJ-DB", "MZJ-DBBY"] and len(flag["records"]) == 2
    assert flag["amount_at_stake"] == 300.0 * 6  # the smaller of the two, July to December
    assert "互斥" in flag["explanation_zh"] and "两个救助家庭" in flag["explanation_zh"]
    assert "mutually exclusive" in flag["explanation_en"] and "two relief households" in flag["explanation_en"]


def test_missing_both_disability_allowances_is_one_flag_listing_both():
    records = frame([rec("CL-CZ", person="P1", start="2005-01-01", level=1),
                     rec("MZJ-DB", person="P2", start="2014-01-01")])
    flags = audit(records)
    missed = flags[(flags["rule_id"] == "MISS-DISABILITY")]
    assert missed["person_id"].tolist() == ["P1"]
    assert missed["missed_programs"].iat[0] == ["CL-KNBT", "CL-HLBT"]
    names = {p.code: p.name for p in CATALOG.programs}
    assert names["CL-KNBT"] in missed["explanation_zh"].iat[0] and names["CL-HLBT"] in missed["explanation_zh"].iat[0]


def test_temporary_relief_frequency_says_the_limit_it_exceeds():
    """TEMP-FREQ fires above 2 grants in 365 days: the text names the count and the limit it
    exceeds (it once read "365天内最多3次", as if 3 were the limit), in both languages."""
    three = frame([rec("JD-LSJZ", start=d, amount=500.0) for d in ("2015-01-10", "2015-04-10", "2015-08-10")])
    flag = audit(three).query("rule_id == 'TEMP-FREQ'").iloc[0]
    assert "365天内3次，超过规定的2次" in flag["explanation_zh"] and "最多" not in flag["explanation_zh"]
    assert "全年共" not in flag["explanation_zh"]  # every grant is in the window: no second count
    assert "3 within 365 days, more than the 2 allowed" in flag["explanation_en"]
    four = frame([rec("JD-LSJZ", start=d, amount=500.0) for d in ("2014-03-01", "2014-12-01", "2015-02-01", "2015-06-01")])
    flag = audit(four).query("rule_id == 'TEMP-FREQ'").iloc[0]
    assert "365天内3次，超过规定的2次，全年共4次" in flag["explanation_zh"]
    assert "more than the 2 allowed, 4 in all" in flag["explanation_en"]


def test_worker_and_child_named_on_one_golden_autumn_row_are_one_referral():
    """The trade union's 金秋助学 row names the child (beneficiary) and the worker (guardian);
    the household holds no relief status: one referral, on the worker (the elder)."""
    records = frame([rec("ZGH-JQZX", person="P2", start="2015-08-20")])
    persons = pd.DataFrame([person("P1", "1978-05-01"), person("P2", "2005-03-01")])
    mentions = pd.DataFrame({"person_id": ["P2", "P1"], "source": "zgh", "record_id": 0, "role": ["beneficiary", "guardian"]})
    referral = audit(records, persons, mentions).query("rule_id == 'MISS-REFERRAL'")
    assert referral["person_id"].tolist() == ["P1"] and referral["household_id"].tolist() == ["H1"]


@pytest.mark.parametrize("fixture", ["small-default", "small-hard"])
def test_no_two_flags_of_one_rule_share_subject_and_records(fixture):
    flags = true_flags(FIXTURES / fixture / "truth")
    flags = flags.assign(records_key=keys(flags))
    assert not flags.duplicated(["rule_id", "person_id", "records_key"]).any()
    referral = flags[flags["rule_id"] == "MISS-REFERRAL"]
    assert not referral.duplicated(["household_id", "records_key"]).any()
    assert flags["flag_id"].is_unique


# ---------------------------------------------------------------- flag ids from content
def test_flag_ids_hold_when_rows_move_files_are_renamed_and_rules_are_reordered():
    records, persons, mentions = truth_inputs(FIXTURES / "small-default" / "truth", CATALOG)
    before = run_audit(records, persons, mentions, RULES, CATALOG)
    # next month: every file renamed, rows in another order (other row numbers, other record ids)
    moved = records.sample(frac=1.0, random_state=3).reset_index(drop=True)
    new_id = pd.Series(range(len(moved)), index=moved["record_id"].to_numpy())
    moved = moved.assign(record_id=range(len(moved)), file="2016-01_" + moved["file"],
                         row=moved.groupby("file").cumcount() + 2)
    moved_mentions = mentions.assign(record_id=mentions["record_id"].map(new_id))
    reordered = RULES.model_copy(update={"rules": list(reversed(RULES.rules))})
    after = run_audit(moved, persons, moved_mentions, reordered, CATALOG)
    assert sorted(after["flag_id"]) == sorted(before["flag_id"])
    a = before.set_index("flag_id")[["rule_id", "person_id", "evidence", "amount_at_stake", "status"]]
    b = after.set_index("flag_id")[["rule_id", "person_id", "evidence", "amount_at_stake", "status"]]
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())


def test_evidence_changes_with_a_record_but_the_flag_id_does_not():
    dbby = rec("MZJ-DBBY", start="2015-07-01", household_no="B", amount=300.0)
    first = audit(frame([rec("MZJ-DB", start="2015-01-01", household_no="A", amount=500.0), dbby]))
    ended = audit(frame([rec("MZJ-DB", start="2015-01-01", end="2015-09-30", household_no="A", amount=500.0), dbby]))
    f, e = (x[x["rule_id"] == "EXCL-STATUS"].iloc[0] for x in (first, ended))
    assert f["flag_id"] == e["flag_id"] and f["evidence"] != e["evidence"]
    assert e["amount_at_stake"] == 300.0 * 3
    # the same records in another file and row: the same evidence
    renamed = audit(frame([rec("MZJ-DB", start="2015-01-01", household_no="A", amount=500.0), dbby],
                          files=["other.csv", "other.csv"], rows=[90, 7]))
    assert renamed.loc[renamed["rule_id"] == "EXCL-STATUS", "evidence"].iat[0] == f["evidence"]


# ---------------------------------------------------------------- money once
def _two_households_one_program() -> pd.DataFrame:
    """低保 paid in two households at once: DUP-SAME-PROGRAM and EXCL-STATUS cite the same two records."""
    return frame([rec("MZJ-DB", start="2015-01-01", household_no="A", amount=500.0),
                  rec("MZJ-DB", start="2015-07-01", household_no="B", amount=300.0, agency="jd-hushu")])


def test_two_rules_on_the_same_records_count_the_money_once():
    from relieflink.audit.money import by_rule, total

    flags = audit(_two_households_one_program())
    findings = flags[flags["status"] == "finding"]  # with MISS-MEDICAL-INSURANCE: no money at stake
    paid = findings[findings["amount_at_stake"] > 0]
    assert paid["rule_id"].tolist() == ["DUP-SAME-PROGRAM", "EXCL-STATUS"]
    assert paid["amount_at_stake"].tolist() == [1800.0, 1800.0]  # each flag states its own amount
    assert total(findings) == 1800.0                                 # the headline counts the record once
    assert by_rule(findings).to_dict() == {"DUP-SAME-PROGRAM": 1800.0, "EXCL-STATUS": 1800.0}  # "of which"


def test_report_headline_and_agencies_count_each_record_once():
    from relieflink.report.data import build
    from relieflink.report.html import counts_by, money_by_agency, summary_items

    records = _two_households_one_program()
    flags = audit(records)
    data = build(catalog=CATALOG, ruleset=RULES, flags=flags, records=records.assign(subdistrict=None),
                 persons=pd.DataFrame([person("P1", "1980-01-01")]), mentions=pd.DataFrame(), quarantine=pd.DataFrame(),
                 manifest={})
    headline = dict((k, v) for k, v, _ in summary_items(data))["涉及金额（发现，元）"]
    assert headline == "1,800.00"
    by_agency = money_by_agency(data).set_index("key")["amount_finding"]
    assert by_agency.sum() == 1800.0 and by_agency["jd-hushu"] == 1800.0  # the smaller payment was the subdistrict's
    agencies = counts_by(data, "agencies", [a.code for a in CATALOG.agencies]).set_index("key")
    assert agencies["amount_finding"].sum() == 1800.0


_record = st.tuples(st.sampled_from(["a.csv", "b.csv"]), st.integers(2, 6))
_flag = st.tuples(st.sampled_from(["R1", "R2", "R3"]),
                  st.lists(st.tuples(_record, st.sampled_from([0.0, 10.0, 25.5, 100.0, None])), min_size=1, max_size=4))


@settings(max_examples=200, deadline=None)
@given(st.lists(_flag, max_size=8))
def test_money_once_against_a_slow_obvious_implementation(spec):
    """However flags overlap, a total takes each record once, with the largest amount a flag
    puts on it; per rule each record once within the rule; per agency the agencies add up to the total."""
    from relieflink.audit import money

    rows = []
    for i, (rule, recs) in enumerate(spec):
        records = list({r: a for r, a in recs}.items())  # a flag cites a record once
        rows.append({"flag_id": f"F{i:03d}", "rule_id": rule,
                     "records": [{"file": f, "row": w, "amount_at_stake": a} for (f, w), a in records],
                     "amount_at_stake": sum(a or 0.0 for _, a in records)})
    flags = pd.DataFrame(rows, columns=["flag_id", "rule_id", "records", "amount_at_stake"])

    largest: dict[tuple, float] = {}
    per_rule: dict[str, dict[tuple, float]] = {}
    for row in rows:
        for r in row["records"]:
            key, amount = (r["file"], r["row"]), r["amount_at_stake"] or 0.0
            largest[key] = max(largest.get(key, 0.0), amount)
            rule = per_rule.setdefault(row["rule_id"], {})
            rule[key] = max(rule.get(key, 0.0), amount)
    assert money.total(flags) == pytest.approx(sum(largest.values()))
    got = money.by_rule(flags)
    for rule, amounts in per_rule.items():
        assert float(got.get(rule, 0.0)) == pytest.approx(sum(amounts.values()))
    agency_of = pd.Series({f"{f}\x1f{w}": "mzj" if f == "a.csv" else "cl" for f in ("a.csv", "b.csv") for w in range(2, 7)})
    assert money.by_record(flags, agency_of).sum() == pytest.approx(sum(largest.values()))
