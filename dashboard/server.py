"""What every page and session of this server shares: the job manager (its queue and results
cache), and which visitor this session is."""
from __future__ import annotations

import uuid

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import hosting
from dashboard.job_queue import JobManager, concurrency_from_env


def _connected(session_id: str) -> bool | None:
    """Whether the browser of this session is still connected (None outside a server)."""
    return runtime.Runtime.instance().is_active_session(session_id) if runtime.exists() else None


@st.cache_resource
def job_manager() -> JobManager:
    """The job queue and results cache shared by every page and session of this server."""
    return JobManager(concurrency_from_env(), connected=_connected, keep_data=not hosting.hosted())


def visitor() -> str:
    """This browser session's id: it owns the runs it starts."""
    ctx = get_script_run_ctx()
    return st.session_state.setdefault("_visitor", ctx.session_id if ctx else uuid.uuid4().hex)
