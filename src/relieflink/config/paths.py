"""Where the configuration lives: the one place that says it.

The YAML configuration ships inside the package (``relieflink/schemas/``,
package data), so an installed wheel finds it as an editable checkout does.
An office that edits its own copy points to it with ``$RELIEFLINK_SCHEMAS``
or, for one process, :func:`use_schemas_dir` (the CLI's ``--config DIR``).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

_override: Path | None = None


def use_schemas_dir(path: Path | None) -> None:
    """Read the configuration from ``path`` from now on in this process (``None``: the default again)."""
    global _override
    _override = Path(path) if path is not None else None


def packaged_schemas_dir() -> Path:
    """The configuration shipped with the package."""
    return Path(str(resources.files("relieflink").joinpath("schemas")))


def schemas_dir() -> Path:
    """The configuration folder: :func:`use_schemas_dir`, else ``$RELIEFLINK_SCHEMAS``, else the packaged one."""
    if _override is not None:
        return _override
    env = os.environ.get("RELIEFLINK_SCHEMAS")
    if env:
        return Path(env)
    return packaged_schemas_dir()
