"""Writing the exports byte for byte: CSV (CRLF, the source's encoding),
JSON Lines, XLSX (openpyxl write-only; metadata and zip entry dates fixed so
that the same seed gives the same bytes)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange

from .exports import Sheet
from .layout import Laid


def _csv_col(values: np.ndarray) -> pd.Series:
    s = pd.Series(values, dtype=object)
    isnull = s.isna().to_numpy()
    out = s.astype(str)
    out[isnull] = ""
    need = out.str.contains(r'[,"\r\n]', regex=True).to_numpy()
    if need.any():
        out[need] = '"' + out[need].str.replace('"', '""', regex=False) + '"'
    return out


def _cell_text(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.2f}" if v != int(v) else str(int(v))
    return str(v)


def write_csv(path: Path, sheet: Sheet, laid: Laid) -> None:
    ncol = len(sheet.header)
    if len(sheet.cells):
        cols = [_csv_col(sheet.cells[c].to_numpy(dtype=object)) for c in sheet.header]
        data_lines = cols[0].str.cat(cols[1:], sep=",").to_numpy(dtype=object) if ncol > 1 else cols[0].to_numpy()
    else:
        data_lines = np.array([], dtype=object)
    lines = np.empty(len(laid.kind), dtype=object)
    d = laid.kind == "data"
    lines[d] = data_lines[laid.data_idx[d]]
    b = laid.kind == "blank"
    lines[b & laid.blank_empty] = ""
    lines[b & ~laid.blank_empty] = "," * (ncol - 1)
    t = laid.kind == "total"
    if t.any():
        row = [_cell_text(sheet.total.get(h)) for h in sheet.header]
        lines[t] = ",".join(f'"{x}"' if "," in x else x for x in row)
    text = "\r\n".join([",".join(sheet.header)] + list(lines)) + "\r\n"
    enc = sheet.encoding or "utf-8"
    if enc == "utf-8-sig":
        data = b"\xef\xbb\xbf" + text.encode("utf-8")
    else:
        data = text.encode(enc)  # strict: a character the encoding lacks is a generator bug
    path.write_bytes(data)


def write_jsonl(path: Path, sheet: Sheet, laid: Laid) -> None:
    frags = []
    for c in sheet.header:
        v = pd.Series(sheet.cells[c].to_numpy(dtype=object), dtype=object)
        isnull = v.isna().to_numpy()
        is_str = v.map(lambda x: isinstance(x, str)).to_numpy()
        s = v.astype(str)
        if s[is_str].str.contains(r'["\\]', regex=True).any():
            raise ValueError(f"unexpected quote in {c}")
        f = pd.Series(np.where(is_str, '"' + s + '"', s), dtype=object)
        f[isnull] = "null"
        frags.append(f'"{c}": ' + f)
    body = frags[0].str.cat(frags[1:], sep=", ") if len(sheet.cells) else pd.Series([], dtype=object)
    body = ("{" + body + "}").to_numpy(dtype=object)
    lines = np.full(len(laid.kind), "", dtype=object)
    d = laid.kind == "data"
    lines[d] = body[laid.data_idx[d]]
    text = "\n".join(lines) + "\n" if len(lines) else ""
    path.write_bytes(text.encode("utf-8"))


def write_xlsx(path: Path, sheet: Sheet, laid: Laid, timestamp: dt.datetime) -> None:
    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def simple_sheet(name, rows):
        ws = wb.create_sheet(title=name)
        for i, r in enumerate(rows):
            if i == 0:
                ws.append([_styled(ws, v, font=bold) for v in r])
            else:
                ws.append(list(r))

    for name, rows in sheet.sheets_before:
        simple_sheet(name, rows)
    ws = wb.create_sheet(title=sheet.sheet_name or "Sheet1")
    ncol = len(sheet.header)
    if sheet.title:
        ws.append([_styled(ws, sheet.title, font=Font(bold=True, size=14), align=Alignment(horizontal="center"))])
        ws.merged_cells.add(CellRange(f"A1:{get_column_letter(ncol)}1"))
    ws.append([_styled(ws, h, font=bold) for h in sheet.header])
    nf = sheet.date_number_format
    cells = sheet.cells
    # rows as tuples; dates need a styled cell
    if len(cells):
        arr = cells[sheet.header].to_numpy(dtype=object)
        date_cols = [j for j in range(ncol) if any(isinstance(v, dt.date) for v in arr[:2000, j])] or []
        if not date_cols:
            date_cols = [j for j in range(ncol) if cells.iloc[:, j].map(lambda v: isinstance(v, dt.date)).any()]
    else:
        arr = np.empty((0, ncol), dtype=object)
        date_cols = []
    for k, di in zip(laid.kind, laid.data_idx):
        if k == "blank":
            ws.append([])
            continue
        if k == "total":
            ws.append([_clean(sheet.total.get(h)) for h in sheet.header])
            continue
        row = [_clean(v) for v in arr[di]]
        for j in date_cols:
            v = row[j]
            if isinstance(v, dt.date):
                c = WriteOnlyCell(ws, value=v)
                c.number_format = nf
                row[j] = c
        ws.append(row)
    for name, rows in sheet.sheets_after:
        simple_sheet(name, rows)
    wb.properties.creator = sheet.creator
    wb.properties.created = timestamp
    wb.properties.modified = timestamp
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_normalize_zip(buf.getvalue(), timestamp))


def _styled(ws, value, font=None, align=None):
    c = WriteOnlyCell(ws, value=value)
    if font is not None:
        c.font = font
    if align is not None:
        c.alignment = align
    return c


def _clean(v):
    if v is None:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


_MODIFIED = re.compile(rb"<dcterms:modified([^>]*)>[^<]*</dcterms:modified>")
_CREATED = re.compile(rb"<dcterms:created([^>]*)>[^<]*</dcterms:created>")


def _normalize_zip(data: bytes, timestamp: dt.datetime) -> bytes:
    """Same bytes for the same content: fixed entry dates, fixed core.xml times."""
    stamp = timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _MODIFIED.sub(b"<dcterms:modified\\1>" + stamp + b"</dcterms:modified>", body)
                body = _CREATED.sub(b"<dcterms:created\\1>" + stamp + b"</dcterms:created>", body)
            zi = zipfile.ZipInfo(info.filename, date_time=timestamp.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            zout.writestr(zi, body)
    return out.getvalue()


def write_sheet(out_dir: Path, sheet: Sheet, laid: Laid, timestamp: dt.datetime, xlsx_engine: str = "fast") -> Path:
    """Write one export. ``xlsx_engine``: "fast" (vectorized SpreadsheetML) or "openpyxl" (write-only)."""
    path = out_dir / sheet.filename
    if sheet.kind == "csv":
        write_csv(path, sheet, laid)
    elif sheet.kind == "jsonl":
        write_jsonl(path, sheet, laid)
    elif sheet.kind == "xlsx" and xlsx_engine == "fast":
        from .xlsx_fast import write_xlsx_fast

        write_xlsx_fast(path, sheet, laid, timestamp)
    elif sheet.kind == "xlsx":
        write_xlsx(path, sheet, laid, timestamp)
    else:  # pragma: no cover
        raise ValueError(sheet.kind)
    return path


def duplicate_name(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    return f"{stem}(1).{ext}"
