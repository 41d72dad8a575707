"""How much of a reviewer's first hour goes to real problems: the review queue against the truth.

How the figures are produced: ``relieflink.review.open_items`` builds the queue of a
run folder (``--run``, made by ``relieflink run`` on a ``relieflink synth`` batch, no
decisions) and its wall and CPU seconds are printed. Every item is then judged
against the generator's truth (``--truth``, the batch's ``truth/`` folder):

* a flag is real when a true flag of the same rule shares one of its records (the
  matching of ``relieflink evaluate``);
* an identity question (a clerical-review pair, or a pattern held on a weak link) is
  a true identity error when its two mentions are linked in the run but belong to
  different true persons, or are apart but belong to one; a held pattern whose two
  sides are truly one person is real when the pattern is a true flag (the answer
  "same person" makes a true finding).

It prints the first ``--show`` items by rank with their verdicts, then the share of
real items among the first ``--first`` of the main queue ranked by expected money,
against the same share for the queue as a whole, for the main queue ordered by
amount alone and in a random order, for the identity questions alone (by rank, and
most uncertain first), and for the MULTI-SOURCE list (listed apart).

Measured here (2 cores shared with other sessions, 2026-12-02) on r200k
(``relieflink run`` of ``relieflink synth --persons 200000 --seed 2``, 484,727 data
rows, run with main at 52e1e96; queue of commit f8c63af+):

    python benchmarks/review_queue.py --run r200k --truth g200k/truth

* 38,180 open items (main queue 585 flags + 6,262 identity questions; MULTI-SOURCE
  list 31,333), built in 19.1 s CPU (230 s wall on the loaded machine);
* real problems among the first 100 of the main queue: 100 % ranked by expected
  money (all 50 first are MISS-REFERRAL referrals, each worth a year of 低保 ×
  0.994), 100 % by amount alone, 18 % in a random order; the main queue as a whole
  15.8 % (ratio 6.3); every open item 84.9 %;
* identity questions: 8.1 % are true identity errors; the first 100 by rank 14 %,
  most uncertain first 13 % (the clerical band's probabilities say little here).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd


def true_flag_ids(predicted: pd.DataFrame, truth: pd.DataFrame) -> set[str]:
    """Ids of the predicted flags that match a true flag (same rule, a shared record)."""
    from relieflink.evaluate import matched_flags

    return set(matched_flags(predicted, truth)["flag_id_p"])


def judge(items: pd.DataFrame, out: Path, truth: Path) -> np.ndarray:
    """Per item: True when it is a real problem (see the module)."""
    from relieflink.review.decisions import seen_keys

    flags = pd.read_parquet(out / "flags.parquet")
    true_flags = pd.read_parquet(truth / "flags.parquet")
    real_flags = true_flag_ids(flags, true_flags)
    held_path = out / "held_flags.parquet"
    real_held: set[str] = set()
    held_of_item: dict[str, str] = {}
    if held_path.is_file():
        from relieflink.linkage.continuity import read_run_mentions
        from relieflink.review.queue import held_item_ids

        held = pd.read_parquet(held_path)
        if len(held):
            real_held = true_flag_ids(held, true_flags)
            ids = held_item_ids(held, read_run_mentions(out))
            held_of_item = dict(zip(ids, held["flag_id"]))
    tm = pd.read_parquet(truth / "mentions.parquet", columns=["file", "row", "role", "person_id"])
    true_person = pd.Series(tm["person_id"].to_numpy(dtype=object),
                            index=(tm["file"] + "|" + tm["row"].astype(str) + "|" + tm["role"]).to_numpy())
    true_person = true_person[~true_person.index.duplicated()]
    rm = pd.read_parquet(out / "mentions.parquet", columns=["file", "row", "role", "person_id"])
    run_person = pd.Series(rm["person_id"].to_numpy(dtype=object), index=seen_keys(rm).to_numpy())
    run_person = run_person[~run_person.index.duplicated()]
    out_real = np.zeros(len(items), dtype=bool)
    is_flag = items["kind"].eq("flag").to_numpy()
    out_real[is_flag] = items.loc[is_flag, "item_id"].isin(list(real_flags)).to_numpy()
    ident = items[~is_flag]
    if len(ident):
        tl, tr = ident["left"].map(true_person), ident["right"].map(true_person)
        rl, rr = ident["left"].map(run_person), ident["right"].map(run_person)
        truly_same = (tl == tr).to_numpy() & tl.notna().to_numpy()
        linked = (rl == rr).to_numpy() & rl.notna().to_numpy()
        error = truly_same != linked
        held_real = ident["item_id"].map(held_of_item).isin(list(real_held)).to_numpy()
        out_real[~is_flag] = error | (truly_same & held_real)
    return out_real


def _share(real: np.ndarray, n: int | None = None) -> str:
    part = real if n is None else real[:n]
    return f"{part.mean():6.1%} of {len(part):>7,}" if len(part) else "   — of       0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder (relieflink run, no decisions)")
    parser.add_argument("--truth", type=Path, required=True, help="the batch's truth folder (relieflink synth OUT/truth)")
    parser.add_argument("--first", type=int, default=100, help="the head of the queue judged (default 100)")
    parser.add_argument("--show", type=int, default=50, help="items printed by rank (default 50)")
    args = parser.parse_args()
    from relieflink.review import open_items

    wall, cpu = time.perf_counter(), time.process_time()
    items = open_items(args.run, [])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"queue of {args.run}: {len(items):,} open items in {wall:.1f} s wall, {cpu:.1f} s CPU")
    print(items.groupby(["queue", "kind"]).size().rename("items").to_string())
    real = judge(items, args.run, args.truth)
    main_q = items["queue"].eq("main").to_numpy()
    head = items[main_q].head(args.show)
    print(f"\nfirst {len(head)} items of the main queue by rank (expected money = value × probability real):")
    for item, ok in zip(head.itertuples(index=False), real[main_q][: len(head)]):
        rule = item.rule_id if isinstance(item.rule_id, str) else "(pair)"
        print(f"  {item.rank:>4}  {item.item_id:<18} {item.kind:<8} {rule:<24} ¥{item.expected:>11,.2f} "
              f"= ¥{item.value:>11,.2f} × {item.p_real:.3f}   {'REAL' if ok else 'not real'}")
    m_items, m_real = items[main_q], real[main_q]
    by_amount = np.argsort(-m_items["value"].astype(float).to_numpy(), kind="stable")
    shuffled = np.random.default_rng(0).permutation(len(m_items))
    n = args.first
    print(f"\nshare of real problems (true findings or true identity errors):")
    print(f"  first {n} of the main queue, ranked by expected money   {_share(m_real, n)}")
    print(f"  first {n} of the main queue, ordered by amount alone    {_share(m_real[by_amount], n)}")
    print(f"  first {n} of the main queue, in random order (seed 0)   {_share(m_real[shuffled], n)}")
    print(f"  the main queue as a whole                               {_share(m_real)}")
    print(f"  first {n} of the MULTI-SOURCE list (apart)              {_share(real[~main_q], n)}")
    print(f"  every open item (main queue and the list apart)         {_share(real)}")
    for kind in ("flag", "identity"):
        k = m_items["kind"].eq(kind).to_numpy()
        print(f"  main queue, {kind:<8} items                            {_share(m_real[k])}")
    ident = m_items["kind"].eq("identity").to_numpy()
    p = m_items["p_real"].astype(float).to_numpy()[ident]
    print(f"  first {n} identity questions by rank (--kind identity)  {_share(m_real[ident], n)}")
    print(f"  first {n} identity questions, most uncertain first      "
          f"{_share(m_real[ident][np.argsort(-np.minimum(p, 1 - p), kind='stable')], n)}")
    ratio = m_real[:n].mean() / m_real.mean() if m_real.mean() else float("inf")
    print(f"  ratio first {n} / whole main queue: {ratio:.2f}")


if __name__ == "__main__":
    main()
