"""The service's requests and answers (pydantic models: validation and the OpenAPI description).

The request models are built from the program catalog and the gazetteer
(:func:`request_models`), so that ``/openapi.json`` lists the program and
subdistrict codes a caller may send and an unknown one is refused by
validation (422, naming the field).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator, model_validator

from relieflink.config.catalog import Catalog

MatchHow = Literal["valid_id", "id_typo", "name_birth", "pinyin_birth", "name"]


class _Application(BaseModel):
    """The fields every application has; ``program`` and ``subdistrict`` are added per catalog."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, max_length=40, description="The applicant's name (required without id_number).")
    id_number: str | None = Field(None, max_length=24, description="The applicant's resident ID (18 characters; "
                                                                   "a 15-digit one is upgraded).")
    period_start: date = Field(description="First day of the period applied for (YYYY-MM-DD).")
    period_end: date | None = Field(None, description="Last day (default: the start: one month of a "
                                                                   "monthly benefit, the day of a grant).")
    amount: float | None = Field(None, ge=0, le=10_000_000, allow_inf_nan=False,
                                 description="Amount applied for, in yuan (per month for a monthly program).")
    phone: str | None = Field(None, max_length=24, description="The applicant's phone (kept with a recorded "
                                                               "application for linkage).")

    @field_validator("period_end")
    @classmethod
    def _not_before_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("period_start")
        if value is not None and start is not None and value < start:
            raise ValueError("the period ends before it starts")
        return value

    @model_validator(mode="after")
    def _identity(self):  # type: ignore[no-untyped-def]
        if not (self.name or "").strip() and not (self.id_number or "").strip():
            raise ValueError("the application needs the applicant's name or resident ID (name, id_number)")
        return self


class _Recorded(BaseModel):
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=128,
        description="Your system's unique key of this approval (or the Idempotency-Key header): recording it "
                    "again with the same key returns the same application, never a second one.")


def request_models(catalog: Catalog) -> tuple[type[BaseModel], type[BaseModel]]:
    """(ScreenRequest, ApplicationRequest): an application to screen, and an approved one to record."""
    programs = tuple(p.code for p in catalog.programs)
    subdistricts = tuple(a.code for a in catalog.agencies if a.kind == "subdistrict")
    fields = {
        "program": (Literal[programs], Field(description="Program code applied for (schemas/programs.yaml).")),  # type: ignore[valid-type]
        "subdistrict": (Literal[subdistricts] | None,  # type: ignore[valid-type]
                        Field(None, description="Subdistrict code of the application (default: the caller's, "
                                                "when it is a subdistrict).")),
    }
    screen = create_model("ScreenRequest", __base__=_Application, __module__=__name__, **fields)  # type: ignore[call-overload]
    record = create_model("ApplicationRequest", __base__=(screen, _Recorded), __module__=__name__)  # type: ignore[call-overload]
    return screen, record


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppliedFor(_Out):
    name: str | None = Field(description="Masked unless the key is granted unmasked answers.")
    id_number: str | None
    program: str
    period_start: date
    period_end: date | None
    subdistrict: str | None
    amount: float | None


class Match(_Out):
    person_id: str
    how: MatchHow = Field(description="valid_id: the ID names the person; id_typo: one typo away, same name; "
                                      "name_birth / pinyin_birth: the name (or its sound) and the birth date "
                                      "agree; name: only the name.")
    how_zh: str
    name: str | None
    id_number: str | None = Field(description="Null for a namesake known only from other agencies' records.")
    birth_date: date | None


class Benefit(_Out):
    """What a matched person receives, per program and agency. Of another agency's benefits only
    the agency, the program and the period are shown (``own`` false)."""

    person_id: str
    agency: str
    program: str
    program_name: str
    own: bool = Field(description="Delivered by the caller's agency: shown in full.")
    first: date | None
    last: date | None = Field(description="Null: ongoing.")
    records: int | None = Field(description="Own benefits only.")
    amount: float | None = Field(description="Own benefits only: the total of the records, in yuan.")


class OwnRecord(_Out):
    file: str
    row: int
    program: str | None
    period_start: date | None
    period_end: date | None
    amount_at_stake: float | None


class OtherRecord(_Out):
    agency: str
    program: str | None
    period_start: date | None
    period_end: date | None


class Conflict(_Out):
    person_id: str
    rule_id: str
    category: str
    title_zh: str
    status: Literal["finding", "review", "held"] = Field(
        description="finding; review (a review rule, or the identity is not certain); held (the match is too "
                    "weak for the pattern: likelier another person of the same name).")
    already_flagged: bool = Field(description="The last run flags these records already.")
    full_detail: bool = Field(description="Every record involved is the caller's: amounts and counts are in "
                                          "the explanation. Otherwise the explanation is the scoped one.")
    explanation_zh: str
    explanation_en: str
    own_records: list[OwnRecord]
    other_records: list[OtherRecord] = Field(description="Other agencies' records: agency, program and period only.")


class Entitlement(_Out):
    person_id: str
    rule_id: str
    title_zh: str
    programs: list[str] = Field(description="The programs the person qualifies for and does not receive.")
    status: Literal["finding", "review", "held"]
    opened_by_application: bool = Field(description="Approving this application makes it due (e.g. 低保 opens "
                                                    "the medical-insurance subsidy).")
    full_detail: bool = Field(description="Every record involved is the caller's; otherwise the explanation is "
                                          "the scoped one.")
    explanation_zh: str
    explanation_en: str


class RunInfo(_Out):
    audit_year: int | None
    run_json_mtime: str


class ScreenResponse(_Out):
    run: RunInfo
    application: AppliedFor
    id_status: str | None
    matches: list[Match]
    more_name_matches: int = Field(description="Persons who share only the name, beyond those listed (give the ID).")
    benefits: list[Benefit]
    conflicts: list[Conflict]
    creates_conflict: bool = Field(description="Approving would create a conflict the last run does not flag yet.")
    entitlements: list[Entitlement] = Field(description="Missed benefits of the matched persons worth telling the "
                                                        "applicant about, those the approval opens included.")
    recorded_applications: int = Field(description="Approvals recorded since the last run that this answer took "
                                                   "into account.")


class ApplicationRecorded(_Out):
    application_id: str
    status: Literal["recorded", "already_recorded"]
    recorded_at: str
    person_id: str | None = Field(description="The person the approval is counted for until the next run.")


class ApplicationWithdrawn(_Out):
    application_id: str
    status: Literal["withdrawn", "already_withdrawn"]
    withdrawn_at: str


class FieldProblem(_Out):
    field: str
    message: str


class Problem(_Out):
    """Every refusal: a code, one sentence, and for a 422 the fields at fault."""

    error: str
    message: str
    fields: list[FieldProblem] = Field(default_factory=list)


class Health(_Out):
    status: Literal["ok", "degraded"]
    version: str
    run_json_mtime: str | None
    loaded_at: str | None
    persons: int | None
    reloading: bool
    keys_valid: bool
