"""``report.html``: the district's audit report in Chinese, self-contained.

Rendered from ``templates/report.html.j2`` (Jinja2, autoescaped): the headline
figures, the charts (inline SVG laid out by :mod:`relieflink.report.svg`), the
overlap matrix, money at stake, data quality, and the flag explorer over every
flag and identity question (:mod:`relieflink.report.explorer`; its CSS and
script are package files inlined into the page). No external asset and no
timestamp: the same run folder gives the same bytes.

The counting functions here are shared with the workbook (:mod:`relieflink.report.xlsx`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from relieflink import __version__
from relieflink.audit import money as at_stake
from relieflink.report.data import (
    ACTION_ZH,
    CATEGORY_ZH,
    DECISION_ZH,
    ID_STATUS_ZH,
    PROBLEM_ZH,
    STATUS_ZH,
    UNKNOWN_SUBDISTRICT,
    ReportData,
    overlap_matrix,
    record_agencies,
)
from relieflink.privacy import Masker
from relieflink.report.render import money, render
from relieflink.report.svg import hbar, heat_color, text_on

# ---------------------------------------------------------------------------
# counts shared by the workbook and the HTML report


def counts_by_rule(data: ReportData) -> pd.DataFrame:
    """Per rule: findings, review items, dismissed, amount at stake of findings and of review
    items (each record once within the rule: see :mod:`relieflink.audit.money`)."""
    f = data.flags
    act = data.active
    fin = at_stake.by_rule(act[act["status"] == "finding"])
    rev = at_stake.by_rule(act[act["status"] == "review"])
    rows = []
    for rid in data.rule_ids():
        g = f[f["rule_id"] == rid]
        dismissed = g["decision"].fillna("") == "dismissed"
        act_g = g[~dismissed]
        info = data.rules.get(rid)
        rows.append({
            "rule_id": rid,
            "title": data.rule_title(rid),
            "category": info.category if info else (g["category"].iloc[0] if len(g) else ""),
            "finding": int((act_g["status"] == "finding").sum()),
            "review": int((act_g["status"] == "review").sum()),
            "dismissed": int(dismissed.sum()),
            "amount_finding": float(fin.get(rid, 0.0)),
            "amount_review": float(rev.get(rid, 0.0)),
        })
    return pd.DataFrame(rows)


def counts_by(data: ReportData, column: str, keys: list[str]) -> pd.DataFrame:
    """Per agency (``agencies``: a flag counts for each agency involved; a record's money for
    the agency that paid it) or per subdistrict (a flag's; its records' money once)."""
    act = data.active
    fin = act[act["status"] == "finding"]
    if column == "agencies":
        ex = act.explode("agencies")
        ex = ex[ex["agencies"].notna()]
        key = ex["agencies"]
        amounts = at_stake.by_record(fin, record_agencies(data.records))
    else:
        ex = act
        key = act[column]
        amounts = at_stake.by_flag(fin, pd.Series(fin[column].to_numpy(), index=fin["flag_id"].to_numpy()))
    rows = []
    for k in keys:
        g = ex[key == k]
        rows.append({
            "key": k,
            "finding": int((g["status"] == "finding").sum()),
            "review": int((g["status"] == "review").sum()),
            "amount_finding": float(amounts.get(k, 0.0)),
        })
    return pd.DataFrame(rows)


def subdistrict_keys(data: ReportData) -> list[str]:
    subs = [a.code for a in data.catalog.agencies if a.kind == "subdistrict"]
    seen = set(data.active["subdistrict"].dropna()) if len(data.active) else set()
    extra = sorted(seen - set(subs) - {UNKNOWN_SUBDISTRICT})
    return subs + extra + ([UNKNOWN_SUBDISTRICT] if UNKNOWN_SUBDISTRICT in seen else [])


def summary_items(data: ReportData) -> list[tuple[str, str, bool]]:
    """The headline figures (:func:`relieflink.report.summary.headline_figures`) as the page shows them."""
    from relieflink.report.summary import headline_figures

    return [(label, money(value) if kind == "money" else f"{int(value):,}", alert)
            for label, value, kind, alert in headline_figures(data)]


def money_by_agency(data: ReportData) -> pd.DataFrame:
    """Amount at stake of findings and of review items per agency: each record's money once,
    for the agency that paid it (the agencies add up to the total)."""
    act = data.active
    agencies = record_agencies(data.records)
    fin = at_stake.by_record(act[act["status"] == "finding"], agencies)
    rev = at_stake.by_record(act[act["status"] == "review"], agencies)
    return pd.DataFrame([{"key": code, "amount_finding": float(fin.get(code, 0.0)), "amount_review": float(rev.get(code, 0.0))}
                         for code in data.agency_order])


def quarantine_summary(data: ReportData) -> pd.DataFrame:
    q = data.quarantine
    if q.empty:
        return pd.DataFrame(columns=["problem", "action", "n", "rows"])
    g = q.groupby(["problem", "action"], dropna=False)
    out = g.size().rename("n").reset_index()
    out["rows"] = g.apply(lambda d: d[["file", "row"]].dropna().drop_duplicates().shape[0], include_groups=False).to_numpy()
    return out.sort_values(["action", "problem"], kind="mergesort").reset_index(drop=True)


# ---------------------------------------------------------------------------
# the page


def masking_mode(mask: Masker) -> str:
    """``pseudonym`` | ``masked`` | ``unmasked``: what the page's notice says of identities."""
    if mask.pseudonym_key:
        return "pseudonym"
    return "masked" if mask.enabled else "unmasked"


def _by_section(data: ReportData, sid: str, heading: str, column: str, keys: list[str], label: str, name,
                note: str) -> dict[str, Any]:
    cb = counts_by(data, column, keys)
    rows = [{"key": r.key, "name": name(r.key), "finding": r.finding, "review": r.review,
             "amount_finding": r.amount_finding} for r in cb.itertuples()]
    chart = hbar([(row["name"], [row["finding"], row["review"]]) for row in rows], ["发现", "待复核"], title=heading)
    return {"id": sid, "heading": heading, "note": note, "label": label, "rows": rows, "chart": chart}


def _matrix(data: ReportData) -> dict[str, Any]:
    mat = overlap_matrix(data)
    codes = list(mat.index)
    off = [int(mat.loc[a, b]) for a in codes for b in codes if a != b]
    vmax = max(off + [1])
    rows = []
    for a in codes:
        cells = []
        for b in codes:
            v = int(mat.loc[a, b])
            bg = heat_color(v, vmax)
            cells.append({"a": a, "b": b, "v": v, "diag": a == b, "bg": bg, "fg": text_on(bg)})
        rows.append({"name": data.agency_name(a), "cells": cells})
    return {"names": [data.agency_name(c) for c in codes], "rows": rows}


def _money(data: ReportData, cr: pd.DataFrame) -> dict[str, Any]:
    cr = cr[(cr["amount_finding"] > 0) | (cr["amount_review"] > 0)]
    fin_rules = cr[cr["amount_finding"] > 0]
    ma = money_by_agency(data)
    ma = ma[(ma["amount_finding"] > 0) | (ma["amount_review"] > 0)]
    fin_ag = ma[ma["amount_finding"] > 0]
    return {
        "rule_chart": hbar([(f"{r.rule_id} {r.title.split('／')[0]}", [r.amount_finding]) for r in fin_rules.itertuples()],
                           ["发现"], money=True, title="按规则的涉及金额（发现）") if len(fin_rules) else None,
        "agency_chart": hbar([(data.agency_name(r.key), [r.amount_finding]) for r in fin_ag.itertuples()],
                             ["发现"], money=True, title="按部门的涉及金额（发现）") if len(fin_ag) else None,
        "rules": [{"rule_id": r.rule_id, "title": r.title, "amount_finding": r.amount_finding,
                   "amount_review": r.amount_review} for r in cr.itertuples()],
        "agencies": [{"name": data.agency_name(r.key), "amount_finding": r.amount_finding,
                      "amount_review": r.amount_review} for r in ma.itertuples()],
        "total_finding": at_stake.total(data.findings), "total_review": at_stake.total(data.review),
    }


def _quality(data: ReportData) -> dict[str, Any]:
    qs = quarantine_summary(data)
    rows = [{"problem_zh": PROBLEM_ZH.get(r.problem, r.problem), "problem": r.problem,
             "action_zh": ACTION_ZH.get(r.action, r.action), "n": int(r.n)} for r in qs.itertuples()]
    ids = (data.manifest.get("counts", {}) or {}).get("id_status") if data.manifest else None
    if not ids and not data.mentions.empty:
        ids = data.mentions["id_status"].value_counts().to_dict()
    ids = ids or {}
    id_rows = [{"label": ID_STATUS_ZH.get(k, k), "code": k, "n": int(v)}
               for k, v in sorted(ids.items(), key=lambda kv: (-int(kv[1]), kv[0]))]
    return {"rows": rows, "chart": hbar([(r["problem_zh"], [r["n"]]) for r in rows], ["问题数"], title="隔离区按问题"),
            "total": int(qs["n"].sum()) if len(qs) else 0, "ids": id_rows, "ids_total": sum(r["n"] for r in id_rows)}


def report_context(data: ReportData, mask: Masker, explorer_payload: str) -> dict[str, Any]:
    """Everything ``report.html.j2`` shows; ``explorer_payload`` is the encoded explorer data."""
    c = data.manifest.get("counts", {}) if data.manifest else {}
    cr = counts_by_rule(data)
    rules = [{"rule_id": r.rule_id, "title": r.title, "category": r.category,
              "category_zh": CATEGORY_ZH.get(r.category, r.category), "finding": r.finding, "review": r.review,
              "dismissed": r.dismissed, "amount_finding": r.amount_finding} for r in cr.itertuples()]
    inputs = []
    for d in sorted(data.manifest.get("inputs", []) if data.manifest else [], key=lambda d: str(d.get("file"))):
        inputs.append({"file": d.get("file"), "agency": data.agency_name(str(d.get("source", ""))),
                       "encoding": d.get("encoding") or "", "data_rows": int(d.get("data_rows") or 0),
                       "records": int(d.get("records") or 0), "quarantined": int(d.get("rows_quarantined") or 0),
                       "status": {"ingested": "已入库", "duplicate": "重复报送"}.get(str(d.get("status")), str(d.get("status")))})
    agencies = [a.code for a in data.catalog.agencies if a.kind == "agency"]
    return {
        "year": data.audit_year, "version": __version__, "masking": masking_mode(mask),
        "summary": summary_items(data),
        "duplicates": sorted((c.get("duplicate_deliveries") or {}).items()),
        "inputs": inputs,
        "rules": rules,
        "rules_chart": hbar([(f"{r['rule_id']} {r['title'].split('／')[0]}", [r["finding"], r["review"]]) for r in rules],
                            ["发现", "待复核"], title="按规则的预警数"),
        "rules_total": {"finding": int(cr["finding"].sum()) if len(cr) else 0,
                        "review": int(cr["review"].sum()) if len(cr) else 0,
                        "dismissed": int(cr["dismissed"].sum()) if len(cr) else 0,
                        "amount": at_stake.total(data.findings)},
        "by_sections": [
            _by_section(data, "agencies", "三、预警按部门", "agencies", agencies, "部门", data.agency_name,
                        "一条预警涉及本部门至少一条记录即计入本部门。"),
            _by_section(data, "subdistricts", "四、预警按街道", "subdistrict", subdistrict_keys(data), "街道",
                        lambda k: data.agency_name(k) if k != UNKNOWN_SUBDISTRICT else k,
                        "按预警所涉记录的所属街道（出现最多者）归属；含区级部门发放的记录。"),
        ],
        "matrix": _matrix(data),
        "money": _money(data, cr),
        "payload": explorer_payload,
        "explorer_note": ("全部预警（含已排除）与身份待确认事项，可按姓名（脱敏或完整）、完整身份证号、规则、项目、部门、街道、"
                          "文件名或编号搜索，按类别、规则、状态、部门、街道和金额筛选，点击表头排序，点击一行查看证据："
                          "所涉记录、政策依据和最弱的身份关联。完整清单另见 report.xlsx 与 flags.parquet。"),
        "quality": _quality(data),
    }


def render_report(data: ReportData, mask: Masker, explorer_payload: str) -> str:
    """``report.html`` of ``data``, with the encoded explorer data embedded."""
    return render("report.html.j2", **report_context(data, mask, explorer_payload))


__all__ = ["counts_by", "counts_by_rule", "money_by_agency", "quarantine_summary", "render_report", "report_context",
           "subdistrict_keys", "summary_items", "DECISION_ZH", "STATUS_ZH"]
