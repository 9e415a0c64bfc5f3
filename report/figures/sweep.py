"""Sweep figures: scores against a varied setting, and where meta-learning beats pre-training."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import plotly.io
from plotly.subplots import make_subplots

from core.engine.evaluation import higher_is_better, main_metric
from core.sweep.summary import (PHRASES, advantage, meta_method, is_number, summarise_seeds,
                                summary_sentences)
from report.figures.compare import LEGEND_ROW_PX, axis_title, heading, rgba, wrap
from report.i18n import t, t_or
from report.theme import color, label, metric_label, metric_name, steps_text

HEIGHT = 400
MARGIN = {"l": 10, "r": 10, "t": 60, "b": 10}
PANEL_COLUMNS = 20  # a heatmap panel's title: half a phone's chart, beside the colour bar


def _positions(values: list) -> list:
    """Numbers stay on a numeric axis; anything else becomes text on a category axis."""
    return list(values) if all(map(is_number, values)) else [str(v) for v in values]


def _curve(rows: pd.DataFrame, axis: str, method: str, step: int, after: int,
           first: bool) -> list[go.Scatter]:
    x = _positions(list(rows[axis]))
    when = t("story.when.before") if step == 0 else t("chart.after", steps=steps_text(after))
    name = label(method) + t("punct.comma") + when
    band = go.Scatter(x=x + x[::-1], y=list(rows.ci_high) + list(rows.ci_low[::-1]),
                      mode="lines", fill="toself",
                      fillcolor=rgba(color(method), 0.12 if step == 0 else 0.2), line={"width": 0},
                      hoverinfo="skip", showlegend=False, legendgroup=name)
    line = go.Scatter(x=x, y=rows["mean"], name=name, legendgroup=name, showlegend=first,
                      mode="lines+markers",
                      line={"color": color(method), "dash": "dot" if step == 0 else "solid"},
                      marker={"symbol": "circle-open" if step == 0 else "circle"},
                      customdata=rows[["ci_low", "ci_high", "seeds"]],
                      hovertemplate=f"{name}<br>{axis} = %{{x}}: %{{y:.3g}}<br>95 % CI "
                                    "%{customdata[0]:.3g} – %{customdata[1]:.3g} "
                                    "(%{customdata[2]} seeds)<extra></extra>")
    return [band, line]


def scores_figure(pooled: pd.DataFrame, axes: list[str], metric: str, after: int) -> go.Figure:
    """Each method's score before adaptation (dotted) and after `after` steps (solid) against the
    first varied setting, with 95 % CI bands; one panel per value of the second setting."""
    sub = pooled[(pooled.metric == metric) & pooled.step.isin([0, after])]
    panels = [(None, sub)] if len(axes) == 1 else list(sub.groupby(axes[1], sort=False))
    fig = make_subplots(1, len(panels), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[] if len(axes) == 1 else
                        [f"{axes[1]} = {v}" for v, _ in panels])
    for col, (_, panel) in enumerate(panels, 1):
        for method in dict.fromkeys(panel.method):
            for step in dict.fromkeys((0, after)):
                rows = panel[(panel.method == method) & (panel.step == step)]
                for trace in _curve(rows, axes[0], method, step, after, first=col == 1):
                    fig.add_trace(trace, 1, col)
        fig.update_xaxes(title_text=axes[0], row=1, col=col)
    fig.update_yaxes(title_text=axis_title(metric), row=1, col=1)
    # Panel titles sit under the legend, which a phone shows one entry a row.
    rows = sum(tr.showlegend is not False for tr in fig.data) if len(axes) > 1 else 0
    title = t("sweep.chart.scores", what=metric_label(metric).capitalize(), axis=axes[0])
    fig.update_layout(**heading(title, HEIGHT + LEGEND_ROW_PX * rows, panel_rows=rows),
                      hoverlabel={"namelength": -1})
    return fig


def _cell_text(row: pd.Series) -> str:
    if row.winner == "unknown":
        return "n/a"
    return f"tie<br>{row.lead:+.2f}" if row.tie else f"{row.lead:+.2f}"


def _heatmap(adv: pd.DataFrame, axes: list[str]) -> go.Heatmap:
    table = adv.assign(text=adv.apply(_cell_text, axis=1))
    xs, ys = list(dict.fromkeys(adv[axes[0]])), list(dict.fromkeys(adv[axes[1]]))
    z = table.pivot(index=axes[1], columns=axes[0], values="lead").loc[ys, xs]
    text = table.pivot(index=axes[1], columns=axes[0], values="text").loc[ys, xs]
    return go.Heatmap(x=[str(v) for v in xs], y=[str(v) for v in ys], z=z.to_numpy(),
                      text=text.to_numpy(), texttemplate="%{text}", coloraxis="coloraxis",
                      hovertemplate=f"{axes[0]} = %{{x}}, {axes[1]} = %{{y}}<br>lead %{{z:+.3g}}"
                                    "<extra></extra>")


def _veil_ties(fig: go.Figure, adv: pd.DataFrame, axes: list[str], col: int) -> None:
    """A pale veil over the cells whose CIs overlap, so the clear wins stand out."""
    xs, ys = list(dict.fromkeys(adv[axes[0]])), list(dict.fromkeys(adv[axes[1]]))
    for _, row in adv[adv.tie].iterrows():
        i, j = xs.index(row[axes[0]]), ys.index(row[axes[1]])
        fig.add_shape(type="rect", x0=i - 0.5, x1=i + 0.5, y0=j - 0.5, y1=j + 0.5,
                      fillcolor="white", opacity=0.6, line={"width": 0}, row=1, col=col)


def advantage_figure(before: pd.DataFrame, after: pd.DataFrame, axes: list[str], k: int,
                     meta: str = "maml", base: str = "pretrain") -> go.Figure:
    """Heatmaps of `meta`'s lead over `base` before adaptation and after `k` steps; cells whose
    95 % CIs overlap read 'tie' under a pale veil."""
    metric = after.metric.iloc[0] if not after.empty else "accuracy"
    fig = make_subplots(1, 2, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=[wrap(t("chart.before_step0"), PANEL_COLUMNS),
                                        wrap(t("chart.after", steps=steps_text(k)), PANEL_COLUMNS)])
    for col, adv in enumerate((before, after), 1):
        fig.add_trace(_heatmap(adv, axes), 1, col)
        _veil_ties(fig, adv, axes, col)
        fig.update_xaxes(title_text=axes[0], type="category", row=1, col=col)
    fig.update_yaxes(type="category")
    fig.update_yaxes(title_text=axes[1], row=1, col=1)
    better, worse = (meta, base) if higher_is_better(metric) else (base, meta)
    unit = t("sweep.chart.unit", better=label(better), worse=label(worse),
             metric=metric_name(metric))
    limit = max(1e-9, float(pd.concat([before.lead, after.lead]).abs().max()))
    fig.update_layout(
        # the unit in a subtitle: one long line was cut off on a 900 px window
        title={"text": t("sweep.chart.lead", meta=label(meta), base=label(base)), "x": 0,
               "subtitle": {"text": t("sweep.chart.lead_unit", meta=label(meta), unit=unit)}},
        coloraxis={"colorscale": "RdBu", "cmid": 0, "cmin": -limit, "cmax": limit,
                   "colorbar": {"title": t("sweep.chart.lead_bar")}},
        height=HEIGHT + 50, margin={**MARGIN, "t": MARGIN["t"] + 65})
    return fig


def sweep_figures(meta: dict, rows: pd.DataFrame, metric: str | None = None,
                  after: int | None = None) -> tuple[list[go.Figure], list[str]]:
    """The sweep's figures and sentences: scores against the setting(s), and for a 2-D sweep
    with a meta-learning method and pre-training, the heatmap of the lead."""
    axes = [a["name"] for a in meta["axes"]]
    pooled = summarise_seeds(rows, axes)
    metric = metric or main_metric(pooled.metric)
    after = int(meta.get("after_steps", 1)) if after is None else after
    figures = [scores_figure(pooled, axes, metric, after)]
    method = meta_method(pooled.method)
    if len(axes) == 2 and method and "pretrain" in set(pooled.method):
        lead = [advantage(pooled, axes, metric, step, method) for step in (0, after)]
        figures.append(advantage_figure(*lead, axes, after, method))
    return figures, summary_sentences(pooled, axes, after, metric, phrases=_phrases(), title=label)


def _phrases() -> dict[str, str]:
    """The boundary sentence's words in the current language (the core owns the English)."""
    words = {name: t_or(f"sweep.phrase.{name}", english) for name, english in PHRASES.items()}
    return words | {"list": t("list.sep")}


def sweep_html(meta: dict, rows: pd.DataFrame) -> str:
    """A self-contained HTML page with the sweep's figures, sentences and command."""
    figures, sentences = sweep_figures(meta, rows)
    parts = [f"<h1>Sweep of {html.escape(meta['family'])}</h1>",
             f"<p><code>{html.escape(meta.get('command', ''))}</code></p>",
             *(f"<p>{html.escape(s)}</p>" for s in sentences)]
    parts += [plotly.io.to_html(fig, full_html=False, include_plotlyjs=i == 0)
              for i, fig in enumerate(figures)]
    return "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Sweep</title></head><body>" \
           + "\n".join(parts) + "</body></html>"
