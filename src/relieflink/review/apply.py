"""Apply reviewer decisions to a run: identity decisions before the audit, flag decisions after.

Identity decisions act on the linkage result, on the mentions they name by
fingerprint (file names and row numbers play no part). ``different_persons`` detaches
the mention without a valid ID of its own when the other has one, else the second
mention (with its node: the mentions identical to it in every compared field; alone
when both mentions are one node) from the other one's person into a person of its
own — so a valid ID's own mentions are never split apart; decisions between two
mentions without a valid ID are applied after the others (one may be met already);
``same_person`` joins the two persons — unless both hold different valid
IDs, which the hard rule of SPEC §4 forbids: then a mention without a valid
ID of its own (joined to its person by probability) moves, with its node, to
the other mention's person, and a decision on two mentions that each carry a
different valid ID is reported as refused. Person ids are derived from
content as in linkage, so they stay stable. Flag decisions mark flags
``confirmed`` or ``dismissed``: a dismissed flag stays in ``flags.parquet``
for the record but leaves the findings and the review queue. A flag decision
binds to the flag id (what the flag is about, not where its records sit); when
the flag's evidence is no longer what the reviewer saw, the decision still
holds and the flag's ``decision_note`` says so (:data:`EVIDENCE_CHANGED`).

A decision of either kind whose subject is not in a run (an identity
decision's mention, a flag decision's flag) is not applied, stays in the file
and is listed: :func:`unmatched_decisions`, the one place that judges it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from relieflink.audit.output import EVIDENCE_CHANGED
from relieflink.review.decisions import FLAG_DECISIONS, IDENTITY_DECISIONS, Decision, flag_decisions, identity_constraints


def _mention_index(mentions: pd.DataFrame) -> pd.Series:
    """Position of each mention by its fingerprint."""
    return pd.Series(np.arange(len(mentions)), index=mentions["fingerprint"].to_numpy(dtype=object))


def apply_identity_decisions(
    mentions: pd.DataFrame, record_node: np.ndarray, decisions: list[Decision]
) -> tuple[pd.Series, list[str]]:
    """New ``person_id`` per mention after the decisions; and the refused decisions (why).

    A decision whose mentions are not both in ``mentions`` (by fingerprint) is skipped
    here; :func:`unmatched_decisions` lists it."""
    from relieflink.linkage.persons import content_key, stable_ids

    constraints = identity_constraints(decisions)
    person = mentions["person_id"].astype(object).to_numpy(copy=True)
    refused: list[str] = []
    if constraints.empty:
        return pd.Series(person, index=mentions.index), refused
    where = _mention_index(mentions)
    valid_ids = mentions["id_number"].astype(object)
    # a different_persons decision between two mentions without a valid ID comes after those naming one:
    # the latter say which side leaves, and the former may be met already (its mention left)
    with_valid = mentions["fingerprint"][valid_ids.notna().to_numpy()].astype(object).tolist()
    anchored = constraints["left"].isin(with_valid) | constraints["right"].isin(with_valid)
    loose = ~constraints["same"].astype(bool) & ~anchored
    constraints = pd.concat([constraints[~loose], constraints[loose]])
    for c in constraints.itertuples(index=False):  # a handful of reviewer decisions, not a hot path
        if c.left not in where.index or c.right not in where.index:
            continue
        a, b = int(where[c.left]), int(where[c.right])
        if c.same:
            if person[a] == person[b]:
                continue
            valid_a = set(valid_ids[person == person[a]].dropna().astype(str))
            valid_b = set(valid_ids[person == person[b]].dropna().astype(str))
            if valid_a and valid_b and valid_a != valid_b:
                if pd.notna(valid_ids.iat[a]) and pd.notna(valid_ids.iat[b]):
                    refused.append(f"{c.left_seen} ~ {c.right_seen}: the two persons hold different valid IDs")
                    continue
                # one of the two has no valid ID of its own: its link was probabilistic, and it
                # (with its node) moves to the other's person; the two persons stay apart
                mover, target = (a, b) if pd.isna(valid_ids.iat[a]) else (b, a)
                person[(record_node == record_node[mover]) & (person == person[mover])] = person[target]
                continue
            person[person == person[b]] = person[a]
        elif person[a] == person[b]:
            # one node leaves the other's person: the node of the mention without a valid ID (its link
            # was probabilistic; a valid ID's own mentions stay together), else b's; if a and b are one
            # node (identical fields), b alone leaves
            mover, label = (a, c.left) if pd.isna(valid_ids.iat[a]) and pd.notna(valid_ids.iat[b]) else (b, c.right)
            moved = (record_node == record_node[mover]) & (person == person[a])
            if record_node[a] == record_node[b]:
                moved = np.zeros(len(person), dtype=bool)
                moved[b] = True
            person[moved] = f"split:{label}"
    # content-derived ids, as linkage derives them
    labels = pd.Series(person, index=mentions.index)
    valid = valid_ids.where(valid_ids.notna(), None)
    min_valid = valid.dropna().astype(str).groupby(labels[valid.notna()]).min()
    min_fingerprint = mentions["fingerprint"].astype(object).groupby(labels).min()
    # a person split off by a reviewer is keyed by its mentions, even when it carries the other's ID
    min_valid = min_valid[~min_valid.index.astype(str).str.startswith("split:")]
    changed = labels.isin(labels[labels.str.startswith("split:") | ~labels.isin(mentions["person_id"])].unique())
    new_ids = stable_ids("P", content_key(min_valid, min_fingerprint))
    result = labels.where(~changed, labels.map(new_ids))
    return result, refused


def reviewed_same(mentions: pd.DataFrame, decisions: list[Decision]) -> np.ndarray:
    """Mentions (aligned with ``mentions``) that a ``same_person`` decision names."""
    constraints = identity_constraints(decisions)
    same = constraints.loc[constraints["same"].astype(bool)]
    keys = set(same["left"].dropna()) | set(same["right"].dropna())
    return mentions["fingerprint"].isin(list(keys)).to_numpy()


@dataclass(frozen=True)
class Unmatched:
    """A decision that matches nothing in a run (its person left, its flag is gone): kept in
    the file, not applied. Described without personal data."""

    decision: str
    at: str
    subject: str

    def as_dict(self) -> dict[str, str]:
        return {"decision": self.decision, "at": self.at, "subject": self.subject}


def unmatched_decisions(decisions: list[Decision], fingerprints: pd.Series | None,
                        flag_ids: pd.Series | None) -> list[Unmatched]:
    """The decisions whose subject is not in a run: an identity decision one of whose mentions
    has no fingerprint among ``fingerprints``, a flag decision whose flag is not among
    ``flag_ids`` (``None``: that stage did not run, nothing is judged)."""
    present = set(fingerprints.dropna()) if fingerprints is not None else None
    flags = set(flag_ids.dropna()) if flag_ids is not None else None
    out = []
    for d in decisions:  # a handful of reviewer decisions, not a hot path
        if d.decision in IDENTITY_DECISIONS and present is not None and d.mentions is not None:
            if not all(m.fingerprint in present for m in d.mentions):
                out.append(Unmatched(d.decision, d.at, f"{d.describe()}: not both in this batch"))
        elif d.decision in FLAG_DECISIONS and flags is not None and d.flag_id not in flags:
            out.append(Unmatched(d.decision, d.at, f"{d.describe()}: no such flag in this run"))
    return out


def unmatched_summary(unmatched: list[Unmatched]) -> dict[str, int]:
    """Unmatched decisions counted per kind."""
    return dict(sorted(Counter(u.decision for u in unmatched).items()))


def apply_flag_decisions(flags: pd.DataFrame, decisions: list[Decision]) -> pd.DataFrame:
    """Flags with ``decision``, ``decided_by``, ``decision_reason`` and ``decision_note``
    (null when undecided, or when the evidence is what the reviewer saw). A decision
    whose flag is not among ``flags`` is left out here; :func:`unmatched_decisions` lists it."""
    table = flag_decisions(decisions)
    out = flags.drop(columns=[c for c in ("decision", "decided_by", "decision_reason", "decision_note") if c in flags])
    out = out.merge(table, on="flag_id", how="left")
    confirmed = out["decision"].eq("confirmed")
    out.loc[confirmed, "status"] = "finding"
    changed = out["decided_evidence"].notna() & out["decided_evidence"].ne(out["evidence"])
    out["decision_note"] = pd.Series(np.where(changed, EVIDENCE_CHANGED, None), index=out.index, dtype=object)
    return out.drop(columns=["decided_evidence"])
