"""Reviewer decisions: an append-only JSON Lines file kept outside the run folder.

A decision is about a flag (``flag_confirmed`` / ``flag_dismissed``, by
``flag_id``, derived from what the flag is about: rule, subject, pattern and
audited year; with the flag's ``evidence`` fingerprint when it was decided, so
a later run can say the evidence changed since) or about the identity of two
mentions (``same_person`` / ``different_persons``). An identity decision binds to the content of the two
mentions — their fingerprints (:mod:`relieflink.linkage.fingerprint`: source,
program, normalized name and ID, dates), never their file names or row
numbers — so it holds when rows move or files are renamed; the file, row and
role where the reviewer saw each mention are kept beside it for people.
Decisions written before fingerprints existed (file, row and role only) are
bound to content through the run they were taken on
(:func:`bind_to_content`). The latest decision on a subject wins. Every run
reads the file and applies it (see :mod:`relieflink.review.apply`); the file
is never rewritten, and a decision that matches nothing in a run is listed,
not applied and not an error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
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
    """A mention a reviewer decided on: its content key (``fingerprint``), and the file, row
    and role where the reviewer saw it (for people; and all that decisions written before
    fingerprints existed hold)."""

    file: str | None = None
    row: int | None = None
    role: str = "beneficiary"
    fingerprint: str | None = None

    def seen(self) -> str:
        """Where the reviewer saw the mention: ``file|row|role``."""
        return f"{self.file}|{self.row}|{self.role}"

    def describe(self) -> str:
        """Where the mention was when decided, without personal data."""
        return f"{self.file} row {self.row} ({self.role})" if self.file is not None else "a mention"


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
        if all(m.fingerprint for m in self.mentions):
            a, b = sorted(m.fingerprint for m in self.mentions)  # type: ignore[type-var]
            return f"identity:{a}~{b}"
        a, b = sorted(m.seen() for m in self.mentions)
        return f"identity-seen:{a}~{b}"

    def describe(self) -> str:
        """What the decision is about, without personal data (for summaries and listings)."""
        if self.flag_id is not None:
            return f"flag {self.flag_id}"
        assert self.mentions is not None
        a, b = self.mentions
        return f"{a.describe()} and {b.describe()}"

    def validate(self) -> None:
        if not self.reviewer.strip() or not self.reason.strip():
            raise ValueError("a decision needs a reviewer and a reason")
        if self.decision in FLAG_DECISIONS and not self.flag_id:
            raise ValueError(f"{self.decision} needs a flag_id")
        if self.decision in IDENTITY_DECISIONS and (
            self.mentions is None or len(self.mentions) != 2
            or any(not m.fingerprint and (m.file is None or m.row is None) for m in self.mentions)
        ):
            raise ValueError(f"{self.decision} needs two mentions (a fingerprint, or file and row)")


def append_decision(path: Path, decision: Decision) -> None:
    """Validate and append one decision (the file is created if needed)."""
    decision.validate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = asdict(decision)
    record = {k: v for k, v in record.items() if v is not None}
    if "mentions" in record:
        record["mentions"] = [{k: v for k, v in m.items() if v is not None} for m in record["mentions"]]
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def _read_text(path: Path) -> str:
    """The decisions file as text; a folder, an unreadable or a binary file is one clear sentence."""
    fix = "pass the JSON Lines file that `relieflink decide` writes (--decisions FILE)"
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError(path, f"is a folder, not a decisions file; {fix}") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot read the decisions file ({exc.strerror}); check its permissions") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, f"is not a decisions file (not UTF-8 text); {fix}") from None


def _mention_key(raw: dict) -> MentionKey:
    row = raw.get("row")
    return MentionKey(file=raw.get("file"), row=None if row is None else int(row), role=raw.get("role", "beneficiary"),
                      fingerprint=raw.get("fingerprint"))


def latest_per_subject(decisions: list[Decision]) -> list[Decision]:
    """The last decision on each subject, in the order of those last decisions (the file's)."""
    latest = {d.subject(): i for i, d in enumerate(decisions)}
    return [decisions[i] for i in sorted(latest.values())]


def load_decisions(path: Path | None) -> list[Decision]:
    """All decisions, the latest per subject, in file order; errors name the file and line."""
    if path is None or not Path(path).exists():
        return []
    path = Path(path)
    decisions = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            mentions = raw.get("mentions")
            decision = Decision(
                decision=raw["decision"], reviewer=raw["reviewer"], reason=raw["reason"], flag_id=raw.get("flag_id"),
                mentions=tuple(_mention_key(m) for m in mentions) if mentions else None,  # type: ignore[arg-type]
                at=raw.get("at", ""),
                evidence=raw.get("evidence"),
            )
            if decision.decision not in (*FLAG_DECISIONS, *IDENTITY_DECISIONS):
                raise ValueError(f"unknown decision {decision.decision!r}")
            decision.validate()
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(path, f"line {number}: not a valid decision ({exc}); fix or remove the line") from None
        decisions.append(decision)
    return latest_per_subject(decisions)


def seen_keys(mentions: pd.DataFrame) -> pd.Series:
    """Where each mention is, as a reviewer names it: ``file|row|role`` (aligned with ``mentions``)."""
    return (mentions["file"].astype(str) + "|" + mentions["row"].astype(int).astype(str) + "|"
            + mentions["role"].astype(str))


def _unbound(d: Decision) -> bool:
    return d.mentions is not None and not all(m.fingerprint for m in d.mentions)


def needs_binding(decisions: list[Decision]) -> bool:
    """Whether some identity decision names its mentions by file and row only (written before
    fingerprints existed)."""
    return any(_unbound(d) for d in decisions)


def bind_to_content(decisions: list[Decision], mentions: pd.DataFrame) -> list[Decision]:
    """Identity decisions written with file, row and role only, bound to the fingerprints those
    mentions have in ``mentions`` (the run the decisions were taken on: ``file``, ``row``,
    ``role``, ``fingerprint``). Those not found there stay as they are (and match nothing)."""
    if not needs_binding(decisions) or not {"file", "row", "role", "fingerprint"} <= set(mentions.columns):
        return decisions
    where = dict(zip(seen_keys(mentions).to_numpy(dtype=object), mentions["fingerprint"].to_numpy(dtype=object)))
    bound = []
    for d in decisions:  # a handful of reviewer decisions, not a hot path
        if _unbound(d):
            assert d.mentions is not None
            keys = tuple(m if m.fingerprint else replace(m, fingerprint=where.get(m.seen())) for m in d.mentions)
            d = replace(d, mentions=keys)
        bound.append(d)
    return latest_per_subject(bound)


def identity_constraints(decisions: list[Decision]) -> pd.DataFrame:
    """Identity decisions as rows: the two mentions' fingerprints (null: not bound to content)
    and where they were seen (``left_seen``, ``right_seen``), ``same``: bool."""
    rows = []
    for d in decisions:
        if d.decision in IDENTITY_DECISIONS and d.mentions is not None:
            a, b = d.mentions
            rows.append({"left": a.fingerprint, "right": b.fingerprint, "left_seen": a.seen(), "right_seen": b.seen(),
                         "same": d.decision == "same_person"})
    return pd.DataFrame(rows, columns=["left", "right", "left_seen", "right_seen", "same"])


def flag_decisions(decisions: list[Decision]) -> pd.DataFrame:
    """Flag decisions as rows: flag id, decision, who, why, and the evidence fingerprint then."""
    rows = [{"flag_id": d.flag_id, "decision": d.decision.removeprefix("flag_"), "decided_by": d.reviewer,
             "decision_reason": d.reason, "decided_evidence": d.evidence} for d in decisions if d.decision in FLAG_DECISIONS]
    return pd.DataFrame(rows, columns=["flag_id", "decision", "decided_by", "decision_reason", "decided_evidence"])
