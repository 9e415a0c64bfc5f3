"""Oracle tests: every meta-gradient against a per-task autograd reference or finite differences."""
import pytest
import torch

from core.engine.algorithms import (LR_PREFIX, METHODS, adapt, anil_gradient, maml_gradient,
                                    metasgd_gradient, pretrain_gradient, reptile_gradient)
from core.engine.config import TrainConfig
from core.engine.evaluation import make_learner, score_plan, score_tasks
from core.engine.families import make_family
from core.engine.models import expand
from core.engine.tasks import generator


def reference_forward(params, x):
    """A single task's MLP written independently of the batched model."""
    layers = len(params) // 2
    h = x
    for i in range(layers):
        h = h @ params[f"w{i}"] + params[f"b{i}"]
        if i < layers - 1:
            h = torch.relu(h)
    return h


def reference_loss(params, x, y):
    return ((reference_forward(params, x) - y) ** 2).mean()


def reference_maml(phi, batch, inner_lr, steps, create_graph=True, only=None):
    """Per-task loop: adapt (the keys in `only`, or all) with create_graph, mean query loss,
    gradient w.r.t. φ. `inner_lr` is a number or a dict of per-parameter step sizes."""
    weights = {k: v for k, v in phi.items() if not k.startswith(LR_PREFIX)}
    losses = []
    for t in range(batch.num_tasks):
        theta = dict(weights)
        for _ in range(steps):
            keys = [k for k in theta if only is None or k in only]
            grads = torch.autograd.grad(reference_loss(theta, batch.support_x[t], batch.support_y[t]),
                                        [theta[k] for k in keys], create_graph=create_graph)
            for k, g in zip(keys, grads):
                theta[k] = theta[k] - (inner_lr[k] if isinstance(inner_lr, dict) else inner_lr) * g
        losses.append(reference_loss(theta, batch.query_x[t], batch.query_y[t]))
    loss = torch.stack(losses).mean()
    return dict(zip(phi, torch.autograd.grad(loss, list(phi.values())))), loss


@pytest.fixture
def setup():
    """A tiny float64 problem: 4 sinusoid tasks, MLP 1-8-8-1."""
    family = make_family("sinusoid", shots=5, query=7)
    learner = make_learner(family, (8, 8))
    phi = {k: v.double().requires_grad_(True) for k, v in learner.model.init(generator(0, "init")).items()}
    batch = family.sample(4, generator(0, "train"))
    batch = batch._replace(**{f: getattr(batch, f).double() for f in batch._fields[:4]})
    return learner, phi, batch


def assert_params_close(a, b, **tol):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], **tol)


@pytest.mark.parametrize("steps", [1, 3])
def test_maml_matches_per_task_reference(setup, steps):
    learner, phi, batch = setup
    cfg = TrainConfig(inner_lr=0.05, inner_steps=steps)
    ours, loss = maml_gradient(learner, phi, batch, cfg)
    ref, ref_loss = reference_maml(phi, batch, 0.05, steps)
    torch.testing.assert_close(loss, ref_loss.detach())
    assert_params_close(ours, ref)


def test_maml_matches_finite_differences(setup):
    learner, phi, batch = setup
    cfg = TrainConfig(inner_lr=0.05, inner_steps=2)
    grads, _ = maml_gradient(learner, phi, batch, cfg)
    direction = {k: torch.randn(v.shape, generator=torch.Generator().manual_seed(1), dtype=v.dtype)
                 for k, v in phi.items()}
    eps = 1e-6

    def meta_loss(sign):
        shifted = {k: (v + sign * eps * direction[k]).detach().requires_grad_(True) for k, v in phi.items()}
        return maml_gradient(learner, shifted, batch, cfg)[1].item()

    numeric = (meta_loss(1) - meta_loss(-1)) / (2 * eps)
    analytic = sum((grads[k] * direction[k]).sum() for k in phi).item()
    assert abs(numeric - analytic) < 1e-6 * max(1.0, abs(analytic))


HEAD = ("w2", "b2")  # the last layer of the 1-8-8-1 MLP


def with_alpha(phi, gen_seed=3):
    """φ plus Meta-SGD's α in general position (around 0.05, different per entry)."""
    gen = torch.Generator().manual_seed(gen_seed)
    alpha = {LR_PREFIX + k: (0.05 + 0.02 * torch.randn(v.shape, generator=gen, dtype=v.dtype))
             .requires_grad_(True) for k, v in phi.items()}
    return {**phi, **alpha}


def finite_difference_check(gradient_fn, phi):
    """The analytic gradient's directional derivative against central differences (float64)."""
    grads, _ = gradient_fn(phi)
    direction = {k: torch.randn(v.shape, generator=torch.Generator().manual_seed(1), dtype=v.dtype)
                 for k, v in phi.items()}
    eps = 1e-6

    def meta_loss(sign):
        shifted = {k: (v + sign * eps * direction[k]).detach().requires_grad_(True) for k, v in phi.items()}
        return gradient_fn(shifted)[1].item()

    numeric = (meta_loss(1) - meta_loss(-1)) / (2 * eps)
    analytic = sum((grads[k] * direction[k]).sum() for k in phi).item()
    assert abs(numeric - analytic) < 1e-6 * max(1.0, abs(analytic))


@pytest.mark.parametrize("steps", [1, 3])
def test_anil_matches_per_task_head_only_reference(setup, steps):
    learner, phi, batch = setup
    assert learner.model.head_keys == HEAD
    cfg = TrainConfig(inner_lr=0.05, inner_steps=steps)
    ours, loss = anil_gradient(learner, phi, batch, cfg)
    ref, ref_loss = reference_maml(phi, batch, 0.05, steps, only=HEAD)
    torch.testing.assert_close(loss, ref_loss.detach())
    assert_params_close(ours, ref)
    maml, _ = maml_gradient(learner, phi, batch, cfg)
    assert (maml["w0"] - ours["w0"]).abs().max() > 1e-6  # adapting the body too changes ∇φ


def test_anil_and_metasgd_match_finite_differences(setup):
    learner, phi, batch = setup
    cfg = TrainConfig(inner_lr=0.05, inner_steps=2)
    finite_difference_check(lambda p: anil_gradient(learner, p, batch, cfg), phi)
    finite_difference_check(lambda p: metasgd_gradient(learner, p, batch, cfg), with_alpha(phi))


@pytest.mark.parametrize("steps", [1, 2])
def test_metasgd_matches_per_task_reference_for_weights_and_alpha(setup, steps):
    learner, phi, batch = setup
    phi = with_alpha(phi)
    alpha = {k: phi[LR_PREFIX + k] for k in HEAD + ("w0", "b0", "w1", "b1")}
    ours, loss = metasgd_gradient(learner, phi, batch, TrainConfig(inner_steps=steps))
    ref, ref_loss = reference_maml(phi, batch, alpha, steps)
    torch.testing.assert_close(loss, ref_loss.detach())
    assert_params_close(ours, ref)
    assert all(ours[LR_PREFIX + k].abs().max() > 1e-8 for k in alpha)  # α really learns


def test_metasgd_starts_at_inner_lr_and_adapts_with_its_alpha(setup):
    learner, phi, batch = setup
    cfg = TrainConfig(inner_lr=0.07)
    method = METHODS["metasgd"]
    start = method.start(learner, phi, cfg)
    assert set(start) == set(phi) | {LR_PREFIX + k for k in phi}
    assert all(torch.equal(start[LR_PREFIX + k], torch.full_like(v, 0.07)) for k, v in phi.items())
    trained = with_alpha({k: v.detach() for k, v in phi.items()})
    plan = method.adaptation(learner, trained, cfg)
    assert set(plan.params) == set(phi) and plan.only is None
    scores = score_plan(learner, plan, batch, (0, 2))
    # Two steps per task, each parameter with its own α, written out per task.
    for t in range(batch.num_tasks):
        theta = {k: v.detach().requires_grad_(True) for k, v in plan.params.items()}
        for _ in range(2):
            g = torch.autograd.grad(reference_loss(theta, batch.support_x[t], batch.support_y[t]),
                                    list(theta.values()))
            theta = {k: (v - plan.inner_lr[k] * gk).detach().requires_grad_(True)
                     for (k, v), gk in zip(theta.items(), g)}
        expected = reference_loss(theta, batch.query_x[t], batch.query_y[t]).detach()
        torch.testing.assert_close(scores["loss"][1, t], expected)


def test_anil_scores_head_only_and_its_variant_the_whole_net(setup):
    learner, phi, batch = setup
    cfg = TrainConfig(inner_lr=0.05)
    method = METHODS["anil"]
    phi = {k: v.detach() for k, v in phi.items()}
    head = method.adaptation(learner, phi, cfg)
    (suffix, hook), = method.variants
    whole = hook(learner, phi, cfg)
    assert head.only == HEAD and whole.only is None and suffix == "whole"
    theta = adapt(learner, expand(phi, batch.num_tasks), batch.support_x, batch.support_y, 0.05, 3,
                  only=head.only)
    assert all(torch.equal(theta[k][0], phi[k]) for k in phi if k not in HEAD)
    assert all(not torch.equal(theta[k][0], phi[k]) for k in HEAD)
    torch.testing.assert_close(score_plan(learner, head, batch, (3,))["loss"][0],
                               learner.loss(theta, batch.query_x, batch.query_y))
    assert not torch.allclose(score_plan(learner, whole, batch, (3,))["loss"],
                              score_plan(learner, head, batch, (3,))["loss"])


def test_first_order_drops_exactly_the_hessian_term(setup):
    """With one inner step: MAML − FOMAML = −α · mean_t H_t(φ) ∇θ l_t(θ_t)."""
    learner, phi, batch = setup
    alpha = 0.05
    cfg = TrainConfig(inner_lr=alpha, inner_steps=1)
    maml, _ = maml_gradient(learner, phi, batch, cfg)
    fomaml, _ = METHODS["fomaml"].meta_gradient(learner, phi, batch, cfg)
    hessian_terms = {k: torch.zeros_like(v) for k, v in phi.items()}
    for t in range(batch.num_tasks):
        g_support = torch.autograd.grad(reference_loss(phi, batch.support_x[t], batch.support_y[t]),
                                        list(phi.values()), create_graph=True)
        theta = {k: (v - alpha * g).detach().requires_grad_(True) for (k, v), g in zip(phi.items(), g_support)}
        g_query = torch.autograd.grad(reference_loss(theta, batch.query_x[t], batch.query_y[t]),
                                      list(theta.values()))
        hvp = torch.autograd.grad(g_support, list(phi.values()), grad_outputs=g_query)
        for k, h in zip(phi, hvp):
            hessian_terms[k] += -alpha * h / batch.num_tasks
    assert_params_close({k: maml[k] - fomaml[k] for k in phi}, hessian_terms)
    assert any(hessian_terms[k].abs().max() > 1e-6 for k in phi)  # the term is not trivially 0


def test_first_order_matches_reference_without_create_graph(setup):
    learner, phi, batch = setup
    cfg = TrainConfig(inner_lr=0.05, inner_steps=2)
    ours, _ = METHODS["fomaml"].meta_gradient(learner, phi, batch, cfg)
    # With create_graph=False the inner gradients are constants: dθ/dφ = I.
    ref, _ = reference_maml(phi, batch, 0.05, 2, create_graph=False)
    assert_params_close(ours, ref)


def test_reptile_update_is_step_size_times_mean_displacement(setup):
    learner, phi, batch = setup
    cfg = TrainConfig(inner_lr=0.05, reptile_inner_steps=3, reptile_step_size=0.7)
    grads, _ = reptile_gradient(learner, phi, batch, cfg)
    x, y = batch.all_data()
    displacement = {k: torch.zeros_like(v) for k, v in phi.items()}
    for t in range(batch.num_tasks):
        theta = {k: v.detach().requires_grad_(True) for k, v in phi.items()}
        for _ in range(3):
            g = torch.autograd.grad(reference_loss(theta, x[t], y[t]), list(theta.values()))
            theta = {k: (v - 0.05 * gk).detach().requires_grad_(True) for (k, v), gk in zip(theta.items(), g)}
        for k in phi:
            displacement[k] += (theta[k] - phi[k]).detach() / batch.num_tasks
    opt = torch.optim.SGD(list(phi.values()), lr=cfg.reptile_step_size)
    before = {k: v.detach().clone() for k, v in phi.items()}
    for k, p in phi.items():
        p.grad = grads[k]
    opt.step()
    assert_params_close({k: phi[k].detach() - before[k] for k in phi},
                        {k: 0.7 * displacement[k] for k in phi})


def test_pretrain_gradient_is_joint_loss_gradient(setup):
    learner, phi, batch = setup
    grads, _ = pretrain_gradient(learner, phi, batch, TrainConfig())
    x, y = batch.all_data()
    joint = reference_loss(phi, x.reshape(-1, 1), y.reshape(-1, 1))  # every point of every task
    assert_params_close(grads, dict(zip(phi, torch.autograd.grad(joint, list(phi.values())))))


@pytest.mark.parametrize("family_name", ["sinusoid", "clusters"])
def test_batched_evaluation_equals_per_task_loop(family_name):
    family = make_family(family_name)
    learner = make_learner(family, (16, 16))
    phi = learner.model.init(generator(0, "init"))
    tasks = family.sample(6, generator(0, "test"))
    steps = (0, 1, 3)
    batched = score_tasks(learner, phi, tasks, 0.1, steps)
    for t in range(tasks.num_tasks):
        one = tasks.select(t)
        path = []
        theta = expand(phi, 1)
        for step in range(steps[-1] + 1):
            if step in steps:
                path.append(learner.metrics(theta, one.query_x, one.query_y))
            theta = adapt(learner, theta, one.support_x, one.support_y, 0.1, 1)
        for metric in batched:
            torch.testing.assert_close(batched[metric][:, t], torch.cat([p[metric] for p in path]))
