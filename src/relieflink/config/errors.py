"""The one error type of configuration problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid.

    The message names the file and the key (a dotted path) and says what to
    fix; it never contains personal data because configuration holds none.
    """

    def __init__(self, path: Path | str, message: str, key: str | None = None):
        self.path = Path(path)
        self.key = key
        where = f"{self.path}" + (f": {key}" if key else "")
        super().__init__(f"{where}: {message}")


def read_yaml(path: Path) -> Any:
    """Read one YAML file, turning I/O and syntax errors into ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, f"cannot read the file ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(path, f"is not valid YAML{at}; fix the syntax") from None


def from_validation_error(path: Path, exc: ValidationError) -> ConfigError:
    """Turn the first pydantic error into a ConfigError with a dotted key (an unknown key first:
    a misspelled key also makes the key it stands for missing, and the misspelling is the news)."""
    err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    key = ".".join(str(part) for part in err["loc"]) or None
    extra = f" ({len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
    return ConfigError(path, f"{err['msg']}{extra}", key=key)
