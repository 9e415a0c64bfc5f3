"""Training-page figures: meta-loss per method, validation before/after adaptation over training."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.algorithms import METHODS
from dashboard.figures.compare import HEIGHT, MARGIN, axis_title
from dashboard.theme import color, label, steps_text

STYLES = {"before": "dash", "trained": "solid", "final": "dot"}



def meta_loss_figure(history: pd.DataFrame, window: int = 10) -> go.Figure:
    """Each method's own training loss per iteration (mean over seeds): raw faint, smoothed bold."""
    fig = go.Figure()
    mean = history.groupby(["method", "iteration"], sort=False, as_index=False).meta_loss.mean()
    for method, rows in mean.groupby("method", sort=False):
        what = METHODS[method].loss_label if method in METHODS else "meta-loss"
        fig.add_trace(go.Scatter(x=rows.iteration, y=rows.meta_loss, mode="lines", opacity=0.3,
                                 line={"color": color(method), "width": 1}, showlegend=False,
                                 hoverinfo="skip", legendgroup=method))
        smooth = rows.meta_loss.rolling(window, min_periods=1).mean()  # one batch is noisy
        fig.add_trace(go.Scatter(x=rows.iteration, y=smooth, mode="lines", legendgroup=method,
                                 name=f"{label(method)}: {what}",
                                 line={"color": color(method), "width": 2.5},
                                 hovertemplate=f"{label(method)}<br>iteration %{{x}}: %{{y:.3g}} "
                                               f"(mean of {window} points)<extra></extra>"))
    positive = mean.meta_loss[mean.meta_loss > 0]
    log = not positive.empty and positive.max() / positive.min() > 30
    fig.update_layout(title={"text": "Meta-training loss (each method minimises a different loss)",
                             "x": 0}, height=HEIGHT, margin=MARGIN, xaxis_title="meta-iteration",
                      yaxis_title="training loss" + (" (log scale)" if log else ""),
                      yaxis_type="log" if log else "linear",
                      legend={"orientation": "h", "y": -0.2, "x": 0})
    return fig


def checkpoint_figure(checkpoints: pd.DataFrame, metric: str, trained_steps: int,
                      final_step: int) -> go.Figure:
    """One panel per method: validation metric before and after adaptation during training."""
    sub = checkpoints[checkpoints.metric == metric]
    methods = list(dict.fromkeys(sub.method))
    fig = make_subplots(rows=1, cols=max(1, len(methods)), shared_yaxes=True,
                        subplot_titles=[label(m) for m in methods], horizontal_spacing=0.03)
    names = {0: ("before", "before adaptation (step 0)"),
             trained_steps: ("trained", f"after {steps_text(trained_steps)} (as in training)"),
             final_step: ("final", f"after {steps_text(final_step)}")}
    for col, method in enumerate(methods, start=1):
        rows = sub[sub.method == method]
        for step, (style, name) in names.items():
            line = rows[rows.step == step].sort_values("iteration")
            fig.add_trace(go.Scatter(
                x=line.iteration, y=line["mean"], mode="lines+markers", name=name,
                line={"color": color(method), "dash": STYLES[style]}, showlegend=False,
                hovertemplate=f"{label(method)}, {name}<br>iteration %{{x}}: %{{y:.3g}}"
                              "<extra></extra>"), row=1, col=col)
    for style, name in names.values():  # a neutral legend: line style = when it is measured
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name,
                                 line={"color": "gray", "dash": STYLES[style]}))
    fig.update_xaxes(title_text="meta-iteration")
    fig.update_yaxes(title_text="validation " + axis_title(metric).removeprefix("test "), col=1)
    fig.update_layout(title={"text": "Validation during training: before vs after adaptation",
                             "x": 0}, height=HEIGHT + 40, margin={**MARGIN, "t": 80},
                      legend={"orientation": "h", "y": -0.25, "x": 0})
    return fig
