"""Ingest throughput per format and peak memory, serial and parallel, against the reading floor.

How the figures are produced: a batch is generated with
``relieflink synth --persons N --seed 1 --profile default`` (or taken from
``--batch``).

1. The whole batch is ingested (read, map, normalize identities, quarantine,
   assemble) with the automatic number of worker processes (the usable cores,
   ``relieflink.ingest.parallel``) and then in one process (``workers=1``),
   ``--repeat`` times each (medians): rows/s, wall and CPU time (this process
   and its workers), and the ratio parallel/serial. The outputs of the two
   are checked to be equal. Peak memory: this process's maximum RSS
   (``resource.getrusage``) after each, and the largest worker's; the tree's
   peak is at most the parent's plus workers x the largest worker's.
2. Per format, the files of that format alone (symlinked into a temporary
   folder) are ingested end to end with the automatic workers, ``_assemble``
   included: rows/s (wall and CPU). Rows are data rows incl. blank/total rows
   and duplicate deliveries. The per-file seconds of the serial run are
   printed too (the time of one file in one process).
3. Reading only, one process: our readers (``read_file``: decode, parse, raw
   table); the floors — pyarrow's CSV reader (``pyarrow.csv.read_csv``, types
   inferred), ``json.loads`` of every line, and python-calamine alone
   (``get_sheet_by_name`` + ``to_python``, all sheets) — which no mapping work
   can beat; and the ingest's rows/s as a multiple of each floor.
4. The alternatives on the same files — ``pandas.read_excel(openpyxl)``,
   ``pandas.read_csv``, ``pandas.read_json(lines)`` (reading only, no mapping)
   — and the ratios (``--no-alternatives`` skips them; openpyxl is slow).

The last line says what limits the throughput, from the measured shares.
Run on 2 cores:

    python benchmarks/ingest.py --persons 200000
    python benchmarks/ingest.py --batch g200k/batch --no-alternatives
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd


def _fmt(name: str) -> str:
    return {"xlsx": "xlsx", "jsonl": "jsonl"}.get(name.rsplit(".", 1)[-1], "csv")


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the ingest's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(fn):
    w, c = time.perf_counter(), _cpu()
    out = fn()
    return out, time.perf_counter() - w, _cpu() - c


def _mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _same_outputs(a, b) -> bool:
    return all(getattr(a, t).equals(getattr(b, t)) for t in ("mentions", "records", "quarantine"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=Path, help="an existing batch folder (skips generation)")
    parser.add_argument("--repeat", type=int, default=1, help="whole-batch runs per mode (medians)")
    parser.add_argument("--no-alternatives", action="store_true", help="skip the pandas alternatives")
    args = parser.parse_args()

    from relieflink import ingest_batch
    from relieflink.ingest.batch import discover
    from relieflink.ingest.parallel import worker_count
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
    workers = worker_count(discover(batch, config.sources), None)
    runs: dict[int, list[tuple[float, float]]] = {workers: [], 1: []}
    results = {}
    peaks = {}
    for mode in (workers, 1):  # parallel first: the parent's peak RSS is a lifetime maximum
        for _ in range(args.repeat):
            result, wall, cpu = _timed(lambda: ingest_batch(batch, config, workers=mode))
            runs[mode].append((wall, cpu))
            if mode not in results:
                results[mode] = result
            del result
        peaks[mode] = (_mib(resource.RUSAGE_SELF), _mib(resource.RUSAGE_CHILDREN))
        if workers == 1:
            break
    result = results[1]
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
    median = {mode: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for mode, r in runs.items() if r}
    print(f"\nrelieflink ingest, whole batch ({all_rows} rows, {len(result.files)} files; medians of {args.repeat}):")
    for mode in sorted(median, reverse=True):
        wall, cpu = median[mode]
        parent, child = peaks[mode]
        what = f"{mode} worker processes" if mode > 1 else "one process     "
        print(f"  {what}  {wall:7.2f}s wall {cpu:7.2f}s CPU  {all_rows / wall:>9,.0f} rows/s "
              f"({all_rows / max(cpu, 1e-9):,.0f} rows/CPU-s)  peak RSS {parent:,.0f} MiB"
              + (f" + largest worker {child:,.0f} MiB" if mode > 1 else ""))
    if workers > 1:
        same = _same_outputs(results[workers], results[1])
        print(f"  parallel/serial: {median[1][0] / median[workers][0]:.2f}x faster; outputs equal: {same}")
    print("  per-file seconds of the serial run, summed by format (assembly excluded):")
    for fmt in sorted(rows):
        print(f"    {fmt:<6} {rows[fmt]:>9} rows  {secs[fmt]:7.2f}s  {rows[fmt] / max(secs[fmt], 1e-9):>10,.0f} rows/s")
    del result, results

    print(f"\nrelieflink ingest per format (the format's files alone, end to end, {workers} worker(s)):")
    fmt_wall: dict[str, float] = {}
    fmt_cpu: dict[str, float] = {}
    for fmt in sorted(rows):
        with tempfile.TemporaryDirectory(prefix=f"relieflink-bench-{fmt}-") as d:
            for name in files_of[fmt]:
                (Path(d) / name).symlink_to(batch / name)
            res, wall, cpu = _timed(lambda: ingest_batch(Path(d), config, workers=workers))
        n = sum(f.data_rows for f in res.files if f.status in ("ingested", "duplicate"))
        fmt_wall[fmt], fmt_cpu[fmt] = wall, cpu
        print(f"  {fmt:<6} {n:>9} rows  {wall:7.2f}s wall {cpu:7.2f}s CPU  {n / wall:>10,.0f} rows/s "
              f"({n / max(cpu, 1e-9):,.0f} rows/CPU-s)")
        del res

    print("\nreading only, one process, CPU seconds (decode + parse, no mapping), and the floors:")
    read_secs: dict[str, float] = defaultdict(float)
    floor_secs: dict[str, float] = defaultdict(float)
    for fmt in sorted(rows):
        for name in files_of[fmt]:
            spec = next((t for s in config.sources for t in s.tables
                         if any(__import__("fnmatch").fnmatchcase(name, p) for p in t.files)), None)
            if spec is None:
                continue
            data = (batch / name).read_bytes()
            started = _cpu()
            try:
                read_file(batch / name, data, list(spec.columns), spec.sheet)
            except Exception:
                continue
            read_secs[fmt] += _cpu() - started
            started = _cpu()
            _floor(fmt, data, encodings.get(name))
            floor_secs[fmt] += _cpu() - started
    floor_names = {"csv": "pyarrow.csv.read_csv", "jsonl": "json.loads per line", "xlsx": "python-calamine alone"}
    for fmt in sorted(read_secs):
        share = read_secs[fmt] / max(fmt_cpu[fmt], 1e-9)
        ingest_rate = rows[fmt] / max(fmt_cpu[fmt], 1e-9)
        floor_rate = rows[fmt] / max(floor_secs[fmt], 1e-9)
        print(f"  {fmt:<6} readers {rows[fmt] / max(read_secs[fmt], 1e-9):>10,.0f} rows/CPU-s ({share:4.0%} of the format's "
              f"ingest CPU); floor {floor_names[fmt]} {floor_rate:>10,.0f} rows/CPU-s; "
              f"ingest = {ingest_rate / floor_rate:.2f}x the floor (per CPU-s)")
    calamine_secs = floor_secs.get("xlsx", 0.0)

    if not args.no_alternatives:
        print("\nalternatives on the same files (reading only, no mapping or normalization; CPU seconds):")
        alt_rows: dict[str, int] = defaultdict(int)
        alt_secs: dict[str, float] = defaultdict(float)
        for fmt in sorted(rows):
            for name in files_of[fmt]:
                path = batch / name
                started = _cpu()
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
                alt_secs[fmt] += _cpu() - started
                alt_rows[fmt] += len(frame)
        names = {"xlsx": "pandas.read_excel(openpyxl)", "csv": "pandas.read_csv", "jsonl": "pandas.read_json(lines)"}
        for fmt in sorted(alt_rows):
            ours = rows[fmt] / max(fmt_cpu[fmt], 1e-9)
            theirs = alt_rows[fmt] / max(alt_secs[fmt], 1e-9)
            print(f"  {names[fmt]:<28} {theirs:>10,.0f} rows/CPU-s   relieflink ingest/alternative read = {ours / theirs:5.2f}x")

    map_share = {fmt: 1 - read_secs.get(fmt, 0) / max(fmt_cpu[fmt], 1e-9) for fmt in fmt_cpu}
    print(
        "\nwhat limits it: the work after reading ("
        + ", ".join(f"{fmt} {share:.0%}" for fmt, share in sorted(map_share.items()))
        + " of each format's CPU): mapping (pandas frames per file, Arrow <-> Python conversions of the ID"
        " columns, per-column pandas overheads) and the name/ID normalization; then reading (csv.reader /"
        " json.loads into Arrow string columns, calamine for Excel). Workers divide the files, not the rows:"
        " a batch is no faster than its largest file in one process, and each worker's results are pickled"
        " back to the parent (and names repeated across files are normalized once per worker)"
        + (f"; for Excel, python-calamine alone caps it at {rows['xlsx'] / calamine_secs:,.0f} rows/CPU-s per process" if calamine_secs else "")
        + "."
    )
    sys.stdout.flush()


def _floor(fmt: str, data: bytes, encoding: str | None) -> None:
    """Read ``data`` with the plainest reader of its format (all cells as text, nothing mapped)."""
    if fmt == "xlsx":
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        for sheet in wb.sheet_names:
            wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    elif fmt == "jsonl":
        text = data.decode(encoding or "utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                try:
                    json.loads(line)
                except ValueError:
                    pass
    else:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        try:
            pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(encoding=encoding or "utf8"),
                           parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: "skip",
                                                            newlines_in_values=True))
        except pa.ArrowInvalid:
            pass


if __name__ == "__main__":
    main()
