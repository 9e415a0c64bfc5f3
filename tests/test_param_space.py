"""Tests of core.param_space: analytic optima, directions against finite differences, presets."""
from functools import cache

import pytest
import torch

import core.param_space as ps

torch.set_num_threads(1)


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
    opt = ps.optima(land, inner_lr, inner_steps, reptile_steps=4)
    for method in ps.OPTIMA:
        assert opt[method].item() == pytest.approx(sum(centres) / 3, abs=1e-8)


@pytest.mark.parametrize("inner_lr,inner_steps", [(0.1, 1), (0.2, 1), (0.05, 2)])
def test_different_curvatures_give_curvature_weighted_means(inner_lr, inner_steps):
    centres, h = (-1.0, 2.0, 0.5), (8.0, 1.0, 3.0)
    land = quadratics(centres, h)
    opt = ps.optima(land, inner_lr, inner_steps, reptile_steps=5)
    # after k steps θ − c = (1 − αh)^k (φ − c), so l(θ) = ½ h (1 − αh)^{2k} (φ − c)²
    maml_w = [hi * (1 - inner_lr * hi) ** (2 * inner_steps) for hi in h]
    reptile_w = [1 - (1 - inner_lr * hi) ** 5 for hi in h]  # mean of θ − φ = 0
    assert opt["pretrain"].item() == pytest.approx(weighted_mean(centres, h), abs=1e-8)
    assert opt["maml"].item() == pytest.approx(weighted_mean(centres, maml_w), abs=1e-8)
    assert opt["reptile"].item() == pytest.approx(weighted_mean(centres, reptile_w), abs=1e-8)


def test_two_dimensional_quadratics_are_weighted_per_axis():
    tasks = (ps.TaskLoss((-1.0, 1.0), (4.0, 0.5), "quadratic"),
             ps.TaskLoss((1.0, -1.0), (0.5, 4.0), "quadratic"))
    opt = ps.optima(ps.Landscape(tasks), 0.2, 1, 3)
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
    path = ps.adapted(PHI, WELLS_2D, 0.3, 3)
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
    got = ps.directions(PHI, WELLS_2D, alpha, inner_steps, reptile_steps=4)
    expected_pre = -fd_grad(lambda x: ps.total_loss(WELLS_2D, x), PHI) / n
    expected_maml = -fd_grad(lambda x: ps.maml_objective(x, WELLS_2D, alpha, inner_steps), PHI) / n
    theta = ps.adapted(PHI, WELLS_2D, alpha, inner_steps)[-1]
    expected_fo = -torch.stack([fd_grad(lambda x, k=k: ps.task_losses(WELLS_2D, x)[k], theta[k])
                                for k in range(n)]).mean(0)
    expected_reptile = ps.adapted(PHI, WELLS_2D, alpha, 4)[-1].mean(0) - PHI
    for name, expected in [("pretrain", expected_pre), ("maml", expected_maml),
                           ("fomaml", expected_fo), ("reptile", expected_reptile)]:
        torch.testing.assert_close(got[name], expected, atol=1e-7, rtol=0)


def test_maml_and_fomaml_differ_by_the_second_order_term():
    d = ps.directions(PHI, WELLS_2D, 0.3, 1, 4)
    assert (d["maml"] - d["fomaml"]).norm() > 1e-3


def test_optima_are_stationary_and_reptile_update_vanishes():
    alpha = 0.3
    opt = ps.optima(WELLS_2D, alpha, 1, 4)
    for method in ("pretrain", "maml"):
        f = ps.objective(method, WELLS_2D, alpha, 1)
        assert fd_grad(f, opt[method]).norm() < 1e-7
        assert torch.linalg.eigvalsh(torch.autograd.functional.hessian(f, opt[method])).min() > 0
    assert ps.reptile_update(opt["reptile"], WELLS_2D, alpha, 4).norm() < 1e-9


@pytest.mark.parametrize("method,target", [("maml", "maml"), ("pretrain", "pretrain"),
                                           ("fomaml", None), ("reptile", "reptile")])
def test_meta_training_walks_to_the_optimum(method, target):
    land = quadratics((-1.0, 2.0), (4.0, 1.0))
    path = ps.meta_train_path(method, [3.0], land, 0.2, 1, 5, meta_lr=0.5, meta_steps=100)
    assert path.shape == (101, 1)
    if target:
        assert path[-1].item() == pytest.approx(ps.optima(land, 0.2, 1, 5)[target].item(), abs=1e-6)
    else:  # first-order MAML has no objective, but its update must vanish where it stops
        assert ps.direction("fomaml", path[-1], land, 0.2, 1, 5).abs().item() < 1e-8


@cache
def preset_optima(name):
    """Optima of a preset at its own settings (computed once per test session)."""
    p = ps.PRESETS[name]
    return ps.optima(p.landscape, p.inner_lr, p.inner_steps, p.reptile_steps)


def test_summary_table_current_versus_potential():
    preset = ps.PRESETS["Two tasks, one sharp and one wide minimum"]
    opt = preset_optima("Two tasks, one sharp and one wide minimum")
    rows = {r["method"]: r for r in ps.summary_table(opt, preset.landscape, preset.inner_lr, 5)}
    assert min(rows, key=lambda m: rows[m]["before"]) == "pretrain"
    assert min(rows, key=lambda m: rows[m]["after_1"]) == "maml"
    assert rows["maml"]["after_1"] == pytest.approx(
        ps.maml_objective(opt["maml"], preset.landscape, preset.inner_lr, 1).item())


def test_describe_reports_the_numbers():
    land = quadratics((-1.0, 2.0), (4.0, 1.0))
    opt = ps.optima(land, 0.2, 1, 5)
    text = ps.describe(opt, land, 0.2, 1)
    assert "φ = −0.40" in text and "φ = 1.40" in text and "potential" in text
    equal = quadratics((-1.0, 2.0), (2.0, 2.0))
    assert "agree (φ = 0.50)" in ps.describe(ps.optima(equal, 0.2, 1, 5), equal, 0.2, 1)


def test_settings_warnings():
    land = quadratics((-1.0, 2.0), (4.0, 1.0))
    assert ps.settings_warnings(land, 0.2) == []
    levels = [level for level, _ in ps.settings_warnings(land, 0.6)]
    assert levels == ["warning"]
    assert any("every φ is a MAML optimum" in m
               for _, m in ps.settings_warnings(quadratics((0.0, 1.0), (2.0, 2.0)), 0.5))


def test_invalid_tasks_are_rejected():
    with pytest.raises(ValueError):
        ps.TaskLoss((0.0,), (-1.0,))
    with pytest.raises(ValueError):
        ps.Landscape((ps.TaskLoss((0.0,), (1.0,)), ps.TaskLoss((0.0, 1.0), (1.0, 1.0))))


def _near(x, point, tol):
    """Whether tensor x is within tol of point."""
    return (x - ps.as_tensor(point)).norm().item() < tol


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
        and 4 * 0.2 ** 2 == pytest.approx(0.8 ** 2 / 4)),
    "Two crossing valleys (2-D)": lambda o, r: (
        _near(o["pretrain"], (-1.5, -0.5), 0.25)
        and (o["maml"] - ps.as_tensor((1.5, 0.5))).norm() + 0.5
        < (o["pretrain"] - ps.as_tensor((1.5, 0.5))).norm()),
    "Four wells, three answers (2-D)": lambda o, r: (
        _near(o["pretrain"], (1.5, 1.5), 0.2) and _near(o["maml"], (0.0, 1.5), 0.2)
        and _near(o["reptile"], (0.0, 0.0), 0.2) and r["reptile"]["after_k"] < 0.05),
}


def test_every_preset_has_a_checked_claim():
    assert set(PRESET_CLAIMS) == set(ps.PRESETS)
    assert {1, 2} == {p.landscape.dim for p in ps.PRESETS.values()}
    assert any(3 <= len(p.landscape.tasks) <= 5 for p in ps.PRESETS.values())


@pytest.mark.parametrize("name", list(ps.PRESETS))
def test_preset_explanation_is_true(name):
    p, opt = ps.PRESETS[name], preset_optima(name)
    rows = {r["method"]: r for r in ps.summary_table(opt, p.landscape, p.inner_lr, p.reptile_steps)}
    assert PRESET_CLAIMS[name](opt, rows)
    assert ps.settings_warnings(p.landscape, p.inner_lr) == []
