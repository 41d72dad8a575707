"""Feature preparers and pre-collapse of identical records into nodes.

A preparer turns the input frame (mentions, or any record table) into the
columns the settings name. Records whose linkage columns are all identical
(a person paid twelve months appears twelve times) become one *node*; the
engine links nodes and expands the result back to records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from relieflink.linkage.settings import Settings

STRING = pd.StringDtype("pyarrow")

#: id_status values whose ID evidence is not trusted for comparison at all
SUSPECT_ID_STATUSES = ("head_id_on_member", "conflicting_ids", "malformed", "missing")


def _str(s: pd.Series) -> pd.Series:
    s = s.astype(object)
    s = s.where(s.notna(), None)
    out = s.map(lambda v: v if v is None else str(v)) if s.dtype != object else s
    out = out.where(out.astype(bool), None) if len(out) else out
    return out


def prepare_plain(df: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Columns as they are, as strings (FEBRL-like record tables)."""
    out = pd.DataFrame(index=df.index)
    for c in settings.string_columns:
        s = df[c].astype(object)
        s = s.where(s.notna(), None)
        s = s.map(lambda v: None if v is None else (str(v).strip() or None))
        out[c] = s
    for c in settings.int_columns:
        out[c] = pd.to_numeric(df[c], errors="coerce")
    return out


def _given_pinyin(name_pinyin: pd.Series, surname: pd.Series, name: pd.Series) -> pd.Series:
    """Pinyin of the given name: the name's syllables after the surname's (one per Han character)."""
    key = pd.DataFrame({"p": name_pinyin, "s": surname, "n": name})
    uniq = key.drop_duplicates()

    def one(p, s, n):  # runs once per distinct name
        if p is None or p is pd.NA:
            return None
        syl = str(p).split()
        k = len(s) if isinstance(s, str) and s else 0
        if not k and isinstance(n, str) and len(syl) == len(n) and len(n) >= 2:
            k = 1 if len(n) <= 3 else 0
        rest = syl[k:] if k else syl
        return " ".join(rest) if rest else None

    uniq = uniq.assign(g=[one(p, s, n) for p, s, n in zip(uniq["p"], uniq["s"], uniq["n"])])
    return key.merge(uniq, on=["p", "s", "n"], how="left")["g"].set_axis(name_pinyin.index)


def _na_none(s: pd.Series) -> pd.Series:
    s = s.astype(object)
    return s.where(s.notna(), None)


def prepare_relief(m: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Linkage features of person mentions (canonical ``mentions`` table)."""
    out = pd.DataFrame(index=m.index)
    name = _na_none(m["name"])
    surname = _na_none(m["surname"])
    if "name_pinyin" in m:
        pinyin = _na_none(m["name_pinyin"])
    else:  # pragma: no cover - ingest always writes it
        from pypinyin import lazy_pinyin
        pinyin = name.map(lambda n: None if n is None else " ".join(lazy_pinyin(n)))
    out["name"] = name
    out["name_pinyin"] = pinyin
    out["surname"] = surname
    out["given_pinyin"] = _given_pinyin(pinyin, surname, name)

    status = m["id_status"].astype(object).fillna("missing")
    idn = _na_none(m["id_number"])
    clean = _na_none(m["id_clean"]).astype(object)
    clen = clean.map(lambda v: 0 if v is None else len(v)).to_numpy()
    damaged = (status == "excel_damaged").to_numpy() & (clen >= 14)
    usable = (clen == 18) | damaged
    usable &= ~status.isin(SUSPECT_ID_STATUSES).to_numpy() | idn.notna().to_numpy()
    out["id_valid"] = idn
    out["id_cmp"] = clean.where(usable, None)
    out["id_fuzzy"] = usable & (clen == 18) & idn.isna().to_numpy()
    out["id_damaged"] = damaged & usable

    bd = m["birth_date"]
    bstr = pd.to_datetime(bd, errors="coerce").dt.strftime("%Y%m%d")
    bstr = _na_none(bstr)
    # an invalid ID still carries its birth digits (positions 7-14)
    digits = clean.where(pd.Series(clen >= 14, index=m.index), None)
    from_id = digits.map(lambda v: None if v is None else v[6:14])
    fid = pd.to_datetime(from_id, format="%Y%m%d", errors="coerce")
    plaus = fid.notna() & (fid.dt.year >= 1900) & (fid.dt.year <= 2030)
    from_id = from_id.where(plaus, None)
    birth = bstr.where(bstr.notna(), from_id)
    out["birth"] = birth
    age_year = pd.to_numeric(m.get("birth_year_from_age"), errors="coerce") if "birth_year_from_age" in m else pd.Series(np.nan, index=m.index)
    out["age_year"] = age_year
    byear = birth.map(lambda v: None if v is None else v[:4])
    ay = age_year.map(lambda v: None if pd.isna(v) else str(int(v)))
    ay1 = age_year.map(lambda v: None if pd.isna(v) else str(int(v) - 1))
    out["by_block"] = byear.where(byear.notna(), ay)
    out["by_block2"] = byear.where(byear.notna(), ay1)
    for c in ("sex", "phone", "subdistrict", "community", "address", "household_no"):
        out[c] = _na_none(m[c]) if c in m else None
    return out


PREPARERS: dict[str, Callable[[pd.DataFrame, Settings], pd.DataFrame]] = {
    "plain": prepare_plain,
    "relief": prepare_relief,
}


@dataclass
class Nodes:
    """Distinct records (nodes), in a canonical order that does not depend on input order."""

    frame: pd.DataFrame  # one row per node: the linkage columns, flags, ``dataset``
    record_node: np.ndarray  # node index of each input record (input order)
    weight: np.ndarray  # number of records per node

    @property
    def n(self) -> int:
        return len(self.frame)


def collapse(features: pd.DataFrame, columns: list[str], dataset: np.ndarray | None = None) -> Nodes:
    """Group identical feature rows into nodes, sorted by value (canonical)."""
    n = len(features)
    codes = []
    if dataset is not None:
        codes.append(np.asarray(dataset, dtype=np.int64))
    for c in columns:
        s = features[c]
        if s.dtype == object:
            s = s.astype(object).where(s.notna(), None)
        cc, _ = pd.factorize(s, sort=True, use_na_sentinel=True)
        codes.append(cc.astype(np.int64))
    if not codes or n == 0:
        return Nodes(features.iloc[:0].reset_index(drop=True), np.zeros(n, np.int64), np.zeros(0, np.int64))
    mat = np.stack(codes, axis=1)
    order = np.lexsort(mat.T[::-1])
    sm = mat[order]
    new = np.r_[True, (sm[1:] != sm[:-1]).any(axis=1)]
    gid_sorted = np.cumsum(new) - 1
    record_node = np.empty(n, np.int64)
    record_node[order] = gid_sorted
    first = order[new]
    frame = features.iloc[first].reset_index(drop=True)
    if dataset is not None:
        frame["dataset"] = np.asarray(dataset)[first]
    weight = np.bincount(record_node, minlength=len(first))
    return Nodes(frame, record_node, weight)
