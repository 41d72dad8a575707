"""Phone numbers: mobiles to 11 digits, landlines to ``area-local``.

Accepted spellings include ``+86 138…``, ``86138…``, ``0086…``, ``138-xxxx-xxxx``,
``138 xxxx xxxx``, ``(0571)88849709``, ``0571-88849709``, ``057188849709``,
``+86 571 88849709``, a bare 7–8 digit local number (given the default area
code), full-width digits, and floats from xlsx (``13812345678.0``). A cell with
several numbers (``138…/139…``, ``138…，0571-…``, ``…转123``) yields the first.

Output: ``phone`` — ``13812345678`` for a mobile, ``0571-88849709`` for a
landline; ``phone_kind`` — ``mobile`` / ``landline``; both ``<NA>`` when the value
is blank or not a usable Chinese phone number (too short, foreign, a service
number such as 400/95xxx).

The rules (after the country code ``86`` is removed):

* mobile: 11 digits ``1[3-9]…`` (a leading trunk ``0`` before a mobile is dropped);
* landline with area code: ``0`` + area code (``010``/``02x`` are 3 digits, the
  others 4) + a 7–8 digit local number not starting with 0 or 1;
* ``+86`` followed by an area code without its trunk ``0`` gets the ``0`` back.

Vectorized: the digits of each cell are read into an int64 with numpy, the
rules are integer arithmetic, and the output strings are built as byte
matrices. Only cells with letters or non-ASCII characters left after NFKC (or
separators between several numbers) see Python, once per unique value.
"""

from __future__ import annotations

import math
import numbers
import re

import numpy as np
import pandas as pd
import pyarrow as pa

from relieflink.identity import _cells as C

__all__ = ["normalize_phones"]

_MAX_DIGITS = 18
_POW10 = 10 ** np.arange(19, dtype=np.int64)  # 10**0 … 10**18
_SEPARATORS_RE = re.compile(r"[/,;|#、，；]|转|分机|或|ext|EXT|Ext|x(?=\d)|X(?=\d)")
_PLAIN = np.zeros(256, dtype=bool)  # bytes the vectorized path understands
for _c in "0123456789+-(). \t\r\n\v\f\x1c\x1d\x1e\x1f":
    _PLAIN[ord(_c)] = True
_DELETE = C.byte_table(delete="-(). \t\r\n\v\f\x1c\x1d\x1e\x1f")
_JUNK_RE = C.SPACE_RE + "|" + C.INVISIBLE_RE


def _pow10(e: np.ndarray) -> np.ndarray:
    return np.take(_POW10, e, mode="clip")


def _odd_text(s: str) -> str | None:
    """Cells with separators, letters or leftover non-ASCII: keep the first number's digits."""
    first = _SEPARATORS_RE.split(s, maxsplit=1)[0]
    kept = "".join(ch for ch in first if ch.isascii() and (ch.isdigit() or ch == "+"))
    return kept or None


def _other_cell(v: object) -> str | None:
    if isinstance(v, bool) or isinstance(v, np.bool_):
        return None
    if isinstance(v, numbers.Integral):
        return str(int(v)) if v >= 0 else None
    if isinstance(v, numbers.Real):
        x = float(v)
        if math.isfinite(x) and x >= 0 and x == int(x) and x < 1e18:
            return str(int(x))
        return None
    return str(v)


def normalize_phones(raw: pd.Series, default_area_code: str = "0571") -> pd.DataFrame:
    """Normalize a raw column of phone numbers; see the module doc.

    Returns a DataFrame aligned on ``raw.index`` with ``phone`` and ``phone_kind``.
    """
    if not isinstance(raw, pd.Series):
        raw = pd.Series(raw, dtype=object)
    area_default = str(default_area_code).strip().replace("-", "")
    if not area_default.startswith("0"):
        area_default = "0" + area_default
    if not (area_default.isascii() and area_default.isdigit() and len(area_default) in (3, 4)):
        raise ValueError(f"bad default area code {default_area_code!r}")
    index = raw.index
    split = C.split_cells(raw)
    n = split.n
    text = split.text
    if len(split.other_pos):
        other = C.map_unique(split.other_vals, _other_cell)
        text = C.replace_rows(text, split.other_pos, pa.array(other, type=pa.string()))
    text = C.normalize_non_ascii(text, _JUNK_RE)

    # cells the byte path cannot read (letters, separators, non-ASCII): Python, per unique value
    offsets, data = C.offsets_data(text)
    odd = np.flatnonzero(C.rows_with_bytes(offsets, data, ~_PLAIN))
    text = C.map_text_rows(text, odd, _odd_text)
    offsets, data = C.translate_bytes(text, _DELETE)
    is_null = np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool)

    # '+' only as the first character
    start = offsets[:-1].copy()
    end = offsets[1:]
    length = end - start
    first_byte = np.where(length > 0, data[np.minimum(start, max(len(data) - 1, 0))] if len(data) else 0, 0)
    plus = (length > 0) & (first_byte == ord("+"))
    start = start + plus
    length = end - start
    n_plus = np.zeros(n, dtype=np.int64)
    if len(data):
        plus_pos = np.flatnonzero(data == ord("+"))
        if len(plus_pos):
            np.add.at(n_plus, C.row_of(offsets, plus_pos), 1)
    usable = ~is_null & (length > 0) & (length <= _MAX_DIGITS) & (n_plus == plus.astype(np.int64))

    # digits, right-aligned in an 18-wide window (zero-padded on the left), and their value
    rows = np.flatnonzero(usable)
    L = length[rows]
    row_end = end[rows]
    mat = np.zeros((len(rows), _MAX_DIGITS), dtype=np.uint8)
    v = np.zeros(len(rows), dtype=np.int64)
    last = len(data) - 1
    for j in range(_MAX_DIGITS):
        back = _MAX_DIGITS - j  # this column holds the back-th digit from the end
        has = L >= back
        if not has.any():
            continue
        col = np.where(has, data[np.minimum(np.maximum(row_end - back, 0), last)] - np.uint8(ord("0")), 0)
        mat[:, j] = col
        v += col.astype(np.int64) * _POW10[back - 1]
    p = plus[rows]

    def lead(k: int) -> np.ndarray:
        """The first k digits (as a number) of the current L-digit string, -1 if shorter."""
        return np.where(L >= k, v // _pow10(L - k), -1)

    # country code
    lead2, lead3, lead4 = lead(2), lead(3), lead(4)
    strip2 = (p & (lead2 == 86)) | (~p & (L == 13) & (lead3 == 861))
    strip4 = ~p & (L >= 13) & (lead4 == 86)  # 0086…
    stripped = strip2 | strip4
    foreign = p & ~strip2
    L = L - np.where(strip2, 2, np.where(strip4, 4, 0))
    v = v % _pow10(L)
    k = np.arange(_MAX_DIGITS, dtype=np.int64)[None, :]
    mat[k < (_MAX_DIGITS - L)[:, None]] = 0  # drop the country code's digits
    # +86 571 88849709: an area code without its trunk 0 gets it back
    d1, d2 = lead(1), lead(2)
    L = L + (stripped & (L >= 9) & (L <= 11) & ((d1 >= 2) | ((L == 10) & (d2 == 10))))
    d1, d2, d3 = lead(1), lead(2), lead(3)
    mobile = (L == 11) & (d1 == 1) & (d2 % 10 >= 3)
    trunk_mobile = (L == 12) & (d2 == 1) & (d3 % 10 >= 3)  # 0 + mobile
    mobile |= trunk_mobile
    L = np.where(trunk_mobile, 11, L)
    zero_lead = (L >= 2) & (d1 == 0)
    second = np.where(zero_lead, d2 % 10, -1)
    area_w = np.where((second == 1) | (second == 2), 3, 4)
    local_w = L - area_w
    local_first = np.where(local_w >= 1, (v // _pow10(local_w - 1)) % 10, -1)
    landline = zero_lead & (second >= 1) & (local_w >= 7) & (local_w <= 8) & (local_first >= 2) & ~mobile
    bare = ~zero_lead & (L == 8) & (d1 >= 2) & ~mobile & ~stripped
    ok_mobile = mobile & ~foreign
    ok_land = landline & ~foreign
    ok_bare = bare & ~foreign
    # the final L digits are the last L columns (an implied trunk 0 is a zeroed column)
    mat += np.uint8(ord("0"))

    parts: list[tuple[np.ndarray, pa.Array]] = []
    sel = np.flatnonzero(ok_mobile)
    parts.append((rows[sel], C.matrix_to_arrow(mat[sel, _MAX_DIGITS - 11 :])))
    dash = np.uint8(ord("-"))
    for aw in (3, 4):
        for lw in (7, 8):
            sel = np.flatnonzero(ok_land & (area_w == aw) & (local_w == lw))
            if len(sel):
                w = aw + lw
                out = np.empty((len(sel), w + 1), dtype=np.uint8)
                out[:, :aw] = mat[sel, _MAX_DIGITS - w : _MAX_DIGITS - lw]
                out[:, aw] = dash
                out[:, aw + 1 :] = mat[sel, _MAX_DIGITS - lw :]
                parts.append((rows[sel], C.matrix_to_arrow(out)))
    sel = np.flatnonzero(ok_bare)
    if len(sel):
        prefix = np.frombuffer((area_default + "-").encode("ascii"), dtype=np.uint8)
        out = np.concatenate([np.tile(prefix, (len(sel), 1)), mat[sel, _MAX_DIGITS - 8 :]], axis=1)
        parts.append((rows[sel], C.matrix_to_arrow(out)))
    phone = C.scatter(n, parts)
    kind = np.full(n, 2, dtype=np.int64)
    kind[rows[ok_mobile]] = 0
    kind[rows[ok_land | ok_bare]] = 1
    return pd.DataFrame(
        {
            "phone": C.to_series(phone, index),
            "phone_kind": C.labels_series(kind, ("mobile", "landline", None), index),
        },
        index=index,
    )
