"""Runs-page figures: several saved runs overlaid, colour by method, line style or bar by run."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from report.figures.compare import HEIGHT, axis_title, heading, rgba, wrap
from report.i18n import t
from report.theme import color, metric_label, steps_text

DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(**heading(title, HEIGHT + 60), hoverlabel={"namelength": -1})
    return fig


def runs_curve_figure(df: pd.DataFrame, metric: str) -> go.Figure:
    """Test metric against fine-tuning steps per run and method: one line style per run."""
    sub = df[(df.metric == metric) & (df.diverged == "")]
    fig = go.Figure()
    for i, (run, per_run) in enumerate(sub.groupby("run", sort=False)):
        for method, rows in per_run.groupby("method", sort=False):
            rows = rows.sort_values("step")
            group, name = f"{run}/{method}", f"{rows.label.iloc[0]} · {run}"
            fig.add_trace(go.Scatter(
                x=list(rows.step) + list(rows.step[::-1]),
                y=list(rows.ci_high) + list(rows.ci_low[::-1]), fill="toself", mode="lines",
                fillcolor=rgba(color(method), 0.12), line={"width": 0}, hoverinfo="skip",
                showlegend=False, legendgroup=group))
            fig.add_trace(go.Scatter(
                x=rows.step, y=rows["mean"], name=name, legendgroup=group, mode="lines+markers",
                line={"color": color(method), "width": 2.5, "dash": DASHES[i % len(DASHES)]},
                hovertemplate=name + "<br>" + t("chart.step_hover") + "<extra></extra>"))
    fig.update_layout(xaxis_title=wrap(t("chart.curve.x")), yaxis_title=axis_title(metric))
    return _layout(fig, t("runs.chart.curves"))


def _bars(rows: pd.DataFrame, name: str, before: bool) -> go.Bar:
    colours = [color(m) for m in rows.method]
    return go.Bar(
        x=[list(rows.label), list(rows.run)], y=rows["mean"], name=name,
        marker={"color": [rgba(c, 0.35) if before else c for c in colours],
                "line": {"color": colours, "width": 2},
                "pattern": {"shape": "/" if before else "", "fgcolor": colours}},
        error_y={"type": "data", "array": rows.ci_high - rows["mean"],
                 "arrayminus": rows["mean"] - rows.ci_low, "color": "gray"},
        customdata=rows[["run", "ci_low", "ci_high"]],
        hovertemplate="%{x}<br>" + name + ": %{y:.3g}<br>" + t("chart.ci")
                      + " %{customdata[1]:.3g} – %{customdata[2]:.3g}<extra></extra>")


def runs_before_after_figure(df: pd.DataFrame, metric: str, k: int) -> go.Figure:
    """Per method and run: step 0 next to step k, with 95 % CIs; bars grouped by method."""
    sub = df[df.metric == metric]
    order = list(dict.fromkeys(sub.method))  # methods in the runs' order, runs within each
    sub = sub.iloc[sub.method.map(order.index).argsort(kind="stable")]
    after = t("chart.after_finetuning", steps=steps_text(k))
    fig = go.Figure([_bars(sub[sub.step == 0], t("chart.before_step0"), before=True),
                     _bars(sub[sub.step == k], after, before=False)])
    fig.update_layout(barmode="group", yaxis_title=axis_title(metric), xaxis_title=None)
    return _layout(fig, t("runs.chart.before_after", what=metric_label(metric)))
