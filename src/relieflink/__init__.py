"""relieflink: social-assistance records ingested, linked to persons and audited.

The public API re-exports the entry points of each pipeline stage; the
stages live in their own packages (``ingest``, ``identity``, ``linkage``,
``audit``, ``report``) and ``synth`` generates realistic batches with ground
truth. Names are imported on first use so that ``import relieflink`` and the
CLI's ``--help`` stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "IngestConfig": "relieflink.ingest.pipeline",
    "IngestResult": "relieflink.ingest.pipeline",
    "ingest_batch": "relieflink.ingest.pipeline",
    "Run": "relieflink.pipeline",
    "RunFolder": "relieflink.run_folder",
    "open_run": "relieflink.run_folder",
    "run_batch": "relieflink.pipeline",
    "generate_batch": "relieflink.synth",
    "Application": "relieflink.screening",
    "ScreeningIndex": "relieflink.screening",
    "screen": "relieflink.screening",
    "InputRefused": "relieflink.errors",
    "OutputRefused": "relieflink.errors",
    "preflight": "relieflink.outputs",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:  # pragma: no cover
    from relieflink.errors import InputRefused, OutputRefused
    from relieflink.ingest.pipeline import IngestConfig, IngestResult, ingest_batch
    from relieflink.outputs import preflight
    from relieflink.pipeline import Run, run_batch
    from relieflink.run_folder import RunFolder, open_run
    from relieflink.screening import Application, ScreeningIndex, screen
    from relieflink.synth import generate_batch


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'relieflink' has no attribute {name!r}")
