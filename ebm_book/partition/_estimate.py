"""What every estimator of $Z$ returns, and the log-space arithmetic they share."""

from __future__ import annotations

import dataclasses
import math

import torch

from .._types import EnergyFn
from .._validation import require_energy_values, require_int, require_positive, require_real
from ..energies import Energy


@dataclasses.dataclass(frozen=True)
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
    acceptance_rate
        Fraction of accepted MCMC moves (annealed importance sampling only; else ``nan``).

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
    acceptance_rate: float = math.nan

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


def log_boltzmann_weights(
    energy: EnergyFn, x: torch.Tensor, temperature: float, chunk_size: int = 2**20
) -> torch.Tensor:
    """$-E(x)/T$ for a large batch, evaluated in chunks to bound memory."""
    pieces = []
    with torch.no_grad():
        for chunk in torch.split(x, chunk_size):
            pieces.append(-require_energy_values(energy(chunk), chunk) / temperature)
    return torch.cat(pieces).double()


def estimate_from_log_weights(log_weights: torch.Tensor, log_scale: float) -> PartitionEstimate:
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


def energy_dim(energy: EnergyFn) -> int | None:
    """The dimension of one of the book's energies; ``None`` for a plain function."""
    return energy.dim if isinstance(energy, Energy) else None
