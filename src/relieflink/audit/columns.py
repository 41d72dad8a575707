"""The rule kinds' input as plain columns: records, persons and mentions, encoded once.

Every rule kind (:mod:`relieflink.audit.kinds`) reads an :class:`AuditInput`:
numpy arrays, text as integer codes into shared sorted vocabularies
(:class:`Vocab`; a code's order is its value's order, so sorting codes sorts
text), records sorted by person with the offsets of each person's rows. The
batch audit builds it once from the run's tables (:meth:`AuditInput.from_frames`,
the one place where records are prepared: reversals netted, the period each
record covers, the beneficiary's name key); the screening index writes the
same columns to disk and, for one application, takes the rows of the few
persons concerned and appends the application as one more record
(:meth:`RecordColumns.take`, :meth:`RecordColumns.concat`) — no DataFrame is
built on that path, so a rule costs microseconds on a handful of records and
stays vectorized on a million.

What a record covers, by the periodicity of its program (days from
1970-01-01, months as ``year*12 + month-1``, :mod:`relieflink.audit.periods`):
monthly benefits by month, annual ones by calendar year, school-year ones by
the school year starting 1 September (payments from
``school_year_paid_ahead_from_month`` on are for the school year that starts
that September), one-off grants by their date, episodes by their date range,
statuses from their start on, open-ended.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Iterable

import numpy as np
import pandas as pd

from relieflink.audit.periods import OPEN, days, month_of_day
from relieflink.audit.rules import RuleSet
from relieflink.config.catalog import Catalog

PERIODICITIES = ("monthly", "annual", "school_year", "one_off", "episode", "status")
MONTHLY, ANNUAL, SCHOOL_YEAR, ONE_OFF, EPISODE, STATUS = range(len(PERIODICITIES))

#: text columns of a record, each coded into the vocabulary of the same name
#: a date that is not there (raw record dates and birth dates, which may precede 1970)
NO_DAY = np.int64(-(2**62))
RECORD_TEXT = ("file", "source", "agency", "program", "kind", "category", "household_no", "subdistrict", "name_key")
_EPOCH = np.datetime64("1970-01-01", "D")


class Vocab:
    """The distinct values of a text column, sorted; a value's code is its position (-1: missing).

    Sorted, so that ordering codes orders the text (subjects, programs, files). A value met
    later (an application's category) is appended: only columns compared for equality take
    new values that way (:meth:`code`)."""

    __slots__ = ("values", "_index", "_masks")

    def __init__(self, values: np.ndarray | Iterable[object]):
        self.values = np.asarray(values, dtype=object)
        self._index: dict[object, int] | None = None
        self._masks: dict[frozenset, np.ndarray] = {}  # mask() by its values: rules ask for the same ones

    def __len__(self) -> int:
        return len(self.values)

    @property
    def index(self) -> dict[object, int]:
        if self._index is None:
            self._index = {v: i for i, v in enumerate(self.values.tolist())}
        return self._index

    def code(self, value: object, *, add: bool = False) -> int:
        """The code of ``value`` (-1 for a missing value); unknown values are appended when ``add``
        (the vocabulary is then no longer sorted: for equality-only columns), else KeyError."""
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return -1
        found = self.index.get(value)
        if found is not None:
            return found
        if not add:
            raise KeyError(value)
        self.values = np.append(self.values, np.array([value], dtype=object))
        self.index[value] = len(self.values) - 1
        self._masks.clear()
        return len(self.values) - 1

    def mask(self, wanted: Iterable[object]) -> np.ndarray:
        """A lookup table: ``mask(values)[codes]`` says which codes are one of ``values`` (the
        last slot, for code -1, is False)."""
        want = frozenset(wanted)
        found = self._masks.get(want)
        if found is None:
            found = self._masks[want] = np.array([v in want for v in self.values.tolist()] + [False], dtype=bool)
        return found

    def text(self, codes: np.ndarray) -> np.ndarray:
        """Object array of the values (None where the code is -1)."""
        codes = np.asarray(codes)
        out = self.values[np.maximum(codes, 0)] if len(self.values) else np.full(len(codes), None, dtype=object)
        missing = codes < 0
        if missing.any():
            out = out.copy()
            out[missing] = None
        return out


def encode(values: pd.Series | np.ndarray, extra: Iterable[object] = ()) -> tuple[np.ndarray, Vocab]:
    """Codes and sorted vocabulary of a text column (missing values: -1); ``extra`` values join the
    vocabulary although no row holds them."""
    arr = np.asarray(values.astype(object) if isinstance(values, pd.Series) else values, dtype=object)
    extra = list(extra)
    if extra:
        arr2 = np.concatenate([arr, np.asarray(extra, dtype=object)])
        codes, uniques = pd.factorize(arr2, sort=True, use_na_sentinel=True)
        codes = codes[: len(arr)]
    else:
        codes, uniques = pd.factorize(arr, sort=True, use_na_sentinel=True)
    return codes.astype(np.int32), Vocab(np.asarray(uniques, dtype=object))


def recode(values: pd.Series | np.ndarray, vocab: Vocab) -> np.ndarray:
    """Codes of ``values`` in an existing vocabulary (-1 for missing or unknown values)."""
    arr = values.astype(object) if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    return pd.Index(vocab.values).get_indexer(arr.to_numpy()).astype(np.int32)


def _obj(frame: pd.DataFrame, column: str, default: object = None) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), default, dtype=object)
    s = frame[column].astype(object)
    return s.where(s.notna(), None).to_numpy(dtype=object)


def _floats(frame: pd.DataFrame, column: str, default: float = np.nan) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), default, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _days(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Day numbers of a date column (NO_DAY: missing)."""
    return days(frame[column], missing=NO_DAY) if column in frame else np.full(len(frame), NO_DAY, dtype=np.int64)


def coverage(periodicity: np.ndarray, start: np.ndarray, end: np.ndarray, event: np.ndarray,
             paid_ahead_from_month: int = 7) -> dict[str, np.ndarray]:
    """What each record covers: ``day_lo``, ``day_hi``, ``month_lo``, ``month_hi``, ``event_day``
    (see the module docstring), from periodicity codes and raw start, end and event days
    (NO_DAY: missing). Applying it to already expanded periods gives the same periods back.

    A missing date, and one before 1970, count as -1 (no bound), as the rules have always read
    them."""
    start, end, event = (np.where(x == NO_DAY, -1, x) for x in (start, end, event))
    event = np.where(event >= 0, event, start)
    has_start = start >= 0
    d = _EPOCH + np.maximum(start, 0).astype("timedelta64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1

    def first_day(y: np.ndarray, m: int) -> np.ndarray:
        return (((y - 1970) * 12 + (m - 1)).astype("datetime64[M]").astype("datetime64[D]") - _EPOCH).astype(np.int64)

    day_lo = start.astype(np.int64).copy()
    day_hi = np.where(end >= 0, end, OPEN).astype(np.int64)
    annual = (periodicity == ANNUAL) & has_start
    day_lo[annual] = first_day(year[annual], 1)
    day_hi[annual] = first_day(year[annual] + 1, 1) - 1
    missing_annual = (periodicity == ANNUAL) & ~has_start
    day_lo[missing_annual] = day_hi[missing_annual] = -1
    school = (periodicity == SCHOOL_YEAR) & has_start
    sy = np.where(month[school] >= paid_ahead_from_month, year[school], year[school] - 1)
    day_lo[school] = first_day(sy, 9)
    day_hi[school] = first_day(sy + 1, 9) - 1
    missing_school = (periodicity == SCHOOL_YEAR) & ~has_start
    day_lo[missing_school] = day_hi[missing_school] = -1
    single = periodicity == ONE_OFF
    day_hi[single] = day_lo[single]
    status = periodicity == STATUS
    day_hi[status] = OPEN
    day_lo[status & (day_lo < 0)] = -OPEN
    month_lo = np.where(day_lo >= 0, month_of_day(np.maximum(day_lo, 0)), -OPEN)
    month_hi = np.where(day_hi < OPEN, month_of_day(np.minimum(day_hi, 10**6)), OPEN)
    return {"day_lo": day_lo, "day_hi": day_hi, "month_lo": month_lo.astype(np.int64),
            "month_hi": month_hi.astype(np.int64), "event_day": event.astype(np.int64)}


@dataclass
class RecordColumns:
    """Prepared records (see the module docstring), one array per column, aligned.

    Text columns are codes into the vocabularies of :class:`AuditInput` (``text[name]``);
    ``person`` and ``household`` are codes into the person and household vocabularies.
    ``start_day`` / ``end_day`` / ``event_date_day`` are the record's own dates (NO_DAY: none),
    the ``day_*`` / ``month_*`` columns what it covers."""

    record_id: np.ndarray
    row: np.ndarray
    person: np.ndarray
    household: np.ndarray
    text: dict[str, np.ndarray]
    amount: np.ndarray
    per_month: np.ndarray
    disability_level: np.ndarray
    link_confidence: np.ndarray
    identity_resolved: np.ndarray
    periodicity: np.ndarray
    start_day: np.ndarray
    end_day: np.ndarray
    event_date_day: np.ndarray
    day_lo: np.ndarray
    day_hi: np.ndarray
    month_lo: np.ndarray
    month_hi: np.ndarray
    event_day: np.ndarray

    def __len__(self) -> int:
        return len(self.record_id)

    def take(self, positions: np.ndarray) -> RecordColumns:
        """The rows at ``positions`` (in that order)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = {k: v[positions] for k, v in value.items()} if f.name == "text" else value[positions]
        return RecordColumns(**out)

    @staticmethod
    def concat(parts: list[RecordColumns]) -> RecordColumns:
        out = {}
        for f in fields(RecordColumns):
            if f.name == "text":
                out["text"] = {k: np.concatenate([p.text[k] for p in parts]) for k in parts[0].text}
            else:
                out[f.name] = np.concatenate([getattr(p, f.name) for p in parts])
        return RecordColumns(**out)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every column by name (text columns as ``text_<name>``), for writing."""
        out = {}
        for f in fields(self):
            if f.name == "text":
                out.update({f"text_{k}": v for k, v in self.text.items()})
            else:
                out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RecordColumns:
        text = {k[5:]: v for k, v in arrays.items() if k.startswith("text_")}
        return cls(text=text, **{f.name: arrays[f.name] for f in fields(cls) if f.name != "text"})


@dataclass
class PersonColumns:
    """One row per person code (the person vocabulary's order): what the rules read of a person.

    ``known``: the person is in the persons table (a record may name a person it lacks)."""

    name: np.ndarray  # object, None when unknown
    name_code: np.ndarray  # int32 codes of ``name`` (equality joins), -1 when unknown
    id_number: np.ndarray  # object
    birth_day: np.ndarray  # int64 day numbers, NO_DAY when unknown
    household: np.ndarray  # int32 household codes, -1
    known: np.ndarray  # bool
    name_count: np.ndarray  # per name code: how many persons of the table bear it

    def __len__(self) -> int:
        return len(self.known)


@dataclass
class MentionColumns:
    """Person mentions as the rules read them: who is named, by which source, on which record."""

    person: np.ndarray  # int32 person codes
    source: np.ndarray  # int32 codes into the ``source`` vocabulary
    record_id: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.person)

    def take(self, positions: np.ndarray) -> MentionColumns:
        return MentionColumns(self.person[positions], self.source[positions], self.record_id[positions])


def _netted(records: pd.DataFrame) -> np.ndarray:
    """Records that a reversal cancels: the reversals (negative amounts, whether or not the ingest
    found the record they reverse) and the records they reverse (``reverses_record_id``)."""
    amount = pd.to_numeric(records["amount"], errors="coerce") if "amount" in records else pd.Series(np.nan, index=records.index)
    out = (amount < 0).to_numpy(dtype=bool, na_value=False)
    if "reverses_record_id" in records and "record_id" in records:
        out = out | records["record_id"].isin(records["reverses_record_id"].dropna()).to_numpy(dtype=bool)
    return out


def _age_lookup(birth_day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = _EPOCH + np.where(birth_day == NO_DAY, 0, birth_day).astype("timedelta64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def age_on_day(birth_day: np.ndarray, day: int) -> np.ndarray:
    """Completed years of age on a day number; NaN where the birth day is unknown (NO_DAY)."""
    by, bm, bd = _age_lookup(np.asarray(birth_day, dtype=np.int64))
    oy, om, od = (int(x[0]) for x in _age_lookup(np.array([day], dtype=np.int64)))
    before = (bm > om) | ((bm == om) & (bd > od))
    age = (oy - by - before).astype(float)
    return np.where(np.asarray(birth_day) != NO_DAY, age, np.nan)


@dataclass
class AuditInput:
    """Everything the rule kinds read (see the module docstring).

    ``records`` are sorted by person (records without a person last), then record id;
    ``person_start[p]:person_start[p + 1]`` are person ``p``'s rows. ``persons`` is indexed by
    person code (every person of the vocabulary); ``person_rows`` are the persons whose row of
    the persons table is part of the input (the household each belongs to)."""

    records: RecordColumns
    persons: PersonColumns
    mentions: MentionColumns
    vocab: dict[str, Vocab]  # RECORD_TEXT columns, and "person", "household"
    person_start: np.ndarray
    person_rows: np.ndarray

    def position_of(self, record_ids: np.ndarray) -> np.ndarray:
        """Positions of records by record id (-1: not among the records)."""
        ids = self.records.record_id
        order = np.argsort(ids, kind="stable")
        at = np.searchsorted(ids[order], record_ids)
        at = np.minimum(at, max(len(ids) - 1, 0))
        found = (len(ids) > 0) & (ids[order][at] == record_ids) if len(ids) else np.zeros(len(record_ids), bool)
        return np.where(found, order[at], -1)

    @property
    def n_persons(self) -> int:
        return len(self.vocab["person"])

    def text(self, column: str, codes: np.ndarray | None = None) -> np.ndarray:
        """A text column of the records (or of ``codes``) as an object array (None: missing)."""
        vocab = self.vocab[column]
        if codes is None:
            codes = self.records.person if column == "person" else (
                self.records.household if column == "household" else self.records.text[column])
        return vocab.text(codes)

    def with_records(self, records: RecordColumns, mentions: MentionColumns, person_rows: np.ndarray) -> AuditInput:
        """The same persons and vocabularies over other records (a subset, an application added),
        their mentions and the persons whose table rows count: ``person_start`` is not kept (the
        rules do not need it)."""
        return replace(self, records=records, mentions=mentions, person_rows=person_rows,
                       person_start=np.zeros(0, dtype=np.int64))

    @classmethod
    def from_frames(cls, records: pd.DataFrame, persons: pd.DataFrame, mentions: pd.DataFrame | None,
                    catalog: Catalog, ruleset: RuleSet, extra_text: dict[str, Iterable[object]] | None = None
                    ) -> AuditInput:
        """Prepare the run's tables for the rules.

        Reversals (冲正) are netted here, the one place every rule reads its records from: a
        record with a negative amount and the record it reverses count in no rule. The
        beneficiary's name as written on the record (``name_key``: toneless pinyin) comes from
        the mentions when they carry it. ``extra_text``: values a vocabulary must hold although
        no record has them (the screening index: every agency, the application's file name).
        """
        extra_text = extra_text or {}
        r = records.loc[~_netted(records)]
        if len(r) > 1 and not (np.diff(r["record_id"].to_numpy()) > 0).all():
            r = r.sort_values("record_id", kind="stable")
        n = len(r)
        if mentions is None:
            mentions = pd.DataFrame({"person_id": pd.Series(dtype=object)})
        people = persons.drop_duplicates("person_id")

        _, person_vocab = encode(np.concatenate([_obj(f, "person_id") for f in (r, people, mentions)]))
        _, household_vocab = encode(np.concatenate([_obj(f, "household_id") for f in (r, people)]))
        vocab: dict[str, Vocab] = {"person": person_vocab, "household": household_vocab}

        agency = _obj(r, "agency")
        if "source" in r and all(a is None for a in agency):
            agency = _obj(r, "source")
        columns: dict[str, np.ndarray] = {
            "file": _obj(r, "file"), "source": _obj(r, "source") if "source" in r else agency, "agency": agency,
            "program": _obj(r, "program"), "kind": _obj(r, "kind"), "category": _obj(r, "category"),
            "household_no": _obj(r, "household_no"), "subdistrict": _obj(r, "subdistrict"),
            "name_key": np.full(n, None, dtype=object),
        }
        if "name_pinyin" in mentions and "record_id" in mentions and "role" in mentions:
            ben = mentions[mentions["role"].eq("beneficiary")].drop_duplicates("record_id")
            lookup = pd.Series(ben["name_pinyin"].astype(object).to_numpy(), index=ben["record_id"].to_numpy())
            found = lookup.reindex(r["record_id"].to_numpy())
            columns["name_key"] = found.where(found.notna(), None).to_numpy(dtype=object)
        extras = {column: list(extra_text.get(column, ())) for column in RECORD_TEXT}
        extras["program"] += [p.code for p in catalog.programs]
        extras["source"] += [v for v in _obj(mentions, "source") if v is not None]  # a source naming no beneficiary
        text: dict[str, np.ndarray] = {}
        for column in RECORD_TEXT:
            text[column], vocab[column] = encode(columns[column], extras[column])

        periodicity_of = {p.code: PERIODICITIES.index(p.periodicity) for p in catalog.programs}
        by_program = np.array([periodicity_of.get(v, -1) for v in vocab["program"].values.tolist()] + [-1], dtype=np.int8)
        periodicity = by_program[text["program"]]
        start, end, event_date = _days(r, "period_start"), _days(r, "period_end"), _days(r, "event_date")
        cov = coverage(periodicity, start, end, event_date, ruleset.school_year_paid_ahead_from_month)
        resolved = (r["identity_resolved"].astype("boolean").fillna(True).to_numpy(dtype=bool)
                    if "identity_resolved" in r else np.ones(n, dtype=bool))
        rc = RecordColumns(
            record_id=r["record_id"].to_numpy(dtype=np.int64), row=_floats(r, "row", -1).astype(np.int64),
            person=recode(_obj(r, "person_id"), person_vocab), household=recode(_obj(r, "household_id"), household_vocab),
            text=text, amount=_floats(r, "amount"), per_month=_obj(r, "amount_basis") == "month",
            disability_level=_floats(r, "disability_level"), link_confidence=_floats(r, "link_confidence", 1.0),
            identity_resolved=resolved, periodicity=periodicity,
            start_day=start, end_day=end, event_date_day=event_date, **cov,
        )
        # by person (records without one last), then record id
        order = np.lexsort((rc.record_id, np.where(rc.person < 0, np.iinfo(np.int32).max, rc.person)))
        if not (np.diff(order) > 0).all():
            rc = rc.take(order)
        with_person = int((rc.person >= 0).sum())
        person_start = np.searchsorted(rc.person[:with_person], np.arange(len(person_vocab) + 1), side="left")

        at = recode(_obj(people, "person_id"), person_vocab)
        name = np.full(len(person_vocab), None, dtype=object)
        name[at] = _obj(people, "name")
        id_number = np.full(len(person_vocab), None, dtype=object)
        id_number[at] = _obj(people, "id_number")
        birth = np.full(len(person_vocab), NO_DAY, dtype=np.int64)
        birth[at] = _days(people, "birth_date")
        household = np.full(len(person_vocab), -1, dtype=np.int32)
        household[at] = recode(_obj(people, "household_id"), household_vocab)
        known = np.zeros(len(person_vocab), dtype=bool)
        known[at] = True
        name_code = encode(name)[0]
        pc = PersonColumns(name=name, name_code=name_code, id_number=id_number, birth_day=birth,
                           household=household, known=known,
                           name_count=np.bincount(name_code[known & (name_code >= 0)], minlength=int(name_code.max(initial=-1)) + 1))
        mc = MentionColumns(
            person=recode(_obj(mentions, "person_id"), person_vocab),
            source=recode(_obj(mentions, "source"), vocab["source"]),
            record_id=(pd.to_numeric(mentions["record_id"], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
                       if "record_id" in mentions else np.full(len(mentions), -1, np.int64)),
        )
        return cls(records=rc, persons=pc, mentions=mc, vocab=vocab, person_start=person_start.astype(np.int64),
                   person_rows=np.flatnonzero(known))
