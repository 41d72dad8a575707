"""Model settings as data: a YAML file under ``schemas/linkage/`` and, once
trained, the same document with the learned parameters, saved as JSON and
reloadable (as Splink's settings dictionary).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relieflink.config.paths import schemas_dir
from relieflink.linkage.blocking import BlockingPass
from relieflink.linkage.comparisons import Comparison


@dataclass
class Settings:
    """A linkage model: fields, comparisons, blocking, thresholds and (once trained) m, u, λ."""

    name: str
    link_type: str = "dedupe"  # dedupe | link
    prepare: str = "plain"  # feature preparer (relieflink.linkage.prepare.PREPARERS)
    unique_id: str | None = None
    string_columns: list[str] = field(default_factory=list)
    int_columns: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    blocking: list[BlockingPass] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    clustering: dict[str, Any] = field(default_factory=dict)
    households: dict[str, Any] = field(default_factory=dict)
    # learned parameters
    prior: float | None = None  # λ: probability that a candidate pair... (of two random nodes) matches
    m: dict[str, list[float]] | None = None
    u: dict[str, list[float]] | None = None
    u_random: dict[str, list[float]] | None = None  # u among random pairs (EM's starting point)
    trained_on: dict[str, Any] | None = None
    source: str | None = None

    # -- loading / saving ------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str | None = None) -> "Settings":
        d = dict(d)
        known = {"name", "link_type", "prepare", "unique_id", "string_columns", "int_columns", "flags",
                 "blocking", "comparisons", "training", "clustering", "households", "prior", "m", "u",
                 "u_random", "trained_on", "doc"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"{source or 'settings'}: unknown keys {sorted(unknown)}")
        d.pop("doc", None)
        if d.get("link_type", "dedupe") not in ("dedupe", "link"):
            raise ValueError(f"{source}: link_type must be dedupe or link")
        blocking = [BlockingPass.from_dict(b) for b in d.pop("blocking", [])]
        comps = [Comparison.from_dict(c) for c in d.pop("comparisons", [])]
        s = cls(blocking=blocking, comparisons=comps, source=source, **d)
        names = [c.name for c in s.comparisons]
        if len(set(names)) != len(names):
            raise ValueError(f"{source}: duplicate comparison names")
        return s

    @classmethod
    def load(cls, path: str | Path) -> "Settings":
        """Load a YAML settings file, or a trained model JSON; a bare name means schemas/linkage/NAME.yaml."""
        p = Path(path)
        if not p.suffix and not p.exists():
            p = schemas_dir() / "linkage" / f"{path}.yaml"
        text = p.read_text(encoding="utf-8")
        d = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        return cls.from_dict(d, source=str(p))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "link_type": self.link_type, "prepare": self.prepare,
            "unique_id": self.unique_id,
            "string_columns": self.string_columns, "int_columns": self.int_columns, "flags": self.flags,
            "blocking": [b.to_dict() for b in self.blocking],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "training": self.training, "clustering": self.clustering, "households": self.households,
            "prior": self.prior, "m": self.m, "u": self.u, "u_random": self.u_random, "trained_on": self.trained_on,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @property
    def is_trained(self) -> bool:
        return self.m is not None and self.u is not None and self.prior is not None

    def comparison(self, name: str) -> Comparison:
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(name)
