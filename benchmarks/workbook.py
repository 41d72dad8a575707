"""report.xlsx: its size and writing time on a run folder, and XlsxWriter against openpyxl.

How the figures are produced: the report data of a run folder (``--run``) is loaded
once (``relieflink.report.data.load_run``, timed apart), then ``write_workbook`` (the
whole workbook: XlsxWriter in constant-memory mode) writes it ``--repeat`` times into
a temporary folder; the median wall and CPU seconds and the file's size are printed.
As the alternative on the same data in the same run, the three category sheets' flag
tables (the bulk of the cells) are written from the same prepared columns
(``flag_cols``) once by XlsxWriter (``write_table``) and once by openpyxl in write-only
mode (what the workbook was written with before), and both times are printed with
their ratio.

    python benchmarks/workbook.py --run r200k [--repeat 3]

Measured here (2 cores shared with other sessions, 2026-12-02), r200k (200,000
persons, 484,727 data rows, 34,412 flags, 45,352 quarantine rows): report data loaded in
13.9 s CPU; report.xlsx 8.0 MiB written in 22.3 s CPU (187 s wall on the loaded machine;
11.3 MiB and 24.3 s CPU while 待复核 still repeated MULTI-SOURCE's 31,333 flags; the
openpyxl workbook of main 52e1e96 in that folder: 18.3 MiB). r1m (280,000
persons, ≈1M data rows, 48,088 flags, 63,201 quarantine rows; run with main 5bace94,
whose openpyxl workbook is 25.6 MiB): loaded in 19.2 s CPU; report.xlsx 11.2 MiB written
in 30.6 s CPU; its three category sheets (1,057,936 cells) 9.8 s CPU with XlsxWriter,
10.5 s CPU with openpyxl write-only (ratio 1.07: per cell the two cost about the same;
the gain is the size and the end of the hand-edited ZIP). Not yet
within the issue's budget (a small part of 30 s at 1M rows): XlsxWriter's per-cell Python
cost and the masking of each value dominate.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _timed(fn):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder of `relieflink run`")
    parser.add_argument("--repeat", type=int, default=1, help="times the workbook is written (median shown)")
    args = parser.parse_args()
    import openpyxl
    import xlsxwriter

    from relieflink.privacy import Masker
    from relieflink.report.data import load_run
    from relieflink.report.xlsx import CATEGORY_SHEETS, Styles, _category_flags, flag_cols, write_table, write_workbook

    mask = Masker()
    holder: dict = {}
    wall, cpu = _timed(lambda: holder.setdefault("data", load_run(args.run)))
    data = holder["data"]
    print(f"{args.run}: {len(data.flags):,} flags, {len(data.quarantine):,} quarantine rows; "
          f"report data loaded in {wall:.1f} s wall, {cpu:.1f} s CPU")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.xlsx"
        runs = [_timed(lambda: write_workbook(data, path, mask)) for _ in range(args.repeat)]
        size = path.stat().st_size
        print(f"report.xlsx: {size / 2**20:.1f} MiB; written in {statistics.median(w for w, _ in runs):.1f} s wall, "
              f"{statistics.median(c for _, c in runs):.1f} s CPU (median of {len(runs)})")
        tables = {sheet: flag_cols(data, _category_flags(data, cat), mask) for cat, sheet in CATEGORY_SHEETS.items()}
        cells = sum(len(cols) * len(cols[0].values) for cols in tables.values())

        def with_xlsxwriter() -> None:
            wb = xlsxwriter.Workbook(str(Path(tmp) / "x.xlsx"), {"constant_memory": True, "strings_to_formulas": False,
                                                                 "strings_to_numbers": False, "strings_to_urls": False})
            styles = Styles(wb)
            for sheet, cols in tables.items():
                write_table(wb.add_worksheet(sheet), styles, 0, cols)
            wb.close()

        def with_openpyxl() -> None:
            wb = openpyxl.Workbook(write_only=True)
            for sheet, cols in tables.items():
                ws = wb.create_sheet(sheet)
                ws.append([c.header for c in cols])
                for row in zip(*(c.values for c in cols)):
                    ws.append(list(row))
            wb.save(str(Path(tmp) / "o.xlsx"))

        xw, ox = _timed(with_xlsxwriter), _timed(with_openpyxl)
        print(f"category sheets ({cells:,} cells): XlsxWriter {xw[0]:.1f} s wall {xw[1]:.1f} s CPU "
              f"({(Path(tmp) / 'x.xlsx').stat().st_size / 2**20:.1f} MiB); openpyxl write-only {ox[0]:.1f} s wall "
              f"{ox[1]:.1f} s CPU ({(Path(tmp) / 'o.xlsx').stat().st_size / 2**20:.1f} MiB); "
              f"CPU ratio openpyxl / XlsxWriter {ox[1] / xw[1]:.2f}")


if __name__ == "__main__":
    main()
