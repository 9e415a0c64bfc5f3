"""The server's one-time work happens as it starts, not in the first visitor's script run."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_run_serves_app_py_through_its_st_app():
    """`streamlit run app.py` finds the st.App (by reading the file, as the CLI does) and then
    imports app.py once as the server starts; without it nothing of ours runs before a visitor."""
    from streamlit.web.server.app_discovery import discover_asgi_app
    found = discover_asgi_app(ROOT / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"


@pytest.mark.slow
def test_importing_app_outside_a_run_warms_the_server_and_freezes_its_objects():
    """What the server's import of app.py does: the warm-up finished, the collector's
    long-lived objects frozen (a full collection after each script run no longer walks them),
    the App built; and no visitor's page drawn (there is no script run)."""
    probe = ("import gc, app; from streamlit.starlette import App; "
             "print(isinstance(app.app, App), gc.get_freeze_count() > 100_000)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.stdout.split() == ["True", "True"], out.stderr[-2000:]
