"""Tests of core.param_space.landscape: analytic optima, directions against finite differences, presets."""
from functools import cache

import pytest
import torch

import core.param_space.landscape as ps
from core.engine.algorithms import METHODS
from core.engine.config import TrainConfig
from dashboard.param_space_presets import LANDSCAPES, describe, describe_metasgd, settings_warnings

torch.set_num_threads(1)


def config(inner_lr, inner_steps=1, reptile_inner_steps=5, **more):
    """The inner-loop settings as the core's TrainConfig."""
    return TrainConfig(inner_lr=inner_lr, inner_steps=inner_steps,
                       reptile_inner_steps=reptile_inner_steps, **more)


def quadratics(centres, curvatures):
    """1-D quadratic tasks ½ h (φ − c)²."""
    tasks = (ps.TaskLoss((c,), (h,), "quadratic") for c, h in zip(centres, curvatures))
    return ps.Landscape(tuple(tasks))


def weighted_mean(centres, weights):
    """Σ w c / Σ w."""
    return sum(w * c for w, c in zip(weights, centres)) / sum(weights)


def fd_grad(f, x, eps=1e-6):
    """Central finite-difference gradient of a scalar function of a (dim,) tensor."""
    basis = torch.eye(len(x), dtype=ps.DTYPE)
    return torch.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in basis])


@pytest.mark.parametrize("inner_lr,inner_steps", [(0.1, 1), (0.3, 1), (0.2, 3)])
def test_equal_curvature_quadratics_all_optima_coincide_at_the_mean(inner_lr, inner_steps):
    centres = (-1.5, 0.5, 2.2)
    land = quadratics(centres, (2.0, 2.0, 2.0))
    opt = ps.optima(land, config(inner_lr, inner_steps, reptile_inner_steps=4))
    for method in ps.OPTIMA:
        assert opt[method].item() == pytest.approx(sum(centres) / 3, abs=1e-8)


@pytest.mark.parametrize("inner_lr,inner_steps", [(0.1, 1), (0.2, 1), (0.05, 2)])
def test_different_curvatures_give_curvature_weighted_means(inner_lr, inner_steps):
    centres, h = (-1.0, 2.0, 0.5), (8.0, 1.0, 3.0)
    land = quadratics(centres, h)
    opt = ps.optima(land, config(inner_lr, inner_steps, reptile_inner_steps=5))
    # after k steps θ − c = (1 − αh)^k (φ − c), so l(θ) = ½ h (1 − αh)^{2k} (φ − c)²
    maml_w = [hi * (1 - inner_lr * hi) ** (2 * inner_steps) for hi in h]
    reptile_w = [1 - (1 - inner_lr * hi) ** 5 for hi in h]  # mean of θ − φ = 0
    assert opt["pretrain"].item() == pytest.approx(weighted_mean(centres, h), abs=1e-8)
    assert opt["maml"].item() == pytest.approx(weighted_mean(centres, maml_w), abs=1e-8)
    assert opt["reptile"].item() == pytest.approx(weighted_mean(centres, reptile_w), abs=1e-8)


def test_two_dimensional_quadratics_are_weighted_per_axis():
    tasks = (ps.TaskLoss((-1.0, 1.0), (4.0, 0.5), "quadratic"),
             ps.TaskLoss((1.0, -1.0), (0.5, 4.0), "quadratic"))
    opt = ps.optima(ps.Landscape(tasks), config(0.2, 1, 3))
    for axis in range(2):
        c = [t.centre[axis] for t in tasks]
        h = [t.curvature[axis] for t in tasks]
        expected = weighted_mean(c, [hi * (1 - 0.2 * hi) ** 2 for hi in h])
        assert opt["maml"][axis].item() == pytest.approx(expected, abs=1e-8)
        assert opt["pretrain"][axis].item() == pytest.approx(weighted_mean(c, h), abs=1e-8)


WELLS_2D = ps.Landscape((ps.TaskLoss((-1.0, 0.5), (3.0, 0.7), depth=1.5),
                         ps.TaskLoss((1.2, -0.4), (0.8, 2.0)),
                         ps.TaskLoss((0.3, 1.1), (1.5, 1.5), "quadratic")))
PHI = torch.tensor([0.35, -0.2], dtype=ps.DTYPE)


def test_adapted_takes_plain_gradient_steps():
    path = ps.adapted(WELLS_2D, PHI, 0.3, 3)
    assert path.shape == (4, 3, 2)
    for n in range(3):
        def loss_n(x, n=n):
            return ps.task_losses(WELLS_2D, x)[n]
        for i in range(3):
            expected = path[i, n] - 0.3 * fd_grad(loss_n, path[i, n])
            torch.testing.assert_close(path[i + 1, n], expected, atol=1e-8, rtol=0)


@pytest.mark.parametrize("inner_steps", [1, 3])
def test_directions_match_finite_differences(inner_steps):
    alpha, n = 0.3, len(WELLS_2D.tasks)
    got = ps.directions(WELLS_2D, PHI, config(alpha, inner_steps, reptile_inner_steps=4))
    expected_pre = -fd_grad(lambda x: ps.total_loss(WELLS_2D, x), PHI) / n
    expected_maml = -fd_grad(lambda x: ps.loss_after(WELLS_2D, x, alpha, inner_steps), PHI) / n
    theta = ps.adapted(WELLS_2D, PHI, alpha, inner_steps)[-1]
    expected_fo = -torch.stack([fd_grad(lambda x, k=k: ps.task_losses(WELLS_2D, x)[k], theta[k])
                                for k in range(n)]).mean(0)
    expected_reptile = ps.adapted(WELLS_2D, PHI, alpha, 4)[-1].mean(0) - PHI
    for name, expected in [("pretrain", expected_pre), ("maml", expected_maml),
                           ("fomaml", expected_fo), ("reptile", expected_reptile)]:
        torch.testing.assert_close(got[name], expected, atol=1e-7, rtol=0)


def test_maml_and_fomaml_differ_by_the_second_order_term():
    d = ps.directions(WELLS_2D, PHI, config(0.3, 1, 4))
    assert (d["maml"] - d["fomaml"]).norm() > 1e-3


@pytest.mark.parametrize("phi", [PHI, torch.tensor([-2.5, 3.0], dtype=ps.DTYPE)])
def test_the_optimum_search_moves_like_the_registered_methods(phi):
    """The objectives and Reptile's update that the optimum search uses, over many φ at once,
    give the directions of core.engine.algorithms' meta-gradients, to rounding."""
    cfg, n = config(0.3, 2, 4), len(WELLS_2D.tasks)
    got = ps.directions(WELLS_2D, phi, cfg)
    for method in ("pretrain", "maml"):
        x = phi.clone().requires_grad_(True)
        gradient = torch.autograd.grad(ps.objective(method, WELLS_2D, cfg)(x), x)[0]
        torch.testing.assert_close(got[method], -gradient / n, atol=1e-14, rtol=0)
    torch.testing.assert_close(got["reptile"], ps.reptile_update(WELLS_2D, phi, cfg),
                               atol=1e-14, rtol=0)
    batched = ps.reptile_update(WELLS_2D, torch.stack([phi, PHI, phi]), cfg)
    torch.testing.assert_close(batched[2], got["reptile"], atol=1e-14, rtol=0)


def test_the_compared_methods_are_registered_and_the_landscape_is_their_learner():
    assert set(ps.COMPARED) <= set(METHODS)
    params = {"phi": torch.stack([PHI, -PHI, PHI])}
    batch = WELLS_2D.batch()
    expected = ps.per_task_loss(WELLS_2D, params["phi"])
    torch.testing.assert_close(WELLS_2D.loss(params, *batch.all_data()), expected)
    assert WELLS_2D.loss(params, batch.support_x, batch.support_y).shape == (3,)


def test_optima_are_stationary_and_reptile_update_vanishes():
    alpha = 0.3
    cfg = config(alpha, 1, 4)
    opt = ps.optima(WELLS_2D, cfg)
    for method in ("pretrain", "maml"):
        f = ps.objective(method, WELLS_2D, cfg)
        assert fd_grad(f, opt[method]).norm() < 1e-7
        assert torch.linalg.eigvalsh(torch.autograd.functional.hessian(f, opt[method])).min() > 0
    assert ps.reptile_update(WELLS_2D, opt["reptile"], cfg).norm() < 1e-9


@pytest.mark.parametrize("method,target", [("maml", "maml"), ("pretrain", "pretrain"),
                                           ("fomaml", None), ("reptile", "reptile")])
def test_meta_training_walks_to_the_optimum(method, target):
    land = quadratics((-1.0, 2.0), (4.0, 1.0))
    cfg = config(0.2, 1, 5, meta_lr=0.5, reptile_step_size=0.5, iterations=100)
    path = ps.meta_train_path(method, land, [3.0], cfg)["phi"]
    assert path.shape == (101, 1)
    if target:
        assert path[-1].item() == pytest.approx(ps.optima(land, cfg)[target].item(), abs=1e-6)
    else:  # first-order MAML has no objective, but its update must vanish where it stops
        assert ps.direction("fomaml", land, path[-1], cfg).abs().item() < 1e-8


STEEP_FLAT = ps.Landscape(tuple(ps.TaskLoss(c, h, "quadratic") for c, h in (
    ((-1.5, -2.0), (4.0, 0.25)), ((0.0, 2.0), (5.0, 0.2)), ((1.5, 0.0), (3.0, 0.3)))))


@cache
def optima_and_metasgd(land: ps.Landscape, inner_lr: float):
    """ps.optima and ps.metasgd_optimum at `inner_lr` (pure functions of frozen inputs: three
    tests read STEEP_FLAT's, computed once per test session)."""
    cfg = config(inner_lr)
    return ps.optima(land, cfg), ps.metasgd_optimum(land, cfg)


def test_metasgd_optimum_is_where_the_registered_meta_sgd_stops():
    """Newton's (φ, α) is a zero of the registered Meta-SGD's meta-gradient, in φ and in α,
    and no worse than MAML's optimum with the shared α (Meta-SGD starts there)."""
    for land, lr in ((STEEP_FLAT, 0.18), (WELLS_2D, 0.3), (quadratics((-1.0, 2.0, 0.5),
                                                                      (8.0, 1.0, 3.0)), 0.1)):
        cfg = config(lr)
        opt, (phi, alpha) = optima_and_metasgd(land, lr)
        update = ps.meta_update("metasgd", land, {"phi": phi, ps.ALPHA: alpha}, cfg)
        assert update["phi"].norm() < 1e-8 and update[ps.ALPHA].norm() < 1e-8
        learned = ps.loss_after(land, phi, alpha, 1)
        assert learned <= ps.loss_after(land, opt["maml"], lr, 1) + 1e-12


def test_metasgd_optimum_on_quadratics_is_the_weighted_mean_for_its_alpha():
    """For quadratics each axis is separate: given α_i, φ_i is the mean of the centres
    weighted by h(1 − α_i h)², MAML's weights with that axis's own α."""
    _, (phi, alpha) = optima_and_metasgd(STEEP_FLAT, 0.18)
    for axis in range(2):
        c = [t.centre[axis] for t in STEEP_FLAT.tasks]
        h = [t.curvature[axis] for t in STEEP_FLAT.tasks]
        a = alpha[axis].item()
        expected = weighted_mean(c, [hi * (1 - a * hi) ** 2 for hi in h])
        assert phi[axis].item() == pytest.approx(expected, abs=1e-8)


def test_meta_sgd_meta_training_moves_alpha_by_its_meta_gradient():
    cfg = config(0.18, meta_lr=0.01, iterations=3)
    path = ps.meta_train_path("metasgd", STEEP_FLAT, [0.5, 0.5], cfg)
    assert path["phi"].shape == path[ps.ALPHA].shape == (4, 2)
    torch.testing.assert_close(path[ps.ALPHA][0], torch.full((2,), 0.18, dtype=ps.DTYPE))

    def objective(z):  # Meta-SGD's objective over (φ, α), averaged over the tasks
        return ps.loss_after(STEEP_FLAT, z[:2], z[2:], 1) / len(STEEP_FLAT.tasks)

    start = torch.cat([path["phi"][0], path[ps.ALPHA][0]])
    expected = start - 0.01 * fd_grad(objective, start)
    torch.testing.assert_close(torch.cat([path["phi"][1], path[ps.ALPHA][1]]), expected,
                               atol=1e-7, rtol=0)
    # at the start α = inner_lr, so Meta-SGD's φ-update is MAML's
    torch.testing.assert_close(ps.direction("metasgd", STEEP_FLAT, ps.as_tensor([0.5, 0.5]), cfg),
                               ps.direction("maml", STEEP_FLAT, ps.as_tensor([0.5, 0.5]), cfg))


def test_describe_metasgd_reports_its_alpha_and_the_ratio():
    opt, learned = optima_and_metasgd(STEEP_FLAT, 0.18)
    text = describe_metasgd(learned, opt["maml"], STEEP_FLAT, 0.18, 1)
    assert "α = (0.25, 4.00)" in text and "φ = (0.56, 0.80)" in text
    assert "along φ₂ is 16 times" in text
    maml_loss = ps.loss_after(STEEP_FLAT, opt["maml"], 0.18, 1).item()
    assert f"{maml_loss:.3f}" in text
    one_d = quadratics((-1.0, 2.0), (4.0, 1.0))
    opt, learned = optima_and_metasgd(one_d, 0.18)
    assert "times" not in describe_metasgd(learned, opt["maml"], one_d, 0.18, 1)


@cache
def preset_optima(name):
    """Optima of a preset at its own settings, and Meta-SGD's under "metasgd" with its α
    (computed once per test session)."""
    land, cfg = LANDSCAPES[name].landscape, LANDSCAPES[name].config()
    opt = ps.optima(land, cfg)
    phi, alpha = ps.metasgd_optimum(land, cfg)
    return opt | {"metasgd": phi}, alpha


def test_summary_table_current_versus_potential():
    preset = LANDSCAPES["Two tasks, one sharp and one wide minimum"]
    opt = ps.optima(preset.landscape, preset.config())
    rows = {r["method"]: r for r in ps.summary_table(preset.landscape, opt, preset.inner_lr, 5)}
    assert min(rows, key=lambda m: rows[m]["before"]) == "pretrain"
    assert min(rows, key=lambda m: rows[m]["after_1"]) == "maml"
    assert rows["maml"]["after_1"] == pytest.approx(
        ps.loss_after(preset.landscape, opt["maml"], preset.inner_lr, 1).item())
    assert rows["pretrain"]["after_k"] == pytest.approx(
        ps.loss_after(preset.landscape, opt["pretrain"], preset.inner_lr, 5).item())


def test_describe_reports_the_numbers():
    land = quadratics((-1.0, 2.0), (4.0, 1.0))
    opt = ps.optima(land, config(0.2, 1, 5))
    text = describe(opt, land, 0.2, 1)
    assert "φ = −0.40" in text and "φ = 1.40" in text and "potential" in text
    equal = quadratics((-1.0, 2.0), (2.0, 2.0))
    assert "agree (φ = 0.50)" in describe(ps.optima(equal, config(0.2, 1, 5)), equal, 0.2, 1)


def test_settings_warnings():
    land = quadratics((-1.0, 2.0), (4.0, 1.0))
    assert settings_warnings(land, 0.2) == []
    levels = [level for level, _ in settings_warnings(land, 0.6)]
    assert levels == ["warning"]
    assert any("every φ is a MAML optimum" in m
               for _, m in settings_warnings(quadratics((0.0, 1.0), (2.0, 2.0)), 0.5))


def test_invalid_tasks_are_rejected():
    with pytest.raises(ValueError):
        ps.TaskLoss((0.0,), (-1.0,))
    with pytest.raises(ValueError):
        ps.Landscape((ps.TaskLoss((0.0,), (1.0,)), ps.TaskLoss((0.0, 1.0), (1.0, 1.0))))


def _near(x, point, tol):
    """Whether tensor x is within tol of point."""
    return (x - ps.as_tensor(point)).norm().item() < tol


def _sharp_counts_4_times_more_then_4_times_less(preset) -> bool:
    """The explanation's weights, read from the preset: h for pre-training, h(1 − αh)² for MAML."""
    h_sharp, h_wide = sorted((t.curvature[0] for t in preset.landscape.tasks), reverse=True)
    maml_sharp, maml_wide = (h * (1 - preset.inner_lr * h) ** 2 for h in (h_sharp, h_wide))
    return (h_sharp / h_wide == pytest.approx(4) and maml_sharp / maml_wide == pytest.approx(1 / 4)
            and "4 times more" in preset.explanation and "4 times less" in preset.explanation)


PRESET_CLAIMS = {
    "Two wells far apart": lambda o, r: (
        _near(o["pretrain"], (2.0,), 0.2) and _near(o["maml"], (0.0,), 0.3)
        and r["maml"]["after_1"] < r["pretrain"]["after_1"] - 0.3),
    "Two tasks, one sharp and one wide minimum": lambda o, r: (
        _near(o["pretrain"], (-1.0,), 0.2) and o["maml"].item() > o["pretrain"].item() + 0.3
        and r["maml"]["after_1"] < r["pretrain"]["after_1"]),
    "Equal-curvature quadratics: the optima coincide": lambda o, r: all(
        _near(o[m], (-0.25,), 1e-8) for m in ps.OPTIMA),
    "Quadratics with different curvatures": lambda o, r: (
        _near(o["pretrain"], (weighted_mean((-1.0, 1.5), (4.0, 1.0)),), 1e-8)
        and _near(o["maml"], (weighted_mean((-1.0, 1.5), (4 * 0.2 ** 2, 0.8 ** 2)),), 1e-8)
        and _sharp_counts_4_times_more_then_4_times_less(
            LANDSCAPES["Quadratics with different curvatures"])),
    "Two crossing valleys (2-D)": lambda o, r: (
        _near(o["pretrain"], (-1.5, -0.5), 0.25)
        and (o["maml"] - ps.as_tensor((1.5, 0.5))).norm() + 0.5
        < (o["pretrain"] - ps.as_tensor((1.5, 0.5))).norm()),
    "Four wells, three answers (2-D)": lambda o, r: (
        _near(o["pretrain"], (1.5, 1.5), 0.2) and _near(o["maml"], (0.0, 1.5), 0.2)
        and _near(o["reptile"], (0.0, 0.0), 0.2) and r["reptile"]["after_k"] < 0.05),
    "Steep across, flat along: a step size per parameter (2-D)": lambda o, r: (
        1 / 5 <= r["metasgd"]["alpha"][0] <= 1 / 3 and 1 / 0.3 <= r["metasgd"]["alpha"][1] <= 1 / 0.2
        and r["metasgd"]["alpha"][1] / r["metasgd"]["alpha"][0] == pytest.approx(16, abs=0.5)
        and "16 times" in LANDSCAPES["Steep across, flat along: a step size per parameter (2-D)"]
        .explanation
        and r["metasgd"]["after_1"] < 0.1 * r["maml"]["after_1"] and r["maml"]["after_1"] > 1),
}


def test_every_preset_has_a_checked_claim():
    assert set(PRESET_CLAIMS) == set(LANDSCAPES)
    assert {1, 2} == {p.landscape.dim for p in LANDSCAPES.values()}
    assert any(3 <= len(p.landscape.tasks) <= 5 for p in LANDSCAPES.values())


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_preset_explanation_is_true(name):
    p, (opt, alpha) = LANDSCAPES[name], preset_optima(name)
    rows = {r["method"]: r for r in ps.summary_table(p.landscape, opt, p.inner_lr,
                                                     p.reptile_inner_steps, {"metasgd": alpha})}
    assert PRESET_CLAIMS[name](opt, rows)
    assert settings_warnings(p.landscape, p.inner_lr) == []
