"""The SQL store: engines, tables, row reads, guarded transitions and the audit trail."""
