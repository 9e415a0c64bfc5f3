"""The Streamlit dashboard of the meta-learning comparison lab (pages, figures, presets)."""
