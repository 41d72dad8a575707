"""Plausibility: which parsed values cannot be true, by the thresholds of ``schemas/plausibility.yaml``.

The checks are pure functions of parsed columns; :func:`relieflink.ingest.mapping.map_table`
quarantines what they find and drops the values. Bounds on dates are absolute
(the earliest credible birth and record dates) and, when the run has an audit
period, relative to it, never to the day the job runs, so that the same batch
gives the same outputs next year.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from relieflink.config.plausibility import Plausibility

CONFIG_FILE = "schemas/plausibility.yaml"


@dataclass(frozen=True)
class Bound:
    """One side of a date range, and what it is (for the quarantine message)."""

    day: pd.Timestamp
    why: str


@dataclass(frozen=True)
class Checks:
    """The plausibility thresholds of one run: the configured limits, and the audit period
    (first and last day) the relative date bounds refer to, when the run has one."""

    limits: Plausibility
    audit_period: tuple[dt.date, dt.date] | None = None

    def date_bounds(self, birth: bool) -> tuple[Bound, Bound | None]:
        """(earliest, latest) credible date of a birth date column or of a record's date column."""
        earliest = self.limits.dates.earliest
        if birth:
            low = Bound(pd.Timestamp(earliest.birth_date),
                        f"{earliest.birth_date}, the earliest credible birth date "
                        f"({CONFIG_FILE} dates.earliest.birth_date)")
        else:
            low = Bound(pd.Timestamp(earliest.record_date),
                        f"{earliest.record_date}, the earliest credible date of a record "
                        f"({CONFIG_FILE} dates.earliest.record_date)")
        if self.audit_period is None:
            return low, None
        first, last = (pd.Timestamp(d) for d in self.audit_period)
        if birth:
            return low, Bound(last, f"{last.date()}, the end of the audit period")
        window = self.limits.dates.audit_period
        before = first - pd.DateOffset(years=window.years_before)
        if before > low.day:
            low = Bound(before, f"{before.date()}, {window.years_before} years before the audit period "
                                f"({CONFIG_FILE} dates.audit_period.years_before)")
        after = last + pd.DateOffset(years=window.years_after)
        return low, Bound(after, f"{after.date()}, {window.years_after} years after the audit period "
                                 f"({CONFIG_FILE} dates.audit_period.years_after)")


def first_days(values: pd.Series, parser: str) -> pd.Series:
    """The first day each parsed value denotes: the date itself (dates, months: their 1st),
    1 January of a year, 1 September of a school year."""
    if parser in ("year", "school_year"):
        years = pd.to_numeric(values, errors="coerce").astype("Float64")
        month = 9 if parser == "school_year" else 1
        parts = pd.DataFrame({"year": years, "month": float(month), "day": 1.0}).astype(float)
        return pd.to_datetime(parts, errors="coerce")
    return pd.Series(pd.to_datetime(values, errors="coerce"), index=values.index)


def outside(values: pd.Series, parser: str, low: Bound, high: Bound | None) -> tuple[np.ndarray, np.ndarray]:
    """(before ``low``, after ``high``) masks of a parsed date column (missing values: neither)."""
    days = first_days(values, parser)
    early = (days < low.day).to_numpy(dtype=bool, na_value=False)
    late = (days > high.day).to_numpy(dtype=bool, na_value=False) if high is not None else np.zeros(len(days), bool)
    return early, late


def amount_limits(limits: Plausibility, program: pd.Series, basis: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the largest credible amount (by program and the amount's basis) and the key of
    ``plausibility.yaml`` that sets it (for the message)."""
    codes, uniques = pd.factorize(program.astype(object), use_na_sentinel=True)
    programs = [*uniques, None]  # code -1 (no program) takes the last
    value = np.array([limits.amounts.limit(p, basis) for p in programs], dtype=float)[codes]
    keys = np.array([_limit_key(limits, p, basis) for p in programs], dtype=object)[codes]
    return value, keys


def _limit_key(limits: Plausibility, program: str | None, basis: str) -> str:
    if program in limits.amounts.by_program:
        return f"amounts.by_program.{program}"
    return "amounts.max_per_month" if basis == "month" else "amounts.max_per_record"


def match_reversals(records: pd.DataFrame, identity: pd.Series) -> np.ndarray:
    """For each record, the position of the record it reverses (冲正), or -1.

    A record with a negative amount reverses a record of the same file with
    the same beneficiary ``identity`` (normalized name and ID), program,
    category and period whose amount is its opposite. Several reversals of
    one kind are paired with the originals in row order (the first reversal
    with the earliest original not yet reversed), so the choice is
    deterministic. One merge, no loop over rows.
    """
    amount = pd.to_numeric(records["amount"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out = np.full(len(records), -1, dtype=np.int64)
    negative = np.flatnonzero(amount < 0)
    if len(negative) == 0:
        return out
    positive = np.flatnonzero(amount > 0)
    keys = pd.DataFrame({
        "identity": identity.to_numpy(dtype=object),
        "program": records["program"].to_numpy(dtype=object),
        "category": records["category"].astype(object).to_numpy(),
        "start": records["period_start"].to_numpy(),
        "end": records["period_end"].to_numpy(),
        "cents": np.round(np.abs(np.nan_to_num(amount)) * 100).astype(np.int64),
    })
    group = keys.groupby(list(keys.columns), dropna=False, sort=False).ngroup().to_numpy()

    def ranked(at: np.ndarray) -> pd.DataFrame:
        side = pd.DataFrame({"group": group[at], "at": at})
        side["rank"] = side.groupby("group").cumcount()
        return side

    pairs = ranked(negative).merge(ranked(positive), on=["group", "rank"], suffixes=("_reversal", "_original"))
    out[pairs["at_reversal"].to_numpy()] = pairs["at_original"].to_numpy()
    return out
