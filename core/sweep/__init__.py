"""Sweeps: a grid of comparisons over settings × seeds, and its summary."""
