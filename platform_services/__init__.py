"""Services the platform runs for everyone: the public credit composite evaluation and early warnings."""
