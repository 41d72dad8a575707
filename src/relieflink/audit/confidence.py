"""How sure the identity behind each record is, from the linkage result.

A flag rests on records; each record's beneficiary mention was joined to its
person either by a valid resident ID (certain) or by probabilistic links.
``link_confidence`` of a mention is 1 when its own valid ID is the person's
ID, else the best match probability among the scored pairs that join its
node to another node of the same person (0 when nothing joined it: a person
of one mention without a valid ID). ``identity_resolved`` says whether the
person has a valid ID at all. The audit turns a finding into a review item
when either is weak (SPEC §5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def mention_confidence(
    mentions: pd.DataFrame, persons: pd.DataFrame, pairs: pd.DataFrame, record_node: np.ndarray
) -> pd.DataFrame:
    """Per mention (aligned with ``mentions``): ``link_confidence`` and ``identity_resolved``."""
    n_nodes = int(record_node.max()) + 1 if len(record_node) else 0
    best = np.zeros(n_nodes)
    if len(pairs):
        same = pairs["left_person_id"].astype(object).to_numpy() == pairs["right_person_id"].astype(object).to_numpy()
        prob = pairs["probability"].to_numpy(dtype=float)[same]
        for side in ("left_node", "right_node"):
            np.maximum.at(best, pairs[side].to_numpy()[same], prob)
    person_id_number = persons.drop_duplicates("person_id").set_index("person_id")["id_number"]
    own = mentions["id_number"].astype(object)
    theirs = mentions["person_id"].map(person_id_number).astype(object)
    same = own.fillna("").astype(str).to_numpy() == theirs.fillna("").astype(str).to_numpy()
    certain = own.notna().to_numpy() & same
    confidence = np.where(certain, 1.0, best[record_node])
    return pd.DataFrame(
        {"link_confidence": confidence, "identity_resolved": theirs.notna().to_numpy()}, index=mentions.index
    )


def records_confidence(records: pd.DataFrame, mentions: pd.DataFrame, confidence: pd.DataFrame) -> pd.DataFrame:
    """The beneficiary mention's confidence on each record."""
    by_mention = confidence.set_index(mentions["mention_id"].to_numpy())
    joined = by_mention.reindex(records["beneficiary_mention_id"].to_numpy())
    return pd.DataFrame(
        {
            "link_confidence": joined["link_confidence"].fillna(0.0).to_numpy(),
            "identity_resolved": joined["identity_resolved"].fillna(False).astype(bool).to_numpy(),
        },
        index=records.index,
    )


def flag_link_probability(confidence: np.ndarray, odds_factor: np.ndarray) -> np.ndarray:
    """The probability that a flag's linked records are one person, given what the flag says.

    A link's probability is computed from the identity fields alone. The pattern a rule
    finds is evidence too: being paid the same program twice at once is far likelier for
    two namesakes joined by mistake than for one person, so the link's odds are multiplied
    by the rule's ``link_odds_factor`` (NaN: the rule says nothing about identity). A
    certain link (1.0, a shared valid ID) stays certain.
    """
    c = np.asarray(confidence, dtype=float)
    f = np.asarray(odds_factor, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        adjusted = c * f / (c * f + (1.0 - c))
    return np.where(np.isnan(f) | (c >= 1.0), c, adjusted)
