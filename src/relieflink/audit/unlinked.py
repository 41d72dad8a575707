"""Whether a missed entitlement was in fact paid under an identity linkage left unresolved.

An entitlement rule flags an eligible person who holds no record of the entitlement.
But an agency may have paid it on a row linkage could not attach to anyone (a name
with no usable ID: the elderly-insurance list, a subdistrict's subsidy table with an
Excel-damaged ID), or the eligibility itself may sit on such a row while the
entitlement is on a resolved one. An auditor settles these by who *could* own the
row: the entitlement is granted to the eligible, so an unattached subsidy row
named 陈蕾 in 湖墅街道 belongs to an eligible 陈蕾 known in 湖墅. When exactly one
eligible person fits and she is the flagged one, the row is hers and there is no
miss; when several fit, the miss is a review item; when none does, the row is
someone else's and the miss stands.

Two directions:

* an **orphan** entitlement record: unresolved, and its owner shows no eligibility
  of their own. Its candidates are the eligible persons (flagged or not: an
  eligible holder may own one more row) of the same name, known in the record's
  subdistrict when it names one, whose birth date does not contradict it. When the
  record's category says it was granted on a ground the rule does not audit
  (``granted_as``: the insurance list's 高龄 rows), its owner may be anyone of that
  ground: the flagged namesakes who could be are review items, none is settled;
* an **unresolved flagged person** (no valid ID): their candidates are the persons
  of the same name who hold the entitlement on a resolved record with no
  eligibility of their own, in a subdistrict of the flagged person.

A name held by few persons (``rare_name_max_persons``) settles an ambiguous case
too: such a row is almost surely the flagged person's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from relieflink.audit.arrays import join, pair_key
from relieflink.audit.rules import EntitlementParams

if TYPE_CHECKING:
    from relieflink.audit.columns import AuditInput


@dataclass(frozen=True)
class UnlinkedVerdict:
    """Per flagged person (aligned with the hits): the miss is settled (``paid``) or doubtful."""

    paid: np.ndarray
    doubtful: np.ndarray


@dataclass(frozen=True)
class _Lookups:
    """What both directions look up: where persons are known, who is flagged, which live records
    are resolved and are the entitlement."""

    places: np.ndarray  # sorted keys (person, subdistrict) of every record
    radix: int  # of those keys (pair_key)
    placed: np.ndarray  # sorted persons known in some subdistrict
    position: np.ndarray  # person code -> position among the flagged persons (-1: not flagged)
    resolved: np.ndarray  # per record
    is_entitlement: np.ndarray  # per record


def _fits(look: _Lookups, person: np.ndarray, place: np.ndarray) -> np.ndarray:
    """True where ``place`` is missing or one of ``person``'s subdistricts."""
    return (place < 0) | np.isin(pair_key(person, place, look.radix), look.places)


def _orphan_grounds(data: AuditInput, orphans: np.ndarray, params: EntitlementParams
                    ) -> tuple[np.ndarray, np.ndarray, list]:
    """Per orphan: is its ground one the rule audits, the minimum age of another ground (NaN:
    none known), and the programs its category is granted on (None: any of the rule's)."""
    n = len(orphans)
    if not params.granted_as:
        return np.ones(n, dtype=bool), np.full(n, np.nan), [None] * n
    category = data.text("category", data.records.text["category"][orphans])
    grounds = [params.granted_as.get(c) if isinstance(c, str) else None for c in category.tolist()]
    audited = np.array([g is not None and bool(g.holds_any) for g in grounds], dtype=bool)
    min_age = np.array([g.min_age if g is not None and g.min_age is not None else np.nan for g in grounds], dtype=float)
    return audited, min_age, [g.holds_any if g is not None and g.holds_any else None for g in grounds]


def _already_paid(data: AuditInput, person: np.ndarray, o_lo: np.ndarray, o_hi: np.ndarray, paid: np.ndarray) -> np.ndarray:
    """True where ``person`` already holds the entitlement, resolved, for a period that overlaps
    the orphan's: the orphan would be a second payment, not the missing one (an annual subsidy
    paid once a year; one month of a monthly allowance)."""
    r = data.records
    i, j = join(person, r.person[paid])
    overlap = (r.day_lo[paid][j] <= o_hi[i]) & (o_lo[i] <= r.day_hi[paid][j])
    out = np.zeros(len(person), dtype=bool)
    out[i[overlap]] = True
    return out


def _holds_named_ground(data: AuditInput, live: np.ndarray, person: np.ndarray, granted_on: list) -> np.ndarray:
    """True where the orphan's category names no ground, or the candidate holds a program of it."""
    restricted = np.array([g is not None for g in granted_on], dtype=bool)
    if not restricted.any():
        return np.ones(len(person), dtype=bool)
    r = data.records
    program = data.vocab["program"]
    radix = len(program) + 1
    held = np.unique(pair_key(r.person[live], r.text["program"][live], radix))
    rows = np.flatnonzero(restricted)
    lists = [granted_on[k] for k in rows.tolist()]
    rep = np.repeat(rows, [len(x) for x in lists])
    codes = np.array([program.index.get(c, -1) for x in lists for c in x], dtype=np.int64)
    hit = (codes >= 0) & np.isin(pair_key(person[rep], codes, radix), held)
    ok = ~restricted
    ok[rep[hit]] = True
    return ok


def _orphan_rows(data: AuditInput, look: _Lookups, eligible: np.ndarray, live: np.ndarray, params: EntitlementParams,
                 age_day: int, paid: np.ndarray, doubtful: np.ndarray) -> None:
    """An orphan entitlement record → the eligible persons who could own it (marks ``paid`` /
    ``doubtful`` of the flagged ones)."""
    from relieflink.audit.columns import NO_DAY, age_on_day

    r, people = data.records, data.persons
    orphans = np.flatnonzero(live & look.is_entitlement & ~look.resolved & ~np.isin(r.person, eligible))
    orphans = orphans[people.name_code[r.person[orphans]] >= 0]
    e = eligible[people.name_code[eligible] >= 0]
    i, j = join(people.name_code[e], people.name_code[r.person[orphans]])
    if len(i) == 0:
        return
    cand, rec = e[i], orphans[j]
    audited, other_min_age, granted_on = _orphan_grounds(data, rec, params)
    keep = ~_already_paid(data, cand, r.day_lo[rec], r.day_hi[rec], np.flatnonzero(live & look.is_entitlement & look.resolved))
    keep &= _fits(look, cand, r.text["subdistrict"][rec])
    b, ob = people.birth_day[cand], people.birth_day[r.person[rec]]
    keep &= (b == NO_DAY) | (ob == NO_DAY) | (b == ob)
    keep[keep] = _holds_named_ground(data, live, cand[keep], [g for g, k in zip(granted_on, keep.tolist()) if k])
    cand, rec, audited, other_min_age = cand[keep], rec[keep], audited[keep], other_min_age[keep]
    at = look.position[cand]
    sure = audited
    # the number of distinct eligible persons who could own each orphan
    pairs = np.unique(np.stack([rec[sure], cand[sure]]), axis=1)
    owners, n_owners = np.unique(pairs[0], return_counts=True)
    n_candidates = np.zeros(len(rec), dtype=np.int64)
    n_candidates[sure] = n_owners[np.searchsorted(owners, rec[sure])]
    flagged = at >= 0
    paid[at[sure & flagged & (n_candidates == 1)]] = True
    doubtful[at[sure & flagged & (n_candidates > 1)]] = True
    # granted on a ground the rule does not audit: anyone of that ground may own it
    other = ~audited & flagged
    age = age_on_day(people.birth_day[cand[other]], age_day)
    could = np.isnan(other_min_age[other]) | np.isnan(age) | (age >= other_min_age[other])
    doubtful[at[other][could]] = True


def _unresolved_flagged(data: AuditInput, look: _Lookups, flagged: np.ndarray, eligible: np.ndarray,
                        live: np.ndarray, paid: np.ndarray, doubtful: np.ndarray) -> None:
    """An unresolved flagged person → the same-name holders of the entitlement who show no
    eligibility of their own (marks ``paid`` / ``doubtful``)."""
    r, people = data.records, data.persons
    holding = np.flatnonzero(live & look.is_entitlement & look.resolved)
    holder, y_place = r.person[holding], r.text["subdistrict"][holding]
    named = people.name_code[holder] >= 0
    holder, y_place = holder[named], y_place[named]
    if len(holder):
        distinct = np.unique(np.stack([holder.astype(np.int64), y_place.astype(np.int64)]), axis=1)
        holder, y_place = distinct[0], distinct[1]
    y_eligible = np.isin(holder, eligible)
    hit_i = np.flatnonzero(~np.isin(flagged, r.person[live & look.resolved]) & (people.name_code[flagged] >= 0))
    i, j = join(people.name_code[flagged[hit_i]], people.name_code[holder])
    hit_i, holder, y_place, y_eligible = hit_i[i], holder[j], y_place[j], y_eligible[j]
    other = holder != flagged[hit_i]
    hit_i, holder, y_place, y_eligible = hit_i[other], holder[other], y_place[other], y_eligible[other]
    if len(hit_i) == 0:
        return
    person = flagged[hit_i]
    fits = _fits(look, person, y_place) | ~np.isin(person, look.placed)  # known in no subdistrict: fits anywhere
    sure = np.unique(np.stack([hit_i[fits & ~y_eligible], holder[fits & ~y_eligible]]), axis=1)
    if sure.size:
        hits, n_holders = np.unique(sure[0], return_counts=True)
        paid[hits[n_holders == 1]] = True
    doubtful[np.unique(hit_i)] = True


def unlinked_entitlement(flagged: np.ndarray, eligible: np.ndarray, data: AuditInput, live: np.ndarray,
                         params: EntitlementParams, age_day: int, rare_name_max_persons: int) -> UnlinkedVerdict:
    """Settle the misses of ``flagged`` (person codes, sorted) against unresolved records.

    ``eligible``: every person who meets the rule's conditions, flagged or not (codes);
    ``live``: which records are of the audited period; ``age_day``: the day ages are taken on.
    The subdistricts a person is known in come from all of ``data``'s records; how many
    persons bear a name from the persons table (:attr:`PersonColumns.name_count`).
    """
    r, people = data.records, data.persons
    n = len(flagged)
    sub = r.text["subdistrict"]
    placed = (r.person >= 0) & (sub >= 0)
    radix = len(data.vocab["subdistrict"]) + 1
    position = np.full(len(people), -1, dtype=np.int64)
    position[flagged] = np.arange(n)
    look = _Lookups(
        places=np.unique(pair_key(r.person[placed], sub[placed], radix)),
        radix=radix,
        placed=np.unique(r.person[placed]),
        position=position,
        resolved=r.identity_resolved,
        is_entitlement=data.vocab["program"].mask(params.entitlement)[r.text["program"]],
    )
    paid = np.zeros(n, dtype=bool)
    doubtful = np.zeros(n, dtype=bool)
    _orphan_rows(data, look, eligible, live, params, age_day, paid, doubtful)
    _unresolved_flagged(data, look, flagged, eligible, live, paid, doubtful)
    name = people.name_code[flagged]
    count = np.where(name >= 0, people.name_count[np.maximum(name, 0)], np.iinfo(np.int64).max)
    paid |= doubtful & (count <= rare_name_max_persons)
    return UnlinkedVerdict(paid=paid, doubtful=doubtful & ~paid)
