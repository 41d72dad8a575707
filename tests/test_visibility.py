"""The one visibility contract (relieflink.visibility): what an agency may see of flags and records."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from relieflink.visibility import OTHER_AGENCY_FIELDS, Scope

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _records() -> pd.DataFrame:
    return pd.DataFrame({
        "file": ["mzj_低保低边特困.xlsx", "cl_残疾人补贴.jsonl", "cl_残疾人补贴.jsonl"],
        "row": [3, 7, 8],
        "agency": ["mzj", "cl", "cl"],
        "program": ["MZJ-TK", "CL-KNBT", "CL-KNBT"],
        "amount": [1200.0, 300.0, 300.0],
        "period_start": pd.to_datetime(["2015-01-01", "2015-03-01", "2015-04-01"]),
        "period_end": pd.to_datetime(["2015-12-31", "2015-03-31", "2015-04-30"]),
        "community": ["卖鱼桥社区", "夏意社区", "夏意社区"],
        "b_id_raw": ["330105198703105467", "330105198703105467", "330105198703105467"],
    })


def _flags() -> pd.DataFrame:
    return pd.DataFrame({
        "flag_id": ["F1", "F2", "F3"],
        "agencies": [["mzj", "cl"], ["cl"], ["mzj"]],
        "grantors": [[], [], ["jd-hushu"]],
        "amount_at_stake": [600.0, 300.0, None],
        "explanation_zh": ["全文 涉及3条记录，涉及金额600.00元", "全文 涉及金额300.00元", "全文 遗漏"],
        "explanation_scoped_zh": ["限定 涉及区民政局、区残联的记录", "限定", "限定 遗漏"],
        "explanation_en": ["full ¥600", "full ¥300", "full missed"],
        "explanation_scoped_en": ["scoped", "scoped", "scoped missed"],
        "records": [[{"file": "mzj_低保低边特困.xlsx", "row": 3}, {"file": "cl_残疾人补贴.jsonl", "row": 7}],
                    [{"file": "cl_残疾人补贴.jsonl", "row": 8}], [{"file": "mzj_低保低边特困.xlsx", "row": 3}]],
    })


def test_other_agencies_records_only_as_agency_program_and_period():
    seen = Scope("cl").records(_records())
    mine, theirs = seen[seen["own"]], seen[~seen["own"]]
    assert len(mine) == 2 and mine["amount"].notna().all() and mine["b_id_raw"].notna().all()
    hidden = [c for c in seen.columns if c not in (*OTHER_AGENCY_FIELDS, "own")]
    assert theirs[hidden].isna().all().all()
    assert theirs[list(OTHER_AGENCY_FIELDS)].notna().all().all()


def test_flags_reduced_to_what_the_agency_may_read():
    record_agency = {(r.file, r.row): r.agency for r in _records().itertuples()}
    cl = Scope("cl").flags(_flags(), record_agency).set_index("flag_id")
    assert list(cl.index) == ["F1", "F2"]  # F3 involves only mzj's record and misses a subdistrict program
    assert pd.isna(cl.at["F1", "amount_at_stake"]) and cl.at["F2", "amount_at_stake"] == 300.0
    assert cl.at["F1", "explanation_zh"].startswith("限定") and cl.at["F2", "explanation_zh"].startswith("全文")
    assert cl.at["F1", "records"] == [{"file": "cl_残疾人补贴.jsonl", "row": 7}]
    assert list(cl["full_detail"]) == [False, True]


def test_a_granting_agency_sees_the_missed_benefit_without_details():
    hushu = Scope("jd-hushu").flags(_flags(), {}).set_index("flag_id")
    assert list(hushu.index) == ["F3"]
    assert hushu.at["F3", "records"] == [] and hushu.at["F3", "explanation_zh"].startswith("限定")


def test_the_platform_sees_everything():
    everything = Scope(None).flags(_flags())
    assert len(everything) == 3 and everything["explanation_zh"].str.startswith("全文").all()
    assert Scope(None).records(_records())["amount"].notna().all()


@pytest.fixture(scope="module")
def default_flags(tmp_path_factory) -> pd.DataFrame:
    from relieflink.pipeline import run_batch

    out = tmp_path_factory.mktemp("vis") / "run"
    run_batch(FIXTURES / "small-default" / "batch", out, decisions=None)
    return pd.read_parquet(out / "flags.parquet")


def test_scoped_explanations_name_no_amount_and_no_record_count(default_flags):
    """The audit writes, beside each explanation, the wording an agency reads when other agencies' records are
    involved: the full one names amounts (元 / ¥) and counts records; the scoped one never does."""
    full, scoped = default_flags["explanation_zh"], default_flags["explanation_scoped_zh"]
    assert full.str.contains("涉及金额").any() and full.str.contains("条记录").all()
    assert not scoped.str.contains(r"\d元|涉及金额|条记录", regex=True).any()
    assert not default_flags["explanation_scoped_en"].str.contains(r"¥|\d+ records", regex=True).any()
    # the same person, period and programs are named: the scoped text is the full one minus money and counts
    strip = re.compile(r"；涉及\d+条记录（(.*?)）(，涉及金额[\d,\.]+元)?")
    assert (full.str.replace(strip, r"；涉及\1的记录", regex=True) == scoped).all()
