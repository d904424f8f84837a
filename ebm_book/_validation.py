"""Input checks shared by the package, so that bad input fails early with a clear message.

Every public function validates its arguments here instead of letting a wrong shape
travel deep into torch and come back as a cryptic broadcasting error or a silent NaN.
"""

from __future__ import annotations

import math

import torch


def check_points(x: object, dim: int | None = None, name: str = "x") -> torch.Tensor:
    """Check that ``x`` is a batch of points: a floating-point tensor of shape ``(N, d)``.

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
    >>> check_points(torch.zeros(5, 2), dim=2).shape
    torch.Size([5, 2])
    >>> check_points(torch.zeros(5), dim=2)
    Traceback (most recent call last):
    ...
    ValueError: x must have shape (N, 2), a batch of N points in 2 dimensions; got shape (5,). For a single point use x.reshape(1, -1).
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
    expected = f"(N, {dim})" if dim is not None else "(N, d)"
    if x.ndim != 2 or (dim is not None and x.shape[1] != dim):
        where = f"in {dim} dimensions" if dim is not None else "in d dimensions"
        hint = " For a single point use x.reshape(1, -1)." if x.ndim == 1 else ""
        raise ValueError(
            f"{name} must have shape {expected}, a batch of N points {where}; "
            f"got shape {tuple(x.shape)}.{hint}"
        )
    return x


def check_positive(value: object, name: str) -> float:
    """Check that ``value`` is a finite, strictly positive real number and return it as a float.

    Examples
    --------
    >>> check_positive(0.5, "temperature")
    0.5
    >>> check_positive(0.0, "temperature")
    Traceback (most recent call last):
    ...
    ValueError: temperature must be a positive number; got 0.0.
    """
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number; got {value!r}.") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}.")
    return number


def check_positive_int(value: object, name: str) -> int:
    """Check that ``value`` is a positive integer (``bool`` excluded) and return it.

    Examples
    --------
    >>> check_positive_int(3, "n_samples")
    3
    >>> check_positive_int(0, "n_samples")
    Traceback (most recent call last):
    ...
    ValueError: n_samples must be a positive integer; got 0.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return value


def check_energy_values(values: object, n_points: int, name: str = "energy") -> torch.Tensor:
    """Check that an energy function returned one finite-or-infinite real number per point.

    An energy of ``+inf`` is allowed (zero probability); NaN is not.

    Examples
    --------
    >>> check_energy_values(torch.zeros(4), 4).shape
    torch.Size([4])
    >>> check_energy_values(torch.zeros(4, 1), 4)
    Traceback (most recent call last):
    ...
    ValueError: energy must return a tensor of shape (4,), one value per point; got shape (4, 1).
    """
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{name} must return a torch.Tensor; got {type(values).__name__}.")
    if values.shape != (n_points,):
        raise ValueError(
            f"{name} must return a tensor of shape ({n_points},), one value per point; "
            f"got shape {tuple(values.shape)}."
        )
    if torch.isnan(values).any():
        raise ValueError(f"{name} returned NaN for {int(torch.isnan(values).sum())} points.")
    return values


def check_bounds(bounds: object, name: str = "bounds") -> list[tuple[float, float]]:
    """Check a box ``[(low_1, high_1), ..., (low_d, high_d)]`` with ``low_i < high_i``.

    Examples
    --------
    >>> check_bounds([(-1, 1), (0, 2)])
    [(-1.0, 1.0), (0.0, 2.0)]
    >>> check_bounds([(1, -1)])
    Traceback (most recent call last):
    ...
    ValueError: bounds[0] must be an interval (low, high) with low < high; got (1, -1).
    """
    try:
        intervals = [tuple(interval) for interval in bounds]  # type: ignore[union-attr]
    except TypeError:
        raise ValueError(
            f"{name} must be a sequence of (low, high) pairs, one per dimension; got {bounds!r}."
        ) from None
    if len(intervals) == 0:
        raise ValueError(f"{name} is empty: give one (low, high) pair per dimension.")
    checked = []
    for i, interval in enumerate(intervals):
        if len(interval) != 2 or not all(math.isfinite(float(v)) for v in interval):
            raise ValueError(f"{name}[{i}] must be a finite pair (low, high); got {interval!r}.")
        low, high = float(interval[0]), float(interval[1])
        if not low < high:
            raise ValueError(
                f"{name}[{i}] must be an interval (low, high) with low < high; got {interval!r}."
            )
        checked.append((low, high))
    return checked
