"""The next months of a batch: the same year's ledgers exported again (``synth --month N``).

An agency's export is a cumulative ledger of the year. Month ``N`` of a batch
is the month-1 batch of the same population and seed exported ``N - 1``
months later, changed as a district's ledgers change between two exports
(each month from the previous one, rates in ``schemas/synth.yaml`` under
``months``):

* **leavers**: households that left the district (moved away, died): their
  rows are purged from every ledger — about ``leave_rate`` of the persons
  seen the month before;
* **movers**: households that moved to another subdistrict (about
  ``move_rate`` of the persons seen): every export that states where a person
  lives (roster, registry, disability subsidy, employment, medical aid,
  student aid, family planning) now states the new subdistrict, community
  and address; rows granted by a subdistrict stay in its file, and the roster
  number is kept (a transfer keeps the case);
* **late entries**: grants approved at the end of the year and entered since
  (临时救助 of the subdistrict where the person lives): new persons
  (about ``arrive_rate`` of the persons seen — people of the population
  never seen in an export before) and some known persons
  (``late_entry_rate``);
* the rows of every export come in another order, and one export is
  delivered under another name (``rename``).

A row that stays is the same ledger entry, so its cells are exactly those of
the month before (the damage is in the agency's data, not in the export).
The truth keeps the population's person ids, so who is who across months is
known; ``truth/months.parquet`` lists who left, moved and arrived.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import numpy as np
import pandas as pd

from .config import Config, rng_for
from .exports import Exporter, Sheet
from .histories import D, _table, rand_dates
from .population import Population

#: columns that say where a person lives, per export (filled from the logical table's
#: ``sub`` / ``community`` / ``address`` or from the person's address)
PLACE_COLUMNS = {
    "mzj_roster": ["所属街道", "所属社区", "家庭住址"],
    "cl_registry": ["所属街道", "所属社区"],
    "cl_subsidy": ["jdmc", "sqmc"],
    "rsj": ["所属街道"],
    "mzj_medical": ["所属街道"],
    "jyj": ["家庭住址"],
    "jsj": ["户籍地址"],
}
SERIAL = "序号"


class _LateEntries(Exporter):
    """The exporter of rows entered since the last export: the same files' habits, damage drawn
    from streams of their own (so a new row is not damaged like the row it follows)."""

    def __init__(self, cfg: Config, persons: pd.DataFrame, households: pd.DataFrame, seed: int, month: int):
        super().__init__(cfg, persons, households, seed)
        self.month = month

    def rng(self, *stage):
        return rng_for(self.seed, "exports", "late-entries", str(self.month), *stage)


def _seen(built: list[tuple[Sheet, pd.DataFrame]]) -> np.ndarray:
    pids = [np.asarray(p, dtype=np.int64) for sh, _ in built for _, p in sh.mentions]
    allp = np.concatenate(pids) if pids else np.zeros(0, np.int64)
    return np.unique(allp[allp >= 0])


def _pick_households(rng: np.random.Generator, hh_of: np.ndarray, candidates: np.ndarray, target: int) -> np.ndarray:
    """Whole households, in random order, until ``target`` of the ``candidates`` persons are covered."""
    if target <= 0 or not len(candidates):
        return np.zeros(0, np.int64)
    hh = np.unique(hh_of[candidates])
    hh = hh[rng.permutation(len(hh))]
    per = pd.Series(hh_of[candidates]).value_counts().reindex(hh).to_numpy()
    return hh[: int(np.searchsorted(np.cumsum(per), target)) + 1]


def _take(sh: Sheet, tt: pd.DataFrame, idx: np.ndarray) -> tuple[Sheet, pd.DataFrame]:
    """The sheet and its logical table restricted to (and ordered like) data rows ``idx``."""
    idx = np.asarray(idx, dtype=np.int64)
    new_pos = np.full(len(sh.cells), -1, np.int64)
    new_pos[idx] = np.arange(len(idx))
    quirks = []
    for q in sh.quirks:
        pos = new_pos[q["data_idx"].to_numpy()]
        keep = pos >= 0
        if keep.any():
            quirks.append(q[keep].assign(data_idx=pos[keep]))
    out = replace(sh, cells=sh.cells.iloc[idx].reset_index(drop=True), rids=np.asarray(sh.rids)[idx],
                  mentions=[(role, np.asarray(p)[idx]) for role, p in sh.mentions], quirks=quirks)
    return out, tt.iloc[idx].reset_index(drop=True)


def _append(sh: Sheet, tt: pd.DataFrame, add: Sheet, add_tt: pd.DataFrame) -> tuple[Sheet, pd.DataFrame]:
    """Rows of ``add`` (same export, same mention roles) after those of ``sh``."""
    n = len(sh.cells)
    cells = pd.concat([sh.cells, add.cells[sh.cells.columns]], ignore_index=True)
    roles = dict(add.mentions)
    mentions = [(role, np.concatenate([np.asarray(p), np.asarray(roles[role])])) for role, p in sh.mentions]
    quirks = list(sh.quirks) + [q.assign(data_idx=q["data_idx"].to_numpy() + n) for q in add.quirks]
    out = replace(sh, cells=cells, rids=np.concatenate([np.asarray(sh.rids), np.asarray(add.rids)]), mentions=mentions,
                  quirks=quirks)
    return out, pd.concat([tt, add_tt], ignore_index=True)


def _renumber(sh: Sheet, tt: pd.DataFrame) -> None:
    """序号 1..n in the new order (in the style of the file) and the 合计 row's new total."""
    if SERIAL in sh.cells.columns and len(sh.cells):
        first = sh.cells[SERIAL].iat[0]
        seq = np.arange(1, len(sh.cells) + 1)
        padded = isinstance(first, str) and first.startswith("0")
        sh.cells[SERIAL] = (pd.Series(seq).astype(str).str.zfill(len(first)).to_numpy(dtype=object) if padded
                            else seq)
    if sh.total is not None:
        sh.total = {k: (v if k == SERIAL else float(tt["amount"].sum())) for k, v in sh.total.items()}


def _new_places(cfg: Config, rng: np.random.Generator, pop: Population, movers: np.ndarray) -> pd.DataFrame:
    """A new subdistrict, community and address for each moving household (index: household)."""
    H = pop.households
    subs = cfg.subdistricts
    old = H["sub"].to_numpy()[movers]
    new = (old + rng.integers(1, len(subs), len(movers))) % len(subs)  # never the same subdistrict
    comm = np.array([subs[s].communities[int(rng.integers(0, len(subs[s].communities)))] for s in new], dtype=object)
    # the address of a household of the new subdistrict, another flat in its building
    pool = [np.flatnonzero(H["sub"].to_numpy() == s) for s in range(len(subs))]
    donor = np.array([pool[s][int(rng.integers(0, len(pool[s])))] if len(pool[s]) else m for s, m in zip(new, movers)])
    room = rng.integers(1, 8, len(movers)) * 100 + rng.integers(1, 5, len(movers))
    addr = [re.sub(r"\d+室$", f"{r}室", a) for a, r in zip(H["address"].to_numpy(dtype=object)[donor], room)]
    return pd.DataFrame({"sub": new, "community": comm, "address": np.array(addr, dtype=object)}, index=movers)


def _late_grants(cfg: Config, rng: np.random.Generator, P: pd.DataFrame, pids: np.ndarray, days: int,
                 rid0: int) -> pd.DataFrame:
    """One 临时救助 grant per person, dated in the last ``days`` days of the year."""
    year = cfg.year
    ye = dt.date(year, 12, 31)
    date = rand_dates(rng, len(pids), D(ye - dt.timedelta(days=days - 1)), D(ye))
    amounts = np.array(cfg.synth["amounts"]["temporary_relief"], dtype=float)
    reasons = cfg.synth["vocab"]["temp_relief_reasons"]
    names, weights = np.array(list(reasons)), np.array(list(reasons.values()), dtype=float)
    t = _table(cfg.program_code("jd", "临时救助"), pids, P["hh"].to_numpy()[pids],
               rng.choice(amounts, len(pids)), date, date, date, reason=rng.choice(names, len(pids), p=weights / weights.sum()))
    t["sub"] = P["sub"].to_numpy()[pids]
    t["community"] = P["community"].to_numpy()[pids]
    t["rid"] = np.arange(rid0, rid0 + len(t), dtype=np.int64)
    return t


def _rename(filename: str, stamp: dt.datetime, pattern: str) -> str:
    stem, _, ext = filename.rpartition(".")
    return pattern.format(stem=stem, ext=ext, yyyymm=f"{stamp.year}{stamp.month:02d}")


def export_stamp(cfg: Config, month: int) -> dt.datetime:
    """When month ``month``'s exports were taken: the month-1 export date, ``month - 1`` months on."""
    t = cfg.export_timestamp
    k = t.year * 12 + t.month - 1 + month - 1
    return t.replace(year=k // 12, month=k % 12 + 1)


def advance(cfg: Config, pop: Population, built: list[tuple[Sheet, pd.DataFrame]], seed: int,
            month: int) -> tuple[list[tuple[Sheet, pd.DataFrame]], pd.DataFrame]:
    """The exports of month ``month`` from those of month 1 (``built``: sheet and logical table
    per export, aligned row by row). Returns them and the changes (person_id, month, change:
    left | moved | arrived | late_entry). ``pop``'s persons get their new places."""
    mc = cfg.synth["months"]
    P, H = pop.persons, pop.households
    hh_of = P["hh"].to_numpy()
    changes = []
    ever_seen = _seen(built)
    left_before = np.zeros(len(P), dtype=bool)  # households that left in an earlier month
    for m in range(2, month + 1):
        r = lambda *stage: rng_for(seed, "months", str(m), *stage)  # noqa: E731 - one stream per step
        seen = _seen(built)
        n_seen = len(seen)
        gone_hh = _pick_households(r("leave"), hh_of, seen, int(round(float(mc["leave_rate"]) * n_seen)))
        leaving = np.isin(hh_of, gone_hh)
        stay = seen[~leaving[seen]]
        move_hh = _pick_households(r("move"), hh_of, stay, int(round(float(mc["move_rate"]) * n_seen)))
        places = _new_places(cfg, r("places"), pop, move_hh)
        moving = np.isin(hh_of, move_hh)
        adults = (P["age"].to_numpy() >= 18) & ~leaving & ~left_before
        never = np.flatnonzero(adults & ~np.isin(np.arange(len(P)), ever_seen))
        arrive = np.sort(r("arrive").permutation(never)[: int(round(float(mc["arrive_rate"]) * n_seen))])
        known = stay[adults[stay]]
        again = np.sort(r("again").permutation(known)[: int(round(float(mc["late_entry_rate"]) * n_seen))])

        # movers: the person's place changes in the population and in every export that states it
        for col in ("sub", "community", "address"):
            P.loc[moving, col] = places[col].reindex(hh_of[moving]).to_numpy()
        H.loc[move_hh, ["sub", "community", "address"]] = places[["sub", "community", "address"]].to_numpy()
        P.loc[moving, "subdistrict"] = np.array([s.code for s in cfg.subdistricts])[P.loc[moving, "sub"].to_numpy(dtype=int)]
        moved_ex = Exporter(cfg, P, H, seed)
        out = []
        rid = max(int(np.max(np.asarray(sh.rids), initial=-1)) for sh, _ in built) + 1
        late = _LateEntries(cfg, P, H, seed, m)
        grants = _late_grants(cfg, r("late"), P, np.concatenate([arrive, again]), int(mc["late_entry_days"]), rid)
        for sh, tt in built:
            pids = np.stack([np.asarray(p, dtype=np.int64) for _, p in sh.mentions])
            keep = ~(leaving[np.maximum(pids, 0)] & (pids >= 0)).any(axis=0)
            sh, tt = _take(sh, tt, np.flatnonzero(keep))
            mover_rows = np.flatnonzero(moving[np.asarray(sh.mentions[0][1], dtype=np.int64)])
            if sh.key in PLACE_COLUMNS and len(mover_rows):
                sh, tt = _move(sh, tt, mover_rows, places, hh_of, moved_ex)
            if sh.key == "jd":
                code = sh.source
                i = [s.code for s in cfg.subdistricts].index(code)
                mine = grants[grants["sub"].to_numpy() == i]
                if len(mine):
                    add, add_tt = late.jd(mine, code, i)
                    sh, tt = _append(sh, tt, add, add_tt)
            order = r("reorder", sh.filename).permutation(len(sh.cells))
            sh, tt = _take(sh, tt, order)
            _renumber(sh, tt)
            out.append((sh, tt))
        pick = int(r("rename").integers(0, len(out)))
        sh, tt = out[pick]
        out[pick] = (replace(sh, filename=_rename(sh.filename, export_stamp(cfg, m), str(mc["rename"]))), tt)
        built = out
        ids = P["person_id"].to_numpy()
        changes += [pd.DataFrame({"person_id": ids[seen[leaving[seen]]], "month": m, "change": "left"}),
                    pd.DataFrame({"person_id": ids[stay[moving[stay]]], "month": m, "change": "moved"}),
                    pd.DataFrame({"person_id": ids[arrive], "month": m, "change": "arrived"}),
                    pd.DataFrame({"person_id": ids[again], "month": m, "change": "late_entry"})]
        ever_seen = np.union1d(ever_seen, arrive)
        left_before |= leaving
    table = pd.concat(changes, ignore_index=True) if changes else pd.DataFrame(columns=["person_id", "month", "change"])
    return built, table


def _move(sh: Sheet, tt: pd.DataFrame, rows: np.ndarray, places: pd.DataFrame, hh_of: np.ndarray,
          ex: Exporter) -> tuple[Sheet, pd.DataFrame]:
    """The movers' rows of one export with their new place (cells as the export writes them)."""
    tt = tt.copy()
    hh = hh_of[tt["pid"].to_numpy()[rows]]
    for col in ("sub", "community", "address"):
        if col in tt:
            values = tt[col].to_numpy(copy=True)
            values[rows] = places[col].reindex(hh).to_numpy()
            tt[col] = values
    again, again_tt = getattr(ex, sh.key)(tt)
    where = pd.Index(np.asarray(again.rids)).get_indexer(np.asarray(sh.rids)[rows])
    cells = sh.cells.copy()
    for col in PLACE_COLUMNS[sh.key]:
        values = cells[col].to_numpy(dtype=object, copy=True)
        values[rows] = again.cells[col].to_numpy(dtype=object)[where]
        cells[col] = values
    return replace(sh, cells=cells), tt
