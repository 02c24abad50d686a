"""Disputes (异议) and credit-repair applications: intake, deadlines, answers, reconciliation.

- `records`: the store records a case may name, read from the platform store
- `cases`: file, read, list and move cases through their states (with the audit trail)
- `reconcile`: close cases whose record was corrected or retracted, re-score, tell the banks
"""
