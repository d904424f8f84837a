"""Checks of the functions a caller passes in (energies, scores, models) and of what they return."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import torch

from .._types import Proposal
from .points import _first_bad_point, all_finite, require_points


def require_callable(fn: object, name: str, args: tuple[str, ...] = ("x",)) -> Callable:
    """Check that ``fn`` can be called as ``name(*args)``, e.g. ``score(x, sigma)``.

    Examples
    --------
    >>> require_callable(lambda x: -x, "score", ("x", "sigma"))
    Traceback (most recent call last):
    ...
    TypeError: score is called as score(x, sigma), but the function passed takes (x).
    """
    usage = f"{name}({', '.join(args)})"
    if not callable(fn):
        raise TypeError(f"{name} must be a function called as {usage}; got {type(fn).__name__}.")
    try:  # a module's signature is that of its forward method
        signature = inspect.signature(fn.forward if isinstance(fn, torch.nn.Module) else fn)
    except (TypeError, ValueError):  # some built-ins have none: let the call decide
        return fn
    try:
        signature.bind(*args)
    except TypeError:
        takes = ", ".join(str(p.replace(annotation=p.empty)) for p in signature.parameters.values())
        raise TypeError(
            f"{name} is called as {usage}, but the function passed takes ({takes})."
        ) from None
    return fn


def call_checked(fn: Callable, name: str, args: tuple[str, ...], *values: object) -> object:
    """``fn(*values)``; if ``fn`` cannot take these arguments, a ``TypeError`` that says so.

    For calls inside a training loop: unlike `require_callable`, costs nothing when it works.

    Examples
    --------
    >>> call_checked(lambda x: -x, "model", ("x", "sigma"), 1.0, 0.5)
    Traceback (most recent call last):
    ...
    TypeError: model is called as model(x, sigma), but the function passed takes (x).
    """
    try:
        return fn(*values)
    except TypeError:
        require_callable(fn, name, args)  # raises the clearer error if the signature is the cause
        raise


def require_first_call(fn: Callable, check: Callable[..., object]) -> Callable:
    """``fn``, with ``check(output, *arguments)`` run on the output of its first call only.

    Samplers call a score thousands of times: checking its output once is enough to catch
    a wrong shape or a NaN everywhere, and later steps cost nothing extra.

    Examples
    --------
    >>> score = require_first_call(lambda x: x[:, :1], lambda out, x: require_vector_field(out, x))
    >>> score(torch.zeros(3, 2))
    Traceback (most recent call last):
    ...
    ValueError: score must map x of shape (3, 2) to the same shape (one vector per point); got shape (3, 1).
    """
    checked = False

    def call(*arguments: object) -> object:
        nonlocal checked
        output = fn(*arguments)
        if not checked:
            check(output, *arguments)
            checked = True
        return output

    return call


def _require_tensor_output(values: object, name: str, expected: str) -> torch.Tensor:
    if not isinstance(values, torch.Tensor):
        raise TypeError(
            f"{name} must return a torch.Tensor {expected}; got {type(values).__name__}."
        )
    if values.is_complex():
        raise ValueError(f"{name} must return real numbers; got dtype {values.dtype}.")
    return values


def require_energy_values(
    values: object,
    points: torch.Tensor,
    name: str = "energy",
    finite: bool = False,
    shape_only: bool = False,
) -> torch.Tensor:
    """Check that a function of ``points`` returned one real number per point, and no NaN.

    ``+inf`` is allowed (an energy of zero probability) unless ``finite``; ``-inf`` never is.
    With ``shape_only`` the values are not looked at: inside a loss, a NaN becomes the loss.

    Examples
    --------
    >>> x = torch.zeros(4, 2)
    >>> require_energy_values(torch.zeros(4), x).shape
    torch.Size([4])
    >>> require_energy_values(torch.zeros(4, 1), x)
    Traceback (most recent call last):
    ...
    ValueError: energy must return a tensor of shape (4,), one value per point; got shape (4, 1).
    """
    n = points.shape[0]
    values = _require_tensor_output(values, name, f"of shape ({n},)")
    if values.shape != (n,):
        raise ValueError(
            f"{name} must return a tensor of shape ({n},), one value per point; "
            f"got shape {tuple(values.shape)}."
        )
    if shape_only:
        return values
    total = values.sum().item()  # NaN or -inf anywhere makes it NaN or -inf
    if math.isfinite(total) or (total == math.inf and not finite):
        return values
    bad = ~torch.isfinite(values) if finite else torch.isnan(values) | (values == -math.inf)
    if bad.any():
        what = "NaN or inf" if finite else "NaN or -inf"
        raise ValueError(f"{name} returned {what} at {_first_bad_point(points, bad)}.")
    return values


def require_vector_field(
    values: object, points: torch.Tensor, name: str = "score", finite: bool = True
) -> torch.Tensor:
    """Check that a vector field (a score) of ``points`` kept their shape, and is finite.

    Examples
    --------
    >>> x = torch.zeros(4, 2)
    >>> require_vector_field(-x, x).shape
    torch.Size([4, 2])
    >>> require_vector_field(x / 0.0, x)
    Traceback (most recent call last):
    ...
    ValueError: score returned NaN or inf at 4 of the 4 points (the first is x = [0.0, 0.0]).
    """
    shape = tuple(points.shape)
    values = _require_tensor_output(values, name, f"of shape {shape}")
    if values.shape != points.shape:
        raise ValueError(
            f"{name} must map x of shape {shape} to the same shape (one vector per point); "
            f"got shape {tuple(values.shape)}."
        )
    if finite and not all_finite(values):
        bad = ~torch.isfinite(values).all(dim=1)
        raise ValueError(f"{name} returned NaN or inf at {_first_bad_point(points, bad)}.")
    return values


def require_depends_on_input(values: torch.Tensor, name: str) -> torch.Tensor:
    """Check that ``values`` carry a gradient back to the input, as autograd needs.

    Examples
    --------
    >>> require_depends_on_input(torch.zeros(3), "energy")
    Traceback (most recent call last):
    ...
    ValueError: energy does not depend on x (its output carries no gradient): compute it from x with torch operations, without .detach(), .item(), NumPy or torch.no_grad().
    """
    if not values.requires_grad:
        raise ValueError(
            f"{name} does not depend on x (its output carries no gradient): compute it from x "
            "with torch operations, without .detach(), .item(), NumPy or torch.no_grad()."
        )
    return values


def require_proposal(proposal: object, name: str = "proposal") -> object:
    """Check that ``proposal`` has the methods ``sample(n, generator=...)`` and ``log_prob(x)``.

    Examples
    --------
    >>> require_proposal(torch.zeros(2))
    Traceback (most recent call last):
    ...
    TypeError: proposal must have the methods sample(n, generator=...) and log_prob(x), as ebm_book.energies.Gaussian does; got Tensor.
    """
    if not callable(getattr(proposal, "sample", None)) or not callable(
        getattr(proposal, "log_prob", None)
    ):
        raise TypeError(
            f"{name} must have the methods sample(n, generator=...) and log_prob(x), as "
            f"ebm_book.energies.Gaussian does; got {type(proposal).__name__}."
        )
    return proposal


def draw_from_proposal(
    proposal: Proposal,
    n: int,
    generator: torch.Generator | None,
    dim: int | None = None,
    name: str = "proposal",
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` draws ``x`` of ``proposal`` and their ``log_prob``, both checked (finite, ``(n, d)``, ``(n,)``).

    Examples
    --------
    >>> class Bad:
    ...     def sample(self, n, generator=None):
    ...         return torch.zeros(n - 1, 2)
    ...     def log_prob(self, x):
    ...         return torch.zeros(len(x))
    >>> draw_from_proposal(Bad(), 5, None)
    Traceback (most recent call last):
    ...
    ValueError: proposal.sample(n) must return n = 5 points; got 4.
    """
    x = require_points(proposal.sample(n, generator=generator), dim=dim, name=f"{name}.sample(n)")
    if x.shape[0] != n:
        raise ValueError(f"{name}.sample(n) must return n = {n} points; got {x.shape[0]}.")
    log_q = require_energy_values(proposal.log_prob(x), x, name=f"{name}.log_prob", finite=True)
    return x, log_q
