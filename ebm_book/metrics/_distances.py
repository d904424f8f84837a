"""Distances between two sets of samples."""

from __future__ import annotations

import torch

from .._validation import require_generator, require_int, require_points, require_positive

__all__ = ["median_bandwidth", "mmd", "sliced_wasserstein"]


def _require_pair(x: torch.Tensor, y: torch.Tensor, max_points: int | None = None) -> None:
    require_points(x, name="x")
    require_points(y, dim=x.shape[1], name="y")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError(
            f"x and y need at least 2 points each; got shapes {tuple(x.shape)} and {tuple(y.shape)}."
        )
    if max_points is not None:
        require_int(max_points, "max_points", minimum=2)


def median_bandwidth(x: torch.Tensor, y: torch.Tensor, max_points: int = 1000) -> float:
    r"""The median heuristic: the median distance between points of the pooled sample.

    The median is estimated from at most ``max_points`` points of each set (a median of
    half a million distances is as good as one of eight million, and much cheaper).

    Examples
    --------
    >>> median_bandwidth(torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0], [4.0]]))
    2.0
    """
    _require_pair(x, y, max_points)
    pooled = torch.cat([x[:max_points], y[:max_points]])
    distances = torch.pdist(pooled.double())
    return max(distances.median().item(), 1e-12)


def mmd(
    x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None, max_points: int = 4000
) -> float:
    r"""Unbiased estimate of the squared maximum mean discrepancy, $\mathrm{MMD}^2$.

    With the Gaussian kernel $k(a, b) = \exp(-\lVert a - b \rVert^2 / (2h^2))$,

    $$
    \mathrm{MMD}^2(p, q) = \mathbb{E}[k(x, x')] + \mathbb{E}[k(y, y')] - 2\,\mathbb{E}[k(x, y)],
    \qquad x, x' \sim p,\; y, y' \sim q,
    $$

    which is zero exactly when $p = q$. The unbiased estimate leaves out the $i = j$ terms,
    so it fluctuates around zero (and can be slightly negative) for equal distributions.

    Parameters
    ----------
    x, y
        Samples, shapes ``(N, d)`` and ``(M, d)``.
    bandwidth
        $h$; by default the median distance of the pooled samples.
    max_points
        Use at most this many points of each set (the cost is quadratic).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> a, b = torch.randn(1000, 2, generator=g), torch.randn(1000, 2, generator=g)
    >>> abs(mmd(a, b)) < 0.005, mmd(a, b + 1.0) > 0.1
    (True, True)
    """
    _require_pair(x, y, max_points)
    x, y = x[:max_points].double(), y[:max_points].double()
    h = (
        require_positive(bandwidth, "bandwidth")
        if bandwidth is not None
        else median_bandwidth(x, y)
    )

    def mean_kernel(a: torch.Tensor, b: torch.Tensor, same: bool) -> torch.Tensor:
        k = torch.exp(-(torch.cdist(a, b) ** 2) / (2 * h**2))
        if not same:
            return k.mean()
        n = a.shape[0]
        return (k.sum() - k.diagonal().sum()) / (n * (n - 1))

    value = mean_kernel(x, x, True) + mean_kernel(y, y, True) - 2 * mean_kernel(x, y, False)
    return value.item()


def sliced_wasserstein(
    x: torch.Tensor,
    y: torch.Tensor,
    n_projections: int = 256,
    generator: torch.Generator | None = None,
) -> float:
    r"""Sliced 2-Wasserstein distance between two sample sets.

    Project both sets on random unit directions $\theta$; in 1-D the 2-Wasserstein
    distance compares sorted samples (quantiles). Average the squares over directions:

    $$
    \mathrm{SW}_2(p, q) = \Big(\mathbb{E}_\theta\, W_2^2\big(\theta^\top_\# p,\; \theta^\top_\# q\big)\Big)^{1/2}.
    $$

    It has the units of $x$: shifting a distribution by $\delta$ gives about
    $\lVert\delta\rVert/\sqrt{d}$. Sets of different sizes are compared at common quantiles.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> a = torch.randn(2000, 2, generator=g)
    >>> round(sliced_wasserstein(a, a + torch.tensor([3.0, 0.0]), generator=g), 1)  # 3 / sqrt(2)
    2.1
    """
    _require_pair(x, y)
    require_int(n_projections, "n_projections")
    require_generator(generator, "cpu")
    dtype = torch.promote_types(x.dtype, y.dtype)
    directions = torch.randn(n_projections, x.shape[1], generator=generator, dtype=dtype)
    directions = (directions / directions.norm(dim=1, keepdim=True)).to(x.device)
    # One row per direction, so that sorting runs along contiguous memory.
    px, py = directions @ x.to(dtype).T, directions @ y.to(dtype).T
    n = min(px.shape[1], py.shape[1])
    levels = (torch.arange(n, dtype=dtype, device=x.device) + 0.5) / n
    qx = px.sort(dim=1).values if px.shape[1] == n else torch.quantile(px, levels, dim=1).T
    qy = py.sort(dim=1).values if py.shape[1] == n else torch.quantile(py, levels, dim=1).T
    return ((qx - qy) ** 2).mean().sqrt().item()
