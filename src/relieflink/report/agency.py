"""``reports/<agency code>.html``: what one agency or subdistrict may see.

What reaches the agency is decided by the one visibility contract of every
agency-facing output, :mod:`relieflink.visibility` (read its docstring), and
nowhere else: the page's explorer data is cut from the run's by
:func:`relieflink.report.explorer.payload` with ``Scope(code)`` — flags that
involve one of the agency's records or miss a program it grants; its own
records in full (masked identity); other agencies' records only as agency,
program and period; amounts, link confidence and full explanations only when
every involved record is its own. Flags a reviewer dismissed, and identity
questions (they are the platform's), are left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from relieflink import __version__
from relieflink.report.explorer import ExplorerBase, encode, payload
from relieflink.report.html import masking_mode
from relieflink.privacy import Masker
from relieflink.report.render import render
from relieflink.visibility import Scope


def agency_context(base: ExplorerBase, code: str, mask: Masker) -> dict[str, Any]:
    """Everything ``agency.html.j2`` shows for agency ``code``."""
    data = base.data
    name = data.agency_name(code)
    page = payload(base, Scope(code), f"{name} 救助数据比对预警")
    flags = page["flags"]
    status = np.asarray(flags["status"], dtype=np.int64)
    rule = np.asarray(flags["rule"], dtype=np.int64)
    rule_ids = [r[0] for r in page["dict"]["rule"]]
    by_rule = []
    for i, rid in enumerate(rule_ids):
        fin = int(((rule == i) & (status == 0)).sum())
        rev = int(((rule == i) & (status == 1)).sum())
        if fin or rev:
            by_rule.append({"rule_id": rid, "title": data.rule_title(rid), "finding": fin, "review": rev})
    own_records = int(np.count_nonzero(page["records"]["own"]))
    summary = [("涉及本部门的预警", f"{len(status):,}", False), ("发现", f"{int((status == 0).sum()):,}", False),
               ("待复核", f"{int((status == 1).sum()):,}", False), ("本部门涉及记录", f"{own_records:,}", False)]
    return {
        "name": name, "code": code, "year": data.audit_year, "version": __version__, "masking": masking_mode(mask),
        "summary": summary, "by_rule": by_rule, "payload": encode(page),
        "explorer_note": ("涉及本部门的全部预警：可按姓名（脱敏或完整）、完整身份证号、规则、项目、部门、街道、本部门文件名或编号搜索，"
                          "按类别、规则、状态、部门、街道和金额筛选，点击一行查看证据。"),
    }


def render_agency(base: ExplorerBase, code: str, mask: Masker) -> str:
    """``reports/<code>.html``."""
    return render("agency.html.j2", **agency_context(base, code, mask))


__all__ = ["agency_context", "render_agency"]
