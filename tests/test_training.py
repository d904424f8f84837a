"""The training loop's options: gradient clipping."""

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from ebm_book import nets
from ebm_book.training import train


def test_max_grad_norm_bounds_the_gradient_each_step_sees():
    """The optimizer sees gradients of total norm at most max_grad_norm; without it, the
    same steep loss hands it gradients a hundred times larger."""
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))

    def steep_loss(model, batch, generator):
        return 1e3 * model(batch).pow(2).mean()

    def norms_seen(max_grad_norm):
        torch.manual_seed(0)
        model, seen = nets.EnergyMLP(2, hidden=16), []

        def record(optimizer, args, kwargs):
            grads = [p.grad for p in model.parameters()]
            seen.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

        handle = register_optimizer_step_pre_hook(record)
        try:
            train(model, steep_loss, data, 10, 32, progress=False, max_grad_norm=max_grad_norm)
        finally:
            handle.remove()
        return seen

    clipped, free = norms_seen(0.5), norms_seen(None)
    assert len(clipped) == 10 and max(clipped) <= 0.5 * (1 + 1e-5)
    assert min(free) > 100 * 0.5
