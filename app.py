"""Entry point: `streamlit run app.py` opens the meta-learning lab (this file only routes)."""
import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import warmup  # noqa: F401  (starts the server's one-time work, once)
from dashboard.language import language_switch, pick_language
from dashboard.sidebar import settings_sidebar
from dashboard.run_controls import page_start, run_indicator
from report.i18n import t

torch.set_num_threads(1)  # leave the second core to the Streamlit server


def route() -> None:
    """One visitor's script run: the language, the pages, the sidebar, the page."""
    pick_language()  # before any text: every title below is in the session's language
    st.set_page_config(page_title=t("app.title"), layout="wide")
    with_settings = [
        st.Page("dashboard/pages/compare.py", title=t("page.compare"), icon=":material/compare_arrows:",
                default=True),
        st.Page("dashboard/pages/inspect.py", title=t("page.inspect"), icon=":material/search:"),
        st.Page("dashboard/pages/training.py", title=t("page.training"), icon=":material/show_chart:"),
    ]
    others = [
        st.Page("dashboard/pages/parameter_space.py", title=t("page.parameter_space"),
                icon=":material/landscape:"),
        st.Page("dashboard/pages/runs.py", title=t("page.runs"), icon=":material/history:"),
        st.Page("dashboard/pages/sweep.py", title=t("page.sweep"), icon=":material/grid_on:"),
        st.Page("dashboard/pages/draw.py", title=t("page.draw"), icon=":material/draw:"),
        st.Page("dashboard/pages/about.py", title=t("page.about"), icon=":material/school:"),
    ]
    page = st.navigation(with_settings + others)
    language_switch()  # on every page
    if page in with_settings:  # drawn here, not in the pages, so all three share one set of widgets
        settings_sidebar()
    page_start()
    page.run()
    run_indicator()  # every page follows the visitor's run (and keeps it alive) while it goes


if get_script_run_ctx() is not None:  # a visitor's script run
    route()
elif hasattr(st, "App"):
    # The server starting: `streamlit run app.py` finds this st.App and imports this module once
    # before it serves, so the imports above and the warm-up are done before the first visitor's
    # page (without it Streamlit imports nothing of ours until the first session's script run).
    warmup.wait()
    app = st.App("app.py")
