"""Configuration as data: the YAML files under ``schemas/``, validated on load.

Every loader raises :class:`ConfigError` naming the file and the key that is
wrong, so that a civil-affairs IT team can fix a mapping without reading code.
"""

from relieflink.config.errors import ConfigError
from relieflink.config.paths import packaged_schemas_dir, schemas_dir, use_schemas_dir
from relieflink.config.catalog import Agency, Catalog, Program, load_catalog
from relieflink.config.sources import (
    MentionSpec,
    RecordSpec,
    SourceSpec,
    TableSpec,
    load_sources,
)
from relieflink.config.canonical import CanonicalField, load_canonical
from relieflink.config.plausibility import Plausibility, load_plausibility

__all__ = [
    "Agency",
    "CanonicalField",
    "Catalog",
    "ConfigError",
    "MentionSpec",
    "Plausibility",
    "Program",
    "RecordSpec",
    "SourceSpec",
    "TableSpec",
    "load_canonical",
    "load_catalog",
    "load_plausibility",
    "load_sources",
    "packaged_schemas_dir",
    "schemas_dir",
    "use_schemas_dir",
]
