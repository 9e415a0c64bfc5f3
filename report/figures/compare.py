"""Compare-page figures: before vs after adaptation, the adaptation curve, and the gain."""
from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

from core.engine.evaluation import higher_is_better
from report.i18n import t
from report.theme import color, label, metric_label, steps_text

HEIGHT = 380
MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}
# The columns of a chart's title or axis title that fit a phone (at 390 px a chart is 324 px
# wide) in plotly's fonts; a CJK character takes two. Longer ones are broken into lines, on
# every screen alike.
LINE_COLUMNS = 36
TITLE_LINE_PX = 22  # a title line of plotly's default title font
LEGEND_ROW_PX = 30  # a row of a horizontal legend (measured at 390 px: 29)
# Tokens a line may break between: spaces, words, and CJK characters (each with the closing
# punctuation after it, which never starts a line).
_CJK = "\u2e80-\u9fff\u3000-\u303f\uff00-\uffef"
_TOKENS = re.compile(rf"\s+|[{_CJK}][）」』，。：；、]*|[^\s{_CJK}]+[）」』，。：；、]*")


def _columns(text: str) -> int:
    return sum(2 if ord(c) >= 0x2E80 else 1 for c in text)


def wrap(text: str, columns: int = LINE_COLUMNS) -> str:
    """The text with plotly's line breaks (<br>) so that no line is wider than `columns`:
    at spaces, and between any two CJK characters."""
    lines, line = [], ""
    for token in _TOKENS.findall(text):
        if line.strip() and not token.isspace() and _columns(line + token) > columns:
            lines.append(line.rstrip())
            line = ""
        line += "" if token.isspace() and not line else token
    return "<br>".join([*lines, line.rstrip()])


def heading(text: str, height: int, panel_rows: int = 0) -> dict:
    """Layout of a chart's title (wrapped to fit a phone) with the legend right under it, both
    placed in pixels from the top: neither runs into the other or into the axis titles on any
    width (a legend that wraps into rows pushes the plot down). With `panel_rows`, room for panel
    titles under a legend of up to that many rows: they sit above the plot, where the legend's
    push of the margin does not count them."""
    text = wrap(text)
    lines = text.count("<br>") + 1
    top = 8 + TITLE_LINE_PX * lines
    # plotly centres a title's lines on its anchor: lift it back by the extra lines
    y = 1 - (8 + TITLE_LINE_PX * (lines - 1)) / height
    return {"title": {"text": text, "x": 0, "xanchor": "left", "yref": "container", "y": y,
                      "yanchor": "top"},
            "legend": {"orientation": "h", "x": 0, "xanchor": "left", "yref": "container",
                       "y": 1 - (top + 6) / height, "yanchor": "top"},
            "margin": {**MARGIN, "t": top + 16 + (panel_rows * LEGEND_ROW_PX + 24 if panel_rows else 0)},
            "height": height}


def axis_title(metric: str, what: str | None = None) -> str:
    """E.g. 'test loss (lower is better)'; `what` names another quantity of the same metric."""
    better = "higher" if higher_is_better(metric) else "lower"
    return wrap(t(f"chart.better.{better}", what=what or metric_label(metric)))


def rgba(hex_color: str, alpha: float) -> str:
    """'#RRGGBB' as a CSS rgba() string with transparency `alpha`."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: go.Figure, text: str) -> go.Figure:
    fig.update_layout(**heading(text, HEIGHT), hoverlabel={"namelength": -1})
    return fig


def _chance(fig: go.Figure, chance: float | None) -> None:
    if chance is not None:
        fig.add_hline(y=chance, line_dash="dot", line_color="gray",
                      annotation_text=t("chart.chance", value=f"{chance:.2g}"),
                      annotation_position="bottom right")


def _bar(rows: pd.DataFrame, name: str, before: bool) -> go.Bar:
    colours = [color(m) for m in rows.method]
    return go.Bar(
        x=rows.label, y=rows["mean"], name=name,
        marker={"color": [rgba(c, 0.35) if before else c for c in colours],
                "line": {"color": colours, "width": 2},
                "pattern": {"shape": "/" if before else "", "fgcolor": colours}},
        error_y={"type": "data", "array": rows.ci_high - rows["mean"],
                 "arrayminus": rows["mean"] - rows.ci_low, "color": "gray"},
        customdata=rows[["ci_low", "ci_high"]],
        hovertemplate="%{x}<br>" + name + ": %{y:.3g}<br>" + t("chart.ci") +
                      " %{customdata[0]:.3g} – %{customdata[1]:.3g}<extra></extra>")


def before_after_figure(df: pd.DataFrame, metric: str, k: int,
                        chance: float | None = None) -> go.Figure:
    """Per method: step-0 performance next to after-k-steps performance, with 95 % CIs."""
    sub = df[df.metric == metric]
    after = t("chart.after_finetuning", steps=steps_text(k))
    fig = go.Figure([_bar(sub[sub.step == 0], t("chart.before_step0"), before=True),
                     _bar(sub[sub.step == k], after, before=False)])
    for _, row in sub[(sub.step == 0) & (sub.diverged != "")].iterrows():
        fig.add_annotation(x=row.label, y=0, text=t("chart.diverged"), showarrow=False, yshift=12,
                           font={"color": color(row.method)})
    _chance(fig, chance)
    fig.update_layout(barmode="group", yaxis_title=axis_title(metric), xaxis_title=None)
    return _layout(fig, t("chart.before_after.title", what=metric_label(metric)))


def _band(rows: pd.DataFrame, method: str) -> go.Scatter:
    return go.Scatter(x=list(rows.step) + list(rows.step[::-1]),
                      y=list(rows.ci_high) + list(rows.ci_low[::-1]), fill="toself",
                      mode="lines",  # plotly's default adds markers (in its own colours) to short curves
                      fillcolor=rgba(color(method), 0.15), line={"width": 0}, hoverinfo="skip",
                      showlegend=False, legendgroup=method)


def adaptation_curve_figure(df: pd.DataFrame, metric: str, crossings: pd.DataFrame | None = None,
                            chance: float | None = None) -> go.Figure:
    """Test metric against fine-tuning steps 0…S per method, 95 % CI bands, lead changes."""
    sub = df[(df.metric == metric) & (df.diverged == "")]
    fig = go.Figure()
    many = sub.step.nunique() > 20
    for method, rows in sub.groupby("method", sort=False):
        rows = rows.sort_values("step")
        fig.add_trace(_band(rows, method))
        fig.add_trace(go.Scatter(
            x=rows.step, y=rows["mean"], name=rows.label.iloc[0], legendgroup=method,
            mode="lines" if many else "lines+markers", line={"color": color(method), "width": 2.5},
            hovertemplate=rows.label.iloc[0] + "<br>" + t("chart.step_hover") + "<extra></extra>"))
    if crossings is not None and not crossings.empty:
        text = [t("chart.overtakes", winner=label(w), loser=label(lo))
                for w, lo in zip(crossings.winner, crossings.loser)]
        fig.add_trace(go.Scatter(x=crossings.x, y=crossings.y, mode="markers",
                                 name=t("chart.lead_changes"),
                                 marker={"symbol": "star", "size": 14, "color": "gold",
                                         "line": {"color": "black", "width": 1}},
                                 text=text, hovertemplate="%{text}<extra></extra>"))
    _chance(fig, chance)
    fig.update_layout(xaxis_title=wrap(t("chart.curve.x")), yaxis_title=axis_title(metric))
    return _layout(fig, t("chart.curve.title"))


def gain_figure(gains: pd.DataFrame) -> go.Figure:
    """Improvement from step 0 to step k per method, with 95 % CIs: the gain, not the potential
    (the score after k steps); a low start leaves more room to gain."""
    rows = gains[gains.diverged == ""].sort_values("gain")
    metric, k = gains.metric.iloc[0], int(gains.k.iloc[0])
    fig = go.Figure(go.Bar(
        y=rows.label, x=rows.gain, orientation="h", marker_color=[color(m) for m in rows.method],
        error_x={"type": "data", "array": rows.ci_high - rows.gain,
                 "arrayminus": rows.gain - rows.ci_low, "color": "gray"},
        text=[f"{g:.3g}" for g in rows.gain], textposition="inside", insidetextanchor="start",
        textangle=0, constraintext="none",  # small or negative gains keep a readable label
        hovertemplate="%{y}: %{x:.3g}<extra></extra>"))
    better = "higher" if higher_is_better(metric) else "lower"
    # centred under a plot that the method names narrow on a phone: shorter lines
    fig.update_layout(xaxis_title=wrap(t(f"chart.gain.x.{better}", what=metric_label(metric), k=k),
                                       LINE_COLUMNS - 8),
                      yaxis_title=None, showlegend=False)
    return _layout(fig, t("chart.gain.title", steps=steps_text(k)))
