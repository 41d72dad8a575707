"""Progress of the library's long jobs, as events a caller may show (the library never prints).

A job calls ``on_stage(StageEvent(name, "start"))`` when a stage begins and
``on_stage(StageEvent(name, "done", seconds, counts))`` when it ends (``counts``:
what it produced, e.g. ``{"persons": 1813}``). The CLI draws them with rich on a
terminal; a service may log them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal


@dataclass(frozen=True)
class StageEvent:
    """A stage of a job began (``state`` ``start``) or ended (``done``, with its seconds and counts)."""

    name: str
    state: Literal["start", "done"]
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


StageCallback = Callable[[StageEvent], None]


def notify(on_stage: StageCallback | None, name: str, state: Literal["start", "done"], seconds: float = 0.0,
           **counts: int) -> None:
    """Send one event to ``on_stage`` when there is one."""
    if on_stage is not None:
        on_stage(StageEvent(name, state, seconds, {k: int(v) for k, v in counts.items()}))
