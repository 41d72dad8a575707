"""Resident ID helpers of the generator (GB 11643-1999), vectorized.

Deliberately independent of :mod:`relieflink.identity`: the generator's truth
must not share code with the code it is used to test.
"""

from __future__ import annotations

import numpy as np

WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
CHECK_CHARS = np.array(list("0123456789X"))


def check_char(body17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a 17-digit body."""
    s = sum(int(c) * int(w) for c, w in zip(body17, WEIGHTS))
    return "0123456789X"[(12 - s % 11) % 11]


def is_valid_id(s: str) -> bool:
    """True for an 18-character ID whose check character matches (upper-case X)."""
    if not isinstance(s, str) or len(s) != 18 or not s[:17].isdigit() or not s[:17].isascii():
        return False
    return check_char(s[:17]) == s[17]


def check_chars_vec(bodies: np.ndarray) -> np.ndarray:
    """Check characters for an array of 17-digit strings."""
    b = np.asarray(bodies, dtype="U17")
    digits = b.view("U1").reshape(len(b), 17).astype(np.int64) if len(b) else np.zeros((0, 17), np.int64)
    s = digits @ WEIGHTS
    return CHECK_CHARS[(12 - s % 11) % 11]


def make_ids(region: np.ndarray, birth_yyyymmdd: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """18-character IDs from region codes (str), birth dates (int YYYYMMDD) and sequence numbers."""
    n = len(region)
    bodies = np.char.add(np.char.add(np.asarray(region, dtype="U6"),
                                      np.asarray(birth_yyyymmdd).astype("U8")),
                         np.char.zfill(np.asarray(seq).astype("U3"), 3))
    if n == 0:
        return np.array([], dtype="U18")
    return np.char.add(bodies, check_chars_vec(bodies))


def legacy15(id18: str) -> str:
    """The 15-digit form of an ID of someone born 1900-1999."""
    return id18[:6] + id18[8:17]
