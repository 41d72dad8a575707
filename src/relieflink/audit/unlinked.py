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

import numpy as np
import pandas as pd

from relieflink.audit.grouping import is_in
from relieflink.audit.periods import age_on
from relieflink.audit.rules import EntitlementParams


@dataclass(frozen=True)
class UnlinkedVerdict:
    """Per flagged person (aligned with the hits): the miss is settled (``paid``) or doubtful."""

    paid: np.ndarray
    doubtful: np.ndarray


def _subdistrict_fits(pairs: pd.DataFrame, places: pd.DataFrame, person: str, place: str) -> np.ndarray:
    """True where ``pairs[place]`` is missing or one of ``pairs[person]``'s subdistricts."""
    if pairs.empty:
        return np.zeros(0, dtype=bool)
    known = places.rename(columns={"person_id": person, "subdistrict": place})
    inside = pairs.merge(known.assign(_in=True), on=[person, place], how="left")["_in"].eq(True).to_numpy()
    return pairs[place].isna().to_numpy() | inside


def _already_paid(pairs: pd.DataFrame, paid: pd.DataFrame) -> np.ndarray:
    """True where the candidate already holds the entitlement, resolved, for a period that
    overlaps the orphan's: the orphan would be a second payment, not the missing one (an
    annual subsidy paid once a year; one month of a monthly allowance)."""
    span = paid[["person_id", "day_lo", "day_hi"]]
    left = pairs[["person_id", "record_id", "o_lo", "o_hi"]].reset_index(drop=True).assign(_k=lambda d: np.arange(len(d)))
    both = left.merge(span, on="person_id")
    overlap = (both["day_lo"].to_numpy() <= both["o_hi"].to_numpy()) & (both["o_lo"].to_numpy() <= both["day_hi"].to_numpy())
    out = np.zeros(len(pairs), dtype=bool)
    out[both["_k"].to_numpy()[overlap]] = True
    return out


def _orphan_grounds(orphans: pd.DataFrame, params: EntitlementParams) -> tuple[np.ndarray, np.ndarray, list]:
    """Per orphan: is its ground one the rule audits, the minimum age of another ground (NaN:
    none known), and the programs its category is granted on (None: any of the rule's)."""
    n = len(orphans)
    if not params.granted_as:
        return np.ones(n, dtype=bool), np.full(n, np.nan), [None] * n
    category = orphans["category"].astype(object).to_numpy() if "category" in orphans else np.full(n, None)
    grounds = [params.granted_as.get(c) if isinstance(c, str) else None for c in category]
    audited = np.array([g is not None and bool(g.holds_any) for g in grounds], dtype=bool)
    min_age = np.array([g.min_age if g is not None and g.min_age is not None else np.nan for g in grounds], dtype=float)
    return audited, min_age, [g.holds_any if g is not None and g.holds_any else None for g in grounds]


@dataclass(frozen=True)
class _Lookups:
    """What both directions look up: names, birth dates, where persons are known, who is flagged."""

    names: pd.Series
    births: pd.Series
    places: pd.DataFrame
    position: pd.Series  # flagged person id → position among the hits
    resolved: np.ndarray  # per live record
    is_entitlement: np.ndarray  # per live record


def _orphan_rows(look: _Lookups, eligible: pd.Index, live: pd.DataFrame, params: EntitlementParams,
                 age_day: int, paid: np.ndarray, doubtful: np.ndarray) -> None:
    """An orphan entitlement record → the eligible persons who could own it (marks ``paid`` /
    ``doubtful`` of the flagged ones)."""
    orphans = live[look.is_entitlement & ~look.resolved & ~is_in(live["person_id"], eligible)]
    audited, other_min_age, granted_on = _orphan_grounds(orphans, params)
    o = pd.DataFrame({
        "record_id": orphans["record_id"].to_numpy(),
        "name": orphans["person_id"].map(look.names).to_numpy(),
        "o_birth": orphans["person_id"].map(look.births).to_numpy(),
        "o_place": orphans["subdistrict"].to_numpy() if "subdistrict" in orphans else None,
        "o_lo": orphans["day_lo"].to_numpy(), "o_hi": orphans["day_hi"].to_numpy(),
        "audited": audited, "other_min_age": other_min_age, "granted_on": granted_on,
    }).dropna(subset=["name"])
    e = pd.DataFrame({"person_id": eligible.to_numpy(), "name": eligible.map(look.names).to_numpy(),
                      "birth": eligible.map(look.births).to_numpy()}).dropna(subset=["name"])
    pairs = e.merge(o, on="name")
    if pairs.empty:
        return
    pairs = pairs[~_already_paid(pairs, live[look.is_entitlement & look.resolved])]
    fits = _subdistrict_fits(pairs, look.places, "person_id", "o_place")
    # births are datetime.date objects: compared as objects (pandas 3 would stop inferring datetime64 from them)
    fits &= pairs["birth"].isna().to_numpy() | pairs["o_birth"].isna().to_numpy() | (pairs["birth"].to_numpy() == pairs["o_birth"].to_numpy())
    pairs = pairs[fits]
    pairs = pairs[_holds_named_ground(pairs, live)]
    pairs = pairs.assign(i=pairs["person_id"].map(look.position))
    sure = pairs[pairs["audited"].to_numpy()]
    n_candidates = sure.groupby("record_id")["person_id"].transform("nunique").to_numpy()
    flagged = sure["i"].notna().to_numpy()
    paid[sure["i"].to_numpy()[flagged & (n_candidates == 1)].astype(np.int64)] = True
    doubtful[sure["i"].to_numpy()[flagged & (n_candidates > 1)].astype(np.int64)] = True
    # granted on a ground the rule does not audit: anyone of that ground may own it
    other = pairs[~pairs["audited"].to_numpy() & pairs["i"].notna().to_numpy()]
    age = age_on(other["birth"], age_day)
    could = np.isnan(other["other_min_age"].to_numpy()) | np.isnan(age) | (age >= other["other_min_age"].to_numpy())
    doubtful[other["i"].to_numpy()[could].astype(np.int64)] = True


def _holds_named_ground(pairs: pd.DataFrame, live: pd.DataFrame) -> np.ndarray:
    """True where the orphan's category names no ground, or the candidate holds a program of it."""
    restricted = pairs["granted_on"].notna().to_numpy()
    if not restricted.any():
        return np.ones(len(pairs), dtype=bool)
    held = live[["person_id", "program"]].drop_duplicates()
    on = pairs[restricted].explode("granted_on")
    holds = on.merge(held, left_on=["person_id", "granted_on"], right_on=["person_id", "program"])
    ok = pd.Index(holds["person_id"] + "|" + holds["record_id"].astype(str))
    key = pairs["person_id"] + "|" + pairs["record_id"].astype(str)
    return ~restricted | is_in(key, ok)


def _unresolved_flagged(look: _Lookups, hits: pd.DataFrame, eligible: pd.Index, live: pd.DataFrame,
                        paid: np.ndarray, doubtful: np.ndarray) -> None:
    """An unresolved flagged person → the same-name holders of the entitlement who show no
    eligibility of their own (marks ``paid`` / ``doubtful``)."""
    holding = live[look.is_entitlement & look.resolved]
    y = pd.DataFrame({
        "holder": holding["person_id"].to_numpy(),
        "name": holding["person_id"].map(look.names).to_numpy(),
        "y_place": holding["subdistrict"].to_numpy() if "subdistrict" in holding else None,
        "y_eligible": is_in(holding["person_id"], eligible),
    }).dropna(subset=["name"]).drop_duplicates()
    unresolved_hits = hits[~is_in(hits["person_id"], live.loc[look.resolved, "person_id"])].dropna(subset=["name"])
    pairs = unresolved_hits.merge(y, on="name")
    pairs = pairs[pairs["holder"].to_numpy() != pairs["person_id"].to_numpy()]
    if pairs.empty:
        return
    fits = _subdistrict_fits(pairs, look.places, "person_id", "y_place")
    fits |= ~is_in(pairs["person_id"], look.places["person_id"])  # known in no subdistrict: fits anywhere
    sure = pairs[fits & ~pairs["y_eligible"].to_numpy()].drop_duplicates(["i", "holder"])
    per_hit = sure.groupby("i")["holder"].nunique()
    paid[per_hit.index[per_hit.to_numpy() == 1].to_numpy()] = True
    doubtful[pairs["i"].unique()] = True


def unlinked_entitlement(
    hit_ids: pd.Series,
    eligible: pd.Index,
    live: pd.DataFrame,
    records: pd.DataFrame,
    persons: pd.DataFrame,
    params: EntitlementParams,
    age_day: int,
    rare_name_max_persons: int,
) -> UnlinkedVerdict:
    """Settle the misses of ``hit_ids`` (flagged persons) against unresolved records.

    ``eligible``: every person who meets the rule's conditions, flagged or not;
    ``live``: the prepared records of the audited period; ``records``: all prepared
    records (for the subdistricts a person is known in); ``age_day``: the day ages
    are taken on.
    """
    n = len(hit_ids)
    people = persons.drop_duplicates("person_id").set_index("person_id")
    look = _Lookups(
        names=people["name"],
        births=people["birth_date"] if "birth_date" in people else pd.Series(pd.NaT, index=people.index),
        places=(records[["person_id", "subdistrict"]].dropna().drop_duplicates()
                if "subdistrict" in records else pd.DataFrame(columns=["person_id", "subdistrict"])),
        position=pd.Series(np.arange(n), index=hit_ids.to_numpy()),
        resolved=live["identity_resolved"].astype("boolean").fillna(True).to_numpy(dtype=bool),
        is_entitlement=live["program"].isin(params.entitlement).to_numpy(),
    )
    paid = np.zeros(n, dtype=bool)
    doubtful = np.zeros(n, dtype=bool)
    _orphan_rows(look, eligible, live, params, age_day, paid, doubtful)
    hits = pd.DataFrame({"i": np.arange(n), "person_id": hit_ids.to_numpy(), "name": hit_ids.map(look.names).to_numpy()})
    _unresolved_flagged(look, hits, eligible, live, paid, doubtful)

    persons_named = hits.dropna(subset=["name"]).set_index("i")["name"].map(look.names.value_counts())
    rare = np.zeros(n, dtype=bool)
    rare[persons_named.index.to_numpy()] = persons_named.to_numpy() <= rare_name_max_persons
    paid |= doubtful & rare
    return UnlinkedVerdict(paid=paid, doubtful=doubtful & ~paid)
