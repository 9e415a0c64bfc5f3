"""Parameter-space figures: task losses, the three optima, adaptation steps and update directions.

Each figure is a pure function of tidy DataFrames whose parameter columns are `x` (and `y` in 2-D).
The `*_frame` helpers turn the core's arrays into those frames.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from report.figures.compare import heading, wrap
from report.i18n import t
from report.theme import METHOD_COLORS, label

# Task colours avoid the method colours and stay readable on light and dark backgrounds.
TASK_COLORS = ("#A6761D", "#9467BD", "#17BECF", "#BCBD22", "#CC79A7")
SUM_COLOR = "#8C8C8C"
PHI_COLOR = "#E7298A"
# Open shapes of different sizes, largest first: optima that coincide nest, and optima that are
# merely close overlap as outlines instead of hiding each other.
OPTIMUM_MARKERS = {"reptile": ("diamond", 20), "maml": ("star", 17), "pretrain": ("circle", 12),
                   "metasgd": ("square", 8)}
# In 1-D each optimum's name sits on its dotted line, one height per method (fraction of the
# plot's height), so that names of close optima stand one above the other.
OPTIMUM_LABEL_HEIGHTS = {"pretrain": 0.97, "maml": 0.9, "reptile": 0.83, "metasgd": 0.76}
SUM_NAME = "Sum over tasks"  # the curves' ids in the frames; shown through shown_name()
AXES = ("x", "y")


def task_name(n: int) -> str:
    """'Task 1' for n = 0 (a curve's id)."""
    return f"Task {n + 1}"


def shown_name(curve: str) -> str:
    """A curve id ('Task 1', SUM_NAME) as the legend shows it, in the current language."""
    return t("ps.sum") if curve == SUM_NAME else t("ps.task", i=curve.split()[-1])


def task_color(n: int) -> str:
    """Colour of task n (0-based)."""
    return TASK_COLORS[n % len(TASK_COLORS)]


def _columns(points) -> dict[str, np.ndarray]:
    """{'x': ..., 'y': ...} from a (..., dim) array."""
    points = np.asarray(points, dtype=float)
    return {axis: points[..., i] for i, axis in enumerate(AXES[: points.shape[-1]])}


# ---- tidy frames from the core's arrays ----------------------------------------------------

def curves_frame(points, losses) -> pd.DataFrame:
    """Each task's loss and their sum on a grid: points (P, dim), losses (P, tasks) → long frame."""
    losses = np.asarray(losses, dtype=float)
    parts = [pd.DataFrame({**_columns(points), "curve": task_name(n), "loss": losses[:, n]})
             for n in range(losses.shape[1])]
    parts.append(pd.DataFrame({**_columns(points), "curve": SUM_NAME, "loss": losses.sum(1)}))
    return pd.concat(parts, ignore_index=True)


def points_frame(points: dict, losses: dict) -> pd.DataFrame:
    """One row per named point (method → φ) with its summed loss."""
    rows = [{"method": m, **{k: float(v) for k, v in _columns(p).items()}, "loss": float(losses[m])}
            for m, p in points.items()]
    return pd.DataFrame(rows)


def adaptation_frame(path, losses) -> pd.DataFrame:
    """Each task's inner steps: path (steps + 1, tasks, dim), losses (steps + 1, tasks)."""
    path, losses = np.asarray(path, dtype=float), np.asarray(losses, dtype=float)
    steps, tasks = losses.shape
    return pd.DataFrame({
        "task": np.tile(np.arange(tasks), steps), "step": np.repeat(np.arange(steps), tasks),
        **{k: v.reshape(-1) for k, v in _columns(path).items()}, "loss": losses.reshape(-1)})


def directions_frame(directions: dict) -> pd.DataFrame:
    """One row per method: the direction's components `dx` (`dy`) and its length."""
    rows = []
    for method, d in directions.items():
        d = np.asarray(d, dtype=float)
        rows.append({"method": method, **{f"d{a}": d[i] for i, a in enumerate(AXES[: len(d)])},
                     "norm": float(np.linalg.norm(d))})
    return pd.DataFrame(rows)


def meta_paths_frame(paths: dict, losses: dict) -> pd.DataFrame:
    """φ over meta-iterations per method: paths {method: (T, dim)}, losses {method: (T,)}."""
    parts = [pd.DataFrame({"method": m, "iteration": np.arange(len(losses[m])),
                           **_columns(p), "loss": np.asarray(losses[m], dtype=float)})
             for m, p in paths.items()]
    return pd.concat(parts, ignore_index=True)


# ---- figures -------------------------------------------------------------------------------

def _arrow(tail: tuple, head: tuple, color: str, width: float = 2.0, text: str = "") -> dict:
    """A plotly annotation drawing an arrow from tail to head in data coordinates."""
    return dict(x=head[0], y=head[1], ax=tail[0], ay=tail[1], xref="x", yref="y", axref="x",
                ayref="y", showarrow=True, arrowhead=3, arrowsize=1.2, arrowwidth=width,
                arrowcolor=color, text=text, font=dict(color=color), standoff=0)


def _is_2d(frame: pd.DataFrame) -> bool:
    """Whether the frame has a second parameter column."""
    return "y" in frame.columns


def _base_layout(fig: go.Figure, title: str, two_d: bool) -> go.Figure:
    """Shared layout: title, legend under it, and an equal aspect ratio for two parameters."""
    fig.update_layout(**heading(title, 600 if two_d else 520))  # the legend under the title
    if two_d:  # equal units on both axes, without widening the requested ranges
        fig.update_yaxes(scaleanchor="x", scaleratio=1, title="φ₂")
        fig.update_xaxes(title="φ₁", constrain="domain")
    else:
        fig.update_xaxes(title="φ")
        fig.update_yaxes(title=t("metric.loss"))
    return fig


def _optima_traces(optima: pd.DataFrame, two_d: bool, top: float | None) -> list[go.Scatter]:
    """An open marker per optimum, plus in 1-D a dotted vertical line with the method's name."""
    traces = []
    order = list(OPTIMUM_MARKERS)
    for row in sorted(optima.itertuples(), key=lambda r: order.index(r.method)):
        name = t("ps.optimum", method=label(row.method))
        color = METHOD_COLORS[row.method]
        symbol, size = OPTIMUM_MARKERS[row.method]
        marker = dict(color=color, size=size, symbol=f"{symbol}-open", line=dict(width=3))
        y = row.y if two_d else row.loss
        traces.append(go.Scatter(x=[row.x], y=[y], mode="markers", name=name, marker=marker,
                                 legendgroup=row.method,
                                 hovertemplate=name + "<br>" + t("ps.hover.optimum",
                                                                 loss=f"{row.loss:.3f}")
                                 + "<extra></extra>"))
        if not two_d:
            height = top * OPTIMUM_LABEL_HEIGHTS[row.method]
            traces.append(go.Scatter(x=[row.x, row.x], y=[0, top], mode="lines", showlegend=False,
                                     legendgroup=row.method, hoverinfo="skip",
                                     line=dict(color=color, dash="dot", width=2)))
            traces.append(go.Scatter(x=[row.x], y=[height], mode="text", showlegend=False,
                                     legendgroup=row.method, hoverinfo="skip",
                                     text=[f" {label(row.method)}"],
                                     textposition="middle right",
                                     textfont=dict(color=color, size=12)))
    return traces


def _adaptation_parts(paths: pd.DataFrame, two_d: bool) -> tuple[list, list]:
    """Markers at each task's inner iterates and one arrow per inner step."""
    traces, arrows = [], []
    for task, steps in paths.groupby("task"):
        steps = steps.sort_values("step")
        color = task_color(task)
        ys = steps["y"] if two_d else steps["loss"]
        traces.append(go.Scatter(
            x=steps["x"], y=ys, mode="markers",
            name=t("ps.inner_steps_of", task=shown_name(task_name(task))),
            legendgroup=f"task{task}", showlegend=False, marker=dict(color=color, size=7),
            customdata=np.stack([steps["step"], steps["loss"]], -1),
            hovertemplate=shown_name(task_name(task)) + t("punct.comma") + t("ps.hover.step")
                          + "<extra></extra>"))
        pts = list(zip(steps["x"], ys))
        arrows += [_arrow(a, b, color) for a, b in zip(pts, pts[1:]) if a != b]
    return traces, arrows


def _phi_trace(phi: tuple, y: float) -> go.Scatter:
    """The user's φ."""
    return go.Scatter(x=[phi[0]], y=[y], mode="markers", name=t("ps.phi"),
                      marker=dict(color=PHI_COLOR, size=13, symbol="x-thin-open",
                                  line=dict(width=3, color=PHI_COLOR)),
                      hovertemplate=t("ps.phi") + "<extra></extra>")


def landscape_figure(curves: pd.DataFrame, optima: pd.DataFrame, paths: pd.DataFrame,
                     phi: tuple | None, centres: pd.DataFrame | None = None,
                     title: str | None = None) -> go.Figure:
    """The tasks' losses, their sum, the optima and each task's adaptation from a point: your
    φ (marked), or with `phi` None an optimum's (the paths' first points)."""
    if _is_2d(curves):
        fig = _landscape_2d(curves, optima, paths, phi, centres)
    else:
        fig = _landscape_1d(curves, optima, paths, phi)
    return fig.update_layout(**heading(title, fig.layout.height)) if title else fig


def _landscape_1d(curves, optima, paths, phi) -> go.Figure:
    """1-D: loss curves, dotted optimum lines, inner-step arrows along each task's curve."""
    fig = go.Figure()
    for name, c in curves.groupby("curve", sort=False):
        is_sum = name == SUM_NAME
        task = None if is_sum else int(name.split()[-1]) - 1
        color = SUM_COLOR if is_sum else task_color(task)
        fig.add_trace(go.Scatter(x=c["x"], y=c["loss"], mode="lines", name=shown_name(name),
                                 legendgroup=f"task{task}",
                                 line=dict(color=color, width=4 if is_sum else 2,
                                           dash="solid" if is_sum else "dash"),
                                 hovertemplate=shown_name(name) + "<br>" + t("ps.hover.curve")
                                 + "<extra></extra>"))
    top = float(curves["loss"].max()) * 1.05
    for trace in _optima_traces(optima, False, top):
        fig.add_trace(trace)
    traces, arrows = _adaptation_parts(paths, False)
    for trace in traces:
        fig.add_trace(trace)
    if phi is not None:  # only the figure of your φ marks it and moves it on a click
        fig.add_trace(go.Scatter(x=[phi[0], phi[0]], y=[0, top], mode="lines", name=t("ps.phi"),
                                 line=dict(color=PHI_COLOR, width=2, dash="dashdot"),
                                 hoverinfo="skip"))
        xs = np.sort(curves["x"].unique())[::4]
        fig.add_trace(_click_grid(xs, np.linspace(0, top, 16), t("ps.hover.click_1d")))
    fig.update_layout(annotations=arrows)
    fig.update_yaxes(range=[0, top])
    return _base_layout(fig, t("ps.title.landscape_1d"), False)


def _surface(curves: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x and y axes and the (y, x) matrix of one curve's loss."""
    table = curves[curves["curve"] == name].pivot(index="y", columns="x", values="loss")
    return table.columns.to_numpy(), table.index.to_numpy(), table.to_numpy()


def _contours(curves: pd.DataFrame, with_tasks: bool) -> list[go.Contour]:
    """Filled contours of the summed loss and, optionally, a few lines of each task's loss."""
    x, y, z = _surface(curves, SUM_NAME)
    traces = [go.Contour(x=x, y=y, z=z, name=shown_name(SUM_NAME), colorscale="Greys",
                         reversescale=True, opacity=0.55, ncontours=18, line=dict(width=0.5),
                         colorbar=dict(title=t("ps.sum_loss"), thickness=12),
                         hovertemplate=t("ps.hover.contour") + "<extra></extra>")]
    if with_tasks:
        for name in curves["curve"].unique():
            if name == SUM_NAME:
                continue
            x, y, z = _surface(curves, name)
            color = task_color(int(name.split()[-1]) - 1)
            traces.append(go.Contour(
                x=x, y=y, z=z, name=shown_name(name), showscale=False, showlegend=True,
                legendgroup=f"task{int(name.split()[-1]) - 1}",
                contours=dict(coloring="none", start=0.1 * z.max(), end=0.5 * z.max(),
                              size=0.2 * z.max()),
                line=dict(color=color, width=1.5, dash="dot"), hoverinfo="skip"))
    return traces


def _click_grid(xs: np.ndarray, ys: np.ndarray, hover: str) -> go.Scatter:
    """Invisible points all over the plot, so that a click anywhere can pick φ."""
    gx, gy = np.meshgrid(xs, ys)
    return go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name=t("ps.click"),
                      showlegend=False, marker=dict(size=6, opacity=0),
                      hovertemplate=hover + "<extra></extra>")


def _landscape_2d(curves, optima, paths, phi, centres) -> go.Figure:
    """2-D: contours, task minima, the optima, and each task's inner-step arrows from φ."""
    fig = go.Figure(_contours(curves, with_tasks=True))
    if phi is not None:  # contours cannot be clicked, these points can
        xs = np.sort(curves["x"].unique())[::2]
        fig.add_trace(_click_grid(xs, xs, t("ps.hover.click_2d")))
    if centres is not None:
        for row in centres.itertuples():
            fig.add_trace(go.Scatter(x=[row.x], y=[row.y], mode="markers",
                                     name=t("ps.minimum", task=shown_name(task_name(row.task))),
                                     legendgroup=f"task{row.task}", showlegend=False,
                                     marker=dict(color=task_color(row.task), size=11,
                                                 symbol="x")))
    traces, arrows = _adaptation_parts(paths, True)
    for trace in traces:
        fig.add_trace(trace)
    for trace in _optima_traces(optima, True, None):  # above the inner steps' markers
        fig.add_trace(trace)
    if phi is not None:
        fig.add_trace(_phi_trace(phi, phi[1]))
    fig.update_layout(annotations=arrows)
    lo, hi = float(curves["x"].min()), float(curves["x"].max())
    fig.update_xaxes(range=[lo, hi])
    fig.update_yaxes(range=[lo, hi])
    return _base_layout(fig, t("ps.title.landscape_2d"), True)


def directions_figure(directions: pd.DataFrame, phi: tuple, curves: pd.DataFrame | None = None,
                      paths: pd.DataFrame | None = None, length: float = 0.8) -> go.Figure:
    """The lecture's picture: each method's update direction from the same φ, at one length."""
    if len(phi) == 2:
        return _directions_2d(directions, phi, curves, paths, length)
    return _directions_1d(directions, phi, length)


def _tip(d: np.ndarray, norm: float, length: float) -> np.ndarray:
    """Where an arrow of fixed display length in direction d ends (no arrow for d = 0)."""
    return d / norm * length if norm > 1e-12 else np.zeros_like(d)


def _label(row) -> str:
    """'MAML  |d| = 0.123'."""
    return f"{label(row.method)}  |d| = {row.norm:.3g}"


def _directions_1d(directions: pd.DataFrame, phi: tuple, length: float) -> go.Figure:
    """1-D: one row per method with a left or right arrow from φ, its name and |d| on the left."""
    fig, arrows = go.Figure(), []
    for i, row in enumerate(directions.itertuples()):
        color = METHOD_COLORS[row.method]
        end = phi[0] + _tip(np.array([row.dx]), row.norm, length)[0]
        fig.add_trace(go.Scatter(x=[phi[0], end], y=[i, i], mode="lines",
                                 name=label(row.method), line=dict(color=color, width=3),
                                 hovertemplate=_label(row) + "<br>"
                                 + t("ps.hover.direction", d=f"{row.dx:.4f}") + "<extra></extra>"))
        if end != phi[0]:
            arrows.append(_arrow((phi[0], i), (end, i), color, width=3))
    fig.add_trace(go.Scatter(x=[phi[0]] * 2, y=[-0.5, len(directions) - 0.5], mode="lines",
                             name=t("ps.phi"), line=dict(color=PHI_COLOR, dash="dashdot")))
    fig.update_layout(annotations=arrows, height=320, showlegend=False,
                      title=wrap(t("ps.title.directions")),
                      margin=dict(l=10, r=10, t=50, b=10))
    fig.update_xaxes(title="φ", range=[phi[0] - 1.6 * length, phi[0] + 1.6 * length])
    # the labels stand in the axis margin, clear of arrows pointing either way
    ticks = [f'<span style="color:{METHOD_COLORS[r.method]}">{_label(r)}</span>'
             for r in directions.itertuples()]
    fig.update_yaxes(range=[-0.6, len(directions) - 0.4], tickvals=list(range(len(ticks))),
                     ticktext=ticks, showgrid=False, zeroline=False)
    return fig


def _directions_2d(directions, phi, curves, paths, length) -> go.Figure:
    """2-D: zoomed contours around φ, each task's adapted θ, and one arrow per method."""
    fig = go.Figure(_contours(curves, with_tasks=False) if curves is not None else [])
    if paths is not None:
        last = paths[paths["step"] == paths["step"].max()]
        fig.add_trace(go.Scatter(x=last["x"], y=last["y"], mode="markers", name=t("ps.adapted"),
                                 marker=dict(color=[task_color(t) for t in last["task"]],
                                             size=9, symbol="circle-open", line=dict(width=2)),
                                 hovertemplate=t("ps.hover.adapted") + "<extra></extra>"))
    arrows = []
    for row in directions.itertuples():
        color = METHOD_COLORS[row.method]
        tip = np.array(phi) + _tip(np.array([row.dx, row.dy]), row.norm, length)
        fig.add_trace(go.Scatter(x=[phi[0], tip[0]], y=[phi[1], tip[1]], mode="lines",
                                 name=_label(row), line=dict(color=color, width=3),
                                 hovertemplate=_label(row) + "<br>" + t(
                                     "ps.hover.direction", d=f"({row.dx:.4f}, {row.dy:.4f})")
                                 + "<extra></extra>"))
        if row.norm > 1e-12:
            arrows.append(_arrow(phi, tuple(tip), color, width=3))
    fig.add_trace(_phi_trace(phi, phi[1]))
    fig.update_layout(annotations=arrows)
    span = 1.5 * length
    fig.update_xaxes(range=[phi[0] - span, phi[0] + span])
    fig.update_yaxes(range=[phi[1] - span, phi[1] + span])
    return _base_layout(fig, t("ps.title.directions"), True)


def meta_training_figure(curves: pd.DataFrame, paths: pd.DataFrame,
                         optima: pd.DataFrame | None = None, frames: int = 26) -> go.Figure:
    """φ moving over meta-iterations for each method, with a play button and a slider.

    2-D: over the summed loss's contours. 1-D: one horizontal track per method, so that paths
    which end at the same φ stay visible. Open markers show where each method should end.
    """
    two_d = _is_2d(curves)
    methods = list(paths["method"].unique())
    last = int(paths["iteration"].max())
    shown = sorted({round(i) for i in np.linspace(0, last, min(frames, last + 1))})
    fig = go.Figure(_contours(curves, with_tasks=False) if two_d else [])
    for row in (optima.itertuples() if optima is not None else []):
        if row.method in methods:
            symbol, size = OPTIMUM_MARKERS[row.method]
            fig.add_trace(go.Scatter(
                x=[row.x], y=[row.y if two_d else methods.index(row.method)], mode="markers",
                name=t("ps.optimum", method=label(row.method)), legendgroup=row.method,
                showlegend=False, hovertemplate="%{fullData.name}<extra></extra>",
                marker=dict(color=METHOD_COLORS[row.method], size=size + 4,
                            symbol=f"{symbol}-open", line=dict(width=2.5))))
    first = len(fig.data)
    for method in methods:
        fig.add_trace(go.Scatter(mode="lines", name=label(method), legendgroup=method,
                                 line=dict(color=METHOD_COLORS[method], width=2)))
        fig.add_trace(go.Scatter(mode="markers", showlegend=False, legendgroup=method,
                                 marker=dict(color=METHOD_COLORS[method], size=13,
                                             line=dict(width=1.5, color="white"))))
    fig.frames = [go.Frame(name=str(i), data=_meta_frame(paths, methods, i, two_d),
                           traces=list(range(first, first + 2 * len(methods))))
                  for i in shown]
    for trace, data in zip(fig.data[first:], fig.frames[-1].data):
        trace.update(x=data.x, y=data.y)  # the static view shows the finished paths
    fig.update_layout(updatemenus=[_play_button()], sliders=[_frame_slider(shown)])
    fig = _base_layout(fig, t("ps.title.meta_training"), two_d)
    fig.update_layout(margin=dict(l=10, r=10, t=80, b=110),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    if not two_d:
        fig.update_layout(height=380)
        fig.update_yaxes(title=None, tickvals=list(range(len(methods))),
                         ticktext=[label(m) for m in methods],
                         range=[-0.6, len(methods) - 0.4])
        lo, hi = float(curves["x"].min()), float(curves["x"].max())
        fig.update_xaxes(range=[lo, hi])
    return fig


def _meta_frame(paths: pd.DataFrame, methods: list, i: int, two_d: bool) -> list[go.Scatter]:
    """Trail and current point of every method at iteration i (1-D: on the method's track)."""
    data = []
    for row, method in enumerate(methods):
        p = paths[(paths["method"] == method) & (paths["iteration"] <= i)]
        ys = p["y"] if two_d else pd.Series(row, index=p.index)
        data += [go.Scatter(x=p["x"], y=ys), go.Scatter(x=p["x"].iloc[-1:], y=ys.iloc[-1:])]
    return data


def _play_button() -> dict:
    """Plotly's play / pause buttons for the frames."""
    play = dict(frame=dict(duration=80, redraw=True), fromcurrent=True, transition=dict(duration=0))
    pause = dict(frame=dict(duration=0, redraw=False), mode="immediate")
    return dict(type="buttons", direction="left", x=0, y=-0.12, xanchor="left", yanchor="top",
                showactive=False,
                buttons=[dict(label=t("ps.play"), method="animate", args=[None, play]),
                         dict(label=t("ps.pause"), method="animate", args=[[None], pause])])


def _frame_slider(shown: list[int]) -> dict:
    """A slider over the meta-iterations that are drawn."""
    steps = [dict(label=str(i), method="animate",
                  args=[[str(i)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
             for i in shown]
    return dict(active=len(shown) - 1, steps=steps, x=0.18, y=-0.12, len=0.82, yanchor="top",
                currentvalue=dict(prefix=t("ps.slider_prefix")), pad=dict(t=0), font=dict(size=9))
