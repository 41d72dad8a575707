"""``report.xlsx``: the workbook an auditor filters (openpyxl), byte-deterministic.

Sheets: 汇总 (summary and counts), 发现 (findings), 待复核 (review queue),
one sheet per rule (its findings and review items), 已排除 (dismissed flags,
kept on record), 交叉矩阵 (agency overlap), 数据质量 (the quarantine). Each
table sheet has its header row frozen, an autofilter and column widths
fitted to the content. Identities are masked unless ``mask=False``.

Determinism: the document properties carry a fixed timestamp and the ZIP
entries are rewritten with a fixed date, so the same run folder gives the
same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from relieflink.report.data import (
    ACTION_ZH,
    CATEGORY_ZH,
    DECISION_ZH,
    PROBLEM_ZH,
    STATUS_ZH,
    ReportData,
    overlap_matrix,
)
from relieflink.report.html import counts_by, counts_by_rule, subdistrict_keys, summary_items
from relieflink.privacy import Masker, as_text, is_blank

FIXED_TIME = dt.datetime(2000, 1, 1, 0, 0, 0)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)
MONEY = "#,##0.00"
DATE = "yyyy-mm-dd"

Column = tuple[str, Callable[[object], object], str | None]  # header, getter(row), number format


def _d(v: object) -> dt.date | None:
    if is_blank(v):
        return None
    ts = pd.Timestamp(v)
    return None if pd.isna(ts) else ts.date()


def _f(v: object) -> float | None:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if x != x else x


def _s(v: object) -> str:
    return as_text(v)


def flag_columns(data: ReportData, mask: Masker) -> list[Column]:
    return [
        ("编号", lambda f: f.flag_id, None),
        ("规则", lambda f: f.rule_id, None),
        ("规则名称", lambda f: data.rule_title(f.rule_id), None),
        ("类别", lambda f: CATEGORY_ZH.get(f.category, f.category), None),
        ("状态", lambda f: STATUS_ZH.get(f.status, f.status), None),
        ("复核决定", lambda f: DECISION_ZH.get(_s(f.decision), _s(f.decision)), None),
        ("人员编号", lambda f: _s(f.person_id), None),
        ("姓名", lambda f: mask.name(f.name), None),
        ("身份证号", lambda f: mask.id(f.id_number), None),
        ("联系电话", lambda f: mask.phone(f.phone), None),
        ("家庭编号", lambda f: _s(f.household_id), None),
        ("涉及部门", lambda f: "、".join(data.agency_name(a) for a in f.agencies), None),
        ("所属街道", lambda f: data.agency_name(f.subdistrict), None),
        ("涉及项目", lambda f: "、".join(data.program_name(p) for p in f.programs), None),
        ("未享受项目", lambda f: "、".join(data.program_name(p) for p in (f.missed_programs if f.missed_programs is not None else [])), None),
        ("应发放部门", lambda f: "、".join(data.agency_name(a) for a in f.grantors), None),
        ("开始日期", lambda f: _d(f.period_start), DATE),
        ("结束日期", lambda f: _d(f.period_end), DATE),
        ("涉及金额（元）", lambda f: _f(f.amount_at_stake), MONEY),
        ("关联置信度", lambda f: _f(f.link_confidence), "0.000"),
        ("记录数", lambda f: len(f.records), None),
        ("涉及记录（文件:行）", lambda f: "；".join(f"{r['file']}:{int(r['row'])}" for r in f.records), None),
        ("说明", lambda f: mask.text(f.explanation_zh), None),
        ("复核人", lambda f: _s(f.decided_by), None),
        ("复核理由", lambda f: mask.text(f.decision_reason), None),
    ]


def _width(v: object) -> float:
    s = v.strftime("%Y-%m-%d") if isinstance(v, (dt.date, dt.datetime)) else (f"{v:,.2f}" if isinstance(v, float) else _s(v))
    return sum(2.0 if ord(ch) > 0x2E80 else 1.1 for ch in s)


def write_table(ws, headers: list[str], rows: Iterable[list[object]], formats: list[str | None] | None = None,
                *, start_row: int = 1, filter_: bool = True, freeze: bool = True, wrap: set[int] = frozenset()) -> int:
    """A table with a styled header row; returns the last row written."""
    formats = formats or [None] * len(headers)
    widths = [_width(h) + 2 for h in headers]
    for c, h in enumerate(headers, 1):
        cell = ws.cell(row=start_row, column=c, value=h)
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
        cell.alignment = Alignment(vertical="center")
    r = start_row
    for r, row in enumerate(rows, start_row + 1):
        for c, v in enumerate(row, 1):
            cell = ws.cell(row=r, column=c, value=v)
            if formats[c - 1] and v is not None:
                cell.number_format = formats[c - 1]
            if c - 1 in wrap:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            widths[c - 1] = max(widths[c - 1], _width(v) + 1)
    for c, w in enumerate(widths, 1):
        letter = get_column_letter(c)
        ws.column_dimensions[letter].width = round(min(max(w, 6), 60 if (c - 1) in wrap else 48), 1)
    if freeze:
        ws.freeze_panes = ws.cell(row=start_row + 1, column=1)
    if filter_:
        ws.auto_filter.ref = f"A{start_row}:{get_column_letter(len(headers))}{max(r, start_row)}"
    return r


def _flag_sheet(wb: Workbook, title: str, flags: pd.DataFrame, cols: list[Column]) -> None:
    ws = wb.create_sheet(title)
    rows = ([get(f) for _, get, _ in cols] for f in flags.itertuples(index=False))
    wrap = {i for i, (h, _, _) in enumerate(cols) if h in ("说明", "涉及记录（文件:行）")}
    write_table(ws, [h for h, _, _ in cols], rows, [fmt for _, _, fmt in cols], wrap=wrap)


def _sorted_flags(flags: pd.DataFrame) -> pd.DataFrame:
    return flags.sort_values(["rule_id", "flag_id"], kind="mergesort")


def build_workbook(data: ReportData, mask: Masker) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    _summary_sheet(ws, data, mask)
    cols = flag_columns(data, mask)
    _flag_sheet(wb, "发现", _sorted_flags(data.findings), cols)
    _flag_sheet(wb, "待复核", _sorted_flags(data.review), cols)
    act = data.active
    for rid in data.rule_ids():
        _flag_sheet(wb, rid[:31], act[act["rule_id"] == rid].sort_values(["status", "flag_id"], kind="mergesort"), cols)
    dismissed = data.flags[data.flags["decision"].fillna("") == "dismissed"]
    _flag_sheet(wb, "已排除", _sorted_flags(dismissed), cols)
    _matrix_sheet(wb.create_sheet("交叉矩阵"), data)
    _quality_sheet(wb.create_sheet("数据质量"), data, mask)
    wb.properties.creator = "relieflink"
    wb.properties.lastModifiedBy = "relieflink"
    wb.properties.title = "救助数据比对审计报告"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    return wb


def _summary_sheet(ws, data: ReportData, mask: Masker) -> None:
    ws["A1"] = f"救助数据比对审计报告（{data.audit_year}年）"
    ws["A1"].font = TITLE_FONT
    ws["A2"] = "身份信息已脱敏；已排除的预警不计入统计。" if mask.enabled else "本工作簿未脱敏，含完整个人信息，仅限授权人员查阅。"
    r = write_table(ws, ["项目", "数值"], [[k, v] for k, v, _ in summary_items(data)], start_row=4,
                    filter_=False, freeze=False)
    r += 2
    cr = counts_by_rule(data)
    ws.cell(row=r, column=1, value="预警按规则").font = BOLD
    r = write_table(
        ws, ["规则", "名称", "类别", "发现", "待复核", "已排除", "涉及金额（发现，元）", "涉及金额（待复核，元）"],
        [[x.rule_id, x.title, CATEGORY_ZH.get(x.category, x.category), x.finding, x.review, x.dismissed,
          x.amount_finding, x.amount_review] for x in cr.itertuples()],
        [None, None, None, "#,##0", "#,##0", "#,##0", MONEY, MONEY], start_row=r + 1, filter_=False, freeze=False,
    )
    r += 2
    ws.cell(row=r, column=1, value="预警按部门（涉及多部门的预警在每个部门各计一次）").font = BOLD
    cb = counts_by(data, "agencies", [a.code for a in data.catalog.agencies])
    r = write_table(ws, ["部门/街道", "发现", "待复核", "涉及金额（发现，元）"],
                    [[data.agency_name(x.key), x.finding, x.review, x.amount_finding] for x in cb.itertuples()],
                    [None, "#,##0", "#,##0", MONEY], start_row=r + 1, filter_=False, freeze=False)
    r += 2
    ws.cell(row=r, column=1, value="预警按所属街道").font = BOLD
    cs = counts_by(data, "subdistrict", subdistrict_keys(data))
    write_table(ws, ["街道", "发现", "待复核", "涉及金额（发现，元）"],
                [[data.agency_name(x.key), x.finding, x.review, x.amount_finding] for x in cs.itertuples()],
                [None, "#,##0", "#,##0", MONEY], start_row=r + 1, filter_=False, freeze=False)
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 36


def _matrix_sheet(ws, data: ReportData) -> None:
    mat = overlap_matrix(data)
    codes = list(mat.index)
    headers = ["部门"] + [data.agency_name(c) for c in codes]
    rows = [[data.agency_name(a)] + [int(mat.loc[a, b]) for b in codes] for a in codes]
    write_table(ws, headers, rows, filter_=False)
    ws.freeze_panes = "B2"


def _quality_sheet(ws, data: ReportData, mask: Masker) -> None:
    q = data.quarantine
    if q.empty:
        write_table(ws, ["文件", "行号", "列", "问题", "问题说明", "处理", "说明", "原始值"], [])
        return
    q = q.sort_values(["file", "row", "column", "problem"], kind="mergesort", na_position="first")
    rows = (
        [_s(x.file), int(x.row) if pd.notna(x.row) else None, _s(x.column), _s(x.problem),
         PROBLEM_ZH.get(_s(x.problem), ""), ACTION_ZH.get(_s(x.action), _s(x.action)), mask.text(x.message),
         mask.raw(x.column, x.raw_value)]
        for x in q.itertuples(index=False)
    )
    write_table(ws, ["文件", "行号", "列", "问题", "问题说明", "处理", "说明", "原始值"], rows)


def save_deterministic(wb: Workbook, path: Path) -> Path:
    """Save with fixed ZIP entry dates (openpyxl stamps the current time)."""
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps `modified` with the time of saving
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    Path(path).write_bytes(out.getvalue())
    return Path(path)


def write_workbook(data: ReportData, path: Path, mask: Masker) -> Path:
    return save_deterministic(build_workbook(data, mask), path)
