"""Training-loop behaviour: determinism, divergence handling, and the lecture's headline claim."""
import json
import math

import pytest
import torch

from core.cli.main import main as cli_main
from core.engine.algorithms import METHODS as REGISTRY
from core.engine.config import TrainConfig
from core.engine.evaluation import gain_ci, make_learner, mean_ci
from core.engine.events import MethodResult, Progress
from core.engine.families import make_family
from core.engine.tasks import generator
from core.engine.training import compare, reportable
from core.results import pool_seeds, pooled_rows
from core.settings import SettingError

METHODS = ["maml", "fomaml", "reptile", "pretrain", "anil", "metasgd", "scratch"]


def run(family, methods, cfg, seeds=None):
    events = list(compare(family, methods, cfg, seeds))
    return events, [e for e in events if isinstance(e, MethodResult)]


def test_same_seed_bit_identical_and_different_seeds_differ():
    family = make_family("sinusoid")
    cfg = TrainConfig(iterations=30, test_tasks=20, val_tasks=10, checkpoints=2)
    _, a = run(family, METHODS, cfg)
    _, b = run(family, METHODS, cfg)
    _, c = run(family, METHODS, cfg.replace(seed=1))
    for ra, rb, rc in zip(a, b, c):
        for k in ra.params:
            assert torch.equal(ra.params[k], rb.params[k])
            assert not torch.equal(ra.params[k], rc.params[k])
        assert torch.equal(ra.scores["loss"], rb.scores["loss"])


def _reference_training(family, method_name, cfg):
    """φ after training `method_name` as a plain loop with torch.optim's Adam / SGD would give it."""
    method, learner = REGISTRY[method_name], make_learner(family, cfg.hidden)
    phi = {k: v.requires_grad_(True) for k, v in
           method.start(learner, learner.model.init(generator(cfg.seed, "init")), cfg).items()}
    tasks = generator(cfg.seed, "train")
    opt = (torch.optim.Adam(phi.values(), lr=cfg.meta_lr) if method.optimizer == "adam"
           else torch.optim.SGD(phi.values(), lr=cfg.reptile_step_size))
    for it in range(cfg.iterations):
        grads, _ = method.meta_gradient(learner, phi, family.sample(cfg.meta_batch_size, tasks), cfg)
        if method.optimizer == "sgd":  # Reptile's ε decays linearly to 0 (cfg.reptile_anneal)
            opt.param_groups[0]["lr"] = cfg.reptile_step_size * (1 - it / cfg.iterations)
        for k, p in phi.items():
            p.grad = grads[k]
        opt.step()
    return phi


@pytest.mark.parametrize("method", ["maml", "reptile", "metasgd"])
def test_outer_step_gives_torch_optimisers_numbers_bit_for_bit(method):
    # The training loop's own Adam and SGD updates are for speed only: same numbers as torch's.
    family = make_family("clusters")
    cfg = TrainConfig(iterations=40, test_tasks=2, val_tasks=2, checkpoints=0, inner_lr=0.5,
                      meta_lr=0.01)
    _, (result, *_) = run(family, [method], cfg)
    reference = _reference_training(family, method, cfg)
    for k, v in result.params.items():
        assert torch.equal(v, reference[k].detach()), k


def test_events_stream_progress_then_result_per_method():
    events, results = run(make_family("clusters"), ["maml", "scratch"],
                          TrainConfig(iterations=20, test_tasks=10, val_tasks=5, checkpoints=2))
    progress = [e for e in events if isinstance(e, Progress) and e.method == "maml"]
    assert [p.iteration for p in progress] == list(range(1, 21))
    assert [r.method for r in results] == ["maml", "scratch"]
    assert [c.iteration for c in results[0].checkpoints] == [0, 10, 20]
    assert results[1].history == [] and results[1].checkpoints == []
    rows = pooled_rows(results, (0, 1, 2, 5, 10))
    assert {r["metric"] for r in rows} == {"loss", "accuracy"}
    assert all(r["n_tasks"] == 10 and r["ci_low"] <= r["mean"] <= r["ci_high"] for r in rows)


def test_divergence_is_reported_and_other_methods_finish():
    cfg = TrainConfig(iterations=50, test_tasks=10, val_tasks=5, checkpoints=0, meta_lr=100.0, inner_lr=5.0)
    _, results = run(make_family("sinusoid"), ["maml", "scratch"], cfg)
    maml, scratch = results
    assert maml.diverged and "diverged" in maml.diverged
    rows = pooled_rows(results, cfg.eval_steps)
    assert all(math.isnan(r["mean"]) and r["diverged"] for r in rows if r["method"] == "maml")


def test_pooling_puts_every_seed_s_tasks_side_by_side():
    a = MethodResult("maml", 0, {}, 2.0, {"loss": torch.tensor([[1.0, 2.0], [0.5, 1.0]])})
    b = MethodResult("maml", 1, {}, 4.0, {"loss": torch.tensor([[3.0], [1.0]])}, diverged="boom")
    c = MethodResult("scratch", 0, {}, 0.0, {"loss": torch.tensor([[1.0, 1.0], [1.0, 1.0]])})
    maml, scratch = pool_seeds([a, c, b])
    assert maml.method == "maml" and maml.diverged == "boom" and maml.seconds == 3.0
    assert torch.equal(maml.scores["loss"], torch.tensor([[1.0, 2.0, 3.0], [0.5, 1.0, 1.0]]))
    assert scratch.diverged == "" and scratch.scores["loss"].shape == (2, 2)
    # The gain is paired per task: its CI is that of the per-task differences.
    before, after = maml.scores["loss"]
    assert gain_ci(before, after, "loss") == mean_ci(before - after)
    assert gain_ci(before, after, "accuracy")[0] == -gain_ci(before, after, "loss")[0]


def test_test_time_divergence_is_reported_from_the_step_it_starts():
    """Step 0 involves no adaptation, so it is sound and reported; the rows from the first
    non-finite step on are NaN and say why."""
    cfg = TrainConfig(iterations=0, test_tasks=10, val_tasks=5, inner_lr=50.0)
    _, (scratch,) = run(make_family("sinusoid"), ["scratch"], cfg)
    first = reportable(scratch.scores, cfg.eval_steps).tolist().index(False)
    assert first > 0 and scratch.diverged_from == first
    assert scratch.diverged == (f"test-time adaptation diverged at step {cfg.eval_steps[first]}; "
                                "lower inner_lr or use test-time α auto")
    rows = pooled_rows([scratch], cfg.eval_steps)
    sound, bad = rows[:first], rows[first:]
    assert all(math.isfinite(r["mean"]) and r["diverged"] == "" for r in sound)
    assert all(math.isnan(r["mean"]) and r["diverged"] == scratch.diverged for r in bad)


def test_a_finite_blow_up_counts_as_divergence():
    """Losses of 1e19 are finite but no result: a step ten times worse than no adaptation is
    not reportable, and neither is any step with a non-finite score."""
    loss = torch.tensor([[3.0, 3.2], [0.4, 0.5], [29.0, 31.0], [1e19, 2.0]])
    accuracy = torch.ones(4, 2)
    assert reportable({"loss": loss}, (0, 1, 2, 3)).tolist() == [True, True, True, False]
    worse = loss.clone()
    worse[2] = torch.tensor([33.0, 35.0])  # mean 34 > 10 × 3.1
    assert reportable({"loss": worse}, (0, 1, 2, 3)).tolist() == [True, True, False, False]
    nan = loss.clone()
    nan[1, 0] = float("nan")
    assert reportable({"loss": nan, "accuracy": accuracy}, (0, 1, 2, 3)).tolist() == [
        True, False, True, False]
    assert reportable({"loss": loss}, (1, 2, 3, 4)).tolist() == [True] * 4  # no step 0: finite


def test_pooled_seeds_report_the_steps_every_seed_can():
    loss = torch.tensor([[1.0, 2.0], [0.5, 1.0], [0.4, 0.9]])
    calm = MethodResult("metasgd", 0, {}, 1.0, {"loss": loss})
    late = MethodResult("metasgd", 1, {}, 1.0, {"loss": loss}, diverged="at step 2",
                        diverged_from=2)
    early = MethodResult("metasgd", 2, {}, 1.0, {"loss": loss}, diverged="at step 1",
                         diverged_from=1)
    trained_badly = MethodResult("metasgd", 3, {}, 1.0, {"loss": loss}, diverged="training")
    assert [r.sound_steps(3) for r in (calm, late, early, trained_badly)] == [3, 2, 1, 0]
    for results, sound in (([calm, late], 2), ([calm, late, early], 1),
                           ([calm, trained_badly], 0), ([calm], 3)):
        (pooled,) = pool_seeds(results)
        assert pooled.sound == sound
        means = [r["mean"] for r in pooled_rows(results, (0, 1, 2))]
        assert [math.isfinite(m) for m in means] == [i < sound for i in range(3)]


@pytest.mark.parametrize("bad, message", [
    (dict(inner_lr=-1.0), "inner_lr must be a number in [0, 1000]"),
    (dict(iterations=1.5), "iterations must be an integer"),
    (dict(eval_steps=(5, 1)), "eval_steps must be increasing"),
    (dict(hidden=()), "hidden must be a non-empty list"),
])
def test_bad_training_settings_name_the_setting_and_range(bad, message):
    with pytest.raises(SettingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TrainConfig(**bad)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(SettingError, match="methods must be a non-empty selection of maml"):
        list(compare(make_family("sinusoid"), ["mamal"], TrainConfig(iterations=1)))


def test_anil_also_scores_the_whole_net_and_rows_say_which_alpha():
    cfg = TrainConfig(iterations=20, test_tasks=10, val_tasks=5, checkpoints=2)
    _, results = run(make_family("sinusoid"), ["anil", "metasgd"], cfg)
    anil, whole, metasgd = results
    assert [r.method for r in results] == ["anil", "anil-whole", "metasgd"]
    assert anil.plan.only == ("w2", "b2") and whole.plan.only is None
    assert whole.params is anil.params and whole.history == [] and whole.checkpoints == []
    assert not torch.equal(anil.scores["loss"][1:], whole.scores["loss"][1:])
    assert isinstance(metasgd.plan.inner_lr, dict) and "lr.w0" in metasgd.params
    assert not torch.equal(metasgd.params["lr.w0"], torch.full_like(metasgd.params["w0"], 0.01))
    rows = pooled_rows(results, cfg.eval_steps)
    assert {(r["method"], r["test_lr"]) for r in rows} == {
        ("anil", "0.01"), ("anil-whole", "0.01"), ("metasgd", "learned")}


def test_auto_test_lr_rescues_pretraining_from_a_wrong_alpha():
    """α = 0.1 is far too large for pre-training's whole-net steps on sinusoids (on some tasks
    they diverge); auto picks a smaller α on the validation tasks, says so, and scores better
    on the test tasks."""
    cfg = TrainConfig(iterations=100, test_tasks=50, val_tasks=30, checkpoints=0, inner_lr=0.1,
                      eval_steps=(0, 1, 5))
    _, (fixed,) = run(make_family("sinusoid"), ["pretrain"], cfg)
    _, (auto,) = run(make_family("sinusoid"), ["pretrain"], cfg.replace(test_lr="auto"))
    assert not auto.diverged
    assert auto.test_lr_scale < 1 and auto.test_lr == f"{0.1 * auto.test_lr_scale:g}"
    assert torch.equal(fixed.scores["loss"][0], auto.scores["loss"][0])  # same φ before adapting
    after_fixed = fixed.scores["loss"][1:].nan_to_num(math.inf).mean(1)
    assert (auto.scores["loss"][1:].mean(1) < after_fixed).all()


def test_cli_reports_the_test_alpha_in_table_and_json(tmp_path, capsys):
    out = tmp_path / "rows.json"
    code = cli_main(["compare", "--methods", "maml,metasgd", "--iterations", "5", "--test-tasks",
                     "5", "--val-tasks", "5", "--checkpoints", "0", "--test-lr", "auto",
                     "--quiet", "--json", str(out)])
    assert code == 0
    assert "test α" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["config"]["training"]["test_lr"] == "auto"
    assert all(r["test_lr"] for r in saved["rows"])
    assert any(r["test_lr"].startswith("learned") for r in saved["rows"] if r["method"] == "metasgd")


@pytest.mark.slow
def test_maml_beats_pretraining_after_adaptation_on_sinusoid_across_seeds():
    """The lecture's point at the default budget: MAML's potential beats pre-training's."""
    family = make_family("sinusoid")
    cfg = TrainConfig(test_tasks=300, checkpoints=0)
    _, results = run(family, ["maml", "pretrain"], cfg, seeds=(0, 1, 2))
    for seed in (0, 1, 2):
        maml, pre = (r for r in results if r.seed == seed)
        for step in (1, 10):
            i = cfg.eval_steps.index(step)
            maml_loss, pre_loss = maml.scores["loss"][i].mean(), pre.scores["loss"][i].mean()
            assert maml_loss < 0.75 * pre_loss, (seed, step, maml_loss, pre_loss)


def test_stop_keeps_finished_methods_and_drops_the_one_under_way():
    cfg = TrainConfig(iterations=200, test_tasks=50, val_tasks=20, checkpoints=2)
    seen: list = []

    def stop() -> bool:  # once the first method has finished and the second has made progress
        done = [i for i, e in enumerate(seen) if isinstance(e, MethodResult)]
        return bool(done) and len(seen) > done[0] + 5

    for event in compare(make_family("sinusoid"), ["pretrain", "maml", "reptile"], cfg, stop=stop):
        seen.append(event)
    results = [e for e in seen if isinstance(e, MethodResult)]
    assert [r.method for r in results] == ["pretrain"]
    assert {e.method for e in seen} == {"pretrain", "maml"}  # reptile never started
    unstopped = next(e for e in compare(make_family("sinusoid"), ["pretrain"], cfg)
                     if isinstance(e, MethodResult))
    assert torch.equal(results[0].scores["loss"], unstopped.scores["loss"])


def test_stop_is_asked_between_scoring_chunks():
    asked = []

    def stop() -> bool:  # never during training; the second scoring chunk is refused
        asked.append(1)
        return len(asked) > 2

    cfg = TrainConfig(iterations=0, test_tasks=2500, checkpoints=0)
    events = list(compare(make_family("sinusoid"), ["scratch"], cfg, stop=stop))
    assert events == [] and len(asked) == 3  # compare, chunk 1, chunk 2 (of 1000 tasks each)
