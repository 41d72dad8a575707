"""Explanations an auditor can act on, in Chinese and English, with masked identities: one flag at a
time, from plain values (the batch audit and screening word a flag alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from relieflink import privacy
from relieflink.audit.rules import RuleSet
from relieflink.config.catalog import Catalog

_EPOCH = date(1970, 1, 1)
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NO_NAME = "（姓名不详）"
NO_ID = "无有效身份证号"


def masked_name(name: object) -> str:
    """张*明 / 王* (see :mod:`relieflink.privacy`); an unknown name says so."""
    if not isinstance(name, str):
        return NO_NAME
    return privacy.mask_name(name) or NO_NAME


def masked_id(id_number: object) -> str:
    """330105********1234 for a valid ID; otherwise says there is none."""
    return privacy.mask_id(id_number) if isinstance(id_number, str) and len(id_number) == 18 else NO_ID


@dataclass(frozen=True)
class FlagFacts:
    """What an explanation says of one flag: who (masked), when (day numbers), the programs, the
    agencies and number of its records, the money at stake and the reasons (clause, facts)."""

    name_masked: str
    id_masked: str
    day_lo: int
    day_hi: int
    programs: list[str]
    agencies: list[str]
    n_records: int
    amount: float
    reasons: list[tuple[int, object]]


def _period_zh(lo: int, hi: int) -> str:
    a, b = _EPOCH + timedelta(days=lo), _EPOCH + timedelta(days=hi)
    fa, fb = f"{a.year}年{a.month}月", f"{b.year}年{b.month}月"
    return fa if fa == fb else fa + "至" + fb


def _period_en(lo: int, hi: int) -> str:
    a, b = _EPOCH + timedelta(days=lo), _EPOCH + timedelta(days=hi)
    fa, fb = f"{_MONTHS_EN[a.month - 1]} {a.year}", f"{_MONTHS_EN[b.month - 1]} {b.year}"
    return "in " + fa if fa == fb else "from " + fa + " to " + fb


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


class Explainer:
    """The explanations of flags, in Chinese and English, with masked identities.

    :meth:`explain` gives ``explanation_zh`` and ``explanation_en`` and the scoped wording of
    both: what a reader who may not see every involved record reads (an agency seeing
    another agency's records only as agency, program and period, :mod:`relieflink.visibility`)
    — the same facts without amounts and record counts.

    A flag raised by several clauses of one rule (``reasons``: (clause, facts) pairs) names
    every reason: the first with its programs, the others after it (低保 and 低保边缘 held at
    once, *and* in two relief households)."""

    def __init__(self, ruleset: RuleSet, catalog: Catalog):
        self.names_zh = {p.code: p.name for p in catalog.programs}
        self.names_en = {p.code: p.name_en for p in catalog.programs}
        self.agencies_zh = {a.code: a.name for a in catalog.agencies}
        self.kinds = [rule.kind for rule in ruleset.rules]
        self.bases = [rule.basis for rule in ruleset.rules]

    def explain(self, f: FlagFacts) -> tuple[str, str, str, str]:
        """(zh, en, scoped zh, scoped en) of one flag."""
        who_zh = f.name_masked + "（" + f.id_masked + "）"
        who_en = f.name_masked + " (" + ("no valid ID" if f.id_masked == NO_ID else f.id_masked) + ")"
        programs_zh = "、".join(self.names_zh.get(p, p) for p in f.programs)
        programs_en = " and ".join(self.names_en.get(p, p) for p in f.programs)
        sources_zh = "、".join(self.agencies_zh.get(a, a) for a in f.agencies)
        amount_zh = amount_en = ""
        if not np.isnan(f.amount) and f.amount > 0:
            money = "{:,.2f}".format(np.round(f.amount, 2))
            amount_zh, amount_en = "，涉及金额" + money + "元", "; amount at stake ¥" + money
        kind = self.kinds[f.reasons[0][0]]
        extra_zh = _reasons_text(f.reasons, self.kinds, self.names_zh, "zh")
        extra_en = _reasons_text(f.reasons, self.kinds, self.names_en, "en")
        basis = "".join(dict.fromkeys(self.bases[clause] for clause, _ in f.reasons))
        head_zh = who_zh + _period_zh(f.day_lo, f.day_hi) + _VERB_ZH[kind] + "：" + programs_zh + extra_zh
        head_en = who_en + " " + _VERB_EN[kind] + " " + _period_en(f.day_lo, f.day_hi) + ": " + programs_en + extra_en
        zh = head_zh + "；涉及" + str(f.n_records) + "条记录（" + sources_zh + "）" + amount_zh + "。依据：" + basis
        en = head_en + "; " + str(f.n_records) + " records" + amount_en + "."
        # what every agency involved may read: no amounts, no count of other agencies' records
        scoped_zh = head_zh + "；涉及" + sources_zh + "的记录" + "。依据：" + basis
        scoped_en = head_en + "."
        return zh, en, scoped_zh, scoped_en


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
