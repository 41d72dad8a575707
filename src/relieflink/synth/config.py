"""Loading of the generator's configuration (schemas/synth.yaml) and of the
district gazetteer and program catalog it draws from."""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from relieflink.config.paths import schemas_dir as configured_schemas_dir

def _load(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def to_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    s = str(v)
    if len(s) == 7:  # YYYY-MM
        return dt.date(int(s[:4]), int(s[5:7]), 1)
    return dt.date.fromisoformat(s)


@dataclass
class Subdistrict:
    code: str
    admin: str
    name: str
    aliases: list[str]
    communities: list[str]


@dataclass
class Config:
    """Everything the generator needs, resolved for one profile."""

    synth: dict
    gazetteer: dict
    programs: dict
    profile: str
    rates: dict = field(default_factory=dict)       # identity quirk rates
    profile_cfg: dict = field(default_factory=dict)

    @property
    def year(self) -> int:
        return int(self.synth["calendar"]["year"])

    @property
    def ref_date(self) -> dt.date:
        return to_date(self.synth["calendar"]["reference_date"])

    @property
    def export_timestamp(self) -> dt.datetime:
        v = self.synth["calendar"]["export_timestamp"]
        return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))

    @property
    def subdistricts(self) -> list[Subdistrict]:
        return [Subdistrict(s["code"], str(s["admin"]), s["name"], list(s.get("aliases", [])),
                            list(s["communities"])) for s in self.gazetteer["subdistricts"]]

    @property
    def program_by_code(self) -> dict[str, dict]:
        cache = self.__dict__.get("_program_cache")
        if cache is None:
            cache = {p["code"]: p for p in self.programs["programs"]}
            self.__dict__["_program_cache"] = cache
        return cache

    def program_names(self, codes) -> "np.ndarray":
        """Names of an array of program codes."""
        names = {c: p["name"] for c, p in self.program_by_code.items()}
        return np.array([names[c] for c in codes], dtype=object)

    def program_code(self, agency: str, name: str) -> str:
        """Code of the program ``name`` of ``agency`` (``jd`` for subdistricts)."""
        for p in self.programs["programs"]:
            if p["agency"] == agency and p["name"] == name:
                return p["code"]
        raise KeyError(f"no program {name!r} of {agency!r} in programs.yaml")

    def program_name(self, code: str) -> str:
        return self.program_by_code[code]["name"]

    def amount_on(self, key: str, date: dt.date) -> dict:
        """The entry of a dated amount table (``amounts.<key>``) in force on ``date``."""
        entries = sorted(self.synth["amounts"][key], key=lambda e: to_date(e["from"]))
        current = None
        for e in entries:
            if to_date(e["from"]) <= date:
                current = e
        if current is None:
            current = entries[0]
        return current

    def rate(self, name: str) -> float:
        return float(self.rates.get(name, 0.0))


def load_config(profile: str = "default", schemas_dir: Path | None = None) -> Config:
    from .profiles import apply_profile

    d = Path(schemas_dir) if schemas_dir is not None else configured_schemas_dir()
    synth, rates, prof = apply_profile(_load(d / "synth.yaml"), profile)
    return Config(synth=synth, gazetteer=_load(d / "gazetteer.yaml"), programs=_load(d / "programs.yaml"),
                  profile=profile, rates=rates, profile_cfg=prof)


def rng_for(seed: int, *stage: str) -> np.random.Generator:
    """An independent generator per stage, so that stages do not shift each other."""
    keys = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(s.encode("utf-8")) for s in stage]
    return np.random.default_rng(np.random.SeedSequence(keys))
