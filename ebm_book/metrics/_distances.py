"""Distances between two sets of samples, and from each sample to its nearest neighbour."""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._validation import (
    as_float_tensor,
    require_covariances,
    require_generator,
    require_int,
    require_points,
    require_positive,
)

__all__ = [
    "Neighbours",
    "frechet_distance",
    "gaussian_frechet_distance",
    "median_bandwidth",
    "mmd",
    "nearest_neighbours",
    "sliced_wasserstein",
]


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


def _frechet(
    mean_a: torch.Tensor, cov_a: torch.Tensor, mean_b: torch.Tensor, cov_b: torch.Tensor
) -> float:
    """The closed form, in float64; the covariances only need to be positive semi-definite."""
    eigenvalues, eigenvectors = torch.linalg.eigh(cov_a)
    root_a = (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T
    middle = root_a @ cov_b @ root_a  # symmetric PSD, with the eigenvalues of cov_a cov_b
    trace_root = torch.linalg.eigvalsh(0.5 * (middle + middle.T)).clamp(min=0).sqrt().sum()
    value = ((mean_a - mean_b) ** 2).sum() + cov_a.trace() + cov_b.trace() - 2 * trace_root
    return max(value.item(), 0.0)  # rounding can leave -1e-15 for equal Gaussians


def gaussian_frechet_distance(
    mean_a: object, cov_a: object, mean_b: object, cov_b: object
) -> float:
    r"""The Fréchet distance between two Gaussians: the squared 2-Wasserstein distance.

    For $\mathcal{N}(\mu_a, \Sigma_a)$ and $\mathcal{N}(\mu_b, \Sigma_b)$ (Dowson & Landau 1982),

    $$
    \mathrm{FD} = \lVert \mu_a - \mu_b \rVert^2
    + \operatorname{tr}\Big(\Sigma_a + \Sigma_b - 2\big(\Sigma_a^{1/2}\,\Sigma_b\,\Sigma_a^{1/2}\big)^{1/2}\Big),
    $$

    the smallest $\mathbb{E}\lVert x - y\rVert^2$ over all couplings of the two. In one
    dimension it is $(\mu_a - \mu_b)^2 + (\sigma_a - \sigma_b)^2$. Computed in float64.
    `frechet_distance` applies it to two sets of samples.

    Parameters
    ----------
    mean_a, mean_b
        The means, shape ``(d,)``.
    cov_a, cov_b
        The covariances, symmetric positive definite, shape ``(d, d)``.

    Examples
    --------
    >>> gaussian_frechet_distance([0.0], [[1.0]], [3.0], [[4.0]])  # 3^2 + (1 - 2)^2
    10.0
    """
    means, covs = [], []
    for mean, cov, side in [(mean_a, cov_a, "a"), (mean_b, cov_b, "b")]:
        m = torch.as_tensor(as_float_tensor(mean, f"mean_{side}"), dtype=torch.float64)
        c = torch.as_tensor(as_float_tensor(cov, f"cov_{side}"), dtype=torch.float64)
        dim = m.shape[0] if m.ndim == 1 else 0
        if m.ndim != 1 or dim == 0 or c.shape != (dim, dim):
            raise ValueError(
                f"mean_{side} must have shape (d,) and cov_{side} shape (d, d); got shapes "
                f"{tuple(m.shape)} and {tuple(c.shape)}."
            )
        means.append(torch.as_tensor(mean, dtype=torch.float64))
        covs.append(require_covariances(torch.as_tensor(cov, dtype=torch.float64), f"cov_{side}"))
    if means[0].shape != means[1].shape:
        raise ValueError(
            f"the two Gaussians must have the same dimension; got {means[0].shape[0]} and "
            f"{means[1].shape[0]}."
        )
    return _frechet(means[0], covs[0], means[1], covs[1])


def frechet_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    r"""The Fréchet distance between two sets of points: that of the Gaussians fitted to them.

    With the sample means $\hat\mu_x, \hat\mu_y$ and covariances $\hat\Sigma_x, \hat\Sigma_y$
    (unbiased, divided by $n - 1$), this is `gaussian_frechet_distance` of
    $\mathcal{N}(\hat\mu_x, \hat\Sigma_x)$ and $\mathcal{N}(\hat\mu_y, \hat\Sigma_y)$: it
    compares the two sets' means and covariances only, in the units of $x$ squared. On the
    features of a classifier of images (as `LogisticClassifier.logits`) it is the idea of
    the FID (Heusel et al., 2017), which uses an Inception network's features.

    Zero for a set and itself; for two finite samples of one distribution it is positive,
    of order $d^2/n$ (the estimated covariances differ), so compare a model's value with
    the floor of two real samples (held-out against training data). Computed in float64
    on the points' device; cost $O(n d^2 + d^3)$.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(5000, 2, generator=g)
    >>> frechet_distance(x, x)
    0.0
    >>> round(frechet_distance(x, 2 * x + 3))  # (3^2 + 3^2) + tr(cov(x)) (1 - 2)^2, about 18 + 2
    20
    """
    _require_pair(x, y)
    x, y = x.double(), y.double()
    return _frechet(
        x.mean(dim=0),
        torch.cov(x.T).reshape(x.shape[1], -1),
        y.mean(dim=0),
        torch.cov(y.T).reshape(y.shape[1], -1),
    )


class Neighbours(NamedTuple):
    """Each point's nearest neighbour in a reference set."""

    distances: torch.Tensor
    """The Euclidean distances, shape ``(N,)``, in the points' dtype."""
    indices: torch.Tensor
    """The rows of the reference set, int64 of shape ``(N,)``."""


def nearest_neighbours(x: torch.Tensor, reference: torch.Tensor) -> Neighbours:
    r"""For each point $x_i$, its nearest point of ``reference``: the distance $\min_j \lVert x_i - y_j\rVert$, and $j$.

    The memorisation check of a generative model: a model that copies its training
    images puts its samples at distance zero from the training set, so compare the
    distances of generated images to the training set with those of held-out images
    (which the model never saw) to the same set. Distances are exact (computed
    coordinate by coordinate, not by the faster expansion $\lVert a\rVert^2 +
    \lVert b\rVert^2 - 2a^\top b$, which blurs small distances), on the points' device,
    in blocks of rows so that memory stays small: 500 points against 1,500 in 64
    dimensions take a few milliseconds.

    Examples
    --------
    >>> reference = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    >>> nearest_neighbours(torch.tensor([[1.0, 0.0], [3.0, 4.0]]), reference)
    Neighbours(distances=tensor([1., 0.]), indices=tensor([0, 1]))
    """
    require_points(x, name="x")
    require_points(reference, dim=x.shape[1], name="reference")
    dtype = torch.promote_types(x.dtype, reference.dtype)
    a, b = x.to(dtype), reference.to(device=x.device, dtype=dtype)
    rows = max(1, 2**22 // (b.shape[0] * b.shape[1]))  # about 32 MB of differences per block
    distances, indices = [], []
    for start in range(0, a.shape[0], rows):
        block = torch.cdist(a[start : start + rows], b, compute_mode="donot_use_mm_for_euclid_dist")
        nearest = block.min(dim=1)
        distances.append(nearest.values)
        indices.append(nearest.indices)
    return Neighbours(torch.cat(distances), torch.cat(indices))
