"""The rule kinds: each finds its hits on the prepared records, vectorized.

Every kind returns *hits*, one row per flag, with the columns of
:data:`HIT_COLUMNS`: the subject (person and household), the involved record
ids, the programs, the period concerned (day numbers), the amount at stake
and a few facts for the explanation. Pair-based kinds find pairs of records
with a self-join and then gather the pairs of one person (and program
combination) into one flag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relieflink.audit.grouping import is_in, lists_by_group
from relieflink.audit.periods import OPEN, age_on, day_of_month_index, month_of_day, school_year_bounds, school_year_of, year_bounds
from relieflink.audit.unlinked import unlinked_entitlement
from relieflink.audit.rules import (
    EntitlementRule,
    EquivalentRule,
    ExclusiveRule,
    FrequencyRule,
    HouseholdsRule,
    MultiSourceRule,
    RuleSet,
    SameProgramRule,
)

HIT_COLUMNS = [
    "person_id", "household_id", "record_ids", "programs", "day_lo", "day_hi", "amount_at_stake", "facts",
]


_PAIR_COLUMNS = ["record_id", "program", "day_lo", "day_hi", "month_lo", "month_hi", "event_day", "amount",
                 "amount_basis", "household_id", "household_no", "periodicity"]


def _empty_hits() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in HIT_COLUMNS})


def _self_pairs(r: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """All pairs (a, b) of records sharing ``by`` with a.record_id < b.record_id."""
    left = r[list(dict.fromkeys([*by, *_PAIR_COLUMNS]))]
    pairs = left.merge(left, on=by, suffixes=("_a", "_b"))
    for key in by:
        if key in _PAIR_COLUMNS:  # a join key has one column: give it both names
            pairs[f"{key}_a"] = pairs[f"{key}_b"] = pairs[key]
    return pairs[pairs["record_id_a"] < pairs["record_id_b"]]


def _cross_pairs(a: pd.DataFrame, b: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    cols = list(dict.fromkeys([*by, *_PAIR_COLUMNS]))
    return a[cols].merge(b[cols], on=by, suffixes=("_a", "_b"))


def _overlap_months(p: pd.DataFrame, horizon: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Months both records of a pair cover, within the audited year (open ends included)."""
    lo = np.maximum(np.maximum(p["month_lo_a"].to_numpy(), p["month_lo_b"].to_numpy()), horizon[0])
    hi = np.minimum(np.minimum(p["month_hi_a"].to_numpy(), p["month_hi_b"].to_numpy()), horizon[1])
    return lo, hi


def audit_months(ruleset: RuleSet) -> tuple[int, int]:
    """First and last month index of the audited calendar year."""
    y = ruleset.audit_period.year
    return y * 12, y * 12 + 11


def _monthly_money(amount: pd.Series, basis: pd.Series, months: np.ndarray) -> np.ndarray:
    """Money of a record over ``months`` months: per-month amounts times months, else the amount."""
    a = pd.to_numeric(amount, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    per_month = basis.eq("month").to_numpy()
    return np.where(per_month, a * months, a)


def _gather(pairs: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, money: np.ndarray, facts: pd.Series | None = None) -> pd.DataFrame:
    """Pairs of one person and program combination → one hit with all their records."""
    if pairs.empty:
        return _empty_hits()
    p = pairs.assign(_lo=lo, _hi=hi, _money=np.nan_to_num(money, nan=0.0))
    progs = np.where(p["program_a"] <= p["program_b"], p["program_a"] + "|" + p["program_b"], p["program_b"] + "|" + p["program_a"])
    p["_progs"] = progs
    # money is counted once per "b" record (the one that should not have been paid)
    p["_money"] = np.where(p.duplicated(["person_id", "_progs", "record_id_b"]), 0.0, p["_money"])
    recs = pd.concat(
        [p[["person_id", "_progs", "record_id_a"]].rename(columns={"record_id_a": "rid"}),
         p[["person_id", "_progs", "record_id_b"]].rename(columns={"record_id_b": "rid"})]
    ).drop_duplicates().sort_values(["person_id", "_progs", "rid"])
    rec_lists = lists_by_group(recs["person_id"] + "#" + recs["_progs"], recs["rid"])
    agg = p.groupby(["person_id", "_progs"], sort=True).agg(
        household_id=("household_id_a", "first"), day_lo=("_lo", "min"), day_hi=("_hi", "max"), amount_at_stake=("_money", "sum"),
        n_pairs=("_lo", "size"),
    )
    agg = agg.reset_index()
    agg["record_ids"] = (agg["person_id"] + "#" + agg["_progs"]).map(rec_lists).to_numpy()
    agg["programs"] = agg["_progs"].str.split("|").map(lambda x: sorted(set(x)))  # one or two codes per flag
    agg["facts"] = [{"pairs": int(n)} for n in agg["n_pairs"]] if facts is None else facts
    return agg[HIT_COLUMNS]


def same_program_overlap(rule: SameProgramRule, r: pd.DataFrame, ruleset: RuleSet) -> pd.DataFrame:
    r = r[r["kind"].isin(rule.params.kinds) & r["person_id"].notna()]
    by = ["person_id", "program"]
    if rule.params.match_category:  # 免学费 and 国家助学金 are two items of student aid, not a duplicate
        r = r.assign(_category=r["category"].fillna("").astype(str))
        by.append("_category")
    p = _self_pairs(r, by)
    if p.empty:
        return _empty_hits()
    per = p["periodicity_a"].to_numpy()
    mlo, mhi = _overlap_months(p, audit_months(ruleset))
    dlo = np.maximum(p["day_lo_a"].to_numpy(), p["day_lo_b"].to_numpy())
    dhi = np.minimum(p["day_hi_a"].to_numpy(), p["day_hi_b"].to_numpy())
    one_off = per == "one_off"
    gap = np.abs(p["event_day_a"].to_numpy() - p["event_day_b"].to_numpy())
    hit = np.where(per == "monthly", mlo <= mhi, np.where(one_off, gap <= rule.params.one_off_window_days, dlo <= dhi))
    p, mlo, mhi, dlo, dhi = p[hit], mlo[hit], mhi[hit], dlo[hit], dhi[hit]
    months = np.clip(mhi - mlo + 1, 0, None)
    money = _monthly_money(p["amount_b"], p["amount_basis_b"], months)
    # monthly programs report the overlapping months within the audited year (open ends are not dates)
    monthly = p["periodicity_a"].to_numpy() == "monthly"
    dlo = np.where(monthly, day_of_month_index(np.clip(mlo, 0, None)), dlo)
    dhi = np.where(monthly, day_of_month_index(np.clip(mhi, 0, None), last=True), dhi)
    return _gather(p, dlo, dhi, money)


def equivalent_programs(rule: EquivalentRule, r: pd.DataFrame) -> pd.DataFrame:
    hits = []
    for group in rule.params.groups:
        g = r[r["program"].isin(group.programs) & r["person_id"].notna()]
        p = _self_pairs(g, ["person_id"])
        p = p[p["program_a"] != p["program_b"]]
        if p.empty:
            continue
        if group.match == "same_school_year":
            ok = school_year_of(p["day_lo_a"].to_numpy()) == school_year_of(p["day_lo_b"].to_numpy())
        elif group.match == "same_year":
            ok = (month_of_day(p["day_lo_a"].to_numpy()) // 12) == (month_of_day(p["day_lo_b"].to_numpy()) // 12)
        elif group.match == "same_month":
            ok = month_of_day(p["event_day_a"].to_numpy()) == month_of_day(p["event_day_b"].to_numpy())
        else:
            ok = np.abs(p["event_day_a"].to_numpy() - p["event_day_b"].to_numpy()) <= (group.days or 0)
        p = p[ok]
        lo = np.minimum(p["event_day_a"].to_numpy(), p["event_day_b"].to_numpy())
        hi = np.maximum(p["event_day_a"].to_numpy(), p["event_day_b"].to_numpy())
        a = pd.to_numeric(p["amount_a"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        b = pd.to_numeric(p["amount_b"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        gap = np.abs(p["event_day_a"].to_numpy() - p["event_day_b"].to_numpy())
        h = _gather(p, lo, hi, np.fmin(a, b))
        h["facts"] = [{"match": group.match, "days_apart": int(d)} for d in
                      pd.Series(gap).groupby([p["person_id"].to_numpy()]).min().reindex(h["person_id"]).to_numpy()]
        hits.append(h)
    hits = [h for h in hits if not h.empty]
    return pd.concat(hits, ignore_index=True) if hits else _empty_hits()


def exclusive_programs(rule: ExclusiveRule, r: pd.DataFrame, ruleset: RuleSet) -> pd.DataFrame:
    hits = []
    for first, second in rule.params.pairs:
        a = r[r["program"].eq(first) & r["person_id"].notna()]
        b = r[r["program"].eq(second) & r["person_id"].notna()]
        p = _cross_pairs(a, b, ["person_id"])
        if p.empty:
            continue
        mlo, mhi = _overlap_months(p, audit_months(ruleset))
        ok = mlo <= mhi
        p, mlo, mhi = p[ok], mlo[ok], mhi[ok]
        months = mhi - mlo + 1
        money = _monthly_money(p["amount_b"], p["amount_basis_b"], months)
        hits.append(_gather(p, day_of_month_index(mlo), day_of_month_index(mhi, last=True), money))
    hits = [h for h in hits if not h.empty]
    return pd.concat(hits, ignore_index=True) if hits else _empty_hits()


def multiple_households(rule: HouseholdsRule, r: pd.DataFrame, ruleset: RuleSet) -> pd.DataFrame:
    g = r[r["program"].isin(rule.params.programs) & r["person_id"].notna() & r["household_no"].notna()]
    p = _self_pairs(g, ["person_id"])
    p = p[p["household_no_a"] != p["household_no_b"]]
    if p.empty:
        return _empty_hits()
    mlo, mhi = _overlap_months(p, audit_months(ruleset))
    ok = mlo <= mhi
    p, mlo, mhi = p[ok], mlo[ok], mhi[ok]
    money = _monthly_money(p["amount_b"], p["amount_basis_b"], mhi - mlo + 1)
    h = _gather(p, day_of_month_index(mlo), day_of_month_index(mhi, last=True), money)
    h["facts"] = [{"households": 2} for _ in range(len(h))]
    return h


def _in_period(r: pd.DataFrame, lo: int, hi: int) -> np.ndarray:
    return (r["day_lo"].to_numpy() <= hi) & (r["day_hi"].to_numpy() >= lo)


def multi_source(rule: MultiSourceRule, r: pd.DataFrame, ruleset: RuleSet) -> pd.DataFrame:
    lo, hi = year_bounds(ruleset.audit_period.year)
    unit = "person_id" if rule.params.unit == "person" else "household_id"
    g = r[r["kind"].isin(rule.params.kinds) & r[unit].notna() & _in_period(r, lo, hi)]
    n_agencies = g.groupby(unit)["agency"].nunique()
    subjects = n_agencies[n_agencies >= rule.params.threshold]
    g = g[is_in(g[unit], subjects.index)].sort_values([unit, "record_id"])
    if g.empty:
        return _empty_hits()
    amount = pd.to_numeric(g["amount"], errors="coerce").fillna(0.0)
    months = np.clip(np.minimum(g["month_hi"], month_of_day(np.array([hi]))[0]) - np.maximum(g["month_lo"], month_of_day(np.array([lo]))[0]) + 1, 1, 12)
    money = pd.Series(np.where(g["amount_basis"].eq("month"), amount * months, amount), index=g.index)
    agg = g.assign(_money=money).groupby(unit, sort=True).agg(
        amount_at_stake=("_money", "sum"), first_person=("person_id", "first"), first_household=("household_id", "first"),
    )
    agg["record_ids"] = lists_by_group(g[unit], g["record_id"])
    agg["programs"] = lists_by_group(g[unit], g["program"], unique=True)
    agg["agencies"] = lists_by_group(g[unit], g["agency"], unique=True)
    agg = agg.reset_index(drop=True).rename(columns={"first_person": "person_id", "first_household": "household_id"})
    agg["day_lo"], agg["day_hi"] = lo, hi
    agg["facts"] = [{"agencies": a} for a in agg["agencies"]]
    return agg[HIT_COLUMNS]


def frequency(rule: FrequencyRule, r: pd.DataFrame) -> pd.DataFrame:
    g = r[r["program"].isin(rule.params.programs) & r["person_id"].notna()].sort_values(["person_id", "event_day", "record_id"])
    if g.empty:
        return _empty_hits()
    codes = pd.factorize(g["person_id"])[0].astype(np.int64)
    key = codes * np.int64(10**7) + g["event_day"].to_numpy()
    end = np.searchsorted(key, key + rule.params.window_days, side="left")
    count = end - np.arange(len(key))
    bad_start = count > rule.params.max_count
    # every grant inside a window that holds too many grants is involved
    involved = np.zeros(len(key) + 1, dtype=np.int64)
    np.add.at(involved, np.flatnonzero(bad_start), 1)
    np.add.at(involved, end[bad_start], -1)
    flagged = np.cumsum(involved)[:-1] > 0
    g = g[flagged].assign(_max=pd.Series(count, index=g.index)[flagged])
    if g.empty:
        return _empty_hits()
    amount = pd.to_numeric(g["amount"], errors="coerce").fillna(0.0)
    agg = g.assign(_money=amount).groupby("person_id", sort=True).agg(
        household_id=("household_id", "first"), day_lo=("event_day", "min"), day_hi=("event_day", "max"),
        amount_at_stake=("_money", "sum"), n=("record_id", "size"), most=("_max", "max"),
    )
    agg["record_ids"] = lists_by_group(g["person_id"], g["record_id"])
    agg["programs"] = lists_by_group(g["person_id"], g["program"], unique=True)
    agg = agg.reset_index()
    agg["facts"] = [{"grants": int(n), "most_in_window": int(m), "window_days": rule.params.window_days} for n, m in zip(agg["n"], agg["most"])]
    return agg[HIT_COLUMNS]


def entitlement_missing(
    rule: EntitlementRule, r: pd.DataFrame, persons: pd.DataFrame, mentions: pd.DataFrame, ruleset: RuleSet
) -> pd.DataFrame:
    prm = rule.params
    lo, hi = (year_bounds(ruleset.audit_period.year) if prm.period == "year"
              else school_year_bounds(ruleset.audit_period.school_year))
    live = r[_in_period(r, lo, hi) & r["person_id"].notna()]

    def holders(programs: list[str]) -> pd.Index:
        return pd.Index(live.loc[live["program"].isin(programs), "person_id"].unique())

    # A person belongs to their own household and to every household a record of theirs names
    # (a member listed under another 户编号 after a move is still that household's member).
    membership = pd.concat(
        [persons[["person_id", "household_id"]], r[["person_id", "household_id"]]], ignore_index=True
    ).dropna().drop_duplicates()

    def household_holders(programs: list[str]) -> pd.Index:
        hh = live.loc[live["program"].isin(programs) & live["household_id"].notna(), "household_id"].unique()
        return pd.Index(membership.loc[is_in(membership["household_id"], hh), "person_id"].unique())

    qualifying_programs: list[str] = [*prm.holds_any, *prm.household_holds_any]
    candidates: pd.Index | None = None
    if prm.holds_any:
        candidates = holders(prm.holds_any)
    if prm.household_holds_any:
        hh = household_holders(prm.household_holds_any)
        candidates = hh if candidates is None else candidates.intersection(hh)
    alternatives = []
    if prm.named_in_sources:
        alternatives.append(pd.Index(mentions.loc[mentions["source"].isin(prm.named_in_sources) & mentions["person_id"].notna(), "person_id"].unique()))
    if prm.or_count_at_least is not None:
        counted = live[live["program"].isin(prm.or_count_at_least.programs)].groupby("person_id").size()
        alternatives.append(pd.Index(counted[counted >= prm.or_count_at_least.count].index))
        qualifying_programs += prm.or_count_at_least.programs
    for alt in alternatives:
        candidates = alt if candidates is None else candidates.union(alt)
    if candidates is None or len(candidates) == 0:
        return _empty_hits()
    cand = pd.Series(candidates.sort_values(), name="person_id")
    if prm.disability_levels:
        lv = live[live["program"].isin(prm.holds_any) & live["disability_level"].isin(prm.disability_levels)]
        cand = cand[is_in(cand, lv["person_id"])]
    if prm.holds_none:
        cand = cand[~is_in(cand, holders(prm.holds_none))]
    if prm.household_holds_none:
        cand = cand[~is_in(cand, household_holders(prm.household_holds_none)) & ~is_in(cand, holders(prm.household_holds_none))]
    if prm.min_age is not None or prm.max_age is not None:
        birth = cand.map(persons.drop_duplicates("person_id").set_index("person_id")["birth_date"])
        age = age_on(birth, lo if prm.age_on == "period_start" else hi)
        ok = ~np.isnan(age)
        if prm.min_age is not None:
            ok &= age >= prm.min_age
        if prm.max_age is not None:
            ok &= age <= prm.max_age
        cand = cand[ok]
    eligible = pd.Index(cand)
    if prm.entitlement:
        cand = cand[~is_in(cand, holders(prm.entitlement))]
    if cand.empty:
        return _empty_hits()
    own = live[is_in(live["person_id"], cand) & live["program"].isin(qualifying_programs).to_numpy()]
    sources = [own[["person_id", "record_id"]]]
    if prm.named_in_sources:
        named = mentions["source"].isin(prm.named_in_sources).to_numpy() & is_in(mentions["person_id"], cand)
        named &= is_in(mentions["record_id"], live["record_id"])  # records of the audited period only
        sources.append(mentions.loc[named, ["person_id", "record_id"]])
    evidence = pd.concat([s for s in sources if not s.empty] or sources[:1]).drop_duplicates()
    hh_of = persons.drop_duplicates("person_id").set_index("person_id")["household_id"]
    missing_own = cand[~is_in(cand, evidence["person_id"])]
    if len(missing_own) and prm.household_holds_any:
        hh_records = live[live["program"].isin(prm.household_holds_any)][["household_id", "record_id"]]
        via_household = membership[is_in(membership["person_id"], missing_own)]
        via_household = via_household.merge(hh_records, on="household_id")[["person_id", "record_id"]]
        evidence = pd.concat([evidence, via_household]).drop_duplicates()
    programs_of = live.drop_duplicates("record_id").set_index("record_id")["program"]
    evidence = evidence.assign(program=evidence["record_id"].map(programs_of)).sort_values(["person_id", "record_id"])
    record_ids = lists_by_group(evidence["person_id"], evidence["record_id"])
    agg = pd.DataFrame({"person_id": record_ids.index, "record_ids": record_ids.to_numpy()})
    agg["programs"] = agg["person_id"].map(lists_by_group(evidence["person_id"], evidence["program"], unique=True)).to_numpy()
    agg["household_id"] = agg["person_id"].map(hh_of)
    agg["day_lo"], agg["day_hi"] = lo, hi
    agg["amount_at_stake"] = np.nan
    facts = {"entitlement": list(prm.entitlement)} if prm.entitlement else {"lacks_status": list(prm.household_holds_none)}
    agg["facts"] = [dict(facts) for _ in range(len(agg))]
    agg["possible_unlinked"] = False
    if prm.entitlement:
        verdict = unlinked_entitlement(agg["person_id"], eligible, live, r, persons, prm, hi,
                                       ruleset.rare_name_max_persons)
        agg = agg[~verdict.paid].reset_index(drop=True)
        agg["possible_unlinked"] = verdict.doubtful[~verdict.paid]
        for facts_of_flag, maybe in zip(agg["facts"], agg["possible_unlinked"]):
            if maybe:
                facts_of_flag["possible_unlinked"] = True
    return agg[[*HIT_COLUMNS, "possible_unlinked"]]


def find_hits(rule, records: pd.DataFrame, persons: pd.DataFrame, mentions: pd.DataFrame, ruleset: RuleSet) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Dispatch a rule to its kind."""
    if isinstance(rule, SameProgramRule):
        return same_program_overlap(rule, records, ruleset)
    if isinstance(rule, EquivalentRule):
        return equivalent_programs(rule, records)
    if isinstance(rule, ExclusiveRule):
        return exclusive_programs(rule, records, ruleset)
    if isinstance(rule, HouseholdsRule):
        return multiple_households(rule, records, ruleset)
    if isinstance(rule, MultiSourceRule):
        return multi_source(rule, records, ruleset)
    if isinstance(rule, FrequencyRule):
        return frequency(rule, records)
    if isinstance(rule, EntitlementRule):
        return entitlement_missing(rule, records, persons, mentions, ruleset)
    raise TypeError(f"no implementation for rule kind {type(rule).__name__}")
