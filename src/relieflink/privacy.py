"""Masking of personal data (SPEC §7), one implementation for audit explanations and reports.

Masking is on unless ``mask=False`` is passed to the report writers.

* resident IDs and other identity numbers: first 6 and last 4 characters
  (``330105********1234``); a disability-certificate number keeps its last 4 too;
* phones: first 3 and last 4 (``138****5678``);
* names: first and last character (``张*明``, ``王*``);
* addresses: the first 6 characters;
* free text (raw cell values): every digit run that could be an ID or a phone
  is masked; the raw text of a whole rejected row is not shown at all.
"""

from __future__ import annotations

import hashlib
import hmac

import re


def is_blank(v: object) -> bool:
    """None, NaN, pd.NA or NaT (a scalar that stands for a missing value)."""
    if v is None:
        return True
    try:
        return v != v or type(v).__name__ in ("NAType", "NaTType")  # NaN != NaN
    except TypeError:  # pd.NA: its truth value is ambiguous
        return True


def as_text(v: object) -> str:
    return "" if is_blank(v) else str(v)

_ID_RUN = re.compile(r"[0-9０-９][0-9０-９\-\s]{13,}[0-9０-９Xx]")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[\s\-]?)?1[3-9][0-9][\s\-]?[0-9]{4}[\s\-]?[0-9]{4}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0[0-9]{2,3}[\s\-]?[0-9]{7,8}(?![0-9])")
_LONG_DIGITS = re.compile(r"[0-9]{7,}")

NAME_COLUMNS = ("姓名", "申请人", "户主", "监护人", "xm", "受援人", "name")
ID_COLUMNS = ("身份证", "证件号", "证号", "学籍号", "身份号码", "cjzh", "id_")
PHONE_COLUMNS = ("电话", "手机", "phone")
ADDRESS_COLUMNS = ("住址", "地址", "address")


def mask_name(name: object) -> str:
    """张*明 / 王* : keep the first and (for 3+ characters) the last character."""
    s = as_text(name)
    if len(s) >= 3:
        return s[0] + "*" * (len(s) - 2) + s[-1] if len(s) > 3 else s[0] + "*" + s[-1]
    if len(s) == 2:
        return s[0] + "*"
    return s


def mask_id(value: object) -> str:
    """330105********1234: first 6 and last 4 characters; shorter values entirely masked."""
    s = as_text(value).strip()
    if not s:
        return ""
    if len(s) >= 11:
        return s[:6] + "*" * (len(s) - 10) + s[-4:]
    return "*" * len(s)


def mask_phone(value: object) -> str:
    """138****5678 / 057*****6666: first 3 and last 4 digits kept."""
    s = as_text(value).strip()
    if len(s) >= 8:
        return s[:3] + "*" * (len(s) - 7) + s[-4:]
    return "*" * len(s)


def mask_address(value: object) -> str:
    s = as_text(value)
    return s[:6] + "****" if len(s) > 6 else s


def scrub_text(value: object) -> str:
    """Mask every ID-like digit run, phone number and long number inside a free text."""
    s = as_text(value)
    s = _MOBILE.sub(lambda m: mask_phone(re.sub(r"[^0-9]", "", m.group(0))[-11:]), s)
    s = _ID_RUN.sub(lambda m: mask_id(re.sub(r"[\s\-]", "", m.group(0))), s)
    s = _LANDLINE.sub(lambda m: mask_phone(re.sub(r"[^0-9]", "", m.group(0))), s)
    s = _LONG_DIGITS.sub(lambda m: mask_id(m.group(0)), s)
    return s


def mask_cell(column: object, value: object) -> str:
    """Mask a raw cell value according to its column's name."""
    col = as_text(column)
    if not col:
        return ""
    low = col.lower()
    if any(k in low for k in ID_COLUMNS):
        return scrub_text(mask_id(value)) if value not in (None, "") else ""
    if any(k in low for k in PHONE_COLUMNS):
        return mask_phone(value)
    if any(k in low for k in NAME_COLUMNS):
        return mask_name(value)
    if any(k in low for k in ADDRESS_COLUMNS):
        return mask_address(value)
    return scrub_text(value)


def pseudonym(value: str, key: bytes) -> str:
    """A keyed pseudonym of an identifier (SPEC §7): HMAC-SHA256 under the platform's secret
    key, 16 hex digits after ``PSN-``. The same ID gives the same pseudonym in every output made
    with the key, so agencies can join their lists without seeing IDs; without the key it can
    be neither reversed nor recomputed from a guessed ID."""
    return "PSN-" + hmac.new(key, value.strip().upper().encode("utf-8"), hashlib.sha256).hexdigest()[:16]


class Masker:
    """Applies masking when ``enabled``; passes values through otherwise. With a
    ``pseudonym_key``, IDs become keyed pseudonyms instead of masked IDs."""

    def __init__(self, enabled: bool = True, pseudonym_key: bytes | None = None) -> None:
        self.enabled = enabled
        self.pseudonym_key = pseudonym_key

    def name(self, v: object) -> str:
        s = as_text(v)
        return mask_name(s) if self.enabled else s

    def id(self, v: object) -> str:
        s = as_text(v)
        if self.pseudonym_key and s.strip():
            return pseudonym(s, self.pseudonym_key)
        return mask_id(s) if self.enabled else s

    def explanation(self, text: object, id_number: object) -> str:
        """A flag's explanation as the report shows it: scrubbed like any text, and with a
        pseudonym key the person's masked ID in it replaced by their pseudonym."""
        s = self.text(text)
        person_id_number = as_text(id_number)
        if self.pseudonym_key and person_id_number.strip():
            s = s.replace(mask_id(person_id_number), pseudonym(person_id_number, self.pseudonym_key))
        return s

    def phone(self, v: object) -> str:
        s = as_text(v)
        return mask_phone(s) if self.enabled else s

    def text(self, v: object) -> str:
        s = as_text(v)
        return scrub_text(s) if self.enabled else s

    def raw(self, column: object, v: object) -> str:
        """A quarantined raw value: the whole-row text is hidden when masking."""
        s = as_text(v)
        if not self.enabled:
            return s
        if is_blank(column) or str(column) == "":
            return "（整行原文已隐藏）" if s.strip() else ""
        return mask_cell(column, s)
