"""Columnar, dictionary-encoded view of the nodes being linked.

Every string column is encoded against one shared vocabulary (so that codes of
two different columns compare, e.g. a given name against a surname), integer
columns are kept as ``int64`` with a null mask. Comparison kernels work on
integer codes and, where a string kernel is needed, on the *distinct code
pairs* of the candidate pairs only (:func:`unique_code_pairs`), so that the
cost of Jaro–Winkler or Hamming distances grows with the number of distinct
value pairs, not with the number of record pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

NULL = -1


@dataclass
class Table:
    """Encoded columns of ``n`` nodes."""

    n: int
    codes: dict[str, np.ndarray] = field(default_factory=dict)  # string columns: int32 codes into vocab
    ints: dict[str, np.ndarray] = field(default_factory=dict)  # integer columns (int64, NULL = -1)
    vocab: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))

    @classmethod
    def from_frame(cls, df: pd.DataFrame, string_columns: list[str], int_columns: list[str] = ()) -> "Table":
        n = len(df)
        parts = []
        for c in string_columns:
            s = df[c]
            parts.append(s.astype(object).where(s.notna(), None).to_numpy(dtype=object))
        if parts:
            allv = np.concatenate(parts)
            codes, vocab = pd.factorize(allv, use_na_sentinel=True)
            codes = codes.astype(np.int32)
        else:
            codes, vocab = np.zeros(0, np.int32), np.array([], dtype=object)
        t = cls(n=n, vocab=np.asarray(vocab, dtype=object))
        for i, c in enumerate(string_columns):
            t.codes[c] = codes[i * n:(i + 1) * n]
        for c in int_columns:
            v = pd.to_numeric(df[c], errors="coerce")
            t.ints[c] = v.fillna(NULL).to_numpy(dtype=np.int64)
        return t

    def has(self, column: str) -> bool:
        return column in self.codes or column in self.ints

    def col(self, column: str) -> np.ndarray:
        if column in self.codes:
            return self.codes[column]
        return self.ints[column]

    def is_null(self, column: str, idx: np.ndarray) -> np.ndarray:
        return self.col(column)[idx] == NULL

    def strings(self, codes: np.ndarray) -> np.ndarray:
        """Vocabulary strings of codes (codes must not be NULL)."""
        return self.vocab[codes]

    def take(self, idx: np.ndarray) -> "Table":
        t = Table(n=len(idx), vocab=self.vocab)
        t.codes = {k: v[idx] for k, v in self.codes.items()}
        t.ints = {k: v[idx] for k, v in self.ints.items()}
        return t


def unique_code_pairs(cl: np.ndarray, cr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (left code, right code) pairs and the inverse index back to the input."""
    key = cl.astype(np.int64) * (np.int64(1) << 32) + cr.astype(np.int64)
    ukey, inv = np.unique(key, return_inverse=True)
    return (ukey >> 32).astype(np.int64), (ukey & 0xFFFFFFFF).astype(np.int64), inv.ravel()


def char_matrix(strings: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) uint32 matrix of code points (0-padded) and the string lengths."""
    if len(strings) == 0:
        return np.zeros((0, width), np.uint32), np.zeros(0, np.int64)
    u = np.asarray(strings, dtype=f"U{width}")
    lengths = np.char.str_len(np.asarray(strings, dtype=str)).astype(np.int64)
    return u.view(np.uint32).reshape(len(u), width), lengths
