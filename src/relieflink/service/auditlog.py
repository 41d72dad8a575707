"""The service's audit log: one JSON line per request, whoever asked and whatever came of it.

Each line: ``time`` (UTC), ``agency`` and ``key_id`` (the first 12 hex digits of
the key's hash; null when no valid key was shown), ``method``, ``endpoint`` (the
route's template, never the raw path: a caller could put anything in it),
``status``, ``latency_ms``, ``applicant`` (masked name and ID, program, period
start), ``matched_person_ids`` and, for the applications endpoints,
``application_id``. Never the key, never an unmasked ID or name — also for a key
granted unmasked answers. Lines are appended with one ``write`` on a
descriptor opened ``O_APPEND``, under a lock, so concurrent requests (and
several service processes) never interleave within a line.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

from relieflink.privacy import mask_id, mask_name

logger = logging.getLogger(__name__)


def masked_applicant(fields: dict) -> dict[str, object]:
    """What the log says of an application: masked identity, program and period start."""
    return {
        "name": mask_name(fields.get("name")) or None,
        "id_number": mask_id(fields.get("id_number")) or None,
        "program": fields.get("program"),
        "period_start": str(fields["period_start"]) if fields.get("period_start") is not None else None,
    }


class AuditLog:
    """Appends one line per request to ``path`` (created with mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()

    def write(self, entry: dict[str, object]) -> None:
        line = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"), **entry}
        data = (json.dumps(line, ensure_ascii=False, sort_keys=True, default=str) + "\n").encode("utf-8")
        try:
            with self._lock:
                os.write(self._fd, data)
        except OSError as exc:  # the request was answered; say so without its content
            logger.error("cannot append to the audit log %s (%s)", self.path, exc.strerror)

    def close(self) -> None:
        os.close(self._fd)
