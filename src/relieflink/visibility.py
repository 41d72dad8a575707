"""The visibility contract: what one agency may see (SPEC §6).

One contract for every agency-facing output — the per-agency reports
(``reports/<agency>.html``) and the screening answers given to an agency's
system — so that what an agency learns does not depend on which door it asks
through. The platform's own auditors (``Scope(None)``) see everything.

An agency (or subdistrict) A:

* sees a flag **iff at least one of its involved records was delivered by A**
  (``records.agency == A``), or it is a missed-benefit flag whose missing
  program A grants (A must act on it although none of its records is involved);
* sees **its own records in full** (identity masked unless A was granted
  unmasked access);
* sees **another agency's record only as agency, program and period** (start,
  end): no amount, no other date, no file or row (no record reference), no
  identity field, no community;
* reads a flag's amount at stake, its full explanation and its link
  confidence (how sure the identity links of all its records are) **only when
  every involved record is A's own**; otherwise the amount and the confidence
  are withheld and the explanation is the scoped one (``explanation_scoped_zh`` / ``_en``: the same
  facts without amounts and record counts, :func:`relieflink.audit.explain.explain`);
  the flag's record references are reduced to A's own records.

Masking of identities is not decided here but by the caller's
:class:`relieflink.privacy.Masker`; this module decides *which* facts reach A.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

# what an agency sees of another agency's record
OTHER_AGENCY_FIELDS = ("agency", "program", "period_start", "period_end")


def _contains(lists: pd.Series, code: str) -> np.ndarray:
    """Per row: does the list in ``lists`` hold ``code``? (None and NaN hold nothing.)"""
    return np.fromiter((isinstance(v, (list, tuple, np.ndarray)) and code in list(v) for v in lists),
                       dtype=bool, count=len(lists))


@dataclass(frozen=True)
class Scope:
    """The viewer: an agency or subdistrict code (``mzj``, ``jd-hushu``), or None for the platform."""

    agency: str | None = None

    @property
    def is_platform(self) -> bool:
        return self.agency is None

    def owns(self, agencies: pd.Series | Iterable[str]) -> np.ndarray:
        """Per record: was it delivered by this viewer? (The platform owns every record.)"""
        values = pd.Series(list(agencies) if not isinstance(agencies, pd.Series) else agencies)
        if self.is_platform:
            return np.ones(len(values), dtype=bool)
        return values.astype(object).eq(self.agency).to_numpy(dtype=bool)

    def records(self, records: pd.DataFrame) -> pd.DataFrame:
        """``records`` as this viewer may see them, with an ``own`` column.

        Own rows are kept whole; another agency's rows keep only
        :data:`OTHER_AGENCY_FIELDS` (every other column is null on them). Needs an
        ``agency`` column.
        """
        own = self.owns(records["agency"])
        out = records.copy()
        if not own.all():
            hidden = [c for c in out.columns if c not in OTHER_AGENCY_FIELDS]
            for column in hidden:
                out[column] = out[column].where(own)
        out["own"] = own
        return out

    def sees_flags(self, agencies: pd.Series, grantors: pd.Series | None = None) -> np.ndarray:
        """Per flag: may this viewer see it? ``agencies``: the agencies of each flag's records (lists);
        ``grantors``: the agencies granting each flag's missed programs (lists)."""
        if self.is_platform:
            return np.ones(len(agencies), dtype=bool)
        seen = _contains(agencies, self.agency)  # type: ignore[arg-type]
        if grantors is not None:
            seen |= _contains(grantors, self.agency)  # type: ignore[arg-type]
        return seen

    def full_detail(self, agencies: pd.Series) -> np.ndarray:
        """Per flag: are all its involved records this viewer's own (amounts and full explanation shown)?"""
        if self.is_platform:
            return np.ones(len(agencies), dtype=bool)
        return np.fromiter((isinstance(v, (list, tuple, np.ndarray)) and len(v) > 0 and set(v) == {self.agency}
                            for v in agencies), dtype=bool, count=len(agencies))

    def flags(self, flags: pd.DataFrame, record_agency: dict[tuple[str, int], str] | None = None) -> pd.DataFrame:
        """The flags this viewer may see, each reduced to what it may read.

        ``flags`` needs ``agencies`` (and optionally ``grantors``) list columns as
        :func:`relieflink.report.data.enrich_flags` adds them. Where a flag involves
        another agency's record: ``amount_at_stake`` and ``link_confidence`` are null, the explanations are
        the scoped ones, and ``records`` keeps only this viewer's own records
        (``record_agency`` maps ``(file, row)`` to the delivering agency; without it
        no record reference is kept). Adds ``full_detail``.
        """
        seen = self.sees_flags(flags["agencies"], flags["grantors"] if "grantors" in flags else None)
        out = flags.loc[seen].copy()
        full = self.full_detail(out["agencies"])
        out["full_detail"] = full
        if self.is_platform or full.all():
            return out
        for column in ("amount_at_stake", "link_confidence"):
            if column in out:
                out[column] = out[column].where(full)
        for language in ("zh", "en"):
            column, scoped = f"explanation_{language}", f"explanation_scoped_{language}"
            if column in out and scoped in out:
                out[column] = out[column].where(full, out[scoped])
        if "records" in out:
            lookup = record_agency or {}
            out["records"] = [
                list(recs) if keep else [r for r in (recs if recs is not None else [])
                                         if lookup.get((str(r["file"]), int(r["row"]))) == self.agency]
                for recs, keep in zip(out["records"], full)
            ]
        return out
