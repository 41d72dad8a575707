"""The rule file (``schemas/rules.yaml``): rule kinds, their parameters, validation.

A rule is an instance of one of a few kinds; the kind decides which
parameters it takes. A rule file that does not validate is refused with the
file, the rule id and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relieflink.config.catalog import Catalog
from relieflink.config.errors import ConfigError, read_yaml
from relieflink.config.paths import schemas_dir


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SameProgramParams(_Strict):
    kinds: list[Literal["payment", "status", "service"]] = ["payment"]
    one_off_window_days: int = Field(0, ge=0)
    match_category: bool = True


class EquivalentGroup(_Strict):
    programs: list[str] = Field(min_length=2)
    match: Literal["same_school_year", "same_year", "same_month", "within_days"]
    days: int | None = Field(None, ge=0)


class EquivalentParams(_Strict):
    groups: list[EquivalentGroup] = Field(min_length=1)


class ExclusiveParams(_Strict):
    pairs: list[tuple[str, str]] = Field(min_length=1)


class HouseholdsParams(_Strict):
    programs: list[str] = Field(min_length=1)


class MultiSourceParams(_Strict):
    threshold: int = Field(3, ge=2)
    unit: Literal["person", "household"] = "person"
    kinds: list[Literal["payment", "status", "service"]] = ["payment", "service"]


class FrequencyParams(_Strict):
    programs: list[str] = Field(min_length=1)
    window_days: int = Field(365, ge=1)
    max_count: int = Field(2, ge=1)


class CountAtLeast(_Strict):
    programs: list[str] = Field(min_length=1)
    count: int = Field(ge=1)


class Ground(_Strict):
    """A ground an entitlement is granted on: holding one of the programs, or an age."""

    holds_any: list[str] = []
    min_age: int | None = Field(None, ge=0)


class EntitlementParams(_Strict):
    period: Literal["year", "school_year"] = "year"
    # household: one flag per household (a referral is of the household: the worker and the
    # child named on one 金秋助学 row are one case), on the member with most evidence, then the eldest
    unit: Literal["person", "household"] = "person"
    holds_any: list[str] = []
    household_holds_any: list[str] = []
    named_in_sources: list[str] = []
    or_count_at_least: CountAtLeast | None = None
    holds_none: list[str] = []
    household_holds_none: list[str] = []
    disability_levels: list[int] = []
    min_age: int | None = Field(None, ge=0)
    max_age: int | None = Field(None, ge=0)
    age_on: Literal["period_start", "period_end"] = "period_start"
    entitlement: list[str] = []
    # the entitlement record's category → the ground it is granted on (the elderly-insurance
    # list's 对象类别: 失独 → holds JSJ-SW, 高龄 → aged 80); see audit/unlinked.py
    granted_as: dict[str, Ground] = {}


class _RuleBase(_Strict):
    id: str
    category: Literal["duplicate", "overlap", "missed"]
    status: Literal["finding", "review"] = "finding"
    title_zh: str
    title_en: str
    basis: str
    # Bayes factor the rule's own pattern puts on a probabilistic link (see audit/confidence.py)
    link_odds_factor: float | None = Field(None, gt=0, le=1)
    # share of the rule's review items that were true on generated batches (relieflink evaluate):
    # ranks the review queue by expected money (relieflink.review.rank); None counts as 1
    measured_precision: float | None = Field(None, ge=0, le=1)


class SameProgramRule(_RuleBase):
    kind: Literal["same_program_overlap"]
    params: SameProgramParams = SameProgramParams()


class EquivalentRule(_RuleBase):
    kind: Literal["equivalent_programs"]
    params: EquivalentParams


class ExclusiveRule(_RuleBase):
    kind: Literal["exclusive_programs"]
    params: ExclusiveParams


class HouseholdsRule(_RuleBase):
    kind: Literal["multiple_households"]
    params: HouseholdsParams


class MultiSourceRule(_RuleBase):
    kind: Literal["multi_source"]
    params: MultiSourceParams = MultiSourceParams()


class FrequencyRule(_RuleBase):
    kind: Literal["frequency"]
    params: FrequencyParams


class EntitlementRule(_RuleBase):
    kind: Literal["entitlement_missing"]
    params: EntitlementParams


Rule = Annotated[
    Union[SameProgramRule, EquivalentRule, ExclusiveRule, HouseholdsRule, MultiSourceRule, FrequencyRule, EntitlementRule],
    Field(discriminator="kind"),
]


class RuleSet(_Strict):
    """The rules and their shared thresholds. The audited year is not here: it is a
    parameter of the run (:class:`relieflink.audit.periods.AuditPeriod`)."""

    link_confidence_threshold: float = Field(0.99, gt=0, le=1)
    school_year_paid_ahead_from_month: int = Field(7, ge=1, le=12)
    rare_name_max_persons: int = Field(4, ge=0)
    min_flag_link_probability: float = Field(0.5, ge=0, lt=1)
    rules: list[Rule] = Field(min_length=1)


def programs_of(rule: BaseModel) -> list[tuple[str, str]]:
    """(key, program code) of every program a rule refers to, for validation."""
    params = getattr(rule, "params", None)
    found: list[tuple[str, str]] = []
    if params is None:
        return found
    for key, value in params:
        if key in ("kinds", "named_in_sources", "disability_levels"):
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    found.append((f"params.{key}.{i}", item))
                elif isinstance(item, tuple):
                    found.extend((f"params.{key}.{i}", code) for code in item)
                elif isinstance(item, EquivalentGroup):
                    found.extend((f"params.{key}.{i}.programs", code) for code in item.programs)
        elif isinstance(value, CountAtLeast):
            found.extend((f"params.{key}.programs", code) for code in value.programs)
        elif isinstance(value, dict):
            for category, ground in value.items():
                found.extend((f"params.{key}.{category}.holds_any.{i}", code) for i, code in enumerate(ground.holds_any))
    return found


def load_rules(path: Path | None = None, catalog: Catalog | None = None) -> RuleSet:
    """Load and validate the rule file; errors name the file, the rule id and the key."""
    from relieflink.config.catalog import load_catalog

    path = path or schemas_dir() / "rules.yaml"
    data = read_yaml(path)
    if isinstance(data, dict) and "audit_period" in data:
        raise ConfigError(path, "the audit period is a parameter of the run now (relieflink run --period YEAR, "
                                "or derived from the data); remove this key", key="audit_period")
    try:
        ruleset = RuleSet.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        key = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(data, dict):
            rules = data.get("rules") or []
            rule_id = rules[loc[1]].get("id") if loc[1] < len(rules) and isinstance(rules[loc[1]], dict) else None
            rest = [str(p) for p in loc[2:] if p not in _KIND_TAGS]
            key = f"rule {rule_id or loc[1]}: " + ".".join(rest)
        raise ConfigError(path, err["msg"], key=key) from None
    catalog = catalog or load_catalog(path.parent / "programs.yaml")
    for rule in ruleset.rules:
        for key, code in programs_of(rule):
            if code not in catalog.program_codes:
                raise ConfigError(path, f"unknown program {code!r}; add it to programs.yaml", key=f"rule {rule.id}: {key}")
    return ruleset


_KIND_TAGS = {
    "same_program_overlap", "equivalent_programs", "exclusive_programs", "multiple_households",
    "multi_source", "frequency", "entitlement_missing",
}
