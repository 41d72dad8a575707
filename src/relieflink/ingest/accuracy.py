"""How well ingest recovers resident IDs, measured against the generator's truth.

A mention's ID is *recoverable* when the raw cell, stripped of everything but
letters and digits (after NFKC), is the true ID, its 15-digit legacy form, or
the true ID inside a student number (G + ID) or a disability-certificate
number (ID + 2 digits). This definition is deliberately independent of the
normalizer it judges.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _legacy15(ids: pd.Series) -> pd.Series:
    """The 15-digit form of 18-digit IDs born 19xx (drop '19' and the check)."""
    born_19 = ids.str[6:8].eq("19")
    return (ids.str[:6] + ids.str[8:17]).where(born_19)


def attach_truth(mentions: pd.DataFrame, truth_dir: Path) -> pd.DataFrame:
    """Mentions with the true person and true ID (inner join on file, row, role)."""
    truth = pd.read_parquet(Path(truth_dir) / "mentions.parquet", columns=["file", "row", "role", "person_id"])
    persons = pd.read_parquet(Path(truth_dir) / "persons.parquet", columns=["person_id", "id_number"])
    truth = truth.merge(persons.rename(columns={"id_number": "true_id"}), on="person_id", how="left")
    truth = truth.rename(columns={"person_id": "true_person_id"})
    cols = ["file", "row", "role", "id_raw", "id_number", "id_status"]
    merged = mentions[cols].merge(truth, on=["file", "row", "role"], how="inner", validate="one_to_one")
    return merged


def id_accuracy(mentions: pd.DataFrame, truth_dir: Path) -> dict[str, object]:
    """Accuracy figures of issue #2: recovered share, wrong valid IDs, statuses of the rest."""
    m = attach_truth(mentions, truth_dir)
    raw = m["id_raw"].fillna("").astype(str).str.normalize("NFKC").str.upper().str.replace(r"[^0-9A-Z]", "", regex=True)
    true = m["true_id"].astype(str)
    recoverable = (raw == true) | (raw == "G" + true) | ((raw.str.len() == 20) & (raw.str[:18] == true)) | (
        raw == _legacy15(true)
    )
    recovered = m["id_number"].astype(object).eq(true)
    wrong_valid = m["id_number"].notna() & ~recovered
    n_rec = int(recoverable.sum())
    return {
        "mentions": len(m),
        "recoverable": n_rec,
        "recovered": int((recoverable & recovered).sum()),
        "recovered_share": float((recoverable & recovered).sum() / n_rec) if n_rec else 1.0,
        "wrong_valid_ids": int(wrong_valid.sum()),
        "unrecoverable_status": m.loc[~recoverable, "id_status"].value_counts().sort_index().to_dict(),
        "recoverable_not_recovered_status": m.loc[recoverable & ~recovered, "id_status"]
        .value_counts()
        .sort_index()
        .to_dict(),
    }
