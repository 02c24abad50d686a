"""The slug of a table model's registered name, `precredit-<bank>-table-<slug>` (no imports:
the API's request schemas read it without loading the training stack)."""

TABLE_SLUG = r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?"  # what `table_registry.registered_name` makes
