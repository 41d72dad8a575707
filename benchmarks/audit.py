"""Rule evaluation cost against the number of records: 200k and 1M records.

How the figures are produced: a batch is generated (``--persons``, default
100,000, seed 3) and its clean truth records, persons and mentions are put in
the audit engine's input shape (as for the true flags); or, with ``--run``,
the linked records, persons and mentions of a ``relieflink run`` output are
taken as they are (weak links and unresolved identities: every path of the
rules runs, the settling of missed benefits against unresolved rows too).
Whole persons are then sampled (or the population tiled, each copy with its
own person, household and row numbers, so copies never meet) to reach 200k
and 1M records; ``run_audit`` with the shipped rules runs once on each. The
benchmark prints records, flags, wall and CPU seconds, records per CPU-second
and the ratio of the cost per record at 1M to that at 200k (1.0 = linear).
Measured here (2 cores, nothing else running, 2026-11-29):

* ``--generated /tmp/g200k2`` (200k persons, seed 2; clean truth): 200k records
  7.0 s CPU, 1M records 35.2 s CPU: ratio 1.00;
* ``--run /tmp/r2d`` (the linked run of that batch): 200k records 9.6 s CPU, 1M
  records 45.0 s CPU: ratio 0.94.

Rule kinds on plain arrays (audit/columns.py, 2026-12-02, 2 cores shared, load
average 15-20; base 52e1e96 run from ``git archive`` with ``PYTHONPATH``, the same
flags): ``--run r200k --sizes 200000 500000``: 200k records 9.49 -> 4.95 s
CPU, 500k records 25.36 -> 14.60 s CPU (12,191 and 30,616 flags both).

Run:

    python benchmarks/audit.py [--generated G | --run R]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _scaled(records: pd.DataFrame, persons: pd.DataFrame, mentions: pd.DataFrame, target: int, seed: int):
    """Records of whole persons (sampled or tiled) adding up to about ``target``."""
    per_person = records.groupby("person_id").size()
    copies = int(np.ceil(target / len(records)))
    rng = np.random.default_rng(seed)
    parts_r, parts_p, parts_m = [], [], []
    for copy in range(copies):
        suffix = f"~{copy}"
        r = records.copy()
        p = persons.copy()
        m = mentions.copy()
        for frame in (r, p, m):
            for column in ("person_id", "household_id"):
                if column in frame:
                    frame[column] = frame[column].astype(str) + suffix
        r["row"] = r["row"] + copy * 10_000_000
        m["row"] = m["row"] + copy * 10_000_000
        r["record_id"] = r["record_id"] + copy * len(records)
        m["record_id"] = m["record_id"] + copy * len(records)
        parts_r.append(r)
        parts_p.append(p)
        parts_m.append(m)
    r, p, m = (pd.concat(x, ignore_index=True) for x in (parts_r, parts_p, parts_m))
    # sample whole persons down to the target
    counts = r.groupby("person_id").size()
    order = rng.permutation(counts.index.to_numpy())
    keep = set(order[: int(np.searchsorted(np.cumsum(counts.loc[order].to_numpy()), target)) + 1])
    del per_person
    return r[r["person_id"].isin(keep)], p[p["person_id"].isin(keep)], m[m["person_id"].isin(keep)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--generated", type=Path, help="an existing `relieflink synth` output folder")
    parser.add_argument("--run", type=Path, help="a `relieflink run` output folder instead of the clean truth "
                        "(linked records: weak links and unresolved identities exercise every path)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    args = parser.parse_args()

    from relieflink.audit import load_rules, run_audit
    from relieflink.audit.truth import truth_inputs
    from relieflink.config import load_catalog

    catalog = load_catalog()
    rules = load_rules(catalog=catalog)
    if args.run is not None:
        source = args.run
        records, persons, mentions = (pd.read_parquet(source / f"{t}.parquet") for t in ("records", "persons", "mentions"))
        records = records[records["person_id"].notna()]
    else:
        source = args.generated
        if source is None:
            from relieflink.synth import generate_batch

            source = Path(tempfile.mkdtemp(prefix="relieflink-audit-bench-"))
            generate_batch(source, persons=args.persons, seed=3, profile="default")
        records, persons, mentions = truth_inputs(source / "truth", catalog)
    print(f"base: {len(records):,} records of {records['person_id'].nunique():,} persons from {source}")
    results = []
    for size in args.sizes:
        r, p, m = _scaled(records, persons, mentions, size, seed=size)
        started, cpu_started = time.perf_counter(), time.process_time()
        flags = run_audit(r, p, m, rules, catalog)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        results.append((len(r), seconds, cpu))
        print(f"{len(r):>10,} records  {len(flags):>8,} flags  wall {seconds:8.2f}s  cpu {cpu:8.2f}s  "
              f"{len(r) / cpu:>10,.0f} records per cpu-second")
    if len(results) >= 2:
        (n0, s0, c0), (n1, s1, c1) = results[0], results[-1]
        print(f"cost per record at {n1:,} / at {n0:,}: cpu {(c1 / n1) / (c0 / n0):.2f}, wall {(s1 / n1) / (s0 / n0):.2f}"
              " (1.00 = linear; wall time moves with the machine's other load, cpu time does not)")


if __name__ == "__main__":
    main()
