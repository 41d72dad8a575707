"""Report writing at scale: time per output, page sizes, and the explorer's first page in Chromium.

How the figures are produced: the Parquet files, ``run.json`` and
``linkage_model.json`` of a ``relieflink run`` folder (``--run``) are copied
into a scratch folder (the run folder is never written), and the reports are
written there step by step exactly as :func:`relieflink.report.write_reports`
does — load, explorer preparation, ``report.html``, ``report.xlsx``,
``flags.jsonl.gz``, every ``reports/<agency>.html`` — each step's wall and CPU
seconds printed. Then the sizes: ``report.html`` and its embedded explorer
data (columnar JSON as is, and gzip + base64 as embedded: the ratio says what
compression buys), the largest agency report and all of them, and
``flags.jsonl.gz`` against the same lines uncompressed and the old indented
``flags.json`` when the run folder has one. Last, unless ``--no-browser``,
``report.html`` and the largest agency report are opened ``--loads`` times in
headless Chromium (tests/browser.py) and the median of the page's own time
from navigation to the explorer's first page drawn is printed, with the
targets (report.html ≤ 15 MB, agency report ≤ 10 MB, first page ≤ 2 s).

Measured here (2026-12-02; 2 cores shared with other sessions, load average
15–20, so wall ≫ CPU; the table is in the README under "Reports at scale"):

* ``--run r1m`` (280k persons, 811,810 rows, 48,088 flags): CPU
  load 23.2 s, prepare 7.5 s, report.html 12.7 s, report.xlsx 62.5 s,
  flags.jsonl.gz 7.1 s, 17 agency reports 22.3 s; report.html 8.80 MB (explorer
  data JSON 42.2 MB → gzip 6.5 MB → base64 8.7 MB), mzj.html 4.88 MB (largest),
  all agency reports 17.2 MB, flags.jsonl.gz 9.73 MB (old flags.json 128.4 MB);
  first page in Chromium: report.html 3.94 s, mzj.html 2.40 s (medians of 3);
* ``--run r200k`` (200k persons, 34,412 flags, before the overlap
  matrix was vectorized): report.html 6.10 MB, mzj.html 3.40 MB, first page
  3.38 s and 0.92 s.

Run:

    python benchmarks/reports.py --run i9-r200k [--work DIR] [--loads 3] [--no-browser]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("*.parquet", "run.json", "linkage_model.json")
MB = 1024 * 1024


@contextmanager
def step(name: str, times: dict[str, tuple[float, float]]):
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    times[name] = (time.perf_counter() - wall, time.process_time() - cpu)
    print(f"  {name:<28} wall {times[name][0]:7.1f} s   cpu {times[name][1]:7.1f} s", flush=True)


def write_all(run: Path) -> dict[str, tuple[float, float]]:
    """The steps of write_reports, timed one by one."""
    from relieflink.privacy import Masker
    from relieflink.report import load_run
    from relieflink.report.agency import render_agency
    from relieflink.report.explorer import encode, payload, prepare
    from relieflink.report.html import render_report
    from relieflink.report.jsonout import FLAGS_JSONL, write_flags_jsonl
    from relieflink.report.xlsx import write_workbook
    from relieflink.visibility import Scope

    times: dict[str, tuple[float, float]] = {}
    masker = Masker(True, None)
    with step("load run", times):
        data = load_run(run)
    with step("explorer: prepare", times):
        base = prepare(data, masker, None)
    with step("report.html", times):
        page = payload(base, Scope(None), f"救助数据比对审计报告 {data.audit_year}年")
        (run / "report.html").write_text(render_report(data, masker, encode(page)), encoding="utf-8", newline="\n")
    with step("report.xlsx", times):
        write_workbook(data, run / "report.xlsx", masker)
    with step(FLAGS_JSONL, times):
        write_flags_jsonl(data, run / FLAGS_JSONL, masker)
    with step(f"reports/*.html ({len(data.catalog.agencies)})", times):
        (run / "reports").mkdir(exist_ok=True)
        for agency in data.catalog.agencies:
            (run / "reports" / f"{agency.code}.html").write_text(render_agency(base, agency.code, masker),
                                                                 encoding="utf-8", newline="\n")
    total = tuple(sum(t[i] for t in times.values()) for i in (0, 1))
    print(f"  {'all reports':<28} wall {total[0]:7.1f} s   cpu {total[1]:7.1f} s")
    print(f"  flags {len(data.flags):,}  held {len(data.held):,}  records {len(data.records):,}")
    return times


def sizes(run: Path, source: Path) -> Path:
    """Print the sizes; return the largest agency report."""
    from relieflink.report.explorer import decode

    import json
    import re

    html = (run / "report.html").read_text(encoding="utf-8")
    b64 = re.search(r'<script id="rl-data" type="application/octet-stream">([^<]*)</script>', html).group(1)
    raw = json.dumps(decode(html), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    print(f"  report.html                  {len(html.encode('utf-8')) / MB:7.2f} MB  (target ≤ 15 MB)")
    print(f"    explorer data: JSON {len(raw) / MB:.2f} MB, gzip {len(base64.b64decode(b64)) / MB:.2f} MB, "
          f"as embedded (base64) {len(b64) / MB:.2f} MB: {len(raw) / len(b64):.1f}× smaller than plain JSON")
    agencies = sorted((run / "reports").glob("*.html"), key=lambda p: p.stat().st_size)
    largest = agencies[-1]
    print(f"  largest agency report        {largest.stat().st_size / MB:7.2f} MB  ({largest.name}; target ≤ 10 MB)")
    print(f"  all agency reports           {sum(p.stat().st_size for p in agencies) / MB:7.2f} MB  ({len(agencies)} files)")
    gz = run / "flags.jsonl.gz"
    plain = len(gzip.decompress(gz.read_bytes()))
    print(f"  flags.jsonl.gz               {gz.stat().st_size / MB:7.2f} MB  (JSON Lines uncompressed {plain / MB:.2f} MB)")
    if (source / "flags.json").is_file():
        print(f"    the run folder's old flags.json: {(source / 'flags.json').stat().st_size / MB:.2f} MB")
    print(f"  report.xlsx                  {(run / 'report.xlsx').stat().st_size / MB:7.2f} MB")
    return largest


def first_page(paths: list[Path], loads: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import browser

    why = browser.unavailable()
    if why:
        print(f"  (no browser: {why})")
        return
    for path in paths:
        ms = []
        with browser.chromium() as context:
            for _ in range(loads):
                page = context.new_page()
                errors = browser.watch_console(page)
                wall = time.perf_counter()
                drawn = browser.open_report(page, path, timeout_ms=300_000)
                ms.append((drawn, (time.perf_counter() - wall) * 1000))
                if errors:
                    print(f"    console: {errors[:3]}")
                page.close()
        print(f"  {path.name:<28} first page: median {statistics.median(m[0] for m in ms) / 1000:5.2f} s from "
              f"navigation (page's clock), {statistics.median(m[1] for m in ms) / 1000:5.2f} s to the driver; "
              f"{loads} loads (target ≤ 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a relieflink run folder (read only)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="relieflink-reports-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for pattern in INPUTS:
            for path in sorted(args.run.glob(pattern)):
                shutil.copy2(path, work / path.name)
        print(f"writing the reports of {args.run} in {work}")
        write_all(work)
        print("sizes")
        largest = sizes(work, args.run)
        if not args.no_browser:
            print("Chromium")
            first_page([work / "report.html", largest], args.loads)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
