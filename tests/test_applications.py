"""Recorded applications in the next run: records of the approving agency, dropped where the export
now carries the grant (never a duplicate of itself), every line accounted for."""

from __future__ import annotations

import json
import multiprocessing
import os

import pandas as pd
import pytest

from relieflink.ingest.applications import (
    APPLICATIONS_FILE, RecordedLine, WithdrawnLine, append_entry, application_id, locked, parse_lines,
    read_applications,
)
from relieflink.pipeline import run_batch

from conftest import FIXTURES

BATCH = FIXTURES / "small-default" / "batch"


def recorded(agency: str, key: str, **application) -> RecordedLine:
    return RecordedLine(op="record", application_id=application_id(agency, key), agency=agency, idempotency_key=key,
                        recorded_at="2026-01-05T08:00:00Z", application=application)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("applications") / "base"
    run_batch(BATCH, out)
    records = pd.read_parquet(out / "records.parquet")
    persons = pd.read_parquet(out / "persons.parquet").set_index("person_id")
    return out, records, persons


@pytest.fixture(scope="module")
def planted(base, tmp_path_factory):
    """A file with one application of each fate, and the run that read it."""
    out, records, persons = base
    with_id = records[records["person_id"].map(persons["id_number"]).notna()]
    # a 低保 payment (monthly, no sub-category: DUP-SAME-PROGRAM pairs it with an uncategorized application)
    dibao = with_id[with_id["program"].eq("MZJ-DB")]
    grant = dibao.iloc[0]
    grantee = persons.loc[grant["person_id"]]
    tekun = set(with_id.loc[with_id["program"].eq("MZJ-TK"), "person_id"])
    holder = persons.loc[sorted(set(dibao["person_id"]) - tekun - {grant["person_id"]})[0]]
    month = str(pd.Timestamp(grant["period_start"]).date())
    who = {"name": grantee["name"], "id_number": grantee["id_number"]}
    other = "jd-hushu"
    lines = [
        recorded("mzj", "carried", **who, program="MZJ-DB", period_start=month, amount=500.0),  # in the export
        recorded("mzj", "twice", **who, program="MZJ-DB", period_start=month, amount=500.0),  # a second one
        recorded(other, "elsewhere", **who, program="MZJ-DB", period_start=month, amount=300.0),  # another agency's
        recorded("mzj", "tekun", name=holder["name"], id_number=holder["id_number"], program="MZJ-TK",
                 period_start="2015-07-01"),  # not exported yet: kept, and exclusive with 低保
        recorded("mzj", "withdrawn", name="欧阳无名", program="MZJ-TK", period_start="2015-07-01"),
        recorded("mzj", "bad-program", name="欧阳无名", program="MZJ-XX", period_start="2015-07-01"),
    ]
    path = tmp_path_factory.mktemp("recorded") / APPLICATIONS_FILE
    with path.open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line.model_dump(), ensure_ascii=False, sort_keys=True) + "\n")
        f.write("not json\n")
        f.write(json.dumps(WithdrawnLine(op="withdraw", application_id=application_id("mzj", "withdrawn"), agency="mzj",
                                         withdrawn_at="2026-01-06T08:00:00Z").model_dump()) + "\n")
    run = run_batch(BATCH, path.parent / "out", applications=path)
    return {"run": run, "out": path.parent / "out", "grant": grant, "holder": holder, "other": other, "path": path}


def test_the_application_the_export_carries_is_dropped_and_never_its_own_duplicate(planted):
    out, grant = planted["out"], planted["grant"]
    summary = planted["run"].summary()
    matched = summary["applications_matched"]
    assert [(m["application_id"], m["row"], m["export_file"], m["export_row"]) for m in matched] == [
        (application_id("mzj", "carried"), 1, grant["file"], int(grant["row"]))]
    records = pd.read_parquet(out / "records.parquet")
    mine = records[records["file"].eq(APPLICATIONS_FILE)]
    assert 1 not in set(mine["row"])  # dropped: the export's row is the grant
    flags = pd.read_parquet(out / "flags.parquet")
    cites = flags["records"].map(lambda rs: {(r["file"], int(r["row"])) for r in rs})
    assert not cites.map(lambda c: (APPLICATIONS_FILE, 1) in c).any()
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    q = quarantine[quarantine["file"].eq(APPLICATIONS_FILE)].set_index("row")
    assert q.loc[1, "problem"] == "application_in_export" and q.loc[1, "action"] == "duplicate_delivery"


def test_a_second_application_for_the_same_grant_is_kept_and_flagged(planted):
    out, grant = planted["out"], planted["grant"]
    flags = pd.read_parquet(out / "flags.parquet")
    cites = flags["records"].map(lambda rs: {(r["file"], int(r["row"])) for r in rs})
    dup = flags[cites.map(lambda c: (APPLICATIONS_FILE, 2) in c and (grant["file"], int(grant["row"])) in c)]
    assert "DUP-SAME-PROGRAM" in set(dup["rule_id"])
    # another agency's record of the same need is not the grant: kept, a duplicate too
    other = flags[cites.map(lambda c: (APPLICATIONS_FILE, 3) in c)]
    assert "DUP-SAME-PROGRAM" in set(other["rule_id"])


def test_kept_applications_are_records_of_the_approving_agency_and_listed(planted):
    out, holder = planted["out"], planted["holder"]
    records = pd.read_parquet(out / "records.parquet")
    mine = records[records["file"].eq(APPLICATIONS_FILE)].set_index("row")
    assert sorted(mine.index) == [2, 3, 4]
    tekun = mine.loc[4]
    assert (tekun["agency"], tekun["source"], tekun["program"], tekun["person_id"]) == (
        "mzj", "mzj", "MZJ-TK", holder.name)
    assert mine.loc[3, "agency"] == planted["other"]
    kept = planted["run"].summary()["applications_kept"]
    assert [k["row"] for k in kept] == [2, 3, 4] and kept[2]["agency"] == "mzj"
    flags = pd.read_parquet(out / "flags.parquet")
    excl = flags[flags["rule_id"].eq("EXCL-STATUS") & flags["person_id"].eq(holder.name)]
    assert excl["records"].map(lambda rs: any(r["file"] == APPLICATIONS_FILE for r in rs)).any()


def test_every_line_is_accounted_for(planted):
    out = planted["out"]
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    q = quarantine[quarantine["file"].eq(APPLICATIONS_FILE)]
    problems = dict(zip(q["row"], q["problem"]))
    assert problems[5] == "application_withdrawn" and problems[7] == "bad_application_line"
    assert problems[6] == "unknown_program_value"
    summary = planted["run"].summary()
    a = summary["applications"]
    assert (a["recorded"], a["withdrawn"], a["matched"], a["kept"], a["unreadable_lines"]) == (6, 1, 1, 3, 1)
    assert summary["data_rows"] == summary["records"] + summary["rows_quarantined"]
    report = next(f for f in planted["run"].ingest.files if f.file == APPLICATIONS_FILE)
    assert report.data_rows == report.records + report.rows_quarantined == 7
    assert a["bytes"] == planted["path"].stat().st_size and a["sha256"] == report.sha256


def test_a_run_without_the_file_is_unchanged(base):
    out, records, _ = base
    assert not records["file"].eq(APPLICATIONS_FILE).any()
    assert "applications" not in json.loads((out / "run.json").read_text())["counts"]


def test_the_default_file_is_beside_out(base, tmp_path):
    from relieflink.cli import main

    out = tmp_path / "run"
    line = recorded("mzj", "k", name="欧阳无名", program="MZJ-TK", period_start="2015-07-01")
    (tmp_path / APPLICATIONS_FILE).write_text(json.dumps(line.model_dump(), ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["run", str(BATCH), "--out", str(out)]) == 0
    records = pd.read_parquet(out / "records.parquet")
    assert records["file"].eq(APPLICATIONS_FILE).sum() == 1


def test_a_cut_last_line_is_not_read_and_the_next_append_closes_it(tmp_path):
    path = tmp_path / APPLICATIONS_FILE
    good = recorded("mzj", "a", name="张三", program="MZJ-TK", period_start="2015-07-01")
    path.write_bytes(json.dumps(good.model_dump()).encode() + b"\n" + b'{"op": "record", "applic')
    log = read_applications(path)
    assert [line.number for line in log.lines] == [1] and log.size == len(json.dumps(good.model_dump())) + 1
    with locked(path, exclusive=True) as fd:
        append_entry(fd, recorded("mzj", "b", name="李四", program="MZJ-TK", period_start="2015-07-01"))
    lines, _ = parse_lines(path.read_bytes())
    assert [(line.number, line.entry is not None) for line in lines] == [(1, True), (2, False), (3, True)]


def _append_many(path: str, start: int) -> None:
    for i in range(start, start + 50):
        with locked(path, exclusive=True) as fd:
            append_entry(fd, recorded("mzj", f"k{i}", name="张三" * 20, program="MZJ-TK", period_start="2015-07-01"))


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / APPLICATIONS_FILE
    workers = [multiprocessing.get_context("fork").Process(target=_append_many, args=(str(path), 100 * w))
               for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    lines, end = parse_lines(path.read_bytes())
    assert end == os.path.getsize(path) and len(lines) == 200 and all(line.entry is not None for line in lines)
    assert len({line.entry.application_id for line in lines}) == 200
