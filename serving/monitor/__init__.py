"""Model and data monitoring: inputs, frozen training references, the run and its report."""
