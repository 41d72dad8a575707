"""Two consecutive months of a generated batch, run with ``--previous``: do ids and decisions hold?

How the figures are produced: ``relieflink synth --month 1`` and ``--month 2`` of one
population and seed (month 2: about 3 % of the persons leave, 3 % arrive, 5 % move
subdistrict, every file's rows in another order, a file renamed; see
``relieflink.synth.months``). Month 1 is run; a reviewer who knows the truth takes
``--per-kind`` decisions of each kind on its open items (same / different person on
identity questions as the truth says, confirm / dismiss on review flags); month 2 is run
with ``--previous`` the month-1 folder and the same decisions file. Printed, against the
generator's truth (the same true person ids in both months):

* the share of the persons seen in both months who keep their person id (their most
  frequent id), and of the mentions present in both (same content) that keep theirs;
* per kind of decision: taken, whose subject is still there, held;
* the merges and splits ``changes.parquet`` lists, and how many are true (a merge joins
  previous persons who are one true person; a split separates different true persons);
* for comparison, the same share without ``--previous`` (content ids alone), and with the
  base commit's code when ``--base-src`` points at a checkout's ``src`` of it.

Measured here (2 cores shared with other sessions, 2026-12-02), default profile
(``--seed 3``) / hard (``--profile hard --seed 5``), with last month's links as linkage
evidence (``clustering.previous_link_evidence``; before it, at 3830b22, in brackets):
persons seen in both months who keep their id 100 % of 11,306 / 99.991 % of 11,367, 1
changed (100 % / 99.956 %, 5 changed); mentions in both months keeping their id 99.9935 % /
99.979 % (99.982 % / 99.958 %); merges listed 3 (2 true) / 7 (5 true) (the same); splits
listed 2 (1 true) / 3 (2 true) (9 (1) / 16 (3)). Without ``--previous`` 100 % / 99.947 %;
base commit 52e1e96's file|row ids 99.39 % / 97.28 %. Identity decisions held 48 of 48 / 49
of 49 whose mentions are still there; flag decisions held 47 of 47 / 48 of 48 whose flag is
still there, the others' persons left. The changes listed that are not repairs: a row
without a valid ID that this month's linkage attaches to another person with a valid ID
(a split of one and a merge into the other), a valid-ID row of its own. Runs of 20k persons
take 45-75 s each on a quiet machine (200-265 s on a loaded one).

    python benchmarks/continuity.py --persons 20000 --seed 3 --work /tmp/cont-bench --base-src BASE/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _timed(label: str, fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    return result


def _base_run(base_src: Path, batch: Path, out: Path) -> None:
    """A run with the base commit's code (its own process, its ``src`` first on the path)."""
    env = dict(os.environ, PYTHONPATH=str(base_src))
    code = "import sys; from pathlib import Path; from relieflink.pipeline import run_batch; " \
           "run_batch(Path(sys.argv[1]), Path(sys.argv[2]))"
    subprocess.run([sys.executable, "-c", code, str(batch), str(out)], check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--profile", default="default", choices=["clean", "default", "hard"])
    parser.add_argument("--per-kind", type=int, default=25, help="decisions of each kind (default: %(default)s)")
    parser.add_argument("--work", type=Path, required=True, help="folder for the batches and runs")
    parser.add_argument("--base-src", type=Path, help="src folder of a checkout of the base commit (optional)")
    args = parser.parse_args()

    from relieflink.evaluate import decisions_held, simulate_decisions
    from relieflink.linkage.evaluate import continuity_metrics, persons_kept
    from relieflink.pipeline import run_batch
    from relieflink.synth import generate_batch

    w = args.work
    w.mkdir(parents=True, exist_ok=True)
    print(f"{args.persons} persons, profile {args.profile}, seed {args.seed}, in {w}")
    for month in (1, 2):
        if not (w / f"m{month}" / "truth" / "truth.json").exists():
            _timed(f"synth month {month}", generate_batch, w / f"m{month}", persons=args.persons, seed=args.seed,
                   profile=args.profile, month=month)
    decisions = w / "decisions.jsonl"
    decisions.unlink(missing_ok=True)
    _timed("run month 1", run_batch, w / "m1" / "batch", w / "r1", decisions=decisions)
    taken = simulate_decisions(w / "r1", w / "m1" / "truth", decisions, per_kind=args.per_kind)
    run2 = _timed("run month 2 --previous", run_batch, w / "m2" / "batch", w / "r2", decisions=decisions,
                  previous=w / "r1")
    _timed("run month 2 without --previous", run_batch, w / "m2" / "batch", w / "r2-alone", decisions=None)

    m = continuity_metrics(w / "r1", w / "r2", w / "m1" / "truth", w / "m2" / "truth")
    truth2 = json.loads((w / "m2" / "truth" / "truth.json").read_text(encoding="utf-8"))
    print(f"month 2 against month 1 (truth): {truth2['months']}")
    print(f"persons seen in both months: {m['persons_in_both_months']:,}; keep their person id: "
          f"{m['persons_kept']:.4%} ({m['persons_changed_id']} changed)")
    print(f"mentions in both months (same content): {m['mentions_in_both_months']:,}; keep their person id: "
          f"{m['mentions_kept']:.4%}")
    alone = persons_kept(w / "r1", w / "r2-alone", w / "m1" / "truth", w / "m2" / "truth")
    print(f"  without --previous (content ids alone): {alone[0]:.4%} ({alone[1]} of {alone[2]} changed)")
    if args.base_src:
        _timed("base commit: run month 1", _base_run, args.base_src, w / "m1" / "batch", w / "b1")
        _timed("base commit: run month 2", _base_run, args.base_src, w / "m2" / "batch", w / "b2")
        base = persons_kept(w / "b1", w / "b2", w / "m1" / "truth", w / "m2" / "truth")
        print(f"  base commit (ids from file|row|role): {base[0]:.4%} ({base[1]} of {base[2]} changed)")
    print(f"merges listed {m['merges_listed']} (true {m['merges_true']}); splits listed {m['splits_listed']} "
          f"(true {m['splits_true']}); new {m['new_listed']}, gone {m['gone_listed']} persons")
    print("decisions of month 1 in month 2 (taken / subject still there / held):")
    for kind, r in sorted(decisions_held(w / "r2", taken).items()):
        print(f"  {kind:<18} {r['taken']:>4} / {r['present']:>4} / {r['held']:>4}")
    print(f"  unmatched, listed in the summary: {run2.summary()['decisions_unmatched']}")


if __name__ == "__main__":
    main()
