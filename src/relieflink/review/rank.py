"""What a reviewer's time is worth spending on first: the expected money of an open item.

An open flag is worth its money times the probability that it is real::

    expected = value × P(real),   P(real) = link confidence × measured precision of its rule

* ``value``: the flag's amount at stake (for MULTI-SOURCE and TEMP-FREQ, what was
  received); for a missed benefit, which has no money at stake, what the missed
  programs are worth: the median amount a person who does receive the program got in
  the audited year, in this run (:func:`missed_program_values`); of several missed
  programs the largest (a lower bound: MISS-REFERRAL's are alternatives).
* ``link confidence``: the flag's (how sure its records are one person's).
* ``measured precision``: ``measured_precision`` of the rule in ``schemas/rules.yaml``
  (the share of the rule's review items that were true, measured with ``relieflink
  evaluate`` on generated batches; 1 where not given).

Identity questions are ranked the same way, by the money their answer moves (see
:func:`relieflink.review.queue.open_items`). All of it is vectorized over the items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relieflink.audit.rules import RuleSet
from relieflink.config.catalog import Catalog


def rule_precisions(ruleset: RuleSet) -> dict[str, float]:
    """Per rule id, its ``measured_precision`` (the first clause that gives one); rules
    without one are absent (taken as 1)."""
    out: dict[str, float] = {}
    for rule in ruleset.rules:
        if rule.measured_precision is not None and rule.id not in out:
            out[rule.id] = float(rule.measured_precision)
    return out


def missed_program_values(records: pd.DataFrame, catalog: Catalog, year: int | None) -> pd.Series:
    """Per program code: the median money a person receiving it got in ``year`` (monthly
    programs: the monthly amount times the months of the year the record covers; other
    payments: their amount). Programs nobody was paid in the year are absent."""
    from relieflink.audit.periods import coverage

    if records.empty or year is None or "amount" not in records:
        return pd.Series(dtype=float)
    paid = records[records["kind"].eq("payment") & pd.to_numeric(records["amount"], errors="coerce").gt(0)
                   & records["person_id"].notna()]
    if paid.empty:
        return pd.Series(dtype=float)
    cov = coverage(paid, catalog)
    first, last = year * 12, year * 12 + 11
    months = (np.minimum(cov["month_hi"].to_numpy(), last) - np.maximum(cov["month_lo"].to_numpy(), first) + 1).clip(0)
    day = pd.to_datetime(paid["period_start"], errors="coerce").dt.year.to_numpy(dtype=float, na_value=np.nan)
    amount = pd.to_numeric(paid["amount"], errors="coerce").to_numpy(dtype=float)
    monthly = (cov["periodicity"].to_numpy() == "monthly")
    money = np.where(monthly, amount * months, np.where(day == year, amount, 0.0))
    per_person = pd.DataFrame({"program": paid["program"].to_numpy(), "person": paid["person_id"].to_numpy(),
                               "money": money}).groupby(["program", "person"], sort=True)["money"].sum()
    per_person = per_person[per_person > 0]
    return per_person.groupby(level="program").median().round(2)


def _list_values(lists: pd.Series, values: pd.Series) -> np.ndarray:
    """Per row: the largest of ``values`` over the codes in the row's list (None or unknown: 0)."""
    lookup = values.to_dict()
    return np.fromiter((max([lookup.get(c, 0.0) for c in v], default=0.0) if isinstance(v, (list, tuple, np.ndarray))
                        else 0.0 for v in lists), dtype=float, count=len(lists))


def flag_values(flags: pd.DataFrame, missed_values: pd.Series) -> np.ndarray:
    """Per flag: its money (amount at stake), or for a missed benefit what the missed
    programs are worth (the largest of them: :func:`missed_program_values`)."""
    amount = pd.to_numeric(flags["amount_at_stake"], errors="coerce").to_numpy(dtype=float)
    if "missed_programs" not in flags:
        return np.nan_to_num(amount)
    missed = _list_values(flags["missed_programs"], missed_values)
    return np.where(np.isnan(amount) | (amount <= 0), missed, amount)


def real_probability(rule_ids: pd.Series, link_confidence: pd.Series, precisions: dict[str, float]) -> np.ndarray:
    """Per item: link confidence (unknown: 1) times its rule's measured precision (unknown: 1)."""
    link = pd.to_numeric(link_confidence, errors="coerce").fillna(1.0).clip(0, 1).to_numpy(dtype=float)
    precision = rule_ids.map(precisions).astype(float).fillna(1.0).to_numpy(dtype=float)
    return link * precision


def rank_flags(flags: pd.DataFrame, precisions: dict[str, float], missed_values: pd.Series) -> pd.DataFrame:
    """``flags`` with ``value``, ``p_real`` and ``expected`` (value × p_real), sorted by
    ``expected`` (largest first, then ``flag_id``), with ``rank`` from 1."""
    out = flags.copy()
    out["value"] = flag_values(out, missed_values)
    out["p_real"] = real_probability(out["rule_id"], out["link_confidence"], precisions)
    out["expected"] = (out["value"] * out["p_real"]).round(2)
    out = out.sort_values(["expected", "flag_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def listed_apart(ruleset: RuleSet) -> set[str]:
    """Rule ids whose review items form a list of their own instead of competing in the
    queue: MULTI-SOURCE (kind ``multi_source``) puts what a person received at stake, not
    money paid wrongly, and raises thousands of items; the queue shows them as one ranked
    list of persons (agencies, programs, total amount)."""
    return {rule.id for rule in ruleset.rules if rule.kind == "multi_source"}


def queue_of(rule_ids: pd.Series, apart: set[str]) -> np.ndarray:
    """Per item: ``multi_source`` for the rules listed apart, else ``main``."""
    return np.where(rule_ids.isin(list(apart)).to_numpy(dtype=bool), "multi_source", "main")


def rank_open_flags(flags: pd.DataFrame, ruleset: RuleSet, missed_values: pd.Series) -> pd.DataFrame:
    """The open review flags of ``flags`` (status ``review``, no decision), ranked: the main
    queue by expected money, then the list apart (:func:`listed_apart`) by the same; columns
    of :func:`rank_flags` plus ``queue``, ``rank`` counted within each queue."""
    decided = flags["decision"].notna() if "decision" in flags else pd.Series(False, index=flags.index)
    todo = flags[flags["status"].eq("review") & ~decided]
    ranked = rank_flags(todo, rule_precisions(ruleset), missed_values)
    ranked["queue"] = queue_of(ranked["rule_id"], listed_apart(ruleset))
    ranked = ranked.sort_values("queue", key=lambda q: q.ne("main"), kind="mergesort").reset_index(drop=True)
    ranked["rank"] = ranked.groupby("queue", sort=False).cumcount() + 1
    return ranked


def rank_review_flags(data) -> pd.DataFrame:  # noqa: ANN001 - ReportData (report imports review, not back)
    """:func:`rank_open_flags` over a report's flags (enriched: agencies, subdistrict, name)."""
    from relieflink.audit.rules import load_rules

    ruleset = data.ruleset if data.ruleset is not None else load_rules(catalog=data.catalog)
    return rank_open_flags(data.flags, ruleset, missed_program_values(data.records, data.catalog, data.audit_year))
