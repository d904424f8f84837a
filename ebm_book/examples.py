r"""The book's example distributions, made in one place.

* `example_mixture`: the running example of Chapters 1-3, three unequal, tilted modes;
* `example_landscapes`: the four 2-D energies of Chapters 1 and 2 (that mixture, a ring,
  a banana and a double well);
* `ring_of_gaussians` and `grid_of_gaussians`: the multi-modal targets of Chapter 4.
"""

from __future__ import annotations

import math

import torch

from ._validation import require_int, require_positive
from .energies import Banana, DoubleWell, Energy, Ring
from .mixtures import GaussianMixture

__all__ = ["example_landscapes", "example_mixture", "grid_of_gaussians", "ring_of_gaussians"]


def example_mixture() -> GaussianMixture:
    r"""The book's running example: three tilted, unequal Gaussian modes in 2-D.

    Weights $0.5, 0.3, 0.2$, means $(-1.5, -1)$, $(1.5, -0.5)$, $(0, 1.6)$, and
    correlated covariances, so that the modes differ in size, shape and mass. Chapters
    1-3 use it wherever they need a multi-modal density with an exact score.

    Examples
    --------
    >>> mixture = example_mixture()
    >>> mixture.weights, mixture.n_components
    (tensor([0.5000, 0.3000, 0.2000]), 3)
    """
    covariances = torch.tensor(
        [
            [[0.3, 0.15], [0.15, 0.3]],
            [[0.5, -0.2], [-0.2, 0.3]],
            [[0.2, 0.0], [0.0, 0.2]],
        ]
    )
    means = [[-1.5, -1.0], [1.5, -0.5], [0.0, 1.6]]
    return GaussianMixture(means, covariances, weights=[0.5, 0.3, 0.2])


def ring_of_gaussians(n_modes: int = 8, radius: float = 4.0, std: float = 0.5) -> GaussianMixture:
    r"""``n_modes`` equal-weight isotropic Gaussians evenly spaced on a circle.

    Examples
    --------
    >>> ring_of_gaussians(4, radius=2.0).means.round(decimals=4) + 0.0  # + 0.0 turns -0. into 0.
    tensor([[ 2.,  0.],
            [ 0.,  2.],
            [-2.,  0.],
            [ 0., -2.]])
    """
    require_int(n_modes, "n_modes")
    angles = 2 * math.pi * torch.arange(n_modes) / n_modes
    means = require_positive(radius, "radius") * torch.stack(
        [torch.cos(angles), torch.sin(angles)], dim=1
    )
    return GaussianMixture(means, require_positive(std, "std") ** 2)


def grid_of_gaussians(
    n_per_side: int = 3, spacing: float = 3.0, std: float = 0.4
) -> GaussianMixture:
    r"""Equal-weight isotropic Gaussians on an ``n_per_side`` x ``n_per_side`` grid centred at 0.

    Examples
    --------
    >>> grid_of_gaussians(2, spacing=2.0).means
    tensor([[-1., -1.],
            [-1.,  1.],
            [ 1., -1.],
            [ 1.,  1.]])
    """
    require_int(n_per_side, "n_per_side")
    spacing = require_positive(spacing, "spacing")
    ticks = spacing * (torch.arange(n_per_side) - (n_per_side - 1) / 2)
    means = torch.cartesian_prod(ticks, ticks)
    return GaussianMixture(means, require_positive(std, "std") ** 2)


def example_landscapes() -> dict[str, Energy]:
    r"""The book's four 2-D energy landscapes, by name, in the order the chapters show them.

    The running example (`example_mixture`), a ring of radius 2, a banana and a double
    well with valleys at $x_1 = \pm 1.5$. Chapter 1 draws their surfaces and densities,
    Chapter 2 their score fields and Langevin samples.

    Examples
    --------
    >>> landscapes = example_landscapes()
    >>> list(landscapes)
    ['Gaussian mixture', 'ring', 'banana', 'double well']
    >>> landscapes["ring"].energy(torch.tensor([[2.0, 0.0]]))  # the bottom of the ring
    tensor([0.])
    """
    return {
        "Gaussian mixture": example_mixture(),
        "ring": Ring(radius=2.0, width=0.3),
        "banana": Banana(curvature=0.6, scale=1.2),
        "double well": DoubleWell(barrier=2.0, separation=1.5, dim=2),
    }
