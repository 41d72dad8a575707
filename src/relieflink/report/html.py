"""``report.html``: the district's audit report in Chinese, self-contained.

No external assets and no script: CSS is inline, charts are inline SVG
(:mod:`relieflink.report.svg`) or CSS-coloured tables. The output has no
timestamp, so the same run folder gives the same bytes.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from relieflink import __version__
from relieflink.audit import money as at_stake
from relieflink.report.data import (
    CATEGORY_ZH,
    DECISION_ZH,
    ID_STATUS_ZH,
    PROBLEM_ZH,
    ACTION_ZH,
    STATUS_ZH,
    UNKNOWN_SUBDISTRICT,
    ReportData,
    overlap_matrix,
    record_agencies,
)
from relieflink.privacy import Masker, as_text, is_blank
from relieflink.report.svg import FONT, hbar, heat_color, text_on

TOP_FLAGS = 30

CSS = f"""
* {{ box-sizing: border-box; }}
body {{ font-family: {FONT}; color: #222; margin: 0; background: #f4f6f8; line-height: 1.55; font-size: 14px; }}
main {{ max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }}
header.top {{ border-bottom: 3px solid #b22222; margin-bottom: 18px; padding-bottom: 10px; }}
h1 {{ font-size: 24px; margin: 0 0 4px; color: #8b0000; }}
h2 {{ font-size: 18px; margin: 30px 0 10px; padding-left: 10px; border-left: 5px solid #b22222; }}
h3 {{ font-size: 15px; margin: 18px 0 8px; color: #444; }}
.meta {{ color: #666; font-size: 13px; }}
.notice {{ background: #fff8e1; border: 1px solid #f0d78c; padding: 8px 12px; border-radius: 4px; font-size: 13px; margin: 10px 0; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 10px; }}
.card {{ flex: 1 1 150px; border: 1px solid #dde3ea; border-radius: 6px; padding: 10px 12px; background: #fafbfc; }}
.card .v {{ font-size: 22px; font-weight: bold; color: #1f4e79; }}
.card .k {{ font-size: 12px; color: #666; }}
.card.alert .v {{ color: #b22222; }}
table {{ border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }}
th, td {{ border: 1px solid #dde3ea; padding: 4px 7px; vertical-align: top; text-align: left; }}
th {{ background: #eef2f6; font-weight: 600; }}
td.n, th.n {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
td.nw, th.nw, span.nw {{ white-space: nowrap; }}
tr.total td {{ font-weight: bold; background: #f7f7f7; }}
table.matrix {{ width: auto; }}
table.matrix td {{ text-align: right; min-width: 44px; font-variant-numeric: tabular-nums; }}
table.matrix th.r {{ white-space: nowrap; }}
table.matrix th.c {{ writing-mode: vertical-rl; white-space: nowrap; padding: 6px 3px; font-weight: 500; }}
.tag {{ display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; color: #fff; white-space: nowrap; }}
.tag.finding {{ background: #c0392b; }}
.tag.review {{ background: #e6a23c; }}
.tag.duplicate {{ background: #8e44ad; }}
.tag.overlap {{ background: #2e86c1; }}
.tag.missed {{ background: #16a085; }}
.small {{ font-size: 12px; color: #666; }}
.chart {{ overflow-x: auto; }}
footer {{ margin-top: 36px; border-top: 1px solid #ddd; padding-top: 10px; font-size: 12px; color: #777; }}
@media print {{ body {{ background: #fff; }} main {{ padding: 0; }} h2 {{ break-after: avoid; }} }}
"""


def e(v: object) -> str:
    return escape(as_text(v))


def money(v: object) -> str:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if x != x:
        return ""
    return f"{x:,.2f}"


def date_str(v: object) -> str:
    if is_blank(v):
        return ""
    try:
        ts = pd.Timestamp(v)
    except (TypeError, ValueError):
        return str(v)
    if pd.isna(ts):
        return ""
    return ts.strftime("%Y-%m-%d")


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def table(headers: list[str], rows: list[list[str]], *, numeric: set[int] = frozenset(), cls: str = "",
          row_attrs: list[str] | None = None, total: list[str] | None = None,
          nowrap: set[int] = frozenset()) -> str:
    """An HTML table; cells are already-escaped HTML."""

    def cell(tagname: str, i: int, c: str) -> str:
        classes = " ".join(k for k, on in (("n", i in numeric), ("nw", i in nowrap)) if on)
        return f'<{tagname} class="{classes}">{c}</{tagname}>' if classes else f"<{tagname}>{c}</{tagname}>"

    out = [f'<table class="{cls}">' if cls else "<table>", "<thead><tr>"]
    out += [cell("th", i, h) for i, h in enumerate(headers)]
    out.append("</tr></thead><tbody>")
    for r, row in enumerate(rows):
        attrs = f" {row_attrs[r]}" if row_attrs else ""
        out.append(f"<tr{attrs}>")
        out += [cell("td", i, c) for i, c in enumerate(row)]
        out.append("</tr>")
    if total is not None:
        out.append('<tr class="total">')
        out += [cell("td", i, c) for i, c in enumerate(total)]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def tag(kind: str, label: str) -> str:
    return f'<span class="tag {escape(kind)}">{escape(label)}</span>'


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


# ---------------------------------------------------------------------------


def render_report(data: ReportData, mask: Masker) -> str:
    parts: list[str] = []
    year = data.audit_year
    parts.append('<header class="top">')
    parts.append("<h1>社会救助信息共享平台 · 救助数据比对审计报告</h1>")
    parts.append(
        f'<div class="meta">审计年度：{e(year)}年　·　规则集：schemas/rules.yaml　·　relieflink {e(__version__)}</div>'
    )
    if mask.pseudonym_key:
        parts.append('<div class="notice">本报告中的身份证号以密钥化假名（PSN-…）代替，同一身份证号在各报告中假名相同；'
                     "电话号码和姓名已脱敏。已排除（dismissed）的预警不计入统计。</div>")
    elif mask.enabled:
        parts.append('<div class="notice">本报告中的身份证号（保留前6位和后4位）、电话号码和姓名均已脱敏。'
                     "已排除（dismissed）的预警不计入统计。</div>")
    else:
        parts.append('<div class="notice"><b>注意：本报告未脱敏，含完整个人信息，仅限授权人员查阅。</b></div>')
    parts.append("</header>")

    parts.append(_section_summary(data))
    parts.append(_section_rules(data))
    parts.append(_section_agencies(data))
    parts.append(_section_subdistricts(data))
    parts.append(_section_matrix(data))
    parts.append(_section_money(data))
    parts.append(_section_top(data, mask))
    parts.append(_section_quality(data))
    parts.append(
        "<footer>口径说明：一条预警涉及多个部门的记录时，在每个涉及的部门各计一次，故按部门合计可能大于预警总数；"
        "街道按预警所涉记录中出现最多的所属街道归属。交叉救助矩阵统计审计年度内获得发放或服务（不含资格身份）的人员。"
        "涉及金额为预警所涉记录的可能多发金额：两条不应同时发放的记录中至少较小的一笔，同一条记录被多条预警引用时只计一次；"
        "按部门的金额计入发放该记录的部门。遗漏救助类预警不计金额。"
        f"<br>relieflink {e(__version__)} 生成。</footer>"
    )
    return page(f"救助数据比对审计报告 {year}年", "\n".join(parts))


def _section_summary(data: ReportData) -> str:
    cards = "".join(
        f'<div class="card{" alert" if alert else ""}" data-key="{escape(k)}"><div class="v">{escape(v)}</div>'
        f'<div class="k">{escape(k)}</div></div>'
        for k, v, alert in summary_items(data)
    )
    out = ["<section id=\"summary\"><h2>一、运行概况</h2>", f'<div class="cards">{cards}</div>']
    c = data.manifest.get("counts", {}) if data.manifest else {}
    dup = c.get("duplicate_deliveries") or {}
    if dup:
        out.append("<h3>重复报送</h3><p class=\"small\">以下文件与已报送文件内容相同，属报送差错而非重复发放，其数据行按首次报送的副本计算，不重复入库：</p><ul>")
        for copy, first in sorted(dup.items()):
            out.append(f"<li>{e(copy)} ＝ {e(first)}</li>")
        out.append("</ul>")
    inputs = data.manifest.get("inputs", []) if data.manifest else []
    if inputs:
        rows = []
        for d in sorted(inputs, key=lambda d: str(d.get("file"))):
            status = {"ingested": "已入库", "duplicate": "重复报送"}.get(str(d.get("status")), str(d.get("status")))
            rows.append([
                e(d.get("file")), e(data.agency_name(str(d.get("source", "")))), e(d.get("encoding") or ""),
                f"{int(d.get('data_rows') or 0):,}", f"{int(d.get('records') or 0):,}",
                f"{int(d.get('rows_quarantined') or 0):,}", e(status),
            ])
        out.append("<h3>输入文件</h3>")
        out.append(table(["文件", "报送单位", "编码", "数据行", "入库记录", "隔离行", "状态"], rows, numeric={3, 4, 5}))
    out.append("</section>")
    return "".join(out)


def _section_rules(data: ReportData) -> str:
    cr = counts_by_rule(data)
    rows, attrs = [], []
    for r in cr.itertuples():
        rows.append([
            e(r.rule_id), e(r.title), tag(r.category, CATEGORY_ZH.get(r.category, r.category)),
            f"{r.finding:,}", f"{r.review:,}", f"{r.dismissed:,}", money(r.amount_finding),
        ])
        attrs.append(f'data-rule="{escape(r.rule_id)}" data-finding="{r.finding}" data-review="{r.review}" data-dismissed="{r.dismissed}"')
    # a record two rules cite counts once in the total: it is not the sum of the rules' amounts
    total = ["合计（每条记录只计一次）", "", "", f"{int(cr['finding'].sum()):,}", f"{int(cr['review'].sum()):,}",
             f"{int(cr['dismissed'].sum()):,}", money(at_stake.total(data.findings))] if len(cr) else None
    chart = hbar(
        [(f"{r.rule_id} {r.title.split('／')[0]}", [r.finding, r.review]) for r in cr.itertuples()],
        ["发现", "待复核"],
        title="按规则的预警数",
    )
    return (
        "<section id=\"rules\"><h2>二、预警按规则</h2>"
        + f'<div class="chart">{chart}</div>'
        + table(["规则", "名称", "类别", "发现", "待复核", "已排除", "涉及金额（发现，元）"], rows,
                numeric={3, 4, 5, 6}, row_attrs=attrs, total=total)
        + "</section>"
    )


def _section_agencies(data: ReportData) -> str:
    agencies = [a.code for a in data.catalog.agencies if a.kind == "agency"]
    cb = counts_by(data, "agencies", agencies)
    return _by_section(data, "agencies", "三、预警按部门", cb, "部门", lambda k: data.agency_name(k),
                       "一条预警涉及本部门至少一条记录即计入本部门。")


def _section_subdistricts(data: ReportData) -> str:
    keys = subdistrict_keys(data)
    cb = counts_by(data, "subdistrict", keys)
    return _by_section(data, "subdistricts", "四、预警按街道", cb, "街道",
                       lambda k: data.agency_name(k) if k != UNKNOWN_SUBDISTRICT else k,
                       "按预警所涉记录的所属街道（出现最多者）归属；含区级部门发放的记录。")


def _by_section(data, sid, heading, cb: pd.DataFrame, label: str, name, note: str) -> str:
    rows, attrs = [], []
    for r in cb.itertuples():
        rows.append([e(name(r.key)), f"{r.finding:,}", f"{r.review:,}", money(r.amount_finding)])
        attrs.append(f'data-key="{escape(str(r.key))}" data-finding="{r.finding}" data-review="{r.review}"')
    chart = hbar([(name(r.key), [r.finding, r.review]) for r in cb.itertuples()], ["发现", "待复核"],
                 title=heading)
    return (
        f'<section id="{sid}"><h2>{escape(heading)}</h2><p class="small">{escape(note)}</p>'
        f'<div class="chart">{chart}</div>'
        + table([label, "发现", "待复核", "涉及金额（发现，元）"], rows, numeric={1, 2, 3}, row_attrs=attrs)
        + "</section>"
    )


def _section_matrix(data: ReportData) -> str:
    mat = overlap_matrix(data)
    codes = list(mat.index)
    off = [int(mat.loc[a, b]) for a in codes for b in codes if a != b]
    vmax = max(off + [1])
    head = "<tr><th></th>" + "".join(f'<th class="c">{e(data.agency_name(c))}</th>' for c in codes) + "</tr>"
    body = []
    for a in codes:
        cells = []
        for b in codes:
            v = int(mat.loc[a, b])
            if a == b:
                cells.append(f'<td style="background:#eeeeee;font-weight:bold" data-a="{e(a)}" data-b="{e(b)}">{v:,}</td>')
            else:
                bg = heat_color(v, vmax)
                cells.append(f'<td style="background:{bg};color:{text_on(bg)}" data-a="{e(a)}" data-b="{e(b)}">'
                             f'{v if v else ""}</td>')
        body.append(f'<tr><th class="r">{e(data.agency_name(a))}</th>{"".join(cells)}</tr>')
    return (
        '<section id="matrix"><h2>五、部门交叉救助矩阵</h2>'
        f'<p class="small">{e(data.audit_year)}年内：行所列部门救助的人员中，同时获得列所列部门救助的人数；'
        "对角线（灰色）为该部门救助的人数。颜色越深，交叉越多。</p>"
        f'<div class="chart"><table class="matrix"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table></div>'
        "</section>"
    )


def money_by_agency(data: ReportData) -> pd.DataFrame:
    """Amount at stake of findings and of review items per agency: each record's money once,
    for the agency that paid it (the agencies add up to the total)."""
    act = data.active
    agencies = record_agencies(data.records)
    fin = at_stake.by_record(act[act["status"] == "finding"], agencies)
    rev = at_stake.by_record(act[act["status"] == "review"], agencies)
    return pd.DataFrame([{"key": code, "amount_finding": float(fin.get(code, 0.0)), "amount_review": float(rev.get(code, 0.0))}
                         for code in data.agency_order])


def _section_money(data: ReportData) -> str:
    cr = counts_by_rule(data)
    cr = cr[(cr["amount_finding"] > 0) | (cr["amount_review"] > 0)]
    fin_rules = cr[cr["amount_finding"] > 0]
    rule_chart = hbar([(f"{r.rule_id} {r.title.split('／')[0]}", [r.amount_finding]) for r in fin_rules.itertuples()],
                      ["发现"], money=True, title="按规则的涉及金额（发现）")
    ma = money_by_agency(data)
    ma = ma[(ma["amount_finding"] > 0) | (ma["amount_review"] > 0)]
    fin_ag = ma[ma["amount_finding"] > 0]
    agency_chart = hbar([(data.agency_name(r.key), [r.amount_finding]) for r in fin_ag.itertuples()],
                        ["发现"], money=True, title="按部门的涉及金额（发现）")
    rule_rows = [[e(r.rule_id), e(r.title), money(r.amount_finding), money(r.amount_review)] for r in cr.itertuples()]
    ag_rows = [[e(data.agency_name(r.key)), money(r.amount_finding), money(r.amount_review)] for r in ma.itertuples()]
    totals = ["合计（每条记录只计一次）", "", money(at_stake.total(data.findings)), money(at_stake.total(data.review))]
    return (
        '<section id="money"><h2>六、涉及金额</h2>'
        '<p class="small">预警所涉记录的可能多发或重复发放金额（元），每条记录只计一次（被多条预警引用的记录不重复计算）；'
        "按规则的金额为其中各规则所涉部分，规则之间可能重叠，故各规则之和可大于合计。图中只计“发现”，“待复核”金额见表（多头救助的待复核金额是"
        "该人全年所获救助总额，并非多发金额）。遗漏救助类预警不计金额。</p>"
        f'<h3>按规则</h3><div class="chart">{rule_chart if len(fin_rules) else "<p>无</p>"}</div>'
        + table(["规则", "名称", "发现（元）", "待复核（元）"], rule_rows, numeric={2, 3}, total=totals)
        + f'<h3>按部门（每条记录的金额计入发放该记录的部门，只计一次）</h3><div class="chart">{agency_chart if len(fin_ag) else "<p>无</p>"}</div>'
        + table(["部门/街道", "发现（元）", "待复核（元）"], ag_rows, numeric={1, 2}, total=["合计", *totals[2:]])
        + "</section>"
    )


def top_flags(data: ReportData, n: int = TOP_FLAGS) -> pd.DataFrame:
    fin = data.findings.copy()
    fin["_amt"] = fin["amount_at_stake"].fillna(0)
    fin = fin.sort_values(["_amt", "rule_id", "flag_id"], ascending=[False, True, True], kind="mergesort")
    return fin.head(n)


def _section_top(data: ReportData, mask: Masker) -> str:
    top = top_flags(data)
    rows = []
    for f in top.itertuples():
        rows.append([
            e(f.flag_id), e(f.rule_id) + "<br>" + tag(f.category, CATEGORY_ZH.get(f.category, f.category)),
            e(mask.name(f.name)) + "<br>" + e(mask.id(f.id_number)),
            "、".join(e(data.agency_name(a)) for a in f.agencies),
            e(date_str(f.period_start)) + "<br>" + e(date_str(f.period_end)),
            money(f.amount_at_stake), f"{float(f.link_confidence):.3f}" if pd.notna(f.link_confidence) else "",
            e(mask.explanation(f.explanation_zh, f.id_number)),
        ])
    return (
        f'<section id="top"><h2>七、重点预警（按涉及金额前{TOP_FLAGS}条发现）</h2>'
        + table(["编号", "规则", "对象", "涉及部门", "期间", "金额（元）", "置信度", "说明"], rows, numeric={5, 6},
                nowrap={0, 1, 2, 4})
        + '<p class="small">完整清单见 report.xlsx 的“发现”“待复核”工作表及 flags.json。</p></section>'
    )


def quarantine_summary(data: ReportData) -> pd.DataFrame:
    q = data.quarantine
    if q.empty:
        return pd.DataFrame(columns=["problem", "action", "n", "rows"])
    g = q.groupby(["problem", "action"], dropna=False)
    out = g.size().rename("n").reset_index()
    out["rows"] = g.apply(lambda d: d[["file", "row"]].dropna().drop_duplicates().shape[0], include_groups=False).to_numpy()
    return out.sort_values(["action", "problem"], kind="mergesort").reset_index(drop=True)


def _section_quality(data: ReportData) -> str:
    qs = quarantine_summary(data)
    rows = [[e(PROBLEM_ZH.get(r.problem, r.problem)), e(r.problem), e(ACTION_ZH.get(r.action, r.action)), f"{int(r.n):,}"]
            for r in qs.itertuples()]
    chart = hbar([(PROBLEM_ZH.get(r.problem, r.problem), [int(r.n)]) for r in qs.itertuples()], ["问题数"],
                 title="隔离区按问题")
    ids = (data.manifest.get("counts", {}) or {}).get("id_status") if data.manifest else None
    if not ids and not data.mentions.empty:
        ids = data.mentions["id_status"].value_counts().to_dict()
    ids = ids or {}
    id_rows = [[e(ID_STATUS_ZH.get(k, k)), e(k), f"{int(v):,}"] for k, v in sorted(ids.items(), key=lambda kv: (-int(kv[1]), kv[0]))]
    total_ids = sum(int(v) for v in ids.values())
    return (
        '<section id="quality"><h2>八、数据质量</h2>'
        '<p class="small">每一输入行或入库，或进入隔离区并注明原因（文件、行号、列、问题）。'
        "“已记录”的问题所在行仍已入库，问题值仅作为证据保留。</p>"
        f'<h3>隔离区按问题</h3><div class="chart">{chart if rows else ""}</div>'
        + table(["问题", "代码", "处理", "条数"], rows, numeric={3}, total=["合计", "", "", f"{int(qs['n'].sum()) if len(qs) else 0:,}"])
        + "<h3>人员提及的身份证号状态</h3>"
        + table(["状态", "代码", "人次"], id_rows, numeric={2}, total=["合计", "", f"{total_ids:,}"])
        + "</section>"
    )


__all__ = ["render_report", "counts_by_rule", "counts_by", "page", "table", "DECISION_ZH", "STATUS_ZH"]
