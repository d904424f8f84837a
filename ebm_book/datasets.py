r"""Two-dimensional toy data sets, seeded and reproducible.

Each function returns a float32 tensor of shape ``(n, 2)`` and takes an explicit
``generator``, so the same seed gives the same points on every build. The sets are
chosen to stress a generative model in different ways: many separated modes
(`gaussian_ring`, `gaussian_grid`), thin curved manifolds
(`two_moons`, `swiss_roll`, `spirals`, `rings`), and sharp edges
(`checkerboard`). The mixtures also come with their exact density, via
`GaussianMixture`.

Use `make` to build any of them by name:

>>> g = torch.Generator().manual_seed(0)
>>> make("two_moons", 500, generator=g).shape
torch.Size([500, 2])
>>> sorted(DATASETS)
['checkerboard', 'gaussian_grid', 'gaussian_ring', 'rings', 'spirals', 'swiss_roll', 'two_moons']
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._validation import (
    as_float_tensor,
    require_generator,
    require_int,
    require_non_negative,
    require_positive,
)
from .examples import grid_of_gaussians, ring_of_gaussians

__all__ = [
    "DATASETS",
    "checkerboard",
    "gaussian_grid",
    "gaussian_ring",
    "make",
    "rings",
    "spirals",
    "swiss_roll",
    "two_moons",
]


def _require_size(n: int, generator: torch.Generator | None, noise: float = 0.0) -> None:
    """Every data set draws ``n`` points on the CPU from ``generator``, most with ``noise``."""
    require_int(n, "n")
    require_generator(generator, "cpu")
    require_non_negative(noise, "noise")


def _jitter(x: torch.Tensor, noise: float, generator: torch.Generator | None) -> torch.Tensor:
    """Add isotropic Gaussian noise of standard deviation ``noise``."""
    return x + float(noise) * torch.randn(x.shape, generator=generator)


def two_moons(
    n: int, noise: float = 0.05, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Two interleaving half circles, centred and scaled to roughly ``[-2, 2]^2``.

    Examples
    --------
    >>> x = two_moons(1000, noise=0.0, generator=torch.Generator().manual_seed(0))
    >>> x.dtype, x.shape
    (torch.float32, torch.Size([1000, 2]))
    """
    _require_size(n, generator, noise)
    angle = math.pi * torch.rand(n, generator=generator)
    upper = torch.rand(n, generator=generator) < 0.5
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.6
    return _jitter(points, noise, generator)


def swiss_roll(
    n: int, noise: float = 0.05, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""A 2-D Swiss roll: the spiral $r = t$, $t \in [1.5\pi, 4.5\pi]$, scaled to about ``[-2, 2]^2``.

    Points are spread uniformly along the curve's parameter $t$.

    Examples
    --------
    >>> x = swiss_roll(2000, generator=torch.Generator().manual_seed(0))
    >>> bool(x.abs().max() < 2.5)
    True
    """
    _require_size(n, generator, noise)
    t = math.pi * (1.5 + 3 * torch.rand(n, generator=generator))
    points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / 7.0
    return _jitter(points, noise, generator)


def spirals(
    n: int, n_arms: int = 2, noise: float = 0.05, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""``n_arms`` interleaved spiral arms, each the curve $r \propto \sqrt{u}$, rotated.

    Examples
    --------
    >>> spirals(300, n_arms=3, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([300, 2])
    """
    _require_size(n, generator, noise)
    require_int(n_arms, "n_arms")
    u = torch.rand(n, generator=generator)
    arm = torch.randint(n_arms, (n,), generator=generator)
    radius = 2.0 * torch.sqrt(u)
    angle = 3 * math.pi * torch.sqrt(u) + 2 * math.pi * arm / n_arms
    points = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return _jitter(points, noise, generator)


def checkerboard(
    n: int, n_squares: int = 4, size: float = 4.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Uniform points on the dark squares of an ``n_squares`` x ``n_squares`` board of side ``size``.

    Examples
    --------
    >>> x = checkerboard(4000, generator=torch.Generator().manual_seed(0))
    >>> cells = torch.floor((x + 2.0) / 1.0).long()  # 4 x 4 board of unit squares
    >>> bool(((cells[:, 0] + cells[:, 1]) % 2 == 0).all())  # only one colour is occupied
    True
    """
    _require_size(n, generator)
    require_int(n_squares, "n_squares")
    size = require_positive(size, "size")
    side = size / n_squares
    # Pick a dark square (row + column even) uniformly, then a uniform point inside it.
    dark = [(r, c) for r in range(n_squares) for c in range(n_squares) if (r + c) % 2 == 0]
    corners = torch.tensor(dark, dtype=torch.float32) * side - size / 2
    which = torch.randint(len(dark), (n,), generator=generator)
    return corners[which] + side * torch.rand(n, 2, generator=generator)


def rings(
    n: int,
    radii: tuple[float, ...] = (0.7, 1.4, 2.1),
    noise: float = 0.04,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Concentric circles; each ring gets points in proportion to its circumference.

    Examples
    --------
    >>> x = rings(3000, noise=0.0, generator=torch.Generator().manual_seed(0))
    >>> sorted({round(r, 1) for r in x.norm(dim=1).tolist()})
    [0.7, 1.4, 2.1]
    """
    _require_size(n, generator, noise)
    radius_values = as_float_tensor(radii, "radii")
    if radius_values.ndim != 1 or len(radius_values) == 0 or (radius_values <= 0).any():
        raise ValueError(f"radii must be a non-empty sequence of positive numbers; got {radii!r}.")
    which = torch.multinomial(radius_values, n, replacement=True, generator=generator)
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    r = radius_values[which]
    points = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)
    return _jitter(points, noise, generator)


def gaussian_ring(
    n: int,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.15,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Samples of `examples.ring_of_gaussians`.

    Examples
    --------
    >>> gaussian_ring(100, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([100, 2])
    """
    return ring_of_gaussians(n_modes, radius, std).sample(n, generator=generator)


def gaussian_grid(
    n: int,
    n_per_side: int = 3,
    spacing: float = 1.5,
    std: float = 0.15,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Samples of `examples.grid_of_gaussians`.

    Examples
    --------
    >>> gaussian_grid(100, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([100, 2])
    """
    return grid_of_gaussians(n_per_side, spacing, std).sample(n, generator=generator)


DATASETS: dict[str, Callable[..., torch.Tensor]] = {
    "checkerboard": checkerboard,
    "gaussian_grid": gaussian_grid,
    "gaussian_ring": gaussian_ring,
    "rings": rings,
    "spirals": spirals,
    "swiss_roll": swiss_roll,
    "two_moons": two_moons,
}


def make(
    name: str, n: int, generator: torch.Generator | None = None, **kwargs: object
) -> torch.Tensor:
    """Build the data set called ``name`` (a key of `DATASETS`) with ``n`` points.

    Extra keyword arguments go to the data set's function.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}.")
    return DATASETS[name](n, generator=generator, **kwargs)
