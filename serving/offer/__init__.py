"""Batch pre-approval: offers for every entity, their exports and their webhook events."""
