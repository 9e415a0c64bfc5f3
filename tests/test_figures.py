"""Frames, generated sentences and figures on hand-made results whose story is known."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from core.engine.algorithms import AdaptPlan
from core.engine.evaluation import make_learner
from core.engine.events import Checkpoint, MethodResult, Progress
from core.engine.families import make_family
from core.engine.tasks import generator
from dashboard import adaptation
from report import frames, story
from report.figures.compare import adaptation_curve_figure, before_after_figure, gain_figure
from report.figures.inspect import CLICK_LAYER, SUPPORT, regions_figure, regression_figure
from report.figures.training import checkpoint_figure, meta_loss_figure
from report.theme import METHOD_COLORS, color

STEPS = (0, 1, 2, 3)
TASKS = 200


def _result(method: str, curve: list[float], seed: int = 0, diverged: str | None = None,
            spread: float = 0.05) -> MethodResult:
    """Per-task losses scattered around `curve` (one value per step), same tasks every step."""
    noise = torch.randn(1, TASKS, generator=torch.Generator().manual_seed(seed))
    noise = (noise - noise.mean()) * spread  # zero mean: the step means are exactly `curve`
    scores = {"loss": torch.tensor(curve).view(-1, 1) + noise}
    history = [Progress(method, seed, i, 100, 3.0 - i / 50, 0.1) for i in range(10, 101, 10)]
    rows = [{"method": method, "step": s, "metric": "loss", "mean": curve[s] + 0.5}
            for s in (0, 1, 3)]
    checkpoints = [Checkpoint(method, seed, it, [{**r, "mean": r["mean"] - it / 200} for r in rows])
                   for it in (0, 50, 100)]
    return MethodResult(method, seed, {}, 1.0, scores, history, checkpoints, diverged)


@pytest.fixture(scope="module")
def results() -> list[MethodResult]:
    """Pre-training best before adaptation, MAML best from step 1 on; Reptile diverged."""
    return [_result("pretrain", [1.0, 0.9, 0.85, 0.8], seed=s) for s in (0, 1)] + \
           [_result("maml", [2.0, 0.5, 0.4, 0.35], seed=s) for s in (0, 1)] + \
           [_result("reptile", [float("nan")] * 4, seed=s, diverged="training diverged")
            for s in (0, 1)]


@pytest.fixture(scope="module")
def df(results) -> pd.DataFrame:
    return frames.results_frame(results, STEPS)


def test_results_frame_pools_seeds_and_marks_divergence(df):
    maml = df[(df.method == "maml") & (df.step == 1)].iloc[0]
    assert maml.n_tasks == 2 * TASKS and maml.ci_low < maml["mean"] < maml.ci_high
    assert (df[df.method == "reptile"].diverged == "training diverged").all()
    assert df[df.method == "reptile"]["mean"].isna().all()


def test_gain_is_paired_and_signed_as_improvement(results):
    gains = frames.gain_frame(results, STEPS, "loss", 1).set_index("method")
    assert gains.loc["maml", "gain"] == pytest.approx(1.5, abs=1e-5)
    assert gains.loc["pretrain", "gain"] == pytest.approx(0.1, abs=1e-5)
    # The same tasks at both steps: the paired CI is as narrow as float rounding.
    assert gains.loc["maml", "ci_high"] - gains.loc["maml", "ci_low"] < 1e-4
    assert math.isnan(gains.loc["reptile", "gain"])


def test_sentences_come_from_the_numbers(df, results):
    assert story.leader_sentence(df, "loss") == (
        "Pre-training leads before adaptation; MAML leads from step 1 on.")
    gains = frames.gain_frame(results, STEPS, "loss", 1)
    text = story.headline(df, gains, "loss", 1)
    assert text == ("**Now**, before adaptation (step 0): **Pre-training** has the lowest loss "
                    "(1.00). **Potential**, the score after 1 step on each new task's support "
                    "set: **MAML** has the lowest loss (0.500). MAML also gains the most from "
                    "adapting (1.50).")


def test_the_headline_names_potential_by_the_score_after_k_steps_not_by_the_gain():
    """Scratch starts far lower and gains the most, MAML is best after one step: the potential
    is MAML's, the gain is Scratch's and is called a gain, with why it is bigger."""
    runs = [_result("pretrain", [1.0, 0.9, 0.85, 0.8]), _result("maml", [2.0, 0.5, 0.4, 0.35]),
            _result("scratch", [4.0, 1.5, 1.2, 1.0])]
    df = frames.results_frame(runs, STEPS)
    text = story.headline(df, frames.gain_frame(runs, STEPS, "loss", 1), "loss", 1)
    now, potential, gain = text.split(". ", 2)
    assert now.endswith("**Pre-training** has the lowest loss (1.00)")
    assert potential.startswith("**Potential**") and "**MAML** has the lowest loss (0.500)" in potential
    assert gain.startswith("The biggest *gain* from adapting (after minus before) is "
                           "Scratch (random init)'s (2.50): a low start leaves more room to gain")
    assert "potential" not in gain.split(":")[0].lower()  # the gain is never named potential
    at_three = story.headline(df, frames.gain_frame(runs, STEPS, "loss", 3), "loss", 3)
    assert "after 3 steps on each new task's support set: **MAML** has the lowest loss (0.350)" \
        in at_three and "Scratch (random init)'s (3.00)" in at_three


def test_sentence_flips_when_the_numbers_flip():
    swapped = [_result("pretrain", [2.0, 0.5, 0.4, 0.3]), _result("maml", [1.0, 0.9, 0.8, 0.7])]
    df = frames.results_frame(swapped, STEPS)
    assert story.leader_sentence(df, "loss") == (
        "MAML leads before adaptation; Pre-training leads from step 1 on.")


def test_ties_are_reported_not_hidden():
    tied = [_result("maml", [1.0, 0.5, 0.4, 0.3], spread=1.0),
            _result("pretrain", [1.01, 0.9, 0.8, 0.7], seed=1, spread=1.0)]
    df = frames.results_frame(tied, STEPS)
    assert "but Pre-training is within its 95 % CI" in story.headline(
        df, frames.gain_frame(tied, STEPS, "loss", 1), "loss", 1)
    assert story.leader_sentence(df, "loss") == (
        "MAML leads at every step from 0 to 3 (Pre-training within its 95 % CI at some steps).")
    level = [_result("maml", [1.0, 0.5, 0.4, 0.3], spread=1.0),
             _result("pretrain", [1.01, 0.49, 0.41, 0.31], seed=1, spread=1.0)]
    df = frames.results_frame(level, STEPS)
    assert story.leader_sentence(df, "loss") == (
        "MAML is at the front at every step from 0 to 3, but never clearly: Pre-training is "
        "within its 95 % CI at every step.")
    assert frames.crossings(df, "loss").empty  # no clear lead changed hands: no star


def test_crossing_is_between_the_steps_where_the_lead_changes(df):
    cross = frames.crossings(df, "loss")
    assert list(cross.winner) == ["maml"] and list(cross.loser) == ["pretrain"]
    assert 0 < cross.x.iloc[0] < 1  # 2 - 1.5t = 1 - 0.1t at t = 1/1.4
    assert cross.x.iloc[0] == pytest.approx(1 / 1.4, abs=0.01)


def test_before_after_figure_has_ci_bars_colours_and_a_diverged_note(df):
    fig = before_after_figure(df, "loss", 1)
    before, after = fig.data
    assert list(before.x) == ["Pre-training", "MAML", "Reptile"]
    assert "step 0" in before.name and "after 1 step" in after.name
    assert list(after.marker.color[:2]) == [METHOD_COLORS["pretrain"], METHOD_COLORS["maml"]]
    assert np.all(np.asarray(after.error_y.array[:2]) > 0)
    assert any(a.text == "diverged" for a in fig.layout.annotations)


def test_adaptation_curve_has_one_line_per_method_over_the_steps(df):
    fig = adaptation_curve_figure(df, "loss", frames.crossings(df, "loss"), chance=None)
    bands = [t for t in fig.data if t.fill == "toself"]
    assert bands and all(t.mode == "lines" for t in bands)  # no stray markers on short curves
    lines = [t for t in fig.data if t.mode and "lines" in t.mode and t.fill != "toself"]
    assert [t.name for t in lines] == ["Pre-training", "MAML"]  # the diverged one is left out
    assert all(list(t.x) == list(STEPS) for t in lines)
    assert lines[1].line.color == color("maml")
    stars = [t for t in fig.data if t.name == "lead changes"]
    assert stars and "MAML overtakes Pre-training" in stars[0].text[0]
    assert "fine-tuning steps" in fig.layout.xaxis.title.text


def test_accuracy_charts_show_chance(df):
    acc = df.assign(metric="accuracy")
    fig = before_after_figure(acc, "accuracy", 1, chance=1 / 3)
    assert any("chance" in (a.text or "") for a in fig.layout.annotations)
    assert "higher is better" in fig.layout.yaxis.title.text


def test_gain_figure_sorts_methods_and_skips_diverged(results):
    fig = gain_figure(frames.gain_frame(results, STEPS, "loss", 1))
    assert list(fig.data[0].y) == ["Pre-training", "MAML"]
    assert "step 0 − step 1" in fig.layout.xaxis.title.text.replace("<br>", " ")  # wrapped


def test_a_method_whose_later_steps_diverge_keeps_its_sound_steps():
    """Meta-SGD's learned α suits one step and overshoots on later ones: its curve and gains
    stop where its adaptation diverged, instead of the method vanishing."""
    nan = float("nan")
    sgd = _result("metasgd", [2.0, 0.3, nan, nan])
    sgd.diverged, sgd.diverged_from = "test-time adaptation diverged at step 2", 2
    mine = [_result("maml", [2.0, 0.5, 0.4, 0.35]), sgd]
    fig = adaptation_curve_figure(frames.results_frame(mine, STEPS), "loss", None, chance=None)
    line = next(t for t in fig.data if t.name == "Meta-SGD (learned α)" and t.fill != "toself")
    assert list(line.x) == [0, 1] and line.y[1] == pytest.approx(0.3)
    # Meta-SGD leads at step 1 and then diverges: nobody overtook it, so no crossing is drawn
    assert frames.crossings(frames.results_frame(mine, STEPS), "loss").empty
    gains = {k: frames.gain_frame(mine, STEPS, "loss", k).set_index("method") for k in (1, 3)}
    assert gains[1].loc["metasgd", "gain"] == pytest.approx(1.7)
    assert gains[1].loc["metasgd", "diverged"] == ""
    assert math.isnan(gains[3].loc["metasgd", "gain"]) and gains[3].loc["metasgd", "diverged"]


def test_training_figures(results):
    fig = meta_loss_figure(frames.history_frame(results))
    assert {t.name.split(":")[0] for t in fig.data if t.showlegend is not False} >= {"MAML",
                                                                                  "Pre-training"}
    checkpoints = frames.checkpoint_frame(results)
    assert set(checkpoints.iteration) == {0, 50, 100}
    fig = checkpoint_figure(checkpoints, "loss", trained_steps=1, final_step=3)
    assert [a.text for a in fig.layout.annotations][:2] == ["Pre-training", "MAML"]
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert legend == ["before adaptation (step 0)", "after 1 step (as in training)",
                      "after 3 steps"]
    sentences = story.training_sentences(checkpoints, "loss", 1)
    assert sentences[1].startswith("**MAML**: after 1 step the validation loss fell (better)")


def test_meta_loss_on_a_log_axis_labels_powers_of_ten_only():
    """Losses over several decades go on a log axis whose labels do not pile up (2…9 dropped)."""
    history = pd.DataFrame({"method": "maml", "seed": 0, "iteration": range(1, 101),
                            "meta_loss": [10 ** (-i / 25) for i in range(100)]})
    fig = meta_loss_figure(history)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.dtick == 1
    flat = meta_loss_figure(history.assign(meta_loss=1.0))
    assert flat.layout.yaxis.type == "linear" and flat.layout.yaxis.dtick is None


def _trained(family, hidden=(8,)):
    learner = make_learner(family, hidden)
    phi = learner.model.init(generator(0, "init"))
    return learner, {"maml": phi, "pretrain": {k: v * 0.5 for k, v in phi.items()}}


def plans(trained, inner_lr):
    """Each method's test-time plan: every parameter adapted with one α."""
    return {m: AdaptPlan(phi, inner_lr) for m, phi in trained.items()}


def test_regression_inspection_adapts_every_method_to_edited_points():
    family = make_family("sinusoid", shots=5)
    learner, trained = _trained(family)
    task = adaptation.held_out_task(family, seed=0, test_tasks=10, index=3)
    support = adaptation.support_frame(task, family)
    support = pd.concat([support, pd.DataFrame([{"x": 0.0, "y": 4.0}])], ignore_index=True)
    edited = adaptation.with_support(task, support, family)
    assert edited.support_x.shape == (1, 6, 1)
    result = adaptation.adapt_all(learner, plans(trained, 0.05), edited, steps=3)
    assert set(result.curves.step) == {0, 1, 2, 3} and set(result.curves.method) == set(trained)
    truth = adaptation.truth_frame(family, task, result.axes[0])
    fig = regression_figure(result.curves, truth, support, adaptation.query_frame(task, family),
                            result.scores, step=2)
    tags = [t.meta for t in fig.data]  # what the page tells clicks apart by, in any language
    assert tags.count(CLICK_LAYER) == 2 and tags.count(SUPPORT) == 2
    assert "loss" in fig.layout.annotations[0].text


def test_inspection_adapts_as_each_methods_plan_says():
    """A per-parameter α equal everywhere is plain SGD; adapting only the head is not."""
    family = make_family("sinusoid", shots=5)
    learner, trained = _trained(family)
    phi = trained["maml"]
    plans = {"maml": AdaptPlan(phi, 0.05),
             "metasgd": AdaptPlan(phi, {k: torch.full_like(v, 0.05) for k, v in phi.items()}),
             "anil": AdaptPlan(phi, 0.05, learner.model.head_keys)}
    task = adaptation.held_out_task(family, seed=0, test_tasks=10, index=3)
    scores = adaptation.adapt_all(learner, plans, task, steps=2).scores
    after = scores[scores.step == 2].set_index("method").value
    assert after["metasgd"] == pytest.approx(after["maml"])
    assert after["anil"] != pytest.approx(after["maml"])


def test_classification_inspection_draws_regions_and_cleans_labels():
    family = make_family("clusters")
    learner, trained = _trained(family)
    task = adaptation.new_task(family, seed=4)
    support = adaptation.support_frame(task, family)
    bad = pd.concat([support, pd.DataFrame([{"x1": 0.0, "x2": 0.0, "label": 7}])])
    assert adaptation.same_points(adaptation.clean_support(bad, family), support)
    result = adaptation.adapt_all(learner, plans(trained, 0.5), task, steps=2)
    assert result.regions["maml"].shape == (3, adaptation.REGION_POINTS, adaptation.REGION_POINTS)
    fig = regions_figure(result.regions, result.axes, support, adaptation.query_frame(task, family),
                         result.scores, step=2, ways=family.ways, selected=1)
    assert sum(t.type == "heatmap" for t in fig.data) == 2
    empty = adaptation.adapt_all(learner, plans(trained, 0.5), adaptation.with_support(
        task, support.iloc[0:0], family), steps=2)
    assert set(empty.scores.step) == {0}  # no points: nothing to adapt to



def test_typical_task_is_the_median_gain_over_methods_not_task_zero():
    # loss at steps (0, 1) for 5 tasks; gains (step 0 − step 1) averaged over two methods are
    # 4, 0, 2, 1, 3 → the median gain 2 is task 2.
    a = torch.tensor([[5.0, 1.0, 3.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    b = torch.tensor([[5.0, 1.0, 3.0, 2.0, 4.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    results = [MethodResult("maml", 0, {}, 0.0, {"loss": a}),
               MethodResult("pretrain", 0, {}, 0.0, {"loss": b}),
               MethodResult("reptile", 1, {}, 0.0, {"loss": -a})]  # another seed: ignored
    assert frames.typical_task(results, 0, (0, 1), 1) == 2
    flipped = [MethodResult("maml", 0, {}, 0.0, {"loss": -a})]  # every gain's sign reversed
    assert frames.typical_task(flipped, 0, (0, 1), 1) == 2  # still the median
    assert frames.typical_task([], 0, (0, 1), 1) == 0


def test_titles_are_wrapped_to_fit_a_phone_in_both_languages(df, results):
    """A 390 px screen holds about LINE_COLUMNS columns of title (a CJK character takes two):
    every line of every Compare and Training chart's title and axis titles fits, and the legend
    sits under the title, clear of the axis titles."""
    from report.figures.compare import LINE_COLUMNS, _columns, wrap
    from report.i18n import using
    assert wrap("Adaptation curve: how each method improves step by step") == (
        "Adaptation curve: how each method<br>improves step by step")
    assert wrap("适应曲线：每种方法如何一步步改进，" * 2).split("<br>")[0] == (
        "适应曲线：每种方法如何一步步改进，适")  # 18 characters, 36 columns
    for lang in ("en", "zh"):
        with using(lang):
            gains = frames.gain_frame(results, STEPS, "loss", 1)
            figs = [before_after_figure(df, "loss", 1), adaptation_curve_figure(df, "loss"),
                    gain_figure(gains), meta_loss_figure(frames.history_frame(results)),
                    checkpoint_figure(frames.checkpoint_frame(results), "loss", 1, 3)]
        for fig in figs:
            texts = [fig.layout.title.text, fig.layout.xaxis.title.text or "",
                     fig.layout.yaxis.title.text or ""]
            assert all(_columns(line) <= LINE_COLUMNS for text in texts
                       for line in text.split("<br>")), texts
            assert fig.layout.legend.yref == "container" and fig.layout.legend.y > 0.5  # on top
            assert fig.layout.legend.y < fig.layout.title.y
