"""Run the rules over persons, households and records; assemble ``flags``.

Input: records with ``person_id`` and ``household_id`` (from linkage, or the
generator's truth), persons (name, valid ID, birth date, household) and
mentions (for rules about who is *named* in a source), and the audited period
(a parameter of the run). Output: the flags table of SPEC §7, one row per rule
id, subject and pattern (the clauses of one rule id that find the same pattern
make one flag), each with its records as ``{file, row, amount_at_stake}``
lists, the period, the amount at stake (the sum over its records: see
:mod:`relieflink.audit.kinds`; totals over many flags count a record once, see
:mod:`relieflink.audit.money`), the link confidence, an ``evidence``
fingerprint of its records' content and explanations in Chinese and English.
A flag's id is derived from what it is about (rule, subject, pattern, year), so
reviewer decisions hold from one month to the next. A pattern found on a link
that the pattern itself makes unlikely (``link_odds_factor``) is held apart: not
a flag, but an identity question for the review queue (``AuditResult.held``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from relieflink.audit.confidence import flag_link_probability
from relieflink.audit.explain import explain, mask_id, mask_name
from relieflink.audit.grouping import lists_by_group
from relieflink.audit.kinds import Hits, find_hits
from relieflink.audit.periods import _EPOCH, AuditPeriod, coverage, derive_audit_period
from relieflink.audit.rules import Rule, RuleSet
from relieflink.config.catalog import Catalog

FLAG_COLUMNS = [
    "flag_id", "rule_id", "category", "status", "person_id", "household_id", "records", "programs", "missed_programs",
    "period_start", "period_end", "amount_at_stake", "link_confidence", "evidence", "explanation_zh", "explanation_en",
    "explanation_scoped_zh", "explanation_scoped_en",
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
    if "source" not in r:
        r["source"] = r["agency"]
    cov = coverage(r, catalog, ruleset.school_year_paid_ahead_from_month)
    # only what the rule kinds read: every filter of a wide frame copies every column
    keep = ["record_id", "file", "row", "source", "program", "kind", "category", "person_id", "household_id", "household_no",
            "agency", "amount", "amount_basis", "disability_level", "link_confidence", "identity_resolved", "name_key",
            "subdistrict"]
    slim = r[[c for c in keep if c in r]].copy()
    slim["category"] = slim["category"] if "category" in slim else None
    for column in ("person_id", "household_id", "household_no", "source", "program", "agency", "kind"):
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
    """Each flag's involved records as ``{file, row, amount_at_stake}`` dicts, ordered by file and row."""
    order = np.lexsort((ex["row"].astype(np.int64).to_numpy(), ex["file"].astype(str).to_numpy(), flag_of))
    keys = flag_of[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    parts = np.split(ex["fr"].to_numpy()[order], starts[1:])
    return pd.Series([p.tolist() for p in parts], index=keys[starts], dtype=object)


def _hash_hex(prefix: str, values: np.ndarray) -> np.ndarray:
    """``prefix`` + 16 hex digits per uint64 value."""
    return np.char.add(prefix, np.char.zfill(np.char.mod("%x", values.astype(np.uint64)), 16))


def _flag_ids(flags: pd.DataFrame, period: AuditPeriod) -> pd.Series:
    """Ids from what a flag is about: the rule id, the subject (person or household), the
    pattern (the programs combined, for pair rules) and the audited year.

    Never file names, row numbers or a clause's place in rules.yaml: the id is the same
    when next month's export lists the same people in another order, a file is renamed
    or the rules are reordered, so a reviewer's decision on it holds (SPEC §5).
    """
    key = (flags["rule_id"].astype(str) + "|" + flags["subject"].astype(str) + "|" + flags["pattern"].astype(str)
           + "|" + str(period.year))
    return pd.Series(_hash_hex("F", pd.util.hash_array(key.to_numpy(dtype=object))), index=flags.index)


def _day_text(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce").dt.strftime("%Y-%m-%d").fillna("")


def _evidence(flags: pd.DataFrame, ex: pd.DataFrame, flag_of: np.ndarray) -> pd.Series:
    """A fingerprint of a flag's evidence: the content of its records (source, program,
    category, period, date, amount — not their file or row), order-free. A decision stores
    it, so a later run can tell that a decided flag's records changed (a record added, an
    end month filled in)."""
    content = ex["source"].astype(str)
    for column in ("program", "category"):
        content = content + "|" + ex[column].astype(object).where(ex[column].notna(), "").astype(str)
    for column in ("period_start", "period_end", "event_date"):
        content = content + "|" + _day_text(ex[column])
    amount = pd.to_numeric(ex["amount"], errors="coerce")
    content = content + "|" + amount.map("{:.2f}".format).where(amount.notna(), "")
    record_hash = pd.util.hash_array(content.to_numpy(dtype=object))
    combined = np.zeros(len(flags), dtype=np.uint64)
    np.add.at(combined, flag_of, record_hash)  # wrapping sum: the same records in any order
    return pd.Series(_hash_hex("E", pd.util.hash_array(combined)), index=flags.index)


def _no_flags() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FLAG_COLUMNS})


@dataclass(frozen=True)
class AuditResult:
    """The flags, and the ``held`` ones: patterns whose identity link is likelier wrong than
    right once the pattern itself is weighed (status ``held``). They are not flags but
    questions for the reviewer ("one person?"): a ``same person`` decision makes the link
    certain and the next run raises the flag. ``period``: the period audited (None when no
    record carries a date to derive it from and none was given)."""

    flags: pd.DataFrame
    held: pd.DataFrame
    period: AuditPeriod | None = None


def run_audit(
    records: pd.DataFrame,
    persons: pd.DataFrame,
    mentions: pd.DataFrame,
    ruleset: RuleSet,
    catalog: Catalog,
    period: AuditPeriod | int | None = None,
) -> pd.DataFrame:
    """Apply every rule; return the flags, sorted by rule and flag id (deterministic)."""
    return audit_records(records, persons, mentions, ruleset, catalog, period).flags


def _one_flag_per_pattern(found: list[tuple[int, Rule, Hits]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The hits of every clause as flags: one per rule id, subject and pattern.

    A rule id may have several clauses (EXCL-STATUS: exclusive statuses, and two relief
    households; MISS-DISABILITY: two allowances). When two clauses find the same pattern
    of one subject it is one flag: its records, programs and period joined, every
    clause's reason kept (``_reasons``: (clause, facts) in rules.yaml order) for the
    explanation, a record's money at stake counted once (the largest a clause puts on it).
    Returns the flags and their involved records (``flag``, ``record_id``, ``stake``)."""
    hits, involved, offset = [], [], 0
    for clause, rule, h in found:
        hits.append(h.hits.assign(rule_id=rule.id, category=rule.category, _clause=clause,
                                  _review=rule.status == "review",
                                  _factor=np.nan if rule.link_odds_factor is None else float(rule.link_odds_factor)))
        involved.append(h.involved.assign(hit=h.involved["hit"].to_numpy() + offset))
        offset += len(h.hits)
    allh = pd.concat(hits, ignore_index=True)
    flag = allh.groupby(["rule_id", "subject", "pattern"], sort=True).ngroup().to_numpy()
    allh["_flag"] = flag
    g = allh.groupby("_flag", sort=True)
    flags = g.agg(rule_id=("rule_id", "first"), category=("category", "first"), subject=("subject", "first"),
                  pattern=("pattern", "first"), person_id=("person_id", "first"), household_id=("household_id", "first"),
                  day_lo=("day_lo", "min"), day_hi=("day_hi", "max"), _review=("_review", "any"),
                  _factor=("_factor", "min"), possible_unlinked=("possible_unlinked", "any"))
    programs = allh[["_flag", "programs"]].explode("programs")
    flags["programs"] = lists_by_group(programs["_flag"].to_numpy(), programs["programs"], unique=True).reindex(flags.index)
    positions = lists_by_group(flag, pd.Series(np.arange(len(allh))))  # the flag's hits, in clause order
    reasons = list(zip(allh["_clause"], allh["facts"]))
    flags["_reasons"] = [[reasons[i] for i in pos] for pos in positions.reindex(flags.index)]
    inv = pd.concat(involved, ignore_index=True)
    inv["flag"] = flag[inv["hit"].to_numpy()]
    inv = inv.groupby(["flag", "record_id"], sort=True, as_index=False)["stake"].max()
    return flags.reset_index(drop=True), inv


def audit_records(
    records: pd.DataFrame,
    persons: pd.DataFrame,
    mentions: pd.DataFrame,
    ruleset: RuleSet,
    catalog: Catalog,
    period: AuditPeriod | int | None = None,
) -> AuditResult:
    """Apply every rule; the flags and the held patterns, each sorted by rule and flag id.

    ``period``: the audited year (an :class:`AuditPeriod` or a year); None derives it from
    the records (:func:`relieflink.audit.periods.derive_audit_period`).
    """
    if period is None:
        period = derive_audit_period(records)
    elif not isinstance(period, AuditPeriod):
        period = AuditPeriod(int(period))
    if period is None:
        return AuditResult(_no_flags(), _no_flags(), None)
    r = prepare_records(records, catalog, ruleset, mentions)
    found = [(clause, rule, hits) for clause, rule in enumerate(ruleset.rules)
             if not (hits := find_hits(rule, r, persons, mentions, ruleset, period)).empty]
    if not found:
        return AuditResult(_no_flags(), _no_flags(), period)
    flags, involved = _one_flag_per_pattern(found)

    # involved records → {file, row, amount_at_stake}, link confidence, agencies (vectorized over flag × record)
    info_columns = ["file", "row", "source", "agency", "program", "category", "amount", "link_confidence",
                    "identity_resolved", *(["name_key"] if "name_key" in r else [])]
    info = r.drop_duplicates("record_id").set_index("record_id")[info_columns]
    date_columns = [c for c in ("period_start", "period_end", "event_date") if c in records]
    dates = records[["record_id", *date_columns]].drop_duplicates("record_id").set_index("record_id").reindex(info.index)
    for column in ("period_start", "period_end", "event_date"):
        info[column] = dates[column] if column in dates else pd.NaT
    ex = involved.join(info, on="record_id")
    flag_of = ex["flag"].to_numpy()
    stake = ex["stake"].to_numpy(dtype=float)
    ex["fr"] = [{"file": f, "row": int(w), "amount_at_stake": None if np.isnan(m) else float(m)}
                for f, w, m in zip(ex["file"], ex["row"], stake)]
    flags["records"] = _records_lists(flag_of, ex)
    flags["amount_at_stake"] = ex.groupby(flag_of)["stake"].sum(min_count=1).reindex(flags.index).astype(float)
    flags["link_confidence"] = ex.groupby(flag_of)["link_confidence"].min().astype(float)
    flags["_unresolved"] = ~ex["identity_resolved"].astype("boolean").fillna(True).astype(bool).groupby(flag_of).all()
    flags["_agencies"] = lists_by_group(flag_of, ex["agency"], unique=True).reindex(flags.index)
    flags["flag_id"] = _flag_ids(flags, period)
    flags["evidence"] = _evidence(flags, ex, flag_of)
    # what a missed-benefit flag says is missing (the agency granting it should see the flag)
    flags["missed_programs"] = [list(dict.fromkeys(p for _, f in reasons
                                                   for p in (f or {}).get("entitlement") or (f or {}).get("lacks_status") or []))
                                for reasons in flags["_reasons"]]

    one_person = flag_link_probability(flags["link_confidence"].to_numpy(), flags["_factor"].to_numpy(dtype=float))
    weak = (one_person < ruleset.link_confidence_threshold) | flags["_unresolved"].to_numpy(dtype=bool)
    weak |= flags["possible_unlinked"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    if "name_key" in ex:
        # one person, but the records name them differently: the link is what the flag rests on
        names = ex[["name_key"]].assign(flag=flag_of).dropna().drop_duplicates()
        names = names[~names["name_key"].astype(str).str.contains("?", regex=False)]
        differing = names.groupby("flag").size().reindex(flags.index, fill_value=0) > 1
        weak |= differing.to_numpy()
    flags["status"] = np.where(flags["_review"].to_numpy(dtype=bool) | weak, "review", "finding")
    # the pattern is likelier a linkage error than a finding: the link is for review, not the flag
    # (confidence 0: records of one lone node that no probabilistic link joined)
    linked = flags["link_confidence"].to_numpy() > 0
    flags.loc[linked & (one_person < ruleset.min_flag_link_probability), "status"] = "held"
    flags["period_start"] = (_EPOCH + flags["day_lo"].astype(np.int64).to_numpy().astype("timedelta64[D]")).astype("datetime64[ns]")
    flags["period_end"] = (_EPOCH + flags["day_hi"].astype(np.int64).to_numpy().astype("timedelta64[D]")).astype("datetime64[ns]")

    people = persons.drop_duplicates("person_id").set_index("person_id")
    flags["_name_masked"] = mask_name(flags["person_id"].map(people["name"]) if "name" in people else pd.Series("", index=flags.index))
    flags["_id_masked"] = mask_id(flags["person_id"].map(people["id_number"]) if "id_number" in people else pd.Series("", index=flags.index))
    flags["explanation_zh"], flags["explanation_en"] = explain(flags, ruleset, catalog)
    flags["explanation_scoped_zh"], flags["explanation_scoped_en"] = explain(flags, ruleset, catalog, scoped=True)
    flags = flags.sort_values(["rule_id", "flag_id"], kind="stable").reset_index(drop=True)[FLAG_COLUMNS]
    held = flags["status"].eq("held").to_numpy()
    return AuditResult(flags[~held].reset_index(drop=True), flags[held].reset_index(drop=True), period)
