"""The platform's records: the catalog schema, the DuckDB store, credit codes, import with
quarantine, data quality and exports. The error tree's root lives here (`catalog.errors`)."""
