"""The habits of each export: which date, amount and phone format a source
mostly uses, CSV or XLSX per subdistrict, sheet names, 序号 style, clerks.
Drawn deterministically from the seed out of the pools of synth.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import Config, rng_for
from .names import NamePools

XLSX_ONLY = {"excel_date", "excel_serial", "excel_number", "yyyymm_number"}


@dataclass
class Habit:
    date: str = "iso"
    date_pool: list = field(default_factory=list)
    month: str = "yyyymm"
    month_pool: list = field(default_factory=list)
    amount: str = "plain"
    amount_pool: list = field(default_factory=list)
    phone: str = "plain"
    phone_pool: list = field(default_factory=list)
    xlsx: bool = False
    community_suffix_rate: float = 1.0
    seq_style: str = "plain"
    sheet_name: str = "Sheet1"
    extra_sheets: list = field(default_factory=list)
    total_row: bool = False
    clerks: list = field(default_factory=list)
    creator: str = "Administrator"
    mix: float = 0.15


def file_habits(cfg: Config, seed: int) -> dict[str, Habit]:
    rng = rng_for(seed, "habits")
    h = cfg.synth["habits"]
    creators = cfg.synth["vocab"]["creator_names"]
    out: dict[str, Habit] = {}
    for key, spec in h["files"].items():
        hb = Habit(mix=float(h["format_mix"]))
        for attr in ("date", "month", "amount", "phone"):
            if attr in spec:
                pool = list(spec[attr])
                setattr(hb, attr, pool[int(rng.integers(0, len(pool)))])
                setattr(hb, attr + "_pool", pool)
        hb.creator = creators[int(rng.integers(0, len(creators)))]
        out[key] = hb
    return out


def subdistrict_habits(cfg: Config, seed: int) -> dict[str, Habit]:
    rng = rng_for(seed, "habits", "subdistricts")
    h = cfg.synth["habits"]["subdistrict"]
    subs = cfg.subdistricts
    n = len(subs)
    n_x = int(round(cfg.synth["habits"]["subdistrict_xlsx_share"] * n))
    xl = np.zeros(n, dtype=bool)
    xl[rng.permutation(n)[:n_x]] = True
    pools = NamePools(cfg)
    creators = cfg.synth["vocab"]["creator_names"]
    out = {}
    for i, s in enumerate(subs):
        hb = Habit(xlsx=bool(xl[i]), mix=float(h["format_mix"]))
        dates = [d for d in h["date_formats"] if hb.xlsx or d not in XLSX_ONLY]
        hb.date = dates[int(rng.integers(0, len(dates)))]
        hb.date_pool = dates if hb.xlsx else [d for d in dates]
        if not hb.xlsx:
            hb.date_pool = dates + ["excel_serial"]  # an Excel serial now and then in CSVs too
        hb.amount = h["amount_formats"][int(rng.integers(0, len(h["amount_formats"])))]
        hb.amount_pool = list(h["amount_formats"])
        hb.phone = h["phone_formats"][int(rng.integers(0, len(h["phone_formats"])))]
        hb.phone_pool = list(h["phone_formats"])
        hb.community_suffix_rate = float(h["community_suffix_rate"][int(rng.integers(0, len(h["community_suffix_rate"])))])
        hb.seq_style = h["seq_styles"][int(rng.integers(0, len(h["seq_styles"])))]
        hb.sheet_name = h["sheet_names"][int(rng.integers(0, len(h["sheet_names"])))]
        hb.extra_sheets = list(h["extra_sheets"][int(rng.integers(0, len(h["extra_sheets"])))])
        hb.total_row = bool(rng.random() < h["total_row_rate"])
        k = int(rng.integers(h["clerks"][0], h["clerks"][1] + 1))
        hb.clerks = pools.random_names(rng, k)
        hb.creator = creators[int(rng.integers(0, len(creators)))]
        out[s.code] = hb
    return out
