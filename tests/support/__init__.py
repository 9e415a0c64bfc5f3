"""Helpers shared by the tests and the benchmarks: AppTest driving (`apptest`), a real
Streamlit server with Chromium (`browser`), forged run files (`runfiles`) and estimates against
measured CPU time (`cpu`). One home each; no test imports another test file."""
