"""Training page: meta-training curves, and validation before and after adaptation."""
from __future__ import annotations

import streamlit as st

from dashboard import frames, state, story
from dashboard.figures.training import checkpoint_figure, meta_loss_figure
from dashboard.sidebar import current_run

INTRO = (
    "What each method optimised while it was meta-trained. MAML is trained on the loss **after** "
    "adaptation, so that is the curve that must fall; its loss **before** adaptation is free to "
    "stay high. Pre-training is trained on the loss before adaptation.")


def main() -> None:
    """Settings → cached results → training curves and checkpoint panels."""
    spec, error = current_run()
    st.title("Training: what each method optimises")
    st.markdown(INTRO)
    results = state.results_or_prompt(spec, error)
    if results is None:
        return
    history = frames.history_frame(results)
    if history.empty:
        st.info("None of the selected methods is meta-trained (scratch only).")
        return
    st.plotly_chart(meta_loss_figure(history), key="chart-meta-loss")
    st.caption("Each line is a different quantity: MAML's is the query loss after adapting, "
               "Reptile's the task loss after its inner steps, pre-training's the loss of φ "
               "itself. Faint: one batch; bold: smoothed.")
    checkpoints = frames.checkpoint_frame(results)
    if checkpoints.empty:
        st.info("Set **validation checkpoints** above 0 (More settings) to see validation curves.")
        return
    metric = "accuracy" if "accuracy" in set(checkpoints.metric) else "loss"
    cfg = spec.config
    st.plotly_chart(checkpoint_figure(checkpoints, metric, cfg.inner_steps, cfg.max_eval_step),
                    key="chart-checkpoints")
    for line in story.training_sentences(checkpoints, metric, cfg.inner_steps):
        st.markdown("- " + line)


main()
