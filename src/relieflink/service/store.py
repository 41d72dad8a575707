"""Recorded applications, as the service keeps them: the file of :mod:`relieflink.ingest.applications`
read once and followed, with idempotent recording and withdrawal.

Every change takes the file's exclusive lock, first reads what other processes
appended since (two service processes may share the file), then appends one
line; a threading lock orders the requests of this process. An application's
id comes from its agency and idempotency key (:func:`application_id`), so
recording it again with the same key finds it: the same fields give the same
application back, other fields are refused (the key names another approval).
"""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

from relieflink.ingest.applications import (
    Line, RecordedLine, WithdrawnLine, append_entry, application_id, locked, parse_lines, read_from,
)


class KeyReused(ValueError):
    """The idempotency key was used for another application (or one withdrawn since)."""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApplicationStore:
    """The recorded applications of one file; ``version`` counts the changes seen."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._lines: list[Line] = []
        self._offset = 0  # bytes of complete lines read
        self._count = 0  # complete lines read, blank ones included (line numbers go on from it)
        self._ends: list[int] = []  # byte offset after each complete line
        self._recorded: dict[str, Line] = {}
        self._withdrawn: dict[str, Line] = {}
        self.version = 0
        if self.path.exists():
            with self._lock, locked(self.path, exclusive=False) as fd:
                self._catch_up(fd)

    def _catch_up(self, fd: int) -> None:
        data = read_from(fd, self._offset)
        lines, end = parse_lines(data, first_number=self._count + 1)
        if not end:
            return
        at = self._offset
        for piece in data[:end].split(b"\n")[:-1]:
            at += len(piece) + 1
            self._ends.append(at)
        self._count += data[:end].count(b"\n")
        self._offset += end
        for line in lines:
            entry = line.entry
            if isinstance(entry, RecordedLine):
                self._recorded.setdefault(entry.application_id, line)
            elif isinstance(entry, WithdrawnLine):
                self._withdrawn.setdefault(entry.application_id, line)
        self._lines.extend(lines)
        self.version += 1

    def refresh(self) -> None:
        """Read what another process appended (cheap when nothing was: one ``stat``)."""
        try:
            size = os.stat(self.path).st_size
        except OSError:
            return
        if size > self._offset:
            with self._lock, locked(self.path, exclusive=False) as fd:
                self._catch_up(fd)

    def record(self, agency: str, key: str, application: dict) -> tuple[RecordedLine, bool]:
        """Record an approval: (its line, True) — or (the line recorded before under this key, False)."""
        app_id = application_id(agency, key)
        with self._lock, locked(self.path, exclusive=True) as fd:
            self._catch_up(fd)
            before = self._recorded.get(app_id)
            if before is not None:
                entry = before.entry
                assert isinstance(entry, RecordedLine)
                if app_id in self._withdrawn:
                    raise KeyReused("the application recorded under this idempotency key was withdrawn; "
                                    "record a new approval under a new key")
                if entry.application != application:
                    raise KeyReused("this idempotency key was used for another application; use a new key "
                                    "for another approval")
                return entry, False
            entry = RecordedLine(op="record", application_id=app_id, agency=agency, idempotency_key=key,
                                 recorded_at=_now(), application=application)
            append_entry(fd, entry)
            self._catch_up(fd)
            return entry, True

    def withdraw(self, agency: str, app_id: str) -> tuple[WithdrawnLine, bool] | None:
        """Withdraw an application of ``agency``: (the withdrawal, True), (the earlier one, False),
        or None when the agency recorded no application of that id."""
        with self._lock, locked(self.path, exclusive=True) as fd:
            self._catch_up(fd)
            recorded = self._recorded.get(app_id)
            if recorded is None or recorded.entry.agency != agency:  # type: ignore[union-attr]
                return None
            if app_id in self._withdrawn:
                return self._withdrawn[app_id].entry, False  # type: ignore[return-value]
            entry = WithdrawnLine(op="withdraw", application_id=app_id, agency=agency, withdrawn_at=_now())
            append_entry(fd, entry)
            self._catch_up(fd)
            return entry, True

    def lines_taken_by(self, size: int, sha256: str) -> int:
        """How many lines of the file a run took in, from what it recorded of the file (``bytes`` and
        ``sha256``): 0 when that is not a beginning of this file (the run read another one)."""
        with self._lock:
            if size > self._offset or size not in (0, *self._ends):
                return 0
            with open(self.path, "rb") as handle:
                prefix = handle.read(size)
        if hashlib.sha256(prefix).hexdigest() != sha256:
            return 0
        return self._ends.index(size) + 1 if size else 0

    def standing(self, after_line: int = 0) -> list[Line]:
        """Record lines after ``after_line`` whose application is not withdrawn."""
        with self._lock:
            return [line for app_id, line in self._recorded.items()
                    if line.number > after_line and app_id not in self._withdrawn]

    def recorded(self, app_id: str) -> RecordedLine | None:
        line = self._recorded.get(app_id)
        return line.entry if line is not None else None  # type: ignore[return-value]
