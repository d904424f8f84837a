r"""Chapter 3's loss graders share these: a small fixed score model, the check that a loss is
one number, and the exact check of a denoising loss that draws its own noise.

That last check is stage 1 of the "build it" grader (`ch03_training`). The reader's
``dsm_loss(model, x, sigma, generator)`` draws its noise as it likes; the model it is
given records the points it is evaluated at, which gives back the noise
$z = (\tilde x - x)/\sigma$ that was drawn. With it, the right value, and that of each
usual mistake, is known to rounding error.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._framework import CheckFailed, _as_tensor

__all__ = ["LOSS_SCALES", "check_loss_with_own_noise"]

LOSS_SCALES = {0.5: "J_DSM / 2", 1.0: "J_DSM", 2.0: "2 J_DSM"}  # one minimizer; Adam ignores scale


class _TinyScore(torch.nn.Module):
    r"""A small fixed score model $s(x) = W_2 \tanh(W_1 x + b_1) - x$ in double precision.

    Its parameters come from a private generator, so a checker never touches the reader's
    global random state, and its Jacobian is far from diagonal, so that a trace computed
    from the wrong entries shows up.
    """

    def __init__(self, dim: int = 3, hidden: int = 8, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = torch.nn.Parameter(torch.randn(hidden, dim, generator=g, dtype=torch.float64))
        self.b1 = torch.nn.Parameter(torch.randn(hidden, generator=g, dtype=torch.float64))
        self.w2 = torch.nn.Parameter(
            torch.randn(dim, hidden, generator=g, dtype=torch.float64) / hidden**0.5
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.w1.T + self.b1) @ self.w2.T - x


class _Recorder(torch.nn.Module):
    """A score model that remembers the points it is evaluated at."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.detach().clone())
        return self.inner(x)


def _as_scalar_loss(result: object, what: str, n: int) -> torch.Tensor:
    result = _as_tensor(result, what)
    if result.numel() != 1:
        hint = (
            "that is one value per point: average them with .mean()."
            if result.shape == (n,)
            else "sum over the coordinates, then average over the points."
        )
        raise CheckFailed(
            f"{what} should return one number (a 0-d tensor); got shape {tuple(result.shape)}: {hint}"
        )
    return result.reshape(())


def _scale_of(value: float, reference: float) -> float | None:
    """The accepted multiple of ``reference`` that ``value`` is, or None."""
    for scale in LOSS_SCALES:
        if math.isclose(value, scale * reference, rel_tol=1e-4, abs_tol=1e-9):
            return scale
    return None


def _check_loss_at(dsm_loss: Callable[..., torch.Tensor], sigma: float) -> float:
    """Stage 1 at one noise level; return the multiple of J_DSM the loss computes."""
    x = torch.randn(2000, 2, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    model = _Recorder(_TinyScore(dim=2, seed=1))
    result = _as_scalar_loss(
        dsm_loss(model, x.clone(), sigma, torch.Generator().manual_seed(5)), "dsm_loss", len(x)
    )
    if not model.inputs:
        raise CheckFailed("dsm_loss never called the model: evaluate it at the noisy points.")
    seen = model.inputs[-1].double()
    if seen.shape != x.shape:
        raise CheckFailed(
            f"call the model once on the whole batch, shape {tuple(x.shape)}; its last call "
            f"had shape {tuple(seen.shape)}."
        )
    value = result.detach().double().item()
    with torch.no_grad():
        s = model.inner(seen)
    context = f"with sigma = {sigma}: "
    if torch.allclose(seen, x, rtol=0, atol=1e-9):
        if _scale_of(value, 0.5 * s.pow(2).sum(1).mean().item()):
            raise CheckFailed(
                context + "there is no noise at all: the model sees the clean x and is "
                "pushed towards zero. Perturb x with Gaussian noise of standard deviation "
                "sigma, and regress the model at the noisy point on the kernel's score."
            )
        raise CheckFailed(
            context + "the model was evaluated at the clean points x; evaluate it at the "
            "noisy points x~ = x + sigma z, where the target (the kernel's score) lives."
        )
    z = (seen - x) / sigma  # the noise the reader drew, as the model saw it
    spread, centre = z.std().item(), z.mean().item()
    if abs(spread - 1) > 0.06 or abs(centre) > 0.06:  # 4000 draws: 15 standard errors
        if abs(spread * sigma - 1) < 0.06:
            hint = "the noise added to x has standard deviation 1: scale it by sigma."
        elif abs(centre - 0.5) < 0.06:
            hint = "torch.rand draws uniform numbers in [0, 1); the noise is standard normal, torch.randn."
        else:
            hint = (
                f"the noise added to x should have mean 0 and standard deviation sigma; "
                f"yours has mean {centre * sigma:.3f} and standard deviation {spread * sigma:.3f}."
            )
        raise CheckFailed(context + hint)

    def j(target: torch.Tensor) -> float:
        return 0.5 * (s - target).pow(2).sum(1).mean().item()

    scale = _scale_of(value, j(-z / sigma))
    if scale is None:
        mistakes = [
            (z / sigma, "the target has the wrong sign: the kernel's score -(x~ - x)/sigma^2 points from the noisy point back to the clean one."),
            (-z / sigma**2, "with x~ - x = sigma z, the kernel's score -(x~ - x)/sigma^2 is -z/sigma, not -z/sigma^2."),
            (-sigma * z, "the kernel's score -(x~ - x)/sigma^2 divides the noise by sigma; yours multiplies."),
            (-z, "the target -z is the kernel's score only for sigma = 1: divide by sigma."),
        ]  # fmt: skip
        for target, hint in mistakes:
            if _scale_of(value, j(target)):
                raise CheckFailed(context + hint)
        raise CheckFailed(
            context + f"dsm_loss returned {value:.5f}; for the noise it added, J_DSM is "
            f"{j(-z / sigma):.5f}. If you drew the noise twice, use the same z in the noisy "
            "point and in the target; the average is over the points, the sum over coordinates."
        )
    if not result.requires_grad:
        raise CheckFailed(
            "the value is right, but the loss is detached from the model's parameters: "
            "do not call .detach(), .item() or torch.no_grad()."
        )
    return scale


def check_loss_with_own_noise(dsm_loss: Callable[..., torch.Tensor]) -> float:
    """The value for the noise drawn, and the use of the generator; raise `CheckFailed`.

    Returns the multiple of $J_{\\text{DSM}}$ that ``dsm_loss`` computes (a key of
    `LOSS_SCALES`).
    """
    scales = {_check_loss_at(dsm_loss, sigma) for sigma in (0.5, 0.2)}  # sigma or sigma^2?
    model = _TinyScore(dim=2, seed=1)
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    first, again, other = (
        _as_scalar_loss(
            dsm_loss(model, x.clone(), 0.5, torch.Generator().manual_seed(seed)), "dsm_loss", 50
        ).item()
        for seed in (5, 5, 6)
    )
    if first != again:
        raise CheckFailed(
            "two calls with identically seeded generators gave different losses: draw the "
            "noise with the generator passed in, torch.randn(x.shape, generator=generator) "
            "(torch.randn_like takes no generator)."
        )
    if first == other:
        raise CheckFailed(
            "the loss does not depend on the generator passed in: draw the noise with it, "
            "not with a generator of your own."
        )
    return max(scales)
