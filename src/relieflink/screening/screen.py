"""One application against the index: who is it, what do they receive, what would approving create.

Matching follows the linkage's hard rules at the scale of one query: a valid ID
names its person; an ID one typo away (a digit substituted, two adjacent digits
swapped) names a person only under the same name; a name names the persons
who bear it, and only those whose birth date does not contradict the
application's (from its ID); two different valid IDs are never one person.

Conflicts are not re-implemented here: the rule kinds of the batch audit
(:mod:`relieflink.audit.kinds`) run on the index's arrays of the matched
persons and their households plus the application as one more record of each
matched person, for the application's year, and the batch audit's flag
assembly words them (:func:`relieflink.audit.engine.assemble_flags`). A flag of
a duplicate or exclusion rule that involves the application is a conflict
approving would create; a missed-benefit flag about the applicant is an
entitlement worth telling them about (``opened_by_application`` when the
application is part of its evidence: approving 低保 makes the medical-insurance
subsidy due). So screening and the monthly audit never disagree on what a
duplicate or an exclusive status is (tests/test_screening_agreement.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd

from relieflink.audit.columns import (
    MONTHLY,
    NO_DAY,
    PERIODICITIES,
    STATUS,
    AuditInput,
    MentionColumns,
    RecordColumns,
    Vocab,
    coverage,
)
from relieflink.audit.engine import FlagColumns, assemble_flags, find_all
from relieflink.audit.explain import Explainer, FlagFacts, masked_id, masked_name
from relieflink.audit.periods import AuditPeriod
from relieflink.audit.rules import programs_of
from relieflink.identity.names import normalize_name
from relieflink.identity.resident_id import ids_one_typo_away, normalize_id
from relieflink.privacy import Masker
from relieflink.screening.index import APPLICATION_FILE, ScreeningIndex, _ranges
from relieflink.visibility import Scope

MATCH_ORDER = ("valid_id", "id_typo", "name_birth", "pinyin_birth", "name")
MATCH_ZH = {"valid_id": "身份证号一致", "id_typo": "身份证号差一位且姓名一致", "name_birth": "姓名与出生日期一致",
            "pinyin_birth": "姓名同音且出生日期一致", "name": "仅姓名一致"}
#: every status of :data:`relieflink.identity.resident_id.ID_STATUSES`, in Chinese
ID_STATUS_ZH = {"valid": "有效", "upgraded_15": "15位旧号（已升为18位）", "check_failed": "校验位错误",
                "excel_damaged": "被Excel损坏（科学计数法）", "bad_date": "出生日期无效", "malformed": "格式错误",
                "missing": "未填写"}
_DAY0 = np.datetime64("1970-01-01", "D")
#: how a match may show the person's ID and birth date to an agency that knows none of their
#: records: the application's own evidence (an ID, a birth date) agreed
IDENTIFIED = frozenset({"valid_id", "id_typo", "name_birth", "pinyin_birth"})
#: what an agency reads of another agency's record in a conflict
OTHER_RECORD = ("agency", "program", "period_start", "period_end")


@dataclass(frozen=True)
class Application:
    """An application to screen. ``period_end`` defaults to ``period_start`` (one month of a
    monthly benefit, the date of a grant). ``agency``: the agency approving it (by default the
    program's agency; for a subdistrict's program the ``subdistrict``); ``category``: the item
    of a program with several (student aid)."""

    name: str
    program: str
    period_start: date | str
    period_end: date | str | None = None
    id_number: str | None = None
    subdistrict: str | None = None
    amount: float | None = None
    agency: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Match:
    person_id: str
    how: str  # one of MATCH_ORDER
    name: str
    id_number: str | None
    birth_date: str | None


@dataclass(frozen=True)
class Benefit:
    """What a matched person receives, per program and agency, over the last run's records."""

    person_id: str
    program: str
    program_name: str
    agency: str
    records: int
    first: str | None
    last: str | None  # None while ongoing
    amount: float
    ongoing: bool = False  # a monthly benefit or a status without an end


@dataclass(frozen=True)
class Conflict:
    person_id: str
    rule_id: str
    category: str
    title_zh: str
    explanation_zh: str
    explanation_en: str
    # the existing records involved: file, row, agency, program, period_start, period_end, amount_at_stake
    records: list[dict] = field(default_factory=list)
    already_flagged: bool = False  # the last run flags these records already: approving adds to it
    # finding; review (a review rule, or the identity is not certain); held (the match is too
    # weak for the pattern: likelier another person of the same name)
    status: str = "finding"
    title_en: str = ""
    explanation_scoped_zh: str = ""  # without amounts and record counts (visibility.Scope)
    explanation_scoped_en: str = ""
    agencies: list[str] = field(default_factory=list)  # of every involved record, the application's included


@dataclass(frozen=True)
class Entitlement:
    """A missed benefit of a matched person: what they qualify for and do not receive."""

    person_id: str
    rule_id: str
    title_zh: str
    programs: list[str]  # what is missing
    explanation_zh: str
    explanation_en: str
    opened_by_application: bool  # the application is part of the evidence (approving makes it due)
    status: str = "finding"
    explanation_scoped_zh: str = ""
    explanation_scoped_en: str = ""
    agencies: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScreeningResult:
    application: Application
    id_status: str | None
    matches: list[Match]
    benefits: list[Benefit]
    conflicts: list[Conflict]
    more_name_matches: int = 0  # persons who only share the name, beyond those listed
    entitlements: list[Entitlement] = field(default_factory=list)
    scope: Scope | None = None  # the agency that asked (screen(..., scope=)): to_dict's default

    def to_dict(self, mask: bool = True, scope: Scope | None = None) -> dict[str, object]:
        """JSON-ready; names, IDs and explanation texts masked unless ``mask=False``.

        ``scope``: what one agency may read (:mod:`relieflink.visibility`): its own benefits
        and records in full, another agency's as agency, program and period only (a conflict's
        ``other_records``); a conflict's full explanation (``full_detail``) only when every
        record it involves is the agency's own (the application's agency included), else the
        scoped wording; a namesake's ID and birth date only when the application's own evidence
        agreed (:data:`IDENTIFIED`) or the agency knows the person from its own records."""
        m = Masker(mask)
        scope = scope or self.scope or Scope(None)
        app = asdict(self.application)
        app["name"], app["id_number"] = m.name(app["name"]), m.id(app["id_number"]) or None
        app["period_start"], app["period_end"] = str(app["period_start"]), str(app["period_end"]) if app["period_end"] else None

        owned = scope.owns([b.agency for b in self.benefits]) if self.benefits else np.zeros(0, bool)
        known_here = {b.person_id for b, own in zip(self.benefits, owned.tolist()) if own}

        def benefit(b: Benefit, own: bool) -> dict[str, object]:
            d = asdict(b)
            d["own"] = own
            if not own:
                d["records"] = d["amount"] = None
            return d

        def match(x: Match) -> dict[str, object]:
            d = {**asdict(x), "name": m.name(x.name), "id_number": m.id(x.id_number) or None, "how_zh": MATCH_ZH[x.how]}
            if not (x.how in IDENTIFIED or x.person_id in known_here or scope.is_platform):
                d["id_number"] = d["birth_date"] = None
            return d

        def flagged(c: Conflict | Entitlement) -> dict[str, object]:
            d = asdict(c)
            full = bool(scope.full_detail(pd.Series([list(dict.fromkeys(c.agencies))], dtype=object))[0])
            zh, en = (c.explanation_zh, c.explanation_en) if full else (c.explanation_scoped_zh, c.explanation_scoped_en)
            d["explanation_zh"], d["explanation_en"] = m.text(zh), m.text(en)
            d.pop("explanation_scoped_zh"), d.pop("explanation_scoped_en")
            d["full_detail"] = full
            if "records" in d:
                own = scope.owns([r.get("agency") for r in c.records]).tolist() if c.records else []
                d["records"] = [r for r, o in zip(c.records, own) if o]
                d["other_records"] = [{k: r.get(k) for k in OTHER_RECORD} for r, o in zip(c.records, own) if not o]
            return d

        return {
            "application": app,
            "id_status": self.id_status,
            "id_status_zh": ID_STATUS_ZH.get(self.id_status) if self.id_status else None,
            "matches": [match(x) for x in self.matches],
            "benefits": [benefit(b, own) for b, own in zip(self.benefits, owned.tolist())],
            "conflicts": [flagged(c) for c in self.conflicts],
            "entitlements": [flagged(e) for e in self.entitlements],
            "more_name_matches": self.more_name_matches,
        }


def _id_variants(clean: str) -> list[str]:
    """Valid IDs one typo away from ``clean`` (:func:`relieflink.identity.resident_id.ids_one_typo_away`)."""
    return ids_one_typo_away(clean)


def _day_number(value: date | str | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days
    return int((pd.Timestamp(value).to_datetime64().astype("datetime64[D]") - _DAY0).astype(np.int64))


def _date_text(day: int) -> str:
    return str(_DAY0 + np.timedelta64(int(day), "D"))


def _day_text(day: int) -> str | None:
    return None if day == NO_DAY else _date_text(day)


def _match(index: ScreeningIndex, name: str | None, pinyin: str | None, valid: str | None, clean: str | None,
           birth: int | None) -> list[tuple[int, str]]:
    """The persons the application may be (codes), best evidence first."""
    people = index.data.persons
    found: dict[int, str] = {}

    def add(codes: np.ndarray, how: str) -> None:
        for p in codes.tolist():
            if people.known[p] and (p not in found or MATCH_ORDER.index(how) < MATCH_ORDER.index(found[p])):
                found[p] = how

    if valid:
        add(index.by_id.get(valid), "valid_id")
    if clean and not found:
        named = set(index.by_name.get(name).tolist()) | set(index.by_pinyin.get(pinyin).tolist())
        typo = index.by_id.get_many(_id_variants(clean))
        add(np.array([p for p in typo.tolist() if p in named], dtype=np.int64), "id_typo")
    for how, codes in (("name", index.by_name.get(name)), ("pinyin", index.by_pinyin.get(pinyin))):
        for p in codes.tolist():
            if not people.known[p] or p in found:
                continue
            theirs = people.id_number[p]
            if valid and isinstance(theirs, str) and theirs != valid:
                continue  # two different valid IDs are two persons
            their_birth = int(people.birth_day[p])
            known = birth is not None and their_birth != NO_DAY
            if known and their_birth != birth:
                continue
            if how == "pinyin" and not known:
                continue  # a homophone without a birth date to agree is too weak
            add(np.array([p]), "name_birth" if how == "name" and known else "pinyin_birth" if how == "pinyin" else "name")
    ids = index.data.vocab["person"].values
    return sorted(found.items(), key=lambda item: (MATCH_ORDER.index(item[1]), ids[item[0]]))


def _as_match(index: ScreeningIndex, p: int, how: str) -> Match:
    people = index.data.persons
    b = int(people.birth_day[p])
    id_number = people.id_number[p]
    return Match(index.person_id(p), how, str(people.name[p]), id_number if isinstance(id_number, str) else None,
                 _date_text(b) if b != NO_DAY else None)


def _benefits(index: ScreeningIndex, persons: list[int]) -> list[Benefit]:
    """Per person, program and agency: the records, first and last day, ongoing, amount."""
    d = index.data
    r = d.records
    if not persons:
        return []
    pos = index.rows_of(np.asarray(persons, dtype=np.int64))
    if len(pos) == 0:
        return []
    rank = np.empty(d.n_persons, dtype=np.int64)
    rank[np.asarray(persons)] = np.arange(len(persons))
    person, program, agency = r.person[pos], r.text["program"][pos], r.text["agency"][pos]
    order = np.lexsort((agency, program, rank[person]))
    pos, person, program, agency = pos[order], person[order], program[order], agency[order]
    starts = np.flatnonzero(np.concatenate(([True], (person[1:] != person[:-1]) | (program[1:] != program[:-1])
                                            | (agency[1:] != agency[:-1]))))
    start, end = r.start_day[pos], r.end_day[pos]
    per = r.periodicity[pos]
    ongoing = np.logical_or.reduceat((end == NO_DAY) & ((per == MONTHLY) | (per == STATUS)), starts)
    amount = np.add.reduceat(np.nan_to_num(r.amount[pos], nan=0.0), starts)
    big = np.iinfo(np.int64).max
    first = np.minimum.reduceat(np.where(start != NO_DAY, start, big), starts)
    last_day = np.where(end != NO_DAY, end, start)
    last = np.maximum.reduceat(np.where(last_day != NO_DAY, last_day, -big), starts)
    count = np.diff(np.concatenate((starts, [len(pos)])))
    names = {x.code: x.name for x in index.catalog.programs}
    codes = d.text("program", program[starts]).tolist()
    agencies = d.text("agency", agency[starts]).tolist()
    ids = d.vocab["person"].values[person[starts]].tolist()
    return [Benefit(str(pid), str(code), names.get(code, str(code)), str(ag), int(n),
                    _date_text(f) if f != big else None, None if is_open or l == -big else _date_text(l),
                    round(float(a), 2), bool(is_open))
            for pid, code, ag, n, f, l, a, is_open in zip(ids, codes, agencies, count.tolist(), first.tolist(),
                                                          last.tolist(), amount.tolist(), ongoing.tolist())]


def _rules_for(index: ScreeningIndex, program: str) -> list:
    """(clause, rule) of the rules an approval of ``program`` can trigger, and every missed-benefit rule."""
    cache = index.rules_cache
    if program not in cache:
        cache[program] = [(clause, r) for clause, r in enumerate(index.ruleset.rules)
                          if r.kind == "entitlement_missing" or not programs_of(r)
                          or any(code == program for _, code in programs_of(r))]
    return cache[program]


def _period_of(start_day: int) -> AuditPeriod:
    """The period an application is audited in: the calendar year it starts in, and the
    school year it falls in (from 1 September)."""
    d = pd.Timestamp(_date_text(start_day))
    return AuditPeriod(d.year, school_year=d.year if d.month >= 9 else d.year - 1)


def _code(vocab: dict[str, Vocab], column: str, value: object) -> tuple[dict[str, Vocab], int]:
    """The code of ``value`` in ``vocab[column]``; a value the run never saw gets a code in a copy
    of the vocabulary (the index's own stays as it is: screening answers side by side)."""
    if value is None:
        return vocab, -1
    found = vocab[column].index.get(value)
    if found is not None:
        return vocab, found
    extended = Vocab(np.append(vocab[column].values, np.array([value], dtype=object)))
    return {**vocab, column: extended}, len(extended) - 1


@dataclass(frozen=True)
class _Record:
    """The application as a record of the audit input (one per matched person)."""

    program: str
    agency: str
    start_day: int
    end_day: int
    event_day: int
    amount: float
    category: str | None = None
    subdistrict: str | None = None
    name_key: str | None = None
    # a record of the run screened as if it were new (screening/agreement.py) keeps its own:
    source: str | None = None  # the exporting source (default: the agency)
    household: int | None = None  # household code (default: the person's)
    household_no: str | None = None
    per_month: bool | None = None  # default: a monthly program's amount is per month
    disability_level: float = np.nan
    identity_resolved: bool = True


def application_input(index: ScreeningIndex, persons: np.ndarray, app: _Record, link_confidence: np.ndarray,
                      leave_out: np.ndarray | None = None) -> tuple[AuditInput, np.ndarray]:
    """The audit input of one application: the records of the matched ``persons`` and of their
    households (and those households' members), with the application added as one more record
    of each matched person (``link_confidence`` each). ``leave_out``: record positions of the
    index not to take (a record screened as if it were new). Returns the input and the
    positions of the application's records in it."""
    d = index.data
    r, people = d.records, d.persons
    persons = np.asarray(persons, dtype=np.int64)
    own_rows = index.rows_of(persons)
    households = np.unique(np.r_[people.household[persons], r.household[own_rows],
                                 [] if app.household is None else [app.household]]).astype(np.int64)
    households = households[households >= 0]
    hs = index.household_person_start
    members = index.household_persons[_ranges(hs[households], hs[households + 1])]
    hr = index.household_record_start
    household_rows = index.household_records[_ranges(hr[households], hr[households + 1])]
    involved = np.unique(np.r_[persons, members, r.person[household_rows]]).astype(np.int64)
    involved = involved[involved >= 0]
    rows = np.unique(np.r_[index.rows_of(involved), household_rows])
    if leave_out is not None and len(leave_out):
        rows = rows[~np.isin(rows, leave_out)]
    taken = r.take(rows)

    vocab = d.vocab
    program = index.catalog.program(app.program)
    vocab, agency = _code(vocab, "agency", app.agency)
    vocab, source = _code(vocab, "source", app.source or app.agency)
    vocab, household_no = _code(vocab, "household_no", app.household_no)
    vocab, kind = _code(vocab, "kind", program.kind)
    vocab, category = _code(vocab, "category", app.category)
    vocab, subdistrict = _code(vocab, "subdistrict", app.subdistrict)
    vocab, name_key = _code(vocab, "name_key", app.name_key)
    vocab, program_code = _code(vocab, "program", app.program)
    file_code = vocab["file"].index[APPLICATION_FILE]
    n = len(persons)
    periodicity = np.full(n, PERIODICITIES.index(program.periodicity), dtype=np.int8)
    start, end, event = (np.full(n, v, dtype=np.int64) for v in (app.start_day, app.end_day, app.event_day))
    cov = coverage(periodicity, start, end, event, index.ruleset.school_year_paid_ahead_from_month)

    def full(value: int) -> np.ndarray:
        return np.full(n, value, dtype=np.int32)

    added = RecordColumns(
        record_id=index.next_record_id + np.arange(n, dtype=np.int64), row=np.arange(n, dtype=np.int64),
        person=persons.astype(np.int32),
        household=(people.household[persons] if app.household is None else np.full(n, app.household)).astype(np.int32),
        text={"file": full(file_code), "source": full(source), "agency": full(agency), "program": full(program_code),
              "kind": full(kind), "category": full(category), "household_no": full(household_no),
              "subdistrict": full(subdistrict), "name_key": full(name_key)},
        amount=np.full(n, app.amount, dtype=float),
        per_month=np.full(n, program.periodicity == "monthly" if app.per_month is None else app.per_month),
        disability_level=np.full(n, app.disability_level), link_confidence=np.asarray(link_confidence, dtype=float),
        identity_resolved=np.full(n, app.identity_resolved), periodicity=periodicity,
        start_day=start, end_day=end, event_date_day=event, **cov,
    )
    records = RecordColumns.concat([taken, added])
    order = np.lexsort((records.record_id, records.person))
    records = records.take(order)
    at = np.empty(len(order), dtype=np.int64)
    at[order] = np.arange(len(order))
    app_positions = at[len(taken):]

    ms = index.mention_start
    mention_rows = index.mention_order[_ranges(ms[involved], ms[involved + 1])]
    theirs = d.mentions.take(mention_rows)
    if leave_out is not None and len(leave_out):
        theirs = theirs.take(np.flatnonzero(~np.isin(theirs.record_id, r.record_id[leave_out])))
    mentions = MentionColumns(np.r_[theirs.person, persons.astype(np.int32)], np.r_[theirs.source, np.full(n, source, np.int32)],
                              np.r_[theirs.record_id, added.record_id])
    person_rows = involved[people.known[involved]]
    data = replace(d.with_records(records, mentions, person_rows), vocab=vocab)
    return data, app_positions


def screen_records(index: ScreeningIndex, data: AuditInput, app_positions: np.ndarray, period: AuditPeriod,
                   program: str) -> FlagColumns:
    """The flags of the rules an approval of ``program`` can trigger on one application's input."""
    found = find_all(data, index.ruleset, period, _rules_for(index, program))
    if not found:
        return FlagColumns({"flag_id": []})
    # the flags about the applicant: those involving one of the matched persons' records
    persons = data.records.person[app_positions]
    about = np.flatnonzero(np.isin(data.records.person, persons))
    return assemble_flags(found, data, index.ruleset, index.catalog, period, involving=about, fingerprints=False)


def _explainer(index: ScreeningIndex) -> Explainer:
    cached = index.rules_cache.get("_explainer")
    if cached is None:
        cached = index.rules_cache["_explainer"] = Explainer(index.ruleset, index.catalog)
    return cached  # type: ignore[return-value]


def _without_application(index: ScreeningIndex, data: AuditInput, flags: FlagColumns, k: int,
                         app_positions: np.ndarray, texts: tuple[str, str, str, str]) -> tuple[str, str, str, str]:
    """A many-agencies flag worded on what the person already receives, then the application:
    the program applied for is not among what they receive."""
    c = flags.columns
    kind = index.ruleset.rules[c["reasons"][k][0][0]].kind
    if kind != "multi_source":
        return texts
    r = data.records
    theirs = ~np.isin(flags.involved[k], app_positions)
    existing = flags.involved[k][theirs]
    stakes = [x["amount_at_stake"] for x, t in zip(c["records"][k], theirs.tolist()) if t and x["amount_at_stake"] is not None]
    stake = float(sum(stakes)) if stakes else np.nan
    app = app_positions[0]
    programs = sorted({str(v) for v in data.text("program", r.text["program"][existing]).tolist() if v is not None})
    agencies = sorted({str(v) for v in data.text("agency", r.text["agency"][existing]).tolist() if v is not None})
    p = int(r.person[app])
    people = data.persons
    facts = FlagFacts(masked_name(people.name[p] if people.known[p] else None),
                      masked_id(people.id_number[p] if people.known[p] else None),
                      int(c["day_lo"][k]), int(c["day_hi"][k]), programs, agencies, len(existing),
                      stake,
                      [(clause, {**facts, "agencies": agencies} if isinstance(facts, dict) and "agencies" in facts else facts)
                       for clause, facts in c["reasons"][k]])
    zh, en, szh, sen = _explainer(index).explain(facts)
    code = str(data.text("program", r.text["program"][app:app + 1])[0])
    agency = str(data.text("agency", r.text["agency"][app:app + 1])[0])
    program = index.catalog.program(code)
    agency_zh = {a.code: a.name for a in index.catalog.agencies}.get(agency, agency)
    more_zh = f"本次申请{program.name}（{agency_zh}），批准后将再增加一个部门/街道的救助。"
    more_en = f" Applying for {program.name_en} ({agency}): approving adds one more agency's aid."
    return zh + more_zh, en + more_en, szh + more_zh, sen + more_en


def _answers(index: ScreeningIndex, data: AuditInput, flags: FlagColumns, app_positions: np.ndarray,
             persons: np.ndarray) -> tuple[list[Conflict], list[Entitlement]]:
    """Conflicts (duplicate and exclusion flags involving the application) and missed benefits
    (of the matched persons) among one application's flags."""
    if not len(flags):
        return [], []
    c = flags.columns
    r = data.records
    conflicts, entitlements = [], []
    order = {int(p): i for i, p in enumerate(persons.tolist())}
    person_codes = data.vocab["person"]
    for k in range(len(flags)):
        involved = flags.involved[k]
        with_app = bool(np.isin(involved, app_positions).any())
        rule = index.ruleset.rules[c["reasons"][k][0][0]]
        title_zh, title_en = index.rule_titles.get(c["rule_id"][k], (c["rule_id"][k], c["rule_id"][k]))
        pid = c["person_id"][k]
        texts = (c["explanation_zh"][k], c["explanation_en"][k], c["explanation_scoped_zh"][k], c["explanation_scoped_en"][k])
        if rule.kind == "entitlement_missing":
            if pid is None or person_codes.index.get(pid, -1) not in order:
                continue
            entitlements.append(Entitlement(pid, c["rule_id"][k], title_zh, list(c["missed_programs"][k]), texts[0], texts[1],
                                            with_app, c["status"][k], texts[2], texts[3], sorted(c["agencies"][k])))
            continue
        if not with_app:
            continue
        zh, en, szh, sen = _without_application(index, data, flags, k, app_positions, texts)
        theirs = ~np.isin(involved, app_positions)
        existing = involved[theirs]
        files = data.text("file", r.text["file"][existing]).tolist()
        agencies = data.text("agency", r.text["agency"][existing]).tolist()
        programs = data.text("program", r.text["program"][existing]).tolist()
        stakes = [x["amount_at_stake"] for x, t in zip(c["records"][k], theirs.tolist()) if t]  # aligned with involved
        records = [{"file": f, "row": int(w), "agency": a, "program": p, "period_start": _day_text(s),
                    "period_end": _day_text(e), "amount_at_stake": m}
                   for f, w, a, p, s, e, m in zip(files, r.row[existing].tolist(), agencies, programs,
                                                  r.start_day[existing].tolist(), r.end_day[existing].tolist(), stakes)]
        known = index.already_flagged(c["rule_id"][k], pid, ((x["file"], x["row"]) for x in records))
        conflicts.append(Conflict(pid, c["rule_id"][k], c["category"][k], title_zh, zh, en, records, known, c["status"][k],
                                  title_en, szh, sen, sorted({a for a in data.text("agency", r.text["agency"][involved]).tolist()
                                                              if a is not None})))

    def rank(x: Conflict | Entitlement) -> tuple:
        return (order.get(person_codes.index.get(x.person_id, -1), len(order)), x.rule_id, x.explanation_zh)

    return sorted(conflicts, key=rank), sorted(entitlements, key=rank)


def screen(index: ScreeningIndex, application: Application, max_name_matches: int = 20,
           scope: Scope | None = None) -> ScreeningResult:
    """Screen one application against the index of the last run.

    Persons who share only the name (no ID or birth date to agree) are listed up to
    ``max_name_matches`` (a common name is borne by hundreds); the rest are counted.
    ``scope``: the agency asking, kept for :meth:`ScreeningResult.to_dict` (the answer itself
    is complete; what the agency may read of it is decided there, by :mod:`relieflink.visibility`).
    """
    try:
        program = index.catalog.program(application.program)
    except KeyError:
        raise ValueError(f"unknown program {application.program!r}: use a code of schemas/programs.yaml "
                         f"(e.g. {', '.join(p.code for p in index.catalog.programs[:3])})") from None
    start = _day_number(application.period_start)
    if start is None:
        raise ValueError("the application needs a period start (YYYY-MM-DD)")
    end = _day_number(application.period_end)
    end = start if end is None else end
    if end < start:
        raise ValueError("the application's period ends before it starts")
    if application.amount is not None and not (math.isfinite(application.amount) and application.amount >= 0):
        raise ValueError("the amount applied for must be a number of yuan, 0 or more")
    # an empty name is "no name given": the ID alone still names its person
    name, pinyin = normalize_name(application.name or "")
    if name is None and not (application.id_number or "").strip():
        raise ValueError("the application needs the applicant's name or resident ID")
    valid = clean = status = None
    birth = None
    if application.id_number:
        status, valid, clean = normalize_id(application.id_number)
        digits = (valid or clean or "")[6:14]
        if len(digits) == 8 and digits.isdigit():
            try:
                birth = _day_number(date(int(digits[:4]), int(digits[4:6]), int(digits[6:])))
            except ValueError:
                birth = None
    found = _match(index, name, pinyin, valid, clean, birth)
    weak = [f for f in found if f[1] == "name"]
    more = max(0, len(weak) - max_name_matches)
    if more:
        found = [f for f in found if f[1] != "name"] + weak[:max_name_matches]
    matches = [_as_match(index, p, how) for p, how in found]
    benefits = _benefits(index, [p for p, _ in found])
    conflicts: list[Conflict] = []
    entitlements: list[Entitlement] = []
    if found:
        persons = np.array([p for p, _ in found], dtype=np.int64)
        agency = application.agency or (program.agency if program.agency != "jd" else (application.subdistrict or "jd"))
        record = _Record(application.program, agency, start, end, start,
                         np.nan if application.amount is None else float(application.amount),
                         application.category, application.subdistrict, pinyin)
        # the identity of the applicant is as sure as the match
        confidence = np.array([1.0 if how in ("valid_id", "id_typo") else 0.95 for _, how in found])
        data, at = application_input(index, persons, record, confidence)
        flags = screen_records(index, data, at, _period_of(start), application.program)
        conflicts, entitlements = _answers(index, data, flags, at, persons)
    return ScreeningResult(application, status, matches, benefits, conflicts, more, entitlements, scope)
