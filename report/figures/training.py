"""Training-page figures: meta-loss per method, validation before/after adaptation over training."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.engine.algorithms import METHODS
from report.figures.compare import HEIGHT, axis_title, heading, wrap
from report.i18n import t, t_or
from report.theme import color, label, metric_name, steps_text

STYLES = {"before": "dash", "trained": "solid", "final": "dot"}



def meta_loss_figure(history: pd.DataFrame, window: int = 10) -> go.Figure:
    """Each method's own training loss per iteration (mean over seeds): raw faint, smoothed bold."""
    fig = go.Figure()
    mean = history.groupby(["method", "iteration"], sort=False, as_index=False).meta_loss.mean()
    for method, rows in mean.groupby("method", sort=False):
        what = t_or(f"method.{method}.loss",
                    METHODS[method].loss_label if method in METHODS else "meta-loss")
        fig.add_trace(go.Scatter(x=rows.iteration, y=rows.meta_loss, mode="lines", opacity=0.3,
                                 line={"color": color(method), "width": 1}, showlegend=False,
                                 hoverinfo="skip", legendgroup=method))
        smooth = rows.meta_loss.rolling(window, min_periods=1).mean()  # one batch is noisy
        fig.add_trace(go.Scatter(x=rows.iteration, y=smooth, mode="lines", legendgroup=method,
                                 name=t("chart.method_loss", method=label(method), what=what),
                                 line={"color": color(method), "width": 2.5},
                                 hovertemplate=label(method) + "<br>"
                                 + t("chart.iteration_mean_hover", window=window)
                                 + "<extra></extra>"))
    positive = mean.meta_loss[mean.meta_loss > 0]
    log = not positive.empty and positive.max() / positive.min() > 30
    fig.update_layout(**heading(t("chart.meta_loss.title"), HEIGHT),
                      xaxis_title=t("chart.meta_iteration"),
                      yaxis_title=wrap(t("chart.training_loss.log" if log else "chart.training_loss")),
                      yaxis_type="log" if log else "linear")
    if log:  # labels on powers of ten only: plotly's 2…9 labels pile up on a short chart
        fig.update_yaxes(dtick=1)
    return fig


def checkpoint_figure(checkpoints: pd.DataFrame, metric: str, trained_steps: int,
                      final_step: int) -> go.Figure:
    """One panel per method: validation metric before and after adaptation during training."""
    sub = checkpoints[checkpoints.metric == metric]
    methods = list(dict.fromkeys(sub.method))
    fig = make_subplots(rows=1, cols=max(1, len(methods)), shared_yaxes=True,
                        subplot_titles=[label(m) for m in methods], horizontal_spacing=0.03)
    names = {0: ("before", t("chart.before_step0")),
             trained_steps: ("trained",
                             t("chart.after_as_trained", steps=steps_text(trained_steps))),
             final_step: ("final", t("chart.after", steps=steps_text(final_step)))}
    for col, method in enumerate(methods, start=1):
        rows = sub[sub.method == method]
        for step, (style, name) in names.items():
            line = rows[rows.step == step].sort_values("iteration")
            fig.add_trace(go.Scatter(
                x=line.iteration, y=line["mean"], mode="lines+markers", name=name,
                line={"color": color(method), "dash": STYLES[style]}, showlegend=False,
                hovertemplate=label(method) + t("punct.comma") + name + "<br>"
                + t("chart.iteration_hover") + "<extra></extra>"), row=1, col=col)
    for style, name in names.values():  # a neutral legend: line style = when it is measured
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name,
                                 line={"color": "gray", "dash": STYLES[style]}))
    fig.update_xaxes(title_text=t("chart.meta_iteration"))
    validation = t("chart.validation", metric=metric_name(metric))
    fig.update_yaxes(title_text=axis_title(metric, validation), col=1)
    fig.update_layout(**heading(t("chart.checkpoints.title"), HEIGHT + 100,
                                panel_rows=len(names)))  # a phone: one legend entry a row
    return fig
