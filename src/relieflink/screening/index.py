"""The screening index: the last run's persons and records, ready for one application at a time.

Joint review (联审联批) asks, for one application, *who is this and what do they
already receive?* The index answers in milliseconds. It holds the run's records
prepared exactly as the batch audit prepares them (:class:`~relieflink.audit.columns.AuditInput`:
plain arrays sorted by person, with each person's offsets), the records and
persons of each household, each person's mentions, and sorted key arrays from
every valid ID, every name and every toneless pinyin seen on a mention to the
persons they belong to (looked up with ``searchsorted``). Nothing is scanned
per application, and no table is built: the rule kinds run on the few persons'
rows (:mod:`relieflink.screening.screen`).

``relieflink run`` writes the index into ``OUT/screening/`` (:mod:`relieflink.screening.store`);
:meth:`ScreeningIndex.open` reads it back (under a second at 1M rows) and builds
it from the run's tables when a folder written before has none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from relieflink.audit import RuleSet, load_rules
from relieflink.audit.columns import AuditInput, MentionColumns, PersonColumns, RecordColumns, Vocab, recode
from relieflink.config import load_catalog
from relieflink.config.catalog import Catalog
from relieflink.screening.store import DIRECTORY, read_arrays, write_arrays

#: the file an application's record is said to come from (never a file of the run)
APPLICATION_FILE = "（本次申请）"

# what the index reads of a record, of a person and of a mention
RECORD_COLUMNS = [
    "record_id", "file", "row", "source", "agency", "program", "kind", "category", "amount", "amount_basis",
    "period_start", "period_end", "event_date", "subdistrict", "household_no", "disability_level",
    "person_id", "household_id", "link_confidence", "identity_resolved", "reverses_record_id",
]
PERSON_COLUMNS = ["person_id", "name", "id_number", "birth_date", "sex", "household_id"]
MENTION_COLUMNS = ["mention_id", "record_id", "role", "source", "name", "name_pinyin", "id_number", "person_id"]


@dataclass(frozen=True)
class KeyLookup:
    """Sorted keys, each with one person code: ``get(key)`` gives the persons seen with it."""

    keys: np.ndarray  # unicode, ascending (with repeats: one entry per person)
    persons: np.ndarray  # int32 person codes, ascending within a key

    @classmethod
    def build(cls, keys: np.ndarray, persons: np.ndarray) -> KeyLookup:
        ok = np.array([isinstance(k, str) and k != "" for k in keys.tolist()], dtype=bool) & (persons >= 0)
        pairs = pd.DataFrame({"k": np.asarray(keys, dtype=object)[ok], "p": persons[ok]}).drop_duplicates()
        k = pairs["k"].to_numpy(dtype=str) if len(pairs) else np.zeros(0, dtype="<U1")
        p = pairs["p"].to_numpy(dtype=np.int32)
        order = np.lexsort((p, k))
        return cls(k[order], p[order])

    def get(self, key: str | None) -> np.ndarray:
        if not key:
            return self.persons[:0]
        lo, hi = np.searchsorted(self.keys, key, side="left"), np.searchsorted(self.keys, key, side="right")
        return np.asarray(self.persons[lo:hi])

    def with_keys(self, keys: np.ndarray, persons: np.ndarray) -> KeyLookup:
        """This lookup with more (key, person) pairs, inserted in place (the keys stay sorted)."""
        more = KeyLookup.build(np.asarray(keys, dtype=object), np.asarray(persons, dtype=np.int32))
        if not len(more.keys):
            return self
        dtype = np.promote_types(self.keys.dtype, more.keys.dtype) if self.keys.dtype.kind == "U" else object
        base = self.keys.astype(dtype, copy=False)
        at = np.searchsorted(base, more.keys.astype(dtype), side="right")
        return KeyLookup(np.insert(base, at, more.keys.astype(dtype)), np.insert(self.persons, at, more.persons))

    def get_many(self, keys: list[str]) -> np.ndarray:
        """The persons of any of ``keys`` (with repeats)."""
        if not keys:
            return self.persons[:0]
        arr = np.asarray(keys, dtype=self.keys.dtype if self.keys.dtype.kind == "U" else str)
        lo = np.searchsorted(self.keys, arr, side="left")
        hi = np.searchsorted(self.keys, arr, side="right")
        hit = hi > lo
        if not hit.any():
            return self.persons[:0]
        return np.concatenate([np.asarray(self.persons[a:b]) for a, b in zip(lo[hit].tolist(), hi[hit].tolist())])


def _by(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions grouped by a code in [-1, n): the positions sorted by code (code -1 left out) and
    each code's offsets into them."""
    keys = np.asarray(keys, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    order = order[keys[order] >= 0]
    return order.astype(np.int64), np.searchsorted(keys[order], np.arange(n + 1), side="left").astype(np.int64)


def flag_key(rule_id: str, person_id: str, records: Iterable[tuple[str, int]]) -> int:
    """A flag's identity for "already flagged": its rule, person and set of (file, row) — the
    same records flagged by the same rule (an approval would add to that flag)."""
    text = rule_id + "\x00" + person_id + "\x00" + "\x00".join(sorted(f"{f}\x01{int(r)}" for f, r in records))
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def flagged_keys(flags: pd.DataFrame | None) -> np.ndarray:
    """Sorted :func:`flag_key` of a run's active (not dismissed) flags about a person."""
    if flags is None or not len(flags):
        return np.zeros(0, dtype=np.uint64)
    if "decision" in flags:
        flags = flags[flags["decision"].ne("dismissed") | flags["decision"].isna()]
    keys = [flag_key(rule, pid, ((r["file"], r["row"]) for r in recs))
            for pid, rule, recs in zip(flags["person_id"], flags["rule_id"], flags["records"]) if isinstance(pid, str)]
    return np.unique(np.array(keys, dtype=np.uint64))


@dataclass
class ScreeningIndex:
    """Arrays and lookups of one run, for :func:`relieflink.screening.screen`.

    ``data``: every record of the run as the batch audit reads it; ``mention_order`` /
    ``mention_start``: mention positions by person; ``household_records`` / ``household_record_start``
    and ``household_persons`` / ``household_person_start``: record positions and person codes
    by household code."""

    data: AuditInput
    mention_order: np.ndarray
    mention_start: np.ndarray
    household_records: np.ndarray
    household_record_start: np.ndarray
    household_persons: np.ndarray
    household_person_start: np.ndarray
    by_id: KeyLookup
    by_name: KeyLookup
    by_pinyin: KeyLookup
    catalog: Catalog
    ruleset: RuleSet
    run_dir: Path | None = None
    # the run's active flags about a person (reviewer decisions applied): sorted flag_key values
    flagged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    # screening's rule sets per program applied for, built on first use
    rules_cache: dict[str, list] = field(default_factory=dict, repr=False)
    next_record_id: int = field(init=False)  # no record of the run has it: the application's record
    rule_titles: dict[str, tuple[str, str]] = field(init=False, repr=False)  # a rule of several clauses: its first title

    def __post_init__(self) -> None:
        ids = self.data.records.record_id
        self.next_record_id = int(ids.max()) + 1 if len(ids) else 0
        self.rule_titles = {}
        for rule in self.ruleset.rules:
            self.rule_titles.setdefault(rule.id, (rule.title_zh, rule.title_en))

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, persons: pd.DataFrame, records: pd.DataFrame, mentions: pd.DataFrame,
              catalog: Catalog | None = None, ruleset: RuleSet | None = None, run_dir: Path | None = None,
              flags: pd.DataFrame | None = None) -> ScreeningIndex:
        """The index of a run's tables (records with a person only: screening asks about persons)."""
        catalog = catalog or load_catalog()
        ruleset = ruleset or load_rules(catalog=catalog)
        records = records[records["person_id"].notna()]
        linked = mentions[mentions["person_id"].notna()]
        agencies = sorted({a.code for a in catalog.agencies} | {p.agency for p in catalog.programs})
        data = AuditInput.from_frames(records, persons, linked, catalog, ruleset,
                                      extra_text={"file": [APPLICATION_FILE], "agency": agencies, "source": agencies})
        vocab = data.vocab["person"]
        people = persons.drop_duplicates("person_id")
        m_person = data.mentions.person
        mention_order, mention_start = _by(m_person, len(vocab))
        hh_records, hh_record_start = _by(data.records.household, len(data.vocab["household"]))
        hh_persons, hh_person_start = _by(data.persons.household, len(data.vocab["household"]))
        people_codes = recode(people["person_id"].astype(object), vocab)
        by_name = KeyLookup.build(np.concatenate([linked["name"].astype(object).to_numpy(), people["name"].astype(object).to_numpy()]),
                                  np.concatenate([m_person, people_codes]))
        index = cls(
            data=data, mention_order=mention_order, mention_start=mention_start,
            household_records=hh_records, household_record_start=hh_record_start,
            household_persons=hh_persons.astype(np.int64), household_person_start=hh_person_start,
            by_id=KeyLookup.build(linked["id_number"].astype(object).to_numpy(), m_person),
            by_name=by_name,
            by_pinyin=KeyLookup.build(linked["name_pinyin"].astype(object).to_numpy(), m_person),
            catalog=catalog, ruleset=ruleset, run_dir=run_dir, flagged=flagged_keys(flags),
        )
        return index

    @classmethod
    def from_run(cls, run_dir: Path, catalog: Catalog | None = None, ruleset: RuleSet | None = None) -> ScreeningIndex:
        """Build the index from a ``relieflink run`` output folder's tables (seconds at 1M rows)."""
        run_dir = Path(run_dir)
        missing = [n for n in ("persons", "records", "mentions") if not (run_dir / f"{n}.parquet").exists()]
        if missing:
            raise FileNotFoundError(
                f"{run_dir}: not a complete run folder (no {', '.join(n + '.parquet' for n in missing)}); "
                "run `relieflink run BATCH --out OUT` first and screen against OUT"
            )
        persons = pd.read_parquet(run_dir / "persons.parquet", columns=PERSON_COLUMNS)
        records = _read(run_dir / "records.parquet", RECORD_COLUMNS)
        mentions = pd.read_parquet(run_dir / "mentions.parquet", columns=MENTION_COLUMNS)
        flags = pd.read_parquet(run_dir / "flags.parquet") if (run_dir / "flags.parquet").exists() else None
        return cls.build(persons, records, mentions, catalog, ruleset, run_dir, flags)

    @classmethod
    def open(cls, run_dir: Path, catalog: Catalog | None = None, ruleset: RuleSet | None = None) -> ScreeningIndex:
        """The index a run wrote into ``run_dir/screening/``; built from the run's tables when the
        folder has none (written before the index was), or one of another format."""
        run_dir = Path(run_dir)
        stored = read_arrays(run_dir / DIRECTORY)
        if stored is None:
            return cls.from_run(run_dir, catalog, ruleset)
        catalog = catalog or load_catalog()
        ruleset = ruleset or load_rules(catalog=catalog)
        return cls.from_arrays(stored[0], catalog, ruleset, run_dir)

    # -- records added since the run ----------------------------------------------------------
    def with_records(self, records: pd.DataFrame, mentions: pd.DataFrame, persons: pd.DataFrame) -> ScreeningIndex:
        """The index as if ``records`` (with their ``mentions``) were records of the run: approvals
        recorded before the next run (the service), screened like any other record.

        ``records`` carry record ids from :attr:`next_record_id` on, and the ``person_id`` and
        ``household_id`` they are counted for; ``persons``: those of them the run does not know
        (PERSON_COLUMNS). The run's codes stay as they are (new persons, households and text
        values get the next codes), so the arrays are joined, not rebuilt; this index is left
        as it is (answers in flight go on reading it)."""
        if not len(records):
            return self
        d = self.data
        extra = AuditInput.from_frames(records, persons, mentions, self.catalog, self.ruleset)
        vocab = {k: Vocab(v.values) for k, v in d.vocab.items()}  # Vocab.code(add=) appends to a copy of values

        def codes_in(column: str) -> np.ndarray:
            """Each code of ``extra``'s vocabulary in the joined one (last slot: -1 stays -1)."""
            return np.array([vocab[column].code(v, add=True) for v in extra.vocab[column].values.tolist()] + [-1],
                            dtype=np.int32)

        person, household = codes_in("person"), codes_in("household")
        r = extra.records
        added = replace(r, person=person[r.person], household=household[r.household],
                        text={c: codes_in(c)[v] for c, v in r.text.items()})
        both = RecordColumns.concat([d.records, added])
        both = both.take(np.lexsort((both.record_id, both.person)))
        n_persons, n_households = len(vocab["person"]), len(vocab["household"])

        # the persons the run does not know, after the run's (in the order of their new codes)
        fresh = np.flatnonzero(person[:-1] >= d.n_persons)
        fresh = fresh[np.argsort(person[fresh])]
        p, q = d.persons, extra.persons
        names = q.name[fresh]
        name_code = pd.Series(p.name_code[p.known], index=p.name[p.known]).groupby(level=0).first()
        new_code = pd.Series(names).map(name_code).fillna(-1).to_numpy(dtype=np.int64)
        unseen = pd.Series(names[new_code < 0]).dropna().unique()
        new_code[new_code < 0] = pd.Series(names[new_code < 0]).map(
            dict(zip(unseen, len(p.name_count) + np.arange(len(unseen))))).fillna(-1).to_numpy(dtype=np.int64)
        people = PersonColumns(
            name=np.r_[p.name, names], name_code=np.r_[p.name_code, new_code].astype(p.name_code.dtype),
            id_number=np.r_[p.id_number, q.id_number[fresh]], birth_day=np.r_[p.birth_day, q.birth_day[fresh]],
            household=np.r_[p.household, household[q.household[fresh]]].astype(p.household.dtype),
            known=np.r_[p.known, q.known[fresh]],
            name_count=np.bincount(new_code[new_code >= 0], minlength=len(p.name_count) + len(unseen))
            + np.r_[p.name_count, np.zeros(len(unseen), dtype=p.name_count.dtype)])
        m = extra.mentions
        source = codes_in("source")
        mentions_both = MentionColumns(np.r_[d.mentions.person, person[m.person]].astype(d.mentions.person.dtype),
                                       np.r_[d.mentions.source, source[m.source]].astype(d.mentions.source.dtype),
                                       np.r_[d.mentions.record_id, m.record_id])
        data = AuditInput(records=both, persons=people, mentions=mentions_both, vocab=vocab,
                          person_start=np.searchsorted(both.person, np.arange(n_persons + 1), side="left").astype(np.int64),
                          person_rows=np.r_[d.person_rows, person[fresh[q.known[fresh]]]].astype(d.person_rows.dtype))
        mention_order, mention_start = _by(mentions_both.person, n_persons)
        hh_records, hh_record_start = _by(both.household, n_households)
        hh_persons, hh_person_start = _by(people.household, n_households)
        linked = mentions[mentions["person_id"].notna()]
        m_person = recode(linked["person_id"].astype(object), vocab["person"])
        return replace(
            self, data=data, mention_order=mention_order, mention_start=mention_start,
            household_records=hh_records, household_record_start=hh_record_start,
            household_persons=hh_persons.astype(np.int64), household_person_start=hh_person_start,
            by_id=self.by_id.with_keys(linked["id_number"].astype(object).to_numpy(), m_person),
            by_name=self.by_name.with_keys(np.r_[linked["name"].astype(object).to_numpy(), names], np.r_[m_person, person[fresh]]),
            by_pinyin=self.by_pinyin.with_keys(linked["name_pinyin"].astype(object).to_numpy(), m_person),
        )

    # -- on disk --------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        d = self.data
        out = {f"r_{k}": v for k, v in d.records.arrays().items()}
        out.update({f"p_{f.name}": getattr(d.persons, f.name) for f in fields(PersonColumns)})
        out.update({f"m_{f.name}": getattr(d.mentions, f.name) for f in fields(MentionColumns)})
        out.update({f"v_{k}": v.values for k, v in d.vocab.items()})
        out.update(person_start=d.person_start, person_rows=d.person_rows, mention_order=self.mention_order,
                   mention_start=self.mention_start, household_records=self.household_records,
                   household_record_start=self.household_record_start, household_persons=self.household_persons,
                   household_person_start=self.household_person_start, flagged=self.flagged)
        for name in ("id", "name", "pinyin"):
            lookup = getattr(self, f"by_{name}")
            out[f"k_{name}_keys"], out[f"k_{name}_persons"] = lookup.keys, lookup.persons
        return out

    def write(self, run_dir: Path) -> None:
        """Write the index into ``run_dir/screening/`` (a staging folder of the run: outputs.py)."""
        write_arrays(Path(run_dir) / DIRECTORY, self.arrays(), {"records": len(self.data.records),
                                                              "persons": self.data.n_persons})

    @classmethod
    def write_for_run(cls, run_dir: Path, persons: pd.DataFrame, records: pd.DataFrame, mentions: pd.DataFrame,
                      catalog: Catalog, flags: pd.DataFrame) -> None:
        """Build the index of a run's tables and write it into ``run_dir`` (a staging folder):
        by the run, and again by ``relieflink report`` when new decisions change the flags
        (the index knows which flags are already raised and which were dismissed)."""
        from relieflink.audit import load_rules

        cls.build(persons, records, mentions, catalog, load_rules(catalog=catalog), flags=flags).write(run_dir)

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], catalog: Catalog, ruleset: RuleSet,
                    run_dir: Path | None = None) -> ScreeningIndex:
        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix):]: v for k, v in a.items() if k.startswith(prefix)}

        vocab = {k: Vocab(np.asarray(v, dtype=object)) for k, v in part("v_").items()}
        data = AuditInput(records=RecordColumns.from_arrays(part("r_")), persons=PersonColumns(**part("p_")),
                          mentions=MentionColumns(**part("m_")), vocab=vocab, person_start=a["person_start"],
                          person_rows=a["person_rows"])
        return cls(
            data=data, mention_order=a["mention_order"], mention_start=a["mention_start"],
            household_records=a["household_records"], household_record_start=a["household_record_start"],
            household_persons=a["household_persons"], household_person_start=a["household_person_start"],
            by_id=KeyLookup(a["k_id_keys"], a["k_id_persons"]), by_name=KeyLookup(a["k_name_keys"], a["k_name_persons"]),
            by_pinyin=KeyLookup(a["k_pinyin_keys"], a["k_pinyin_persons"]),
            catalog=catalog, ruleset=ruleset, run_dir=run_dir, flagged=np.asarray(a["flagged"]),
        )

    # -- lookups ----------------------------------------------------------------------------
    def already_flagged(self, rule_id: str, person_id: str, records: Iterable[tuple[str, int]]) -> bool:
        """Did the last run flag these records of this person by this rule (and no reviewer dismiss it)?"""
        key = np.uint64(flag_key(rule_id, person_id, records))
        at = int(np.searchsorted(self.flagged, key))
        return bool(at < len(self.flagged) and self.flagged[at] == key)

    def person_code(self, person_id: str) -> int:
        """The code of a person id (-1: not in the run)."""
        return self.data.vocab["person"].index.get(person_id, -1)

    def person_id(self, code: int) -> str:
        return str(self.data.vocab["person"].values[code])

    def rows_of(self, persons: np.ndarray) -> np.ndarray:
        """Record positions of persons (in the input's order: by person, then record id)."""
        s = self.data.person_start
        return _ranges(s[persons], s[np.asarray(persons) + 1])


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenated ranges ``lo[i]:hi[i]``."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    n = hi - lo
    if n.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(lo - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(int(n.sum()), dtype=np.int64)


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    """``columns`` of a parquet file, those it has."""
    import pyarrow.parquet as pq

    have = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[c for c in columns if c in have])
