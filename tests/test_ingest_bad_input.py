"""Bad input never crashes the job and never disappears (issue #2, "Bad input")."""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------- issue #8: crashes, lost rows, nonsense

# The good rows under other serial numbers: the same cells under the same row numbers would be a
# repeated delivery of jd-hushu's file.
OTHER_ROWS = ["7" + GOOD_ROWS[0][1:], "8" + GOOD_ROWS[1][1:]]


def _records(result, file: str) -> pd.DataFrame:
    return result.records[result.records["file"] == file].reset_index(drop=True)


def _write_xlsx(path: Path, rows: list[list[object]]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    wb.save(path)


def _write_daguan(batch: Path, fmt: str, header: str, rows: list[str]) -> str:
    """jd-daguan's file as CSV (GBK) or as a workbook, with these lines; its name."""
    name = f"jd-daguan_临时救助.{fmt}"
    if fmt == "csv":
        _write_gbk(batch / name, [header, *rows])
    else:
        _write_xlsx(batch / name, [line.split(",") for line in [header, *rows]])
    return name


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_line_break_in_a_quoted_cell_keeps_true_line_numbers(batch, ingest_config, encoding):
    """A record whose quoted cell holds a line break is named by the line it starts on; the
    lines after it keep their numbers, broken ones included."""
    lines = [
        HEADER,
        GOOD_ROWS[0].replace(",李伟", ',"李\n伟"'),      # lines 2-3
        GOOD_ROWS[1],                                     # line 4
        "3,张三,3301051970",                              # line 5: truncated
        GOOD_ROWS[0].replace("1,王芳", '5,"王\r\n芳"'),   # lines 6-7 (CRLF inside the cell)
        GOOD_ROWS[1].replace("2,", "6,"),                 # line 8
    ]
    (batch / "jd-daguan_临时救助.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    result = ingest_batch(batch, ingest_config)
    recs = _records(result, "jd-daguan_临时救助.csv")
    assert recs["row"].tolist() == [2, 4, 6, 8]
    assert '"李\\n伟"' in recs["detail"].iat[0]  # the cell keeps its line break
    q = _problems(result, "jd-daguan_临时救助.csv")
    assert q[["row", "problem"]].values.tolist() == [[5, "wrong_field_count"]]
    _good_file_intact(result)


def test_unbalanced_quote_costs_its_own_line_only(batch, ingest_config):
    """A quote that is never closed would swallow the rest of the file into one cell: the line is
    rejected alone and the lines after it are read."""
    lines = [HEADER, GOOD_ROWS[0], GOOD_ROWS[1].replace(",李伟", ',"李伟'), GOOD_ROWS[0].replace("1,", "3,"),
             GOOD_ROWS[1].replace("2,", "4,")]
    _write_gbk(batch / "jd-daguan_临时救助.csv", lines)
    result = ingest_batch(batch, ingest_config)
    assert _records(result, "jd-daguan_临时救助.csv")["row"].tolist() == [2, 3, 4, 5]  # 3 reads to its end
    lines[2] = GOOD_ROWS[1].replace(",其他,", ',"其他,')  # now the open quote shifts the fields: line 3 fails
    _write_gbk(batch / "jd-daguan_临时救助.csv", lines)
    result = ingest_batch(batch, ingest_config)
    assert _records(result, "jd-daguan_临时救助.csv")["row"].tolist() == [2, 4, 5]
    q = _problems(result, "jd-daguan_临时救助.csv")
    assert q[["row", "problem", "action"]].values.tolist() == [[3, "wrong_field_count", "row_rejected"]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_duplicate_header_name_reads_the_first_and_lists_the_second(batch, ingest_config, fmt):
    name = _write_daguan(batch, fmt, HEADER + ",救助金额,经办人", [OTHER_ROWS[0] + ",999,", OTHER_ROWS[1] + ",,"])
    result = ingest_batch(batch, ingest_config)
    recs = _records(result, name)
    assert recs["row"].tolist() == [2, 3]
    assert recs["amount"].tolist() == [1000.0, 500.0]  # the first 救助金额 column
    q = _problems(result, name)
    file_level = q[q["row"].isna()]
    assert sorted(file_level["column"]) == ["救助金额", "经办人"]
    assert set(file_level["problem"]) == {"duplicate_column"} and set(file_level["action"]) == {"noted"}
    assert "columns H and K" in file_level.loc[file_level["column"] == "救助金额", "message"].iat[0]
    cells = q[q["row"].notna()]
    assert cells[["row", "column", "action", "raw_value"]].values.tolist() == [[2, "救助金额", "value_dropped", "999"]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_blank_header_names_are_not_mapped_and_their_cells_noted(batch, ingest_config, fmt):
    # column G unnamed, K and L unnamed at the end
    name = _write_daguan(batch, fmt, HEADER.replace("救助事由", "") + ",,", [OTHER_ROWS[0] + ",x,", OTHER_ROWS[1] + ",,"])
    result = ingest_batch(batch, ingest_config)
    recs = _records(result, name)
    assert recs["row"].tolist() == [2, 3] and recs["category"].isna().all()  # 救助事由 is not read
    q = _problems(result, name)
    blank = q[q["problem"] == "blank_column_name"]
    assert blank.loc[blank["row"].isna(), "column"].tolist() == ["column G", "column K"]  # L holds nothing
    cells = blank[blank["row"].notna()]
    assert cells[["row", "column", "action", "raw_value"]].values.tolist() == [
        [2, "column G", "noted", "因病"], [2, "column K", "noted", "x"], [3, "column G", "noted", "其他"]]


def test_json_object_or_array_value_is_a_cell_problem(tmp_path, ingest_config):
    d = tmp_path / "batch"
    d.mkdir()
    good = {"xm": "张敏", "cjzh": "33010319731019482841", "cjlb": "4", "cjdj": "1", "btlx": "重度残疾人护理补贴",
            "je": "200", "ffny": "201501", "jdmc": "米市巷街道", "sqmc": "江涨桥社区"}
    lines = [good, {**good, "sqmc": {"name": "江涨桥", "code": 3}}, {**good, "jdmc": ["米市巷街道", "湖墅街道"]},
             {**good, "je": {"amount": 200}}]
    (d / "cl_残疾人补贴.jsonl").write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n[1, 2]\n", encoding="utf-8")
    result = ingest_batch(d, ingest_config)
    assert _records(result, "cl_残疾人补贴.jsonl")["row"].tolist() == [1, 2, 3]
    q = result.quarantine
    nested = q[q["problem"] == "nested_json_value"]
    assert nested[["row", "column", "action", "raw_value"]].values.tolist() == [
        [2, "sqmc", "value_dropped", '{"name": "江涨桥", "code": 3}'],
        [3, "jdmc", "value_dropped", '["米市巷街道", "湖墅街道"]'],
        [4, "je", "value_dropped", '{"amount": 200}'],
    ]
    # je is required: without it row 4 is no record; a line that is not an object is a rejected row
    rejected = q[q["action"] == "row_rejected"]
    assert rejected[["row", "problem"]].values.tolist() == [[4, "missing_required_value"], [5, "bad_json_line"]]


def test_one_undecodable_byte_costs_its_line_only(batch, ingest_config):
    lines = [HEADER, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[0].replace("1,", "3,")]
    data = ("\r\n".join(lines) + "\r\n").encode("gbk").replace("李强".encode("gbk"), b"\xff\xfe")
    (batch / "jd-daguan_临时救助.csv").write_bytes(data)
    result = ingest_batch(batch, ingest_config)
    assert _records(result, "jd-daguan_临时救助.csv")["row"].tolist() == [2, 4]
    q = _problems(result, "jd-daguan_临时救助.csv")
    assert q[["row", "column", "problem", "action"]].values.tolist() == [[3, None, "undecodable_line", "row_rejected"]]
    assert q["raw_value"].iat[0].startswith("2,\\xff\\xfe,330105197001011234")
    assert "gb18030" in q["message"].iat[0] and "李" not in q["message"].iat[0]
    assert {f.file: f for f in result.files}["jd-daguan_临时救助.csv"].status == "ingested"


def test_file_cut_inside_a_multibyte_character_keeps_its_other_lines(batch, ingest_config):
    data = ("\n".join([HEADER, *OTHER_ROWS]) + "\n").encode("utf-8")
    cut = data + OTHER_ROWS[0].encode("utf-8")[:4]  # "7," and the first two of the three bytes of 王
    (batch / "jd-daguan_临时救助.csv").write_bytes(cut)
    result = ingest_batch(batch, ingest_config)
    assert _records(result, "jd-daguan_临时救助.csv")["row"].tolist() == [2, 3]
    q = _problems(result, "jd-daguan_临时救助.csv")
    assert q[["row", "problem", "raw_value"]].values.tolist() == [[4, "undecodable_line", "7,\\xe7\\x8e"]]
    assert {f.file: f for f in result.files}["jd-daguan_临时救助.csv"].encoding == "utf-8"


@pytest.mark.parametrize("make", ["empty_folder", "unknown_files_only", "header_only_csv"])
def test_a_batch_with_nothing_readable_runs_through(tmp_path, ingest_config, make):
    """Linkage, audit and reports run on a batch with nothing readable and write empty tables
    with the canonical schemas."""
    import pyarrow.parquet as pq

    from relieflink.ingest.schema import canonical_schemas
    from relieflink.pipeline import run_batch

    d = tmp_path / "batch"
    d.mkdir()
    if make == "unknown_files_only":
        (d / "notes.txt").write_text("hello", encoding="utf-8")
        (d / "名单.xlsx").write_bytes(b"PK\x03\x04 not really")
    elif make == "header_only_csv":
        _write_gbk(d / "jd-hushu_临时救助.csv", [HEADER])
        (d / "mzj_医疗救助.csv").write_text("姓名,身份证号,救助类别,医院,入院日期,出院日期,医疗总费用,救助金额,所属街道\n",
                                           encoding="utf-8")
    out = tmp_path / "out"
    run = run_batch(d, out, config=ingest_config)
    for table in ("records", "mentions", "quarantine"):
        written = pq.read_schema(out / f"{table}.parquet").remove_metadata()
        assert written.equals(canonical_schemas()[table].remove_metadata()), table
    assert pq.read_table(out / "records.parquet").num_rows == 0
    assert pq.read_table(out / "flags.parquet").num_rows == 0
    assert (out / "report.html").is_file() and (out / "report.xlsx").is_file()
    summary = run.summary()
    assert summary["records"] == 0 and summary["flags"] == 0
    assert len(pq.read_table(out / "quarantine.parquet")) == (2 if make == "unknown_files_only" else 0)


@pytest.mark.parametrize("cjlb", ["4", 4], ids=["every value text", "a number among the values"])
def test_json_escape_of_half_a_character_costs_its_line_only(tmp_path, ingest_config, cjlb):
    """``"\\ud800"`` is valid JSON syntax but no character (it cannot be stored as text): the line is
    rejected as undecodable, the others read — whether the file takes the Arrow path (all text) or the
    line reader (a number). An escaped pair (an emoji) is one character and is read."""
    d = tmp_path / "batch"
    d.mkdir()
    good = {"xm": "张敏", "cjzh": "33010319731019482841", "cjlb": cjlb, "cjdj": "1", "btlx": "重度残疾人护理补贴",
            "je": "200", "ffny": "201501", "jdmc": "米市巷街道", "sqmc": "江涨桥社区"}
    lines = [json.dumps(good), json.dumps({**good, "xm": "\ud800张敏"}), json.dumps({**good, "xm": "张敏\U0001F600"})]
    assert "\\ud800" in lines[1] and "\\ud83d\\ude00" in lines[2]
    (d / "cl_残疾人补贴.jsonl").write_text("\n".join(lines) + "\n", encoding="ascii")
    result = ingest_batch(d, ingest_config)
    recs = _records(result, "cl_残疾人补贴.jsonl")
    assert recs["row"].tolist() == [1, 3]
    q = result.quarantine
    assert q[["row", "problem", "action"]].values.tolist() == [[2, "undecodable_line", "row_rejected"]]
    assert "half a character" in q["message"].iat[0] and "张" not in q["message"].iat[0]
