"""Source mapping files (``schemas/sources/*.yaml``): one per source of SPEC §2.

A mapping says which files belong to a source, which columns they hold and
how each is parsed, which persons a row names (mentions) and what record it
is. The ingest engine interprets these specs; nothing source-specific lives
in code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from relieflink.config.catalog import Catalog
from relieflink.config.errors import ConfigError, from_validation_error, read_yaml
from relieflink.config.paths import schemas_dir

Parser = Literal[
    "text", "name", "resident_id", "disability_cert", "student_no", "phone", "date",
    "month", "year", "school_year", "amount", "sex", "age", "disability_category",
    "disability_level", "subdistrict", "community", "address", "int",
]
ID_PARSERS = frozenset({"resident_id", "disability_cert", "student_no"})
PERIOD_PARSERS = frozenset({"date", "month", "year", "school_year"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """An expected column: its parser and whether a row needs it."""

    parse: Parser
    required: bool = False


class Constant(_Strict):
    """A constant value instead of a column."""

    value: str


class FromSource(_Strict):
    """The subdistrict whose file this is (subdistrict templates)."""

    from_source: Literal[True]


class Choice(_Strict):
    """A value chosen by the content of a column (e.g. program by 补贴类型)."""

    column: str
    values: dict[str, str]
    default: str | None = None


class AmountSpec(_Strict):
    column: str
    basis: Literal["month", "record"]


FieldRef = str | Constant | FromSource


class MentionSpec(_Strict):
    """A person named by a row, and the columns that describe them."""

    role: Literal["beneficiary", "guardian", "head", "child"]
    name: str
    id: str | list[str] | None = None
    sex: str | None = None
    birth_date: str | None = None
    age: str | None = None
    age_at: str | None = None
    phone: str | None = None
    subdistrict: FieldRef | None = None
    community: str | None = None
    address: str | None = None
    relation: FieldRef | None = None
    household_no: str | None = None
    optional: bool = False

    @property
    def id_columns(self) -> list[str]:
        if self.id is None:
            return []
        return [self.id] if isinstance(self.id, str) else list(self.id)

    def column_refs(self) -> dict[str, str]:
        """Field -> column for every field given by a column."""
        refs: dict[str, str] = {}
        for key in ("name", "sex", "birth_date", "age", "age_at", "phone", "subdistrict",
                    "community", "address", "relation", "household_no"):
            value = getattr(self, key)
            if isinstance(value, str):
                refs[key] = value
        for i, col in enumerate(self.id_columns):
            refs[f"id.{i}"] = col
        return refs


class RecordSpec(_Strict):
    """What record a row is: program, beneficiary, amount and period."""

    beneficiary: str | Choice
    program: Choice | Constant
    amount: AmountSpec | None = None
    start: str | None = None
    end: str | None = None
    event_date: str | None = None
    category: str | None = None
    subdistrict: FieldRef | None = None
    community: str | None = None
    household_no: str | None = None
    relation: str | None = None
    disability_category: str | None = None
    disability_level: str | None = None
    detail: list[str] = Field(default_factory=list)

    def column_refs(self) -> dict[str, str]:
        refs: dict[str, str] = {}
        for key in ("start", "end", "event_date", "category", "subdistrict", "community",
                    "household_no", "relation", "disability_category", "disability_level"):
            value = getattr(self, key)
            if isinstance(value, str):
                refs[key] = value
        if isinstance(self.beneficiary, Choice):
            refs["beneficiary"] = self.beneficiary.column
        if isinstance(self.program, Choice):
            refs["program"] = self.program.column
        if self.amount is not None:
            refs["amount"] = self.amount.column
        for i, col in enumerate(self.detail):
            refs[f"detail.{i}"] = col
        return refs


class TableSpec(_Strict):
    """One kind of file a source delivers."""

    table: str
    files: list[str] = Field(min_length=1)
    sheet: str | None = None
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    mentions: dict[str, MentionSpec] = Field(min_length=1)
    record: RecordSpec

    @model_validator(mode="after")
    def _check_references(self) -> "TableSpec":
        known = set(self.columns)
        for key, mention in self.mentions.items():
            for field, col in mention.column_refs().items():
                if col not in known:
                    raise ValueError(f"mentions.{key}.{field}: column {col!r} is not listed under columns")
            for col in mention.id_columns:
                if self.columns[col].parse not in ID_PARSERS:
                    raise ValueError(
                        f"mentions.{key}.id: column {col!r} must use an ID parser ({sorted(ID_PARSERS)})"
                    )
        for field, col in self.record.column_refs().items():
            if col not in known:
                raise ValueError(f"record.{field}: column {col!r} is not listed under columns")
        for field in ("start", "end"):
            col = getattr(self.record, field)
            if col is not None and self.columns[col].parse not in PERIOD_PARSERS:
                raise ValueError(f"record.{field}: column {col!r} must use a date, month, year or school_year parser")
        beneficiary = self.record.beneficiary
        targets = [beneficiary] if isinstance(beneficiary, str) else [*beneficiary.values.values(), beneficiary.default]
        for target in targets:
            if target is None:
                raise ValueError("record.beneficiary.default: a default mention key is required")
            if target not in self.mentions:
                raise ValueError(f"record.beneficiary: {target!r} is not a mention key ({sorted(self.mentions)})")
        return self

    @property
    def required_columns(self) -> list[str]:
        return [c for c, spec in self.columns.items() if spec.required]


class SourceSpec(_Strict):
    """A source of SPEC §2 and the tables it delivers."""

    source: str
    tables: list[TableSpec] = Field(min_length=1)
    path: Path | None = None

    @field_validator("source")
    @classmethod
    def _lower(cls, value: str) -> str:
        if value != value.strip() or not value:
            raise ValueError("source code must be a non-empty code without spaces")
        return value


def _substitute(node: Any, source: str) -> Any:
    """Replace ``{source}`` in every string of a template."""
    if isinstance(node, str):
        return node.replace("{source}", source)
    if isinstance(node, list):
        return [_substitute(item, source) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(value, source) for key, value in node.items()}
    return node


def load_source(path: Path, catalog: Catalog) -> SourceSpec:
    """Load one mapping file (resolving ``extends``) and check it against the catalog."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(path, "must be a mapping with keys source and tables")
    data = dict(data)
    extends = data.pop("extends", None)
    if extends is not None:
        template_path = path.parent / str(extends)
        template = read_yaml(template_path)
        if not isinstance(template, dict):
            raise ConfigError(template_path, "a template must be a mapping")
        merged = _substitute(template, str(data.get("source", "")))
        merged.update(data)
        data = merged
    try:
        spec = SourceSpec.model_validate({**data, "path": path})
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None
    agency_codes = {a.code for a in catalog.agencies}
    if spec.source not in agency_codes:
        raise ConfigError(path, f"unknown source {spec.source!r}; add it to programs.yaml agencies", key="source")
    for t, table in enumerate(spec.tables):
        program = table.record.program
        codes = [program.value] if isinstance(program, Constant) else list(program.values.values())
        for code in codes:
            if code not in catalog.program_codes:
                raise ConfigError(
                    path, f"unknown program {code!r}; add it to programs.yaml", key=f"tables.{t}.record.program"
                )
    return spec


def load_sources(directory: Path | None = None, catalog: Catalog | None = None) -> list[SourceSpec]:
    """Every ``*.yaml`` mapping under ``schemas/sources`` (templates excluded), sorted by code."""
    from relieflink.config.catalog import load_catalog

    directory = directory or schemas_dir() / "sources"
    catalog = catalog or load_catalog(directory.parent / "programs.yaml")
    paths = sorted(p for p in directory.glob("*.yaml") if not p.name.startswith("_"))
    if not paths:
        raise ConfigError(directory, "holds no source mapping files (*.yaml)")
    specs = [load_source(p, catalog) for p in paths]
    seen: dict[str, Path] = {}
    for spec in specs:
        assert spec.path is not None
        if spec.source in seen:
            raise ConfigError(spec.path, f"source {spec.source!r} is also defined in {seen[spec.source].name}", key="source")
        seen[spec.source] = spec.path
    return sorted(specs, key=lambda s: s.source)
