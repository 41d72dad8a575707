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
        left, right = pairs["left_person_id"], pairs["right_person_id"]
        same = left.eq(right).to_numpy(dtype=bool, na_value=False) | (left.isna() & right.isna()).to_numpy()
        prob = pairs["probability"].to_numpy(dtype=float)[same]
        for side in ("left_node", "right_node"):
            np.maximum.at(best, pairs[side].to_numpy()[same], prob)
    # per mention, codes only: its own valid ID and its person's ID in one vocabulary (the mentions'
    # distinct IDs), so that no string is built or compared per mention
    people = persons.drop_duplicates("person_id")
    own, ids = pd.factorize(mentions["id_number"], use_na_sentinel=True)
    vocab = pd.Index(np.asarray(ids, dtype=object))
    person_code, person_ids = pd.factorize(mentions["person_id"], use_na_sentinel=True)
    row = pd.Index(people["person_id"].to_numpy(dtype=object)).get_indexer(np.asarray(person_ids, dtype=object))
    their_id = people["id_number"].to_numpy(dtype=object)
    has_id = pd.notna(their_id)
    theirs_known = np.r_[np.where(row >= 0, has_id[np.maximum(row, 0)], False), False]  # last slot: no person
    theirs_code = np.r_[np.where(row >= 0, vocab.get_indexer(np.where(has_id, their_id, None)[np.maximum(row, 0)]), -1), -1]
    slot = np.where(person_code >= 0, person_code, len(row))
    certain = (own >= 0) & (theirs_code[slot] == own)
    confidence = np.where(certain, 1.0, best[record_node])
    return pd.DataFrame(
        {"link_confidence": confidence, "identity_resolved": theirs_known[slot]}, index=mentions.index
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
