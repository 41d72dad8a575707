"""``relieflink evaluate``: a run folder against the generator's truth.

Three measures, each against what the generator knows: resident-ID
recovery of ingest, linkage (pairwise precision/recall/F1 and persons
recovered exactly), and the flags per rule (precision and recall). A
predicted flag matches a true flag of the same rule when they share an
involved record (file, row): robust to person ids, which differ between a
run and the truth.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _flag_records(flags: pd.DataFrame) -> pd.DataFrame:
    """One row per (flag, involved record)."""
    ex = flags[["flag_id", "rule_id", "records"]].explode("records").dropna(subset=["records"])
    ex["file"] = ex["records"].map(lambda r: r["file"])
    ex["row"] = ex["records"].map(lambda r: int(r["row"]))
    return ex.drop(columns=["records"])


def matched_flags(predicted: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Pairs of a predicted and a true flag (``flag_id_p``, ``flag_id_t``) of the same rule that
    share an involved record (file, row), one row per shared record."""
    return _flag_records(predicted).merge(_flag_records(truth), on=["rule_id", "file", "row"], suffixes=("_p", "_t"))


def flag_metrics(predicted: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per rule: true and predicted counts, precision and recall of all flags, and precision of
    findings and of review items.

    Dismissed flags are not predictions. ``finding_precision`` counts only the
    flags a run states as findings, ``review_precision`` only its review items (what
    ``measured_precision`` in rules.yaml records, to rank the review queue); a rule
    without flags of that status has none (NaN).
    """
    if "decision" in predicted:
        predicted = predicted[predicted["decision"].ne("dismissed") | predicted["decision"].isna()]
    j = matched_flags(predicted, truth)
    rules = sorted(set(predicted["rule_id"]) | set(truth["rule_id"]))
    rows = []
    for rule in rules:
        n_pred = int((predicted["rule_id"] == rule).sum())
        n_true = int((truth["rule_id"] == rule).sum())
        jr = j[j["rule_id"] == rule]
        tp_pred, tp_true = jr["flag_id_p"].nunique(), jr["flag_id_t"].nunique()
        findings = predicted[(predicted["rule_id"] == rule) & (predicted["status"] == "finding")]["flag_id"]
        tp_findings = jr.loc[jr["flag_id_p"].isin(findings), "flag_id_p"].nunique()
        n_review = n_pred - len(findings)
        rows.append(
            {
                "rule_id": rule, "true": n_true, "predicted": n_pred,
                "precision": tp_pred / n_pred if n_pred else 1.0,
                "recall": tp_true / n_true if n_true else 1.0,
                "findings": len(findings),
                "finding_precision": tp_findings / len(findings) if len(findings) else float("nan"),
                "review_items": n_review,
                "review_precision": (tp_pred - tp_findings) / n_review if n_review else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def evaluate_run(out_dir: Path, truth_dir: Path) -> dict[str, object]:
    from relieflink.ingest.accuracy import id_accuracy
    from relieflink.linkage.evaluate import evaluate_run as linkage_metrics

    out_dir, truth_dir = Path(out_dir), Path(truth_dir)
    mentions = pd.read_parquet(out_dir / "mentions.parquet")
    result: dict[str, object] = {"ids": id_accuracy(mentions, truth_dir)}
    if mentions["person_id"].notna().any():
        result["linkage"] = linkage_metrics(out_dir, truth_dir)
    if (out_dir / "flags.parquet").exists() and (truth_dir / "flags.parquet").exists():
        result["flags"] = flag_metrics(pd.read_parquet(out_dir / "flags.parquet"), pd.read_parquet(truth_dir / "flags.parquet"))
    return result


def print_evaluation(result: dict[str, object]) -> None:
    ids = result["ids"]
    assert isinstance(ids, dict)
    print(f"IDs: {ids['recovered']}/{ids['recoverable']} recoverable IDs recovered "
          f"({ids['recovered_share']:.4%}); wrong valid IDs {ids['wrong_valid_ids']}")
    print(f"  unrecoverable, by status: {ids['unrecoverable_status']}")
    if "linkage" in result:
        lk = result["linkage"]
        assert isinstance(lk, dict)
        print("linkage: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in lk.items()))
    if "flags" in result:
        table = result["flags"]
        assert isinstance(table, pd.DataFrame)
        print("flags per rule:")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def simulate_decisions(out_dir: Path, truth_dir: Path, decisions: Path, per_kind: int = 5) -> list:
    """A reviewer who knows the truth, on a run's open items: ``same_person`` or
    ``different_persons`` on identity questions as the truth says, ``flag_confirmed`` on the
    first review flags and ``flag_dismissed`` on the next (``per_kind`` of each, appended to
    ``decisions``). Returns the decisions taken."""
    from relieflink.review import append_decision, decision_on_item, open_items

    items = open_items(Path(out_dir), [])
    tm = pd.read_parquet(Path(truth_dir) / "mentions.parquet", columns=["file", "row", "role", "person_id"])
    true_of = dict(zip(tm["file"] + "|" + tm["row"].astype(str) + "|" + tm["role"], tm["person_id"]))
    taken: list = []
    count = {"same_person": 0, "different_persons": 0}
    for _, item in items[items["kind"] == "identity"].iterrows():  # a few reviewer decisions
        kind = "same_person" if true_of.get(item["left"]) == true_of.get(item["right"]) else "different_persons"
        if count[kind] < per_kind:
            count[kind] += 1
            taken.append(decision_on_item(item, kind, "审核员", "per the case file"))
    flags = [item for _, item in items[items["kind"] == "flag"].iterrows()]
    taken += [decision_on_item(item, "flag_confirmed", "审核员", "checked") for item in flags[:per_kind]]
    taken += [decision_on_item(item, "flag_dismissed", "审核员", "checked") for item in flags[per_kind:2 * per_kind]]
    for d in taken:
        append_decision(Path(decisions), d)
    return taken


def decisions_held(out_dir: Path, taken: list) -> dict[str, dict[str, int]]:
    """Per kind: decisions taken, whose subject is in the run (both mentions by fingerprint, the
    flag by id), and held (the two mentions one person / two persons; the flag decided so)."""
    out_dir = Path(out_dir)
    person = pd.read_parquet(out_dir / "mentions.parquet", columns=["fingerprint", "person_id"]) \
        .set_index("fingerprint")["person_id"]
    flags = pd.read_parquet(out_dir / "flags.parquet", columns=["flag_id", "decision"]).set_index("flag_id")["decision"] \
        if (out_dir / "flags.parquet").exists() else pd.Series(dtype=object)
    result: dict[str, dict[str, int]] = {}
    for d in taken:
        r = result.setdefault(d.decision, {"taken": 0, "present": 0, "held": 0})
        r["taken"] += 1
        if d.flag_id is not None:
            if d.flag_id in flags.index:
                r["present"] += 1
                r["held"] += int(flags[d.flag_id] == d.decision.removeprefix("flag_"))
        elif all(m.fingerprint in person.index for m in d.mentions):
            r["present"] += 1
            same = person[d.mentions[0].fingerprint] == person[d.mentions[1].fingerprint]
            r["held"] += int(same == (d.decision == "same_person"))
    return result
