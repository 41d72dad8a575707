"""Money at stake over many flags, each record's money counted once (SPEC §5, §7).

A flag puts money at stake on some of its records (see :mod:`relieflink.audit.kinds`
for what it is per rule kind) and its ``amount_at_stake`` is their sum. Two flags may
cite the same record — DUP-SAME-PROGRAM and EXCL-STATUS on one 低保 paid in two
households, MULTI-SOURCE and TEMP-FREQ on one grant — so a total is never the sum of
flags' amounts: it takes every involved record once, with the largest amount any of
the flags counted puts at stake on it. Every figure that adds money — the run's
summary, the report's headline, per rule, per agency, per subdistrict — comes from
here:

* per rule, each record once within the rule ("of which"; the rules' figures may
  add up to more than the total, which counts a record cited by two rules once);
* per agency, each record's money goes to the agency that paid it, so the agencies'
  figures add up to the total;
* per subdistrict, to the subdistrict of the flag that puts the largest amount on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STAKE_COLUMNS = ["flag_id", "rule_id", "file", "row", "amount"]


def record_stakes(flags: pd.DataFrame) -> pd.DataFrame:
    """One row per (flag, involved record) that carries money at stake (:data:`STAKE_COLUMNS`).

    A record is named by its file and row. Flags written before records carried their
    own amounts put the flag's whole amount on a record of their own (never shared)."""
    if flags.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "amount" else object) for c in STAKE_COLUMNS})
    ex = flags[["flag_id", "rule_id", "records", "amount_at_stake"]].explode("records")
    ex = ex[ex["records"].map(lambda r: isinstance(r, dict))]
    recs = ex["records"].tolist()
    legacy = np.array(["amount_at_stake" not in r for r in recs], dtype=bool)
    flag_ids = ex["flag_id"].astype(str).to_numpy(dtype=object)
    out = pd.DataFrame({
        "flag_id": flag_ids,
        "rule_id": ex["rule_id"].astype(str).to_numpy(dtype=object),
        "file": np.where(legacy, "flag:" + flag_ids, np.array([str(r.get("file")) for r in recs], dtype=object)),
        "row": np.where(legacy, 0, np.array([int(r.get("row") or 0) for r in recs], dtype=np.int64)),
        "amount": np.where(legacy, pd.to_numeric(ex["amount_at_stake"], errors="coerce").to_numpy(dtype=float),
                           np.array([r.get("amount_at_stake", np.nan) for r in recs], dtype=float)),
    })
    if legacy.any():
        out = out.drop_duplicates(["flag_id", "file"])
    out = out[out["amount"].fillna(0) > 0]
    return out.reset_index(drop=True)[STAKE_COLUMNS]


def counted_once(stakes: pd.DataFrame) -> pd.DataFrame:
    """One row per record: the largest amount at stake on it, and the flag it comes from
    (the smallest flag id among those putting that amount on it)."""
    ordered = stakes.sort_values(["file", "row", "amount", "flag_id"], ascending=[True, True, False, True], kind="mergesort")
    return ordered.drop_duplicates(["file", "row"]).reset_index(drop=True)


def total(flags: pd.DataFrame) -> float:
    """The money at stake of ``flags``, each involved record counted once."""
    return total_of(record_stakes(flags))


def by_rule(flags: pd.DataFrame) -> pd.Series:
    """Per rule id: the money at stake of its flags, each record counted once within the rule."""
    return by_rule_of(record_stakes(flags))


def by_record(flags: pd.DataFrame, key_of_record: pd.Series) -> pd.Series:
    """Per key of the record (``key_of_record``: indexed by ``file\\x1frow``, e.g. the
    record's agency): each record's money once, under its record's key."""
    return by_record_of(counted_once(record_stakes(flags)), key_of_record)


def by_flag(flags: pd.DataFrame, key_of_flag: pd.Series) -> pd.Series:
    """Per key of a flag (``key_of_flag``: indexed by flag id, e.g. the flag's subdistrict):
    each record's money once, under the key of the flag that puts the largest amount on it."""
    return by_flag_of(counted_once(record_stakes(flags)), key_of_flag)


# The same figures from stakes already made (record_stakes, counted_once): a report that shows
# many figures of one set of flags explodes their records once (relieflink.report.shared).


def total_of(stakes: pd.DataFrame) -> float:
    """:func:`total` of the flags whose :func:`record_stakes` are ``stakes``."""
    return round(float(counted_once(stakes)["amount"].sum()), 2)


def by_rule_of(stakes: pd.DataFrame) -> pd.Series:
    """:func:`by_rule` of the flags whose :func:`record_stakes` are ``stakes``."""
    once = stakes.sort_values(["rule_id", "file", "row", "amount"], ascending=[True, True, True, False], kind="mergesort")
    once = once.drop_duplicates(["rule_id", "file", "row"])
    return once.groupby("rule_id", sort=True)["amount"].sum().round(2)


def by_record_of(once: pd.DataFrame, key_of_record: pd.Series) -> pd.Series:
    """:func:`by_record` from :func:`counted_once` stakes ``once``."""
    keys = (once["file"].astype(str) + "\x1f" + once["row"].astype(str)).map(key_of_record)
    return once.groupby(keys.to_numpy(), sort=True)["amount"].sum().round(2)


def by_flag_of(once: pd.DataFrame, key_of_flag: pd.Series) -> pd.Series:
    """:func:`by_flag` from :func:`counted_once` stakes ``once``."""
    keys = once["flag_id"].map(key_of_flag)
    return once.groupby(keys.to_numpy(), sort=True)["amount"].sum().round(2)
