"""Text encoding detection from the bytes, never from the file name, and lines out of a text file.

Agencies export CSV as UTF-8 (with or without BOM), GBK or GB18030; an
occasional file arrives in another encoding. A decoding is accepted when it
is strict and the expected header columns appear in the decoded text, so a
GBK file that happens to decode as something else is not mistaken.

One damaged byte (a bad sector, a file cut inside a multibyte character)
must cost its own line, not the file: when no encoding decodes the whole
file, :func:`decode_lines` decodes it line by line and reports the lines no
candidate could read, so that the reader quarantines them and keeps the rest.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from charset_normalizer import from_bytes

_CANDIDATES = ("utf-8", "gb18030", "big5", "utf-16")
# Encodings in which the bytes \r and \n only ever mean a line break (never part of a
# multibyte character), so that the bytes can be split into lines before decoding.
_LINE_SAFE = ("utf-8", "gb18030", "big5")
_HEAD_CHARS = 8192


def _bom_encoding(data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _shows_header(head: str, words: list[str]) -> bool:
    return not words or any(word in head for word in words)


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
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _shows_header(text[:_HEAD_CHARS], words):
            return encoding, text
    best = from_bytes(data[:65536]).best()
    guess = best.encoding if best is not None else None
    if guess and guess not in candidates and words:
        try:
            text = data.decode(guess)
        except (UnicodeDecodeError, LookupError):
            return guess, None
        if _shows_header(text[:_HEAD_CHARS], words):
            return guess, text
    return guess, None


def split_lines(text: str) -> list[str]:
    """Physical lines as an editor shows them (\\r\\n, \\r or \\n end a line); no empty last line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


@dataclass
class DecodedLines:
    """A text file as physical lines; ``lines[i]`` is line ``i + 1`` of the file (None: unreadable).

    ``undecodable`` holds the (0-based) indices of the lines the encoding
    could not decode (their ``lines`` entry is empty) and ``escaped`` their
    bytes as text with the undecodable bytes written ``\\xNN``.
    """

    encoding: str | None
    lines: list[str] | None
    undecodable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    escaped: list[str] = field(default_factory=list)


def decode_lines(data: bytes, expected_words: Iterable[str] = ()) -> DecodedLines:
    """The file's lines in the detected encoding; ``lines`` None when no encoding shows the header
    (``encoding`` is then the best guess, for the message).

    The fast path decodes the whole file (:func:`detect_encoding`). Only when
    that fails are the bytes split into lines and each line decoded on its
    own, with each candidate encoding whose header shows; the candidate that
    reads the most lines wins (ties: candidate order) and the lines it cannot
    read are reported as undecodable.
    """
    words = [w for w in expected_words if w]
    encoding, text = detect_encoding(data, words)
    if text is not None:
        return DecodedLines(encoding, split_lines(text[1:] if text.startswith("\ufeff") else text))
    bom = _bom_encoding(data)
    if bom == "utf-16":
        return DecodedLines(encoding, None)
    body = data[len(codecs.BOM_UTF8):] if bom else data
    raw_lines = split_lines_bytes(body)
    best: DecodedLines | None = None
    for candidate in ("utf-8",) if bom else _LINE_SAFE:
        decoded = _decode_each(raw_lines, candidate, best_bad=len(best.undecodable) if best else None)
        if decoded is None:
            continue
        head = "\n".join(decoded.lines[:64])[:_HEAD_CHARS]
        if _shows_header(head, words) and (best is None or len(decoded.undecodable) < len(best.undecodable)):
            best = decoded
    return best if best is not None else DecodedLines(encoding, None)


def split_lines_bytes(data: bytes) -> list[bytes]:
    """:func:`split_lines` on bytes (for encodings in which \\r and \\n are only line breaks)."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _decode_each(raw_lines: list[bytes], encoding: str, best_bad: int | None) -> DecodedLines | None:
    """Each line decoded strictly; None once more lines fail than ``best_bad`` (a better candidate is known)."""
    lines: list[str] = []
    bad: list[int] = []
    for i, raw in enumerate(raw_lines):
        try:
            lines.append(raw.decode(encoding))
        except UnicodeDecodeError:
            lines.append("")
            bad.append(i)
            if best_bad is not None and len(bad) >= best_bad:
                return None
    escaped = [raw_lines[i].decode(encoding, errors="backslashreplace") for i in bad]
    return DecodedLines(encoding, lines, np.asarray(bad, dtype=np.int64), escaped)
