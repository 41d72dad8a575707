"""Plausibility thresholds (``schemas/plausibility.yaml``): values that parse but cannot be true.

An amount of ¥99,999,999,999,999 or an approval date of 1900-01-01 reads
perfectly well; it is still not a fact about a person's relief. The ingest
quarantines such values with the threshold that refused them, and keeps them
out of every amount at stake. The thresholds are configuration: what is
credible changes with the programs and the years, not with the code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relieflink.config.catalog import Catalog
from relieflink.config.errors import ConfigError, from_validation_error, read_yaml
from relieflink.config.paths import schemas_dir


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmountLimits(_Strict):
    """The largest credible amount (in yuan, sign ignored), by what the amount is for."""

    max_per_month: float = Field(gt=0)  # amounts of basis `month` (a monthly benefit)
    max_per_record: float = Field(gt=0)  # amounts of basis `record` (a grant, a year's payment)
    by_program: dict[str, float] = Field(default_factory=dict)  # program code -> limit, over the basis's

    def limit(self, program: str | None, basis: str | None) -> float:
        """The limit for one program's amounts of one basis."""
        if program in self.by_program:
            return self.by_program[program]  # type: ignore[index]
        return self.max_per_month if basis == "month" else self.max_per_record


class EarliestDates(_Strict):
    """The earliest credible date of a birth, and of anything a record dates (approval, payment, period)."""

    birth_date: dt.date
    record_date: dt.date


class AuditWindow(_Strict):
    """How far outside the audit period a record's dates may lie (when the run has an audit period)."""

    years_before: int = Field(ge=0)
    years_after: int = Field(ge=0)


class DateLimits(_Strict):
    earliest: EarliestDates
    audit_period: AuditWindow


class Plausibility(_Strict):
    """All thresholds; see ``schemas/plausibility.yaml`` for what each means and why."""

    amounts: AmountLimits
    dates: DateLimits


def load_plausibility(path: Path | None = None, catalog: Catalog | None = None) -> Plausibility:
    """Load and validate ``plausibility.yaml``; errors name the file and the key.

    With ``catalog``, every program code under ``amounts.by_program`` must be
    one of the catalog's."""
    path = path or schemas_dir() / "plausibility.yaml"
    try:
        limits = Plausibility.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None
    if catalog is not None:
        for code in limits.amounts.by_program:
            if code not in catalog.program_codes:
                raise ConfigError(path, f"unknown program code {code!r}; use a code of programs.yaml",
                                  key=f"amounts.by_program.{code}")
    return limits
