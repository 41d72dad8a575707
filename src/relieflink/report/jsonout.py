"""``flags.jsonl.gz``: the flags, machine-readable, masked unless asked otherwise.

Gzip-compressed JSON Lines, one flag per line, sorted by ``flag_id``: the
columns of ``flags.parquet`` (dismissed flags included, with their decision)
plus the agencies and subdistrict involved, the grantors of a missed benefit,
and the person's (masked) name and ID. Compact on purpose: a run of 1M rows
had a 211 MB indented ``flags.json``; as gzip-compressed JSON Lines the same
flags take about a fourteenth of that, and a reader can stream them
(``pandas.read_json(path, lines=True)``, ``zcat flags.jsonl.gz | jq``). The
run's counts per rule and status and its audit year are in ``run.json``.
Keys are sorted and the gzip header carries no name and no time, so the same
run gives the same bytes.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator

import pandas as pd

from relieflink.report.data import ReportData
from relieflink.privacy import Masker, is_blank

FLAGS_JSONL = "flags.jsonl.gz"


def _dates(values: pd.Series) -> list[str | None]:
    d = pd.to_datetime(values, errors="coerce")
    return [None if pd.isna(x) else x for x in d.dt.strftime("%Y-%m-%d")]


def _nums(values: pd.Series) -> list[float | None]:
    v = pd.to_numeric(values, errors="coerce").round(6)
    return [None if pd.isna(x) else float(x) for x in v]


def _strs(values: pd.Series) -> list[str | None]:
    return [None if is_blank(v) else str(v) for v in values]


def flags_as_dicts(data: ReportData, mask: Masker) -> Iterator[dict]:
    """One dict per flag, as a line of ``flags.jsonl.gz`` holds it."""
    f = data.flags
    if f.empty:
        return iter(())
    columns = {
        "flag_id": _strs(f["flag_id"]), "rule_id": _strs(f["rule_id"]), "category": _strs(f["category"]),
        "status": _strs(f["status"]), "decision": _strs(f["decision"]), "decided_by": _strs(f["decided_by"]),
        "decision_reason": [mask.text(v) if not is_blank(v) and str(v) else None for v in f["decision_reason"]],
        "decision_note": _strs(f["decision_note"]),
        "person_id": _strs(f["person_id"]), "household_id": _strs(f["household_id"]),
        "name": [mask.name(v) or None for v in f["name"]], "id_number": [mask.id(v) or None for v in f["id_number"]],
        "agencies": [list(a) for a in f["agencies"]], "subdistrict": _strs(f["subdistrict"]),
        "records": [[{"file": str(r["file"]), "row": int(r["row"]),
                      "amount_at_stake": None if is_blank(r.get("amount_at_stake")) else round(float(r["amount_at_stake"]), 6)}
                     for r in recs] for recs in f["records"]],
        "programs": [list(p) for p in f["programs"]],
        "missed_programs": [list(p) if p is not None else [] for p in f["missed_programs"]],
        "grantors": [list(g) for g in f["grantors"]],
        "period_start": _dates(f["period_start"]), "period_end": _dates(f["period_end"]),
        "amount_at_stake": _nums(f["amount_at_stake"]), "link_confidence": _nums(f["link_confidence"]),
        "evidence": _strs(f["evidence"]),
        "explanation_zh": [mask.explanation(t, i) for t, i in zip(f["explanation_zh"], f["id_number"])],
        "explanation_en": [mask.explanation(t, i) for t, i in zip(f["explanation_en"], f["id_number"])],
    }
    keys = sorted(columns)
    return (dict(zip(keys, values)) for values in zip(*(columns[k] for k in keys)))


def write_flags_jsonl(data: ReportData, path: Path, mask: Masker) -> Path:
    """Write ``flags.jsonl.gz`` (deterministic bytes)."""
    lines = "".join(json.dumps(d, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
                    for d in flags_as_dicts(data, mask))
    Path(path).write_bytes(gzip.compress(lines.encode("utf-8"), compresslevel=6, mtime=0))
    return Path(path)


def read_flags_jsonl(path: Path) -> list[dict]:
    """The flags of a ``flags.jsonl.gz``."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


__all__ = ["FLAGS_JSONL", "flags_as_dicts", "read_flags_jsonl", "write_flags_jsonl"]
