"""Keyed hashes that let a report's reader find a person by full ID or name, without the page holding either.

An auditor holding a full resident ID or name types it into the explorer; the
page's script hashes what is typed with WebCrypto (HMAC-SHA256, the same
normalization as here) and compares it with the hashes the page carries for
each person it names: the first 32 bits of HMAC-SHA256 under the page's
search key. 32 bits are plenty to find one person among a district's (a
false match per ~4 billion guesses) and tell a reader of the page little.

The search key is derived, never a secret itself: with the platform's
pseudonym key, HMAC-SHA256(pseudonym key, label + digest of the run's
inputs); without one, SHA-256(label + digest of the run's inputs). The same
inputs give the same key (outputs stay byte-identical), another month's run
another key. Each agency's page gets its own key (HMAC of the run's key and
the agency's code), so hashes cannot be matched across agencies' pages.

What this protects against, honestly: the page never shows an ID or a name,
so it can be read, printed and passed around without disclosing them; but the
key is in the page (the script needs it), so whoever holds the page can test
guesses — and the space of resident IDs of a district (region codes × birth
dates × sequence numbers) is small enough to try exhaustively in minutes, and
names far smaller. It stops casual reading, not a determined attacker: a
report stays a document for authorized readers.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from relieflink.identity.names import DOT_VARIANTS
from relieflink.privacy import is_blank

LABEL = b"relieflink report search v1\x00"
#: the separating-dot variants of transliterated names, unified to "·" before hashing (the page's
#: script receives the same list)
DOTS = DOT_VARIANTS


def search_key(manifest: dict | None, pseudonym_key: bytes | None = None) -> bytes:
    """The run's search key: from its inputs (file names and SHA-256 in ``run.json``), under the
    platform's pseudonym key when there is one."""
    inputs = (manifest or {}).get("inputs") or []
    digest = hashlib.sha256()
    for d in sorted(inputs, key=lambda d: (str(d.get("file")), str(d.get("sha256")))):
        digest.update(f"{d.get('file')}\x1f{d.get('sha256')}\x1e".encode("utf-8"))
    material = LABEL + digest.digest()
    if pseudonym_key:
        return hmac.new(pseudonym_key, material, hashlib.sha256).digest()
    return hashlib.sha256(material).digest()


def page_key(run_key: bytes, agency: str | None) -> bytes:
    """The key of one page: the run's for the platform's report, a derived one per agency."""
    if agency is None:
        return run_key
    return hmac.new(run_key, b"agency\x00" + agency.encode("utf-8"), hashlib.sha256).digest()


def normalize_id(value: str) -> str:
    """What is hashed of an ID: stripped, upper case (a final ``x`` is ``X``)."""
    return "".join(value.split()).upper()


def normalize_name(value: str) -> str:
    """What is hashed of a name: NFKC, no whitespace, separating dots unified to ``·``."""
    s = "".join(unicodedata.normalize("NFKC", value).split())
    out, previous_dot = [], False
    for ch in s:
        dot = ch in DOTS
        if dot and previous_dot:
            continue
        out.append("·" if dot else ch)
        previous_dot = dot
    return "".join(out).strip("·")


def _hash(text: str, key: bytes) -> int:
    return int.from_bytes(hmac.digest(key, text.encode("utf-8"), "sha256")[:4], "big")


def id_hash(value: object, key: bytes) -> int | None:
    """32-bit keyed hash of a resident ID (None for none)."""
    if is_blank(value) or not str(value).strip():
        return None
    return _hash(normalize_id(str(value)), key)


def name_hash(value: object, key: bytes) -> int | None:
    """32-bit keyed hash of a (normalized) name (None for none)."""
    if is_blank(value) or not str(value).strip():
        return None
    return _hash(normalize_name(str(value)), key)


__all__ = ["DOTS", "id_hash", "name_hash", "normalize_id", "normalize_name", "page_key", "search_key"]
