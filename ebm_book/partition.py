r"""Estimating the partition function $Z_T = \int e^{-E(x)/T}\,\mathrm{d}x$.

Three estimators, in the order the book meets them:

* `quadrature_partition`: a tensor-product trapezoidal rule on a box. Exact in
  the limit, but a grid of $m$ points per axis costs $m^d$ energy evaluations.
* `monte_carlo_partition`: uniform samples in a box,
  $\hat Z = V \cdot \frac1n \sum_i e^{-E(x_i)/T}$.
* `importance_sampling_partition`: samples from a proposal $q$,
  $\hat Z = \frac1n \sum_i e^{-E(x_i)/T} / q(x_i)$.

All three return a `PartitionEstimate`. Sums of exponentials are done in log
space (``logsumexp``) so that huge or tiny $Z$ do not overflow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._types import EnergyFn, Proposal
from ._validation import (
    draw_from_proposal,
    require_bounds,
    require_callable,
    require_energy_values,
    require_generator,
    require_int,
    require_positive,
    require_proposal,
    require_real,
)
from .energies import Energy

__all__ = [
    "PartitionEstimate",
    "importance_sampling_partition",
    "monte_carlo_partition",
    "quadrature_partition",
    "tensor_grid",
]


@dataclass(frozen=True)
class PartitionEstimate:
    r"""An estimate of $Z$, kept in log space, with its estimated uncertainty.

    Attributes
    ----------
    log_value
        $\log \hat Z$.
    relative_std_error
        Estimated standard error of $\hat Z$ divided by $\hat Z$ (``nan`` for quadrature,
        which has no sampling error). It is itself estimated from the same samples: when
        the estimator is failing it is often wildly optimistic.
    n_evaluations
        Number of energy evaluations spent.
    effective_sample_size
        $(\sum_i w_i)^2 / \sum_i w_i^2$ for weights $w_i$ (``nan`` for quadrature).

    Examples
    --------
    >>> est = PartitionEstimate(log_value=math.log(2.0), relative_std_error=0.1, n_evaluations=100)
    >>> round(est.value, 6), round(est.std_error, 6)
    (2.0, 0.2)
    >>> round(est.relative_error(2.5), 6)
    -0.2
    """

    log_value: float
    relative_std_error: float = math.nan
    n_evaluations: int = 0
    effective_sample_size: float = math.nan

    def __post_init__(self) -> None:
        require_real(self.log_value, "log_value")
        require_int(self.n_evaluations, "n_evaluations", minimum=0)

    @property
    def value(self) -> float:
        r"""$\hat Z$ (may overflow to ``inf`` in high dimension; use ``log_value`` there)."""
        return math.exp(self.log_value)

    @property
    def std_error(self) -> float:
        r"""Estimated standard error of $\hat Z$."""
        return self.relative_std_error * self.value

    def relative_error(self, true_value: float) -> float:
        r"""$(\hat Z - Z) / Z$ against a known $Z > 0$, computed in log space."""
        true_value = require_positive(true_value, "true_value")
        return math.expm1(self.log_value - math.log(true_value))


def tensor_grid(
    bounds: Sequence[tuple[float, float]], n_per_axis: int, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Nodes and trapezoidal weights of a tensor-product grid on a box.

    Each axis $[a, b]$ gets $n$ equally spaced nodes with spacing $h = (b-a)/(n-1)$ and
    weights $h$ (halved at the two ends); a node's weight is the product over axes.

    Returns
    -------
    points, weights
        Shapes ``(n**d, d)`` and ``(n**d,)``.

    Examples
    --------
    >>> points, weights = tensor_grid([(0.0, 1.0)], 3)
    >>> points.squeeze(1), weights
    (tensor([0.0000, 0.5000, 1.0000], dtype=torch.float64), tensor([0.2500, 0.5000, 0.2500], dtype=torch.float64))
    """
    bounds = require_bounds(bounds)
    require_int(n_per_axis, "n_per_axis", minimum=2)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype; got {dtype!r}.")
    axes, axis_weights = [], []
    for low, high in bounds:
        axes.append(torch.linspace(low, high, n_per_axis, dtype=dtype))
        w = torch.full((n_per_axis,), (high - low) / (n_per_axis - 1), dtype=dtype)
        w[0] = w[-1] = w[0] / 2
        axis_weights.append(w)
    points = torch.cartesian_prod(*axes).reshape(-1, len(bounds))
    weights = torch.cartesian_prod(*axis_weights).reshape(-1, len(bounds)).prod(dim=1)
    return points, weights


def _log_boltzmann_weights(
    energy: EnergyFn, x: torch.Tensor, temperature: float, chunk_size: int = 2**20
) -> torch.Tensor:
    """$-E(x)/T$ for a large batch, evaluated in chunks to bound memory."""
    pieces = []
    with torch.no_grad():
        for chunk in torch.split(x, chunk_size):
            pieces.append(-require_energy_values(energy(chunk), chunk) / temperature)
    return torch.cat(pieces).double()


def quadrature_partition(
    energy: EnergyFn,
    bounds: Sequence[tuple[float, float]],
    n_per_axis: int = 101,
    temperature: float = 1.0,
    max_evaluations: int = 20_000_000,
) -> PartitionEstimate:
    r"""$Z_T$ by the trapezoidal rule on a box: a weighted sum of $e^{-E(x_j)/T}$ over its nodes.

    For a smooth energy that is large on the box's boundary this converges very fast in
    $m$, but the cost is $m^d$ evaluations: 100 points per axis is $10^4$ evaluations
    in 2-D and $10^{20}$ in 10-D. Requests above ``max_evaluations`` raise ``ValueError``.

    Parameters
    ----------
    energy
        Callable mapping ``(N, d)`` to ``(N,)``; it receives float64 points.
    bounds
        The box: one ``(low, high)`` pair per dimension. Mass outside it is lost.
    n_per_axis
        Grid nodes per axis, $n \ge 2$.
    temperature
        $T > 0$.
    max_evaluations
        Refuse grids larger than this, since $m^d$ explodes.

    Examples
    --------
    A standard Gaussian energy in 2-D has $Z = 2\pi$:

    >>> est = quadrature_partition(lambda x: 0.5 * (x**2).sum(1), [(-8, 8)] * 2, n_per_axis=81)
    >>> round(est.value, 6), est.n_evaluations
    (6.283185, 6561)
    """
    require_callable(energy, "energy")
    bounds = require_bounds(bounds)
    temperature = require_positive(temperature, "temperature")
    n_total = require_int(n_per_axis, "n_per_axis", minimum=2) ** len(bounds)
    if n_total > require_int(max_evaluations, "max_evaluations"):
        raise ValueError(
            f"a grid of {n_per_axis} points per axis in {len(bounds)} dimensions needs "
            f"{n_total:.3g} energy evaluations (more than max_evaluations={max_evaluations:.3g}). "
            "This exponential cost is why quadrature is hopeless in high dimension; "
            "use fewer points or a sampling estimator."
        )
    points, weights = tensor_grid(bounds, n_per_axis)
    log_terms = _log_boltzmann_weights(energy, points, temperature) + torch.log(weights)
    log_value = torch.logsumexp(log_terms, dim=0).item()
    if not math.isfinite(log_value):
        raise ValueError(
            f"every grid point has zero weight exp(-E/T) (energies of +inf): the box {bounds} "
            "misses the region where the density lives."
        )
    return PartitionEstimate(log_value=log_value, n_evaluations=points.shape[0])


def _estimate_from_log_weights(log_weights: torch.Tensor, log_scale: float) -> PartitionEstimate:
    r"""Turn log importance weights $\log w_i$ into $\hat Z = e^{\text{log\_scale}}\,\overline{w}$.

    The relative standard error of a mean of $n$ i.i.d. weights is
    $\sqrt{(\overline{w^2}/\overline{w}^2 - 1)/(n-1)}$, computed in log space.
    """
    n = log_weights.numel()
    if n < 2:
        raise ValueError("need at least 2 samples to estimate a standard error.")
    log_mean = torch.logsumexp(log_weights, 0) - math.log(n)
    if not torch.isfinite(log_mean):
        raise ValueError(
            "every sample has zero weight exp(-E/T) (or E returned -inf): the samples never "
            "reach the region where the density lives."
        )
    log_mean_sq = torch.logsumexp(2 * log_weights, 0) - math.log(n)
    ratio = torch.exp(log_mean_sq - 2 * log_mean).item()  # mean(w^2) / mean(w)^2, >= 1
    relative_variance = max(ratio - 1.0, 0.0)
    return PartitionEstimate(
        log_value=(log_mean + log_scale).item(),
        relative_std_error=math.sqrt(relative_variance / (n - 1)),
        n_evaluations=n,
        effective_sample_size=n / ratio,
    )


def monte_carlo_partition(
    energy: EnergyFn,
    bounds: Sequence[tuple[float, float]],
    n_samples: int = 10_000,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> PartitionEstimate:
    r"""$Z_T$ by plain Monte Carlo with uniform samples in a box of volume $V$.

    $$
    \hat Z = \frac{V}{n} \sum_{i=1}^{n} e^{-E(x_i)/T}, \qquad x_i \sim \mathrm{Uniform}(\text{box}).
    $$

    Unbiased for the mass inside the box. Its relative variance is roughly the inverse of
    the fraction of the box where the density lives, which shrinks exponentially with $d$.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> est = monte_carlo_partition(lambda x: 0.5 * (x**2).sum(1), [(-6, 6)] * 2, 100_000, generator=g)
    >>> abs(est.relative_error(2 * math.pi)) < 4 * est.relative_std_error
    True
    """
    require_callable(energy, "energy")
    bounds = require_bounds(bounds)
    n_samples = require_int(n_samples, "n_samples", minimum=2)  # 2 for a standard error
    temperature = require_positive(temperature, "temperature")
    require_generator(generator, "cpu")
    low = torch.tensor([b[0] for b in bounds], dtype=torch.float64)
    high = torch.tensor([b[1] for b in bounds], dtype=torch.float64)
    u = torch.rand(n_samples, len(bounds), generator=generator, dtype=torch.float64)
    x = low + (high - low) * u
    log_volume = torch.log(high - low).sum().item()
    return _estimate_from_log_weights(_log_boltzmann_weights(energy, x, temperature), log_volume)


def _dim(energy: EnergyFn) -> int | None:
    """The dimension of one of the book's energies; ``None`` for a plain function."""
    return energy.dim if isinstance(energy, Energy) else None


def importance_sampling_partition(
    energy: EnergyFn,
    proposal: Proposal,
    n_samples: int = 10_000,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> PartitionEstimate:
    r"""$Z_T$ by importance sampling from a normalized proposal density $q$.

    $$
    \hat Z = \frac1n \sum_{i=1}^n w_i, \qquad w_i = \frac{e^{-E(x_i)/T}}{q(x_i)},
    \qquad x_i \sim q .
    $$

    Unbiased whenever $q > 0$ wherever $e^{-E/T} > 0$. Its variance depends on how well
    $q$ matches $p_T$; even a slightly mismatched $q$ gives weights whose relative variance
    grows exponentially with the dimension.

    Parameters
    ----------
    energy
        Callable mapping ``(N, d)`` to ``(N,)``.
    proposal
        Object with ``sample(n, generator=...)`` and a normalized ``log_prob(x)``,
        such as `Gaussian`.
    n_samples
        $n$.
    temperature
        $T > 0$.
    generator
        Source of randomness for reproducible estimates.

    Examples
    --------
    >>> from ebm_book.energies import Gaussian
    >>> g = torch.Generator().manual_seed(0)
    >>> target = Gaussian(mean=[0.0, 0.0])
    >>> est = importance_sampling_partition(target, Gaussian([0.0, 0.0], cov=2.0), 10_000, generator=g)
    >>> abs(est.relative_error(2 * math.pi)) < 4 * est.relative_std_error
    True
    """
    require_callable(energy, "energy")
    require_proposal(proposal)
    n_samples = require_int(n_samples, "n_samples", minimum=2)  # 2 for a standard error
    temperature = require_positive(temperature, "temperature")
    require_generator(generator)
    x, log_q = draw_from_proposal(proposal, n_samples, generator, _dim(energy))
    log_weights = _log_boltzmann_weights(energy, x, temperature) - log_q.double()
    return _estimate_from_log_weights(log_weights, 0.0)
