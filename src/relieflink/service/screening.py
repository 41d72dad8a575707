"""The one door between the service and :mod:`relieflink.screening`.

Everything the service needs of the screening library goes through here, so
that a change of that library's API is a change of this module alone:

* :func:`load_index` — the index of a run folder;
* :func:`as_application` — an application as the library takes it;
* :func:`answer` — one application screened for one agency: the library's
  answer, with the approvals recorded since the run added to the matched
  persons' records (:class:`Recorded`), then reduced to what that agency may
  see by :class:`relieflink.visibility.Scope` — its own records in full; of
  another agency's benefits and of the records in a conflict, only agency,
  program and period; a conflict's amounts and record counts only when every
  record involved is the agency's own (otherwise its scoped explanation); a
  namesake known only from other agencies' records without ID or birth date.

Recorded applications (:mod:`relieflink.ingest.applications`) are mapped by
the ingest's engine, as the next run will map them, and counted for the
person whose valid ID they carry (or, when the run knows no one by it, for a
new person, one per ID). When an answer concerns such a person, it is
computed on a small index of the matched persons' records plus the recorded
approvals, so the audit engine sees the approval like any other record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.identity.names import normalize_names
from relieflink.identity.resident_id import normalize_ids
from relieflink.ingest.applications import Line, map_lines
from relieflink.ingest.quarantine import Quarantine
from relieflink.screening import Application, ScreeningIndex, screen
from relieflink.screening.index import MENTION_COLUMNS, PERSON_COLUMNS, RECORD_COLUMNS
from relieflink.visibility import Scope

#: how a match may show the person's ID and birth date to an agency that knows none of their records:
#: the caller's own evidence (an ID, a birth date) agreed
IDENTIFIED = frozenset({"valid_id", "id_typo", "name_birth", "pinyin_birth"})
_EMPTY = np.zeros(0, dtype=np.int64)


def load_index(out: Path) -> ScreeningIndex:
    """The screening index of a run folder (raises FileNotFoundError when it is not a full run)."""
    return ScreeningIndex.from_run(Path(out))


def as_application(fields: dict) -> Application:
    """The library's application of the service's checked request fields (``ScreenRequest``)."""
    return Application(name=fields.get("name") or "", program=fields["program"], period_start=fields["period_start"],
                       period_end=fields.get("period_end"), id_number=fields.get("id_number"),
                       subdistrict=fields.get("subdistrict"), amount=fields.get("amount"))


def index_size(index: ScreeningIndex) -> tuple[int, int]:
    """(persons, records) of an index, for the health endpoint."""
    return len(index.persons), len(index.records)


@dataclass
class Recorded:
    """Approvals recorded since the run, as records of their persons (see the module docstring)."""

    records: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RECORD_COLUMNS))
    mentions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MENTION_COLUMNS))
    persons: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PERSON_COLUMNS))  # not in the run
    person_of: dict[str, str] = field(default_factory=dict)  # application id → person id
    records_of: dict[str, np.ndarray] = field(default_factory=dict)
    mentions_of: dict[str, np.ndarray] = field(default_factory=dict)
    by_id: dict[str, tuple[str, ...]] = field(default_factory=dict)  # of the persons not in the run
    by_name: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    def persons_for(self, matched: list[str], valid_id: str | None, name: str | None) -> tuple[list[str], list[str]]:
        """(matched persons with recorded approvals, persons known only from recorded approvals who
        bear the application's valid ID or name)."""
        if not len(self):
            return [], []
        known = [pid for pid in matched if pid in self.records_of]
        new = dict.fromkeys([*self.by_id.get(valid_id or "", ()), *self.by_name.get(name or "", ())])
        return known, [pid for pid in new if pid not in matched]


def record_approvals(index: ScreeningIndex, lines: list[Line], config) -> Recorded:  # type: ignore[no-untyped-def]
    """The recorded approvals of ``lines`` (standing, not yet in the run) against ``index``."""
    if not lines:
        return Recorded()
    mentions, records = map_lines(lines, config.catalog, config.gazetteer, Quarantine())
    if not len(records):
        return Recorded()
    records = records.sort_values("row", kind="stable").reset_index(drop=True)
    mentions = mentions[mentions["role"].eq("beneficiary")].set_index("row").reindex(records["row"]).reset_index()
    app_ids = [line.entry.application_id for line in lines]  # type: ignore[union-attr]
    app_of_row = dict(zip([line.number for line in lines], app_ids))
    app_id = records["row"].map(app_of_row)
    valid = mentions["id_number"].astype(object).where(mentions["id_number"].notna(), None)
    # the run's person of a valid ID (one person holds it), else a new person per ID, else per application
    run_person = [index.by_id.get(v, ()) if isinstance(v, str) else () for v in valid]
    key = pd.Series([v if isinstance(v, str) else "app:" + a for v, a in zip(valid, app_id)], dtype=object)
    first_app = app_id.groupby(key.to_numpy(), sort=False).transform("first")
    pid = np.array([found[0] if len(found) == 1 else "N" + first[4:] for found, first in zip(run_person, first_app)],
                   dtype=object)
    in_run = np.array([len(found) == 1 for found in run_person], dtype=bool)
    people = index.persons
    household = np.array([people.at[p, "household_id"] if r else "H" + p[1:] for p, r in zip(pid, in_run)], dtype=object)
    records = records.assign(
        record_id=index.next_record_id + np.arange(len(records), dtype=np.int64), person_id=pid, household_id=household,
        link_confidence=np.where(valid.notna().to_numpy(), 1.0, 0.95), identity_resolved=valid.notna().to_numpy())
    mentions = mentions.assign(mention_id=-(10 ** 9) - np.arange(len(mentions)), record_id=records["record_id"].to_numpy(),
                               person_id=pid, role="beneficiary")
    fresh = ~in_run
    persons = pd.DataFrame({
        "person_id": pid[fresh], "name": mentions["name"].to_numpy(dtype=object)[fresh],
        "id_number": valid.to_numpy(dtype=object)[fresh], "birth_date": mentions["birth_date"].to_numpy()[fresh],
        "sex": mentions["sex"].to_numpy(dtype=object)[fresh], "household_id": household[fresh],
    }).drop_duplicates("person_id").reset_index(drop=True)
    groups = pd.Series(np.arange(len(records))).groupby(pid, sort=False).indices
    return Recorded(
        records=records[RECORD_COLUMNS], mentions=mentions[MENTION_COLUMNS], persons=persons,
        person_of=dict(zip(app_id, pid)),
        records_of={k: np.asarray(v) for k, v in groups.items()}, mentions_of={k: np.asarray(v) for k, v in groups.items()},
        by_id=_lookup(persons["id_number"], persons["person_id"]), by_name=_lookup(persons["name"], persons["person_id"]),
    )


def _lookup(keys: pd.Series, persons: pd.Series) -> dict[str, tuple[str, ...]]:
    pairs = pd.DataFrame({"k": keys.astype(object), "p": persons.astype(object)}).dropna().drop_duplicates()
    return {k: tuple(sorted(g)) for k, g in pairs.groupby("k", sort=True)["p"]}


def _with_recorded(index: ScreeningIndex, recorded: Recorded, known: list[str], run_matched: list[str],
                   new: list[str]) -> ScreeningIndex:
    """A small index: the run's matched persons with their records, and the recorded approvals of
    those persons and of the new persons."""
    positions = [index.person_at[pid] for pid in run_matched]
    persons = pd.concat([index.persons.iloc[positions][PERSON_COLUMNS].reset_index(drop=True),
                         recorded.persons[recorded.persons["person_id"].isin(new)]], ignore_index=True)
    run_records = np.concatenate([index.records_of.get(pid, _EMPTY) for pid in run_matched] or [_EMPTY])
    run_mentions = np.concatenate([index.mentions_of.get(pid, _EMPTY) for pid in run_matched] or [_EMPTY])
    mine = np.concatenate([recorded.records_of[pid] for pid in [*known, *new]] or [_EMPTY])
    records = pd.concat([index.records.iloc[run_records], recorded.records.iloc[mine]], ignore_index=True)
    mentions = pd.concat([index.mentions.iloc[run_mentions], recorded.mentions.iloc[mine]], ignore_index=True)
    small = ScreeningIndex.build(persons, records, mentions, index.catalog, index.ruleset)
    small.flags_of = {pid: index.flags_of[pid] for pid in run_matched if pid in index.flags_of}
    small.rules_cache = index.rules_cache
    return small


def _identity(application: Application) -> tuple[str | None, str | None]:
    """The application's valid ID and normalized name, as the index keys them."""
    name = normalize_names(pd.Series([application.name or ""]))["name"].iat[0]
    valid = None
    if application.id_number:
        v = normalize_ids(pd.Series([application.id_number]))["id_number"].iat[0]
        valid = v if isinstance(v, str) else None
    return valid, name if isinstance(name, str) else None


def answer(index: ScreeningIndex, application: Application, scope: Scope, *, mask: bool, max_candidates: int,
           recorded: Recorded | None = None) -> tuple[dict, int]:
    """The answer to ``scope``'s agency (JSON-ready, see :class:`relieflink.service.models.ScreenResponse`
    without ``run``) and how many recorded approvals it took into account. Raises ValueError
    on an application the library refuses."""
    result = screen(index, application, max_name_matches=max_candidates)
    considered = 0
    if recorded is not None and len(recorded):
        matched = [m.person_id for m in result.matches]
        known, new = recorded.persons_for(matched, *_identity(application))
        if known or new:
            small = _with_recorded(index, recorded, known, [p for p in matched if p in index.person_at], new)
            result = replace(screen(small, application, max_name_matches=max_candidates),
                             more_name_matches=result.more_name_matches)
            considered = sum(len(recorded.records_of[pid]) for pid in [*known, *new])
    return scoped(result.to_dict(mask=mask), scope), considered


def scoped(data: dict, scope: Scope) -> dict:
    """A screening answer (``ScreeningResult.to_dict``) reduced to what ``scope`` may see."""
    benefits = data["benefits"]
    own = scope.owns([b["agency"] for b in benefits])
    known_here = {b["person_id"] for b, mine in zip(benefits, own) if mine}
    matches = [m if m["how"] in IDENTIFIED or m["person_id"] in known_here or scope.is_platform
               else {**m, "id_number": None, "birth_date": None} for m in data["matches"]]
    shown = [{**{k: b[k] for k in ("person_id", "agency", "program", "program_name", "first", "last")},
              "own": bool(mine), "records": b["records"] if mine else None, "amount": b["amount"] if mine else None}
             for b, mine in zip(benefits, own)]
    conflicts = []
    for c in data["conflicts"]:
        records = c["records"]
        mine = scope.owns([r.get("agency") for r in records])
        # the application itself is the caller's: all of a conflict is shown when the rest is the caller's too
        full = bool(scope.full_detail(pd.Series([[*(r.get("agency") for r in records), scope.agency or ""]]))[0])
        conflicts.append({
            **{k: c[k] for k in ("person_id", "rule_id", "category", "title_zh", "status", "already_flagged")},
            "full_detail": full,
            "explanation_zh": c["explanation_zh"] if full else c["explanation_scoped_zh"],
            "explanation_en": c["explanation_en"] if full else c["explanation_scoped_en"],
            "own_records": [{k: r.get(k) for k in ("file", "row", "program", "period_start", "period_end", "amount_at_stake")}
                            for r, m in zip(records, mine) if m],
            "other_records": [{k: r.get(k) for k in ("agency", "program", "period_start", "period_end")}
                              for r, m in zip(records, mine) if not m],
        })
    return {"application": data["application"], "id_status": data["id_status"], "matches": matches,
            "more_name_matches": data["more_name_matches"], "benefits": shown, "conflicts": conflicts,
            "creates_conflict": any(not c["already_flagged"] for c in conflicts)}
