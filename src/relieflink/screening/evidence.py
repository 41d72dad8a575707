"""How likely a candidate is the applicant, under the run's trained linkage model, field by field.

The batch links mentions by comparing their prepared features (id, name, birth
date, sex, phone, place) with the comparison kernels of
:mod:`relieflink.linkage.comparisons` and scoring the levels with the trained
Fellegi–Sunter model (``linkage_model.json``: m, u, prior, term frequencies,
gates). Screening asks the same question of one application against the few
mentions of its candidate persons, and answers it with the same code:

* at index build, the run's mentions are prepared and collapsed into linkage nodes
  exactly as the linker does (:meth:`Linker.prepare`, then the anchor split that
  clears a contradicted ID's evidence), and each node's compared features are
  stored as codes into per-column vocabularies, with the run's term frequencies of
  the tf columns;
* per application, its one row is prepared by
  :func:`~relieflink.linkage.prepare.prepare_relief_one` (equal to the vectorized
  preparer), a table of a few rows is built (the application and the candidate
  persons' distinct nodes), and :func:`~relieflink.linkage.model.compute_gammas` and
  :func:`~relieflink.linkage.model.score` run on it — no second implementation of
  any comparison.

A person's probability is that of their best mention (the node with the highest
match weight): the linker joins a mention to a person by its strongest pair, and
the person's other mentions (an old address, a misspelled name) do not make the
best one less likely. tests/test_screening_evidence.py checks that a mention
scored against its person's other mentions gets the weight of ``pairs.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from relieflink.linkage.engine import Linker
from relieflink.linkage.model import TermFrequencies, compute_gammas, score
from relieflink.linkage.prepare import with_solo
from relieflink.linkage.settings import Settings
from relieflink.linkage.table import NULL, Table

MODEL_FILE = "linkage_model.json"


@dataclass(frozen=True)
class FieldEvidence:
    """One comparison of the application with the candidate's best mention."""

    comparison: str  # e.g. ``name``
    level: str  # the level that held, e.g. ``exact`` or ``one_substitution``
    weight: float  # bits (log2 m/u, term-frequency adjusted, gates applied)


@dataclass(frozen=True)
class MatchEvidence:
    """A candidate's match probability: the prior and each field's weight add up to the match weight."""

    probability: float
    match_weight: float
    prior_weight: float  # log2(prior / (1 - prior)) of the trained model
    fields: list[FieldEvidence] = field(default_factory=list)


def _compared(settings: Settings) -> tuple[list[str], list[str]]:
    """The string and integer columns the comparisons read, in the settings' order."""
    used: set[str] = set()
    for c in settings.comparisons:
        for lv in c.levels:
            for name in ("column", "surname", "year_column"):
                value = getattr(lv, name, None)
                if value:
                    used.add(value)
            used.update(getattr(lv, "columns", None) or ())
    return ([c for c in settings.string_columns if c in used], [c for c in settings.int_columns if c in used])


def _tf_columns(settings: Settings) -> list[str]:
    return sorted({lv.column for c in settings.comparisons for lv in c.levels if lv.tf and lv.column})


@dataclass
class LinkEvidence:
    """The run's linkage nodes, as arrays, for scoring an application against candidate mentions.

    ``node_of``: per mention of the index (``AuditInput.mentions`` order), its node (-1: none,
    e.g. an approval recorded since the run); ``codes`` / ``vocab``: per compared string column,
    each node's code into the column's vocabulary (-1 missing); ``ints``: per integer column,
    each node's value (-1 missing); ``tf`` / ``tf_ref``: per term-frequency column, the share of
    nodes with each vocabulary value and the chance two random nodes agree (the run's)."""

    settings: Settings
    node_of: np.ndarray
    codes: dict[str, np.ndarray]
    vocab: dict[str, np.ndarray]
    ints: dict[str, np.ndarray]
    tf: dict[str, np.ndarray]
    tf_ref: dict[str, float]
    _tf_lookup: dict[str, dict] = field(default_factory=dict, repr=False)

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, mentions: pd.DataFrame, indexed: np.ndarray, settings: Settings) -> LinkEvidence:
        """The nodes of a run's ``mentions`` (all of them, as the linker saw them) under its trained
        model; ``indexed``: positions of the mentions the index holds, in its order."""
        linker = Linker(settings)
        nodes, tab = linker.prepare(with_solo(mentions.reset_index(drop=True)))
        linker.split_contradicting_anchors(nodes, tab)
        return cls.from_table(tab, nodes.record_node[np.asarray(indexed, dtype=np.int64)], settings)

    @classmethod
    def from_table(cls, tab: Table, node_of: np.ndarray, settings: Settings) -> LinkEvidence:
        """The nodes of the linker's own table (``LinkResult.table``: prepared, anchor split done)
        under its trained model; ``node_of``: the node of each mention of the index, in its order
        (the run's ``link_node``). :meth:`build` prepares that table again from the mentions."""
        tf = Linker(settings).tf(tab)
        strings, integers = _compared(settings)
        codes, vocab = {}, {}
        for c in strings:
            col = tab.col(c)
            used, inv = np.unique(col, return_inverse=True)
            has_null = len(used) and used[0] == NULL
            codes[c] = (inv.ravel() - int(has_null)).astype(np.int32)
            vocab[c] = np.asarray(tab.vocab[used[int(has_null):]], dtype=object)
        tf_of, ref = {}, {}
        for c in _tf_columns(settings):
            used = np.unique(tab.col(c))
            used = used[used != NULL]
            tf_of[c] = tf.freq[c][used] if tf is not None else np.zeros(len(used))
            ref[c] = float(tf.ref[c]) if tf is not None else 0.0
        return cls(settings, np.asarray(node_of).astype(np.int32), codes, vocab,
                   {c: tab.ints[c].copy() for c in integers}, tf_of, ref)

    def with_mentions(self, n: int) -> LinkEvidence:
        """This evidence with ``n`` more mentions of the index that no node holds (recorded approvals)."""
        return replace(self, node_of=np.r_[self.node_of, np.full(n, -1, np.int32)])

    # -- on disk (prefix ``e_`` in the screening index; the model is the run's linkage_model.json) ----
    def arrays(self) -> dict[str, np.ndarray]:
        out = {"e_node_of": self.node_of}
        for c in self.codes:
            out[f"e_c_{c}"], out[f"e_v_{c}"] = self.codes[c], self.vocab[c]
        for c, v in self.ints.items():
            out[f"e_i_{c}"] = v
        for c in self.tf:
            out[f"e_tf_{c}"], out[f"e_tfref_{c}"] = self.tf[c], np.array([self.tf_ref[c]])
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], run_dir: Path | None) -> LinkEvidence | None:
        if "e_node_of" not in a or run_dir is None or not (Path(run_dir) / MODEL_FILE).exists():
            return None
        settings = Settings.load(Path(run_dir) / MODEL_FILE)
        strings, integers = _compared(settings)
        if any(f"e_c_{c}" not in a for c in strings) or any(f"e_i_{c}" not in a for c in integers):
            return None  # an index of another model's columns: no evidence rather than a wrong one
        tf_cols = _tf_columns(settings)
        return cls(settings, np.asarray(a["e_node_of"]), {c: a[f"e_c_{c}"] for c in strings},
                   {c: np.asarray(a[f"e_v_{c}"], dtype=object) for c in strings}, {c: a[f"e_i_{c}"] for c in integers},
                   {c: a[f"e_tf_{c}"] for c in tf_cols}, {c: float(a[f"e_tfref_{c}"][0]) for c in tf_cols})

    # -- scoring ----------------------------------------------------------------------------
    def node_rows(self, nodes: np.ndarray) -> dict[str, list]:
        """The compared features of ``nodes``: column → values (None: missing)."""
        out: dict[str, list] = {}
        for c, codes in self.codes.items():
            k = codes[nodes]
            values = self.vocab[c][np.maximum(k, 0)] if len(self.vocab[c]) else np.full(len(k), None, dtype=object)
            out[c] = [v if j >= 0 else None for v, j in zip(values.tolist(), k.tolist())]
        for c, v in self.ints.items():
            out[c] = [None if x == NULL else x for x in v[nodes].tolist()]
        return out

    def _frequency(self, column: str, value: str) -> float:
        lookup = self._tf_lookup.get(column)
        if lookup is None:
            lookup = self._tf_lookup[column] = dict(zip(self.vocab[column].tolist(), self.tf[column].tolist()))
        return lookup.get(value, 0.0)

    def score(self, left: dict[str, list], right: dict[str, list]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(levels, field weights, match weights, probabilities) of the aligned pairs ``left[i]``,
        ``right[i]`` (rows as :meth:`node_rows` gives them), by the linker's own kernels and model."""
        s = self.settings
        n = len(next(iter(left.values())))
        vocab: dict[str, int] = {}
        codes = {c: np.array([NULL if v is None else vocab.setdefault(v, len(vocab)) for v in left[c] + right[c]],
                             dtype=np.int32) for c in self.codes}
        ints = {c: np.array([NULL if v is None or v != v else int(v) for v in left[c] + right[c]], dtype=np.int64)
                for c in self.ints}
        words = np.empty(len(vocab), dtype=object)
        words[:] = list(vocab)
        tab = Table(n=2 * n, codes=codes, ints=ints, vocab=words)
        freq = {}
        for c in self.tf:
            f = np.zeros(len(vocab))
            present = np.unique(codes[c][codes[c] != NULL])
            f[present] = [self._frequency(c, words[k]) for k in present.tolist()]
            freq[c] = f
        li, ri = np.arange(n), n + np.arange(n)
        gammas = compute_gammas(tab, s.comparisons, li, ri)
        fw, mw, prob = score(tab, s.comparisons, gammas, li, ri, s.m, s.u, s.prior,
                             TermFrequencies(freq, self.tf_ref) if self.tf else None, s.training.tf_min_u,
                             gates=s.clustering.gates)
        return gammas, fw, mw, prob

    def explain(self, gammas: np.ndarray, fw: np.ndarray, mw: float, prob: float) -> MatchEvidence:
        """One scored pair as :class:`MatchEvidence`."""
        s = self.settings
        return MatchEvidence(float(prob), float(mw), float(np.log2(s.prior / (1 - s.prior))),
                             [FieldEvidence(c.name, c.labels[int(g)], float(w))
                              for c, g, w in zip(s.comparisons, gammas.tolist(), fw.tolist())])

    def best_of(self, application: dict[str, object], mention_positions: list[np.ndarray]) -> list[MatchEvidence | None]:
        """Per candidate (its mentions' positions in the index): the evidence of its best node
        against the application's prepared row (None: no mention of it is a node of the run)."""
        nodes_of = [np.unique(self.node_of[p]) for p in mention_positions]
        nodes_of = [k[k >= 0] for k in nodes_of]
        every = np.concatenate(nodes_of) if nodes_of else np.zeros(0, np.int32)
        if not len(every):
            return [None] * len(mention_positions)
        right = self.node_rows(every)
        left = {c: [application.get(c)] * len(every) for c in right}
        gammas, fw, mw, prob = self.score(left, right)
        out: list[MatchEvidence | None] = []
        at = 0
        for k in nodes_of:
            if not len(k):
                out.append(None)
                continue
            best = at + int(np.argmax(mw[at:at + len(k)]))
            out.append(self.explain(gammas[best], fw[best], mw[best], prob[best]))
            at += len(k)
        return out
