"""One sentence naming the link's values that its widgets will drop, for every page with
URL-bound widgets (the settings sidebar, the Parameter space page).

Streamlit drops a bound value that does not fit its widget (not a number, out of its range, not
one of its options) and shows the default instead; a visitor who followed a link is told so,
before the widgets are drawn, quoting at most a short excerpt of each value.
"""
from __future__ import annotations

from typing import Mapping

import streamlit as st

from report.i18n import t

Rule = tuple  # a widget's options (strings), (False, True) for a toggle, or its (low, high) range
EXCERPT = 12  # characters of a bad link value quoted back
SHOWN = 3  # bad values named; the rest are counted


def fits(text: str, rule: Rule) -> bool:
    """Whether a link's text is one of the options, or a number inside the range."""
    if isinstance(rule[0], bool):
        return text.lower() in ("true", "false")  # as Streamlit reads a toggle
    if isinstance(rule[0], str):
        return text in rule
    try:
        return rule[0] <= float(text) <= rule[1]  # NaN fails both comparisons
    except ValueError:
        return False


def link_problems(rules: Mapping[str, Rule]) -> str | None:
    """The sentence for the link's values under `rules` (widget key → rule) that do not fit, or
    None when all do."""
    bad = [f"{key} = “{value[:EXCERPT]}{'…' if len(value) > EXCERPT else ''}”"
           for key, value in st.query_params.items()
           if key in rules and not fits(value, rules[key])]
    if not bad:
        return None
    more = t("link.more", n=len(bad) - SHOWN) if len(bad) > SHOWN else ""
    return t("link.ignored", settings=t("list.sep").join(bad[:SHOWN]), more=more)
