"""Reports: files exist and parse, identities masked, agency scope, determinism, counts."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from relieflink.config import load_catalog
from relieflink.pipeline import run_batch
from relieflink.report import write_reports
from relieflink.report.explorer import decode, flag_ids
from relieflink.report.jsonout import FLAGS_JSONL, read_flags_jsonl
from relieflink.privacy import mask_id, mask_name, mask_phone, scrub_text

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SVG_SELF_CLOSING_OK = {"rect", "path", "line", "circle"}


class _Checker(HTMLParser):
    """Well-formedness: every non-void element closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: dict[str, int] = {}
        self.rule_rows: dict[str, dict[str, int]] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        if tag == "tr" and "data-rule" in a:
            self.rule_rows[a["data-rule"]] = {k: int(a[k]) for k in ("data-finding", "data-review") if k in a}
            if "data-dismissed" in a:
                self.rule_rows[a["data-rule"]]["data-dismissed"] = int(a["data-dismissed"])
        if tag in ("link", "img", "iframe", "object", "embed") or (tag == "script" and "src" in a):
            self.errors.append(f"external element <{tag}>")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse_html(path: Path) -> _Checker:
    checker = _Checker()
    checker.feed(path.read_text(encoding="utf-8"))
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, checker.stack
    return checker


def _xlsx_text(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())


def _html_text(path: Path) -> str:
    """A page's HTML followed by its explorer data, decoded (the page embeds it compressed)."""
    text = path.read_text(encoding="utf-8")
    return text + "\n" + json.dumps(decode(text), ensure_ascii=False)


def _all_output_text(run: Path) -> dict[str, str]:
    out = {"report.html": _html_text(run / "report.html"),
           FLAGS_JSONL: gzip.decompress((run / FLAGS_JSONL).read_bytes()).decode("utf-8")}
    out["report.xlsx"] = _xlsx_text(run / "report.xlsx")
    for p in sorted((run / "reports").iterdir()):
        out["reports/" + p.name] = _html_text(p) if p.suffix == ".html" else _xlsx_text(p)
    return out



def _active(flags: pd.DataFrame) -> pd.DataFrame:
    return flags[flags["decision"].fillna("") != "dismissed"]


def test_masking_helpers():
    assert mask_id("330105197701013177") == "330105********3177"
    assert mask_name("张明杰") == "张*杰" and mask_name("王五") == "王*" and mask_name("欧阳明月") == "欧**月"
    assert mask_phone("13812345678") == "138****5678"
    text = scrub_text("证号33010519770101317753，电话 138-1234-5678，座机0571-88886666")
    assert "330105197701013177" not in text and "13812345678" not in text and "88886666" not in text
    assert "1234-5678" not in text


def test_files_exist_and_parse(run_dirs):
    a, _, written = run_dirs
    names = {p.relative_to(a).as_posix() for p in written}
    assert {"report.html", "report.xlsx", FLAGS_JSONL} <= names
    from relieflink.config import load_catalog

    codes = [ag.code for ag in load_catalog().agencies]
    assert {f"reports/{c}.html" for c in codes} <= names
    checker = parse_html(a / "report.html")
    assert checker.tags.get("svg", 0) >= 4  # charts: rules, agencies, subdistricts, money, quality
    for c in codes:
        parse_html(a / "reports" / f"{c}.html")
    raw = (a / "report.html").read_text(encoding="utf-8")
    raw = raw.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace (markup and script), not an address
    assert "http://" not in raw and "https://" not in raw and "fetch(" not in raw and "XMLHttpRequest" not in raw
    assert len(read_flags_jsonl(a / FLAGS_JSONL)) == len(pd.read_parquet(a / "flags.parquet"))


def test_workbook_sheets_frozen_and_filterable(run_dirs):
    import openpyxl

    from relieflink.report.xlsx import CATEGORY_SHEETS

    a, _, _ = run_dirs
    wb = openpyxl.load_workbook(a / "report.xlsx")
    assert wb.sheetnames == ["汇总", *CATEGORY_SHEETS.values(), "待复核", "身份待确认", "隔离数据", "交叉矩阵"]
    for sheet in wb.sheetnames:
        ws = wb[sheet]
        assert ws.freeze_panes in ("A2", "B2", "A3"), sheet
        assert ws.auto_filter.ref, sheet
        if sheet != "汇总":
            assert ws.auto_filter.ref.startswith("A1:"), sheet
        assert ws.column_dimensions["A"].width >= 6
    assert wb.properties.created.year == 2000  # fixed metadata timestamp


def test_no_full_id_or_phone_in_masked_outputs(run_dirs):
    a, _, _ = run_dirs
    mentions = pd.read_parquet(a / "mentions.parquet")
    persons = pd.read_parquet(a / "persons.parquet")
    ids = set(persons["id_number"].dropna().astype(str)) | set(mentions["id_clean"].dropna().astype(str))
    ids |= {re.sub(r"\D", "", s)[:18] for s in mentions["id_raw"].dropna().astype(str)}
    ids = {i for i in ids if len(i) == 18}
    phones = {p for p in mentions["phone"].dropna().astype(str) if len(p) >= 11}
    assert len(ids) > 100 and len(phones) > 50
    pattern = re.compile("|".join(map(re.escape, sorted(ids | phones))))
    for name, text in _all_output_text(a).items():
        hit = pattern.search(text)
        assert hit is None, f"{name} shows {hit.group(0)}"
    flags = read_flags_jsonl(a / FLAGS_JSONL)
    assert all(f["name"] is None or "*" in f["name"] or len(f["name"]) == 1 for f in flags)


def test_unmasked_only_when_asked(run_dirs, tmp_path):
    a, _, _ = run_dirs
    c = tmp_path / "c"
    shutil.copytree(a, c)
    write_reports(c, mask=False)
    persons = pd.read_parquet(c / "persons.parquet")
    flags = pd.read_parquet(c / "flags.parquet")
    pid = flags.dropna(subset=["person_id"]).sort_values("flag_id")["person_id"].iloc[0]
    full = persons.set_index("person_id").loc[pid, "id_number"]
    assert isinstance(full, str) and full in _all_output_text(c)[FLAGS_JSONL]


def test_agency_report_shows_no_other_agency_rows(run_dirs):
    a, _, _ = run_dirs
    records = pd.read_parquet(a / "records.parquet")
    flags = _active(pd.read_parquet(a / "flags.parquet"))
    files_of = records.groupby("agency")["file"].apply(lambda s: sorted(set(s))).to_dict()
    agency_of = {(f, int(r)): ag for f, r, ag in zip(records["file"], records["row"], records["agency"])}
    sub_of = {(f, int(r)): sd for f, r, sd in zip(records["file"], records["row"], records["subdistrict"]) if isinstance(sd, str)}
    for agency, own_files in files_of.items():
        text = _html_text(a / "reports" / f"{agency}.html")
        for other, files in files_of.items():
            if other == agency:
                continue
            for f in files:
                if f not in own_files:
                    assert f not in text, f"{agency}.html names {other}'s file {f}"
        # exactly the flags that involve one of its records, and the missed benefits it grants
        expected = {
            fid for fid, recs, missed in zip(flags["flag_id"], flags["records"], flags["missed_programs"])
            if any(agency_of.get((d["file"], int(d["row"]))) == agency for d in recs)
            or agency in _grantors(missed, recs, sub_of)
        }
        shown = flag_ids(decode(text))
        assert len(shown) == len(set(shown)) and set(shown) == expected, agency


def _grantors(missed, recs, sub_of):
    """Who grants a missed program: its agency; a subdistrict program: the flag's subdistrict
    (the most frequent among its records, ties to the first code)."""
    grantor = {p.code: p.agency for p in load_catalog().programs}
    subs = pd.Series([sub_of.get((d["file"], int(d["row"]))) for d in recs]).dropna()
    top = sorted(subs.value_counts()[lambda c: c == c.max()].index)[0] if len(subs) else None
    return {top if grantor[p] == "jd" else grantor[p] for p in missed} - {None}


def test_reports_byte_identical(run_dirs):
    a, b, written = run_dirs
    for p in written:
        rel = p.relative_to(a)
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_counts_match_flags(run_dirs):
    import openpyxl

    a, _, _ = run_dirs
    flags = pd.read_parquet(a / "flags.parquet")
    assert (flags["decision"] == "dismissed").sum() == 1
    active = _active(flags)
    checker = parse_html(a / "report.html")
    for rule_id, g in flags.groupby("rule_id"):
        act = _active(g)
        row = checker.rule_rows[rule_id]
        assert row["data-finding"] == int((act["status"] == "finding").sum()), rule_id
        assert row["data-review"] == int((act["status"] == "review").sum()), rule_id
        assert row["data-dismissed"] == int((g["decision"] == "dismissed").sum()), rule_id
    wb = openpyxl.load_workbook(a / "report.xlsx", read_only=True)
    category_sheets = {"duplicate": "重复救助", "overlap": "多头救助", "missed": "遗漏救助"}
    for category, sheet in category_sheets.items():  # every flag, dismissed ones on record too
        assert wb[sheet].max_row - 1 == int((flags["category"] == category).sum()), sheet
    # the main queue's open review flags; MULTI-SOURCE's list is on 多头救助
    assert wb["待复核"].max_row - 1 == int(((active["status"] == "review") & (active["rule_id"] != "MULTI-SOURCE")
                                           & active["decision"].isna()).sum())
    lines = read_flags_jsonl(a / FLAGS_JSONL)
    assert [d["flag_id"] for d in lines] == sorted(flags["flag_id"])
    assert sum(d["decision"] != "dismissed" for d in lines) == len(active)
    held = pd.read_parquet(a / "held_flags.parquet")
    assert len(flag_ids(decode((a / "report.html").read_text(encoding="utf-8")))) == len(flags) + len(held)
    quarantine = pd.read_parquet(a / "quarantine.parquet")
    assert wb["隔离数据"].max_row - 1 == len(quarantine)


def test_flag_agencies_and_subdistrict_rules():
    """Agencies in catalog order; the subdistrict most frequent among the records, ties to the
    first code, unknown when no record names one (vectorized over flag × record)."""
    from relieflink.report.data import UNKNOWN_SUBDISTRICT, _agencies_and_subdistricts

    agency_of = {"a": "mzj", "b": "jd-hushu", "c": "cl", "d": "mzj"}
    sub_of = {"a": "jd-xiaohe", "b": "jd-hushu", "c": "jd-hushu", "d": "jd-xiaohe", "e": None}
    order = {"cl": 1, "mzj": 0, "jd-hushu": 2}
    keys = pd.Series([["a", "b"], ["a", "b", "c"], ["e"], [], ["d", "a"]], dtype=object)
    agencies, subs = _agencies_and_subdistricts(keys, agency_of, sub_of, order)
    assert agencies == [["mzj", "jd-hushu"], ["mzj", "cl", "jd-hushu"], [], [], ["mzj"]]
    assert subs == ["jd-hushu", "jd-hushu", UNKNOWN_SUBDISTRICT, UNKNOWN_SUBDISTRICT, "jd-xiaohe"]


def test_keyed_pseudonyms_instead_of_ids(run_dirs, tmp_path):
    """With the platform's key, IDs become pseudonyms that are the same in every report made with
    the key (agencies can join on them) and differ under another key; no ID is written."""
    from relieflink.privacy import pseudonym

    a, _, _ = run_dirs
    persons = pd.read_parquet(a / "persons.parquet").drop_duplicates("person_id").set_index("person_id")["id_number"]
    ids = set(persons.dropna())
    outs = []
    for name, key in (("k1", b"district-secret-key-1"), ("k1b", b"district-secret-key-1"), ("k2", b"district-secret-key-2")):
        out = tmp_path / name
        shutil.copytree(a, out)
        write_reports(out, pseudonym_key=key)
        outs.append(out)
    flags = read_flags_jsonl(outs[0] / FLAGS_JSONL)
    shown = {f["id_number"] for f in flags if f.get("id_number")}
    assert shown and all(s.startswith("PSN-") and len(s) == 20 for s in shown)
    from relieflink.privacy import mask_id

    for f in flags:  # the person's own ID, pseudonymized under the key, in the explanation too
        own = persons.get(f["person_id"])
        if isinstance(own, str):
            assert f["id_number"] == pseudonym(own, b"district-secret-key-1")
            assert mask_id(own) not in f["explanation_zh"]
            assert f["id_number"] in f["explanation_zh"]
    text = _all_output_text(outs[0])
    for content in text.values():
        assert not any(i in content for i in list(ids)[:200])
    assert (outs[0] / FLAGS_JSONL).read_bytes() == (outs[1] / FLAGS_JSONL).read_bytes()
    assert (outs[0] / FLAGS_JSONL).read_bytes() != (outs[2] / FLAGS_JSONL).read_bytes()
    agency_ids = set(re.findall(r"PSN-[0-9a-f]{16}", text["reports/mzj.html"]))
    assert agency_ids and agency_ids <= set(re.findall(r"PSN-[0-9a-f]{16}", "".join(text.values())))


# ---- no cell of a workbook is a formula (CSV/Excel injection) ----------------------------------

HYPERLINK = '=HYPERLINK("http://evil.example/","x")'


def _cells(path: Path) -> list:
    from openpyxl import load_workbook

    return [c for ws in load_workbook(path).worksheets for row in ws.iter_rows() for c in row]


def test_planted_formulas_in_an_export_are_text_in_the_workbook(tmp_path):
    import csv
    import io

    from conftest import FIXTURES

    batch = tmp_path / "batch"
    shutil.copytree(FIXTURES / "samples" / "exports", batch)
    path = batch / "jd-banshan_临时救助.csv"  # GBK, the subdistricts' template
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gbk"))))
    header = rows[0]
    rows[1][header.index("救助金额")] = HYPERLINK
    rows[2][header.index("审批日期")] = "=1+1"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode("gbk"))
    run_batch(batch, tmp_path / "run")
    cells = _cells(tmp_path / "run" / "report.xlsx")
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    planted = [c for c in cells if c.value in (HYPERLINK, "=1+1")]
    assert {c.value for c in planted} == {HYPERLINK, "=1+1"}  # shown as they were delivered (数据质量)
    assert all(c.data_type == "s" and c.quotePrefix for c in planted)


def test_formula_like_names_are_text_in_an_unmasked_workbook(run_dirs, tmp_path):
    a, _, _ = run_dirs
    run = tmp_path / "run"
    shutil.copytree(a, run)
    persons = pd.read_parquet(run / "persons.parquet")
    flagged = pd.read_parquet(run / "flags.parquet")["person_id"].dropna().unique()[:2]
    names = {flagged[0]: HYPERLINK, flagged[1]: " =1+1"}
    persons["name"] = persons["person_id"].map(names).fillna(persons["name"])
    persons.to_parquet(run / "persons.parquet", index=False)
    write_reports(run, mask=False)
    cells = _cells(run / "report.xlsx")
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    planted = [c for c in cells if c.value in names.values()]
    assert {c.value for c in planted} == set(names.values())
    assert all(c.data_type == "s" and c.quotePrefix for c in planted)


def test_which_texts_are_kept_from_being_formulas(tmp_path):
    import xlsxwriter
    from openpyxl import load_workbook

    from relieflink.report.xlsx import Styles, num_col, text_col, write_table

    risky = ["=1+1", "+86 138", "-5", "@SUM(A1)", " =1+1", "\t=1", "\r1", "\n-1", "\u3000=1"]
    plain = ["张三", "a=b", "1-2", "", "x@y"]
    wb = xlsxwriter.Workbook(str(tmp_path / "t.xlsx"), {"constant_memory": True, "strings_to_formulas": False,
                                                        "strings_to_numbers": False, "strings_to_urls": False})
    write_table(wb.add_worksheet("t"), Styles(wb), 0,
                [text_col("值", risky + plain), num_col("数", [-5.0] * len(risky + plain))])
    wb.close()
    rows = list(load_workbook(tmp_path / "t.xlsx")["t"].iter_rows(min_row=2))
    # the text itself is kept (a carriage return as OOXML's escape _x000D_, which Excel reads back as one)
    assert [r[0].value or "" for r in rows] == [v.replace("\r", "_x000D_") for v in risky + plain]
    assert [bool(r[0].quotePrefix) for r in rows] == [True] * len(risky) + [False] * len(plain)
    assert all(r[0].data_type == "s" for r in rows if r[0].value is not None)
    assert all(r[1].value == -5.0 and r[1].data_type == "n" and not r[1].quotePrefix for r in rows)  # numbers stay numbers
