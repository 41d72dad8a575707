"""Over-merge traps seen on generated batches (two different people merged into one person
produce false DUP-SAME-PROGRAM flags): the roster structure, household-shared evidence under a
disagreeing name, and common names without any ID."""

from __future__ import annotations

import pytest

from relieflink.linkage import Settings, link_mentions
from relieflink.linkage._testdata import generate

from test_linkage_engine import mention, person_of, valid_id, with_background  # noqa: E402

ROSTER = "mzj_低保低边特困.xlsx"


@pytest.fixture(scope="module")
def relief_model() -> Settings:
    m, _ = generate(3000, seed=11)
    return link_mentions(m).model


def roster_row(row: int, name: str, relation: str, head: str, hn: str, **kw) -> list[dict]:
    """A roster row: the member as beneficiary and the head named again (role head)."""
    common = dict(subdistrict="jd-daguan", community="社区2", household_no=hn, address="大关路8号",
                  phone="13900000011")
    return [mention(ROSTER, row, name, relation=relation, **common, **kw),
            mention(ROSTER, row, head, role="head", relation="户主", **common)]


def test_roster_father_and_son_of_one_name_stay_two(relief_model):
    """(A) One 户编号, relations 户主 and 子: two people, although the name, address, phone
    and household agree and neither row has an ID."""
    rows = roster_row(40, "陈梓辉", "户主", "陈梓辉", "H77") + roster_row(41, "陈梓辉", "子", "陈梓辉", "H77")
    r = link_mentions(with_background(rows), settings=relief_model)
    assert person_of(r, ROSTER, 40) != person_of(r, ROSTER, 41)
    # the head named on the son's row is the head
    assert person_of(r, ROSTER, 41, "head") == person_of(r, ROSTER, 40)


def test_roster_relations_keep_namesakes_apart_with_ids_elsewhere(relief_model):
    """(A) 杨伟 户主 and 杨伟 父亲 of one household; the head has a valid ID on another source. The
    father's row must not join the head's ID person."""
    head = valid_id(19700101, 111)
    rows = roster_row(50, "杨伟", "户主", "杨伟", "H88", id_clean=head, sex="M") \
        + roster_row(51, "杨伟", "父亲", "杨伟", "H88", sex="M", birth=19450303) \
        + [mention("mzj_医疗救助.csv", 7, "杨伟", id_clean=head, sex="M", subdistrict="jd-daguan")]
    r = link_mentions(with_background(rows), settings=relief_model)
    p_head = person_of(r, "mzj_医疗救助.csv", 7)
    assert person_of(r, ROSTER, 50) == p_head
    assert person_of(r, ROSTER, 51) != p_head


def test_two_names_on_one_row_are_two_people(relief_model):
    """(A) A student and a guardian named on one row are two people, whatever else they share."""
    rows = [mention("jyj_学生资助.csv", 9, "刘燕", subdistrict="jd-hushu", phone="13600000021",
                    address="湖墅南路3号"),
            mention("jyj_学生资助.csv", 9, "刘红", role="guardian", subdistrict="jd-hushu",
                    phone="13600000021", address="湖墅南路3号")]
    r = link_mentions(with_background(rows), settings=relief_model)
    assert person_of(r, "jyj_学生资助.csv", 9) != person_of(r, "jyj_学生资助.csv", 9, "guardian")


def test_roster_siblings_of_one_name_and_relation_are_told_apart_by_birth_date(relief_model):
    """Two 子 of one 户编号 both named 李子墨 (born 2010 and 2015); the elder's roster row carries an
    Excel-damaged ID. It belongs with the elder's valid ID from the school list (birth date and
    ID prefix agree), not with the younger brother of the same roster row set, however much
    phone, address and household agree (issue #4: a false DUP-SAME-PROGRAM)."""
    elder, younger = valid_id(20100528, 267), valid_id(20151003, 113)
    rows = (roster_row(50, "李子墨", "子", "李建华", "H88", id_clean=elder[:15], status="excel_damaged",
                       birth=20100528)
            + roster_row(51, "李子墨", "子", "李建华", "H88", id_clean=younger)
            + [mention("jyj_学生资助.csv", 52, "李子墨", id_clean=elder, subdistrict="jd-daguan", phone="17774623116")])
    r = link_mentions(with_background(rows), settings=relief_model)
    assert person_of(r, ROSTER, 50) != person_of(r, ROSTER, 51)
    assert person_of(r, ROSTER, 50) == person_of(r, "jyj_学生资助.csv", 52)


def test_household_evidence_does_not_outweigh_a_disagreeing_name(relief_model):
    """(B) Family members share a phone, an address and a community: under names that disagree
    (唐晓梅 / 唐佳宁, 郭建婷 / 曹瑞红 with an Excel-damaged ID of another birth date) they are
    two people."""
    shared = dict(subdistrict="jd-shangtang", community="瓜山社区", phone="13500000031", address="瓜山路12号")
    mother, girl = valid_id(19840517, 202), valid_id(20130102, 404)
    rows = [
        mention("jd-shangtang_临时救助.xlsx", 60, "唐晓梅", id_clean=mother, sex="F", **shared),
        mention("jd-shangtang_临时救助.xlsx", 61, "唐佳宁", sex="F", **shared),
        mention("mzj_医疗救助.csv", 62, "郭建婷", id_clean=girl, sex="F", **shared),
        mention("jd-shangtang_临时救助.xlsx", 63, "曹瑞红", id_clean=mother[:15], status="excel_damaged",
                **shared),
    ]
    r = link_mentions(with_background(rows), settings=relief_model)
    f = "jd-shangtang_临时救助.xlsx"
    assert person_of(r, f, 60) != person_of(r, f, 61)
    assert person_of(r, "mzj_医疗救助.csv", 62) != person_of(r, f, 63)
    assert person_of(r, f, 61) != person_of(r, "mzj_医疗救助.csv", 62)
    # the mechanism: under a disagreeing name, the shared household fields weigh nothing
    pr = r.pairs
    off = pr["level_name"].isin(["surname_only", "disagree"])
    assert off.any()
    for c in ("phone", "address", "community", "subdistrict"):
        assert (pr.loc[off, f"w_{c}"] <= 0).all(), c
    on = (pr["level_name"] == "exact") & (pr["level_phone"] == "exact")
    assert (pr.loc[on & (pr["level_birth_date"] != "disagree"), "w_phone"] > 0).all()
    # ... nor under one name with birth dates that disagree (father and son 同名同姓)
    assert (on & (pr["level_birth_date"] == "disagree")).any()
    assert (pr.loc[on & (pr["level_birth_date"] == "disagree"), "w_phone"] <= 0).all()


def test_name_only_mentions_of_a_common_name_stay_apart(relief_model):
    """(C) Elderly-insurance rows with nothing but a common name (张秀英 held by several
    persons with IDs) are not one person (identical name-only rows are not collapsed into one
    node), and join none of the holders."""
    rows = []
    for k in range(6):
        rows.append(mention("cl_残疾人补贴.jsonl", 70 + k, "张秀英", id_clean=valid_id(19400101 + k * 10000, 300 + 2 * k),
                            sex="F", subdistrict="jd-hemu"))
    rows += [mention("mzj_老年人保险.csv", 90 + k, "张秀英") for k in range(3)]
    r = link_mentions(with_background(rows), settings=relief_model)
    f = "mzj_老年人保险.csv"
    name_only = {person_of(r, f, 90 + k) for k in range(3)}
    holders = {person_of(r, "cl_残疾人补贴.jsonl", 70 + k) for k in range(6)}
    assert len(name_only) == 3
    assert not name_only & holders


def test_roster_siblings_of_one_household_stay_two(relief_model):
    """(A) Two 子 of one 户编号 with names one syllable apart (段俊 / 段伟), same birth date,
    phone and address (the younger's row carried the head's ID, so it has none): two people."""
    rows = roster_row(60, "段建国", "户主", "段建国", "H99", sex="M", birth=19650101) \
        + roster_row(61, "段俊", "子", "段建国", "H99", id_clean=valid_id(19911208, 361), sex="M") \
        + roster_row(62, "段伟", "子", "段建国", "H99", sex="M", birth=19911208)
    r = link_mentions(with_background(rows), settings=relief_model)
    assert person_of(r, ROSTER, 61) != person_of(r, ROSTER, 62)
    assert person_of(r, ROSTER, 61, "head") == person_of(r, ROSTER, 60)
