"""Checks of tensors: batches of points, class labels, noise levels and schedules, times, boxes."""

from __future__ import annotations

import math

import torch

from .scalars import require_real


def all_finite(values: torch.Tensor) -> bool:
    """Whether every entry of ``values`` is finite (no NaN, no inf).

    A NaN or inf anywhere makes the sum non-finite, and one sum costs a fraction of
    ``torch.isfinite(values).all()``; only a sum that overflows on huge but finite values
    needs the exact test.

    Examples
    --------
    >>> all_finite(torch.tensor([1.0, 2.0])), all_finite(torch.tensor([1.0, float("nan")]))
    (True, False)
    >>> all_finite(torch.tensor([3e38, 3e38]))  # the sum overflows, the values do not
    True
    """
    return math.isfinite(values.sum().item()) or bool(torch.isfinite(values).all())


def _short(values: torch.Tensor) -> str:
    """A few entries of a 1-D tensor, for error messages."""
    shown = [round(v, 6) for v in values[:6].tolist()]
    return str(shown)[:-1] + ", ...]" if values.numel() > 6 else str(shown)


def _first_bad_row(x: torch.Tensor, bad: torch.Tensor) -> str:
    """``"2 of its 10 rows (the first is row 3: [nan, 1.0])"`` for a row mask ``bad``."""
    rows = bad.nonzero().flatten()
    first = int(rows[0])
    return f"{len(rows)} of its {x.shape[0]} rows (the first is row {first}: {_short(x[first])})"


def _first_bad_point(x: torch.Tensor, bad: torch.Tensor) -> str:
    """``"2 of the 10 points (the first is x = [0.5, 1.0])"`` for a row mask ``bad``."""
    rows = bad.nonzero().flatten()
    return f"{len(rows)} of the {x.shape[0]} points (the first is x = {_short(x[rows[0]])})"


def require_points(x: object, dim: int | None = None, name: str = "x") -> torch.Tensor:
    """Check that ``x`` is a batch of points: a finite floating-point tensor of shape ``(N, d)``.

    Parameters
    ----------
    x
        The object to check.
    dim
        The required dimension ``d``; ``None`` accepts any.
    name
        The argument's name, used in the error message.

    Returns
    -------
    torch.Tensor
        ``x`` itself, unchanged.

    Examples
    --------
    >>> require_points(torch.zeros(5, 2), dim=2).shape
    torch.Size([5, 2])
    >>> require_points(torch.zeros(5), dim=2)
    Traceback (most recent call last):
    ...
    ValueError: x must have shape (N, 2), a batch of N points in 2 dimensions; got shape (5,). For a single point use x.reshape(1, -1).
    >>> require_points(torch.tensor([[0.0, 1.0], [float("nan"), 1.0]]), name="x0")
    Traceback (most recent call last):
    ...
    ValueError: x0 contains NaN or inf in 1 of its 2 rows (the first is row 1: [nan, 1.0]); it must be finite.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, d); got {type(x).__name__}. "
            f"Wrap it with torch.tensor(..., dtype=torch.float32)."
        )
    if not torch.is_floating_point(x):
        raise ValueError(
            f"{name} must be a floating-point tensor; got dtype {x.dtype}. Use {name}.float()."
        )
    if x.ndim != 2 or (dim is not None and x.shape[1] != dim) or x.shape[1] == 0:
        expected = f"(N, {dim})" if dim is not None else "(N, d)"
        where = f"in {dim} dimensions" if dim is not None else "in d >= 1 dimensions"
        hint = f" For a single point use {name}.reshape(1, -1)." if x.ndim == 1 else ""
        raise ValueError(
            f"{name} must have shape {expected}, a batch of N points {where}; "
            f"got shape {tuple(x.shape)}.{hint}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}): give at least one point.")
    if not all_finite(x):
        bad = ~torch.isfinite(x).all(dim=1)
        raise ValueError(
            f"{name} contains NaN or inf in {_first_bad_row(x, bad)}; it must be finite."
        )
    return x


def require_labels(
    labels: object,
    n_classes: int,
    n: int | None = None,
    name: str = "labels",
    allow_missing: bool = False,
) -> torch.Tensor:
    """Class labels: a non-empty integer tensor of shape ``(N,)``, values in ``0 .. n_classes - 1``.

    With ``n`` the shape must be ``(n,)``, one label per point; with ``allow_missing``
    the value ``-1`` ("no label", as in classifier-free guidance) is accepted too.

    Examples
    --------
    >>> require_labels(torch.tensor([0, 2, 1]), 3)
    tensor([0, 2, 1])
    >>> require_labels(torch.tensor([0, 3]), 3)
    Traceback (most recent call last):
    ...
    ValueError: labels must be integers in [0, 3), shape (N,); got shape (2,), values in [0, 3].
    """
    shape = f"({n},)" if n is not None else "(N,)"
    if (
        not isinstance(labels, torch.Tensor)
        or labels.dtype == torch.bool
        or labels.is_floating_point()
        or labels.is_complex()
    ):
        got = f"dtype {labels.dtype}" if isinstance(labels, torch.Tensor) else repr(labels)
        raise TypeError(f"{name} must be an integer tensor of shape {shape}; got {got}.")
    low = -1 if allow_missing else 0
    wrong_shape = labels.ndim != 1 or labels.numel() == 0 or (n is not None and len(labels) != n)
    if wrong_shape or labels.min() < low or labels.max() >= n_classes:
        values = (
            f", values in [{labels.min().item()}, {labels.max().item()}]" if labels.numel() else ""
        )
        raise ValueError(
            f"{name} must be integers in [{low}, {n_classes}){' (-1: no label)' if allow_missing else ''}, "
            f"shape {shape}; got shape {tuple(labels.shape)}{values}."
        )
    return labels


def require_noise_levels(
    sigma: object,
    points: torch.Tensor,
    name: str = "sigma",
    allow_zero: bool = False,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """One noise level per point: a number, or a tensor of shape ``(N,)``; positive and finite.

    Returns shape ``(N,)``, on the points' device, in ``dtype`` (default: the points').

    Examples
    --------
    >>> require_noise_levels(0.5, torch.zeros(3, 2))
    tensor([0.5000, 0.5000, 0.5000])
    >>> require_noise_levels(torch.tensor([0.5, 0.0, 1.0]), torch.zeros(3, 2))
    Traceback (most recent call last):
    ...
    ValueError: sigma must be a positive, finite noise level (one, or one per point); got 1 value that is not: [0.0] at index [1].
    """
    n = points.shape[0]
    try:
        levels = torch.as_tensor(sigma, dtype=dtype or points.dtype, device=points.device)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"{name} must be a number or a tensor of shape ({n},); got {sigma!r}."
        ) from None
    if levels.numel() == 1:
        levels = levels.reshape(()).expand(n)
    if levels.shape != (n,):
        raise ValueError(
            f"{name} must be one noise level or one per point, shape ({n},); "
            f"got shape {tuple(levels.shape)}."
        )
    low, high = (bound.item() for bound in torch.aminmax(levels))  # NaN propagates to both
    if (low >= 0 if allow_zero else low > 0) and high < math.inf:
        return levels
    good = (levels >= 0 if allow_zero else levels > 0) & torch.isfinite(levels)
    bad = (~good).nonzero().flatten()
    kind = "non-negative" if allow_zero else "positive"
    values = "1 value that is not" if len(bad) == 1 else f"{len(bad)} values that are not"
    raise ValueError(
        f"{name} must be a {kind}, finite noise level (one, or one per point); got {values}: "
        f"{_short(levels[bad])} at {'index' if len(bad) == 1 else 'indices'} {_short(bad)}."
    )


def require_sigmas(sigmas: object, name: str = "sigmas") -> torch.Tensor:
    """Check a noise schedule: positive, strictly decreasing levels (a tensor, list or tuple).

    Examples
    --------
    >>> require_sigmas([1.0, 0.5, 0.1])
    tensor([1.0000, 0.5000, 0.1000])
    >>> require_sigmas(torch.tensor([0.1, 0.5]))
    Traceback (most recent call last):
    ...
    ValueError: sigmas must be strictly decreasing (largest noise first); got [0.1, 0.5].
    """
    if not isinstance(sigmas, torch.Tensor) or not torch.is_floating_point(sigmas):
        try:
            sigmas = torch.as_tensor(sigmas, dtype=torch.get_default_dtype())
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(
                f"{name} must be a 1-D tensor or list of noise levels; got {sigmas!r}."
            ) from None
    if sigmas.ndim != 1 or sigmas.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D tensor; got shape {tuple(sigmas.shape)}.")
    values = [round(v, 6) for v in sigmas.tolist()]
    if not torch.isfinite(sigmas).all() or (sigmas <= 0).any():
        raise ValueError(f"{name} must be positive and finite; got {values}.")
    if (sigmas[1:] >= sigmas[:-1]).any():
        raise ValueError(f"{name} must be strictly decreasing (largest noise first); got {values}.")
    return sigmas


def require_times(t: object, name: str = "t") -> torch.Tensor:
    """Check times of a diffusion process: a number, or a 1-D tensor, in $[0, 1]$.

    Returns a float64 tensor (0-d for a number), on the tensor's device.

    Examples
    --------
    >>> require_times(0.5)
    tensor(0.5000, dtype=torch.float64)
    >>> require_times(torch.tensor([0.0, 1.5]))
    Traceback (most recent call last):
    ...
    ValueError: t must be times in [0, 1]; got [0.0, 1.5].
    """
    if isinstance(t, torch.Tensor):
        if not torch.is_floating_point(t) or t.ndim > 1:
            raise ValueError(
                f"{name} must be a number or a 1-D floating-point tensor of times; "
                f"got dtype {t.dtype}, shape {tuple(t.shape)}."
            )
        times = t.double()
    else:
        times = torch.tensor(require_real(t, name), dtype=torch.float64)
    low, high = (bound.item() for bound in torch.aminmax(times))  # NaN propagates to both
    if not 0 <= low <= high <= 1:
        shown = times.item() if times.ndim == 0 else _short(times)
        raise ValueError(f"{name} must be times in [0, 1]; got {shown}.")
    return times


def require_time_grid(times: object, name: str = "times") -> torch.Tensor:
    """Check a grid of times for a reverse process: strictly decreasing, in $[0, 1]$.

    Returns the grid as a float64 tensor.

    Examples
    --------
    >>> require_time_grid([1.0, 0.5, 0.0])
    tensor([1.0000, 0.5000, 0.0000], dtype=torch.float64)
    >>> require_time_grid([0.0, 1.0])
    Traceback (most recent call last):
    ...
    ValueError: times must be strictly decreasing (the reverse processes run from 1 to 0); got [0.0, 1.0].
    """
    try:
        grid = torch.as_tensor(times, dtype=torch.float64).cpu()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a 1-D tensor or list of times; got {times!r}.") from None
    if grid.ndim != 1 or grid.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D tensor; got shape {tuple(grid.shape)}.")
    require_times(grid, name)
    if (grid[1:] >= grid[:-1]).any():
        raise ValueError(
            f"{name} must be strictly decreasing (the reverse processes run from 1 to 0); "
            f"got {_short(grid)}."
        )
    return grid


def require_bounds(bounds: object, name: str = "bounds") -> list[tuple[float, float]]:
    """Check a box ``[(low_1, high_1), ..., (low_d, high_d)]`` with ``low_i < high_i``.

    Examples
    --------
    >>> require_bounds([(-1, 1), (0, 2)])
    [(-1.0, 1.0), (0.0, 2.0)]
    >>> require_bounds([(1, -1)])
    Traceback (most recent call last):
    ...
    ValueError: bounds[0] must be an interval (low, high) with low < high; got (1, -1).
    """
    try:
        intervals = [tuple(interval) for interval in bounds]  # type: ignore[attr-defined]
    except TypeError:
        raise TypeError(
            f"{name} must be a sequence of (low, high) pairs, one per dimension; got {bounds!r}."
        ) from None
    if len(intervals) == 0:
        raise ValueError(f"{name} is empty: give one (low, high) pair per dimension.")
    checked = []
    for i, interval in enumerate(intervals):
        if len(interval) != 2:
            raise ValueError(f"{name}[{i}] must be a pair (low, high); got {interval!r}.")
        low, high = (require_real(v, f"{name}[{i}]") for v in interval)
        if not low < high:
            raise ValueError(
                f"{name}[{i}] must be an interval (low, high) with low < high; got {interval!r}."
            )
        checked.append((low, high))
    return checked
