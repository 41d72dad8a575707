"""The open items of a run: review flags without a decision, and identity questions.

Identity questions are the clerical-review pairs of the linkage and the held
flags of the audit (a pattern, such as one program paid twice, found on
records whose link is likelier wrong than right: "one person? if so, this is a
finding"). Item ids are stable across runs: a flag item is its ``flag_id``; an
identity item is ``L`` + a hash of the two mentions' (file, row, role).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from relieflink.review.decisions import Decision, flag_decisions, identity_constraints, matching_no_flag

# ``evidence``: a flag item's evidence fingerprint, stored with a decision on it
ITEM_COLUMNS = ["item_id", "kind", "rule_id", "summary", "left", "right", "probability", "evidence"]


def _pair_keys(left: pd.Series, right: pd.Series) -> pd.Series:
    """Order-free keys of mention pairs ("file|row|role~file|row|role")."""
    return pd.Series(["~".join(sorted((a, b))) for a, b in zip(left, right)], index=left.index, dtype=object)


def _pair_item_id(left: pd.Series, right: pd.Series) -> pd.Series:
    return pd.Series(["L" + hashlib.sha1(k.encode("utf-8")).hexdigest()[:12] for k in _pair_keys(left, right)],
                     index=left.index, dtype=object)


def _decided_pairs(decisions: list[Decision]) -> set[str]:
    """Keys of the mention pairs a reviewer has decided on."""
    constraints = identity_constraints(decisions)
    return {"~".join(sorted((f"{c.left_file}|{c.left_row}|{c.left_role}", f"{c.right_file}|{c.right_row}|{c.right_role}")))
            for c in constraints.itertuples(index=False)}


def _mention_keys(mentions: pd.DataFrame) -> pd.Series:
    return (mentions["file"].astype(str) + "|" + mentions["row"].astype(int).astype(str) + "|" + mentions["role"].astype(str))


def unmatched_flag_decisions(out_dir: Path, decisions: list[Decision]) -> list[Decision]:
    """The flag decisions that match no flag of the run in ``out_dir`` (the person left, the
    pattern ended, or the decision was taken on an id of an older version): they stay in the
    decisions file and are not applied, and ``relieflink review`` lists them."""
    flags_path = Path(out_dir) / "flags.parquet"
    present = set(pd.read_parquet(flags_path, columns=["flag_id"])["flag_id"]) if flags_path.exists() else set()
    return matching_no_flag(decisions, present)


def open_items(out_dir: Path, decisions: list[Decision]) -> pd.DataFrame:
    """Every item waiting for a reviewer, flags first, deterministic order."""
    out_dir = Path(out_dir)
    parts = []
    flags_path = out_dir / "flags.parquet"
    if flags_path.exists():
        flags = pd.read_parquet(flags_path)
        decided = set(flag_decisions(decisions)["flag_id"])
        todo = flags[(flags["status"] == "review") & ~flags["flag_id"].isin(decided)]
        parts.append(pd.DataFrame({
            "item_id": todo["flag_id"], "kind": "flag", "rule_id": todo["rule_id"], "summary": todo["explanation_zh"],
            "left": None, "right": None, "probability": todo["link_confidence"],
            "evidence": todo["evidence"] if "evidence" in todo else None,
        }))
    decided = _decided_pairs(decisions)
    held_path = out_dir / "held_flags.parquet"
    if held_path.exists():
        held = pd.read_parquet(held_path, columns=["rule_id", "records", "link_confidence", "explanation_zh"])
        # the question is about the first and the last of the records the pattern joins
        left = pd.Series([f"{r[0]['file']}|{r[0]['row']}|beneficiary" for r in held["records"]], index=held.index, dtype=object)
        right = pd.Series([f"{r[-1]['file']}|{r[-1]['row']}|beneficiary" for r in held["records"]], index=held.index, dtype=object)
        keep = ~_pair_keys(left, right).isin(decided)
        parts.append(pd.DataFrame({
            "item_id": _pair_item_id(left[keep], right[keep]), "kind": "identity", "rule_id": held.loc[keep, "rule_id"],
            "summary": "是否同一人？若是：" + held.loc[keep, "explanation_zh"], "left": left[keep], "right": right[keep],
            "probability": held.loc[keep, "link_confidence"],
        }))
    pairs_path = out_dir / "pairs.parquet"
    if pairs_path.exists():
        pairs = pd.read_parquet(pairs_path, columns=["left_mention_id", "right_mention_id", "probability", "review"])
        pairs = pairs[pairs["review"]]
        mentions = pd.read_parquet(out_dir / "mentions.parquet", columns=["mention_id", "file", "row", "role", "name", "source"])
        key = pd.Series(_mention_keys(mentions).to_numpy(), index=mentions["mention_id"].to_numpy())
        left, right = pairs["left_mention_id"].map(key), pairs["right_mention_id"].map(key)
        keep = ~_pair_keys(left, right).isin(decided)
        parts.append(pd.DataFrame({
            "item_id": _pair_item_id(left[keep], right[keep]), "kind": "identity", "rule_id": None,
            "summary": "是否同一人？/ Same person?", "left": left[keep], "right": right[keep],
            "probability": pairs.loc[keep, "probability"],
        }))
    if not parts:
        return pd.DataFrame(columns=ITEM_COLUMNS)
    items = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(not p.empty for p in parts) else pd.DataFrame(columns=ITEM_COLUMNS)
    items = items.drop_duplicates("item_id")  # a held pattern's pair may be a clerical-review pair too
    return items.reindex(columns=ITEM_COLUMNS).sort_values(["kind", "rule_id", "item_id"], na_position="last", kind="stable").reset_index(drop=True)
