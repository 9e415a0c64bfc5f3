"""Runs kept on disk: the .metarun file, the SQLite run store and the gallery of full-budget runs."""
