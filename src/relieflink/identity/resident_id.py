"""Resident ID numbers (居民身份证号, GB 11643-1999) and the numbers built on them.

An ID is a 6-digit region code, an 8-digit birth date, a 3-digit sequence
(odd = male) and an ISO 7064 MOD 11-2 check character (``0``–``9`` or ``X``).

:func:`normalize_ids` turns a raw column into the valid ID (or ``<NA>``), the
cleaned evidence string and a status that says what was wrong:

==============  ==============================================================
``valid``       18 characters, region, birth date and check all correct
``upgraded_15`` a legacy 15-digit ID, upgraded (``19`` inserted, check computed)
``check_failed`` 18 well-formed characters whose check is wrong (a typo):
                ``id_clean`` keeps it as evidence, ``id_number`` is ``<NA>``
``excel_damaged`` Excel stored the ID as a number and lost digits: a float cell
                ≥ 1e15, text like ``3.30105E+17``, or 18 digits ending in ``000``
                whose check fails; ``id_clean`` holds the digits that survive
``bad_date``    the birth date is impossible (or outside 1900-01-01…2030-12-31)
``malformed``   wrong length or characters, or a region code not starting 1–8
``missing``     blank
==============  ==============================================================

Precedence when several apply to one 18-character value: ``excel_damaged``,
then ``bad_date``, then ``malformed`` (region), then ``check_failed``.

Deliberate differences from ``stdnum.cn.ric``: we require a birth year in
1900–2030 and a region code whose first digit is 1–8 (stricter); we do *not*
check the region code against a table of counties and their years of
existence (stdnum does), because the region code records where an ID was first
issued and old codes stay valid (SPEC §3) — a person born in 1930 holds a
330105 (拱墅, created 1983) ID issued later.

Everything is vectorized: text cells are cleaned with Arrow compute and numpy
byte tables, check characters come from a (n, 17) digit matrix, and only the
rare odd cells (numbers from xlsx, scientific notation) see Python, once per
unique value.
"""

from __future__ import annotations

import math
import numbers
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from relieflink.identity import _cells as C

__all__ = ["check_char", "is_valid_id", "upgrade_15", "normalize_ids", "normalize_id", "ids_one_typo_away", "ID_STATUSES", "VALID_STATUSES"]

# Status codes, in the order of ID_STATUSES.
VALID, UPGRADED, CHECK_FAILED, DAMAGED, BAD_DATE, MALFORMED, MISSING = range(7)
ID_STATUSES = ("valid", "upgraded_15", "check_failed", "excel_damaged", "bad_date", "malformed", "missing")
VALID_STATUSES = ("valid", "upgraded_15")

_W = np.array([2 ** (17 - i) % 11 for i in range(17)], dtype=np.int64)  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_CHECK = "10X98765432"
_CHECK_LUT = np.frombuffer(_CHECK.encode("ascii"), dtype=np.uint8)
_DIM = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
MIN_YEAR, MAX_YEAR = 1900, 2030
_YEARS = np.arange(MIN_YEAR, MAX_YEAR + 1)
_LEAP = (_YEARS % 4 == 0) & ((_YEARS % 100 != 0) | (_YEARS % 400 == 0))
_YEAR_START = (_YEARS - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
_MONTH_START = np.concatenate([[0, 0], np.cumsum(_DIM[1:12])])  # days before month m (non-leap)
_ZERO, _NINE, _X = ord("0"), ord("9"), ord("X")

# Byte table for cleaning text cells: drop ASCII whitespace, dashes,
# underscores, quotes and the "=" of Excel's ="..." trick; upper-case letters.
_CLEAN_TABLE = C.byte_table(
    delete=" \t\n\r\v\f\x1c\x1d\x1e\x1f-_'\"=`",
    mapping={chr(c): chr(c - 32) for c in range(ord("a"), ord("z") + 1)},
)
# Non-ASCII cells (after NFKC): also drop Unicode whitespace, dashes and
# invisible characters, then they go through the byte table like the rest.
_UNICODE_JUNK_RE = C.SPACE_RE + r"|[\x{2010}-\x{2015}\x{2212}\x{2E3A}\x{2E3B}\x{30FC}\x{FF70}\x{FE58}\x{FE63}]|" + C.INVISIBLE_RE
_ID_CHARS = np.zeros(256, dtype=bool)
_ID_CHARS[_ZERO : _NINE + 1] = True
_ID_CHARS[_X] = True
_SCI_RE = re.compile(r"(\d)(?:\.(\d*))?E\+?(\d{1,2})")
_TRAILING_ZERO_DECIMALS_RE = re.compile(r"(\d+)\.0*")


# --------------------------------------------------------------------- scalar


def check_char(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of 17 digits."""
    if not (isinstance(first17, str) and len(first17) == 17 and first17.isascii() and first17.isdigit()):
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    s = sum(int(c) * int(w) for c, w in zip(first17, _W)) % 11
    return _CHECK[s]


def is_valid_id(s: str) -> bool:
    """True for an exact valid 18-character ID: 17 digits + check (digit or upper-case X),
    region code starting 1–8, a real birth date in 1900–2030, correct check."""
    if not (isinstance(s, str) and len(s) == 18 and s.isascii()):
        return False
    mat = np.frombuffer(s.encode("ascii"), dtype=np.uint8).reshape(1, 18)
    return bool(_classify18(mat)[0][0] == VALID)


def upgrade_15(s: str) -> str:
    """A legacy 15-digit ID → 18 characters (insert ``19`` before the year, compute the check)."""
    if not (isinstance(s, str) and len(s) == 15 and s.isascii() and s.isdigit()):
        raise ValueError(f"expected 15 ASCII digits, got {s!r}")
    first17 = s[:6] + "19" + s[6:]
    return first17 + check_char(first17)


# ----------------------------------------------------------------- vectorized


def _check_chars(mat17: np.ndarray) -> np.ndarray:
    """Check characters (ASCII codes) of a (n, 17) matrix of ASCII digits."""
    total = np.zeros(len(mat17), dtype=np.int32)
    for i in range(17):
        total += (mat17[:, i].astype(np.int32) - _ZERO) * int(_W[i])
    return _CHECK_LUT[total % 11]


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of dates already known to be valid and in MIN_YEAR..MAX_YEAR."""
    yi = np.clip(y - MIN_YEAR, 0, len(_YEAR_START) - 1)
    mi = np.clip(m, 1, 12)
    return _YEAR_START[yi] + _MONTH_START[mi] + ((mi > 2) & _LEAP[yi]) + d - 1


def _dates(mat: np.ndarray, col: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(ok, datetime64[ns]) of the YYYYMMDD digits at ``col`` of a digit matrix."""
    d = mat[:, col : col + 8].astype(np.int32) - _ZERO
    y = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    m = d[:, 4] * 10 + d[:, 5]
    day = d[:, 6] * 10 + d[:, 7]
    ok = _date_ok(y, m, day)
    days = _days_from_civil(y, m, day)
    ns = np.where(ok, days * 86_400_000_000_000, np.iinfo(np.int64).min)
    return ok, ns.view("datetime64[ns]")


def _date_ok(y: np.ndarray, m: np.ndarray, day: np.ndarray) -> np.ndarray:
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    mc = np.clip(m, 0, 12)
    dim = _DIM[mc] + ((mc == 2) & leap)
    return (y >= MIN_YEAR) & (y <= MAX_YEAR) & (m >= 1) & (m <= 12) & (day >= 1) & (day <= dim)


def _classify18(mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Status codes and birth dates of a (n, 18) byte matrix."""
    n = len(mat)
    status = np.full(n, MALFORMED, dtype=np.int8)
    birth = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if n == 0:
        return status, birth
    digits = (mat[:, :17] >= _ZERO) & (mat[:, :17] <= _NINE)
    last = mat[:, 17]
    shaped = digits.all(axis=1) & (((last >= _ZERO) & (last <= _NINE)) | (last == _X))
    rows = np.flatnonzero(shaped)
    m = mat[rows]
    check_ok = _check_chars(m[:, :17]) == m[:, 17]
    date_ok, dt = _dates(m)
    region_ok = (m[:, 0] >= ord("1")) & (m[:, 0] <= ord("8"))
    damaged = (m[:, 15:18] == _ZERO).all(axis=1) & ~check_ok
    st = np.select(
        [damaged, ~date_ok, ~region_ok, ~check_ok],
        [DAMAGED, BAD_DATE, MALFORMED, CHECK_FAILED],
        default=VALID,
    ).astype(np.int8)
    status[rows] = st
    birth[rows] = dt
    return status, birth


def _other_cell(v: object) -> tuple[str | None, int]:
    """Text and forced status of a non-text cell (number, date, ...)."""
    if isinstance(v, bool) or isinstance(v, np.bool_):
        return str(v), MALFORMED
    if isinstance(v, numbers.Integral):
        return str(int(v)), -1  # an integer is exact (JSON, or a 15-digit cell)
    if isinstance(v, numbers.Real):
        x = float(v)
        if not math.isfinite(x):
            return None, -1
        if abs(x) >= 1e15:
            # Excel keeps 15 significant digits: the rest (and an X) are gone.
            mantissa = f"{abs(x):.14e}".split("e")[0].replace(".", "")
            return mantissa, DAMAGED
        if x == int(x) and x >= 0:
            return str(int(x)), -1
        return np.format_float_positional(x, trim="-"), MALFORMED
    return str(v), -1


def _odd_text(s: str) -> tuple[str, int]:
    """Fix-up of a cleaned cell with characters other than digits and X."""
    m = _SCI_RE.fullmatch(s)
    if m:
        exp = int(m.group(3))
        if 13 <= exp <= 20:
            return m.group(1) + (m.group(2) or ""), DAMAGED
        return s, MALFORMED
    m = _TRAILING_ZERO_DECIMALS_RE.fullmatch(s)
    if m:  # a number written back as text: "330602310527679.0"
        return m.group(1), -1
    return s, MALFORMED


def _clean_text(text: pa.StringArray) -> pa.StringArray:
    """NFKC (non-ASCII cells only), drop separators and invisibles, upper-case."""
    text = C.normalize_non_ascii(text, _UNICODE_JUNK_RE)
    offsets, data = C.translate_bytes(text, _CLEAN_TABLE)
    valid = ~np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return C.from_offsets_data(offsets, data, valid)


def normalize_ids(raw: pd.Series, *, kind: str = "resident") -> pd.DataFrame:
    """Normalize a raw column of resident IDs (or disability certificate / student numbers).

    Returns a DataFrame aligned on ``raw.index`` with ``id_number`` (valid
    18-character ID or <NA>), ``id_clean`` (cleaned evidence string),
    ``id_status`` (see module doc), ``id_birth_date`` (datetime64[ns]),
    ``id_sex`` ('M'/'F'), ``id_region`` (6 characters); with
    ``kind="disability_cert"`` also ``cert_category`` (Int64 1–7) and
    ``cert_level`` (Int64 1–4). ``kind="student_no"`` strips the leading ``G``.

    For certificates and student numbers ``id_clean`` is the ID part (without
    the category/level digits or the ``G``) when the value has that shape, else
    the whole cleaned value.
    """
    if kind not in ("resident", "disability_cert", "student_no"):
        raise ValueError(f"unknown ID kind {kind!r}")
    if not isinstance(raw, pd.Series):
        raw = pd.Series(raw, dtype=object)
    index = raw.index
    split = C.split_cells(raw)
    n = split.n
    forced = np.full(n, -1, dtype=np.int8)

    text = _clean_text(split.text)
    if len(split.other_pos):
        conv = C.map_unique(split.other_vals, _other_cell)
        other_text = [t for t, _ in conv]
        forced[split.other_pos] = [s for _, s in conv]
        # non-text cells are cleaned like text (a str(date) is malformed anyway)
        other_arr = _clean_text(pa.array(other_text, type=pa.string()))
        text = C.replace_rows(text, split.other_pos, other_arr)

    # --- the ID part of certificate / student numbers
    cert_cat = cert_lvl = None
    if kind == "student_no":
        starts_g = pc.fill_null(pc.starts_with(text, "G"), False)
        text = pc.if_else(starts_g, pc.utf8_slice_codeunits(text, 1), text)
    elif kind == "disability_cert":
        lengths = pc.binary_length(text).fill_null(0).to_numpy(zero_copy_only=False)
        rows20 = np.flatnonzero((lengths == 20) & (forced < 0))
        offsets, data = C.offsets_data(text)
        suffix = C.fixed_matrix(offsets, data, rows20, 2, start=18).astype(np.int64) - _ZERO
        cat = np.zeros(n, dtype=np.int64)
        lvl = np.zeros(n, dtype=np.int64)
        cat[rows20] = suffix[:, 0]
        lvl[rows20] = suffix[:, 1]
        cat_ok = (cat >= 1) & (cat <= 7)
        lvl_ok = (lvl >= 1) & (lvl <= 4)
        cert_cat = pd.arrays.IntegerArray(np.where(cat_ok, cat, 0), ~cat_ok)
        cert_lvl = pd.arrays.IntegerArray(np.where(lvl_ok, lvl, 0), ~lvl_ok)
        if len(rows20):
            is20 = np.zeros(n, dtype=bool)
            is20[rows20] = True
            text = pc.if_else(pa.array(is20), pc.utf8_slice_codeunits(text, 0, 18), text)

    # --- odd cells: anything but digits and X (scientific notation, "….0", junk)
    offsets, data = C.offsets_data(text)
    is_null = np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    odd = C.rows_with_bytes(offsets, data, ~_ID_CHARS) & (forced < 0) & ~is_null
    odd_rows = np.flatnonzero(odd)
    if len(odd_rows):
        odd_vals = np.asarray(text.take(pa.array(odd_rows)).to_numpy(zero_copy_only=False), dtype=object)
        fixed = C.map_unique(odd_vals, _odd_text)
        text = C.replace_rows(text, odd_rows, pa.array([t for t, _ in fixed], type=pa.string()))
        forced[odd_rows] = [s for _, s in fixed]
        offsets, data = C.offsets_data(text)
    is_null = np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    lengths = np.where(is_null, 0, np.diff(offsets))

    # --- classification
    status = np.full(n, MALFORMED, dtype=np.int8)
    status[is_null | (lengths == 0)] = MISSING
    has_forced = forced >= 0
    status[has_forced] = forced[has_forced]
    birth = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    idm = np.zeros((n, 18), dtype=np.uint8)

    rows18 = np.flatnonzero((lengths == 18) & ~has_forced & ~is_null)
    m18 = C.fixed_matrix(offsets, data, rows18, 18)
    st18, b18 = _classify18(m18)
    status[rows18] = st18
    birth[rows18] = b18
    idm[rows18] = m18

    rows15 = np.flatnonzero((lengths == 15) & ~has_forced & ~is_null)
    m15 = C.fixed_matrix(offsets, data, rows15, 15)
    all_digits = ((m15 >= _ZERO) & (m15 <= _NINE)).all(axis=1)
    rows15, m15 = rows15[all_digits], m15[all_digits]
    if len(rows15):
        p17 = np.concatenate(
            [m15[:, :6], np.full((len(m15), 2), [ord("1"), ord("9")], dtype=np.uint8), m15[:, 6:]], axis=1
        )
        m18u = np.concatenate([p17, _check_chars(p17)[:, None]], axis=1)
        st, b = _classify18(m18u)
        st = np.where(st == VALID, UPGRADED, st).astype(np.int8)
        status[rows15] = st
        birth[rows15] = b
        idm[rows15] = m18u

    valid = (status == VALID) | (status == UPGRADED)
    birth[~valid] = np.datetime64("NaT")

    # --- id_clean: the evidence; for damaged 18-digit "…000" values the 15 digits that survive
    damaged18 = np.zeros(n, dtype=bool)
    damaged18[rows18] = st18 == DAMAGED
    clean = text
    if damaged18.any():
        clean = pc.if_else(pa.array(damaged18), pc.utf8_slice_codeunits(text, 0, 15), text)
    clean = pc.if_else(pa.array(status == MISSING), pa.nulls(n, type=pa.string()), clean)

    sex_code = np.where(valid, np.where((idm[:, 16].astype(np.int64) - _ZERO) % 2 == 1, 0, 1), 2)
    out = pd.DataFrame(
        {
            "id_number": C.to_series(C.matrix_to_arrow(idm, valid), index),
            "id_clean": C.to_series(clean, index),
            "id_status": C.labels_series(status, ID_STATUSES, index),
            "id_birth_date": pd.Series(birth, index=index),
            "id_sex": C.labels_series(sex_code, ("M", "F", None), index),
            "id_region": C.to_series(C.matrix_to_arrow(np.ascontiguousarray(idm[:, :6]), valid), index),
        },
        index=index,
    )
    if kind == "disability_cert":
        out["cert_category"] = pd.Series(cert_cat, index=index)
        out["cert_level"] = pd.Series(cert_lvl, index=index)
    return out


def normalize_id(raw: str | None) -> tuple[str, str | None, str | None]:
    """One resident ID as :func:`normalize_ids` classifies it: (``id_status``, ``id_number`` or
    None, ``id_clean`` or None). Plain 18- and 15-digit text takes the same classification on one
    row without building a table (screening: one applicant at a time); anything else (full-width
    digits, separators, Excel damage) goes through :func:`normalize_ids`."""
    text = raw.strip().upper() if isinstance(raw, str) else ""
    if len(text) == 15 and text.isascii() and text.isdigit():
        text = text[:6] + "19" + text[6:]
        text += check_char(text)
        upgraded = True
    else:
        upgraded = False
    if len(text) == 18 and text.isascii() and text[:17].isdigit() and (text[17].isdigit() or text[17] == "X"):
        status = int(_classify18(np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(1, 18))[0][0])
        if status != DAMAGED:
            if upgraded:
                status = UPGRADED if status == VALID else status
                clean = raw.strip()
            else:
                clean = text
            label = ID_STATUSES[status]
            return label, (text if label in VALID_STATUSES else None), clean
    ids = normalize_ids(pd.Series([raw], dtype=object))
    number, clean = ids["id_number"].iat[0], ids["id_clean"].iat[0]
    return (str(ids["id_status"].iat[0]), number if isinstance(number, str) else None,
            clean if isinstance(clean, str) else None)


def ids_one_typo_away(clean: str) -> list[str]:
    """Valid IDs one typo away from an 18-character ``clean`` ID: the check character mistyped,
    one of the first 17 digits replaced, or two adjacent digits swapped (the check character
    recomputed) — vectorized: screening asks for the ~170 of an application's ID at once."""
    body = clean[:17]
    if len(clean) != 18 or not (body.isascii() and body.isdigit()):
        return []
    b = np.frombuffer(body.encode("ascii"), dtype=np.uint8)
    position = np.repeat(np.arange(17), 10)
    digit = np.tile(np.arange(_ZERO, _ZERO + 10, dtype=np.uint8), 17)
    keep = digit != b[position]
    subs = np.repeat(b[None, :], int(keep.sum()), axis=0)
    subs[np.arange(len(subs)), position[keep]] = digit[keep]
    i = np.arange(16)
    swaps = np.repeat(b[None, :], 16, axis=0)
    swaps[i, i], swaps[i, i + 1] = b[i + 1], b[i]
    swaps = swaps[b[i] != b[i + 1]]
    mat = np.concatenate([b[None, :], subs, swaps])
    full = np.concatenate([mat, _check_chars(mat)[:, None]], axis=1)
    out = full.view("S18").ravel().astype(str).tolist()
    own = out[0]
    return ([own] if clean[17] != own[17] else []) + out[1:]
