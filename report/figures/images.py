"""Inspect-page figure for image tasks: support images by label, then each method's query predictions.

Column c of every panel is class c: the support images of label c on top, and below, per method,
the query images whose true label is c, framed green when predicted right and red (with the
predicted label) when wrong, before adaptation and after the chosen number of steps.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from report.i18n import t
from report.theme import label, steps_text

RIGHT, WRONG, NEUTRAL = (0, 158, 115), (213, 94, 0), (200, 200, 200)  # Okabe–Ito green, vermillion
ROW_HEIGHT = 170


def _tile(image: np.ndarray, frame: tuple[int, int, int], border: int) -> np.ndarray:
    """An ink image (1 = ink) as dark-on-white RGB with a coloured frame."""
    grey = (255 * (1 - np.clip(image, 0, 1))).astype(np.uint8)
    tile = np.empty((*(s + 2 * border for s in grey.shape), 3), np.uint8)
    tile[:] = frame
    tile[border:-border, border:-border] = grey[..., None]
    return tile


def _mosaic(columns: list[list[np.ndarray]], tile_shape: tuple[int, ...], gap: int) -> np.ndarray:
    """Tiles stacked per column (one column per class), white gaps, short columns padded white."""
    rows = max(1, max(len(c) for c in columns))
    height, width = tile_shape[0] + gap, tile_shape[1] + gap
    out = np.full((rows * height + gap, len(columns) * width + gap, 3), 255, np.uint8)
    for col, tiles in enumerate(columns):
        for row, tile in enumerate(tiles):
            y, x = gap + row * height, gap + col * width
            out[y:y + tile_shape[0], x:x + tile_shape[1]] = tile
    return out


def _predicted_frame(predictions: pd.DataFrame, method: str, step: int) -> np.ndarray:
    mine = predictions[(predictions.method == method) & (predictions.step == step)]
    return mine.sort_values("query").predicted.to_numpy()


def image_task_figure(support: np.ndarray, support_labels: np.ndarray, query: np.ndarray,
                      query_labels: np.ndarray, predictions: pd.DataFrame, step: int,
                      per_class: int = 5) -> go.Figure:
    """Support images grouped by label; per method, the first `per_class` query images of each
    class, framed right (green) or wrong (red, with the predicted label) at step 0 and `step`."""
    ways = int(max(support_labels.max(initial=0), query_labels.max(initial=0))) + 1
    border, gap = max(1, support.shape[-1] // 14), max(1, support.shape[-1] // 7)
    tile_shape = _tile(support[0], NEUTRAL, border).shape
    shown = [np.flatnonzero(query_labels == c)[:per_class] for c in range(ways)]
    methods = list(dict.fromkeys(predictions.method))
    titles = [t("chart.images.support", n=len(support_labels), last=ways - 1)]
    panels = []
    for method in methods:
        for s in (0, step):
            predicted = _predicted_frame(predictions, method, s)
            right = int((predicted == query_labels).sum())
            when = t("story.when.before") if s == 0 else t("chart.after", steps=steps_text(s))
            titles.append(t("chart.images.panel", method=label(method), when=when, right=right,
                            total=len(query_labels)))
            panels.append(predicted)
    fig = make_subplots(rows=1 + len(methods), cols=2, subplot_titles=titles,
                        specs=[[{"colspan": 2}, None]] + [[{}, {}]] * len(methods),
                        vertical_spacing=0.25 / (1 + len(methods)), horizontal_spacing=0.03)
    support_columns = [[_tile(support[i], NEUTRAL, border) for i in np.flatnonzero(support_labels == c)]
                       for c in range(ways)]
    fig.add_trace(go.Image(z=_mosaic(support_columns, tile_shape, gap), hoverinfo="skip"), 1, 1)
    marks = []
    for p, predicted in enumerate(panels):
        row, col = 2 + p // 2, 1 + p % 2
        columns = [[_tile(query[i], RIGHT if predicted[i] == c else WRONG, border) for i in idx]
                   for c, idx in enumerate(shown)]
        fig.add_trace(go.Image(z=_mosaic(columns, tile_shape, gap), hoverinfo="skip"), row, col)
        marks += _wrong_marks(fig, predicted, shown, tile_shape, gap, row, col)
    # One assignment: plotly re-validates every annotation on each add_annotation (quadratic).
    fig.layout.annotations = [*fig.layout.annotations, *marks]
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=12)
    fig.update_layout(height=ROW_HEIGHT * (1 + len(methods)) + 60,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def _wrong_marks(fig: go.Figure, predicted: np.ndarray, shown: list[np.ndarray],
                 tile_shape: tuple[int, ...], gap: int, row: int, col: int) -> list[dict]:
    """The predicted label to write on each wrongly predicted query tile of panel (row, col)."""
    axes = fig.get_subplot(row, col)
    xref, yref = (a.plotly_name.replace("axis", "") for a in (axes.xaxis, axes.yaxis))
    return [{"x": gap + c * (tile_shape[1] + gap) + tile_shape[1] - 1,
             "y": gap + r * (tile_shape[0] + gap), "xref": xref, "yref": yref,
             "text": f"→{predicted[i]}", "showarrow": False, "xanchor": "right",
             "yanchor": "top", "font": {"size": 10, "color": "rgb(213,94,0)"},
             "bgcolor": "rgba(255,255,255,0.8)"}
            for c, idx in enumerate(shown) for r, i in enumerate(idx) if predicted[i] != c]
