"""About page: the lecture's ideas in short paragraphs with formulas, each linked to a demo."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

COMPARE = "dashboard/pages/compare.py"
INSPECT = "dashboard/pages/inspect.py"
TRAINING = "dashboard/pages/training.py"
PARAMETER_SPACE = "dashboard/pages/parameter_space.py"


def _link(page: str, text: str, preset: str | None = None) -> None:
    if page == PARAMETER_SPACE and not Path(__file__).with_name("parameter_space.py").exists():
        return
    st.page_link(page, label=text, icon=":material/arrow_forward:",
                 query_params={"preset": preset} if preset else None)


def main() -> None:
    """Eight short sections, one per idea of the lecture notes."""
    st.title("About: the ideas behind the lab")
    st.markdown(
        "**Learning to learn.** Ordinary learning runs a hand-designed recipe (architecture, "
        "initialisation, update rule) on one task. Meta-learning *learns part of the recipe* "
        "from many training tasks, so that a new task is learned faster and better. Here the "
        "learned part is the initialisation φ that every new task starts from.")
    _link(COMPARE, "Compare methods that learn φ differently")

    st.markdown(
        "**Data comes as tasks.** Each task has a small training set, the *support set* (K "
        "examples, 'K shots'), and a test set, the *query set*. Meta-training sees training "
        "tasks only; every score in this lab is on test tasks no method has seen.")
    _link(INSPECT, "Look at one test task's support and query points")

    st.markdown(
        "**MAML learns φ for what it becomes** (Finn, Abbeel & Levine, ICML 2017). Its loss "
        "is each task's query loss *after* one gradient step on that task's support set:")
    st.latex(r"L(\phi)=\sum_{n=1}^{N} l_n(\hat\theta_n),\qquad "
             r"\hat\theta_n=\phi-\alpha\,\nabla_\phi l_n(\phi)")
    st.markdown("All tasks share one architecture, since they all start from the same φ.")
    _link(COMPARE, "The MAML paper's sinusoids", "maml-sinusoid")

    st.markdown(
        "**Potential, not current performance.** Pre-training (joint training on all tasks' "
        "data) instead finds the φ that is best on all tasks *right now*, with no promise that "
        "fine-tuning from it helps:")
    st.latex(r"L(\phi)=\sum_{n=1}^{N} l_n(\phi)")
    _link(COMPARE, "Consistent labels: pre-training wins at step 0, MAML after",
          "consistent-labels")
    _link(COMPARE, "Permuted labels: pre-training cannot help", "permuted-labels")
    _link(TRAINING, "MAML's loss after adaptation falls; before adaptation it need not")
    _link(PARAMETER_SPACE, "The two loss curves l₁(φ), l₂(φ) and where each method puts φ")

    st.markdown(
        "**One inner step in training, as many as you like at test time.** MAML is usually "
        "meta-trained with one inner step (fast, and hopefully enough); at test time one may "
        "take more. With very few shots, many steps overfit.")
    _link(COMPARE, "Train with 1 step, test with 10", "train-1-test-10")
    _link(COMPARE, "Few shots, many steps: overfitting", "few-shots-overfit")

    st.markdown(
        "**First-order approximation.** The exact meta-gradient goes through the inner step and "
        "needs second derivatives; first-order MAML drops them and uses the gradient at the "
        "adapted parameters:")
    st.latex(r"\nabla_\phi l(\hat\theta)=\big(I-\alpha\,\nabla^2_\phi l(\phi)\big)\,"
             r"\nabla_{\hat\theta} l(\hat\theta)\;\approx\;\nabla_{\hat\theta} l(\hat\theta)")
    _link(COMPARE, "First-order vs second-order", "first-vs-second-order")

    st.markdown(
        "**Reptile** (Nichol, Achiam & Schulman, 2018) takes several SGD steps on a task and "
        "simply moves φ part of the way toward the result — no second derivatives, no query "
        "gradient:")
    st.latex(r"\phi\leftarrow\phi+\varepsilon\,(\theta_n-\phi)")
    _link(INSPECT, "Watch Reptile's φ adapt next to the others")

    st.markdown(
        "**The comparison picture.** From the same φ, pre-training follows the gradient at φ, "
        "first-order MAML the gradient at the adapted θ, and Reptile the sum of the inner steps "
        "θ − φ.")
    _link(PARAMETER_SPACE, "See the three update directions")


main()
