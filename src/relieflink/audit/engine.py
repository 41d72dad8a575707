"""Run the rules over persons, households and records; assemble ``flags``.

Input: records with ``person_id`` and ``household_id`` (from linkage, or the
generator's truth), persons (name, valid ID, birth date, household) and
mentions (for rules about who is *named* in a source). Output: the flags
table of SPEC §7, one row per flag, each with its records as ``{file, row}``
lists, the period, the amount at stake, the link confidence and
explanations in Chinese and English. A pattern found on a link that the
pattern itself makes unlikely (``link_odds_factor``) is held apart: not a flag,
but an identity question for the review queue (``AuditResult.held``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relieflink.audit.confidence import flag_link_probability
from relieflink.audit.explain import explain, mask_id, mask_name
from relieflink.audit.grouping import lists_by_group
from relieflink.audit.kinds import find_hits
from relieflink.audit.periods import _EPOCH, coverage
from relieflink.audit.rules import RuleSet
from relieflink.config.catalog import Catalog

FLAG_COLUMNS = [
    "flag_id", "rule_id", "category", "status", "person_id", "household_id", "records", "programs", "missed_programs",
    "period_start", "period_end", "amount_at_stake", "link_confidence", "explanation_zh", "explanation_en",
]


def prepare_records(
    records: pd.DataFrame, catalog: Catalog, ruleset: RuleSet, mentions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Records with the period columns the rule kinds compare (see periods.py), and the
    beneficiary's name as written on the record (``name_key``: toneless pinyin) when the
    mentions carry it. Reversals (冲正) are netted here, the one place every rule reads its records
    from: a record with a negative amount and the record it reverses count in no rule."""
    r = records.loc[~_netted(records)].copy()
    if mentions is not None and "name_pinyin" in mentions and "record_id" in mentions:
        ben = mentions[mentions["role"].eq("beneficiary")].drop_duplicates("record_id").set_index("record_id")["name_pinyin"]
        r["name_key"] = r["record_id"].map(ben).astype(object)
    for column, default in (("link_confidence", 1.0), ("identity_resolved", True), ("household_no", None),
                            ("disability_level", pd.NA), ("event_date", pd.NaT), ("amount_basis", None), ("agency", None)):
        if column not in r:
            r[column] = default
    if r["agency"].isna().all() and "source" in r:
        r["agency"] = r["source"]
    cov = coverage(r, catalog, ruleset.school_year_paid_ahead_from_month)
    # only what the rule kinds read: every filter of a wide frame copies every column
    keep = ["record_id", "file", "row", "program", "kind", "category", "person_id", "household_id", "household_no",
            "agency", "amount", "amount_basis", "disability_level", "link_confidence", "identity_resolved", "name_key",
            "subdistrict"]
    slim = r[[c for c in keep if c in r]].copy()
    slim["category"] = slim["category"] if "category" in slim else None
    for column in ("person_id", "household_id", "household_no", "program", "agency", "kind"):
        slim[column] = slim[column].astype(object).where(slim[column].notna(), None)
    return pd.concat([slim, cov], axis=1)


def _netted(records: pd.DataFrame) -> np.ndarray:
    """Records that a reversal cancels: the reversals (negative amounts, whether or not the ingest
    found the record they reverse) and the records they reverse (``reverses_record_id``)."""
    amount = pd.to_numeric(records["amount"], errors="coerce") if "amount" in records else pd.Series(np.nan, index=records.index)
    out = (amount < 0).to_numpy(dtype=bool, na_value=False)
    if "reverses_record_id" in records and "record_id" in records:
        out = out | records["record_id"].isin(records["reverses_record_id"].dropna()).to_numpy(dtype=bool)
    return out


def _records_lists(flag_of: np.ndarray, ex: pd.DataFrame) -> pd.Series:
    """Each flag's involved records as ``{file, row}`` dicts, ordered by file and row."""
    order = np.lexsort((ex["row"].astype(np.int64).to_numpy(), ex["file"].astype(str).to_numpy(), flag_of))
    keys = flag_of[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    parts = np.split(ex["fr"].to_numpy()[order], starts[1:])
    return pd.Series([p.tolist() for p in parts], index=keys[starts], dtype=object)


def _flag_ids(flags: pd.DataFrame, ex: pd.DataFrame, flag_of: np.ndarray) -> pd.Series:
    """Stable ids from the rule clause, the person and the set of involved (file, row).

    The set is hashed order-free (a wrapping sum of 64-bit record hashes), so the
    id does not depend on record order and is the same in the next run.
    """
    record_hash = pd.util.hash_pandas_object(ex[["file", "row"]].astype(str), index=False).to_numpy()
    combined = np.zeros(len(flags), dtype=np.uint64)
    np.add.at(combined, flag_of, record_hash)
    head = pd.util.hash_array((flags["rule_id"] + "|" + flags["_clause"].astype(str) + "|" + flags["person_id"].astype(str)).to_numpy(dtype=object))
    value = (combined ^ head).astype(np.uint64)
    return pd.Series(np.char.add("F", np.char.zfill(np.char.mod("%x", value), 16)), index=flags.index)


def _no_flags() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FLAG_COLUMNS})


@dataclass(frozen=True)
class AuditResult:
    """The flags, and the ``held`` ones: patterns whose identity link is likelier wrong than
    right once the pattern itself is weighed (status ``held``). They are not flags but
    questions for the reviewer ("one person?"): a ``same person`` decision makes the link
    certain and the next run raises the flag."""

    flags: pd.DataFrame
    held: pd.DataFrame


def run_audit(
    records: pd.DataFrame,
    persons: pd.DataFrame,
    mentions: pd.DataFrame,
    ruleset: RuleSet,
    catalog: Catalog,
) -> pd.DataFrame:
    """Apply every rule; return the flags, sorted by rule and flag id (deterministic)."""
    return audit_records(records, persons, mentions, ruleset, catalog).flags


def audit_records(
    records: pd.DataFrame,
    persons: pd.DataFrame,
    mentions: pd.DataFrame,
    ruleset: RuleSet,
    catalog: Catalog,
) -> AuditResult:
    """Apply every rule; the flags and the held patterns, each sorted by rule and flag id."""
    r = prepare_records(records, catalog, ruleset, mentions)
    parts = []
    for clause, rule in enumerate(ruleset.rules):
        hits = find_hits(rule, r, persons, mentions, ruleset)
        if hits.empty:
            continue
        hits = hits.assign(rule_id=rule.id, category=rule.category, _clause=clause, _kind=rule.kind,
                           _rule_status=rule.status, _basis=rule.basis)
        parts.append(hits)
    if not parts:
        return AuditResult(_no_flags(), _no_flags())
    flags = pd.concat(parts, ignore_index=True)
    if "possible_unlinked" not in flags:
        flags["possible_unlinked"] = False

    # involved records → {file, row}, link confidence, agencies (vectorized over flag × record)
    exploded = flags[["record_ids"]].explode("record_ids").rename(columns={"record_ids": "record_id"})
    exploded["record_id"] = exploded["record_id"].astype(np.int64)
    info_columns = ["file", "row", "agency", "link_confidence", "identity_resolved", *(["name_key"] if "name_key" in r else [])]
    info = r.drop_duplicates("record_id").set_index("record_id")[info_columns]
    ex = exploded.join(info, on="record_id")
    flag_of = ex.index.to_numpy()
    ex = ex.reset_index(drop=True)
    ex["fr"] = [{"file": f, "row": int(w)} for f, w in zip(ex["file"], ex["row"])]
    flags["records"] = _records_lists(flag_of, ex)
    flags["link_confidence"] = ex.groupby(flag_of)["link_confidence"].min().astype(float)
    flags["_unresolved"] = ~ex["identity_resolved"].astype("boolean").fillna(True).astype(bool).groupby(flag_of).all()
    flags["_agencies"] = lists_by_group(flag_of, ex["agency"], unique=True).reindex(flags.index)
    flags["flag_id"] = _flag_ids(flags, ex, flag_of)
    # what a missed-benefit flag says is missing (the agency granting it should see the flag)
    flags["missed_programs"] = [list((f or {}).get("entitlement") or (f or {}).get("lacks_status") or [])
                                for f in flags["facts"]]

    factor = flags["_clause"].map({i: rule.link_odds_factor for i, rule in enumerate(ruleset.rules)}).astype(float)
    one_person = flag_link_probability(flags["link_confidence"].to_numpy(), factor.to_numpy())
    weak = (one_person < ruleset.link_confidence_threshold) | flags["_unresolved"]
    weak |= flags["possible_unlinked"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    if "name_key" in ex:
        # one person, but the records name them differently: the link is what the flag rests on
        names = ex[["name_key"]].assign(flag=flag_of).dropna().drop_duplicates()
        names = names[~names["name_key"].astype(str).str.contains("?", regex=False)]
        differing = names.groupby("flag").size().reindex(flags.index, fill_value=0) > 1
        weak |= differing.to_numpy()
    flags["status"] = np.where(flags["_rule_status"].eq("review") | weak, "review", "finding")
    # the pattern is likelier a linkage error than a finding: the link is for review, not the flag
    # (confidence 0: records of one lone node that no probabilistic link joined)
    linked = flags["link_confidence"].to_numpy() > 0
    flags.loc[linked & (one_person < ruleset.min_flag_link_probability), "status"] = "held"
    flags["period_start"] = (_EPOCH + flags["day_lo"].astype(np.int64).to_numpy().astype("timedelta64[D]")).astype("datetime64[ns]")
    flags["period_end"] = (_EPOCH + flags["day_hi"].astype(np.int64).to_numpy().astype("timedelta64[D]")).astype("datetime64[ns]")

    people = persons.drop_duplicates("person_id").set_index("person_id")
    flags["_name_masked"] = mask_name(flags["person_id"].map(people["name"]) if "name" in people else pd.Series("", index=flags.index))
    flags["_id_masked"] = mask_id(flags["person_id"].map(people["id_number"]) if "id_number" in people else pd.Series("", index=flags.index))
    flags["explanation_zh"], flags["explanation_en"] = explain(flags, flags["_kind"], catalog)
    flags = flags.sort_values(["rule_id", "flag_id"], kind="stable").reset_index(drop=True)[FLAG_COLUMNS]
    held = flags["status"].eq("held").to_numpy()
    return AuditResult(flags[~held].reset_index(drop=True), flags[held].reset_index(drop=True))
