"""The Draw page's computation: drawn characters as a task, each method adapted to it by core's
`adaptation_trace`, and the class probabilities of every query drawing (none peeks at another).

No Streamlit here: the page (dashboard/pages/draw.py) draws, this module computes, so the tests
call the same functions the page does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from core.data.omniglot import drawing_problem, ink_from_rgba
from core.engine.algorithms import AdaptPlan
from core.engine.evaluation import FamilyLearner, make_learner, plan_trace
from core.engine.events import MethodResult
from core.engine.families.base import TaskFamily
from core.engine.models import Params
from core.engine.tasks import TaskBatch
from core.runs import gallery
from core.runs.runfile import SavedRun
from report.i18n import t
from report.story import _names as method_names
from report.theme import steps_text

MAX_SHOTS = 5
MAX_QUERIES = 5
# Steps shown: the lecture's point is made by step 1; five keep every method's adaptation of
# one drawn task within a few tenths of a CPU-second (docs/draw.md), ten would double it.
MAX_STEPS = 5


@dataclass(frozen=True)
class DrawModel:
    """The gallery's Omniglot run, ready to adapt: its family (no data read), the learner and
    each method's test-time plan, in the run's method order."""

    family: TaskFamily
    learner: FamilyLearner
    plans: dict[str, AdaptPlan]
    max_step: int  # the most steps shown: MAX_STEPS, or fewer if the run scored fewer
    left_out: tuple[str, ...] = ()  # methods whose test-time steps diverged in the run

    @property
    def ways(self) -> int:
        """Classes per drawn task: the head's outputs."""
        return self.family.ways

    @property
    def image_size(self) -> int:
        """Side of the images the model sees."""
        return self.family.image_size


def draw_model(run: SavedRun) -> DrawModel:
    """The model of a saved Omniglot run; only its parameters are needed, never the data."""
    spec = run.spec()
    family, steps = spec.make_family(), spec.config.eval_steps
    shown = min(MAX_STEPS, spec.config.max_eval_step)

    def sound(result: MethodResult) -> bool:  # its scored steps up to `shown` are reportable
        return any(s >= shown for s in steps[:result.sound_steps(len(steps))])

    mine = [r for r in run.results if r.seed == spec.seeds[0] and r.plan is not None]
    plans = {r.method: r.plan for r in mine if sound(r)}
    return DrawModel(family, make_learner(family, spec.config.hidden), plans, shown,
                     tuple(r.method for r in mine if r.method not in plans))


def gallery_model() -> DrawModel | None:
    """The Draw page's model: the gallery's Omniglot entry, or None when it is not built."""
    try:
        return draw_model(gallery.load(gallery.OMNIGLOT_KEY))
    except (OSError, ValueError):
        return None


def images(canvases: Sequence[np.ndarray], image_size: int) -> np.ndarray:
    """Canvas pixels (each H, W, 4 RGBA) as the images the model sees: (n, size, size) floats,
    through the Omniglot family's own preprocessing."""
    return np.stack([ink_from_rgba(c, image_size) for c in canvases]) if len(canvases) else \
        np.zeros((0, image_size, image_size), np.float32)


def problems(drawn: np.ndarray) -> list[str | None]:
    """Per preprocessed drawing: why it is unlike any character ('empty', 'dot', 'filled'), or None."""
    return [drawing_problem(image) for image in drawn]


def drawn_task(support: np.ndarray, shots: int, query: np.ndarray) -> TaskBatch:
    """One task from drawings: `support` (ways · shots, H, W) class-major, as the family lays out
    its tasks (class 0's shots first), and `query` (queries, H, W), whose labels are unknown."""
    ways = len(support) // shots
    labels = torch.arange(ways).repeat_interleave(shots).unsqueeze(0)
    as_x = (lambda a: torch.tensor(np.asarray(a, np.float32)).unsqueeze(1).unsqueeze(0))
    return TaskBatch(as_x(support), labels, as_x(query),
                     torch.zeros(1, len(query), dtype=torch.long), {})


def probabilities(model: DrawModel, task: TaskBatch, steps: int) -> dict[str, np.ndarray]:
    """Per method: the class probabilities of every query drawing before adaptation and after
    each of `steps` steps, (steps + 1, queries, ways). A query drawing's probabilities cannot
    depend on the other drawings scored beside it (no peeking)."""
    learner = model.learner
    # Normalised by the support set (or per image), a drawing's output cannot depend on its
    # companions (tests/test_convnet.py, tests/test_draw.py), so one pass scores them all; batch
    # norm over the batch would peek, so there each drawing gets its own pass.
    alone = getattr(model.family, "norm", "") == "transductive"

    def probe(params: Params, tasks: TaskBatch) -> np.ndarray:
        logits = learner.predict(params, tasks.query_x, tasks.support_x, alone=alone)
        return torch.softmax(logits[0], -1).double().numpy()

    return {method: np.stack(list(plan_trace(learner, plan, task, range(steps + 1), probe).values()))
            for method, plan in model.plans.items()}


@dataclass(frozen=True)
class Pick:
    """What one method says about one query drawing at one step."""

    method: str
    label: int  # the class it picks
    probability: float
    unsure: bool  # its highest probability is near chance


UNSURE_MARGIN = 0.1  # a highest probability within this of chance (1 / ways) is "unsure"


def picks(probs: dict[str, np.ndarray], step: int, query: int) -> list[Pick]:
    """Each method's pick for one query drawing after `step` steps."""
    out = []
    for method, table in probs.items():
        p = table[step, query]
        label = int(p.argmax())
        out.append(Pick(method, label, float(p[label]), bool(p[label] < 1 / len(p) + UNSURE_MARGIN)))
    return out


def groups(chosen: list[Pick]) -> list[tuple[int | None, list[Pick]]]:
    """Picks grouped by class (None: unsure), the largest group first, then by class."""
    by: dict[int | None, list[Pick]] = {}
    for pick in chosen:
        by.setdefault(None if pick.unsure else pick.label, []).append(pick)
    return sorted(by.items(), key=lambda kv: (kv[0] is None, -len(kv[1]), kv[0] or 0))


def slot_rgba(strokes: np.ndarray | None, example: np.ndarray | None) -> np.ndarray:
    """What one canvas holds, as RGBA pixels: the visitor's strokes (the canvas's RGBA, or None
    before any), laid over an example drawing (grey, 0 = ink) when "use Omniglot drawings" put one
    behind it. Without strokes an example is passed at its own size, exactly as the reader sees it."""
    if example is None:
        return strokes if strokes is not None else np.zeros((1, 1, 4), np.uint8)
    paper = Image.fromarray(np.asarray(example, np.uint8), "L").convert("RGBA")
    if strokes is None or not strokes[..., 3].any():
        return np.asarray(paper)
    paper = paper.resize((strokes.shape[1], strokes.shape[0]), Image.Resampling.NEAREST)
    paper.alpha_composite(Image.fromarray(np.ascontiguousarray(strokes), "RGBA"))
    return np.asarray(paper)


def sentence(chosen: list[Pick], step: int, query: int) -> str:
    """One sentence from the numbers: which class each method picks for drawing `query`, with
    its probability, after `step` steps (grouped: methods that agree share a clause)."""
    clauses = []
    for cls, members in groups(chosen):
        probs = t("punct.comma").join(f"{p.probability:.2f}" for p in members)
        many = "many" if len(members) > 1 else "one"
        if cls is None:
            clauses.append(t(f"draw.says.unsure.{many}", methods=method_names([p.method for p in members]),
                             p=probs))
        else:
            clauses.append(t(f"draw.says.pick.{many}", methods=method_names([p.method for p in members]),
                             c=cls + 1, p=probs))
    when = t("draw.before") if step == 0 else t("draw.after", steps=steps_text(step))
    return t("draw.sentence", q=query + 1, when=when, clauses=t("punct.semicolon").join(clauses))
