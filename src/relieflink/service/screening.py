"""The one door between the service and :mod:`relieflink.screening`.

Everything the service needs of the screening library goes through here, so
that a change of that library's API is a change of this module alone:

* :func:`load_index` — the index a run wrote (:meth:`ScreeningIndex.open`);
* :func:`as_application` — an application as the library takes it;
* :func:`answer` — one application screened for one agency: the library's
  answer (on the index with the approvals recorded since the run, :class:`Recorded`),
  reduced by the library to what that agency may see
  (``ScreeningResult.to_dict(scope=)``, :class:`relieflink.visibility.Scope`), in
  the shape of :class:`relieflink.service.models.ScreenResponse`.

Recorded applications (:mod:`relieflink.ingest.applications`) are mapped by
the ingest's engine, as the next run will map them, and counted for the
person whose valid ID they carry (or, when the run knows no one by it, for a
new person, one per ID). They join the run's index as records of those persons
(:meth:`ScreeningIndex.with_records`, once per change of the recorded file), so
the audit engine sees an approval like any other record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.ingest.applications import Line, map_lines
from relieflink.ingest.quarantine import Quarantine
from relieflink.screening import Application, ScreeningIndex, screen
from relieflink.screening.index import PERSON_COLUMNS
from relieflink.visibility import Scope

#: the service's fields of what was applied for, of an own record and of a benefit (models.py)
_APPLIED_FOR = ("name", "id_number", "program", "period_start", "period_end", "subdistrict", "amount")
_OWN_RECORD = ("file", "row", "program", "period_start", "period_end", "amount_at_stake")
_BENEFIT = ("person_id", "agency", "program", "program_name", "own", "first", "last", "records", "amount")
_ENTITLEMENT = ("person_id", "rule_id", "title_zh", "programs", "status", "opened_by_application", "full_detail",
                "explanation_zh", "explanation_en")
_CONFLICT = ("person_id", "rule_id", "category", "title_zh", "status", "already_flagged", "full_detail",
             "explanation_zh", "explanation_en", "other_records")


def load_index(out: Path) -> ScreeningIndex:
    """The screening index of a run folder: the one the run wrote, else built from its tables
    (raises FileNotFoundError when it is not a full run)."""
    return ScreeningIndex.open(Path(out))


def as_application(fields: dict) -> Application:
    """The library's application of the service's checked request fields (``ScreenRequest``)."""
    return Application(name=fields.get("name") or "", program=fields["program"], period_start=fields["period_start"],
                       period_end=fields.get("period_end"), id_number=fields.get("id_number"),
                       subdistrict=fields.get("subdistrict"), amount=fields.get("amount"))


def index_size(index: ScreeningIndex) -> tuple[int, int]:
    """(persons, records) of an index, for the health endpoint."""
    return int(index.data.persons.known.sum()), len(index.data.records)


@dataclass
class Recorded:
    """Approvals recorded since the run (see the module docstring): the run's index with them
    as records, and who each approval is counted for."""

    index: ScreeningIndex | None = None  # None: nothing recorded (screen on the run's index)
    person_of: dict[str, str] = field(default_factory=dict)  # application id → person id
    approvals_of: dict[str, int] = field(default_factory=dict)  # person id → approvals recorded

    def __len__(self) -> int:
        return sum(self.approvals_of.values())


def record_approvals(index: ScreeningIndex, lines: list[Line], config) -> Recorded:  # type: ignore[no-untyped-def]
    """The recorded approvals of ``lines`` (standing, not yet in the run) against ``index``."""
    if not lines:
        return Recorded()
    mentions, records = map_lines(lines, config.catalog, config.gazetteer, Quarantine())
    if not len(records):
        return Recorded()
    records = records.sort_values("row", kind="stable").reset_index(drop=True)
    mentions = mentions[mentions["role"].eq("beneficiary")].set_index("row").reindex(records["row"]).reset_index()
    app_of_row = {line.number: line.entry.application_id for line in lines}  # type: ignore[union-attr]
    app_id = records["row"].map(app_of_row)
    valid = mentions["id_number"].astype(object).where(mentions["id_number"].notna(), None)
    # the run's person of a valid ID (one person holds it), else a new person per ID, else per application
    found = [index.by_id.get(v) if isinstance(v, str) else () for v in valid]
    run_code = np.array([int(f[0]) if len(f) == 1 else -1 for f in found], dtype=np.int64)
    in_run = run_code >= 0
    key = pd.Series([v if isinstance(v, str) else "app:" + a for v, a in zip(valid, app_id)], dtype=object)
    first_app = app_id.groupby(key.to_numpy(), sort=False).transform("first").to_numpy(dtype=object)
    people, vocab = index.data.persons, index.data.vocab
    run_pid = vocab["person"].text(run_code)
    run_household = vocab["household"].text(np.where(in_run, people.household[np.maximum(run_code, 0)], -1))
    pid = np.where(in_run, run_pid, np.array(["N" + a[4:] for a in first_app], dtype=object))
    household = np.where(in_run, run_household, np.array(["H" + a[4:] for a in first_app], dtype=object))
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
    }).drop_duplicates("person_id").reset_index(drop=True)[PERSON_COLUMNS]
    return Recorded(index=index.with_records(records, mentions, persons), person_of=dict(zip(app_id, pid)),
                    approvals_of=pd.Series(pid).value_counts().to_dict())


def answer(index: ScreeningIndex, application: Application, scope: Scope, *, mask: bool, max_candidates: int,
           recorded: Recorded | None = None) -> tuple[dict, int]:
    """The answer to ``scope``'s agency (JSON-ready, see :class:`relieflink.service.models.ScreenResponse`
    without ``run``) and how many recorded approvals it took into account. Raises ValueError
    on an application the library refuses."""
    on = recorded.index if recorded is not None and recorded.index is not None else index
    result = screen(on, application, max_name_matches=max_candidates, scope=scope)
    considered = sum(recorded.approvals_of.get(m.person_id, 0) for m in result.matches) if recorded else 0
    data = result.to_dict(mask=mask)
    conflicts = [{**{k: c[k] for k in _CONFLICT}, "own_records": [{k: r[k] for k in _OWN_RECORD} for r in c["records"]]}
                 for c in data["conflicts"]]
    return {"application": {k: data["application"][k] for k in _APPLIED_FOR}, "id_status": data["id_status"],
            "matches": data["matches"],
            "more_name_matches": data["more_name_matches"], "benefits": [{k: b[k] for k in _BENEFIT} for b in data["benefits"]],
            "conflicts": conflicts, "creates_conflict": any(not c["already_flagged"] for c in conflicts),
            "entitlements": [{k: e[k] for k in _ENTITLEMENT} for e in data["entitlements"]]}, considered
