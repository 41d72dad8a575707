"""Bad input never crashes the job and never disappears (issue #2, "Bad input")."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from relieflink.ingest.pipeline import ingest_batch

HEADER = "序号,申请人,身份证号,联系电话,所属社区,救助类型,救助事由,救助金额,审批日期,经办人"
GOOD_ROWS = [
    "1,王芳,330105198703105467,13812345678,卖鱼桥社区,临时救助,因病,1000,2015-03-05,李伟",
    "2,李强,330105197001011234,0571-88849709,双荡弄,临时救助,其他,￥500,2015/4/5,李伟",
]


def _write_gbk(path: Path, lines: list[str]) -> None:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))


@pytest.fixture()
def batch(tmp_path) -> Path:
    """A small valid batch: one good subdistrict file."""
    d = tmp_path / "batch"
    d.mkdir()
    _write_gbk(d / "jd-hushu_临时救助.csv", [HEADER, *GOOD_ROWS])
    return d


def _problems(result, file: str) -> pd.DataFrame:
    q = result.quarantine
    return q[q["file"] == file]


def _good_file_intact(result) -> None:
    recs = result.records[result.records["file"] == "jd-hushu_临时救助.csv"]
    assert list(recs["row"]) == [2, 3]


def test_empty_file(batch, ingest_config):
    (batch / "jd-daguan_临时救助.csv").write_bytes(b"")
    result = ingest_batch(batch, ingest_config)
    q = _problems(result, "jd-daguan_临时救助.csv")
    assert list(q["problem"]) == ["empty_file"] and q["action"].iat[0] == "file_rejected"
    assert "empty" in q["message"].iat[0]
    _good_file_intact(result)


def test_header_only_file_is_fine_and_empty(batch, ingest_config):
    _write_gbk(batch / "jd-daguan_临时救助.csv", [HEADER])
    result = ingest_batch(batch, ingest_config)
    assert _problems(result, "jd-daguan_临时救助.csv").empty
    assert (result.records["file"] == "jd-daguan_临时救助.csv").sum() == 0
    report = {f.file: f for f in result.files}["jd-daguan_临时救助.csv"]
    assert report.status == "ingested" and report.data_rows == 0
    _good_file_intact(result)


def test_unexpected_encoding_is_detected_from_bytes(batch, ingest_config):
    # UTF-16 with BOM, named like a GBK file: read anyway, not by the file name.
    (batch / "jd-daguan_临时救助.csv").write_bytes(("\r\n".join([HEADER, GOOD_ROWS[0]]) + "\r\n").encode("utf-16"))
    result = ingest_batch(batch, ingest_config)
    recs = result.records[result.records["file"] == "jd-daguan_临时救助.csv"]
    assert list(recs["row"]) == [2]
    assert {f.file: f for f in result.files}["jd-daguan_临时救助.csv"].encoding == "utf-16"


def test_undecodable_file_names_the_problem(batch, ingest_config):
    (batch / "jd-daguan_临时救助.csv").write_bytes(bytes(range(128, 256)) * 40)
    result = ingest_batch(batch, ingest_config)
    q = _problems(result, "jd-daguan_临时救助.csv")
    assert q["action"].tolist() == ["file_rejected"]
    assert q["problem"].iat[0] in {"unknown_encoding", "header_not_found"}
    _good_file_intact(result)


def test_random_bytes_named_xlsx(batch, ingest_config):
    (batch / "jd-kangqiao_临时救助.xlsx").write_bytes(os.urandom(4096))
    result = ingest_batch(batch, ingest_config)
    q = _problems(result, "jd-kangqiao_临时救助.xlsx")
    assert q["problem"].tolist() == ["unreadable_workbook"]
    assert "not an Excel workbook" in q["message"].iat[0]
    _good_file_intact(result)


def test_missing_required_column_rejects_file_and_accounts_rows(batch, ingest_config):
    header = HEADER.replace(",救助类型", "")
    rows = [r.replace(",临时救助", "") for r in GOOD_ROWS]
    _write_gbk(batch / "jd-daguan_临时救助.csv", [header, *rows])
    result = ingest_batch(batch, ingest_config)
    q = _problems(result, "jd-daguan_临时救助.csv")
    file_level = q[q["action"] == "file_rejected"]
    assert file_level["column"].tolist() == ["救助类型"]
    assert "schemas/sources/jd-daguan.yaml" in file_level["message"].iat[0]
    assert sorted(q.loc[q["action"] == "row_rejected", "row"].tolist()) == [2, 3]
    _good_file_intact(result)


def test_truncated_line_is_quarantined_with_its_text(batch, ingest_config):
    _write_gbk(batch / "jd-daguan_临时救助.csv", [HEADER, GOOD_ROWS[0], "2,李强,3301051970010", GOOD_ROWS[1]])
    result = ingest_batch(batch, ingest_config)
    q = _problems(result, "jd-daguan_临时救助.csv")
    assert q[["row", "problem", "action"]].values.tolist() == [[3, "wrong_field_count", "row_rejected"]]
    assert "truncated" in q["message"].iat[0] and q["raw_value"].iat[0] == "2,李强,3301051970010"
    recs = result.records[result.records["file"] == "jd-daguan_临时救助.csv"]
    assert recs["row"].tolist() == [2, 4]


def test_unknown_file_is_reported_not_dropped(batch, ingest_config):
    (batch / "notes.txt").write_text("hello", encoding="utf-8")
    result = ingest_batch(batch, ingest_config)
    q = _problems(result, "notes.txt")
    assert q["problem"].tolist() == ["unknown_file"]


def test_duplicate_delivery_is_counted_once(batch, ingest_config):
    shutil.copy(batch / "jd-hushu_临时救助.csv", batch / "jd-hushu_临时救助(1).csv")
    result = ingest_batch(batch, ingest_config)
    _good_file_intact(result)
    q = _problems(result, "jd-hushu_临时救助(1).csv")
    assert q["action"].unique().tolist() == ["duplicate_delivery"]
    assert q["row"].tolist() == [2, 3]
    assert q["message"].iat[0] == "a copy of jd-hushu_临时救助.csv row 2"
    assert result.summary()["duplicate_deliveries"] == {"jd-hushu_临时救助(1).csv": "jd-hushu_临时救助.csv"}


def test_bad_cells_keep_the_row_and_name_the_column(batch, ingest_config):
    _write_gbk(batch / "jd-daguan_临时救助.csv", [HEADER, GOOD_ROWS[0].replace("因病,1000", "因病,一千")])
    result = ingest_batch(batch, ingest_config)
    q = _problems(result, "jd-daguan_临时救助.csv")
    # 救助金额 is required: the row cannot be a record without a readable amount
    assert q[["row", "column", "problem"]].values.tolist() == [[2, "救助金额", "unparseable_required_value"]]
