"""Readers of the image data sets behind the few-shot classification families (Omniglot, digits)."""
