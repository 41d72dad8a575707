"""The screening service over HTTP: keys, scopes, the audit log, recorded applications, reloads, limits.

The app runs in-process (Starlette's test client); one test starts ``relieflink serve`` itself and
calls it over a socket on localhost. The run is the small fixture batch with one agency's export
planted: the Disabled Persons' Federation's subsidies renamed ``cl_残疾人补贴-PLANTED.jsonl`` and
every amount 4,321.09 yuan, so that a leak of its file names, amounts or record references into
another agency's answer shows in the JSON text.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("fastapi")
from starlette.testclient import TestClient  # noqa: E402

from relieflink.config import ConfigError, load_catalog  # noqa: E402
from relieflink.ingest.applications import APPLICATIONS_FILE  # noqa: E402
from relieflink.pipeline import run_batch  # noqa: E402
from relieflink.service.app import Service, create_app  # noqa: E402
from relieflink.service.auditlog import AuditLog  # noqa: E402
from relieflink.service.keys import find_key, key_hash, load_keys, new_key  # noqa: E402
from relieflink.service.limits import NameOnly, RateLimit, RateLimiter, ServiceLimits, load_limits  # noqa: E402

from conftest import FIXTURES  # noqa: E402

PLANTED_FILE = "cl_残疾人补贴-PLANTED.jsonl"
PLANTED_AMOUNT = 4321.09
CATALOG = load_catalog()
VIEWERS = ["mzj", "jd-hushu", "jd-mishixiang", "rsj", "jyj", "zgh", "sfj", "jsj"]
GENEROUS = ServiceLimits(rate_limit=RateLimit(requests_per_minute=100_000, burst=100_000, name_only_per_minute=100_000),
                         name_only=NameOnly(max_candidates=1))


def planted_run(root: Path) -> Path:
    batch = root / "batch"
    shutil.copytree(FIXTURES / "small-default" / "batch", batch)
    source = batch / "cl_残疾人补贴.jsonl"
    text = re.sub(r'"je": "[^"]*"', f'"je": "{PLANTED_AMOUNT:.2f}"', source.read_text(encoding="utf-8"))
    (batch / PLANTED_FILE).write_text(text, encoding="utf-8")
    source.unlink()
    out = root / "out"
    run_batch(batch, out)
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    out = planted_run(root)
    keys = root / "keys.yaml"
    key = {agency: new_key(keys, agency, CATALOG) for agency in ["cl", *VIEWERS]}
    key["mzj-unmasked"] = new_key(keys, "mzj", CATALOG, unmasked=True)
    service = Service(out, keys, root / "audit.jsonl", root / APPLICATIONS_FILE, limits=GENEROUS)
    records = pd.read_parquet(out / "records.parquet")
    persons = pd.read_parquet(out / "persons.parquet").set_index("person_id")
    with TestClient(create_app(service)) as client:
        yield {"root": root, "out": out, "keys": keys, "key": key, "service": service, "client": client,
               "records": records, "persons": persons}


def auth(world, agency: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world['key'][agency]}"}


@pytest.fixture(scope="module")
def subject(world):
    """A person with a valid ID, planted disability subsidies (cl) and 低保 (mzj)."""
    r, p = world["records"], world["persons"]
    cl = set(r.loc[r["file"].eq(PLANTED_FILE), "person_id"])
    dibao = set(r.loc[r["program"].eq("MZJ-DB"), "person_id"])
    pid = sorted(pid for pid in cl & dibao if isinstance(p.at[pid, "id_number"], str))[0]
    return p.loc[pid]


def application(person, program: str = "MZJ-TK", **extra) -> dict:
    return {"name": person["name"], "id_number": person["id_number"], "program": program,
            "period_start": "2015-06-01", "period_end": "2015-06-30", **extra}


def planted_texts(n_max: int = 40) -> list[str]:
    """Every way a planted amount (or a sum of a few) can be written."""
    out = ["PLANTED", PLANTED_FILE]
    for k in range(1, n_max):
        v = round(PLANTED_AMOUNT * k, 2)
        out += [f"{v:.2f}", f"{v:,.2f}", f"{v:.1f}" if f"{v:.2f}".endswith("0") else f"{v:.2f}"]
    return out


# -- keys ----------------------------------------------------------------------------------------

def test_no_key_or_a_wrong_key_is_401(world, subject):
    client = world["client"]
    body = application(subject)
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": f"Basic {world['key']['mzj']}"},
                    {"Authorization": "Bearer "}, {"Authorization": world["key"]["mzj"]}):
        for method, path, kw in (("post", "/v1/screen", {"json": body}), ("post", "/v1/applications", {"json": body}),
                                 ("delete", "/v1/applications/APP-0000000000000000", {})):
            res = getattr(client, method)(path, headers=headers, **kw)
            assert res.status_code == 401, (headers, path)
            assert res.headers["www-authenticate"] == "Bearer" and res.json()["error"] == "unauthorized"
    # before the body is read: a malformed body without a key is still 401
    res = client.post("/v1/screen", content=b"{not json", headers={"content-type": "application/json"})
    assert res.status_code == 401
    assert client.post("/v1/screen", json=body, headers=auth(world, "mzj")).status_code == 200


def test_keys_file_is_validated_with_file_and_entry(tmp_path):
    path = tmp_path / "keys.yaml"
    good = key_hash("x")
    for text, key in ((f"- agency: mzj\n  key_sha256: {good}\n- agency: nosuch\n  key_sha256: {key_hash('y')}\n", "1.agency"),
                      ("- agency: mzj\n  key_sha256: ABC\n", "0.key_sha256"),
                      (f"- agency: mzj\n  key_sha256: {good}\n  unmaskd: true\n", "0.unmaskd"),
                      (f"- agency: mzj\n  key_sha256: {good}\n- agency: cl\n  key_sha256: {good}\n", "1.key_sha256")):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_keys(path, CATALOG)
        assert str(path) in str(err.value) and err.value.key == key
    path.write_text("agency: mzj\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="YAML list"):
        load_keys(path, CATALOG)


def test_new_key_appends_its_hash_only_and_keeps_the_file(tmp_path):
    path = tmp_path / "keys.yaml"
    first = new_key(path, "mzj", CATALOG, label="民政局")
    path.write_text(path.read_text(encoding="utf-8") + "# a comment the operator wrote\n", encoding="utf-8")
    second = new_key(path, "jd-hushu", CATALOG, unmasked=True)
    text = path.read_text(encoding="utf-8")
    assert first not in text and second not in text and "# a comment the operator wrote" in text
    entries = load_keys(path, CATALOG)
    assert [(e.agency, e.unmasked, e.label) for e in entries] == [("mzj", False, "民政局"), ("jd-hushu", True, None)]
    assert find_key(entries, first).agency == "mzj" and find_key(entries, second).agency == "jd-hushu"
    assert find_key(entries, first + "x") is None
    with pytest.raises(ConfigError, match="unknown agency"):
        new_key(path, "nosuch", CATALOG)


def test_cli_keys_new_prints_a_working_key(world, tmp_path, capsys):
    from relieflink.cli import main

    path = tmp_path / "keys.yaml"
    assert main(["keys", "new", "jd-hushu", "--keys", str(path), "--label", "湖墅"]) == 0
    key = capsys.readouterr().out.strip()
    assert find_key(load_keys(path, CATALOG), key).agency == "jd-hushu"
    assert main(["keys", "list", "--keys", str(path)]) == 0
    listed = capsys.readouterr().out
    assert key_hash(key)[:12] in listed and key not in listed
    assert main(["keys", "new", "--keys", str(path)]) == 2
    assert main(["keys", "new", "nosuch", "--keys", str(path)]) == 3


# -- scopes ----------------------------------------------------------------------------------------

def test_another_agency_never_sees_the_planted_files_amounts_or_records(world, subject):
    client, records = world["client"], world["records"]
    planted = planted_texts()
    others = set(records.loc[records["agency"].ne("cl"), "file"])
    for viewer in VIEWERS:
        for program in ("MZJ-TK", "CL-KNBT", "JD-LSJZ"):
            res = client.post("/v1/screen", json=application(subject, program), headers=auth(world, viewer))
            assert res.status_code == 200
            text = res.text
            assert not [t for t in planted if t in text], (viewer, program)
            data = res.json()
            mine = set(records.loc[records["agency"].eq(viewer), "file"])
            files = {r["file"] for c in data["conflicts"] for r in c["own_records"]}
            assert files <= mine | {APPLICATIONS_FILE}, (viewer, files)
            for b in data["benefits"]:
                assert b["own"] == (b["agency"] == viewer)
                if not b["own"]:
                    assert b["records"] is None and b["amount"] is None
            for c in data["conflicts"]:
                assert all(set(o) == {"agency", "program", "period_start", "period_end"} for o in c["other_records"])
                if c["other_records"]:
                    assert not c["full_detail"]
                    assert "金额" not in c["explanation_zh"] and "条记录" not in c["explanation_zh"]
                    assert "¥" not in c["explanation_en"] and " records" not in c["explanation_en"]
            assert others  # the scan looked for something


def test_the_agency_itself_sees_its_planted_records_in_full(world, subject):
    """The positive control of the scan above: the same answer to cl shows what others may not."""
    res = world["client"].post("/v1/screen", json=application(subject, "MZJ-TK"), headers=auth(world, "cl"))
    data = res.json()
    own = [b for b in data["benefits"] if b["agency"] == "cl" and b["program"] in ("CL-KNBT", "CL-HLBT")]
    assert own and all(b["own"] and b["records"] and b["amount"] == round(b["records"] * PLANTED_AMOUNT, 2) for b in own)
    conflict = next(c for c in data["conflicts"] if c["rule_id"] == "EXCL-TK-DISABILITY")
    assert {r["file"] for r in conflict["own_records"]} == {PLANTED_FILE}
    assert any(t in res.text for t in planted_texts())
    # mzj's 低保 is in the conflicts too: cl reads it as agency, program and period only
    excl = next(c for c in data["conflicts"] if c["rule_id"] == "EXCL-STATUS")
    assert excl["other_records"] and not excl["full_detail"]


def test_the_answer_tells_the_entitlements_the_approval_opens(world):
    """Approving 低保 makes the medical-insurance subsidy due: an agency system learns it in the answer."""
    r, p = world["records"], world["persons"]
    has = set(r.loc[r["program"].isin(["MZJ-DB", "MZJ-TK", "JD-YBBT"]), "person_id"].dropna())
    person = p[~p.index.isin(has) & p["id_number"].notna()].iloc[0]
    res = world["client"].post("/v1/screen", json=application(person, "MZJ-DB", period_end="2015-12-31"),
                               headers=auth(world, "mzj"))
    assert res.status_code == 200
    medical = [e for e in res.json()["entitlements"] if e["rule_id"] == "MISS-MEDICAL-INSURANCE"]
    assert medical and medical[0]["opened_by_application"] and medical[0]["programs"] == ["JD-YBBT"]
    assert medical[0]["explanation_zh"]


def test_a_namesake_known_only_from_other_agencies_shows_no_id_or_birth_date(world):
    persons, records = world["persons"], world["records"]
    names = persons["name"].value_counts()
    name = sorted(names[names >= 2].index)[0]
    res = world["client"].post("/v1/screen", json={"name": name, "program": "JD-LSJZ", "period_start": "2015-06-01"},
                               headers=auth(world, "jd-hushu"))
    data = res.json()
    assert len(data["matches"]) == 1 and data["more_name_matches"] == int(names[name]) - 1  # capped at 1 (limits)
    match = data["matches"][0]
    theirs = set(records.loc[records["person_id"].eq(match["person_id"]), "agency"])
    if "jd-hushu" not in theirs:
        assert match["id_number"] is None and match["birth_date"] is None


def test_answers_are_masked_unless_the_key_is_granted_unmasked(world, subject):
    client = world["client"]
    masked = client.post("/v1/screen", json=application(subject), headers=auth(world, "mzj")).text
    assert subject["id_number"] not in masked and subject["name"] not in masked
    clear = client.post("/v1/screen", json=application(subject), headers=auth(world, "mzj-unmasked")).json()
    assert clear["matches"][0]["id_number"] == subject["id_number"] and clear["application"]["name"] == subject["name"]
    # unmasked answers never unmask another agency's records
    assert all(b["amount"] is None for b in clear["benefits"] if b["agency"] != "mzj")


def test_an_application_is_filed_at_the_calling_subdistrict_unless_it_says_otherwise(world, subject):
    client = world["client"]
    for viewer, body, expected in (("jd-hushu", application(subject, "MZJ-TK"), "jd-hushu"),
                                   ("jd-hushu", application(subject, "MZJ-TK", subdistrict="jd-hemu"), "jd-hemu"),
                                   ("mzj", application(subject, "MZJ-TK"), None)):
        res = client.post("/v1/screen", json=body, headers=auth(world, viewer))
        assert res.json()["application"]["subdistrict"] == expected, viewer


# -- validation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, field", [
    ({"name": None, "id_number": None}, "body"),
    ({"program": "MZJ-XX"}, "program"),
    ({"period_start": "2015-02-30"}, "period_start"),
    ({"period_start": "1985-01-01", "period_end": None}, "period_start"),
    ({"period_start": "2099-01-01", "period_end": None}, "period_start"),
    ({"period_end": "2015-05-01"}, "period_end"),
    ({"amount": -1}, "amount"),
    ({"amount": 60000}, "amount"),
    ({"subdistrict": "jd-nowhere"}, "subdistrict"),
    ({"surprise": 1}, "surprise"),
])
def test_an_impossible_application_is_422_naming_the_field(world, subject, change, field):
    body = {**application(subject, "MZJ-DB"), **change}
    res = world["client"].post("/v1/screen", json=body, headers=auth(world, "mzj"))
    assert res.status_code == 422, res.text
    problem = res.json()
    assert problem["error"] == "invalid_request" and problem["fields"][0]["field"] == field
    assert problem["message"].startswith(field)
    assert subject["id_number"] not in res.text  # the value is not echoed


def test_a_body_that_is_not_json_is_422(world):
    res = world["client"].post("/v1/screen", content=b"{not json", headers={**auth(world, "mzj"),
                                                                             "content-type": "application/json"})
    assert res.status_code == 422 and res.json()["fields"][0]["field"] == "body"


# -- the audit log ----------------------------------------------------------------------------------

def test_every_request_has_its_line_and_no_line_an_unmasked_id_or_a_key(world, subject):
    client, log = world["client"], world["root"] / "audit.jsonl"
    before = len(log.read_text(encoding="utf-8").splitlines())
    body = application(subject)
    calls = [
        (lambda: client.post("/v1/screen", json=body, headers=auth(world, "mzj-unmasked")), 200),
        (lambda: client.post("/v1/screen", json=body), 401),
        (lambda: client.post("/v1/screen", json=body, headers={"Authorization": "Bearer wrong"}), 401),
        (lambda: client.post("/v1/screen", json={**body, "program": "X"}, headers=auth(world, "mzj")), 422),
        (lambda: client.delete("/v1/applications/APP-ffffffffffffffff", headers=auth(world, "mzj")), 404),
        (lambda: client.get(f"/v1/nothing-here/{subject['id_number']}"), 404),
        (lambda: client.get("/v1/health"), 200),
        (lambda: client.get("/openapi.json"), 200),
    ]
    for call, status in calls:
        assert call().status_code == status
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()[before:]]
    assert [x["status"] for x in lines] == [s for _, s in calls]
    first = lines[0]
    assert first["agency"] == "mzj" and first["endpoint"] == "/v1/screen" and first["latency_ms"] > 0
    assert first["applicant"]["id_number"] == subject["id_number"][:6] + "********" + subject["id_number"][-4:]
    assert first["matched_person_ids"] == [subject.name]
    assert [x["agency"] for x in lines[1:3]] == [None, None]
    assert [x["endpoint"] for x in lines[1:3]] == ["/v1/screen", "/v1/screen"]  # refused before routing, still named
    assert lines[5]["endpoint"] == "(no such route)"
    text = log.read_text(encoding="utf-8")
    assert subject["id_number"] not in text and subject["name"] not in text
    assert not [k for k in world["key"].values() if k in text]
    persons = world["persons"]
    assert not [i for i in persons["id_number"].dropna() if i in text]


def test_audit_lines_never_interleave_under_concurrent_writers(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    payload = {"applicant": {"name": "张*" * 200}, "status": 200}

    def write(n: int) -> None:
        for i in range(300):
            log.write({**payload, "n": n, "i": i})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2400 and len({(x["n"], x["i"]) for x in map(json.loads, lines)}) == 2400


# -- recorded applications --------------------------------------------------------------------------

def test_a_second_application_for_the_same_need_is_caught_before_the_next_run(world, subject):
    client = world["client"]
    body = application(subject, "MZJ-DBBY", period_start="2016-02-01", period_end="2016-02-29")  # 低保边缘, later
    before = client.post("/v1/screen", json=body, headers=auth(world, "jd-hushu")).json()
    assert not any(c["rule_id"] == "DUP-SAME-PROGRAM" for c in before["conflicts"])
    recorded = client.post("/v1/applications", json=body, headers={**auth(world, "mzj"), "Idempotency-Key": "case-77"})
    assert recorded.status_code == 201 and recorded.json()["person_id"] == subject.name
    again = client.post("/v1/applications", json={**body, "idempotency_key": "case-77"}, headers=auth(world, "mzj"))
    assert again.status_code == 200 and again.json()["application_id"] == recorded.json()["application_id"]
    assert again.json()["status"] == "already_recorded"
    assert client.post("/v1/applications", json={**body, "amount": 1.0},
                       headers={**auth(world, "mzj"), "Idempotency-Key": "case-77"}).status_code == 409
    after = client.post("/v1/screen", json=body, headers=auth(world, "jd-hushu")).json()
    assert after["recorded_applications"] == 1
    dup = [c for c in after["conflicts"] if c["rule_id"] == "DUP-SAME-PROGRAM"]
    assert dup and dup[0]["other_records"] == [{"agency": "mzj", "program": "MZJ-DBBY", "period_start": "2016-02-01",
                                                "period_end": "2016-02-29"}]
    assert APPLICATIONS_FILE not in json.dumps(after)  # another agency's record reference
    # withdrawn: only by the agency that recorded it; then no longer counted
    app_id = recorded.json()["application_id"]
    assert client.delete(f"/v1/applications/{app_id}", headers=auth(world, "jd-hushu")).status_code == 404
    gone = client.delete(f"/v1/applications/{app_id}", headers=auth(world, "mzj"))
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn"
    assert client.delete(f"/v1/applications/{app_id}", headers=auth(world, "mzj")).json()["status"] == "already_withdrawn"
    final = client.post("/v1/screen", json=body, headers=auth(world, "jd-hushu")).json()
    assert final["recorded_applications"] == 0 and not any(c["rule_id"] == "DUP-SAME-PROGRAM" for c in final["conflicts"])


def test_recording_needs_a_key_and_the_grantor(world, subject):
    client = world["client"]
    body = application(subject, "MZJ-DB")
    assert client.post("/v1/applications", json=body, headers=auth(world, "mzj")).json()["fields"][0]["field"] == \
        "idempotency_key"
    res = client.post("/v1/applications", json=body, headers={**auth(world, "jd-hushu"), "Idempotency-Key": "x"})
    assert res.status_code == 403


def test_an_applicant_the_run_does_not_know_is_caught_by_id(world):
    client = world["client"]
    body = {"name": "欧阳新人", "id_number": "11010519491231002X", "program": "JD-LSJZ", "period_start": "2016-03-03"}
    first = client.post("/v1/screen", json=body, headers=auth(world, "jd-hushu")).json()
    assert first["matches"] == []
    assert client.post("/v1/applications", json=body, headers={**auth(world, "jd-hushu"),
                                                              "Idempotency-Key": "new-1"}).status_code == 201
    second = client.post("/v1/screen", json=body, headers=auth(world, "jd-mishixiang")).json()
    assert [m["how"] for m in second["matches"]] == ["valid_id"]
    assert [c["rule_id"] for c in second["conflicts"]] == ["DUP-SAME-PROGRAM"]


def test_concurrent_recordings_under_one_key_make_one_application(world, subject):
    body = application(subject, "MZJ-DB", period_start="2016-05-01", period_end=None)
    results = []

    def record() -> None:
        res = world["client"].post("/v1/applications", json=body,
                                   headers={**auth(world, "mzj"), "Idempotency-Key": "same-approval"})
        results.append((res.status_code, res.json()["application_id"]))

    threads = [threading.Thread(target=record) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in results) == [200] * 5 + [201] and len({a for _, a in results}) == 1
    lines = (world["root"] / APPLICATIONS_FILE).read_text(encoding="utf-8").splitlines()
    assert sum('"same-approval"' in line for line in lines) == 1


# -- reloads -------------------------------------------------------------------------------------------

def _wait(predicate, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_revoked_key_is_refused_without_a_restart(world, subject, tmp_path):
    keys = tmp_path / "keys.yaml"
    keep, revoke = new_key(keys, "mzj", CATALOG), new_key(keys, "jd-hushu", CATALOG)
    service = Service(world["out"], keys, tmp_path / "audit.jsonl", tmp_path / APPLICATIONS_FILE, limits=GENEROUS)
    body = application(subject)
    with TestClient(create_app(service)) as client:
        assert client.post("/v1/screen", json=body, headers={"Authorization": f"Bearer {revoke}"}).status_code == 200
        text = keys.read_text(encoding="utf-8")
        entry = next(e for e in load_keys(keys, CATALOG) if e.agency == "jd-hushu")
        kept = [block for block in text.split("\n- ") if entry.key_sha256 not in block]
        keys.write_text("\n- ".join(kept), encoding="utf-8")
        assert client.post("/v1/screen", json=body, headers={"Authorization": f"Bearer {revoke}"}).status_code == 401
        assert client.post("/v1/screen", json=body, headers={"Authorization": f"Bearer {keep}"}).status_code == 200
        keys.write_text(keys.read_text(encoding="utf-8") + "  oops: [\n", encoding="utf-8")  # a broken edit
        res = client.post("/v1/screen", json=body, headers={"Authorization": f"Bearer {keep}"})
        assert res.status_code == 503 and client.get("/v1/health").json()["keys_valid"] is False
        assert keep not in res.text


def test_a_new_run_in_out_is_loaded_and_takes_in_the_recorded_applications(world, subject, tmp_path):
    """The service reloads the run when OUT is replaced; the approvals the new run took in are the
    run's records then, never counted twice."""
    out = tmp_path / "out"
    shutil.copytree(world["out"], out)
    recorded_file = tmp_path / APPLICATIONS_FILE
    service = Service(out, world["keys"], tmp_path / "audit.jsonl", recorded_file, limits=GENEROUS)
    body = application(subject, "MZJ-DBBY", period_start="2016-02-01", period_end="2016-02-29")
    with TestClient(create_app(service)) as client:
        old = client.get("/v1/health").json()
        res = client.post("/v1/applications", json=body, headers={**auth(world, "mzj"), "Idempotency-Key": "k-1"})
        assert res.status_code == 201
        assert client.post("/v1/screen", json=body, headers=auth(world, "jd-hushu")).json()["recorded_applications"] == 1
        run_batch(world["root"] / "batch", out, applications=recorded_file)
        client.get("/v1/health")  # notices the new run.json; the old index answers while the new one loads
        _wait(lambda: client.get("/v1/health").json()["run_json_mtime"] != old["run_json_mtime"]
              and not client.get("/v1/health").json()["reloading"])
        data = client.post("/v1/screen", json=body, headers=auth(world, "jd-hushu")).json()
        assert data["recorded_applications"] == 0  # now a record of the run, not counted again
        dup = [c for c in data["conflicts"] if c["rule_id"] == "DUP-SAME-PROGRAM"]
        assert len(dup) == 1 and dup[0]["other_records"][0]["agency"] == "mzj"
        # the agency that recorded it sees its own approval as a record of the run
        mine = client.post("/v1/screen", json=body, headers=auth(world, "mzj")).json()
        assert any(b["own"] and b["program"] == "MZJ-DBBY" for b in mine["benefits"])


# -- limits ---------------------------------------------------------------------------------------------

def test_the_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.take("k", 60, 3) for _ in range(3)] == [None, None, None]
    wait = limiter.take("k", 60, 3)
    assert wait == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.take("k", 60, 3) is None and limiter.take("other", 60, 3) is None
    assert RateLimiter.retry_after(0.2) == "1" and RateLimiter.retry_after(2.5) == "3"


def test_past_its_limit_a_key_gets_429_and_name_only_queries_have_their_own(world, subject, tmp_path):
    limits = ServiceLimits(rate_limit=RateLimit(requests_per_minute=1, burst=4, name_only_per_minute=2),
                           name_only=NameOnly(max_candidates=5))
    service = Service(world["out"], world["keys"], tmp_path / "audit.jsonl", tmp_path / APPLICATIONS_FILE, limits=limits)
    by_name = {"name": subject["name"], "program": "MZJ-TK", "period_start": "2015-06-01"}
    with TestClient(create_app(service)) as client:
        statuses = [client.post("/v1/screen", json=by_name, headers=auth(world, "rsj")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]  # name-only: 2 per minute
        assert client.post("/v1/screen", json=application(subject), headers=auth(world, "rsj")).status_code == 200
        res = client.post("/v1/screen", json=application(subject), headers=auth(world, "rsj"))
        assert res.status_code == 429 and int(res.headers["retry-after"]) >= 1  # 4 requests in all
        assert client.post("/v1/screen", json=application(subject), headers=auth(world, "jyj")).status_code == 200
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["status"] for x in lines] == [200, 200, 429, 200, 429, 200]


def test_the_service_limits_are_validated(tmp_path):
    assert load_limits().name_only.max_candidates >= 1
    path = tmp_path / "service.yaml"
    path.write_text("rate_limit: {requests_per_minute: 0, burst: 1, name_only_per_minute: 1}\n"
                    "name_only: {max_candidates: 5}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_limits(path)
    assert err.value.key == "rate_limit.requests_per_minute"


# -- the OpenAPI description, fuzzed ------------------------------------------------------------------

def test_schemathesis_finds_no_server_error(world):
    """Requests generated from /openapi.json (valid and not), with a key: no 5xx, and every answer as
    the description says (status code documented, body of the documented schema)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

    schema = schemathesis.openapi.from_asgi("/openapi.json", world["client"].app)
    headers = auth(world, "mzj")
    seen: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                     response_schema_conformance])
            seen[operation.label] = seen.get(operation.label, 0) + 1

        check()
    assert set(seen) == {"POST /v1/screen", "POST /v1/applications", "DELETE /v1/applications/{application_id}",
                         "GET /v1/health"}


# -- the command ---------------------------------------------------------------------------------------

def test_relieflink_serve_answers_over_http(world, subject, tmp_path):
    httpx = pytest.importorskip("httpx2")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "audit.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "relieflink", "serve", str(world["out"]), "--keys", str(world["keys"]),
                             "--port", str(port), "--audit-log", str(log), "--applications", str(tmp_path / "a.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                return httpx.get(base + "/v1/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait(up, 60)
        res = httpx.post(base + "/v1/screen", json=application(subject), headers=auth(world, "mzj"), timeout=30)
        assert res.status_code == 200 and res.json()["matches"][0]["person_id"] == subject.name
        assert httpx.post(base + "/v1/screen", json=application(subject), timeout=30).status_code == 401
        assert "/v1/screen" in httpx.get(base + "/openapi.json", timeout=5).json()["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert [json.loads(x)["status"] for x in log.read_text(encoding="utf-8").splitlines()][-3:] == [200, 401, 200]
