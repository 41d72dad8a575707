"""``report.xlsx``: the workbook an auditor filters (openpyxl), byte-deterministic.

Sheets: 汇总 (summary and counts), 发现 (findings), 待复核 (review queue),
one sheet per rule (its findings and review items), 已排除 (dismissed flags,
kept on record), 交叉矩阵 (agency overlap), 数据质量 (the quarantine). Each
table sheet has its header row frozen, an autofilter and column widths
fitted to the content. Identities are masked unless ``mask=False``.

No cell is a formula: text that a spreadsheet could take for one (beginning
with ``=``, ``+``, ``-`` or ``@``, also after leading blanks, or with a tab or
carriage return) is written as quote-prefixed text (see :func:`_as_written`).

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
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter

from relieflink.report.data import (
    ACTION_ZH,
    CATEGORY_ZH,
    DECISION_NOTE_ZH,
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
        ("复核说明", lambda f: DECISION_NOTE_ZH.get(_s(f.decision_note), _s(f.decision_note)), None),
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
        ("说明", lambda f: mask.explanation(f.explanation_zh, f.id_number), None),
        ("复核人", lambda f: _s(f.decided_by), None),
        ("复核理由", lambda f: mask.text(f.decision_reason), None),
    ]


def _width(v: object) -> float:
    """Display width of a value (CJK characters count double); long texts are capped anyway."""
    s = v.strftime("%Y-%m-%d") if isinstance(v, (dt.date, dt.datetime)) else (f"{v:,.2f}" if isinstance(v, float) else _s(v))
    if len(s) > 60:
        return 120.0
    return sum(2.0 if ord(ch) > 0x2E80 else 1.1 for ch in s)


# what a spreadsheet may take for the start of a formula (OWASP's CSV-injection list): = + - @
# at the start of the text, also after spaces, tabs or line breaks, and a leading tab or carriage return
_FORMULA_START = ("=", "+", "-", "@")
_LEADING_BLANKS = " \t\r\n\u3000"
_RISKY_FIRST = frozenset("".join(_FORMULA_START) + _LEADING_BLANKS)  # a cheap first test, cell by cell


def _looks_like_formula(text: str) -> bool:
    return text[:1] in ("\t", "\r") or text.lstrip(_LEADING_BLANKS)[:1] in _FORMULA_START


def _as_written(ws, value: object) -> object:
    """A cell value as the workbook gets it: never a formula. Text that could be taken for one
    (a cell ``=HYPERLINK(...)`` or ``=1+1`` in an agency's export) is stored as a text cell and
    quote-prefixed, so that Excel keeps it text even when the auditor edits the cell."""
    cell = value if isinstance(value, Cell) else None
    text = cell.value if cell is not None else value
    if not (isinstance(text, str) and _looks_like_formula(text)):
        return value
    if cell is None:
        cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


class SheetWriter:
    """Buffers a sheet's rows, then writes them to a write-only worksheet in one pass.

    openpyxl's write-only mode streams rows (several times faster than cell by cell,
    a fraction of the memory) but wants column widths, frozen panes and the filter
    before the first row: so tables are collected here, widths fitted over every
    value, and :meth:`close` writes it all."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.rows: list[list[object]] = []
        self.widths: dict[int, float] = {}
        self.fixed: dict[int, float] = {}

    @property
    def row(self) -> int:
        """The last row written so far (1-based; 0 when empty)."""
        return len(self.rows)

    def text(self, value: str, font: Font | None = None) -> None:
        cell = WriteOnlyCell(self.ws, value=value)
        if font is not None:
            cell.font = font
        self.rows.append([cell])

    def blank(self, n: int = 1) -> None:
        self.rows.extend([] for _ in range(n))

    def table(self, headers: list[str], rows: Iterable[list[object]], formats: list[str | None] | None = None,
              *, filter_: bool = True, freeze: bool = True, wrap: set[int] = frozenset()) -> int:
        """A table with a styled header row at the next row; returns the last row."""
        formats = formats or [None] * len(headers)
        start = self.row + 1
        header = []
        for h in headers:
            cell = WriteOnlyCell(self.ws, value=h)
            cell.fill, cell.font, cell.alignment = HEADER_FILL, HEADER_FONT, Alignment(vertical="center")
            header.append(cell)
        self.rows.append(header)
        body = [list(r) for r in rows]
        for c, h in enumerate(headers):
            seen = {r[c] for r in body} - {None}
            w = max([_width(h) + 2, *(_width(v) + 1 for v in seen)])
            cap = 60 if c in wrap else 48
            self.widths[c] = max(self.widths.get(c, 0.0), round(min(max(w, 6), cap), 1))
        styled = [c for c in range(len(headers)) if formats[c] or c in wrap]
        for r in body:
            for c in styled:
                v = r[c]
                if v is None and c not in wrap:
                    continue
                cell = WriteOnlyCell(self.ws, value=v)
                if formats[c] and v is not None:
                    cell.number_format = formats[c]
                if c in wrap:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
                r[c] = cell
        self.rows.extend(body)
        if freeze:
            self.ws.freeze_panes = f"A{start + 1}"
        if filter_:
            self.ws.auto_filter.ref = f"A{start}:{get_column_letter(len(headers))}{max(self.row, start)}"
        return self.row

    def width(self, column: str, value: float) -> None:
        """Fix a column's width (overrides the fitted one)."""
        self.fixed[column_index_from_string(column) - 1] = value

    def close(self) -> None:
        for c, w in sorted({**self.widths, **self.fixed}.items()):
            self.ws.column_dimensions[get_column_letter(c + 1)].width = w
        ws, risky = self.ws, _RISKY_FIRST
        for r in self.rows:  # every cell of the workbook is written here
            ws.append([_as_written(ws, v) if isinstance(v, Cell) or (isinstance(v, str) and v[:1] in risky) else v
                       for v in r])
        # the used range, which write-only sheets leave out (readers such as openpyxl's
        # read-only mode rely on it); save_deterministic writes it into the sheet
        columns = max((len(r) for r in self.rows), default=1) or 1
        dimensions = self.ws.parent.__dict__.setdefault("_relieflink_dimensions", {})
        dimensions[self.ws.title] = f"A1:{get_column_letter(columns)}{max(len(self.rows), 1)}"


def _flag_sheet(wb: Workbook, title: str, flags: pd.DataFrame, cols: list[Column]) -> None:
    sheet = SheetWriter(wb.create_sheet(title))
    rows = ([get(f) for _, get, _ in cols] for f in flags.itertuples(index=False))
    wrap = {i for i, (h, _, _) in enumerate(cols) if h in ("说明", "涉及记录（文件:行）")}
    sheet.table([h for h, _, _ in cols], rows, [fmt for _, _, fmt in cols], wrap=wrap)
    sheet.close()


def _sorted_flags(flags: pd.DataFrame) -> pd.DataFrame:
    return flags.sort_values(["rule_id", "flag_id"], kind="mergesort")


def build_workbook(data: ReportData, mask: Masker) -> Workbook:
    wb = Workbook(write_only=True)
    _summary_sheet(wb.create_sheet("汇总"), data, mask)
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
    sheet = SheetWriter(ws)
    sheet.text(f"救助数据比对审计报告（{data.audit_year}年）", TITLE_FONT)
    sheet.text("身份信息已脱敏；已排除的预警不计入统计。" if mask.enabled else "本工作簿未脱敏，含完整个人信息，仅限授权人员查阅。")
    sheet.blank()
    sheet.table(["项目", "数值"], [[k, v] for k, v, _ in summary_items(data)], filter_=False, freeze=False)
    sheet.blank()
    cr = counts_by_rule(data)
    sheet.text("预警按规则", BOLD)
    sheet.table(
        ["规则", "名称", "类别", "发现", "待复核", "已排除", "涉及金额（发现，元）", "涉及金额（待复核，元）"],
        [[x.rule_id, x.title, CATEGORY_ZH.get(x.category, x.category), x.finding, x.review, x.dismissed,
          x.amount_finding, x.amount_review] for x in cr.itertuples()],
        [None, None, None, "#,##0", "#,##0", "#,##0", MONEY, MONEY], filter_=False, freeze=False,
    )
    sheet.blank()
    sheet.text("预警按部门（涉及多部门的预警在每个部门各计一次；金额计入发放该记录的部门，每条记录只计一次）", BOLD)
    cb = counts_by(data, "agencies", [a.code for a in data.catalog.agencies])
    sheet.table(["部门/街道", "发现", "待复核", "涉及金额（发现，元）"],
                [[data.agency_name(x.key), x.finding, x.review, x.amount_finding] for x in cb.itertuples()],
                [None, "#,##0", "#,##0", MONEY], filter_=False, freeze=False)
    sheet.blank()
    sheet.text("预警按所属街道", BOLD)
    cs = counts_by(data, "subdistrict", subdistrict_keys(data))
    sheet.table(["街道", "发现", "待复核", "涉及金额（发现，元）"],
                [[data.agency_name(x.key), x.finding, x.review, x.amount_finding] for x in cs.itertuples()],
                [None, "#,##0", "#,##0", MONEY], filter_=False, freeze=False)
    sheet.width("A", 30)
    sheet.width("B", 36)
    sheet.close()


def _matrix_sheet(ws, data: ReportData) -> None:
    mat = overlap_matrix(data)
    codes = list(mat.index)
    headers = ["部门"] + [data.agency_name(c) for c in codes]
    rows = [[data.agency_name(a)] + [int(mat.loc[a, b]) for b in codes] for a in codes]
    sheet = SheetWriter(ws)
    sheet.table(headers, rows, filter_=False)
    ws.freeze_panes = "B2"
    sheet.close()


def _quality_sheet(ws, data: ReportData, mask: Masker) -> None:
    sheet = SheetWriter(ws)
    headers = ["文件", "行号", "列", "问题", "问题说明", "处理", "说明", "原始值"]
    q = data.quarantine
    if q.empty:
        sheet.table(headers, [])
        sheet.close()
        return
    q = q.sort_values(["file", "row", "column", "problem"], kind="mergesort", na_position="first")
    rows = (
        [_s(x.file), int(x.row) if pd.notna(x.row) else None, _s(x.column), _s(x.problem),
         PROBLEM_ZH.get(_s(x.problem), ""), ACTION_ZH.get(_s(x.action), _s(x.action)), mask.text(x.message),
         mask.raw(x.column, x.raw_value)]
        for x in q.itertuples(index=False)
    )
    sheet.table(headers, rows)
    sheet.close()


def save_deterministic(wb: Workbook, path: Path) -> Path:
    """Save with fixed ZIP entry dates (openpyxl stamps the current time)."""
    dimensions = wb.__dict__.get("_relieflink_dimensions", {})
    # sheets are written as xl/worksheets/sheet<n>.xml in workbook order
    by_path = {f"xl/worksheets/sheet{i}.xml": dimensions.get(ws.title) for i, ws in enumerate(wb.worksheets, 1)}
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            ref = by_path.get(info.filename)
            if ref and b"<dimension" not in data:
                data = data.replace(b"</sheetPr>", b'</sheetPr><dimension ref="' + ref.encode() + b'" />', 1)
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
