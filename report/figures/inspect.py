"""Inspect-page figures: one panel per method, its model on one task before and after adapting."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from report.figures.compare import heading, rgba
from report.i18n import t
from report.theme import class_color, color, label, metric_name, steps_text

# Language-neutral trace tags (`meta`): the page tells clicks on these apart by them.
CLICK_LAYER = "click"
SUPPORT = "support"
PANEL_HEIGHT = 300
COLUMNS = 3



def _panels(methods: list[str], titles: list[str]) -> tuple[go.Figure, list[tuple[int, int]]]:
    cols = min(COLUMNS, len(methods))
    rows = math.ceil(len(methods) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.05,
                        vertical_spacing=0.16)
    # The top margin keeps the first row's titles below plotly's toolbar (top right).
    fig.update_layout(height=PANEL_HEIGHT * rows + 120, margin={"l": 10, "r": 10, "t": 80, "b": 10},
                      legend={"orientation": "h", "y": -0.06, "x": 0}, clickmode="event+select",
                      dragmode=False)
    fig.update_annotations(font_size=12)  # the panel titles
    return fig, [(i // cols + 1, i % cols + 1) for i in range(len(methods))]


def _click_layer(xs: np.ndarray, ys: np.ndarray, avoid_x, avoid_y) -> go.Scatter:
    """An invisible dense grid: plotly only reports clicks on points, so empty space gets points.

    Grid points right next to a support point are left out, so a click there picks that point.
    """
    gx, gy = (g.ravel() for g in np.meshgrid(xs, ys))
    span_x, span_y = xs[-1] - xs[0], ys[-1] - ys[0]
    near = np.zeros(gx.shape, bool)
    for x, y in zip(avoid_x, avoid_y):
        near |= np.hypot((gx - x) / span_x, (gy - y) / span_y) < 0.04
    gx, gy = gx[~near], gy[~near]
    return go.Scatter(x=gx, y=gy, mode="markers", name=t("chart.click_layer"), meta=CLICK_LAYER,
                      # Tiny markers: a click on a support point must pick that point, not the grid.
                      marker={"size": 2, "opacity": 0.0, "color": "gray"}, legendgroup="click",
                      showlegend=False,
                      hovertemplate=t("chart.place_hover") + "<extra></extra>")


def _selected(support: pd.DataFrame, selected: int | None) -> list[float]:
    return [3 if i == selected else 1 for i in range(len(support))]


def score_title(method: str, scores: pd.DataFrame, metric: str, step: int) -> str:
    """Panel title: the method and its query score on this task at step 0 and at `step`."""
    mine = scores[(scores.method == method) & (scores.metric == metric)].set_index("step").value
    if step not in mine.index:
        return label(method)
    # Two lines: the panels are narrow.
    return f"{label(method)}<br>{metric_name(metric)} {mine[0]:.2f} → {mine[step]:.2f}"


def regression_figure(curves: pd.DataFrame, truth: pd.DataFrame, support: pd.DataFrame,
                      query: pd.DataFrame, scores: pd.DataFrame, step: int,
                      selected: int | None = None) -> go.Figure:
    """Per method: the true function, the model at step 0 and after `step` steps, the points."""
    methods = list(dict.fromkeys(curves.method))
    titles = [score_title(m, scores, "loss", step) for m in methods]
    fig, cells = _panels(methods, titles)
    values = np.concatenate([truth.y, support.y, query.y])
    pad = 0.25 * (values.max() - values.min()) + 0.5
    y_range = (float(values.min() - pad), float(values.max() + pad))
    click_x = np.linspace(truth.x.min(), truth.x.max(), 50)
    click_y = np.linspace(*y_range, 26)
    for i, (method, (row, col)) in enumerate(zip(methods, cells)):
        first = i == 0
        mine = curves[curves.method == method]
        before, after = mine[mine.step == 0], mine[mine.step == step]
        traces = [
            go.Scatter(x=truth.x, y=truth.y, mode="lines", name=t("chart.true_function"),
                       line={"color": "gray", "dash": "dash"}, showlegend=first, legendgroup="t",
                       hoverinfo="skip"),  # only the grid and the support points take clicks
            go.Scatter(x=before.x, y=before.y, mode="lines", name=t("chart.before_step0"),
                       line={"color": rgba(color(method), 0.6), "dash": "dot", "width": 2},
                       showlegend=False, hoverinfo="skip"),
            go.Scatter(x=after.x, y=after.y, mode="lines",
                       name=t("chart.after", steps=steps_text(step)),
                       line={"color": color(method), "width": 3}, showlegend=False,
                       hoverinfo="skip"),
            go.Scatter(x=query.x, y=query.y, mode="markers", name=t("chart.query_points"),
                       marker={"color": "gray", "size": 6, "symbol": "circle-open"},
                       showlegend=first, legendgroup="q", hoverinfo="skip"),
            go.Scatter(x=support.x, y=support.y, mode="markers", name=t("chart.support_points"),
                       meta=SUPPORT,
                       marker={"color": "black", "size": 11, "line": {"color": "white",
                               "width": _selected(support, selected)}},
                       showlegend=first, legendgroup="s",
                       hovertemplate=t("chart.support_hover") + "<extra></extra>"),
            _click_layer(click_x, click_y, support.x, support.y)]
        for trace in traces:
            fig.add_trace(trace, row=row, col=col)
        fig.update_yaxes(range=y_range, row=row, col=col)
    _style_legend(fig, step)
    return fig


def _style_legend(fig: go.Figure, step: int) -> None:
    """Legend entries for the line styles, in neutral grey (each panel has its method's colour)."""
    styles = ((t("chart.before_step0"), "dot"), (t("chart.after", steps=steps_text(step)), "solid"))
    for name, dash in styles:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name,
                                 line={"color": "gray", "dash": dash, "width": 2}))


def _class_scale(ways: int) -> list[list]:
    scale = []
    for i in range(ways):
        scale += [[i / ways, class_color(i)], [(i + 1) / ways, class_color(i)]]
    return scale


def regions_figure(regions: dict[str, np.ndarray], axes: tuple[np.ndarray, np.ndarray],
                   support: pd.DataFrame, query: pd.DataFrame, scores: pd.DataFrame, step: int,
                   ways: int, selected: int | None = None) -> go.Figure:
    """Per method: decision regions after `step` steps, with support and query points by class."""
    methods = list(regions)
    titles = [score_title(m, scores, "accuracy", step) for m in methods]
    fig, cells = _panels(methods, titles)
    click = [np.linspace(a.min(), a.max(), 40) for a in axes]
    for i, (method, (row, col)) in enumerate(zip(methods, cells)):
        first = i == 0
        traces = [
            go.Heatmap(x=axes[0], y=axes[1], z=regions[method][step], zmin=-0.5, zmax=ways - 0.5,
                       colorscale=_class_scale(ways), opacity=0.45, showscale=False,
                       hoverinfo="skip"),
            go.Scatter(x=query.x1, y=query.x2, mode="markers", name=t("chart.query_points"),
                       marker={"color": [class_color(c) for c in query.label], "size": 5,
                               "opacity": 0.6}, showlegend=first, legendgroup="q",
                       hoverinfo="skip"),
            go.Scatter(x=support.x1, y=support.x2, mode="markers", name=t("chart.support_points"),
                       meta=SUPPORT,
                       marker={"color": [class_color(c) for c in support.label], "size": 12,
                               "line": {"color": "black", "width": _selected(support, selected)}},
                       showlegend=first, legendgroup="s", customdata=support.label,
                       hovertemplate=t("chart.support_class_hover") + "<extra></extra>"),
            _click_layer(click[0], click[1], support.x1, support.x2)]
        for trace in traces:
            fig.add_trace(trace, row=row, col=col)
        fig.update_xaxes(range=[axes[0][0], axes[0][-1]], row=row, col=col)
        fig.update_yaxes(range=[axes[1][0], axes[1][-1]], row=row, col=col)
    return fig


def task_curve_figure(scores: pd.DataFrame, metric: str) -> go.Figure:
    """This one task's query score against fine-tuning steps, per method."""
    fig = go.Figure()
    for method, rows in scores[scores.metric == metric].groupby("method", sort=False):
        fig.add_trace(go.Scatter(x=rows.step, y=rows.value, mode="lines+markers",
                                 name=label(method), line={"color": color(method)}))
    fig.update_layout(**heading(t("chart.task_curve.title", metric=metric_name(metric)), 340),
                      xaxis_title=t("chart.finetuning_steps"), yaxis_title=metric_name(metric))
    return fig
