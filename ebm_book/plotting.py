r"""Figures for the book: energy curves, contour maps, 3-D surfaces, densities, samples, images.

One house style (`use_book_style`) keeps every chapter consistent: an opaque
white canvas (so a figure reads the same on the site's light and dark themes),
the colour-blind-safe Okabe-Ito palette, perceptually uniform colour maps, and
high-resolution PNGs for sharp figures on high-DPI screens.

Every plotting function takes an optional matplotlib ``ax`` and returns the axes it
drew on, so figures compose: ``fig, axes = plt.subplots(1, 3)`` and pass ``ax=axes[i]``.
Energies may be any callable from ``(N, d)`` tensors to ``(N,)`` tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

from ._images import image_grid, plot_images  # grids of digits; part of this module's API
from ._style import (  # the house style lives in its own module; it is part of this one's API
    DENSITY_CMAP,
    ENERGY_CMAP,
    FIELD_CMAP,
    OKABE_ITO,
    use_book_style,
)
from ._types import EnergyFn, ScoreFn
from ._validation import (
    require_bounds,
    require_callable,
    require_energy_values,
    require_int,
    require_points,
    require_positive,
    require_real,
    require_vector_field,
)

__all__ = [
    "OKABE_ITO",
    "evaluate_on_grid",
    "image_grid",
    "plot_contours",
    "plot_density_1d",
    "plot_density_2d",
    "plot_energy_1d",
    "plot_energy_2d",
    "plot_images",
    "plot_samples",
    "plot_score_field",
    "plot_surface_3d",
    "use_book_style",
]


def _axes(ax: plt.Axes | None, projection: str | None = None) -> plt.Axes:
    if ax is not None:
        return ax
    fig = plt.figure()
    return fig.add_subplot(projection=projection)


def _evaluate(fn: EnergyFn, points: torch.Tensor, name: str = "fn") -> np.ndarray:
    """Evaluate ``fn`` on a batch without building a graph, as a NumPy array."""
    require_callable(fn, name)
    with torch.no_grad():
        values = require_energy_values(fn(points), points, name=name)
    return values.detach().cpu().double().numpy()


def evaluate_on_grid(
    fn: EnergyFn,
    xlim: tuple[float, float] = (-3.0, 3.0),
    ylim: tuple[float, float] = (-3.0, 3.0),
    n: int = 150,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate a function of 2-D points on an ``n`` x ``n`` grid.

    Returns
    -------
    X, Y, values
        NumPy arrays of shape ``(n, n)``, ready for ``contour``/``plot_surface``.

    Examples
    --------
    >>> X, Y, V = evaluate_on_grid(lambda x: (x**2).sum(1), (-1, 1), (-1, 1), n=3)
    >>> V
    array([[2., 1., 2.],
           [1., 0., 1.],
           [2., 1., 2.]])
    """
    (x0, x1), (y0, y1) = require_bounds([xlim, ylim], "xlim/ylim")
    require_int(n, "n", minimum=2)
    xs, ys = torch.linspace(x0, x1, n), torch.linspace(y0, y1, n)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    points = torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)
    values = _evaluate(fn, points).reshape(n, n)
    return X.numpy(), Y.numpy(), values


def _curve(fn: EnergyFn, xlim: tuple[float, float], n: int) -> tuple[np.ndarray, np.ndarray]:
    ((x0, x1),) = require_bounds([xlim], "xlim")
    xs = torch.linspace(x0, x1, require_int(n, "n", minimum=2))
    return xs.numpy(), _evaluate(fn, xs[:, None], "energy")


def plot_energy_1d(
    energy: EnergyFn,
    xlim: tuple[float, float] = (-3.0, 3.0),
    ax: plt.Axes | None = None,
    n: int = 400,
    **line_kwargs: Any,
) -> plt.Axes:
    r"""Plot a 1-D energy $E(x)$ as a curve.

    Examples
    --------
    >>> ax = plot_energy_1d(lambda x: x[:, 0] ** 2, label="$x^2$")
    >>> len(ax.lines)
    1
    >>> plt.close("all")
    """
    ax = _axes(ax)
    xs, values = _curve(energy, xlim, n)
    ax.plot(xs, values, **line_kwargs)
    ax.set(xlabel="$x$", ylabel="$E(x)$")
    return ax


def plot_density_1d(
    energy: EnergyFn,
    xlim: tuple[float, float] = (-3.0, 3.0),
    temperature: float = 1.0,
    ax: plt.Axes | None = None,
    n: int = 400,
    fill: bool = True,
    **line_kwargs: Any,
) -> plt.Axes:
    r"""Plot the Boltzmann density $e^{-E(x)/T}/Z$ of a 1-D energy.

    $Z$ is computed by the trapezoidal rule on the plotted interval, so choose ``xlim``
    wide enough to hold (almost) all the mass.

    Examples
    --------
    >>> ax = plot_density_1d(lambda x: 0.5 * x[:, 0] ** 2, xlim=(-6, 6))
    >>> round(float(ax.lines[0].get_ydata().max()), 3)  # 1 / sqrt(2 pi)
    0.399
    >>> plt.close("all")
    """
    temperature = require_positive(temperature, "temperature")
    ax = _axes(ax)
    xs, values = _curve(energy, xlim, n)
    log_unnormalized = -values / temperature
    unnormalized = np.exp(log_unnormalized - log_unnormalized.max())  # avoid overflow
    density = unnormalized / np.trapezoid(unnormalized, xs)
    (line,) = ax.plot(xs, density, **line_kwargs)
    if fill:
        ax.fill_between(xs, density, alpha=0.15, color=line.get_color())
    ax.set(xlabel="$x$", ylabel="$p(x)$")
    return ax


def plot_contours(
    fn: EnergyFn,
    xlim: tuple[float, float] = (-3.0, 3.0),
    ylim: tuple[float, float] = (-3.0, 3.0),
    ax: plt.Axes | None = None,
    n: int = 150,
    levels: int | Sequence[float] = 20,
    filled: bool = True,
    cmap: str | None = DENSITY_CMAP,
    colorbar: bool = False,
    label: str | None = None,
    colors: str | None = None,
) -> plt.Axes:
    """Contour map of any scalar function of 2-D points, with equal axis scales.

    ``colors`` draws every contour in one colour (e.g. light grey lines behind samples
    or arrows) instead of the colour map.

    Examples
    --------
    >>> ax = plot_contours(lambda x: (x**2).sum(1), colorbar=True, label="$|x|^2$")
    >>> ax.get_aspect()
    1.0
    >>> plt.close("all")
    """
    ax = _axes(ax)
    X, Y, values = evaluate_on_grid(fn, xlim, ylim, n)
    draw = ax.contourf if filled else ax.contour
    style = {"colors": colors} if colors is not None else {"cmap": cmap}
    contours = draw(X, Y, values, levels=levels, **style)
    if colorbar:
        ax.figure.colorbar(contours, ax=ax, label=label, shrink=0.85)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=xlim, ylim=ylim, aspect="equal")
    ax.grid(False)
    return ax


def plot_energy_2d(
    energy: EnergyFn,
    xlim: tuple[float, float] = (-3.0, 3.0),
    ylim: tuple[float, float] = (-3.0, 3.0),
    ax: plt.Axes | None = None,
    n: int = 150,
    levels: int = 20,
    max_energy: float | None = None,
    colorbar: bool = True,
) -> plt.Axes:
    r"""Filled contour map of a 2-D energy; dark valleys are low energy.

    ``max_energy`` clips the colour scale so that steep walls do not wash out the
    structure of the valleys.
    """

    if max_energy is not None:
        max_energy = require_real(max_energy, "max_energy")

    def clipped(x: torch.Tensor) -> torch.Tensor:
        values = require_energy_values(require_callable(energy, "energy")(x), x)
        return values if max_energy is None else values.clamp(max=max_energy)

    return plot_contours(
        clipped,
        xlim,
        ylim,
        ax=ax,
        n=n,
        levels=levels,
        cmap=ENERGY_CMAP,
        colorbar=colorbar,
        label="$E(x)$",
    )


def plot_density_2d(
    energy: EnergyFn,
    xlim: tuple[float, float] = (-3.0, 3.0),
    ylim: tuple[float, float] = (-3.0, 3.0),
    temperature: float = 1.0,
    ax: plt.Axes | None = None,
    n: int = 150,
    levels: int = 20,
    colorbar: bool = False,
) -> plt.Axes:
    r"""Filled contour map of the Boltzmann density $e^{-E(x)/T}/Z$ of a 2-D energy.

    $Z$ is the grid sum over the plotted box (the picture is the density restricted to it).

    Examples
    --------
    >>> from ebm_book.energies import Ring
    >>> ax = plot_density_2d(Ring(radius=2.0), temperature=0.5)
    >>> plt.close("all")
    """
    temperature = require_positive(temperature, "temperature")
    X, Y, energies = evaluate_on_grid(energy, xlim, ylim, n)
    log_unnormalized = -energies / temperature
    density = np.exp(log_unnormalized - log_unnormalized.max())
    cell = (X[0, 1] - X[0, 0]) * (Y[1, 0] - Y[0, 0])
    density /= density.sum() * cell
    ax = _axes(ax)
    contours = ax.contourf(X, Y, density, levels=levels, cmap=DENSITY_CMAP)
    if colorbar:
        ax.figure.colorbar(contours, ax=ax, label="$p(x)$", shrink=0.85)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=xlim, ylim=ylim, aspect="equal")
    ax.grid(False)
    return ax


def plot_surface_3d(
    fn: EnergyFn,
    xlim: tuple[float, float] = (-3.0, 3.0),
    ylim: tuple[float, float] = (-3.0, 3.0),
    ax: plt.Axes | None = None,
    n: int = 60,
    cmap: str = ENERGY_CMAP,
    zlabel: str = "$E(x)$",
    max_value: float | None = None,
) -> plt.Axes:
    """3-D surface of a scalar function of 2-D points (``ax`` must be a 3-D axes if given).

    Examples
    --------
    >>> ax = plot_surface_3d(lambda x: (x**2).sum(1))
    >>> ax.name
    '3d'
    >>> plt.close("all")
    """
    ax = _axes(ax, projection="3d")
    if ax.name != "3d":
        raise ValueError("ax must be a 3-D axes: create it with fig.add_subplot(projection='3d').")
    X, Y, values = evaluate_on_grid(fn, xlim, ylim, n)
    if max_value is not None:
        values = np.minimum(values, require_real(max_value, "max_value"))
    ax.plot_surface(X, Y, values, cmap=cmap, linewidth=0, antialiased=True, alpha=0.95)  # type: ignore[attr-defined]
    ax.set(xlabel="$x_1$", ylabel="$x_2$", zlabel=zlabel)
    return ax


def plot_samples(
    x: torch.Tensor,
    ax: plt.Axes | None = None,
    size: float = 4.0,
    alpha: float = 0.5,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    **scatter_kwargs: Any,
) -> plt.Axes:
    """Scatter plot of 2-D samples ``x`` of shape ``(N, 2)``, with equal axis scales.

    Examples
    --------
    >>> ax = plot_samples(torch.randn(100, 2, generator=torch.Generator().manual_seed(0)))
    >>> len(ax.collections[0].get_offsets())
    100
    >>> plt.close("all")
    """
    require_points(x, dim=2)
    ax = _axes(ax)
    points = x.detach().cpu().numpy()
    ax.scatter(points[:, 0], points[:, 1], s=size, alpha=alpha, linewidths=0, **scatter_kwargs)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
    if xlim is not None:
        ax.set_xlim(xlim)
    if ylim is not None:
        ax.set_ylim(ylim)
    return ax


def plot_score_field(
    score: ScoreFn,
    xlim: tuple[float, float] = (-3.0, 3.0),
    ylim: tuple[float, float] = (-3.0, 3.0),
    ax: plt.Axes | None = None,
    n: int = 21,
    style: str = "arrows",
    cmap: str | mpl.colors.Colormap = FIELD_CMAP,
    colorbar: bool = False,
) -> plt.Axes:
    r"""Draw a 2-D vector field such as the score $s(x) = \nabla_x \log p(x)$.

    ``style="arrows"`` draws arrows of equal length, coloured by the field's magnitude
    $\lVert s(x) \rVert$ (so that both direction and strength stay readable where the
    magnitude varies over orders of magnitude); ``style="streamlines"`` draws flow lines.

    Examples
    --------
    >>> ax = plot_score_field(lambda x: -x, n=5)
    >>> len(ax.collections[0].get_offsets())  # one arrow per grid point
    25
    >>> plt.close("all")
    """
    if style not in ("arrows", "streamlines"):
        raise ValueError(f"style must be 'arrows' or 'streamlines'; got {style!r}.")
    (x0, x1), (y0, y1) = require_bounds([xlim, ylim], "xlim/ylim")
    require_int(n, "n", minimum=2)
    X, Y = torch.meshgrid(torch.linspace(x0, x1, n), torch.linspace(y0, y1, n), indexing="xy")
    points = torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)
    field = require_vector_field(require_callable(score, "score")(points), points, "score")
    U, V = (field.detach().cpu().double().numpy().T).reshape(2, n, n)
    magnitude = np.hypot(U, V)
    ax = _axes(ax)
    if style == "arrows":
        unit = np.maximum(magnitude, 1e-12)
        artist: mpl.cm.ScalarMappable = ax.quiver(
            X.numpy(), Y.numpy(), U / unit, V / unit, magnitude, cmap=cmap,
            norm=mpl.colors.LogNorm(vmin=max(magnitude.min(), 1e-3), vmax=magnitude.max()),
            # arrows 0.8 grid cells long, in data units, so they never overlap
            angles="xy", scale_units="xy", scale=1 / (0.8 * min(x1 - x0, y1 - y0) / (n - 1)),
            pivot="mid", width=0.005,
        )  # fmt: skip
    else:
        artist = ax.streamplot(
            X.numpy(), Y.numpy(), U, V, color=magnitude, cmap=cmap, density=1.2, linewidth=1.0,
            norm=mpl.colors.LogNorm(vmin=max(magnitude.min(), 1e-3), vmax=magnitude.max()),
        ).lines  # fmt: skip
    if colorbar:
        ax.figure.colorbar(artist, ax=ax, label=r"$\|s(x)\|$", shrink=0.85)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=xlim, ylim=ylim, aspect="equal")
    ax.grid(False)
    return ax
