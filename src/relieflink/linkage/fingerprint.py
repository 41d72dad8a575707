"""The content key of a mention (its *fingerprint*): what the row says, never where it sits.

A mention is named by its file and row for a person reading the export, but
both change from one month to the next (rows reorder, a file is renamed). The
fingerprint names it by content instead: source, role, normalized name,
resident ID (valid, and the cleaned evidence), birth date, and the record's
program, category, amount, period, event date, roster number, relation,
disability category and level and its other kept columns (``detail``).
Places (subdistrict, community, address) and phones stay out: a household
that moves keeps its fingerprints.

Fingerprints serve three jobs, all of them here and nowhere else:

* the id of a person without a valid ID (the smallest fingerprint of its
  mentions; :mod:`relieflink.linkage.persons`);
* matching this month's persons to last month's
  (:mod:`relieflink.linkage.continuity`);
* binding identity decisions and identity review items to content
  (:mod:`relieflink.review`).

Two rows identical in every field (the same grant entered twice) get an
occurrence number in mention order, so that every mention of a run has its
own fingerprint and a repeat keeps a fingerprint of its own next month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: mention columns that enter the fingerprint
MENTION_FIELDS = ("source", "role", "name", "id_number", "id_clean", "birth_date")
#: columns of the mention's record (the input row) that enter it
RECORD_FIELDS = ("program", "category", "amount", "period_start", "period_end", "event_date", "household_no",
                 "relation", "disability_category", "disability_level", "detail")
DATE_FIELDS = frozenset({"birth_date", "period_start", "period_end", "event_date"})
NUMBER_FIELDS = frozenset({"amount", "disability_category", "disability_level"})
_HASH_KEY = "relieflink-fp-01"  # 16 bytes: SipHash key of fingerprints (never change: ids depend on it)
SEPARATOR = "\x1f"


def _hash64(texts: np.ndarray) -> np.ndarray:
    """SipHash-2-4 of each string under the fixed key (vectorized)."""
    return pd.util.hash_array(np.asarray(texts, dtype=object), hash_key=_HASH_KEY).astype(np.uint64)


def hex_text(h: np.ndarray) -> np.ndarray:
    """16 hex digits per 64-bit hash (through one bytes.hex, not a format call per value)."""
    if not len(h):
        return np.array([], dtype=object)
    digits = np.asarray(h, dtype=np.uint64).astype(">u8").tobytes().hex().encode("ascii")
    return np.frombuffer(digits, dtype="S16").astype(str).astype(object)


def _mix(h: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: every input bit moves every output bit (uint64 arithmetic wraps)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _unique_texts(uniques: pd.Series, field: str) -> np.ndarray:
    """The distinct values of one field as text, the same whether read from memory or from the
    written Parquet (dates as YYYY-MM-DD, numbers with two decimals)."""
    if field in DATE_FIELDS:
        if pd.api.types.is_datetime64_any_dtype(uniques.dtype):
            return uniques.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
        return np.array([str(v)[:10] for v in uniques], dtype=object)  # date / Timestamp / ISO text
    if field in NUMBER_FIELDS:
        return np.char.mod("%.2f", uniques.to_numpy(dtype=float)).astype(object)
    return uniques.astype(object).map(str).to_numpy(dtype=object)


def _field_hash(values: pd.Series, field: str) -> np.ndarray:
    """A 64-bit hash per row of one field (nulls hash like the empty text); text built once per value."""
    if field in NUMBER_FIELDS:
        values = pd.to_numeric(values.astype(object), errors="coerce").astype(float).round(2)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = _hash64(np.append(_unique_texts(pd.Series(uniques), field), ""))
    return table[np.where(codes >= 0, codes, len(uniques))]


def _combine(n: int, columns: list[tuple[pd.Series, str]]) -> np.ndarray:
    """One 64-bit hash per row over the fields, in order (a dozen columns, each vectorized)."""
    h = np.full(n, np.uint64(0x9E3779B97F4A7C15))
    for values, field in columns:
        h = _mix(h ^ _hash64(np.array([field], dtype=object))[0] ^ _field_hash(values, field))
    return h


def mention_fingerprints(mentions: pd.DataFrame, records: pd.DataFrame | None = None) -> pd.Series:
    """The fingerprint of every mention (aligned with ``mentions``), 16 hex digits.

    ``records``: the record table (``record_id`` → program, period, amount, ...);
    without it only the mention's own fields count. Repeats are numbered in the
    order of ``mention_id`` (else of the rows).
    """
    n = len(mentions)
    if n == 0:
        return pd.Series([], index=mentions.index, dtype=object)
    h = _combine(n, [(mentions[f], f) for f in MENTION_FIELDS if f in mentions])
    if records is not None and "record_id" in mentions and len(records):
        # the record's fields hashed once per record, then carried to its mentions
        fields = [(records[f], f) for f in RECORD_FIELDS if f in records]
        record_hash = np.append(_combine(len(records), fields), np.uint64(0))
        row = pd.Index(records["record_id"]).get_indexer(mentions["record_id"].to_numpy())
        h = _mix(h ^ record_hash[np.where(row >= 0, row, len(records))])
    order = np.argsort(mentions["mention_id"].to_numpy(), kind="stable") if "mention_id" in mentions else np.arange(n)
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = pd.Series(h[order]).groupby(h[order], sort=False).cumcount().to_numpy()
    # a repeat of an identical row: its occurrence number mixed in
    h = np.where(occurrence > 0, _mix(h ^ _mix(occurrence.astype(np.uint64))), h)
    base = hex_text(h)
    return pd.Series(base, index=mentions.index, dtype=object)
