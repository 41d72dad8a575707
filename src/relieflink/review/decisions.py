"""Reviewer decisions: an append-only JSON Lines file kept outside the run folder.

A decision is about a flag (``flag_confirmed`` / ``flag_dismissed``, by
``flag_id``, derived from what the flag is about: rule, subject, pattern and
audited year; with the flag's ``evidence`` fingerprint when it was decided, so
a later run can say the evidence changed since) or about the identity of two
mentions (``same_person`` /
``different_persons``, by their ``file``, ``row`` and ``role``, which stay
the same from one run to the next). The latest decision on a subject wins.
Every run reads the file and applies it (see :mod:`relieflink.review.apply`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import pandas as pd

from relieflink.config.errors import ConfigError

DecisionKind = Literal["same_person", "different_persons", "flag_confirmed", "flag_dismissed"]
FLAG_DECISIONS = ("flag_confirmed", "flag_dismissed")
IDENTITY_DECISIONS = ("same_person", "different_persons")


@dataclass(frozen=True)
class MentionKey:
    """A mention named as a reviewer sees it: file, row and role."""

    file: str
    row: int
    role: str = "beneficiary"


@dataclass(frozen=True)
class Decision:
    decision: DecisionKind
    reviewer: str
    reason: str
    flag_id: str | None = None
    mentions: tuple[MentionKey, MentionKey] | None = None
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    evidence: str | None = None  # a flag decision: the flag's evidence fingerprint when it was decided

    def subject(self) -> str:
        if self.flag_id is not None:
            return f"flag:{self.flag_id}"
        assert self.mentions is not None
        a, b = sorted(f"{m.file}|{m.row}|{m.role}" for m in self.mentions)
        return f"identity:{a}~{b}"

    def unmatched_text(self) -> str:
        """How a run names a decision that matches nothing in it (no personal data)."""
        return f"{self.decision} {self.flag_id or self.subject()} ({self.at})"

    def validate(self) -> None:
        if not self.reviewer.strip() or not self.reason.strip():
            raise ValueError("a decision needs a reviewer and a reason")
        if self.decision in FLAG_DECISIONS and not self.flag_id:
            raise ValueError(f"{self.decision} needs a flag_id")
        if self.decision in IDENTITY_DECISIONS and (self.mentions is None or len(self.mentions) != 2):
            raise ValueError(f"{self.decision} needs two mentions (file, row, role)")


def append_decision(path: Path, decision: Decision) -> None:
    """Validate and append one decision (the file is created if needed)."""
    decision.validate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = asdict(decision)
    record = {k: v for k, v in record.items() if v is not None}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def load_decisions(path: Path | None) -> list[Decision]:
    """All decisions, the latest per subject; errors name the file and line."""
    if path is None or not Path(path).exists():
        return []
    latest: dict[str, Decision] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            mentions = raw.get("mentions")
            decision = Decision(
                decision=raw["decision"], reviewer=raw["reviewer"], reason=raw["reason"], flag_id=raw.get("flag_id"),
                mentions=tuple(MentionKey(m["file"], int(m["row"]), m.get("role", "beneficiary")) for m in mentions)
                if mentions else None,
                at=raw.get("at", ""),
                evidence=raw.get("evidence"),
            )
            if decision.decision not in (*FLAG_DECISIONS, *IDENTITY_DECISIONS):
                raise ValueError(f"unknown decision {decision.decision!r}")
            decision.validate()
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(path, f"line {number}: not a valid decision ({exc}); fix or remove the line") from None
        latest[decision.subject()] = decision
    return [latest[k] for k in sorted(latest)]


def identity_constraints(decisions: list[Decision]) -> pd.DataFrame:
    """Identity decisions as rows (left and right mention keys, same: bool)."""
    rows = []
    for d in decisions:
        if d.decision in IDENTITY_DECISIONS and d.mentions is not None:
            a, b = d.mentions
            rows.append({"left_file": a.file, "left_row": a.row, "left_role": a.role, "right_file": b.file,
                         "right_row": b.row, "right_role": b.role, "same": d.decision == "same_person"})
    return pd.DataFrame(rows, columns=["left_file", "left_row", "left_role", "right_file", "right_row", "right_role", "same"])


def flag_decisions(decisions: list[Decision]) -> pd.DataFrame:
    """Flag decisions as rows: flag id, decision, who, why, and the evidence fingerprint then."""
    rows = [{"flag_id": d.flag_id, "decision": d.decision.removeprefix("flag_"), "decided_by": d.reviewer,
             "decision_reason": d.reason, "decided_evidence": d.evidence} for d in decisions if d.decision in FLAG_DECISIONS]
    return pd.DataFrame(rows, columns=["flag_id", "decision", "decided_by", "decision_reason", "decided_evidence"])


def matching_no_flag(decisions: list[Decision], flag_ids: set[str]) -> list[Decision]:
    """The flag decisions whose flag id is not among ``flag_ids`` (the flags of a run)."""
    return [d for d in decisions if d.decision in FLAG_DECISIONS and d.flag_id not in flag_ids]
