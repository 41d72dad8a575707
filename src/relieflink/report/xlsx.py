"""``report.xlsx``: the workbook an auditor filters, written with XlsxWriter in constant-memory mode.

Sheets: 汇总 (the figures, as numbers), 重复救助 / 多头救助 / 遗漏救助 (every flag of
the category: findings, review items, dismissed ones on record), 待复核 (the open
review flags of the main queue, ranked by expected money as the review queue ranks
them: :mod:`relieflink.review.rank`; MULTI-SOURCE's list is on 多头救助), 身份待确认 (patterns held as identity questions,
``held_flags.parquet``), 隔离数据 (the quarantine, explained in Chinese), 交叉矩阵
(agency overlap). Every sheet has its header row frozen and an autofilter, and
column widths fitted to a sample of the content. Identities are masked by the
caller's :class:`~relieflink.privacy.Masker`.

Speed and memory: the cell values are prepared column by column (vectorized where
pandas can, one list comprehension per column where a Python function such as the
masker must see each value), dates become Excel serial numbers, number formats sit
on the columns, and each row is handed to ``write_row`` once; constant-memory mode
streams each row to a temporary file as the next one starts.

No cell is a formula: XlsxWriter is told never to take text for a formula, a
number or a URL, and text that a spreadsheet could take for a formula on editing
(beginning with ``=``, ``+``, ``-`` or ``@``, also after leading blanks, or with a
tab or carriage return) is written quote-prefixed (:func:`looks_like_formula`).

Determinism: fixed document properties (created 2000-01-01), and XlsxWriter stamps
every ZIP entry with a fixed date, so the same run folder gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from relieflink.privacy import Masker, as_text
from relieflink.report.data import (
    ACTION_ZH,
    CATEGORY_ZH,
    DECISION_NOTE_ZH,
    DECISION_ZH,
    PROBLEM_ZH,
    STATUS_ZH,
    ReportData,
)
from relieflink.report import shared

FIXED_TIME = dt.datetime(2000, 1, 1, 0, 0, 0)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
#: sheet name per flag category, in the workbook's order
CATEGORY_SHEETS = {"duplicate": "重复救助", "overlap": "多头救助", "missed": "遗漏救助"}
REVIEW_SHEET, IDENTITY_SHEET, QUARANTINE_SHEET, MATRIX_SHEET, SUMMARY_SHEET = "待复核", "身份待确认", "隔离数据", "交叉矩阵", "汇总"
_NUMBER_FORMATS = {"money": "#,##0.00", "int": "#,##0", "date": "yyyy-mm-dd", "prob": "0.000", "text": None}
_WIDTH_SAMPLE = 2000  # values a column's width is fitted to (the first ones: deterministic)

# what a spreadsheet may take for the start of a formula (OWASP's CSV-injection list): = + - @
# at the start of the text, also after spaces, tabs or line breaks, and a leading tab or carriage return
_FORMULA_START = ("=", "+", "-", "@")
_LEADING_BLANKS = " \t\r\n\u3000"


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could take the text for a formula (written quote-prefixed)."""
    return text[:1] in ("\t", "\r") or text.lstrip(_LEADING_BLANKS)[:1] in _FORMULA_START


def _formula_like(values: pd.Series) -> np.ndarray:
    """:func:`looks_like_formula` over a column of texts (None: False), vectorized."""
    s = values.astype(object).where(values.notna(), "").astype(str)
    first = s.str[:1]
    after_blanks = s.str.lstrip(_LEADING_BLANKS).str[:1]
    return (first.isin(["\t", "\r"]) | after_blanks.isin(list(_FORMULA_START))).to_numpy(dtype=bool)


@dataclass
class Col:
    """One column of a table: its header, its values (one per row: str, float, int or
    None) and its kind (``text``, ``money``, ``int``, ``date``: Excel serials, ``prob``)."""

    header: str
    values: Sequence[object]
    kind: str = "text"
    wrap: bool = False
    width: float | None = None  # fixed width; None: fitted to the content


def text_col(header: str, values, *, wrap: bool = False, width: float | None = None) -> Col:
    """A text column from any sequence: blanks (None, NaN, NaT) become empty cells."""
    s = pd.Series(list(values) if not isinstance(values, pd.Series) else values.to_numpy(), dtype=object)
    present = s.notna().to_numpy()
    return Col(header, [str(v) if keep and v != "" else None for v, keep in zip(s.tolist(), present)], "text", wrap, width)


def num_col(header: str, values, kind: str = "money") -> Col:
    """A numeric column: NaN becomes an empty cell."""
    x = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").astype(float)
    convert = int if kind == "int" else float
    return Col(header, [convert(v) if v == v else None for v in x.round(6).tolist()], kind)


def date_col(header: str, values) -> Col:
    """A date column, as Excel serial day numbers shown ``yyyy-mm-dd``."""
    d = pd.to_datetime(pd.Series(np.asarray(values, dtype=object)), errors="coerce")
    serial = (d - _EXCEL_EPOCH).dt.days.astype(float)
    return Col(header, [v if v == v else None for v in serial.tolist()], "date")


def _display_width(values: Sequence[object], kind: str) -> np.ndarray:
    """Display widths of the first values of a column (CJK characters count double)."""
    sample = pd.Series(list(values[:_WIDTH_SAMPLE]), dtype=object)
    if kind == "date":
        return np.full(len(sample), 11.0)
    if kind != "text":
        return sample.map(lambda v: len(f"{v:,.2f}") if isinstance(v, (int, float)) else 0).to_numpy(dtype=float)
    text = sample.where(sample.notna(), "").astype(str)
    wide = text.str.count(r"[\u2e80-\uffff]").to_numpy(dtype=float)
    return text.str.len().to_numpy(dtype=float) * 1.1 + wide * 0.9


class Styles:
    """The workbook's formats, made once."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.header = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E79", "valign": "vcenter"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.bold = wb.add_format({"bold": True})
        self.note = wb.add_format({"font_color": "#595959"})
        self.column = {k: wb.add_format({"num_format": f}) if f else None for k, f in _NUMBER_FORMATS.items()}
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.quoted = wb.add_format({"quote_prefix": True})
        self.quoted_wrap = wb.add_format({"quote_prefix": True, "text_wrap": True, "valign": "top"})


def write_table(ws: Worksheet, styles: Styles, first_row: int, cols: list[Col], *, autofilter: bool = True,
                freeze: bool = True, stacked: bool = False) -> int:
    """A table whose header row is ``first_row`` (0-based); returns the row after it.

    Column formats carry the number formats (cells are written without a format of
    their own), so each row is one ``write_row``; text cells a spreadsheet could take
    for a formula are rewritten quote-prefixed in the same row. ``stacked``: the sheet
    holds several small tables whose columns differ in kind, so every cell gets its
    column's format itself (and the widths are left to the caller)."""
    n = len(cols[0].values) if cols else 0
    formats = [styles.wrap if col.wrap else styles.column[col.kind] for col in cols]
    for c, col in enumerate(cols):
        if stacked:
            break
        fmt = formats[c]
        if col.width is not None:
            width = col.width
        else:
            content = _display_width(col.values, col.kind)
            width = max([len(col.header) * 2.0 + 2, *(content + 1)]) if len(content) else len(col.header) * 2.0 + 2
            width = round(min(max(width, 6.0), 60.0 if col.wrap else 48.0), 1)
        ws.set_column(c, c, width, fmt)
    ws.write_row(first_row, 0, [col.header for col in cols], styles.header)
    risky = {c: np.flatnonzero(_formula_like(pd.Series(col.values, dtype=object)))
             for c, col in enumerate(cols) if col.kind == "text"}
    risky_cells: dict[int, list[int]] = {}
    for c, rows in risky.items():
        for r in rows.tolist():
            risky_cells.setdefault(r, []).append(c)
    row = first_row + 1
    columns = [col.values for col in cols]
    write_row = ws.write_row
    for r, values in enumerate(zip(*columns)):
        if stacked:
            for c, v in enumerate(values):
                ws.write(row + r, c, v, formats[c])
        else:
            write_row(row + r, 0, values)
        if r in risky_cells:
            for c in risky_cells[r]:
                ws.write_string(row + r, c, values[c], styles.quoted_wrap if cols[c].wrap else styles.quoted)
    last = first_row + n
    if autofilter and cols:
        ws.autofilter(first_row, 0, max(last, first_row), len(cols) - 1)
    if freeze:
        ws.freeze_panes(first_row + 1, 0)
    return last + 1


# ---- sheets ------------------------------------------------------------------------------------


def _names(codes: pd.Series, name_of) -> list[str | None]:
    return ["、".join(name_of(c) for c in v) if isinstance(v, (list, tuple, np.ndarray)) and len(v) else None
            for v in codes]


def _records_text(records: pd.Series) -> list[str]:
    return ["；".join(f"{r['file']}:{int(r['row'])}" for r in recs) if recs is not None else "" for recs in records]


def _decision_text(decision: pd.Series, note: pd.Series) -> list[str | None]:
    """已确认 / 已排除, and where the evidence changed since: "；已复核；此后证据有变化"."""
    out = []
    for d, n in zip(decision.tolist(), note.tolist()):
        text = DECISION_ZH.get(as_text(d), as_text(d))
        extra = DECISION_NOTE_ZH.get(as_text(n), as_text(n))
        out.append("；".join(t for t in (text, extra) if t) or None)
    return out


def _decided_by(who: pd.Series, why: pd.Series, mask: Masker) -> list[str | None]:
    return [f"{as_text(w)}：{mask.text(r)}" if as_text(w) else None for w, r in zip(who.tolist(), why.tolist())]


def flag_cols(data: ReportData, flags: pd.DataFrame, mask: Masker) -> list[Col]:
    """The columns of a category sheet's flag table, in the order shown (``flags``: rows of
    ``data.flags``, by its index; masked values from :func:`relieflink.report.shared.masked`)."""
    f = flags
    m = shared.masked(data, mask).loc[f.index]
    return [
        text_col("编号", f["flag_id"]),
        text_col("规则", f["rule_id"]),
        text_col("规则名称", f["rule_id"].map(data.rule_title)),
        text_col("状态", f["status"].map(lambda s: STATUS_ZH.get(s, s))),
        text_col("复核决定", _decision_text(f["decision"], f["decision_note"])),
        text_col("人员编号", f["person_id"]),
        text_col("姓名", m["name"]),
        text_col("身份证号", m["id"]),
        text_col("联系电话", m["phone"]),
        text_col("家庭编号", f["household_id"]),
        text_col("涉及部门", _names(f["agencies"], data.agency_name)),
        text_col("所属街道", f["subdistrict"].map(data.agency_name)),
        text_col("涉及项目", _names(f["programs"], data.program_name)),
        text_col("未享受项目", _names(f["missed_programs"], data.program_name)),
        text_col("应发放部门", _names(f["grantors"], data.agency_name)),
        date_col("开始日期", f["period_start"]),
        date_col("结束日期", f["period_end"]),
        num_col("涉及金额（元）", f["amount_at_stake"]),
        num_col("关联置信度", f["link_confidence"], "prob"),
        text_col("涉及记录（文件:行）", _records_text(f["records"]), wrap=True),
        text_col("说明", m["explanation_zh"], wrap=True),
        text_col("复核人：理由", _decided_by(f["decided_by"], f["decision_reason"], mask)),
    ]


def _rule_order(data: ReportData, rule_ids: pd.Series) -> np.ndarray:
    order = {r: i for i, r in enumerate(data.rule_ids())}
    return rule_ids.map(order).fillna(len(order)).to_numpy()


def _category_flags(data: ReportData, category: str) -> pd.DataFrame:
    """A category's flags: by rule (rules.yaml order), findings, then review items, then the
    dismissed ones; the largest amount first; then flag id."""
    f = data.flags[data.flags["category"] == category]
    keys = pd.DataFrame({
        "rule": _rule_order(data, f["rule_id"]),
        "status": f["status"].map({"finding": 0, "review": 1}).fillna(2).to_numpy(),
        "dismissed": f["decision"].eq("dismissed").to_numpy(dtype=bool, na_value=False),
        "amount": -pd.to_numeric(f["amount_at_stake"], errors="coerce").fillna(0).to_numpy(),
        "flag_id": f["flag_id"].to_numpy(),
    }, index=f.index)
    return f.loc[keys.sort_values(["rule", "dismissed", "status", "amount", "flag_id"], kind="mergesort").index]


def _summary_sheet(ws: Worksheet, styles: Styles, data: ReportData, mask: Masker) -> None:
    from relieflink.report.html import counts_by, counts_by_rule, subdistrict_keys
    from relieflink.report.summary import headline_figures

    ws.write_string(0, 0, f"救助数据比对审计报告（{data.audit_year}年）", styles.title)
    ws.write_string(1, 0, "身份信息已脱敏；已排除的预警不计入统计。" if mask.enabled
                    else "本工作簿未脱敏，含完整个人信息，仅限授权人员查阅。", styles.note)
    figures = headline_figures(data)
    ws.write_row(3, 0, ["项目", "数值"], styles.header)
    for i, (label, value, kind, _) in enumerate(figures):  # rows in order: constant memory
        ws.write_string(4 + i, 0, label)
        ws.write_number(4 + i, 1, float(value), styles.column["money" if kind == "money" else "int"])
    row = 4 + len(figures)
    row += 1
    cr = counts_by_rule(data)
    ws.write_string(row, 0, "预警按规则", styles.bold)
    row = write_table(ws, styles, row + 1, [
        text_col("规则", cr["rule_id"]), text_col("名称", cr["title"]),
        text_col("类别", cr["category"].map(lambda c: CATEGORY_ZH.get(c, c))),
        num_col("发现", cr["finding"], "int"), num_col("待复核", cr["review"], "int"),
        num_col("已排除", cr["dismissed"], "int"),
        num_col("涉及金额（发现，元）", cr["amount_finding"]), num_col("涉及金额（待复核，元）", cr["amount_review"]),
    ], autofilter=True, freeze=False, stacked=True)
    row += 1
    ws.write_string(row, 0, "预警按部门（涉及多部门的预警在每个部门各计一次；金额计入发放该记录的部门，每条记录只计一次）",
                    styles.bold)
    cb = counts_by(data, "agencies", [a.code for a in data.catalog.agencies])
    row = write_table(ws, styles, row + 1, [
        text_col("部门/街道", cb["key"].map(data.agency_name)), num_col("发现", cb["finding"], "int"),
        num_col("待复核", cb["review"], "int"), num_col("涉及金额（发现，元）", cb["amount_finding"]),
    ], autofilter=False, freeze=False, stacked=True)
    row += 1
    ws.write_string(row, 0, "预警按所属街道", styles.bold)
    cs = counts_by(data, "subdistrict", subdistrict_keys(data))
    write_table(ws, styles, row + 1, [
        text_col("街道", cs["key"].map(data.agency_name)), num_col("发现", cs["finding"], "int"),
        num_col("待复核", cs["review"], "int"), num_col("涉及金额（发现，元）", cs["amount_finding"]),
    ], autofilter=False, freeze=False, stacked=True)
    for c, width in enumerate((34, 36, 12, 10, 10, 10, 22, 22)):
        ws.set_column(c, c, width)
    ws.freeze_panes(2, 0)  # the title stays in view; the per-rule table carries the sheet's filter


def _review_sheet(ws: Worksheet, styles: Styles, data: ReportData, mask: Masker) -> None:
    """The open review flags of the main queue as the review queue ranks them: what to look at
    first; each flag's full row is on its category's sheet (same 编号). MULTI-SOURCE's list
    (listed apart, tens of thousands at 200k persons) is its rule's part of the 多头救助 sheet,
    largest amount first: not repeated here (the workbook's bulk, and its writing time)."""
    from relieflink.review.rank import rank_review_flags

    r = rank_review_flags(data)
    r = r[r["queue"].eq("main").to_numpy()]
    m = shared.masked(data, mask).iloc[pd.Index(data.flags["flag_id"]).get_indexer(r["flag_id"])]
    write_table(ws, styles, 0, [
        num_col("排序", r["rank"], "int"),
        text_col("队列", r["queue"].map({"main": "复核队列", "multi_source": "多头救助名单"})),
        num_col("期望金额（元）", r["expected"]), num_col("属实概率", r["p_real"], "prob"),
        text_col("编号", r["flag_id"]), text_col("规则", r["rule_id"]), text_col("规则名称", r["rule_id"].map(data.rule_title)),
        text_col("姓名", m["name"]), text_col("身份证号", m["id"]),
        text_col("涉及部门", _names(r["agencies"], data.agency_name)),
        text_col("所属街道", r["subdistrict"].map(data.agency_name)),
        text_col("涉及项目", _names(r["programs"], data.program_name)),
        num_col("涉及金额（元）", r["amount_at_stake"]),
        text_col("说明", m["explanation_zh"], wrap=True),
    ])


def _identity_sheet(ws: Worksheet, styles: Styles, data: ReportData, mask: Masker) -> None:
    """Patterns found on links the pattern itself makes unlikely: is it one person? If so, a finding."""
    from relieflink.review.queue import held_item_ids

    h = data.held
    ids = held_item_ids(h, data.mentions) if len(h) else pd.Series(dtype=object)
    write_table(ws, styles, 0, [
        text_col("问题编号", ids), text_col("规则", h["rule_id"]), text_col("规则名称", h["rule_id"].map(data.rule_title)),
        text_col("人员编号", h["person_id"]), text_col("姓名", [mask.name(v) for v in h["name"]]),
        text_col("身份证号", [mask.id(v) for v in h["id_number"]]),
        text_col("涉及部门", _names(h["agencies"], data.agency_name)),
        text_col("所属街道", h["subdistrict"].map(data.agency_name)),
        text_col("涉及项目", _names(h["programs"], data.program_name)),
        date_col("开始日期", h["period_start"]), date_col("结束日期", h["period_end"]),
        num_col("若为同一人涉及金额（元）", h["amount_at_stake"]),
        num_col("同一人概率", h["link_confidence"], "prob"),
        text_col("涉及记录（文件:行）", _records_text(h["records"]), wrap=True),
        text_col("若为同一人", [mask.explanation(t, i) for t, i in zip(h["explanation_zh"], h["id_number"])], wrap=True),
    ])


def _quarantine_sheet(ws: Worksheet, styles: Styles, data: ReportData, mask: Masker) -> None:
    q = data.quarantine
    if q.empty:
        q = pd.DataFrame({c: pd.Series(dtype=object) for c in ("file", "row", "column", "problem", "action", "message",
                                                                   "raw_value")})
    q = q.sort_values(["file", "row", "column", "problem"], kind="mergesort", na_position="first")
    problem = q["problem"].astype(object)
    write_table(ws, styles, 0, [
        text_col("文件", q["file"]), num_col("行号", q["row"], "int"), text_col("列", q["column"]),
        text_col("问题", problem.map(lambda p: PROBLEM_ZH.get(as_text(p), as_text(p)))),
        text_col("问题代码", problem), text_col("处理", q["action"].map(lambda a: ACTION_ZH.get(as_text(a), as_text(a)))),
        text_col("说明（英文）", shared.each_distinct(mask.text, q["message"])),
        text_col("原始值", shared.each_distinct(mask.raw, q["column"], q["raw_value"])),
    ])


def _matrix_sheet(ws: Worksheet, styles: Styles, data: ReportData) -> None:
    mat = shared.overlap(data)
    codes = list(mat.index)
    cols = [text_col("部门", [data.agency_name(c) for c in codes])]
    cols += [num_col(data.agency_name(b), mat[b].to_numpy(), "int") for b in codes]
    write_table(ws, styles, 0, cols)
    ws.freeze_panes(1, 1)


def write_workbook(data: ReportData, path: Path, mask: Masker) -> Path:
    """Write ``report.xlsx`` (see the module's docstring) and return its path."""
    path = Path(path)
    wb = xlsxwriter.Workbook(str(path), {
        "constant_memory": True,
        "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False,
        "nan_inf_to_errors": False,
    })
    wb.set_properties({"title": "救助数据比对审计报告", "author": "relieflink", "company": "relieflink",
                       "created": FIXED_TIME})
    styles = Styles(wb)
    _summary_sheet(wb.add_worksheet(SUMMARY_SHEET), styles, data, mask)
    for category, sheet in CATEGORY_SHEETS.items():
        write_table(wb.add_worksheet(sheet), styles, 0, flag_cols(data, _category_flags(data, category), mask))
    _review_sheet(wb.add_worksheet(REVIEW_SHEET), styles, data, mask)
    _identity_sheet(wb.add_worksheet(IDENTITY_SHEET), styles, data, mask)
    _quarantine_sheet(wb.add_worksheet(QUARANTINE_SHEET), styles, data, mask)
    _matrix_sheet(wb.add_worksheet(MATRIX_SHEET), styles, data)
    wb.close()
    return path


def read_flag_rows(path: Path) -> pd.DataFrame:
    """The flags of a written workbook's category sheets, as the workbook shows them: one row
    per flag with ``flag_id``, ``rule_id``, ``status`` and ``decision`` (codes, as in
    ``flags.parquet``), ``amount_at_stake`` and ``records`` (sorted ``file:row`` texts) —
    to check that a flag's workbook row agrees with its Parquet row (and with any other
    report of the flag)."""
    from python_calamine import CalamineWorkbook

    status_of = {v: k for k, v in STATUS_ZH.items()}
    decision_of = {v: k for k, v in DECISION_ZH.items()}
    wb = CalamineWorkbook.from_path(str(path))
    parts = []
    for sheet in CATEGORY_SHEETS.values():
        rows = wb.get_sheet_by_name(sheet).to_python()
        header, body = rows[0], rows[1:]
        frame = pd.DataFrame(body, columns=header)
        parts.append(pd.DataFrame({
            "flag_id": frame["编号"].astype(str), "rule_id": frame["规则"].astype(str),
            "status": frame["状态"].map(status_of),
            "decision": pd.Series([decision_of.get(d.split("；")[0]) if isinstance(d, str) and d else None
                                   for d in frame["复核决定"]], index=frame.index, dtype=object),
            "amount_at_stake": pd.to_numeric(frame["涉及金额（元）"].replace("", np.nan), errors="coerce"),
            "records": frame["涉及记录（文件:行）"].map(lambda t: sorted(t.split("；")) if t else []),
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def parquet_flag_rows(flags: pd.DataFrame) -> pd.DataFrame:
    """``flags.parquet``'s flags in the shape of :func:`read_flag_rows` (the same columns,
    sorted by ``flag_id``): the two agree on every flag of a run's workbook."""
    return pd.DataFrame({
        "flag_id": flags["flag_id"].astype(str), "rule_id": flags["rule_id"].astype(str),
        "status": flags["status"].astype(object),
        "decision": pd.Series([d if isinstance(d, str) else None for d in flags["decision"]] if "decision" in flags
                              else None, index=flags.index, dtype=object),
        "amount_at_stake": pd.to_numeric(flags["amount_at_stake"], errors="coerce").round(6),
        "records": _records_text(flags["records"]),
    }).assign(records=lambda f: f["records"].map(lambda t: sorted(t.split("；")) if t else [])) \
        .sort_values("flag_id", kind="mergesort").reset_index(drop=True)
