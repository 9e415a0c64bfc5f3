"""AppTest: the language comes from ?lang=, else the browser's locale; the sidebar switch
changes it on every page and keeps every setting and trained result."""
from __future__ import annotations

import re

import plotly.io
import pytest
from streamlit.testing.v1 import AppTest

from tests.support.apptest import APP, PAGES, TINY, tiny, train

CJK = re.compile(r"[\u4e00-\u9fff]")


def _open(lang: str | None = None, locale: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if lang:
        at.query_params["lang"] = lang
    if locale:
        at.context["locale"] = locale
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _chart_titles(at: AppTest) -> list[str]:
    return [plotly.io.from_json(c.proto.spec).layout.title.text for c in at.get("plotly_chart")]


@pytest.mark.parametrize("page", [None, *PAGES, "dashboard/pages/runs.py",
                                  "dashboard/pages/sweep.py"])
def test_lang_zh_shows_every_page_in_chinese(page, tmp_path, monkeypatch):
    monkeypatch.setenv("META_LAB_HOME", str(tmp_path))  # the Runs page opens a store there
    at = _open("zh")
    if page:
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
    assert CJK.search(at.title[0].value), at.title[0].value
    assert at.segmented_control(key="lang").value == "zh"
    assert at.query_params["lang"] == ["zh"] or at.query_params["lang"] == "zh"


def test_sidebar_and_scenarios_are_chinese():
    at = _open("zh")
    assert at.selectbox(key="family").label == "任务族"
    assert at.selectbox(key="family").format_func("sinusoid") == "正弦回归"
    assert at.selectbox(key="scenario").value == "consistent-labels"  # values stay neutral
    assert "预训练" in at.pills(key="methods").format_func("pretrain")
    assert CJK.search(at.number_input(key="train.inner_lr").help)


@pytest.mark.parametrize("locale, lang, word", [("zh-CN", None, "比较"), ("en-US", None, "Good"),
                                                ("zh-CN", "en", "Good"), ("de-DE", None, "Good")])
def test_url_beats_the_locale_and_the_locale_beats_english(locale, lang, word):
    at = _open(lang, locale)
    assert word in at.title[0].value or word == "比较" and CJK.search(at.title[0].value)


def test_an_old_link_with_settings_opens_in_english_whatever_the_locale():
    """Links made before the switch spell their select boxes in English."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"family": "Shared trend + task line", "train.iterations": "30"})
    at.context["locale"] = "zh-CN"
    at.run()
    assert at.selectbox(key="family").value == "trend" and at.title[0].value.startswith("Good")


def test_switching_language_keeps_settings_and_trained_results():
    at = tiny(_open("en"))
    at.number_input(key="train.seed").set_value(11).run()  # settings no other test trains
    at = train(at)
    english = _chart_titles(at)
    assert len(english) >= 3 and not any(CJK.search(title) for title in english)
    at.segmented_control(key="lang").set_value("zh").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="train.iterations").value == TINY["iterations"]  # the tiny settings survive
    assert at.pills(key="methods").value == ["maml", "pretrain"]
    chinese = _chart_titles(at)  # the trained results are shown at once, now in Chinese
    assert len(chinese) == len(english) and all(CJK.search(title) for title in chinese)
    assert next(b for b in at.button if b.label == "训练").disabled  # nothing to retrain
    at.switch_page("dashboard/pages/training.py").run()
    assert CJK.search(at.title[0].value) and len(at.get("plotly_chart")) == 2
    at.segmented_control(key="lang").set_value("en").run()
    assert at.title[0].value.startswith("Training") and len(at.get("plotly_chart")) == 2


def test_the_about_pages_links_keep_the_language():
    """A link with query parameters can open a new session, which would follow the locale."""
    at = _open("zh", "en-US")
    at.switch_page("dashboard/pages/about.py").run()
    strings = [link.proto.query_string for link in at.get("page_link")]
    assert strings and all(s.startswith("lang=zh") for s in strings), strings
    assert "lang=zh&preset=maml-sinusoid" in strings


@pytest.mark.parametrize("link", [{"lang": "zh", "preset": "permuted-labels"}, {}])
def test_a_switch_the_browser_sent_empty_keeps_the_language(link):
    """A fresh Chinese session whose first run a click cut short: the browser's next rerun sent
    the language switch with no choice (seen with a scenario link of the About page; a link
    without `lang` must keep it too); that is no language, so the session keeps Chinese."""
    at = _open("zh", "en-US")
    at.switch_page("dashboard/pages/about.py").run()
    at.query_params.clear()
    at.query_params.update(link)  # what the clicked link's URL carries
    at.switch_page("dashboard/pages/compare.py")
    at.segmented_control(key="lang").set_value(None).run()
    assert not at.exception, [e.value for e in at.exception]
    assert CJK.search(at.title[0].value), at.title[0].value
    assert at.query_params["lang"] in (["zh"], "zh")
    assert at.segmented_control(key="lang").value == "zh"  # the switch shows it again
