"""One colour and one plain-words label per method, shared by every chart of the dashboard.

Fonts (with a CJK font for Chinese) are the Streamlit theme's, .streamlit/config.toml: the
charts take theirs from it.
"""
from __future__ import annotations

import plotly.colors

from core.engine.algorithms import METHODS, method_title
from core.engine.families import FAMILIES
from report.i18n import t, t_or

# Okabe–Ito colours: distinguishable with colour-blindness, readable on light and dark themes.
METHOD_COLORS: dict[str, str] = {
    "maml": "#D55E00",      # vermillion
    "fomaml": "#E69F00",    # orange: a relative of MAML
    "reptile": "#009E73",   # bluish green
    "pretrain": "#0072B2",  # blue
    # Paul Tol's muted colours for the methods beyond the lecture's (not among CLASS_COLORS).
    "anil": "#882255",        # wine: MAML's inner loop on the head alone
    "anil-whole": "#AA4499",  # purple: the same ANIL, the whole net adapted at test time
    "metasgd": "#332288",     # indigo
    "scratch": "#999999",   # grey: the floor
}
# Class colours for decision regions: distinct from the method colours above.
CLASS_COLORS: tuple[str, ...] = ("#CC79A7", "#56B4E9", "#F0E442", "#8C6D31", "#7F3C8D",
                                 "#11A579", "#3969AC", "#F2B701", "#E73F74", "#80BA5A")


def color(method: str) -> str:
    """The method's colour; methods added later get one from plotly's palette."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    palette = plotly.colors.qualitative.Dark24
    return palette[sorted(METHODS).index(method) % len(palette) if method in METHODS else 0]


def label(method: str) -> str:
    """The method's name in plain words, in the current language (`method.<name>`)."""
    return t_or(f"method.{method}", method_title(method))


def family_title(family: str) -> str:
    """The task family's title in the current language (`family.<name>.title`)."""
    return t_or(f"family.{family}.title", FAMILIES[family].title if family in FAMILIES else family)


def metric_label(metric: str) -> str:
    """'test loss', 'test accuracy' in the current language (`metric.<name>.test`)."""
    return t_or(f"metric.{metric}.test", metric)


def metric_name(metric: str) -> str:
    """'loss', 'accuracy' in the current language (`metric.<name>`)."""
    return t_or(f"metric.{metric}", metric)


def class_color(index: int) -> str:
    """Colour of class `index` in 2-D classification plots."""
    return CLASS_COLORS[index % len(CLASS_COLORS)]


def steps_text(k: int) -> str:
    """'1 step', '5 steps' (in the current language)."""
    return t("steps.one" if k == 1 else "steps.many", k=k)
