r"""Chapter 3: the score-matching losses, Vincent's constant, a noise predictor's score, and a
score network trained at too small a noise level.

The "build it" grader (a denoising loss and a training loop, judged by the field they
learn) lives in `ch03_training`; it is re-exported here, so that the chapter imports all
of its graders from this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._framework import (
    CheckFailed,
    checker,
    compare_formula,
    diagnose,
    multiple_choice,
)
from .ch03_losses import _as_scalar_loss, _TinyScore
from .ch03_training import check_score_training

__all__ = [
    "check_gaussian_c_sigma",
    "check_implicit_score_matching",
    "check_score_training",
    "check_small_sigma_diagnosis",
]


def _parameter_gradients(loss: torch.Tensor, model: torch.nn.Module) -> list[torch.Tensor]:
    grads = torch.autograd.grad(
        loss, list(model.parameters()), allow_unused=True, retain_graph=True
    )
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, model.parameters())]


@checker
def check_implicit_score_matching(implicit_score_matching_loss: Callable[..., torch.Tensor]) -> str:
    r"""Check ``implicit_score_matching_loss(model, x)`` $= \frac1N\sum_n \big[\tfrac12\lVert s(x_n)\rVert^2 + \operatorname{tr}\nabla_x s(x_n)\big]$.

    The value is compared with the exact one, and so is its gradient with respect to the
    model's parameters (a trace computed without ``create_graph=True`` has the right
    value but no gradient, and the model would not learn from it).

    Examples
    --------
    >>> from ebm_book.score import jacobian_trace
    >>> def ism(model, x):
    ...     x = x.requires_grad_(True)
    ...     s = model(x)
    ...     return (0.5 * (s**2).sum(1) + jacobian_trace(model, x, create_graph=True)).mean()
    >>> check_implicit_score_matching(ism)
    ✅ Correct! ...
    True
    >>> check_implicit_score_matching(lambda model, x: 0.5 * (model(x) ** 2).sum(1).mean())
    ❌ Not yet: ... trace ...
    False
    """
    model = _TinyScore()
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    result = _as_scalar_loss(
        implicit_score_matching_loss(model, x.clone()), "implicit_score_matching_loss", len(x)
    )
    xg = x.clone().requires_grad_(True)
    scores = model(xg)
    jacobian = torch.stack(
        [torch.autograd.grad(scores[:, i].sum(), xg, create_graph=True)[0] for i in range(3)], 1
    )  # (N, i, j) = d s_i / d x_j
    half_norm = 0.5 * (scores**2).sum(1)
    trace = jacobian.diagonal(dim1=1, dim2=2).sum(1)
    expected = (half_norm + trace).mean()
    value = result.detach().double()
    if not torch.isclose(value, expected.detach(), rtol=1e-5, atol=1e-8):
        mistakes = [
            ((2 * half_norm + trace).mean(), "the squared norm needs its factor 1/2: 0.5 * ||s(x)||^2."),
            (half_norm.mean(), "you left out the trace term tr(grad_x s(x)), which replaces the unknown true score."),
            ((half_norm - trace).mean(), "the trace enters with a plus sign: E[0.5 ||s||^2 + tr(grad s)]. Integration by parts flips the sign of the cross term -E[s . grad log p]."),
            ((half_norm + jacobian.sum((1, 2))).mean(), "that adds *all* entries of the Jacobian (one backward pass of s.sum()). The trace keeps only the diagonal d s_i / d x_i: one backward pass of s_i per coordinate i, keeping entry i of its gradient."),
            ((half_norm + trace).mean() / 3, "sum over the coordinates and average over the points; .mean() over both divides by d."),
            ((half_norm / 3 + trace).mean(), "sum the squares over the coordinates: 0.5 * (s**2).sum(dim=1), not .mean(dim=1)."),
        ]  # fmt: skip
        diagnose(
            value,
            mistakes,
            otherwise=f"expected {expected.item():.6f}; got {value.item():.6f}. Compare with "
            "mean over points of 0.5 * ||s(x)||^2 + sum_i d s_i / d x_i.",
        )
    if not result.requires_grad:
        raise CheckFailed(
            "the value is right, but the loss is detached from the model's parameters, so "
            "training could not use it. Do not call .detach(), .item() or torch.no_grad()."
        )
    got = _parameter_gradients(result, model)
    want = _parameter_gradients(expected, model)
    if not all(torch.allclose(a.double(), b, rtol=1e-4, atol=1e-8) for a, b in zip(got, want)):
        trace_only = _parameter_gradients(half_norm.mean(), model)
        if all(
            torch.allclose(a.double(), b, rtol=1e-4, atol=1e-8) for a, b in zip(got, trace_only)
        ):
            raise CheckFailed(
                "the value is right, but the trace term carries no gradient: compute it with "
                "torch.autograd.grad(..., create_graph=True), so that training can "
                "differentiate through it."
            )
        raise CheckFailed(
            "the value is right, but its gradient with respect to the parameters is not."
        )
    return (
        f"J_ISM = {expected.item():.4f}, and its gradient trains the model. "
        "It cost d = 3 backward passes for the trace; Section 3.3 counts that cost."
    )


def _spd(d: int, seed: int) -> torch.Tensor:
    """A random covariance matrix of size d, with unequal variances and correlations."""
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return a @ a.T / d + 0.2 * torch.eye(d, dtype=torch.float64)


def _noisy_precision(cov: torch.Tensor, sigma: float, added: float | None = None) -> torch.Tensor:
    """(Sigma + added I)^(-1), with added = sigma^2 unless given."""
    added = sigma**2 if added is None else added
    return torch.linalg.inv(cov + added * torch.eye(cov.shape[0], dtype=cov.dtype))


@checker
def check_gaussian_c_sigma(c_sigma: Callable[..., object]) -> str:
    r"""Check ``c_sigma(cov, sigma)``, Vincent's constant $C_\sigma$ for data $\mathcal{N}(\mu, \Sigma)$.

    $J_{\text{DSM}} = J_{\text{ESM},\sigma} + C_\sigma$ with
    $C_\sigma = \frac{d}{2\sigma^2} - \tfrac12\mathbb{E}_{p_\sigma}\lVert\nabla\log p_\sigma\rVert^2$,
    and for Gaussian data $p_\sigma = \mathcal{N}(\mu, \Sigma + \sigma^2 I)$, so that
    $C_\sigma = \frac{d}{2\sigma^2} - \tfrac12\operatorname{tr}\big((\Sigma + \sigma^2 I)^{-1}\big)$.
    The formula is evaluated for covariances of several sizes and shapes.

    Examples
    --------
    >>> def c_sigma(cov, sigma):
    ...     d = cov.shape[0]
    ...     noisy = cov + sigma**2 * torch.eye(d, dtype=cov.dtype)
    ...     return d / (2 * sigma**2) - 0.5 * torch.linalg.inv(noisy).trace()
    >>> check_gaussian_c_sigma(c_sigma)
    ✅ Correct! ...
    True
    >>> check_gaussian_c_sigma(lambda cov, sigma: cov.shape[0] / (2 * sigma**2))
    ❌ Not yet: ... second term ...
    False
    """
    covs = [
        torch.tensor([[1.0]], dtype=torch.float64),
        torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=torch.float64),  # Section 3.2's Gaussian
        torch.diag(torch.tensor([0.25, 4.0], dtype=torch.float64)),
        _spd(3, 0),
        _spd(5, 1),
    ]
    # compare_formula passes each point's entries on as they are: here a matrix and a number
    points: list[tuple[Any, ...]] = [(cov, sigma) for cov in covs for sigma in (0.1, 0.5, 1.7)]

    def d(cov: torch.Tensor) -> int:
        return cov.shape[0]

    def trace(matrix: torch.Tensor) -> float:
        return matrix.trace().item()

    def right(cov: torch.Tensor, sigma: float) -> float:
        return d(cov) / (2 * sigma**2) - 0.5 * trace(_noisy_precision(cov, sigma))

    mistakes = [
        (lambda cov, sigma: d(cov) / (2 * sigma**2), "that is d/(2 sigma^2) alone: the second term of C_sigma, half the mean squared noisy score, is missing. The score of the noisy data has a mean square you can compute."),
        (lambda cov, sigma: 2 * right(cov, sigma), "that is twice C_sigma: both terms carry a factor 1/2."),
        (lambda cov, sigma: d(cov) / (2 * sigma**2) + 0.5 * trace(_noisy_precision(cov, sigma)), "the mean squared noisy score is subtracted: C_sigma is what the exact noisy score cannot explain of the target's mean square."),
        (lambda cov, sigma: d(cov) / (2 * sigma**2) - 0.5 * trace(torch.linalg.inv(cov)), "that uses the score of the clean data, with covariance Sigma: the noisy data x + sigma z has covariance Sigma + sigma^2 I."),
        (lambda cov, sigma: d(cov) / (2 * sigma**2) - 0.5 * trace(_noisy_precision(cov, sigma, sigma)), "the noise sigma z adds sigma^2 I to the covariance, not sigma I."),
        (lambda cov, sigma: 1 / (2 * sigma**2) - 0.5 * trace(_noisy_precision(cov, sigma)), "E||z / sigma||^2 = d / sigma^2: each of the d coordinates contributes 1 / sigma^2."),
        (lambda cov, sigma: d(cov) / (2 * sigma**2) - 0.5 * trace(_noisy_precision(cov, sigma) @ _noisy_precision(cov, sigma)), "the mean of ||A y||^2 over y ~ N(0, S) is tr(A S A^T), not tr(A A^T): the covariance of the noisy data enters too."),
        (lambda cov, sigma: d(cov) / (2 * sigma**2) - d(cov) ** 2 / (2 * (trace(cov) + d(cov) * sigma**2)), "that is right when all variances are equal (Sigma a multiple of I), but not for this covariance: each direction of Sigma contributes on its own."),
    ]  # fmt: skip
    compare_formula(
        lambda cov, sigma: c_sigma(cov.clone(), sigma),
        right,
        points,
        mistakes,
        name="c_sigma(cov, sigma)",
        rtol=1e-5,
    )
    return (
        "C_sigma = d/(2 sigma^2) - tr((Sigma + sigma^2 I)^-1)/2: positive, and large at small "
        "sigma, where the noise's own mean square d/sigma^2 dominates the loss."
    )


check_small_sigma_diagnosis = multiple_choice(
    "check_small_sigma_diagnosis",
    {
        "a": (False, "the chains do start where the network saw no training points, and there its score is an extrapolation (Section 3.6's error map); but that is not what went wrong here: the chains started on fresh samples of p_sigma end just as badly, and the network's error is large on those samples themselves."),
        "b": (False, "four times as many Langevin steps leave the samples where they were: the chains have settled where the learned field leads them."),
        "c": (False, "with the exact noisy score, the same step size and the same number of steps put the chains on the eight modes."),
        "d": (False, "the same network, learning rate and number of steps, regressed on the exact noisy score instead of on -z/sigma, learns the field closely: the network can represent it, and Adam can find it."),
        "e": (True, "the target -z/sigma has a standard deviation of 1/sigma = 20 in each coordinate, while the score it averages to is about 5: each gradient step is mostly noise (Section 3.4), and 600 steps leave the network far from grad log p_sigma even where the data are. Many more steps with a decaying learning rate would help, slowly; Chapter 4 trains at many noise levels instead."),
    },
)  # fmt: skip
