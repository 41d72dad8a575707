"""What one key may ask, and how often: ``schemas/service.yaml``, and a token bucket per key.

The service must answer a case system at once yet never let a caller walk
the register: every key is rate-limited (all keyed requests, and name-only
screenings apart, at a lower rate), and a name-only answer lists a few
namesakes and counts the rest.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relieflink.config.errors import from_validation_error, read_yaml
from relieflink.config.paths import schemas_dir


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(_Strict):
    requests_per_minute: int = Field(gt=0)
    burst: int = Field(gt=0)
    name_only_per_minute: int = Field(gt=0)


class NameOnly(_Strict):
    max_candidates: int = Field(ge=1, le=50)


class ServiceLimits(_Strict):
    """``schemas/service.yaml``: see the file for what each limit means."""

    rate_limit: RateLimit
    name_only: NameOnly


def load_limits(path: Path | None = None) -> ServiceLimits:
    """Load and validate ``service.yaml``; errors name the file and the key."""
    path = path or schemas_dir() / "service.yaml"
    try:
        return ServiceLimits.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets by name (a key's id, and the key's id with a suffix for name-only queries),
    safe under concurrent requests. ``clock``: seconds, monotonic (a test passes its own)."""

    def __init__(self, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def take(self, name: str, per_minute: int, burst: int) -> float | None:
        """Take one request from the bucket: None when allowed, else the seconds until one is."""
        rate = per_minute / 60.0
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = self._buckets[name] = _Bucket(float(burst), now)
            bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / rate

    @staticmethod
    def retry_after(seconds: float) -> str:
        """The ``Retry-After`` header: whole seconds, at least 1."""
        return str(max(1, math.ceil(seconds)))
