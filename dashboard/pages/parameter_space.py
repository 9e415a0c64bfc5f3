"""Parameter space: the lecture's loss-curve pictures of pre-training, MAML and Reptile, live."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st
import torch

import core.param_space as ps
from dashboard.figures import param_space as figs
from dashboard.theme import METHOD_LABELS

torch.set_num_threads(1)

MAX_TASKS = 5
TASK_FIELDS = ("shape", "cx", "cy", "hx", "hy", "depth")
SETTINGS = {  # widget key → (query parameter, type)
    "ps_preset": ("preset", str), "ps_dim": ("dim", int), "ps_n_tasks": ("tasks", int),
    "ps_alpha": ("alpha", float), "ps_inner_steps": ("inner_steps", int),
    "ps_reptile_steps": ("reptile_steps", int), "ps_test_steps": ("test_steps", int),
    "ps_phi_x": ("phi_x", float), "ps_phi_y": ("phi_y", float), "ps_animate": ("animate", int),
    "ps_meta_lr": ("meta_lr", float), "ps_epsilon": ("epsilon", float),
    "ps_meta_steps": ("meta_steps", int),
}
DEFAULTS = {"ps_test_steps": 5, "ps_animate": False, "ps_meta_lr": 0.3, "ps_epsilon": 0.5,
            "ps_meta_steps": 80}
KEEP = {"persist_state": "session"}  # keep hidden widgets' values (a task's y when in 1-D)
LO, HI = ps.DOMAIN
RANGES = {  # widget ranges; values from a link are clamped to them
    "ps_dim": (1, 2), "ps_n_tasks": (2, MAX_TASKS), "ps_alpha": (0.005, 3.0),
    "ps_inner_steps": (1, 5), "ps_reptile_steps": (1, 10), "ps_test_steps": (1, 20),
    "ps_phi_x": (LO, HI), "ps_phi_y": (LO, HI), "ps_animate": (0, 1), "ps_meta_lr": (0.01, 1.0),
    "ps_epsilon": (0.01, 1.0), "ps_meta_steps": (10, 200),
    "cx": (-3.5, 3.5), "cy": (-3.5, 3.5), "hx": (0.1, 10.0), "hy": (0.1, 10.0), "depth": (0.2, 6.0),
}


def clamp(name: str, value: float) -> float:
    """value kept inside the range of widget `name`."""
    lo, hi = RANGES[name]
    return min(hi, max(lo, value))


def apply_preset() -> None:
    """Copy the chosen preset's landscape and settings into the widgets."""
    ss = st.session_state
    preset = ps.PRESETS[ss.ps_preset]
    land = preset.landscape
    ss.ps_dim, ss.ps_n_tasks = land.dim, len(land.tasks)
    for i, task in enumerate(land.tasks):
        (cx, cy), (hx, hy) = (task.centre * 2)[-2:], (task.curvature * 2)[-2:]  # 1-D: y copies x
        values = (task.shape, cx, cy, hx, hy, task.depth)
        for name, value in zip(TASK_FIELDS, values):
            ss[f"ps_{name}_{i}"] = value
    ss.ps_alpha, ss.ps_inner_steps = preset.inner_lr, preset.inner_steps
    ss.ps_reptile_steps = preset.reptile_steps
    ss.ps_phi_x, ss.ps_phi_y = 0.5, 0.5


def encode_task(i: int) -> str:
    """'well,-1,0,8,8,3': task i's widgets as one query-parameter value."""
    return ",".join(f"{st.session_state[f'ps_{n}_{i}']:g}" if n != "shape"
                    else st.session_state[f"ps_{n}_{i}"] for n in TASK_FIELDS)


def read_query_params() -> None:
    """Restore the settings of a shared link; a malformed value is reported and skipped."""
    ss, params, bad = st.session_state, st.query_params, []
    if params.get("preset") in ps.PRESETS:
        ss.ps_preset = params["preset"]
        apply_preset()
    for key, (name, kind) in SETTINGS.items():
        if name in params and key != "ps_preset":
            try:
                value = kind(params[name]) if kind is not int else int(float(params[name]))
            except ValueError:
                bad.append(name)
                continue
            ss[key] = value if kind is str else clamp(key, value)
    for i in range(MAX_TASKS):
        if f"t{i + 1}" in params:
            parts = params[f"t{i + 1}"].split(",")
            if len(parts) != len(TASK_FIELDS) or parts[0] not in ps.SHAPES:
                bad.append(f"t{i + 1}")
                continue
            try:
                numbers = [clamp(n, float(v)) for n, v in zip(TASK_FIELDS[1:], parts[1:])]
            except ValueError:
                bad.append(f"t{i + 1}")
                continue
            ss[f"ps_shape_{i}"] = parts[0]
            for name, value in zip(TASK_FIELDS[1:], numbers):
                ss[f"ps_{name}_{i}"] = value
    if bad:
        ss.ps_link_note = f"Ignored malformed link settings: {', '.join(bad)}."
    ss.ps_animate = bool(ss.ps_animate)


def write_query_params() -> None:
    """Put the current settings in the URL so that a shared link reproduces this view."""
    ss = st.session_state
    params = {name: str(int(ss[key]) if kind is int else ss[key])
              for key, (name, kind) in SETTINGS.items()}
    params |= {f"t{i + 1}": encode_task(i) for i in range(ss.ps_n_tasks)}
    st.query_params.from_dict(params)


def init_state() -> None:
    """Start from the first preset, then from the link's settings, once per session."""
    ss = st.session_state
    if ss.get("ps_ready"):
        return
    ss.ps_preset = next(iter(ps.PRESETS))
    apply_preset()
    for key, value in DEFAULTS.items():
        ss[key] = value
    for i in range(len(ps.PRESETS[ss.ps_preset].landscape.tasks), MAX_TASKS):
        for name, value in zip(TASK_FIELDS, ("well", i - 2.0, 0.0, 1.0, 1.0, 1.0)):
            ss[f"ps_{name}_{i}"] = value  # extra tasks start as plain wells
    read_query_params()
    ss.ps_ready = True


def snap(value: float) -> float:
    """A clicked coordinate rounded to the φ sliders' step and kept in range."""
    return clamp("ps_phi_x", round(float(value), 2))


def on_click() -> None:
    """Move φ to the clicked point (its x, and its y in 2-D where y is the second parameter)."""
    ss = st.session_state
    points = ss.ps_chart.selection.points
    if points:
        ss.ps_phi_x = snap(points[0]["x"])
        if ss.ps_dim == 2:
            ss.ps_phi_y = snap(points[0]["y"])


def landscape_from_widgets() -> ps.Landscape:
    """The tasks as the widgets describe them."""
    ss, dim = st.session_state, st.session_state.ps_dim
    tasks = []
    for i in range(ss.ps_n_tasks):
        def get(name, i=i):
            return round(float(ss[f"ps_{name}_{i}"]), 4)
        shape = ss[f"ps_shape_{i}"]
        tasks.append(ps.TaskLoss((get("cx"), get("cy"))[:dim], (get("hx"), get("hy"))[:dim],
                                 shape, get("depth") if shape == "well" else 1.0))
    return ps.Landscape(tuple(tasks))


def task_widgets() -> None:
    """Per-task shape, centre, curvature and depth, in an expander."""
    ss = st.session_state
    with st.expander("Shape the tasks' losses", expanded=False):
        st.caption("A **well** is depth · (1 − exp(−q / depth)) with q = ½ Σ hᵢ (φᵢ − cᵢ)²: it "
                   "has curvature h at its centre c and flattens out at its depth far away. "
                   "A **quadratic** is q itself.")
        for i in range(ss.ps_n_tasks):
            cols = st.columns([1.1, 1, 1, 1, 1, 1])
            cols[0].selectbox(f"Task {i + 1}", ps.SHAPES, key=f"ps_shape_{i}", **KEEP)
            two = ss.ps_dim == 2
            cols[1].slider("centre c₁" if two else "centre c", *RANGES["cx"], step=0.1,
                           key=f"ps_cx_{i}", **KEEP)
            cols[2].slider("curvature h₁" if two else "curvature h", *RANGES["hx"], step=0.1,
                           key=f"ps_hx_{i}", **KEEP)
            if two:
                cols[3].slider("centre c₂", *RANGES["cy"], step=0.1, key=f"ps_cy_{i}", **KEEP)
                cols[4].slider("curvature h₂", *RANGES["hy"], step=0.1, key=f"ps_hy_{i}", **KEEP)
            cols[5].slider("depth", *RANGES["depth"], step=0.1, key=f"ps_depth_{i}", **KEEP,
                           disabled=ss[f"ps_shape_{i}"] != "well")


def step_widgets() -> None:
    """α, the step counts and φ."""
    ss = st.session_state
    st.slider("inner step size α", *RANGES["ps_alpha"], step=0.005, format="%.3f",
              key="ps_alpha", help="The step size of every task's gradient descent from φ.", **KEEP)
    st.slider("inner steps in MAML's objective", *RANGES["ps_inner_steps"], key="ps_inner_steps",
              help="MAML minimises Σ lₙ(θₙ) with θₙ this many steps from φ; usually 1.", **KEEP)
    st.slider("Reptile's inner steps", *RANGES["ps_reptile_steps"], key="ps_reptile_steps",
              help="Reptile moves φ toward θₙ after this many steps.", **KEEP)
    st.slider("steps at test time k", *RANGES["ps_test_steps"], key="ps_test_steps",
              help="Adaptation steps drawn from your φ and used in the table's last column.",
              **KEEP)
    st.slider("your φ₁" if ss.ps_dim == 2 else "your φ", *RANGES["ps_phi_x"], step=0.01,
              key="ps_phi_x", help="Or click the plot.", **KEEP)
    if ss.ps_dim == 2:
        st.slider("your φ₂", *RANGES["ps_phi_y"], step=0.01, key="ps_phi_y", **KEEP)


@st.cache_data(max_entries=64, show_spinner="Finding the exact optima…")
def cached_optima(land: ps.Landscape, inner_lr: float, inner_steps: int,
                  reptile_steps: int) -> dict[str, list[float]]:
    """The three optima (grid search + Newton), cached per setting."""
    return {m: p.tolist() for m, p in ps.optima(land, inner_lr, inner_steps, reptile_steps).items()}


@st.cache_data(max_entries=16, show_spinner="Meta-training from your φ…")
def cached_meta_paths(land: ps.Landscape, start: tuple, inner_lr: float, inner_steps: int,
                      reptile_steps: int, meta_lr: float, epsilon: float, meta_steps: int
                      ) -> dict[str, list]:
    """φ over meta-iterations for every method, from `start`."""
    return {m: ps.meta_train_path(m, start, land, inner_lr, inner_steps, reptile_steps,
                                  epsilon if m == "reptile" else meta_lr, meta_steps).tolist()
            for m in ps.METHODS}


def table(points: dict, land: ps.Landscape, inner_lr: float, k: int) -> pd.DataFrame:
    """The 'current vs potential' numbers for each optimum and for your φ."""
    names = {m: f"{METHOD_LABELS[m]} optimum" for m in ps.OPTIMA} | {"phi": "your φ"}
    rows = ps.summary_table(points, land, inner_lr, k)
    return pd.DataFrame({
        "point": [names[r["method"]] for r in rows],
        "φ": [ps.format_phi(r["phi"])[4:] for r in rows],
        "Σ loss now (before adaptation)": [r["before"] for r in rows],
        "after 1 step": [r["after_1"] for r in rows],
        f"after k = {k} steps": [r["after_k"] for r in rows],
    })


def show_notes(land: ps.Landscape, drawn: dict) -> None:
    """The preset's claim (if still in force) and warnings about the settings."""
    ss = st.session_state
    preset = ps.PRESETS[ss.ps_preset]
    same = (preset.landscape, preset.inner_lr, preset.inner_steps, preset.reptile_steps) == (
        land, ss.ps_alpha, ss.ps_inner_steps, ss.ps_reptile_steps)
    if same:
        st.info(preset.explanation, icon=":material/school:")
    else:
        st.caption(f"You have changed the preset “{ss.ps_preset}”, so its note may no longer "
                   "hold; the sentences below are computed from what you see.")
    for level, message in ps.settings_warnings(land, ss.ps_alpha):
        (st.warning if level == "warning" else st.info)(message)
    for m, p in drawn.items():
        if ps.on_edge(p, land):
            st.warning(f"The {METHOD_LABELS[m]} optimum lies on the edge of the drawn range: the "
                       "true one may be further out.")
    if ss.get("ps_link_note"):
        st.warning(ss.pop("ps_link_note"))


def optima_frame(land: ps.Landscape, drawn: dict) -> pd.DataFrame:
    """The optima that exist, with their summed loss."""
    return figs.points_frame(drawn, {m: ps.total_loss(land, p) for m, p in drawn.items()})


def landscape_chart(land: ps.Landscape, drawn: dict, phi: torch.Tensor) -> pd.DataFrame:
    """The main picture: losses, optima and adaptation from φ, with click-to-move-φ."""
    ss = st.session_state
    grid = ps.grid(land, 401 if land.dim == 1 else 81)
    curves = figs.curves_frame(grid, ps.task_losses(land, grid))
    optima = optima_frame(land, drawn)
    path = ps.adapted(phi, land, ss.ps_alpha, ss.ps_test_steps)
    paths = figs.adaptation_frame(path, ps.per_task_loss(land, path))
    centres = pd.DataFrame([{"task": i, "x": t.centre[0], "y": t.centre[-1]}
                            for i, t in enumerate(land.tasks)])
    fig = figs.landscape_figure(curves, optima, paths, tuple(phi.tolist()), centres)
    st.plotly_chart(fig, key="ps_chart", on_select=on_click, selection_mode="points")
    return curves


def directions_chart(land: ps.Landscape, phi: torch.Tensor, curves: pd.DataFrame) -> None:
    """The lecture's closing picture: the four update directions from the same φ."""
    ss = st.session_state
    d = ps.directions(phi, land, ss.ps_alpha, ss.ps_inner_steps, ss.ps_reptile_steps)
    inner = ps.adapted(phi, land, ss.ps_alpha, ss.ps_inner_steps)
    inner_paths = figs.adaptation_frame(inner, ps.per_task_loss(land, inner))
    st.plotly_chart(figs.directions_figure(figs.directions_frame(d), tuple(phi.tolist()),
                                           curves, inner_paths), key="ps_directions")
    st.caption("**Pre-training** follows −∇Σlₙ at φ. **First-order MAML** follows −∇lₙ at each "
               "adapted θₙ (open circles), as if θₙ moved one-for-one with φ. **MAML** follows the "
               "true meta-gradient −∇φ Σ lₙ(θₙ(φ)), which also carries dθₙ/dφ = I − α∇²lₙ. "
               "**Reptile** moves toward the mean of θₙ − φ after its inner steps. All four are "
               "averaged over tasks; arrows have equal length and |d| gives the size.")


def animation(land: ps.Landscape, phi: torch.Tensor, curves: pd.DataFrame, drawn: dict) -> None:
    """Meta-training paths of φ for each method from your φ, as a plotly animation."""
    ss = st.session_state
    cols = st.columns(3)
    cols[0].slider("meta step size β (gradient methods)", 0.01, 1.0, step=0.01, key="ps_meta_lr",
                   **KEEP)
    cols[1].slider("Reptile's outer step ε", 0.01, 1.0, step=0.01, key="ps_epsilon", **KEEP)
    cols[2].slider("meta-iterations", 10, 200, step=10, key="ps_meta_steps", **KEEP)
    paths = cached_meta_paths(land, tuple(phi.tolist()), ss.ps_alpha, ss.ps_inner_steps,
                              ss.ps_reptile_steps, ss.ps_meta_lr, ss.ps_epsilon, ss.ps_meta_steps)
    if any(not math.isfinite(v) or abs(v) > 1e6 for p in paths.values() for row in p for v in row):
        st.warning("Some meta-training paths blow up with these step sizes: lower β or ε.")
        return
    losses = {m: ps.total_loss(land, ps.as_tensor(p)) for m, p in paths.items()}
    st.plotly_chart(figs.meta_training_figure(curves, figs.meta_paths_frame(paths, losses),
                                              optima_frame(land, drawn)), key="ps_meta")
    elsewhere = [METHOD_LABELS[m] for m in drawn
                 if (ps.as_tensor(paths[m][-1]) - drawn[m]).norm() > 0.05]
    if elsewhere:
        st.info(f"{', '.join(elsewhere)} ended away from the optimum marked above: from this "
                "start, plain meta-training reaches another local optimum (or fixed point), or "
                "needs more iterations.")
    st.caption("φ ← φ − β·∇(objective) for pre-training and both MAMLs (averaged over tasks), "
               "φ ← φ + ε·mean(θₙ − φ) for Reptile. Press play; the slider scrubs through "
               "meta-iterations.")


def render() -> None:
    """Read widgets → call the core → build figures → render."""
    init_state()
    ss = st.session_state
    st.title("Parameter space")
    st.markdown("Two to five toy tasks over one or two parameters φ. **Pre-training** picks the φ "
                "that is best *now*; **MAML** the φ that is best *after adapting* to each task; "
                "**Reptile** the φ its updates stop at. Every point is computed exactly.")
    top = st.columns([2.2, 1, 1])
    top[0].selectbox("Preset", list(ps.PRESETS), key="ps_preset", on_change=apply_preset, **KEEP)
    top[1].radio("Parameters", (1, 2), key="ps_dim", horizontal=True,
                 format_func=lambda d: f"{d}-D", **KEEP)
    top[2].slider("Tasks", *RANGES["ps_n_tasks"], key="ps_n_tasks", **KEEP)
    task_widgets()
    land = landscape_from_widgets()
    left, right = st.columns([1, 2.6])
    with left:
        step_widgets()
    phi = ps.as_tensor([ss.ps_phi_x, ss.ps_phi_y][: land.dim])
    points = cached_optima(land, ss.ps_alpha, ss.ps_inner_steps, ss.ps_reptile_steps)
    found = {m: ps.as_tensor(p) for m, p in points.items()}
    drawn = {m: p for m, p in found.items() if not p.isnan().any()}  # Reptile's may not exist
    with right:
        show_notes(land, drawn)
        st.markdown(ps.describe(found, land, ss.ps_alpha, ss.ps_inner_steps))
        curves = landscape_chart(land, drawn, phi)
    frame = table(drawn | {"phi": phi}, land, ss.ps_alpha, ss.ps_test_steps)
    st.dataframe(frame, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.4f") for c in frame.columns[2:]})
    st.caption("Σ loss summed over tasks, before adaptation and after 1 or k plain gradient steps "
               "of size α on each task: “current” versus “potential” performance.")
    st.subheader("Update directions from your φ")
    directions_chart(land, phi, curves)
    if st.toggle("Animate meta-training from your φ", key="ps_animate", **KEEP):
        animation(land, phi, curves, drawn)
    write_query_params()


render()
