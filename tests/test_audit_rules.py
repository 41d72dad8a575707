"""Each rule on both sides of its boundary, with small hand-written records (issue #4)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relieflink.audit import audit_records, load_rules, run_audit
from relieflink.config import load_catalog

CATALOG = load_catalog()
RULES = load_rules(catalog=CATALOG)
PERIODICITY = {p.code: p.periodicity for p in CATALOG.programs}
KIND = {p.code: p.kind for p in CATALOG.programs}
AGENCY = {p.code: p.agency for p in CATALOG.programs}


def rec(program, person="P1", start="2015-01-01", end=None, *, amount=100.0, household="H1", agency=None,
        household_no=None, level=None, category=None, confidence=1.0):
    """One record as ingest + linkage would give it."""
    end = end if end is not None else (start if PERIODICITY[program] in ("one_off",) else None)
    return {
        "program": program, "person_id": person, "household_id": household, "period_start": pd.Timestamp(start),
        "period_end": pd.Timestamp(end) if end else pd.NaT, "event_date": pd.Timestamp(start), "amount": amount,
        "amount_basis": "month" if PERIODICITY[program] == "monthly" else "record", "kind": KIND[program],
        "agency": agency or (AGENCY[program] if AGENCY[program] != "jd" else "jd-hushu"), "household_no": household_no,
        "disability_level": level, "category": category, "link_confidence": confidence,
    }


def audit(records, persons=None, mentions=None, held=False):
    frame = pd.DataFrame(records)
    frame["record_id"] = range(len(frame))
    frame["file"] = "f.csv"
    frame["row"] = frame["record_id"] + 2
    frame["source"] = frame["agency"]
    if persons is None:
        ids = sorted(set(frame["person_id"]))
        persons = pd.DataFrame({"person_id": ids, "name": "王小明", "id_number": "330105198001011234",
                                "birth_date": pd.Timestamp("1980-01-01"),
                                "household_id": frame.drop_duplicates("person_id").set_index("person_id").loc[ids, "household_id"].to_numpy()})
    if mentions is None:
        mentions = pd.DataFrame({"person_id": frame["person_id"], "source": frame["source"], "record_id": frame["record_id"]})
    if held:
        return audit_records(frame, persons, mentions, RULES, CATALOG, 2015).held
    return run_audit(frame, persons, mentions, RULES, CATALOG, 2015)


def rules_of(flags):
    return sorted(flags["rule_id"])


def person(pid, birth, household="H1"):
    return {"person_id": pid, "name": "李芳", "id_number": None, "birth_date": pd.Timestamp(birth), "household_id": household}


# ---------------------------------------------------------------- duplicates
def test_monthly_subsidy_paid_twice_in_one_month():
    flags = audit([rec("CL-HLBT", start="2015-04-01", end="2015-04-30"), rec("CL-HLBT", start="2015-04-01", end="2015-04-30")])
    assert rules_of(flags) == ["DUP-SAME-PROGRAM"]
    assert flags["amount_at_stake"].iat[0] == 100.0


def test_adjacent_months_are_not_a_duplicate():
    flags = audit([rec("CL-HLBT", start="2015-04-01", end="2015-04-30"), rec("CL-HLBT", start="2015-05-01", end="2015-05-31")])
    assert "DUP-SAME-PROGRAM" not in rules_of(flags)


def test_dibao_in_two_subdistricts_back_to_back_is_fine_overlap_is_not():
    moved = [rec("MZJ-DB", start="2014-01-01", end="2015-06-30", household_no="A"), rec("MZJ-DB", start="2015-07-01", household_no="B")]
    assert "DUP-SAME-PROGRAM" not in rules_of(audit(moved))
    both = [rec("MZJ-DB", start="2014-01-01", end="2015-07-31", household_no="A"), rec("MZJ-DB", start="2015-07-01", household_no="B")]
    flags = audit(both)
    assert "DUP-SAME-PROGRAM" in rules_of(flags) and "EXCL-STATUS" in rules_of(flags)
    dup = flags[flags["rule_id"] == "DUP-SAME-PROGRAM"].iloc[0]
    assert (dup["period_start"], dup["period_end"]) == (pd.Timestamp("2015-07-01"), pd.Timestamp("2015-07-31"))
    assert "2015年7月" in dup["explanation_zh"] and "王*明" in dup["explanation_zh"] and "330105********1234" in dup["explanation_zh"]


def test_two_items_of_student_aid_are_not_a_duplicate():
    items = [rec("JYJ-XSZZ", start="2015-09-01", end="2016-08-31", category="免学费"),
             rec("JYJ-XSZZ", start="2015-09-01", end="2016-08-31", category="国家助学金")]
    assert "DUP-SAME-PROGRAM" not in rules_of(audit(items))


def test_temporary_relief_and_charity_relief_30_days_apart_boundary():
    assert "DUP-SAME-PURPOSE" in rules_of(audit([rec("JD-LSJZ", start="2015-03-01"), rec("JD-CSLSJZ", start="2015-03-31")]))
    assert "DUP-SAME-PURPOSE" not in rules_of(audit([rec("JD-LSJZ", start="2015-03-01"), rec("JD-CSLSJZ", start="2015-04-01")]))


def test_golden_autumn_grant_and_student_aid_in_one_school_year():
    same = [rec("ZGH-JQZX", start="2015-08-20"), rec("JYJ-XSZZ", start="2015-09-01", end="2016-08-31")]
    assert "DUP-SAME-PURPOSE" in rules_of(audit(same))
    earlier = [rec("ZGH-JQZX", start="2015-06-20"), rec("JYJ-XSZZ", start="2015-09-01", end="2016-08-31")]
    assert "DUP-SAME-PURPOSE" not in rules_of(audit(earlier))


# ---------------------------------------------------------------- overlaps
def test_exclusive_statuses_same_month_vs_consecutive():
    assert "EXCL-STATUS" in rules_of(audit([rec("MZJ-DB", end="2015-06-30"), rec("MZJ-TK", start="2015-06-01")]))
    assert "EXCL-STATUS" not in rules_of(audit([rec("MZJ-DB", end="2015-05-31"), rec("MZJ-TK", start="2015-06-01")]))


def test_tekun_with_care_allowance_same_month_only():
    tk = rec("MZJ-TK", start="2015-07-01")
    assert "EXCL-TK-DISABILITY" not in rules_of(audit([tk, rec("CL-HLBT", start="2015-06-01", end="2015-06-30")]))
    flags = audit([tk, rec("CL-HLBT", start="2015-07-01", end="2015-07-31")])
    assert "EXCL-TK-DISABILITY" in rules_of(flags)


def test_multi_source_threshold_is_a_review_item():
    two = [rec("ZGH-KNZG", start="2015-03-01"), rec("MZJ-YLJZ", start="2015-04-01", end="2015-04-02")]
    assert "MULTI-SOURCE" not in rules_of(audit(two))
    three = [*two, rec("JD-LSJZ", start="2015-05-01")]
    flags = audit(three)
    multi = flags[flags["rule_id"] == "MULTI-SOURCE"]
    assert len(multi) == 1 and multi["status"].iat[0] == "review"


def test_temporary_relief_frequency_window():
    inside = [rec("JD-LSJZ", start=d) for d in ("2015-01-01", "2015-06-01", "2015-12-31")]
    flags = audit(inside)
    assert flags.loc[flags["rule_id"] == "TEMP-FREQ", "status"].tolist() == ["review"]
    spread = [rec("JD-LSJZ", start="2015-01-01"), rec("JD-LSJZ", start="2015-06-01"), rec("JD-LSJZ", start="2016-01-01")]
    assert "TEMP-FREQ" not in rules_of(audit(spread))


# ---------------------------------------------------------------- missed
def test_certificate_holder_in_dibao_household_without_living_allowance():
    base = [rec("CL-CZ", start="2005-01-01", level=4), rec("MZJ-DB", start="2014-01-01")]
    assert rules_of(audit(base)).count("MISS-DISABILITY") == 1
    assert "MISS-DISABILITY" not in rules_of(audit([*base, rec("CL-KNBT", start="2015-03-01", end="2015-03-31")]))
    tekun = [rec("CL-CZ", start="2005-01-01", level=4), rec("MZJ-TK", start="2014-01-01")]
    assert "MISS-DISABILITY" not in rules_of(audit(tekun))


def test_severe_disability_care_allowance_is_not_means_tested():
    assert "MISS-DISABILITY" in rules_of(audit([rec("CL-CZ", start="2005-01-01", level=2)]))
    assert "MISS-DISABILITY" not in rules_of(audit([rec("CL-CZ", start="2005-01-01", level=3)]))


def test_medical_insurance_subsidy_for_dibao_not_for_near_dibao():
    assert "MISS-MEDICAL-INSURANCE" in rules_of(audit([rec("MZJ-DB", start="2014-01-01")]))
    assert "MISS-MEDICAL-INSURANCE" not in rules_of(audit([rec("MZJ-DBBY", start="2014-01-01")]))
    assert "MISS-MEDICAL-INSURANCE" not in rules_of(audit([rec("MZJ-DB", start="2014-01-01"), rec("JD-YBBT", start="2015-02-01")]))


@pytest.mark.parametrize("birth, flagged", [("1955-12-31", True), ("1956-01-01", False)])
def test_elderly_insurance_age_60_within_the_year(birth, flagged):
    persons = pd.DataFrame([person("P1", birth)])
    flags = audit([rec("JSJ-SW", start="2015-01-01")], persons=persons)
    assert ("MISS-ELDERLY-INSURANCE" in rules_of(flags)) is flagged


@pytest.mark.parametrize(
    "birth, flagged",
    [("2009-09-01", True), ("2009-09-02", False), ("1997-09-01", True), ("1996-09-01", False)],
)
def test_education_age_6_to_18_on_the_first_day_of_school_year(birth, flagged):
    persons = pd.DataFrame([person("P1", birth)])
    flags = audit([rec("MZJ-DB", start="2014-01-01")], persons=persons)
    got = flags[flags["rule_id"] == "MISS-EDUCATION"]
    assert (len(got) == 1) is flagged
    if flagged:
        assert got["status"].iat[0] == "review"


def test_referral_only_without_household_status():
    flags = audit([rec("ZGH-KNZG", start="2015-03-01")])
    assert flags.loc[flags["rule_id"] == "MISS-REFERRAL", "status"].tolist() == ["review"]
    member = [rec("ZGH-KNZG", start="2015-03-01"), rec("MZJ-DBBY", person="P2", start="2014-01-01")]
    persons = pd.DataFrame([person("P1", "1980-01-01"), person("P2", "1982-01-01")])
    assert "MISS-REFERRAL" not in rules_of(audit(member, persons=persons))


# ---------------------------------------------------------------- identity confidence
def test_weak_link_turns_a_finding_into_review():
    """A duplicate speaks against the link it rests on (link_odds_factor 0.01): a link of 0.9995
    is a review item, one of 0.8 is likelier two namesakes (no flag); a certain link is a finding."""
    def dup_status(confidence):
        records = [rec("CL-HLBT", start="2015-04-01", end="2015-04-30"),
                   rec("CL-HLBT", start="2015-04-01", end="2015-04-30", confidence=confidence)]
        flags = audit(records)
        return flags.loc[flags["rule_id"] == "DUP-SAME-PROGRAM", ["status", "link_confidence"]].values.tolist()
    assert dup_status(1.0) == [["finding", 1.0]]
    assert dup_status(0.9995) == [["review", pytest.approx(0.9995)]]
    assert dup_status(0.8) == []


def test_a_duplicate_on_a_weak_link_is_held_as_an_identity_question(tmp_path):
    """Not a flag, but a question in the review queue: one person? if so, paid twice."""
    from relieflink.audit.output import write_flags
    from relieflink.review import open_items

    records = [rec("CL-HLBT", start="2015-04-01", end="2015-04-30"),
               rec("CL-HLBT", start="2015-04-01", end="2015-04-30", confidence=0.8)]
    held = audit(records, held=True)
    assert held["rule_id"].tolist() == ["DUP-SAME-PROGRAM"] and held["status"].tolist() == ["held"]
    write_flags(held, tmp_path / "held_flags.parquet")
    items = open_items(tmp_path, [])
    assert items[["kind", "rule_id", "left", "right"]].values.tolist() == [
        ["identity", "DUP-SAME-PROGRAM", "f.csv|2|beneficiary", "f.csv|3|beneficiary"]]
    assert items["summary"].iat[0].startswith("是否同一人？若是：")


def test_weak_link_without_odds_factor_is_review_not_dropped():
    """A missed benefit says nothing against the link: 0.8 makes it a review item."""
    records = [rec("CL-CZ", start="2005-01-01", level=1, confidence=0.8)]
    flags = audit(records)
    assert flags.loc[flags["rule_id"] == "MISS-DISABILITY", "status"].tolist() == ["review"]


def test_flags_are_deterministic_and_ids_stable():
    records = [rec("JD-LSJZ", start="2015-03-01"), rec("JD-CSLSJZ", start="2015-03-20")]
    a, b = audit(records), audit(records[::-1])
    assert a["flag_id"].tolist() == audit(records)["flag_id"].tolist()
    assert set(a["rule_id"]) == set(b["rule_id"])


def _named(pid, birth, name="祁彩娥"):
    return {**person(pid, birth), "name": name}


def _orphan(program, pid="P9", subdistrict=None, category=None):
    """An entitlement record linkage left unresolved (a name with no usable ID)."""
    return {**rec(program, start="2015-01-01", person=pid, category=category), "identity_resolved": False,
            "subdistrict": subdistrict}


def _common(persons, name="祁彩娥"):
    """The same persons among five more holders of the name (no longer a rare name)."""
    return pd.concat([persons, pd.DataFrame([_named(f"Q{i}", None, name) for i in range(5)])], ignore_index=True)


def test_missed_benefit_paid_under_an_unresolved_identity_of_the_only_eligible_namesake():
    """The insurance row names 祁彩娥 with no ID; the only eligible 祁彩娥 lacks it: it is hers."""
    persons = pd.DataFrame([_named("P1", "1950-01-01"), _named("P9", None)])
    records = [rec("JSJ-SW", start="2015-01-01", person="P1"), _orphan("MZJ-LNBX", category="失独")]
    assert "MISS-ELDERLY-INSURANCE" not in rules_of(audit(records, persons=persons))
    assert "MISS-ELDERLY-INSURANCE" not in rules_of(audit(records, persons=_common(persons)))
    # without the row she is a finding
    assert audit(records[:1], persons=_common(persons))["status"].tolist() == ["finding"]


def test_unresolved_row_insured_on_another_ground_settles_nothing():
    """A 高龄 row (insured for being 80) cannot be a 65-year-old's: she stays a finding; a row
    whose ground is not given (优抚) may be hers: a review item."""
    persons = _common(pd.DataFrame([_named("P1", "1950-01-01"), _named("P9", None)]))
    sw = rec("JSJ-SW", start="2015-01-01", person="P1")
    for category, expected in (("高龄", ["finding"]), ("优抚", ["review"]), ("三无", ["finding"])):
        flags = audit([sw, _orphan("MZJ-LNBX", category=category)], persons=persons)
        assert flags.loc[flags["rule_id"] == "MISS-ELDERLY-INSURANCE", "status"].tolist() == expected, category


def test_missed_benefit_under_an_unresolved_identity_two_eligible_namesakes_are_review_items():
    persons = pd.DataFrame([_named("P1", "1950-01-01"), _named("P2", "1948-03-05"), _named("P9", None)])
    records = [rec("JSJ-SW", start="2015-01-01", person="P1"), rec("JSJ-SW", start="2015-01-01", person="P2"),
               _orphan("MZJ-LNBX", category="失独")]
    missed = audit(records, persons=_common(persons))
    missed = missed[missed["rule_id"] == "MISS-ELDERLY-INSURANCE"]
    assert missed["status"].tolist() == ["review", "review"]
    assert all("同名但身份未确认" in text for text in missed["explanation_zh"])
    # with a rare name the row is almost surely one of theirs: no flag
    assert "MISS-ELDERLY-INSURANCE" not in rules_of(audit(records, persons=persons))


def test_unresolved_entitlement_row_of_another_subdistrict_is_someone_elses():
    persons = _common(pd.DataFrame([_named("P1", "1980-01-01"), _named("P9", None)]))
    dibao = {**rec("MZJ-DB", start="2015-01-01", end="2015-12-31", person="P1"), "subdistrict": "jd-hushu"}
    for place, expected in (("jd-hushu", []), ("jd-xiaohe", ["finding"])):
        flags = audit([dibao, _orphan("JD-YBBT", subdistrict=place)], persons=persons)
        assert flags.loc[flags["rule_id"] == "MISS-MEDICAL-INSURANCE", "status"].tolist() == expected


def test_unresolved_eligible_person_is_the_namesake_who_holds_the_entitlement_without_eligibility():
    """A 持证 row with no ID; the only 胡伟 receiving the care allowance has no 持证 record: one person."""
    persons = _common(pd.DataFrame([_named("P1", None, "胡伟"), _named("P2", "1983-07-29", "胡伟")]), "胡伟")
    card = {**rec("CL-CZ", start="2005-01-01", person="P1", level=1), "identity_resolved": False}
    care = rec("CL-HLBT", start="2015-03-01", end="2015-03-31", person="P2")
    assert "MISS-DISABILITY" not in rules_of(audit([card, care], persons=persons))
    assert "MISS-DISABILITY" in rules_of(audit([card, rec("MZJ-DB", start="2015-01-01", person="P2")], persons=persons))


def test_namesake_already_paid_for_the_period_is_not_a_candidate_owner():
    """Two eligible 陈静 in 湖墅: one already has this year's subsidy, so the unattached
    subsidy row is the other's; if neither has it, the row could be either's."""
    persons = _common(pd.DataFrame([_named("P1", "1980-01-01", "陈静"), _named("P2", "1970-05-05", "陈静"),
                                    _named("P9", None, "陈静")]), "陈静")

    def dibao(pid):
        return {**rec("MZJ-DB", start="2015-01-01", end="2015-12-31", person=pid), "subdistrict": "jd-hushu"}
    paid = {**rec("JD-YBBT", start="2015-03-01", person="P2"), "subdistrict": "jd-hushu"}
    row = _orphan("JD-YBBT", subdistrict="jd-hushu")
    assert "MISS-MEDICAL-INSURANCE" not in rules_of(audit([dibao("P1"), dibao("P2"), paid, row], persons=persons))
    flags = audit([dibao("P1"), dibao("P2"), row], persons=persons)
    assert flags.loc[flags["rule_id"] == "MISS-MEDICAL-INSURANCE", "status"].tolist() == ["review", "review"]


@given(c=st.floats(0.0, 1.0), f=st.floats(1e-6, 1.0), g=st.floats(1e-6, 1.0))
def test_flag_link_probability_weighs_against_the_link_and_keeps_certainty(c, f, g):
    """The pattern never makes a link more likely; a smaller factor weighs more; a shared valid
    ID (1.0) stays certain; no factor leaves the link as it is."""
    from relieflink.audit.confidence import flag_link_probability

    p = flag_link_probability(np.array([c]), np.array([f]))[0]
    assert 0.0 <= p <= c + 1e-12
    lo, hi = sorted((f, g))
    assert flag_link_probability(np.array([c]), np.array([lo]))[0] <= flag_link_probability(np.array([c]), np.array([hi]))[0] + 1e-12
    assert flag_link_probability(np.array([1.0]), np.array([f]))[0] == 1.0
    assert flag_link_probability(np.array([c]), np.array([np.nan]))[0] == c
