"""The floor the lab is measured against: a minimal Streamlit page with three plotly charts.

    streamlit run benchmarks/minimal_page.py

benchmarks/class_load.py and benchmarks/first_chart.py serve it beside the lab in the same run.
"""
import plotly.graph_objects as go
import streamlit as st

st.title("Three charts")
for i in range(3):
    st.plotly_chart(go.Figure(go.Bar(x=["a", "b", "c"], y=[i + 1, 2, 3 - i])), key=f"chart-{i}")
