"""The identity evidence behind each flag: which scored link holds its records together.

A flag rests on records whose beneficiary mentions the linkage joined into one
person. Some are joined by the person's valid resident ID (certain), some by
probabilistic links (scored pairs of ``pairs.parquet``). For the evidence panel
of a report we want the link a reviewer should look at: the **weakest link**
that joins the flag's mentions — among the scored pairs between the nodes of
the flag's beneficiary mentions (same person), the smallest match weight that
is still needed to connect them (the bottleneck of a maximum spanning forest;
with two nodes simply the pair between them). Its per-comparison weights and
the prior are what a waterfall chart draws (Splink's ``waterfall_chart``).

How the records of an entry are held together (``joined``):

* ``same_identity`` — every record's mention has the same linkage features
  (one node of the linkage): nothing to weigh;
* ``valid_id`` — every record carries the person's valid resident ID (the
  linkage anchors on it): no probabilistic link is involved;
* ``links`` — scored pairs between the flag's own mentions connect them: the
  weakest needed pair is given;
* ``indirect`` — the flag's mentions are joined only through mentions outside
  the flag or through the ID anchor: the weakest direct pair, if any, is
  given, but it is not the whole chain.

Vectorized: one block-diagonal graph over (entry, node) vertices and one
:func:`scipy.sparse.csgraph.minimum_spanning_tree` call for all entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

SAME_IDENTITY, VALID_ID, LINKS, INDIRECT = "same_identity", "valid_id", "links", "indirect"
JOINED = (SAME_IDENTITY, VALID_ID, LINKS, INDIRECT)


@dataclass(frozen=True)
class Comparison:
    """One comparison of the linkage model: its name and its level labels, in level order."""

    name: str
    levels: tuple[str, ...]


@dataclass
class WeakestLinks:
    """Per entry (row of the involved table's ``entry``) how its records are joined.

    ``entries``: ``entry``, ``joined`` (one of :data:`JOINED`), ``link`` (row of
    ``pairs`` or -1), ``left`` / ``right`` (the involved-table row of one record on
    each side of the link, -1 without a link). ``pairs``: the chosen pairs with
    ``level_<comparison>`` codes, ``w_<comparison>`` weights (bits), ``prior``,
    ``match_weight`` and ``probability``.
    """

    entries: pd.DataFrame
    pairs: pd.DataFrame
    comparisons: list[Comparison] = field(default_factory=list)


def load_comparisons(run_dir: Path) -> list[Comparison]:
    """The comparisons of the run's trained model (``linkage_model.json``), in model order."""
    import json

    path = Path(run_dir) / "linkage_model.json"
    if not path.is_file():
        return []
    model = json.loads(path.read_text(encoding="utf-8"))
    return [Comparison(c["name"], tuple(level["label"] for level in c.get("levels", [])))
            for c in model.get("comparisons", [])]


def read_pairs(run_dir: Path, nodes: np.ndarray) -> pd.DataFrame:
    """The scored pairs of ``run_dir`` whose two nodes are both in ``nodes`` (the rest is never needed)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = Path(run_dir) / "pairs.parquet"
    if not path.is_file() or len(nodes) == 0:
        return pd.DataFrame()
    names = pq.read_schema(path).names
    columns = [c for c in names if c in ("left_node", "right_node", "match_weight", "probability")
               or c.startswith("level_") or c.startswith("w_")]
    table = pq.read_table(path, columns=columns)
    wanted = pa_array(np.unique(nodes))
    keep = pc.and_(pc.is_in(table["left_node"], value_set=wanted), pc.is_in(table["right_node"], value_set=wanted))
    return table.filter(keep).to_pandas()


def pa_array(values: np.ndarray):
    import pyarrow as pa

    return pa.array(values, type=pa.int64())


def weakest_links(involved: pd.DataFrame, records: pd.DataFrame, mentions: pd.DataFrame, pairs: pd.DataFrame,
                  comparisons: list[Comparison]) -> WeakestLinks:
    """How each entry's records are joined, and its weakest needed link.

    ``involved``: one row per (entry, record) in the entry's record order, with ``entry``
    and ``record`` (row position in ``records``). ``records`` needs
    ``beneficiary_mention_id`` and ``link_confidence``; ``mentions`` needs ``mention_id``,
    ``link_node`` and ``person_id``; ``pairs`` is :func:`read_pairs`' frame.
    """
    n_entries = int(involved["entry"].max()) + 1 if len(involved) else 0
    out = pd.DataFrame({"entry": np.arange(n_entries), "joined": INDIRECT, "link": -1, "left": -1, "right": -1})
    empty = WeakestLinks(out, pd.DataFrame(), comparisons)
    if n_entries == 0:
        return empty
    rec = records.iloc[involved["record"].to_numpy()]
    v = pd.DataFrame({"entry": involved["entry"].to_numpy(), "row": np.arange(len(involved)),
                      "mention": rec["beneficiary_mention_id"].to_numpy(),
                      "certain": rec["link_confidence"].to_numpy(dtype=float) >= 1.0})
    if "link_node" in mentions and len(mentions):
        by_mention = mentions.drop_duplicates("mention_id").set_index("mention_id")
        v["node"] = v["mention"].map(by_mention["link_node"]).to_numpy()
        v["person"] = v["mention"].map(by_mention["person_id"].astype(object)).to_numpy()
    else:  # a run folder written before mentions carried their node: nothing to weigh
        v["node"], v["person"] = np.nan, None
    certain = v.groupby("entry")["certain"].all().reindex(out["entry"], fill_value=False).to_numpy()
    v = v.dropna(subset=["node"]).astype({"node": np.int64})
    n_nodes = v.drop_duplicates(["entry", "node"]).groupby("entry").size().reindex(out["entry"], fill_value=0).to_numpy()
    out.loc[n_nodes == 1, "joined"] = SAME_IDENTITY
    out.loc[certain & (n_nodes != 1), "joined"] = VALID_ID
    todo = (n_nodes > 1) & ~certain
    if not todo.any() or pairs.empty:
        return empty if not todo.any() else WeakestLinks(out, pd.DataFrame(), comparisons)

    # vertices: distinct (entry, node) of the entries to weigh, with the first record on each
    vt = v[todo[v["entry"].to_numpy()]].drop_duplicates(["entry", "node"]).reset_index(drop=True)
    vt["vid"] = np.arange(len(vt))
    # edges: a scored pair of two nodes of the same entry, both of the same person
    p = pairs.reset_index(drop=True).assign(pair=np.arange(len(pairs)))
    e = vt[["entry", "node", "vid", "person"]].merge(p[["left_node", "right_node", "pair"]], left_on="node",
                                                     right_on="left_node")
    e = e.merge(vt[["entry", "node", "vid", "person"]], left_on=["entry", "right_node"], right_on=["entry", "node"],
                suffixes=("", "_r"))
    e = e[e["person"].astype(object).to_numpy() == e["person_r"].astype(object).to_numpy()]
    if e.empty:
        return WeakestLinks(out, pd.DataFrame(), comparisons)
    w = p["match_weight"].to_numpy(dtype=float)[e["pair"].to_numpy()]
    a, b = e["vid"].to_numpy(), e["vid_r"].to_numpy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    edges = pd.DataFrame({"lo": lo, "hi": hi, "w": w, "pair": e["pair"].to_numpy()})
    edges = edges.sort_values(["lo", "hi", "w", "pair"], ascending=[True, True, False, True], kind="mergesort")
    edges = edges.drop_duplicates(["lo", "hi"]).reset_index(drop=True)
    # maximum spanning forest = minimum spanning forest of (top - w + 1) > 0
    top = float(edges["w"].max())
    graph = coo_matrix((top - edges["w"].to_numpy() + 1.0, (edges["lo"].to_numpy(), edges["hi"].to_numpy())),
                       shape=(len(vt), len(vt))).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    t = pd.DataFrame({"lo": np.minimum(tree.row, tree.col), "hi": np.maximum(tree.row, tree.col)})
    t = t.merge(edges, on=["lo", "hi"], how="left")
    t["entry"] = vt["entry"].to_numpy()[t["lo"].to_numpy()]
    weakest = t.sort_values(["entry", "w", "pair"], kind="mergesort").drop_duplicates("entry").set_index("entry")
    # connected: the entry's vertices form one component per person
    _, comp = connected_components(graph, directed=False)
    vt["comp"] = comp
    n_comp = vt.drop_duplicates(["entry", "comp"]).groupby("entry").size()
    n_person = vt.drop_duplicates(["entry", "person"]).groupby("entry").size()
    connected = (n_comp == n_person.reindex(n_comp.index)).reindex(weakest.index, fill_value=False)

    idx = weakest.index.to_numpy()
    out.loc[idx, "link"] = np.arange(len(weakest))
    out.loc[idx, "left"] = vt["row"].to_numpy()[weakest["lo"].to_numpy()]
    out.loc[idx, "right"] = vt["row"].to_numpy()[weakest["hi"].to_numpy()]
    out.loc[idx[connected.to_numpy()], "joined"] = LINKS
    chosen = p.iloc[weakest["pair"].to_numpy()].reset_index(drop=True)
    weights = [c for c in chosen.columns if c.startswith("w_")]
    chosen["prior"] = chosen["match_weight"].to_numpy(dtype=float) - chosen[weights].to_numpy(dtype=float).sum(axis=1)
    return WeakestLinks(out, chosen.drop(columns=["pair", "left_node", "right_node"]), comparisons)


__all__ = ["Comparison", "JOINED", "WeakestLinks", "load_comparisons", "read_pairs", "weakest_links"]
