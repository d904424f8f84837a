r"""The first stages of Chapter 5's "build it" grader: the contract and the chains of ``pcd_loss``.

`ch05_contrastive.check_pcd_loss` runs these before it looks at the loss's gradient. They
use an energy whose Langevin dynamics are known exactly, a Gaussian with a diagonal
precision $\lambda$, $E_\theta(x) = \tfrac12 \sum_i \lambda_i (x_i - \mu_i)^2$:

1. the contract: one differentiable number, whose gradient reaches the parameters only
   through the energies (the samples held fixed), the buffer updated in place in exactly
   ``n`` rows, every random number drawn from ``generator``, the chains moved together;
2. the restarts, with a tiny step: how many chains leave their stored state, and where
   they land;
3. the sampler: chains all started at one point reach, in $B$ steps, the mean and the
   variance that unadjusted Langevin dynamics gives (Chapter 2); this names a wrong drift,
   a wrong noise, a wrong number of steps.

Under its own Boltzmann density the energy's derivative in $\log\lambda_i$ averages to
$\tfrac12$, the fact the gradient stage relies on:

>>> energy = _DiagonalGaussianEnergy((0.5, -0.5), (1.0, 2.0))
>>> samples = energy.sample(100_000, torch.Generator().manual_seed(0))
>>> gradients = energy.per_point_gradients(samples).mean(dim=0)
>>> bool(gradients[:2].abs().max() < 0.02), gradients[2:].numpy().round(2)
(True, array([0.5, 0.5]))
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from ._framework import CheckFailed, _as_tensor

__all__: list[str] = []  # the grader is `ch05_contrastive.check_pcd_loss`

BOX = (-4.0, 4.0)
# Every statistical comparison is made in standard errors, computed exactly (binomial,
# Gaussian): 5 of them by chance, about 6e-7. Over 20 seeds the reference's largest z (over
# coordinates, and over mean and variance) was 2.6 for the restarts, 2.4 for the sampler
# and 2.8 for the gradient (which includes unadjusted Langevin's small bias).
Z_ALLOWED = 5.0
# Stage 1: 256 data points, 1024 stored chains. A loop over single chains is then about
# 100 times slower than the reference (on one thread; about 30 times with 64 points: the
# batched call's cost is mostly overhead), and correct batched answers about as fast.
CONTRACT_BATCH, CONTRACT_CAPACITY = 256, 1024
SLOWDOWN_ALLOWED = 25.0

# Stages 1 and 2 (and the gradient stage): the model, and Gaussian data unlike it.
MODEL_MEAN, MODEL_PRECISION = (0.5, -0.5), (1.0, 2.0)
DATA_MEAN, DATA_VARIANCE = (0.0, 0.0), (2.0, 0.25)
# Stage 3: 4000 chains from one point, B = 5 steps of size 0.2, precisions 2 and 0.5.
PROBE_MEAN, PROBE_PRECISION = (0.5, -0.5), (2.0, 0.5)
PROBE_START, PROBE_STEP, PROBE_STEPS, PROBE_CHAINS = (1.5, 1.5), 0.2, 5, 4000


class _DiagonalGaussianEnergy(torch.nn.Module):
    r"""$E_\theta(x) = \tfrac12 \sum_i \lambda_i (x_i - \mu_i)^2$, $\theta = (\mu, \log\lambda)$.

    Its Boltzmann density is $\mathcal{N}(\mu, \operatorname{diag}(1/\lambda))$, so that
    $\mathbb{E}_{p_\theta}[\partial E/\partial \mu_i] = 0$ and
    $\mathbb{E}_{p_\theta}[\partial E/\partial \log\lambda_i] = \tfrac12$.
    """

    def __init__(self, mean: tuple[float, ...], precision: tuple[float, ...]) -> None:
        super().__init__()
        self.mean = torch.nn.Parameter(torch.tensor(mean, dtype=torch.float64))
        self.log_precision = torch.nn.Parameter(torch.tensor(precision, dtype=torch.float64).log())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.log_precision.exp() * (x - self.mean) ** 2).sum(dim=1)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, len(self.mean), generator=generator, dtype=torch.float64)
        return (self.mean + z * self.log_precision.exp().rsqrt()).detach()

    def per_point_gradients(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\partial E/\partial\mu$ and $\partial E/\partial\log\lambda$ at each point, (N, 4)."""
        precision, offset = self.log_precision.exp().detach(), (x - self.mean).detach()
        return torch.cat([-precision * offset, 0.5 * precision * offset**2], dim=1)


def _gaussian_data(
    n: int, mean: tuple[float, ...], variance: tuple[float, ...], seed: int
) -> torch.Tensor:
    z = torch.randn(
        n, len(mean), generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    return torch.tensor(mean, dtype=torch.float64) + z * torch.tensor(variance).sqrt()


def _reference_loss(
    energy: torch.nn.Module,
    batch: torch.Tensor,
    buffer: torch.Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator,
    reinit_prob: float,
    box: tuple[float, float],
) -> torch.Tensor:
    """The loss the reader is asked for (the chapter's solution), to time the reader's against."""
    n, d = batch.shape
    index = torch.randperm(len(buffer), generator=generator)[:n]
    restart = torch.rand(n, generator=generator) < reinit_prob
    noise = box[0] + (box[1] - box[0]) * torch.rand(n, d, generator=generator)
    x = torch.where(restart[:, None], noise.to(buffer), buffer[index])
    for _ in range(n_steps):
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(x).sum(), x)
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = x + 0.5 * step_size * -grad + math.sqrt(step_size) * z
    buffer[index] = x.detach()
    return energy(batch).mean() - energy(x.detach()).mean()


def _call(
    pcd_loss: Callable[..., object],
    energy: torch.nn.Module,
    batch: torch.Tensor,
    buffer: torch.Tensor,
    step_size: float,
    n_steps: int,
    seed: int,
    reinit_prob: float,
    box: tuple[float, float] = BOX,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reader's loss on copies of batch and buffer; returns the loss and the new buffer."""
    buffer = buffer.clone()
    loss = pcd_loss(
        energy, batch.clone(), buffer, step_size, n_steps,
        torch.Generator().manual_seed(seed), reinit_prob=reinit_prob, box=box,
    )  # fmt: skip
    loss = _as_tensor(loss, "pcd_loss")
    if loss.numel() != 1:
        raise CheckFailed(
            f"pcd_loss should return one number (a 0-d tensor); got shape {tuple(loss.shape)}: "
            "average the energies over the points with .mean()."
        )
    return loss.reshape(()), buffer


def _check_samples_held_fixed(
    energy: torch.nn.Module, loss: torch.Tensor, batch: torch.Tensor, samples: torch.Tensor
) -> None:
    """If the loss is (5.3) in value, its gradient must be (5.3)'s with the samples fixed."""
    rebuilt = energy(batch).mean() - energy(samples).mean()
    if not torch.allclose(loss.detach(), rebuilt.detach(), rtol=1e-6, atol=1e-9):
        return  # a different loss: the gradient stage will say how it differs
    parameters = list(energy.parameters())
    got = torch.autograd.grad(loss, parameters, allow_unused=True)
    want = torch.autograd.grad(rebuilt, parameters)
    if any(g is None or not torch.allclose(g, w, rtol=1e-6, atol=1e-9) for g, w in zip(got, want)):
        raise CheckFailed(
            "the loss has the right value, but its gradient also flows back through the "
            "Langevin steps into the energy's parameters (the chains were run with "
            "create_graph=True, as EnergyMLP.score does, and the samples not detached). The "
            "negative phase of (5.2) holds the samples fixed: use y = x.detach() in the loss."
        )


def _check_contract(pcd_loss: Callable[..., object]) -> None:
    """Stage 1, on CONTRACT_BATCH data points and CONTRACT_CAPACITY stored chains."""
    energy = _DiagonalGaussianEnergy(MODEL_MEAN, MODEL_PRECISION)
    n, capacity = CONTRACT_BATCH, CONTRACT_CAPACITY
    batch = _gaussian_data(n, DATA_MEAN, DATA_VARIANCE, seed=10)
    buffer = energy.sample(capacity, torch.Generator().manual_seed(11))
    begun = time.process_time()  # the reference first: it also warms autograd up
    _reference_loss(
        energy, batch, buffer.clone(), 0.1, 10, torch.Generator().manual_seed(12), 0.05, BOX
    )
    plain = max(time.process_time() - begun, 1e-3)
    begun = time.process_time()
    loss, after = _call(pcd_loss, energy, batch, buffer, 0.1, 10, 12, 0.05)
    seconds = time.process_time() - begun
    if not loss.requires_grad:
        raise CheckFailed(
            "the loss is detached from the energy's parameters, so training could not use it: "
            "compute it from energy(batch) and energy(samples), without .item(), .detach() of "
            "the loss or torch.no_grad()."
        )
    moved = (buffer != after).any(dim=1)
    if not moved.any():
        raise CheckFailed(
            "the buffer did not change: store the chains' new states in it, in place, with "
            "buffer[index] = samples (assigning buffer = ... only renames a local variable)."
        )
    if moved.sum() > n:
        raise CheckFailed(
            f"{int(moved.sum())} of the {capacity} stored chains changed for a batch of {n}: "
            f"take n = {n} of them at random (torch.randperm), run those, and write back only "
            "those."
        )
    if moved.sum() < n:
        raise CheckFailed(
            f"only {int(moved.sum())} stored chains changed for a batch of {n}: draw the n "
            "chains without repetition, torch.randperm(len(buffer), generator=generator)[:n], "
            "so that each is run once and written back once."
        )
    _check_samples_held_fixed(energy, loss, batch, after[moved])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        begun = time.process_time()
        again, after_again = _call(pcd_loss, energy, batch, buffer, 0.1, 10, 12, 0.05)
        seconds = min(seconds, time.process_time() - begun)  # the faster of two calls
    if not (torch.equal(loss.detach(), again.detach()) and torch.equal(after, after_again)):
        raise CheckFailed(
            "two calls with identically seeded generators gave different results: your code "
            "draws from PyTorch's global random state. Pass generator=generator to "
            "torch.randperm, torch.rand and torch.randn."
        )
    _, after_other = _call(pcd_loss, energy, batch, buffer, 0.1, 10, 13, 0.05)
    if torch.equal(after, after_other):
        raise CheckFailed(
            "the generator passed in does not change the result: draw the chains, the "
            "restarts and the noise with it, not with a generator of your own."
        )
    if seconds > SLOWDOWN_ALLOWED * plain:
        raise CheckFailed(
            f"one call took {seconds * 1000:.0f} ms, {seconds / plain:.0f} times as long as a "
            "plain one: is it looping over single chains? Move all n chains at once, one "
            "batched energy and gradient per Langevin step."
        )


def _check_restarts(pcd_loss: Callable[..., object]) -> None:
    """Stage 2: a tiny step, so that only the restarted chains move far."""
    energy = _DiagonalGaussianEnergy(MODEL_MEAN, MODEL_PRECISION)
    n, share = 4000, 0.3
    batch = _gaussian_data(n, DATA_MEAN, DATA_VARIANCE, seed=30)
    start = torch.tensor([3.0, 3.0], dtype=torch.float64)
    _, after = _call(pcd_loss, energy, batch, start.repeat(n, 1), 1e-8, 1, 31, share)
    restarted = after[(after - start).norm(dim=1) > 0.01]
    fraction = len(restarted) / n
    tolerance = Z_ALLOWED * math.sqrt(share * (1 - share) / n)  # binomial standard errors
    if abs(fraction - share) > tolerance:
        if abs(fraction - (1 - share)) < tolerance:
            hint = "restart a chain when a uniform number falls below reinit_prob, u < reinit_prob."
        elif fraction > 0.99:
            hint = (
                "every chain left its stored state in one tiny step. The chains start at the "
                "stored states, buffer[index] (starting them at the batch is contrastive "
                "divergence from the data), and only a fraction reinit_prob of them restart "
                "from noise."
            )
        elif fraction == 0:
            hint = "no chain restarted: replace each chosen chain by uniform noise in the box with probability reinit_prob."
        else:
            hint = "each chain restarts, independently, with probability reinit_prob."
        raise CheckFailed(
            f"with reinit_prob = {share}, {fraction:.1%} of the chains restarted: {hint}"
        )
    low, high = BOX
    uniform_variance = (high - low) ** 2 / 12
    inside = bool(((restarted >= low) & (restarted <= high)).all())
    mean_z = restarted.mean(dim=0).abs().max().item() / math.sqrt(uniform_variance / len(restarted))
    # The sample variance of a uniform variable has the variance 0.8 sigma^4 / n
    # (its fourth central moment is 1.8 sigma^4).
    var_z = (restarted.var(dim=0) - uniform_variance).abs().max().item() / (
        uniform_variance * math.sqrt(0.8 / len(restarted))
    )
    if not inside or mean_z > Z_ALLOWED or var_z > Z_ALLOWED:
        raise CheckFailed(
            f"the restarted chains should be uniform in the box [{low:g}, {high:g}]^d (mean 0, "
            f"variance {uniform_variance:.2f} per coordinate); yours have mean "
            f"{restarted.mean(dim=0).numpy().round(2)} and variance "
            f"{restarted.var(dim=0).numpy().round(2)}. Use low + (high - low) * torch.rand(...)."
        )


def _langevin_prediction(
    drift: float, noise_variance: float, steps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean offset and variance after `steps` linear steps x <- x - drift lambda (x - mu) + noise."""
    precision = torch.tensor(PROBE_PRECISION, dtype=torch.float64)
    start = torch.tensor(PROBE_START, dtype=torch.float64) - torch.tensor(
        PROBE_MEAN, dtype=torch.float64
    )
    factor = 1 - drift * precision
    variance = noise_variance * (1 - factor ** (2 * steps)) / (1 - factor**2)
    return factor**steps * start, variance


def _check_sampler(pcd_loss: Callable[..., object]) -> None:
    """Stage 3: chains from one point, on a Gaussian energy, no restarts."""
    energy = _DiagonalGaussianEnergy(PROBE_MEAN, PROBE_PRECISION)
    batch = _gaussian_data(PROBE_CHAINS, DATA_MEAN, DATA_VARIANCE, seed=20)
    buffer = torch.tensor(PROBE_START, dtype=torch.float64).repeat(PROBE_CHAINS, 1)
    _, after = _call(pcd_loss, energy, batch, buffer, PROBE_STEP, PROBE_STEPS, 21, 0.0)
    if not torch.isfinite(after).all():
        raise CheckFailed(
            "the chains left the finite numbers on a Gaussian energy with a small step: does "
            "the drift point downhill, x - (step_size / 2) * grad_x E(x)?"
        )
    offset = after.mean(dim=0) - torch.tensor(PROBE_MEAN, dtype=torch.float64)
    variance = after.var(dim=0)
    eps, steps = PROBE_STEP, PROBE_STEPS

    def matches(drift: float, noise_variance: float, n_steps: int) -> bool:
        """Mean and variance within Z_ALLOWED standard errors of 4000 Gaussian chains."""
        want_offset, want_variance = _langevin_prediction(drift, noise_variance, n_steps)
        mean_z = (offset - want_offset).abs() / (
            want_variance.clamp(min=1e-12) / PROBE_CHAINS
        ).sqrt()
        var_z = (variance - want_variance).abs() / (
            want_variance.clamp(min=1e-12) * math.sqrt(2 / PROBE_CHAINS)
        )
        return bool((mean_z < Z_ALLOWED).all() and (var_z < Z_ALLOWED).all())

    if matches(eps / 2, eps, steps):
        return
    mistakes = [
        ((eps / 2, 2 * eps, steps), "the chains spread twice as much as Langevin's: the noise is sqrt(step_size) * z in the book's convention (2.1), not sqrt(2 step_size) * z, which goes with a drift of step_size * s."),
        ((eps, 2 * eps, steps), "that is the other convention, x + step_size * s + sqrt(2 step_size) * z, which is the book's update (2.1) with a step twice as large. Here step_size is the book's epsilon: x + (step_size / 2) * s + sqrt(step_size) * z."),
        ((eps, eps, steps), "the drift is twice too strong: the update (2.1) moves x by (step_size / 2) * s(x), with s = -grad_x E."),
        ((eps / 2, eps**2, steps), "the noise is too weak: its standard deviation is sqrt(step_size), not step_size."),
        ((eps / 2, 0.0, steps), "the chains do not spread at all: Langevin dynamics adds fresh noise sqrt(step_size) * z at every step."),
        ((-eps / 2, eps, steps), "the chains run away from the energy's minimum: the drift is -(step_size / 2) * grad_x E(x), downhill in energy."),
        ((eps / 2, eps, steps - 1), f"the chains took {steps - 1} steps where n_steps = {steps}: run exactly n_steps updates."),
        ((eps / 2, eps, steps + 1), f"the chains took {steps + 1} steps where n_steps = {steps}: run exactly n_steps updates."),
    ]  # fmt: skip
    for (drift, noise_variance, n_steps), hint in mistakes:
        if matches(drift, noise_variance, n_steps):
            raise CheckFailed(hint)
    want_offset, want_variance = _langevin_prediction(eps / 2, eps, steps)
    raise CheckFailed(
        f"{PROBE_CHAINS} chains started at one point should end, after {steps} steps (2.1), "
        f"at mean offset {want_offset.numpy().round(3)} and variance "
        f"{want_variance.numpy().round(3)}; yours ended at {offset.numpy().round(3)} and "
        f"{variance.numpy().round(3)}. Check the update x + (step_size / 2) s(x) + "
        "sqrt(step_size) z with s = -grad_x E, on all chains, n_steps times."
    )
