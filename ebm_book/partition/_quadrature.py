"""Quadrature: $Z$ by the trapezoidal rule on a grid, exact in low dimension."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .._types import EnergyFn
from .._validation import require_bounds, require_callable, require_int, require_positive
from ._estimate import PartitionEstimate, log_boltzmann_weights


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
    log_terms = log_boltzmann_weights(energy, points, temperature) + torch.log(weights)
    log_value = torch.logsumexp(log_terms, dim=0).item()
    if not math.isfinite(log_value):
        raise ValueError(
            f"every grid point has zero weight exp(-E/T) (energies of +inf): the box {bounds} "
            "misses the region where the density lives."
        )
    return PartitionEstimate(log_value=log_value, n_evaluations=points.shape[0])
