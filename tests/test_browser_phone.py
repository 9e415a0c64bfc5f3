"""A phone in class: at 390 px wide every page opens, in English and Chinese, with chart titles
inside their charts, legends clear of the axis titles, and the sidebar's settings reachable.
Screenshots: artifacts/phone-<lang>-<page>.png (looked at by a person, see docs/testing.md)."""
from __future__ import annotations

import pytest

from tests.support.browser import ARTIFACTS, no_exception, open_page, require_browser, serve_app, wait_idle

require_browser()
pytestmark = pytest.mark.slow

WIDTH = 390
# URL path → whether the page shows charts before anyone trains (the gallery's run).
PAGES = {"": True, "inspect": True, "training": True, "runs": True, "parameter_space": True,
         "sweep": True, "about": False}
TALL = 3600  # Streamlit scrolls inside the page: a tall window shows all of it in one shot
FAMILY = {"en": "Task family", "zh": "任务族"}

# Per chart: the title's box against the chart's, and whether the legend's box meets an axis
# title's or a panel title's (plotly's .gtitle, .legend, .xtitle/.ytitle, .annotation-text).
LAYOUT_PROBLEMS = """() => {
  const box = e => e.getBoundingClientRect();
  const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const problems = [];
  document.querySelectorAll('.js-plotly-plot').forEach((plot, i) => {
    const chart = box(plot);
    plot.querySelectorAll('.gtitle').forEach(title => {
      const b = box(title);
      if (b.width && (b.left < chart.left - 1 || b.right > chart.right + 1 || b.top < chart.top - 1))
        problems.push(`chart ${i}: title "${title.textContent}" leaves the chart`);
    });
    const legend = plot.querySelector('.legend');
    if (!legend) return;
    plot.querySelectorAll('.xtitle, .ytitle, .gtitle, .annotation-text').forEach(text => {
      if (box(text).width && meet(box(legend), box(text)))
        problems.push(`chart ${i}: the legend runs into "${text.textContent}"`);
    });
  });
  return problems;
}"""


def _check_page(page, lang: str, path: str, charts: bool) -> None:
    name = path or "compare"
    no_exception(page, f"{lang} {name} at {WIDTH} px")
    if charts:
        page.wait_for_selector(".main-svg >> visible=true", timeout=30_000)
        page.wait_for_timeout(500)  # plotly lays out after the first frame
    page.screenshot(path=str(ARTIFACTS / f"phone-{lang}-{name}.png"))  # also when it fails
    assert page.evaluate(LAYOUT_PROBLEMS) == [], (lang, name)
    # Nothing wider than the screen: the page does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, (lang, name)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_is_usable_on_a_phone(lang):
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app() as (url, _), open_page(f"{url}/?lang={lang}", width=WIDTH, height=TALL) as page:
        for path, charts in PAGES.items():
            page.goto(f"{url}/{path}?lang={lang}")
            wait_idle(page)
            _check_page(page, lang, path, charts)
        page.set_viewport_size({"width": WIDTH, "height": 844})  # a phone's screen
        page.goto(f"{url}/?lang={lang}")
        wait_idle(page)
        page.locator('[data-testid="stExpandSidebarButton"]').click()  # collapsed on a phone
        family = page.get_by_text(FAMILY[lang], exact=True).first
        family.wait_for(timeout=10_000)
        family.scroll_into_view_if_needed()
        assert family.is_visible()
        page.screenshot(path=str(ARTIFACTS / f"phone-{lang}-sidebar.png"))
