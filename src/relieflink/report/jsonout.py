"""``flags.json``: the flags, machine-readable, masked unless asked otherwise.

One object: ``audit_year``, ``masked``, ``counts`` (per rule and status,
dismissed flags excluded) and ``flags``, sorted by ``flag_id``, each with the
columns of ``flags.parquet`` plus the rule's Chinese title, the agencies and
subdistrict involved and the person's (masked) name and ID. Keys are sorted,
so the same run gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from relieflink.outputs import write_json
from relieflink.report.data import ReportData
from relieflink.privacy import Masker, is_blank


def _date(v: object) -> str | None:
    if is_blank(v):
        return None
    ts = pd.Timestamp(v)
    return None if pd.isna(ts) else ts.strftime("%Y-%m-%d")


def _num(v: object) -> float | None:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if x != x else round(x, 6)


def _str(v: object) -> str | None:
    return None if is_blank(v) else str(v)


def flags_as_dicts(data: ReportData, mask: Masker) -> list[dict]:
    out = []
    for f in data.flags.itertuples(index=False):
        out.append({
            "flag_id": f.flag_id,
            "rule_id": f.rule_id,
            "rule_title_zh": data.rule_title(f.rule_id),
            "category": f.category,
            "status": f.status,
            "decision": _str(f.decision),
            "decided_by": _str(f.decided_by),
            "decision_reason": mask.text(f.decision_reason) if _str(f.decision_reason) else None,
            "decision_note": _str(f.decision_note),
            "person_id": _str(f.person_id),
            "household_id": _str(f.household_id),
            "name": mask.name(f.name) or None,
            "id_number": mask.id(f.id_number) or None,
            "agencies": list(f.agencies),
            "subdistrict": f.subdistrict,
            "records": [{"file": str(r["file"]), "row": int(r["row"]), "amount_at_stake": _num(r.get("amount_at_stake"))}
                        for r in f.records],
            "programs": list(f.programs),
            "missed_programs": list(f.missed_programs) if f.missed_programs is not None else [],
            "grantors": list(f.grantors),
            "period_start": _date(f.period_start),
            "period_end": _date(f.period_end),
            "amount_at_stake": _num(f.amount_at_stake),
            "link_confidence": _num(f.link_confidence),
            "evidence": _str(f.evidence),
            "explanation_zh": mask.explanation(f.explanation_zh, f.id_number),
            "explanation_en": mask.explanation(f.explanation_en, f.id_number),
        })
    return out


def write_flags_json(data: ReportData, path: Path, mask: Masker) -> Path:
    act = data.active
    counts = {f"{r} ({s})": int(n) for (r, s), n in act.groupby(["rule_id", "status"]).size().items()} if len(act) else {}
    write_json(Path(path), {
        "audit_year": data.audit_year,
        "masked": mask.enabled,
        "counts": counts,
        "flags": flags_as_dicts(data, mask),
    })
    return Path(path)
