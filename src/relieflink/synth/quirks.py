"""Export-format damage: how dates, amounts, phones, IDs and names look in the
agencies' files. Format variety (dates, amounts, phones) applies in every
profile; identity damage (IDs, names) at the profile's rates.

Every damaging function returns the written values and, per value, the name
of the quirk applied (None: written as true), so that ``truth`` can log each
(file, row, column, quirk).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .ids import is_valid_id

EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９ＸＸ")
GBK_DOTS = {"·", ".", "．", ""}


def _parts(d: np.ndarray):
    d = np.asarray(d, dtype="datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, day


def pick_styles(rng, n: int, main: str, pool: list[str], mix: float) -> np.ndarray:
    """The habit ``main`` for most rows, another style of ``pool`` for a share ``mix``."""
    out = np.full(n, main, dtype=object)
    others = [p for p in pool if p != main]
    if others and n:
        dev = rng.random(n) < mix
        out[dev] = rng.choice(np.array(others, dtype=object), int(dev.sum()))
    return out


def fmt_dates(d: np.ndarray, styles: np.ndarray, xlsx: bool) -> np.ndarray:
    """Dates as written. xlsx: ``excel_date`` gives date objects, ``excel_serial`` ints."""
    d = np.asarray(d, dtype="datetime64[D]")
    n = len(d)
    out = np.full(n, None, dtype=object)
    nat = np.isnat(d)
    if n == 0:
        return out
    y, m, day = _parts(np.where(nat, np.datetime64("2000-01-01"), d))
    ys, ms, ds = (pd.Series(v).astype(str) for v in (y, m, day))
    ms2, ds2 = ms.str.zfill(2), ds.str.zfill(2)
    forms = {
        "iso": ys + "-" + ms2 + "-" + ds2,
        "slash": ys + "/" + ms + "/" + ds,
        "slash_padded": ys + "/" + ms2 + "/" + ds2,
        "dot": ys + "." + ms + "." + ds,
        "chinese": ys + "年" + ms + "月" + ds + "日",
        "compact": ys + ms2 + ds2,
    }
    serial = (np.where(nat, EXCEL_EPOCH, d) - EXCEL_EPOCH).astype(np.int64)
    for st in np.unique(styles.astype(str)):
        mk = (styles == st) & ~nat
        if st in forms:
            out[mk] = forms[st].to_numpy(dtype=object)[mk]
        elif st == "excel_serial":
            out[mk] = serial[mk].astype(object) if xlsx else serial[mk].astype(str).astype(object)
        elif st == "excel_date":
            if xlsx:
                out[mk] = [dt.date(int(a), int(b), int(c)) for a, b, c in zip(y[mk], m[mk], day[mk])]
            else:
                out[mk] = forms["iso"].to_numpy(dtype=object)[mk]
        else:
            raise ValueError(f"unknown date style {st}")
    return out


def fmt_months(mi: np.ndarray, styles: np.ndarray, xlsx: bool) -> np.ndarray:
    """Month indices (year*12+month-1; negative = blank) as YYYYMM text, number or YYYY-MM."""
    mi = np.asarray(mi, dtype=np.int64)
    out = np.full(len(mi), None, dtype=object)
    ok = mi >= 0
    y, m = mi // 12, mi % 12 + 1
    s6 = pd.Series(y).astype(str) + pd.Series(m).astype(str).str.zfill(2)
    for st in np.unique(styles.astype(str)):
        mk = (styles == st) & ok
        if st in ("yyyymm", "yyyymm_text"):
            out[mk] = s6.to_numpy(dtype=object)[mk]
        elif st == "yyyymm_number":
            out[mk] = (y * 100 + m)[mk].astype(float).astype(object) if xlsx else s6.to_numpy(dtype=object)[mk]
        elif st == "yyyy-mm":
            out[mk] = (pd.Series(y).astype(str) + "-" + pd.Series(m).astype(str).str.zfill(2)).to_numpy(dtype=object)[mk]
        else:
            raise ValueError(f"unknown month style {st}")
    return out


def fmt_amounts(a: np.ndarray, styles: np.ndarray, xlsx: bool) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    out = np.full(len(a), None, dtype=object)
    ok = ~np.isnan(a)
    if not len(a):
        return out
    s = pd.Series(np.where(ok, a, 0.0))
    integral = np.isclose(s.to_numpy(), np.round(s.to_numpy()))
    dec2 = s.map("{:.2f}".format)
    plain = pd.Series(np.where(integral, np.round(s).astype(np.int64).astype(str), dec2))
    thousands = s.map("{:,.2f}".format)
    for st in np.unique(styles.astype(str)):
        mk = (styles == st) & ok
        if st == "plain":
            v = plain
        elif st == "decimal2":
            v = dec2
        elif st == "yuan_suffix":
            v = plain + "元"
        elif st == "yen_prefix":
            v = "￥" + plain
        elif st in ("thousands", "thousands_quoted"):
            v = thousands
        elif st == "excel_number":
            if xlsx:
                out[mk] = a[mk].astype(object)
                continue
            v = plain
        else:
            raise ValueError(f"unknown amount style {st}")
        out[mk] = v.to_numpy(dtype=object)[mk]
    return out


def fmt_phones(p: np.ndarray, styles: np.ndarray) -> np.ndarray:
    p = pd.Series(np.asarray(p, dtype=object)).fillna("").astype(str)
    out = p.to_numpy(dtype=object).copy()
    land = p.str.startswith("0571").to_numpy()
    mob = ~land & (p.str.len() == 11).to_numpy()
    a, b, c = p.str[:3], p.str[3:7], p.str[7:]
    num = p.str[5:]
    for st in np.unique(styles.astype(str)):
        mk = styles == st
        if st == "plain":
            continue
        if st == "plus86":
            v_m, v_l = "+86 " + p, "(0571)" + num
        elif st == "plus86_spaced":
            v_m, v_l = "+86 " + a + " " + b + " " + c, "0571 " + num
        elif st == "dashed":
            v_m, v_l = a + "-" + b + "-" + c, p
        elif st == "spaced":
            v_m, v_l = a + " " + b + " " + c, "0571 " + num
        else:
            raise ValueError(f"unknown phone style {st}")
        out[mk & mob] = v_m.to_numpy(dtype=object)[mk & mob]
        out[mk & land] = v_l.to_numpy(dtype=object)[mk & land]
    out[(p == "").to_numpy()] = None
    return out


# ---- identity damage ----------------------------------------------------------------------------------

ID_QUIRKS = ["id_missing", "id_typo", "id_transposition", "id_excel_damaged", "id_legacy15",
             "id_fullwidth", "id_spaces", "id_dashes"]


def excel_float(id18: str) -> float:
    """What Excel keeps of an ID typed as a number: 15 significant digits (an X is lost)."""
    digits = id18[:17] + (id18[17] if id18[17].isdigit() else "0")
    return float(f"{float(digits):.15g}")


def excel_text(id18: str) -> str:
    """The text a CSV saved by Excel holds for such a cell (General format: 3.30105E+17)."""
    s = f"{excel_float(id18):.5E}"
    mant, exp = s.split("E")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}E+{int(exp):02d}"


def _typo(rng, s: str) -> str:
    for _ in range(20):
        p = int(rng.integers(0, 17))
        d = str(int(rng.integers(0, 10)))
        if d != s[p]:
            t = s[:p] + d + s[p + 1:]
            if not is_valid_id(t):
                return t
    return s[:17] + ("0" if s[17] != "0" else "1")


def _transpose(rng, s: str) -> str:
    cands = [p for p in range(16) if s[p] != s[p + 1]]
    rng.shuffle(cands)
    for p in cands:
        t = s[:p] + s[p + 1] + s[p] + s[p + 2:]
        if not is_valid_id(t):
            return t
    return _typo(rng, s)


def damage_ids(rng, ids: np.ndarray, birth_year: np.ndarray, rates: dict, *, excel: str | None,
               legacy: bool = True, xlsx: bool = False, suffix: np.ndarray | None = None,
               applicable: np.ndarray | None = None):
    """IDs as written. ``excel``: None (no Excel in the chain), 'float' (xlsx) or 'text' (CSV).

    ``suffix``: characters appended after the ID (certificate numbers). Returns (values, quirks).
    """
    ids = np.asarray(ids, dtype=object)
    n = len(ids)
    vals = ids.copy()
    q = np.full(n, None, dtype=object)
    if n == 0:
        return vals, q
    app = np.ones(n, dtype=bool) if applicable is None else np.asarray(applicable, dtype=bool)
    app &= pd.Series(ids).notna().to_numpy()
    u = rng.random(n)
    acc = 0.0
    for name in ID_QUIRKS:
        r = float(rates.get(name, 0.0))
        if name == "id_excel_damaged" and (excel is None or suffix is not None):
            r = 0.0
        if name == "id_missing" and suffix is not None:
            r = 0.0  # a certificate number is never left out of the certificate registry
        m = app & (u >= acc) & (u < acc + r) & (q == None)  # noqa: E711
        acc += r
        if name == "id_legacy15":
            m &= (birth_year >= 1900) & (birth_year <= 1999) & legacy
        if suffix is not None and name == "id_legacy15":
            m[:] = False
        q[m] = name
    # lower-case x (of IDs ending in X) where nothing else applied
    endx = app & (q == None) & pd.Series(ids).astype(str).str.endswith("X").to_numpy()  # noqa: E711
    lx = endx & (rng.random(n) < float(rates.get("id_lowercase_x", 0.0)))
    q[lx] = "id_lowercase_x"
    for i in np.flatnonzero(q != None):  # noqa: E711
        s = ids[i]
        k = q[i]
        if k == "id_missing":
            v = None
        elif k == "id_typo":
            v = _typo(rng, s)
        elif k == "id_transposition":
            v = _transpose(rng, s)
        elif k == "id_excel_damaged":
            v = excel_float(s) if excel == "float" else excel_text(s)
        elif k == "id_legacy15":
            v = s[:6] + s[8:17]
        elif k == "id_fullwidth":
            v = s.translate(FULLWIDTH)
        elif k == "id_spaces":
            v = s[:6] + " " + s[6:14] + " " + s[14:] if rng.random() < 0.7 else " ".join([s[:6], s[6:10], s[10:14], s[14:]])
        elif k == "id_dashes":
            v = s[:6] + "-" + s[6:14] + "-" + s[14:]
        elif k == "id_lowercase_x":
            v = s[:17] + "x"
        vals[i] = v
    if suffix is not None:
        sfx = np.asarray(suffix, dtype=object)
        has = pd.Series(vals).notna().to_numpy()
        vals[has] = (pd.Series(vals[has]).astype(str) + pd.Series(sfx[has]).astype(str)).to_numpy(dtype=object)
    return vals, q


def damage_names(rng, names: np.ndarray, surnames: np.ndarray, minority: np.ndarray, rare: np.ndarray,
                 rates: dict, trad: dict, homo: dict, dots: list[str], *, gbk: bool):
    """Names as written; returns (values, quirks). At most one quirk per name, plus
    the '?' of a GBK round trip where a character cannot be encoded."""
    names = np.asarray(names, dtype=object)
    n = len(names)
    vals = names.copy()
    q = np.full(n, None, dtype=object)
    if n == 0:
        return vals, q
    u = rng.random(n)
    ok = pd.Series(names).notna().to_numpy()
    r_sp = float(rates.get("name_spaces", 0))
    r_tr = float(rates.get("name_traditional", 0))
    r_ho = float(rates.get("name_homophone", 0))
    r_dot = float(rates.get("middle_dot_variant", 0))
    minority = np.asarray(minority, dtype=bool)
    cand_sp = ok & ~minority & (u < r_sp)
    cand_tr = ok & ~minority & (u >= r_sp) & (u < r_sp + r_tr)
    cand_ho = ok & ~minority & (u >= r_sp + r_tr) & (u < r_sp + r_tr + r_ho)
    cand_dot = ok & minority & (rng.random(n) < r_dot)
    dot_pool = [d for d in dots if d != "·" and (not gbk or d in GBK_DOTS)]
    for i in np.flatnonzero(cand_sp | cand_tr | cand_ho | cand_dot):
        s = names[i]
        if cand_sp[i]:
            if len(s) >= 3 and rng.random() < 0.5:
                v = " ".join(s)
            else:
                k = len(surnames[i]) if surnames[i] else 1
                v = s[:k] + " " + s[k:]
            vals[i], q[i] = v, "name_spaces"
        elif cand_tr[i]:
            v = "".join(trad.get(c, c) for c in s)
            if v != s:
                vals[i], q[i] = v, "name_traditional"
        elif cand_ho[i]:
            k = len(surnames[i]) if surnames[i] else 0
            pos = [p for p in range(k, len(s)) if s[p] in homo]
            if pos:
                p = pos[int(rng.integers(0, len(pos)))]
                alts = homo[s[p]]
                vals[i] = s[:p] + alts[int(rng.integers(0, len(alts)))] + s[p + 1:]
                q[i] = "name_homophone"
        elif cand_dot[i] and dot_pool:
            d = dot_pool[int(rng.integers(0, len(dot_pool)))]
            vals[i], q[i] = s.replace("·", d), "middle_dot_variant"
    if gbk:
        rr = np.flatnonzero(np.asarray(rare, dtype=bool) & ok)
        for i in rr:
            s = vals[i]
            v = "".join(c if _gbk_ok(c) else "?" for c in s)
            if v != s:
                vals[i] = v
                q[i] = "name_question_mark" if q[i] is None else q[i] + "+name_question_mark"
    return vals, q


def _gbk_ok(c: str) -> bool:
    try:
        c.encode("gbk")
        return True
    except UnicodeEncodeError:
        return False
