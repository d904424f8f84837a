r"""Data sets, seeded and reproducible: 2-D toy data, and the handwritten digits.

The 2-D sets return a float32 tensor of shape ``(n, 2)`` and take an explicit
``generator``, so the same seed gives the same points on every build. They are
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

`digits` is real data beyond two dimensions: the 1,797 handwritten digits of 8 x 8
pixels of Alpaydin & Kaynak (1998), which scikit-learn ships inside its package (nothing
is downloaded), split into a training and a held-out set by a fixed seed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from ._validation import (
    as_float_tensor,
    require_generator,
    require_in_interval,
    require_int,
    require_non_negative,
    require_positive,
    require_real,
)
from .examples import grid_of_gaussians, ring_of_gaussians

__all__ = [
    "DATASETS",
    "LabelledImages",
    "checkerboard",
    "digits",
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


class LabelledImages(NamedTuple):
    """Images and their class labels: unpack as ``x, labels = ...``."""

    x: torch.Tensor
    """The images, float32: ``(N, d)`` flattened, or ``(N, 1, side, side)``."""
    labels: torch.Tensor
    """The classes, int64 of shape ``(N,)``."""


_DIGIT_SIDE = 8  # the digits are 8 x 8 images, d = 64
_DIGIT_LEVELS = 16  # pixel values are counts 0 .. 16 (of a 4 x 4 block of a 32 x 32 bitmap)
_SPLITS = ("train", "test", "all")


@functools.cache
def _raw_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 digits as stored by scikit-learn: counts 0..16 of shape (1797, 64), and labels."""
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes a second to load

    bunch = load_digits()
    return torch.tensor(bunch.data, dtype=torch.float32), torch.tensor(bunch.target)


def _held_out_mask(labels: torch.Tensor, test_fraction: float, seed: int) -> torch.Tensor:
    """A boolean mask of the held-out points: ``test_fraction`` of each class, chosen by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    held_out = torch.zeros(len(labels), dtype=torch.bool)
    for k in range(int(labels.max()) + 1):
        members = (labels == k).nonzero().flatten()
        chosen = members[torch.randperm(len(members), generator=generator)]
        held_out[chosen[: round(test_fraction * len(members))]] = True
    return held_out


def digits(
    split: str = "train",
    shape: str = "flat",
    scale: tuple[float, float] = (-1.0, 1.0),
    test_fraction: float = 0.2,
    seed: int = 0,
) -> LabelledImages:
    r"""The handwritten digits of Alpaydin & Kaynak (1998): 8 x 8 images, $d = 64$, 10 classes.

    Each of the 1,797 images counts, in each pixel, the ink of a 4 x 4 block of a
    32 x 32 bitmap: integers from 0 (white) to 16 (black). They are mapped linearly to
    ``scale``, by default $[-1, 1]$ (blank paper at $-1$, as diffusion models like their
    data: centred and of order one). The digits ship with scikit-learn
    (``sklearn.datasets.load_digits``, the UCI "optical recognition of handwritten
    digits" test set); nothing is downloaded.

    The held-out set is ``test_fraction`` of each class, chosen at random by ``seed``
    (stratified, so both sets have the classes in the data's proportions, about 10%
    each): the same ``seed`` gives the same split on every call, so
    ``digits("train", seed=s)`` and ``digits("test", seed=s)`` never share an image. Take
    ``seed`` from `ebm_book.seeds.seed`. Loading is cheap (milliseconds after the first
    call, which imports scikit-learn).

    Parameters
    ----------
    split
        ``"train"`` (1,438 images with the defaults), ``"test"`` (the 359 held out) or
        ``"all"`` (1,797, in scikit-learn's order).
    shape
        ``"flat"``: points of shape ``(N, 64)``, what the book's networks, losses,
        samplers and metrics take, with the pixels row by row; ``"image"``: shape
        ``(N, 1, 8, 8)`` (one channel, for torch's image layers and for display).
    scale
        ``(low, high)``: the values of a blank and of a fully inked pixel.
    test_fraction
        The share of each class held out, in $(0, 1)$.
    seed
        Chooses the held-out images.

    Returns
    -------
    LabelledImages
        ``x`` (float32) and ``labels`` (int64, the digit shown, 0 to 9).

    Examples
    --------
    >>> x, labels = digits("train")
    >>> x.shape, labels.shape, x.min().item(), x.max().item()
    (torch.Size([1438, 64]), torch.Size([1438]), -1.0, 1.0)
    >>> digits("test", shape="image").x.shape
    torch.Size([359, 1, 8, 8])
    >>> torch.bincount(digits("test").labels).tolist()  # 20% of each class
    [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {list(_SPLITS)}; got {split!r}.")
    if shape not in ("flat", "image"):
        raise ValueError(f"shape must be 'flat' or 'image'; got {shape!r}.")
    low, high = _require_scale(scale)
    fraction = require_in_interval(test_fraction, "test_fraction", 0, 1)
    require_int(seed, "seed", minimum=0)
    counts, labels = _raw_digits()
    if split != "all":
        held_out = _held_out_mask(labels, fraction, seed)
        keep = held_out if split == "test" else ~held_out
        counts, labels = counts[keep], labels[keep]
    x = low + (high - low) * counts / _DIGIT_LEVELS
    if shape == "image":
        x = x.reshape(-1, 1, _DIGIT_SIDE, _DIGIT_SIDE)
    return LabelledImages(x, labels.clone())


def _require_scale(scale: object) -> tuple[float, float]:
    """``(low, high)``, two finite numbers with ``low < high``."""
    if not isinstance(scale, (tuple, list)) or len(scale) != 2:
        raise TypeError(f"scale must be a pair (low, high) of numbers; got {scale!r}.")
    low, high = (require_real(value, "scale") for value in scale)
    if not low < high:
        raise ValueError(f"scale must be (low, high) with low < high; got {scale!r}.")
    return low, high
