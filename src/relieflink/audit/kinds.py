"""The rule kinds: each finds its hits on the prepared records, vectorized.

Every kind returns :class:`Hits`: one row per hit with the columns of
:data:`HIT_COLUMNS` — the subject (a person, or a household for rules about
households), the pattern (for pair kinds the programs combined; one pattern per
subject otherwise), the person and household, the programs, the period
concerned (day numbers) and a few facts for the explanation — and one row per
(hit, involved record) with the money at stake on that record. Pair-based kinds
find pairs of records with a self-join and then gather the pairs of one person
and program combination into one hit.

Money at stake (SPEC §5): of two records that should not both have been paid
(the same program twice, two programs for one need, two exclusive benefits, two
relief households), at most one is due, so at least the smaller of the two over
the overlap — per-month amounts times the overlapping months of the audited
year, other amounts whole — was paid without ground. That money sits on the
record it was paid on (the smaller one; on a tie the later one); a record in
several pairs of a hit carries the largest. The review kinds (many agencies,
frequent relief) put each involved record's money of the year on it: what a
reviewer looks at, not an excess. A missed benefit puts no money at stake.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relieflink.audit.grouping import is_in, lists_by_group
from relieflink.audit.periods import AuditPeriod, age_on, day_of_month_index, month_of_day, school_year_of
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

HIT_COLUMNS = ["subject", "pattern", "person_id", "household_id", "programs", "day_lo", "day_hi", "facts",
               "possible_unlinked"]
INVOLVED_COLUMNS = ["hit", "record_id", "stake"]


@dataclass(frozen=True)
class Hits:
    """What one rule finds.

    ``hits``: one row per hit (:data:`HIT_COLUMNS`, index 0..n-1): ``subject`` is
    ``person:<person_id>`` or ``household:<household_id>``; ``pattern`` tells two hits of
    one subject apart (the programs of a pair kind, ``""`` where a rule finds one
    pattern per subject). ``involved``: one row per (hit, record): the record id and
    the money at stake on that record (0 when the record is cited but carries none,
    NaN for a missed benefit).
    """

    hits: pd.DataFrame
    involved: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.hits.empty


def _empty_hits() -> Hits:
    return Hits(pd.DataFrame({c: pd.Series(dtype=object) for c in HIT_COLUMNS}),
                pd.DataFrame({"hit": pd.Series(dtype=np.int64), "record_id": pd.Series(dtype=np.int64),
                              "stake": pd.Series(dtype=float)}))


def _person_subject(person_id: pd.Series) -> np.ndarray:
    return ("person:" + person_id.astype(str)).to_numpy(dtype=object)


_PAIR_COLUMNS = ["record_id", "program", "agency", "day_lo", "day_hi", "month_lo", "month_hi", "event_day", "amount",
                 "amount_basis", "household_id", "household_no", "periodicity"]


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


def _monthly_money(amount: pd.Series, basis: pd.Series, months: np.ndarray) -> np.ndarray:
    """Money of a record over ``months`` months: per-month amounts times months, else the amount."""
    a = pd.to_numeric(amount, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    per_month = basis.eq("month").to_numpy()
    return np.where(per_month, a * months, a)


def _carried_by_b(p: pd.DataFrame, money_a: np.ndarray, money_b: np.ndarray) -> np.ndarray:
    """Which record of each pair carries the pair's money at stake: the one with less money
    (an unknown amount never carries over a known one); on a tie the later one, then by
    program and agency, then by record id — content first, so that rows moving in a file
    do not move money between agencies."""
    fa, fb = np.nan_to_num(money_a, nan=np.inf), np.nan_to_num(money_b, nan=np.inf)
    b = fb < fa
    tie = fa == fb
    da, db = p["day_lo_a"].to_numpy(), p["day_lo_b"].to_numpy()
    b |= tie & (db > da)
    tie &= db == da
    ka = (p["program_a"].astype(str) + "|" + p["agency_a"].astype(str)).to_numpy()
    kb = (p["program_b"].astype(str) + "|" + p["agency_b"].astype(str)).to_numpy()
    b |= tie & (kb > ka)
    tie &= kb == ka
    return b | (tie & (p["record_id_b"].to_numpy() > p["record_id_a"].to_numpy()))


def _gather(pairs: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, money_a: np.ndarray, money_b: np.ndarray) -> Hits:
    """Pairs of one person and program combination → one hit with all their records.

    The pair's money at stake is the smaller of its two records' money (see the module
    docstring), on the record that carries it; a record carries the largest of its pairs."""
    if pairs.empty:
        return _empty_hits()
    p = pairs.assign(_lo=lo, _hi=hi)
    progs = np.where(p["program_a"] <= p["program_b"], p["program_a"] + "|" + p["program_b"], p["program_b"] + "|" + p["program_a"])
    p["_progs"] = progs
    b_carries = _carried_by_b(p, money_a, money_b)
    stake = np.nan_to_num(np.fmin(money_a, money_b), nan=0.0)
    agg = p.groupby(["person_id", "_progs"], sort=True).agg(
        household_id=("household_id_a", "first"), day_lo=("_lo", "min"), day_hi=("_hi", "max"), n_pairs=("_lo", "size"),
    ).reset_index()
    hit_of = p.groupby(["person_id", "_progs"], sort=True).ngroup().to_numpy()  # the row of ``agg``
    involved = pd.DataFrame({
        "hit": np.concatenate([hit_of, hit_of]),
        "record_id": np.concatenate([p["record_id_a"].to_numpy(), p["record_id_b"].to_numpy()]).astype(np.int64),
        "stake": np.concatenate([np.where(b_carries, 0.0, stake), np.where(b_carries, stake, 0.0)]),
    })
    involved = involved.groupby(["hit", "record_id"], sort=True, as_index=False)["stake"].max()
    hits = pd.DataFrame({
        "subject": _person_subject(agg["person_id"]),
        "pattern": agg["_progs"].to_numpy(),
        "person_id": agg["person_id"].to_numpy(),
        "household_id": agg["household_id"].to_numpy(),
        "programs": agg["_progs"].str.split("|").map(lambda x: sorted(set(x))).to_numpy(),  # one or two codes per hit
        "day_lo": agg["day_lo"].to_numpy(),
        "day_hi": agg["day_hi"].to_numpy(),
        "facts": [{"pairs": int(n)} for n in agg["n_pairs"]],
        "possible_unlinked": False,
    })
    return Hits(hits[HIT_COLUMNS], involved[INVOLVED_COLUMNS])


def _pair_money(p: pd.DataFrame, months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each record's money over a pair's overlap: per-month amounts times the months, else the amount."""
    return (_monthly_money(p["amount_a"], p["amount_basis_a"], months),
            _monthly_money(p["amount_b"], p["amount_basis_b"], months))


def same_program_overlap(rule: SameProgramRule, r: pd.DataFrame, period: AuditPeriod) -> Hits:
    r = r[r["kind"].isin(rule.params.kinds) & r["person_id"].notna()]
    by = ["person_id", "program"]
    if rule.params.match_category:  # 免学费 and 国家助学金 are two items of student aid, not a duplicate
        r = r.assign(_category=r["category"].fillna("").astype(str))
        by.append("_category")
    p = _self_pairs(r, by)
    if p.empty:
        return _empty_hits()
    per = p["periodicity_a"].to_numpy()
    mlo, mhi = _overlap_months(p, period.months())
    dlo = np.maximum(p["day_lo_a"].to_numpy(), p["day_lo_b"].to_numpy())
    dhi = np.minimum(p["day_hi_a"].to_numpy(), p["day_hi_b"].to_numpy())
    one_off = per == "one_off"
    gap = np.abs(p["event_day_a"].to_numpy() - p["event_day_b"].to_numpy())
    hit = np.where(per == "monthly", mlo <= mhi, np.where(one_off, gap <= rule.params.one_off_window_days, dlo <= dhi))
    p, mlo, mhi, dlo, dhi = p[hit], mlo[hit], mhi[hit], dlo[hit], dhi[hit]
    months = np.clip(mhi - mlo + 1, 0, None)
    money_a, money_b = _pair_money(p, months)
    # monthly programs report the overlapping months within the audited year (open ends are not dates)
    monthly = p["periodicity_a"].to_numpy() == "monthly"
    dlo = np.where(monthly, day_of_month_index(np.clip(mlo, 0, None)), dlo)
    dhi = np.where(monthly, day_of_month_index(np.clip(mhi, 0, None), last=True), dhi)
    return _gather(p, dlo, dhi, money_a, money_b)


def _concat_hits(parts: list[Hits]) -> Hits:
    """The hits of several groups or pairs of one rule as one :class:`Hits`."""
    parts = [h for h in parts if not h.empty]
    if not parts:
        return _empty_hits()
    offsets = np.cumsum([0] + [len(h.hits) for h in parts[:-1]])
    involved = pd.concat([h.involved.assign(hit=h.involved["hit"].to_numpy() + off) for h, off in zip(parts, offsets)],
                         ignore_index=True)
    return Hits(pd.concat([h.hits for h in parts], ignore_index=True), involved)


def equivalent_programs(rule: EquivalentRule, r: pd.DataFrame) -> Hits:
    parts = []
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
        h = _gather(p, lo, hi, a, b)
        h.hits["facts"] = [{"match": group.match, "days_apart": int(d)} for d in
                           pd.Series(gap).groupby([p["person_id"].to_numpy()]).min().reindex(h.hits["person_id"]).to_numpy()]
        parts.append(h)
    return _concat_hits(parts)


def exclusive_programs(rule: ExclusiveRule, r: pd.DataFrame, period: AuditPeriod) -> Hits:
    parts = []
    for first, second in rule.params.pairs:
        a = r[r["program"].eq(first) & r["person_id"].notna()]
        b = r[r["program"].eq(second) & r["person_id"].notna()]
        p = _cross_pairs(a, b, ["person_id"])
        if p.empty:
            continue
        mlo, mhi = _overlap_months(p, period.months())
        ok = mlo <= mhi
        p, mlo, mhi = p[ok], mlo[ok], mhi[ok]
        money_a, money_b = _pair_money(p, mhi - mlo + 1)
        parts.append(_gather(p, day_of_month_index(mlo), day_of_month_index(mhi, last=True), money_a, money_b))
    return _concat_hits(parts)


def multiple_households(rule: HouseholdsRule, r: pd.DataFrame, period: AuditPeriod) -> Hits:
    g = r[r["program"].isin(rule.params.programs) & r["person_id"].notna() & r["household_no"].notna()]
    p = _self_pairs(g, ["person_id"])
    p = p[p["household_no_a"] != p["household_no_b"]]
    if p.empty:
        return _empty_hits()
    mlo, mhi = _overlap_months(p, period.months())
    ok = mlo <= mhi
    p, mlo, mhi = p[ok], mlo[ok], mhi[ok]
    money_a, money_b = _pair_money(p, mhi - mlo + 1)
    h = _gather(p, day_of_month_index(mlo), day_of_month_index(mhi, last=True), money_a, money_b)
    h.hits["facts"] = [{"households": 2} for _ in range(len(h.hits))]
    return h


def _in_period(r: pd.DataFrame, lo: int, hi: int) -> np.ndarray:
    return (r["day_lo"].to_numpy() <= hi) & (r["day_hi"].to_numpy() >= lo)


def _subject_hits(keys: pd.Series, subject: np.ndarray, agg: pd.DataFrame, g: pd.DataFrame, money: np.ndarray) -> Hits:
    """Hits of a kind that finds one pattern per subject: ``agg`` one row per sorted key,
    ``g`` the involved records with their key (``keys``) and money."""
    hit = pd.Index(agg.index).get_indexer(keys.to_numpy())
    involved = pd.DataFrame({"hit": hit.astype(np.int64), "record_id": g["record_id"].to_numpy(dtype=np.int64),
                             "stake": np.asarray(money, dtype=float)})
    hits = agg.reset_index(drop=True).assign(subject=subject, pattern="")
    if "possible_unlinked" not in hits:
        hits["possible_unlinked"] = False
    return Hits(hits[HIT_COLUMNS], involved.sort_values(["hit", "record_id"], kind="stable").reset_index(drop=True))


def multi_source(rule: MultiSourceRule, r: pd.DataFrame, period: AuditPeriod) -> Hits:
    lo, hi = period.days()
    unit = "person_id" if rule.params.unit == "person" else "household_id"
    g = r[r["kind"].isin(rule.params.kinds) & r[unit].notna() & _in_period(r, lo, hi)]
    n_agencies = g.groupby(unit)["agency"].nunique()
    subjects = n_agencies[n_agencies >= rule.params.threshold]
    g = g[is_in(g[unit], subjects.index)].sort_values([unit, "record_id"])
    if g.empty:
        return _empty_hits()
    amount = pd.to_numeric(g["amount"], errors="coerce").fillna(0.0)
    months = np.clip(np.minimum(g["month_hi"], month_of_day(np.array([hi]))[0]) - np.maximum(g["month_lo"], month_of_day(np.array([lo]))[0]) + 1, 1, 12)
    money = np.where(g["amount_basis"].eq("month"), amount * months, amount)
    agg = g.groupby(unit, sort=True).agg(person_id=("person_id", "first"), household_id=("household_id", "first"))
    agg["programs"] = lists_by_group(g[unit], g["program"], unique=True)
    agencies = lists_by_group(g[unit], g["agency"], unique=True)
    agg["day_lo"], agg["day_hi"] = lo, hi
    agg["facts"] = [{"agencies": a} for a in agencies.reindex(agg.index)]
    subject = (rule.params.unit + ":" + pd.Series(agg.index, dtype=object).astype(str)).to_numpy(dtype=object)
    return _subject_hits(g[unit], subject, agg, g, money)


def frequency(rule: FrequencyRule, r: pd.DataFrame) -> Hits:
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
    agg = g.groupby("person_id", sort=True).agg(
        household_id=("household_id", "first"), day_lo=("event_day", "min"), day_hi=("event_day", "max"),
        n=("record_id", "size"), most=("_max", "max"),
    )
    agg["programs"] = lists_by_group(g["person_id"], g["program"], unique=True)
    agg["facts"] = [{"grants": int(n), "most_in_window": int(m), "window_days": rule.params.window_days,
                     "max_count": rule.params.max_count} for n, m in zip(agg["n"], agg["most"])]
    agg["person_id"] = agg.index
    return _subject_hits(g["person_id"], _person_subject(pd.Series(agg.index, dtype=object)), agg, g, amount.to_numpy())


def entitlement_missing(
    rule: EntitlementRule, r: pd.DataFrame, persons: pd.DataFrame, mentions: pd.DataFrame, ruleset: RuleSet,
    period: AuditPeriod,
) -> Hits:
    prm = rule.params
    lo, hi = period.days() if prm.period == "year" else period.school_year_days()
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
    agg = pd.DataFrame({"person_id": np.sort(evidence["person_id"].unique())})
    agg["household_id"] = agg["person_id"].map(hh_of)
    agg["possible_unlinked"] = False
    if prm.entitlement:
        verdict = unlinked_entitlement(agg["person_id"], eligible, live, r, persons, prm, hi,
                                       ruleset.rare_name_max_persons)
        agg = agg.assign(possible_unlinked=verdict.doubtful)[~verdict.paid].reset_index(drop=True)
    evidence = evidence[evidence["person_id"].isin(agg["person_id"])]
    if agg.empty:
        return _empty_hits()
    if prm.unit == "household":
        agg, evidence = _one_per_household(agg, evidence, persons)
    else:
        agg["subject"] = _person_subject(agg["person_id"])
    key = agg.set_index("person_id")["subject"]
    evidence = evidence.assign(subject=evidence["person_id"].map(key))
    agg = agg.set_index("subject").sort_index()
    agg["programs"] = lists_by_group(evidence["subject"], evidence["program"], unique=True)
    agg["day_lo"], agg["day_hi"] = lo, hi
    facts = {"entitlement": list(prm.entitlement)} if prm.entitlement else {"lacks_status": list(prm.household_holds_none)}
    agg["facts"] = [dict(facts, **({"possible_unlinked": True} if maybe else {})) for maybe in agg["possible_unlinked"]]
    ev = evidence.drop_duplicates(["subject", "record_id"])
    return _subject_hits(ev["subject"], agg.index.to_numpy(dtype=object), agg, ev, np.full(len(ev), np.nan))


def _one_per_household(agg: pd.DataFrame, evidence: pd.DataFrame, persons: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The hits of one household as one, on the member with most evidence records, then the
    eldest, then the smallest person id (a member without a household stays on their own)."""
    agg = agg.assign(subject=np.where(agg["household_id"].notna(), "household:" + agg["household_id"].astype(str),
                                      "person:" + agg["person_id"].astype(str)))
    n = evidence.groupby("person_id").size()
    birth = persons.drop_duplicates("person_id").set_index("person_id")["birth_date"] if "birth_date" in persons else None
    order = agg.assign(_n=-agg["person_id"].map(n).fillna(0).to_numpy(),
                       _birth=pd.to_datetime(agg["person_id"].map(birth), errors="coerce") if birth is not None else pd.NaT)
    order = order.sort_values(["subject", "_n", "_birth", "person_id"], na_position="last", kind="stable")
    doubtful = order.groupby("subject", sort=False)["possible_unlinked"].transform("any")
    chosen = order.assign(possible_unlinked=doubtful).drop_duplicates("subject")[["person_id", "household_id", "possible_unlinked", "subject"]]
    evidence = evidence.assign(person_id=evidence["person_id"].map(agg.set_index("person_id")["subject"]).map(
        chosen.set_index("subject")["person_id"]))
    return chosen.reset_index(drop=True), evidence


def find_hits(rule, records: pd.DataFrame, persons: pd.DataFrame, mentions: pd.DataFrame, ruleset: RuleSet,  # type: ignore[no-untyped-def]
              period: AuditPeriod) -> Hits:
    """Dispatch a rule to its kind."""
    if isinstance(rule, SameProgramRule):
        return same_program_overlap(rule, records, period)
    if isinstance(rule, EquivalentRule):
        return equivalent_programs(rule, records)
    if isinstance(rule, ExclusiveRule):
        return exclusive_programs(rule, records, period)
    if isinstance(rule, HouseholdsRule):
        return multiple_households(rule, records, period)
    if isinstance(rule, MultiSourceRule):
        return multi_source(rule, records, period)
    if isinstance(rule, FrequencyRule):
        return frequency(rule, records)
    if isinstance(rule, EntitlementRule):
        return entitlement_missing(rule, records, persons, mentions, ruleset, period)
    raise TypeError(f"no implementation for rule kind {type(rule).__name__}")
