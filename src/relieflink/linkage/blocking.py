"""Blocking: candidate pairs as integer arrays, the union of several passes.

A pass groups nodes on a key (one or more encoded columns, or a derived key
such as masked IDs) and emits every pair within a group. Passes:

``key``        equal values of ``columns`` (all non-null). ``max_block``: a
               group larger than that is skipped (common names 王芳/张伟 in a
               subdistrict grow quadratically); ``only_if``: a boolean column,
               at least one side of a pair must have it (e.g. an invalid ID).
``masked``     ``column`` equal with one position masked, or two adjacent
               positions masked (one substitution / one transposition away);
               ``only_if`` as above.
``prefix``     the first ``length`` characters of ``column`` equal; ``only_if``.

Pairs are returned as ``(left, right)`` int64 arrays with ``left < right``,
deduplicated through int64 keys ``left * n + right``, together with the
index of the first pass that produced each pair. In link mode (two data sets)
only pairs across data sets are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from relieflink.linkage.table import NULL, Table, sorted_unique


class BlockingPass(BaseModel):
    """One blocking pass, validated from the settings document (see the module doc for the kinds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["key", "masked", "prefix"] = "key"
    columns: list[str] = Field(min_length=1)
    max_block: int | None = Field(None, ge=2)
    only_if: str | None = None
    length: int | None = Field(None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _one_column(cls, data: Any) -> Any:
        """``column: x`` is short for ``columns: [x]``."""
        if isinstance(data, dict) and "column" in data:
            if "columns" in data:
                raise ValueError("give column or columns, not both")
            data = {k: v for k, v in data.items() if k != "column"} | {"columns": [data["column"]]}
        return data

    @model_validator(mode="after")
    def _kind_parameters(self) -> "BlockingPass":
        if self.kind in ("masked", "prefix") and len(self.columns) != 1:
            raise ValueError(f"a {self.kind} pass blocks on one column")
        if (self.kind == "prefix") != (self.length is not None):
            raise ValueError("length is the prefix length of a prefix pass (and only of one)")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


@dataclass
class PassStats:
    name: str
    pairs: int  # pairs the pass generated (before union)
    new_pairs: int  # pairs no earlier pass had
    skipped_blocks: int = 0
    skipped_pairs: int = 0  # pairs that skipped (capped) blocks would have produced


def pairs_within_groups(keys: np.ndarray, nodes: np.ndarray, max_block: int | None = None):
    """All pairs of ``nodes`` that share a key (vectorized). Returns (left, right, n_skipped_blocks, skipped_pairs)."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0, 0
    order = np.lexsort((nodes, keys))
    k = keys[order]
    v = nodes[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    sizes = np.diff(np.r_[starts, len(k)])
    skipped_blocks = skipped_pairs = 0
    if max_block is not None:
        big = sizes > max_block
        skipped_blocks = int(big.sum())
        skipped_pairs = int((sizes[big] * (sizes[big] - 1) // 2).sum())
        keep_el = np.repeat(~big, sizes)
        v = v[keep_el]
        sizes = sizes[~big]
        starts = np.r_[0, np.cumsum(sizes)[:-1]] if len(sizes) else np.zeros(0, np.int64)
    multi = sizes > 1
    starts, sizes = starts[multi], sizes[multi]
    if len(sizes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), skipped_blocks, skipped_pairs
    # each element p at offset o in its group pairs with the (size - o - 1) elements after it
    grp_of = np.repeat(np.arange(len(sizes)), sizes)
    elem = np.repeat(starts, sizes) + (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    offset = elem - np.repeat(starts, sizes)
    cnt = sizes[grp_of] - offset - 1
    left_pos = np.repeat(elem, cnt)
    inner = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    right_pos = left_pos + 1 + inner
    a, b = v[left_pos], v[right_pos]
    return np.minimum(a, b), np.maximum(a, b), skipped_blocks, skipped_pairs


def _combined_key(tab: Table, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """int64 key of several columns and a mask of nodes where all are non-null."""
    ok = np.ones(tab.n, dtype=bool)
    key = np.zeros(tab.n, dtype=np.int64)
    for c in columns:
        col = tab.col(c).astype(np.int64)
        ok &= col != NULL
        codes, _ = pd.factorize(col)
        card = int(codes.max()) + 2 if len(codes) else 1
        key = key * card + codes
        # re-densify to keep the product within int64
        key = pd.factorize(key)[0].astype(np.int64)
    return key, ok


def _pairs_for_keys(keys, nodes, flag, max_block):
    """Pairs sharing a key; if ``flag`` is given, at least one side must be flagged."""
    if flag is None:
        return pairs_within_groups(keys, nodes, max_block)
    # restrict to keys that occur on at least one flagged node, then filter pairs
    fk = sorted_unique(keys[flag])
    sel = np.isin(keys, fk)
    l, r, sb, sp = pairs_within_groups(keys[sel], nodes[sel], max_block)
    fl = np.zeros(int(nodes.max()) + 1 if len(nodes) else 0, dtype=bool)
    fl[nodes[flag]] = True
    keep = fl[l] | fl[r]
    return l[keep], r[keep], sb, sp


def pass_keys(tab: Table, p: BlockingPass, flags: dict[str, np.ndarray]):
    """The blocking keys of one pass: per variant (one; a masked pass: one per masked position or
    pair of positions), the key of each node that has one, those nodes, and their ``only_if`` flag
    (None without). Two nodes are a candidate pair of the pass when they share a key of one variant
    whose group is within ``max_block`` (and one of them is flagged): :func:`run_pass` here,
    a join in relieflink.spark."""
    nodes_all = np.arange(tab.n, dtype=np.int64)
    flag_all = flags[p.only_if] if p.only_if else None
    if p.kind == "key":
        key, ok = _combined_key(tab, p.columns)
        f = flag_all[ok] if flag_all is not None else None
        return [(key[ok], nodes_all[ok], f)]
    if p.kind in ("masked", "prefix"):
        col = tab.col(p.columns[0])
        ok = col != NULL
        width = 18 if p.kind == "masked" else int(p.length or 0)
        cmat, clens = tab.char_codes()
        mat, lens = cmat[col[ok], :width], clens[col[ok]]
        nodes = nodes_all[ok]
        f = flag_all[ok] if flag_all is not None else None
        if p.kind == "prefix":
            keep = lens >= width
            key = pd.factorize(_row_hash(mat[keep]))[0]
            return [(key, nodes[keep], f[keep] if f is not None else None)]
        keep = lens == width
        mat, nodes = mat[keep], nodes[keep]
        f = f[keep] if f is not None else None
        # polynomial hash h = Σ c_j·P^j (mod 2^64): masking positions subtracts their terms, so
        # every masked key costs one vector operation
        powers = np.ones(width, np.uint64)
        with np.errstate(over="ignore"):
            for j in range(1, width):
                powers[j] = powers[j - 1] * _P
            terms = mat.astype(np.uint64) * powers[None, :]
            full = terms.sum(axis=1, dtype=np.uint64)
        variants = []
        masks = [(i,) for i in range(width)] + [(i, i + 1) for i in range(width - 1)]
        for m in masks:  # a loop over mask positions (≤ 35), not over rows
            with np.errstate(over="ignore"):
                key = full - terms[:, list(m)].sum(axis=1, dtype=np.uint64)
            variants.append((key.view(np.int64), nodes, f))
        return variants
    raise ValueError(f"unknown blocking pass kind {p.kind!r}")


def run_pass(tab: Table, p: BlockingPass, flags: dict[str, np.ndarray]):
    ls, rs = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    sb = sp = 0
    for key, nodes, f in pass_keys(tab, p, flags):
        l, r, b1, b2 = _pairs_for_keys(key, nodes, f, p.max_block)
        ls.append(l)
        rs.append(r)
        sb += b1
        sp += b2
    return np.concatenate(ls), np.concatenate(rs), sb, sp


_P = np.uint64(0x100000001B3)


def _row_hash(mat: np.ndarray) -> np.ndarray:
    """64-bit hash of each row of a uint32 matrix (FNV-style mixing, vectorized)."""
    h = np.full(len(mat), 1469598103934665603, dtype=np.uint64)
    prime = np.uint64(1099511628211)
    with np.errstate(over="ignore"):
        for j in range(mat.shape[1]):
            h = (h ^ mat[:, j].astype(np.uint64)) * prime
    return h.view(np.int64)


def block(tab: Table, passes: list[BlockingPass], flags: dict[str, np.ndarray] | None = None,
          dataset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[PassStats]]:
    """Union of the passes: (left, right, first_pass, stats)."""
    flags = flags or {}
    n = np.int64(tab.n)
    keys, passes_of, gen = [], [], []
    for k, p in enumerate(passes):
        l, r, sb, sp = run_pass(tab, p, flags)
        keep = l != r
        if dataset is not None:
            keep &= dataset[l] != dataset[r]
        key = sorted_unique(l[keep] * n + r[keep])
        keys.append(key)
        passes_of.append(np.full(len(key), k, np.int16))
        gen.append((len(key), sb, sp))
    allk = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    allp = np.concatenate(passes_of) if keys else np.zeros(0, np.int16)
    # one stable sort: the first pass that produced a pair is the smallest pass index of its key
    seen, first_pos = np.unique(allk, return_index=True)
    first = allp[first_pos]
    new = np.bincount(first, minlength=len(passes))
    stats = [PassStats(p.name, int(g), int(new[k]), sb, sp) for k, (p, (g, sb, sp)) in enumerate(zip(passes, gen))]
    return seen // n, seen % n, first, stats
