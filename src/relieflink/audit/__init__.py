"""Audit: the program catalog and rules as data, applied to persons and households."""

from relieflink.audit.engine import FLAG_COLUMNS, run_audit
from relieflink.audit.rules import RuleSet, load_rules

__all__ = ["FLAG_COLUMNS", "RuleSet", "load_rules", "run_audit"]
