"""Checks of single values: real numbers, counts, random generators."""

from __future__ import annotations

import math
import operator

import torch


def _number(value: object, name: str, expected: str) -> float:
    """``value`` as a float, or a ``TypeError`` saying that ``name`` must be ``expected``."""
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise ValueError(
            f"{name} must be {expected}; got a tensor of {value.numel()} values, "
            f"shape {tuple(value.shape)}."
        )
    if isinstance(value, (bool, str, bytes)):  # float() would take True and "0.1"
        raise TypeError(f"{name} must be {expected}; got the {type(value).__name__} {value!r}.")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {expected}; got {value!r}.") from None


def require_real(value: object, name: str) -> float:
    """Check that ``value`` is a finite real number and return it as a float.

    Examples
    --------
    >>> require_real(-2, "tilt")
    -2.0
    >>> require_real(float("nan"), "tilt")
    Traceback (most recent call last):
    ...
    ValueError: tilt must be a finite number; got nan.
    """
    number = _number(value, name, "a finite number")
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number; got {value!r}.")
    return number


def require_in_interval(value: object, name: str, low: float, high: float = math.inf) -> float:
    """Check that ``value`` is a real number in the open interval ``(low, high)``.

    Examples
    --------
    >>> require_in_interval(0.5, "target", 0, 1)
    0.5
    >>> require_in_interval(1.5, "target", 0, 1)
    Traceback (most recent call last):
    ...
    ValueError: target must be a number in (0, 1); got 1.5.
    """
    if (low, high) == (0, math.inf):
        expected = "a positive number"
    else:
        expected = f"a number > {low:g}" if high == math.inf else f"a number in ({low:g}, {high:g})"
    number = _number(value, name, expected)
    if not low < number < high:  # False for NaN
        raise ValueError(f"{name} must be {expected}; got {value!r}.")
    return number


def require_positive(value: object, name: str) -> float:
    """Check that ``value`` is a finite, strictly positive real number and return it as a float.

    Examples
    --------
    >>> require_positive(1, "step_size")  # an int is a number too
    1.0
    >>> require_positive(0.0, "temperature")
    Traceback (most recent call last):
    ...
    ValueError: temperature must be a positive number; got 0.0.
    """
    return require_in_interval(value, name, 0)


def require_non_negative(value: object, name: str) -> float:
    """Check that ``value`` is a finite real number ``>= 0`` and return it as a float.

    Examples
    --------
    >>> require_non_negative(0, "noise")
    0.0
    >>> require_non_negative(-0.1, "noise")
    Traceback (most recent call last):
    ...
    ValueError: noise must be a non-negative number; got -0.1.
    """
    number = _number(value, name, "a non-negative number")
    if not 0 <= number < math.inf:
        raise ValueError(f"{name} must be a non-negative number; got {value!r}.")
    return number


def require_int(value: object, name: str, minimum: int = 1) -> int:
    """Check that ``value`` is an integer ``>= minimum`` (``bool`` and floats excluded).

    Examples
    --------
    >>> require_int(3, "n_samples")
    3
    >>> require_int(0, "n_samples")
    Traceback (most recent call last):
    ...
    ValueError: n_samples must be a positive integer; got 0.
    >>> require_int(1e4, "n_steps")
    Traceback (most recent call last):
    ...
    TypeError: n_steps must be an integer; got the float 10000.0 (write 10000).
    """
    if minimum == 1:
        expected = "a positive integer"
    else:
        expected = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
    if isinstance(value, float) and value.is_integer():
        raise TypeError(f"{name} must be an integer; got the float {value!r} (write {int(value)}).")
    try:
        number = operator.index(value)  # type: ignore[arg-type]  # ints, NumPy ints, 0-d int tensors
    except TypeError:
        raise TypeError(f"{name} must be {expected}; got {value!r}.") from None
    if isinstance(value, bool) or number < minimum:
        raise ValueError(f"{name} must be {expected}; got {value!r}.")
    return number


def require_generator(
    generator: object, device: torch.device | str | None = None, name: str = "generator"
) -> torch.Generator | None:
    """Check that ``generator`` is ``None`` or a ``torch.Generator`` on ``device``.

    Examples
    --------
    >>> require_generator(None) is None
    True
    >>> require_generator(0)
    Traceback (most recent call last):
    ...
    TypeError: generator must be a torch.Generator or None; got the int 0. For a seeded one use ebm_book.seeds.generator(0) (or torch.Generator().manual_seed(0)).
    """
    if generator is None or isinstance(generator, torch.Generator):
        if generator is not None and device is not None:
            wanted = torch.device(device)
            if generator.device.type != wanted.type:
                raise ValueError(
                    f"{name} is on {generator.device}, but the noise is drawn on {wanted}: "
                    f"create it with torch.Generator(device={str(wanted)!r})."
                )
        return generator
    hint = ""
    if isinstance(generator, int) and not isinstance(generator, bool):
        hint = (
            f" For a seeded one use ebm_book.seeds.generator({generator}) "
            f"(or torch.Generator().manual_seed({generator}))."
        )
    raise TypeError(
        f"{name} must be a torch.Generator or None; got the {type(generator).__name__} "
        f"{generator!r}.{hint}"
    )
