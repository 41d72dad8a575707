"""The canonical table schemas (``schemas/canonical.yaml``) as Arrow schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError

from relieflink.config.errors import ConfigError, from_validation_error, read_yaml
from relieflink.config.paths import schemas_dir

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("ms"),
}


class CanonicalField(BaseModel):
    """One documented column of a canonical table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    type: Literal["string", "int32", "int64", "float64", "bool", "date", "timestamp"]
    doc: str
    filled_by: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]


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
            [pa.field(f.name, f.arrow_type, metadata={"doc": f.doc}) for f in spec.fields],
            metadata={"doc": spec.doc},
        )
    if not {"mentions", "records", "quarantine"} <= schemas.keys():
        raise ConfigError(path, "must define tables mentions, records and quarantine", key="tables")
    return schemas
