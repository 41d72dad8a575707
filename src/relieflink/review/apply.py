"""Apply reviewer decisions to a run: identity decisions before the audit, flag decisions after.

Identity decisions act on the linkage result. ``different_persons`` detaches
the second mention (with its node: the mentions identical to it in every
compared field; alone when both mentions are one node) from the first one's
person into a person of its own;
``same_person`` joins the two persons — unless both hold different valid
IDs, which the hard rule of SPEC §4 forbids (the decision is then reported
as refused). Person ids are derived from content as in linkage, so they
stay stable. Flag decisions mark flags ``confirmed`` or ``dismissed``: a
dismissed flag stays in ``flags.parquet`` for the record but leaves the
findings and the review queue. A flag decision binds to the flag id (what the
flag is about, not where its records sit); when the flag's evidence is no longer
what the reviewer saw, the decision still holds and the flag's
``decision_note`` says so (:data:`EVIDENCE_CHANGED`); a decision whose flag is
not in the run is returned as unmatched (listed, kept in the file, not applied).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from relieflink.audit.output import EVIDENCE_CHANGED
from relieflink.review.decisions import Decision, flag_decisions, identity_constraints, matching_no_flag


def _mention_index(mentions: pd.DataFrame) -> pd.Series:
    key = mentions["file"].astype(str) + "|" + mentions["row"].astype(int).astype(str) + "|" + mentions["role"].astype(str)
    return pd.Series(np.arange(len(mentions)), index=key.to_numpy())


def apply_identity_decisions(
    mentions: pd.DataFrame, record_node: np.ndarray, decisions: list[Decision]
) -> tuple[pd.Series, list[str]]:
    """New ``person_id`` per mention after the decisions; and the refused decisions (why)."""
    from relieflink.linkage.persons import stable_ids

    constraints = identity_constraints(decisions)
    person = mentions["person_id"].astype(object).to_numpy().copy()
    refused: list[str] = []
    if constraints.empty:
        return pd.Series(person, index=mentions.index), refused
    where = _mention_index(mentions)
    for c in constraints.itertuples(index=False):  # a handful of reviewer decisions, not a hot path
        a_key, b_key = f"{c.left_file}|{c.left_row}|{c.left_role}", f"{c.right_file}|{c.right_row}|{c.right_role}"
        if a_key not in where.index or b_key not in where.index:
            refused.append(f"{a_key} ~ {b_key}: a mention is not in this batch")
            continue
        a, b = int(where[a_key]), int(where[b_key])
        if c.same:
            if person[a] == person[b]:
                continue
            ids = mentions["id_number"].to_numpy()
            valid_a = set(ids[(person == person[a])]) - {None}
            valid_b = set(ids[(person == person[b])]) - {None}
            valid_a = {v for v in valid_a if isinstance(v, str)}
            valid_b = {v for v in valid_b if isinstance(v, str)}
            if valid_a and valid_b and valid_a != valid_b:
                refused.append(f"{a_key} ~ {b_key}: the two persons hold different valid IDs")
                continue
            person[person == person[b]] = person[a]
        elif person[a] == person[b]:
            # b's node leaves a's person; if a and b are one node (identical fields), b alone leaves
            moved = (record_node == record_node[b]) & (person == person[a])
            if record_node[a] == record_node[b]:
                moved = np.zeros(len(person), dtype=bool)
                moved[b] = True
            person[moved] = f"split:{b_key}"
    # content-derived ids, as linkage derives them
    labels = pd.Series(person, index=mentions.index)
    frr = mentions["file"].astype(str) + "|" + mentions["row"].astype(str).str.zfill(7) + "|" + mentions["role"].astype(str)
    valid = mentions["id_number"].astype(object)
    has = valid.notna()
    min_valid = valid[has].astype(str).groupby(labels[has]).min()
    min_frr = frr.groupby(labels).min()
    key = ("id:" + min_valid.reindex(min_frr.index)).where(min_valid.reindex(min_frr.index).notna(), "m:" + min_frr)
    # a person split off by a reviewer is keyed by its mentions, even when it carries the other's ID
    split = min_frr.index.astype(str).str.startswith("split:")
    key[split] = "m:" + min_frr[split]
    changed = labels.isin(labels[labels.str.startswith("split:") | ~labels.isin(mentions["person_id"])].unique())
    new_ids = stable_ids("P", key)
    result = labels.where(~changed, labels.map(new_ids))
    return result, refused


def reviewed_same(mentions: pd.DataFrame, decisions: list[Decision]) -> np.ndarray:
    """Mentions (aligned with ``mentions``) that a ``same_person`` decision names."""
    constraints = identity_constraints(decisions)
    same = constraints.loc[constraints["same"].astype(bool)]
    keys = {f"{f}|{r}|{role}" for side in ("left", "right")
            for f, r, role in zip(same[f"{side}_file"], same[f"{side}_row"], same[f"{side}_role"])}
    return _mention_index(mentions).index.isin(list(keys))


def apply_flag_decisions(flags: pd.DataFrame, decisions: list[Decision]) -> tuple[pd.DataFrame, list[Decision]]:
    """Flags with ``decision``, ``decided_by``, ``decision_reason`` and ``decision_note``
    (null when undecided, or when the evidence is what the reviewer saw); and the flag
    decisions that match no flag of this run."""
    table = flag_decisions(decisions)
    out = flags.drop(columns=[c for c in ("decision", "decided_by", "decision_reason", "decision_note") if c in flags])
    out = out.merge(table, on="flag_id", how="left")
    confirmed = out["decision"].eq("confirmed")
    out.loc[confirmed, "status"] = "finding"
    changed = out["decided_evidence"].notna() & out["decided_evidence"].ne(out["evidence"])
    out["decision_note"] = pd.Series(np.where(changed, EVIDENCE_CHANGED, None), index=out.index, dtype=object)
    return out.drop(columns=["decided_evidence"]), matching_no_flag(decisions, set(flags["flag_id"]))
