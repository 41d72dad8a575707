"""The canonical table schemas (``schemas/canonical.yaml``) as Arrow schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError

from relieflink.config.errors import ConfigError, from_validation_error, read_yaml
from relieflink.config.paths import schemas_dir


_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("ms"),
    # a label out of a few (comparison levels, blocking passes): pandas Categorical, int8 codes
    "category": pa.dictionary(pa.int8(), pa.string()),
}


class CanonicalField(BaseModel):
    """One documented column of a canonical table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    type: Literal["string", "int32", "int64", "float32", "float64", "bool", "date", "timestamp", "category"]
    doc: str
    filled_by: str | None = None
    per_comparison: bool = False

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]

    @property
    def arrow_field(self) -> pa.Field:
        """The Arrow field, its doc (and whether it is per comparison) kept as metadata."""
        metadata = {"doc": self.doc} | ({"per_comparison": "true"} if self.per_comparison else {})
        return pa.field(self.name, self.arrow_type, metadata=metadata)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    doc: str
    fields: tuple[CanonicalField, ...]


class _Canonical(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tables: dict[str, _Table]


def load_canonical(path: Path | None = None) -> dict[str, pa.Schema]:
    """Arrow schema of each canonical table, field docs kept as metadata."""
    path = path or schemas_dir() / "canonical.yaml"
    try:
        parsed = _Canonical.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None
    schemas: dict[str, pa.Schema] = {}
    for table, spec in parsed.tables.items():
        schemas[table] = pa.schema(
            [f.arrow_field for f in spec.fields],
            metadata={"doc": spec.doc},
        )
    if not {"mentions", "records", "quarantine"} <= schemas.keys():
        raise ConfigError(path, "must define tables mentions, records and quarantine", key="tables")
    return schemas


def expand_per_comparison(schema: pa.Schema, comparisons: Sequence[str]) -> pa.Schema:
    """``schema`` with each per-comparison field repeated for every comparison name, in order.

    ``pairs`` has a level and a weight column per comparison of the linkage
    settings (``level_name``, ``w_name``, ...): the canonical schema holds
    them as ``level_{comparison}`` / ``w_{comparison}``.
    """
    def per_comparison(i: int) -> bool:
        return (schema.field(i).metadata or {}).get(b"per_comparison") == b"true"

    fields: list[pa.Field] = []
    i = 0
    while i < len(schema):
        if not per_comparison(i):
            fields.append(schema.field(i))
            i += 1
            continue
        group = []
        while i < len(schema) and per_comparison(i):
            group.append(schema.field(i))
            i += 1
        for c in comparisons:  # level_a, w_a, level_b, w_b, ...
            fields.extend(f.with_name(f.name.replace("{comparison}", c)) for f in group)
    return pa.schema(fields, metadata=schema.metadata)
