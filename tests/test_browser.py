"""A real browser (Debian's chromium via playwright) runs the default comparison and every page."""
from __future__ import annotations

import re

import pytest

from core.scenarios.catalogue import SCENARIOS_BY_KEY
from tests.support.browser import (ARTIFACTS, no_exception, open_page, press_train,
                                   require_browser, serve_app, wait_idle)

NAV = ["Inspect a task", "Training", "Parameter space", "About"]

pytestmark = pytest.mark.slow
require_browser()


def _click_adds_a_support_point(page) -> None:
    """Click empty space in the first panel: every method gets one more support point."""
    before = page.get_by_text(re.compile(r"^\d+ support points")).inner_text()
    box = page.evaluate("""() => { const gd = document.querySelector('.js-plotly-plot');
        const L = gd._fullLayout, b = gd.getBoundingClientRect();
        return [b.left + L.xaxis._offset + L.xaxis._length / 2,
                b.top + L.yaxis._offset + L.yaxis._length * 0.05]; }""")
    page.mouse.move(*box)  # plotly picks the clicked point from the hover
    page.wait_for_timeout(300)
    page.mouse.click(*box)
    wait_idle(page)
    count = int(before.split()[0]) + 1
    page.get_by_text(f"{count} support points").wait_for(timeout=20_000)


def test_default_comparison_and_every_page_in_chromium():
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app() as (url, _), open_page(url, height=1400) as page:
        no_exception(page, "Compare before training")
        page.wait_for_selector(".main-svg >> visible=true", timeout=30_000)  # the gallery's run
        page.screenshot(path=str(ARTIFACTS / "landing.png"))  # docs/compare.png comes from here
        first, full = press_train(page)
        assert first <= full
        assert page.locator(".main-svg").count() >= 3  # before/after, curve, gain
        no_exception(page, "Compare")
        page.screenshot(path=str(ARTIFACTS / "compare.png"))
        for name in NAV:
            link = page.get_by_role("link", name=name, exact=True)
            assert link.count() >= 1, f"no navigation link {name!r}"
            link.first.click()
            wait_idle(page)
            no_exception(page, name)
            if name in ("Inspect a task", "Training"):  # they reuse the trained results
                page.wait_for_selector(".main-svg >> visible=true", timeout=30_000)  # a collapsed gallery hides its own
                assert page.get_by_text("not been trained yet").count() == 0
            if name == "Inspect a task":
                _click_adds_a_support_point(page)
            page.screenshot(path=str(ARTIFACTS / f"{name.split()[0].lower()}.png"))


def test_about_link_to_a_preset_gives_a_shareable_url_narrow_and_dark():
    """About → a scenario fills the settings and the URL; that URL alone reproduces them."""
    look_for = SCENARIOS_BY_KEY["permuted-labels"].look_for
    with serve_app(theme="dark") as (url, _), open_page(f"{url}/about", width=900) as page:
        page.get_by_role("link", name="Permuted labels: pre-training cannot help").click()
        wait_idle(page)
        page.get_by_text(look_for).wait_for()
        page.wait_for_function("location.search.includes('train.iterations=400')")
        shared = page.url
        assert "Scratch" in shared and "Reptile" not in shared  # the scenario's three methods
        page.goto(shared)  # a fresh session from the link alone
        wait_idle(page)
        page.get_by_text(look_for).wait_for()
        assert not page.get_by_role("switch", name="consistent labels").is_checked()
        iterations = page.get_by_role("spinbutton", name="meta-training iterations")
        assert iterations.input_value() == "400"
        no_exception(page, "narrow dark Compare")
        page.screenshot(path=str(ARTIFACTS / "compare-narrow-dark.png"))


def test_inspect_opens_on_the_gallery_run_and_a_click_adds_a_point():
    """No Train pressed: the scenario's gallery run, said in one line, and clicking works on it."""
    with serve_app() as (url, _), open_page(f"{url}/inspect", height=1400) as page:
        page.get_by_text("pre-computed (gallery) run").wait_for(timeout=30_000)
        page.wait_for_selector(".main-svg >> visible=true", timeout=30_000)
        no_exception(page, "Inspect on the gallery run")
        _click_adds_a_support_point(page)
        no_exception(page, "Inspect on the gallery run after a click")
        page.screenshot(path=str(ARTIFACTS / "inspect-gallery.png"))
