"""The whole pipeline on committed fixtures, with exact expectations (ingest) and measured ones (linkage, audit)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relieflink.audit.output import FLAGS_SCHEMA

from relieflink.audit.truth import true_flags
from relieflink.evaluate import evaluate_run
from relieflink.ingest.schema import table_schema
from relieflink.pipeline import run_batch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def samples_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples") / "run"
    run = run_batch(FIXTURES / "samples" / "exports", out, decisions=None)
    return run, out


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("small-default") / "run"
    run_batch(FIXTURES / "small-default" / "batch", out, decisions=None)
    return out


def test_sample_batch_ingest_counts_exactly(samples_run):
    run, _ = samples_run
    s = run.summary()
    assert (s["files"], s["data_rows"], s["records"], s["mentions"], s["rows_quarantined"]) == (21, 337, 302, 381, 35)
    assert s["duplicate_deliveries"] == {"jd-xiangfu_临时救助(1).csv": "jd-xiangfu_临时救助.csv"}
    assert s["id_status"] == {
        "bad_date": 3, "check_failed": 6, "conflicts_stated": 1, "excel_damaged": 14, "head_id_on_member": 4,
        "missing": 5, "upgraded_15": 10, "valid": 338,
    }
    assert s["quarantine_by_problem"]["blank_row"] == 26 and s["quarantine_by_problem"]["totals_row"] == 1


def test_sample_batch_outputs_and_manifest(samples_run):
    _, out = samples_run
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    for name in ("mentions.parquet", "records.parquet", "quarantine.parquet", "pairs.parquet", "persons.parquet",
                 "households.parquet", "flags.parquet", "report.html", "report.xlsx", "flags.jsonl.gz", "reports"):
        assert (out / name).exists() and name in manifest["outputs"]
    assert {i["file"]: i["sha256"] for i in manifest["inputs"]}["rsj_就业援助.csv"] == __import__("hashlib").sha256(
        (FIXTURES / "samples" / "exports" / "rsj_就业援助.csv").read_bytes()).hexdigest()
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".run.relieflink-")]
    assert leftovers == [], "a staging folder, lock or previous output was left behind"


def test_two_valid_ids_never_share_a_person(samples_run):
    _, out = samples_run
    mentions = pd.read_parquet(out / "mentions.parquet")
    per_person = mentions.dropna(subset=["id_number"]).groupby("person_id")["id_number"].nunique()
    assert per_person.max() == 1


def test_every_output_table_is_written_with_its_canonical_schema(samples_run):
    """The Parquet types come from schemas/canonical.yaml, not from the frames' dtypes, so pandas 2
    (object text) and pandas 3 (``str`` text, Arrow ``large_string``) write the same schema."""
    run, out = samples_run
    comparisons = [c.name for c in run.linkage_model.comparisons]
    assert comparisons and {"id", "name"} <= set(comparisons)
    for table in ("mentions", "records", "quarantine", "persons", "households", "pairs"):
        written = pq.read_schema(out / f"{table}.parquet")
        expected = table_schema(table, comparisons)
        assert [(f.name, f.type) for f in written] == [(f.name, f.type) for f in expected], table
        assert not any(pa.types.is_large_string(f.type) for f in written), table
        assert b"pandas" not in (written.metadata or {}), f"{table}: pandas metadata names the pandas version"
        in_memory = getattr(run, table) if table != "quarantine" else run.ingest.quarantine
        if table in ("persons", "households", "pairs"):  # nothing linkage computed is dropped on the way
            assert set(in_memory.columns) <= set(written.names), table
    for name in ("flags", "held_flags"):
        assert pq.read_schema(out / f"{name}.parquet").remove_metadata() == FLAGS_SCHEMA, name


def test_same_inputs_same_bytes(samples_run, tmp_path):
    _, out = samples_run
    again = tmp_path / "again"
    run_batch(FIXTURES / "samples" / "exports", again, decisions=None)
    first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), f"{rel} differs between two identical runs"


def test_true_flags_of_the_fixture_are_reproduced():
    """The committed truth flags are what the audit engine computes on the clean data."""
    committed = pd.read_parquet(FIXTURES / "small-default" / "truth" / "flags.parquet")
    computed = true_flags(FIXTURES / "small-default" / "truth")
    assert sorted(committed["flag_id"]) == sorted(computed["flag_id"])


def test_generated_fixture_against_truth(default_run):
    result = evaluate_run(default_run, FIXTURES / "small-default" / "truth")
    ids = result["ids"]
    assert ids["wrong_valid_ids"] == 0 and ids["recovered_share"] == 1.0
    linkage = result["linkage"]
    assert linkage["f1"] >= 0.99 and linkage["mentions_without_truth"] == 0
    flags = result["flags"].set_index("rule_id")
    assert set(flags.index) >= {"DUP-SAME-PROGRAM", "DUP-SAME-PURPOSE", "EXCL-STATUS", "EXCL-TK-DISABILITY",
                                "MISS-DISABILITY", "MISS-MEDICAL-INSURANCE", "MULTI-SOURCE"}
    assert (flags["recall"] >= 0.9).all(), flags
    # findings are what an auditor acts on: they must be right; review items may be doubtful
    assert (flags["finding_precision"].dropna() >= 0.95).all(), flags
    assert (flags["precision"] >= 0.7).all(), flags
