"""Explanations an auditor can act on, in Chinese and English, with masked identities."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relieflink import privacy
from relieflink.audit.rules import RuleSet
from relieflink.config.catalog import Catalog


def mask_name(names: pd.Series) -> pd.Series:
    """张*明 / 王* (see :mod:`relieflink.privacy`); an unknown name says so."""
    return names.map(privacy.mask_name, na_action="ignore").fillna("").replace("", "（姓名不详）")


def mask_id(ids: pd.Series) -> pd.Series:
    """330105********1234 for a valid ID; otherwise says there is none."""
    valid = ids.fillna("").astype(str).str.len().eq(18)
    return ids.where(valid, None).map(privacy.mask_id, na_action="ignore").fillna("无有效身份证号")


def _period_zh(lo: pd.Series, hi: pd.Series) -> pd.Series:
    a = pd.to_datetime(lo)
    b = pd.to_datetime(hi)
    fmt_a = a.dt.year.astype(str) + "年" + a.dt.month.astype(str) + "月"
    fmt_b = b.dt.year.astype(str) + "年" + b.dt.month.astype(str) + "月"
    return pd.Series(np.where(fmt_a == fmt_b, fmt_a, fmt_a + "至" + fmt_b), index=lo.index)


def _period_en(lo: pd.Series, hi: pd.Series) -> pd.Series:
    a = pd.to_datetime(lo).dt.strftime("%b %Y")
    b = pd.to_datetime(hi).dt.strftime("%b %Y")
    return pd.Series(np.where(a == b, "in " + a, "from " + a + " to " + b), index=lo.index)


_VERB_ZH = {
    "same_program_overlap": "重复享受",
    "equivalent_programs": "同一需求重复享受同类项目",
    "exclusive_programs": "同时享有互斥的",
    "multiple_households": "同时登记为两个救助家庭的成员",
    "multi_source": "获得多个部门/街道救助",
    "frequency": "临时救助次数过多",
    "entitlement_missing": "享有",
}
_VERB_EN = {
    "same_program_overlap": "received the same program twice",
    "equivalent_programs": "received two programs for the same need",
    "exclusive_programs": "held mutually exclusive benefits",
    "multiple_households": "was a member of two relief households",
    "multi_source": "was aided by many agencies",
    "frequency": "received temporary relief too often",
    "entitlement_missing": "held",
}


def explain(flags: pd.DataFrame, ruleset: RuleSet, catalog: Catalog, *, scoped: bool = False
            ) -> tuple[pd.Series, pd.Series]:
    """``explanation_zh`` and ``explanation_en`` of each flag (vectorized over flags).

    ``scoped``: the wording for a reader who may not see every involved record (an agency
    seeing another agency's records only as agency, program and period,
    :mod:`relieflink.visibility`): the same facts without amounts and record counts.

    A flag raised by several clauses of one rule (``_reasons``: (clause, facts) pairs)
    names every reason: the first with its programs, the others after it (低保 and
    低保边缘 held at once, *and* in two relief households)."""
    names_zh = {p.code: p.name for p in catalog.programs}
    names_en = {p.code: p.name_en for p in catalog.programs}
    agencies_zh = {a.code: a.name for a in catalog.agencies}
    kinds = [rule.kind for rule in ruleset.rules]
    bases = [rule.basis for rule in ruleset.rules]
    who_zh = flags["_name_masked"] + "（" + flags["_id_masked"] + "）"
    who_en = flags["_name_masked"] + " (" + flags["_id_masked"].replace("无有效身份证号", "no valid ID") + ")"
    programs_zh = flags["programs"].map(lambda ps: "、".join(names_zh.get(p, p) for p in ps))
    programs_en = flags["programs"].map(lambda ps: " and ".join(names_en.get(p, p) for p in ps))
    sources_zh = flags["_agencies"].map(lambda a: "、".join(agencies_zh.get(x, x) for x in a))
    n = flags["records"].map(len).astype(str)
    amount = pd.to_numeric(flags["amount_at_stake"], errors="coerce")
    amount_zh = pd.Series(np.where(amount.notna() & (amount > 0), "，涉及金额" + amount.round(2).map("{:,.2f}".format) + "元", ""), index=flags.index)
    amount_en = pd.Series(np.where(amount.notna() & (amount > 0), "; amount at stake ¥" + amount.round(2).map("{:,.2f}".format), ""), index=flags.index)
    reasons = flags["_reasons"]
    first_kind = reasons.map(lambda rs: kinds[rs[0][0]])
    extra_zh = reasons.map(lambda rs: _reasons_text(rs, kinds, names_zh, "zh"))
    extra_en = reasons.map(lambda rs: _reasons_text(rs, kinds, names_en, "en"))
    basis = reasons.map(lambda rs: "".join(dict.fromkeys(bases[clause] for clause, _ in rs)))
    if scoped:  # what every agency involved may read: no amounts, no count of other agencies' records
        records_zh = "；涉及" + sources_zh + "的记录"
        records_en = pd.Series("", index=flags.index)
        amount_zh = amount_en = pd.Series("", index=flags.index)
    else:
        records_zh = "；涉及" + n + "条记录（" + sources_zh + "）"
        records_en = "; " + n + " records"
    zh = (who_zh + _period_zh(flags["period_start"], flags["period_end"]) + first_kind.map(_VERB_ZH) + "：" + programs_zh
          + extra_zh + records_zh + amount_zh + "。依据：" + basis)
    en = (who_en + " " + first_kind.map(_VERB_EN) + " " + _period_en(flags["period_start"], flags["period_end"]) + ": "
          + programs_en + extra_en + records_en + amount_en + ".")
    return zh, en


_AND = {"zh": ("；且", "；"), "en": ("; and ", "; ")}


def _reasons_text(reasons: list[tuple[int, object]], kinds: list[str], names: dict[str, str], language: str) -> str:
    """The facts of the first reason, then each further reason: its verb when its kind differs
    from the one before, and its facts."""
    text = _facts_text(reasons[0][1], names, language)
    verbs = _VERB_ZH if language == "zh" else _VERB_EN
    another_kind, same_kind = _AND[language]
    for (before, _), (clause, facts) in zip(reasons, reasons[1:]):
        more = _facts_text(facts, names, language).lstrip("，, ")
        if kinds[clause] != kinds[before]:
            text += another_kind + verbs[kinds[clause]] + (("，" if language == "zh" else ", ") + more if more else "")
        elif more:
            text += same_kind + more
    return text


# The facts a rule kind records, worded per language: (key that selects it, template).
# Templates are formatted with the facts plus ``programs`` (the listed program names joined).
_FACT_TEMPLATES = {
    "zh": [
        ("days_apart", "（相隔{days_apart}天）"),
        ("agencies", "（{n_agencies}个部门/街道）"),
        ("grants", "（{window_days}天内{most_in_window}次，超过规定的{max_count}次{in_all}）"),
        ("entitlement", "，符合条件但未享受{programs}{maybe}"),
        ("lacks_status", "，但其家庭无{programs}身份，建议转介评估"),
    ],
    "en": [
        ("days_apart", " ({days_apart} days apart)"),
        ("agencies", " ({n_agencies} agencies or subdistricts)"),
        ("grants", " ({most_in_window} within {window_days} days, more than the {max_count} allowed{in_all})"),
        ("entitlement", ", entitled to but did not receive {programs}{maybe}"),
        ("lacks_status", ", but the household holds none of {programs}: refer for assessment"),
    ],
}
_JOIN = {"zh": "、", "en": " or "}
# TEMP-FREQ: the grants of the year, said only when more than the busiest window holds
_IN_ALL = {"zh": "，全年共{grants}次", "en": ", {grants} in all"}
_MAYBE = {"zh": "（另有同名但身份未确认的记录，需核实）", "en": " (a same-name record with an unresolved identity exists: check)"}


def _facts_text(f: object, names: dict[str, str], language: str) -> str:
    """The words for one flag's facts (empty when the kind records none)."""
    if not isinstance(f, dict):
        return ""
    for key, template in _FACT_TEMPLATES[language]:
        if key in f:
            listed = f.get("entitlement") or f.get("lacks_status") or []
            return template.format(
                **f,
                n_agencies=len(f.get("agencies", [])),
                programs=_JOIN[language].join(names.get(p, p) for p in listed),
                maybe=_MAYBE[language] if f.get("possible_unlinked") else "",
                in_all=_IN_ALL[language].format(**f) if f.get("grants", 0) > f.get("most_in_window", 0) else "",
            )
    return ""
