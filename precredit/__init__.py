"""precredit: enterprise pre-credit models on public credit platform data."""

__version__ = "0.1.0"
