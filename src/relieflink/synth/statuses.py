"""Who holds which status: relief households (低保 / 低保边缘 / 特困供养),
disability certificates, 失独 / 伤残 family-planning status, union hardship
file, veterans' families. Statuses are household or person attributes from
which the histories derive the rows of every export."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .config import Config, rng_for, to_date
from .population import Population

NONE, DB, DBBY, TK = 0, 1, 2, 3
STATUS_NAMES = {DB: "低保", DBBY: "低保边缘", TK: "特困供养"}


def month_index(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def month_of(mi: np.ndarray | int):
    """(year, month) of month indices."""
    mi = np.asarray(mi)
    return mi // 12, mi % 12 + 1


def age_on(ymd: np.ndarray, date: dt.date) -> np.ndarray:
    """Completed years on ``date`` from YYYYMMDD birth integers."""
    d = date.year * 10000 + date.month * 100 + date.day
    return (d - np.asarray(ymd)) // 10000


def assign_statuses(cfg: Config, pop: Population, seed: int) -> None:
    """Adds status columns to ``pop.households`` and ``pop.persons`` in place."""
    rng = rng_for(seed, "statuses")
    sc = cfg.synth["statuses"]
    P, H = pop.persons, pop.households
    n_h = len(H)
    year = cfg.year
    ref = cfg.ref_date
    age = age_on(P["ymd"].to_numpy(), ref)
    P["age"] = age

    hh = P["hh"].to_numpy()
    # household composition
    max_age = np.zeros(n_h, dtype=int)
    np.maximum.at(max_age, hh, age)
    min_age = np.full(n_h, 200)
    np.minimum.at(min_age, hh, age)
    elderly_only = min_age >= 60
    htype = H["type"].to_numpy()

    # ---- relief status per household ---------------------------------------------
    status = np.zeros(n_h, dtype=np.int8)
    u = rng.random(n_h)
    single_eld = (htype == "single_elderly") | ((H["size"].to_numpy() == 1) & elderly_only)
    single_ad = (H["size"].to_numpy() == 1) & ~elderly_only
    tk = (single_eld & (u < sc["tekun_single_elderly_rate"])) | (single_ad & (u < sc["tekun_single_adult_rate"]))
    status[tk] = TK
    u2 = rng.random(n_h)
    db_rate = np.where(elderly_only, sc["dibao_elderly_household_rate"], sc["dibao_household_rate"])
    db = (status == NONE) & (u2 < db_rate)
    status[db] = DB
    dbby = (status == NONE) & (u2 >= db_rate) & (u2 < db_rate + sc["dibian_household_rate"])
    status[dbby] = DBBY
    H["status"] = status

    lo, hi = (month_index(to_date(x)) for x in sc["start_month_range"])
    # skew towards earlier starts: many households have been on the roster for years
    start = lo + (rng.beta(1.3, 1.0, n_h) * (hi - lo + 1)).astype(int)
    end = np.full(n_h, -1)
    ended = np.isin(status, [DB, DBBY]) & (rng.random(n_h) < sc["ended_in_year_rate"])  # 特困 support does not lapse
    y0 = year * 12
    end_m = np.maximum(start, y0) + (rng.random(n_h) * (y0 + 11 - np.maximum(start, y0) + 1)).astype(int)
    end_m = np.minimum(end_m, y0 + 10)
    end[ended] = end_m[ended]
    # an ended status must end in or after the start month
    end = np.where((end >= 0) & (end < start), start, end)
    H["status_start"] = np.where(status != NONE, start, -1)
    H["status_end"] = np.where(status != NONE, end, -1)

    # 户编号: 330105 + subdistrict 3 digits + community 3 digits + 4-digit sequence
    subs = cfg.subdistricts
    admin3 = np.array([s.admin[-3:] for s in subs])
    region = cfg.gazetteer["district"]["region_code"]
    roster = np.full(n_h, None, dtype=object)
    on = np.flatnonzero(status != NONE)
    if len(on):
        key = pd.DataFrame({"sub": H["sub"].to_numpy()[on], "comm": H["comm_index"].to_numpy()[on],
                            "r": rng.random(len(on))})
        key = key.sort_values(["sub", "comm", "r"])
        seqn = key.groupby(["sub", "comm"]).cumcount().to_numpy() + 1
        idx = on[key.index.to_numpy()]
        roster[idx] = (region + pd.Series(admin3[key["sub"].to_numpy()])
                       + pd.Series(key["comm"].to_numpy() + 1).astype(str).str.zfill(3)
                       + pd.Series(seqn).astype(str).str.zfill(4)).to_numpy()
    H["roster_no"] = roster

    # monthly amount of the household (on the head's row)
    std = float(cfg.amount_on("dibao_standard", ref)["value"])
    am = cfg.synth["amounts"]
    size = H["size"].to_numpy()
    income = rng.uniform(*am["household_income_per_member"], n_h) * size
    amt = np.zeros(n_h)
    amt = np.where(status == DB, np.maximum(std * size - income, std * 0.25 * size), amt)
    amt = np.where(status == DBBY, std * size * float(am["dibian_factor"]), amt)
    amt = np.where(status == TK, std * float(am["tekun_factor"]) * size, amt)
    H["monthly_amount"] = np.round(amt / am["amount_rounding"]) * am["amount_rounding"]

    P["status"] = status[hh]
    P["status_start"] = H["status_start"].to_numpy()[hh]
    P["status_end"] = H["status_end"].to_numpy()[hh]

    # ---- disability certificates ------------------------------------------------------
    n = len(P)
    rate = np.zeros(n)
    prev = -1
    for band in sc["disability_rate_by_age"]:
        m = (age > prev) & (age <= band["until_age"])
        rate[m] = band["rate"]
        prev = band["until_age"]
    rate = np.where(P["status"].to_numpy() != NONE, rate * sc["disability_rate_multiplier_relief"], rate)
    disabled = rng.random(n) < rate
    # 特困 working-age singles are severely disabled
    tk_adult = (P["status"].to_numpy() == TK) & (age < 60)
    disabled |= tk_adult
    cats = np.array(list(sc["disability_category_weights"].keys()), dtype=int)
    cw = np.array(list(sc["disability_category_weights"].values()), dtype=float)
    levels = np.array(list(sc["disability_level_weights"].keys()), dtype=int)
    lw = np.array(list(sc["disability_level_weights"].values()), dtype=float)
    cat = np.where(disabled, rng.choice(cats, n, p=cw / cw.sum()), 0)
    lvl = np.where(disabled, rng.choice(levels, n, p=lw / lw.sum()), 0)
    lvl = np.where(tk_adult, rng.choice([1, 2], n), lvl)
    P["disabled"] = disabled
    P["dis_cat"] = cat
    P["dis_level"] = lvl
    i0, i1 = (np.datetime64(to_date(x), "D") for x in sc["certificate_issue_range"])
    birth = P["birth_date"].to_numpy().astype("datetime64[D]")
    lo_d = np.maximum(birth + np.timedelta64(200, "D"), i0)
    span = (i1 - lo_d).astype(int)
    span = np.maximum(span, 1)
    issue = lo_d + (rng.random(n) * span).astype("timedelta64[D]")
    issue = np.minimum(issue, i1)
    P["cert_issue"] = np.where(disabled, issue, np.datetime64("NaT"))

    # ---- family planning (失独 / 伤残) -------------------------------------------------
    mother_age = np.where(H["head_male"].to_numpy(), max_age, max_age)  # couples are near in age
    fp_candidates = np.isin(htype, ["elderly_couple", "single_elderly", "couple", "single_adult"]) & (
        mother_age >= sc["jsj_min_mother_age"])
    ufp = rng.random(n_h)
    shidu_h = fp_candidates & (ufp < sc["shidu_household_rate"])
    shangcan_h = fp_candidates & ~shidu_h & (ufp < sc["shidu_household_rate"] + sc["shangcan_household_rate"])
    role = P["role"].to_numpy()
    adult_member = np.isin(role, [0, 1])
    P["shidu"] = shidu_h[hh] & adult_member
    P["shangcan"] = shangcan_h[hh] & adult_member

    # ---- elderly insurance categories ----------------------------------------------------
    P["youfu"] = (age >= 60) & (rng.random(n) < sc["youfu_rate_elderly"])
    P["gaoling"] = (age >= sc["gaoling_age"]) & (rng.random(n) < sc["gaoling_rate"])

    # ---- union hardship file -------------------------------------------------------------
    working = (age >= 25) & (age <= 59) & adult_member
    urate = np.where(np.isin(P["status"].to_numpy(), [DB, DBBY]), sc["union_worker_rate_relief"],
                     np.where(P["status"].to_numpy() == NONE, sc["union_worker_rate_other"], 0.0))
    P["union"] = working & (rng.random(n) < urate)
