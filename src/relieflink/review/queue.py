"""The open items of a run: review flags without a decision, and identity questions.

Identity questions are the clerical-review pairs of the linkage and the held
flags of the audit (a pattern, such as one program paid twice, found on
records whose link is likelier wrong than right: "one person? if so, this is a
finding"). Item ids are stable across runs: a flag item is its ``flag_id``; an
identity item is ``L`` + a hash of the two mentions' fingerprints (their
content, so the same question keeps its id when rows move or files are
renamed). ``left`` / ``right`` say where each mention is in this run
(``file|row|role``), ``left_key`` / ``right_key`` are the fingerprints a
decision binds to.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.linkage.continuity import read_run_mentions
from relieflink.review.apply import Unmatched, unmatched_decisions
from relieflink.review.decisions import Decision, DecisionKind, MentionKey, flag_decisions, identity_constraints, seen_keys

# ``evidence``: a flag item's evidence fingerprint, stored with a decision on it
ITEM_COLUMNS = ["item_id", "kind", "rule_id", "summary", "left", "right", "probability", "left_key", "right_key",
                "evidence"]


def _pair_keys(left: pd.Series, right: pd.Series) -> pd.Series:
    """Order-free keys of mention pairs ("a~b")."""
    return pd.Series(["~".join(sorted((str(a), str(b)))) for a, b in zip(left, right)], index=left.index, dtype=object)


def _pair_item_id(left: pd.Series, right: pd.Series) -> pd.Series:
    return pd.Series(["L" + hashlib.sha1(k.encode("utf-8")).hexdigest()[:12] for k in _pair_keys(left, right)],
                     index=left.index, dtype=object)


def _decided_pairs(decisions: list[Decision]) -> set[str]:
    """Keys of the mention pairs a reviewer has decided on (by fingerprint)."""
    c = identity_constraints(decisions).dropna(subset=["left", "right"])
    return set(_pair_keys(c["left"], c["right"]))


def _identity_items(left_seen: pd.Series, right_seen: pd.Series, where: pd.Series, decided: set[str],
                    frame: dict[str, object]) -> pd.DataFrame:
    """Identity items for pairs of mentions named ``file|row|role``; ``where`` maps those to
    fingerprints (a mention without one is keyed by where it is)."""
    left_key = left_seen.map(where).where(lambda k: k.notna(), left_seen)
    right_key = right_seen.map(where).where(lambda k: k.notna(), right_seen)
    keep = ~_pair_keys(left_key, right_key).isin(decided).to_numpy()
    out = pd.DataFrame({"item_id": _pair_item_id(left_key[keep], right_key[keep]), "kind": "identity",
                        "left": left_seen[keep], "right": right_seen[keep],
                        "left_key": left_key[keep], "right_key": right_key[keep]})
    for column, values in frame.items():
        out[column] = values[keep] if isinstance(values, (pd.Series, np.ndarray)) else values
    return out


def decision_on_item(item: pd.Series, kind: DecisionKind, reviewer: str, reason: str) -> Decision:
    """A reviewer's decision on an open item (a row of :func:`open_items`): on a flag, with the
    evidence fingerprint the reviewer saw; on an identity question, bound to the two mentions'
    fingerprints, with where they were seen (``file|row|role``)."""
    if item["kind"] == "flag":
        evidence = item["evidence"] if isinstance(item["evidence"], str) else None
        return Decision(kind, reviewer, reason, flag_id=item["item_id"], evidence=evidence)

    def key(seen: str, fingerprint: object) -> MentionKey:
        file, row, role = seen.rsplit("|", 2)
        bound = fingerprint if isinstance(fingerprint, str) and fingerprint != seen else None  # else: not bound
        return MentionKey(file, int(row), role, fingerprint=bound)

    return Decision(kind, reviewer, reason,
                    mentions=(key(item["left"], item["left_key"]), key(item["right"], item["right_key"])))


def unmatched_in_run(out_dir: Path, decisions: list[Decision], mentions: pd.DataFrame | None = None) -> list[Unmatched]:
    """The decisions that match nothing in the run in ``out_dir`` (:func:`~relieflink.review.apply.unmatched_decisions`
    on its mentions' fingerprints and its flags): the person left, the pattern ended, or the
    decision was taken on an id of an older version. They stay in the decisions file and are
    not applied. ``mentions``: the run's, when already read (:func:`read_run_mentions`)."""
    out_dir = Path(out_dir)
    if mentions is None:
        mentions = read_run_mentions(out_dir)
    flags_path = out_dir / "flags.parquet"
    flag_ids = pd.read_parquet(flags_path, columns=["flag_id"])["flag_id"] if flags_path.is_file() else None
    return unmatched_decisions(decisions, mentions["fingerprint"] if mentions is not None else None, flag_ids)


def open_items(out_dir: Path, decisions: list[Decision]) -> pd.DataFrame:
    """Every item waiting for a reviewer, flags first, deterministic order."""
    out_dir = Path(out_dir)
    parts = []
    flags_path = out_dir / "flags.parquet"
    if flags_path.exists():
        flags = pd.read_parquet(flags_path)
        decided_flags = set(flag_decisions(decisions)["flag_id"])
        todo = flags[(flags["status"] == "review") & ~flags["flag_id"].isin(decided_flags)]
        parts.append(pd.DataFrame({
            "item_id": todo["flag_id"], "kind": "flag", "rule_id": todo["rule_id"], "summary": todo["explanation_zh"],
            "left": None, "right": None, "probability": todo["link_confidence"],
            "evidence": todo["evidence"] if "evidence" in todo else None,
        }))
    decided = _decided_pairs(decisions)
    mentions = read_run_mentions(out_dir)
    where = pd.Series(dtype=object) if mentions is None else \
        pd.Series(mentions["fingerprint"].to_numpy(dtype=object), index=seen_keys(mentions).to_numpy())
    held_path = out_dir / "held_flags.parquet"
    if held_path.exists():
        held = pd.read_parquet(held_path, columns=["rule_id", "records", "link_confidence", "explanation_zh"])
        # the question is about the first and the last of the records the pattern joins
        left = pd.Series([f"{r[0]['file']}|{r[0]['row']}|beneficiary" for r in held["records"]], index=held.index, dtype=object)
        right = pd.Series([f"{r[-1]['file']}|{r[-1]['row']}|beneficiary" for r in held["records"]], index=held.index, dtype=object)
        parts.append(_identity_items(left, right, where, decided, {
            "rule_id": held["rule_id"].to_numpy(dtype=object),
            "summary": ("是否同一人？若是：" + held["explanation_zh"].astype(str)).to_numpy(dtype=object),
            "probability": held["link_confidence"].to_numpy()}))
    pairs_path = out_dir / "pairs.parquet"
    if pairs_path.exists() and mentions is not None:
        pairs = pd.read_parquet(pairs_path, columns=["left_mention_id", "right_mention_id", "probability", "review"])
        pairs = pairs[pairs["review"]]
        seen = pd.Series(seen_keys(mentions).to_numpy(), index=mentions["mention_id"].to_numpy())
        parts.append(_identity_items(pairs["left_mention_id"].map(seen), pairs["right_mention_id"].map(seen), where,
                                     decided, {"rule_id": None, "summary": "是否同一人？/ Same person?",
                                               "probability": pairs["probability"].to_numpy()}))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=ITEM_COLUMNS)
    items = pd.concat(parts, ignore_index=True).reindex(columns=ITEM_COLUMNS)
    items = items.drop_duplicates("item_id")  # a held pattern's pair may be a clerical-review pair too
    return items.sort_values(["kind", "rule_id", "item_id"], na_position="last", kind="stable").reset_index(drop=True)
