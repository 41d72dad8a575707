"""Reports after review, without a rerun: ``relieflink report OUT``.

Reviewers decide in the days after a run; the reports (report.html, report.xlsx,
flags.jsonl.gz, reports/<agency>.html), the screening index (which flags are raised
and dismissed) and the manifest's counts should show their decisions the same day. Flag decisions need no new linkage nor audit: the run's
flags are re-decided (:func:`~relieflink.review.apply.apply_flag_decisions`) and the
reports written again from the run's own tables. Identity decisions change who is
whom, hence the flags: those the run does not already reflect (two mentions
declared one person still apart, or declared two persons still together) are
listed as needing a new linkage (``relieflink run BATCH --out OUT`` applies them),
never approximated here.

The folder is replaced as a whole through the staged output of
:mod:`relieflink.outputs` (locked, written aside, swapped in): the unchanged tables
are hard-linked into the staging folder (copied where the file system cannot
link), flags.parquet, the reports and run.json are written new. A reader sees the
old folder or the new one, never a mix, and the manifest lists what is there.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from relieflink.errors import InputRefused
from relieflink.report.jsonout import FLAGS_JSONL

#: files the rewrite produces anew (everything else in the manifest is carried over unchanged)
REWRITTEN = ("flags.parquet", "report.html", "report.xlsx", FLAGS_JSONL, "reports", "screening", "run.json")


@dataclass
class ReportAfterReview:
    """What ``relieflink report`` did: the decisions applied, those waiting for a new linkage
    (described without personal data), the counts now in the manifest, and the seconds."""

    applied_flag_decisions: int
    awaiting_linkage: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    seconds: float = 0.0


def _carry(src: Path, dst: Path) -> None:
    """``src`` into the staging folder without copying its bytes where possible."""
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=_link_or_copy)
    else:
        _link_or_copy(src, dst)


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def identity_awaiting_linkage(decisions: list, mentions: pd.DataFrame) -> list[str]:
    """The identity decisions the run in ``mentions`` does not reflect: "same person" on two
    mentions of different persons, "different persons" on two of one person. Decisions whose
    mentions are not in the run are left out (they are unmatched, listed elsewhere)."""
    from relieflink.review.decisions import IDENTITY_DECISIONS

    person = pd.Series(mentions["person_id"].to_numpy(dtype=object), index=mentions["fingerprint"].to_numpy(dtype=object))
    person = person[~person.index.duplicated()]
    out = []
    for d in decisions:  # a reviewer's decisions, a handful: not a hot path
        if d.decision not in IDENTITY_DECISIONS or d.mentions is None:
            continue
        a, b = (m.fingerprint for m in d.mentions)
        if a not in person.index or b not in person.index:
            continue
        together = person[a] == person[b]
        if together != (d.decision == "same_person"):
            out.append(f"{d.describe()} (decided {d.at})")
    return out


def report_after_review(out_dir: Path, decisions_path: Path | None, *, pseudonym_key: bytes | None = None,
                        mask: bool = True) -> ReportAfterReview:
    """Rewrite the reports of the run folder ``out_dir`` with the decisions in ``decisions_path``
    (see the module). Raises :class:`~relieflink.errors.InputRefused` when ``out_dir`` is not
    the folder of a full run (with flags), :class:`~relieflink.errors.OutputRefused` when it
    may not be replaced (another run writing it, no space)."""
    from relieflink.audit.output import write_flags
    from relieflink.config.catalog import load_catalog
    from relieflink.outputs import preflight, write_json
    from relieflink.pipeline import decision_counts, flag_counts
    from relieflink.report import write_reports
    from relieflink.review import load_decisions
    from relieflink.review.apply import apply_flag_decisions
    from relieflink.review.decisions import FLAG_DECISIONS, bind_to_content
    from relieflink.review.queue import unmatched_in_run
    from relieflink.run_folder import open_run
    from relieflink.screening.index import ScreeningIndex

    started = time.perf_counter()
    out_dir = Path(out_dir)
    run = open_run(out_dir)
    if not (out_dir / "flags.parquet").is_file():
        raise InputRefused(f"{out_dir} has no flags.parquet: `relieflink report` rewrites the reports of a full "
                           f"`relieflink run` (not `ingest`)")
    decisions = load_decisions(decisions_path)
    mentions = run.mentions
    decisions = bind_to_content(decisions, mentions)
    flags = apply_flag_decisions(run.flags, decisions)
    held = run.held if (out_dir / "held_flags.parquet").is_file() else None
    unmatched = unmatched_in_run(out_dir, decisions, mentions)
    awaiting = identity_awaiting_linkage(decisions, mentions)
    counts = {k: v for k, v in run.counts.items() if not k.startswith("decision")}
    counts.update(flag_counts(flags, held))
    if decisions:
        counts.update(decision_counts(decisions, list(run.counts.get("decisions_refused", [])), unmatched, flags))
        if awaiting:  # absent otherwise: the manifest is then the one a rerun with the decisions writes
            counts["decisions_applied"] = int(counts["decisions_applied"]) - len(awaiting)
            counts["decisions_awaiting_linkage"] = awaiting
    manifest = dict(run.manifest)
    catalog = load_catalog()
    target = preflight(out_dir)
    with target as staging:
        for name in run.manifest["outputs"]:
            if name not in REWRITTEN and (out_dir / name).exists():
                _carry(out_dir / name, staging / name)
        write_flags(flags, staging / "flags.parquet")
        if "screening" in run.manifest["outputs"]:
            ScreeningIndex.write_for_run(staging, run.persons, run.records, mentions, catalog, flags)
        manifest["counts"] = counts
        manifest["outputs"] = sorted(p.name for p in staging.iterdir()) + ["run.json"]
        write_reports(staging, catalog, mask=mask, manifest=manifest, pseudonym_key=pseudonym_key)
        manifest["outputs"] = sorted({p.name for p in staging.iterdir()} | {"run.json"})
        write_json(staging / "run.json", manifest)
    applied = sum(1 for d in decisions if d.decision in FLAG_DECISIONS) - sum(
        1 for u in unmatched if u.decision in FLAG_DECISIONS)
    return ReportAfterReview(applied, awaiting, counts, time.perf_counter() - started)
