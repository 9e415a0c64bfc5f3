"""Draw-page figures: the 28 px images the model sees, and small multiples of each method's class
probabilities for each query drawing, step by step."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from report.i18n import t
from report.theme import class_color, label

PANEL_HEIGHT = 190
SCALE = 3  # each model pixel as SCALE × SCALE screen pixels: the 28 px the model sees, not smoothed


def seen_mosaic(support: np.ndarray, shots: int, query: np.ndarray) -> np.ndarray:
    """The model's inputs (ink = 1) as one dark-on-white image: one column per class (its shots
    top to bottom), a gap, then the query drawings in a column; SCALE-fold, nearest neighbour."""
    side = support.shape[-1] if len(support) else query.shape[-1]
    gap = max(2, side // 7)
    ways = len(support) // shots
    rows = max(shots, len(query))
    out = np.zeros((gap + rows * (side + gap), gap + (ways + 1) * (side + gap) + gap), np.float32)

    def put(image: np.ndarray, row: int, col: int, extra: int = 0) -> None:
        y, x = gap + row * (side + gap), gap + col * (side + gap) + extra
        out[y:y + side, x:x + side] = image

    for i, image in enumerate(support):
        put(image, i % shots, i // shots)
    for i, image in enumerate(query):
        put(image, i, ways, gap)
    grey = (255 * (1 - np.clip(out, 0, 1))).astype(np.uint8)
    return grey.repeat(SCALE, 0).repeat(SCALE, 1)


def probabilities_figure(probs: dict[str, np.ndarray], queries: list[int], step: int) -> go.Figure:
    """Rows: the query drawings; columns: the methods. Each panel: the probability of every class
    before adaptation (step 0) and after each step, the chosen step marked."""
    methods = list(probs)
    steps = np.arange(next(iter(probs.values())).shape[0])
    ways = next(iter(probs.values())).shape[-1]
    titles = [f"{label(m)}" if r == 0 else "" for r in range(len(queries)) for m in methods]
    fig = make_subplots(rows=len(queries), cols=len(methods), shared_xaxes=True,
                        shared_yaxes=True, subplot_titles=titles, horizontal_spacing=0.03,
                        vertical_spacing=0.06 if len(queries) > 1 else 0.0)
    for row, q in enumerate(queries, start=1):
        for col, method in enumerate(methods, start=1):
            table = probs[method][:, q]
            for c in range(ways):
                fig.add_trace(go.Scatter(
                    x=steps, y=table[:, c], mode="lines", name=t("draw.class", c=c + 1),
                    legendgroup=str(c), showlegend=row == 1 and col == 1,
                    line={"color": class_color(c), "width": 2},
                    hovertemplate=f"{label(method)} · {t('draw.class', c=c + 1)}"
                                  " · %{x}: %{y:.2f}<extra></extra>"), row=row, col=col)
            best = int(table[step].argmax())
            fig.add_trace(go.Scatter(
                x=[step], y=[table[step, best]], mode="markers+text", showlegend=False,
                text=[f"{best + 1}"], textposition="top center", hoverinfo="skip",
                marker={"color": class_color(best), "size": 10, "line": {"width": 1}}),
                row=row, col=col)
            fig.add_vline(x=step, line={"dash": "dot", "width": 1, "color": "#888"}, row=row,
                          col=col)
        fig.update_yaxes(title_text=t("draw.drawing", q=q + 1), row=row, col=1)
    fig.update_yaxes(range=[0, 1.08], tickvals=[0, 0.5, 1])
    fig.update_xaxes(tickvals=[s for s in (0, 1, 5, 10) if s < len(steps)])
    fig.update_xaxes(title_text=t("draw.steps_axis"), title_standoff=4, row=len(queries))
    height = PANEL_HEIGHT * len(queries) + 150
    fig.update_layout(height=height, margin={"t": 50, "b": 90},
                      legend={"orientation": "h", "yanchor": "top", "y": -70 / (height - 140)},
                      title={"text": t("draw.chart_title"), "font": {"size": 14}})
    return fig
