"""The import contract (.importlinter): core imports neither the report layer nor the dashboard,
the report layer no Streamlit, and core's rooms have no circles. `lint-imports` checks it."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contract_is_kept():
    if shutil.which("lint-imports") is None:
        pytest.fail("lint-imports is missing: pip install -r requirements-dev.txt")
    done = subprocess.run(["lint-imports", "--no-cache", "--no-logo"], cwd=ROOT,
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    contracts = (ROOT / ".importlinter").read_text().count("[importlinter:contract:")
    assert "0 broken" in done.stdout and f"{contracts} kept" in done.stdout  # each was checked
