"""What every report of a run shows, derived once: money at stake, counts, masked identities.

``report.html``, ``report.xlsx``, ``flags.jsonl.gz`` and the agency pages show the
same figures of the same flags — the money at stake per rule, agency and
subdistrict, the counts per agency, the overlap matrix, each flag's masked name, ID,
phone and explanation. Each is computed here once per :class:`ReportData` (kept by
:meth:`ReportData.shared`) and read by every writer, so that the figures agree by
construction and the writing stage does each piece of work once: exploding the
flags' records into money at stake, masking an explanation (four regular
expressions over the text), mapping records to their agency.
"""

from __future__ import annotations

import pandas as pd

from relieflink.audit import money as at_stake
from relieflink.privacy import Masker, is_blank
from relieflink.report.data import ReportData, overlap_matrix, record_agencies

#: the statuses whose money is shown (active flags only: dismissed ones are on record, not counted)
STATUSES = ("finding", "review")


def stakes(data: ReportData, status: str) -> pd.DataFrame:
    """The money at stake on each record of the active flags of ``status``
    (:func:`relieflink.audit.money.record_stakes`)."""
    def make() -> pd.DataFrame:
        act = data.active
        return at_stake.record_stakes(act[act["status"] == status])
    return data.shared(("stakes", status), make)


def stakes_once(data: ReportData, status: str) -> pd.DataFrame:
    """:func:`stakes`, each record once (:func:`relieflink.audit.money.counted_once`)."""
    return data.shared(("stakes_once", status), lambda: at_stake.counted_once(stakes(data, status)))


def total(data: ReportData, status: str) -> float:
    """Money at stake of the active flags of ``status``, each record once."""
    return data.shared(("total", status), lambda: round(float(stakes_once(data, status)["amount"].sum()), 2))


def by_rule(data: ReportData, status: str) -> pd.Series:
    """Per rule id: money at stake of its active flags of ``status``, each record once within the rule."""
    return data.shared(("by_rule", status), lambda: at_stake.by_rule_of(stakes(data, status)))


def by_agency(data: ReportData, status: str) -> pd.Series:
    """Per agency: money at stake on the records it paid (each record once)."""
    return data.shared(("by_agency", status),
                       lambda: at_stake.by_record_of(stakes_once(data, status), record_agency(data)))


def by_flag_key(data: ReportData, status: str, column: str) -> pd.Series:
    """Per value of the flags' ``column`` (e.g. ``subdistrict``): money at stake, each record
    under the flag that puts the largest amount on it."""
    def make() -> pd.Series:
        act = data.active
        f = act[act["status"] == status]
        return at_stake.by_flag_of(stakes_once(data, status), pd.Series(f[column].to_numpy(), index=f["flag_id"].to_numpy()))
    return data.shared(("by_flag_key", status, column), make)


def record_agency(data: ReportData) -> pd.Series:
    """The agency of every record, indexed by ``file\\x1frow`` (:func:`relieflink.report.data.record_agencies`)."""
    return data.shared("record_agency", lambda: record_agencies(data.records))


def overlap(data: ReportData) -> pd.DataFrame:
    """The agency overlap matrix (:func:`relieflink.report.data.overlap_matrix`)."""
    return data.shared("overlap", lambda: overlap_matrix(data))


def active_by_agency(data: ReportData) -> pd.DataFrame:
    """The active flags exploded by involved agency: one row per (flag, agency) with ``agencies``
    (the code) and ``status``."""
    def make() -> pd.DataFrame:
        act = data.active[["agencies", "status"]]
        ex = act.explode("agencies")
        return ex[ex["agencies"].notna()]
    return data.shared("active_by_agency", make)


def each_distinct(fn, *columns: pd.Series) -> list:
    """``fn`` over the rows of ``columns``, called once per distinct row (a quarantine repeats its
    messages and raw values thousands of times, a person's flags their name and ID; masking a text
    runs four regular expressions)."""
    done: dict = {}
    out = []
    for key in zip(*(c.tolist() for c in columns)):
        value = done.get(key, done)
        if value is done:
            value = done[key] = fn(*key)
        out.append(value)
    return out


def masked(data: ReportData, mask: Masker, held: bool = False) -> pd.DataFrame:
    """The flags' (or held items') identity and texts as masked by ``mask``, aligned with
    ``data.flags`` (``data.held``): ``name``, ``id``, ``phone``, ``explanation_zh``,
    ``explanation_en``, ``explanation_scoped_zh``, ``decision_reason``. Repeated texts are masked once."""
    def make() -> pd.DataFrame:
        f = data.held if held else data.flags
        if f.empty:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in
                                 ("name", "id", "phone", "explanation_zh", "explanation_en", "explanation_scoped_zh",
                                  "decision_reason")})
        ids = f["id_number"]
        scoped = f["explanation_scoped_zh"] if "explanation_scoped_zh" in f else pd.Series([None] * len(f), index=f.index)
        return pd.DataFrame({
            "name": each_distinct(mask.name, f["name"]),
            "id": each_distinct(mask.id, ids),
            "phone": each_distinct(mask.phone, f["phone"]),
            "explanation_zh": each_distinct(mask.explanation, f["explanation_zh"], ids),
            "explanation_en": each_distinct(mask.explanation, f["explanation_en"], ids),
            "explanation_scoped_zh": each_distinct(lambda t, i: mask.explanation(t, i) if isinstance(t, str) else None,
                                                   scoped, ids),
            "decision_reason": each_distinct(lambda v: mask.text(v) if not is_blank(v) and str(v) else None,
                                             f["decision_reason"]),
        }, index=f.index)
    return data.shared(("masked", held, mask.enabled, mask.pseudonym_key), make)


__all__ = ["STATUSES", "active_by_agency", "by_agency", "by_flag_key", "by_rule", "each_distinct", "masked", "overlap", "record_agency",
           "stakes", "stakes_once", "total"]
