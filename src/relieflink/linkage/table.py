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
import pyarrow as pa
import pyarrow.compute as pc

NULL = -1
MAXW = 18  # width of the cached character matrix (resident IDs)


@dataclass
class Table:
    """Encoded columns of ``n`` nodes."""

    n: int
    codes: dict[str, np.ndarray] = field(default_factory=dict)  # string columns: int32 codes into vocab
    ints: dict[str, np.ndarray] = field(default_factory=dict)  # integer columns (int64, NULL = -1)
    vocab: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))

    cache: dict = field(default_factory=dict)  # derived per-vocabulary arrays (char matrix, dates, syllables)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, string_columns: list[str], int_columns: list[str] = (),
                   encoded: dict | None = None) -> "Table":
        """Encode: each column factorized on its own (or taken from ``encoded``: column -> (codes,
        distinct values)), then the column vocabularies merged into one."""
        n = len(df)
        per_col, uniques = [], []
        for c in string_columns:
            if encoded is not None and c in encoded:
                codes, uni = encoded[c]
            else:
                codes, uni = pd.factorize(df[c], use_na_sentinel=True)
            per_col.append(np.asarray(codes))
            uniques.append(np.asarray(uni, dtype=object))
        if uniques:
            allu = np.concatenate(uniques) if uniques else np.array([], dtype=object)
            gcodes, vocab = pd.factorize(allu)
            vocab = np.asarray(vocab, dtype=object)
        else:
            gcodes, vocab = np.zeros(0, np.int64), np.array([], dtype=object)
        t = cls(n=n, vocab=vocab)
        off = 0
        for c, codes, uni in zip(string_columns, per_col, uniques):
            remap = np.r_[gcodes[off:off + len(uni)], NULL].astype(np.int32)
            t.codes[c] = remap[np.where(codes >= 0, codes, len(uni))]
            off += len(uni)
        for c in int_columns:
            v = pd.to_numeric(df[c], errors="coerce")
            t.ints[c] = v.fillna(NULL).to_numpy(dtype=np.int64)
        return t

    # -- derived per-vocabulary arrays, computed once per table ----------------------
    def char_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(V, MAXW) uint32 code points of every vocabulary string (truncated, 0-padded) and true lengths."""
        if "chars" not in self.cache:
            mat, _ = char_matrix(self.vocab, MAXW)
            lens = pd.Series(self.vocab, dtype=object).str.len().fillna(0).to_numpy(dtype=np.int64)
            self.cache["chars"] = (mat, lens)
        return self.cache["chars"]

    def int_values(self, column: str) -> np.ndarray:
        """Per node: the column's string parsed as an integer (e.g. YYYYMMDD), NULL when missing/unparsable."""
        key = ("int", column)
        if key not in self.cache:
            c = self.col(column)
            ok = c != NULL
            uc, inv = np.unique(c[ok], return_inverse=True)
            vals = pd.to_numeric(pd.Series(self.vocab[uc], dtype=object), errors="coerce")
            vals = vals.fillna(NULL).to_numpy(dtype=np.int64)
            out = np.full(self.n, NULL, np.int64)
            out[ok] = vals[inv.ravel()]
            self.cache[key] = out
        return self.cache[key]

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
        if "chars" in self.cache:
            t.cache["chars"] = self.cache["chars"]
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
    lengths = pd.Series(np.asarray(strings, dtype=object)).str.len().fillna(0).to_numpy(dtype=np.int64)
    return u.view(np.uint32).reshape(len(u), width), lengths


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (a sort; numpy's hash-based ``unique`` is slower
    on millions of int64 keys)."""
    a = np.sort(np.asarray(a).ravel())
    if len(a) == 0:
        return a
    return a[np.r_[True, a[1:] != a[:-1]]]


def text_order(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` of distinct Python strings, sorted by Arrow: UTF-8 byte
    order is code-point order, so the order is the one ``sorted()`` gives, without a Python
    comparison per step. Anything else than strings (numbers, dates, mixed) is sorted by numpy."""
    values = np.asarray(values, dtype=object)
    try:
        arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.argsort(values, kind="stable")
    if arr.null_count:
        return np.argsort(values, kind="stable")
    return pc.sort_indices(arr).to_numpy().astype(np.int64)


def sorted_factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True, use_na_sentinel=True)``: codes in the order of the values and
    the sorted distinct values; the distinct values sorted by :func:`text_order`."""
    codes, uni = pd.factorize(values, use_na_sentinel=True)
    uni = np.asarray(uni, dtype=object)
    order = text_order(uni)
    rank = np.empty(len(order) + 1, np.int64)
    rank[order] = np.arange(len(order))
    rank[-1] = -1
    return rank[np.where(codes >= 0, codes, len(order))], uni[order]
