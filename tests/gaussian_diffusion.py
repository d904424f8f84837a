"""A Gaussian target for the diffusion tests: every score is exact, every moment known.

Data from N(m, S) at time t of a process are N(a m, a^2 S + v I), with a the mean
coefficient and v the variance of the process at t; the score of that Gaussian is affine
in x. Every sampler driven by it is an affine map of its start points and of its noise,
so the output is Gaussian too, and its exact mean and covariance follow from the
sampler's response to unit impulses (`exact_moments`): no sampling error at all.
"""

from __future__ import annotations

import torch

from ebm_book import _chains

MEAN = torch.tensor([1.0, -0.5], dtype=torch.float64)
COV = torch.tensor([[1.0, 0.6], [0.6, 0.8]], dtype=torch.float64)
EYE = torch.eye(2, dtype=torch.float64)


def data(n: int, seed: int) -> torch.Tensor:
    """n draws of N(MEAN, COV)."""
    z = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return MEAN + z @ torch.linalg.cholesky(COV).T


def moments(process, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of p_t for data from N(MEAN, COV)."""
    a, std = process.mean_coefficient(t).item(), process.sigma(t).item()
    return a * MEAN, a**2 * COV + std**2 * EYE


def score(process):
    """The exact score s(x, t) = -C_t^{-1}(x - mu_t), in float64 (one time per batch)."""

    def exact(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert (t == t[0]).all()
        mean, cov = moments(process, t[0].item())
        return -(x - mean) @ torch.linalg.inv(cov)

    return exact


def prior_draw(process, n: int, seed: int) -> torch.Tensor:
    """n exact draws of p_1 (not the prior), so that only the sampler's own error is left."""
    mean, cov = moments(process, 1.0)
    z = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return mean + z @ torch.linalg.cholesky(cov).T


def exact_moments(monkeypatch, sampler, process, n_draws: int):
    """The exact mean and covariance of ``sampler(start)``'s output, started from p_1.

    The sampler is affine: out = A start + b + sum_k M_k z_k. Row 0 of the batch starts at
    the mean with no noise (out = E[out]); rows 1..d start at the mean plus a unit vector
    (columns of A); the next rows get a unit vector as the noise of draw k, and no other
    (columns of M_k). Then Cov(out) = A C_1 A^T + sum_k M_k M_k^T.
    """
    mean_1, cov_1 = moments(process, 1.0)
    d = 2
    start = mean_1.repeat(1 + d + n_draws * d, 1)
    start[1 : 1 + d] += EYE
    draws = 0

    def impulse(x, generator):
        nonlocal draws
        z = torch.zeros_like(x)
        z[1 + d + draws * d : 1 + d + (draws + 1) * d] = EYE
        draws += 1
        return z

    with monkeypatch.context() as patched:
        patched.setattr(_chains, "noise_like", impulse)
        out = sampler(start)
    assert draws <= n_draws, (draws, n_draws)
    centred = out - out[0]
    response = centred[1 : 1 + d].T
    return out[0], response @ cov_1 @ response.T + centred[1 + d :].T @ centred[1 + d :]


def relative_error(process, t: float, mean: torch.Tensor, cov: torch.Tensor) -> float:
    """The larger of the mean's and the covariance's errors against p_t, in the scale of p_t."""
    true_mean, true_cov = moments(process, t)
    scale = true_cov.norm().item()
    return max(
        (mean - true_mean).norm().item() / scale**0.5, (cov - true_cov).norm().item() / scale
    )
