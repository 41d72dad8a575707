"""A small, fast SpreadsheetML writer for the generator's workbooks.

openpyxl (even write-only) spends ~30 µs per cell; a district-size roster has
millions of cells. This writer builds the sheet XML column by column with
vectorized string operations and produces the same kind of workbook
(inline strings, numbers, dates with a number format, a merged title row,
bold headers, extra empty sheets), with fixed metadata dates.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import numpy as np
import pandas as pd

from .exports import Sheet
from .layout import Laid

EXCEL_EPOCH = dt.date(1899, 12, 30)
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

# cellXfs indices
S_TITLE, S_BOLD, S_DATE = 1, 2, 3


def col_letter(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _esc(s: pd.Series) -> pd.Series:
    return s.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False)


def _is_type(values: np.ndarray, typ) -> np.ndarray:
    f = np.frompyfunc(lambda x: isinstance(x, typ), 1, 1)
    return f(values).astype(bool) if len(values) else np.zeros(0, dtype=bool)


def _cells(values: np.ndarray, ref: pd.Series) -> pd.Series:
    """XML of one column's cells (empty string for empty cells)."""
    n = len(values)
    out = pd.Series(np.full(n, "", dtype=object))
    if n == 0:
        return out
    v = pd.Series(values, dtype=object)
    isnull = v.isna().to_numpy()
    is_str = _is_type(values, str)
    is_date = _is_type(values, dt.date) & ~is_str
    is_bool = _is_type(values, (bool, np.bool_))
    is_num = ~isnull & ~is_str & ~is_date & ~is_bool
    if is_str.any():
        s = v[is_str].astype(str)
        s = s[s != ""]
        idx = s.index
        sp = (s.str.startswith(" ") | s.str.endswith(" ")).to_numpy()
        t_open = np.where(sp, '<t xml:space="preserve">', "<t>")
        out[idx] = '<c r="' + ref[idx] + '" t="inlineStr"><is>' + t_open + _esc(s) + "</t></is></c>"
    if is_num.any():
        nums = v[is_num]
        txt = nums.map(_num_text)
        out[nums.index] = '<c r="' + ref[nums.index] + '" t="n"><v>' + txt + "</v></c>"
    if is_date.any():
        d = v[is_date]
        serial = d.map(lambda x: (x - EXCEL_EPOCH).days if not isinstance(x, dt.datetime) else (x.date() - EXCEL_EPOCH).days)
        out[d.index] = '<c r="' + ref[d.index] + f'" s="{S_DATE}" t="n"><v>' + serial.astype(str) + "</v></c>"
    if is_bool.any():
        b = v[is_bool]
        out[b.index] = '<c r="' + ref[b.index] + '" t="b"><v>' + b.map(lambda x: "1" if x else "0") + "</v></c>"
    return out


def _num_text(x) -> str:
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    f = float(x)
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return repr(f)


def _row_xml(row_no: int, cells: list, style=None) -> str:
    parts = []
    for j, v in enumerate(cells):
        if v is None or v == "":
            continue
        ref = f"{col_letter(j)}{row_no}"
        st = f' s="{style}"' if style else ""
        if isinstance(v, str):
            e = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(f'<c r="{ref}"{st} t="inlineStr"><is><t>{e}</t></is></c>')
        else:
            parts.append(f'<c r="{ref}"{st} t="n"><v>{_num_text(v)}</v></c>')
    return f'<row r="{row_no}">' + "".join(parts) + "</row>"


def _sheet_xml(body: str, dim: str | None = None, merge: str | None = None) -> str:
    head = (f'<worksheet xmlns="{NS}"><sheetPr><outlinePr summaryBelow="1" summaryRight="1"/><pageSetUpPr/></sheetPr>'
            + (f'<dimension ref="{dim}"/>' if dim else "")
            + '<sheetViews><sheetView workbookViewId="0"><selection activeCell="A1" sqref="A1"/></sheetView>'
            '</sheetViews><sheetFormatPr baseColWidth="8" defaultRowHeight="15"/><sheetData>')
    tail = "</sheetData>" + (f'<mergeCells count="1"><mergeCell ref="{merge}"/></mergeCells>' if merge else "")
    tail += '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>'
    return head + body + tail


def _simple_sheet(rows: list) -> str:
    return _sheet_xml("".join(_row_xml(i + 1, r, S_BOLD if i == 0 else None) for i, r in enumerate(rows)))


def data_sheet_xml(sheet: Sheet, laid: Laid) -> str:
    ncol = len(sheet.header)
    parts = []
    r0 = 1
    merge = None
    if sheet.title:
        parts.append(_row_xml(1, [sheet.title], S_TITLE))
        merge = f"A1:{col_letter(ncol - 1)}1"
        r0 = 2
    parts.append(_row_xml(r0, sheet.header, S_BOLD))
    n = len(sheet.cells)
    row_of = np.zeros(n, dtype=np.int64)
    isd = laid.kind == "data"
    row_of[laid.data_idx[isd]] = laid.row_no[isd]
    rows_s = pd.Series(row_of).astype(str)
    if n:
        acc = None
        for j, h in enumerate(sheet.header):
            ref = col_letter(j) + rows_s
            c = _cells(sheet.cells[h].to_numpy(dtype=object), ref)
            acc = c if acc is None else acc + c
        data_xml = ('<row r="' + rows_s + '">' + acc + "</row>").to_numpy(dtype=object)
    else:
        data_xml = np.array([], dtype=object)
    phys = np.empty(len(laid.kind), dtype=object)
    phys[isd] = data_xml[laid.data_idx[isd]]
    b = laid.kind == "blank"
    phys[b] = ['<row r="%d"/>' % r for r in laid.row_no[b]]
    t = laid.kind == "total"
    if t.any():
        phys[t] = _row_xml(int(laid.row_no[t][0]), [sheet.total.get(h) for h in sheet.header])
    parts.extend(phys.tolist())
    last = int(laid.row_no[-1]) if len(laid.row_no) else r0
    return _sheet_xml("".join(parts), f"A1:{col_letter(ncol - 1)}{last}", merge)


def _styles(date_fmt: str) -> str:
    f = date_fmt.replace('"', "&quot;")
    return (f'<styleSheet xmlns="{NS}"><numFmts count="1"><numFmt numFmtId="164" formatCode="{f}"/></numFmts>'
            '<fonts count="3"><font><name val="Calibri"/><family val="2"/><color theme="1"/><sz val="11"/>'
            '<scheme val="minor"/></font><font><b val="1"/><sz val="14"/></font><font><b val="1"/></font></fonts>'
            '<fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" applyAlignment="1" xfId="0"><alignment horizontal="center"/></xf>'
            '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" applyNumberFormat="1" xfId="0"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def write_xlsx_fast(path, sheet: Sheet, laid: Laid, timestamp: dt.datetime) -> None:
    sheets = [(name, _simple_sheet(rows)) for name, rows in sheet.sheets_before]
    sheets.append((sheet.sheet_name or "Sheet1", data_sheet_xml(sheet, laid)))
    sheets += [(name, _simple_sheet(rows)) for name, rows in sheet.sheets_after]
    stamp = timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    files = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                      for i in range(len(sheets)))
            + '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
            "</Types>"),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>'
            "</Relationships>"),
        "docProps/app.xml": ('<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
                             "<Application>Microsoft Excel</Application><AppVersion>16.0300</AppVersion></Properties>"),
        "docProps/core.xml": (
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:creator>{esc(sheet.creator)}</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'),
        "xl/workbook.xml": (
            f'<workbook xmlns="{NS}" xmlns:r="{RNS}"><workbookPr/><bookViews><workbookView activeTab="0"/></bookViews><sheets>'
            + "".join(f'<sheet name="{esc(name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, (name, _) in enumerate(sheets))
            + "</sheets></workbook>"),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                      for i in range(len(sheets)))
            + f'<Relationship Id="rId{len(sheets) + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
            "</Relationships>"),
        "xl/styles.xml": _styles(sheet.date_number_format),
    }
    for i, (_, xml) in enumerate(sheets):
        files[f"xl/worksheets/sheet{i + 1}.xml"] = xml
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ["[Content_Types].xml", "_rels/.rels", "docProps/app.xml", "docProps/core.xml", "xl/workbook.xml",
                     "xl/_rels/workbook.xml.rels", "xl/styles.xml"] + [f"xl/worksheets/sheet{i + 1}.xml" for i in range(len(sheets))]:
            zi = zipfile.ZipInfo(name, date_time=timestamp.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            z.writestr(zi, ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + files[name]).encode("utf-8"))
    path.write_bytes(buf.getvalue())
