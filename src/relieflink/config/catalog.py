"""The program catalog (``schemas/programs.yaml``): agencies and programs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from relieflink.config.errors import ConfigError, from_validation_error, read_yaml
from relieflink.config.paths import schemas_dir

Periodicity = Literal["monthly", "annual", "school_year", "one_off", "episode", "status"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Agency(_Strict):
    """An agency or subdistrict that delivers exports and grants programs."""

    code: str
    name: str
    name_en: str
    kind: Literal["agency", "subdistrict"]


class Program(_Strict):
    """One assistance program or status, with the semantics the rules rely on."""

    code: str
    name: str
    name_en: str
    agency: str
    unit: Literal["person", "household"]
    periodicity: Periodicity
    kind: Literal["payment", "status", "service"]
    purpose: str
    relief_status: bool = False


class Catalog(_Strict):
    """All agencies and programs, looked up by code."""

    agencies: tuple[Agency, ...]
    programs: tuple[Program, ...]

    @model_validator(mode="after")
    def _check_references(self) -> "Catalog":
        agency_codes = {a.code for a in self.agencies}
        seen: set[str] = set()
        for i, program in enumerate(self.programs):
            if program.code in seen:
                raise ValueError(f"programs.{i}.code: duplicate program code {program.code!r}")
            seen.add(program.code)
            if program.agency != "jd" and program.agency not in agency_codes:
                raise ValueError(
                    f"programs.{i}.agency: unknown agency {program.agency!r} "
                    f"(known: {sorted(agency_codes)} or 'jd' for every subdistrict)"
                )
        return self

    def program(self, code: str) -> Program:
        for program in self.programs:
            if program.code == code:
                return program
        raise KeyError(code)

    def agency(self, code: str) -> Agency:
        for agency in self.agencies:
            if agency.code == code:
                return agency
        raise KeyError(code)

    @property
    def program_codes(self) -> frozenset[str]:
        return frozenset(p.code for p in self.programs)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate ``programs.yaml``; errors name the file and key."""
    path = path or schemas_dir() / "programs.yaml"
    data = read_yaml(path)
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None
