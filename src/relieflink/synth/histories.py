"""One year of relief histories per program, as clean logical tables.

Each table is a DataFrame with the common columns

    program   program code (programs.yaml)
    pid       beneficiary (person index)
    hid       household index the record is about (-1: none)
    amount    yuan (monthly programs: the monthly amount; NaN: none stated)
    start/end period (datetime64[D]; end NaT = open)
    date      the row's own date (approval, pay month, admission ...)
    guardian / head   person index of a second person named on the row (-1: none)

plus the columns that a source's export needs. ``quirks``/``writers`` turn
them into the agencies' formats; ``truth`` reads them as the clean truth.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .config import Config, rng_for, to_date
from .population import Population
from .statuses import DB, DBBY, NONE, STATUS_NAMES, TK, age_on, month_index

NAT = np.datetime64("NaT", "D")


def D(d: dt.date) -> np.datetime64:
    return np.datetime64(d, "D")


def month_start(mi: np.ndarray) -> np.ndarray:
    mi = np.asarray(mi, dtype=np.int64)
    return (np.datetime64("0000-01", "M") + mi.astype("timedelta64[M]")).astype("datetime64[D]")


def month_end(mi: np.ndarray) -> np.ndarray:
    return month_start(np.asarray(mi) + 1) - np.timedelta64(1, "D")


def rand_dates(rng, n, lo, hi) -> np.ndarray:
    lo, hi = np.asarray(lo, dtype="datetime64[D]"), np.asarray(hi, dtype="datetime64[D]")
    span = np.maximum((hi - lo).astype(np.int64) + 1, 1)
    return lo + (rng.random(n) * span).astype(np.int64).astype("timedelta64[D]")


def ymd_int(d: np.ndarray) -> np.ndarray:
    """YYYYMMDD integers of datetime64[D] values."""
    d = np.asarray(d, dtype="datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return y * 10000 + m * 100 + day


def _table(program, pid, hid, amount, start, end, date, **extra) -> pd.DataFrame:
    pid = np.asarray(pid, dtype=np.int64)
    n = len(pid)

    def arr(v, dtype=None):
        if np.isscalar(v) or v is None or (isinstance(v, np.datetime64)):
            return np.full(n, v, dtype=dtype) if dtype else np.full(n, v, dtype=object)
        return np.asarray(v, dtype=dtype) if dtype else np.asarray(v)

    d = {
        "program": arr(program, object),
        "pid": pid,
        "hid": arr(hid, np.int64),
        "amount": arr(amount, float),
        "start": arr(start, "datetime64[D]"),
        "end": arr(end, "datetime64[D]"),
        "date": arr(date, "datetime64[D]"),
        "guardian": arr(extra.pop("guardian", -1), np.int64),
        "head": arr(extra.pop("head", -1), np.int64),
    }
    for k, v in extra.items():
        d[k] = arr(v)
    return pd.DataFrame(d)


class Histories:
    """Builds the logical tables of every export from a population with statuses."""

    def __init__(self, cfg: Config, pop: Population, seed: int):
        self.cfg, self.pop, self.seed = cfg, pop, seed
        self.P, self.H = pop.persons, pop.households
        self.year = cfg.year
        self.y0 = self.year * 12
        self.ys, self.ye = dt.date(self.year, 1, 1), dt.date(self.year, 12, 31)
        sy = cfg.synth["calendar"]["school_year"]
        self.sy_start, self.sy_end = to_date(sy[0]), to_date(sy[1])
        self.am = cfg.synth["amounts"]
        self.tu = cfg.synth["take_up"]
        self.sub_names = np.array([s.name for s in cfg.subdistricts])

    def rng(self, stage: str) -> np.random.Generator:
        return rng_for(self.seed, "histories", stage)

    # ---- helpers --------------------------------------------------------------------------
    def status_active_in_year(self) -> np.ndarray:
        P = self.P
        st, en = P["status_start"].to_numpy(), P["status_end"].to_numpy()
        return (P["status"].to_numpy() != NONE) & (st <= self.y0 + 11) & ((en < 0) | (en >= self.y0))

    # ---- mzj roster -------------------------------------------------------------------------
    def roster(self) -> pd.DataFrame:
        P, H = self.P, self.H
        on = P["status"].to_numpy() != NONE
        idx = np.flatnonzero(on)
        hh = P["hh"].to_numpy()[idx]
        status = P["status"].to_numpy()[idx]
        prog = np.select([status == DB, status == DBBY, status == TK],
                         [self.cfg.program_code("mzj", STATUS_NAMES[DB]),
                          self.cfg.program_code("mzj", STATUS_NAMES[DBBY]),
                          self.cfg.program_code("mzj", STATUS_NAMES[TK])], default=None)
        role = P["role"].to_numpy()[idx]
        is_head = role == 0
        st = H["status_start"].to_numpy()[hh]
        en = H["status_end"].to_numpy()[hh]
        amount = np.where(is_head, H["monthly_amount"].to_numpy()[hh], np.nan)
        rel = self.cfg.synth["vocab"]["relations"]
        roles = ["head", "spouse", "child", "parent", "grandchild"]
        male = P["male"].to_numpy()[idx]
        relation = np.full(len(idx), "户主", dtype=object)
        for r in range(1, 5):
            for sx, m in (("M", male), ("F", ~male)):
                relation[(role == r) & m] = rel[roles[r]][sx]
        head = H["head_pid"].to_numpy()[hh]
        t = _table(prog, idx, hh, amount, month_start(st), np.where(en >= 0, month_end(np.maximum(en, 0)), NAT),
                   month_start(st), head=head,
                   roster_no=H["roster_no"].to_numpy()[hh], relation=relation,
                   status_name=np.array([STATUS_NAMES[s] for s in status], dtype=object) if len(idx) else [],
                   start_m=st, end_m=en, sub=H["sub"].to_numpy()[hh],
                   community=H["community"].to_numpy()[hh], address=H["address"].to_numpy()[hh],
                   phone_pid=head)
        return t

    # ---- disability ----------------------------------------------------------------------------
    def cl_registry(self) -> pd.DataFrame:
        P = self.P
        idx = np.flatnonzero(P["disabled"].to_numpy())
        issue = P["cert_issue"].to_numpy().astype("datetime64[D]")[idx]
        return _table(self.cfg.program_code("cl", "持证残疾人"), idx, P["hh"].to_numpy()[idx], np.nan,
                      issue, NAT, issue, cat=P["dis_cat"].to_numpy()[idx], level=P["dis_level"].to_numpy()[idx],
                      sub=P["sub"].to_numpy()[idx], community=P["community"].to_numpy()[idx])

    def cl_subsidy(self) -> pd.DataFrame:
        P = self.P
        rng = self.rng("cl_subsidy")
        y0 = self.y0
        dis = P["disabled"].to_numpy()
        status = P["status"].to_numpy()
        st, en = P["status_start"].to_numpy(), P["status_end"].to_numpy()
        issue = P["cert_issue"].to_numpy().astype("datetime64[M]")
        issue_m = np.where(dis, issue.astype(np.int64) + 1970 * 12, 10**9)
        level = P["dis_level"].to_numpy()
        parts = []

        def months(mask, lo, hi, program, amount):
            i = np.flatnonzero(mask & (hi >= lo))
            if not len(i):
                return
            cnt = (hi - lo + 1)[i]
            pid = np.repeat(i, cnt)
            m = np.repeat(lo[i], cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
            parts.append(_table(program, pid, P["hh"].to_numpy()[pid], np.repeat(amount[i], cnt),
                                month_start(m), month_end(m), month_start(m), month=m))

        never = np.full(len(P), y0 + 11)
        stat_end = np.where(en >= 0, np.minimum(en, y0 + 11), y0 + 11)
        # 困难残疾人生活补贴: holders in 低保 / 低保边缘 households
        liv = self.cfg.amount_on("disability_living", self.ys)
        lamt = np.where(status == DB, float(liv["dibao"]), float(liv["dibian"]))
        lo = np.maximum.reduce([np.full(len(P), y0), st, issue_m])
        months(dis & np.isin(status, [DB, DBBY]) & (rng.random(len(P)) < self.tu["dibian_disability_living_rate"]),
               lo, stat_end, self.cfg.program_code("cl", "困难残疾人生活补贴"), lamt)
        # 重度残疾人护理补贴: level 1-2, not while in 特困 support
        care = self.cfg.amount_on("disability_care", self.ys)
        camt = np.where(level == 1, float(care["level1"]), float(care["level2"]))
        hi = np.where(status == TK, np.minimum(never, st - 1), never)
        months(dis & np.isin(level, [1, 2]), np.maximum(y0, issue_m), hi,
               self.cfg.program_code("cl", "重度残疾人护理补贴"), camt)
        # 康复救助: some holders, consecutive months
        age = P["age"].to_numpy()
        rrate = np.where(age < 18, self.am["rehabilitation_rate_children"], self.am["rehabilitation_rate_other"])
        reh = dis & (rng.random(len(P)) < rrate) & (status != TK)
        k = rng.integers(self.am["rehabilitation_months"][0], self.am["rehabilitation_months"][1] + 1, len(P))
        rlo = np.maximum(np.maximum(y0, issue_m), y0 + rng.integers(0, 12, len(P)) * 0)
        rlo = np.minimum(rlo, y0 + 12 - k)
        ramt = rng.choice(np.array(self.am["rehabilitation"], dtype=float), len(P))
        months(reh, np.maximum(rlo, np.maximum(y0, issue_m)), np.minimum(rlo + k - 1, y0 + 11),
               self.cfg.program_code("cl", "康复救助"), ramt)
        if not parts:
            return _table([], [], [], [], [], [], [], month=[])
        t = pd.concat(parts, ignore_index=True)
        t["cat"] = P["dis_cat"].to_numpy()[t["pid"]]
        t["level"] = P["dis_level"].to_numpy()[t["pid"]]
        t["sub"] = P["sub"].to_numpy()[t["pid"]]
        t["community"] = P["community"].to_numpy()[t["pid"]]
        return t

    # ---- subdistricts (临时救助 template) --------------------------------------------------------
    def jd(self) -> pd.DataFrame:
        P = self.P
        rng = self.rng("jd")
        n = len(P)
        age = P["age"].to_numpy()
        status = P["status"].to_numpy()
        active = self.status_active_in_year()
        st = P["status_start"].to_numpy()
        parts = []
        reasons = self.cfg.synth["vocab"]["temp_relief_reasons"]
        rnames = np.array(list(reasons.keys()))
        rw = np.array(list(reasons.values()), dtype=float)

        # 困难家庭基本医疗保险补贴: every 低保 / 特困 member, a share of 低保边缘
        mi = self.cfg.amount_on("medical_insurance_subsidy", self.ys)
        elig = active & (np.isin(status, [DB, TK]) | ((status == DBBY) & (rng.random(n) < self.am["medical_insurance_dibian_rate"])))
        i = np.flatnonzero(elig)
        amt = np.where(age[i] < 18, float(mi["child"]), np.where(age[i] >= 60, float(mi["elderly"]), float(mi["adult"])))
        m0, m1 = self.am["medical_insurance_months"]
        first_m = np.maximum(self.y0 + m0 - 1, st[i])
        last_m = np.maximum(self.y0 + m1 - 1, first_m)
        d = rand_dates(rng, len(i), month_start(first_m), month_end(np.minimum(last_m, self.y0 + 11)))
        parts.append(_table(self.cfg.program_code("jd", "困难家庭基本医疗保险补贴"), i, P["hh"].to_numpy()[i], amt,
                            D(self.ys), D(self.ye), d,
                            reason=np.where(rng.random(len(i)) < 0.3, "因病", "其他")))

        # 临时救助 (at most 2 a year, 2 only with a relief status) and 区慈善临时救助
        tr = np.where(active, self.tu["temporary_relief_rate_relief"], self.tu["temporary_relief_rate_other"])
        has_t = (rng.random(n) < tr) & (age >= 18)
        two = has_t & active & (rng.random(n) < 0.25)
        i1 = np.flatnonzero(has_t)
        d1 = rand_dates(rng, len(i1), D(self.ys), D(dt.date(self.year, 12, 20)))
        grants = [(i1, d1)]
        i2 = np.flatnonzero(two)
        pos = np.searchsorted(i1, i2)
        d2 = d1[pos] + rng.integers(75, 200, len(i2)).astype("timedelta64[D]")
        over = d2 > D(self.ye)
        d2[over] = d1[pos][over] - rng.integers(75, 200, int(over.sum())).astype("timedelta64[D]")
        ok = d2 >= D(self.ys)
        grants.append((i2[ok], d2[ok]))
        tamts = np.array(self.am["temporary_relief"], dtype=float)
        for gi, gd in grants:
            parts.append(_table(self.cfg.program_code("jd", "临时救助"), gi, P["hh"].to_numpy()[gi],
                                rng.choice(tamts, len(gi), p=_decay(len(tamts))), gd, gd, gd,
                                reason=rng.choice(rnames, len(gi), p=rw / rw.sum())))
        # charity relief: relief households, only persons without a temporary grant
        ch = active & ~has_t & (age >= 18) & (rng.random(n) < self.tu["charity_relief_rate_relief"])
        ic = np.flatnonzero(ch)
        dc = rand_dates(rng, len(ic), D(self.ys), D(self.ye))
        parts.append(_table(self.cfg.program_code("jd", "区慈善临时救助"), ic, P["hh"].to_numpy()[ic],
                            rng.choice(np.array(self.am["charity_relief"], dtype=float), len(ic)), dc, dc, dc,
                            reason=rng.choice(rnames, len(ic), p=rw / rw.sum())))
        # 因病致贫低收入边缘家庭生活补贴: heads of households without a status
        H = self.H
        hstat = H["status"].to_numpy()
        hsel = np.flatnonzero((hstat == NONE) & (rng.random(len(H)) < self.tu["illness_poverty_rate"]))
        heads = H["head_pid"].to_numpy()[hsel]
        dy = rand_dates(rng, len(hsel), D(self.ys), D(self.ye))
        parts.append(_table(self.cfg.program_code("jd", "因病致贫低收入边缘家庭生活补贴"), heads, hsel,
                            rng.choice(np.array(self.am["illness_poverty_subsidy"], dtype=float), len(hsel)),
                            dy, dy, dy, reason="因病"))
        self.illness_households = hsel
        t = pd.concat(parts, ignore_index=True)
        t["sub"] = P["sub"].to_numpy()[t["pid"]]
        t["community"] = P["community"].to_numpy()[t["pid"]]
        return t

    # ---- mzj medical aid ---------------------------------------------------------------------------
    def mzj_medical(self) -> pd.DataFrame:
        P = self.P
        rng = self.rng("medical")
        n = len(P)
        active = self.status_active_in_year()
        rate = np.where(active, self.tu["medical_aid_rate_relief"], self.tu["medical_aid_rate_other"])
        sel = rng.random(n) < rate
        ill = getattr(self, "illness_households", np.array([], dtype=int))
        if len(ill):
            sel |= np.isin(P["hh"].to_numpy(), ill) & (P["role"].to_numpy() == 0)
        i = np.flatnonzero(sel)
        k = rng.integers(self.tu["medical_aid_episodes"][0], self.tu["medical_aid_episodes"][1] + 1, len(i))
        pid = np.repeat(i, k)
        m = len(pid)
        cats = self.am["medical_aid_category_weights"]
        cnames = np.array(list(cats.keys()))
        cw = np.array(list(cats.values()), dtype=float)
        cat = rng.choice(cnames, m, p=cw / cw.sum())
        admit = rand_dates(rng, m, D(self.ys), D(dt.date(self.year, 12, 25)))
        cost = np.zeros(m)
        ratio = np.zeros(m)
        stay = np.zeros(m, dtype=np.int64)
        for c in cnames:
            mm = cat == c
            spec = self.am["medical_aid"][c]
            cost[mm] = rng.uniform(*spec["cost"], int(mm.sum()))
            ratio[mm] = rng.uniform(*spec["ratio"], int(mm.sum()))
            if "stay_days" in spec:
                stay[mm] = rng.integers(spec["stay_days"][0], spec["stay_days"][1] + 1, int(mm.sum()))
        cost = np.round(cost)
        aid = np.round(cost * ratio / 10) * 10
        admit, keep = _sequential(pid, admit, stay, D(dt.date(self.year, 12, 28)), rng)
        discharge = admit + stay.astype("timedelta64[D]")
        hosp = rng.choice(np.array(self.cfg.synth["vocab"]["hospitals"]), m)
        t = _table(self.cfg.program_code("mzj", "医疗救助"), pid, P["hh"].to_numpy()[pid], aid, admit, discharge, admit,
                   category=cat, hospital=hosp, cost=cost, sub=P["sub"].to_numpy()[pid])
        return t.loc[keep].reset_index(drop=True)

    # ---- mzj elderly insurance ------------------------------------------------------------------
    def mzj_elderly(self) -> pd.DataFrame:
        P = self.P
        age = P["age"].to_numpy()
        active = self.status_active_in_year()
        status = P["status"].to_numpy()
        cat = np.full(len(P), None, dtype=object)
        cat[(P["gaoling"].to_numpy())] = "高龄"
        cat[(P["youfu"].to_numpy())] = "优抚"
        cat[(P["shidu"].to_numpy()) & (age >= 60)] = "失独"
        cat[active & (status == TK) & (age >= 60)] = "三无"
        i = np.flatnonzero(cat != None)  # noqa: E711
        prem = self.am["elderly_insurance_premium"]
        amt = np.array([float(prem[c]) for c in cat[i]]) if len(i) else np.zeros(0)
        return _table(self.cfg.program_code("mzj", "老年人意外保险"), i, P["hh"].to_numpy()[i], amt,
                      D(self.ys), D(self.ye), D(self.ys), category=cat[i])

    # ---- jsj -------------------------------------------------------------------------------------
    def jsj(self) -> pd.DataFrame:
        P = self.P
        amt = self.cfg.amount_on("jsj_annual", self.ys)
        parts = []
        for col, name in (("shidu", "独生子女死亡"), ("shangcan", "独生子女伤残")):
            i = np.flatnonzero(P[col].to_numpy())
            prog = self.cfg.program_code("jsj", name + "扶助")
            parts.append(_table(prog, i, P["hh"].to_numpy()[i], float(amt[name]), D(self.ys), D(self.ye),
                                D(self.ys), category=name))
        return pd.concat(parts, ignore_index=True)

    # ---- jyj student aid --------------------------------------------------------------------------
    def jyj(self) -> pd.DataFrame:
        P = self.P
        rng = self.rng("jyj")
        n = len(P)
        status = P["status"].to_numpy()
        active_sy = (status != NONE) & ((P["status_end"].to_numpy() < 0) |
                                          (P["status_end"].to_numpy() >= month_index(self.sy_start)))
        # age at the start of the school year (turning 6 on 1 September counts as 6)
        sy_d = self.sy_start.year * 10000 + self.sy_start.month * 100 + self.sy_start.day
        a = (sy_d - P["ymd"].to_numpy()) // 10000
        kid = np.isin(P["role"].to_numpy(), [2, 4]) & (a >= 3) & (a <= 18)
        u = rng.random(n)
        elig = kid & ((active_sy & np.isin(status, [DB, TK])) |
                      (active_sy & (status == DBBY) & (u < self.tu["student_aid_dibian_rate"])) |
                      ((status == NONE) & (u < self.tu["student_aid_other_rate"])))
        i = np.flatnonzero(elig)
        ai = a[i]
        voc = rng.random(len(i)) < self.am["vocational_share"]
        stage = np.select([ai <= 5, ai <= 11, ai <= 14, voc], ["preschool", "primary", "middle", "vocational"], "high")
        grade_names = {3: "小班", 4: "中班", 5: "大班", 6: "一年级", 7: "二年级", 8: "三年级", 9: "四年级",
                       10: "五年级", 11: "六年级", 12: "七年级", 13: "八年级", 14: "九年级"}
        grade = np.array([grade_names.get(int(x), "") for x in ai], dtype=object)
        hs = np.minimum(ai - 15, 2)
        grade = np.where(stage == "high", np.array(["高一", "高二", "高三"])[np.clip(hs, 0, 2)], grade)
        grade = np.where(stage == "vocational", np.array(["中职一年级", "中职二年级", "中职三年级"])[np.clip(hs, 0, 2)], grade)
        subs = self.cfg.subdistricts
        short = np.array([(s.aliases[0] if s.aliases else s.name.replace("街道", "")) for s in subs])
        sub = P["sub"].to_numpy()[i]
        vs = np.array(self.cfg.synth["vocab"]["vocational_schools"])
        school = np.select(
            [stage == "preschool", stage == "primary", stage == "middle", stage == "high"],
            ["杭州市拱墅区" + short[sub] + "幼儿园", "杭州市" + short[sub] + "小学",
             "杭州市" + short[sub] + "中学", "杭州市" + short[sub] + "高级中学"],
            vs[rng.integers(0, len(vs), len(i))])
        # one row per aid item of the stage
        items = self.am["student_aid"]
        rows_pid, rows_item, rows_amt, rows_idx = [], [], [], []
        for st_name, lst in items.items():
            m = np.flatnonzero(stage == st_name)
            for item, amount in lst:
                rows_pid.append(i[m])
                rows_item.append(np.full(len(m), item, dtype=object))
                rows_amt.append(np.full(len(m), float(amount)))
                rows_idx.append(m)
        pid = np.concatenate(rows_pid)
        j = np.concatenate(rows_idx)
        guardian = P["guardian_pid"].to_numpy()[pid]
        head = self.H["head_pid"].to_numpy()[P["hh"].to_numpy()[pid]]
        guardian = np.where(guardian >= 0, guardian, head)
        t = _table(self.cfg.program_code("jyj", "学生资助"), pid, P["hh"].to_numpy()[pid], np.concatenate(rows_amt),
                   D(self.sy_start), D(self.sy_end), D(self.sy_start), guardian=guardian,
                   item=np.concatenate(rows_item), school=school[j], grade=grade[j], stage=stage[j],
                   school_year=f"{self.sy_start.year}-{self.sy_end.year}")
        return t.sort_values(["pid", "item"], kind="stable").reset_index(drop=True)

    # ---- zgh union hardship -----------------------------------------------------------------------------
    def zgh(self) -> pd.DataFrame:
        P = self.P
        rng = self.rng("zgh")
        workers = np.flatnonzero(P["union"].to_numpy())
        u = self.am["union"]
        parts = []
        m = workers[rng.random(len(workers)) < 0.85]
        d = rand_dates(rng, len(m), D(self.ys), D(self.ye))
        parts.append(_table(self.cfg.program_code("zgh", "困难职工生活救助"), m, P["hh"].to_numpy()[m],
                            rng.choice(np.array(u["困难职工生活救助"], dtype=float), len(m)), d, d, d))
        m = workers[rng.random(len(workers)) < 0.6]
        d = rand_dates(rng, len(m), D(dt.date(self.year, 1, 10)), D(dt.date(self.year, 2, 15)))
        parts.append(_table(self.cfg.program_code("zgh", "春节送温暖"), m, P["hh"].to_numpy()[m],
                            rng.choice(np.array(u["春节送温暖"], dtype=float), len(m)), D(self.ys), D(self.ye), d))
        # 金秋助学: college children (19-22 at the start of the school year) of union workers
        sy_d = self.sy_start.year * 10000 + self.sy_start.month * 100 + self.sy_start.day
        a = (sy_d - P["ymd"].to_numpy()) // 10000
        fam = P["guardian_pid"].to_numpy()
        father = P["father_pid"].to_numpy()
        is_union = P["union"].to_numpy()
        parent = np.where((father >= 0) & is_union[np.maximum(father, 0)], father, fam)
        kids = np.flatnonzero((P["role"].to_numpy() == 2) & (a >= 19) & (a <= 22) & (parent >= 0)
                              & is_union[np.maximum(parent, 0)]
                              & (rng.random(len(P)) < self.cfg.synth["statuses"]["college_child_rate"]))
        d = rand_dates(rng, len(kids), D(dt.date(self.year, 8, 10)), D(dt.date(self.year, 9, 20)))
        parts.append(_table(self.cfg.program_code("zgh", "金秋助学"), kids, P["hh"].to_numpy()[kids],
                            rng.choice(np.array(u["金秋助学"], dtype=float), len(kids)), D(self.sy_start), D(self.sy_end),
                            d, guardian=parent[kids]))
        t = pd.concat(parts, ignore_index=True)
        worker = np.where(t["guardian"].to_numpy() >= 0, t["guardian"].to_numpy(), t["pid"].to_numpy())
        emp = np.array(self.cfg.synth["vocab"]["employers"])
        t["employer"] = emp[(worker * 7919 + self.seed) % len(emp)]
        return t

    # ---- rsj ---------------------------------------------------------------------------------------
    def rsj(self) -> pd.DataFrame:
        P = self.P
        rng = self.rng("rsj")
        n = len(P)
        age = P["age"].to_numpy()
        status = P["status"].to_numpy()
        active = self.status_active_in_year()
        rate = np.where(active & (status != TK), self.tu["employment_rate_relief"], self.tu["employment_rate_other"])
        sel = (age >= 18) & (age <= 59) & (status != TK) & (rng.random(n) < rate)
        i = np.flatnonzero(sel)
        emp = self.am["employment"]
        types = np.array(list(emp.keys()))
        ty = rng.choice(types, len(i))
        amt = np.zeros(len(i))
        for tname in types:
            m = ty == tname
            amt[m] = rng.choice(np.array(emp[tname], dtype=float), int(m.sum()))
        lo, hi = (month_index(to_date(x)) for x in self.am["employment_start_range"])
        s = rng.integers(lo, hi + 1, len(i))
        ln = rng.integers(self.am["employment_length_months"][0], self.am["employment_length_months"][1] + 1, len(i))
        e = np.maximum(s + ln - 1, self.y0)  # every subsidy runs into the year
        voc = self.cfg.synth["vocab"]
        cat = np.where(status[i] == DB, voc["employment_category_relief"],
                       rng.choice(np.array(voc["employment_categories"]), len(i)))
        prog = np.array([self.cfg.program_code("rsj", x) for x in ty], dtype=object) if len(i) else []
        return _table(prog, i, P["hh"].to_numpy()[i], amt, month_start(s), month_end(e), month_start(s),
                      start_m=s, end_m=e, subsidy_type=ty, category=cat, sub=P["sub"].to_numpy()[i])

    # ---- sfj legal aid --------------------------------------------------------------------------------
    def sfj(self) -> pd.DataFrame:
        P = self.P
        rng = self.rng("sfj")
        n = len(P)
        age = P["age"].to_numpy()
        sel = (age >= 18) & (rng.random(n) < self.tu["legal_aid_rate"])
        i = np.flatnonzero(sel)
        two = i[rng.random(len(i)) < self.tu["legal_aid_second_case_rate"]]
        pid = np.concatenate([i, two])
        order = np.argsort(pid, kind="stable")
        pid = pid[order]
        acc = rand_dates(rng, len(pid), D(self.ys), D(dt.date(self.year, 9, 30)))
        dur_d = rng.integers(15, 120, len(pid))
        acc, keep = _sequential(pid, acc, dur_d, D(self.ye), rng)
        dur = dur_d.astype("timedelta64[D]")
        first = np.ones(len(pid), dtype=bool)
        first[1:] = pid[1:] != pid[:-1]
        # a first case of someone with a second one is closed before the second is accepted
        closed = (rng.random(len(pid)) < self.tu["legal_aid_closed_rate"]) | (np.roll(~first, -1) & first)
        close = np.where(closed, acc + dur, NAT)
        ct = self.cfg.synth["vocab"]["legal_case_types"]
        ctn = np.array(list(ct.keys()))
        cw = np.array(list(ct.values()), dtype=float)
        t = _table(self.cfg.program_code("sfj", "法律援助"), pid, P["hh"].to_numpy()[pid], np.nan, acc, close, acc,
                   case_type=rng.choice(ctn, len(pid), p=cw / cw.sum()))
        t["age_at"] = (ymd_int(acc) - P["ymd"].to_numpy()[pid]) // 10000
        t = t.loc[keep]
        return t.sort_values("date", kind="stable").reset_index(drop=True)

    def build_all(self) -> dict[str, pd.DataFrame]:
        tables = {
            "mzj_roster": self.roster(),
            "cl_registry": self.cl_registry(),
            "cl_subsidy": self.cl_subsidy(),
            "jd": self.jd(),
        }
        tables["mzj_medical"] = self.mzj_medical()   # after jd: illness-poverty households
        tables["mzj_elderly"] = self.mzj_elderly()
        tables["jsj"] = self.jsj()
        tables["jyj"] = self.jyj()
        tables["zgh"] = self.zgh()
        tables["rsj"] = self.rsj()
        tables["sfj"] = self.sfj()
        return tables


def _sequential(pid: np.ndarray, start: np.ndarray, length: np.ndarray, last: np.datetime64, rng):
    """Episodes of one person one after another (sorted by pid): each starts 7-90 days after the
    previous one ends. Returns the new starts and a mask of the episodes that still begin by ``last``."""
    pid = np.asarray(pid)
    start = np.asarray(start, dtype="datetime64[D]").copy()
    n = len(pid)
    if n == 0:
        return start, np.zeros(0, dtype=bool)
    first = np.ones(n, dtype=bool)
    first[1:] = pid[1:] != pid[:-1]
    gap = rng.integers(7, 91, n)
    step = np.where(first, 0, np.roll(np.asarray(length, dtype=np.int64), 1) + gap)
    grp = np.cumsum(first) - 1
    base = start[np.flatnonzero(first)][grp]
    cum = np.cumsum(step)
    offset = cum - cum[np.flatnonzero(first)][grp]
    start = base + offset.astype("timedelta64[D]")
    return start, start <= last


def _decay(k: int) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** 0.7
    return w / w.sum()
