"""Grids of small images (the digits), re-exported by `ebm_book.plotting`."""

from __future__ import annotations

import math

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch

from ._validation import require_int, require_points, require_real

__all__ = ["image_grid", "plot_images"]


def _flat_images(x: object, name: str = "x") -> tuple[torch.Tensor, int]:
    """``x`` as ``(N, side**2)``, from ``(N, d)``, ``(N, side, side)`` or ``(N, 1, side, side)``."""
    if isinstance(x, torch.Tensor) and x.ndim in (3, 4):
        if (x.ndim == 4 and x.shape[1] != 1) or x.shape[-1] != x.shape[-2]:
            raise ValueError(
                f"{name} must hold square one-channel images, shape (N, 1, side, side) or "
                f"(N, side, side); got shape {tuple(x.shape)}."
            )
        x = x.reshape(x.shape[0], -1)
    flat = require_points(x, name=name)
    side = math.isqrt(flat.shape[1])
    if side * side != flat.shape[1]:
        raise ValueError(
            f"{name} of shape {tuple(flat.shape)} are not square images: {flat.shape[1]} pixels "
            "is not a square number."
        )
    return flat, side


def image_grid(
    x: torch.Tensor, n_cols: int = 10, padding: int = 1, pad_value: float = math.nan
) -> torch.Tensor:
    r"""Tile square images into one 2-D tensor, row by row, ``n_cols`` per row.

    ``x`` holds $N$ images as points ``(N, d)`` with $d = \text{side}^2$ (the book's
    layout, pixels row by row), or as ``(N, side, side)`` or ``(N, 1, side, side)``.
    Images are separated by ``padding`` pixels of ``pad_value`` (NaN: drawn as a gap by
    `plot_images`). The result is on the CPU, ready for ``plt.imshow``.

    Examples
    --------
    >>> grid = image_grid(torch.zeros(12, 64), n_cols=5)
    >>> grid.shape  # 3 rows of 8 x 8 images with 1-pixel gaps: 3 * 9 + 1, 5 * 9 + 1
    torch.Size([28, 46])
    >>> int(torch.isnan(grid).sum())  # 28 * 46 - 12 * 64: the gaps and the 3 missing images
    520
    """
    flat, side = _flat_images(x)
    require_int(n_cols, "n_cols")
    require_int(padding, "padding", minimum=0)
    fill = float(pad_value) if math.isnan(pad_value) else require_real(pad_value, "pad_value")
    n = flat.shape[0]
    n_rows, n_cols = math.ceil(n / n_cols), min(n_cols, n)
    cell = side + padding
    grid = torch.full((n_rows * cell + padding, n_cols * cell + padding), fill)
    images = flat.detach().cpu().float().reshape(n, side, side)
    for i in range(n):
        row, col = divmod(i, n_cols)
        top, left = padding + row * cell, padding + col * cell
        grid[top : top + side, left : left + side] = images[i]
    return grid


def plot_images(
    x: torch.Tensor,
    n_cols: int = 10,
    value_range: tuple[float, float] = (-1.0, 1.0),
    ax: plt.Axes | None = None,
    cmap: str = "gray_r",
) -> plt.Axes:
    """Show square images (the digits) as a grid, ink dark on white, without axes.

    Pixel values from ``value_range[0]`` (white) to ``value_range[1]`` (black): the
    default is the scale of `ebm_book.datasets.digits`. Values outside are clipped by
    the colour map (samples of a model often overshoot a little). Layouts of ``x`` as in
    `image_grid`; one row of ``n_cols`` images is about as wide as the page.

    Examples
    --------
    >>> from ebm_book.datasets import digits
    >>> ax = plot_images(digits("train").x[:20])
    >>> ax.images[0].get_array().shape
    (19, 91)
    >>> plt.close("all")
    """
    low, high = (require_real(value, "value_range") for value in value_range)
    if not low < high:
        raise ValueError(f"value_range must be (low, high) with low < high; got {value_range!r}.")
    grid = image_grid(x, n_cols)
    if ax is None:
        n_rows, n_columns = grid.shape
        width = 6.4 * min(1.0, n_columns / 91)
        _, ax = plt.subplots(figsize=(width, width * n_rows / n_columns))
    colours = mpl.colormaps[cmap].with_extremes(bad="0.8")  # the gaps between images, grey
    ax.imshow(grid.numpy(), cmap=colours, vmin=low, vmax=high, interpolation="nearest")
    ax.set_axis_off()
    return ax
