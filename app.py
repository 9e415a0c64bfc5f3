"""Entry point: `streamlit run app.py` opens the meta-learning lab (this file only routes)."""
import streamlit as st
import torch
# Optimisers import torch._dynamo lazily (~2 s): pay that at start-up, not on the first Train.
import torch._dynamo  # noqa: F401

from dashboard.sidebar import settings_sidebar
from dashboard.state import page_start, run_indicator

torch.set_num_threads(1)  # leave the second core to the Streamlit server

st.set_page_config(page_title="Meta-learning lab", layout="wide")
with_settings = [
    st.Page("dashboard/pages/compare.py", title="Compare", icon=":material/compare_arrows:",
            default=True),
    st.Page("dashboard/pages/inspect.py", title="Inspect a task", icon=":material/search:"),
    st.Page("dashboard/pages/training.py", title="Training", icon=":material/show_chart:"),
]
others = [
    st.Page("dashboard/pages/parameter_space.py", title="Parameter space", icon=":material/landscape:"),
    st.Page("dashboard/pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("dashboard/pages/sweep.py", title="Sweeps", icon=":material/grid_on:"),
    st.Page("dashboard/pages/about.py", title="About", icon=":material/school:"),
]
page = st.navigation(with_settings + others)
if page in with_settings:  # drawn here, not in the pages, so all three share one set of widgets
    settings_sidebar()
page_start()
page.run()
run_indicator()  # every page follows the visitor's run (and keeps it alive) while it goes
