"""Parameter space: the lecture's loss-curve pictures of pre-training, MAML and Reptile, live."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st
import torch

import core.param_space.cost as cost
import core.param_space.landscape as ps
from core.engine.config import TrainConfig
from dashboard import hosting
from dashboard.link_check import link_problems
from dashboard.param_space_presets import (LANDSCAPES, LandscapePreset, describe,
                                           describe_metasgd, explanation, format_point,
                                           preset_name, settings_warnings)
from dashboard.widgets import BIND
from report.figures import param_space as figs
from report.i18n import fixed, t
from report.theme import label

torch.set_num_threads(1)

MAX_TASKS = 5
LO, HI = ps.DOMAIN
TASK_RULES = {"shape": ps.SHAPES, "c1": (-3.5, 3.5), "h1": (0.1, 10.0), "c2": (-3.5, 3.5),
              "h2": (0.1, 10.0), "depth": (0.2, 6.0)}
# Each widget's key (also its name in the link) → its options, (False, True) for a toggle, or its
# (low, high) range. The page runs anew each time, so the presets are named in today's language,
# as the select box spells them in the link.
RULES: dict[str, tuple] = {
    "landscape": tuple(map(preset_name, LANDSCAPES)), "dim": ("1", "2"), "tasks": (2, MAX_TASKS),
    "inner_lr": (0.005, 3.0), "inner_steps": (1, 5), "reptile_inner_steps": (1, 10),
    "test_steps": (1, 20), "phi1": (LO, HI), "phi2": (LO, HI), "animate": (False, True),
    "meta_lr": (0.01, 1.0), "reptile_step_size": (0.01, 1.0), "iterations": (10, 200),
} | {f"task{i}.{name}": rule for i in range(1, MAX_TASKS + 1) for name, rule in TASK_RULES.items()}
PHI_START = 0.5


def task_values(preset: LandscapePreset, i: int) -> dict:
    """Widget values of task i (1-based) for a preset; tasks it lacks start as plain wells."""
    if i > len(preset.landscape.tasks):
        return {"shape": "well", "c1": i - 3.0, "c2": 0.0, "h1": 1.0, "h2": 1.0, "depth": 1.0}
    task = preset.landscape.tasks[i - 1]
    (c1, c2), (h1, h2) = (task.centre * 2)[:2], (task.curvature * 2)[:2]  # 1-D: c2 copies c1
    return {"shape": task.shape, "c1": c1, "c2": c2, "h1": h1, "h2": h2, "depth": task.depth}


def preset_values(preset: LandscapePreset) -> dict:
    """Every widget value a preset sets (the widgets' defaults while it is chosen)."""
    tasks = {f"task{i}.{name}": value for i in range(1, MAX_TASKS + 1)
             for name, value in task_values(preset, i).items()}
    return tasks | {"dim": preset.landscape.dim, "tasks": len(preset.landscape.tasks),
                    "inner_lr": preset.inner_lr, "inner_steps": preset.inner_steps,
                    "reptile_inner_steps": preset.reptile_inner_steps,
                    "phi1": PHI_START, "phi2": PHI_START}


def apply_preset() -> None:
    """Copy the chosen preset into the widgets; equal to their defaults, so the link sheds them."""
    st.session_state.update(preset_values(LANDSCAPES[st.session_state.landscape]))


def on_click() -> None:
    """Move φ to the clicked point (its x, and its y in 2-D where y is the second parameter)."""
    ss = st.session_state
    points = ss.ps_chart.selection.points
    if points:
        ss.phi1 = min(HI, max(LO, round(float(points[0]["x"]), 2)))
        if ss.dim == 2:
            ss.phi2 = min(HI, max(LO, round(float(points[0]["y"]), 2)))


def slider(label: str, key: str, default, **kwargs):
    """A slider over its rule's range, bound to the link."""
    return st.slider(label, *RULES[key], default, key=key, **kwargs, **BIND)


def task_row(i: int, defaults: dict, dim: int) -> ps.TaskLoss:
    """Task i's shape, centre, curvature and depth in one row of widgets: the task they describe."""
    def key(name: str) -> str:
        return f"task{i}.{name}"

    cols = st.columns([1.1, 1, 1, 1, 1, 1])
    shape = cols[0].selectbox(t("ps.task", i=i), ps.SHAPES,
                              ps.SHAPES.index(defaults[key("shape")]), key=key("shape"), **BIND)
    sub = ("₁", "₂") if dim == 2 else ("",)
    centre, curvature = [], []
    for d in range(1, dim + 1):
        with cols[2 * d - 1]:
            value = slider(t("ps.centre", sub=sub[d - 1]), key(f"c{d}"), defaults[key(f"c{d}")],
                           step=0.1)
            centre.append(round(value, 4))
        with cols[2 * d]:
            value = slider(t("ps.curvature", sub=sub[d - 1]), key(f"h{d}"), defaults[key(f"h{d}")],
                           step=0.1)
            curvature.append(round(value, 4))
    with cols[5]:
        depth = slider(t("ps.depth"), key("depth"), defaults[key("depth")], step=0.1,
                       disabled=shape != "well")
    return ps.TaskLoss(tuple(centre), tuple(curvature), shape,
                       round(depth, 4) if shape == "well" else 1.0)


def task_widgets(defaults: dict, dim: int, n_tasks: int) -> ps.Landscape:
    """Every task's row of widgets, in an expander: the landscape they describe."""
    with st.expander(t("ps.shape_tasks"), expanded=False):
        st.caption(t("ps.shape_caption"))
        return ps.Landscape(tuple(task_row(i, defaults, dim) for i in range(1, n_tasks + 1)))


def step_widgets(defaults: dict, dim: int) -> tuple[TrainConfig, int, torch.Tensor]:
    """α, the step counts and φ: the inner-loop settings, the test steps k and φ."""
    inner_lr = slider(t("ps.inner_lr"), "inner_lr", defaults["inner_lr"],
                      step=0.005, format="%.3f", help=t("ps.inner_lr.help"))
    inner_steps = slider(t("ps.inner_steps"), "inner_steps", defaults["inner_steps"],
                         help=t("ps.inner_steps.help"))
    reptile_inner_steps = slider(t("ps.reptile_inner_steps"), "reptile_inner_steps",
                                 defaults["reptile_inner_steps"],
                                 help=t("ps.reptile_inner_steps.help"))
    test_steps = slider(t("ps.test_steps"), "test_steps", 5, help=t("ps.test_steps.help"))
    phi = [slider(t("ps.phi1") if dim == 2 else t("ps.phi"), "phi1", defaults["phi1"],
                  step=0.01, help=t("ps.phi.help"))]
    if dim == 2:
        phi.append(slider(t("ps.phi2"), "phi2", defaults["phi2"], step=0.01))
    cfg = TrainConfig(inner_lr=inner_lr, inner_steps=inner_steps,
                      reptile_inner_steps=reptile_inner_steps)
    return cfg, test_steps, ps.as_tensor(phi)


@st.cache_data(max_entries=64, show_spinner=t("ps.finding"))  # this page runs anew each time
def cached_optima(land: ps.Landscape, cfg: TrainConfig) -> dict[str, list[float]]:
    """The three optima (grid search + Newton), cached per setting."""
    return {m: p.tolist() for m, p in ps.optima(land, cfg).items()}


@st.cache_data(max_entries=64, show_spinner=t("ps.finding"))
def cached_metasgd(land: ps.Landscape, cfg: TrainConfig) -> tuple[list[float], list[float]]:
    """Meta-SGD's optimum φ and its learned α per parameter, cached per setting."""
    phi, alpha = ps.metasgd_optimum(land, cfg)
    return phi.tolist(), alpha.tolist()


@st.cache_data(max_entries=16, show_spinner=t("ps.meta_training"))
def cached_meta_paths(land: ps.Landscape, start: tuple,
                      cfg: TrainConfig) -> tuple[dict[str, list], list[float]]:
    """φ over meta-iterations for every meta-trained method from `start`, and Meta-SGD's α at
    the end."""
    paths = {m: ps.meta_train_path(m, land, start, cfg) for m in ps.META_TRAINED}
    return {m: p["phi"].tolist() for m, p in paths.items()}, paths["metasgd"][ps.ALPHA][-1].tolist()


def refusal(key: str, units, settings: dict, levers: tuple) -> str | None:
    """On a shared server, one sentence when `units(settings)` is more work than a request may
    do, naming the settings to lower and how far; None when it fits (or the server is one's
    own). Nothing is computed but the count."""
    need = units(settings)
    if not hosting.hosted() or need <= cost.LIMIT_UNITS:
        return None
    fixes = [t("ps.fix", setting=t(f"ps.{name}"), value=value) for name, low in levers
             if (value := cost.largest_fitting(units, settings, name, low)) is not None]
    limit = cost.seconds(cost.LIMIT_UNITS)
    return t(key, seconds=f"{cost.seconds(need):.0f}", limit=f"{limit:.0f}",
             fixes=t("ps.fix.or").join(fixes or [t(f"ps.{levers[0][0]}")]))


def search_refusal(land: ps.Landscape, cfg: TrainConfig, test_steps: int,
                   animated: bool = False) -> str | None:
    """Why this server will not compute these settings' optima, figures and (when `animated`)
    meta-training animation in one request; None when it will. The animation is counted with
    the searches, which a link asks for in the same request."""
    def units(values: dict) -> float:
        work = cost.page_work(land, cfg.replace(**values), test_steps, values.get("iterations", 0))
        return work.search + work.drawn + (work.animation if animated else 0.0)
    levers = cost.ANIMATION_LEVERS if animated else cost.SEARCH_LEVERS
    settings = {name: getattr(cfg, name) for name, _ in levers}
    key = "ps.too_costly.animation" if animated else "ps.too_costly.search"
    return refusal(key, units, settings, levers)


def table(points: dict, land: ps.Landscape, inner_lr: float, k: int,
          alphas: dict) -> pd.DataFrame:
    """The 'current vs potential' numbers for each optimum and for your φ, each adapting with
    its α (Meta-SGD's learned one, yours for the others)."""
    names = {m: t("ps.optimum", method=label(m)) for m in points} | {"phi": t("ps.phi")}
    rows = ps.summary_table(land, points, inner_lr, k, alphas)
    return pd.DataFrame({
        t("ps.column.point"): [names[r["method"]] for r in rows],
        "φ": [format_point(r["phi"]) for r in rows],
        "α": [format_point(r["alpha"]) for r in rows],
        t("ps.column.before"): [r["before"] for r in rows],
        t("ps.column.after_1"): [r["after_1"] for r in rows],
        t("ps.column.after_k", k=k): [r["after_k"] for r in rows],
    })


def show_notes(land: ps.Landscape, cfg: TrainConfig, drawn: dict) -> None:
    """The preset's claim (if still in force) and warnings about the settings."""
    name = st.session_state.landscape
    preset = LANDSCAPES[name]
    if (preset.landscape, preset.config()) == (land, cfg):
        st.info(explanation(name), icon=":material/school:")
    else:
        st.caption(t("ps.changed", name=preset_name(name)))
    for level, message in settings_warnings(land, cfg.inner_lr):
        (st.warning if level == "warning" else st.info)(message)
    for m, p in drawn.items():
        if ps.on_edge(p, land):
            st.warning(t("ps.on_edge", method=label(m)))


def optima_frame(land: ps.Landscape, drawn: dict) -> pd.DataFrame:
    """The optima that exist, with their summed loss."""
    return figs.points_frame(drawn, {m: ps.total_loss(land, p) for m, p in drawn.items()})


def centres_frame(land: ps.Landscape) -> pd.DataFrame:
    """Each task's minimum (its centre), marked on the 2-D pictures."""
    return pd.DataFrame([{"task": i, "x": task.centre[0], "y": task.centre[-1]}
                         for i, task in enumerate(land.tasks)])


def landscape_chart(land: ps.Landscape, drawn: dict, phi: torch.Tensor, inner_lr: float,
                    test_steps: int) -> pd.DataFrame:
    """The main picture: losses, optima and adaptation from φ, with click-to-move-φ."""
    grid = ps.grid(land, 401 if land.dim == 1 else 81)
    curves = figs.curves_frame(grid, ps.task_losses(land, grid))
    path = ps.adapted(land, phi, inner_lr, test_steps)
    paths = figs.adaptation_frame(path, ps.per_task_loss(land, path))
    fig = figs.landscape_figure(curves, optima_frame(land, drawn), paths, tuple(phi.tolist()),
                                centres_frame(land))
    st.plotly_chart(fig, key="ps_chart", on_select=on_click, selection_mode="points")
    return curves


def metasgd_section(land: ps.Landscape, cfg: TrainConfig, drawn: dict,
                    metasgd: tuple[torch.Tensor, torch.Tensor], curves: pd.DataFrame) -> None:
    """MAML's inner steps with one α beside Meta-SGD's with its learned α per parameter, each
    from its own optimum."""
    st.subheader(t("ps.metasgd"))
    st.markdown(describe_metasgd(metasgd, drawn["maml"], land, cfg.inner_lr, cfg.inner_steps))
    points = {m: drawn[m] for m in ("maml", "metasgd")}
    starts = {"maml": (drawn["maml"], cfg.inner_lr), "metasgd": metasgd}
    titles = {"maml": t("ps.title.steps_maml", lr=f"{cfg.inner_lr:.3g}"),
              "metasgd": t("ps.title.steps_metasgd", alpha=format_point(metasgd[1]))}
    for column, (m, (phi, lr)) in zip(st.columns(2), starts.items()):
        path = ps.adapted(land, phi, lr, cfg.inner_steps)
        paths = figs.adaptation_frame(path, ps.per_task_loss(land, path))
        fig = figs.landscape_figure(curves, optima_frame(land, points), paths, None,
                                    centres_frame(land), title=titles[m])
        column.plotly_chart(fig, key=f"ps_steps_{m}")
    st.caption(t("ps.metasgd.caption"))


def directions_chart(land: ps.Landscape, phi: torch.Tensor, cfg: TrainConfig,
                     curves: pd.DataFrame) -> None:
    """The lecture's closing picture: the four update directions from the same φ."""
    d = ps.directions(land, phi, cfg)
    inner = ps.adapted(land, phi, cfg.inner_lr, cfg.inner_steps)
    inner_paths = figs.adaptation_frame(inner, ps.per_task_loss(land, inner))
    st.plotly_chart(figs.directions_figure(figs.directions_frame(d), tuple(phi.tolist()),
                                           curves, inner_paths), key="ps_directions")
    st.caption(t("ps.directions_caption"))


def animation(land: ps.Landscape, phi: torch.Tensor, cfg: TrainConfig, test_steps: int,
              curves: pd.DataFrame, drawn: dict) -> None:
    """Meta-training paths of φ for each method from your φ, as a plotly animation."""
    cols = st.columns(3)
    with cols[0]:
        meta_lr = slider(t("ps.meta_lr"), "meta_lr", 0.3, step=0.01)
    with cols[1]:
        epsilon = slider(t("ps.reptile_step_size"), "reptile_step_size", 0.5, step=0.01)
    with cols[2]:
        iterations = slider(t("ps.iterations"), "iterations", 80, step=10)
    cfg = cfg.replace(meta_lr=meta_lr, reptile_step_size=epsilon, iterations=iterations)
    too_costly = search_refusal(land, cfg, test_steps, animated=True)
    if too_costly:
        st.warning(too_costly)
        return
    paths, alpha = cached_meta_paths(land, tuple(phi.tolist()), cfg)
    blown = [m for m, p in paths.items()
             if any(not math.isfinite(v) or abs(v) > 1e6 for row in p for v in row)]
    if blown:  # the others' paths still teach something
        st.warning(t("ps.blow_up", names=t("list.sep").join(map(label, blown))))
    paths = {m: p for m, p in paths.items() if m not in blown}
    if not paths:
        return
    losses = {m: ps.total_loss(land, ps.as_tensor(p)) for m, p in paths.items()}
    st.plotly_chart(figs.meta_training_figure(curves, figs.meta_paths_frame(paths, losses),
                                              optima_frame(land, drawn)), key="ps_meta")
    elsewhere = [label(m) for m in drawn
                 if m in paths and (ps.as_tensor(paths[m][-1]) - drawn[m]).norm() > 0.05]
    if elsewhere:
        st.info(t("ps.elsewhere", names=t("list.sep").join(elsewhere)))
    st.caption(t("ps.animation_caption"))
    if "metasgd" in paths:
        st.caption(t("ps.metasgd.trained", n=iterations, alpha=format_point(alpha)))


def render() -> None:
    """Read widgets → call the core → build figures → render."""
    problems = link_problems(RULES)
    st.title(t("ps.title"))
    st.markdown(t("ps.intro"))
    if problems:
        st.warning(problems)
    top = st.columns([2.2, 1, 1])
    name = top[0].selectbox(t("ps.preset"), list(LANDSCAPES), key="landscape",
                            on_change=apply_preset, format_func=fixed(preset_name), **BIND)
    defaults = preset_values(LANDSCAPES[name])
    dim = top[1].radio(t("ps.dim"), (1, 2), (1, 2).index(defaults["dim"]),
                       key="dim", horizontal=True, **BIND)
    with top[2]:
        n_tasks = slider(t("ps.tasks"), "tasks", defaults["tasks"])
    land = task_widgets(defaults, dim, n_tasks)
    left, right = st.columns([1, 2.6])
    with left:
        cfg, test_steps, phi = step_widgets(defaults, dim)
    too_costly = search_refusal(land, cfg, test_steps)
    if too_costly:
        right.warning(too_costly)
        return
    found = {m: ps.as_tensor(p) for m, p in cached_optima(land, cfg).items()}
    phi_sgd, alpha = map(ps.as_tensor, cached_metasgd(land, cfg))
    found["metasgd"] = phi_sgd
    drawn = {m: p for m, p in found.items() if not p.isnan().any()}  # Reptile's may not exist
    with right:
        show_notes(land, cfg, drawn)
        st.markdown(describe(found, land, cfg.inner_lr, cfg.inner_steps))
        curves = landscape_chart(land, drawn, phi, cfg.inner_lr, test_steps)
    frame = table(drawn | {"phi": phi}, land, cfg.inner_lr, test_steps, {"metasgd": alpha})
    st.dataframe(frame, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.4f") for c in frame.columns[3:]})
    st.caption(t("ps.table_caption"))
    metasgd_section(land, cfg, drawn, (phi_sgd, alpha), curves)
    st.subheader(t("ps.directions"))
    directions_chart(land, phi, cfg, curves)
    if st.toggle(t("ps.animate"), key="animate", **BIND):
        animation(land, phi, cfg, test_steps, curves, drawn)


render()
