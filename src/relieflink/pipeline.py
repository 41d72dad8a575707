"""The batch job: the stages that exist, run in order into one run folder.

Stages: ingest → (identity normalization happens inside ingest) → linkage →
audit → report. Each stage's tables are kept in a :class:`Run` so that the
library can run the pipeline step by step or at once.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from relieflink import __version__
from relieflink.config import schemas_dir
from relieflink.ingest.pipeline import (
    FileReport,
    IngestConfig,
    IngestResult,
    file_reports_as_dicts,
    ingest_batch,
    write_ingest_outputs,
)
from relieflink.outputs import staged_output, write_json


@dataclass
class Run:
    """The state of one pipeline run."""

    batch_dir: Path
    ingest: IngestResult | None = None
    stages: list[str] = field(default_factory=list)


def config_digest(schemas: Path | None = None) -> dict[str, str]:
    """SHA-256 of every configuration file, for the manifest."""
    root = schemas or schemas_dir()
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.yaml"))
    }


def run_batch(
    batch_dir: Path,
    out_dir: Path,
    *,
    config: IngestConfig | None = None,
    progress: Callable[[FileReport], None] | None = None,
) -> Run:
    """Run every stage that exists on ``batch_dir`` and write ``out_dir`` atomically."""
    run = Run(batch_dir=Path(batch_dir))
    run.ingest = ingest_batch(run.batch_dir, config, progress=progress)
    run.stages.append("ingest")
    with staged_output(Path(out_dir)) as staging:
        outputs = write_ingest_outputs(run.ingest, staging)
        write_json(staging / "run.json", _manifest(run, outputs))
    return run


def _manifest(run: Run, outputs: dict[str, Path]) -> dict[str, object]:
    assert run.ingest is not None
    return {
        "relieflink_version": __version__,
        "python": platform.python_version(),
        "stages": run.stages,
        "inputs": file_reports_as_dicts(run.ingest.files),
        "config_sha256": config_digest(),
        "outputs": sorted(p.name for p in outputs.values()),
        "counts": run.ingest.summary(),
    }
