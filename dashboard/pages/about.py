"""About page: the lecture's ideas in short paragraphs with formulas, each linked to a demo."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from report.i18n import LANG, language, t

COMPARE = "dashboard/pages/compare.py"
INSPECT = "dashboard/pages/inspect.py"
TRAINING = "dashboard/pages/training.py"
PARAMETER_SPACE = "dashboard/pages/parameter_space.py"
DRAW = "dashboard/pages/draw.py"


def _link(page: str, text: str, preset: str | None = None) -> None:
    if page == PARAMETER_SPACE and not Path(__file__).with_name("parameter_space.py").exists():
        return
    # The link carries the language: a link with query parameters may open a new session, which
    # would otherwise fall back to the browser's locale.
    params = {LANG: language()} | ({"preset": preset} if preset else {})
    st.page_link(page, label=text, icon=":material/arrow_forward:", query_params=params)


def main() -> None:
    """Eight short sections, one per idea of the lecture notes."""
    st.title(t("about.title"))
    st.markdown(t("about.learning"))
    _link(COMPARE, t("about.link.compare"))

    st.markdown(t("about.tasks"))
    _link(INSPECT, t("about.link.inspect"))
    _link(DRAW, t("about.link.draw"))

    st.markdown(t("about.maml"))
    st.latex(r"L(\phi)=\sum_{n=1}^{N} l_n(\hat\theta_n),\qquad "
             r"\hat\theta_n=\phi-\alpha\,\nabla_\phi l_n(\phi)")
    st.markdown(t("about.maml_shared"))
    _link(COMPARE, t("about.link.maml_sinusoid"), "maml-sinusoid")

    st.markdown(t("about.potential"))
    st.latex(r"L(\phi)=\sum_{n=1}^{N} l_n(\phi)")
    _link(COMPARE, t("about.link.consistent_labels"),
          "consistent-labels")
    _link(COMPARE, t("about.link.permuted_labels"), "permuted-labels")
    _link(TRAINING, t("about.link.training"))
    _link(PARAMETER_SPACE, t("about.link.loss_curves"))

    st.markdown(t("about.steps"))
    _link(COMPARE, t("about.link.train_1_test_10"), "train-1-test-10")
    _link(COMPARE, t("about.link.few_shots"), "few-shots-overfit")

    st.markdown(t("about.first_order"))
    st.latex(r"\nabla_\phi l(\hat\theta)=\big(I-\alpha\,\nabla^2_\phi l(\phi)\big)\,"
             r"\nabla_{\hat\theta} l(\hat\theta)\;\approx\;\nabla_{\hat\theta} l(\hat\theta)")
    _link(COMPARE, t("about.link.first_order"), "first-vs-second-order")
    _link(COMPARE, t("about.link.beyond"), "anil-metasgd")

    st.markdown(t("about.reptile"))
    st.latex(r"\phi\leftarrow\phi+\varepsilon\,(\theta_n-\phi)")
    _link(INSPECT, t("about.link.reptile"))

    st.markdown(t("about.picture"))
    _link(PARAMETER_SPACE, t("about.link.directions"))


main()
