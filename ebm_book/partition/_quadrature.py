"""Quadrature: $Z$ by the trapezoidal rule on a grid, exact in low dimension, and what an
exact $Z$ gives in 2-D: each point's log-likelihood, and exact samples."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .._types import EnergyFn
from .._validation import (
    require_bounds,
    require_callable,
    require_generator,
    require_int,
    require_points,
    require_positive,
)
from ._estimate import PartitionEstimate, log_boltzmann_weights


def tensor_grid(
    bounds: Sequence[tuple[float, float]], n_per_axis: int, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Nodes and trapezoidal weights of a tensor-product grid on a box.

    Each axis, an interval ``(lo, hi)`` of ``bounds``, gets $m$ = ``n_per_axis`` equally
    spaced nodes, $(\text{hi} - \text{lo})/(m - 1)$ apart, each weighted by that spacing
    (halved at the two ends); a node's weight is the product over axes.

    Returns
    -------
    points, weights
        Shapes ``(m**d, d)`` and ``(m**d,)``.

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
    bounds, points, log_terms = _grid_log_terms(
        energy, bounds, n_per_axis, temperature, max_evaluations
    )
    log_value = torch.logsumexp(log_terms, dim=0).item()
    return PartitionEstimate(log_value=log_value, n_evaluations=points.shape[0])


def _grid_log_terms(
    energy: EnergyFn,
    bounds: Sequence[tuple[float, float]],
    n_per_axis: int,
    temperature: float,
    max_evaluations: int = 20_000_000,
    device: torch.device | None = None,
) -> tuple[list[tuple[float, float]], torch.Tensor, torch.Tensor]:
    r"""The checked box, the grid's nodes and their terms $-E(x_j)/T + \log w_j$, on ``device``."""
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
    points, weights = (t.to(device) for t in tensor_grid(bounds, n_per_axis))
    log_terms = log_boltzmann_weights(energy, points, temperature) + torch.log(weights)
    if not math.isfinite(torch.logsumexp(log_terms, dim=0).item()):
        raise ValueError(
            f"every grid point has zero weight exp(-E/T) (energies of +inf): the box {bounds} "
            "misses the region where the density lives."
        )
    return bounds, points, log_terms


def grid_log_likelihood(
    energy: EnergyFn,
    x: torch.Tensor,
    bounds: Sequence[tuple[float, float]],
    n_per_axis: int = 201,
    temperature: float = 1.0,
) -> torch.Tensor:
    r"""Each point's exact log-likelihood $\log p_T(x) = -E(x)/T - \log Z_T$, with $Z_T$ on a grid.

    In 2-D the trapezoidal rule of `quadrature_partition` makes $Z_T$, hence the
    normalized density of any energy (a trained network included), exact to many digits.
    The mean over held-out data is the model's average log-likelihood, the number maximum
    likelihood maximizes; its standard error is ``values.std() / sqrt(N)``.

    Parameters
    ----------
    energy
        $E$: maps ``(N, d)`` to ``(N,)``.
    x
        Points ``(N, d)`` inside the box.
    bounds
        The box of the grid, one ``(low, high)`` pair per dimension: $Z_T$ counts only the
        mass inside it, so it must hold (almost) all of it, and every point of ``x``.
    n_per_axis
        $m$, grid nodes per axis: $m^d$ energy evaluations (201 in 2-D: about 40,000).
    temperature
        $T > 0$.

    Returns
    -------
    torch.Tensor
        $\log p_T(x_i)$, shape ``(N,)``, float64, on the device of ``x``.

    Examples
    --------
    On a Gaussian energy it is the closed form $\log \mathcal{N}(x; \mu, \Sigma)$:

    >>> from ebm_book.energies import Gaussian
    >>> gaussian = Gaussian([0.5, -0.5], cov=[[1.0, 0.3], [0.3, 0.5]])
    >>> x = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    >>> grid_log_likelihood(gaussian, x, [(-8, 8)] * 2)
    tensor([-2.0323, -2.5201], dtype=torch.float64)
    >>> gaussian.log_prob(x)
    tensor([-2.0323, -2.5201], dtype=torch.float64)
    """
    require_points(x, dim=len(require_bounds(bounds)), name="x")
    bounds, _, log_terms = _grid_log_terms(energy, bounds, n_per_axis, temperature, device=x.device)
    low, high = (torch.tensor(side, dtype=x.dtype, device=x.device) for side in zip(*bounds))
    outside = ((x < low) | (x > high)).any(dim=1)
    if outside.any():
        first = [round(v, 4) for v in x[outside][0].tolist()]
        raise ValueError(
            f"x has {int(outside.sum())} of its {x.shape[0]} points outside the box {bounds} "
            f"(the first is x = {first}); the grid normalizes the density on the box only: "
            "enlarge bounds."
        )
    log_partition = torch.logsumexp(log_terms, dim=0)
    return log_boltzmann_weights(energy, x, temperature) - log_partition


def grid_sample(
    energy: EnergyFn,
    n: int,
    bounds: Sequence[tuple[float, float]],
    n_per_axis: int = 201,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Exact samples of $p_T \propto e^{-E/T}$ in low dimension, from the grid of `quadrature_partition`.

    Each grid node $x_j$ owns the cell of points nearer to it than to any other node (cut
    by the box), whose volume is its trapezoidal weight $w_j$. Draw a cell with probability
    $w_j e^{-E(x_j)/T} / \hat Z_T$, then a point uniformly inside it: an exact sample of
    the density that equals $e^{-E(x_j)/T} / \hat Z_T$ on each cell, which differs from
    $p_T$ only by the grid's resolution $h$ (a variance larger by $h^2/12$ per axis).
    No chains, no mixing time: the reference to compare an MCMC sampler's output with.

    Parameters
    ----------
    energy
        $E$: maps ``(N, d)`` to ``(N,)``.
    n
        Number of samples.
    bounds, n_per_axis, temperature
        As in `grid_log_likelihood`.
    generator
        Source of randomness (on the CPU).

    Returns
    -------
    torch.Tensor
        Samples ``(n, d)`` in the default dtype (float32), on the CPU.

    Examples
    --------
    >>> from ebm_book.energies import Gaussian
    >>> g = torch.Generator().manual_seed(0)
    >>> x = grid_sample(Gaussian([1.0, -1.0], cov=0.5), 20_000, [(-6, 6)] * 2, generator=g)
    >>> x.mean(0).round(decimals=1), x.var(0).round(decimals=1)
    (tensor([ 1., -1.]), tensor([0.5000, 0.5000]))
    """
    require_int(n, "n")
    require_generator(generator, "cpu")
    bounds, points, log_terms = _grid_log_terms(energy, bounds, n_per_axis, temperature)
    probabilities = torch.softmax(log_terms, dim=0)
    centres = points[torch.multinomial(probabilities, n, replacement=True, generator=generator)]
    low, high = (torch.tensor(side, dtype=points.dtype) for side in zip(*bounds))
    half_width = (high - low) / (2 * (n_per_axis - 1))
    start = torch.maximum(centres - half_width, low)
    end = torch.minimum(centres + half_width, high)
    uniform = torch.rand(centres.shape, generator=generator, dtype=points.dtype)
    return (start + (end - start) * uniform).to(torch.get_default_dtype())
