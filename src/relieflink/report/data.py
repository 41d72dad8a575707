"""The report's view of a run folder: tables loaded once, flags enriched for reporting.

Everything here is sorted and derived deterministically, so that the same run
folder always gives the same report bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.audit.output import EVIDENCE_CHANGED, EVIDENCE_CHANGED_ZH
from relieflink.config.catalog import Catalog

# Labels for the data-quality section: every problem code the ingest writes (a test checks that
# none is missing; an unknown code would be shown as it is).
PROBLEM_ZH = {
    "blank_row": "空行",
    "totals_row": "合计行",
    "duplicate_file": "重复报送的文件（按首次报送计）",
    "unknown_file": "无法识别的文件",
    "missing_column": "缺少必需列",
    "missing_optional_column": "缺少可选列",
    "file_rejected": "文件整体拒收",
    "extra_fields": "字段多于表头",
    "wrong_field_count": "字段数与表头不符",
    "missing_required_value": "必填项为空",
    "unparseable_required_value": "必填项无法解析",
    "unparseable_value": "数值/日期无法解析",
    "missing_person": "缺少人员信息",
    "id_check_failed": "身份证号校验位错误",
    "id_excel_damaged": "身份证号被Excel损坏（科学计数法）",
    "id_bad_date": "身份证号出生日期无效",
    "id_malformed": "身份证号格式错误",
    "id_conflicts_stated": "身份证号与登记的性别/出生日期/年龄矛盾",
    "id_head_id_on_member": "成员行误填户主身份证号",
    "id_missing": "身份证号缺失",
    "undecodable_line": "该行含无法解码的字节",
    "duplicate_column": "表头列名重复（采用第一列）",
    "blank_column_name": "表头列名为空（该列未读取）",
    "nested_json_value": "JSON字段值为对象或数组",
    "bad_json_line": "该行不是JSON对象",
    "implausible_amount": "金额超出可信上限",
    "implausible_date": "日期超出可信范围",
    "end_before_start": "终止日期早于起始日期",
    "negative_amount": "负数金额（冲正）",
    "reversed_record": "已被冲正的记录",
    "unknown_program_value": "救助项目/类别不在项目目录中",
    "no_beneficiary_identity": "缺少受助人身份信息（姓名和证件号均为空）",
    "id_conflicting_ids": "同一行中身份证号相互矛盾（未采用）",
    "empty_file": "文件为空",
    "header_not_found": "未找到预期的表头",
    "legacy_xls": "旧版.xls工作簿（请另存为.xlsx）",
    "unknown_encoding": "无法识别文件编码",
    "unreadable_workbook": "工作簿无法读取",
}
ACTION_ZH = {
    "row_rejected": "整行未入库",
    "duplicate_delivery": "重复报送（按副本计）",
    "value_dropped": "该值未采用",
    "noted": "已记录（行已入库）",
    "file_rejected": "文件拒收",
}
ID_STATUS_ZH = {
    "valid": "有效",
    "upgraded_15": "15位旧号已升级",
    "check_failed": "校验位错误",
    "excel_damaged": "Excel损坏",
    "bad_date": "出生日期无效",
    "malformed": "格式错误",
    "missing": "缺失",
    "conflicts_stated": "与登记信息矛盾",
    "head_id_on_member": "误填户主身份证号",
}
STATUS_ZH = {"finding": "发现", "review": "待复核"}
CATEGORY_ZH = {"duplicate": "重复救助", "overlap": "多头救助", "missed": "遗漏救助"}
DECISION_ZH = {"confirmed": "已确认", "dismissed": "已排除"}
# a decided flag whose records changed since the decision (review/apply.py)
DECISION_NOTE_ZH = {EVIDENCE_CHANGED: EVIDENCE_CHANGED_ZH}
UNKNOWN_SUBDISTRICT = "（未知）"


@dataclass
class RuleInfo:
    rule_id: str
    title_zh: str
    title_en: str
    category: str
    basis: str


@dataclass
class ReportData:
    """The tables a report is made from, with flags ready to present."""

    catalog: Catalog
    flags: pd.DataFrame            # all flags, enriched (see enrich_flags), sorted by flag_id
    records: pd.DataFrame          # records.parquet
    persons: pd.DataFrame          # persons.parquet
    mentions: pd.DataFrame         # mentions.parquet (beneficiary identity of a record)
    quarantine: pd.DataFrame       # quarantine.parquet
    manifest: dict                 # run.json
    rules: dict[str, RuleInfo]     # by rule id, in rules.yaml order
    audit_year: int | None = None
    agency_order: list[str] = field(default_factory=list)
    # held_flags.parquet, enriched like the flags: patterns held as identity questions
    held: pd.DataFrame = field(default_factory=pd.DataFrame)
    ruleset: object = None         # the RuleSet the run was audited with (rules.yaml)
    run_dir: Path | None = None      # where pairs.parquet and linkage_model.json are read from

    # ---- views -------------------------------------------------------------
    @property
    def active(self) -> pd.DataFrame:
        """Flags that count: dismissed flags are kept on record but left out."""
        return self.flags[self.flags["decision"].fillna("") != "dismissed"]

    @property
    def findings(self) -> pd.DataFrame:
        a = self.active
        return a[a["status"] == "finding"]

    @property
    def review(self) -> pd.DataFrame:
        a = self.active
        return a[a["status"] == "review"]

    def agency_name(self, code: str) -> str:
        try:
            return self.catalog.agency(code).name
        except KeyError:
            return code

    def program_name(self, code: str) -> str:
        try:
            return self.catalog.program(code).name
        except KeyError:
            return code

    def rule_title(self, rule_id: str) -> str:
        info = self.rules.get(rule_id)
        return info.title_zh if info else rule_id

    def rule_ids(self) -> list[str]:
        """Rules in rules.yaml order, then any rule id only seen in the flags."""
        ids = list(self.rules)
        ids += sorted(set(self.flags["rule_id"].astype(str)) - set(ids))
        return ids


def load_run(run_dir: Path, catalog: Catalog | None = None, rules=None) -> ReportData:
    """Read the Parquet files and the manifest of a run folder."""
    from relieflink.audit.rules import load_rules
    from relieflink.config.catalog import load_catalog

    run_dir = Path(run_dir)
    catalog = catalog or load_catalog()
    ruleset = rules or load_rules(catalog=catalog)

    def read(name: str) -> pd.DataFrame:
        path = run_dir / f"{name}.parquet"
        return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    manifest_path = run_dir / "run.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    return build(
        catalog=catalog,
        ruleset=ruleset,
        flags=read("flags"),
        records=read("records"),
        persons=read("persons"),
        mentions=read("mentions"),
        quarantine=read("quarantine"),
        manifest=manifest,
        held=read("held_flags"),
        run_dir=run_dir,
    )


def build(*, catalog: Catalog, ruleset, flags, records, persons, mentions, quarantine, manifest,
          held: pd.DataFrame | None = None, run_dir: Path | None = None) -> ReportData:
    rules: dict[str, RuleInfo] = {}
    for rule in ruleset.rules:
        if rule.id in rules:  # one id, several clauses: join their titles
            info = rules[rule.id]
            if rule.title_zh not in info.title_zh.split("／"):
                info.title_zh += "／" + rule.title_zh
                info.title_en += " / " + rule.title_en
            if rule.basis not in info.basis:
                info.basis += rule.basis
            continue
        rules[rule.id] = RuleInfo(rule.id, rule.title_zh, rule.title_en, rule.category, rule.basis)
    agency_order = [a.code for a in catalog.agencies]
    data = ReportData(
        catalog=catalog,
        flags=pd.DataFrame(),
        records=records,
        persons=persons,
        mentions=mentions,
        quarantine=quarantine,
        manifest=manifest,
        rules=rules,
        audit_year=_audit_year(manifest, records),
        agency_order=agency_order,
        run_dir=run_dir,
    )
    data.flags = enrich_flags(flags, data)
    data.held = enrich_flags(held if held is not None else pd.DataFrame(), data)
    data.ruleset = ruleset
    return data


def _audit_year(manifest: dict, records: pd.DataFrame) -> int | None:
    """The year the run audited, as its manifest states it (else as the audit derives it)."""
    from relieflink.audit.periods import derive_audit_period

    period = (manifest or {}).get("counts", {}).get("audit_period")
    if isinstance(period, dict) and period.get("year") is not None:
        return int(period["year"])
    derived = derive_audit_period(records)
    return derived.year if derived is not None else None


def _key(files, rows) -> np.ndarray:
    return (pd.Series(files, dtype=object).astype(str) + "\x1f" + pd.Series(rows).astype("int64").astype(str)).to_numpy()


def record_agencies(records: pd.DataFrame) -> pd.Series:
    """The agency of every record (the one that paid its money), indexed by ``file\x1frow``."""
    if records.empty:
        return pd.Series(dtype=object)
    return pd.Series(records["agency"].astype(str).to_numpy(), index=_key(records["file"], records["row"]))


def _grantors(f: pd.DataFrame, data: ReportData) -> list[list[str]]:
    """Per flag, the agencies that grant what a missed-benefit flag says is missing: the
    program's agency, or for a subdistrict program (agency ``jd``) the flag's subdistrict."""
    if "missed_programs" not in f:
        return [[] for _ in range(len(f))]
    agency_of = {p.code: p.agency for p in data.catalog.programs} if data.catalog is not None else {}
    out = []
    for missed, sub in zip(f["missed_programs"], f["subdistrict"]):
        codes = {agency_of.get(p) for p in (list(missed) if missed is not None else [])}
        codes = {sub if c == "jd" else c for c in codes if c}
        out.append(sorted(c for c in codes if c and c != UNKNOWN_SUBDISTRICT))
    return out


def enrich_flags(flags: pd.DataFrame, data: ReportData) -> pd.DataFrame:
    """Flags with the facts a report shows: agencies, subdistrict, the person's identity.

    Added columns: ``agencies`` (sorted codes of the agencies whose records are
    involved, in catalog order), ``subdistrict`` (the most frequent subdistrict
    among the involved records; ties to the first code; ``（未知）`` when none),
    ``record_keys`` (``file\\x1frow`` of every involved record), ``name``,
    ``id_number``, ``phone`` (the person's, unmasked here: masking is applied
    when writing).
    """
    if flags is None or flags.empty:
        cols = ["flag_id", "rule_id", "category", "status", "person_id", "household_id", "records", "programs",
                "missed_programs", "period_start", "period_end", "amount_at_stake", "link_confidence", "evidence",
                "explanation_zh", "explanation_en", "explanation_scoped_zh", "explanation_scoped_en", "decision", "decided_by",
                "decision_reason", "decision_note"]
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        for c in ("agencies", "record_keys", "grantors"):
            out[c] = pd.Series(dtype=object)
        for c in ("subdistrict", "name", "id_number", "phone"):
            out[c] = pd.Series(dtype=object)
        return out
    f = flags.copy()
    for c in ("evidence", "decision", "decided_by", "decision_reason", "decision_note"):
        if c not in f:
            f[c] = None
    f = f.sort_values("flag_id", kind="mergesort").reset_index(drop=True)
    f["records"] = [list(r) if r is not None else [] for r in f["records"]]
    f["programs"] = [sorted(p) if p is not None else [] for p in f["programs"]]
    f["record_keys"] = [[f"{d['file']}\x1f{int(d['row'])}" for d in recs] for recs in f["records"]]

    rec = data.records
    agency_of: dict[str, str] = {}
    sub_of: dict[str, str | None] = {}
    if not rec.empty:
        keys = _key(rec["file"], rec["row"])
        agency_of = dict(zip(keys, rec["agency"].astype(str)))
        sub_of = dict(zip(keys, rec["subdistrict"].where(rec["subdistrict"].notna(), None)))
    order = {code: i for i, code in enumerate(data.agency_order)}

    agencies, subs = _agencies_and_subdistricts(f["record_keys"], agency_of, sub_of, order)
    f["agencies"] = agencies
    f["subdistrict"] = subs
    f["grantors"] = _grantors(f, data)

    p = data.persons
    if not p.empty:
        by = p.drop_duplicates("person_id").set_index(p.drop_duplicates("person_id")["person_id"].astype(str))
        pid = f["person_id"].astype(str)
        f["name"] = pid.map(by["name"].astype(object)).where(f["person_id"].notna(), None)
        f["id_number"] = pid.map(by["id_number"].astype(object)).where(f["person_id"].notna(), None)
    else:
        f["name"] = None
        f["id_number"] = None
    f["phone"] = _person_phone(f["person_id"], data.mentions)
    f["amount_at_stake"] = pd.to_numeric(f["amount_at_stake"], errors="coerce")
    return f


def _agencies_and_subdistricts(record_keys: pd.Series, agency_of: dict[str, str], sub_of: dict[str, str | None],
                               order: dict[str, int]) -> tuple[list[list[str]], list[str]]:
    """Per flag: the agencies of its records (catalog order) and its subdistrict (the most
    frequent among its records, ties to the first code; ``UNKNOWN_SUBDISTRICT`` when none).
    Vectorized over flag × record: a run has tens of thousands of flags."""
    n = len(record_keys)
    lengths = np.fromiter((len(k) for k in record_keys), dtype=np.int64, count=n)
    ex = pd.DataFrame({"flag": np.repeat(np.arange(n), lengths),
                       "key": [k for keys in record_keys for k in keys]})
    ex["agency"] = ex["key"].map(agency_of)
    ex["sub"] = ex["key"].map(sub_of)
    ag = ex.dropna(subset=["agency"]).drop_duplicates(["flag", "agency"])
    ag = ag.assign(_o=ag["agency"].map(order).fillna(len(order))).sort_values(["flag", "_o", "agency"], kind="mergesort")
    by_flag = ag.groupby("flag", sort=False)["agency"].agg(list)
    agencies = [by_flag.get(i, []) for i in range(n)]
    counts = ex.dropna(subset=["sub"]).groupby(["flag", "sub"], sort=False).size().rename("n").reset_index()
    counts = counts.sort_values(["flag", "n", "sub"], ascending=[True, False, True], kind="mergesort")
    top = counts.drop_duplicates("flag").set_index("flag")["sub"]
    subs = [top.get(i, UNKNOWN_SUBDISTRICT) for i in range(n)]
    return agencies, subs


def _person_phone(person_ids: pd.Series, mentions: pd.DataFrame) -> pd.Series:
    """The smallest phone number seen for the person (deterministic), or None."""
    if mentions.empty or "phone" not in mentions:
        return pd.Series([None] * len(person_ids), index=person_ids.index, dtype=object)
    m = mentions.loc[mentions["phone"].notna() & mentions["person_id"].notna(), ["person_id", "phone"]]
    m = m.assign(person_id=m["person_id"].astype(str), phone=m["phone"].astype(str))
    phone = m.sort_values(["person_id", "phone"], kind="mergesort").drop_duplicates("person_id").set_index("person_id")["phone"]
    return person_ids.astype(str).map(phone).where(person_ids.notna(), None).astype(object)


def record_view(data: ReportData) -> pd.DataFrame:
    """Records with the beneficiary's identity (from its mention), indexed by ``file\\x1frow``."""
    rec = data.records.copy()
    if rec.empty:
        return rec
    m = data.mentions
    if not m.empty and "beneficiary_mention_id" in rec:
        cols = [c for c in ("mention_id", "name", "name_raw", "id_number", "id_raw", "id_status", "phone") if c in m]
        mm = m[cols].drop_duplicates("mention_id").set_index("mention_id")
        for c in cols[1:]:
            rec["b_" + c] = rec["beneficiary_mention_id"].map(mm[c])
    rec.index = _key(rec["file"], rec["row"])
    return rec


def period_bounds(records: pd.DataFrame, catalog: Catalog) -> tuple[pd.Series, pd.Series]:
    """Start and end date of each record; an open end is ongoing for monthly programs
    and statuses, the start date otherwise (one-off grants, annual grants)."""
    start = pd.to_datetime(records["period_start"], errors="coerce")
    if "event_date" in records:
        start = start.fillna(pd.to_datetime(records["event_date"], errors="coerce"))
    end = pd.to_datetime(records["period_end"], errors="coerce")
    open_ended = {p.code for p in catalog.programs if p.periodicity in ("monthly", "status")}
    ongoing = records["program"].isin(open_ended) & end.isna()
    end = end.where(~ongoing, pd.Timestamp("2262-01-01"))
    return start, end.fillna(start)


def aided_persons(data: ReportData) -> pd.DataFrame:
    """(agency, person_id) of every person paid or served by an agency in the audit year."""
    rec = data.records
    if rec.empty or data.audit_year is None:
        return pd.DataFrame({"agency": pd.Series(dtype=object), "person_id": pd.Series(dtype=object)})
    start, end = period_bounds(rec, data.catalog)
    y0, y1 = pd.Timestamp(data.audit_year, 1, 1), pd.Timestamp(data.audit_year, 12, 31)
    keep = rec["kind"].isin(["payment", "service"]) & rec["person_id"].notna() & (start <= y1) & (end >= y0)
    out = pd.DataFrame({"agency": rec.loc[keep, "agency"].astype(str), "person_id": rec.loc[keep, "person_id"].astype(str)})
    return out.drop_duplicates().sort_values(["agency", "person_id"]).reset_index(drop=True)


def overlap_matrix(data: ReportData) -> pd.DataFrame:
    """Persons aided by agency A (row) who are also aided by agency B (column) in the audit year.

    The diagonal is the number of persons agency A aided. Agencies in catalog order.
    """
    ap = aided_persons(data)
    codes = [c for c in data.agency_order]
    if ap.empty:
        return pd.DataFrame(0, index=codes, columns=codes)
    from scipy.sparse import csr_matrix

    # a person × agency incidence matrix (the pairs are distinct), then A·Aᵀ over persons
    agency = pd.Index(codes).get_indexer(ap["agency"].to_numpy(dtype=object))
    person, _ = pd.factorize(ap["person_id"].to_numpy(dtype=object))
    keep = agency >= 0
    inc = csr_matrix((np.ones(int(keep.sum()), dtype=np.int64), (person[keep], agency[keep])),
                     shape=(int(person.max()) + 1 if len(person) else 0, len(codes)))
    mat = (inc.T @ inc).toarray()
    return pd.DataFrame(mat.astype(int), index=codes, columns=codes)
