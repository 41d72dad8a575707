"""Audit: the program catalog and rules as data, applied to persons and households."""

from relieflink.audit.engine import FLAG_COLUMNS, AuditResult, audit_records, run_audit
from relieflink.audit.periods import AuditPeriod, derive_audit_period
from relieflink.audit.rules import RuleSet, load_rules

__all__ = ["FLAG_COLUMNS", "AuditPeriod", "AuditResult", "RuleSet", "audit_records", "derive_audit_period", "load_rules",
           "run_audit"]
