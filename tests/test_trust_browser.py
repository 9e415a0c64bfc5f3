"""Two visitors of one hosted server in chromium: what one uploads and opens never reaches the other."""
from __future__ import annotations

import pytest

from core.runs.store import RunStore, save_run
from core.scenarios.catalogue import SCENARIOS
from tests.support.apptest import tiny_run
from tests.support.browser import BROWSER_ARGS, CHROMIUM, TRAIN, require_browser, serve_app, wait_idle
from tests.support.runfiles import forged_run_file

require_browser()
pytestmark = pytest.mark.slow

DOWNLOAD = "Download results (CSV)"  # shown beside a result on the page, never beside the gallery's


def _visitor(browser, url: str):
    """A page in a browser context of its own: its own cookies, its own Streamlit session."""
    page = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
    page.goto(url)
    wait_idle(page)
    return page


def _to_runs(page) -> None:
    """To the Runs page by the app's own link (a reload would start a new session, and a hosted
    visitor's runs live as long as their session)."""
    page.get_by_role("link", name="Runs", exact=True).click()
    wait_idle(page)


def _open(page, name: str) -> None:
    """On the Runs page: pick the run `name` and press Open in Compare; wait for its results."""
    _to_runs(page)
    page.get_by_text("Rename, delete, download or open a run").click()
    wait_idle(page)  # the expander's rerun must end before the box is typed into
    choice = page.locator('[data-testid="stSelectbox"]').filter(has_text="Run").locator("input")
    choice.click()
    page.get_by_role("option").first.wait_for(timeout=30_000)  # the list is open
    choice.press_sequentially(name)  # the list narrows to this run: Enter picks it
    page.get_by_role("option", name=name, exact=True).wait_for(timeout=30_000)
    page.keyboard.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Open in Compare").click()
    page.get_by_text(DOWNLOAD).wait_for(timeout=60_000)
    wait_idle(page)


def _upload(page, path) -> None:
    _to_runs(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
    page.get_by_text(f"Imported as {path.stem}.").wait_for(timeout=30_000)
    wait_idle(page)


def _sees_only_what_it_may(page, url: str, charts: int) -> None:
    """A visitor who has trained nothing: no result of anyone's upload, and Train enabled."""
    page.goto(url)
    wait_idle(page)
    assert page.get_by_text(DOWNLOAD).count() == 0, f"another visitor's result on {url}"
    assert page.get_by_role("button", name=TRAIN).is_enabled(), f"Train disabled on {url}"
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("The run you opened").count() == 0
    assert page.get_by_text("Trained on this server").count() == 0
    if charts:  # plotly draws after the script run has ended
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {charts}",
                               timeout=30_000)
    assert page.locator(".js-plotly-plot").count() == charts


def test_one_visitors_uploaded_runs_never_reach_another_visitor(tmp_path, monkeypatch):
    monkeypatch.setenv("META_LAB_HOSTED", "1")
    monkeypatch.setenv("META_LAB_HOME", str(tmp_path))
    honest, edited = tmp_path / "honest.metarun", tmp_path / "edited.metarun"
    store = RunStore()
    save_run(store, *tiny_run(1), "honest")
    honest.write_bytes(store.export_bytes("honest"))
    edited.write_bytes(forged_run_file("edited"))  # the landing page's settings, MAML at 100 %
    from playwright.sync_api import sync_playwright
    with serve_app() as (url, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            a = _visitor(browser, url)
            _upload(a, honest)
            _upload(a, edited)
            _open(a, "honest")
            honest_url = a.url  # the link carries the run's settings
            assert "train.iterations=5" in honest_url
            b = _visitor(browser, url)
            _sees_only_what_it_may(b, honest_url, charts=0)
            _open(a, "edited")  # A sees the edited numbers as the run A opened
            default = SCENARIOS[0].spec().config.iterations
            assert f"train.iterations={default}" in a.url  # the landing page's settings
            assert a.get_by_text("The run you opened").count() == 1
            _sees_only_what_it_may(b, url, charts=3)  # the landing page: the gallery's 3 charts
            b.goto(honest_url)
            wait_idle(b)
            b.get_by_role("button", name=TRAIN).click()  # B trains the same settings itself
            b.get_by_text(DOWNLOAD).wait_for(timeout=120_000)
            wait_idle(b)
            assert b.get_by_text("The run you opened").count() == 0  # B's own numbers
            assert a.get_by_text("The run you opened").count() == 1  # A's page still A's
        finally:
            browser.close()
