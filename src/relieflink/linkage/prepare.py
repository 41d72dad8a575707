"""Feature preparers and pre-collapse of identical records into nodes.

A preparer turns the input frame (mentions, or any record table) into the
columns the settings name. Records whose linkage columns are all identical
(a person paid twelve months appears twelve times) become one *node*; the
engine links nodes and expands the result back to records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from relieflink.linkage.settings import Settings
from relieflink.linkage.table import sorted_factorize

STRING = pd.StringDtype("pyarrow")

#: id_status values whose ID evidence is not trusted for comparison at all
SUSPECT_ID_STATUSES = ("head_id_on_member", "conflicting_ids", "malformed", "missing")


#: the roster's relation of the household head
HEAD_RELATION = "户主"


def _na_none(s: pd.Series) -> pd.Series:
    s = s.astype(object)
    return s.where(s.notna(), None)


def per_value(s: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply ``fn`` to the distinct non-null values of ``s`` only, then spread back (nulls stay None).

    The column is factorized as it is (Arrow text, datetimes): only its distinct values become
    Python objects, never every row."""
    codes, uni = pd.factorize(s, use_na_sentinel=True)
    if len(uni) == 0:
        return pd.Series([None] * len(s), index=s.index, dtype=object)
    vals = pd.Series(fn(pd.Series(uni, dtype=object)), dtype=object).reset_index(drop=True)
    vals = vals.where(vals.notna(), None).to_numpy(dtype=object)
    out = np.where(codes >= 0, vals[np.maximum(codes, 0)], None)
    return pd.Series(out, index=s.index, dtype=object)


def prepare_plain(df: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Columns as they are, as strings (FEBRL-like record tables)."""
    out = pd.DataFrame(index=df.index)
    for c in settings.string_columns:
        out[c] = per_value(df[c], lambda u: u.astype(str).str.strip().replace("", None))
    for c in settings.int_columns:
        out[c] = pd.to_numeric(df[c], errors="coerce")
    return out


def _given_pinyin(name_pinyin: pd.Series, surname: pd.Series, name: pd.Series) -> pd.Series:
    """Pinyin of the given name: the name's syllables after the surname's (one per Han character)."""
    key = pd.DataFrame({"p": name_pinyin, "s": surname, "n": name})
    codes = [pd.factorize(key[c], use_na_sentinel=True)[0].astype(np.int64) + 1 for c in "psn"]
    k = (codes[0] * (codes[1].max(initial=0) + 1) + codes[1]) * (codes[2].max(initial=0) + 1) + codes[2]
    inv, _ = pd.factorize(k)
    first_idx = pd.Series(np.arange(len(k))).groupby(inv, sort=True).first().to_numpy()
    uniq = key.iloc[first_idx]
    g = np.array([given_pinyin_of(p, s, n) for p, s, n in zip(uniq["p"], uniq["s"], uniq["n"])] + [None], dtype=object)
    return pd.Series(g[inv], index=name_pinyin.index, dtype=object)


def given_pinyin_of(pinyin: object, surname: object, name: object) -> str | None:
    """Pinyin of one given name (once per distinct name in :func:`_given_pinyin`)."""
    if pinyin is None or pinyin is pd.NA:
        return None
    syl = str(pinyin).split()
    k = len(surname) if isinstance(surname, str) and surname else 0
    if not k and isinstance(name, str) and len(syl) == len(name) and len(name) >= 2:
        k = 1 if len(name) <= 3 else 0
    rest = syl[k:] if k else syl
    return " ".join(rest) if rest else None


def _fmt_date(u: pd.Series) -> pd.Series:
    return pd.to_datetime(u, errors="coerce").dt.strftime("%Y%m%d")


def _birth_digits(u: pd.Series) -> pd.Series:
    """Birth digits (positions 7-14) of an ID-like string of ≥ 14 characters, when a plausible date."""
    s = u.astype(str)
    d = s.str.slice(6, 14).where(s.str.len() >= 14)
    fid = pd.to_datetime(d, format="%Y%m%d", errors="coerce")
    return d.where(fid.notna() & (fid.dt.year >= 1900) & (fid.dt.year <= 2030))


#: input columns the relief preparer reads (the linker collapses identical input rows first)
RELIEF_INPUTS = ("name", "surname", "name_pinyin", "id_status", "id_number", "id_clean", "birth_date",
                 "birth_year_from_age", "sex", "phone", "subdistrict", "community", "address", "household_no",
                 "relation", "solo")


def prepare_relief(m: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Linkage features of person mentions (canonical ``mentions`` table); vectorized, and
    every string derivation runs once per distinct value."""
    out = pd.DataFrame(index=m.index)
    name = _na_none(m["name"])
    surname = _na_none(m["surname"])
    if "name_pinyin" in m:
        pinyin = _na_none(m["name_pinyin"])
    else:  # pragma: no cover - ingest always writes it
        from pypinyin import lazy_pinyin
        pinyin = per_value(name, lambda u: u.map(lambda n: " ".join(lazy_pinyin(n))))
    out["name"] = name
    out["name_pinyin"] = pinyin
    out["surname"] = surname
    out["given_pinyin"] = _given_pinyin(pinyin, surname, name)

    status = m["id_status"].astype(object).fillna("missing")
    idn = _na_none(m["id_number"])
    clean = _na_none(m["id_clean"])
    clen = pd.to_numeric(per_value(clean, lambda u: u.astype(str).str.len()), errors="coerce").fillna(0).to_numpy()
    damaged = (status == "excel_damaged").to_numpy() & (clen >= 14)
    usable = (clen == 18) | damaged
    usable &= ~status.isin(SUSPECT_ID_STATUSES).to_numpy() | idn.notna().to_numpy()
    out["id_valid"] = idn
    out["id_cmp"] = clean.where(usable, None)
    out["id_fuzzy"] = usable & (clen == 18) & idn.isna().to_numpy()
    out["id_damaged"] = damaged & usable
    out["no_id"] = ~usable & idn.isna().to_numpy()

    bstr = per_value(m["birth_date"], _fmt_date)
    # an invalid ID still carries its birth digits (positions 7-14)
    from_id = per_value(clean, _birth_digits)
    birth = bstr.where(bstr.notna(), from_id)
    out["birth"] = birth
    age_year = pd.to_numeric(m["birth_year_from_age"], errors="coerce") if "birth_year_from_age" in m \
        else pd.Series(np.nan, index=m.index)
    out["age_year"] = age_year
    byear = per_value(birth, lambda u: u.str.slice(0, 4))
    ay = per_value(age_year.astype(object).where(age_year.notna(), None),
                   lambda u: u.astype(float).astype(int).astype(str))
    ay1 = per_value(age_year.astype(object).where(age_year.notna(), None),
                    lambda u: (u.astype(float).astype(int) - 1).astype(str))
    out["by_block"] = byear.where(byear.notna(), ay)
    out["by_block2"] = byear.where(byear.notna(), ay1)
    for c in ("sex", "phone", "subdistrict", "community", "address", "household_no"):
        out[c] = _na_none(m[c]) if c in m else None
    # a mention without any ID evidence is a node of its own (``solo``: its file|row, set by
    # link_mentions): two such rows that agree on a name and little else are not one person
    # by construction; the scores decide (a rare name links, 张秀英 does not)
    out["solo"] = _na_none(m["solo"]).where(out["no_id"].to_numpy(), None) if "solo" in m else None
    # nothing to block on but the name (elderly insurance: a name; legal aid: name, age, sex)
    placeless = np.ones(len(out), dtype=bool)
    for c in ("phone", "subdistrict", "community", "address"):
        placeless &= out[c].isna().to_numpy()
    out["name_only"] = out["no_id"].to_numpy() & placeless
    # the roster lists each member of a household once: 户编号 + relation names one member
    # (father and son 同名同姓 without IDs stay two nodes, and a cannot-link keeps them apart)
    if "household_no" in m and "relation" in m:
        hn, rel = _na_none(m["household_no"]), _na_none(m["relation"])
        both = hn.notna() & rel.notna()
        out["hh_member"] = (hn.astype(str) + "|" + rel.astype(str)).where(both, None)
        # the household of a member other than the head (the head is named again on every
        # member's row, with typos: 陈玲 / 陈林; members are listed once)
        out["hh_not_head"] = hn.where(both & (rel != HEAD_RELATION), None)
    else:
        out["hh_member"] = out["hh_not_head"] = None
    return out


def _value(v: object) -> object:
    """A cell as prepare_relief reads it: None for every kind of missing."""
    return None if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)) else v


def _birth_digits_one(clean: object) -> str | None:
    """:func:`_birth_digits` of one ID-like string."""
    if not isinstance(clean, str) or len(clean) < 14:
        return None
    d = clean[6:14]
    try:
        year = datetime.strptime(d, "%Y%m%d").year
    except ValueError:
        return None
    return d if 1900 <= year <= 2030 and d.isdigit() else None


def prepare_relief_one(m: Mapping[str, object]) -> dict[str, object]:
    """:func:`prepare_relief` of one mention (a mapping of :data:`RELIEF_INPUTS`; an absent key is
    missing) without building a table: screening prepares one applicant per call, in
    microseconds instead of the tens of milliseconds pandas takes on one row. Kept equal to
    the vectorized preparer by tests/test_screening_evidence.py (every mention of the fixtures)."""
    v = {c: _value(m.get(c)) for c in RELIEF_INPUTS}
    name, surname, pinyin = v["name"], v["surname"], v["name_pinyin"]
    out: dict[str, object] = {"name": name, "name_pinyin": pinyin, "surname": surname,
                              "given_pinyin": given_pinyin_of(pinyin, surname, name)}
    status = v["id_status"] or "missing"
    idn, clean = v["id_number"], v["id_clean"]
    clen = len(str(clean)) if clean is not None else 0
    damaged = status == "excel_damaged" and clen >= 14
    usable = (clen == 18 or damaged) and (status not in SUSPECT_ID_STATUSES or idn is not None)
    out.update(id_valid=idn, id_cmp=clean if usable else None, id_fuzzy=usable and clen == 18 and idn is None,
               id_damaged=damaged and usable, no_id=not usable and idn is None)
    stated = v["birth_date"]
    birth = pd.Timestamp(stated).strftime("%Y%m%d") if stated is not None and not pd.isna(pd.Timestamp(stated)) else None
    birth = birth or (_birth_digits_one(str(clean)) if clean is not None else None)
    age = v["birth_year_from_age"]
    out.update(birth=birth, age_year=np.nan if age is None else float(age))
    year = birth[:4] if birth else None
    out["by_block"] = year or (None if age is None else str(int(float(age))))
    out["by_block2"] = year or (None if age is None else str(int(float(age)) - 1))
    for c in ("sex", "phone", "subdistrict", "community", "address", "household_no"):
        out[c] = v[c]
    out["solo"] = v["solo"] if out["no_id"] else None
    out["name_only"] = bool(out["no_id"]) and all(v[c] is None for c in ("phone", "subdistrict", "community", "address"))
    hn, rel = v["household_no"], v["relation"]
    both = hn is not None and rel is not None
    out["hh_member"] = f"{hn}|{rel}" if both else None
    out["hh_not_head"] = hn if both and rel != HEAD_RELATION else None
    return out


def with_solo(m: pd.DataFrame) -> pd.DataFrame:
    """Mentions with ``solo``: rows without any ID keyed by their ``fingerprint``, so that identical
    name-only rows are not collapsed into one node before linkage (the preparer keeps it for
    no-ID nodes only)."""
    if not {"id_clean", "id_number", "fingerprint"} <= set(m.columns):
        return m
    noid = (m["id_clean"].isna() & m["id_number"].isna()).to_numpy()
    return m.assign(solo=np.where(noid, m["fingerprint"].to_numpy(dtype=object), None))


PREPARERS: dict[str, Callable[[pd.DataFrame, Settings], pd.DataFrame]] = {
    "plain": prepare_plain,
    "relief": prepare_relief,
}

#: input columns each preparer reads (None: the settings' columns)
PREPARER_INPUTS: dict[str, tuple[str, ...] | None] = {"plain": None, "relief": RELIEF_INPUTS}


def distinct_rows(df: pd.DataFrame, columns: list[str], dataset: np.ndarray | None = None):
    """Positions of the first of each group of identical rows (on ``columns``) and the group of every row."""
    n = len(df)
    codes = [] if dataset is None else [np.asarray(dataset, dtype=np.int64)]
    for c in columns:
        if c in df:
            codes.append(pd.factorize(df[c], use_na_sentinel=True)[0].astype(np.int64))
    if not codes or n == 0:
        return np.arange(n), np.arange(n)
    key = np.zeros(n, np.int64)
    for cc in codes:
        key = key * (int(cc.max()) + 2) + cc + 1
        key = pd.factorize(key)[0].astype(np.int64)  # dense, so that the product stays in int64
    first = pd.Series(np.arange(n)).groupby(key, sort=True).first().to_numpy()
    return first, key


@dataclass
class Nodes:
    """Distinct records (nodes), in a canonical order that does not depend on input order."""

    frame: pd.DataFrame  # one row per node: the linkage columns, flags, ``dataset``
    record_node: np.ndarray  # node index of each input record (input order)
    weight: np.ndarray  # number of records per node
    encoded: dict | None = None  # column -> (codes at the nodes, distinct values), from collapse

    @property
    def n(self) -> int:
        return len(self.frame)


def collapse(features: pd.DataFrame, columns: list[str], dataset: np.ndarray | None = None) -> Nodes:
    """Group identical feature rows into nodes, sorted by value (canonical).

    ``Nodes.encoded`` keeps each column's codes at the nodes and its (sorted) distinct values,
    so that the table is built without factorizing again."""
    n = len(features)
    codes = []
    encoded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if dataset is not None:
        codes.append(np.asarray(dataset, dtype=np.int64))
    for c in columns:
        cc, uni = sorted_factorize(features[c])
        codes.append(cc)
        encoded[c] = (cc, np.asarray(uni, dtype=object))
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
    return Nodes(frame, record_node, weight, {c: (cc[first], u) for c, (cc, u) in encoded.items()})
