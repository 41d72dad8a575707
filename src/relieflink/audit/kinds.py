"""The rule kinds: each finds its hits on an :class:`~relieflink.audit.columns.AuditInput`.

One implementation per kind, over plain numpy arrays: the batch audit calls it on
every record of the run, screening on the records of the few persons an
application concerns plus the application (:mod:`relieflink.screening`), with
the same results for the same records. A kind never builds a DataFrame; its cost
is a few dozen numpy calls, whatever the number of records.

Every kind returns :class:`Hits`: one entry per hit — the subject (a person, or a
household for rules about households), the pattern (for pair kinds the programs
combined; one pattern per subject otherwise), the person and household, the
programs, the period concerned (day numbers) and a few facts for the explanation
— and one entry per (hit, involved record) with the money at stake on that
record. Pair-based kinds pair the records of one person (and program) within
their group and then gather the pairs of one person and program combination
into one hit.

Money at stake (SPEC §5): of two records that should not both have been paid
(the same program twice, two programs for one need, two exclusive benefits, two
relief households), at most one is due, so at least the smaller of the two over
the overlap — per-month amounts times the overlapping months of the audited
year, other amounts whole — was paid without ground. That money sits on the
record it was paid on (the smaller one; on a tie the later one); a record in
several pairs of a hit carries the largest. The review kinds (many agencies,
frequent relief) put each involved record's money of the year on it: what a
reviewer looks at, not an excess. A missed benefit puts no money at stake.

A hit's household is that of its earliest record (of the pair kinds: the first
record of its earliest pair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relieflink.audit.arrays import combined_key, cross_pairs, run_starts, sorted_lists
from relieflink.audit.columns import MONTHLY, ONE_OFF, AuditInput, age_on_day
from relieflink.audit.periods import AuditPeriod, day_of_month_index, month_of_day, school_year_of
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
from relieflink.audit.unlinked import unlinked_entitlement
from relieflink.linkage.blocking import pairs_within_groups

_I64 = np.int64


@dataclass(frozen=True)
class Hits:
    """What one rule finds, as aligned arrays.

    Per hit: ``subject`` (``person:<person_id>`` or ``household:<household_id>``),
    ``pattern`` (tells two hits of one subject apart: the programs of a pair kind, ``""``
    where a rule finds one pattern per subject), ``person`` / ``household`` (codes, -1:
    none), ``programs`` (sorted program codes), ``day_lo`` / ``day_hi``, ``facts`` (for
    the explanation), ``possible_unlinked``. Per involved record: ``hit`` (index of its
    hit), ``record`` (position in the input's records) and ``stake`` (the money at stake
    on that record: 0 when the record is cited but carries none, NaN for a missed benefit).
    """

    subject: np.ndarray
    pattern: np.ndarray
    person: np.ndarray
    household: np.ndarray
    programs: list[list[str]]
    day_lo: np.ndarray
    day_hi: np.ndarray
    facts: list[dict]
    possible_unlinked: np.ndarray
    hit: np.ndarray
    record: np.ndarray
    stake: np.ndarray

    def __len__(self) -> int:
        return len(self.subject)

    @property
    def empty(self) -> bool:
        return len(self.subject) == 0


def no_hits() -> Hits:
    e = np.zeros(0, dtype=_I64)
    return Hits(np.zeros(0, object), np.zeros(0, object), e, e, [], e, e, [], np.zeros(0, bool), e, e, np.zeros(0))


def _concat(parts: list[Hits]) -> Hits:
    """The hits of several groups or pairs of one rule as one :class:`Hits`."""
    parts = [h for h in parts if not h.empty]
    if not parts:
        return no_hits()
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [len(h) for h in parts[:-1]])
    cat = np.concatenate
    return Hits(cat([h.subject for h in parts]), cat([h.pattern for h in parts]), cat([h.person for h in parts]),
                cat([h.household for h in parts]), [p for h in parts for p in h.programs],
                cat([h.day_lo for h in parts]), cat([h.day_hi for h in parts]), [f for h in parts for f in h.facts],
                cat([h.possible_unlinked for h in parts]), cat([h.hit + o for h, o in zip(parts, offsets)]),
                cat([h.record for h in parts]), cat([h.stake for h in parts]))


def _subjects(data: AuditInput, unit: str, codes: np.ndarray) -> np.ndarray:
    """``person:<id>`` / ``household:<id>`` of codes."""
    values = data.vocab[unit].values[codes]
    return np.array([f"{unit}:{v}" for v in values.tolist()], dtype=object)


def _money(data: AuditInput, pos: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Money of records over ``months`` months: per-month amounts times months, else the amount."""
    r = data.records
    a = r.amount[pos]
    return np.where(r.per_month[pos], a * months, a)


def _in_period(data: AuditInput, lo: int, hi: int) -> np.ndarray:
    r = data.records
    return (r.day_lo <= hi) & (r.day_hi >= lo)


def _program_mask(data: AuditInput, programs: list[str]) -> np.ndarray:
    return data.vocab["program"].mask(programs)[data.records.text["program"]]


def _self_pairs(positions: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (a, b) of ``positions`` sharing ``key``, a before b (the records are in person,
    then record-id order, so a has the smaller record id)."""
    a, b, _, _ = pairs_within_groups(key, positions)
    return a, b


def _overlap_months(data: AuditInput, a: np.ndarray, b: np.ndarray, horizon: tuple[int, int]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Months both records of a pair cover, within the audited year (open ends included)."""
    r = data.records
    lo = np.maximum(np.maximum(r.month_lo[a], r.month_lo[b]), horizon[0])
    hi = np.minimum(np.minimum(r.month_hi[a], r.month_hi[b]), horizon[1])
    return lo, hi


def _carried_by_b(data: AuditInput, a: np.ndarray, b: np.ndarray, money_a: np.ndarray, money_b: np.ndarray) -> np.ndarray:
    """Which record of each pair carries the pair's money at stake: the one with less money
    (an unknown amount never carries over a known one); on a tie the later one, then by
    ``program|agency`` text, then by record id — content first, so that rows moving in a file
    do not move money between agencies."""
    r = data.records
    fa, fb = np.nan_to_num(money_a, nan=np.inf), np.nan_to_num(money_b, nan=np.inf)
    out = fb < fa
    tie = fa == fb
    da, db = r.day_lo[a], r.day_lo[b]
    out |= tie & (db > da)
    tie &= db == da
    if tie.any():
        t = np.flatnonzero(tie)

        def key(pos: np.ndarray) -> np.ndarray:
            prog, agency = data.text("program", r.text["program"][pos]), data.text("agency", r.text["agency"][pos])
            return np.array([f"{p}|{g}" for p, g in zip(prog.tolist(), agency.tolist())], dtype=object)

        ka, kb = key(a[t]), key(b[t])
        out[t] |= kb > ka
        still = t[ka == kb]
        out[still] |= r.record_id[b[still]] > r.record_id[a[still]]
    return out


def _gather(data: AuditInput, a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            money_a: np.ndarray, money_b: np.ndarray) -> Hits:
    """Pairs of one person and program combination → one hit with all their records.

    The pair's money at stake is the smaller of its two records' money (see the module
    docstring), on the record that carries it; a record carries the largest of its pairs."""
    if len(a) == 0:
        return no_hits()
    r = data.records
    pa, pb = r.text["program"][a], r.text["program"][b]
    p_lo, p_hi = np.minimum(pa, pb), np.maximum(pa, pb)
    person = r.person[a]
    order = np.lexsort((b, a, p_hi, p_lo, person))  # within a hit, its earliest pair first
    a, b, lo, hi, money_a, money_b = a[order], b[order], lo[order], hi[order], money_a[order], money_b[order]
    person, p_lo, p_hi = person[order], p_lo[order], p_hi[order]
    starts = run_starts(combined_key(person, p_lo, p_hi))
    n = len(starts)
    hit_of = np.repeat(np.arange(n), np.diff(np.r_[starts, len(a)]))
    b_carries = _carried_by_b(data, a, b, money_a, money_b)
    stake = np.nan_to_num(np.fmin(money_a, money_b), nan=0.0)
    hit, record, stake = _max_per_record(np.r_[hit_of, hit_of], np.r_[a, b],
                                         np.r_[np.where(b_carries, 0.0, stake), np.where(b_carries, stake, 0.0)])
    programs = data.vocab["program"].values
    lo_text, hi_text = programs[p_lo[starts]].tolist(), programs[p_hi[starts]].tolist()
    return Hits(
        subject=_subjects(data, "person", person[starts]),
        pattern=np.array([f"{x}|{y}" for x, y in zip(lo_text, hi_text)], dtype=object),
        person=person[starts].astype(_I64), household=r.household[a[starts]].astype(_I64),
        programs=[sorted({x, y}) for x, y in zip(lo_text, hi_text)],
        day_lo=np.minimum.reduceat(lo, starts), day_hi=np.maximum.reduceat(hi, starts),
        facts=[{"pairs": int(k)} for k in np.diff(np.r_[starts, len(a)])],
        possible_unlinked=np.zeros(n, dtype=bool), hit=hit, record=record, stake=stake,
    )


def _max_per_record(hit: np.ndarray, record: np.ndarray, stake: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hit, record) distinct, each with the largest of its stakes."""
    order = np.lexsort((-stake, record, hit))
    hit, record, stake = hit[order], record[order], stake[order]
    first = np.r_[True, (hit[1:] != hit[:-1]) | (record[1:] != record[:-1])] if len(hit) else np.zeros(0, bool)
    return hit[first].astype(_I64), record[first].astype(_I64), stake[first]


def same_program_overlap(rule: SameProgramRule, data: AuditInput, period: AuditPeriod) -> Hits:
    r = data.records
    sel = data.vocab["kind"].mask(rule.params.kinds)[r.text["kind"]] & (r.person >= 0)
    pos = np.flatnonzero(sel)
    codes = [r.person[pos], r.text["program"][pos]]
    if rule.params.match_category:  # 免学费 and 国家助学金 are two items of student aid, not a duplicate
        category = r.text["category"][pos]
        blank = data.vocab["category"].index.get("", -1)  # a missing category is the blank one
        codes.append(np.where(category < 0, blank, category))
    a, b = _self_pairs(pos, combined_key(*codes))
    if len(a) == 0:
        return no_hits()
    per = r.periodicity[a]
    mlo, mhi = _overlap_months(data, a, b, period.months())
    dlo = np.maximum(r.day_lo[a], r.day_lo[b])
    dhi = np.minimum(r.day_hi[a], r.day_hi[b])
    gap = np.abs(r.event_day[a] - r.event_day[b])
    hit = np.where(per == MONTHLY, mlo <= mhi, np.where(per == ONE_OFF, gap <= rule.params.one_off_window_days, dlo <= dhi))
    a, b, mlo, mhi, dlo, dhi, per = a[hit], b[hit], mlo[hit], mhi[hit], dlo[hit], dhi[hit], per[hit]
    months = np.clip(mhi - mlo + 1, 0, None)
    # monthly programs report the overlapping months within the audited year (open ends are not dates)
    monthly = per == MONTHLY
    dlo = np.where(monthly, day_of_month_index(np.clip(mlo, 0, None)), dlo)
    dhi = np.where(monthly, day_of_month_index(np.clip(mhi, 0, None), last=True), dhi)
    return _gather(data, a, b, dlo, dhi, _money(data, a, months), _money(data, b, months))


def equivalent_programs(rule: EquivalentRule, data: AuditInput) -> Hits:
    r = data.records
    parts = []
    for group in rule.params.groups:
        pos = np.flatnonzero(_program_mask(data, group.programs) & (r.person >= 0))
        a, b = _self_pairs(pos, r.person[pos].astype(_I64))
        keep = r.text["program"][a] != r.text["program"][b]
        a, b = a[keep], b[keep]
        if len(a) == 0:
            continue
        if group.match == "same_school_year":
            ok = school_year_of(r.day_lo[a]) == school_year_of(r.day_lo[b])
        elif group.match == "same_year":
            ok = (month_of_day(r.day_lo[a]) // 12) == (month_of_day(r.day_lo[b]) // 12)
        elif group.match == "same_month":
            ok = month_of_day(r.event_day[a]) == month_of_day(r.event_day[b])
        else:
            ok = np.abs(r.event_day[a] - r.event_day[b]) <= (group.days or 0)
        a, b = a[ok], b[ok]
        if len(a) == 0:
            continue
        ea, eb = r.event_day[a], r.event_day[b]
        h = _gather(data, a, b, np.minimum(ea, eb), np.maximum(ea, eb), r.amount[a], r.amount[b])
        # the fewest days between two of the person's grants of the group
        gap, person = np.abs(ea - eb), r.person[a]
        order = np.lexsort((gap, person))
        first = run_starts(person[order])
        least = dict(zip(person[order][first].tolist(), gap[order][first].tolist()))
        facts = [{"match": group.match, "days_apart": int(least[p])} for p in h.person.tolist()]
        parts.append(Hits(h.subject, h.pattern, h.person, h.household, h.programs, h.day_lo, h.day_hi, facts,
                          h.possible_unlinked, h.hit, h.record, h.stake))
    return _concat(parts)


def exclusive_programs(rule: ExclusiveRule, data: AuditInput, period: AuditPeriod) -> Hits:
    r = data.records
    parts = []
    for first, second in rule.params.pairs:
        pa = np.flatnonzero(_program_mask(data, [first]) & (r.person >= 0))
        pb = np.flatnonzero(_program_mask(data, [second]) & (r.person >= 0))
        a, b = cross_pairs(pa, pb, r.person[pa], r.person[pb])
        if len(a) == 0:
            continue
        mlo, mhi = _overlap_months(data, a, b, period.months())
        ok = mlo <= mhi
        a, b, mlo, mhi = a[ok], b[ok], mlo[ok], mhi[ok]
        months = mhi - mlo + 1
        parts.append(_gather(data, a, b, day_of_month_index(mlo), day_of_month_index(mhi, last=True),
                             _money(data, a, months), _money(data, b, months)))
    return _concat(parts)


def multiple_households(rule: HouseholdsRule, data: AuditInput, period: AuditPeriod) -> Hits:
    r = data.records
    pos = np.flatnonzero(_program_mask(data, rule.params.programs) & (r.person >= 0) & (r.text["household_no"] >= 0))
    a, b = _self_pairs(pos, r.person[pos].astype(_I64))
    keep = r.text["household_no"][a] != r.text["household_no"][b]
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return no_hits()
    mlo, mhi = _overlap_months(data, a, b, period.months())
    ok = mlo <= mhi
    a, b, mlo, mhi = a[ok], b[ok], mlo[ok], mhi[ok]
    months = mhi - mlo + 1
    h = _gather(data, a, b, day_of_month_index(mlo), day_of_month_index(mhi, last=True),
                _money(data, a, months), _money(data, b, months))
    return Hits(h.subject, h.pattern, h.person, h.household, h.programs, h.day_lo, h.day_hi,
                [{"households": 2} for _ in range(len(h))], h.possible_unlinked, h.hit, h.record, h.stake)


def multi_source(rule: MultiSourceRule, data: AuditInput, period: AuditPeriod) -> Hits:
    r = data.records
    lo, hi = period.days()
    unit = "person" if rule.params.unit == "person" else "household"
    units = r.person if unit == "person" else r.household
    sel = data.vocab["kind"].mask(rule.params.kinds)[r.text["kind"]] & (units >= 0) & _in_period(data, lo, hi)
    pos = np.flatnonzero(sel)
    agency = r.text["agency"][pos]
    pairs = np.unique(np.stack([units[pos].astype(_I64), agency.astype(_I64)])[:, agency >= 0], axis=1)
    n_agencies = np.bincount(pairs[0], minlength=int(units.max(initial=-1)) + 1) if pairs.size else np.zeros(0, _I64)
    many = np.zeros(int(units.max(initial=-1)) + 2, dtype=bool)
    many[: len(n_agencies)] = n_agencies >= rule.params.threshold
    pos = pos[many[units[pos]]]
    if len(pos) == 0:
        return no_hits()
    pos = pos[np.lexsort((r.record_id[pos], units[pos]))]
    u = units[pos]
    starts = run_starts(u)
    amount = np.nan_to_num(r.amount[pos], nan=0.0)
    m_lo, m_hi = int(month_of_day(np.array([lo]))[0]), int(month_of_day(np.array([hi]))[0])
    months = np.clip(np.minimum(r.month_hi[pos], m_hi) - np.maximum(r.month_lo[pos], m_lo) + 1, 1, 12)
    money = np.where(r.per_month[pos], amount * months, amount)
    n = len(starts)
    agencies = sorted_lists(data.text("agency", r.text["agency"][pos]), starts)
    return Hits(
        subject=_subjects(data, unit, u[starts]), pattern=np.full(n, "", dtype=object),
        person=r.person[pos[starts]].astype(_I64), household=r.household[pos[starts]].astype(_I64),
        programs=sorted_lists(data.text("program", r.text["program"][pos]), starts),
        day_lo=np.full(n, lo, dtype=_I64), day_hi=np.full(n, hi, dtype=_I64),
        facts=[{"agencies": a} for a in agencies], possible_unlinked=np.zeros(n, dtype=bool),
        hit=np.repeat(np.arange(n), np.diff(np.r_[starts, len(pos)])), record=pos.astype(_I64), stake=money,
    )


def frequency(rule: FrequencyRule, data: AuditInput) -> Hits:
    r = data.records
    pos = np.flatnonzero(_program_mask(data, rule.params.programs) & (r.person >= 0))
    if len(pos) == 0:
        return no_hits()
    pos = pos[np.lexsort((r.record_id[pos], r.event_day[pos], r.person[pos]))]
    key = r.person[pos].astype(_I64) * _I64(10**7) + r.event_day[pos]
    end = np.searchsorted(key, key + rule.params.window_days, side="left")
    count = end - np.arange(len(key))
    bad_start = count > rule.params.max_count
    # every grant inside a window that holds too many grants is involved
    inside = np.zeros(len(key) + 1, dtype=_I64)
    np.add.at(inside, np.flatnonzero(bad_start), 1)
    np.add.at(inside, end[bad_start], -1)
    flagged = np.cumsum(inside)[:-1] > 0
    pos, count = pos[flagged], count[flagged]
    if len(pos) == 0:
        return no_hits()
    person = r.person[pos]
    starts = run_starts(person)
    n = len(starts)
    sizes = np.diff(np.r_[starts, len(pos)])
    most = np.maximum.reduceat(count, starts)
    facts = [{"grants": int(k), "most_in_window": int(m), "window_days": rule.params.window_days,
              "max_count": rule.params.max_count} for k, m in zip(sizes, most)]
    return Hits(
        subject=_subjects(data, "person", person[starts]), pattern=np.full(n, "", dtype=object),
        person=person[starts].astype(_I64), household=r.household[pos[starts]].astype(_I64),
        programs=sorted_lists(data.text("program", r.text["program"][pos]), starts),
        day_lo=np.minimum.reduceat(r.event_day[pos], starts), day_hi=np.maximum.reduceat(r.event_day[pos], starts),
        facts=facts, possible_unlinked=np.zeros(n, dtype=bool),
        hit=np.repeat(np.arange(n), sizes), record=pos.astype(_I64), stake=np.nan_to_num(r.amount[pos], nan=0.0),
    )


def _in(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    return np.isin(values, members)


def entitlement_missing(rule: EntitlementRule, data: AuditInput, ruleset: RuleSet, period: AuditPeriod) -> Hits:
    prm = rule.params
    r, people, m = data.records, data.persons, data.mentions
    lo, hi = period.days() if prm.period == "year" else period.school_year_days()
    live = _in_period(data, lo, hi) & (r.person >= 0)

    def holders(programs: list[str]) -> np.ndarray:
        return np.unique(r.person[live & _program_mask(data, programs)]).astype(_I64)

    # A person belongs to their own household and to every household a record of theirs names
    # (a member listed under another 户编号 after a move is still that household's member).
    listed = data.person_rows
    mp = np.r_[listed, r.person].astype(_I64)
    mh = np.r_[people.household[listed], r.household].astype(_I64)
    ok = (mp >= 0) & (mh >= 0)
    member_person, member_household = mp[ok], mh[ok]

    def household_holders(programs: list[str]) -> np.ndarray:
        hh = np.unique(r.household[live & _program_mask(data, programs) & (r.household >= 0)])
        return np.unique(member_person[_in(member_household, hh)])

    qualifying: list[str] = [*prm.holds_any, *prm.household_holds_any]
    cand: np.ndarray | None = None
    if prm.holds_any:
        cand = holders(prm.holds_any)
    if prm.household_holds_any:
        hh = household_holders(prm.household_holds_any)
        cand = hh if cand is None else np.intersect1d(cand, hh)
    alternatives = []
    if prm.named_in_sources:
        named = data.vocab["source"].mask(prm.named_in_sources)[m.source] & (m.person >= 0)
        alternatives.append(np.unique(m.person[named]).astype(_I64))
    if prm.or_count_at_least is not None:
        counted = r.person[live & _program_mask(data, prm.or_count_at_least.programs)]
        persons, counts = np.unique(counted, return_counts=True)
        alternatives.append(persons[counts >= prm.or_count_at_least.count].astype(_I64))
        qualifying += prm.or_count_at_least.programs
    for alt in alternatives:
        cand = alt if cand is None else np.union1d(cand, alt)
    if cand is None or len(cand) == 0:
        return no_hits()
    if prm.disability_levels:
        at_level = live & _program_mask(data, prm.holds_any) & np.isin(r.disability_level, prm.disability_levels)
        cand = cand[_in(cand, r.person[at_level])]
    if prm.holds_none:
        cand = cand[~_in(cand, holders(prm.holds_none))]
    if prm.household_holds_none:
        cand = cand[~_in(cand, household_holders(prm.household_holds_none)) & ~_in(cand, holders(prm.household_holds_none))]
    if prm.min_age is not None or prm.max_age is not None:
        age = age_on_day(people.birth_day[cand], lo if prm.age_on == "period_start" else hi)
        keep = ~np.isnan(age)
        if prm.min_age is not None:
            keep &= age >= prm.min_age
        if prm.max_age is not None:
            keep &= age <= prm.max_age
        cand = cand[keep]
    eligible = cand
    if prm.entitlement:
        cand = cand[~_in(cand, holders(prm.entitlement))]
    if len(cand) == 0:
        return no_hits()

    # the evidence: the candidate's own qualifying records, the records naming them in the named
    # sources, else the qualifying records of their households
    own = np.flatnonzero(live & _in(r.person, cand) & _program_mask(data, qualifying))
    ev_person, ev_record = [r.person[own].astype(_I64)], [own.astype(_I64)]
    if prm.named_in_sources:
        named = data.vocab["source"].mask(prm.named_in_sources)[m.source] & _in(m.person, cand)
        at = data.position_of(m.record_id[named])
        in_live = at >= 0
        in_live[in_live] = live[at[in_live]]
        ev_person.append(m.person[named][in_live].astype(_I64))
        ev_record.append(at[in_live])
    ev = np.unique(np.stack([np.concatenate(ev_person), np.concatenate(ev_record)]), axis=1)
    missing_own = cand[~_in(cand, ev[0])]
    if len(missing_own) and prm.household_holds_any:
        hh_records = np.flatnonzero(live & _program_mask(data, prm.household_holds_any) & (r.household >= 0))
        mine = _in(member_person, missing_own)
        links = np.unique(np.stack([member_person[mine], member_household[mine]]), axis=1)
        order = np.argsort(r.household[hh_records], kind="stable")
        hh_sorted = hh_records[order]
        a, b = cross_pairs(links[0], hh_sorted, links[1], r.household[hh_sorted].astype(_I64))
        ev = np.unique(np.concatenate([ev, np.stack([a, b])], axis=1), axis=1)
    agg = np.unique(ev[0])
    possible = np.zeros(len(agg), dtype=bool)
    if prm.entitlement:
        verdict = unlinked_entitlement(agg, eligible, data, live, prm, hi, ruleset.rare_name_max_persons)
        possible = verdict.doubtful[~verdict.paid]
        agg = agg[~verdict.paid]
    ev = ev[:, _in(ev[0], agg)]
    if len(agg) == 0:
        return no_hits()
    household = people.household[agg].astype(_I64)
    if prm.unit == "household":
        subject, person, household, possible, ev_subject = _one_per_household(data, agg, household, possible, ev)
    else:
        subject, person = _subjects(data, "person", agg), agg
        ev_subject = np.searchsorted(agg, ev[0])
    # ev_subject: index into the subjects (sorted by subject text)
    order = np.argsort(subject, kind="stable")
    rank = np.empty(len(order), dtype=_I64)
    rank[order] = np.arange(len(order))
    subject, person, household, possible = subject[order], person[order], household[order], possible[order]
    hit = rank[ev_subject]
    pairs = np.unique(np.stack([hit, ev[1]]), axis=1)
    hit, record = pairs[0], pairs[1]
    starts = run_starts(hit)
    programs = sorted_lists(data.text("program", r.text["program"][record]), starts)
    base = {"entitlement": list(prm.entitlement)} if prm.entitlement else {"lacks_status": list(prm.household_holds_none)}
    n = len(subject)
    return Hits(
        subject=subject, pattern=np.full(n, "", dtype=object), person=person.astype(_I64), household=household,
        programs=programs, day_lo=np.full(n, lo, dtype=_I64), day_hi=np.full(n, hi, dtype=_I64),
        facts=[dict(base, **({"possible_unlinked": True} if p else {})) for p in possible.tolist()],
        possible_unlinked=possible, hit=hit, record=record, stake=np.full(len(hit), np.nan),
    )


def _one_per_household(data: AuditInput, agg: np.ndarray, household: np.ndarray, possible: np.ndarray,
                       ev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The hits of one household as one, on the member with most evidence records, then the
    eldest, then the smallest person id (a member without a household stays on their own).
    Returns per subject: its text, person, household, doubt; and per evidence row its subject."""
    unit_code = np.where(household >= 0, household, agg)  # a person without a household: their own subject
    is_household = household >= 0
    key = np.where(is_household, 0, 1).astype(_I64) * _I64(2**40) + unit_code
    n_ev = np.bincount(np.searchsorted(agg, ev[0]), minlength=len(agg))
    birth = data.persons.birth_day[agg]
    order = np.lexsort((agg, np.where(birth >= 0, birth, np.iinfo(np.int64).max), -n_ev, key))
    k = key[order]
    starts = run_starts(k)
    chosen = order[starts]
    group_of = np.empty(len(agg), dtype=_I64)
    group_of[order] = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
    doubt = np.zeros(len(starts), dtype=bool)
    np.logical_or.at(doubt, group_of, possible)
    households = data.vocab["household"].values
    persons = data.vocab["person"].values
    subject = np.array([f"household:{households[h]}" if is_household[i] else f"person:{persons[agg[i]]}"
                        for i, h in zip(chosen.tolist(), household[chosen].tolist())], dtype=object)
    ev_subject = group_of[np.searchsorted(agg, ev[0])]
    return subject, agg[chosen], household[chosen], doubt, ev_subject


def find_hits(rule, data: AuditInput, ruleset: RuleSet, period: AuditPeriod) -> Hits:  # type: ignore[no-untyped-def]
    """Dispatch a rule to its kind."""
    if isinstance(rule, SameProgramRule):
        return same_program_overlap(rule, data, period)
    if isinstance(rule, EquivalentRule):
        return equivalent_programs(rule, data)
    if isinstance(rule, ExclusiveRule):
        return exclusive_programs(rule, data, period)
    if isinstance(rule, HouseholdsRule):
        return multiple_households(rule, data, period)
    if isinstance(rule, MultiSourceRule):
        return multi_source(rule, data, period)
    if isinstance(rule, FrequencyRule):
        return frequency(rule, data)
    if isinstance(rule, EntitlementRule):
        return entitlement_missing(rule, data, ruleset, period)
    raise TypeError(f"no implementation for rule kind {type(rule).__name__}")
