"""Month-to-month continuity: persons and households already known keep their ids.

``relieflink run BATCH --out OUT --previous PREV_OUT`` links this month's batch
as any run does, then carries the ids of the previous run over, by overlap of
evidence and never by row number:

* persons: a shared valid resident ID first, then shared mentions — the same
  content (:mod:`relieflink.linkage.fingerprint`: source, program,
  normalized name and ID, dates) in both months;
* households: a shared roster 户编号 first, then shared members (by their
  carried-over person ids).

Every (current, previous) pair that shares evidence is an edge, ranked by the
kind of evidence (ID before content), then by how much they share (mentions
or members), ties broken by the ids. Ids are given along the edges greedily
in that order, each previous id once: so on a merge the merged person keeps
the id of the previous person with most mentions in it, and on a split the
part holding most of the previous person's mentions keeps the id. A current
person sharing nothing with the previous run is new and keeps its content
id, re-derived if that id was someone else's last month. The greedy matching
is computed in rounds of locally dominant edges (an edge ranked first among
all edges of both its ends is taken by the greedy order too), each round
vectorized.

The changes since the previous run — merges, splits, new and gone persons
and households — are returned as a table (``changes.parquet``) and counted
in the run summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.errors import InputRefused
from relieflink.linkage.fingerprint import mention_fingerprints
from relieflink.linkage.persons import STRING, stable_ids
from relieflink.outputs import is_run_folder

#: columns of ``changes.parquet``
CHANGE_COLUMNS = ["entity", "change", "id_before", "id_after", "shared"]
#: evidence tiers: a valid ID (person) or a roster number (household) before shared content
TIER_ANCHOR, TIER_CONTENT = 0, 1


class PreviousRunError(InputRefused):
    """``--previous`` does not name the output folder of a relieflink run (one sentence, no personal data;
    the command line's exit code 4, as every refused input)."""


def read_run_mentions(out_dir: Path) -> pd.DataFrame | None:
    """The mentions of a run folder with their fingerprints (computed from ``records.parquet``
    for a folder written before fingerprints were stored); ``None`` without ``mentions.parquet``."""
    out_dir = Path(out_dir)
    path = out_dir / "mentions.parquet"
    if not path.is_file():
        return None
    mentions = pd.read_parquet(path)
    if "fingerprint" not in mentions or mentions["fingerprint"].isna().any():
        records_path = out_dir / "records.parquet"
        records = pd.read_parquet(records_path) if records_path.is_file() else None
        mentions["fingerprint"] = mention_fingerprints(mentions, records).to_numpy()
    return mentions


@dataclass
class PreviousRun:
    """What continuity needs of the previous month's run folder."""

    path: Path
    mentions: pd.DataFrame      # fingerprint, person_id, household_id, id_number, household_no, file, row, role
    persons: pd.DataFrame       # person_id, id_number, household_id

    @classmethod
    def read(cls, path: Path) -> "PreviousRun":
        """Read ``path``; anything but a complete relieflink run folder is a :class:`PreviousRunError`."""
        path = Path(path)
        what = "pass --previous the output folder of last month's `relieflink run`"
        if not path.is_dir():
            raise PreviousRunError(f"{path} is not a folder; {what}")
        if not is_run_folder(path):
            raise PreviousRunError(f"{path} is not the output folder of a relieflink run (no readable run.json "
                                   f"manifest); {what}")
        missing = [n for n in ("mentions", "records", "persons", "households") if not (path / f"{n}.parquet").is_file()]
        if missing:
            raise PreviousRunError(f"{path} holds no {', '.join(missing)} (an `ingest` output?); "
                                   f"pass --previous the output folder of a full `relieflink run`")
        try:
            mentions = read_run_mentions(path)
            persons = pd.read_parquet(path / "persons.parquet", columns=["person_id", "id_number", "household_id"])
        except Exception as exc:  # noqa: BLE001 - any unreadable table is the same sentence
            raise PreviousRunError(f"{path}: cannot read the previous run's tables ({type(exc).__name__}); "
                                   f"{what}") from None
        assert mentions is not None
        keep = [c for c in ("fingerprint", "person_id", "household_id", "id_number", "household_no", "file", "row",
                            "role") if c in mentions]
        return cls(path, mentions[keep], persons)


@dataclass
class IdCarry:
    """The outcome of matching one kind of group (persons or households) to the previous run."""

    ids: pd.Series              # current content id -> id carried (or new)
    changes: pd.DataFrame       # CHANGE_COLUMNS
    counts: dict[str, int] = field(default_factory=dict)


def _edges(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """(cur, prev) pairs sharing evidence: best tier, number of keys shared; ranked (0 = first)."""
    e = current.merge(previous, on="key", suffixes=("_cur", "_prev"))
    e = e.rename(columns={"group_cur": "cur", "group_prev": "prev"})
    e["tier"] = np.minimum(e["tier_cur"].to_numpy(), e["tier_prev"].to_numpy())
    edges = e.groupby(["cur", "prev"], sort=False).agg(tier=("tier", "min"), shared=("key", "size")).reset_index()
    edges = edges.sort_values(["tier", "shared", "prev", "cur"], ascending=[True, False, True, True], kind="stable")
    edges["rank"] = np.arange(len(edges))
    return edges.reset_index(drop=True)


def greedy_matching(edges: pd.DataFrame) -> pd.Series:
    """The greedy matching of ranked edges (``cur``, ``prev``, ``rank``): prev per matched cur.

    Each round takes the locally dominant edges — first-ranked among the remaining edges of
    both their ends — which the sequential greedy takes too, and drops every edge touching
    their ends."""
    taken = []
    left = edges[["cur", "prev", "rank"]]
    while len(left):
        best_cur = left.groupby("cur", sort=False)["rank"].transform("min").to_numpy()
        best_prev = left.groupby("prev", sort=False)["rank"].transform("min").to_numpy()
        rank = left["rank"].to_numpy()
        dominant = (rank == best_cur) & (rank == best_prev)
        chosen = left[dominant]
        taken.append(chosen)
        left = left[~left["cur"].isin(chosen["cur"]) & ~left["prev"].isin(chosen["prev"])]
    if not taken:
        return pd.Series(dtype=object)
    chosen = pd.concat(taken)
    return pd.Series(chosen["prev"].to_numpy(dtype=object), index=chosen["cur"].to_numpy(dtype=object))


def _fresh_ids(natural: pd.Index, reserved: set[str], prefix: str) -> pd.Series:
    """New ids: the content id, re-derived (``again:`` + id + ``#k``) while it is reserved."""
    ids = pd.Series(natural.to_numpy(dtype=object, copy=True), index=natural.copy(), dtype=object)
    clash = ids.isin(reserved).to_numpy()
    k = 0
    while clash.any():
        k += 1
        again = stable_ids(prefix, pd.Series("again:" + ids.index[clash].astype(str) + f"#{k}", dtype=object))
        ids.iloc[np.flatnonzero(clash)] = again.to_numpy()
        clash = ids.isin(reserved).to_numpy() & clash
    return ids


def match_ids(current: pd.DataFrame, previous: pd.DataFrame, prefix: str, entity: str) -> IdCarry:
    """Carry previous ids over to current groups by shared evidence.

    ``current`` / ``previous``: one row per piece of evidence, columns ``group`` (the group's
    id: the content id now, the id it had then), ``key`` (the evidence, e.g. ``fp:<fingerprint>``)
    and ``tier`` (:data:`TIER_ANCHOR` or :data:`TIER_CONTENT`). Returns the id of every
    current group and the changes (merged, split, new, gone) for ``entity``.
    """
    edges = _edges(current, previous)
    matched = greedy_matching(edges)
    cur_groups = pd.Index(pd.unique(current["group"].to_numpy(dtype=object)))
    prev_groups = pd.Index(pd.unique(previous["group"].to_numpy(dtype=object)))
    unmatched = cur_groups[~cur_groups.isin(matched.index)]
    reserved = set(prev_groups) | set(matched.to_numpy())
    ids = pd.concat([matched, _fresh_ids(unmatched, reserved, prefix)]).reindex(cur_groups)

    after = edges["cur"].map(ids)
    n_prev = edges.groupby("cur")["prev"].transform("size").to_numpy()
    n_cur = edges.groupby("prev")["cur"].transform("size").to_numpy()
    rows = [pd.DataFrame({"change": "merged", "id_before": edges["prev"], "id_after": after, "shared": edges["shared"]})[n_prev > 1],
            pd.DataFrame({"change": "split", "id_before": edges["prev"], "id_after": after, "shared": edges["shared"]})[n_cur > 1]]
    # the size of a new or gone group: its mentions (person) or members (household)
    size_cur = current[current["tier"] == TIER_CONTENT].groupby("group", sort=False).size()
    size_prev = previous[previous["tier"] == TIER_CONTENT].groupby("group", sort=False).size()
    new = cur_groups[~cur_groups.isin(edges["cur"])]
    gone = prev_groups[~prev_groups.isin(edges["prev"])]
    rows.append(pd.DataFrame({"change": "new", "id_before": None, "id_after": ids.reindex(new).to_numpy(),
                              "shared": size_cur.reindex(new).fillna(0).to_numpy()}))
    rows.append(pd.DataFrame({"change": "gone", "id_before": gone.to_numpy(), "id_after": None,
                              "shared": size_prev.reindex(gone).fillna(0).to_numpy()}))
    changes = pd.concat([r for r in rows if len(r)], ignore_index=True) if any(len(r) for r in rows) else \
        pd.DataFrame(columns=CHANGE_COLUMNS[1:])
    changes.insert(0, "entity", entity)
    changes = changes.sort_values(["change", "id_before", "id_after"], na_position="first", kind="stable")
    counts = {
        "kept": int(len(matched)), "new": int(len(new)), "gone": int(len(gone)),
        "merged": int(changes.loc[changes["change"] == "merged", "id_after"].nunique()),
        "split": int(changes.loc[changes["change"] == "split", "id_before"].nunique()),
    }
    return IdCarry(ids=ids, changes=changes.reset_index(drop=True)[CHANGE_COLUMNS], counts=counts)


def _evidence(*parts: tuple[pd.Series, str, pd.Series, int]) -> pd.DataFrame:
    """Evidence rows from (groups, key prefix, keys, tier) parts; nulls dropped."""
    return pd.concat([
        pd.DataFrame({"group": groups.astype(object).to_numpy(),
                      "key": (prefix + keys.astype(object)).to_numpy(dtype=object), "tier": tier})
        for groups, prefix, keys, tier in parts
    ], ignore_index=True).dropna(subset=["group", "key"]).drop_duplicates()


def person_evidence(mentions: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """One row per piece of evidence of a person: its valid ID (anchor), each mention's fingerprint."""
    return _evidence((persons["person_id"], "id:", persons["id_number"], TIER_ANCHOR),
                     (mentions["person_id"], "fp:", mentions["fingerprint"], TIER_CONTENT))


def household_evidence(mentions: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """One row per piece of evidence of a household: its roster 户编号 (anchor), each member
    (a person counts for its own household only, not for a second roster it is listed on)."""
    return _evidence((mentions["household_id"], "hn:", mentions["household_no"], TIER_ANCHOR),
                     (persons["household_id"], "p:", persons["person_id"], TIER_CONTENT))


def relabel(values: pd.Series, ids: pd.Series) -> pd.Series:
    """``values`` with each id found in ``ids``' index replaced by its value (others as they are)."""
    pos = pd.Index(ids.index).get_indexer(values.astype(object).to_numpy())
    new = np.where(pos >= 0, ids.to_numpy(dtype=object)[np.maximum(pos, 0)], values.astype(object).to_numpy())
    return pd.Series(pd.array(new, dtype=STRING), index=values.index)


def merges_and_splits(changes: pd.DataFrame) -> list[dict[str, object]]:
    """The merges and splits of a changes table as the run summary lists them, one entry per
    merged or split person or household: ``ids_before`` (a merge: the previous ids joined) and
    ``ids_after`` (a split: the current ids of its parts), sorted."""
    listed = []
    for kind, by, other in (("merged", "id_after", "id_before"), ("split", "id_before", "id_after")):
        c = changes[changes["change"] == kind]
        for (entity, key), group in c.groupby(["entity", by], sort=True):
            ids = sorted(group[other].astype(str))
            before, after = (ids, [str(key)]) if kind == "merged" else ([str(key)], ids)
            listed.append({"entity": str(entity), "change": kind, "ids_before": before, "ids_after": after})
    return sorted(listed, key=lambda d: (d["entity"], d["change"], d["ids_before"], d["ids_after"]))


@dataclass
class Continuity:
    """Ids carried over from the previous run: the changes table and the summary counts."""

    changes: pd.DataFrame
    counts: dict[str, dict[str, int]]


def carry_over(tables: dict[str, pd.DataFrame], previous: PreviousRun) -> Continuity:
    """Replace the content ids of ``tables`` (``mentions``, ``records``, ``persons``,
    ``households``, ``pairs``; changed in place) by the ids the previous run gave the same
    persons and households."""
    mentions, persons = tables["mentions"], tables["persons"]
    people = match_ids(person_evidence(mentions, persons), person_evidence(previous.mentions, previous.persons),
                       "P", "person")
    for name, columns in (("mentions", ["person_id"]), ("records", ["person_id"]), ("persons", ["person_id"]),
                          ("households", ["person_id"]), ("pairs", ["left_person_id", "right_person_id"])):
        for c in columns:
            if tables.get(name) is not None and c in tables[name]:
                tables[name][c] = relabel(tables[name][c], people.ids)
    homes = match_ids(household_evidence(tables["mentions"], tables["persons"]),
                      household_evidence(previous.mentions, previous.persons), "H", "household")
    for name in ("mentions", "records", "persons", "households"):
        if tables.get(name) is not None and "household_id" in tables[name]:
            tables[name]["household_id"] = relabel(tables[name]["household_id"], homes.ids)
    tables["persons"] = tables["persons"].sort_values("person_id").reset_index(drop=True)
    tables["households"] = tables["households"].sort_values(["household_id", "person_id"]).reset_index(drop=True)
    changes = pd.concat([people.changes, homes.changes], ignore_index=True)
    changes["shared"] = changes["shared"].astype("int64")
    for c in ("entity", "change", "id_before", "id_after"):
        changes[c] = changes[c].astype(STRING)
    return Continuity(changes=changes, counts={"persons": people.counts, "households": homes.counts})
