"""Screening (联审联批): one application against the last run — who is it, what do they
already receive, and what would approving create."""

from relieflink.screening.index import ScreeningIndex
from relieflink.screening.screen import Application, Benefit, Conflict, Match, ScreeningResult, screen

__all__ = ["Application", "Benefit", "Conflict", "Match", "ScreeningIndex", "ScreeningResult", "screen"]
