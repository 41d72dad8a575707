"""The one error type of configuration problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Collection

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


def from_validation_error(path: Path, exc: ValidationError, document: Any = None,
                          tags: Collection[str] = ()) -> ConfigError:
    """Turn a pydantic error (a misspelled key first, else the first) into a ConfigError with a dotted key.

    ``tags``: the discriminator values of the file's tagged unions (pydantic
    puts the tag into the error's location: ``levels.3.jaro_winkler.treshold``);
    they are left out of the key. With the parsed ``document``, a list item
    that has a ``name`` is named by it instead of its position
    (``comparisons.address.levels.3.treshold``).
    """
    errors = exc.errors()
    # a misspelled key also leaves its right spelling missing: name the misspelling
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = list(err["loc"])
    loc = [part for i, part in enumerate(loc) if not (i and isinstance(loc[i - 1], int) and part in tags)]
    parts: list[str] = []
    node = document
    for part in loc:
        item = node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
        named = item.get("name") if isinstance(item, dict) else None
        parts.append(named if isinstance(named, str) and named else str(part))
        node = item if isinstance(node, list) else node.get(part) if isinstance(node, dict) else None
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key; check its spelling"
    elif err["type"] == "union_tag_invalid":  # an unknown kind: the key is the discriminator
        ctx = err.get("ctx", {})
        parts.append(str(ctx.get("discriminator", "kind")).strip("'"))
        msg = f"unknown kind {ctx.get('tag')!r}; use one of {ctx.get('expected_tags')}"
    # the right spelling of a misspelled key is missing next to it: one problem, not two
    more = sum(1 for e in errors if e is not err and not (
        err["type"] == "extra_forbidden" and e["type"] == "missing" and e["loc"][:-1] == err["loc"][:-1]))
    extra = f" ({more} more problem{'s' if more > 1 else ''})" if more else ""
    return ConfigError(path, f"{msg}{extra}", key=".".join(parts) or None)
