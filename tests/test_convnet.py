"""Oracle tests of the conv net: batched forward and MAML meta-gradients vs a per-task reference."""
import pytest
import torch
import torch.nn.functional as F

from core.engine.algorithms import anil_gradient, maml_gradient
from core.engine.config import TrainConfig
from core.engine.convnet import NORMS, ConvNet, pooled_side
from core.engine.models import expand
from core.engine.tasks import TaskBatch

BATCHINGS = ["loop", "grouped"]
WAYS, SHOTS, QUERY, TASKS = 3, 2, 3, 4


def reference_forward(params, x, norm="transductive", support=None):
    """One task, textbook order (conv, normalisation, ReLU, max-pool), via nn.functional.

    norm "support": `support` images run alongside x and supply each block's statistics.
    """
    h, s = x, support
    for i in range(sum(k.endswith(".w") and k.startswith("conv") for k in params)):
        gamma, beta = params[f"bn{i}.w"], params[f"bn{i}.b"]
        h = F.conv2d(h, params[f"conv{i}.w"], params[f"conv{i}.b"], padding=1)
        if norm == "group":
            h = F.layer_norm(h, h.shape[1:], eps=1e-5) * gamma[:, None, None] + beta[:, None, None]
        elif norm == "support" and s is not None:
            s = F.conv2d(s, params[f"conv{i}.w"], params[f"conv{i}.b"], padding=1)
            mean, var = s.mean((0, 2, 3)), s.var((0, 2, 3), unbiased=False)
            h, s = ((z - mean[:, None, None]) / torch.sqrt(var[:, None, None] + 1e-5)
                    * gamma[:, None, None] + beta[:, None, None] for z in (h, s))
        else:
            h = F.batch_norm(h, None, None, gamma, beta, training=True)
        h = torch.relu(h)
        s = None if s is None else torch.relu(s)
        if h.shape[-1] >= 2:
            h = F.max_pool2d(h, 2)
            s = None if s is None else F.max_pool2d(s, 2)
    return h.flatten(1) @ params["head.w"] + params["head.b"]


def reference_maml(phi, batch, inner_lr, steps, create_graph, norm="transductive", only=None):
    """Per-task loop: adapt a copy of φ (the keys in `only`, or all) on the support set, mean
    query loss (queries normalised by the support with norm "support"), gradient w.r.t. φ."""
    losses = []
    for t in range(batch.num_tasks):
        theta = dict(phi)
        for _ in range(steps):
            keys = [k for k in theta if only is None or k in only]
            loss = F.cross_entropy(reference_forward(theta, batch.support_x[t], norm),
                                   batch.support_y[t])
            grads = torch.autograd.grad(loss, [theta[k] for k in keys], create_graph=create_graph)
            theta.update({k: theta[k] - inner_lr * g for k, g in zip(keys, grads)})
        pred = reference_forward(theta, batch.query_x[t], norm, batch.support_x[t])
        losses.append(F.cross_entropy(pred, batch.query_y[t]))
    loss = torch.stack(losses).mean()
    return dict(zip(phi, torch.autograd.grad(loss, list(phi.values()))))


class Learner:
    """The minimal learner the algorithms need: per-task cross-entropy of the conv net."""

    def __init__(self, model):
        self.model = model

    def loss(self, params, x, y, context=None):
        pred = self.model.forward(params, x, context)
        return F.cross_entropy(pred.flatten(0, 1), y.reshape(-1), reduction="none").view(y.shape).mean(1)


def tiny_tasks(size=8, gen_seed=0):
    """Float64 random images and shuffled labels: TASKS tasks, WAYS-way SHOTS-shot."""
    gen = torch.Generator().manual_seed(gen_seed)

    def labels(per_class):
        y = torch.arange(WAYS).repeat_interleave(per_class)
        return torch.stack([y[torch.randperm(len(y), generator=gen)] for _ in range(TASKS)])

    sx = torch.rand(TASKS, WAYS * SHOTS, 1, size, size, generator=gen, dtype=torch.float64)
    qx = torch.rand(TASKS, WAYS * QUERY, 1, size, size, generator=gen, dtype=torch.float64)
    return TaskBatch(sx, labels(SHOTS), qx, labels(QUERY), {})


def tiny_phi(model):
    phi = model.init(torch.Generator().manual_seed(1))
    # Non-trivial batch-norm parameters, so their gradients are tested in general position.
    gen = torch.Generator().manual_seed(2)
    for k in phi:
        if k.startswith("bn"):
            phi[k] = phi[k] + 0.3 * torch.randn(phi[k].shape, generator=gen)
    return {k: v.double().requires_grad_(True) for k, v in phi.items()}


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("batching", BATCHINGS)
@pytest.mark.parametrize("size", [8, 10])
def test_batched_forward_equals_per_task_forward(batching, size, norm):
    model = ConvNet(1, size, channels=4, outputs=WAYS, batching=batching, norm=norm)
    batch = tiny_tasks(size)
    gen = torch.Generator().manual_seed(3)
    params = {k: torch.stack([v.double() + 0.1 * torch.randn(v.shape, generator=gen, dtype=torch.float64)
                              for _ in range(TASKS)])
              for k, v in model.init(gen).items()}  # different parameters per task
    out = model.forward(params, batch.query_x, batch.support_x)
    assert out.shape == (TASKS, WAYS * QUERY, WAYS)
    for t in range(TASKS):
        one = reference_forward({k: v[t] for k, v in params.items()}, batch.query_x[t], norm,
                                batch.support_x[t])
        torch.testing.assert_close(out[t], one)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("batching", BATCHINGS)
@pytest.mark.parametrize("first_order, steps", [(False, 1), (False, 2), (True, 1)])
def test_meta_gradient_matches_per_task_reference(batching, first_order, steps, norm):
    model = ConvNet(1, 8, channels=4, outputs=WAYS, batching=batching, norm=norm)
    phi, batch = tiny_phi(model), tiny_tasks()
    cfg = TrainConfig(inner_lr=0.4, inner_steps=steps)
    grads, _ = maml_gradient(Learner(model), phi, batch, cfg, first_order=first_order)
    if first_order:
        # First-order MAML: ∇θ of the query loss at the adapted θ, averaged over tasks.
        theta = {k: v.detach() for k, v in phi.items()}
        expected = reference_fomaml(theta, batch, cfg.inner_lr, norm)
    else:
        expected = reference_maml(phi, batch, cfg.inner_lr, steps, create_graph=True, norm=norm)
    for k in phi:
        torch.testing.assert_close(grads[k], expected[k], rtol=1e-9, atol=1e-12)
    for i in range(model.blocks):
        # Batch norm removes any per-channel constant, so the true gradient of a pre-norm bias
        # is 0; layer norm removes only a constant shared by all channels.
        assert (grads[f"conv{i}.b"].abs().max() < 1e-12) == (norm != "group")
        assert grads[f"conv{i}.w"].abs().max() > 1e-6


@pytest.mark.parametrize("batching", BATCHINGS)
def test_anil_meta_gradient_matches_head_only_reference(batching):
    model = ConvNet(1, 8, channels=4, outputs=WAYS, batching=batching)
    phi, batch = tiny_phi(model), tiny_tasks()
    cfg = TrainConfig(inner_lr=0.4, inner_steps=2)
    grads, _ = anil_gradient(Learner(model), phi, batch, cfg)
    expected = reference_maml(phi, batch, cfg.inner_lr, 2, create_graph=True, only=model.head_keys)
    for k in phi:
        torch.testing.assert_close(grads[k], expected[k], rtol=1e-9, atol=1e-12)
    maml, _ = maml_gradient(Learner(model), phi, batch, cfg)
    assert (maml["conv0.w"] - grads["conv0.w"]).abs().max() > 1e-6


def test_anil_meta_gradient_matches_finite_differences():
    model = ConvNet(1, 8, channels=4, outputs=WAYS)
    phi, batch = tiny_phi(model), tiny_tasks()
    cfg = TrainConfig(inner_lr=0.4, inner_steps=2)
    grads, _ = anil_gradient(Learner(model), phi, batch, cfg)
    direction = {k: torch.randn(v.shape, generator=torch.Generator().manual_seed(4), dtype=v.dtype)
                 for k, v in phi.items()}
    eps = 1e-6

    def meta_loss(sign):
        shifted = {k: (v + sign * eps * direction[k]).detach().requires_grad_(True)
                   for k, v in phi.items()}
        return anil_gradient(Learner(model), shifted, batch, cfg)[1].item()

    numeric = (meta_loss(1) - meta_loss(-1)) / (2 * eps)
    analytic = sum((grads[k] * direction[k]).sum() for k in phi).item()
    assert abs(numeric - analytic) < 1e-6 * max(1.0, abs(analytic))


@pytest.mark.parametrize("batching", BATCHINGS)
@pytest.mark.parametrize("norm", NORMS)
def test_a_query_image_prediction_depends_on_other_queries_only_when_transductive(batching, norm):
    model = ConvNet(1, 10, channels=4, outputs=WAYS, batching=batching, norm=norm)
    params = expand(tiny_phi(model), TASKS)
    batch = tiny_tasks(10)
    together = model.forward(params, batch.query_x, batch.support_x)
    alone = torch.cat([model.forward(params, batch.query_x[:, i:i + 1], batch.support_x)
                       for i in range(batch.query_x.shape[1])], dim=1)
    others = model.forward(params, torch.cat([batch.query_x[:, :1], batch.query_x[:, 1:].flip(0)],
                                             dim=1), batch.support_x)[:, 0]  # other tasks' queries
    peeks = norm == "transductive"
    assert (together - alone).abs().max() > 1e-3 if peeks else torch.allclose(together, alone)
    assert ((together[:, 0] - others).abs().max() > 1e-3) == peeks


def reference_fomaml(phi, batch, inner_lr, norm="transductive"):
    """Per task: one SGD step without a graph, then the query gradient at the adapted parameters."""
    total = {k: torch.zeros_like(v) for k, v in phi.items()}
    for t in range(batch.num_tasks):
        theta = {k: v.clone().requires_grad_(True) for k, v in phi.items()}
        loss = F.cross_entropy(reference_forward(theta, batch.support_x[t], norm), batch.support_y[t])
        grads = torch.autograd.grad(loss, list(theta.values()))
        theta = {k: (v - inner_lr * g).detach().requires_grad_(True)
                 for (k, v), g in zip(theta.items(), grads)}
        loss = F.cross_entropy(reference_forward(theta, batch.query_x[t], norm, batch.support_x[t]),
                               batch.query_y[t])
        for k, g in zip(theta, torch.autograd.grad(loss, list(theta.values()))):
            total[k] += g / batch.num_tasks
    return total


def test_pooling_keeps_four_blocks_on_small_images():
    assert [pooled_side(s, 4) for s in (28, 8, 10, 84)] == [1, 1, 1, 5]
    assert ConvNet(1, 8, channels=4).features == 4 and ConvNet(1, 84, channels=4).features == 100


def test_with_head_keeps_the_body_and_zeroes_a_new_head():
    params = ConvNet(1, 8, channels=4, outputs=20).init(torch.Generator().manual_seed(0))
    fresh = ConvNet(1, 8, channels=4).with_head(params, 5)
    assert fresh["head.w"].shape == (4, 5) and not fresh["head.w"].any() and not fresh["head.b"].any()
    assert all(fresh[k] is params[k] for k in params if not k.startswith("head."))
    out = ConvNet(1, 8, channels=4, outputs=5).forward(expand(fresh, 2), torch.rand(2, 3, 1, 8, 8))
    assert out.shape == (2, 3, 5) and not out.any()  # a zero head: every class equally likely
