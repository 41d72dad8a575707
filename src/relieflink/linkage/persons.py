"""Relief mentions → persons and households (the product's linkage stage).

:func:`link_mentions` runs the :class:`~relieflink.linkage.engine.Linker` with
the ``relief`` settings on the canonical ``mentions`` table and returns the
mentions with ``person_id`` / ``household_id``, the ``persons``,
``households`` and ``pairs`` tables (and ``records`` with the beneficiary's
ids when records are given).

Person ids are derived from content, never from enumeration order: a hash of
the smallest valid ID of the person, else of the smallest ``file|row|role``
of its mentions. Household ids: a hash of the smallest roster 户编号, else of
the smallest person id of the household.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from relieflink.linkage.engine import Linker, LinkResult
from relieflink.linkage.settings import Settings
from relieflink.linkage.table import NULL

STRING = pd.StringDtype("pyarrow")


def stable_ids(prefix: str, keys: pd.Series) -> pd.Series:
    """Deterministic 16-hex-digit ids from strings (SipHash with a fixed key; vectorized)."""
    h = pd.util.hash_array(keys.astype(str).to_numpy(dtype=object), hash_key="relieflink-ids-1")
    hexs = np.char.zfill(np.char.mod("%x", h.astype(np.uint64)), 16) if len(h) else np.array([], dtype=str)
    return pd.Series(np.char.add(prefix, hexs), index=keys.index, dtype=object)


@dataclass
class ReliefLinkage:
    mentions: pd.DataFrame
    persons: pd.DataFrame
    households: pd.DataFrame
    pairs: pd.DataFrame
    blocking: pd.DataFrame
    result: LinkResult
    records: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def model(self) -> Settings:
        return self.result.settings

    def write(self, out_dir: Path) -> dict[str, Path]:
        """Write pairs/persons/households (and the trained model as JSON) into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in ("pairs", "persons", "households"):
            p = out_dir / f"{name}.parquet"
            getattr(self, name).to_parquet(p, index=False)
            paths[name] = p
        p = out_dir / "linkage_model.json"
        self.model.save(p)
        paths["model"] = p
        return paths


def _mode_per_group(labels: np.ndarray, values: pd.Series) -> pd.Series:
    """Most frequent non-null value per label (ties: smallest value)."""
    df = pd.DataFrame({"g": labels, "v": values.to_numpy(dtype=object)}).dropna()
    if df.empty:
        return pd.Series(dtype=object)
    df["v"] = df["v"].astype(str)
    c = df.groupby(["g", "v"], sort=False).size().reset_index(name="n")
    c = c.sort_values(["g", "n", "v"], ascending=[True, False, True], kind="stable")
    return c.drop_duplicates("g").set_index("g")["v"]


def link_mentions(mentions: pd.DataFrame, records: pd.DataFrame | None = None,
                  settings: Settings | str | Path = "relief", train: bool | None = None,
                  labels: pd.DataFrame | None = None) -> ReliefLinkage:
    """Link relief mentions into persons and households.

    ``settings``: a settings name/path (YAML: trained on this batch by EM) or a
    trained model (JSON or :class:`Settings` with m/u/λ: used as is unless
    ``train=True``). ``labels``: optional clerical-review pairs
    (``left``, ``right`` = row positions in ``mentions``; ``is_match``) that fix m.
    """
    t0 = time.perf_counter()
    s = settings if isinstance(settings, Settings) else Settings.load(settings)
    m = mentions.reset_index(drop=True)
    linker = Linker(s)
    res = linker.run(m, train=train, labels=labels)
    t1 = time.perf_counter()
    tab, nodes = res.table, res.nodes
    lab = res.record_label

    # person ids from content
    valid_codes = tab.col("id_valid")[nodes.record_node]
    valid = pd.Series(np.where(valid_codes != NULL, tab.vocab[np.maximum(valid_codes, 0)], None), dtype=object)
    frr = (m["file"].astype(str) + "|" + m["row"].astype(str).str.zfill(7) + "|" + m["role"].astype(str))
    g = pd.DataFrame({"lab": lab, "vid": valid, "frr": frr})
    min_vid = g.dropna(subset=["vid"]).groupby("lab")["vid"].min()
    min_frr = g.groupby("lab")["frr"].min()
    key = min_frr.copy()
    has = min_vid.reindex(key.index)
    key = ("id:" + has).where(has.notna(), "m:" + min_frr)
    pid_of_label = stable_ids("P", key)
    person_id = pid_of_label.reindex(lab).to_numpy()
    out = m.copy()
    out["person_id"] = pd.array(person_id, dtype=STRING)

    persons = pd.DataFrame({"person_id": pid_of_label.to_numpy()}, index=pid_of_label.index)
    persons["name"] = _mode_per_group(lab, m["name"]).reindex(persons.index)
    persons["id_number"] = min_vid.reindex(persons.index)
    bd = pd.to_datetime(m["birth_date"], errors="coerce").dt.strftime("%Y-%m-%d")
    persons["birth_date"] = pd.to_datetime(_mode_per_group(lab, bd).reindex(persons.index), errors="coerce").dt.date
    persons["sex"] = _mode_per_group(lab, m["sex"]).reindex(persons.index)
    persons["n_mentions"] = pd.Series(lab).value_counts().reindex(persons.index).to_numpy()
    src = pd.DataFrame({"g": lab, "s": m["source"].astype(str)}).drop_duplicates().sort_values(["g", "s"])
    persons["sources"] = src.groupby("g")["s"].agg(",".join).reindex(persons.index)
    persons["ambiguous"] = False
    if res.ambiguous is not None:
        amb_lab = np.unique(res.node_label[res.ambiguous])
        persons.loc[persons.index.isin(amb_lab), "ambiguous"] = True
    t2 = time.perf_counter()

    hh_person, households = build_households(out, s.households)
    out["household_id"] = pd.array(hh_person.reindex(out["person_id"]).to_numpy(), dtype=STRING)
    # a roster mention belongs to the household of its own 户编号 (a person in two roster households)
    if "household_no" in out:
        hn = out["household_no"].astype(object)
        roster_hid = stable_ids("H", "hn:" + hn.fillna("").astype(str))
        out["household_id"] = out["household_id"].where(hn.isna(), pd.array(roster_hid.to_numpy(), dtype=STRING))
    persons["household_id"] = hh_person.reindex(persons["person_id"]).to_numpy()
    persons = persons.sort_values("person_id").reset_index(drop=True)
    for c in ("person_id", "name", "id_number", "sex", "sources", "household_id"):
        persons[c] = persons[c].astype(STRING)

    # pairs: node pairs, with the smallest mention id of each node
    pairs = res.pairs_frame()
    mid = m["mention_id"].to_numpy() if "mention_id" in m else np.arange(len(m))
    node_min = pd.Series(mid).groupby(nodes.record_node).min().to_numpy()
    pairs.insert(0, "left_mention_id", node_min[pairs["left_node"].to_numpy()])
    pairs.insert(1, "right_mention_id", node_min[pairs["right_node"].to_numpy()])
    node_pid = pd.Series(person_id).groupby(nodes.record_node).first().to_numpy()
    pairs["left_person_id"] = pd.array(node_pid[pairs["left_node"].to_numpy()], dtype=STRING)
    pairs["right_person_id"] = pd.array(node_pid[pairs["right_node"].to_numpy()], dtype=STRING)
    pairs["left_n_mentions"] = nodes.weight[pairs["left_node"].to_numpy()]
    pairs["right_n_mentions"] = nodes.weight[pairs["right_node"].to_numpy()]

    rec = None
    if records is not None:
        rec = records.copy()
        pm = out.set_index("mention_id")[["person_id", "household_id"]]
        j = pm.reindex(rec["beneficiary_mention_id"])
        rec["person_id"] = pd.array(j["person_id"].to_numpy(), dtype=STRING)
        rec["household_id"] = pd.array(j["household_id"].to_numpy(), dtype=STRING)
    blocking = pd.DataFrame([b.__dict__ for b in res.blocking_stats])
    t3 = time.perf_counter()
    timings = dict(res.timings)
    timings.update({"persons": t2 - t1, "households_and_outputs": t3 - t2, "total": t3 - t0})
    return ReliefLinkage(out, persons, households, pairs, blocking, res, rec, timings)


def build_households(mentions: pd.DataFrame, cfg: dict) -> tuple[pd.Series, pd.DataFrame]:
    """Households by union-find over persons.

    Evidence: the roster's 户编号; two persons named on one row (student and
    guardian, worker and child, member and head); a shared address *and* phone
    (groups larger than ``address_phone_max_persons`` are ignored, so one
    address cannot glue everyone). Two roster households never merge: a
    person listed in two rosters is a finding (EXCL-STATUS), not a merge.
    Returns (household_id per person_id, households table).
    """
    cap = int(cfg.get("address_phone_max_persons", 8))
    pid = mentions["person_id"].astype(str)
    persons = pd.Index(np.unique(pid.to_numpy()))
    P = len(persons)
    pidx = persons.get_indexer(pid)
    hn = mentions["household_no"].astype(object) if "household_no" in mentions else pd.Series([None] * len(pid))
    # roster household of each person: the smallest 户编号 among its mentions
    rh = pd.DataFrame({"p": pidx, "h": hn}).dropna().groupby("p")["h"].min()
    person_hh = np.full(P, -1, np.int64)
    hh_codes, hh_uni = pd.factorize(rh.to_numpy(), sort=True)
    person_hh[rh.index.to_numpy()] = hh_codes
    H = len(hh_uni)
    # edges between persons: same row (different roles), same address+phone
    edges = []
    ev = []
    rows = pd.DataFrame({"k": mentions["file"].astype(str) + "|" + mentions["row"].astype(str), "p": pidx})
    rows = rows.drop_duplicates()
    first = rows.groupby("k")["p"].transform("min")
    e = rows[rows["p"] != first.to_numpy()]
    edges.append((first[e.index].to_numpy(), e["p"].to_numpy()))
    ev.append("same_row")
    if "address" in mentions and "phone" in mentions:
        ap = pd.DataFrame({"a": mentions["address"].astype(object), "t": mentions["phone"].astype(object), "p": pidx})
        ap = ap.dropna().drop_duplicates()
        size = ap.groupby(["a", "t"])["p"].transform("size")
        ap = ap[(size > 1) & (size <= cap)]
        f2 = ap.groupby(["a", "t"])["p"].transform("min")
        e2 = ap[ap["p"] != f2.to_numpy()]
        edges.append((f2[e2.index].to_numpy(), e2["p"].to_numpy()))
        ev.append("address_phone")
    # graph over [roster households (H)] + [persons without roster household]
    node = np.where(person_hh >= 0, person_hh, H + np.arange(P))
    a = np.concatenate([x for x, _ in edges]) if edges else np.zeros(0, np.int64)
    b = np.concatenate([y for _, y in edges]) if edges else np.zeros(0, np.int64)
    na, nb = node[a], node[b]
    # never merge two roster households: drop edges between two roster-household nodes
    keep = ~((na < H) & (nb < H)) & (na != nb)
    na, nb = na[keep], nb[keep]
    # a non-roster component touching several roster households attaches to none of them via
    # the weaker households: keep, per non-roster node, edges to at most one roster household
    # (the smallest), so components hold at most one roster household
    roster_side = (na < H) | (nb < H)
    other = np.where(na < H, nb, na)
    rs = np.where(na < H, na, nb)
    if roster_side.any():
        pick = pd.DataFrame({"o": other[roster_side], "r": rs[roster_side]}).groupby("o")["r"].min()
        ok = pick.reindex(other[roster_side]).to_numpy() == rs[roster_side]
        keep2 = ~roster_side
        keep2[np.flatnonzero(roster_side)[ok]] = True
        na, nb = na[keep2], nb[keep2]
    N = H + P
    g = coo_matrix((np.ones(len(na), np.int8), (na, nb)), shape=(N, N))
    _, comp = connected_components(g, directed=False)
    # components with two roster households (through non-roster persons) are split back:
    # each roster household keeps its own id; non-roster persons go with the smallest
    pc = comp[node]
    comp_key = pd.Series(np.where(person_hh >= 0, "hn:" + pd.Series(hh_uni).reindex(np.maximum(person_hh, 0)).astype(str).to_numpy(), None), dtype=object)
    df = pd.DataFrame({"c": pc, "roster": comp_key, "pid": persons.to_numpy()})
    roster_min = df.dropna(subset=["roster"]).groupby("c")["roster"].min()
    pid_min = df.groupby("c")["pid"].min()
    ck = ("p:" + pid_min).where(roster_min.reindex(pid_min.index).isna(), roster_min.reindex(pid_min.index))
    default_key = ck.reindex(pc).to_numpy()
    key = np.where(df["roster"].notna(), df["roster"].to_numpy(dtype=object), default_key)
    hid = stable_ids("H", pd.Series(key, dtype=object))
    hh_person = pd.Series(hid.to_numpy(), index=persons)
    # households table: one row per (household, person), relation and evidence
    rel = mentions.assign(_p=pid)
    relation = _mode_per_group(pidx, rel["relation"] if "relation" in rel else pd.Series([None] * len(rel)))
    evid = np.where(person_hh >= 0, "household_no", None).astype(object)
    in_multi = pd.Series(pc).map(pd.Series(pc).value_counts()).to_numpy() > 1
    evid = np.where((evid == None) & in_multi, "same_row_or_address_phone", evid)  # noqa: E711
    evid = np.where(evid == None, "single", evid)  # noqa: E711
    households = pd.DataFrame({
        "household_id": hid.to_numpy(), "person_id": persons.to_numpy(),
        "relation": relation.reindex(np.arange(P)).to_numpy(), "evidence": evid,
    })
    # secondary roster memberships (a person on two rosters) are listed too
    allh = pd.DataFrame({"p": pidx, "h": hn}).dropna().drop_duplicates()
    allh = allh[allh["h"].to_numpy() != rh.reindex(allh["p"]).to_numpy()]
    if len(allh):
        extra = pd.DataFrame({"household_id": stable_ids("H", "hn:" + allh["h"].astype(str)).to_numpy(),
                              "person_id": persons.to_numpy()[allh["p"].to_numpy()], "relation": None,
                              "evidence": "household_no_secondary"})
        households = pd.concat([households, extra], ignore_index=True)
    households = households.sort_values(["household_id", "person_id"]).reset_index(drop=True)
    for c in households.columns:
        households[c] = households[c].astype(STRING)
    return hh_person, households
