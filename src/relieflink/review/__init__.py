"""The review queue: open items, reviewer decisions kept outside the run folder, applied by every run."""

from relieflink.review.apply import Unmatched, unmatched_decisions
from relieflink.review.decisions import Decision, append_decision, load_decisions
from relieflink.review.queue import decision_on_item, open_items, unmatched_in_run

__all__ = ["Decision", "Unmatched", "append_decision", "decision_on_item", "load_decisions", "open_items",
           "unmatched_decisions", "unmatched_in_run"]
