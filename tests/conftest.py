"""Shared test setup: one thread for torch (2 cores are shared with the app and other tests); each
test gets a run store, a job manager and a results cache of its own; slow tests get a longer
timeout. Helpers shared by tests and benchmarks live in tests/support/."""
import os
import sys
import tempfile

import pytest
import torch

torch.set_num_threads(1)
# A fallback for subprocesses and module-level code; each test gets its own below.
os.environ.setdefault("META_LAB_HOME", tempfile.mkdtemp(prefix="meta-lab-test-"))
SLOW_TIMEOUT_S = 900  # pytest.ini's default (120 s) is for the fast tier


def pytest_collection_modifyitems(items):
    """A slow test may run long trainings or wait for a browser: give it a generous timeout."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


@pytest.fixture(autouse=True)
def fresh_server_state(tmp_path_factory, monkeypatch):
    """A run store, job manager and results cache of this test's own: no test is served an
    earlier test's results or saves, and a manager's `keep_data` follows this test's hosting."""
    monkeypatch.setenv("META_LAB_HOME", str(tmp_path_factory.mktemp("home")))
    _clear_server_caches()
    yield
    _clear_server_caches()


def _clear_server_caches() -> None:
    """Drop the dashboard's process-wide job manager (its results cache with it) and the open
    run stores; only where the dashboard was imported, so that core tests never load Streamlit."""
    if "dashboard.server" in sys.modules:
        sys.modules["dashboard.server"].job_manager.clear()
    if "dashboard.runs_store" in sys.modules:
        sys.modules["dashboard.runs_store"]._local_store.clear()
