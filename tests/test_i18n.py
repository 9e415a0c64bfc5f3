"""The catalogues: every key in both languages with the same placeholders, every key the code
uses exists, the core's texts are translated, and the sentences come out in Chinese."""
from __future__ import annotations

import re
import string
from pathlib import Path

import pandas as pd
import pytest

from core.engine.algorithms import METHODS
from core.engine.config import TrainConfig
from core.engine.families import FAMILIES
from core.scenarios.catalogue import SCENARIOS, SCENARIOS_BY_KEY
from core.scenarios.claims import Beats, Close, Near, Overfits
from core.settings import specs
from core.sweep.summary import PHRASES, load_sweep
from dashboard.param_space_presets import LANDSCAPES, preset_key
from report import story
from report.figures.sweep import sweep_figures
from report.i18n import catalogue, from_locale, t, t_or, using

ROOT = Path(__file__).resolve().parents[1]
EN, ZH = catalogue("en"), catalogue("zh")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Keys whose English lives with what they name (the core's settings, scenarios, families and
# methods; the Parameter space presets): the catalogue translates them without an English copy.
CORE_OWNED = re.compile(r"^(setting|scenario|family|method|ps\.preset|sweep\.phrase)\.")
SETTING_NAMES = {s.name for cls in (TrainConfig, *FAMILIES.values()) for s in specs(cls)}


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _names_core_text(key: str) -> bool:
    """Whether a core-owned key names a real setting, scenario, family or method."""
    parts = key.split(".")
    kind, last = parts[0], parts[-1]
    if kind == "setting":
        scope = parts[1:-2]  # a family's own wording: setting.<family>.<name>.<part>
        return (last in ("label", "help") and parts[-2] in SETTING_NAMES
                and all(s in FAMILIES for s in scope) and len(scope) <= 1)
    if kind == "scenario":
        return parts[1] in SCENARIOS_BY_KEY and last in ("name", "look_for")
    if kind == "sweep":
        return ".".join(parts[2:]) in PHRASES
    if kind == "family":
        return parts[1] in FAMILIES and last in ("title", "description")
    if kind == "ps":
        return parts[2] in map(preset_key, LANDSCAPES) and last in ("name", "explanation")
    return parts[1] in METHODS and last == "loss"


def test_every_english_key_has_a_chinese_template_and_back():
    assert set(EN) - set(ZH) == set()
    chinese_only = set(ZH) - set(EN)
    assert all(CORE_OWNED.match(k) for k in chinese_only), sorted(chinese_only)
    assert [k for k in chinese_only if not _names_core_text(k)] == []


def test_both_languages_fill_the_same_placeholders():
    for key in EN:
        assert _placeholders(EN[key]) == _placeholders(ZH[key]), key
    for key, template in ZH.items():
        template.format(**dict.fromkeys(_placeholders(template), "x"))  # no stray braces


def test_chinese_templates_are_chinese():
    """A copied English template would pass the key checks; a Chinese one has Chinese in it."""
    same = {"list.sep", "punct.comma", "punct.semicolon", "punct.stop", "method.maml",
            "method.reptile", "chart.method_loss", "chart.support_hover",
            "chart.support_class_hover", "chart.place_hover", "sweep.phrase.with"}
    latin = [k for k, v in ZH.items() if not CJK.search(v) and k not in same
             and not re.fullmatch(r"[{}\w%.:\s()<>,×±−–-]*", v)]
    assert latin == []


def test_chinese_bold_closes():
    """Markdown closes ** after punctuation only before a space or punctuation: '**要看什么：**每'
    would show its asterisks, so a Chinese template puts the colon outside the bold."""
    punctuation = re.compile(r"[\u3000-\u303f\uff00-\uffef]")
    stuck = [k for k, v in ZH.items() for bold, after in re.findall(r"\*\*(.+?)\*\*(.?)", v)
             if punctuation.fullmatch(bold[-1]) and re.fullmatch(r"[^\s\W]|\{", after)]
    assert stuck == []


def _used_keys() -> list[tuple[str, str]]:
    """Every literal or f-string key passed to t()/t_or() (or kept in jobs' `Words`) in the
    dashboard, the report layer and the entry script."""
    keys = []
    sources = [ROOT / "app.py", *sorted((ROOT / "dashboard").rglob("*.py")),
               *sorted((ROOT / "report").rglob("*.py"))]
    for path in sources:
        calls = r"\b(?:t|t_or|Words)\(\s*(f?)\"([^\"]+)\""
        keys += [(path.name, f + key) for f, key in re.findall(calls, path.read_text("utf-8"))]
    return keys


def test_every_key_the_code_uses_exists():
    used = _used_keys()
    assert len(used) > 100  # the scan finds the calls
    missing = []
    for where, key in used:
        if key.startswith("f"):  # a key with a variable part: some catalogue key must match it
            pattern = re.sub(r"\\\{[^}]*\\\}", r"[^.]+(?:\\.[^.]+)?", re.escape(key[1:]))
            if not any(re.fullmatch(pattern, k) for k in {**EN, **ZH}):
                missing.append((where, key))
        elif key not in EN and not CORE_OWNED.match(key):
            missing.append((where, key))
    assert missing == []


def test_the_core_texts_have_chinese():
    for cls in (TrainConfig, *FAMILIES.values()):
        for spec in specs(cls):
            assert f"setting.{spec.name}.help" in ZH and f"setting.{spec.name}.label" in ZH
    for name in FAMILIES:
        assert {f"family.{name}.title", f"family.{name}.description"} <= set(ZH)
    for scenario in SCENARIOS:
        assert {f"scenario.{scenario.key}.name", f"scenario.{scenario.key}.look_for"} <= set(ZH)
    for method in METHODS:
        assert f"method.{method}" in EN and f"method.{method}.loss" in ZH
    for name in map(preset_key, LANDSCAPES):
        assert {f"ps.preset.{name}.name", f"ps.preset.{name}.explanation"} <= set(ZH)


def test_english_falls_back_to_the_core_and_unknown_keys_fail():
    with using("en"):
        assert t_or("scenario.maml-sinusoid.name", "core words") == "core words"
        assert t("steps.many", k=3) == "3 steps"
        with pytest.raises(KeyError):
            t("no.such.key")
    with using("zh"):
        assert t("steps.many", k=3) == "3 步"
        assert t_or("setting.inner_lr.help", "core words").startswith("α")


@pytest.mark.parametrize("locale, lang", [("zh-CN", "zh"), ("zh-TW", "zh"), ("en-GB", "en"),
                                          ("de-DE", "en"), (None, "en"), ("", "en")])
def test_locale_picks_the_language(locale, lang):
    assert from_locale(locale) == lang


def _results() -> pd.DataFrame:
    rows = []
    for method, values in {"pretrain": [0.5, 0.6, 0.62], "maml": [0.34, 0.9, 0.95]}.items():
        for step, v in enumerate(values):
            rows.append({"method": method, "label": method, "step": step, "metric": "accuracy",
                         "mean": v, "ci_low": v - 0.01, "ci_high": v + 0.01, "diverged": ""})
    return pd.DataFrame(rows)


def test_sentences_are_built_in_chinese_from_templates():
    df = _results()
    gains = pd.DataFrame([{"method": "maml", "gain": 0.56}, {"method": "pretrain", "gain": 0.1}])
    with using("zh"):
        lead, head = story.leader_sentence(df, "accuracy"), story.headline(df, gains, "accuracy", 1)
    assert lead == "适应之前预训练领先；从第 1 步起MAML领先。"
    assert head.startswith("**现在**，即适应之前（第 0 步）：**预训练**的准确率最高（0.500）。")
    assert "**潜力**，即在每个新任务的支持集上微调 1 步之后的成绩：**MAML**" in head
    assert head.endswith("MAML从适应中得到的提升也最大（0.560）。")
    gains.loc[gains.method == "pretrain", "gain"] = 0.7  # the gain leader is not the potential's
    with using("zh"):
        head = story.headline(df, gains, "accuracy", 1)
    assert head.endswith("适应带来的*提升*（之后减之前）最大的是预训练（0.700）：起点低，提升的空间"
                         "就大，所以提升大并不等于潜力大。")
    with using("en"):
        assert story.leader_sentence(df, "accuracy") == ("Pre-training leads before adaptation; "
                                                          "MAML leads from step 1 on.")


def test_every_claim_reads_in_both_languages():
    rows = _results()
    scenario = SCENARIOS[0].__class__(
        "x", "x", "x", "clusters", claims=(
            Beats("accuracy", "pretrain", 1, "maml", 1, margin=0.1),
            Near("accuracy", "maml", 0, 0.9, 0.05), Close("accuracy", "maml", "pretrain", 2, 0.1)))
    with using("zh"):
        failures = story.claim_failures(scenario, rows)
    assert failures == ["预训练微调 1 步后的准确率优于MAML微调 1 步后的准确率（95% 置信区间不重叠），"
                        "领先至少 10%", "MAML在第 0 步的准确率为 0.9 ± 0.05",
                        "MAML和预训练在第 2 步的准确率相差不超过 0.1"]
    with using("en"):  # English reads as the core's own descriptions (with '1 step' singular)
        claims = scenario.claims + (Overfits("maml", 2, 1.2),)
        assert [story._claim(c) for c in claims] == [c.describe().replace("1 steps", "1 step")
                                                      for c in claims]


def test_compare_figures_are_drawn_in_the_language_asked_for():
    """Same frames, two languages: titles, axes, legends and hover text follow the language."""
    from report.figures.compare import adaptation_curve_figure, before_after_figure, gain_figure
    df = _results()
    gains = pd.DataFrame([{"method": m, "label": m, "metric": "accuracy", "k": 1, "gain": g,
                           "ci_low": g - 0.01, "ci_high": g + 0.01, "diverged": ""}
                          for m, g in (("maml", 0.56), ("pretrain", 0.1))])

    def texts(lang: str) -> list[str]:
        with using(lang):
            figs = [before_after_figure(df, "accuracy", 1, chance=1 / 3),
                    adaptation_curve_figure(df, "accuracy"), gain_figure(gains)]
        return [part for fig in figs for part in
                (fig.layout.title.text, fig.layout.xaxis.title.text or "",
                 fig.layout.yaxis.title.text or "", *(tr.name or "" for tr in fig.data),
                 *(tr.hovertemplate or "" for tr in fig.data))]

    english, chinese = texts("en"), texts("zh")
    assert "Now vs potential: test accuracy on<br>new tasks" in english  # fits a phone
    assert "现在与潜力：新任务上的测试准确率" in chinese
    assert "测试准确率（越高越好）" in chinese and "适应之前（第 0 步）" in chinese
    assert not any(CJK.search(text) for text in english)
    assert any("95% 置信区间" in h for h in chinese)


def test_the_sweep_sentences_read_in_chinese():
    """The core writes the boundary sentence in English; the page gives it Chinese words."""
    for name, english in PHRASES.items():
        if name != "list":  # the catalogue's list.sep
            assert _placeholders(ZH[f"sweep.phrase.{name}"]) == _placeholders(english), name
    meta, rows = load_sweep((ROOT / "gallery/sweeps/clusters-shift-shots.json").read_bytes())
    with using("zh"):
        _, chinese = sweep_figures(meta, rows)
    _, english = sweep_figures(meta, rows)
    assert len(chinese) == len(english) == 2
    for zh, en in zip(chinese, english):
        assert "预训练" in zh and "Pre-training" in en, (zh, en)
        assert not re.search(r"beats|after|before|cells|whatever|tie", zh), zh
