"""Comparison levels as small vectorized classes, and comparisons built of them.

A :class:`Comparison` is an ordered list of levels; a pair gets the first
level whose condition holds (as in Splink). Each level knows its ``label`` (for
explanations and ``pairs.parquet``) and evaluates a boolean mask over aligned
arrays of left and right node indices. String kernels run on the distinct
(left value, right value) code pairs only; exact levels compare integer codes.

Level kinds (YAML ``kind``):

``null``           (or ``missing``) either side is missing all of ``columns`` (weight 0)
``exact``          codes equal (``column``); ``tf: true`` adds term-frequency adjustment
``cross``          columns swapped: left.a == right.b and left.b == right.a
``jaro_winkler``   rapidfuzz Jaro–Winkler similarity ≥ ``threshold``
``levenshtein``    rapidfuzz Levenshtein distance ≤ ``max_distance``
``damerau``        Damerau–Levenshtein (OSA) distance ≤ ``max_distance``
``substitution``   same length, exactly one differing character (ID typo)
``transposition``  same length, two adjacent characters swapped
``prefix``         the shorter value (≥ ``min_length``) is a prefix of the longer (Excel-damaged ID)
``syllables``      same ``surname`` and ``column`` (space-separated syllables) of equal count differing in ≤ ``max_diff``
``wildcard``       same length, equal everywhere except where either side has ``wildcard`` (and one has it)
``date_ym``        first 6 characters (YYYYMM) equal
``date_swap``      same year, month and day swapped
``year_within``    birth year (first 4 chars of ``column`` or ``year_column``) within ``tolerance``, one side from ``year_column``
``substring``      ``column`` characters ``start:stop`` equal
``else``           everything left
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein, OSA

import pandas as pd

from relieflink.linkage.table import NULL, Table, unique_code_pairs

_LEVEL_KINDS: dict[str, type["Level"]] = {}


def _register(cls):
    _LEVEL_KINDS[cls.kind] = cls
    return cls


@dataclass
class Level:
    """One comparison level. Subclasses implement :meth:`mask`."""

    kind: ClassVar[str] = ""
    label: str = ""
    column: str | None = None
    tf: bool = False  # term-frequency adjustment on ``column``
    m_prior: float | None = None
    is_null: ClassVar[bool] = False
    params: dict[str, Any] = field(default_factory=dict)

    def mask(self, tab: Table, li: np.ndarray, ri: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "label": self.label}
        if self.column is not None:
            d["column"] = self.column
        if self.tf:
            d["tf"] = True
        if self.m_prior is not None:
            d["m_prior"] = self.m_prior
        d.update(self.params)
        return d

    # helpers -------------------------------------------------------------
    def _codes(self, tab: Table, li, ri, column=None):
        c = tab.col(column or self.column)
        return c[li], c[ri]

    def _string_kernel(self, tab: Table, li, ri, fn, codes: bool = False) -> np.ndarray:
        """Apply ``fn(left, right) -> bool`` on the distinct code pairs: on their strings, or with
        ``codes=True`` on the vocabulary codes (kernels that use the table's cached arrays)."""
        cl, cr = self._codes(tab, li, ri)
        ok = (cl != NULL) & (cr != NULL) & (cl != cr)  # equal codes: the exact level decides
        out = np.zeros(len(li), dtype=bool)
        same = (cl == cr) & (cl != NULL)
        if same.any():
            uc, inv = np.unique(cl[same], return_inverse=True)
            res = fn(uc, uc) if codes else fn(tab.vocab[uc], tab.vocab[uc])
            out[same] = np.asarray(res, dtype=bool)[inv.ravel()]
        if not ok.any():
            return out
        ucl, ucr, inv = unique_code_pairs(cl[ok], cr[ok])
        res = fn(ucl, ucr) if codes else fn(tab.vocab[ucl], tab.vocab[ucr])
        out[ok] = np.asarray(res, dtype=bool)[inv]
        return out


@_register
@dataclass
class NullLevel(Level):
    kind: ClassVar[str] = "null"
    is_null: ClassVar[bool] = True

    def mask(self, tab, li, ri):
        cols = self.params.get("columns") or [self.column]
        miss_l = np.ones(len(li), dtype=bool)
        miss_r = np.ones(len(ri), dtype=bool)
        for c in cols:
            col = tab.col(c)
            miss_l &= col[li] == NULL
            miss_r &= col[ri] == NULL
        return miss_l | miss_r


@_register
@dataclass
class ExactLevel(Level):
    kind: ClassVar[str] = "exact"

    def mask(self, tab, li, ri):
        cl, cr = self._codes(tab, li, ri)
        return (cl == cr) & (cl != NULL)


@_register
@dataclass
class CrossLevel(Level):
    kind: ClassVar[str] = "cross"

    def mask(self, tab, li, ri):
        a, b = self.params["columns"]
        al, ar = tab.col(a)[li], tab.col(a)[ri]
        bl, br = tab.col(b)[li], tab.col(b)[ri]
        return (al == br) & (bl == ar) & (al != NULL) & (bl != NULL)


@_register
@dataclass
class JaroWinklerLevel(Level):
    kind: ClassVar[str] = "jaro_winkler"

    def mask(self, tab, li, ri):
        thr = float(self.params["threshold"])
        return self._string_kernel(
            tab, li, ri,
            lambda a, b: process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=-1) >= thr)


@_register
@dataclass
class LevenshteinLevel(Level):
    kind: ClassVar[str] = "levenshtein"

    def mask(self, tab, li, ri):
        k = int(self.params["max_distance"])
        return self._string_kernel(
            tab, li, ri, lambda a, b: process.cpdist(a, b, scorer=Levenshtein.distance, workers=-1) <= k)


@_register
@dataclass
class DamerauLevel(Level):
    kind: ClassVar[str] = "damerau"

    def mask(self, tab, li, ri):
        k = int(self.params["max_distance"])
        return self._string_kernel(
            tab, li, ri, lambda a, b: process.cpdist(a, b, scorer=OSA.distance, workers=-1) <= k)


def _chars(tab: Table, ca: np.ndarray, cb: np.ndarray, width: int):
    mat, lens = tab.char_codes()
    w = min(width, mat.shape[1])
    return mat[ca, :w], lens[ca], mat[cb, :w], lens[cb]


@_register
@dataclass
class SubstitutionLevel(Level):
    kind: ClassVar[str] = "substitution"

    def mask(self, tab, li, ri):
        w = int(self.params.get("width", 18))

        def fn(a, b):
            ma, la, mb, lb = _chars(tab, a, b, w)
            return (la == lb) & (la <= w) & ((ma != mb).sum(axis=1) == 1)
        return self._string_kernel(tab, li, ri, fn, codes=True)


@_register
@dataclass
class TranspositionLevel(Level):
    kind: ClassVar[str] = "transposition"

    def mask(self, tab, li, ri):
        w = int(self.params.get("width", 18))

        def fn(a, b):
            ma, la, mb, lb = _chars(tab, a, b, w)
            diff = ma != mb
            two = (la == lb) & (la <= w) & (diff.sum(axis=1) == 2)
            adj = diff[:, :-1] & diff[:, 1:]
            swapped = adj & (ma[:, :-1] == mb[:, 1:]) & (ma[:, 1:] == mb[:, :-1])
            return two & swapped.any(axis=1)
        return self._string_kernel(tab, li, ri, fn, codes=True)


@_register
@dataclass
class PrefixLevel(Level):
    kind: ClassVar[str] = "prefix"

    def mask(self, tab, li, ri):
        k = int(self.params.get("min_length", 14))
        w = int(self.params.get("width", 18))

        def fn(a, b):
            ma, la, mb, lb = _chars(tab, a, b, w)
            short = np.minimum(np.minimum(la, lb), ma.shape[1])
            pos = np.arange(ma.shape[1])[None, :]
            agree = ((ma == mb) | (pos >= short[:, None])).all(axis=1)
            return agree & (short >= k) & (la != lb) & (np.maximum(la, lb) <= w)
        return self._string_kernel(tab, li, ri, fn, codes=True)


def _syllable_ids(tab: Table, column: str, width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Per vocabulary code of ``column``: (V, width) int32 syllable ids (-1 padding; a name with more
    syllables than ``width`` gets a unique id in the last slot) and the syllable count. Cached."""
    key = ("syllables", column, width)
    if key not in tab.cache:
        V = len(tab.vocab)
        uc = np.unique(tab.col(column))
        uc = uc[uc != NULL]
        mat = np.full((V, width), -1, np.int32)
        cnt = np.zeros(V, np.int64)
        if len(uc):
            parts = pd.Series(tab.vocab[uc], dtype=object).str.split(" ")
            lens = parts.str.len().to_numpy(dtype=np.int64)
            flat = np.concatenate(parts.to_numpy()) if lens.sum() else np.array([], dtype=object)
            sid, _ = pd.factorize(flat)
            rows = np.repeat(uc, lens)
            cols = np.arange(len(flat)) - np.repeat(np.cumsum(lens) - lens, lens)
            keep = cols < width
            mat[rows[keep], cols[keep]] = sid[keep]
            over = uc[lens > width]
            mat[over, width - 1] = int(sid.max(initial=0)) + 1 + np.arange(len(over))
            cnt[uc] = lens
        tab.cache[key] = (mat, cnt)
    return tab.cache[key]


@_register
@dataclass
class SyllablesLevel(Level):
    kind: ClassVar[str] = "syllables"

    def mask(self, tab, li, ri):
        surname = self.params.get("surname")
        max_diff = int(self.params.get("max_diff", 1))
        out = np.ones(len(li), dtype=bool)
        if surname:
            sl, sr = tab.col(surname)[li], tab.col(surname)[ri]
            out &= (sl == sr) & (sl != NULL)
        mat, cnt = _syllable_ids(tab, self.column)

        def fn(a, b):
            nd = (mat[a] != mat[b]).sum(axis=1)
            return (cnt[a] == cnt[b]) & (cnt[a] > 0) & (nd <= max_diff)
        idx = np.flatnonzero(out)
        res = np.zeros(len(li), dtype=bool)
        if len(idx):
            res[idx] = self._string_kernel(tab, li[idx], ri[idx], fn, codes=True)
        return res


@_register
@dataclass
class WildcardLevel(Level):
    kind: ClassVar[str] = "wildcard"

    def mask(self, tab, li, ri):
        wc = ord(self.params.get("wildcard", "?"))
        w = int(self.params.get("width", 12))

        def fn(a, b):
            ma, la, mb, lb = _chars(tab, a, b, w)
            has = (ma == wc).any(axis=1) | (mb == wc).any(axis=1)
            agree = ((ma == mb) | (ma == wc) | (mb == wc)).all(axis=1)
            return has & agree & (la == lb)
        return self._string_kernel(tab, li, ri, fn, codes=True)


def _date_ints(tab: Table, column: str, idx: np.ndarray) -> np.ndarray:
    """YYYYMMDD (or any digit string) of ``column`` as int64 per node, NULL when missing."""
    return tab.int_values(column)[idx]


@_register
@dataclass
class DateYMLevel(Level):
    kind: ClassVar[str] = "date_ym"

    def mask(self, tab, li, ri):
        a, b = _date_ints(tab, self.column, li), _date_ints(tab, self.column, ri)
        return (a >= 0) & (b >= 0) & (a // 100 == b // 100)


@_register
@dataclass
class SubstringLevel(Level):
    kind: ClassVar[str] = "substring"

    def mask(self, tab, li, ri):
        a, b = int(self.params.get("start", 0)), int(self.params["stop"])
        w = max(b, 1)

        def fn(x, y):
            mx, lx, my, ly = _chars(tab, x, y, w)
            return (lx >= b) & (ly >= b) & (mx[:, a:b] == my[:, a:b]).all(axis=1)
        cl, cr = self._codes(tab, li, ri)
        eq = (cl == cr) & (cl != NULL) & (tab.char_codes()[1][np.maximum(cl, 0)] >= b)
        return eq | self._string_kernel(tab, li, ri, fn, codes=True)


@_register
@dataclass
class DateSwapLevel(Level):
    kind: ClassVar[str] = "date_swap"

    def mask(self, tab, li, ri):
        a, b = _date_ints(tab, self.column, li), _date_ints(tab, self.column, ri)
        ok = (a >= 0) & (b >= 0)
        y = a // 10000 == b // 10000
        ma, da = (a // 100) % 100, a % 100
        mb, db = (b // 100) % 100, b % 100
        return ok & y & (ma == db) & (da == mb)


def _years(tab: Table, column: str, idx: np.ndarray) -> np.ndarray:
    v = _date_ints(tab, column, idx)
    return np.where(v >= 0, v // 10000, NULL)


@_register
@dataclass
class YearWithinLevel(Level):
    kind: ClassVar[str] = "year_within"

    def mask(self, tab, li, ri):
        tol = int(self.params.get("tolerance", 1))
        ycol = self.params["year_column"]
        bl, br = _years(tab, self.column, li), _years(tab, self.column, ri)
        al, ar = tab.ints[ycol][li], tab.ints[ycol][ri]

        def close(x, y):
            return (x != NULL) & (y != NULL) & (np.abs(x - y) <= tol)
        return close(al, br) | close(bl, ar) | close(al, ar)


@_register
@dataclass
class ElseLevel(Level):
    kind: ClassVar[str] = "else"

    def mask(self, tab, li, ri):
        return np.ones(len(li), dtype=bool)


def make_level(d: dict[str, Any]) -> Level:
    d = dict(d)
    kind = d.pop("kind")
    if kind is None or kind == "missing":  # YAML reads a bare `null` as None
        kind = "null"
    cls = _LEVEL_KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown comparison level kind {kind!r} (known: {sorted(_LEVEL_KINDS)})")
    label = d.pop("label", kind)
    column = d.pop("column", None)
    tf = bool(d.pop("tf", False))
    m_prior = d.pop("m_prior", None)
    return cls(label=label, column=column, tf=tf, m_prior=m_prior, params=d)


@dataclass
class Comparison:
    """A named field comparison: ordered levels, the first that holds wins."""

    name: str
    levels: list[Level]
    column: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Comparison":
        col = d.get("column")
        levels = []
        for ld in d["levels"]:
            ld = dict(ld)
            if col is not None and "column" not in ld and ld["kind"] not in ("else",):
                ld["column"] = col
            levels.append(make_level(ld))
        if not levels or levels[-1].kind != "else":
            levels.append(make_level({"kind": "else", "label": "disagree"}))
        return cls(name=d["name"], levels=levels, column=col)

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "levels": [lv.to_dict() for lv in self.levels]}
        if self.column is not None:
            d["column"] = self.column
        return d

    @property
    def labels(self) -> list[str]:
        return [lv.label for lv in self.levels]

    def gamma(self, tab: Table, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
        """Level index of each pair (int8)."""
        g = np.full(len(li), -1, dtype=np.int8)
        todo = np.arange(len(li))
        for k, lv in enumerate(self.levels):
            if len(todo) == 0:
                break
            m = lv.mask(tab, li[todo], ri[todo])
            g[todo[m]] = k
            todo = todo[~m]
        return g
