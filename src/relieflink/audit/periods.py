"""What period a record covers, in days and in calendar months, by program periodicity.

Monthly benefits are compared by month, annual ones by calendar year,
school-year ones by the school year starting 1 September, one-off grants by
their date, episodes by their date range, statuses from their start on,
open-ended. Days are counted from 1970-01-01; months as ``year*12 + month-1``.
An open end is ``OPEN``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relieflink.config.catalog import Catalog

OPEN = np.int64(10**9)
_EPOCH = np.datetime64("1970-01-01", "D")


def days(values: pd.Series, missing: int = -1) -> np.ndarray:
    """Day numbers of a date column; missing → ``missing`` (-1 by default: the rules read a
    missing or pre-1970 date as no bound)."""
    d = pd.to_datetime(values, errors="coerce").to_numpy(dtype="datetime64[D]")
    out = (d - _EPOCH).astype(np.int64)
    out[np.isnat(d)] = missing
    return out


def month_of_day(day: np.ndarray) -> np.ndarray:
    """Month index of day numbers (vectorized)."""
    d = _EPOCH + day.astype("timedelta64[D]")
    m = d.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return m + 1970 * 12


def day_of_month_index(month: np.ndarray, last: bool = False) -> np.ndarray:
    """First (or last) day number of a month index."""
    m = (month - 1970 * 12).astype("datetime64[M]")
    if last:
        return ((m + 1).astype("datetime64[D]") - _EPOCH).astype(np.int64) - 1
    return (m.astype("datetime64[D]") - _EPOCH).astype(np.int64)


def _day(text: str) -> int:
    return int((np.datetime64(text, "D") - _EPOCH).astype(np.int64))


def year_bounds(year: int) -> tuple[int, int]:
    return _day(f"{year:04d}-01-01"), _day(f"{year:04d}-12-31")


def school_year_bounds(start_year: int) -> tuple[int, int]:
    return _day(f"{start_year:04d}-09-01"), _day(f"{start_year + 1:04d}-08-31")


@dataclass(frozen=True)
class AuditPeriod:
    """The period a run audits: a calendar year, and the school year that starts on
    1 September of it (2015: the calendar year 2015 and the school year 2015-2016).

    A parameter of the run, not configuration: next year's batch is audited by passing
    its year (or letting :func:`derive_audit_period` read it from the data).
    ``derived`` says which of the two it was, for the run's summary.
    """

    year: int
    school_year: int | None = None
    derived: bool = False

    def __post_init__(self) -> None:
        if not 1900 <= int(self.year) <= 2100:
            raise ValueError(f"the audit period must be a year between 1900 and 2100, not {self.year}")
        object.__setattr__(self, "year", int(self.year))
        object.__setattr__(self, "school_year", int(self.year if self.school_year is None else self.school_year))

    def days(self) -> tuple[int, int]:
        """First and last day number of the calendar year."""
        return year_bounds(self.year)

    def school_year_days(self) -> tuple[int, int]:
        """First and last day number of the school year (1 September to 31 August)."""
        return school_year_bounds(int(self.school_year))  # type: ignore[arg-type]

    def months(self) -> tuple[int, int]:
        """First and last month index of the calendar year."""
        return self.year * 12, self.year * 12 + 11

    def as_dict(self) -> dict[str, object]:
        """What the run's summary and ``run.json`` state about the period."""
        return {"year": self.year, "school_year": f"{self.school_year}-{int(self.school_year) + 1}",  # type: ignore[arg-type]
                "derived_from_data": self.derived}


# Record kinds whose dates say which year a batch is about: what was paid or served (statuses
# such as certificates or 低保 start years back and stay open).
_DATING_KINDS = ("payment", "service")


def derive_audit_period(records: pd.DataFrame) -> AuditPeriod | None:
    """The audit period a batch is about when the run is not given one: the calendar year in
    which the most payment and service records begin (their period start, else their date),
    the later year on a tie; of any records when none of these carries a date; None when no
    record does.

    A monthly batch holds statuses begun years ago and the odd payment dated in the next
    year; the bulk of its payments falls in the year it reports on. The rule reads only the
    records, so the same batch always gives the same period.
    """
    if records.empty or "period_start" not in records:
        return None
    start = pd.to_datetime(records["period_start"], errors="coerce")
    if "event_date" in records:
        start = start.fillna(pd.to_datetime(records["event_date"], errors="coerce"))
    years = start.dt.year.to_numpy(dtype=float, na_value=np.nan)
    plausible = (years >= 1900) & (years <= 2100)
    dating = records["kind"].isin(_DATING_KINDS).to_numpy() if "kind" in records else plausible
    years = years[plausible & dating] if (plausible & dating).any() else years[plausible]
    if not len(years):
        return None
    counts = pd.Series(years.astype(np.int64)).value_counts()
    best = counts[counts == counts.max()].index.max()
    return AuditPeriod(int(best), derived=True)


def coverage(records: pd.DataFrame, catalog: Catalog, paid_ahead_from_month: int = 7) -> pd.DataFrame:
    """Per record: ``day_lo``, ``day_hi``, ``month_lo``, ``month_hi``, ``event_day``, ``periodicity``.

    An annual program's record covers the calendar year of its date; a
    school-year program's record covers the school year its date belongs to
    (payments from ``paid_ahead_from_month`` on are for the school year that
    starts that September). Applying this to already expanded periods gives
    the same periods back.
    """
    periodicity = records["program"].map({p.code: p.periodicity for p in catalog.programs}).to_numpy()
    start = days(records["period_start"])
    end = days(records["period_end"])
    event = days(records["event_date"]) if "event_date" in records else np.full(len(records), -1)
    event = np.where(event >= 0, event, start)
    start_dt = pd.to_datetime(records["period_start"], errors="coerce")
    year = start_dt.dt.year.to_numpy(dtype=float, na_value=np.nan)
    month = start_dt.dt.month.to_numpy(dtype=float, na_value=np.nan)

    day_lo = start.copy()
    day_hi = np.where(end >= 0, end, OPEN)
    annual = periodicity == "annual"
    if annual.any():
        y = year[annual]
        day_lo[annual] = days(pd.Series(pd.to_datetime({"year": y, "month": 1, "day": 1}, errors="coerce")))
        day_hi[annual] = days(pd.Series(pd.to_datetime({"year": y, "month": 12, "day": 31}, errors="coerce")))
    school = periodicity == "school_year"
    if school.any():
        sy = np.where(month[school] >= paid_ahead_from_month, year[school], year[school] - 1)
        day_lo[school] = days(pd.Series(pd.to_datetime({"year": sy, "month": 9, "day": 1}, errors="coerce")))
        day_hi[school] = days(pd.Series(pd.to_datetime({"year": sy + 1, "month": 8, "day": 31}, errors="coerce")))
    single = np.isin(periodicity, ["one_off"])
    day_hi[single] = day_lo[single]
    status = periodicity == "status"
    day_hi[status] = OPEN
    day_lo[status & (day_lo < 0)] = -OPEN

    month_lo = np.where(day_lo >= 0, month_of_day(np.maximum(day_lo, 0)), -OPEN)
    month_hi = np.where(day_hi < OPEN, month_of_day(np.minimum(day_hi, 10**6)), OPEN)
    return pd.DataFrame(
        {
            "periodicity": periodicity,
            "day_lo": day_lo,
            "day_hi": day_hi,
            "month_lo": month_lo,
            "month_hi": month_hi,
            "event_day": event,
        },
        index=records.index,
    )


def school_year_of(day_lo: np.ndarray) -> np.ndarray:
    """The school year (its starting year) a covered period begins in."""
    d = _EPOCH + np.maximum(day_lo, 0).astype("timedelta64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return np.where(m >= 9, y, y - 1)


def age_on(birth: pd.Series, day: int) -> np.ndarray:
    """Completed years of age on a day number; NaN where the birth date is unknown."""
    b = pd.to_datetime(birth, errors="coerce")
    on = pd.Timestamp(_EPOCH + np.timedelta64(day, "D"))
    years = on.year - b.dt.year
    before_birthday = (b.dt.month > on.month) | ((b.dt.month == on.month) & (b.dt.day > on.day))
    return (years - before_birthday.astype(float)).to_numpy(dtype=float, na_value=np.nan)


def format_month(month: np.ndarray) -> np.ndarray:
    """'2015年3月' for month indices (vectorized)."""
    y = (month // 12).astype(str)
    m = (month % 12 + 1).astype(str)
    return np.char.add(np.char.add(np.char.add(y, "年"), m), "月")
