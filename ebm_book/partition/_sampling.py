"""Sampling estimators of $Z$: uniform Monte Carlo in a box, importance sampling."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .._types import EnergyFn, Proposal
from .._validation import (
    draw_from_proposal,
    require_bounds,
    require_callable,
    require_generator,
    require_int,
    require_positive,
    require_proposal,
)
from ._estimate import (
    PartitionEstimate,
    energy_dim,
    estimate_from_log_weights,
    log_boltzmann_weights,
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
    >>> import math
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
    return estimate_from_log_weights(log_boltzmann_weights(energy, x, temperature), log_volume)


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
    >>> import math
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
    x, log_q = draw_from_proposal(proposal, n_samples, generator, energy_dim(energy))
    log_weights = log_boltzmann_weights(energy, x, temperature) - log_q.double()
    return estimate_from_log_weights(log_weights, 0.0)
