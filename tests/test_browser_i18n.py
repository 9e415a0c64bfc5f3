"""A real browser shows every page in Chinese from ?lang=zh, with readable Chinese in the charts;
the sidebar switch turns it to English and keeps the trained results and the shareable URL."""
from __future__ import annotations

import urllib.parse

import pytest

from tests.support.browser import (ARTIFACTS, no_exception, open_page, require_browser, serve_app,
                                   wait_idle)

pytestmark = pytest.mark.slow
require_browser()

# Link text → (screenshot name, a Chinese string the page shows) per page, in navigation order.
PAGES = {"比较": ("compare", "现在就好，还是微调几步之后才好？"),
         "查看一个任务": ("inspect", "看每种方法如何适应一个任务"),
         "训练": ("training", "训练：每种方法在优化什么"),
         "参数空间": ("parameter-space", "参数空间"),
         "运行记录": ("runs", "已保存的运行记录"),
         "参数扫描": ("sweep", "参数扫描：元学习在哪里见效"),
         "关于": ("about", "关于：本实验室背后的思想")}
ENGLISH = {"比较": "Compare", "查看一个任务": "Inspect a task", "训练": "Training",
           "参数空间": "Parameter space", "运行记录": "Runs",
           "参数扫描": "Sweeps", "关于": "About"}


def _visit_every_page(page, lang: str) -> None:
    """Open each page from the navigation, check it, and save artifacts/<lang>-<page>.png."""
    for link, (name, chinese) in PAGES.items():
        text = link if lang == "zh" else ENGLISH[link]
        page.get_by_role("link", name=text, exact=True).first.click()
        wait_idle(page)
        no_exception(page, f"{lang} {name}")
        if name in ("compare", "inspect", "training"):  # the trained results are reused
            page.wait_for_selector(".main-svg >> visible=true", timeout=30_000)  # a collapsed gallery hides its own
        if lang == "zh":
            page.get_by_text(chinese, exact=False).first.wait_for(timeout=10_000)
            if name in ("compare", "inspect", "training"):  # the charts' own text is Chinese too
                assert page.locator(".main-svg text", has_text="步").count() + page.locator(
                    ".main-svg text", has_text="损失").count() > 0
        page.screenshot(path=str(ARTIFACTS / f"{lang}-{name}.png"), full_page=True)


def test_every_page_in_chinese_then_english_without_retraining():
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_app() as (url, _), open_page(f"{url}/?lang=zh", height=1400) as page:
        page.wait_for_selector(".main-svg >> visible=true", timeout=30_000)  # the gallery's run
        page.screenshot(path=str(ARTIFACTS / "zh-landing.png"))  # docs/compare-zh.png
        page.get_by_role("button", name="自己训练", exact=True).click()  # the scenario has a gallery run
        page.get_by_text("停止").first.wait_for(timeout=60_000)  # the live part, in Chinese too
        page.get_by_text("下载结果（CSV）").wait_for(timeout=400_000)  # a shared, busy CPU
        wait_idle(page)
        no_exception(page, "zh Compare after training")
        assert "lang=zh" in page.url
        # Charts draw their Chinese with the theme's CJK font, not as missing-glyph boxes.
        font = page.evaluate("() => getComputedStyle(document.querySelector('.main-svg text'))"
                             ".fontFamily")
        assert "Noto Sans CJK SC" in font, font
        _visit_every_page(page, "zh")
        page.get_by_text("English", exact=True).click()  # the switch, on the About page
        wait_idle(page)
        assert "lang=en" in page.url
        _visit_every_page(page, "en")
        assert page.get_by_text("not been trained yet").count() == 0
        page.get_by_role("link", name="Compare", exact=True).first.click()
        wait_idle(page)
        shared = page.url
        assert "family=2-D clusters (N-way K-shot)" in urllib.parse.unquote_plus(shared)
        page.goto(shared)  # a fresh session from the link: English, same settings and results
        wait_idle(page)
        page.get_by_text("Download results (CSV)").wait_for()
        page.goto(f"{url}/?lang=zh")
        wait_idle(page)  # a visitor clicks once the page has loaded
        page.get_by_role("link", name="关于", exact=True).click()
        wait_idle(page)
        page.get_by_text(PAGES["关于"][1]).first.wait_for()
        page.get_by_role("link", name="标签打乱：预训练帮不上忙").click()  # a scenario link
        wait_idle(page)
        assert "lang=zh" in page.url and "%E9%A2%84%E8%AE%AD%E7%BB%83" in page.url  # 预训练
        page.goto(page.url)  # a Chinese link reopens in Chinese with its settings
        wait_idle(page)
        page.get_by_text("每个任务的标签都被打乱").first.wait_for()
