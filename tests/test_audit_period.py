"""The audit period is a parameter of the run, not a year in rules.yaml (issue #8).

Next year's batch runs without editing configuration: a batch whose dates are moved by some
years is audited for its own year (derived from the data, or given) and raises the same
patterns; the year is stated in the summary and in run.json.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from relieflink.audit import load_rules, run_audit
from relieflink.audit.truth import true_flags, truth_inputs
from relieflink.config import ConfigError, load_catalog, schemas_dir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRUTH = FIXTURES / "small-default" / "truth"
CATALOG = load_catalog()
RULES = load_rules(catalog=CATALOG)
# Four years keep every date's day of the year and every gap in days (leap years stay leap years),
# so each pattern's boundaries (30 days apart, the birthday before 1 September) are the same.
SHIFT = pd.DateOffset(years=4)


def _shifted(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = pd.to_datetime(out[column]) + SHIFT
    return out


def _patterns(flags: pd.DataFrame) -> set[tuple]:
    """What a flag says, whatever the year: rule, person, records, money, status."""
    return {(f.rule_id, f.person_id, tuple((r["file"], int(r["row"])) for r in f.records),
             round(float(f.amount_at_stake), 2) if pd.notna(f.amount_at_stake) else None, f.status)
            for f in flags.itertuples()}


def test_rules_yaml_holds_no_audit_year(tmp_path):
    assert "audit_period" not in (schemas_dir() / "rules.yaml").read_text(encoding="utf-8")
    assert "audit_period" not in type(load_rules()).model_fields
    # a rule file that still fixes the year is refused with the file, the key and what to do
    schemas = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), schemas)
    path = schemas / "rules.yaml"
    path.write_text("audit_period:\n  year: 2015\n  school_year: 2015\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rules\.yaml.*audit_period.*--period"):
        load_rules(path, load_catalog(schemas / "programs.yaml"))


def test_a_batch_four_years_later_flags_the_same_patterns_without_editing_configuration():
    records, persons, mentions = truth_inputs(TRUTH, CATALOG)
    before = run_audit(records, persons, mentions, RULES, CATALOG)
    later_records = _shifted(records, ("period_start", "period_end", "event_date"))
    later_persons = _shifted(persons, ("birth_date",))
    later = run_audit(later_records, later_persons, mentions, RULES, CATALOG)
    assert len(before) > 100 and _patterns(later) == _patterns(before)
    multi = later[later["rule_id"] == "MULTI-SOURCE"]
    assert (pd.to_datetime(multi["period_start"]) == pd.Timestamp("2019-01-01")).all()
    # the same batch audited for its old year is not the same audit (the year is really a parameter)
    assert _patterns(run_audit(later_records, later_persons, mentions, RULES, CATALOG, 2015)) != _patterns(before)


def test_true_flags_use_the_generated_batch_year(tmp_path):
    """``relieflink synth`` writes truth/flags.parquet for the year it generated (truth.json)."""
    truth = tmp_path / "truth"
    shutil.copytree(TRUTH, truth)
    rec = pd.read_parquet(truth / "records.parquet")
    for column in ("period_start", "period_end"):
        rec[column] = (pd.to_datetime(rec[column]) + SHIFT).dt.date
    rec.to_parquet(truth / "records.parquet", index=False)
    per = pd.read_parquet(truth / "persons.parquet")
    per["birth_date"] = (pd.to_datetime(per["birth_date"]) + SHIFT).dt.date
    per.to_parquet(truth / "persons.parquet", index=False)
    meta = json.loads((truth / "truth.json").read_text(encoding="utf-8"))
    (truth / "truth.json").write_text(json.dumps({**meta, "year": 2019}), encoding="utf-8")
    assert _patterns(true_flags(truth)) == _patterns(true_flags(TRUTH))


def test_derived_period_is_the_year_most_payments_begin_later_year_on_a_tie():
    from relieflink.audit.periods import derive_audit_period

    def records(starts: list[str], kind: str = "payment") -> pd.DataFrame:
        return pd.DataFrame({"kind": kind, "period_start": pd.to_datetime(starts), "event_date": pd.NaT})

    assert derive_audit_period(records(["2015-03-01", "2016-01-05", "2016-02-01", "2014-12-01"])).year == 2016
    assert derive_audit_period(records(["2015-03-01", "2016-01-05"])).year == 2016
    # statuses begun years ago do not date the batch when payments do
    many_old = pd.concat([records(["2009-01-01"] * 5, "status"), records(["2017-05-01"])])
    assert derive_audit_period(many_old).year == 2017
    assert derive_audit_period(records(["1900-01-01", "2018-01-01", "2018-02-01"])).year == 2018
    assert derive_audit_period(records([])) is None


def test_cli_period_is_stated_in_the_summary_and_run_json(tmp_path, capsys):
    from relieflink.cli import main

    batch = FIXTURES / "samples" / "exports"
    assert main(["run", str(batch), "--out", str(tmp_path / "derived")]) == 0
    out = capsys.readouterr().out
    assert "audit period 2015" in out and "derived from the data" in out
    counts = json.loads((tmp_path / "derived" / "run.json").read_text(encoding="utf-8"))["counts"]
    assert counts["audit_period"] == {"year": 2015, "school_year": "2015-2016", "derived_from_data": True}

    assert main(["run", str(batch), "--out", str(tmp_path / "given"), "--period", "2016"]) == 0
    assert "audit period 2016" in capsys.readouterr().out
    given = json.loads((tmp_path / "given" / "run.json").read_text(encoding="utf-8"))["counts"]
    assert given["audit_period"] == {"year": 2016, "school_year": "2016-2017", "derived_from_data": False}
    flags = pd.read_parquet(tmp_path / "given" / "flags.parquet")
    multi = flags[flags["rule_id"] == "MULTI-SOURCE"]
    assert (pd.to_datetime(multi["period_start"]).dt.year == 2016).all()
    assert "2016年" in (tmp_path / "given" / "report.html").read_text(encoding="utf-8")

    with pytest.raises(SystemExit) as exit_:
        main(["run", str(batch), "--out", str(tmp_path / "bad"), "--period", "twenty"])
    assert exit_.value.code == 2 and "not a year" in capsys.readouterr().err
