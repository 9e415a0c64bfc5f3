"""The Streamlit dashboard of the meta-learning comparison lab: pages, widgets, session state and
jobs; what it draws comes from report/."""
