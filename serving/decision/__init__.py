"""The request path: the snapshot in memory, models in service, scoring, replay and the audit."""
