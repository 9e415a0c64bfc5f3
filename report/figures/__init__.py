"""Plotly figures as pure functions of tidy DataFrames (no Streamlit here)."""
