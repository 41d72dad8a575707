"""Apply a source mapping to a raw table: cells → typed values → mentions and records.

Everything here is vectorized over the rows of one table. A row leaves as a
record (with one mention per person it names) or as a quarantined row with
the reason; cell problems on kept rows are quarantined as dropped values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from relieflink.config.catalog import Catalog
from relieflink.config.sources import PERIOD_PARSERS, Choice, Constant, FromSource, MentionSpec, SourceSpec, TableSpec
from relieflink.identity import _cells as C
from relieflink.identity import Gazetteer, normalize_addresses, normalize_ids, normalize_names, normalize_phones
from relieflink.ingest import plausibility as P
from relieflink.ingest import values as V
from relieflink.ingest.quarantine import NOTED, ROW_REJECTED, VALUE_DROPPED, Quarantine
from relieflink.ingest.readers import RawTable
from relieflink.ingest.schema import concat_frames

TOTAL_WORDS = ("合计", "总计", "小计", "累计")
VALID_ID_STATUSES = ("valid", "upgraded_15")

# Parsers whose result is a plain series: name -> function(raw) -> (values, bad)
_SIMPLE_PARSERS: dict[str, Callable[[pd.Series], tuple[pd.Series, pd.Series]]] = {
    "text": V.parse_text,
    "date": V.parse_dates,
    "month": V.parse_months,
    "year": V.parse_years,
    "school_year": V.parse_school_years,
    "amount": V.parse_amounts,
    "sex": V.parse_sex,
    "age": V.parse_ages,
    "disability_category": V.parse_disability_category,
    "disability_level": V.parse_disability_level,
}

# What an ID problem means for the auditor, for the quarantine notes.
_ID_PROBLEM_MESSAGES = {
    "check_failed": "the ID fails its check digit (a typo); kept as evidence, not used as a valid ID",
    "excel_damaged": "the ID was stored by Excel as a number and lost digits; format the column as text",
    "bad_date": "the ID holds an impossible birth date",
    "malformed": "the value is not a resident ID (wrong length or characters)",
    "conflicts_stated": "the ID does not match the stated sex, birth date or age on the row; not used",
    "head_id_on_member": "a member's row carries the household head's ID; not used for the member",
    "conflicting_ids": "two different people on the row carry the same ID, or the row's ID columns disagree; not used",
}


@dataclass
class MappedTable:
    """Mentions and records of one file (ids not yet assigned)."""

    mentions: pd.DataFrame
    records: pd.DataFrame


def blank_cells(raw: pd.Series | C.Split) -> np.ndarray:
    """True where a cell is empty: None, NaN or only whitespace (Arrow compute on text cells)."""
    split = raw if isinstance(raw, C.Split) else C.split_cells(raw)
    # Empty after trimming whitespace = empty or only whitespace (the same Unicode
    # whitespace for utf8_trim_whitespace and utf8_is_space, checked over every code point).
    empty = pc.or_(pc.equal(pc.binary_length(split.text), 0), pc.utf8_is_space(split.text)).fill_null(False)
    return split.na | empty.to_numpy(zero_copy_only=False)


class _Cells:
    """Parsed columns of one table, each computed once and cached."""

    def __init__(self, frame: pd.DataFrame, table: TableSpec, gazetteer: Gazetteer,
                 splits: dict[str, C.Split] | None = None):
        self.frame = frame
        self.table = table
        self.gazetteer = gazetteer
        self._cache: dict[str, object] = {}
        self._splits: dict[str, C.Split] = dict(splits or {})

    def raw(self, column: str) -> pd.Series:
        return self.frame[column]

    def split(self, column: str) -> C.Split:
        """The column split into text and other cells, once (the reader's split when it kept one)."""
        if column not in self._splits:
            self._splits[column] = C.split_cells(self.frame[column])
        return self._splits[column]

    def blank(self, column: str) -> np.ndarray:
        key = f"blank:{column}"
        if key not in self._cache:
            self._cache[key] = blank_cells(self.split(column))
        return self._cache[key]  # type: ignore[return-value]

    def parsed(self, column: str) -> tuple[pd.Series, np.ndarray]:
        """(values, bad) for a column whose parser yields one series."""
        key = f"parsed:{column}"
        if key not in self._cache:
            parser = self.table.columns[column].parse
            raw = self.frame[column]
            if parser in _SIMPLE_PARSERS:
                values, bad = _SIMPLE_PARSERS[parser](raw)
            elif parser == "subdistrict":
                values = self.gazetteer.subdistrict_codes(raw)
                bad = values.isna() & ~pd.Series(self.blank(column), index=raw.index)
            elif parser == "community":
                values = self.gazetteer.communities(raw)
                bad = pd.Series(False, index=raw.index)
            elif parser == "address":
                values = normalize_addresses(raw)
                bad = pd.Series(False, index=raw.index)
            elif parser == "phone":
                values = normalize_phones(raw)["phone"]
                bad = values.isna() & ~pd.Series(self.blank(column), index=raw.index)
            elif parser == "name":
                values = self.names(column)["name"]
                bad = pd.Series(False, index=raw.index)
            elif parser == "int":
                values = pd.to_numeric(raw, errors="coerce").astype("Int64")
                bad = values.isna() & ~pd.Series(self.blank(column), index=raw.index)
            else:  # identifiers are parsed by ids()
                values = self.ids(column)["id_number"]
                bad = pd.Series(False, index=raw.index)
            self._cache[key] = (values.reset_index(drop=True), np.asarray(bad, dtype=bool))
        return self._cache[key]  # type: ignore[return-value]

    def drop(self, column: str, mask: np.ndarray) -> None:
        """Parsed values found implausible are empty from here on (for every field built from them)."""
        values, bad = self.parsed(column)
        self._cache[f"parsed:{column}"] = (values.mask(pd.Series(mask, index=values.index)), bad)

    def names(self, column: str) -> pd.DataFrame:
        key = f"names:{column}"
        if key not in self._cache:
            self._cache[key] = normalize_names(self.frame[column]).reset_index(drop=True)
        return self._cache[key]  # type: ignore[return-value]

    def ids(self, column: str) -> pd.DataFrame:
        key = f"ids:{column}"
        if key not in self._cache:
            kind = _ID_KINDS[self.table.columns[column].parse]
            out = _finish_ids(normalize_ids(self.frame[column], kind=kind).reset_index(drop=True))
            out["id_origin"] = self.table.columns[column].parse
            self._cache[key] = out
        return self._cache[key]  # type: ignore[return-value]


_ID_KINDS = {"resident_id": "resident", "disability_cert": "disability_cert", "student_no": "student_no"}


def _finish_ids(out: pd.DataFrame) -> pd.DataFrame:
    for text_column in ("id_number", "id_clean", "id_status", "id_sex", "id_region"):
        if text_column in out:
            out[text_column] = _none_for_na(out[text_column])
    return out


def table_frame(raw: RawTable, table: TableSpec) -> pd.DataFrame:
    """The raw frame with a default index and every mapped column (absent ones all None)."""
    frame = raw.frame.reset_index(drop=True)
    for column in table.columns:
        if column not in frame.columns:
            frame[column] = None
    return frame


def normalize_identities(jobs: list[tuple[pd.DataFrame, TableSpec]]) -> list[dict[str, pd.DataFrame]]:
    """Names and IDs of all files at once: one normalization over the stacked cells.

    ``jobs`` are (frame as :func:`table_frame` gives it, table) per file. The
    normalizers work cell by cell (on unique values), so stacking the columns
    of every file gives each cell exactly the result it gets alone, while a
    name that occurs in many files is converted to pinyin once. Returns, per
    job, the entries of the ``_Cells`` cache (``names:<column>``,
    ``ids:<column>``) that :func:`map_table` would otherwise compute.
    """
    out: list[dict[str, pd.DataFrame]] = [{} for _ in jobs]
    name_parts: list[tuple[int, str, pd.Series]] = []
    id_parts: dict[str, list[tuple[int, str, pd.Series]]] = {}
    for i, (frame, table) in enumerate(jobs):
        if len(frame) == 0:
            continue
        name_columns = [spec.name for spec in table.mentions.values()]
        name_columns += [c for c, spec in table.columns.items() if spec.parse == "name"]
        for column in dict.fromkeys(name_columns):
            if column in frame.columns:
                name_parts.append((i, column, frame[column]))
        for column, spec in table.columns.items():
            if spec.parse in _ID_KINDS and column in frame.columns:
                id_parts.setdefault(_ID_KINDS[spec.parse], []).append((i, column, frame[column]))
    if name_parts:
        names = normalize_names(_stack([p[2] for p in name_parts]))
        for (i, column, _), part in zip(name_parts, _unstack(names, [len(p[2]) for p in name_parts])):
            out[i][f"names:{column}"] = part
    for kind, parts in id_parts.items():
        ids = _finish_ids(normalize_ids(_stack([p[2] for p in parts]), kind=kind))
        for (i, column, _), part in zip(parts, _unstack(ids, [len(p[2]) for p in parts])):
            part["id_origin"] = jobs[i][1].columns[column].parse
            out[i][f"ids:{column}"] = part
    return out


def _stack(columns: list[pd.Series]) -> pd.Series:
    if len(columns) == 1:
        return columns[0].reset_index(drop=True)
    return pd.concat(columns, ignore_index=True)


def _unstack(frame: pd.DataFrame, lengths: list[int]) -> list[pd.DataFrame]:
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [frame.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds[:-1], bounds[1:])]


def _none_for_na(series: pd.Series) -> pd.Series:
    """Text with missing values that compare as False (comparisons stay boolean): objects with None,
    or on pandas 3 the ``str`` column its constructor would make of them."""
    arr = C._arrow_string_array(series)
    if arr is not None and _INFERS_STR and arr.null_count < len(arr):
        # pandas 3 would store the objects as Arrow ``str`` again: that column, without the round trip
        return pd.Series(_column(series), index=series.index, name=series.name)
    if arr is not None:  # Arrow text: nulls come out as None directly
        return pd.Series(np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object), index=series.index, name=series.name)
    return series.astype(object).where(series.notna(), None)


def _total_rows(cells: "_Cells", columns: list[str]) -> np.ndarray:
    """Rows whose first filled cells say 合计/总计: totals, not data."""
    mask = np.zeros(len(cells.frame), dtype=bool)
    words = pa.array(TOTAL_WORDS)
    for column in columns[:3]:
        text = cells.split(column).text
        # Every total word holds 计: only those cells are stripped of whitespace and compared.
        maybe = np.flatnonzero(pc.match_substring(text, "计").fill_null(False).to_numpy(zero_copy_only=False))
        if len(maybe) == 0:
            continue
        stripped = pc.replace_substring_regex(text.take(pa.array(maybe)), pattern=r"\s+", replacement="")
        mask[maybe] |= pc.is_in(stripped, value_set=words).fill_null(False).to_numpy(zero_copy_only=False)
    return mask


def _choice(cells: _Cells, spec: Choice) -> tuple[pd.Series, np.ndarray]:
    """Map a column's text through ``spec.values``; unknown values are None."""
    text, _ = V.parse_text(cells.raw(spec.column))
    arr = C._arrow_string_array(text)
    if arr is not None and len(arr):
        # The same steps on the distinct values (and a null), then back to the rows.
        codes, uniques = C.dict_encode(arr)
        text = pd.Series(pd.arrays.ArrowStringArray(pa.concat_arrays([uniques, pa.nulls(1, pa.string())])))
        codes = np.where(codes < 0, len(uniques), codes)
    else:
        codes = None
    key = text.str.replace(r"\s+", "", regex=True)
    mapped = key.map(spec.values)
    if spec.default is not None:
        mapped = mapped.where(mapped.notna(), spec.default)
    unknown = (mapped.isna() & key.notna()).to_numpy(dtype=bool)
    if codes is not None:
        return pd.Series(mapped.to_numpy()[codes], dtype=mapped.dtype), unknown[codes]
    return mapped.reset_index(drop=True), unknown


def _combine_ids(cells: _Cells, columns: list[str]) -> pd.DataFrame:
    """One ID per row from several columns: the first valid; disagreeing valid IDs void each other."""
    parts = [cells.ids(c) for c in columns]
    out = parts[0].copy()
    if len(parts) == 1:
        return out
    chosen_valid = out["id_status"].isin(VALID_ID_STATUSES).to_numpy()
    for part in parts[1:]:
        part_valid = part["id_status"].isin(VALID_ID_STATUSES).to_numpy()
        take = part_valid & ~chosen_valid
        fill = out["id_status"].eq("missing").to_numpy() & ~part["id_status"].eq("missing").to_numpy() & ~chosen_valid
        replace = take | fill
        out.loc[replace] = part.loc[replace].to_numpy()
        clash = chosen_valid & part_valid & (out["id_number"].to_numpy() != part["id_number"].to_numpy())
        out.loc[clash, "id_status"] = "conflicting_ids"
        out.loc[clash, "id_number"] = None
        chosen_valid = out["id_status"].isin(VALID_ID_STATUSES).to_numpy()
    return out


def _column_or_none(cells: _Cells, ref: object, n: int) -> pd.Series:
    if isinstance(ref, str):
        return cells.parsed(ref)[0]
    if isinstance(ref, Constant):
        return pd.Series([ref.value] * n, dtype=object)
    return pd.Series([None] * n, dtype=object)


# pandas 3 stores text columns as Arrow (``str``); pandas 2 keeps the objects it is given.
_INFERS_STR = pd.DataFrame({"t": np.array(["x"], dtype=object)})["t"].dtype != object


def _column(values: pd.Series) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``values.to_numpy()`` as a frame column: what ``pd.DataFrame`` would make of it, made directly.

    For a text column held as Arrow, pandas 3 would turn the object array back
    into an Arrow ``str`` column one Python string at a time; here the Arrow
    array is kept (the same dtype and values). On pandas 2, and for columns
    without text (all missing), the object array as before."""
    arr = C._arrow_string_array(values) if _INFERS_STR else None
    if arr is None or arr.null_count == len(arr):
        return values.to_numpy()
    return pd.Series(pd.arrays.ArrowStringArray(arr), copy=False).astype("str").array


def _build_mentions(
    cells: _Cells, key: str, spec: MentionSpec, beneficiary_key: pd.Series, source: SourceSpec, n: int
) -> pd.DataFrame:
    """All rows' mention of one kind (the caller drops absent optional ones)."""
    names = cells.names(spec.name)
    if spec.id_columns:
        ids = _combine_ids(cells, spec.id_columns)
        raw_id = cells.raw(spec.id_columns[0]).reset_index(drop=True)
        for extra in spec.id_columns[1:]:
            other = cells.raw(extra).reset_index(drop=True)
            raw_id = raw_id.where(~pd.Series(cells.blank(spec.id_columns[0])), other)
    else:
        ids = pd.DataFrame(
            {"id_number": None, "id_clean": None, "id_status": "missing", "id_birth_date": pd.NaT,
             "id_sex": None, "id_origin": None},
            index=range(n),
        )
        raw_id = pd.Series([None] * n, dtype=object)
    stated_sex = _column_or_none(cells, spec.sex, n)
    stated_birth = cells.parsed(spec.birth_date)[0] if spec.birth_date else pd.Series(pd.NaT, index=range(n))
    id_number = ids["id_number"].astype(object).where(ids["id_number"].notna(), None)
    status = ids["id_status"].astype(object).copy()
    valid = status.isin(VALID_ID_STATUSES).to_numpy()
    id_birth = _as_datetime(ids["id_birth_date"])
    conflict = valid & (
        (stated_sex.notna() & ids["id_sex"].notna() & (stated_sex != ids["id_sex"])).to_numpy(dtype=bool)
        | (stated_birth.notna() & id_birth.notna() & (stated_birth != id_birth)).to_numpy(dtype=bool)
    )
    birth_year_from_age = pd.Series(pd.NA, index=range(n), dtype="Int32")
    if spec.age:
        age = cells.parsed(spec.age)[0].astype("Int64")
        at = cells.parsed(spec.age_at)[0] if spec.age_at else pd.Series(pd.NaT, index=range(n))
        birth_year_from_age = (at.dt.year.astype("Int64") - age).astype("Int32")
        implied = (at - id_birth).dt.days / 365.2425
        conflict |= valid & (age.notna() & implied.notna() & ((implied - age.astype("Float64")).abs() > 1.5)).to_numpy(dtype=bool)
    status[conflict] = "conflicts_stated"
    id_number[conflict] = None
    valid = valid & ~conflict
    sex = ids["id_sex"].where(pd.Series(valid), stated_sex)
    birth = id_birth.where(pd.Series(valid), stated_birth)
    role = pd.Series(np.where(beneficiary_key.to_numpy() == key, "beneficiary", spec.role), dtype=object)
    if isinstance(spec.subdistrict, FromSource):
        subdistrict = pd.Series([source.source] * n, dtype=object)
    else:
        subdistrict = _column_or_none(cells, spec.subdistrict, n)
    return pd.DataFrame(
        {
            "row_index": np.arange(n),
            "role": role,
            "mention_key": key,
            "name_raw": _column(V.parse_text(cells.raw(spec.name))[0]),
            "name": _column(names["name"]),
            "name_pinyin": _column(names["name_pinyin"]),
            "name_pinyin_tone": _column(names["name_pinyin_tone"]),
            "surname": _column(names["surname"]),
            "given_name": _column(names["given_name"]),
            "name_has_unknown": names["name_has_unknown"].astype(bool).to_numpy(),
            "id_raw": _cell_texts(raw_id, cells.split(spec.id_columns[0]) if len(spec.id_columns) == 1 else None),
            "id_number": id_number.to_numpy(),
            "id_clean": _column(ids["id_clean"]),
            "id_status": status.to_numpy(),
            "id_origin": ids["id_origin"].where(~pd.Series(status.eq("missing")), None).to_numpy(),
            "sex": _column(sex),
            "birth_date": birth.to_numpy(),
            "birth_year_from_age": birth_year_from_age.to_numpy(),
            "phone": _column(_column_or_none(cells, spec.phone, n)),
            "subdistrict": _column(subdistrict),
            "community": _column(_column_or_none(cells, spec.community, n)),
            "address": _column(_column_or_none(cells, spec.address, n)),
            "relation": _column(_column_or_none(cells, spec.relation, n)),
            "household_no": _column(_column_or_none(cells, spec.household_no, n)),
            "_stated_sex": stated_sex.to_numpy(),
            "_stated_birth": stated_birth.to_numpy(),
            "_cert_category": ids["cert_category"].to_numpy() if "cert_category" in ids else pd.NA,
            "_cert_level": ids["cert_level"].to_numpy() if "cert_level" in ids else pd.NA,
        }
    )


# The characters str.strip() removes (str.isspace), as an RE2 class.
_PY_SPACE_CLASS = "[" + "".join(f"\\x{{{c:x}}}" for c in range(0x3001) if chr(c).isspace()) + "]"


def _cell_texts(raw: pd.Series, split: C.Split | None = None) -> np.ndarray:
    """``raw.map(_cell_text, na_action="ignore").to_numpy()``, without a Python call per text cell.

    Only the text cells that are empty or start/end with whitespace (few) and
    the cells that are not text (numbers, dates: Excel) go through
    ``_cell_text``; a null cell is None (Arrow) or stays as it is (object).
    ``split`` is ``raw`` split by :func:`split_cells`, when known.
    """
    arr = C._arrow_string_array(raw)
    if arr is None:
        if split is None or raw.dtype != object or split.n != len(raw):
            return raw.map(_cell_text, na_action="ignore").to_numpy()
        out = raw.to_numpy(dtype=object).copy()
        is_text = ~np.asarray(split.text.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if is_text.any():
            out[is_text] = _strip_edges(split.text.filter(pa.array(is_text)))
        if len(split.other_pos):
            out[split.other_pos] = [_cell_text(v) for v in split.other_vals]
        return out
    return _strip_edges(arr)


def _strip_edges(arr: pa.Array) -> np.ndarray:
    """Arrow text as an object array; cells that are empty or have edge whitespace via ``_cell_text``."""
    out = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    edge = pc.match_substring_regex(arr, f"^{_PY_SPACE_CLASS}|{_PY_SPACE_CLASS}$")
    edge = pc.or_(edge, pc.equal(pc.binary_length(arr), 0)).fill_null(False)
    idx = np.flatnonzero(edge.to_numpy(zero_copy_only=False))
    if len(idx):
        out[idx] = [_cell_text(v) for v in out[idx]]
    return out


def _cell_text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    return text.strip() or None


# Statuses of an ID that the row shows belongs to someone else: no ID evidence at all.
VOIDED_ID_STATUSES = ("conflicts_stated", "head_id_on_member", "conflicting_ids")


def _void_shared_ids(mentions: pd.DataFrame) -> None:
    """Two people of one row with the same ID: the ID is not theirs both.

    In the civil-affairs roster the head's ID typed on a member's row is the
    classic case: the member keeps no ID (status ``head_id_on_member``); if
    neither mention is a head, both lose it (``conflicting_ids``). IDs are
    compared as cleaned evidence; when one side was damaged by Excel, on the
    15 digits that survive. A voided ID is no evidence for linkage either:
    its ``id_clean`` is cleared (``id_raw`` keeps what the row says), and so
    is that of an ID contradicting the row's stated sex, birth date or age.
    """
    has_id = mentions["id_clean"].notna()
    # One person per row: no two people can share an ID.
    if has_id.any() and mentions["row_index"].duplicated().any():
        sub = mentions.loc[has_id, ["row_index", "id_clean", "id_status", "name", "role", "relation"]]
        damaged_on_row = sub["id_status"].eq("excel_damaged").groupby(sub["row_index"]).transform("any")
        compared = sub["id_clean"].astype(str).where(~damaged_on_row, sub["id_clean"].astype(str).str[:15])
        key = [sub["row_index"], compared]
        shared = sub[(sub["name"].groupby(key).transform("nunique") > 1)]
        if not shared.empty:
            key = [shared["row_index"], compared[shared.index]]
            is_head = shared["role"].eq("head") | shared["relation"].eq("户主")
            has_head = is_head.groupby(key).transform("any")
            member = shared.index[has_head & ~is_head]
            both = shared.index[~has_head & ~shared["id_status"].eq("excel_damaged")]
            mentions.loc[member, "id_status"] = "head_id_on_member"
            mentions.loc[both, "id_status"] = "conflicting_ids"
            voided = member.union(both)
            mentions.loc[voided, "id_number"] = None
            # sex and birth date came from the voided ID: fall back to what the row states
            mentions.loc[voided, "sex"] = mentions.loc[voided, "_stated_sex"]
            mentions.loc[voided, "birth_date"] = mentions.loc[voided, "_stated_birth"]
    mentions.loc[mentions["id_status"].isin(VOIDED_ID_STATUSES), "id_clean"] = None


def _ymd(years: pd.Series, add_years: int, month: int, day: int) -> pd.Series:
    """Dates from a year column (vectorized; missing years give NaT)."""
    y = pd.to_numeric(years, errors="coerce").astype("Float64") + add_years
    parts = pd.DataFrame({"year": y, "month": month, "day": day}).astype("Float64")
    return pd.to_datetime(parts.astype(float), errors="coerce")


def _period_bounds(cells: _Cells, column: str | None, end: bool, n: int) -> tuple[pd.Series, np.ndarray]:
    """Start or end date of the period a column gives, by the column's parser."""
    if column is None:
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"), np.zeros(n, dtype=bool)
    values, bad = cells.parsed(column)
    parser = cells.table.columns[column].parse
    if parser == "date":
        out = values
    elif parser == "month":
        out = values + pd.offsets.MonthEnd(0) if end else values
    elif parser == "year":
        out = _ymd(values, 0, 12 if end else 1, 31 if end else 1)
    else:  # school year: 1 September .. 31 August of the next year
        out = _ymd(values, 1, 8, 31) if end else _ymd(values, 0, 9, 1)
    return pd.Series(_as_datetime(out), dtype="datetime64[ns]").reset_index(drop=True), bad


def _as_datetime(values: pd.Series) -> pd.Series:
    """``pd.to_datetime(values)``; a datetime64[ns] series is returned as it is (no per-value scan)."""
    if isinstance(values, pd.Series) and values.dtype == "datetime64[ns]":
        return values
    return pd.to_datetime(values)


def map_table(
    raw: RawTable, table: TableSpec, source: SourceSpec, file: str, catalog: Catalog, gazetteer: Gazetteer,
    quarantine: Quarantine, identities: dict[str, pd.DataFrame] | None = None, checks: P.Checks | None = None,
) -> MappedTable:
    """Turn the data rows of one file into mentions and records; problems go to quarantine.

    ``identities`` are this file's part of :func:`normalize_identities` (names
    and IDs normalized with the other files); without it they are computed here.
    ``checks``: the plausibility thresholds (none applied when None).
    """
    frame = table_frame(raw, table)
    n = len(frame)
    if n == 0:  # a header-only file: nothing to map
        return MappedTable(mentions=pd.DataFrame(), records=pd.DataFrame())
    rows = raw.row_numbers
    raw_lines = raw.raw_lines

    def raw_line(mask: np.ndarray) -> pd.Series:
        """The row as text for the quarantine: the CSV/JSONL line, or the cells joined by tabs (Excel)."""
        if raw_lines is not None:
            return raw_lines[mask]
        part = frame[mask]
        # missing cells as empty text: ``astype(str)`` gives "None"/"nan" on pandas 2 and keeps NaN on pandas 3
        return part.astype(object).where(part.notna(), "").astype(str).agg("\t".join, axis=1)

    cells = _Cells(frame, table, gazetteer, raw.splits)
    if identities:
        cells._cache.update(identities)
    expected = list(table.columns)
    rejected = np.zeros(n, dtype=bool)

    def reject(mask: np.ndarray, column: str | None, problem: str, message: str) -> None:
        nonlocal rejected
        mask = mask & ~rejected
        if mask.any():
            raws = raw_line(mask) if column is None else cells.raw(column)[mask]
            quarantine.add(file, rows[mask], column, problem, message, ROW_REJECTED, raws)
            rejected |= mask

    blank_row = np.logical_and.reduce([cells.blank(c) for c in frame.columns]) if len(frame.columns) else np.ones(n, bool)
    reject(blank_row, None, "blank_row", "the row is empty")
    reject(_total_rows(cells, expected), None, "totals_row", "a totals row (合计), not a record")
    for column in table.required_columns:
        reject(cells.blank(column), column, "missing_required_value",
               f"the column {column} is empty; the row cannot be a record without it")
        reject(cells.parsed(column)[1], column, "unparseable_required_value",
               f"the value in {column} cannot be read; correct it in the export")

    program_spec = table.record.program
    if isinstance(program_spec, Choice):
        program, unknown = _choice(cells, program_spec)
        reject(unknown, program_spec.column, "unknown_program_value",
               f"{program_spec.column} holds a value the mapping does not know "
               f"({', '.join(program_spec.values)}); add it to {source.path.name if source.path else 'the mapping'}")
    else:
        program = pd.Series([program_spec.value] * n, dtype=object)

    # Values that read well but cannot be true: dropped (a required date: the row rejected).
    if checks is not None:
        for column, mask, message in _implausible_dates(cells, table, checks):
            if table.columns[column].required:
                reject(mask, column, "implausible_date", message + "; the row cannot be a record without it")
            elif (mask := mask & ~rejected).any():
                quarantine.add(file, rows[mask], column, "implausible_date", message + "; the value was left empty",
                               VALUE_DROPPED, cells.raw(column)[mask])
                cells.drop(column, mask)
        if table.record.amount is not None:
            column = table.record.amount.column
            mask, messages = _implausible_amounts(cells, column, table.record.amount.basis, program, checks)
            if (mask := mask & ~rejected).any():
                quarantine.add(file, rows[mask], column, "implausible_amount", messages[mask], VALUE_DROPPED,
                               cells.raw(column)[mask])
                cells.drop(column, mask)

    if isinstance(table.record.beneficiary, Choice):
        beneficiary_key, _ = _choice(cells, table.record.beneficiary)
    else:
        beneficiary_key = pd.Series([table.record.beneficiary] * n, dtype=object)

    mention_frames = []
    for key, spec in table.mentions.items():
        m = _build_mentions(cells, key, spec, beneficiary_key, source, n)
        present = m["name"].notna().to_numpy() | ~m["id_status"].eq("missing").to_numpy()
        is_beneficiary = beneficiary_key.eq(key).to_numpy()
        reject(is_beneficiary & ~present, spec.name, "no_beneficiary_identity",
               "the beneficiary has neither a name nor an ID")
        if not spec.optional:
            absent = ~present & ~is_beneficiary & ~rejected
            if absent.any():
                quarantine.add(file, rows[absent], spec.name, "missing_person",
                               f"the {spec.role} named by {spec.name} has neither a name nor an ID", NOTED)
        mention_frames.append(m[present])
    mentions = concat_frames(mention_frames)
    mentions = mentions[~rejected[mentions["row_index"].to_numpy()]].reset_index(drop=True)
    _void_shared_ids(mentions)

    # Cell problems on kept rows: values that could not be read are dropped, not guessed.
    for column, spec in table.columns.items():
        if spec.parse in ("resident_id", "disability_cert", "student_no", "name"):
            continue
        bad = cells.parsed(column)[1] & ~rejected
        if bad.any():
            quarantine.add(file, rows[bad], column, "unparseable_value",
                           f"the value in {column} cannot be read and was left empty", VALUE_DROPPED,
                           cells.raw(column)[bad])
    first_id_column = {k: (m.id_columns[0] if m.id_columns else "") for k, m in table.mentions.items()}
    problems = mentions[~mentions["id_status"].isin((*VALID_ID_STATUSES, "missing"))]
    for status, group in problems.groupby("id_status", sort=True):
        id_col = group["mention_key"].map(first_id_column)
        for column, sub in group.groupby(id_col, sort=True):
            quarantine.add(file, rows[sub["row_index"].to_numpy()], str(column), f"id_{status}",
                           _ID_PROBLEM_MESSAGES.get(str(status), str(status)), NOTED, sub["id_raw"])

    records = _build_records(cells, table, source, catalog, program, n)
    _end_no_earlier_than_start(records, cells, table, file, rows, rejected, quarantine, n)
    beneficiary = mentions[mentions["role"].eq("beneficiary")]
    records = records[~rejected].copy()
    records["file"] = file
    records["row"] = rows[~rejected]
    records["source"] = source.source
    _mark_reversals(records, beneficiary, cells, table, file, quarantine)
    mentions["file"] = file
    mentions["row"] = rows[mentions["row_index"].to_numpy()]
    mentions["source"] = source.source
    # Fill certificate category/level from the certificate number when the columns are blank.
    if len(beneficiary):
        cert = beneficiary.set_index("row_index")[["_cert_category", "_cert_level"]]
        for column, cert_col in (("disability_category", "_cert_category"), ("disability_level", "_cert_level")):
            fallback = records["row_index"].map(cert[cert_col])
            records[column] = records[column].astype("Int32").fillna(pd.to_numeric(fallback, errors="coerce").astype("Int32"))
    return MappedTable(mentions=mentions.drop(columns=["_cert_category", "_cert_level", "_stated_sex", "_stated_birth"]), records=records)


def _implausible_dates(cells: _Cells, table: TableSpec, checks: P.Checks) -> list[tuple[str, np.ndarray, str]]:
    """(column, mask, message) for the dates before or after their credible bounds, per date column."""
    birth_columns = {spec.birth_date for spec in table.mentions.values() if spec.birth_date}
    found = []
    for column, spec in table.columns.items():
        if spec.parse not in PERIOD_PARSERS:
            continue
        low, high = checks.date_bounds(birth=column in birth_columns)
        early, late = P.outside(cells.parsed(column)[0], spec.parse, low, high)
        if early.any():
            found.append((column, early, f"the date in {column} is before {low.why}"))
        if late.any():
            assert high is not None
            found.append((column, late, f"the date in {column} is after {high.why}"))
    return found


def _implausible_amounts(
    cells: _Cells, column: str, basis: str, program: pd.Series, checks: P.Checks
) -> tuple[np.ndarray, np.ndarray]:
    """Amounts beyond their program's credible limit (sign ignored): the mask and each such row's message."""
    amount = pd.to_numeric(cells.parsed(column)[0], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    limit, key = P.amount_limits(checks.limits, program, basis)
    mask = np.abs(np.nan_to_num(amount)) > limit
    messages = np.empty(len(amount), dtype=object)
    messages[mask] = [
        f"the amount in {column} exceeds {value:,.0f} yuan, the largest credible one ({P.CONFIG_FILE} {where}); "
        "it was left empty, so the record counts in no money at stake"
        for value, where in zip(limit[mask], key[mask])
    ]
    return mask, messages


def _end_no_earlier_than_start(
    records: pd.DataFrame, cells: _Cells, table: TableSpec, file: str, rows: np.ndarray, rejected: np.ndarray,
    quarantine: Quarantine, n: int,
) -> None:
    """A period that ends before it starts covers its start period only (noted), so no rule sees a
    negative period: the end is replaced by the end the start column gives (its day, month or year).
    Swapping is not done: an end typed a year early would then stretch the record over a year."""
    spec = table.record
    if spec.end is None or spec.start is None or spec.end == spec.start:
        return
    backwards = (records["period_end"] < records["period_start"]).to_numpy(dtype=bool, na_value=False) & ~rejected
    if not backwards.any():
        return
    own_end, _ = _period_bounds(cells, spec.start, True, n)
    records.loc[backwards, "period_end"] = own_end[backwards].to_numpy()
    quarantine.add(file, rows[backwards], spec.end, "end_before_start",
                   f"the period ends ({spec.end}) before it starts ({spec.start}); "
                   "the record is taken to cover its start period only", NOTED, cells.raw(spec.end)[backwards])


def _mark_reversals(
    records: pd.DataFrame, beneficiary: pd.DataFrame, cells: _Cells, table: TableSpec, file: str,
    quarantine: Quarantine,
) -> None:
    """Negative amounts are reversals (冲正): noted, and linked to the record they reverse when this
    file holds it (``reverses_row``; see :func:`relieflink.ingest.plausibility.match_reversals`).
    Both records stay; the audit leaves a reversed pair and unmatched reversals out of every rule."""
    records["reverses_row"] = pd.array([pd.NA] * len(records), dtype="Int32")
    amount = pd.to_numeric(records["amount"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    negative = amount < 0
    if table.record.amount is None or not negative.any():
        return
    column = table.record.amount.column
    who = beneficiary.drop_duplicates("row_index").set_index("row_index")
    identity = (records["row_index"].map(who["name"]).astype(object).fillna("").astype(str) + "|"
                + records["row_index"].map(who["id_clean"]).astype(object).fillna("").astype(str))
    target = P.match_reversals(records, identity)
    found = target >= 0
    row = records["row"].to_numpy()
    raw = cells.raw(column).to_numpy(dtype=object)[records["row_index"].to_numpy()]
    records.loc[found, "reverses_row"] = row[target[found]]
    reversed_row = pd.Series(row[np.maximum(target, 0)]).astype(str).to_numpy(dtype=object)
    messages = np.where(found, "a negative amount: the reversal (冲正) of row " + reversed_row
                        + " of this file; the two are netted and count in no rule",
                        "a negative amount: the reversal (冲正) of a record not in this file; "
                        "kept, it counts in no rule")
    quarantine.add(file, row[negative], column, "negative_amount", messages[negative], NOTED, raw[negative])
    if found.any():
        quarantine.add(file, row[target[found]], column, "reversed_record",
                       "reversed (冲正) by row " + pd.Series(row[found]).astype(str).to_numpy(dtype=object)
                       + " of this file; the two are netted and count in no rule", NOTED, raw[target[found]])


def _build_records(
    cells: _Cells, table: TableSpec, source: SourceSpec, catalog: Catalog, program: pd.Series, n: int
) -> pd.DataFrame:
    spec = table.record
    kinds = {p.code: p.kind for p in catalog.programs}
    periodicity = {p.code: p.periodicity for p in catalog.programs}
    agency = source.source
    start, _ = _period_bounds(cells, spec.start, False, n)
    end, _ = _period_bounds(cells, spec.end, True, n)
    per = program.map(periodicity)
    # A one-off or episode without an end date covers its start day; statuses stay open.
    end = end.where(end.notna() | ~per.isin(["one_off", "annual", "school_year"]).to_numpy(), start)
    if spec.amount is not None:
        amount = cells.parsed(spec.amount.column)[0].astype("Float64")
        basis = spec.amount.basis
    else:
        amount = pd.Series(pd.NA, index=range(n), dtype="Float64")
        basis = None
    if isinstance(spec.subdistrict, FromSource):
        subdistrict = pd.Series([source.source] * n, dtype=object)
    else:
        subdistrict = _column_or_none(cells, spec.subdistrict, n)
    detail = pd.Series([None] * n, dtype=object)
    if spec.detail:
        texts = pd.DataFrame({c: _cell_texts(cells.raw(c), cells.split(c)) for c in spec.detail})
        detail = pd.Series(texts.to_json(orient="records", lines=True, force_ascii=False).splitlines(), dtype=object)
    return pd.DataFrame(
        {
            "row_index": np.arange(n),
            "agency": agency,
            "program": program.to_numpy(),
            "kind": program.map(kinds).to_numpy(),
            "category": _column(_column_or_none(cells, spec.category, n)),
            "amount": amount.to_numpy(),
            "amount_basis": basis,
            "period_start": start.to_numpy(),
            "period_end": end.to_numpy(),
            "event_date": _period_bounds(cells, spec.event_date, False, n)[0].to_numpy(),
            "subdistrict": _column(subdistrict),
            "community": _column(_column_or_none(cells, spec.community, n)),
            "household_no": _column(_column_or_none(cells, spec.household_no, n)),
            "relation": _column(_column_or_none(cells, spec.relation, n)),
            "disability_category": _column_or_none(cells, spec.disability_category, n).astype("Int32").to_numpy(),
            "disability_level": _column_or_none(cells, spec.disability_level, n).astype("Int32").to_numpy(),
            "detail": detail.to_numpy(),
        }
    )
