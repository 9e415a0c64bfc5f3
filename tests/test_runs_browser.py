"""A real browser overlays two saved runs on the Runs page."""
from __future__ import annotations

import pytest

from core.runs.store import RunStore, save_run
from tests.support.apptest import tiny_run
from tests.support.browser import (ARTIFACTS, no_exception, open_page, require_browser, serve_app,
                                   wait_idle)

pytestmark = pytest.mark.slow
require_browser()


def test_runs_page_overlays_two_runs_in_chromium(tmp_path, monkeypatch):
    monkeypatch.setenv("META_LAB_HOME", str(tmp_path))
    monkeypatch.delenv("META_LAB_HOSTED", raising=False)
    store = RunStore(tmp_path / "runs.sqlite")
    for name, steps in (("MAML 1 inner step", 1), ("MAML 2 inner steps", 2)):
        save_run(store, *tiny_run(steps), name)
    with serve_app() as (url, _), open_page(f"{url}/runs", height=2200) as page:
        page.get_by_text("Runs to overlay", exact=True).wait_for(timeout=30_000)
        page.wait_for_selector(".main-svg >> visible=true", timeout=30_000)  # the gallery's run
        for name in ("MAML 1 inner step", "MAML 2 inner steps"):
            page.locator('[data-testid="stMultiSelect"]').click()
            page.get_by_role("option", name=name).click()
            wait_idle(page)
        page.keyboard.press("Escape")  # close the options list
        page.wait_for_selector(".main-svg >> visible=true", timeout=30_000)  # a collapsed gallery hides its own
        no_exception(page, "Runs")
        assert page.locator(".js-plotly-plot").count() == 2
        legend = page.locator(".js-plotly-plot").nth(1).locator(".legendtext").all_text_contents()
        assert "MAML · MAML 1 inner step" in legend and "MAML · MAML 2 inner steps" in legend
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "runs.png"), full_page=True)
