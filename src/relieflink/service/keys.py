"""Agency keys: ``KEYS.yaml`` holds the SHA-256 of each key, never a key.

An agency system presents ``Authorization: Bearer <key>``; the service hashes
what it is given and compares it with every entry's hash in constant time
(``hmac.compare_digest``, all entries compared whatever matches), so neither the
file nor the timing tells a key. The file is a YAML list::

    - agency: jd-hushu          # a source code of schemas/programs.yaml (agency or subdistrict)
      key_sha256: 3f0c…         # 64 hex digits: sha256 of the key's text
      label: 湖墅街道救助系统     # optional, for people
      created: 2026-01-05       # optional
      unmasked: false           # optional: true shows this agency names and IDs in clear
      requests_per_minute: 600  # optional: this key's rate instead of schemas/service.yaml's
      name_only_per_minute: 60  # optional, likewise for name-only screenings

``relieflink keys new AGENCY --keys FILE`` makes a key (``secrets.token_urlsafe``),
appends its hash and prints the key once. Revoking a key is removing its
entry: the service reads the file again when it changes (:class:`KeyRing`), and
a file that no longer validates locks every key out until it is fixed (a
revocation with a typo must not leave the revoked key working).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import secrets
import threading
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from relieflink.config.catalog import Catalog
from relieflink.config.errors import ConfigError, from_validation_error


class KeyEntry(BaseModel):
    """One agency key, by its hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency: str
    key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    label: str | None = None
    created: date | None = None
    unmasked: bool = False
    requests_per_minute: int | None = Field(default=None, gt=0)
    name_only_per_minute: int | None = Field(default=None, gt=0)

    @property
    def key_id(self) -> str:
        """A short name of the key for logs and rate buckets (the first 12 hex digits of its hash)."""
        return self.key_sha256[:12]


_ENTRIES = TypeAdapter(list[KeyEntry])


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _parse(path: Path, text: str, catalog: Catalog) -> list[KeyEntry]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(path, f"is not valid YAML{at}; fix the syntax") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(path, "must be a YAML list of {agency, key_sha256} entries (`relieflink keys new` writes it)")
    try:
        entries = _ENTRIES.validate_python(data)
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None
    codes = {a.code for a in catalog.agencies}
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.agency not in codes:
            raise ConfigError(path, f"unknown agency {entry.agency!r}; use a source code of programs.yaml "
                                    f"(e.g. mzj, jd-hushu)", key=f"{i}.agency")
        if entry.key_sha256 in seen:
            raise ConfigError(path, f"the same key hash as entry {seen[entry.key_sha256]}; remove one of them",
                              key=f"{i}.key_sha256")
        seen[entry.key_sha256] = i
    return entries


def load_keys(path: Path, catalog: Catalog) -> list[KeyEntry]:
    """Every entry of a keys file, validated (errors name the file and the entry's key)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, f"cannot read the keys file ({exc.strerror}); create it with "
                                f"`relieflink keys new AGENCY --keys {path.name}`") from None
    return _parse(path, text, catalog)


def find_key(entries: list[KeyEntry], presented: str) -> KeyEntry | None:
    """The entry whose hash is the presented key's; every entry is compared, in constant time each."""
    digest = key_hash(presented).encode("ascii")
    found = None
    for entry in entries:
        if hmac.compare_digest(digest, entry.key_sha256.encode("ascii")):
            found = entry
    return found


def new_key(path: Path, agency: str, catalog: Catalog, label: str | None = None, unmasked: bool = False,
            today: date | None = None) -> str:
    """Make a key for ``agency``, append its entry to the keys file (created if absent) and return
    the key — the only time it is seen. The file is locked while it is read and appended to, and
    the new text is validated before it is written (the other entries are kept as written)."""
    if agency not in {a.code for a in catalog.agencies}:
        raise ConfigError(path, f"unknown agency {agency!r}; use a source code of programs.yaml (e.g. mzj, jd-hushu)")
    key = secrets.token_urlsafe(32)
    entry: dict[str, object] = {"agency": agency, "key_sha256": key_hash(key), "created": today or date.today()}
    if label:
        entry["label"] = label
    if unmasked:
        entry["unmasked"] = True
    block = yaml.safe_dump([entry], allow_unicode=True, sort_keys=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        text = os.pread(fd, size, 0).decode("utf-8") if size else ""
        before = _parse(path, text, catalog)
        if not text:
            block = ("# relieflink serve: agency keys, by the SHA-256 of each key (never the key itself).\n"
                     "# Revoke a key by removing its entry; the service reads the file again.\n") + block
        elif not text.endswith("\n"):
            block = "\n" + block
        after = _parse(path, text + block, catalog)
        if [e.key_sha256 for e in after] != [e.key_sha256 for e in before] + [entry["key_sha256"]]:
            raise ConfigError(path, "cannot append an entry: write the file as a YAML block list ('- agency: …')")
        os.write(fd, block.encode("utf-8"))
    finally:
        os.close(fd)
    return key


class KeyRing:
    """The keys of a file, read again whenever the file changes (its inode, size or mtime).

    A file that does not validate, or is gone, is held as ``error``: no key is accepted until
    it is fixed. Safe under concurrent requests."""

    def __init__(self, path: Path, catalog: Catalog) -> None:
        self.path = Path(path)
        self.catalog = catalog
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self.entries: list[KeyEntry] = []
        self.error: str | None = None
        self.refresh()

    def _current_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def refresh(self) -> None:
        stamp = self._current_stamp()
        if stamp == self._stamp and stamp is not None:
            return
        with self._lock:
            if stamp == self._stamp and stamp is not None:
                return
            try:
                entries, error = load_keys(self.path, self.catalog), None
            except ConfigError as exc:
                entries, error = [], str(exc)
            self.entries, self.error, self._stamp = entries, error, stamp

    def find(self, presented: str) -> KeyEntry | None:
        self.refresh()
        return find_key(self.entries, presented)
