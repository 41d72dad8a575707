"""Ingest throughput per format and peak memory, with the alternatives on the same files.

How the figures are produced: a batch is generated with
``relieflink synth --persons N --seed 1 --profile default`` (or taken from
``--batch``).

1. The whole batch is ingested once (read, map, normalize identities,
   quarantine, assemble): overall rows/s and the peak memory (the process's
   maximum RSS, ``resource.getrusage``, read right after this run).
2. Per format, the files of that format alone (symlinked into a temporary
   folder) are ingested end to end, ``_assemble`` included: rows/s (wall and
   CPU). Rows are data rows incl. blank/total rows and duplicate deliveries.
   Since names and IDs are normalized once over all the files of a batch,
   this is the figure that belongs to a format; the per-file seconds of the
   full run are printed too (a file's share of the batch-wide normalization
   is apportioned by rows).
3. Reading only: our readers (``read_file``: decode, parse, raw table) and,
   for XLSX, python-calamine alone (``get_sheet_by_name`` + ``to_python``):
   the floor no mapping work can beat.
4. The alternatives on the same files — ``pandas.read_excel(openpyxl)``,
   ``pandas.read_csv``, ``pandas.read_json(lines)`` (reading only, no mapping)
   — and the ratios.

The last line says what limits the throughput, from the measured shares.
Run on 2 cores:

    python benchmarks/ingest.py --persons 200000
    python benchmarks/ingest.py --batch /tmp/g200k/batch
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd


def _fmt(name: str) -> str:
    return {"xlsx": "xlsx", "jsonl": "jsonl"}.get(name.rsplit(".", 1)[-1], "csv")


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=Path, help="an existing batch folder (skips generation)")
    parser.add_argument("--no-alternatives", action="store_true", help="skip the pandas alternatives")
    args = parser.parse_args()

    from relieflink import ingest_batch
    from relieflink.ingest.pipeline import IngestConfig
    from relieflink.ingest.readers import read_file

    if args.batch is None:
        from relieflink.synth import generate_batch

        tmp = Path(tempfile.mkdtemp(prefix="relieflink-bench-"))
        started = time.perf_counter()
        generate_batch(tmp, persons=args.persons, seed=args.seed, profile="default")
        print(f"generated {args.persons} persons in {time.perf_counter() - started:.1f}s -> {tmp}")
        batch = tmp / "batch"
    else:
        batch = args.batch.resolve()

    config = IngestConfig.load()
    result, total, total_cpu = _timed(lambda: ingest_batch(batch, config))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows: dict[str, int] = defaultdict(int)
    secs: dict[str, float] = defaultdict(float)
    files_of: dict[str, list[str]] = defaultdict(list)
    encodings = {f.file: f.encoding for f in result.files}
    sheets = {f.file: f.sheet for f in result.files}
    for f in result.files:
        files_of[_fmt(f.file)].append(f.file)
        if f.status in ("ingested", "duplicate"):
            rows[_fmt(f.file)] += f.data_rows
            secs[_fmt(f.file)] += f.seconds
    all_rows = sum(rows.values())
    print(f"\nrelieflink ingest, whole batch: {all_rows} rows in {total:.2f}s wall / {total_cpu:.2f}s CPU "
          f"({all_rows / total:,.0f} rows/s overall), peak RSS {peak_mib:,.0f} MiB")
    print("  per-file seconds of that run, summed by format (assembly excluded):")
    for fmt in sorted(rows):
        print(f"    {fmt:<6} {rows[fmt]:>9} rows  {secs[fmt]:7.2f}s  {rows[fmt] / max(secs[fmt], 1e-9):>10,.0f} rows/s")
    del result

    print("\nrelieflink ingest per format (the format's files alone, end to end):")
    fmt_wall: dict[str, float] = {}
    for fmt in sorted(rows):
        with tempfile.TemporaryDirectory(prefix=f"relieflink-bench-{fmt}-") as d:
            for name in files_of[fmt]:
                (Path(d) / name).symlink_to(batch / name)
            res, wall, cpu = _timed(lambda: ingest_batch(Path(d), config))
        n = sum(f.data_rows for f in res.files if f.status in ("ingested", "duplicate"))
        fmt_wall[fmt] = wall
        print(f"  {fmt:<6} {n:>9} rows  {wall:7.2f}s wall {cpu:7.2f}s CPU  {n / wall:>10,.0f} rows/s "
              f"({n / max(cpu, 1e-9):,.0f} rows/CPU-s)")
        del res

    print("\nreading only (decode + parse into the raw table, no mapping):")
    read_secs: dict[str, float] = defaultdict(float)
    calamine_secs = 0.0
    for fmt in sorted(rows):
        for name in files_of[fmt]:
            spec = next((t for s in config.sources for t in s.tables
                         if any(__import__("fnmatch").fnmatchcase(name, p) for p in t.files)), None)
            if spec is None:
                continue
            data = (batch / name).read_bytes()
            started = time.perf_counter()
            try:
                read_file(batch / name, data, list(spec.columns), spec.sheet)
            except Exception:
                continue
            read_secs[fmt] += time.perf_counter() - started
            if fmt == "xlsx":
                from python_calamine import CalamineWorkbook

                started = time.perf_counter()
                wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
                for sheet in wb.sheet_names:
                    wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
                calamine_secs += time.perf_counter() - started
    for fmt in sorted(read_secs):
        share = read_secs[fmt] / max(fmt_wall[fmt], 1e-9)
        print(f"  {fmt:<6} readers {rows[fmt] / read_secs[fmt]:>10,.0f} rows/s  ({share:4.0%} of the format's ingest time)")
    if calamine_secs:
        share = calamine_secs / max(fmt_wall["xlsx"], 1e-9)
        print(f"  xlsx   python-calamine alone (all sheets) {rows['xlsx'] / calamine_secs:>10,.0f} rows/s "
              f"= the Excel floor ({share:.0%} of the xlsx ingest time)")

    if not args.no_alternatives:
        print("\nalternatives on the same files (reading only, no mapping or normalization):")
        alt_rows: dict[str, int] = defaultdict(int)
        alt_secs: dict[str, float] = defaultdict(float)
        for fmt in sorted(rows):
            for name in files_of[fmt]:
                path = batch / name
                started = time.perf_counter()
                try:
                    if fmt == "xlsx":
                        frame = pd.read_excel(path, sheet_name=sheets[name] or 0, engine="openpyxl", header=None,
                                              dtype=object)
                    elif fmt == "csv":
                        frame = pd.read_csv(path, encoding=encodings[name] or "utf-8", dtype=str,
                                            keep_default_na=False, on_bad_lines="skip")
                    else:
                        frame = pd.read_json(path, lines=True, dtype=False)
                except Exception:
                    continue
                alt_secs[fmt] += time.perf_counter() - started
                alt_rows[fmt] += len(frame)
        names = {"xlsx": "pandas.read_excel(openpyxl)", "csv": "pandas.read_csv", "jsonl": "pandas.read_json(lines)"}
        for fmt in sorted(alt_rows):
            ours = rows[fmt] / max(fmt_wall[fmt], 1e-9)
            theirs = alt_rows[fmt] / max(alt_secs[fmt], 1e-9)
            print(f"  {names[fmt]:<28} {theirs:>10,.0f} rows/s   relieflink ingest/alternative read = {ours / theirs:5.2f}x")

    map_share = {fmt: 1 - read_secs.get(fmt, 0) / max(fmt_wall[fmt], 1e-9) for fmt in fmt_wall}
    print(
        "\nwhat limits it: the work after reading ("
        + ", ".join(f"{fmt} {share:.0%}" for fmt, share in sorted(map_share.items()))
        + " of each format's time): the batch-wide name/ID normalization, then pandas frames with object"
        " columns built per file (mention/record frames from Arrow text, Arrow -> Python str conversions,"
        " the concatenation in _assemble) and pandas' per-column overheads; then reading (csv.reader /"
        " json.loads into Arrow string columns, calamine for Excel)"
        + (f"; for Excel, python-calamine alone caps it at {rows['xlsx'] / calamine_secs:,.0f} rows/s" if calamine_secs else "")
        + "."
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
