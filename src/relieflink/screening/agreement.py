"""Screening against the batch audit: a record of the run screened as if it were a new application.

The correctness contract of screening (issue #10): take a benefit record R of
a run, leave it out of the index, and screen it as an application of its person
(its program, agency, period, amount, category, household, name as written and
link confidence; the run's audited period). "The same conflicts" means, as a
multiset of (rule id, status — finding, review or held):

* batch: the run's flags (``flags.parquet`` and ``held_flags.parquet``) that cite
  R and at least one other record, of every rule that is not a missed-benefit
  rule (those are not conflicts an approval creates);
* screening: the flags of those rules that involve the application.

Used by tests/test_screening_agreement.py on every record of the fixtures and by
benchmarks/screening.py ``--agreement`` on a sample at 200k persons.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.audit.periods import AuditPeriod
from relieflink.screening.index import ScreeningIndex
from relieflink.screening.screen import _answers, _Record, application_input, screen_records


@dataclass(frozen=True)
class Disagreement:
    record: tuple[str, int]  # (file, row)
    batch: list[tuple[str, str]]
    screening: list[tuple[str, str]]


def run_period(run_dir: Path) -> AuditPeriod:
    """The period the run audited (``run.json``)."""
    period = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))["counts"]["audit_period"]
    return AuditPeriod(int(period["year"]), school_year=int(str(period["school_year"])[:4]))


def batch_conflicts(run_dir: Path, index: ScreeningIndex) -> dict[tuple[str, int], Counter]:
    """Per (file, row): the (rule id, status) of the run's flags citing it and another record,
    missed-benefit rules left out."""
    missed = {r.id for r in index.ruleset.rules if r.kind == "entitlement_missing"}
    parts = [pd.read_parquet(Path(run_dir) / name, columns=["rule_id", "status", "records"])
             for name in ("flags.parquet", "held_flags.parquet") if (Path(run_dir) / name).exists()]
    out: dict[tuple[str, int], Counter] = {}
    for frame in parts:
        for rule, status, records in zip(frame["rule_id"], frame["status"], frame["records"]):
            if rule in missed or len(records) < 2:
                continue
            for rec in records:
                out.setdefault((str(rec["file"]), int(rec["row"])), Counter())[(rule, status)] += 1
    return out


def screen_left_out(index: ScreeningIndex, position: int, period: AuditPeriod) -> Counter:
    """The (rule id, status) of the conflicts screening finds for the record at ``position`` of the
    index, left out of it and screened as an application of its person."""
    d = index.data
    r = d.records
    text = {c: d.text(c, r.text[c][position:position + 1])[0] for c in r.text}
    record = _Record(program=text["program"], agency=text["agency"], start_day=int(r.start_day[position]),
                     end_day=int(r.end_day[position]), event_day=int(r.event_date_day[position]),
                     amount=float(r.amount[position]), category=text["category"], subdistrict=text["subdistrict"],
                     name_key=text["name_key"], source=text["source"], household=int(r.household[position]),
                     household_no=text["household_no"], per_month=bool(r.per_month[position]),
                     disability_level=float(r.disability_level[position]),
                     identity_resolved=bool(r.identity_resolved[position]))
    persons = np.array([int(r.person[position])])
    data, at = application_input(index, persons, record, np.array([r.link_confidence[position]]),
                                 leave_out=np.array([position]))
    flags = screen_records(index, data, at, period, record.program)
    conflicts, _ = _answers(index, data, flags, at, persons)
    return Counter((c.rule_id, c.status) for c in conflicts)


def agreement(run_dir: Path, index: ScreeningIndex, positions: np.ndarray | None = None) -> tuple[int, list[Disagreement]]:
    """Screen the records at ``positions`` (default: every record with a person) left out; the
    number screened and the disagreements with the batch audit."""
    period = run_period(run_dir)
    batch = batch_conflicts(run_dir, index)
    r = index.data.records
    if positions is None:
        positions = np.flatnonzero(r.person >= 0)
    files = index.data.text("file", r.text["file"][positions]).tolist()
    out = []
    for position, file, row in zip(positions.tolist(), files, r.row[positions].tolist()):
        expected = batch.get((file, int(row)), Counter())
        found = screen_left_out(index, position, period)
        if found != expected:
            out.append(Disagreement((file, int(row)), sorted(expected.elements()), sorted(found.elements())))
    return len(positions), out
