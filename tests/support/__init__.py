"""Helpers shared by the tests and the benchmarks: AppTest driving (`apptest`) and a real
Streamlit server with Chromium (`browser`). One home each; no test imports another test file."""
