"""Places: subdistricts (街道) and communities (社区) against the district gazetteer, addresses.

The gazetteer is ``schemas/gazetteer.yaml`` (``$RELIEFLINK_SCHEMAS`` overrides
the folder). Recognition is exact after cleaning — NFKC, whitespace removed,
leading province / city / district dropped — so a subdistrict is found as
``湖墅``, ``湖墅街道``, ``湖墅街道办``, ``湖墅街道办事处``, ``拱墅区湖墅街道``, its
source code ``jd-hushu`` or its administrative code ``330105002``.

A community is written canonically ``<name>社区``: the suffixes 社区 / 社区居委会 /
居委会 / 社区居民委员会 are stripped and 社区 put back, and a leading
``<subdistrict>街道`` is dropped. A name outside the gazetteer keeps its cleaned
text (with the suffix) so that it still compares; :meth:`Gazetteer.community_subdistrict`
tells the subdistrict of a known one.

Addresses (:func:`normalize_addresses`): NFKC (full-width digits and letters
to ASCII), whitespace removed, dash variants unified to ``-``, and the leading
``浙江省`` / ``杭州市`` / ``拱墅区`` (each optional, also without its 省/市 suffix)
dropped, so ``杭州市拱墅区登云路381号`` and ``拱墅区登云路381号`` compare equal.
Idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from relieflink.config.paths import schemas_dir
from relieflink.identity import _cells as C

__all__ = ["Gazetteer", "Subdistrict", "normalize_addresses"]

_COMMUNITY_SUFFIX_RE = r"(?:社区居民委员会|社区居委会|社区居委|居民委员会|居委会|社区)$"
_DASHES_RE = r"[\x{2010}-\x{2015}\x{2212}\x{FE58}\x{FE63}\x{FF0D}]"
_SUBDISTRICT_SUFFIXES = ("", "街道", "街道办", "街道办事处", "办事处")


@dataclass(frozen=True)
class Subdistrict:
    code: str  # jd-hushu
    admin: str  # 330105002
    name: str  # 湖墅街道
    aliases: tuple[str, ...] = ()
    communities: tuple[str, ...] = ()  # without the 社区 suffix

    @property
    def base(self) -> str:
        """The name without 街道: 湖墅."""
        return self.name[: -len("街道")] if self.name.endswith("街道") else self.name


def _alt(words: list[str]) -> str:
    words = sorted({w for w in words if w}, key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


@dataclass
class Gazetteer:
    """The district's subdistricts and communities (see the module doc)."""

    district: str
    city: str
    province: str
    region_code: str
    area_code: str
    subdistricts: tuple[Subdistrict, ...]
    id_region_codes: dict[str, float] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        self._by_code = {s.code: s for s in self.subdistricts}
        self._by_code.update({s.admin: s for s in self.subdistricts})
        lookup: dict[str, str] = {}
        for s in self.subdistricts:
            keys = [s.code, s.admin, s.name, *s.aliases]
            for base in {s.base, *(a for a in s.aliases if not a.endswith(("街道", "办事处")))}:
                keys.extend(base + suf for suf in _SUBDISTRICT_SUFFIXES)
            for k in keys:
                lookup[_clean_key(k)] = s.code
        self._sub_lookup = lookup
        owner: dict[str, str | None] = {}
        for s in self.subdistricts:
            for c in s.communities:
                key = c + "社区"
                owner[key] = s.code if key not in owner or owner[key] == s.code else None  # None: ambiguous
        self._community_owner = owner
        self._address_prefix_re = _prefix_re(self.province, self.city, self.district)
        sub_full = [s.name for s in self.subdistricts] + [
            a for s in self.subdistricts for a in s.aliases if a.endswith(("街道", "办事处"))
        ]
        self._community_prefix_re = f"^(?:{_alt(sub_full)})" if sub_full else None

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: Path | str | None = None) -> "Gazetteer":
        """Read ``gazetteer.yaml`` (default: the configuration folder, :func:`relieflink.config.paths.schemas_dir`)."""
        p = Path(path) if path is not None else schemas_dir() / "gazetteer.yaml"
        with open(p, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        return cls.from_dict(data, path=p)

    @classmethod
    def from_dict(cls, data: dict, path: Path | None = None) -> "Gazetteer":
        d = data.get("district", {}) or {}
        subs = tuple(
            Subdistrict(
                code=str(s["code"]),
                admin=str(s.get("admin", "")),
                name=str(s["name"]),
                aliases=tuple(str(a) for a in s.get("aliases", []) or []),
                communities=tuple(str(c) for c in s.get("communities", []) or []),
            )
            for s in data.get("subdistricts", []) or []
        )
        return cls(
            district=str(d.get("name", "")),
            city=str(d.get("city", "")),
            province=str(d.get("province", "浙江省")),
            region_code=str(d.get("region_code", "")),
            area_code=str(d.get("area_code", "")),
            subdistricts=subs,
            id_region_codes={str(k): float(v) for k, v in (d.get("id_region_codes") or {}).items()},
            path=path,
        )

    # ------------------------------------------------------------- recognition
    def _cleaned_unique(self, raw: pd.Series) -> tuple[np.ndarray, pa.Array]:
        """Codes (row → unique) and the unique values: NFKC, no whitespace, no province/city/district."""
        codes, uniq = _compact_unique(raw)
        uniq = pc.replace_substring_regex(uniq, pattern=self._address_prefix_re, replacement="")
        return codes, uniq

    def subdistrict_codes(self, raw: pd.Series) -> pd.Series:
        """The subdistrict's source code (``jd-hushu``) of each cell, or <NA>."""
        raw = _series(raw)
        codes, uniq = self._cleaned_unique(raw)
        uniq = pc.ascii_lower(uniq)
        keys = pa.array(list(self._sub_lookup.keys()), type=pa.string())
        vals = pa.array(list(self._sub_lookup.values()), type=pa.string())
        pos = pc.index_in(uniq, value_set=keys)
        mapped = pc.take(vals, pos)
        return C.to_series(C.take_with_null(mapped, codes), raw.index)

    def communities(self, raw: pd.Series) -> pd.Series:
        """Canonical ``<name>社区`` of each cell (cleaned text + 社区 if not in the gazetteer), <NA> if empty."""
        raw = _series(raw)
        codes, uniq = self._cleaned_unique(raw)
        if self._community_prefix_re:
            stripped = pc.replace_substring_regex(uniq, pattern=self._community_prefix_re, replacement="")
            # keep a name that *is* a subdistrict name (nothing left after stripping)
            uniq = pc.if_else(pc.greater(pc.utf8_length(stripped), 0), stripped, uniq)
        base = pc.replace_substring_regex(uniq, pattern=_COMMUNITY_SUFFIX_RE, replacement="")
        canon = pc.binary_join_element_wise(base, pa.scalar("社区"), "")
        canon = pc.if_else(pc.greater(pc.utf8_length(base), 0), canon, pa.scalar(None, type=pa.string()))
        return C.to_series(C.take_with_null(canon, codes), raw.index)

    def community_subdistrict(self, names: pd.Series) -> pd.Series:
        """The subdistrict code of canonical community names (<NA> if unknown or ambiguous)."""
        names = _series(names)
        owner = {k: v for k, v in self._community_owner.items() if v is not None}
        keys = pa.array(list(owner.keys()), type=pa.string())
        vals = pa.array(list(owner.values()), type=pa.string())
        split = C.split_cells(names)
        pos = pc.index_in(split.text, value_set=keys)
        return C.to_series(pc.take(vals, pos), names.index)

    def is_known_community(self, names: pd.Series) -> pd.Series:
        """True where a canonical community name is in the gazetteer."""
        names = _series(names)
        split = C.split_cells(names)
        keys = pa.array(list(self._community_owner.keys()), type=pa.string())
        res = pc.fill_null(pc.is_in(split.text, value_set=keys), False)
        return pd.Series(res.to_numpy(zero_copy_only=False), index=names.index)

    def subdistrict_name(self, code):  # type: ignore[no-untyped-def]
        """Official name (湖墅街道) of a subdistrict code (jd-… or the 9-digit admin code).

        A str gives a str (or None); a Series gives a Series."""
        if isinstance(code, pd.Series):
            names = {k: s.name for k, s in self._by_code.items()}
            return code.map(names).astype(C.STRING)
        s = self._by_code.get(str(code)) if code is not None else None
        return s.name if s else None

    def subdistrict(self, code: str) -> Subdistrict | None:
        return self._by_code.get(code)

    def subdistrict_admin(self, code: str) -> str | None:
        s = self._by_code.get(code)
        return s.admin if s else None

    def normalize_addresses(self, raw: pd.Series) -> pd.Series:
        return _normalize_addresses(raw, self._address_prefix_re)


def _prefix_re(province: str, city: str, district: str) -> str:
    """Leading province / city / district, in any order and repeated (so stripping is idempotent).

    A bare 杭州 (without 市) is dropped only when the district follows it:
    杭州大河造船厂 keeps its 杭州."""
    words = [province, city, district]
    if city.endswith("市") and district:
        words.append(city[:-1] + district)
    if province.endswith("省") and city:
        words.append(province[:-1] + city)
    return f"^(?:{_alt(words)})*"


def _cell_str(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _clean_key(k: str) -> str:
    import unicodedata

    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", k)).lower()


def _series(raw) -> pd.Series:  # type: ignore[no-untyped-def]
    return raw if isinstance(raw, pd.Series) else pd.Series(raw, dtype=object)


def _compact_unique(raw: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Row codes and distinct place texts: NFKC, no whitespace or invisible characters."""
    codes, uniq = C.unique_texts(raw, _cell_str)
    uniq = pc.utf8_normalize(uniq, "NFKC")
    uniq = pc.replace_substring_regex(uniq, pattern=C.SPACE_RE + "+|" + C.INVISIBLE_RE, replacement="")
    return codes, pc.utf8_normalize(uniq, "NFKC")


def _normalize_addresses(raw: pd.Series, prefix_re: str) -> pd.Series:
    raw = _series(raw)
    codes, uniq = _compact_unique(raw)
    uniq = pc.replace_substring_regex(uniq, pattern=_DASHES_RE, replacement="-")
    uniq = pc.replace_substring_regex(uniq, pattern=prefix_re, replacement="")
    uniq = pc.if_else(pc.greater(pc.utf8_length(uniq), 0), uniq, pa.scalar(None, type=pa.string()))
    return C.to_series(C.take_with_null(uniq, codes), raw.index)


_DEFAULT: Gazetteer | None = None


def _default_gazetteer() -> Gazetteer | None:
    global _DEFAULT
    if _DEFAULT is None:
        try:
            _DEFAULT = Gazetteer.load()
        except OSError:
            return None
    return _DEFAULT


def normalize_addresses(raw: pd.Series, gazetteer: Gazetteer | None = None) -> pd.Series:
    """Normalize free-text addresses (see the module doc); <NA> when empty."""
    g = gazetteer or _default_gazetteer()
    prefix_re = g._address_prefix_re if g is not None else _prefix_re("浙江省", "杭州市", "拱墅区")
    return _normalize_addresses(raw, prefix_re)
