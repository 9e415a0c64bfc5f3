"""Training page: meta-training curves, and validation before and after adaptation."""
from __future__ import annotations

import streamlit as st

from core.engine.evaluation import main_metric
from dashboard.gallery_view import results_or_gallery
from dashboard.sidebar import current_run
from report import frames, story
from report.figures.training import checkpoint_figure, meta_loss_figure
from report.i18n import t


def main() -> None:
    """Settings → cached results → training curves and checkpoint panels."""
    st.title(t("training.title"))
    st.markdown(t("training.intro"))
    shown = results_or_gallery(*current_run())
    if shown is None:
        return
    spec, results = shown.spec, shown.results
    history = frames.history_frame(results)
    if history.empty:
        st.info(t("training.none"))
        return
    st.plotly_chart(meta_loss_figure(history), key="chart-meta-loss")
    st.caption(t("training.caption"))
    checkpoints = frames.checkpoint_frame(results)
    if checkpoints.empty:
        st.info(t("training.no_checkpoints"))
        return
    metric = main_metric(checkpoints.metric)
    cfg = spec.config
    st.plotly_chart(checkpoint_figure(checkpoints, metric, cfg.inner_steps, cfg.max_eval_step),
                    key="chart-checkpoints")
    for line in story.training_sentences(checkpoints, metric, cfg.inner_steps):
        st.markdown("- " + line)


main()
