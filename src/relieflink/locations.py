"""Batch and run folders named by a path or by a Hadoop-style URI (``file:///data/batch``).

Spark jobs are usually handed URIs; relieflink reads batches and writes run folders through the
local file system (the staged, atomic output of :mod:`relieflink.outputs` relies on renames in
one folder), so a ``file://`` URI becomes its path, and a URI of a file system that is not mounted
here (``hdfs://``, ``s3a://``) is refused with the fix: mount it and give the path.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from relieflink.errors import InputRefused, OutputRefused


def local_path(location: str | Path, what: str = "the batch folder", output: bool = False) -> Path:
    """The path of ``location`` (a path, or a ``file:`` URI: ``file:///x``, ``file:/x``,
    ``file://localhost/x``); raises InputRefused (OutputRefused when ``output``) for other schemes."""
    if isinstance(location, Path):
        return location
    parts = urlsplit(location)
    if len(parts.scheme) <= 1:  # no scheme (a Windows drive letter is not one either)
        return Path(location)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return Path(unquote(parts.path))
    error = OutputRefused if output else InputRefused
    raise error(f"{location}: {what} must be a local path or a file:// URI; mount the "
                f"{parts.scheme or 'remote'} file system here and pass the folder's path")
