"""The review queue of a run: the open items, ranked by the money a reviewer's answer moves.

Items:

* **flags** in review (status ``review``, no decision), worth their money times the
  probability that they are real (:mod:`relieflink.review.rank`). MULTI-SOURCE items
  are listed apart (``queue`` ``multi_source``): one ranked list of persons with the
  agencies, programs and total amount they received, not thousands of items ahead of
  everything else; deciding an entry decides that person's MULTI-SOURCE flag for the
  period (the entry's id is the flag's id).
* **identity questions**: the held flags of the audit (a pattern, such as one program
  paid twice, found on records whose link is likelier wrong than right: "one person?
  if so, this is a finding") and the clerical-review pairs of the linkage. An answer
  creates or removes flags, and the question is worth what it moves::

      expected = p × precision × A  +  (1 − p) × B

  ``p``: the probability that the two are one person (the held flag's link
  confidence, the pair's match probability); ``A``: what the held pattern would put
  at stake (0 for a pair); ``B``: the money of the run's flags that rest on the link
  — active flags of the person citing a record of one of the two mentions and a
  record of someone looking otherwise (the flags a "different persons" answer
  removes; MULTI-SOURCE's not counted: what was received is not at stake); 0 when
  the two are not linked (what joining them would create is not
  computed: such questions rank by their probability among those without money).

Item ids are stable across runs: a flag item is its ``flag_id``; an identity item is
``L`` + a hash of the two mentions' fingerprints (their content, so the same
question keeps its id when rows move or files are renamed). ``left`` / ``right`` say
where each mention is in this run (``file|row|role``), ``left_key`` / ``right_key``
are the fingerprints a decision binds to.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.linkage.continuity import read_run_mentions
from relieflink.review.apply import Unmatched, unmatched_decisions
from relieflink.review.decisions import Decision, DecisionKind, MentionKey, flag_decisions, identity_constraints, seen_keys

# ``evidence``: a flag item's evidence fingerprint, stored with a decision on it. ``queue``: ``main`` or
# ``multi_source`` (listed apart); ``rank`` from 1 within the queue; ``value``: the money the item is about;
# ``p_real``: flags: the probability it is real; identity questions: that the two are one person;
# ``expected``: the money the answer is expected to move; ``agencies`` / ``subdistricts``: of its records
ITEM_COLUMNS = ["item_id", "kind", "queue", "rank", "rule_id", "summary", "person_id", "left", "right", "probability",
                "value", "p_real", "expected", "agencies", "subdistricts", "programs", "left_key", "right_key", "evidence"]


def _pair_keys(left: pd.Series, right: pd.Series) -> pd.Series:
    """Order-free keys of mention pairs ("a~b")."""
    return pd.Series(["~".join(sorted((str(a), str(b)))) for a, b in zip(left, right)], index=left.index, dtype=object)


def _pair_item_id(left: pd.Series, right: pd.Series) -> pd.Series:
    return pd.Series(["L" + hashlib.sha1(k.encode("utf-8")).hexdigest()[:12] for k in _pair_keys(left, right)],
                     index=left.index, dtype=object)


def _decided_pairs(decisions: list[Decision]) -> set[str]:
    """Keys of the mention pairs a reviewer has decided on (by fingerprint)."""
    c = identity_constraints(decisions).dropna(subset=["left", "right"])
    return set(_pair_keys(c["left"], c["right"]))


def _where(mentions: pd.DataFrame | None) -> pd.Series:
    """Fingerprint by where the mention is (``file|row|role``)."""
    if mentions is None:
        return pd.Series(dtype=object)
    return pd.Series(mentions["fingerprint"].to_numpy(dtype=object), index=seen_keys(mentions).to_numpy())


def held_sides(held: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The two mentions a held pattern asks about (``file|row|role``): the beneficiaries of the
    first and the last of the records it joins."""
    left = pd.Series([f"{r[0]['file']}|{r[0]['row']}|beneficiary" for r in held["records"]], index=held.index, dtype=object)
    right = pd.Series([f"{r[-1]['file']}|{r[-1]['row']}|beneficiary" for r in held["records"]], index=held.index, dtype=object)
    return left, right


def _keys(seen: pd.Series, where: pd.Series) -> pd.Series:
    """Fingerprints of mentions named ``file|row|role`` (a mention without one is keyed by where it is)."""
    return seen.map(where).where(lambda k: k.notna(), seen)


def held_item_ids(held: pd.DataFrame, mentions: pd.DataFrame | None) -> pd.Series:
    """The identity item id of every held pattern (aligned with ``held``)."""
    left, right = held_sides(held)
    where = _where(mentions)
    return _pair_item_id(_keys(left, where), _keys(right, where))


def decision_on_item(item: pd.Series, kind: DecisionKind, reviewer: str, reason: str) -> Decision:
    """A reviewer's decision on an open item (a row of :func:`open_items`): on a flag, with the
    evidence fingerprint the reviewer saw; on an identity question, bound to the two mentions'
    fingerprints, with where they were seen (``file|row|role``)."""
    if item["kind"] == "flag":
        evidence = item["evidence"] if isinstance(item["evidence"], str) else None
        return Decision(kind, reviewer, reason, flag_id=item["item_id"], evidence=evidence)

    def key(seen: str, fingerprint: object) -> MentionKey:
        file, row, role = seen.rsplit("|", 2)
        bound = fingerprint if isinstance(fingerprint, str) and fingerprint != seen else None  # else: not bound
        return MentionKey(file, int(row), role, fingerprint=bound)

    return Decision(kind, reviewer, reason,
                    mentions=(key(item["left"], item["left_key"]), key(item["right"], item["right_key"])))


def unmatched_in_run(out_dir: Path, decisions: list[Decision], mentions: pd.DataFrame | None = None) -> list[Unmatched]:
    """The decisions that match nothing in the run in ``out_dir`` (:func:`~relieflink.review.apply.unmatched_decisions`
    on its mentions' fingerprints and its flags): the person left, the pattern ended, or the
    decision was taken on an id of an older version. They stay in the decisions file and are
    not applied. ``mentions``: the run's, when already read (:func:`read_run_mentions`)."""
    out_dir = Path(out_dir)
    if mentions is None:
        mentions = read_run_mentions(out_dir)
    flags_path = out_dir / "flags.parquet"
    flag_ids = pd.read_parquet(flags_path, columns=["flag_id"])["flag_id"] if flags_path.is_file() else None
    return unmatched_decisions(decisions, mentions["fingerprint"] if mentions is not None else None, flag_ids)


# ---- the run's facts the ranking needs ---------------------------------------------------------


def _read(out_dir: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    path = out_dir / f"{name}.parquet"
    if not path.is_file():
        return pd.DataFrame()
    if columns is not None:
        import pyarrow.parquet as pq

        present = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in present]
    return pd.read_parquet(path, columns=columns)


def _record_places(records: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Agency and subdistrict of every record, by ``file\\x1frow``."""
    if records.empty:
        return {}, {}
    keys = (records["file"].astype(str) + "\x1f" + records["row"].astype("int64").astype(str)).to_numpy(dtype=object)
    agency = dict(zip(keys, records["agency"].astype(object)))
    sub = records["subdistrict"].astype(object)
    return agency, dict(zip(keys[sub.notna().to_numpy()], sub[sub.notna()]))


def _places(lists_of_keys: list[list[str]], lookup: dict[str, str]) -> list[list[str]]:
    return [sorted({lookup[k] for k in keys if k in lookup}) for keys in lists_of_keys]


def _flag_record_keys(flags: pd.DataFrame) -> list[list[str]]:
    return [[f"{r['file']}\x1f{int(r['row'])}" for r in recs] if recs is not None else [] for recs in flags["records"]]


def _resting_money(flags: pd.DataFrame, values: np.ndarray, mentions: pd.DataFrame, records: pd.DataFrame) -> pd.Series:
    """Per look-alike group of mentions (one person's mentions of one source with the same
    name, ID evidence and birth date — about a linkage node): the money of the active flags
    that cite a record of the group and a record of another group of the person (the flags
    that rest on the group being the person's). Indexed by group number; see :func:`_groups`."""
    if flags.empty or records.empty or mentions.empty:
        return pd.Series(dtype=float)
    group = _groups(mentions)
    ben = mentions["role"].eq("beneficiary").to_numpy()
    by_record = pd.Series(group[ben], index=mentions["record_id"].to_numpy()[ben])
    by_record = by_record[~by_record.index.duplicated()]
    rec_key = records["file"].astype(str) + "\x1f" + records["row"].astype("int64").astype(str)
    group_of_key = pd.Series(records["record_id"].map(by_record).to_numpy(), index=rec_key.to_numpy())
    keys = _flag_record_keys(flags)
    lengths = np.fromiter((len(k) for k in keys), dtype=np.int64, count=len(keys))
    ex = pd.DataFrame({"flag": np.repeat(np.arange(len(flags)), lengths),
                       "group": group_of_key.reindex([k for ks in keys for k in ks]).to_numpy()})
    ex = ex.dropna().drop_duplicates()
    spread = ex.groupby("flag")["group"].transform("size") >= 2
    ex = ex[spread.to_numpy()]
    ex["value"] = values[ex["flag"].to_numpy()]
    return ex.groupby("group")["value"].sum()


def _groups(mentions: pd.DataFrame) -> np.ndarray:
    """Look-alike group number of every mention (see :func:`_resting_money`)."""
    cols = [c for c in ("person_id", "source", "name", "id_clean", "birth_date") if c in mentions]
    frame = mentions[cols].astype(object).where(mentions[cols].notna(), "")
    return frame.astype(str).groupby(cols, sort=True).ngroup().to_numpy()


# ---- items -------------------------------------------------------------------------------------


def _flag_items(flags: pd.DataFrame, ranked: pd.DataFrame, agency_of: dict, sub_of: dict) -> pd.DataFrame:
    keys = _flag_record_keys(ranked)
    return pd.DataFrame({
        "item_id": ranked["flag_id"], "kind": "flag", "queue": ranked["queue"], "rule_id": ranked["rule_id"],
        "summary": ranked["explanation_zh"], "person_id": ranked["person_id"], "left": None, "right": None,
        "probability": ranked["link_confidence"], "value": ranked["value"], "p_real": ranked["p_real"],
        "expected": ranked["expected"], "agencies": _places(keys, agency_of), "subdistricts": _places(keys, sub_of),
        "programs": [sorted(p) if p is not None else [] for p in ranked["programs"]],
        "evidence": ranked["evidence"] if "evidence" in ranked else None,
    })


def _identity_items(left_seen: pd.Series, right_seen: pd.Series, where: pd.Series, decided: set[str],
                    frame: dict[str, object]) -> pd.DataFrame:
    """Identity items for pairs of mentions named ``file|row|role``; ``where`` maps those to
    fingerprints (a mention without one is keyed by where it is)."""
    left_key, right_key = _keys(left_seen, where), _keys(right_seen, where)
    keep = ~_pair_keys(left_key, right_key).isin(decided).to_numpy()
    out = pd.DataFrame({"item_id": _pair_item_id(left_key[keep], right_key[keep]), "kind": "identity", "queue": "main",
                        "left": left_seen[keep], "right": right_seen[keep],
                        "left_key": left_key[keep], "right_key": right_key[keep]})
    for column, values in frame.items():
        if isinstance(values, (pd.Series, np.ndarray)):
            out[column] = np.asarray(values, dtype=object)[keep]
        elif isinstance(values, list):
            out[column] = [v for v, k in zip(values, keep) if k]
        else:
            out[column] = values
    return out


def _identity_money(left: pd.Series, right: pd.Series, p: np.ndarray, created: np.ndarray, mentions: pd.DataFrame,
                    resting: pd.Series) -> tuple[np.ndarray, np.ndarray, list, list]:
    """Per identity question: the expected money its answer moves (see the module), whether
    the two are linked now, and the agencies and subdistricts of the two mentions' records."""
    at = pd.Series(np.arange(len(mentions)), index=seen_keys(mentions).to_numpy())
    at = at[~at.index.duplicated()]
    li = left.map(at).to_numpy(dtype=float)
    ri = right.map(at).to_numpy(dtype=float)
    person = mentions["person_id"].astype(object).to_numpy()
    group = _groups(mentions)
    known = ~np.isnan(li) & ~np.isnan(ri)
    l_, r_ = np.where(known, li, 0).astype(np.int64), np.where(known, ri, 0).astype(np.int64)
    linked = known & (person[l_] == person[r_])
    rest = np.maximum(resting.reindex(group[l_]).fillna(0).to_numpy(), resting.reindex(group[r_]).fillna(0).to_numpy())
    removed = np.where(linked, rest, 0.0)
    expected = p * created + (1 - p) * removed
    source = mentions["source"].astype(object).to_numpy() if "source" in mentions else np.full(len(mentions), None)
    sub = mentions["subdistrict"].astype(object).to_numpy() if "subdistrict" in mentions else np.full(len(mentions), None)
    agencies = [sorted({source[a], source[b]} - {None}) if k else [] for a, b, k in zip(l_, r_, known)]
    subs = [sorted({s for s in (sub[a], sub[b]) if isinstance(s, str)}) if k else [] for a, b, k in zip(l_, r_, known)]
    return expected, linked, agencies, subs


def open_items(out_dir: Path, decisions: list[Decision]) -> pd.DataFrame:
    """Every item waiting for a reviewer (:data:`ITEM_COLUMNS`), ranked: the main queue (review
    flags and identity questions) by expected money, largest first, then MULTI-SOURCE's list
    by the same; ties by item id. Deterministic."""
    from relieflink.audit.rules import load_rules
    from relieflink.config.catalog import load_catalog
    from relieflink.outputs import read_manifest
    from relieflink.report.data import _audit_year as audit_year
    from relieflink.review.rank import (flag_values, listed_apart, missed_program_values, rank_open_flags,
                                        rule_precisions)

    out_dir = Path(out_dir)
    catalog = load_catalog()
    ruleset = load_rules(catalog=catalog)
    precisions = rule_precisions(ruleset)
    records = _read(out_dir, "records")
    year = audit_year(read_manifest(out_dir) or {}, records)
    missed_values = missed_program_values(records, catalog, year)
    agency_of, sub_of = _record_places(records)
    flags = _read(out_dir, "flags")
    parts = []
    decided_flags = set(flag_decisions(decisions)["flag_id"])
    if not flags.empty:
        if "decision" not in flags:
            flags["decision"] = None
        # a decision taken since the run (in the file, not yet applied) closes its item too
        todo = flags.assign(decision=flags["decision"].where(~flags["flag_id"].isin(decided_flags), "decided"))
        parts.append(_flag_items(todo, rank_open_flags(todo, ruleset, missed_values), agency_of, sub_of))
    decided = _decided_pairs(decisions)
    mentions = read_run_mentions(out_dir)
    where = _where(mentions)
    resting = pd.Series(dtype=float)
    if mentions is not None and not flags.empty:
        # MULTI-SOURCE's money is what was received, not paid wrongly: nothing rests on a link there
        active = flags[flags["decision"].ne("dismissed").to_numpy(dtype=bool, na_value=True)
                       & ~flags["rule_id"].isin(list(listed_apart(ruleset))).to_numpy()].reset_index(drop=True)
        resting = _resting_money(active, flag_values(active, missed_values), mentions, records)
    held = _read(out_dir, "held_flags")
    if not held.empty:
        left, right = held_sides(held)
        p = pd.to_numeric(held["link_confidence"], errors="coerce").fillna(0.5).clip(0, 1).to_numpy()
        created = flag_values(held, missed_values) * held["rule_id"].map(precisions).astype(float).fillna(1.0).to_numpy()
        if mentions is not None:
            expected, _, agencies, subs = _identity_money(left, right, p, created, mentions, resting)
        else:
            expected, agencies, subs = p * created, [[] for _ in left], [[] for _ in left]
        parts.append(_identity_items(left, right, where, decided, {
            "rule_id": held["rule_id"].to_numpy(dtype=object), "person_id": held["person_id"].to_numpy(dtype=object),
            "summary": ("是否同一人？若是：" + held["explanation_zh"].astype(str)).to_numpy(dtype=object),
            "probability": p, "value": flag_values(held, missed_values), "p_real": p, "expected": expected.round(2),
            "agencies": agencies, "subdistricts": subs,
            "programs": [sorted(x) if x is not None else [] for x in held["programs"]]}))
    pairs = _read(out_dir, "pairs", ["left_mention_id", "right_mention_id", "probability", "review", "left_person_id"])
    if not pairs.empty and mentions is not None:
        pairs = pairs[pairs["review"].astype(bool)]
        seen = pd.Series(seen_keys(mentions).to_numpy(), index=mentions["mention_id"].to_numpy())
        left, right = pairs["left_mention_id"].map(seen), pairs["right_mention_id"].map(seen)
        p = pairs["probability"].astype(float).to_numpy()
        expected, _, agencies, subs = _identity_money(left, right, p, np.zeros(len(pairs)), mentions, resting)
        parts.append(_identity_items(left, right, where, decided, {
            "rule_id": None, "person_id": pairs["left_person_id"].to_numpy(dtype=object) if "left_person_id" in pairs else None,
            "summary": "是否同一人？/ Same person?", "probability": p, "value": 0.0, "p_real": p,
            "expected": expected.round(2), "agencies": agencies, "subdistricts": subs, "programs": [[] for _ in p]}))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=ITEM_COLUMNS)
    items = pd.concat(parts, ignore_index=True).reindex(columns=ITEM_COLUMNS)
    items = items.drop_duplicates("item_id")  # a held pattern's pair may be a clerical-review pair too
    return _ranked(items)


def _ranked(items: pd.DataFrame) -> pd.DataFrame:
    """Main queue first, each by expected money (largest first); among items without money the
    most uncertain identity questions first; then item id. ``rank`` counted within each queue."""
    p = pd.to_numeric(items["p_real"], errors="coerce").fillna(1.0)
    uncertainty = np.where(items["kind"].eq("identity"), np.minimum(p, 1 - p), 0.0)
    keys = pd.DataFrame({"queue": items["queue"].ne("main").to_numpy(), "expected": -items["expected"].astype(float).fillna(0),
                         "uncertain": -uncertainty, "item_id": items["item_id"].to_numpy()}, index=items.index)
    order = keys.sort_values(["queue", "expected", "uncertain", "item_id"], kind="mergesort").index
    out = items.loc[order].reset_index(drop=True)
    out["rank"] = out.groupby("queue", sort=False).cumcount() + 1
    return out
