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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from relieflink.audit.arrays import kahan_sums, run_starts
from relieflink.audit.columns import NO_DAY, AuditInput
from relieflink.audit.confidence import flag_link_probability
from relieflink.audit.explain import Explainer, FlagFacts, masked_id, masked_name
from relieflink.audit.kinds import Hits, find_hits
from relieflink.audit.periods import _EPOCH, AuditPeriod, derive_audit_period
from relieflink.audit.rules import Rule, RuleSet
from relieflink.config.catalog import Catalog

FLAG_COLUMNS = [
    "flag_id", "rule_id", "category", "status", "person_id", "household_id", "records", "programs", "missed_programs",
    "period_start", "period_end", "amount_at_stake", "link_confidence", "evidence", "explanation_zh", "explanation_en",
    "explanation_scoped_zh", "explanation_scoped_en",
]


def _hash_hex(prefix: str, values: np.ndarray) -> list[str]:
    """``prefix`` + 16 hex digits per uint64 value."""
    return np.char.add(prefix, np.char.zfill(np.char.mod("%x", values.astype(np.uint64)), 16)).tolist()


def flag_ids(rule_id: list[str], subject: list[str], pattern: list[str], year: int) -> list[str]:
    """Ids from what a flag is about: the rule id, the subject (person or household), the
    pattern (the programs combined, for pair rules) and the audited year.

    Never file names, row numbers or a clause's place in rules.yaml: the id is the same
    when next month's export lists the same people in another order, a file is renamed
    or the rules are reordered, so a reviewer's decision on it holds (SPEC §5).
    """
    key = np.array([f"{r}|{s}|{p}|{year}" for r, s, p in zip(rule_id, subject, pattern)], dtype=object)
    return _hash_hex("F", pd.util.hash_array(key))


def _day_text(day: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(_EPOCH + np.where(day == NO_DAY, 0, day).astype("timedelta64[D]"), unit="D").astype(object)
    return np.where(day == NO_DAY, "", text)


def record_content_hash(data: AuditInput, positions: np.ndarray) -> np.ndarray:
    """A fingerprint of each record's content (source, program, category, period, date, amount —
    not its file or row): what a flag's ``evidence`` adds up."""
    r = data.records
    parts = [data.text(c, r.text[c][positions]) for c in ("source", "program", "category")]
    parts[0] = np.array([str(v) for v in parts[0].tolist()], dtype=object)  # a missing source reads "None"
    parts[1:] = [np.where(pd.isna(p), "", p.astype(str)) if len(p) else p for p in parts[1:]]
    dates = [_day_text(d[positions]) for d in (r.start_day, r.end_day, r.event_date_day)]
    amount = r.amount[positions]
    money = np.array(["" if np.isnan(a) else "{:.2f}".format(a) for a in amount.tolist()], dtype=object)
    content = parts[0]
    for part in (*parts[1:], *dates, money):
        content = content + "|" + part
    return pd.util.hash_array(content.astype(object))


@dataclass
class FlagColumns:
    """Flags as columns (one entry per flag), before they become the ``flags`` table.

    ``records``: each flag's involved records as ``{file, row, amount_at_stake}``, ordered by file
    and row; ``involved``: their positions in the audit input (the same order); ``reasons``: the
    (clause, facts) of each hit the flag joins."""

    columns: dict[str, list | np.ndarray]
    involved: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.columns["flag_id"])

    def to_frame(self) -> pd.DataFrame:
        c = self.columns
        frame = pd.DataFrame({name: pd.Series(c[name], dtype=object) for name in FLAG_COLUMNS
                              if name not in ("period_start", "period_end", "amount_at_stake", "link_confidence")})
        frame["period_start"] = (_EPOCH + np.asarray(c["day_lo"], dtype=np.int64).astype("timedelta64[D]")).astype("datetime64[ns]")
        frame["period_end"] = (_EPOCH + np.asarray(c["day_hi"], dtype=np.int64).astype("timedelta64[D]")).astype("datetime64[ns]")
        frame["amount_at_stake"] = np.asarray(c["amount_at_stake"], dtype=float)
        frame["link_confidence"] = np.asarray(c["link_confidence"], dtype=float)
        return frame[FLAG_COLUMNS]


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


def _first_valid(values: np.ndarray, group_of: np.ndarray, n: int) -> np.ndarray:
    """Per group: the first value that is not -1 (in the order given), else -1."""
    out = np.full(n, -1, dtype=np.int64)
    ok = np.flatnonzero(values >= 0)
    if len(ok):
        g = group_of[ok]
        # ``ok`` is in order, but groups interleave: take the smallest position per group
        order = np.lexsort((ok, g))
        g_sorted = g[order]
        head = np.r_[True, g_sorted[1:] != g_sorted[:-1]]
        out[g_sorted[head]] = values[ok[order][head]]
    return out


def assemble_flags(found: list[tuple[int, Rule, Hits]], data: AuditInput, ruleset: RuleSet, catalog: Catalog,
                   period: AuditPeriod, involving: np.ndarray | None = None, fingerprints: bool = True) -> FlagColumns:
    """The hits of every clause as flags: one per rule id, subject and pattern.

    A rule id may have several clauses (EXCL-STATUS: exclusive statuses, and two relief
    households; MISS-DISABILITY: two allowances). When two clauses find the same pattern
    of one subject it is one flag: its records, programs and period joined, every
    clause's reason kept (in rules.yaml order) for the explanation, a record's money at
    stake counted once (the largest a clause puts on it). ``involving``: record positions;
    when given, only the flags that involve one of them (an application screened).
    ``fingerprints=False``: no ``flag_id`` and ``evidence`` (None): what screening skips.
    """
    r = data.records
    rules = [rule for _, rule, _ in found]
    sizes = [len(h) for _, _, h in found]
    hit_rule = np.repeat(np.arange(len(found)), sizes)
    cat = np.concatenate
    subject = cat([h.subject for _, _, h in found])
    pattern = cat([h.pattern for _, _, h in found])
    rule_id = np.array([rule.id for rule in rules], dtype=object)[hit_rule]
    key = np.array([f"{a}\x00{b}\x00{c}" for a, b, c in zip(rule_id.tolist(), subject.tolist(), pattern.tolist())],
                   dtype=object)
    if len(key) < 1000:  # a few hits (screening): pandas' setup costs more than the work
        first_of: dict[str, int] = {}
        flag_of_hit = np.array([first_of.setdefault(k, len(first_of)) for k in key.tolist()], dtype=np.int64)
    else:
        flag_of_hit, _ = pd.factorize(key)  # flags in the order of their first hit
    offsets = np.cumsum([0] + sizes[:-1])
    inv_hit = cat([h.hit + o for (_, _, h), o in zip(found, offsets)])
    inv_record = cat([h.record for _, _, h in found])
    inv_stake = cat([h.stake for _, _, h in found])
    inv_flag = flag_of_hit[inv_hit]
    n_flags = int(flag_of_hit.max(initial=-1)) + 1
    keep_flag = np.ones(n_flags, dtype=bool)
    if involving is not None:
        keep_flag[:] = False
        keep_flag[inv_flag[np.isin(inv_record, involving)]] = True
    # renumber the kept flags, in order
    new_id = np.cumsum(keep_flag) - 1
    hit_kept = keep_flag[flag_of_hit]
    hits = np.flatnonzero(hit_kept)
    flag_of_hit = new_id[flag_of_hit[hits]]
    n_flags = int(keep_flag.sum())
    if n_flags == 0:
        return FlagColumns({"flag_id": []})
    inv_kept = keep_flag[inv_flag]
    inv_flag, inv_record, inv_stake = new_id[inv_flag[inv_kept]], inv_record[inv_kept], inv_stake[inv_kept]

    person = cat([h.person for _, _, h in found])[hits]
    household = cat([h.household for _, _, h in found])[hits]
    day_lo = cat([h.day_lo for _, _, h in found])[hits]
    day_hi = cat([h.day_hi for _, _, h in found])[hits]
    unlinked = cat([h.possible_unlinked for _, _, h in found])[hits]
    programs_of_hit = [p for _, _, h in found for p in h.programs]
    facts_of_hit = [f for _, _, h in found for f in h.facts]
    clause_of_hit = np.array([clause for clause, _, _ in found], dtype=np.int64)[hit_rule][hits]
    rule_of_hit = hit_rule[hits]

    # per flag: its hits in clause order (the order of ``found``)
    order = np.argsort(flag_of_hit, kind="stable")
    g = flag_of_hit[order]
    first_hit = order[run_starts(g)]
    bounds = np.r_[run_starts(g), len(g)]
    reasons = [[(int(clause_of_hit[i]), facts_of_hit[hits[i]]) for i in order[s:e]] for s, e in zip(bounds[:-1], bounds[1:])]
    programs = [sorted({p for i in order[s:e] for p in programs_of_hit[hits[i]]}) for s, e in zip(bounds[:-1], bounds[1:])]
    flag_rule = [rules[k] for k in rule_of_hit[first_hit].tolist()]
    review = np.zeros(n_flags, dtype=bool)
    np.logical_or.at(review, flag_of_hit, np.array([rules[k].status == "review" for k in rule_of_hit.tolist()], dtype=bool))
    factor_of_rule = np.array([np.nan if rule.link_odds_factor is None else float(rule.link_odds_factor) for rule in rules])
    factor = np.full(n_flags, np.nan)
    np.fmin.at(factor, flag_of_hit, factor_of_rule[rule_of_hit])
    possible_unlinked = np.zeros(n_flags, dtype=bool)
    np.logical_or.at(possible_unlinked, flag_of_hit, unlinked)
    f_lo = np.full(n_flags, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(f_lo, flag_of_hit, day_lo)
    f_hi = np.full(n_flags, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(f_hi, flag_of_hit, day_hi)
    f_person = _first_valid(person[order], g, n_flags)
    f_household = _first_valid(household[order], g, n_flags)

    # involved records: (flag, record) once, with the largest stake, in record-id order
    rid = r.record_id[inv_record]
    o = np.lexsort((-inv_stake, rid, inv_flag))
    inv_flag, inv_record, inv_stake, rid = inv_flag[o], inv_record[o], inv_stake[o], rid[o]
    first = np.r_[True, (inv_flag[1:] != inv_flag[:-1]) | (rid[1:] != rid[:-1])] if len(o) else np.zeros(0, bool)
    inv_flag, inv_record, inv_stake = inv_flag[first], inv_record[first], inv_stake[first]
    inv_starts = run_starts(inv_flag)
    amount = kahan_sums(inv_stake, inv_starts)
    confidence = r.link_confidence[inv_record]
    link_confidence = np.full(n_flags, np.nan)
    np.fmin.at(link_confidence, inv_flag, confidence)
    unresolved = np.zeros(n_flags, dtype=bool)
    np.logical_or.at(unresolved, inv_flag, ~r.identity_resolved[inv_record])
    agency_text = data.text("agency", r.text["agency"][inv_record]).tolist()
    inv_bounds = np.r_[inv_starts, len(inv_flag)]
    agencies = [sorted({a for a in agency_text[s:e] if a is not None}) for s, e in zip(inv_bounds[:-1], inv_bounds[1:])]

    # each flag's records by file and row
    file_code = r.text["file"][inv_record]
    rows = r.row[inv_record]
    by_place = np.lexsort((rows, file_code, inv_flag))
    files = data.text("file", file_code[by_place]).tolist()
    stakes = inv_stake[by_place].tolist()
    entries = [{"file": f, "row": int(w), "amount_at_stake": None if np.isnan(m) else float(m)}
               for f, w, m in zip(files, rows[by_place].tolist(), stakes)]
    placed = inv_record[by_place]
    records = [entries[s:e] for s, e in zip(inv_bounds[:-1], inv_bounds[1:])]
    involved = [placed[s:e] for s, e in zip(inv_bounds[:-1], inv_bounds[1:])]

    rule_ids = [rule.id for rule in flag_rule]
    subjects = subject[hits][first_hit].tolist()
    patterns = pattern[hits][first_hit].tolist()
    if fingerprints:
        ids = flag_ids(rule_ids, subjects, patterns, period.year)
        combined = np.zeros(n_flags, dtype=np.uint64)
        np.add.at(combined, inv_flag, record_content_hash(data, inv_record))  # wrapping sum: order-free
        evidence = _hash_hex("E", pd.util.hash_array(combined))
    else:
        ids = evidence = [None] * n_flags
    # what a missed-benefit flag says is missing (the agency granting it should see the flag)
    missed = [list(dict.fromkeys(p for _, f in rs for p in (f or {}).get("entitlement") or (f or {}).get("lacks_status") or []))
              for rs in reasons]

    one_person = flag_link_probability(link_confidence, factor)
    weak = (one_person < ruleset.link_confidence_threshold) | unresolved | possible_unlinked
    # one person, but the records name them differently: the link is what the flag rests on
    names = r.text["name_key"][inv_record]
    named = names >= 0
    if named.any():
        values = data.vocab["name_key"].values
        clean = np.array(["?" not in values[c] for c in names[named].tolist()], dtype=bool)
        pairs = np.unique(np.stack([inv_flag[named][clean], names[named][clean]]), axis=1)
        differing = np.bincount(pairs[0], minlength=n_flags) > 1 if pairs.size else np.zeros(n_flags, bool)
        weak |= differing
    status = np.where(review | weak, "review", "finding").astype(object)
    # the pattern is likelier a linkage error than a finding: the link is for review, not the flag
    # (confidence 0: records of one lone node that no probabilistic link joined)
    status[(link_confidence > 0) & (one_person < ruleset.min_flag_link_probability)] = "held"

    people = data.persons
    person_text = data.vocab["person"].text(f_person)
    household_text = data.vocab["household"].text(f_household)
    explainer = Explainer(ruleset, catalog)
    texts = [explainer.explain(FlagFacts(
        masked_name(people.name[p] if p >= 0 and people.known[p] else None),
        masked_id(people.id_number[p] if p >= 0 and people.known[p] else None),
        int(lo), int(hi), progs, ags, len(recs), float(m), rs))
        for p, lo, hi, progs, ags, recs, m, rs in zip(f_person.tolist(), f_lo.tolist(), f_hi.tolist(), programs,
                                                      agencies, records, amount.tolist(), reasons)]
    columns = {
        "flag_id": ids, "rule_id": rule_ids, "category": [rule.category for rule in flag_rule], "status": status.tolist(),
        "person_id": person_text.tolist(), "household_id": household_text.tolist(), "records": records,
        "programs": programs, "missed_programs": missed, "day_lo": f_lo, "day_hi": f_hi, "amount_at_stake": amount,
        "link_confidence": link_confidence, "evidence": evidence,
        "explanation_zh": [t[0] for t in texts], "explanation_en": [t[1] for t in texts],
        "explanation_scoped_zh": [t[2] for t in texts], "explanation_scoped_en": [t[3] for t in texts],
        "reasons": reasons, "agencies": agencies, "subject": subjects, "pattern": patterns,
    }
    return FlagColumns(columns, involved)


def find_all(data: AuditInput, ruleset: RuleSet, period: AuditPeriod, rules: list[tuple[int, Rule]] | None = None
             ) -> list[tuple[int, Rule, Hits]]:
    """Every rule's hits (``rules``: (clause, rule) pairs, by default every clause of the ruleset)."""
    chosen = list(enumerate(ruleset.rules)) if rules is None else rules
    return [(clause, rule, hits) for clause, rule in chosen if not (hits := find_hits(rule, data, ruleset, period)).empty]


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
    data = AuditInput.from_frames(records, persons, mentions, catalog, ruleset)
    found = find_all(data, ruleset, period)
    if not found:
        return AuditResult(_no_flags(), _no_flags(), period)
    flags = assemble_flags(found, data, ruleset, catalog, period).to_frame()
    flags = flags.sort_values(["rule_id", "flag_id"], kind="stable").reset_index(drop=True)
    held = flags["status"].eq("held").to_numpy()
    return AuditResult(flags[~held].reset_index(drop=True), flags[held].reset_index(drop=True), period)
