"""The whole job at scale: ``relieflink run`` per batch size, stage by stage, against Splink 5's linkage.

For every batch (``--batch G``: a folder ``relieflink synth`` wrote, or ``--rows N``: generated here
with ``relieflink synth --persons round(N * 0.35) --seed 7``, ≈ 0.35 persons per data row in the
default profile) the script runs, in a child process, exactly what ``relieflink run G/batch --out OUT``
runs (reports and the screening index included, no ``--previous``) and prints:

* per stage (ingest, linkage, audit, writing): wall seconds (those the run reports: the CLI's
  ``seconds:`` line) and CPU seconds
  (the child's ``time.process_time`` between the stage's start and done events, plus the CPU of
  any worker process the stage waited for: ``RUSAGE_CHILDREN``);
* the job's wall and CPU seconds, data rows (``run.json``'s ``data_rows``) and rows per wall and per CPU second;
* peak memory: ``ru_maxrss`` of the largest process of the tree (what ``/usr/bin/time -v`` reports
  for the command) and the peak of the tree's summed RSS (``/proc``, polled every 0.1 s: worker
  processes' memory added);
* growth with N: each figure per row, relative to the smallest batch (1.00 = linear);
* with ``--splink-python PY``: Splink 5 (DuckDB) on the same normalized input in the same
  invocation — the run's ``mentions.parquet`` — configured as in ``benchmarks/linkage.py``
  (its ``--child splink``, run with the interpreter ``PY``, which has ``splink`` and ``duckdb``:
  Splink 5 wants pandas < 3); both scored against the generator's truth (pairwise F1, persons
  recovered exactly) with the same function, and the ratio of Splink's seconds to relieflink's
  linkage stage.

The machine is shared: wall seconds depend on the load (printed beside them); CPU seconds are the
comparable figures. Heavy batches (over 200k persons) run under the shared lock:
``flock HEAVY.lock python benchmarks/run.py --batch g1m02`` (``g1m02`` = ``relieflink synth --persons
352000 --seed 7``, 1,019,602 data rows).

Measured (2026-12-02, 2 cores shared with other sessions at load average 10-22, so wall seconds
are 3-10× the CPU seconds; ``g200k`` = ``relieflink synth --persons 200000 --seed 2``, 581,878 data
rows, 656,953 mentions), base 107f272 against this branch, one after the other; the two run
folders are byte-identical (all 95 files)::

    stage CPU s      107f272   this branch
    ingest             17.1      17.0
    linkage            23.8      17.7
    audit              12.8       8.7
    writing            70.7      69.6      (the reports: not this change)
    total             125.2     113.8
    peak RSS         3.56 GiB  3.29 GiB    (the peak is in writing: the reports load the run again)
    linkage F1 0.9996, persons recovered exactly 99.49 % (both)

    Splink 5 on the same mentions (benchmarks/linkage.py, DuckDB threads): 404.9 s wall, 57.3 s CPU,
    3.17 GiB, F1 0.9930, 97.10 % exact — against the linkage stage's 59.4 s wall, 17.7 s CPU:
    ×6.8 wall (load differed), ×3.2 CPU.

At ``g1m02`` (352,000 persons seed 7, 1,019,602 data rows) main 107f272 took 17 min 16 s wall at
load ≈ 15 (ingest 134 s, linkage 213 s, audit 108 s, writing 560 s), 282 s CPU, 6.14 GiB peak
(``/usr/bin/time -v``, the lead's r1m02 run).

Usage::

    python benchmarks/run.py --rows 100000 --work /tmp/bench-run
    python benchmarks/run.py --batch g200k --batch g1m02 --work /tmp/bench-run \
        --splink-python /tmp/splink-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES = ("ingest", "linkage", "audit", "writing")
PERSONS_PER_ROW = 0.35


# ----------------------------------------------------------------------------- the child: one run
def child(batch: str, out: str) -> int:
    """Run the CLI's ``run`` in this process, timing each stage's CPU; print the figures as JSON."""
    import relieflink.pipeline as pipeline
    from relieflink.cli import main as cli_main

    cpu: dict[str, float] = {}
    wall: dict[str, float] = {}
    started: dict[str, float] = {}
    notify = pipeline.notify

    def now() -> float:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime

    def timed_notify(on_stage, name, state, seconds=0.0, **counts):
        if state == "start":
            started[name] = now()
        elif name in started:
            cpu[name], wall[name] = now() - started[name], seconds
        notify(on_stage, name, state, seconds, **counts)

    pipeline.notify = timed_notify
    t0, c0 = time.perf_counter(), now()
    code = cli_main(["run", batch, "--out", out])
    total_wall, total_cpu = time.perf_counter() - t0, now() - c0
    print(json.dumps({"exit": code, "wall": total_wall, "cpu": total_cpu, "stage_cpu": cpu, "stage_wall": wall}))
    return 0


# ----------------------------------------------------------------------------- the parent
def _tree_rss(root: int) -> int:
    """Summed RSS (bytes) of ``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(d), int(parts[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(parts[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def measure_run(batch: Path, out: Path) -> dict:
    """One ``relieflink run`` in a child process: its JSON figures, peaks and the load average."""
    if out.exists():
        shutil.rmtree(out)
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(batch), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = [0]

    def poll() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = proc.stdout.read() if proc.stdout else ""
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"relieflink run {batch} failed (exit {proc.returncode})")
    res = json.loads(stdout.strip().splitlines()[-1])
    manifest = json.loads((out / "run.json").read_text())
    counts = manifest["counts"]
    res["rows"], res["mentions"], res["persons"] = (int(counts.get(k) or 0) for k in ("data_rows", "mentions", "persons"))
    res["maxrss"] = usage.ru_maxrss * 1024
    res["tree_peak"] = peak[0]
    res["load"] = (load_before, os.getloadavg()[0])
    return res


def linkage_accuracy(out: Path, truth: Path) -> dict:
    """relieflink's persons scored against the truth as benchmarks/linkage.py scores every engine."""
    sys.path.insert(0, str(HERE))
    import linkage as lk  # benchmarks/linkage.py

    frames, lab, _ = lk.load("relief", str(out), str(truth))
    return lk.score(frames[0]["person_id"].to_numpy(), lab, False)


def splink_on(out: Path, truth: Path, python: str) -> dict:
    """benchmarks/linkage.py's Splink engine on the run's mentions, in its own process."""
    p = subprocess.run([python, str(HERE / "linkage.py"), "relief", "--child", "splink", "--run", str(out),
                        "--truth", str(truth)], capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": p.stderr[-500:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def generate(rows: int, work: Path) -> Path:
    g = work / f"g{rows}"
    if not (g / "batch").is_dir():
        subprocess.run([sys.executable, "-m", "relieflink", "synth", "--persons", str(round(rows * PERSONS_PER_ROW)),
                        "--seed", "7", "--out", str(g)], check=True, stdout=subprocess.DEVNULL)
    return g


def _gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB"


def report(results: list[dict]) -> None:
    print("\nbatch        rows     persons   stage     wall s    CPU s   (wall s per 1M rows)")
    for r in results:
        for s in STAGES:
            w, c = r["stage_wall"].get(s, float("nan")), r["stage_cpu"].get(s, float("nan"))
            print(f"{r['name']:10s} {r['rows']:8d} {r['persons']:9d}   {s:8s} {w:7.1f}  {c:7.1f}   "
                  f"({w / r['rows'] * 1e6:.1f})")
        print(f"{r['name']:10s} {'':8s} {'':9s}   {'total':8s} {r['wall']:7.1f}  {r['cpu']:7.1f}   "
              f"rows/s {r['rows'] / r['wall']:,.0f} wall, {r['rows'] / r['cpu']:,.0f} CPU; "
              f"peak {_gib(r['maxrss'])} (largest process), {_gib(r['tree_peak'])} (tree, summed); "
              f"load {r['load'][0]:.1f} → {r['load'][1]:.1f}")
        if "f1" in r:
            print(f"{'':33s}linkage: F1 {r['f1']:.4f}, persons exact {r['exact']:.4f}")
        sp = r.get("splink")
        if sp and "error" not in sp:
            lw = r["stage_wall"].get("linkage", float("nan"))
            print(f"{'':33s}Splink 5 on the same mentions: {sp['seconds']:.1f} s, F1 {sp['f1']:.4f}, "
                  f"persons exact {sp.get('exact_entities', float('nan')):.4f}, peak {sp['peak_mib']:.0f} MiB; "
                  f"Splink / relieflink linkage stage ×{sp['seconds'] / lw:.1f}")
        elif sp:
            print(f"{'':33s}Splink failed: {sp['error']}")
    if len(results) > 1:
        base = results[0]
        print(f"\ngrowth per row against {base['name']} (1.00 = linear):")
        for r in results[1:]:
            per = {s: (r["stage_cpu"].get(s, 0) / r["rows"]) / max(base["stage_cpu"].get(s, 0) / base["rows"], 1e-12)
                   for s in STAGES}
            per["total"] = (r["cpu"] / r["rows"]) / (base["cpu"] / base["rows"])
            per["peak"] = (r["maxrss"] / r["rows"]) / (base["maxrss"] / base["rows"])
            print(f"  {r['name']} (×{r['rows'] / base['rows']:.1f} rows): "
                  + ", ".join(f"{k} CPU {v:.2f}" if k != "peak" else f"peak {v:.2f}" for k, v in per.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", action="append", default=[], help="a folder relieflink synth wrote (batch/, truth/)")
    ap.add_argument("--rows", action="append", default=[], type=float, help="generate a batch of about N data rows")
    ap.add_argument("--work", default="bench-run", help="where generated batches and run folders go")
    ap.add_argument("--splink-python", help="an interpreter with splink and duckdb: Splink's linkage on the same input")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child(*a.child)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    gens = [Path(b) for b in a.batch] + [generate(int(n), work) for n in a.rows]
    results = []
    for g in gens:
        r = measure_run(g / "batch", work / f"run-{g.name}")
        r["name"] = g.name
        if (g / "truth").is_dir():
            acc = linkage_accuracy(work / f"run-{g.name}", g / "truth")
            r["f1"], r["exact"] = acc["f1"], acc["exact_entities"]
            if a.splink_python:
                r["splink"] = splink_on(work / f"run-{g.name}", g / "truth", a.splink_python)
        results.append(r)
        print(json.dumps(r), flush=True)
    results.sort(key=lambda r: r["rows"])
    report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
