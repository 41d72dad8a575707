"""Small synthetic relief mentions with truth, for the linkage tests and benchmark.

Independent of :mod:`relieflink.synth` (the product's batch generator) so the
linkage can be developed and tested on its own; it produces the canonical
``mentions`` columns directly (as ingest would), with the identity damage the
product meets: ID typos and transpositions (check fails), Excel-damaged IDs
(15 digits survive), missing IDs, legal-aid mentions with an age and no ID,
homophone names, a character lost to ``?``, the head's ID on a member's row
(flagged by ingest, or not), common names shared within a subdistrict, and
monthly payments repeating one identity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pypinyin import lazy_pinyin

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许") + ["欧阳"]
SURNAME_W = np.array([71, 70, 68, 52, 55, 30, 22, 22, 22, 20, 20, 15, 14, 14, 14, 11, 11, 10, 10, 9, 10, 8, 7, 7, 6, 7, 1.0])
GIVEN = ["伟", "芳", "秀英", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀兰", "霞", "平", "刚", "桂英", "建华", "小明", "晓燕", "国强", "志强", "海燕", "建国", "丽娟", "红梅", "子涵",
         "浩然", "欣怡", "宇轩", "梓涵", "一诺", "建平", "玉兰", "德明", "海峰", "晓东", "雪芳", "佳怡", "俊杰", "思琪"]
HOMO = {"小": "晓", "晓": "小", "明": "铭", "伟": "玮", "华": "桦", "静": "婧", "丽": "莉", "杰": "捷", "涛": "韬",
        "欣": "馨", "芳": "方", "娟": "鹃", "艳": "燕", "燕": "艳", "平": "萍", "佳": "嘉", "建": "健", "志": "智"}
SUBDISTRICTS = ["jd-mishixiang", "jd-hushu", "jd-xiaohe", "jd-hemu", "jd-gongchenqiao", "jd-daguan",
                "jd-shangtang", "jd-xiangfu", "jd-kangqiao", "jd-banshan"]
W = np.array([pow(2, 17 - i, 11) for i in range(17)])
PROFILES = {
    "default": dict(typo=0.006, transp=0.004, excel=0.012, missing=0.01, homophone=0.006, qmark=0.0015,
                    head_on_member=0.015, head_on_member_undetected=0.3, sfj_no_id=0.04),
    "hard": dict(typo=0.025, transp=0.015, excel=0.05, missing=0.04, homophone=0.025, qmark=0.004,
                 head_on_member=0.05, head_on_member_undetected=0.3, sfj_no_id=0.04),
    "clean": dict(typo=0, transp=0, excel=0, missing=0, homophone=0, qmark=0, head_on_member=0,
                  head_on_member_undetected=0, sfj_no_id=0),
}


def _check(bodies: np.ndarray) -> np.ndarray:
    d = np.asarray(bodies, dtype="U17").view("U1").reshape(len(bodies), 17).astype(np.int64)
    return np.array(list("0123456789X"))[(12 - (d @ W) % 11) % 11]


def make_ids(birth: np.ndarray, seq: np.ndarray, region: np.ndarray) -> np.ndarray:
    bodies = np.char.add(np.char.add(region.astype("U6"), birth.astype("U8")), np.char.zfill(seq.astype("U3"), 3))
    return np.char.add(bodies, _check(bodies)) if len(bodies) else np.array([], "U18")


def generate(n_persons: int = 2000, seed: int = 0, profile: str = "default") -> tuple[pd.DataFrame, np.ndarray]:
    """Mentions (canonical columns) and the true person index of each mention."""
    rng = np.random.default_rng(seed)
    q = PROFILES[profile]
    # --- households and persons -------------------------------------------------
    sizes = rng.choice([1, 2, 3, 4], size=n_persons, p=[0.3, 0.3, 0.25, 0.15])
    sizes = sizes[np.cumsum(sizes) <= n_persons]
    n = int(sizes.sum())
    hh = np.repeat(np.arange(len(sizes)), sizes)
    pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    sub = rng.integers(0, len(SUBDISTRICTS), len(sizes))[hh]
    comm = rng.integers(0, 6, len(sizes))[hh]
    sur_h = rng.choice(len(SURNAMES), size=len(sizes), p=SURNAME_W / SURNAME_W.sum())
    sur = sur_h[hh].copy()
    spouse = pos == 1
    sur[spouse] = rng.choice(len(SURNAMES), size=spouse.sum(), p=SURNAME_W / SURNAME_W.sum())
    zipf = 1.0 / np.arange(1, len(GIVEN) + 1) ** 0.9
    giv = rng.choice(len(GIVEN), size=n, p=zipf / zipf.sum())
    sex = np.where(pos == 0, rng.random(n) < 0.7, np.where(pos == 1, False, rng.random(n) < 0.5))
    sex = np.where((pos == 1) & (rng.random(n) < 0.3), True, sex)
    head_year = rng.integers(1935, 1990, len(sizes))[hh]
    year = np.where(pos <= 1, head_year + rng.integers(-3, 4, n), head_year + rng.integers(22, 35, n))
    year = np.minimum(year, 2014)
    month, day = rng.integers(1, 13, n), rng.integers(1, 29, n)
    birth = year * 10000 + month * 100 + day
    # father and son with the same full name (different IDs)
    same = (pos >= 2) & (rng.random(n) < 0.02)
    giv[same] = giv[np.maximum(np.flatnonzero(same) - pos[same], 0)]
    sur[same] = sur[np.flatnonzero(same) - pos[same]]
    region = np.where(rng.random(n) < 0.7, "330105", "330103")
    seq = rng.integers(0, 500, n) * 2 + np.where(sex, 1, 0)
    ids = make_ids(birth, seq, region)
    # twins: same birth date, neighbouring sequence numbers
    name = np.char.add(np.array(SURNAMES, dtype=object)[sur].astype(str), np.array(GIVEN, dtype=object)[giv].astype(str))
    phone = np.char.add("13", np.char.zfill(rng.integers(0, 10**9, len(sizes)).astype("U9"), 9))[hh]
    own_phone = rng.random(n) < 0.4
    phone = np.where(own_phone, np.char.add("15", np.char.zfill(rng.integers(0, 10**9, n).astype("U9"), 9)), phone)
    addr = np.char.add(np.char.add("某路", rng.integers(1, 300, len(sizes)).astype("U3")), "号")[hh]
    hno = np.char.add("HH", np.char.zfill(np.arange(len(sizes)).astype("U7"), 7))[hh]
    in_roster = (rng.random(len(sizes)) < 0.35)[hh]

    # --- mentions ------------------------------------------------------------
    rows = []
    sources = ["cl", "medical", "sfj", "jd", "rsj", "elderly"]
    per = rng.poisson(1.5, n) + 1
    pp = np.repeat(np.arange(n), per)
    src = rng.choice(len(sources), size=len(pp), p=[0.25, 0.2, 0.1, 0.25, 0.1, 0.1])
    reps = np.where(np.asarray(sources)[src] == "cl", rng.integers(1, 13, len(pp)), 1)
    pp, src = np.repeat(pp, reps), np.repeat(src, reps)
    m = pd.DataFrame({"p": pp, "source": np.asarray(sources)[src], "role": "beneficiary"})
    rp = np.flatnonzero(in_roster)
    roster = pd.DataFrame({"p": rp, "source": "mzj", "role": "beneficiary"})
    heads = np.flatnonzero(in_roster & (pos == 0))
    head_of = pd.Series(heads, index=hh[heads]).reindex(hh[rp]).to_numpy()
    mem = ~np.isnan(head_of) & (head_of != rp)
    roster_heads = pd.DataFrame({"p": head_of[mem].astype(int), "source": "mzj", "role": "head"})
    m = pd.concat([m, roster], ignore_index=True)
    m["file"] = m["source"] + ".csv"
    m["row"] = m.groupby("file").cumcount() + 2
    roster_heads["file"] = "mzj.csv"
    roster_heads["row"] = m.loc[m["source"].eq("mzj"), "row"].to_numpy()[mem]
    m = pd.concat([m, roster_heads], ignore_index=True)
    p = m["p"].to_numpy()
    k = len(m)
    is_roster = (m["source"] == "mzj").to_numpy()
    out = pd.DataFrame({"file": m["file"], "row": m["row"].astype(np.int32), "role": m["role"], "source": m["source"]})
    nm = name[p].astype(object)
    # name damage
    r = rng.random(k)
    homo = r < q["homophone"]
    nm[homo] = [s[:-1] + HOMO.get(s[-1], s[-1]) for s in nm[homo]]
    qm = (r >= q["homophone"]) & (r < q["homophone"] + q["qmark"])
    nm[qm] = [s[:-1] + "?" for s in nm[qm]]
    out["name_raw"] = nm
    out["name"] = nm
    uniq = pd.unique(nm)
    py = {u: " ".join(lazy_pinyin(u)) for u in uniq}
    out["name_pinyin"] = [py[v] for v in nm]
    out["name_pinyin_tone"] = out["name_pinyin"]
    out["surname"] = np.array(SURNAMES, dtype=object)[sur[p]]
    out["given_name"] = [s[len(x):] for s, x in zip(nm, out["surname"])]
    out["name_has_unknown"] = qm
    idn = ids[p].astype(object)
    status = np.full(k, "valid", dtype=object)
    clean = idn.copy()
    r = rng.random(k)
    c0 = q["typo"]
    typo = r < c0
    tr = (r >= c0) & (r < c0 + q["transp"])
    c1 = c0 + q["transp"]
    ex = (r >= c1) & (r < c1 + q["excel"])
    c2 = c1 + q["excel"]
    miss = (r >= c2) & (r < c2 + q["missing"])
    sfj_noid = (m["source"].to_numpy() == "sfj") & (rng.random(k) < q["sfj_no_id"])
    miss |= sfj_noid
    for i in np.flatnonzero(typo):
        s = list(clean[i]); j = rng.integers(6, 17); s[j] = str((int(s[j]) + 1 + rng.integers(0, 8)) % 10)
        clean[i] = "".join(s)
    for i in np.flatnonzero(tr):
        s = list(clean[i])
        for _ in range(10):
            j = rng.integers(6, 16)
            if s[j] != s[j + 1]:
                s[j], s[j + 1] = s[j + 1], s[j]
                break
        clean[i] = "".join(s)
    status[typo | tr] = "check_failed"
    # a typo that still passes the check would be "valid": recompute
    ok = np.array([c[-1] == _check(np.array([c[:17]]))[0] for c in clean[typo | tr]], dtype=bool)
    status[np.flatnonzero(typo | tr)[ok]] = "valid"
    clean[ex] = [c[:15] for c in clean[ex]]
    status[ex] = "excel_damaged"
    clean[miss] = None
    status[miss] = "missing"
    # the head's ID on a member's row (roster member rows)
    mem_rows = np.flatnonzero(is_roster & (m["role"].to_numpy() == "beneficiary") & (pos[p] > 0) & (rng.random(k) < q["head_on_member"]))
    head_p = pd.Series(heads, index=hh[heads]).reindex(hh[p[mem_rows]]).to_numpy()
    okh = ~np.isnan(head_p)
    mem_rows, head_p = mem_rows[okh], head_p[okh].astype(int)
    clean[mem_rows] = ids[head_p]
    # ingest cannot detect it when the stated fields agree; the name then differs (or the
    # stated birth date contradicts the ID: conflicts_stated)
    undetected = (rng.random(len(mem_rows)) < q["head_on_member_undetected"]) & (name[p[mem_rows]] != name[head_p])
    status[mem_rows] = np.where(undetected, "valid", "head_id_on_member")
    valid = status == "valid"
    out["id_raw"] = clean
    out["id_number"] = np.where(valid, clean, None)
    out["id_clean"] = clean
    out["id_status"] = status
    out["id_origin"] = np.where(miss, None, "resident_id")
    srcs = m["source"].to_numpy()
    has_sex = np.isin(srcs, ["sfj", "mzj"])
    out["sex"] = np.where(has_sex | valid, np.where(sex[p], "M", "F"), None)
    bdt = pd.to_datetime(pd.Series(birth[p].astype(str)), format="%Y%m%d")
    bd_known = valid | is_roster
    out["birth_date"] = bdt.where(bd_known).dt.date
    age_year = np.where((srcs == "sfj"), year[p] + rng.integers(0, 2, k) * 0, np.nan)
    out["birth_year_from_age"] = pd.array(np.where(srcs == "sfj", age_year, np.nan), dtype="Int32")
    has_phone = np.isin(srcs, ["jd", "rsj", "mzj"])
    out["phone"] = np.where(has_phone, phone[p], None)
    has_sub = np.isin(srcs, ["cl", "medical", "jd", "rsj", "mzj"])
    out["subdistrict"] = np.where(has_sub, np.asarray(SUBDISTRICTS)[sub[p]], None)
    has_comm = np.isin(srcs, ["cl", "jd", "mzj"])
    out["community"] = np.where(has_comm, np.char.add("社区", comm[p].astype("U1")), None)
    out["address"] = np.where(is_roster, addr[p], None)
    out["relation"] = np.where(is_roster, np.where(pos[p] == 0, "户主", "成员"), None)
    out["household_no"] = np.where(is_roster, hno[p], None)
    order = np.lexsort((m["role"].to_numpy(), m["row"].to_numpy(), m["file"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    truth = p[order]
    out.insert(0, "mention_id", np.arange(len(out), dtype=np.int64))
    out.insert(1, "record_id", pd.factorize(out["file"] + "|" + out["row"].astype(str))[0].astype(np.int64))
    return out, truth
