"""Relief mentions → persons and households (the product's linkage stage).

:func:`link_mentions` runs the :class:`~relieflink.linkage.engine.Linker` with
the ``relief`` settings on the canonical ``mentions`` table and returns the
mentions with ``person_id`` / ``household_id``, the ``persons``,
``households`` and ``pairs`` tables (and ``records`` with the beneficiary's
ids when records are given).

Person ids are derived from content, never from enumeration order, file
names or row numbers: a hash of the smallest valid ID of the person, else of
the smallest fingerprint of its mentions (:mod:`relieflink.linkage.fingerprint`).
Household ids: a hash of the smallest roster 户编号, else of the smallest person
id of the household. Month to month, :mod:`relieflink.linkage.continuity`
keeps the ids of persons and households already known.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from relieflink.ingest.schema import write_parquet
from relieflink.linkage.engine import Linker, LinkResult
from relieflink.linkage.fingerprint import mention_fingerprints
from relieflink.linkage.prepare import per_value, with_solo
from relieflink.linkage.settings import Households, Settings
from relieflink.linkage.table import NULL, text_order

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
        comparisons = [c.name for c in self.model.comparisons]
        for name in ("pairs", "persons", "households"):
            paths[name] = write_parquet(getattr(self, name), name, out_dir / f"{name}.parquet", comparisons)
        p = out_dir / "linkage_model.json"
        self.model.save(p)
        paths["model"] = p
        return paths


def _mode_per_group(labels: np.ndarray, values: pd.Series) -> pd.Series:
    """Most frequent non-null value per label (ties: smallest value); integer group-bys only."""
    codes, uni = _sorted_codes(values)
    return _mode_codes(labels, codes, uni)


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes whose order is the order of the values as strings (nulls: -1)."""
    codes, uni = pd.factorize(values, use_na_sentinel=True)  # as it is: only distinct values become objects
    su = pd.Series(np.asarray(uni, dtype=object), dtype=object).astype(str)
    order = text_order(su.to_numpy(dtype=object))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    out = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1) if len(rank) else np.full(len(codes), -1, np.int64)
    return out, su.to_numpy(dtype=object)[order]


def _mode_codes(labels: np.ndarray, codes: np.ndarray, uni: np.ndarray) -> pd.Series:
    ok = codes >= 0
    if not ok.any():
        return pd.Series(dtype=object)
    df = pd.DataFrame({"g": np.asarray(labels)[ok], "v": codes[ok]})
    c = df.groupby(["g", "v"], sort=False).size().reset_index(name="n")
    c = c.sort_values(["g", "n", "v"], ascending=[True, False, True], kind="stable").drop_duplicates("g")
    return pd.Series(uni[c["v"].to_numpy()], index=c["g"].to_numpy(), dtype=object)


def _min_string_per_group(labels: np.ndarray, codes: np.ndarray, uni: np.ndarray) -> pd.Series:
    """Smallest value per label, from codes ordered like the values (-1 = null)."""
    ok = codes >= 0
    mn = pd.Series(codes[ok]).groupby(np.asarray(labels)[ok]).min()
    return pd.Series(uni[mn.to_numpy()], index=mn.index, dtype=object)


def content_key(min_valid_id: pd.Series, min_fingerprint: pd.Series) -> pd.Series:
    """What a person id is a hash of, per person label: ``id:`` + its smallest valid ID, else
    ``m:`` + the smallest fingerprint of its mentions (labels: ``min_fingerprint``'s index)."""
    valid = min_valid_id.reindex(min_fingerprint.index)
    return ("id:" + valid.astype(object)).where(valid.notna(), "m:" + min_fingerprint.astype(object))


def link_mentions(mentions: pd.DataFrame, records: pd.DataFrame | None = None,
                  settings: Settings | str | Path = "relief", train: bool | None = None,
                  labels: pd.DataFrame | None = None, previous: pd.DataFrame | None = None,
                  linker: Callable[[Settings], Linker] = Linker) -> ReliefLinkage:
    """Link relief mentions into persons and households.

    ``settings``: a settings name/path (YAML: trained on this batch by EM) or a
    trained model (JSON or :class:`Settings` with m/u/λ: used as is unless
    ``train=True``). ``labels``: optional clerical-review pairs
    (``left``, ``right`` = row positions in ``mentions``; ``is_match``) that fix m.
    ``previous``: the previous run's mentions (``fingerprint``, ``person_id``): a mention
    found there by its fingerprint that linkage leaves without a valid ID's person stays
    with its previous person's successor unless the current evidence forbids it
    (:func:`relieflink.linkage.clustering.keep_previous_links`); the ids themselves are
    carried over afterwards (:mod:`relieflink.linkage.continuity`).
    ``linker``: makes the linker from the settings (relieflink.spark's runs the pair stages on Spark).
    """
    t0 = time.perf_counter()
    s = settings if isinstance(settings, Settings) else Settings.load(settings)
    m = mentions.reset_index(drop=True)
    if "fingerprint" not in m or m["fingerprint"].isna().any():  # ingest leaves the column empty
        m["fingerprint"] = mention_fingerprints(m, records).to_numpy()
    m = with_solo(m)
    before = None
    if previous is not None:  # per mention: its person last month, coded (-1: not in the previous run)
        known = pd.Series(previous["person_id"].to_numpy(dtype=object), index=previous["fingerprint"].to_numpy(dtype=object))
        known = known[~known.index.duplicated()]
        before = pd.factorize(m["fingerprint"].map(known), use_na_sentinel=True)[0].astype(np.int64)
    res = linker(s).run(m, train=train, labels=labels, previous=before)
    m = m.drop(columns=["solo"], errors="ignore")
    t1 = time.perf_counter()
    tab, nodes = res.table, res.nodes
    lab = res.record_label

    # person ids from content: integer keys, strings built once per person
    nl = res.node_label
    vcodes = tab.col("id_valid")
    vo = vcodes != NULL
    uvc = np.unique(vcodes[vo])
    vstr = tab.vocab[uvc]
    order = text_order(vstr.astype(str).astype(object))
    rank = np.full(len(tab.vocab), -1, np.int64)
    rank[uvc[order]] = np.arange(len(uvc))
    min_vid = _min_string_per_group(nl, rank[np.maximum(vcodes, 0)] * vo - (~vo), vstr[order])
    fcodes, funi = _sorted_codes(m["fingerprint"])
    pid_of_label = stable_ids("P", content_key(min_vid, _min_string_per_group(lab, fcodes, funi)))
    person_id = pid_of_label.reindex(lab).to_numpy()
    out = m.copy(deep=False)  # new columns only: the mention table is not copied
    # the node of pairs.parquet each mention is in (mentions with identical features are one node),
    # so that a report can find the scored pairs that join a flag's records
    out["link_node"] = nodes.record_node.astype(np.int64)
    out["person_id"] = pd.array(person_id, dtype=STRING)

    persons = pd.DataFrame({"person_id": pid_of_label.to_numpy()}, index=pid_of_label.index)
    persons["name"] = _mode_per_group(lab, m["name"]).reindex(persons.index)
    persons["id_number"] = min_vid.reindex(persons.index)
    bd = per_value(m["birth_date"], lambda u: pd.to_datetime(u, errors="coerce").dt.strftime("%Y-%m-%d"))
    persons["birth_date"] = pd.to_datetime(_mode_per_group(lab, bd).reindex(persons.index), errors="coerce").dt.date
    persons["sex"] = _mode_per_group(lab, m["sex"]).reindex(persons.index)
    persons["n_mentions"] = pd.Series(lab).value_counts().reindex(persons.index).to_numpy()
    # sources: a bit per source, OR-ed per person; the distinct masks spelled once
    scodes, suni = _sorted_codes(m["source"].astype(str))
    bits = np.left_shift(np.int64(1), scodes.astype(np.int64))
    mask = pd.DataFrame({"g": lab, "b": bits}).drop_duplicates().groupby("g")["b"].sum()  # distinct bits: sum = OR
    umask, minv = np.unique(mask.to_numpy(), return_inverse=True)
    spelled = np.array([",".join(suni[[j for j in range(len(suni)) if (int(um) >> j) & 1]]) for um in umask],
                       dtype=object)
    persons["sources"] = pd.Series(spelled[minv.ravel()], index=mask.index).reindex(persons.index)
    persons["ambiguous"] = False
    if res.ambiguous is not None:
        amb_lab = np.unique(res.node_label[res.ambiguous])
        persons.loc[persons.index.isin(amb_lab), "ambiguous"] = True
    t2 = time.perf_counter()

    hh_person, households = build_households(out, s.households)
    pcodes, _ = pd.factorize(out["person_id"].astype(object), sort=True)  # hh_person's order (sorted ids)
    hh = hh_person.to_numpy(dtype=object)[pcodes]
    # a roster mention belongs to the household of its own 户编号 (a person in two roster households)
    if "household_no" in out:
        hn = out["household_no"].astype(object)
        roster_hid = per_value(hn, lambda u: stable_ids("H", "hn:" + u.astype(str)))
        hh = np.where(hn.notna().to_numpy(), roster_hid.to_numpy(dtype=object), hh)
    out["household_id"] = pd.array(hh, dtype=STRING)
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
    first_rec = np.empty(nodes.n, np.int64)
    first_rec[nodes.record_node[::-1]] = np.arange(len(m))[::-1]
    node_pid = person_id[first_rec]
    pairs["left_person_id"] = pd.array(node_pid[pairs["left_node"].to_numpy()], dtype=STRING)
    pairs["right_person_id"] = pd.array(node_pid[pairs["right_node"].to_numpy()], dtype=STRING)
    pairs["left_n_mentions"] = nodes.weight[pairs["left_node"].to_numpy()]
    pairs["right_n_mentions"] = nodes.weight[pairs["right_node"].to_numpy()]

    rec = None
    if records is not None:
        rec = records.copy(deep=False)  # new columns only
        pm = out.set_index("mention_id")[["person_id", "household_id"]]
        j = pm.reindex(rec["beneficiary_mention_id"])
        rec["person_id"] = pd.array(j["person_id"].to_numpy(), dtype=STRING)
        rec["household_id"] = pd.array(j["household_id"].to_numpy(), dtype=STRING)
    blocking = pd.DataFrame([b.__dict__ for b in res.blocking_stats])
    t3 = time.perf_counter()
    timings = dict(res.timings)
    timings.update({"persons": t2 - t1, "households_and_outputs": t3 - t2, "total": t3 - t0})
    return ReliefLinkage(out, persons, households, pairs, blocking, res, rec, timings)


def build_households(mentions: pd.DataFrame, cfg: Households) -> tuple[pd.Series, pd.DataFrame]:
    """Households by union-find over persons.

    Evidence: the roster's 户编号; two persons named on one row (student and
    guardian, worker and child, member and head); a shared address *and* phone
    (groups larger than ``address_phone_max_persons`` are ignored, so one
    address cannot glue everyone). Two roster households never merge: a
    person listed in two rosters is a finding (EXCL-STATUS), not a merge.
    Returns (household_id per person_id, households table).
    """
    cap = cfg.address_phone_max_persons
    pidx, persons = pd.factorize(mentions["person_id"].astype(str).to_numpy(dtype=object), sort=True)
    persons = pd.Index(persons)
    P = len(persons)
    hn = mentions["household_no"].astype(object) if "household_no" in mentions else pd.Series([None] * len(pidx))
    hcodes, huni = _sorted_codes(hn)  # roster 户编号, codes ordered like the strings
    # roster household of each person: the smallest 户编号 among its mentions
    has_h = hcodes >= 0
    rh = pd.Series(hcodes[has_h]).groupby(pidx[has_h]).min()
    person_hh_code = np.full(P, -1, np.int64)
    person_hh_code[rh.index.to_numpy()] = rh.to_numpy()
    used, person_hh_dense = np.unique(person_hh_code[person_hh_code >= 0], return_inverse=True)
    person_hh = np.full(P, -1, np.int64)
    person_hh[person_hh_code >= 0] = person_hh_dense.ravel()
    hh_uni = huni[used]
    H = len(hh_uni)
    # edges between persons: same row (different roles), same address+phone
    edges = []
    fcodes, _ = pd.factorize(mentions["file"].astype(object))
    rowk = fcodes.astype(np.int64) * (int(mentions["row"].max()) + 1 if len(mentions) else 1) \
        + mentions["row"].to_numpy(dtype=np.int64)
    rows = pd.DataFrame({"k": rowk, "p": pidx}).drop_duplicates()
    first = rows.groupby("k")["p"].transform("min").to_numpy()
    e = rows["p"].to_numpy() != first
    edges.append((first[e], rows["p"].to_numpy()[e]))
    if "address" in mentions and "phone" in mentions:
        ac = pd.factorize(mentions["address"].astype(object), use_na_sentinel=True)[0].astype(np.int64)
        tc = pd.factorize(mentions["phone"].astype(object), use_na_sentinel=True)[0].astype(np.int64)
        ok = (ac >= 0) & (tc >= 0)
        ap = pd.DataFrame({"k": ac[ok] * (int(tc.max(initial=0)) + 1) + tc[ok], "p": pidx[ok]}).drop_duplicates()
        size = ap.groupby("k")["p"].transform("size").to_numpy()
        ap = ap[(size > 1) & (size <= cap)]
        f2 = ap.groupby("k")["p"].transform("min").to_numpy()
        e2 = ap["p"].to_numpy() != f2
        edges.append((f2[e2], ap["p"].to_numpy()[e2]))
    # graph over [roster households (H)] + [persons without roster household]
    node = np.where(person_hh >= 0, person_hh, H + np.arange(P))
    a = np.concatenate([x for x, _ in edges]).astype(np.int64) if edges else np.zeros(0, np.int64)
    b = np.concatenate([y for _, y in edges]).astype(np.int64) if edges else np.zeros(0, np.int64)
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
    df = pd.DataFrame({"c": pc, "h": person_hh, "p": np.arange(P)})
    roster_min = df[df["h"] >= 0].groupby("c")["h"].min()
    pid_min = df.groupby("c")["p"].min()
    rmin = roster_min.reindex(pid_min.index)
    ck = pd.Series(np.where(rmin.notna(), "hn:" + pd.Series(hh_uni[np.maximum(rmin.fillna(0).to_numpy(np.int64), 0)]
                                                           if H else [""] * len(rmin), dtype=object).to_numpy(),
                            "p:" + pd.Series(persons.to_numpy()[pid_min.to_numpy()], dtype=object)), index=pid_min.index)
    default_key = ck.reindex(pc).to_numpy(dtype=object)
    own = np.where(person_hh >= 0, "hn:" + pd.Series(hh_uni[np.maximum(person_hh, 0)] if H else [""] * P,
                                                     dtype=object).astype(str), None)
    key = np.where(person_hh >= 0, own, default_key)
    hid = stable_ids("H", pd.Series(key, dtype=object))
    hh_person = pd.Series(hid.to_numpy(), index=persons)
    # households table: one row per (household, person), relation and evidence
    relation = _mode_per_group(pidx, mentions["relation"] if "relation" in mentions else pd.Series([None] * len(pidx)))
    evid = np.where(person_hh >= 0, "household_no", None).astype(object)
    in_multi = np.bincount(pc)[pc] > 1
    evid = np.where((evid == None) & in_multi, "same_row_or_address_phone", evid)  # noqa: E711
    evid = np.where(evid == None, "single", evid)  # noqa: E711
    households = pd.DataFrame({
        "household_id": hid.to_numpy(), "person_id": persons.to_numpy(),
        "relation": relation.reindex(np.arange(P)).to_numpy(), "evidence": evid,
    })
    # secondary roster memberships (a person on two rosters) are listed too
    allh = pd.DataFrame({"p": pidx[has_h], "h": hcodes[has_h]}).drop_duplicates()
    allh = allh[allh["h"].to_numpy() != person_hh_code[allh["p"].to_numpy()]]
    if len(allh):
        extra = pd.DataFrame({"household_id": stable_ids("H", pd.Series("hn:" + huni[allh["h"].to_numpy()].astype(str),
                                                                        dtype=object)).to_numpy(),
                              "person_id": persons.to_numpy()[allh["p"].to_numpy()], "relation": None,
                              "evidence": "household_no_secondary"})
        households = pd.concat([households, extra], ignore_index=True)
    households = households.sort_values(["household_id", "person_id"]).reset_index(drop=True)
    for c in households.columns:
        households[c] = households[c].astype(STRING)
    return hh_person, households
