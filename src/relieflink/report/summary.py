"""The run's headline figures, as numbers: one list for every report that shows them.

The HTML report formats them as text; the workbook's 汇总 sheet writes them as
numbers (an auditor can add and compare them).
"""

from __future__ import annotations

from relieflink.audit import money as at_stake
from relieflink.report.data import ReportData

#: (label, value, kind, alert): kind ``count`` (an integer) or ``money`` (yuan); alert: the figure asks for attention
Figure = tuple[str, float, str, bool]


def headline_figures(data: ReportData) -> list[Figure]:
    """The headline figures of a run: inputs, linkage, flags and money at stake (findings,
    each record once). Dismissed flags count in 已排除 only."""
    c = data.manifest.get("counts", {}) if data.manifest else {}
    dup = c.get("duplicate_deliveries") or {}
    active = data.active
    fin = data.findings
    items: list[Figure] = [
        ("输入文件", int(c.get("files", 0)), "count", False),
        ("数据行", int(c.get("data_rows", 0)), "count", False),
        ("入库记录", int(c.get("records", len(data.records))), "count", False),
        ("隔离（未入库）行", int(c.get("rows_quarantined", 0)), "count", False),
        ("重复报送文件", len(dup), "count", bool(dup)),
        ("人员", int(c.get("persons", len(data.persons))), "count", False),
        ("家庭", int(c.get("households", 0)), "count", False),
        ("发现", len(fin), "count", True),
        ("待复核", int((active["status"] == "review").sum()), "count", False),
        ("已排除", int((data.flags["decision"].fillna("") == "dismissed").sum()), "count", False),
        ("涉及金额（发现，元）", at_stake.total(fin), "money", True),
    ]
    if c.get("held_for_identity_review"):
        # patterns on links the pattern itself makes unlikely: identity questions, not flags
        items.append(("待确认是否同一人（暂不列为预警）", int(c["held_for_identity_review"]), "count", False))
    return items
