"""Ingest throughput per format and peak memory, with the alternatives on the same files.

How the figures are produced: a batch is generated with
``relieflink synth --persons N --seed 1 --profile default`` (or taken from
``--batch``); the whole ingest stage (read, map, normalize identities,
quarantine) runs once and the time spent per file is summed by format; rows/s
is data rows (incl. blank/total rows) over those seconds. The same files are
then read by the alternatives — ``pandas.read_excel(engine="openpyxl")`` for
XLSX and ``pandas.read_csv`` (reading only, no mapping) for CSV — and their
rows/s and the ratios are printed. Peak memory is the process's maximum RSS
(``resource.getrusage``), read after the relieflink ingest and before the
alternatives run. Run on 2 cores:

    python benchmarks/ingest.py --persons 200000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd


def _fmt(name: str) -> str:
    return {"xlsx": "xlsx", "jsonl": "jsonl"}.get(name.rsplit(".", 1)[-1], "csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=Path, help="an existing batch folder (skips generation)")
    args = parser.parse_args()

    from relieflink import ingest_batch
    from relieflink.ingest.pipeline import IngestConfig

    if args.batch is None:
        from relieflink.synth import generate_batch

        tmp = Path(tempfile.mkdtemp(prefix="relieflink-bench-"))
        started = time.perf_counter()
        generate_batch(tmp, persons=args.persons, seed=args.seed, profile="default")
        print(f"generated {args.persons} persons in {time.perf_counter() - started:.1f}s -> {tmp}")
        batch = tmp / "batch"
    else:
        batch = args.batch

    config = IngestConfig.load()
    started = time.perf_counter()
    result = ingest_batch(batch, config)
    total = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows: dict[str, int] = defaultdict(int)
    secs: dict[str, float] = defaultdict(float)
    for f in result.files:
        if f.status in ("ingested", "duplicate"):
            rows[_fmt(f.file)] += f.data_rows
            secs[_fmt(f.file)] += f.seconds
    print(f"\nrelieflink ingest: {sum(rows.values())} rows in {total:.2f}s "
          f"({sum(rows.values()) / total:,.0f} rows/s overall), peak RSS {peak_mib:,.0f} MiB")
    for fmt in sorted(rows):
        print(f"  {fmt:<6} {rows[fmt]:>9} rows  {secs[fmt]:7.2f}s  {rows[fmt] / max(secs[fmt], 1e-9):>10,.0f} rows/s")

    print("\nalternatives on the same files (reading only, no mapping or normalization):")
    alt_rows: dict[str, int] = defaultdict(int)
    alt_secs: dict[str, float] = defaultdict(float)
    for f in result.files:
        if f.status != "ingested":
            continue
        path = batch / f.file
        fmt = _fmt(f.file)
        started = time.perf_counter()
        if fmt == "xlsx":
            frame = pd.read_excel(path, sheet_name=f.sheet, engine="openpyxl", header=None, dtype=object)
        elif fmt == "csv":
            frame = pd.read_csv(path, encoding=f.encoding, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_json(path, lines=True, dtype=False)
        alt_secs[fmt] += time.perf_counter() - started
        alt_rows[fmt] += len(frame)
    names = {"xlsx": "pandas.read_excel(openpyxl)", "csv": "pandas.read_csv", "jsonl": "pandas.read_json(lines)"}
    for fmt in sorted(alt_rows):
        ours = rows[fmt] / max(secs[fmt], 1e-9)
        theirs = alt_rows[fmt] / max(alt_secs[fmt], 1e-9)
        print(f"  {names[fmt]:<28} {theirs:>10,.0f} rows/s   relieflink/alternative = {ours / theirs:5.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
