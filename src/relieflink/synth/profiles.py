"""Profiles of damage: clean (format variety only), default (realistic rates),
hard (several times more). The rates live in schemas/synth.yaml."""

from __future__ import annotations

import copy

PROFILES = ("clean", "default", "hard")


def apply_profile(synth: dict, profile: str) -> tuple[dict, dict, dict]:
    """(synth with the profile's population overrides, identity rates, profile section)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    prof = copy.deepcopy(synth["profiles"][profile])
    synth = copy.deepcopy(synth)
    if "rare_char_rate" in prof:
        synth["population"]["rare_char_rate"] = prof["rare_char_rate"]
    return synth, dict(prof.get("identity", {})), prof
