"""People and households of the district, generated as arrays (no per-person loops).

Roles: 0 head, 1 spouse, 2 child, 3 parent (of the head), 4 grandchild.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Config, rng_for
from .ids import make_ids
from .names import DOT, NamePools

ROLE_CODES = {"head": 0, "spouse": 1, "child": 2, "parent": 3, "grandchild": 4}
ROLE_NAMES = np.array(["head", "spouse", "child", "parent", "grandchild"])
EPOCH = np.datetime64("1970-01-01", "D")


@dataclass
class Population:
    persons: pd.DataFrame      # one row per person (index = pid 0..N-1)
    households: pd.DataFrame   # one row per household (index = hh 0..H-1)


def _days(d: dt.date) -> int:
    return int((np.datetime64(d, "D") - EPOCH).astype(int))


def _ymd_int(days: np.ndarray) -> np.ndarray:
    d = (EPOCH + days.astype("timedelta64[D]"))
    y = d.astype("datetime64[Y]").astype(int) + 1970
    m = d.astype("datetime64[M]").astype(int) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(int) + 1
    return y * 10000 + m * 100 + day


def _years(rng, lo, hi, n):
    return rng.uniform(lo, hi, size=n) * 365.2425


def generate_population(cfg: Config, n_persons: int, seed: int) -> Population:
    rng = rng_for(seed, "population")
    pc = cfg.synth["population"]
    ref = _days(cfg.ref_date)

    # ---- household templates -------------------------------------------
    types = list(pc["household_types"].items())
    tnames = np.array([t[0] for t in types])
    tw = np.array([float(t[1]["weight"]) for t in types])
    tw /= tw.sum()
    maxlen = max(len(t[1]["roles"]) for t in types)
    role_tab = np.full((len(types), maxlen), -1, dtype=np.int8)
    for i, (_, t) in enumerate(types):
        role_tab[i, : len(t["roles"])] = [ROLE_CODES[r] for r in t["roles"]]
    tsize = (role_tab >= 0).sum(1)
    mean_size = float((tsize * tw).sum())
    n_h = int(n_persons / mean_size * 1.1) + 10
    htype = rng.choice(len(types), size=n_h, p=tw)
    sizes = tsize[htype]
    cum = np.cumsum(sizes)
    n_h = int(np.searchsorted(cum, n_persons, side="left")) + 1
    htype, sizes = htype[:n_h], sizes[:n_h].copy()
    over = int(sizes.sum()) - n_persons
    if over > 0:
        sizes[-1] -= over  # the last household keeps its first members (head first)

    hh = np.repeat(np.arange(n_h), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    member_idx = np.arange(n_persons) - starts[hh]
    role = role_tab[htype[hh], member_idx]
    n = n_persons

    # ---- heads: age and sex ------------------------------------------------
    age_lo = np.array([t[1]["head_age"][0] for t in types])[htype]
    age_hi = np.array([t[1]["head_age"][1] for t in types])[htype] + 1
    head_birth = ref - (_years(rng, age_lo, age_hi, n_h)).astype(np.int64)
    has_spouse = (role_tab[htype] == 1).any(1)
    single_elderly = tnames[htype] == "single_elderly"
    head_male = np.where(has_spouse, rng.random(n_h) < pc["head_male_share"],
                         np.where(single_elderly, rng.random(n_h) < 0.35, rng.random(n_h) < 0.5))

    birth = np.zeros(n, dtype=np.int64)
    male = np.zeros(n, dtype=bool)
    is_head = role == 0
    birth[is_head] = head_birth[hh[is_head]]
    male[is_head] = head_male[hh[is_head]]

    # spouse: opposite sex, age gap (man minus woman)
    sp = role == 1
    gap = _years(rng, pc["spouse_age_gap"][0], pc["spouse_age_gap"][1], int(sp.sum())).astype(np.int64)
    hm = head_male[hh[sp]]
    birth[sp] = np.minimum(head_birth[hh[sp]] + np.where(hm, gap, -gap), ref - int(20 * 365.2425))
    male[sp] = ~hm
    spouse_birth = np.full(n_h, np.iinfo(np.int64).min)
    spouse_birth[hh[sp]] = birth[sp]
    mother_birth = np.where(head_male & has_spouse, spouse_birth, head_birth)

    # children: drawn from the mother's age at birth; second child later or twin
    ch = role == 2
    ch_idx = np.flatnonzero(ch)
    first_child = np.ones(len(ch_idx), dtype=bool)
    first_child[1:] = hh[ch_idx[1:]] != hh[ch_idx[:-1]]
    mb = mother_birth[hh[ch_idx]]
    mother_age = (ref - mb) / 365.2425
    lo, hi = pc["child_parent_gap"]
    hi_eff = np.minimum(hi, mother_age - 0.1)
    lo_eff = np.minimum(lo, hi_eff - 0.5)
    cb = mb + (rng.uniform(0, 1, len(ch_idx)) * (hi_eff - lo_eff) + lo_eff) * 365.2425
    cb = cb.astype(np.int64)
    # second children: 1.5-8 years after the first, or twins
    twin = np.zeros(len(ch_idx), dtype=bool)
    second = ~first_child
    if second.any():
        prev = np.flatnonzero(second) - 1
        later = cb[prev] + _years(rng, 1.5, 8, int(second.sum())).astype(np.int64)
        is_twin = rng.random(int(second.sum())) < pc["twins_rate"]
        sb = np.where(is_twin, cb[prev], np.minimum(later, ref - rng.integers(20, 300, int(second.sum()))))
        cb[second] = sb
        twin[second] = is_twin
    cb = np.minimum(cb, ref - 5)
    birth[ch_idx] = cb
    male[ch_idx] = rng.random(len(ch_idx)) < 0.51
    twin_second = np.zeros(n, dtype=bool)
    twin_second[ch_idx[twin]] = True

    # parents of the head
    pa = role == 3
    pa_idx = np.flatnonzero(pa)
    first_par = np.ones(len(pa_idx), dtype=bool)
    first_par[1:] = hh[pa_idx[1:]] != hh[pa_idx[:-1]]
    two_par = np.zeros(len(pa_idx), dtype=bool)
    two_par[:-1] |= ~first_par[1:]
    two_par[1:] |= ~first_par[1:]
    pb = head_birth[hh[pa_idx]] - _years(rng, pc["parent_gap"][0], pc["parent_gap"][1], len(pa_idx)).astype(np.int64)
    # keep parents under ~98
    pb = np.maximum(pb, ref - int(98 * 365.2425))
    pmale = np.where(two_par, first_par, rng.random(len(pa_idx)) < 0.4)
    # father a few years older than mother in two-parent case
    pb = np.where(two_par & ~first_par, pb + rng.integers(365, 5 * 365, len(pa_idx)), pb)
    birth[pa_idx] = pb
    male[pa_idx] = pmale

    gc = role == 4
    gb = head_birth[hh[gc]] + _years(rng, pc["grandchild_gap"][0], pc["grandchild_gap"][1], int(gc.sum())).astype(np.int64)
    birth[gc] = np.minimum(gb, ref - rng.integers(30, 2000, int(gc.sum())))
    male[gc] = rng.random(int(gc.sum())) < 0.51

    birth = np.minimum(birth, ref - 1)
    byear = (EPOCH + birth.astype("timedelta64[D]")).astype("datetime64[Y]").astype(int) + 1970

    # ---- names ----------------------------------------------------------------
    pools = NamePools(cfg)
    head_sur = pools.surname(rng, n_h)
    other_sur = pools.surname(rng, n)
    man_of_house = np.where(head_male | ~has_spouse, head_sur, "")  # filled below for female heads
    spouse_sur = np.empty(n_h, dtype=object)
    spouse_sur[:] = ""
    spouse_sur[hh[sp]] = other_sur[sp]
    father_sur = np.where(head_male, head_sur, np.where(has_spouse, spouse_sur, man_of_house))
    surname = np.empty(n, dtype=object)
    surname[is_head] = head_sur[hh[is_head]]
    surname[sp] = other_sur[sp]
    # children: the father's surname; a single mother's child mostly the absent father's
    absent_father = ~head_male[hh[ch]] & ~has_spouse[hh[ch]]
    keep_mother = rng.random(int(ch.sum())) < 0.15
    surname[ch] = np.where(absent_father & ~keep_mother, other_sur[ch], father_sur[hh[ch]])
    surname[pa] = np.where(male[pa], head_sur[hh[pa]], other_sur[pa])
    surname[gc] = father_sur[hh[gc]]

    given = pools.given(rng, byear, male)
    # fathers and sons sharing a name
    father_pid = np.full(n_h, -1)
    head_pid = np.flatnonzero(is_head)
    father_pid[hh[head_pid[head_male[hh[head_pid]]]]] = head_pid[head_male[hh[head_pid]]]
    sp_pid = np.flatnonzero(sp)
    father_pid[hh[sp_pid[male[sp_pid]]]] = sp_pid[male[sp_pid]]
    son = ch & male & (father_pid[hh] >= 0)
    same = son & (rng.random(n) < pc["father_son_same_name_rate"])
    given[same] = given[father_pid[hh[same]]]

    # minority (Uyghur) households: own name · father's name
    minority_h = rng.random(n_h) < pc["minority_household_rate"]
    mino = minority_h[hh]
    own = pools.minority_given(rng, male)
    fathers_own = pools.minority_given(rng, np.ones(n, dtype=bool))
    # children carry their father's own name
    has_father = ch & (father_pid[hh] >= 0)
    fathers_own[has_father] = own[father_pid[hh[has_father]]]
    surname[mino] = ""
    given[mino] = (pd.Series(own[mino]) + DOT + pd.Series(fathers_own[mino])).to_numpy(dtype=object)

    # rare characters that GBK cannot encode
    rare = (~mino) & (rng.random(n) < float(pc["rare_char_rate"]))
    if rare.any():
        rc = pools.rare_char(rng, int(rare.sum()))
        g = pd.Series(given[rare]).astype(str)
        given[rare] = np.where(g.str.len() >= 2, g.str[:-1] + rc, rc)
    name = (pd.Series(surname, dtype=object).astype(str) + pd.Series(given, dtype=object).astype(str)).to_numpy(dtype=object)

    # ---- IDs ------------------------------------------------------------------
    regions = cfg.gazetteer["district"]["id_region_codes"]
    rcodes = np.array([str(k) for k in regions])
    rw = np.array([float(v) for v in regions.values()])
    mprefix = str(cfg.synth["names"]["minority_region_prefix"])
    is_mcode = np.char.startswith(rcodes, mprefix)
    pw = np.where(is_mcode, 0, rw)
    region = rng.choice(rcodes, size=n, p=pw / pw.sum())
    mw = np.where(is_mcode, rw, 0)
    if mw.sum() > 0:
        mm = mino & ~(ch & (rng.random(n) < 0.5))
        region[mm] = rng.choice(rcodes, size=int(mm.sum()), p=mw / mw.sum())
    ymd = _ymd_int(birth)
    twin_first = np.zeros(n, dtype=bool)
    ts_idx = np.flatnonzero(twin_second)
    twin_first[ts_idx - 1] = True
    r = rng.integers(1, 498, size=n)
    seq = np.zeros(n, dtype=np.int64)

    def assign(mask):
        seq[mask] = 2 * r[mask] + male[mask].astype(int)
        # twin seconds: consecutive numbers after their twin, same region
        region[ts_idx] = region[ts_idx - 1]
        prev = seq[ts_idx - 1]
        nxt = prev + 1
        nxt = np.where((nxt % 2 == 1) != male[ts_idx], nxt + 1, nxt)
        seq[ts_idx] = nxt

    assign(np.ones(n, dtype=bool))
    for _ in range(50):
        key = pd.Series(region.astype(str)) + pd.Series(ymd.astype(str)) + pd.Series(seq.astype(str))
        dup = key.duplicated(keep="first").to_numpy()
        if not dup.any():
            break
        redo = dup.copy()
        redo[ts_idx[dup[ts_idx]] - 1] = True   # a twin second collides: redraw the pair
        redo &= ~twin_second
        r[redo] = rng.integers(1, 498, size=int(redo.sum()))
        assign(redo)
    else:  # pragma: no cover - practically unreachable
        raise RuntimeError("could not make IDs unique")
    id_number = make_ids(region, ymd, seq)

    # ---- addresses ------------------------------------------------------------
    subs = cfg.subdistricts
    sw_cfg = pc.get("subdistrict_weight") or {}
    sw = np.array([float(sw_cfg.get(s.code, 1.0)) for s in subs])
    h_sub = rng.choice(len(subs), size=n_h, p=sw / sw.sum())
    ncomm = np.array([len(s.communities) for s in subs])
    h_comm = (rng.random(n_h) * ncomm[h_sub]).astype(int)
    roads = np.array(pc["address"]["roads"])
    rpc = int(pc["address"]["roads_per_community"])
    # each community sits along a few roads
    comm_offsets = np.concatenate([[0], np.cumsum(ncomm)[:-1]])
    n_comm_total = int(ncomm.sum())
    comm_roads = rng.integers(0, len(roads), size=(n_comm_total, rpc))
    flat_comm = comm_offsets[h_sub] + h_comm
    road = roads[comm_roads[flat_comm, rng.integers(0, rpc, n_h)]]
    a = pc["address"]
    num = rng.integers(a["house_number"][0], a["house_number"][1] + 1, n_h)
    bld = rng.integers(a["building"][0], a["building"][1] + 1, n_h)
    unit = rng.integers(a["unit"][0], a["unit"][1] + 1, n_h)
    room = rng.integers(a["floor"][0], a["floor"][1] + 1, n_h) * 100 + rng.integers(
        a["room_on_floor"][0], a["room_on_floor"][1] + 1, n_h)
    city = cfg.gazetteer["district"].get("city", "") + cfg.gazetteer["district"]["name"]
    address = (city + pd.Series(road) + pd.Series(num).astype(str) + "号" + pd.Series(bld).astype(str) + "幢"
               + pd.Series(unit).astype(str) + "单元" + pd.Series(room).astype(str) + "室").to_numpy(dtype=object)
    sub_codes = np.array([s.code for s in subs])
    comm_names = np.array([c for s in subs for c in s.communities])

    # ---- phones ----------------------------------------------------------------
    ph = pc["phone"]
    age = (ref - birth) / 365.2425
    prefixes = np.array([str(p) for p in ph["mobile_prefixes"]])
    mobile = (pd.Series(rng.choice(prefixes, n)) +
              pd.Series(rng.integers(0, 10**8, n)).astype(str).str.zfill(8)).to_numpy(dtype=object)
    land = ("0571-8" + pd.Series(rng.integers(0, 10**7, n)).astype(str).str.zfill(7)).to_numpy(dtype=object)
    landline_p = np.where(age >= 60, ph["landline_rate_elderly"], ph["landline_rate_other"])
    is_land = rng.random(n) < landline_p
    phone = np.where(is_land, land, mobile)
    head_of = np.full(n_h, -1)
    head_of[hh[head_pid]] = head_pid
    mother_pid = np.where(head_male & has_spouse, -1, head_of)
    mother_pid[hh[sp_pid[~male[sp_pid]]]] = sp_pid[~male[sp_pid]]
    guardian = np.where(mother_pid >= 0, mother_pid, head_of)
    young = (age < ph["child_uses_parent_phone_below_age"]) & ~is_head
    phone[young] = phone[guardian[hh[young]]]
    share_sp = sp & (rng.random(n) < ph["spouse_shares_phone_rate"])
    phone[share_sp] = phone[head_of[hh[share_sp]]]
    share_pa = pa & (rng.random(n) < ph["elderly_member_shares_phone_rate"])
    phone[share_pa] = phone[head_of[hh[share_pa]]]
    # a young head's phone may itself be a parent's; keep as is

    persons = pd.DataFrame({
        "person_id": pd.Series(np.arange(1, n + 1)).map("P{:07d}".format),
        "hh": hh,
        "role": role,
        "name": name,
        "surname": surname,
        "given": given,
        "sex": np.where(male, "M", "F"),
        "male": male,
        "birth": birth,
        "birth_date": (EPOCH + birth.astype("timedelta64[D]")),
        "birth_year": byear,
        "ymd": ymd,
        "id_number": id_number,
        "minority": mino,
        "rare_char": rare,
        "twin": twin_second | twin_first,
        "same_name_as_father": same,
        "phone": phone,
        "phone_is_landline": pd.Series(phone).str.startswith("0571").to_numpy(),
        "sub": h_sub[hh],
        "subdistrict": sub_codes[h_sub[hh]],
        "community": comm_names[flat_comm[hh]],
        "address": address[hh],
        "father_pid": np.where(role == 2, father_pid[hh], -1),
        "guardian_pid": np.where(role == 2, guardian[hh], -1),
    })
    persons["household_id"] = pd.Series(hh + 1).map("H{:07d}".format).to_numpy()
    households = pd.DataFrame({
        "household_id": pd.Series(np.arange(1, n_h + 1)).map("H{:07d}".format),
        "type": tnames[htype],
        "size": sizes,
        "head_pid": head_of,
        "sub": h_sub,
        "subdistrict": sub_codes[h_sub],
        "comm_index": h_comm,
        "community": comm_names[flat_comm],
        "address": address,
        "head_male": head_male,
        "has_spouse": has_spouse,
    })
    households["head_person_id"] = persons["person_id"].to_numpy()[head_of]
    return Population(persons=persons, households=households)
