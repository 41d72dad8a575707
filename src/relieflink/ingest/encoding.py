"""Text encoding detection from the bytes, never from the file name.

Agencies export CSV as UTF-8 (with or without BOM), GBK or GB18030; an
occasional file arrives in another encoding. A decoding is accepted when it
is strict and the expected header columns appear in the decoded text, so a
GBK file that happens to decode as something else is not mistaken.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable

from charset_normalizer import from_bytes

_CANDIDATES = ("utf-8", "gb18030", "big5", "utf-16")


def _bom_encoding(data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def detect_encoding(data: bytes, expected_words: Iterable[str] = ()) -> tuple[str | None, str | None]:
    """Return ``(encoding, text)``: the first strict decoding that shows the header.

    ``expected_words`` are column names of the table; when given, a decoding
    must contain at least one of them in its first lines. Returns
    ``(guess, None)`` when no candidate decodes to a plausible header, with
    charset-normalizer's best guess for the error message.
    """
    words = [w for w in expected_words if w]
    bom = _bom_encoding(data)
    candidates = (bom,) if bom else _CANDIDATES
    head_len = 8192
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        head = text[:head_len]
        if not words or any(word in head for word in words):
            return encoding, text
    best = from_bytes(data[:65536]).best()
    guess = best.encoding if best is not None else None
    if guess and guess not in candidates and words:
        try:
            text = data.decode(guess)
        except (UnicodeDecodeError, LookupError):
            return guess, None
        if any(word in text[:head_len] for word in words):
            return guess, text
    return guess, None
