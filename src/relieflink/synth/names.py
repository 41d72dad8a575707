"""Chinese names: surnames by frequency, given names by era and sex, Uyghur
names with a middle dot, rare characters outside GBK."""

from __future__ import annotations

import numpy as np

from .config import Config

DOT = "\u00b7"  # the canonical middle dot of minority names


def _zipf(n: int, s: float = 0.6) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


class NamePools:
    def __init__(self, cfg: Config):
        nm = cfg.synth["names"]
        sur = nm["surnames"]
        self.surnames = np.array(list(sur.keys()))
        w = np.array([float(v) for v in sur.values()])
        self.surname_p = w / w.sum()
        self.eras = [(int(e["until"]), np.array(e["M"]), np.array(e["F"])) for e in nm["given"]]
        self.single = {s: np.array(nm["single_chars"][s]) for s in ("M", "F")}
        self.minority = {s: np.array(nm["minority"][s]) for s in ("M", "F")}
        self.rare = np.array(nm["rare_chars"])
        self.single_rate = float(cfg.synth["population"]["single_char_given_rate"])
        comp = nm.get("composed") or {}
        self.composed_rate = float(comp.get("rate", 0.0))
        self.composed_first = np.array(comp.get("first", []))
        self.composed_second = {s: np.array(comp.get("second", {}).get(s, [])) for s in ("M", "F")}

    def surname(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(self.surnames, size=n, p=self.surname_p)

    def given(self, rng: np.random.Generator, birth_year: np.ndarray, male: np.ndarray) -> np.ndarray:
        n = len(birth_year)
        out = np.empty(n, dtype=object)
        lo = -10**9
        for until, pm, pf in self.eras:
            era = (birth_year > lo) & (birth_year <= until)
            lo = until
            for pool, sexmask in ((pm, male), (pf, ~male)):
                m = era & sexmask
                k = int(m.sum())
                if k:
                    out[m] = rng.choice(pool, size=k, p=_zipf(len(pool)))
        # a share composed from common characters: many more distinct names
        if self.composed_rate > 0 and len(self.composed_first):
            comp = rng.random(n) < self.composed_rate
            for sex, sexmask in (("M", male), ("F", ~male)):
                m = comp & sexmask
                k = int(m.sum())
                if k and len(self.composed_second[sex]):
                    a = rng.choice(self.composed_first, size=k)
                    b = rng.choice(self.composed_second[sex], size=k)
                    out[m] = np.char.add(a.astype(str), b.astype(str)).astype(object)
        # a share of adults carry a common single-character name (张伟, 王芳)
        single = (rng.random(n) < self.single_rate) & (birth_year < 2000)
        for sex, sexmask in (("M", male), ("F", ~male)):
            m = single & sexmask
            k = int(m.sum())
            if k:
                out[m] = rng.choice(self.single[sex], size=k, p=_zipf(len(self.single[sex])))
        return out

    def minority_given(self, rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
        out = np.empty(len(male), dtype=object)
        for sex, m in (("M", male), ("F", ~male)):
            k = int(m.sum())
            if k:
                out[m] = rng.choice(self.minority[sex], size=k)
        return out

    def rare_char(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(self.rare, size=n)

    def random_names(self, rng: np.random.Generator, n: int, birth_year_range=(1960, 1990)) -> list[str]:
        """Plain names for staff (clerks, lawyers): not persons of the population."""
        by = rng.integers(birth_year_range[0], birth_year_range[1], size=n)
        male = rng.random(n) < 0.5
        return list(np.char.add(self.surname(rng, n).astype(str), self.given(rng, by, male).astype(str)))
