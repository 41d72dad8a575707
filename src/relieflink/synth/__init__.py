"""Synthetic batch generator: a district population, one year of relief
histories, planted rule violations, and the agencies' exports with their
real-world damage, together with the ground truth.

    from relieflink.synth import generate_batch
    summary = generate_batch(Path("out"), persons=20000, seed=7, profile="default")

writes ``out/batch/`` (the files as delivered, SPEC §2) and ``out/truth/``.
"""

from __future__ import annotations

from .generate import SynthSummary, generate_batch
from .profiles import PROFILES

__all__ = ["generate_batch", "SynthSummary", "PROFILES"]
