"""A run folder reopened: the tables of a finished run, for other district systems and for reports.

``relieflink.open_run(OUT)`` gives a :class:`RunFolder` whose tables are read on
first use (a screening service that needs the persons does not pay for the
pairs). Their schemas are documented where they are written:

* ``mentions``, ``records``, ``quarantine``, ``persons``, ``households``,
  ``pairs``: ``schemas/canonical.yaml`` (every column with its type and meaning;
  :meth:`RunFolder.schema` gives the written Arrow schema, each field's doc in its metadata);
* ``flags`` and ``held`` (``held_flags.parquet``: patterns held as identity
  questions): :data:`relieflink.audit.output.FLAGS_SCHEMA`;
* ``changes`` (with ``--previous``): :data:`relieflink.linkage.continuity.CHANGE_COLUMNS`;
  None when the run had no previous run.

A folder that is not a run folder (no complete ``run.json``) is refused with
:class:`~relieflink.errors.InputRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd
import pyarrow as pa

from relieflink.errors import InputRefused

#: table name → file in the run folder
TABLE_FILES = {
    "mentions": "mentions.parquet", "records": "records.parquet", "quarantine": "quarantine.parquet",
    "persons": "persons.parquet", "households": "households.parquet", "pairs": "pairs.parquet",
    "flags": "flags.parquet", "held": "held_flags.parquet", "changes": "changes.parquet",
}


@dataclass(frozen=True)
class RunFolder:
    """The tables of one run folder, each read from its Parquet file on first access."""

    path: Path
    manifest: dict = field(repr=False)

    def _read(self, name: str) -> pd.DataFrame | None:
        path = self.path / TABLE_FILES[name]
        return pd.read_parquet(path) if path.is_file() else None

    def _table(self, name: str) -> pd.DataFrame:
        table = self._read(name)
        if table is None:
            raise InputRefused(f"{self.path} lacks {TABLE_FILES[name]}: open the output folder of a full "
                               f"`relieflink run` (not `ingest`)")
        return table

    @cached_property
    def mentions(self) -> pd.DataFrame:
        """One row per person named by an input row (canonical ``mentions``)."""
        return self._table("mentions")

    @cached_property
    def records(self) -> pd.DataFrame:
        """One row per assistance or status record (canonical ``records``)."""
        return self._table("records")

    @cached_property
    def quarantine(self) -> pd.DataFrame:
        """Every problem found in the input (canonical ``quarantine``)."""
        return self._table("quarantine")

    @cached_property
    def persons(self) -> pd.DataFrame:
        """One row per linked person (canonical ``persons``)."""
        return self._table("persons")

    @cached_property
    def households(self) -> pd.DataFrame:
        """One row per (household, member) (canonical ``households``)."""
        return self._table("households")

    @cached_property
    def pairs(self) -> pd.DataFrame:
        """Scored candidate pairs with per-field levels and weights (canonical ``pairs``)."""
        return self._table("pairs")

    @cached_property
    def flags(self) -> pd.DataFrame:
        """Duplicate, overlap and missed-benefit flags (``FLAGS_SCHEMA``), reviewer decisions applied."""
        return self._table("flags")

    @cached_property
    def held(self) -> pd.DataFrame:
        """Patterns held as identity questions (``FLAGS_SCHEMA``, status ``held``)."""
        return self._table("held")

    @cached_property
    def changes(self) -> pd.DataFrame | None:
        """Merges, splits, new and gone persons and households since the previous run, or None."""
        return self._read("changes")

    @property
    def counts(self) -> dict:
        """The run's summary as its manifest states it (``run.json``: ``counts``)."""
        return dict(self.manifest.get("counts", {}))

    def schema(self, table: str) -> pa.Schema:
        """The Arrow schema of a table as written, each field's documentation in its metadata
        (``doc``) for the canonical tables; the canonical schema when the file is absent."""
        import pyarrow.parquet as pq

        path = self.path / TABLE_FILES[table]
        if path.is_file():
            return pq.read_schema(path)
        if table in ("flags", "held"):
            from relieflink.audit.output import FLAGS_SCHEMA

            return FLAGS_SCHEMA
        from relieflink.config.canonical import load_canonical

        return load_canonical()[table]


def open_run(out_dir: Path | str) -> RunFolder:
    """Reopen the run folder ``out_dir`` (see the module); raises
    :class:`~relieflink.errors.InputRefused` when it is not one."""
    from relieflink.outputs import read_manifest

    path = Path(out_dir)
    manifest = read_manifest(path)
    if manifest is None:
        raise InputRefused(f"{path} is not a run folder (it has no complete run.json); pass the output folder of "
                           f"`relieflink run`")
    return RunFolder(path, manifest)
