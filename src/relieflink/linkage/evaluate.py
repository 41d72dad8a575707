"""Accuracy of a clustering against truth.

Pairwise precision / recall / F1 are counted combinatorially from cluster
sizes (Σ C(n, 2) over predicted clusters, true clusters and their
intersections), never by enumerating pairs. Cluster metrics: the share of
true entities recovered exactly (all their records and nothing else in one
predicted cluster), and of predicted clusters that are exactly one true entity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass
class Metrics:
    records: int
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    precision: float
    recall: float
    f1: float
    true_entities: int
    predicted_entities: int
    exact_entities: float  # share of true entities recovered exactly
    pure_clusters: float  # share of predicted clusters holding one true entity only
    split_entities: int  # true entities spread over more than one predicted cluster
    merged_clusters: int  # predicted clusters holding more than one true entity

    def as_dict(self) -> dict:
        return asdict(self)


def _c2(n: np.ndarray) -> int:
    n = np.asarray(n, dtype=np.int64)
    return int((n * (n - 1) // 2).sum())


def cluster_metrics(predicted, truth) -> Metrics:
    """Compare two labelings of the same records (any hashable labels; aligned)."""
    p = pd.factorize(pd.Series(predicted))[0]
    t = pd.factorize(pd.Series(truth))[0]
    n = len(p)
    ps = np.bincount(p) if n else np.zeros(0, np.int64)
    ts = np.bincount(t) if n else np.zeros(0, np.int64)
    key = p.astype(np.int64) * (int(t.max()) + 1 if n else 1) + t
    _, cell = np.unique(key, return_counts=True)
    tp, pp, tt = _c2(cell), _c2(ps), _c2(ts)
    prec = tp / pp if pp else 1.0
    rec = tp / tt if tt else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    # exact: the (p, t) cell is the whole of t and the whole of p
    uk, first, cnt = np.unique(key, return_index=True, return_counts=True)
    pc, tc = p[first], t[first]
    exact = (cnt == ts[tc]) & (cnt == ps[pc])
    n_true = len(ts)
    t_parts = np.bincount(tc, minlength=n_true)
    p_parts = np.bincount(pc, minlength=len(ps))
    return Metrics(n, tt, pp, tp, prec, rec, f1, n_true, len(ps),
                   float(exact.sum() / n_true) if n_true else 1.0,
                   float((p_parts == 1).sum() / len(ps)) if len(ps) else 1.0,
                   int((t_parts > 1).sum()), int((p_parts > 1).sum()))


def pair_metrics(predicted_pairs: pd.DataFrame, true_pairs: pd.DataFrame, on=("left", "right")) -> dict:
    """Precision / recall / F1 of explicit pair lists (link mode); pairs are unordered."""
    def norm(df):
        a, b = df[on[0]].astype(str), df[on[1]].astype(str)
        return set(zip(np.minimum(a, b), np.maximum(a, b)))
    P, T = norm(predicted_pairs), norm(true_pairs)
    tp = len(P & T)
    prec = tp / len(P) if P else 1.0
    rec = tp / len(T) if T else 1.0
    return {"predicted_pairs": len(P), "true_pairs": len(T), "true_positive_pairs": tp, "precision": prec,
            "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}


def blocking_recall(left: np.ndarray, right: np.ndarray, first_pass: np.ndarray, pass_names: list[str],
                    node_truth: np.ndarray, truth_pairs_total: int | None = None) -> pd.DataFrame:
    """Per pass: pairs it added and the true node pairs it found first (recall bought).

    ``node_truth`` is the true entity of each node (nodes whose records disagree on
    truth should be given the majority). Recall is over the true node pairs,
    counted combinatorially from entity sizes.
    """
    t = pd.factorize(pd.Series(node_truth))[0]
    total = truth_pairs_total if truth_pairs_total is not None else _c2(np.bincount(t))
    is_true = t[left] == t[right]
    rows = []
    cum = 0
    for k, name in enumerate(pass_names):
        sel = first_pass == k
        found = int(is_true[sel].sum())
        cum += found
        rows.append({"pass": name, "new_pairs": int(sel.sum()), "new_true_pairs": found,
                     "cumulative_recall": cum / total if total else 1.0})
    return pd.DataFrame(rows)


def evaluate_mentions(mentions: pd.DataFrame, truth_mentions: pd.DataFrame) -> tuple[Metrics, int]:
    """Metrics of linked mentions (``person_id``) against the generator's ``truth/mentions.parquet``.

    Joined on (file, row, role); returns the metrics and the number of mentions
    that had no truth row (should be 0).
    """
    keys = ["file", "row", "role"]
    t = truth_mentions[keys + ["person_id"]].rename(columns={"person_id": "true_person_id"})
    m = mentions[keys + ["person_id"]].copy()
    m["row"] = m["row"].astype("int64")
    t = t.assign(row=t["row"].astype("int64"))
    j = m.merge(t, on=keys, how="left")
    missing = int(j["true_person_id"].isna().sum())
    j = j.dropna(subset=["true_person_id"])
    return cluster_metrics(j["person_id"].to_numpy(), j["true_person_id"].to_numpy()), missing


def evaluate_run(out_dir, truth_dir) -> dict:
    """``relieflink evaluate OUT --truth TRUTH``: metrics of a run folder against a truth folder."""
    from pathlib import Path
    men = pd.read_parquet(Path(out_dir) / "mentions.parquet")
    tru = pd.read_parquet(Path(truth_dir) / "mentions.parquet")
    met, missing = evaluate_mentions(men, tru)
    d = met.as_dict()
    d["mentions_without_truth"] = missing
    return d


def _true_persons(out_dir, truth_dir) -> pd.DataFrame:
    """The run's mentions (person id, fingerprint) with the true person behind each."""
    from pathlib import Path

    from relieflink.linkage.continuity import read_run_mentions

    keys = ["file", "row", "role"]
    men = read_run_mentions(Path(out_dir))
    assert men is not None, f"{out_dir} holds no mentions.parquet"
    tru = pd.read_parquet(Path(truth_dir) / "mentions.parquet", columns=keys + ["person_id"])
    tru = tru.rename(columns={"person_id": "true_person_id"}).assign(row=lambda t: t["row"].astype("int64"))
    men = men[keys + ["person_id", "fingerprint"]].assign(row=lambda m: m["row"].astype("int64"))
    return men.merge(tru, on=keys, how="inner")


def _majority(labels: pd.Series, values: pd.Series) -> pd.Series:
    """The most frequent value per label (ties: the smallest)."""
    c = pd.DataFrame({"g": labels.to_numpy(), "v": values.astype(str).to_numpy()}).value_counts().reset_index(name="n")
    c = c.sort_values(["g", "n", "v"], ascending=[True, False, True], kind="stable").drop_duplicates("g")
    return pd.Series(c["v"].to_numpy(), index=c["g"].to_numpy())


def persons_kept(previous_out, out, previous_truth, truth) -> tuple[float, int, int]:
    """Of the true persons seen in both runs, the share whose run id (the most frequent id of
    their mentions) is the same in both; how many changed; how many were seen in both."""
    a, b = _true_persons(previous_out, previous_truth), _true_persons(out, truth)
    id_a, id_b = _majority(a["true_person_id"], a["person_id"]), _majority(b["true_person_id"], b["person_id"])
    both = id_a.index.intersection(id_b.index)
    same = id_a.reindex(both) == id_b.reindex(both)
    return (float(same.mean()) if len(both) else 1.0), int((~same).sum()), int(len(both))


def continuity_metrics(previous_out, out, previous_truth, truth) -> dict:
    """How ids carried over from one month's run (``previous_out``) to the next (``out``, run with
    ``--previous``), against the generator's truth of both months (same true person ids).

    ``persons_kept``: of the true persons seen in both months, the share whose run id (the most
    frequent id of their mentions) is the same in both. ``mentions_kept``: of the mentions in
    both months (same fingerprint), the share with the same person id. Merges and splits listed
    in ``changes.parquet`` are *true* when they repair the previous run against the truth: the
    previous persons merged are one true person; the parts of a split person are different
    true persons. Mentions moved between two persons who both go on are *true* when each
    belongs to the true person of the person it joined and not to that of the one it left.
    """
    from pathlib import Path

    a, b = _true_persons(previous_out, previous_truth), _true_persons(out, truth)
    kept, changed, both = persons_kept(previous_out, out, previous_truth, truth)
    common = a.merge(b, on="fingerprint", suffixes=("_a", "_b"))
    changes = pd.read_parquet(Path(out) / "changes.parquet")
    changes = changes[changes["entity"] == "person"]
    true_a = _majority(a["person_id"], a["true_person_id"])  # previous person id -> its true person
    true_b = _majority(b["person_id"], b["true_person_id"])
    merged = changes[changes["change"] == "merged"].groupby("id_after")["id_before"].agg(list)
    split = changes[changes["change"] == "split"].groupby("id_before")["id_after"].agg(list)
    merges_true = int(sum(len(set(true_a.reindex(ids))) == 1 for ids in merged))
    splits_true = int(sum(len(set(true_b.reindex(ids))) == len(ids) for ids in split))
    # a move is true when every mention that moved belongs to the true person of where it went
    # and not to the true person of where it was
    moves = changes.loc[changes["change"] == "moved", ["id_before", "id_after"]].astype(str)
    went = common.merge(moves, left_on=["person_id_a", "person_id_b"], right_on=["id_before", "id_after"])
    went = went.assign(right=(went["true_person_id_b"].astype(str) == went["id_after"].map(true_b)).to_numpy()
                       & (went["true_person_id_a"].astype(str) != went["id_before"].map(true_a)).to_numpy())
    moves_true = went.groupby(["id_before", "id_after"])["right"].all()
    return {
        "persons_in_both_months": both, "persons_kept": kept, "persons_changed_id": changed,
        "mentions_in_both_months": int(len(common)),
        "mentions_kept": float((common["person_id_a"] == common["person_id_b"]).mean()) if len(common) else 1.0,
        "merges_listed": int(len(merged)), "merges_true": merges_true,
        "splits_listed": int(len(split)), "splits_true": splits_true,
        "moves_listed": int(len(moves)), "moves_true": int(moves_true.sum()),
        "mentions_moved": int(len(went)), "mentions_moved_true": int(went["right"].sum()),
        "new_listed": int((changes["change"] == "new").sum()), "gone_listed": int((changes["change"] == "gone").sum()),
    }
