"""Translations: `t(key, **values)` fills the current language's template from its JSON catalogue.

The language of a script run is held in a context variable: app.py sets it once per run (from
`?lang=`, the sidebar switch or the browser's locale), and figures, sentences and pages read it
through `t`, so every function stays a function of its inputs and the language. The core stays
English; text it owns (setting help, scenario and family texts) is looked up by name with
`t_or`, falling back to the core's English.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

R = TypeVar("R")

LOCALES = Path(__file__).with_name("locales")
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}  # code → its own name
DEFAULT = "en"
LANG = "lang"  # the language's URL parameter and session key (not a setting)
_language: ContextVar[str] = ContextVar("language", default=DEFAULT)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every template of one language, by key."""
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


def language() -> str:
    """The language of this script run ('en' or 'zh')."""
    return _language.get()


def set_language(lang: str) -> None:
    """Use `lang` for the rest of this script run (unknown codes mean English)."""
    _language.set(lang if lang in LANGUAGES else DEFAULT)


@contextmanager
def using(lang: str) -> Iterator[None]:
    """Use `lang` inside the block (tests, and figures drawn for another language)."""
    token = _language.set(lang if lang in LANGUAGES else DEFAULT)
    try:
        yield
    finally:
        _language.reset(token)


def fixed(function: Callable[..., R]) -> Callable[..., R]:
    """`function` answering in today's language whenever it is called: Streamlit keeps a
    widget's format_func and may call it outside this script run."""
    lang = language()

    def in_language(*args: Any) -> R:
        with using(lang):
            return function(*args)
    return in_language


def t(key: str, /, **values: Any) -> str:
    """The template `key` in the current language (English if it lacks one), filled with `values`.

    A key missing from the English catalogue is a bug: KeyError.
    """
    template = catalogue(language()).get(key)
    if template is None:
        template = catalogue(DEFAULT)[key]
    return template.format(**values)


def t_or(key: str, english: str, /) -> str:
    """Text the core owns in English: the catalogue's translation of `key`, else `english`."""
    return catalogue(language()).get(key) or catalogue(DEFAULT).get(key) or english


def from_locale(locale: str | None) -> str:
    """The language for a browser locale such as 'zh-CN' or 'en-GB' (Chinese → zh, else en)."""
    return "zh" if (locale or "").lower().startswith("zh") else DEFAULT
