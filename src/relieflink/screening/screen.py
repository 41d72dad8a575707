"""One application against the index: who is it, what do they receive, what would approving create.

Matching follows the linkage's hard rules at the scale of one query: a valid ID
names its person; an ID one typo away (a digit substituted, two adjacent digits
swapped) names a person only under the same name; a name names the persons
who bear it, and only those whose birth date does not contradict the
application's (from its ID); two different valid IDs are never one person.

Conflicts are not re-implemented here: the audit engine runs on the matched
person's records plus the application as one more record, with the rules that
can involve the applied program (missed-benefit rules cannot be created by an
approval and are left out), for the application's year; a flag that involves
the application is a conflict. So screening and the monthly audit never
disagree on what a duplicate or an exclusive status is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from relieflink.audit import AuditPeriod, audit_records
from relieflink.audit.rules import RuleSet, programs_of
from relieflink.identity.names import normalize_names
from relieflink.identity.resident_id import check_char, normalize_ids
from relieflink.privacy import Masker
from relieflink.screening.index import ScreeningIndex

APPLICATION_FILE = "（本次申请）"
MATCH_ORDER = ("valid_id", "id_typo", "name_birth", "pinyin_birth", "name")
MATCH_ZH = {"valid_id": "身份证号一致", "id_typo": "身份证号差一位且姓名一致", "name_birth": "姓名与出生日期一致",
            "pinyin_birth": "姓名同音且出生日期一致", "name": "仅姓名一致"}


@dataclass(frozen=True)
class Application:
    """An application to screen. ``period_end`` defaults to ``period_start`` (one month of a
    monthly benefit, the date of a grant)."""

    name: str
    program: str
    period_start: date | str
    period_end: date | str | None = None
    id_number: str | None = None
    subdistrict: str | None = None
    amount: float | None = None


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
    last: str | None
    amount: float


@dataclass(frozen=True)
class Conflict:
    person_id: str
    rule_id: str
    category: str
    title_zh: str
    explanation_zh: str
    explanation_en: str
    # the existing records involved: file, row, amount at stake, and the agency, program and
    # period that are all another agency may see of them (relieflink.visibility)
    records: list[dict] = field(default_factory=list)
    already_flagged: bool = False  # the last run flags these records already: approving adds to it
    # finding; review (a review rule, or the identity is not certain); held (the match is too
    # weak for the pattern: likelier another person of the same name)
    status: str = "finding"
    # the same facts without amounts and record counts, for a reader who may not see every
    # involved record (an agency other than the one that delivered them)
    explanation_scoped_zh: str = ""
    explanation_scoped_en: str = ""


@dataclass(frozen=True)
class ScreeningResult:
    application: Application
    id_status: str | None
    matches: list[Match]
    benefits: list[Benefit]
    conflicts: list[Conflict]
    more_name_matches: int = 0  # persons who only share the name, beyond those listed

    def to_dict(self, mask: bool = True) -> dict[str, object]:
        """JSON-ready; names, IDs and explanation texts masked unless ``mask=False``."""
        m = Masker(mask)
        app = asdict(self.application)
        app["name"], app["id_number"] = m.name(app["name"]), m.id(app["id_number"]) or None
        app["period_start"], app["period_end"] = str(app["period_start"]), str(app["period_end"]) if app["period_end"] else None
        return {
            "application": app,
            "id_status": self.id_status,
            "matches": [{**asdict(x), "name": m.name(x.name), "id_number": m.id(x.id_number) or None,
                         "how_zh": MATCH_ZH[x.how]} for x in self.matches],
            "benefits": [asdict(b) for b in self.benefits],
            "conflicts": [{**asdict(c), **{k: m.text(getattr(c, k)) for k in (
                "explanation_zh", "explanation_en", "explanation_scoped_zh", "explanation_scoped_en")}}
                for c in self.conflicts],
            "more_name_matches": self.more_name_matches,
        }


def _id_variants(clean: str) -> list[str]:
    """Valid IDs one typo away from ``clean`` (18 characters): the check character mistyped,
    one digit of the first 17 replaced, or two adjacent digits swapped (the check character
    recomputed)."""
    body = clean[:17]
    if len(clean) != 18 or not body.isdigit():
        return []
    out = [body + check_char(body)] if clean[17] != check_char(body) else []  # a typo in the check character
    for i in range(17):
        for d in "0123456789":
            if d != body[i]:
                b = body[:i] + d + body[i + 1:]
                out.append(b + check_char(b))
    for i in range(16):  # two adjacent digits of the body swapped
        swapped = body[:i] + body[i + 1] + body[i] + body[i + 2:]
        if swapped != body:
            out.append(swapped + check_char(swapped))
    return out


def _day(value: date | str | None) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return pd.Timestamp(value)


def _match(index: ScreeningIndex, name: str | None, pinyin: str | None, valid: str | None, clean: str | None,
           birth: pd.Timestamp | None) -> list[Match]:
    """The persons the application may be, best evidence first."""
    found: dict[str, str] = {}
    people = index.persons
    ids, births = people["id_number"].to_numpy(), people["birth_date"].to_numpy()

    def add(pids, how):
        for pid in pids:
            if pid in index.person_at and (pid not in found or MATCH_ORDER.index(how) < MATCH_ORDER.index(found[pid])):
                found[pid] = how

    if valid:
        add(index.by_id.get(valid, ()), "valid_id")
    if clean and not found:
        named = set(index.by_name.get(name, ())) | set(index.by_pinyin.get(pinyin, ()))
        add([p for v in _id_variants(clean) for p in index.by_id.get(v, ()) if p in named], "id_typo")
    for how, pids in (("name", index.by_name.get(name, ())), ("pinyin", index.by_pinyin.get(pinyin, ()))):
        for pid in pids:
            if pid not in index.person_at or pid in found:
                continue
            at = index.person_at[pid]
            theirs = ids[at]
            if valid and isinstance(theirs, str) and theirs != valid:
                continue  # two different valid IDs are two persons
            their_birth = births[at]
            known = birth is not None and pd.notna(their_birth)
            if known and pd.Timestamp(their_birth) != birth:
                continue
            if how == "pinyin" and not known:
                continue  # a homophone without a birth date to agree is too weak
            add([pid], "name_birth" if how == "name" and known else "pinyin_birth" if how == "pinyin" else "name")
    order = sorted(found, key=lambda pid: (MATCH_ORDER.index(found[pid]), pid))
    out = []
    for pid in order:
        row = people.iloc[index.person_at[pid]]
        b = row["birth_date"]
        out.append(Match(pid, found[pid], str(row["name"]), row["id_number"] if isinstance(row["id_number"], str) else None,
                         str(pd.Timestamp(b).date()) if pd.notna(b) else None))
    return out


def _benefits(index: ScreeningIndex, pid: str) -> list[Benefit]:
    rows = index.records.iloc[index.records_of.get(pid, np.zeros(0, dtype=np.int64))]
    if rows.empty:
        return []
    start = pd.to_datetime(rows["period_start"], errors="coerce")
    end = pd.to_datetime(rows["period_end"], errors="coerce")
    periodicity = rows["program"].map({p.code: p.periodicity for p in index.catalog.programs})
    # a monthly benefit or a status without an end is ongoing: no last day
    ongoing = end.isna() & periodicity.isin(["monthly", "status"])
    g = rows.assign(_s=start, _e=end.fillna(start), _open=ongoing,
                    _a=pd.to_numeric(rows["amount"], errors="coerce").fillna(0.0)).groupby(["program", "agency"], sort=True)
    names = {p.code: p.name for p in index.catalog.programs}
    out = []
    for (program, agency), part in g:
        first, last = part["_s"].min(), (pd.NaT if part["_open"].any() else part["_e"].max())
        out.append(Benefit(pid, str(program), names.get(program, str(program)), str(agency), len(part),
                           str(first.date()) if pd.notna(first) else None, str(last.date()) if pd.notna(last) else None,
                           round(float(part["_a"].sum()), 2)))
    return out


def _iso(day: object) -> str | None:
    return None if day is None or pd.isna(day) else str(pd.Timestamp(day).date())  # type: ignore[arg-type]


def _amount(value: object) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 2)  # type: ignore[arg-type]


def _rules_for(index: ScreeningIndex, program: str) -> RuleSet:
    """The rules an approval of ``program`` can trigger."""
    cache = index.rules_cache
    if program not in cache:
        rs = index.ruleset
        keep = [r for r in rs.rules if r.kind != "entitlement_missing"
                and (not programs_of(r) or any(code == program for _, code in programs_of(r)))]
        cache[program] = rs.model_copy(update={"rules": keep})
    return cache[program]


def _period_of(start: pd.Timestamp) -> AuditPeriod:
    """The period an application is audited in: the calendar year it starts in, and the
    school year it falls in (from 1 September)."""
    return AuditPeriod(start.year, school_year=start.year if start.month >= 9 else start.year - 1)


def _conflicts(index: ScreeningIndex, matches: list[Match], app: Application, start: pd.Timestamp,
               end: pd.Timestamp, pinyin: str) -> list[Conflict]:
    """One audit run over every matched person's records, each with the application added
    as one more record of theirs; the flags that involve an application are the conflicts."""
    if not matches:
        return []
    program = index.catalog.program(app.program)
    rules = _rules_for(index, app.program)
    empty = np.zeros(0, dtype=np.int64)
    pids = [m.person_id for m in matches]
    mine = index.records.iloc[np.concatenate([index.records_of.get(pid, empty) for pid in pids])]
    agency = program.agency if program.agency != "jd" else (app.subdistrict or "jd")
    new_ids = np.arange(index.next_record_id, index.next_record_id + len(matches))
    applications = pd.DataFrame({
        "record_id": new_ids, "file": APPLICATION_FILE, "row": np.arange(len(matches)), "source": agency,
        "agency": agency, "program": app.program, "kind": program.kind, "category": None,
        "amount": np.nan if app.amount is None else float(app.amount),
        "amount_basis": "month" if program.periodicity == "monthly" else "record",
        "period_start": start.date(), "period_end": end.date(), "event_date": start.date(), "subdistrict": app.subdistrict,
        "household_no": None, "disability_level": np.nan, "person_id": pids,
        "household_id": index.persons["household_id"].to_numpy()[[index.person_at[pid] for pid in pids]],
        # the identity of the applicant is as sure as the match
        "link_confidence": [1.0 if m.how in ("valid_id", "id_typo") else 0.95 for m in matches],
        "identity_resolved": True,
    })
    records = pd.concat([mine, applications], ignore_index=True)
    their_mentions = index.mentions.iloc[np.concatenate([index.mentions_of.get(pid, empty) for pid in pids])]
    mentions = pd.concat([their_mentions, pd.DataFrame({
        "mention_id": -1 - np.arange(len(matches)), "record_id": new_ids, "role": "beneficiary", "source": agency,
        "name": [m.name for m in matches], "name_pinyin": pinyin, "person_id": pids})], ignore_index=True)
    persons = index.persons.iloc[[index.person_at[pid] for pid in pids]].reset_index(drop=True)
    result = audit_records(records, persons, mentions, rules, index.catalog, _period_of(start))
    flags = pd.concat([result.flags, result.held], ignore_index=True)
    order = {pid: i for i, pid in enumerate(pids)}
    seen = records.drop_duplicates(["file", "row"]).set_index(["file", "row"])[
        ["agency", "program", "period_start", "period_end"]]
    seen = seen.astype(object).where(seen.notna(), None)
    shown = {k: {"agency": a, "program": p, "period_start": _iso(s), "period_end": _iso(e)}
             for k, a, p, s, e in zip(seen.index, seen["agency"], seen["program"], seen["period_start"], seen["period_end"])}
    out = []
    for f in flags.itertuples(index=False):
        if not any(r["file"] == APPLICATION_FILE for r in f.records):
            continue
        existing = [{"file": r["file"], "row": int(r["row"]), "amount_at_stake": _amount(r.get("amount_at_stake")),
                     **shown.get((r["file"], int(r["row"])), {})} for r in f.records if r["file"] != APPLICATION_FILE]
        key = frozenset((r["file"], r["row"]) for r in existing)
        known = (f.rule_id, key) in index.flags_of.get(f.person_id, ())
        out.append(Conflict(f.person_id, f.rule_id, f.category, index.rule_titles.get(f.rule_id, f.rule_id),
                            f.explanation_zh, f.explanation_en, existing, known, f.status,
                            f.explanation_scoped_zh, f.explanation_scoped_en))
    return sorted(out, key=lambda c: (order.get(c.person_id, len(order)), c.rule_id, c.explanation_zh))


def screen(index: ScreeningIndex, application: Application, max_name_matches: int = 20) -> ScreeningResult:
    """Screen one application against the index of the last run.

    Persons who share only the name (no ID or birth date to agree) are listed up to
    ``max_name_matches`` (a common name is borne by hundreds); the rest are counted.
    """
    try:
        index.catalog.program(application.program)
    except KeyError:
        raise ValueError(f"unknown program {application.program!r}: use a code of schemas/programs.yaml "
                         f"(e.g. {', '.join(p.code for p in index.catalog.programs[:3])})") from None
    start = _day(application.period_start)
    if start is None:
        raise ValueError("the application needs a period start (YYYY-MM-DD)")
    end = _day(application.period_end) or start
    if end < start:
        raise ValueError("the application's period ends before it starts")
    if application.amount is not None and not (math.isfinite(application.amount) and application.amount >= 0):
        raise ValueError("the amount applied for must be a number of yuan, 0 or more")
    names = normalize_names(pd.Series([application.name or ""]))
    # an empty name is "no name given": the ID alone still names its person
    name = names["name"].iat[0] if isinstance(names["name"].iat[0], str) else None
    pinyin = names["name_pinyin"].iat[0] if isinstance(names["name_pinyin"].iat[0], str) else None
    if name is None and not (application.id_number or "").strip():
        raise ValueError("the application needs the applicant's name or resident ID")
    valid = clean = status = None
    birth = None
    if application.id_number:
        ids = normalize_ids(pd.Series([application.id_number]))
        status = str(ids["id_status"].iat[0])
        valid = ids["id_number"].iat[0] if pd.notna(ids["id_number"].iat[0]) else None
        clean = ids["id_clean"].iat[0] if pd.notna(ids["id_clean"].iat[0]) else None
        digits = (valid or clean or "")[6:14]
        birth = pd.to_datetime(digits, format="%Y%m%d", errors="coerce") if len(digits) == 8 else None
        birth = None if birth is None or pd.isna(birth) else birth
    matches = _match(index, name, pinyin, valid, clean, birth)
    weak = [m for m in matches if m.how == "name"]
    more = max(0, len(weak) - max_name_matches)
    if more:
        matches = [m for m in matches if m.how != "name"] + weak[:max_name_matches]
    benefits = [b for m in matches for b in _benefits(index, m.person_id)]
    conflicts = _conflicts(index, matches, application, start, end, pinyin)
    return ScreeningResult(application, status, matches, benefits, conflicts, more)
