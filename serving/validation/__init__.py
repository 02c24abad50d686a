"""The validation pack of one model version on one bank's own data (docs/validation.md)."""
