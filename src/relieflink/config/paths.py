"""Where the configuration lives."""

from __future__ import annotations

import os
from pathlib import Path


def schemas_dir() -> Path:
    """The ``schemas/`` folder: ``$RELIEFLINK_SCHEMAS`` or the repository's own.

    The package is installed in editable mode from its repository (README),
    so the repository's ``schemas/`` sits three levels above this file.
    """
    env = os.environ.get("RELIEFLINK_SCHEMAS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "schemas"
