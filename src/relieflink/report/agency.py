"""``reports/<agency code>.html``: what one agency or subdistrict may see.

What reaches the agency is decided by the one visibility contract of every
agency-facing output, :mod:`relieflink.visibility` (read its docstring): flags
that involve one of the agency's records or miss a program it grants; its own
records in full (masked identity); other agencies' records only as agency and
program (and period); amounts and full explanations only when every involved
record is its own. Flags a reviewer dismissed are left out.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from relieflink.report.data import CATEGORY_ZH, DECISION_NOTE_ZH, DECISION_ZH, STATUS_ZH, ReportData, record_view
from relieflink.report.html import date_str, e, money, page, table, tag
from relieflink.privacy import Masker, is_blank
from relieflink.visibility import Scope


def _v(r: dict, key: str) -> object:
    """A record's value, None when missing or NaN."""
    v = r.get(key)
    return None if is_blank(v) else v


def agency_flags(data: ReportData, code: str) -> pd.DataFrame:
    """Active flags that involve a record of agency ``code``, or miss a program it grants."""
    act = data.active
    if act.empty:
        return act
    keep = Scope(code).sees_flags(act["agencies"], act["grantors"])
    return act[keep].sort_values(["rule_id", "status", "flag_id"], kind="mergesort")


def involved_records(data: ReportData) -> dict[str, dict]:
    """The records involved in any active flag, as dicts keyed ``file\x1frow``."""
    rv = record_view(data)
    if rv.empty:
        return {}
    keys = sorted({k for ks in data.active["record_keys"] for k in ks} & set(rv.index))
    sub = rv.loc[keys]
    return dict(zip(keys, sub.to_dict("records")))


def scoped_flags(data: ReportData, code: str, records: dict[str, dict] | None = None) -> list[dict]:
    """The flags of ``code``'s report, each reduced to what the agency may see (unmasked values)."""
    rv = records if records is not None else involved_records(data)
    order = {c: i for i, c in enumerate(data.agency_order)}
    scope = Scope(code)
    visible = agency_flags(data, code)
    full = scope.full_detail(visible["agencies"]) if len(visible) else np.zeros(0, dtype=bool)
    out = []
    for f, only_own in zip(visible.itertuples(index=False), full):
        recs = [rv.get(k) for k in f.record_keys]
        own = [r for r in recs if r is not None and r["agency"] == code]
        others = sorted({(str(r["agency"]), str(r["program"])) for r in recs if r is not None and r["agency"] != code},
                        key=lambda ap: (order.get(ap[0], len(order)), ap))
        out.append({"flag": f, "own": own, "others": others, "only_own": bool(only_own) and all(r is not None for r in recs)})
    return out


def render_agency(data: ReportData, code: str, mask: Masker, records: dict[str, dict] | None = None) -> str:
    name = data.agency_name(code)
    items = scoped_flags(data, code, records)
    n_fin = sum(1 for it in items if it["flag"].status == "finding")
    n_rev = sum(1 for it in items if it["flag"].status == "review")
    own_records = {}
    for it in items:
        for r in it["own"]:
            own_records.setdefault((str(r["file"]), int(r["row"])), (r, []))[1].append(it["flag"].flag_id)

    parts = ['<header class="top">', f"<h1>{e(name)} · 救助数据比对预警（本部门视图）</h1>",
             f'<div class="meta">审计年度：{e(data.audit_year)}年　·　部门代码：{e(code)}</div>']
    parts.append(
        '<div class="notice">本报告只包含涉及本部门至少一条记录的预警，以及应由本部门发放而未发放的遗漏救助；'
        "本部门记录完整列出，其他部门仅列出部门名称和救助项目，不含其金额与明细。"
        + ("身份证号、电话和姓名已脱敏。" if mask.enabled else "<b>本报告未脱敏，仅限授权人员查阅。</b>")
        + "</div></header>"
    )
    cards = [("涉及本部门的预警", len(items)), ("发现", n_fin), ("待复核", n_rev), ("本部门涉及记录", len(own_records))]
    parts.append('<section id="summary"><h2>一、概况</h2><div class="cards">' + "".join(
        f'<div class="card" data-key="{escape(k)}"><div class="v">{v:,}</div><div class="k">{escape(k)}</div></div>'
        for k, v in cards) + "</div>")
    by_rule = []
    attrs = []
    for rid in data.rule_ids():
        fin = sum(1 for it in items if it["flag"].rule_id == rid and it["flag"].status == "finding")
        rev = sum(1 for it in items if it["flag"].rule_id == rid and it["flag"].status == "review")
        if fin or rev:
            by_rule.append([e(rid), e(data.rule_title(rid)), f"{fin:,}", f"{rev:,}"])
            attrs.append(f'data-rule="{escape(rid)}" data-finding="{fin}" data-review="{rev}"')
    if by_rule:
        parts.append(table(["规则", "名称", "发现", "待复核"], by_rule, numeric={2, 3}, row_attrs=attrs))
    else:
        parts.append("<p>本期没有涉及本部门记录的预警。</p>")
    parts.append("</section>")

    if items:
        rows = []
        for it in items:
            f = it["flag"]
            own = "<br>".join(
                f'<span class="nw">{e(r["file"])} 第{int(r["row"])}行</span>'
                f'<br><span class="nw">{e(data.program_name(r["program"]))}'
                + (f" {money(r['amount'])}元" if pd.notna(r["amount"]) else "") + "</span>"
                for r in it["own"]
            )
            if code in f.grantors:  # a benefit this agency grants is missing
                missed = "、".join(data.program_name(p) for p in f.missed_programs)
                own = (own + "<br>" if own else "") + f'<span class="nw">应由本部门核实发放：{e(missed)}</span>'
            others = "<br>".join(f'<span class="nw">{e(data.agency_name(a))}：{e(data.program_name(p))}</span>'
                                 for a, p in it["others"]) or "—"
            status = tag(f.status, STATUS_ZH.get(f.status, f.status))
            if isinstance(f.decision, str) and f.decision:
                status += "<br>" + e(DECISION_ZH.get(f.decision, f.decision))
            if isinstance(f.decision_note, str) and f.decision_note:
                status += "<br>" + e(DECISION_NOTE_ZH.get(f.decision_note, f.decision_note))
            if it["only_own"]:
                note = e(mask.explanation(f.explanation_zh, f.id_number))
                amount = money(f.amount_at_stake)
            else:  # another agency's records are involved: the scoped wording, no amount
                scoped = getattr(f, "explanation_scoped_zh", None)
                if isinstance(scoped, str) and scoped:
                    note = e(mask.explanation(scoped, f.id_number))
                else:  # a run folder written before scoped explanations existed
                    info = data.rules.get(f.rule_id)
                    note = "依据：" + e(info.basis if info else "")
                amount = '<span class="small">不显示</span>'
            rows.append([
                e(f.flag_id),
                e(f.rule_id) + "<br>" + tag(f.category, CATEGORY_ZH.get(f.category, f.category)),
                status,
                e(mask.name(f.name)) + "<br>" + e(mask.id(f.id_number)),
                e(date_str(f.period_start)) + "<br>" + e(date_str(f.period_end)),
                own, others, amount, note,
            ])
        parts.append('<section id="flags"><h2>二、预警清单</h2>' + table(
            ["编号", "规则", "状态", "对象", "期间", "本部门记录", "其他部门（部门：项目）", "涉及金额（元）", "说明"],
            rows, nowrap={0, 1, 2, 3, 4}) + "</section>")

        rec_rows = []
        for (file, row), (r, flag_ids) in sorted(own_records.items()):
            rec_rows.append([
                e(file), f"{row}", e(data.program_name(r["program"])), e(_v(r, "category")),
                money(r["amount"]), e(date_str(r["period_start"])), e(date_str(r["period_end"])),
                e(data.agency_name(r["subdistrict"]) if isinstance(r["subdistrict"], str) else ""),
                e(_v(r, "community")),
                e(mask.name(_v(r, "b_name_raw") or _v(r, "b_name"))), e(mask.id(_v(r, "b_id_raw"))),
                e(mask.phone(_v(r, "b_phone"))), e(_v(r, "b_id_status")), e("、".join(sorted(flag_ids))),
            ])
        parts.append('<section id="records"><h2>三、本部门涉及记录明细</h2>' + table(
            ["文件", "行号", "项目", "项目细类", "金额（元）", "开始", "结束", "街道", "社区", "姓名", "证件号（原文）",
             "电话", "证件状态", "所涉预警"], rec_rows, numeric={1, 4}) + "</section>")
    parts.append("<footer>可见范围：预警涉及本部门至少一条记录即列入本报告；已排除的预警不列入。"
                 "其他部门只显示部门与项目名称。</footer>")
    return page(f"{name} 救助数据比对预警", "\n".join(parts))
