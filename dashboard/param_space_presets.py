"""The Parameter space page's preset landscapes and the sentences it writes about the numbers."""
from __future__ import annotations

import re
from dataclasses import dataclass

from torch import Tensor

from core.engine.config import TrainConfig
from core.param_space.landscape import Landscape, TaskLoss, loss_after, total_loss
from report.i18n import t, t_or


@dataclass(frozen=True)
class LandscapePreset:
    """A named landscape with the settings that show its point, and what it shows."""

    landscape: Landscape
    """The tasks."""
    explanation: str
    """One or two sentences on what the preset shows; tests/test_param_space.py checks them."""
    inner_lr: float = 0.1
    """α, the inner step size the explanation is about."""
    inner_steps: int = 1
    """Inner steps in MAML's objective."""
    reptile_inner_steps: int = 5
    """Inner steps before each Reptile update."""

    def config(self) -> TrainConfig:
        """The preset's inner-loop settings as the core's TrainConfig."""
        return TrainConfig(inner_lr=self.inner_lr, inner_steps=self.inner_steps,
                           reptile_inner_steps=self.reptile_inner_steps)


def format_point(values) -> str:
    """'0.42' or '(0.42, −1.10)': a point or a per-parameter α."""
    values = values.tolist() if isinstance(values, Tensor) else values
    values = [f"{v:.2f}".replace("-", "−") for v in values]
    return values[0] if len(values) == 1 else f"({', '.join(values)})"


def format_phi(phi) -> str:
    """'φ = 0.42' or 'φ = (0.42, −1.10)'."""
    return "φ = " + format_point(phi)


def preset_key(name: str) -> str:
    """The catalogue's id of a preset: 'Two wells far apart' → 'two-wells-far-apart'."""
    return re.sub(r"\W+", "-", name.lower()).strip("-")


def preset_name(name: str) -> str:
    """A preset's name in the current language (the English name is its value, in the URL too)."""
    return t_or(f"ps.preset.{preset_key(name)}.name", name)


def explanation(name: str) -> str:
    """A preset's explanation in the current language."""
    return t_or(f"ps.preset.{preset_key(name)}.explanation", LANDSCAPES[name].explanation)


def describe(points: dict[str, Tensor], landscape: Landscape, inner_lr: float,
             inner_steps: int) -> str:
    """Two sentences, generated from the numbers, on what separates the three optima."""
    pre, maml, rep = points["pretrain"], points["maml"], points["reptile"]
    scale = landscape.domain[1] - landscape.domain[0]
    steps = t("ps.steps.many" if inner_steps > 1 else "ps.steps.one", n=inner_steps,
              lr=f"{inner_lr:.3g}")
    if (pre - maml).norm() < 1e-3 * scale:
        first = t("ps.describe.agree", phi=format_phi(maml), steps=steps)
    else:
        now = [f"{total_loss(landscape, p).item():.3f}" for p in (pre, maml)]
        later = [f"{loss_after(landscape, p, inner_lr, inner_steps).item():.3f}"
                 for p in (pre, maml)]
        first = t("ps.describe.differ", pre=format_phi(pre), maml=format_phi(maml), steps=steps,
                  now_pre=now[0], now_maml=now[1], later_pre=later[0], later_maml=later[1])
    if rep.isnan().any():
        return t("ps.describe.join", first=first, second=t("ps.describe.no_reptile"))
    d_pre, d_maml = (rep - pre).norm().item(), (rep - maml).norm().item()
    if max(d_pre, d_maml) < 1e-3 * scale:
        second = t("ps.describe.same")
    else:
        closer = "maml" if d_maml < d_pre else "pretrain"
        second = t(f"ps.describe.closer_{closer}", phi=format_phi(rep),
                   near=f"{min(d_pre, d_maml):.2f}", far=f"{max(d_pre, d_maml):.2f}")
    return t("ps.describe.join", first=first, second=second)


def describe_metasgd(metasgd: tuple[Tensor, Tensor], maml: Tensor, landscape: Landscape,
                     inner_lr: float, inner_steps: int) -> str:
    """What Meta-SGD's learned α buys, from the numbers: its loss after the objective's inner
    steps against MAML's optimum with one α, and in 2-D how far apart its two step sizes are."""
    phi, alpha = metasgd
    losses = [f"{loss_after(landscape, p, lr, inner_steps).item():.3f}"
              for p, lr in ((phi, alpha), (maml, inner_lr))]
    steps = t("ps.inner.many" if inner_steps > 1 else "ps.inner.one", n=inner_steps)
    text = t("ps.metasgd.describe", alpha=format_point(alpha), phi=format_phi(phi), steps=steps,
             loss=losses[0], maml_loss=losses[1], lr=f"{inner_lr:.3g}")
    if float(losses[0]) == 0:
        text = t("ps.describe.join", first=text, second=t("ps.metasgd.exact"))
    if len(alpha) == 1:
        return text
    low, high = sorted(alpha.abs().tolist())
    if high > 2 * low:
        text = t("ps.describe.join", first=text, second=t(
            "ps.metasgd.ratio", ratio=f"{high / low:.3g}" if low > 0 else "∞",
            axis="φ₂" if alpha[1].abs() > alpha[0].abs() else "φ₁"))
    return text


def settings_warnings(landscape: Landscape, inner_lr: float) -> list[tuple[str, str]]:
    """(level, message) for step sizes that make adaptation misbehave; level 'warning' or 'info'."""
    notes = []
    for n, task in enumerate(landscape.tasks, 1):
        ah = inner_lr * max(task.curvature)
        if ah > 2 and task.shape == "quadratic":
            notes.append(("warning", t("ps.warn.diverges", n=n, ah=f"{ah:.2f}")))
        elif ah > 1:
            notes.append(("info", t("ps.warn.zigzag", n=n, ah=f"{ah:.2f}")))
    if all(t.shape == "quadratic" for t in landscape.tasks) and all(
            abs(inner_lr * h - 1) < 1e-9 for t in landscape.tasks for h in t.curvature):
        notes.append(("warning", t("ps.warn.every_phi")))
    return notes


def _wells(*specs: tuple) -> Landscape:
    """Landscape of wells from (centre, curvature, depth) triples."""
    return Landscape(tuple(TaskLoss(c, h, "well", d) for c, h, d in specs))


def _quadratics(*specs: tuple) -> Landscape:
    """Landscape of quadratic bowls from (centre, curvature) pairs."""
    return Landscape(tuple(TaskLoss(c, h, "quadratic") for c, h in specs))


LANDSCAPES: dict[str, LandscapePreset] = {
    "Two wells far apart": LandscapePreset(
        _wells(((-2.0,), (0.5,), 1.0), ((2.0,), (0.5,), 1.2)),
        "Pre-training sits in the deeper well (task 2) and gives up task 1; MAML sits between "
        "the wells, from where one step of α = 2 heads into both, so its loss after adaptation "
        "is far lower.", inner_lr=2.0),
    "Two tasks, one sharp and one wide minimum": LandscapePreset(
        _wells(((-1.0,), (8.0,), 3.0), ((1.5,), (1.0,), 3.0)),
        "Pre-training stays near the sharp minimum (φ = −1), which is costly to miss; MAML moves "
        "toward the wide one, because one step of α = 1/8 (one over the sharp task's curvature) "
        "nearly solves the sharp task from close by.", inner_lr=0.125),
    "Equal-curvature quadratics: the optima coincide": LandscapePreset(
        _quadratics(((-1.5,), (2.0,)), ((1.0,), (2.0,))),
        "Each step shrinks every task's distance to its minimum by the same factor 1 − αh, so "
        "pre-training, MAML and Reptile all choose the mean of the centres, φ = −0.25.",
        inner_lr=0.2),
    "Quadratics with different curvatures": LandscapePreset(
        _quadratics(((-1.0,), (4.0,)), ((1.5,), (1.0,))),
        "For quadratics each optimum is a weighted mean of the centres: pre-training weights a "
        "task by h, MAML by h(1 − αh)², so the sharp task, which one step nearly solves, counts "
        "4 times more than the wide one for pre-training but 4 times less for MAML.",
        inner_lr=0.2),
    "Two crossing valleys (2-D)": LandscapePreset(
        _wells(((-1.5, 0.5), (6.0, 0.5), 6.0), ((1.5, -0.5), (0.5, 6.0), 6.0)),
        "Each task is sharp along one axis and flat along the other. Pre-training takes each "
        "coordinate from the task that is sharp along it, near (−1.5, −0.5); MAML moves toward "
        "the flat directions' minima (1.5, 0.5), because one step fixes a sharp direction but "
        "barely moves a flat one.", inner_lr=0.16),
    "Four wells, three answers (2-D)": LandscapePreset(
        _wells(((-1.5, -1.5), (1.0, 1.0), 1.0), ((-1.5, 1.5), (1.0, 1.0), 1.1),
               ((1.5, -1.5), (1.0, 1.0), 1.0), ((1.5, 1.5), (1.0, 1.0), 1.3)),
        "Pre-training sits in the deepest well (task 4); MAML, with one inner step, sits midway "
        "between the two deepest wells (tasks 2 and 4), which one step reaches from there; "
        "Reptile, with five steps, sits near the centre, from which five steps reach all four.",
        inner_lr=1.0),
    "Steep across, flat along: a step size per parameter (2-D)": LandscapePreset(
        _quadratics(((-1.5, -2.0), (4.0, 0.25)), ((0.0, 2.0), (5.0, 0.2)),
                    ((1.5, 0.0), (3.0, 0.3))),
        "Every task is steep along φ₁ (h = 3 to 5) and flat along φ₂ (h = 0.2 to 0.3). One α "
        "must suit the steep direction, so a step barely moves along the flat one and MAML "
        "still has a large loss after it. Meta-SGD learns a step size per parameter, about 1/h "
        "along each axis (16 times larger along φ₂), and one step nearly solves every task.",
        inner_lr=0.18),
}
