"""Value parsers: raw spreadsheet cells → typed values, vectorized.

Every parser takes a pandas Series of raw cells (object dtype holding str /
float / int / ``datetime.date`` / ``datetime.datetime`` / None / NaN, or an
Arrow-backed string Series) and returns :class:`Parsed` — a named tuple
``(values, bad)`` aligned on the input index:

* ``values`` — the typed value, ``<NA>`` / ``NaT`` / ``NaN`` where the cell is
  blank or could not be read;
* ``bad`` — bool, True where the cell was **not blank but could not be parsed**,
  so the caller can quarantine it. Nothing is guessed.

Text is NFKC-normalized first (full-width digits, ``￥``, ``～`` …) and trimmed.
Work is done once per unique text value with Arrow compute (regex extraction,
casts) and numpy; the rare non-text cells (numbers and dates from xlsx) are
converted once per unique value.

=========================== ================================================ ==================
parser                      accepts                                          values
=========================== ================================================ ==================
``parse_dates``             ``2015-03-05`` ``2015/3/5`` ``2015.3.5``          datetime64[ns]
                            ``2015年3月5日`` ``20150305``, a trailing time,
                            date/datetime cells (time dropped), Excel serial
                            numbers 20000–80000 (epoch 1899-12-30) as numbers
                            or text (``42035``)
``parse_months``            ``201508`` ``2015-08`` ``2015/8`` ``2015年8月``     datetime64[ns], the
                            ``2015.08``, 201508.0, any date above             1st of the month
``parse_years``             ``2015`` ``2015年`` ``2015年度`` 2015.0, a date     Int64
``parse_school_years``      ``2015-2016`` ``2015—2016`` ``2015/2016``         Int64 start year
                            ``2015-16`` ``2015～2016学年`` ``2015学年`` 2015     (1 Sep – 31 Aug)
``parse_amounts``           ``1200`` ``1,200.00`` ``1200元`` ``￥1200``         float64 yuan,
                            ``¥1,200`` ``RMB 1200`` ``1.2万元``, numbers       rounded to cents
``parse_sex``               男/女, 男性/女性, M/F, male/female, 1/2              'M' / 'F'
``parse_ages``              ``34`` ``34岁`` ``34周岁`` 34.0 (0–130)              Int64
``parse_disability_category`` 1–7, 视力 听力 言语(语言) 肢体 智力 精神 多重         Int64 1–7
                            (± 残疾 / 残疾人 suffix)
``parse_disability_level``  1–4, 一级…四级, 1级…4级, 一…四                          Int64 1–4
``parse_text``              anything                                         string (NFKC, trimmed)
=========================== ================================================ ==================

Years outside 1900–2100 are not dates (bad). A float month like ``2015.1`` is
ambiguous (January, or October with the trailing zero lost) and is bad.
"""

from __future__ import annotations

import datetime as _dt
import math
import numbers
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from relieflink.identity import _cells as C

__all__ = [
    "Parsed",
    "parse_dates",
    "parse_months",
    "parse_years",
    "parse_school_years",
    "parse_amounts",
    "parse_sex",
    "parse_ages",
    "parse_disability_category",
    "parse_disability_level",
    "parse_text",
    "DISABILITY_CATEGORIES",
]

MIN_YEAR, MAX_YEAR = 1900, 2100
EXCEL_SERIAL_MIN, EXCEL_SERIAL_MAX = 20000, 80000
_EXCEL_EPOCH_DAYS = (np.datetime64("1899-12-30") - np.datetime64("1970-01-01")).astype(np.int64)
_NS_PER_DAY = 86_400_000_000_000
_NAT = np.iinfo(np.int64).min
_DIM = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

#: Disability categories (GB/T 26341): code → name.
DISABILITY_CATEGORIES = {1: "视力", 2: "听力", 3: "言语", 4: "肢体", 5: "智力", 6: "精神", 7: "多重"}


class Parsed(NamedTuple):
    """``(values, bad)``: typed values and the mask of non-blank unparseable cells."""

    values: pd.Series
    bad: pd.Series


# ---------------------------------------------------------------- plumbing


class _Cells:
    """A raw column as: unique trimmed NFKC texts (+ row codes) and non-text cells."""

    def __init__(self, raw: pd.Series):
        if not isinstance(raw, pd.Series):
            raw = pd.Series(raw, dtype=object)
        self.index = raw.index
        split = C.split_cells(raw)
        self.n = split.n
        codes, uniq = C.dict_encode(split.text)
        uniq = C.nfkc(uniq)
        uniq = pc.utf8_trim_whitespace(uniq)
        uniq = pc.replace_substring_regex(uniq, pattern=C.INVISIBLE_RE, replacement="")
        self.codes = codes
        self.uniq = uniq
        self.uniq_blank = pc.equal(pc.utf8_length(uniq), 0).to_numpy(zero_copy_only=False).astype(bool)
        self.other_pos = split.other_pos
        self.other_vals = split.other_vals

    def expand(
        self,
        u_vals: np.ndarray,
        u_ok: np.ndarray,
        other: Callable[[object], object],
        na_value: object,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row values and bad mask from per-unique-text results and a per-cell function
        for the non-text cells (returns a value, or None for unparseable)."""
        u_ok = u_ok & ~self.uniq_blank
        u_bad = ~u_ok & ~self.uniq_blank
        vals_pool = np.concatenate([u_vals, np.array([na_value], dtype=u_vals.dtype)])
        vals_pool[:-1][~u_ok] = na_value
        bad_pool = np.concatenate([u_bad, [False]])
        vals = vals_pool[self.codes]
        bad = bad_pool[self.codes]
        if len(self.other_pos):
            res = C.map_unique(self.other_vals, other)
            ok = np.array([r is not None for r in res], dtype=bool)
            conv = np.array([na_value if r is None else r for r in res], dtype=u_vals.dtype)
            vals[self.other_pos] = conv
            bad[self.other_pos] = ~ok
        return vals, bad

    def extract(self, pattern: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
        """Regex extraction on the unique texts: (matched mask, named groups)."""
        if len(self.uniq) == 0:
            return np.zeros(0, dtype=bool), {}
        st = pc.extract_regex(self.uniq, pattern=pattern)
        matched = st.is_valid().to_numpy(zero_copy_only=False).astype(bool)
        fields = {st.type.field(i).name: st.field(i) for i in range(st.type.num_fields)}
        return matched, fields


def _to_int(a: pa.Array, mask: np.ndarray, default: int = 0) -> np.ndarray:
    """Digits strings → int64 where ``mask`` (others ``default``)."""
    a = pc.if_else(pa.array(mask) if len(mask) else pa.array([], pa.bool_()), a, pa.scalar(str(default)))
    a = pc.if_else(pc.equal(pc.utf8_length(a), 0), pa.scalar(str(default)), a)
    return pc.cast(a, pa.int64()).to_numpy(zero_copy_only=False)


def _date_ok(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    mc = np.clip(m, 0, 12)
    dim = _DIM[mc] + ((mc == 2) & leap)
    return (y >= MIN_YEAR) & (y <= MAX_YEAR) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= dim)


def _days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (valid dates only; others give garbage)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _ns(y: np.ndarray, m: np.ndarray, d: np.ndarray, ok: np.ndarray) -> np.ndarray:
    return np.where(ok, _days(y, m, d) * _NS_PER_DAY, _NAT)


def _ints_series(vals: np.ndarray, index: pd.Index, na_value: int) -> pd.Series:
    mask = vals == na_value
    return pd.Series(pd.arrays.IntegerArray(np.where(mask, 0, vals).astype(np.int64), mask), index=index)


def _bad_series(bad: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(bad, index=index, dtype=bool)


# --------------------------------------------------------------- dates

_SEP_DATE = (
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*\d{1,2}[:时]\d{1,2}(?:[:分]\d{1,2}(?:\.\d+)?秒?)?)?$"
)
_COMPACT_DATE = r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"
_SERIAL = r"^(?P<s>\d{5})(?:\.\d+)?$"


def _serial_ns(serial: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = (serial >= EXCEL_SERIAL_MIN) & (serial <= EXCEL_SERIAL_MAX)
    return ok, np.where(ok, (_EXCEL_EPOCH_DAYS + serial) * _NS_PER_DAY, _NAT)


def _text_dates(cells: _Cells) -> tuple[np.ndarray, np.ndarray]:
    """(ok, ns) for the unique texts."""
    n = len(cells.uniq)
    ns = np.full(n, _NAT, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    for pattern in (_SEP_DATE, _COMPACT_DATE):
        matched, f = cells.extract(pattern)
        matched &= ~ok
        if matched.any():
            y, m, d = (_to_int(f[k], matched) for k in ("y", "m", "d"))
            good = matched & _date_ok(y, m, d)
            ns = np.where(good, _ns(y, m, d, good), ns)
            ok |= good
    matched, f = cells.extract(_SERIAL)
    matched &= ~ok
    if matched.any():
        good, sns = _serial_ns(_to_int(f["s"], matched))
        good &= matched
        ns = np.where(good, sns, ns)
        ok |= good
    return ok, ns


def _date_from_scalar(v: object) -> int | None:
    """ns since epoch of a non-text date cell, or None."""
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (pd.Timestamp, _dt.datetime)):
        ts = pd.Timestamp(v)
        if ts.tzinfo is not None:
            ts = ts.tz_localize(None)
        ts = ts.normalize()
        return int(ts.value) if MIN_YEAR <= ts.year <= MAX_YEAR else None
    if isinstance(v, _dt.date):
        return int(pd.Timestamp(v).value) if MIN_YEAR <= v.year <= MAX_YEAR else None
    if isinstance(v, np.datetime64):
        if np.isnat(v):
            return None
        return _date_from_scalar(pd.Timestamp(v))
    if isinstance(v, numbers.Real):
        x = float(v)
        if not math.isfinite(x):
            return None
        if EXCEL_SERIAL_MIN <= x <= EXCEL_SERIAL_MAX:
            return int((_EXCEL_EPOCH_DAYS + math.floor(x)) * _NS_PER_DAY)
        if x.is_integer() and 19000101 <= x <= 21001231:
            i = int(x)
            y, m, d = i // 10000, i // 100 % 100, i % 100
            a = np.array([y]), np.array([m]), np.array([d])
            if _date_ok(*a)[0]:
                return int(_days(*a)[0] * _NS_PER_DAY)
        return None
    return None


def _dt_series(ns: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(ns.astype(np.int64).view("datetime64[ns]"), index=index)


def parse_dates(raw: pd.Series) -> Parsed:
    """Dates → datetime64[ns] (see the module table)."""
    cells = _Cells(raw)
    ok, ns = _text_dates(cells)
    vals, bad = cells.expand(ns, ok, _date_from_scalar, _NAT)
    return Parsed(_dt_series(vals, cells.index), _bad_series(bad, cells.index))


# --------------------------------------------------------------- months

_SEP_MONTH = r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*月?(?:份)?$"
_COMPACT_MONTH = r"^(?P<y>\d{4})(?P<m>\d{2})$"


def _month_start(ns: np.ndarray) -> np.ndarray:
    ok = ns != _NAT
    months = np.where(ok, ns, 0).view("datetime64[ns]").astype("datetime64[M]")
    out = months.astype("datetime64[ns]").view(np.int64)
    return np.where(ok, out, _NAT)


def _month_from_scalar(v: object) -> int | None:
    if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
        x = float(v)
        if not math.isfinite(x):
            return None
        if x.is_integer() and 190001 <= x <= 210012:
            y, m = int(x) // 100, int(x) % 100
            if 1 <= m <= 12:
                return int(_days(np.array([y]), np.array([m]), np.array([1]))[0] * _NS_PER_DAY)
            return None
        if MIN_YEAR <= x < MAX_YEAR + 1 and not x.is_integer():
            y = int(x)
            m = round((x - y) * 100)
            if abs((x - y) * 100 - m) < 1e-6 and 1 <= m <= 12 and m != 10:  # 2015.1: Jan or Oct?
                return int(_days(np.array([y]), np.array([m]), np.array([1]))[0] * _NS_PER_DAY)
            return None
    ns = _date_from_scalar(v)
    if ns is None:
        return None
    return int(_month_start(np.array([ns], dtype=np.int64))[0])


def parse_months(raw: pd.Series) -> Parsed:
    """Months → datetime64[ns] on the 1st of the month (see the module table)."""
    cells = _Cells(raw)
    n = len(cells.uniq)
    ns = np.full(n, _NAT, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    for pattern in (_SEP_MONTH, _COMPACT_MONTH):
        matched, f = cells.extract(pattern)
        matched &= ~ok
        if matched.any():
            y, m = _to_int(f["y"], matched), _to_int(f["m"], matched)
            good = matched & _date_ok(y, m, np.ones_like(y))
            ns = np.where(good, _ns(y, m, np.ones_like(y), good), ns)
            ok |= good
    d_ok, d_ns = _text_dates(cells)
    d_ok &= ~ok
    ns = np.where(d_ok, _month_start(np.where(d_ok, d_ns, _NAT)), ns)
    ok |= d_ok
    vals, bad = cells.expand(ns, ok, _month_from_scalar, _NAT)
    return Parsed(_dt_series(vals, cells.index), _bad_series(bad, cells.index))


# --------------------------------------------------------------- years

_YEAR = r"^(?P<y>\d{4})\s*(?:年度|年)?$"
_INT_NA = np.iinfo(np.int64).min


def _year_from_scalar(v: object) -> int | None:
    if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
        x = float(v)
        if math.isfinite(x) and x.is_integer() and MIN_YEAR <= x <= MAX_YEAR:
            return int(x)
        return None
    ns = _date_from_scalar(v)
    return None if ns is None else int(pd.Timestamp(ns).year)


def _text_years(cells: _Cells) -> tuple[np.ndarray, np.ndarray]:
    matched, f = cells.extract(_YEAR)
    y = _to_int(f["y"], matched) if len(matched) else np.zeros(0, dtype=np.int64)
    ok = matched & (y >= MIN_YEAR) & (y <= MAX_YEAR)
    return ok, y


def parse_years(raw: pd.Series) -> Parsed:
    """Years → Int64 (``2015``, ``2015年``, ``2015年度``, 2015.0, a date's year)."""
    cells = _Cells(raw)
    ok, y = _text_years(cells)
    d_ok, d_ns = _text_dates(cells)
    d_ok &= ~ok
    if d_ok.any():
        years = np.where(d_ok, d_ns, 0).view("datetime64[ns]").astype("datetime64[Y]").astype(np.int64) + 1970
        y = np.where(d_ok, years, y)
        ok |= d_ok
    vals, bad = cells.expand(y.astype(np.int64), ok, _year_from_scalar, _INT_NA)
    return Parsed(_ints_series(vals, cells.index, _INT_NA), _bad_series(bad, cells.index))


# --------------------------------------------------------------- school years

_SCHOOL_RANGE = (
    r"^(?P<a>\d{4})\s*(?:年)?\s*[-—–~/至到]+\s*(?P<b>\d{4}|\d{2})\s*(?:学年度|学年|年度|年)?"
    r"(?:第?[一二12上下]学期)?$"
)
_SCHOOL_SINGLE = r"^(?P<a>\d{4})\s*(?:学年度|学年|年度|年)?(?:第?[一二12上下]学期)?$"


def parse_school_years(raw: pd.Series) -> Parsed:
    """School years → Int64 start year (``2015-2016``, ``2015-16``, ``2015学年`` …).

    The school year *y* runs from 1 September *y* to 31 August *y+1*. A range
    whose end is not the year after its start is bad."""
    cells = _Cells(raw)
    n = len(cells.uniq)
    y = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    matched, f = cells.extract(_SCHOOL_RANGE)
    if matched.any():
        a = _to_int(f["a"], matched)
        b = _to_int(f["b"], matched)
        blen = pc.utf8_length(f["b"]).to_numpy(zero_copy_only=False)
        consecutive = np.where(blen == 2, b == (a + 1) % 100, b == a + 1)
        good = matched & consecutive & (a >= MIN_YEAR) & (a <= MAX_YEAR)
        y = np.where(good, a, y)
        ok |= good
    matched, f = cells.extract(_SCHOOL_SINGLE)
    matched &= ~ok
    if matched.any():
        a = _to_int(f["a"], matched)
        good = matched & (a >= MIN_YEAR) & (a <= MAX_YEAR)
        y = np.where(good, a, y)
        ok |= good
    vals, bad = cells.expand(y, ok, _year_from_scalar, _INT_NA)
    return Parsed(_ints_series(vals, cells.index, _INT_NA), _bad_series(bad, cells.index))


# --------------------------------------------------------------- amounts

_AMOUNT = (
    r"^(?:RMB|CNY|人民币)?[¥￥]?(?P<sign>[-−]?)[¥￥]?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)"
    r"(?P<wan>万?)(?:元整|元|圆|块|RMB|CNY)?$"
)


def _amount_from_scalar(v: object) -> float | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, numbers.Real):
        x = float(v)
        return round(x, 2) if math.isfinite(x) else None
    return None


def parse_amounts(raw: pd.Series) -> Parsed:
    """Amounts → float64 yuan rounded to cents (NaN where blank or bad)."""
    cells = _Cells(raw)
    uniq = cells.uniq
    if len(uniq):
        squeezed = pc.replace_substring_regex(uniq, pattern=C.SPACE_RE + "+", replacement="")
        squeezed = pc.utf8_upper(squeezed)
        st = pc.extract_regex(squeezed, pattern=_AMOUNT)
        matched = st.is_valid().to_numpy(zero_copy_only=False).astype(bool)
        num = pc.replace_substring(st.field("num"), pattern=",", replacement="")
        num = pc.if_else(pa.array(matched), num, pa.scalar("0"))
        num = pc.if_else(pc.equal(pc.utf8_length(num), 0), pa.scalar("0"), num)
        x = pc.cast(num, pa.float64()).to_numpy(zero_copy_only=False)
        sign = np.where(pc.greater(pc.utf8_length(st.field("sign")), 0).to_numpy(zero_copy_only=False), -1.0, 1.0)
        wan = np.where(pc.greater(pc.utf8_length(st.field("wan")), 0).to_numpy(zero_copy_only=False), 10_000.0, 1.0)
        vals = np.round(np.where(matched, x * sign * wan, np.nan), 2)
        ok = matched & np.isfinite(vals)
    else:
        vals, ok = np.zeros(0, dtype=np.float64), np.zeros(0, dtype=bool)
    out, bad = cells.expand(vals.astype(np.float64), ok, _amount_from_scalar, np.nan)
    return Parsed(pd.Series(out, index=cells.index, dtype=np.float64), _bad_series(bad, cells.index))


# --------------------------------------------------------------- codes from small vocabularies


def _vocab_parse(
    raw: pd.Series, vocab: dict[str, int], other: Callable[[object], int | None]
) -> tuple[_Cells, np.ndarray, np.ndarray]:
    cells = _Cells(raw)
    if len(cells.uniq):
        key = pc.utf8_lower(pc.replace_substring_regex(cells.uniq, pattern=C.SPACE_RE + "+", replacement=""))
        keys = pa.array(list(vocab.keys()), type=pa.string())
        codes = pa.array(list(vocab.values()), type=pa.int64())
        idx = pc.index_in(key, value_set=keys)
        ok = idx.is_valid().to_numpy(zero_copy_only=False).astype(bool)
        vals = pc.fill_null(pc.take(codes, idx), _INT_NA).to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        vals, ok = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    out, bad = cells.expand(vals, ok, other, _INT_NA)
    return cells, out, bad


def _int_in(lo: int, hi: int) -> Callable[[object], int | None]:
    def conv(v: object) -> int | None:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            return None
        x = float(v)
        if math.isfinite(x) and x.is_integer() and lo <= x <= hi:
            return int(x)
        return None

    return conv


_SEX_VOCAB = {
    **{k: 1 for k in ("男", "男性", "男士", "m", "male", "1", "1.0", "先生")},
    **{k: 2 for k in ("女", "女性", "女士", "f", "female", "2", "2.0")},
}


def parse_sex(raw: pd.Series) -> Parsed:
    """Sex → 'M' / 'F' (string dtype)."""
    cells, vals, bad = _vocab_parse(raw, _SEX_VOCAB, _int_in(1, 2))
    codes = np.where(vals == 1, 0, np.where(vals == 2, 1, 2))
    return Parsed(C.labels_series(codes, ("M", "F", None), cells.index), _bad_series(bad, cells.index))


_AGE = r"^(?P<a>\d{1,3})(?:\.0+)?\s*(?:周岁|岁)?$"


def parse_ages(raw: pd.Series) -> Parsed:
    """Ages in years → Int64 (0–130)."""
    cells = _Cells(raw)
    matched, f = cells.extract(_AGE)
    a = _to_int(f["a"], matched) if len(matched) else np.zeros(0, dtype=np.int64)
    ok = matched & (a >= 0) & (a <= 130)
    vals, bad = cells.expand(a.astype(np.int64), ok, _int_in(0, 130), _INT_NA)
    return Parsed(_ints_series(vals, cells.index, _INT_NA), _bad_series(bad, cells.index))


def _category_vocab() -> dict[str, int]:
    names = dict((v, k) for k, v in DISABILITY_CATEGORIES.items())
    names["语言"] = 3
    vocab: dict[str, int] = {}
    for name, code in names.items():
        for suffix in ("", "残疾", "残疾人", "残", "类", "残疾类"):
            vocab[name + suffix] = code
    for code in DISABILITY_CATEGORIES:
        vocab[str(code)] = code
        vocab[f"{code}.0"] = code
        vocab[f"{code}类"] = code
    return vocab


_CATEGORY_VOCAB = _category_vocab()


def parse_disability_category(raw: pd.Series) -> Parsed:
    """Disability category → Int64 1–7 (视力 1, 听力 2, 言语 3, 肢体 4, 智力 5, 精神 6, 多重 7)."""
    cells, vals, bad = _vocab_parse(raw, _CATEGORY_VOCAB, _int_in(1, 7))
    return Parsed(_ints_series(vals, cells.index, _INT_NA), _bad_series(bad, cells.index))


def _level_vocab() -> dict[str, int]:
    vocab: dict[str, int] = {}
    for code, zh in enumerate("一二三四", start=1):
        for form in (str(code), zh, "壹贰叁肆"[code - 1]):
            for suffix in ("", "级", "级残疾", "等"):
                vocab[form + suffix] = code
        vocab[f"{code}.0"] = code
    return vocab


_LEVEL_VOCAB = _level_vocab()


def parse_disability_level(raw: pd.Series) -> Parsed:
    """Disability level → Int64 1–4 (``3``, ``三级``, ``3级``, ``三``)."""
    cells, vals, bad = _vocab_parse(raw, _LEVEL_VOCAB, _int_in(1, 4))
    return Parsed(_ints_series(vals, cells.index, _INT_NA), _bad_series(bad, cells.index))


# --------------------------------------------------------------- text


def _text_from_scalar(v: object) -> str | None:
    if isinstance(v, (bool, np.bool_)):
        return str(v)
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        x = float(v)
        if not math.isfinite(x):
            return None
        return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
    if isinstance(v, (pd.Timestamp, _dt.datetime)):
        ts = pd.Timestamp(v)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" ")
    if isinstance(v, _dt.date):
        return v.isoformat()
    return str(v)


def parse_text(raw: pd.Series) -> Parsed:
    """Text → string dtype: NFKC, trimmed, <NA> when blank; numbers without a spurious ``.0``."""
    cells = _Cells(raw)
    uniq = pc.if_else(pa.array(~cells.uniq_blank), cells.uniq, pa.scalar(None, type=pa.string()))
    text = C.take_with_null(uniq, cells.codes)
    if len(cells.other_pos):
        conv = C.map_unique(cells.other_vals, _text_from_scalar)
        other = C.nfkc(pa.array(conv, type=pa.string()))
        text = C.replace_rows(text, cells.other_pos, pc.utf8_trim_whitespace(other))
    return Parsed(C.to_series(text, cells.index), _bad_series(np.zeros(cells.n, dtype=bool), cells.index))
