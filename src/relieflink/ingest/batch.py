"""A batch folder: which file belongs to which source table, and repeated deliveries.

Files are matched to tables by the patterns of the mapping files. A file
whose content repeats an earlier file of the same table (byte-identical, or
the same data rows re-saved) is a delivery error, not a double payment: its
rows are accounted for as copies of the first delivery.
"""

from __future__ import annotations

import fnmatch
import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from relieflink.config.sources import SourceSpec, TableSpec

# Files that are never data: ignored without a quarantine entry.
IGNORED_NAMES = ("~$*", ".*", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class BatchFile:
    """One delivered file and the table it maps to (None: unknown file)."""

    path: Path
    sha256: str
    size: int
    source: SourceSpec | None
    table: TableSpec | None

    @property
    def name(self) -> str:
        return self.path.name


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def match_table(name: str, sources: list[SourceSpec]) -> tuple[SourceSpec, TableSpec] | None:
    """The first table (in source order) whose pattern matches the file name."""
    name = _nfc(name)
    for source in sources:
        for table in source.tables:
            if any(fnmatch.fnmatchcase(name, _nfc(p)) for p in table.files):
                return source, table
    return None


def discover(batch_dir: Path, sources: list[SourceSpec]) -> list[BatchFile]:
    """All files of a batch folder (not recursive), sorted by name, hashed and matched."""
    if not batch_dir.is_dir():
        raise FileNotFoundError(f"{batch_dir}: not a folder; pass the folder that holds the agencies' exports")
    files = []
    for path in sorted(batch_dir.iterdir(), key=lambda p: _nfc(p.name)):
        if not path.is_file() or any(fnmatch.fnmatch(path.name, pat) for pat in IGNORED_NAMES):
            continue
        data = path.read_bytes()
        matched = match_table(path.name, sources)
        files.append(
            BatchFile(
                path=path,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                source=matched[0] if matched else None,
                table=matched[1] if matched else None,
            )
        )
    return files


def delivery_order(files: list[BatchFile]) -> list[BatchFile]:
    """Order in which files are taken as first deliveries: the plainest name first.

    ``jd-xiangfu_临时救助.csv`` comes before ``jd-xiangfu_临时救助(1).csv``, so
    the copy, not the original, is reported as the repeated delivery.
    """
    return sorted(files, key=lambda f: (len(f.name), _nfc(f.name)))
