"""Ground truth beside the batch: persons, households, mentions, records,
planted anomalies and quirks, as Parquet, plus truth.json — which also
recognizes a folder the generator wrote (:data:`GENERATED_FOLDER`)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.outputs import FolderKind

from .exports import Sheet
from .layout import Laid
from .population import ROLE_NAMES

# truth attribute columns <- logical table columns
ATTRS = {
    "relief_category": "status_name", "roster_no": "roster_no", "relation": "relation",
    "disability_category": "cat", "disability_level": "level", "elderly_category": None,
    "school_year": "school_year", "aid_item": "item", "school": "school", "grade": "grade",
    "subsidy_type": "subsidy_type", "employment_category": None, "case_type": "case_type",
    "medical_category": None, "reason": "reason", "pay_month": "month",
}
CATEGORY_COL = {"mzj_elderly": "elderly_category", "rsj": "employment_category", "mzj_medical": "medical_category",
                "jsj": "family_planning_category"}


def _pid_str(persons: pd.DataFrame, pids: np.ndarray) -> np.ndarray:
    ids = persons["person_id"].to_numpy(dtype=object)
    pids = np.asarray(pids, dtype=np.int64)
    return np.where(pids >= 0, ids[np.maximum(pids, 0)], None)


def _hid_str(hids: np.ndarray) -> np.ndarray:
    hids = np.asarray(hids, dtype=np.int64)
    return np.where(hids >= 0, pd.Series(hids + 1).map("H{:07d}".format).to_numpy(dtype=object), None)


def records_of(sheet: Sheet, laid: Laid, t: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    n = len(laid.kind)
    d = laid.data_idx
    isd = laid.kind == "data"
    di = np.where(isd, d, 0)

    def take(col, default=None):
        if col is None or col not in t.columns or not len(t):
            return np.full(n, default, dtype=object)
        v = t[col].to_numpy()[di]
        out = np.asarray(v, dtype=object).copy()
        out[~isd] = default
        return out

    rec = pd.DataFrame({
        "file": sheet.filename, "row": laid.row_no.astype(np.int64), "sheet": sheet.sheet_name,
        "source": sheet.source, "row_kind": laid.kind.astype(str),
        "program": take("program"),
        "person_id": _pid_str(persons, np.where(isd, take("pid", -1), -1).astype(np.int64)),
        "household_id": _hid_str(np.where(isd, take("hid", -1), -1).astype(np.int64)),
        "guardian_person_id": _pid_str(persons, np.where(isd, take("guardian", -1), -1).astype(np.int64)),
        "head_person_id": _pid_str(persons, np.where(isd, take("head", -1), -1).astype(np.int64)),
    })
    amt = np.full(n, np.nan)
    if len(t):
        amt[isd] = t["amount"].to_numpy(dtype=float)[d[isd]]
    if sheet.total is not None:
        amt[laid.kind == "total"] = float(t["amount"].sum())
    rec["amount"] = amt
    for col in ("start", "end"):
        v = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        if len(t):
            v[isd] = t[col].to_numpy().astype("datetime64[D]")[d[isd]]
        out = np.full(n, None, dtype=object)
        ok = ~np.isnat(v)
        out[ok] = v[ok].astype(object)  # datetime.date
        rec["period_" + col] = out
    for out_col, col in ATTRS.items():
        rec[out_col] = take(col)
    cat_out = CATEGORY_COL.get(sheet.key)
    if "family_planning_category" not in rec.columns:
        rec["family_planning_category"] = None
    if cat_out:
        rec[cat_out] = take("category")
    rec["rid"] = np.where(isd, take("rid", -1), -1).astype(np.int64)
    rec["copy_of_file"] = None
    for c in ("disability_category", "disability_level", "pay_month"):
        rec[c] = pd.array([None if v is None else int(v) for v in rec[c]], dtype="Int64")
    return rec


def mentions_of(sheet: Sheet, laid: Laid, persons: pd.DataFrame) -> pd.DataFrame:
    isd = laid.kind == "data"
    rows = laid.row_no[isd]
    di = laid.data_idx[isd]
    parts = []
    hh = persons["household_id"].to_numpy(dtype=object)
    for role, pids in sheet.mentions:
        p = np.asarray(pids, dtype=np.int64)[di]
        ok = p >= 0
        parts.append(pd.DataFrame({"file": sheet.filename, "row": rows[ok].astype(np.int64), "role": role,
                                   "person_id": _pid_str(persons, p[ok]), "household_id": hh[p[ok]],
                                   "source": sheet.source, "sheet": sheet.sheet_name}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def quirks_of(sheet: Sheet, laid: Laid, persons: pd.DataFrame) -> pd.DataFrame:
    if not sheet.quirks:
        return pd.DataFrame(columns=["file", "row", "column", "quirk", "value", "true_value", "person_id"])
    q = pd.concat(sheet.quirks, ignore_index=True)
    row_of = np.zeros(len(sheet.cells), dtype=np.int64)
    isd = laid.kind == "data"
    row_of[laid.data_idx[isd]] = laid.row_no[isd]
    return pd.DataFrame({"file": sheet.filename, "row": row_of[q["data_idx"].to_numpy()], "column": q["column"],
                         "quirk": q["quirk"], "value": q["value"], "true_value": q["true_value"],
                         "person_id": _pid_str(persons, q["pid"].to_numpy())})


def planted_of(planted: list[dict], records: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    orig = records[(records["rid"] >= 0) & (records["row_kind"] == "data")]
    where = dict(zip(orig["rid"].to_numpy(), zip(orig["file"].to_numpy(), orig["row"].to_numpy())))
    rows = []
    for p in planted:
        refs = [where[r] for r in p["rids"] if r in where]
        rows.append({
            "rule_id": p["rule_id"], "compliant": p["compliant"],
            "person_id": None if p["pid"] < 0 else persons["person_id"].iat[p["pid"]],
            "household_id": None if p["hid"] < 0 else f"H{p['hid'] + 1:07d}",
            "rows": [{"file": f, "row": int(r)} for f, r in sorted(refs)],
            "files": sorted({f for f, _ in refs}),
            "note": p["note"],
        })
    return pd.DataFrame(rows, columns=["rule_id", "compliant", "person_id", "household_id", "rows", "files", "note"])


def persons_table(persons: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": persons["person_id"], "name": persons["name"], "id_number": persons["id_number"],
        "sex": persons["sex"], "birth_date": pd.to_datetime(persons["birth_date"]).dt.date,
        "phone": persons["phone"], "subdistrict": persons["subdistrict"], "community": persons["community"],
        "address": persons["address"], "household_id": persons["household_id"],
        "role": ROLE_NAMES[persons["role"].to_numpy()], "minority": persons["minority"],
        "rare_char": persons["rare_char"], "twin": persons["twin"],
        "same_name_as_father": persons["same_name_as_father"],
    })


def households_table(h: pd.DataFrame) -> pd.DataFrame:
    from .statuses import STATUS_NAMES
    return pd.DataFrame({
        "household_id": h["household_id"], "head_person_id": h["head_person_id"],
        "subdistrict": h["subdistrict"], "community": h["community"], "address": h["address"],
        "roster_no": h["roster_no"], "type": h["type"], "size": h["size"],
        "relief_status": [STATUS_NAMES.get(int(s)) for s in h["status"]],
    })


def write_truth(out: Path, tables: dict[str, pd.DataFrame], meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(out / f"{name}.parquet", index=False)
    (out / "truth.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                    encoding="utf-8")


#: the tables a truth folder may hold (``months`` from month 2 on; ``flags``: written by
#: :func:`relieflink.audit.truth.write_true_flags`)
TRUTH_TABLES = ("persons", "households", "mentions", "records", "planted", "quirks", "months", "flags")


def generated_contents(folder: Path) -> Collection[str] | None:
    """What ``relieflink synth`` wrote into ``folder`` (``batch/`` files by name, ``truth/``
    tables), recognized by its ``truth/truth.json``; ``None`` when the generator did not write it."""
    try:
        meta = json.loads((Path(folder) / "truth" / "truth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or "generator_version" not in meta:
        return None
    files = meta.get("files", meta.get("physical_rows"))  # a truth.json of before "files": the files with rows
    if not isinstance(files, (list, dict)) or not all(isinstance(name, str) for name in files):
        return None
    return {"truth/truth.json", *(f"truth/{t}.parquet" for t in TRUTH_TABLES), *(f"batch/{name}" for name in files)}


#: the output folder of ``relieflink synth`` (``OUT/batch``, ``OUT/truth``): replaced whole, and only
#: when it holds nothing the generator did not write
GENERATED_FOLDER = FolderKind("folder relieflink synth wrote", "synth", generated_contents)
