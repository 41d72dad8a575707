"""The review queue: open items, reviewer decisions kept outside the run folder, applied by every run."""

from relieflink.review.decisions import Decision, append_decision, load_decisions
from relieflink.review.queue import open_items, unmatched_flag_decisions

__all__ = ["Decision", "append_decision", "load_decisions", "open_items", "unmatched_flag_decisions"]
