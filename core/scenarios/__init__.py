"""Scenarios: named settings, the one sentence each makes, and the check of that sentence."""
