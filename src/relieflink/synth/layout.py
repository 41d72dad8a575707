"""Physical layout of an export: where blank rows fall, the 合计 row, and
the row number a person opening the file sees for every row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .exports import Sheet


@dataclass
class Laid:
    kind: np.ndarray        # 'data' | 'blank' | 'total' per physical row (after the header)
    data_idx: np.ndarray    # index into Sheet.cells, -1 for blank/total
    row_no: np.ndarray      # row number as seen in the file (header = 1, or 2 under a title row)
    blank_empty: np.ndarray # CSV blank row written as an empty line (else a line of commas)


def lay_out(sheet: Sheet, rng: np.random.Generator, blank_rate: float, empty_share: float) -> Laid:
    n = len(sheet.cells)
    blanks_after = (rng.random(n) < blank_rate).astype(np.int64)
    if n:
        trailing_ok = sheet.kind == "csv" and rng.random() < 0.3
        if not trailing_ok:
            blanks_after[-1] = 0  # an empty last row of a workbook is invisible; JSONL ends with its last object
    per = 1 + blanks_after
    total = int(per.sum()) + (1 if sheet.total is not None else 0)
    kind = np.full(total, "blank", dtype=object)
    data_idx = np.full(total, -1, dtype=np.int64)
    pos = np.concatenate([[0], np.cumsum(per)[:-1]]).astype(np.int64) if n else np.zeros(0, np.int64)
    kind[pos] = "data"
    data_idx[pos] = np.arange(n)
    if sheet.total is not None:
        kind[-1] = "total"
    header_row = 0 if sheet.kind == "jsonl" else (2 if sheet.title else 1)
    row_no = header_row + 1 + np.arange(total)
    blank_empty = rng.random(total) < empty_share
    return Laid(kind=kind, data_idx=data_idx, row_no=row_no, blank_empty=blank_empty)
