"""Assembly of each export in its source's exact format (SPEC §2): column
names, row order, value formats and damage. The result is a :class:`Sheet`
(cells of the data rows, rids, mentions, quirk log) that ``layout`` numbers
and ``writers`` writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .config import Config, rng_for
from .habits import Habit, file_habits, subdistrict_habits
from .names import NamePools
from .quirks import (damage_ids, damage_names, fmt_amounts, fmt_dates, fmt_months, fmt_phones, pick_styles)

HEADERS = {
    "zgh": ["序号", "姓名", "性别", "身份证号码", "工作单位", "联系电话", "帮扶项目", "受助子女姓名",
            "受助子女身份证号", "帮扶金额(元)", "发放日期"],
    "jyj": ["学生姓名", "性别", "学籍号", "身份证件号", "学校", "年级", "资助项目", "学年", "资助金额",
            "监护人姓名", "监护人身份证件号", "家庭住址", "联系电话"],
    "rsj": ["姓名", "公民身份号码", "人员类别", "补贴类型", "补贴起始年月", "补贴终止年月", "月补贴额", "联系电话", "所属街道"],
    "mzj_roster": ["户编号", "户主姓名", "户主身份证号", "成员姓名", "成员身份证号", "与户主关系", "性别", "出生日期",
                   "保障类别", "月保障金额", "保障起始年月", "保障终止年月", "所属街道", "所属社区", "家庭住址", "联系电话"],
    "mzj_medical": ["姓名", "身份证号", "救助类别", "医院", "入院日期", "出院日期", "医疗总费用", "救助金额", "所属街道"],
    "mzj_elderly": ["姓名", "身份证号", "对象类别", "保险年度", "保费"],
    "cl_subsidy": ["xm", "cjzh", "cjlb", "cjdj", "btlx", "je", "ffny", "jdmc", "sqmc"],
    "cl_registry": ["姓名", "残疾人证号", "残疾类别", "残疾等级", "发证日期", "所属街道", "所属社区", "联系电话"],
    "sfj": ["受援人姓名", "证件类型", "证件号码", "性别", "年龄", "案件类别", "受理日期", "结案日期", "承办律师"],
    "jsj": ["姓名", "身份证号", "性别", "扶助类别", "扶助年度", "年扶助金额", "户籍地址", "联系电话"],
    "jd": ["序号", "申请人", "身份证号", "联系电话", "所属社区", "救助类型", "救助事由", "救助金额", "审批日期", "经办人"],
}

FILES = {
    "zgh": ("zgh_困难职工帮扶.xlsx", "xlsx", None),
    "jyj": ("jyj_学生资助.csv", "csv", "utf-8-sig"),
    "rsj": ("rsj_就业援助.csv", "csv", "gbk"),
    "mzj_roster": ("mzj_低保低边特困.xlsx", "xlsx", None),
    "mzj_medical": ("mzj_医疗救助.csv", "csv", "utf-8"),
    "mzj_elderly": ("mzj_老年人保险.csv", "csv", "utf-8"),
    "cl_subsidy": ("cl_残疾人补贴.jsonl", "jsonl", "utf-8"),
    "cl_registry": ("cl_持证残疾人名册.csv", "csv", "gb18030"),
    "sfj": ("sfj_法律援助.csv", "csv", "gb18030"),
    "jsj": ("jsj_计生特扶.xlsx", "xlsx", None),
}
SOURCES = {"zgh": "zgh", "jyj": "jyj", "rsj": "rsj", "mzj_roster": "mzj", "mzj_medical": "mzj", "mzj_elderly": "mzj",
           "cl_subsidy": "cl", "cl_registry": "cl", "sfj": "sfj", "jsj": "jsj"}
XLSX_DATE_FORMATS = {"excel_date": ["yyyy-mm-dd", "yyyy/m/d", 'yyyy"年"m"月"d"日"']}


@dataclass
class Sheet:
    key: str
    source: str
    filename: str
    kind: str                      # csv | xlsx | jsonl
    encoding: str | None
    header: list[str]
    cells: pd.DataFrame            # data rows in order, columns = header
    rids: np.ndarray
    mentions: list = field(default_factory=list)   # (role, pid array) aligned with data rows
    quirks: list = field(default_factory=list)     # DataFrames: data_idx, column, quirk, value, true_value, pid
    title: str | None = None
    total: dict | None = None
    sheet_name: str | None = None
    sheets_before: list = field(default_factory=list)   # (name, rows) written before the data sheet
    sheets_after: list = field(default_factory=list)
    date_number_format: str = "yyyy-mm-dd"
    creator: str = "Administrator"
    habit: Habit | None = None


class Exporter:
    def __init__(self, cfg: Config, persons: pd.DataFrame, households: pd.DataFrame, seed: int):
        self.cfg, self.P, self.H, self.seed = cfg, persons, households, seed
        nm = cfg.synth["names"]
        self.trad = dict(nm["traditional"])
        self.homo = {k: list(v) for k, v in nm["homophones"].items()}
        self.dots = list(nm["middle_dots"])
        self.rates = dict(cfg.rates)
        self.identity_on = any(float(v) > 0 for v in self.rates.values())
        self.fh = file_habits(cfg, seed)
        self.sh = subdistrict_habits(cfg, seed)
        self.subs = cfg.subdistricts
        self.sub_names = np.array([s.name for s in self.subs], dtype=object)
        self.h = cfg.synth["habits"]
        # person arrays
        self.name = self.P["name"].to_numpy(dtype=object)
        self.surname = self.P["surname"].to_numpy(dtype=object)
        self.minority = self.P["minority"].to_numpy()
        self.rare = self.P["rare_char"].to_numpy()
        self.idn = self.P["id_number"].to_numpy(dtype=object)
        self.byear = self.P["birth_year"].to_numpy()
        self.sex_zh = np.where(self.P["male"].to_numpy(), "男", "女").astype(object)
        self.phone = self.P["phone"].to_numpy(dtype=object)

    def rng(self, *stage):
        return rng_for(self.seed, "exports", *stage)

    # ---- column helpers ---------------------------------------------------------------------
    def names(self, sh: Sheet, rng, col: str, pids: np.ndarray, gbk: bool, mask=None):
        pids = np.asarray(pids, dtype=np.int64)
        ok = pids >= 0 if mask is None else (pids >= 0) & mask
        p = np.maximum(pids, 0)
        true = np.where(ok, self.name[p], None)
        vals, q = damage_names(rng, true, self.surname[p], self.minority[p] & ok, self.rare[p] & ok, self.rates,
                               self.trad, self.homo, self.dots, gbk=gbk)
        sh.cells[col] = vals
        self._log(sh, col, q, vals, true, pids)

    def ids(self, sh: Sheet, rng, col: str, pids: np.ndarray, *, excel, xlsx=False, legacy=True, suffix=None,
            mask=None, true_override=None):
        pids = np.asarray(pids, dtype=np.int64)
        ok = pids >= 0 if mask is None else (pids >= 0) & mask
        p = np.maximum(pids, 0)
        true = np.where(ok, self.idn[p] if true_override is None else true_override, None)
        vals, q = damage_ids(rng, true, self.byear[p], self.rates, excel=excel, legacy=legacy, xlsx=xlsx,
                             suffix=suffix, applicable=ok)
        sh.cells[col] = vals
        full_true = true if suffix is None else np.where(ok, pd.Series(true).astype(str) + pd.Series(suffix).astype(str), None)
        self._log(sh, col, q, vals, full_true, pids)
        return q

    def _log(self, sh: Sheet, col: str, q: np.ndarray, vals, true, pids):
        idx = np.flatnonzero(pd.Series(q).notna().to_numpy())
        if not len(idx):
            return
        qq = pd.Series(q[idx]).astype(str).str.split("+")
        df = pd.DataFrame({"data_idx": idx, "column": col, "quirk": qq,
                           "value": [None if v is None else str(v) for v in np.asarray(vals, dtype=object)[idx]],
                           "true_value": [None if v is None else str(v) for v in np.asarray(true, dtype=object)[idx]],
                           "pid": np.asarray(pids)[idx]}).explode("quirk")
        sh.quirks.append(df)

    def log_fixed(self, sh: Sheet, col: str, mask: np.ndarray, quirk: str, vals, true, pids):
        q = np.where(mask, quirk, None)
        self._log(sh, col, q, vals, true, pids)

    def community(self, rng, comm: np.ndarray, rate: float) -> np.ndarray:
        comm = np.asarray(comm, dtype=object)
        suffix = rng.random(len(comm)) < rate
        return np.where(suffix, pd.Series(comm).astype(str) + "社区", comm).astype(object)

    def subdistrict_name(self, rng, sub: np.ndarray, variety: float = 0.1) -> np.ndarray:
        sub = np.asarray(sub, dtype=np.int64)
        full = self.sub_names[sub]
        u = rng.random(len(sub))
        short = np.array([s.aliases[0] if s.aliases else s.name for s in self.subs], dtype=object)[sub]
        office = np.array([s.aliases[-1] if s.aliases else s.name for s in self.subs], dtype=object)[sub]
        return np.where(u < variety * 0.6, short, np.where(u < variety, office, full)).astype(object)

    def styles(self, rng, n, main, pool, mix):
        return pick_styles(rng, n, main, pool or [main], mix)

    def new_sheet(self, key, t: pd.DataFrame, habit: Habit | None = None, filename=None, kind=None, encoding=None) -> Sheet:
        fn, kd, enc = FILES.get(key, (filename, kind, encoding))
        hdr = HEADERS[key]
        sh = Sheet(key=key, source=SOURCES.get(key, key), filename=filename or fn, kind=kind or kd,
                   encoding=encoding if kind else enc, header=hdr,
                   cells=pd.DataFrame(index=range(len(t)), columns=hdr, dtype=object),
                   rids=t["rid"].to_numpy(), habit=habit)
        sh.mentions.append(("beneficiary", t["pid"].to_numpy()))
        if habit is not None:
            sh.creator = habit.creator
            sh.date_number_format = XLSX_DATE_FORMATS["excel_date"][int(self.rng(key, "nf").integers(0, 3))]
        return sh

    # ---- sources ------------------------------------------------------------------------------
    def zgh(self, t: pd.DataFrame) -> Sheet:
        t = t.sort_values(["date", "rid"], kind="stable").reset_index(drop=True)
        hb = self.fh["zgh"]
        rng = self.rng("zgh")
        sh = self.new_sheet("zgh", t, hb)
        n = len(t)
        g = t["guardian"].to_numpy()
        jq = g >= 0
        worker = np.where(jq, g, t["pid"].to_numpy())
        sh.mentions = [("beneficiary", t["pid"].to_numpy()), ("guardian", np.where(jq, g, -1))]
        sh.cells["序号"] = np.arange(1, n + 1)
        self.names(sh, rng, "姓名", worker, gbk=False)
        sh.cells["性别"] = self.sex_zh[worker]
        self.ids(sh, rng, "身份证号码", worker, excel="float", xlsx=True)
        sh.cells["工作单位"] = t["employer"].to_numpy()
        sh.cells["联系电话"] = fmt_phones(self.phone[worker], self.styles(rng, n, hb.phone, hb.phone_pool, hb.mix))
        sh.cells["帮扶项目"] = self.cfg.program_names(t["program"].to_numpy())
        child = np.where(jq, t["pid"].to_numpy(), -1)
        self.names(sh, rng, "受助子女姓名", child, gbk=False)
        self.ids(sh, rng, "受助子女身份证号", child, excel="float", xlsx=True)
        sh.cells["帮扶金额(元)"] = fmt_amounts(t["amount"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, hb.mix), True)
        sh.cells["发放日期"] = fmt_dates(t["date"].to_numpy(), self.styles(rng, n, hb.date, hb.date_pool, hb.mix), True)
        sh.title = self.cfg.synth["vocab"]["title_zgh"].format(year=self.cfg.year)
        sh.total = {"序号": "合计", "帮扶金额(元)": float(t["amount"].sum())}
        sh.sheet_name = "帮扶台账"
        sh.sheets_after = [("Sheet2", []), ("Sheet3", [])]
        return sh, t

    def jyj(self, t: pd.DataFrame):
        P = self.P
        t = t.assign(_sub=P["sub"].to_numpy()[t["pid"]]).sort_values(["_sub", "school", "pid", "rid"], kind="stable")
        t = t.reset_index(drop=True)
        hb = self.fh["jyj"]
        rng = self.rng("jyj")
        sh = self.new_sheet("jyj", t, hb)
        n = len(t)
        pid = t["pid"].to_numpy()
        g = t["guardian"].to_numpy()
        sh.mentions = [("beneficiary", pid), ("guardian", g)]
        self.names(sh, rng, "学生姓名", pid, gbk=False)
        sh.cells["性别"] = self.sex_zh[pid]
        sh.cells["学籍号"] = ("G" + pd.Series(self.idn[pid]).astype(str)).to_numpy(dtype=object)
        blank = rng.random(n) < float(self.h["jyj_blank_id_rate"])
        self.ids(sh, rng, "身份证件号", pid, excel=None, mask=~blank)
        self.log_fixed(sh, "身份证件号", blank, "id_blank_with_student_no", [None] * n, self.idn[pid], pid)
        sh.cells["学校"] = t["school"].to_numpy()
        sh.cells["年级"] = t["grade"].to_numpy()
        sh.cells["资助项目"] = t["item"].to_numpy()
        sh.cells["学年"] = t["school_year"].to_numpy()
        sh.cells["资助金额"] = fmt_amounts(t["amount"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, hb.mix), False)
        self.names(sh, rng, "监护人姓名", g, gbk=False)
        self.ids(sh, rng, "监护人身份证件号", g, excel=None)
        addr = P["address"].to_numpy(dtype=object)[pid]
        city = self.cfg.gazetteer["district"].get("city", "")
        short = rng.random(n) < 0.25
        sh.cells["家庭住址"] = np.where(short, pd.Series(addr).astype(str).str.replace(city, "", n=1), addr).astype(object)
        sh.cells["联系电话"] = fmt_phones(self.phone[np.where(g >= 0, g, pid)],
                                      self.styles(rng, n, hb.phone, hb.phone_pool, hb.mix))
        return sh, t

    def rsj(self, t: pd.DataFrame):
        t = t.sort_values(["sub", "start_m", "rid"], kind="stable").reset_index(drop=True)
        hb = self.fh["rsj"]
        rng = self.rng("rsj")
        sh = self.new_sheet("rsj", t, hb)
        n = len(t)
        pid = t["pid"].to_numpy()
        self.names(sh, rng, "姓名", pid, gbk=True)
        self.ids(sh, rng, "公民身份号码", pid, excel="text")
        sh.cells["人员类别"] = t["category"].to_numpy()
        sh.cells["补贴类型"] = t["subsidy_type"].to_numpy()
        sty = self.styles(rng, n, hb.month, hb.month_pool, hb.mix)
        sh.cells["补贴起始年月"] = fmt_months(t["start_m"].to_numpy(), sty, False)
        sh.cells["补贴终止年月"] = fmt_months(t["end_m"].to_numpy(), self.styles(rng, n, hb.month, hb.month_pool, hb.mix), False)
        sh.cells["月补贴额"] = fmt_amounts(t["amount"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, hb.mix), False)
        sh.cells["联系电话"] = fmt_phones(self.phone[pid], self.styles(rng, n, hb.phone, hb.phone_pool, hb.mix))
        sh.cells["所属街道"] = self.subdistrict_name(rng, t["sub"].to_numpy())
        return sh, t

    def mzj_roster(self, t: pd.DataFrame):
        t = t.assign(_role=self.P["role"].to_numpy()[t["pid"]], _head=(t["relation"] != "户主").astype(int))
        t = t.sort_values(["roster_no", "start_m", "_head", "_role", "pid", "rid"], kind="stable").reset_index(drop=True)
        hb = self.fh["mzj_roster"]
        rng = self.rng("mzj_roster")
        sh = self.new_sheet("mzj_roster", t, hb)
        n = len(t)
        pid = t["pid"].to_numpy()
        head = t["head"].to_numpy()
        sh.mentions = [("beneficiary", pid), ("head", head)]
        sh.cells["户编号"] = t["roster_no"].to_numpy()
        self.names(sh, rng, "户主姓名", head, gbk=False)
        # the head's ID: stored as a number for whole households now and then
        rn = t["roster_no"].to_numpy()
        if self.identity_on:
            uniq, inv = np.unique(rn.astype(str), return_inverse=True)
            hx = rng.random(len(uniq)) < float(self.h["roster_head_id_excel_rate"]) * min(1.0, self.rates.get("id_excel_damaged", 0) / 0.012)
            excel_rows = hx[inv] & (rng.random(n) < 0.7)
        else:
            excel_rows = np.zeros(n, dtype=bool)
        q = self.ids(sh, rng, "户主身份证号", head, excel="float", xlsx=True, mask=~excel_rows)
        from .quirks import excel_float
        vals = sh.cells["户主身份证号"].to_numpy(dtype=object, copy=True)
        ex = np.flatnonzero(excel_rows)
        vals[ex] = [excel_float(s) for s in self.idn[head[ex]]]
        sh.cells["户主身份证号"] = vals
        self.log_fixed(sh, "户主身份证号", excel_rows, "id_excel_damaged", vals, self.idn[head], head)
        self.names(sh, rng, "成员姓名", pid, gbk=False)
        # the head's ID typed on a member's row
        member = t["relation"].to_numpy() != "户主"
        hom = member & (rng.random(n) < float(self.rates.get("head_id_on_member", 0)))
        self.ids(sh, rng, "成员身份证号", pid, excel="float", xlsx=True, mask=~hom)
        vals = sh.cells["成员身份证号"].to_numpy(dtype=object, copy=True)
        vals[hom] = self.idn[head[hom]]
        sh.cells["成员身份证号"] = vals
        self.log_fixed(sh, "成员身份证号", hom, "head_id_on_member", vals, self.idn[pid], pid)
        sh.cells["与户主关系"] = t["relation"].to_numpy()
        sh.cells["性别"] = self.sex_zh[pid]
        sh.cells["出生日期"] = fmt_dates(self.P["birth_date"].to_numpy()[pid],
                                     self.styles(rng, n, hb.date, hb.date_pool, hb.mix), True)
        sh.cells["保障类别"] = t["status_name"].to_numpy()
        sh.cells["月保障金额"] = fmt_amounts(t["amount"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, hb.mix), True)
        # one month style per household
        msty = self.styles(rng, n, hb.month, hb.month_pool, hb.mix)
        sh.cells["保障起始年月"] = fmt_months(t["start_m"].to_numpy(), msty, True)
        sh.cells["保障终止年月"] = fmt_months(t["end_m"].to_numpy(), msty, True)
        sh.cells["所属街道"] = self.sub_names[t["sub"].to_numpy().astype(int)]
        sh.cells["所属社区"] = self.community(rng, t["community"].to_numpy(), 0.9)
        sh.cells["家庭住址"] = t["address"].to_numpy()
        sh.cells["联系电话"] = fmt_phones(self.phone[t["phone_pid"].to_numpy().astype(int)],
                                      self.styles(rng, n, hb.phone, hb.phone_pool, hb.mix))
        # 汇总 sheet first
        summ = t.groupby("sub").agg(h=("roster_no", "nunique"), p=("pid", "size"))
        rows = [["所属街道", "户数", "人数"]] + [[self.sub_names[int(s)], int(r.h), int(r.p)] for s, r in summ.iterrows()]
        sh.sheets_before = [("汇总", rows)]
        sh.sheet_name = "保障对象"
        return sh, t

    def mzj_medical(self, t: pd.DataFrame):
        t = t.sort_values(["date", "rid"], kind="stable").reset_index(drop=True)
        hb = self.fh["mzj_medical"]
        rng = self.rng("mzj_medical")
        sh = self.new_sheet("mzj_medical", t, hb)
        n = len(t)
        pid = t["pid"].to_numpy()
        self.names(sh, rng, "姓名", pid, gbk=False)
        self.ids(sh, rng, "身份证号", pid, excel=None)
        sh.cells["救助类别"] = t["category"].to_numpy()
        sh.cells["医院"] = t["hospital"].to_numpy()
        sh.cells["入院日期"] = fmt_dates(t["start"].to_numpy(), self.styles(rng, n, hb.date, hb.date_pool, 0.4), False)
        sh.cells["出院日期"] = fmt_dates(t["end"].to_numpy(), self.styles(rng, n, hb.date, hb.date_pool, 0.4), False)
        sh.cells["医疗总费用"] = fmt_amounts(t["cost"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, 0.3), False)
        sh.cells["救助金额"] = fmt_amounts(t["amount"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, 0.3), False)
        sh.cells["所属街道"] = self.subdistrict_name(rng, t["sub"].to_numpy().astype(int), 0.25)
        return sh, t

    def mzj_elderly(self, t: pd.DataFrame):
        t = t.assign(_sub=self.P["sub"].to_numpy()[t["pid"]]).sort_values(["_sub", "pid", "rid"], kind="stable")
        t = t.reset_index(drop=True)
        rng = self.rng("mzj_elderly")
        hb = self.fh["mzj_elderly"]
        sh = self.new_sheet("mzj_elderly", t, hb)
        n = len(t)
        pid = t["pid"].to_numpy()
        self.names(sh, rng, "姓名", pid, gbk=False)
        self.ids(sh, rng, "身份证号", pid, excel=None)
        sh.cells["对象类别"] = t["category"].to_numpy()
        sh.cells["保险年度"] = str(self.cfg.year)
        sh.cells["保费"] = fmt_amounts(t["amount"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, hb.mix), False)
        return sh, t

    def cl_subsidy(self, t: pd.DataFrame):
        t = t.sort_values(["month", "sub", "pid", "program", "rid"], kind="stable").reset_index(drop=True)
        hb = self.fh["cl_subsidy"]
        rng = self.rng("cl_subsidy")
        sh = self.new_sheet("cl_subsidy", t, hb)
        n = len(t)
        pid = t["pid"].to_numpy()
        cat = t["cat"].to_numpy().astype(int)
        lvl = t["level"].to_numpy().astype(int)
        sfx = (pd.Series(cat).astype(str) + pd.Series(lvl).astype(str)).to_numpy(dtype=object)
        self.names(sh, rng, "xm", pid, gbk=False)
        rates = self.rates
        self.rates = {k: v * 0.5 for k, v in rates.items()}  # a system export: less damage than hand-kept files
        self.ids(sh, rng, "cjzh", pid, excel=None, legacy=False, suffix=sfx)
        self.rates = rates
        as_str = rng.random(n) < float(self.h["cl_code_as_string_rate"])
        sh.cells["cjlb"] = np.where(as_str, cat.astype(str), cat).astype(object)
        as_str = rng.random(n) < float(self.h["cl_code_as_string_rate"])
        sh.cells["cjdj"] = np.where(as_str, lvl.astype(str), lvl).astype(object)
        sh.cells["btlx"] = self.cfg.program_names(t["program"].to_numpy())
        sh.cells["je"] = fmt_amounts(t["amount"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, 0.4), False)
        sh.cells["ffny"] = fmt_months(t["month"].to_numpy().astype(int), np.full(n, "yyyymm", dtype=object), False)
        sh.cells["jdmc"] = self.sub_names[t["sub"].to_numpy().astype(int)]
        sh.cells["sqmc"] = self.community(rng, t["community"].to_numpy(), 1.0)
        return sh, t

    def cl_registry(self, t: pd.DataFrame):
        t = t.sort_values(["sub", "community", "date", "rid"], kind="stable").reset_index(drop=True)
        hb = self.fh["cl_registry"]
        rng = self.rng("cl_registry")
        sh = self.new_sheet("cl_registry", t, hb)
        n = len(t)
        pid = t["pid"].to_numpy()
        cat = t["cat"].to_numpy().astype(int)
        lvl = t["level"].to_numpy().astype(int)
        sfx = (pd.Series(cat).astype(str) + pd.Series(lvl).astype(str)).to_numpy(dtype=object)
        st = self.cfg.synth["statuses"]
        self.names(sh, rng, "姓名", pid, gbk=False)
        self.ids(sh, rng, "残疾人证号", pid, excel=None, legacy=False, suffix=sfx)
        cn = np.array([st["disability_category_names"][c] for c in cat], dtype=object) if n else np.array([], dtype=object)
        suffix = rng.random(n) < float(st["disability_category_suffix_rate"])
        sh.cells["残疾类别"] = np.where(suffix, pd.Series(cn).astype(str) + "残疾", cn).astype(object)
        sh.cells["残疾等级"] = np.array([st["level_names"][x] for x in lvl], dtype=object) if n else []
        sh.cells["发证日期"] = fmt_dates(t["start"].to_numpy(), self.styles(rng, n, hb.date, hb.date_pool, 0.4), False)
        sh.cells["所属街道"] = self.subdistrict_name(rng, t["sub"].to_numpy().astype(int), 0.2)
        sh.cells["所属社区"] = self.community(rng, t["community"].to_numpy(), 0.85)
        sh.cells["联系电话"] = fmt_phones(self.phone[pid], self.styles(rng, n, hb.phone, hb.phone_pool, hb.mix))
        return sh, t

    def sfj(self, t: pd.DataFrame):
        t = t.sort_values(["date", "rid"], kind="stable").reset_index(drop=True)
        hb = self.fh["sfj"]
        rng = self.rng("sfj")
        sh = self.new_sheet("sfj", t, hb)
        n = len(t)
        pid = t["pid"].to_numpy()
        self.names(sh, rng, "受援人姓名", pid, gbk=False)
        noid = rng.random(n) < float(self.h["sfj_no_id_rate"])
        self.ids(sh, rng, "证件号码", pid, excel=None, mask=~noid)
        self.log_fixed(sh, "证件号码", noid, "id_not_recorded", [None] * n, self.idn[pid], pid)
        sh.cells["证件类型"] = np.where(noid, None, "居民身份证").astype(object)
        sh.cells["性别"] = self.sex_zh[pid]
        age = t["age_at"].to_numpy().astype(int)
        suf = rng.random(n) < float(hb_rate(self.cfg, "sfj", "age_suffix_rate"))
        sh.cells["年龄"] = np.where(suf, pd.Series(age).astype(str) + "岁", pd.Series(age).astype(str)).astype(object)
        sh.cells["案件类别"] = t["case_type"].to_numpy()
        sh.cells["受理日期"] = fmt_dates(t["start"].to_numpy(), self.styles(rng, n, hb.date, hb.date_pool, 0.4), False)
        sh.cells["结案日期"] = fmt_dates(t["end"].to_numpy(), self.styles(rng, n, hb.date, hb.date_pool, 0.4), False)
        lawyers = NamePools(self.cfg).random_names(rng, 12)
        sh.cells["承办律师"] = np.array(lawyers, dtype=object)[rng.integers(0, len(lawyers), n)]
        return sh, t

    def jsj(self, t: pd.DataFrame):
        t = t.assign(_sub=self.P["sub"].to_numpy()[t["pid"]]).sort_values(["category", "_sub", "pid", "rid"], kind="stable")
        t = t.reset_index(drop=True)
        hb = self.fh["jsj"]
        rng = self.rng("jsj")
        sh = self.new_sheet("jsj", t, hb)
        n = len(t)
        pid = t["pid"].to_numpy()
        self.names(sh, rng, "姓名", pid, gbk=False)
        self.ids(sh, rng, "身份证号", pid, excel="float", xlsx=True)
        sh.cells["性别"] = self.sex_zh[pid]
        sh.cells["扶助类别"] = t["category"].to_numpy()
        sh.cells["扶助年度"] = self.cfg.year
        sh.cells["年扶助金额"] = fmt_amounts(t["amount"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, hb.mix), True)
        sh.cells["户籍地址"] = self.P["address"].to_numpy(dtype=object)[pid]
        sh.cells["联系电话"] = fmt_phones(self.phone[pid], self.styles(rng, n, hb.phone, hb.phone_pool, hb.mix))
        stats = t.groupby("category").agg(p=("pid", "size"), a=("amount", "sum"))
        sh.sheet_name = "特扶对象"
        sh.sheets_after = [("统计", [["扶助类别", "人数", "金额"]] + [[c, int(r.p), float(r.a)] for c, r in stats.iterrows()])]
        return sh, t

    def jd(self, t: pd.DataFrame, code: str, sub_index: int):
        t = t.sort_values(["date", "rid"], kind="stable").reset_index(drop=True)
        hb = self.sh[code]
        rng = self.rng("jd", code)
        ext = "xlsx" if hb.xlsx else "csv"
        sh = self.new_sheet("jd", t, hb, filename=f"{code}_临时救助.{ext}", kind=ext,
                            encoding=None if hb.xlsx else "gbk")
        sh.source = code
        n = len(t)
        pid = t["pid"].to_numpy()
        seq = np.arange(1, n + 1)
        sh.cells["序号"] = (seq if hb.seq_style == "plain" else pd.Series(seq).astype(str).str.zfill(3).to_numpy(dtype=object))
        self.names(sh, rng, "申请人", pid, gbk=not hb.xlsx)
        self.ids(sh, rng, "身份证号", pid, excel="float" if hb.xlsx else "text", xlsx=hb.xlsx)
        sh.cells["联系电话"] = fmt_phones(self.phone[pid], self.styles(rng, n, hb.phone, hb.phone_pool, hb.mix))
        sh.cells["所属社区"] = self.community(rng, t["community"].to_numpy(), hb.community_suffix_rate)
        sh.cells["救助类型"] = self.cfg.program_names(t["program"].to_numpy())
        sh.cells["救助事由"] = t["reason"].to_numpy()
        sh.cells["救助金额"] = fmt_amounts(t["amount"].to_numpy(), self.styles(rng, n, hb.amount, hb.amount_pool, hb.mix), hb.xlsx)
        sh.cells["审批日期"] = fmt_dates(t["date"].to_numpy(), self.styles(rng, n, hb.date, hb.date_pool, hb.mix), hb.xlsx)
        sh.cells["经办人"] = np.array(hb.clerks, dtype=object)[rng.integers(0, len(hb.clerks), n)]
        if hb.total_row:
            sh.total = {"序号": "合计", "救助金额": float(t["amount"].sum())}
        sh.sheet_name = hb.sheet_name
        sh.sheets_after = [(s, []) for s in hb.extra_sheets if s != hb.sheet_name]
        return sh, t


def hb_rate(cfg: Config, key: str, name: str) -> float:
    return float(cfg.synth["habits"]["files"][key].get(name, 0.0))
