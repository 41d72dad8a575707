"""Planting rule violations of SPEC §5 and compliant near-misses next to them.

Two steps:

* :func:`tweak_persons` runs before the histories and changes a few persons
  or households so that the histories produce a near-miss (a child turning 6
  the day after 1 September, a 特困 status that starts the month after the
  care allowance stops, a 失独 parent aged 59).
* :func:`plant_rows` runs on the logical tables (every row has a ``rid``):
  it adds, copies or drops rows and returns the planted list, rows named by
  rid (``truth`` resolves them to file and row).

Nothing here evaluates the rules; what is planted is recorded as planted.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd

from .config import Config, rng_for
from .histories import D, month_end, month_start, ymd_int
from .ids import make_ids
from .population import Population
from .statuses import DB, DBBY, NONE, STATUS_NAMES, TK, month_index

RULES = ["DUP-SAME-PROGRAM", "DUP-SAME-PURPOSE", "EXCL-STATUS", "EXCL-TK-DISABILITY", "MULTI-SOURCE",
         "TEMP-FREQ", "MISS-DISABILITY", "MISS-MEDICAL-INSURANCE", "MISS-ELDERLY-INSURANCE",
         "MISS-EDUCATION", "MISS-REFERRAL"]


class _Used:
    """Persons already taken by a planted case (a boolean mask; set-like ``add``/``update``/``in``)."""

    def __init__(self, n: int):
        self.mask = np.zeros(n, dtype=bool)

    def add(self, pid) -> None:
        self.mask[int(pid)] = True

    def update(self, pids) -> None:
        self.mask[np.asarray(list(pids) if not isinstance(pids, np.ndarray) else pids, dtype=np.int64)] = True

    def __contains__(self, pid) -> bool:
        return bool(self.mask[int(pid)])


class Planter:
    def __init__(self, cfg: Config, pop: Population, seed: int):
        self.cfg, self.pop, self.seed = cfg, pop, seed
        self.P, self.H = pop.persons, pop.households
        self.rng = rng_for(seed, "anomalies")
        n = len(self.P)
        an = cfg.synth["anomalies"]
        scale = float(cfg.profile_cfg.get("anomalies_scale", 1.0))
        self.k = max(int(an["min"]), int(round(an["per_10k"] * n / 10000 * scale)))
        self.kc = max(int(an["compliant_min"]), int(round(an["compliant_per_10k"] * n / 10000 * scale)))
        self.miss_rates = {k: float(v) * scale for k, v in an["miss_rates"].items()}
        self.used = _Used(n)
        self.planted: list[dict] = []
        self.pending: list[dict] = []   # from tweak_persons, resolved in plant_rows
        self.year = cfg.year
        self.y0 = self.year * 12

    # ---- helpers ----------------------------------------------------------------------------
    def pick(self, cand: np.ndarray, k: int) -> np.ndarray:
        """Up to ``k`` persons of ``cand`` not used by another planted case."""
        cand = np.unique(np.asarray(cand, dtype=np.int64))
        cand = cand[(cand >= 0) & ~self.used.mask[np.maximum(cand, 0)]]
        if len(cand) == 0 or k <= 0:
            return cand[:0]
        sel = self.rng.choice(cand, size=min(k, len(cand)), replace=False)
        sel = np.sort(sel)
        self.used.update(sel)
        return sel

    def record(self, rule, pid, rids, note, compliant=False, hid=None):
        P = self.P
        if hid is None:
            hid = int(P["hh"].iat[int(pid)]) if pid is not None and pid >= 0 else -1
        self.planted.append({
            "rule_id": rule, "compliant": bool(compliant),
            "pid": int(pid) if pid is not None else -1, "hid": int(hid),
            "rids": list(rids), "note": note})

    # ---- before the histories ---------------------------------------------------------------
    def tweak_persons(self) -> None:
        P, H = self.P, self.H
        rng = self.rng
        sy = self.cfg.synth["calendar"]["school_year"][0]
        sy = sy if isinstance(sy, dt.date) else dt.date.fromisoformat(str(sy))
        # a 低保 child turning 6 the day after the school year starts: not yet entitled
        age = P["age"].to_numpy()
        status = P["status"].to_numpy()
        cand = np.flatnonzero((P["role"].to_numpy() == 2) & np.isin(status, [DB, TK]) & (age >= 5) & (age <= 7)
                              & ~P["twin"].to_numpy() & (P["status_end"].to_numpy() < 0))
        taken = set(P["id_number"])
        for pid in self.pick(cand, self.kc):
            bd = dt.date(sy.year - 6, sy.month, sy.day) + dt.timedelta(days=1)
            old = P.at[pid, "id_number"]
            new = str(make_ids(np.array([old[:6]]), np.array([int(bd.strftime("%Y%m%d"))]),
                               np.array([int(old[14:17])]))[0])
            if new in taken:
                continue
            taken.add(new)
            P.at[pid, "id_number"] = new
            P.at[pid, "birth_date"] = np.datetime64(bd, "D")
            P.at[pid, "ymd"] = int(bd.strftime("%Y%m%d"))
            P.at[pid, "birth_year"] = bd.year
            P.at[pid, "age"] = (int(self.cfg.ref_date.strftime("%Y%m%d")) - int(bd.strftime("%Y%m%d"))) // 10000
            self.pending.append({"rule_id": "MISS-EDUCATION", "compliant": True, "pid": int(pid),
                                 "kind": "turns6", "note": f"低保/特困 child born {bd}: 5 years old on "
                                 f"{sy}, turns 6 the next day; no student aid (not yet entitled)"})
        # 特困 from July; the care allowance stops in June (adjacent months, no overlap)
        cand = np.flatnonzero((status == TK) & P["disabled"].to_numpy() & np.isin(P["dis_level"].to_numpy(), [1, 2])
                              & (P["cert_issue"].to_numpy() < np.datetime64(f"{self.year - 1}-01-01")))
        for pid in self.pick(cand, self.kc):
            hh = int(P.at[pid, "hh"])
            H.at[hh, "status_start"] = self.y0 + 6
            H.at[hh, "status_end"] = -1
            P.loc[P["hh"] == hh, "status_start"] = self.y0 + 6
            P.loc[P["hh"] == hh, "status_end"] = -1
            self.pending.append({"rule_id": "EXCL-TK-DISABILITY", "compliant": True, "pid": int(pid),
                                 "kind": "tk_after_care", "note": f"特困供养 from {self.year}07, 重度残疾人护理补贴 "
                                 f"paid {self.year}01-{self.year}06: adjacent months, never the same month"})
        # 失独 parent aged 59 all year: not yet entitled to the elderly insurance
        hstat = H["status"].to_numpy()
        max_age = P.groupby("hh")["age"].max().reindex(range(len(H))).to_numpy()
        head = H["head_pid"].to_numpy()
        # aged 59 on the reference date (31 Dec): 59 all year long, 60 only next year
        cand_h = np.flatnonzero((max_age == 59) & (P["age"].to_numpy()[head] == 59) & (hstat != TK)
                                & np.isin(H["type"].to_numpy(), ["couple", "single_adult", "elderly_couple"]))
        for pid in self.pick(head[cand_h], self.kc):
            hh = int(P.at[pid, "hh"])
            members = (P["hh"] == hh) & P["role"].isin([0, 1])
            P.loc[members, "shidu"] = True
            P.loc[members, "shangcan"] = False
            self.pending.append({"rule_id": "MISS-ELDERLY-INSURANCE", "compliant": True, "pid": int(pid),
                                 "kind": "shidu59", "note": f"失独 parent born {str(P.at[pid, 'birth_date'])[:10]}: 59 all "
                                 f"{self.year}, not in the elderly insurance list (not yet entitled)"})


def _next_rid(tables: dict[str, pd.DataFrame]) -> int:
    return int(max((t["rid"].max() for t in tables.values() if len(t)), default=-1)) + 1


class RowPlanter:
    """Row-level planting on the logical tables."""

    def __init__(self, planter: Planter, tables: dict[str, pd.DataFrame], hist):
        self.pl = planter
        self.t = tables
        self.hist = hist
        self.cfg = planter.cfg
        self.P, self.H = planter.P, planter.H
        self.rng = planter.rng
        self.rid = _next_rid(tables)
        self.year = planter.year
        self.y0 = planter.y0
        self.roster_seq = 9000
        self.pending: dict[str, list[pd.DataFrame]] = {}
        self.dropped: set[int] = set()
        self._idx: dict = {}

    # ---- table helpers --------------------------------------------------------------------------
    # Additions are buffered and drops collected, so that planting at scale does not copy the big
    # tables for every planted case; references to "all rows of a person" are resolved at the end.
    def add(self, key: str, rows: pd.DataFrame) -> list[int]:
        rows = rows.copy()
        rids = list(range(self.rid, self.rid + len(rows)))
        self.rid += len(rows)
        rows["rid"] = rids
        self.pending.setdefault(key, []).append(rows)
        return rids

    def drop(self, key: str, mask: np.ndarray) -> None:
        self.dropped.update(int(r) for r in self.t[key].loc[mask, "rid"])

    def flush(self, key: str) -> pd.DataFrame:
        parts = self.pending.pop(key, [])
        t = self.t[key]
        if parts:
            new = pd.concat(parts, ignore_index=True)
            for c in t.columns:  # the big table's dtypes: keeps pandas on its fast concat path
                if c in new.columns and new[c].dtype != t[c].dtype:
                    try:
                        new[c] = new[c].astype(t[c].dtype)
                    except (TypeError, ValueError):
                        pass
            parts = [new]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # all-NA columns of the new rows
                t = pd.concat([t] + parts, ignore_index=True)
        if self.dropped:
            keep = ~np.isin(t["rid"].to_numpy(), np.fromiter(self.dropped, dtype=np.int64))
            if not keep.all():
                t = t.loc[keep].reset_index(drop=True)
        self.t[key] = t
        return t

    def positions(self, key: str, col: str, value: int) -> np.ndarray:
        """Row positions of ``self.t[key]`` where ``col == value`` (an index cached per table object)."""
        t = self.t[key]
        c = self._idx.get((key, col))
        if c is None or c[0] is not t:
            v = t[col].to_numpy(dtype=np.int64)
            order = np.argsort(v, kind="stable")
            c = (t, v[order], order)
            self._idx[(key, col)] = c
        _, sv, order = c
        lo, hi = np.searchsorted(sv, value, "left"), np.searchsorted(sv, value, "right")
        return order[lo:hi]

    def rows_of(self, key: str, pid: int, program: str | None = None) -> pd.DataFrame:
        t = self.t[key]
        r = t.iloc[self.positions(key, "pid", int(pid))]
        if program:
            r = r[r["program"].to_numpy() == program]
        return r

    def household_mask(self, key: str, hh: int, roster_no) -> np.ndarray:
        t = self.t[key]
        pos = self.positions(key, "hid", int(hh))
        pos = pos[t["roster_no"].to_numpy()[pos] == roster_no]
        m = np.zeros(len(t), dtype=bool)
        m[pos] = True
        return m

    @staticmethod
    def person_rids(pid: int, keys=None, program=None) -> list:
        """A reference to all rows of a person (in ``keys``), resolved when planting ends."""
        return [("ref", int(pid), tuple(keys) if keys else None, program)]

    def resolve(self) -> None:
        for k in list(self.t):
            self.flush(k)
        parts = [pd.DataFrame({"pid": t["pid"].to_numpy(np.int64), "rid": t["rid"].to_numpy(np.int64),
                               "program": t["program"].to_numpy(object), "key": k}) for k, t in self.t.items()]
        idx = pd.concat(parts, ignore_index=True).sort_values(["pid", "rid"], kind="stable")
        pids = idx["pid"].to_numpy()
        for p in self.pl.planted:
            out = []
            for r in p["rids"]:
                if isinstance(r, tuple):
                    _, pid, keys, program = r
                    lo, hi = np.searchsorted(pids, pid, "left"), np.searchsorted(pids, pid, "right")
                    sub = idx.iloc[lo:hi]
                    if keys:
                        sub = sub[sub["key"].isin(keys)]
                    if program:
                        sub = sub[sub["program"] == program]
                    out += sub["rid"].tolist()
                elif int(r) not in self.dropped:
                    out.append(int(r))
            p["rids"] = sorted(set(out))

    def code(self, agency, name):
        return self.cfg.program_code(agency, name)

    def other_sub(self, sub: int) -> int:
        n = len(self.cfg.subdistricts)
        return int((sub + 1 + self.rng.integers(0, n - 1)) % n)

    def new_roster_no(self, sub: int, comm_index: int) -> str:
        self.roster_seq += 1
        s = self.cfg.subdistricts[sub]
        return (self.cfg.gazetteer["district"]["region_code"] + s.admin[-3:] + str(comm_index + 1).zfill(3)
                + str(self.roster_seq).zfill(4))

    def status_pids(self, statuses, active=True) -> np.ndarray:
        P = self.P
        m = np.isin(P["status"].to_numpy(), statuses)
        if active:
            m &= P["status_end"].to_numpy() < 0
        return np.flatnonzero(m)

    def temp_count(self) -> pd.Series:
        jd = self.flush("jd")
        tmp = jd[jd["program"].isin([self.code("jd", "临时救助"), self.code("jd", "区慈善临时救助")])]
        return tmp.groupby("pid").size()

    # ---- rules -------------------------------------------------------------------------------------
    def dup_same_program(self):
        k, kc = self.pl.k, self.pl.kc
        rng = self.rng
        per = max(1, int(np.ceil(k / 5)))
        # a monthly subsidy paid twice for one month
        cl = self.t["cl_subsidy"]
        for pid in self.pl.pick(cl["pid"].to_numpy(), per):
            r = self.rows_of("cl_subsidy", pid).sample(1, random_state=int(rng.integers(1 << 30)))
            new = self.add("cl_subsidy", r)
            self.pl.record("DUP-SAME-PROGRAM", pid, [int(r["rid"].iat[0])] + new,
                           f"{r['program'].iat[0]} paid twice for month {int(r['month'].iat[0]) // 12}"
                           f"{int(r['month'].iat[0]) % 12 + 1:02d}")
        # the same grant entered twice in one ledger
        zg = self.t["zgh"]
        for pid in self.pl.pick(zg.loc[zg["guardian"] < 0, "pid"].to_numpy(), per):
            r = self.rows_of("zgh", pid).iloc[[0]]
            new = self.add("zgh", r)
            self.pl.record("DUP-SAME-PROGRAM", pid, [int(r["rid"].iat[0])] + new,
                           f"{r['program'].iat[0]} entered twice in the union ledger")
        # the annual medical-insurance subsidy granted by two subdistricts
        jd = self.t["jd"]
        ybbt = self.code("jd", "困难家庭基本医疗保险补贴")
        for pid in self.pl.pick(jd.loc[jd["program"] == ybbt, "pid"].to_numpy(), per):
            r = self.rows_of("jd", pid, ybbt).iloc[[0]].copy()
            orig = int(r["rid"].iat[0])
            sub = self.other_sub(int(r["sub"].iat[0]))
            r["sub"] = sub
            comms = self.cfg.subdistricts[sub].communities
            r["community"] = comms[int(rng.integers(0, len(comms)))]
            r["date"] = r["date"] + np.timedelta64(int(rng.integers(20, 200)), "D")
            r["date"] = np.minimum(r["date"].to_numpy(), D(dt.date(self.year, 12, 28)))
            new = self.add("jd", r)
            self.pl.record("DUP-SAME-PROGRAM", pid, [orig] + new,
                           f"困难家庭基本医疗保险补贴 {self.year} granted by two subdistricts")
        # employment subsidy with overlapping periods in two subdistricts
        rs = self.t["rsj"]
        for pid in self.pl.pick(rs["pid"].to_numpy(), per):
            r = self.rows_of("rsj", pid).iloc[[0]].copy()
            orig = int(r["rid"].iat[0])
            s = int(r["start_m"].iat[0]) + int(rng.integers(1, 4))
            e = max(s + int(rng.integers(6, 18)), self.y0 + 2)
            r["start_m"], r["end_m"] = s, e
            r["start"], r["end"], r["date"] = month_start([s]), month_end([e]), month_start([s])
            r["sub"] = self.other_sub(int(r["sub"].iat[0]))
            new = self.add("rsj", r)
            self.pl.record("DUP-SAME-PROGRAM", pid, [orig] + new,
                           "employment subsidy with overlapping periods in two subdistricts")
        # 低保 in two subdistricts after a move
        heads = self.H["head_pid"].to_numpy()[(self.H["status"].to_numpy() == DB) & (self.H["status_end"].to_numpy() < 0)]
        for pid in self.pl.pick(heads, per):
            hh = int(self.P.at[pid, "hh"])
            rows = self.t["mzj_roster"]
            rows = rows.loc[self.household_mask("mzj_roster", hh, self.H.at[hh, "roster_no"])].copy()
            orig = rows["rid"].tolist()
            self.pl.used.update(int(x) for x in rows["pid"])
            sub = self.other_sub(int(rows["sub"].iat[0]))
            ci = int(rng.integers(0, len(self.cfg.subdistricts[sub].communities)))
            rows["roster_no"] = self.new_roster_no(sub, ci)
            rows["sub"] = sub
            rows["community"] = self.cfg.subdistricts[sub].communities[ci]
            s = self.y0 + int(rng.integers(2, 9))
            rows["start_m"], rows["start"], rows["date"] = s, month_start(np.full(len(rows), s))[0], month_start([s])[0]
            new = self.add("mzj_roster", rows)
            self.pl.record("DUP-SAME-PROGRAM", pid, orig + new,
                           f"低保 household registered again in {self.cfg.subdistricts[sub].name} from "
                           f"{s // 12}{s % 12 + 1:02d} while the first registration is still open", hid=hh)
        # compliant: consecutive, non-overlapping employment subsidies
        for pid in self.pl.pick(self.t["rsj"]["pid"].to_numpy(), kc):
            r = self.rows_of("rsj", pid).iloc[[0]].copy()
            orig = int(r["rid"].iat[0])
            s = int(r["end_m"].iat[0]) + 1
            e = s + int(rng.integers(6, 18))
            r["start_m"], r["end_m"] = s, e
            r["start"], r["end"], r["date"] = month_start([s]), month_end([e]), month_start([s])
            new = self.add("rsj", r)
            self.pl.record("DUP-SAME-PROGRAM", pid, [orig] + new,
                           "two employment subsidies back to back: the second starts the month after the first ends",
                           compliant=True)
        # compliant: a household that moved; the old registration ended before the new one started
        heads = self.H["head_pid"].to_numpy()[(self.H["status"].to_numpy() == DB) & (self.H["status_end"].to_numpy() < 0)
                                              & (self.H["status_start"].to_numpy() < self.y0)]
        for pid in self.pl.pick(heads, kc):
            hh = int(self.P.at[pid, "hh"])
            t = self.t["mzj_roster"]
            m = self.household_mask("mzj_roster", hh, self.H.at[hh, "roster_no"])
            endm = self.y0 + int(rng.integers(2, 8))
            t.loc[m, "end_m"] = endm
            t.loc[m, "end"] = month_end([endm])[0]
            rows = t.loc[m].copy()
            orig = rows["rid"].tolist()
            self.pl.used.update(int(x) for x in rows["pid"])
            sub = self.other_sub(int(rows["sub"].iat[0]))
            ci = int(rng.integers(0, len(self.cfg.subdistricts[sub].communities)))
            rows["roster_no"] = self.new_roster_no(sub, ci)
            rows["sub"] = sub
            rows["community"] = self.cfg.subdistricts[sub].communities[ci]
            rows["start_m"], rows["start"], rows["date"] = endm + 1, month_start([endm + 1])[0], month_start([endm + 1])[0]
            rows["end_m"], rows["end"] = -1, np.datetime64("NaT")
            new = self.add("mzj_roster", rows)
            self.pl.record("DUP-SAME-PROGRAM", pid, orig + new,
                           f"household moved: first registration ended {endm // 12}{endm % 12 + 1:02d}, "
                           f"the new one starts the month after", compliant=True, hid=hh)

    def dup_same_purpose(self):
        k, kc = self.pl.k, self.pl.kc
        rng = self.rng
        per = max(1, k // 2)
        # 金秋助学 for a child who has student aid in the same school year
        jy = self.t["jyj"]
        st = self.P["status"].to_numpy()
        cand = jy.loc[np.isin(st[jy["pid"].to_numpy()], [DB, TK]) & (jy["guardian"] >= 0), "pid"].to_numpy()
        for pid in self.pl.pick(cand, per):
            r = self.rows_of("jyj", pid)
            g = int(r["guardian"].iat[0])
            self.pl.used.add(g)
            d = D(dt.date(self.year, 9, 1)) + np.timedelta64(int(rng.integers(0, 30)), "D")
            zrow = self.hist_row("zgh", self.code("zgh", "金秋助学"), pid,
                                 float(rng.choice(self.cfg.synth["amounts"]["union"]["金秋助学"])),
                                 r["start"].iat[0], r["end"].iat[0], d, guardian=g,
                                 employer=self.employer(g))
            new = self.add("zgh", zrow)
            self.pl.record("DUP-SAME-PURPOSE", pid, r["rid"].tolist() + new,
                           "金秋助学 (union) and 学生资助 (education bureau) in the same school year")
        # 临时救助 and 区慈善临时救助 within 30 days
        jd = self.t["jd"]
        tmp = self.code("jd", "临时救助")
        tc = self.temp_count()
        one = tc[tc == 1].index.to_numpy()
        act = one[np.isin(self.P["status"].to_numpy()[one], [DB, DBBY, TK])]
        lsjz = jd.loc[(jd["program"] == tmp) & jd["pid"].isin(act), "pid"].to_numpy()
        for i, pid in enumerate(self.pl.pick(lsjz, per + kc)):
            compliant = i >= per
            r = self.rows_of("jd", pid, tmp).iloc[[0]].copy()
            orig = int(r["rid"].iat[0])
            gap = 31 if compliant else int(rng.integers(3, 31))
            d0 = r["date"].to_numpy()[0]
            d = d0 + np.timedelta64(gap, "D")
            if d > D(dt.date(self.year, 12, 31)):
                d = d0 - np.timedelta64(gap, "D")
            r["program"] = self.code("jd", "区慈善临时救助")
            r["amount"] = float(rng.choice(self.cfg.synth["amounts"]["charity_relief"]))
            r["date"] = r["start"] = r["end"] = d
            new = self.add("jd", r)
            self.pl.record("DUP-SAME-PURPOSE", pid, [orig] + new,
                           f"临时救助 and 区慈善临时救助 {gap} days apart" + (" (more than 30: compliant)" if compliant else ""),
                           compliant=compliant)

    def excl_status(self):
        k, kc = self.pl.k, self.pl.kc
        rng = self.rng
        per = max(1, k // 2)
        P, H = self.P, self.H
        ros = self.t["mzj_roster"]
        std = float(self.cfg.amount_on("dibao_standard", self.cfg.ref_date)["value"])
        tkf = float(self.cfg.synth["amounts"]["tekun_factor"])
        # a 低保 household member also registered as a single 特困 household
        cand = np.flatnonzero((P["status"].to_numpy() == DB) & (P["role"].to_numpy() != 0) & (P["age"].to_numpy() >= 18)
                              & (P["status_end"].to_numpy() < 0))
        for pid in self.pl.pick(cand, per):
            r = self.rows_of("mzj_roster", pid).iloc[[0]].copy()
            orig = int(r["rid"].iat[0])
            sub = int(r["sub"].iat[0])
            ci = int(H.at[int(r["hid"].iat[0]), "comm_index"])
            r["roster_no"] = self.new_roster_no(sub, ci)
            r["program"] = self.code("mzj", STATUS_NAMES[TK])
            r["status_name"] = STATUS_NAMES[TK]
            r["relation"] = "户主"
            r["head"] = pid
            r["phone_pid"] = pid
            r["amount"] = round(std * tkf)
            s = self.y0 - int(rng.integers(1, 30))
            r["start_m"], r["start"], r["date"] = s, month_start([s])[0], month_start([s])[0]
            new = self.add("mzj_roster", r)
            self.pl.record("EXCL-STATUS", pid, [orig] + new,
                           "member of a 低保 household and head of a 特困供养 household at once")
        # a 低保边缘 household also registered as 低保
        heads = H["head_pid"].to_numpy()[(H["status"].to_numpy() == DBBY) & (H["status_end"].to_numpy() < 0)]
        pick = self.pl.pick(heads, per + kc)
        for i, pid in enumerate(pick):
            compliant = i >= per
            hh = int(P.at[pid, "hh"])
            t = self.t["mzj_roster"]
            m = self.household_mask("mzj_roster", hh, H.at[hh, "roster_no"])
            self.pl.used.update(int(x) for x in t.loc[m, "pid"])
            s = self.y0 + int(rng.integers(2, 9))
            if compliant:
                # 低保边缘 ends the month before 低保 starts, and not before its own start
                s = max(s, int(t.loc[m, "start_m"].max()) + 1)
                t.loc[m, "end_m"] = s - 1
                t.loc[m, "end"] = month_end([s - 1])[0]
            rows = t.loc[m].copy()
            orig = rows["rid"].tolist()
            if not compliant:
                rows["roster_no"] = self.new_roster_no(int(rows["sub"].iat[0]), int(H.at[hh, "comm_index"]))
            rows["program"] = self.code("mzj", STATUS_NAMES[DB])
            rows["status_name"] = STATUS_NAMES[DB]
            size = len(rows)
            rows["amount"] = np.where(rows["relation"] == "户主", round(std * size * 0.8), np.nan)
            rows["start_m"], rows["start"], rows["date"] = s, month_start([s])[0], month_start([s])[0]
            rows["end_m"], rows["end"] = -1, np.datetime64("NaT")
            new = self.add("mzj_roster", rows)
            if compliant:
                note = f"低保边缘 until {(s - 1) // 12}{(s - 1) % 12 + 1:02d}, 低保 from the next month (same 户编号)"
            else:
                note = f"低保边缘 (open) and 低保 from {s // 12}{s % 12 + 1:02d} under another 户编号"
            self.pl.record("EXCL-STATUS", pid, orig + new, note, compliant=compliant, hid=hh)

    def excl_tk_disability(self):
        k = self.pl.k
        rng = self.rng
        P = self.P
        cand = np.flatnonzero((P["status"].to_numpy() == TK) & P["disabled"].to_numpy() & (P["status_end"].to_numpy() < 0)
                              & (P["status_start"].to_numpy() < self.y0))
        care = self.cfg.amount_on("disability_care", dt.date(self.year, 1, 1))
        cl = self.t["cl_subsidy"]
        for pid in self.pl.pick(cand, k):
            lvl = int(P.at[pid, "dis_level"])
            if lvl in (1, 2):
                prog, amt = self.code("cl", "重度残疾人护理补贴"), float(care[f"level{lvl}"])
            else:
                liv = self.cfg.amount_on("disability_living", dt.date(self.year, 1, 1))
                prog, amt = self.code("cl", "困难残疾人生活补贴"), float(liv["dibao"])
            m0 = self.y0 + int(rng.integers(0, 9))
            ms = np.arange(m0, min(m0 + int(rng.integers(2, 7)), self.y0 + 12))
            rows = pd.DataFrame({c: [None] * len(ms) for c in cl.columns})
            rows["program"] = prog
            rows["pid"] = pid
            rows["hid"] = int(P.at[pid, "hh"])
            rows["amount"] = amt
            rows["start"] = month_start(ms)
            rows["end"] = month_end(ms)
            rows["date"] = month_start(ms)
            rows["guardian"] = -1
            rows["head"] = -1
            rows["month"] = ms
            rows["cat"] = int(P.at[pid, "dis_cat"])
            rows["level"] = lvl
            rows["sub"] = int(P.at[pid, "sub"])
            rows["community"] = P.at[pid, "community"]
            new = self.add("cl_subsidy", rows)
            self.pl.record("EXCL-TK-DISABILITY", pid, self.person_rids(pid, ["mzj_roster", "cl_registry"]) + new,
                           f"特困供养 and {self.cfg.program_name(prog)} in the same months "
                           f"{ms[0] // 12}{ms[0] % 12 + 1:02d}-{ms[-1] // 12}{ms[-1] % 12 + 1:02d}")

    def multi_source(self):
        k, kc = self.pl.k, self.pl.kc
        rng = self.rng
        P = self.P
        tc = self.temp_count()
        has_temp = tc.index.to_numpy()
        cand = np.flatnonzero(np.isin(P["status"].to_numpy(), [DB, DBBY]) & (P["age"].to_numpy() >= 25)
                              & (P["age"].to_numpy() <= 59) & (P["status_end"].to_numpy() < 0))
        cand = cand[~np.isin(cand, has_temp)]
        for pid in self.pl.pick(cand, k):
            new = []
            d = D(dt.date(self.year, 1, 1)) + np.timedelta64(int(rng.integers(0, 330)), "D")
            new += self.add("zgh", self.hist_row("zgh", self.code("zgh", "困难职工生活救助"), pid, 2000.0, d, d, d,
                                                 employer=self.employer(pid)))
            s = self.y0 + int(rng.integers(0, 6))
            e = s + 12
            new += self.add("rsj", self.hist_row("rsj", self.code("rsj", "公益性岗位补贴"), pid,
                                                 float(self.cfg.synth["amounts"]["employment"]["公益性岗位补贴"][0]),
                                                 month_start([s])[0], month_end([e])[0], month_start([s])[0],
                                                 start_m=s, end_m=e, subsidy_type="公益性岗位补贴",
                                                 category=self.cfg.synth["vocab"]["employment_category_relief"]
                                                 if P.at[pid, "status"] == DB else "就业困难人员",
                                                 sub=int(P.at[pid, "sub"])))
            d2 = D(dt.date(self.year, 1, 1)) + np.timedelta64(int(rng.integers(0, 330)), "D")
            new += self.add("jd", self.hist_row("jd", self.code("jd", "临时救助"), pid, 3000.0, d2, d2, d2,
                                                reason="因病", sub=int(P.at[pid, "sub"]),
                                                community=P.at[pid, "community"]))
            d3 = D(dt.date(self.year, 1, 1)) + np.timedelta64(int(rng.integers(0, 300)), "D")
            new += self.add("mzj_medical", self.hist_row("mzj_medical", self.code("mzj", "医疗救助"), pid, 4200.0,
                                                         d3, d3 + np.timedelta64(9, "D"), d3, category="住院救助",
                                                         hospital=self.cfg.synth["vocab"]["hospitals"][0],
                                                         cost=15800.0, sub=int(P.at[pid, "sub"])))
            self.pl.record("MULTI-SOURCE", pid, self.person_rids(pid),
                           "aided by the civil-affairs bureau, the union, the employment bureau and the subdistrict "
                           f"in {self.year}")
        # compliant: exactly two agencies
        anyrow = np.zeros(len(P), dtype=bool)
        for t in self.t.values():
            for c in ("pid", "guardian", "head"):
                v = t[c].to_numpy(dtype=np.int64)
                anyrow[v[v >= 0]] = True
        cand = np.flatnonzero((P["status"].to_numpy() == NONE) & (P["age"].to_numpy() >= 25) & (P["age"].to_numpy() <= 59)
                              & ~anyrow)
        for pid in self.pl.pick(cand, kc):
            s = self.y0 + int(rng.integers(0, 6))
            e = s + 12
            new = self.add("rsj", self.hist_row("rsj", self.code("rsj", "灵活就业社会保险补贴"), pid,
                                                float(self.cfg.synth["amounts"]["employment"]["灵活就业社会保险补贴"][0]),
                                                month_start([s])[0], month_end([e])[0], month_start([s])[0],
                                                start_m=s, end_m=e, subsidy_type="灵活就业社会保险补贴",
                                                category="就业困难人员", sub=int(P.at[pid, "sub"])))
            d2 = D(dt.date(self.year, 1, 1)) + np.timedelta64(int(rng.integers(0, 330)), "D")
            new += self.add("jd", self.hist_row("jd", self.code("jd", "临时救助"), pid, 1000.0, d2, d2, d2,
                                                reason="突发事件", sub=int(P.at[pid, "sub"]),
                                                community=P.at[pid, "community"]))
            self.pl.record("MULTI-SOURCE", pid, new, "aided by two agencies only (below the threshold)",
                           compliant=True)

    def temp_freq(self):
        k, kc = self.pl.k, self.pl.kc
        rng = self.rng
        P = self.P
        tc = self.temp_count()
        cand = np.flatnonzero(np.isin(P["status"].to_numpy(), [DB, DBBY, TK]) & (P["age"].to_numpy() >= 18)
                              & (P["status_end"].to_numpy() < 0))
        cand = cand[~np.isin(cand, tc.index.to_numpy())]
        for i, pid in enumerate(self.pl.pick(cand, k + kc)):
            compliant = i >= k
            n = 2 if compliant else 3
            first = int(rng.integers(0, 60))
            days = [first + j * int(rng.integers(95, 140)) for j in range(n)]
            new = []
            for dd in days:
                d = D(dt.date(self.year, 1, 1)) + np.timedelta64(min(dd, 360), "D")
                new += self.add("jd", self.hist_row("jd", self.code("jd", "临时救助"), pid,
                                                    float(rng.choice(self.cfg.synth["amounts"]["temporary_relief"][:5])),
                                                    d, d, d, reason="其他", sub=int(P.at[pid, "sub"]),
                                                    community=P.at[pid, "community"]))
            self.pl.record("TEMP-FREQ", pid, new, f"{n} temporary-relief grants in {self.year}"
                           + (" (not more than 2: compliant)" if compliant else ""), compliant=compliant)

    def miss_disability(self):
        P = self.P
        cl = self.t["cl_subsidy"]
        rates = self.pl.miss_rates
        for prog_name, key in (("困难残疾人生活补贴", "disability_living"), ("重度残疾人护理补贴", "disability_care")):
            prog = self.code("cl", prog_name)
            cl = self.t["cl_subsidy"]
            holders = np.unique(cl.loc[cl["program"] == prog, "pid"].to_numpy())
            holders = holders[np.isin(P["status"].to_numpy()[holders], [DB, DBBY, NONE])]
            k = max(self.pl.k // 2, int(round(rates[key] * len(holders))))
            picked = self.pl.pick(holders, k)
            self.drop("cl_subsidy", (np.isin(cl["pid"].to_numpy(), picked) & (cl["program"] == prog).to_numpy()))
            for pid in picked:
                self.pl.record("MISS-DISABILITY", pid, self.person_rids(pid, ["cl_registry", "mzj_roster"]),
                               f"certificate holder (level {int(P.at[pid, 'dis_level'])}) entitled to {prog_name}, "
                               "none paid in the year")
        # compliant: level 1-2 holder in 特困 support, no care allowance (excluded by the rule)
        cand = np.flatnonzero((P["status"].to_numpy() == TK) & P["disabled"].to_numpy()
                              & np.isin(P["dis_level"].to_numpy(), [1, 2]) & (P["status_start"].to_numpy() < self.y0))
        for pid in self.pl.pick(cand, self.pl.kc):
            self.pl.record("MISS-DISABILITY", pid, self.person_rids(pid, ["cl_registry", "mzj_roster"]),
                           "level 1-2 certificate holder in 特困供养: no care allowance, as the rule excludes 特困",
                           compliant=True)

    def miss_medical_insurance(self):
        P = self.P
        jd = self.t["jd"]
        prog = self.code("jd", "困难家庭基本医疗保险补贴")
        have = np.unique(jd.loc[jd["program"] == prog, "pid"].to_numpy())
        ent = have[np.isin(P["status"].to_numpy()[have], [DB, TK])]
        k = max(self.pl.k, int(round(self.pl.miss_rates["medical_insurance"] * len(ent))))
        picked = self.pl.pick(ent, k)
        self.drop("jd", np.isin(jd["pid"].to_numpy(), picked) & (jd["program"] == prog).to_numpy())
        for pid in picked:
            self.pl.record("MISS-MEDICAL-INSURANCE", pid, self.person_rids(pid, ["mzj_roster"]),
                           f"{STATUS_NAMES[int(P.at[pid, 'status'])]} member without 困难家庭基本医疗保险补贴 in {self.year}")
        cand = np.flatnonzero(P["status"].to_numpy() == DBBY)
        cand = cand[~np.isin(cand, have)]
        for pid in self.pl.pick(cand, self.pl.kc):
            self.pl.record("MISS-MEDICAL-INSURANCE", pid, self.person_rids(pid, ["mzj_roster"]),
                           "低保边缘 member without the subsidy (the rule covers 低保 and 特困 only)", compliant=True)

    def miss_elderly_insurance(self):
        P = self.P
        el = self.t["mzj_elderly"]
        ent = el.loc[el["category"].isin(["三无", "失独"]), "pid"].to_numpy()
        k = max(self.pl.k, int(round(self.pl.miss_rates["elderly_insurance"] * len(ent))))
        picked = self.pl.pick(ent, k)
        cats = dict(zip(el["pid"].to_numpy(), el["category"].to_numpy()))
        self.drop("mzj_elderly", np.isin(el["pid"].to_numpy(), picked))
        for pid in picked:
            cat = cats[pid]
            self.pl.record("MISS-ELDERLY-INSURANCE", pid, self.person_rids(pid, ["mzj_roster", "jsj"]),
                           f"{'特困' if cat == '三无' else '失独'} person aged {int(P.at[pid, 'age'])} not in the "
                           f"{self.year} elderly insurance list")

    def miss_education(self):
        P = self.P
        jy = self.t["jyj"]
        sy = dt.date(self.year, 9, 1)
        a = (int(sy.strftime("%Y%m%d")) - P["ymd"].to_numpy()) // 10000
        have = np.unique(jy["pid"].to_numpy())
        ent = have[np.isin(P["status"].to_numpy()[have], [DB, TK]) & (a[have] >= 6) & (a[have] <= 18)]
        k = max(self.pl.k, int(round(self.pl.miss_rates["education"] * len(ent))))
        picked = self.pl.pick(ent, k)
        self.drop("jyj", np.isin(jy["pid"].to_numpy(), picked))
        for pid in picked:
            self.pl.record("MISS-EDUCATION", pid, self.person_rids(pid, ["mzj_roster"]),
                           f"{STATUS_NAMES[int(P.at[pid, 'status'])]} household member aged {int(a[pid])} on {sy} "
                           f"without student aid in {self.year}-{self.year + 1}")

    def miss_referral(self):
        k, kc = self.pl.k, self.pl.kc
        rng = self.rng
        P = self.P
        zg = self.t["zgh"]
        workers = np.unique(zg.loc[zg["guardian"] < 0, "pid"].to_numpy())
        none = workers[P["status"].to_numpy()[workers] == NONE]
        for pid in none:
            if int(pid) in self.pl.used:
                continue
            self.pl.used.add(int(pid))
            self.pl.record("MISS-REFERRAL", pid, self.person_rids(pid, ["zgh"]),
                           "in the union hardship file without any 低保/低保边缘/特困 status")
        if len(none) < k:
            cand = np.flatnonzero((P["status"].to_numpy() == NONE) & (P["age"].to_numpy() >= 25)
                                  & (P["age"].to_numpy() <= 59) & P["role"].isin([0, 1]).to_numpy())
            for pid in self.pl.pick(cand, k - len(none)):
                d = D(dt.date(self.year, 3, 1)) + np.timedelta64(int(rng.integers(0, 200)), "D")
                new = self.add("zgh", self.hist_row("zgh", self.code("zgh", "困难职工生活救助"), pid, 3000.0, d, d, d,
                                                    employer=self.employer(pid)))
                self.pl.record("MISS-REFERRAL", pid, new,
                               "in the union hardship file without any 低保/低保边缘/特困 status")
        # two temporary grants without status
        tc = self.temp_count()
        one = tc[tc == 1].index.to_numpy()
        one_none = one[P["status"].to_numpy()[one] == NONE]
        tmp = self.code("jd", "临时救助")
        pick = self.pl.pick(one_none, k + kc)
        for i, pid in enumerate(pick):
            r = self.rows_of("jd", pid)
            if i >= k:
                self.pl.record("MISS-REFERRAL", pid, r["rid"].tolist(),
                               "one temporary-relief grant without status (below 2: compliant)", compliant=True)
                continue
            r = r.iloc[[0]].copy()
            orig = int(r["rid"].iat[0])
            d0 = r["date"].to_numpy()[0]
            d = d0 + np.timedelta64(120, "D")
            if d > D(dt.date(self.year, 12, 31)):
                d = d0 - np.timedelta64(120, "D")
            r["program"] = tmp
            r["date"] = r["start"] = r["end"] = d
            new = self.add("jd", r)
            self.pl.record("MISS-REFERRAL", pid, [orig] + new,
                           f"two temporary-relief grants in {self.year} without any relief status")
        # compliant: a 低保边缘 union worker
        dbby = workers[P["status"].to_numpy()[workers] == DBBY]
        for pid in self.pl.pick(dbby, kc):
            self.pl.record("MISS-REFERRAL", pid, self.person_rids(pid, ["zgh", "mzj_roster"]),
                           "union hardship file, household in 低保边缘: holds a status (compliant)", compliant=True)

    def resolve_pending(self):
        for p in self.pl.pending:
            pid = p["pid"]
            if p["kind"] == "turns6":
                self.drop("jyj", (self.t["jyj"]["pid"] == pid).to_numpy())  # a handful of cases
                rids = self.person_rids(pid, ["mzj_roster"])
            elif p["kind"] == "tk_after_care":
                rids = self.person_rids(pid, ["mzj_roster", "cl_registry", "cl_subsidy"])
            else:
                rids = self.person_rids(pid, ["jsj"])
            self.pl.record(p["rule_id"], pid, rids, p["note"], compliant=True)

    # ---- builders --------------------------------------------------------------------------------
    def hist_row(self, key, program, pid, amount, start, end, date, guardian=-1, **extra) -> pd.DataFrame:
        cols = self.t[key].columns
        row = {c: None for c in cols}
        row.update({"program": program, "pid": int(pid), "hid": int(self.P.at[int(pid), "hh"]), "amount": amount,
                    "start": np.datetime64(start, "D"), "end": np.datetime64(end, "D"),
                    "date": np.datetime64(date, "D"), "guardian": int(guardian), "head": -1})
        row.update(extra)
        if "sub" in cols and row.get("sub") is None:
            row["sub"] = int(self.P.at[int(pid), "sub"])
        if "community" in cols and row.get("community") is None:
            row["community"] = self.P.at[int(pid), "community"]
        return pd.DataFrame([row])

    def employer(self, pid):
        emp = self.cfg.synth["vocab"]["employers"]
        return emp[(int(pid) * 7919 + self.pl.seed) % len(emp)]

    def run(self) -> list[dict]:
        self.resolve_pending()
        self.miss_disability()
        self.miss_medical_insurance()
        self.miss_elderly_insurance()
        self.miss_education()
        self.dup_same_program()
        self.dup_same_purpose()
        self.excl_status()
        self.excl_tk_disability()
        self.multi_source()
        self.temp_freq()
        self.miss_referral()
        self.resolve()
        return self.pl.planted
