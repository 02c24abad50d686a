"""The lending simulation: banks use the real API round after round, and the loop retrains."""
