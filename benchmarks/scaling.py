"""The local engine against the Spark engine (``--engine spark``, ``local[2]``) on the same batch:
time, CPU, peak memory of the driver, the JVM and the Python workers, where the time goes, and
whether the two runs agree (persons, person ids, households, flags).

How the figures are produced: each engine runs ``run_batch`` on ``--batch`` in a child process
(one after the other, never both at once); a sampler reads the resident memory of the child's
whole process tree every 0.2 s (``psutil``) and keeps the peak of the sum and of each part: the
driver (the child's Python), the JVM (``java``: in ``local[*]`` the executors are threads of it)
and the Python workers Spark starts for ``mapInPandas`` / ``applyInPandas``. CPU seconds are the
child's and its descendants' (``resource.getrusage(RUSAGE_CHILDREN)``). ``--limit-mib L`` sets
the address-space limit (``RLIMIT_AS``) of the process that holds the run — the local engine's
process, or the Spark driver once its JVM runs — for the memory-limit demonstration; a run that
fails under it is reported as failed (with its last message), not as an error. The child prints the
pipeline's stage seconds and the linkage's own (prepare, blocking, comparisons, training,
scoring, clustering, collect). ``--against RUN`` takes the local run from a run folder written
earlier (e.g. ``r1m``, the run of ``relieflink synth --persons 280000 --seed 7``, with main at
the same linkage) instead of running it. The machine is
shared and noisy: the figures are of one run each, not medians.

Run:

    python benchmarks/scaling.py --batch g40k/batch [--against RUN] [--engines local spark]
        [--master local[2]] [--driver-memory 4g] [--conf KEY=VALUE ...] --work scaling-work

(``g40k`` = ``relieflink synth --persons 40000 --seed 5 --out g40k``.)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd

CHILD = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from pathlib import Path
from relieflink.pipeline import run_batch
batch, out, engine, master, memory, conf, limit = sys.argv[1:8]
if engine == "spark":
    from relieflink.spark.session import spark_session
    spark_session(master, {"spark.driver.memory": memory, "spark.sql.shuffle.partitions": "8", **json.loads(conf)})
if int(limit):  # the address space of this process (the run; on Spark: the driver, its JVM started already)
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (int(limit) * 2**20, resource.RLIM_INFINITY))
started = time.perf_counter()
run = run_batch(Path(batch), Path(out), engine=engine)
print(json.dumps({"wall": time.perf_counter() - started, "stages": run.seconds, "linkage": run.linkage_seconds,
                  "persons": len(run.persons), "flags": len(run.flags), "mentions": len(run.mentions)}))
"""


def _sample(pid: int, peaks: dict[str, int], stop: threading.Event) -> None:
    import psutil

    root = psutil.Process(pid)
    while not stop.is_set():
        try:
            procs = [root, *root.children(recursive=True)]
            parts = {"driver": 0, "jvm": 0, "workers": 0, "driver_vms": 0}
            for p in procs:
                try:
                    mem = p.memory_info()
                    name = p.name()
                except psutil.Error:
                    continue
                part = "driver" if p.pid == pid else "jvm" if name.startswith("java") else "workers"
                parts[part] += mem.rss
                if p.pid == pid:  # the address space the driver's limit (--limit-mib) bounds
                    parts["driver_vms"] = mem.vms
            parts["total"] = parts["driver"] + parts["jvm"] + parts["workers"]
            for k, v in parts.items():
                peaks[k] = max(peaks.get(k, 0), v)
        except psutil.Error:
            pass
        stop.wait(0.2)


def run_engine(batch: Path, out: Path, engine: str, master: str, memory: str, conf: dict[str, str],
               limit_mib: int = 0) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    log = open(out.parent / f"{engine}.stderr", "w")  # Spark's and the run's messages, for a run that fails
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(batch), str(out), engine, master, memory,
                             json.dumps(conf), str(limit_mib)],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    peaks: dict[str, int] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(proc.pid, peaks, stop), daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    log.close()
    stop.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = [ln for ln in Path(log.name).read_text(errors="replace").splitlines() if ln.strip()][-1:]
        return {"failed": f"exit {proc.returncode}: {tail[0][:160] if tail else '?'} (see {log.name})",
                "process_wall": time.perf_counter() - started, "peak_mib": {k: round(v / 2**20) for k, v in peaks.items()}}
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_wall"] = time.perf_counter() - started
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["peak_mib"] = {k: round(v / 2**20) for k, v in peaks.items()}
    return result


def compare(a: Path, b: Path) -> dict[str, bool]:
    """Equal tables of two run folders (persons, households, flags; the mentions' person ids)."""
    out = {}
    for name in ("persons", "households", "flags"):
        out[name] = pd.read_parquet(a / f"{name}.parquet").equals(pd.read_parquet(b / f"{name}.parquet"))
    ma, mb = (pd.read_parquet(x / "mentions.parquet", columns=["person_id", "household_id"]) for x in (a, b))
    out["mention person_id"] = ma["person_id"].equals(mb["person_id"])
    out["mention household_id"] = ma["household_id"].equals(mb["household_id"])
    pa_, pb_ = (pd.read_parquet(x / "pairs.parquet") for x in (a, b))
    out["pairs (same pairs)"] = pa_[["left_node", "right_node"]].equals(pb_[["left_node", "right_node"]])
    if out["pairs (same pairs)"]:
        diff = (pa_["match_weight"] - pb_["match_weight"]).abs().max()
        out["pairs match_weight within 1e-9"] = bool(len(pa_) == 0 or diff <= 1e-9)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True, help="folder for the run folders (created)")
    ap.add_argument("--engines", nargs="+", default=["local", "spark"], choices=["local", "spark"])
    ap.add_argument("--against", type=Path, help="a local run folder of the same batch, used instead of a local run")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)")
    ap.add_argument("--limit-mib", type=int, default=0,
                    help="the address-space limit (RLIMIT_AS) of the process holding the run: the local engine's "
                         "process, or the Spark driver (set after its JVM started; the executors are bounded by "
                         "--driver-memory in local mode and spill beyond it)")
    args = ap.parse_args()
    conf = dict(c.split("=", 1) for c in args.conf)
    args.work.mkdir(parents=True, exist_ok=True)
    results = {}
    for engine in args.engines:
        if engine == "local" and args.against is not None:
            continue
        out = args.work / engine
        results[engine] = r = run_engine(args.batch, out, engine, args.master, args.driver_memory, conf,
                                         args.limit_mib)
        if "failed" in r:
            print(f"== {engine}: FAILED after {r['process_wall']:.1f} s, peak MiB {r['peak_mib']}: {r['failed']}")
            continue
        print(f"== {engine}: {r['mentions']} mentions, {r['persons']} persons, {r['flags']} flags")
        print(f"   wall {r['process_wall']:.1f} s (pipeline {r['wall']:.1f} s), CPU {r['cpu']:.1f} s, "
              f"peak MiB {r['peak_mib']}")
        print("   stages s: " + ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items()))
        print("   linkage s: " + ", ".join(f"{k} {v:.1f}" for k, v in r["linkage"].items()))
    results = {k: v for k, v in results.items() if "failed" not in v}
    if "local" in results and "spark" in results:
        lo, sp = results["local"], results["spark"]
        print(f"== spark / local: wall x{sp['process_wall'] / lo['process_wall']:.2f}, CPU x{sp['cpu'] / lo['cpu']:.2f}, "
              f"peak memory x{sp['peak_mib']['total'] / max(lo['peak_mib']['total'], 1):.2f}")
    local_out = args.against if args.against is not None else args.work / "local"
    if "spark" in results and (local_out / "run.json").is_file():
        print(f"== spark run against {local_out}:")
        for k, v in compare(local_out, args.work / "spark").items():
            print(f"   {k:32} {'equal' if v else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
