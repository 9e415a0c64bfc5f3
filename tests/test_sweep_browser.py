"""A real browser opens the Sweeps page: the shipped clusters sweep's heatmap shows the boundary."""
from __future__ import annotations

import pytest

from tests.support.browser import ARTIFACTS, no_exception, open_page, require_browser, serve_app, wait_idle

pytestmark = pytest.mark.slow
require_browser()


def test_sweeps_page_draws_the_heatmap_with_ties_and_clear_wins():
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app() as (url, _), open_page(url, height=1800) as page:
        page.get_by_role("link", name="Sweeps", exact=True).first.click()
        wait_idle(page)
        page.wait_for_selector(".heatmaplayer", timeout=60_000)
        no_exception(page, "Sweeps")
        assert page.get_by_text("for shift ≥ 2, whatever the shots").count() == 1
        cells = page.locator(".heatmaplayer text").all_text_contents()  # texttemplate labels
        assert any(t.startswith("tie") for t in cells), cells
        assert any(t.startswith("+0.1") for t in cells), cells
        page.screenshot(path=str(ARTIFACTS / "sweep.png"), full_page=True)
