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

Each kind is a pydantic model declaring its own parameters; :data:`AnyLevel`
picks the model by ``kind`` (a discriminated union), so an unknown kind or a
parameter the kind does not have is refused when the settings are loaded.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, ClassVar, Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, Levenshtein, OSA

from relieflink.linkage.table import NULL, Table, unique_code_pairs


class Level(BaseModel):
    """One comparison level, validated from the settings document. Subclasses implement :meth:`mask`.

    Every kind declares its own parameters as fields, so a misspelled key
    (``treshold``) is refused with the file and the key instead of falling
    back to a default.
    """

    model_config = ConfigDict(extra="forbid")

    kind: str
    label: str = ""
    column: str | None = None
    tf: bool = False  # term-frequency adjustment on ``column``
    m_prior: float | None = Field(None, gt=0, lt=1)
    is_null: ClassVar[bool] = False
    needs_column: ClassVar[bool] = True

    @model_validator(mode="before")
    @classmethod
    def _label_defaults_to_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("label"):
            data = {**data, "label": data.get("kind")}
        return data

    @model_validator(mode="after")
    def _has_its_column(self) -> "Level":
        if self.needs_column and self.column is None:
            raise ValueError(f"level {self.label!r} needs a column (on the level or on its comparison)")
        return self

    def mask(self, tab: Table, li: np.ndarray, ri: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The level as the settings document writes it (kind and label first, defaults left out)."""
        params = self.model_dump(exclude_defaults=True, exclude={"kind", "label"})
        return {"kind": self.kind, "label": self.label, **params}

    # helpers -------------------------------------------------------------
    def _codes(self, tab: Table, li, ri, column=None):
        c = tab.col(column or self.column)
        return c[li], c[ri]

    def _string_kernel(self, tab: Table, li, ri, fn: Callable, codes: bool = False) -> np.ndarray:
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


class NullLevel(Level):
    kind: Literal["null"] = "null"
    columns: list[str] | None = Field(None, min_length=1)  # missing all of them (default: ``column``)
    is_null: ClassVar[bool] = True

    @model_validator(mode="after")
    def _has_its_column(self) -> "NullLevel":
        if self.column is None and not self.columns:
            raise ValueError(f"level {self.label!r} needs a column or columns")
        return self

    def mask(self, tab, li, ri):
        cols = self.columns or [self.column]
        miss_l = np.ones(len(li), dtype=bool)
        miss_r = np.ones(len(ri), dtype=bool)
        for c in cols:
            col = tab.col(c)
            miss_l &= col[li] == NULL
            miss_r &= col[ri] == NULL
        return miss_l | miss_r


class ExactLevel(Level):
    kind: Literal["exact"] = "exact"

    def mask(self, tab, li, ri):
        cl, cr = self._codes(tab, li, ri)
        return (cl == cr) & (cl != NULL)


class CrossLevel(Level):
    kind: Literal["cross"] = "cross"
    columns: tuple[str, str]
    needs_column: ClassVar[bool] = False

    def mask(self, tab, li, ri):
        a, b = self.columns
        al, ar = tab.col(a)[li], tab.col(a)[ri]
        bl, br = tab.col(b)[li], tab.col(b)[ri]
        return (al == br) & (bl == ar) & (al != NULL) & (bl != NULL)


class JaroWinklerLevel(Level):
    kind: Literal["jaro_winkler"] = "jaro_winkler"
    threshold: float = Field(ge=0, le=1)

    def mask(self, tab, li, ri):
        thr = self.threshold
        return self._string_kernel(
            tab, li, ri,
            lambda a, b: process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=-1) >= thr)


class LevenshteinLevel(Level):
    kind: Literal["levenshtein"] = "levenshtein"
    max_distance: int = Field(ge=1)

    def mask(self, tab, li, ri):
        k = self.max_distance
        return self._string_kernel(
            tab, li, ri, lambda a, b: process.cpdist(a, b, scorer=Levenshtein.distance, workers=-1) <= k)


class DamerauLevel(Level):
    kind: Literal["damerau"] = "damerau"
    max_distance: int = Field(ge=1)

    def mask(self, tab, li, ri):
        k = self.max_distance
        return self._string_kernel(
            tab, li, ri, lambda a, b: process.cpdist(a, b, scorer=OSA.distance, workers=-1) <= k)


def _chars(tab: Table, ca: np.ndarray, cb: np.ndarray, width: int):
    mat, lens = tab.char_codes()
    w = min(width, mat.shape[1])
    return mat[ca, :w], lens[ca], mat[cb, :w], lens[cb]


class SubstitutionLevel(Level):
    kind: Literal["substitution"] = "substitution"
    width: int = Field(18, ge=1)  # characters compared

    def mask(self, tab, li, ri):
        w = self.width

        def fn(a, b):
            ma, la, mb, lb = _chars(tab, a, b, w)
            return (la == lb) & (la <= w) & ((ma != mb).sum(axis=1) == 1)
        return self._string_kernel(tab, li, ri, fn, codes=True)


class TranspositionLevel(Level):
    kind: Literal["transposition"] = "transposition"
    width: int = Field(18, ge=2)

    def mask(self, tab, li, ri):
        w = self.width

        def fn(a, b):
            ma, la, mb, lb = _chars(tab, a, b, w)
            diff = ma != mb
            two = (la == lb) & (la <= w) & (diff.sum(axis=1) == 2)
            adj = diff[:, :-1] & diff[:, 1:]
            swapped = adj & (ma[:, :-1] == mb[:, 1:]) & (ma[:, 1:] == mb[:, :-1])
            return two & swapped.any(axis=1)
        return self._string_kernel(tab, li, ri, fn, codes=True)


class PrefixLevel(Level):
    kind: Literal["prefix"] = "prefix"
    min_length: int = Field(14, ge=1)
    width: int = Field(18, ge=1)

    def mask(self, tab, li, ri):
        k, w = self.min_length, self.width

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


class SyllablesLevel(Level):
    kind: Literal["syllables"] = "syllables"
    surname: str | None = None  # a column that must agree too
    max_diff: int = Field(1, ge=0)

    def mask(self, tab, li, ri):
        surname, max_diff = self.surname, self.max_diff
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


class WildcardLevel(Level):
    kind: Literal["wildcard"] = "wildcard"
    wildcard: str = Field("?", min_length=1, max_length=1)
    width: int = Field(12, ge=1)

    def mask(self, tab, li, ri):
        wc, w = ord(self.wildcard), self.width

        def fn(a, b):
            ma, la, mb, lb = _chars(tab, a, b, w)
            has = (ma == wc).any(axis=1) | (mb == wc).any(axis=1)
            agree = ((ma == mb) | (ma == wc) | (mb == wc)).all(axis=1)
            return has & agree & (la == lb)
        return self._string_kernel(tab, li, ri, fn, codes=True)


def _date_ints(tab: Table, column: str, idx: np.ndarray) -> np.ndarray:
    """YYYYMMDD (or any digit string) of ``column`` as int64 per node, NULL when missing."""
    return tab.int_values(column)[idx]


class DateYMLevel(Level):
    kind: Literal["date_ym"] = "date_ym"

    def mask(self, tab, li, ri):
        a, b = _date_ints(tab, self.column, li), _date_ints(tab, self.column, ri)
        return (a >= 0) & (b >= 0) & (a // 100 == b // 100)


class SubstringLevel(Level):
    kind: Literal["substring"] = "substring"
    start: int = Field(0, ge=0)
    stop: int = Field(ge=1)

    def mask(self, tab, li, ri):
        a, b = self.start, self.stop
        w = max(b, 1)

        def fn(x, y):
            mx, lx, my, ly = _chars(tab, x, y, w)
            return (lx >= b) & (ly >= b) & (mx[:, a:b] == my[:, a:b]).all(axis=1)
        cl, cr = self._codes(tab, li, ri)
        eq = (cl == cr) & (cl != NULL) & (tab.char_codes()[1][np.maximum(cl, 0)] >= b)
        return eq | self._string_kernel(tab, li, ri, fn, codes=True)


class DateSwapLevel(Level):
    kind: Literal["date_swap"] = "date_swap"

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


class YearWithinLevel(Level):
    kind: Literal["year_within"] = "year_within"
    year_column: str  # an integer column of birth years (e.g. from an age)
    tolerance: int = Field(1, ge=0)

    def mask(self, tab, li, ri):
        tol, ycol = self.tolerance, self.year_column
        bl, br = _years(tab, self.column, li), _years(tab, self.column, ri)
        al, ar = tab.ints[ycol][li], tab.ints[ycol][ri]

        def close(x, y):
            return (x != NULL) & (y != NULL) & (np.abs(x - y) <= tol)
        return close(al, br) | close(bl, ar) | close(al, ar)


class ElseLevel(Level):
    kind: Literal["else"] = "else"
    needs_column: ClassVar[bool] = False

    def mask(self, tab, li, ri):
        return np.ones(len(li), dtype=bool)


#: A level of any kind, chosen by its ``kind`` key (a pydantic discriminated union).
AnyLevel = Annotated[
    Union[NullLevel, ExactLevel, CrossLevel, JaroWinklerLevel, LevenshteinLevel, DamerauLevel, SubstitutionLevel,
          TranspositionLevel, PrefixLevel, SyllablesLevel, WildcardLevel, DateYMLevel, SubstringLevel,
          DateSwapLevel, YearWithinLevel, ElseLevel],
    Field(discriminator="kind"),
]
#: The level kinds, as written in the settings (``kind: jaro_winkler``).
LEVEL_KINDS = frozenset(
    cls.model_fields["kind"].default for cls in Level.__subclasses__()  # type: ignore[misc]
)


class Comparison(BaseModel):
    """A named field comparison: ordered levels, the first that holds wins."""

    model_config = ConfigDict(extra="forbid")

    name: str
    column: str | None = None
    levels: list[AnyLevel] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _level_defaults(cls, data: Any) -> Any:
        """YAML reads ``kind: null`` as None; a level without a column compares the comparison's;
        a comparison always ends with ``else``."""
        if not isinstance(data, dict) or not isinstance(data.get("levels"), list):
            return data
        col = data.get("column")
        levels = []
        for ld in data["levels"]:
            if isinstance(ld, dict):
                ld = dict(ld)
                if ld.get("kind", "null") in (None, "missing"):
                    ld["kind"] = "null"
                if col is not None and "column" not in ld and ld.get("kind") not in ("else", "cross"):
                    ld["column"] = col
            levels.append(ld)
        if levels and not (isinstance(levels[-1], (dict, Level)) and _kind(levels[-1]) == "else"):
            levels.append({"kind": "else", "label": "disagree"})
        return {**data, "levels": levels}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "levels": [lv.to_dict() for lv in self.levels]}
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


def _kind(level: dict | Level) -> object:
    return level.kind if isinstance(level, Level) else level.get("kind")
