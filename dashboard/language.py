"""The language of a session: `?lang=zh|en`, else the browser's locale, else English; a sidebar
switch changes it and keeps it in the URL, so a shared link opens in the same language (a link
with settings but no `lang` predates the switch and opens in English, the language it spells)."""
from __future__ import annotations

import streamlit as st

from dashboard.scenario_sync import PRESET
from report.i18n import DEFAULT, LANG, LANGUAGES, from_locale, set_language, t

SESSION = "_language"  # session key: the session's language (the switch's key, LANG, is the widget's)
# URL-bound widgets whose options are shown translated: the URL spells their labels, so a switch
# re-sets their (unchanged) values to have the URL spell them in the new language.
TRANSLATED_OPTIONS = ("family", "methods", "metric", "task_source", "landscape")


def pick_language() -> str:
    """Decide this run's language (first thing in the entry script) and keep it in the URL."""
    url = st.query_params.get(LANG)
    if url in LANGUAGES:
        st.session_state[SESSION] = url
    elif st.session_state.get(SESSION) not in LANGUAGES:
        # A link with settings but no language predates the switch: its select boxes are
        # spelled in English, which a Chinese session would not recognise.
        old_link = bool(set(st.query_params) - {LANG, PRESET})
        st.session_state[SESSION] = DEFAULT if old_link else from_locale(st.context.locale)
    lang = st.session_state[SESSION]
    if url != lang:
        st.query_params[LANG] = lang
    st.session_state[LANG] = lang  # the switch shows it (also where the browser sent it empty)
    set_language(lang)
    return lang


def in_session_language() -> None:
    """For a fragment's rerun, which skips the entry script: use the session's language."""
    set_language(st.session_state.get(SESSION, DEFAULT))


def _on_switch() -> None:
    """The visitor picked a language. A switch that comes with no choice is not one: a browser
    sends it so when a click cuts a fresh session's first run short (the control, required,
    cannot be emptied by hand), and the session keeps its language."""
    chosen = st.session_state[LANG]
    if chosen not in LANGUAGES:
        return
    st.session_state[SESSION] = chosen
    st.query_params[LANG] = chosen
    for key in TRANSLATED_OPTIONS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def language_switch() -> None:
    """English | 中文 at the top of the sidebar, on every page."""
    st.sidebar.segmented_control(t("language.label"), list(LANGUAGES), key=LANG,
                                 format_func=LANGUAGES.get, required=True, on_change=_on_switch)
