"""What a reviewer sees of an open item: filters over the queue, and an identity question's two sides.

An identity question shows both mentions field by field — masked name, ID, birth
date, phone, subdistrict, community, address, with source and program — and, for
each compared field, the comparison level the pair fell in and its weight in bits
from ``pairs.parquet``: the pair of the two mentions when they were scored together,
else a pair between their look-alikes (mentions of the same person, name, ID and
birth date: about their linkage nodes); two mentions joined only through others
have none, which is said. Identities are masked by the
caller's :class:`~relieflink.privacy.Masker`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.privacy import Masker, as_text
from relieflink.review.decisions import seen_keys

#: the fields shown side by side: (label, mentions column, comparison in pairs.parquet or None, how to mask)
SIDE_FIELDS = (
    ("姓名", "name", "name", "name"),
    ("身份证号", "id_clean", "id", "id"),
    ("出生日期", "birth_date", "birth_date", None),
    ("性别", "sex", "sex", None),
    ("电话", "phone", "phone", "phone"),
    ("街道", "subdistrict", "subdistrict", "place"),
    ("社区", "community", "community", None),
    ("地址", "address", "address", "address"),
    ("来源", "source", None, "place"),
    ("项目", "program", None, "program"),
)


@dataclass(frozen=True)
class Filters:
    """What ``relieflink review`` narrows the queue to (None: no filter)."""

    rule: str | None = None
    agency: str | None = None
    subdistrict: str | None = None
    kind: str | None = None  # flag | identity

    def apply(self, items: pd.DataFrame) -> pd.DataFrame:
        keep = np.ones(len(items), dtype=bool)
        if self.rule is not None:
            keep &= items["rule_id"].astype(object).eq(self.rule).to_numpy(dtype=bool, na_value=False)
        if self.kind is not None:
            keep &= items["kind"].eq(self.kind).to_numpy()
        for column, code in (("agencies", self.agency), ("subdistricts", self.subdistrict)):
            if code is not None:
                keep &= np.fromiter((code in (v if isinstance(v, (list, tuple, np.ndarray)) else []) for v in items[column]),
                                    dtype=bool, count=len(items))
        return items[keep]


def _masked(value: object, how: str | None, mask: Masker, names: dict[str, str]) -> str:
    if how in ("place", "program"):  # codes shown by their names (schemas/programs.yaml)
        return names.get(as_text(value), as_text(value))
    if how == "name":
        return mask.name(value)
    if how == "id":
        return mask.id(value)
    if how == "phone":
        return mask.phone(value)
    if how == "address":
        from relieflink.privacy import mask_address

        return mask_address(value) if mask.enabled else as_text(value)
    if hasattr(value, "strftime") and not pd.isna(value):
        return value.strftime("%Y-%m-%d")
    return as_text(value)


def _lookalike(mentions: pd.DataFrame) -> np.ndarray:
    """Mentions of one person with the same name, ID evidence and birth date (about a linkage node)."""
    cols = [c for c in ("person_id", "name", "id_clean", "birth_date") if c in mentions]
    frame = mentions[cols].astype(object).where(mentions[cols].notna(), "")
    return frame.astype(str).groupby(cols, sort=True).ngroup().to_numpy()


def identity_sides(out_dir: Path, items: pd.DataFrame, mask: Masker) -> dict[str, dict]:
    """Per identity item (by ``item_id``): ``fields`` (label, left, right, level, weight),
    ``match_weight``, ``prior`` (the match weight less the field weights, in bits) and
    ``probability`` of the direct pair, or ``direct_pair: False`` when the two mentions'
    nodes were never compared directly."""
    out_dir = Path(out_dir)
    items = items[items["kind"].eq("identity")]
    if items.empty or not (out_dir / "mentions.parquet").is_file():
        return {}
    mentions = pd.read_parquet(out_dir / "mentions.parquet")
    records = pd.read_parquet(out_dir / "records.parquet", columns=["record_id", "program"]) \
        if (out_dir / "records.parquet").is_file() else pd.DataFrame({"record_id": [], "program": []})
    mentions["program"] = mentions["record_id"].map(records.set_index("record_id")["program"])
    at = pd.Series(np.arange(len(mentions)), index=seen_keys(mentions).to_numpy())
    at = at[~at.index.duplicated()]
    group = _lookalike(mentions)
    group_of_mention = pd.Series(group, index=mentions["mention_id"].to_numpy())
    pairs = pd.read_parquet(out_dir / "pairs.parquet") if (out_dir / "pairs.parquet").is_file() else pd.DataFrame()
    by_groups, by_mentions = pd.Series(dtype=np.int64), pd.Series(dtype=np.int64)
    if not pairs.empty:  # position of the pair of two mentions, and of the (first) pair between two look-alike groups
        lm, rm = pairs["left_mention_id"].astype(str).to_numpy(), pairs["right_mention_id"].astype(str).to_numpy()
        by_mentions = pd.Series(np.arange(len(pairs)), index=pd.MultiIndex.from_arrays([np.minimum(lm, rm),
                                                                                         np.maximum(lm, rm)]))
        by_mentions = by_mentions[~by_mentions.index.duplicated()]
        gl = pairs["left_mention_id"].map(group_of_mention).to_numpy()
        gr = pairs["right_mention_id"].map(group_of_mention).to_numpy()
        keys = pd.MultiIndex.from_arrays([np.minimum(gl, gr), np.maximum(gl, gr)])
        by_groups = pd.Series(np.arange(len(pairs)), index=keys)
        by_groups = by_groups[~by_groups.index.duplicated()]
    from relieflink.config.catalog import load_catalog

    catalog = load_catalog()
    names = {a.code: a.name for a in catalog.agencies} | {p.code: p.name for p in catalog.programs}
    out: dict[str, dict] = {}
    for item in items.itertuples(index=False):  # the items shown (--limit), not a hot path
        if item.left not in at.index or item.right not in at.index:
            continue
        a, b = int(at[item.left]), int(at[item.right])
        left, right = mentions.iloc[a], mentions.iloc[b]
        ids = sorted((str(mentions["mention_id"].iat[a]), str(mentions["mention_id"].iat[b])))
        key = (min(group[a], group[b]), max(group[a], group[b]))
        at_pair = by_mentions.get(tuple(ids), by_groups.get(key))
        pair = pairs.iloc[int(at_pair)] if at_pair is not None else None
        fields = []
        for label, column, comparison, how in SIDE_FIELDS:
            entry = {"field": label, "left": _masked(left.get(column), how, mask, names),
                     "right": _masked(right.get(column), how, mask, names), "level": None, "weight": None}
            if pair is not None and comparison is not None and f"w_{comparison}" in pair:
                entry["level"] = as_text(pair[f"level_{comparison}"])
                entry["weight"] = round(float(pair[f"w_{comparison}"]), 3)
            fields.append(entry)
        detail: dict[str, object] = {"fields": fields, "direct_pair": pair is not None}
        if pair is not None:
            weights = sum(float(pair[f"w_{c}"]) for _, _, c, _ in SIDE_FIELDS if c is not None and f"w_{c}" in pair)
            detail.update(match_weight=round(float(pair["match_weight"]), 3),
                          prior=round(float(pair["match_weight"]) - weights, 3),
                          probability=round(float(pair["probability"]), 4))
        out[item.item_id] = detail
    return out
