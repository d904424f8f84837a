r"""The grading framework every exercise grader is built with.

A grader runs the reader's function on chosen inputs and says, in one line, whether it
is right, and if not, what is most likely wrong. Write one by decorating a function
that returns a success message, and raises `CheckFailed` with an explanation otherwise;
`diagnose` tries the usual mistakes in turn and names the one that matches:

>>> @checker
... def check_double(fn):
...     got = fn(torch.tensor(2.0))
...     diagnose(got, [(torch.tensor(2.0), "you returned x itself; multiply it by 2."),
...                    (torch.tensor(3.0), "that is x + 1; double means 2 * x.")],
...              expected=torch.tensor(4.0), otherwise="double(2) should be 4.")
...     return "double works."
>>> check_double(lambda x: 2 * x)
✅ Correct! double works.
True
>>> check_double(lambda x: x + 1)
❌ Not yet: that is x + 1; double means 2 * x.
False
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch

__all__ = ["CheckFailed", "CheckResult", "checker", "diagnose"]


class CheckFailed(Exception):
    """Raised inside a checker to report a specific, explained mistake."""


class CheckResult:
    """Whether an answer passed: behaves like a ``bool``, and shows nothing in a notebook.

    The checker has already printed its feedback, so a notebook cell that ends with a
    checker call should not also print ``True`` or ``False`` below it.

    Examples
    --------
    >>> result = CheckResult(False)
    >>> bool(result), result == False, result
    (False, True, False)
    """

    def __init__(self, passed: bool) -> None:
        self.passed = bool(passed)

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other: object) -> bool:
        return self.passed == bool(other)

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return repr(self.passed)

    def _ipython_display_(self) -> None:
        """IPython calls this instead of showing the repr: show nothing."""


def checker(check: Callable[..., str]) -> Callable[..., CheckResult]:
    """Turn a function that raises `CheckFailed` into a never-crashing checker.

    The wrapped checker prints one line of feedback and returns whether the answer passed
    (a `CheckResult`, usable as a ``bool``). Its first argument is the reader's function.
    """

    @functools.wraps(check)
    def run(*args: object, **kwargs: object) -> CheckResult:
        if not args or not callable(args[0]):  # e.g. the function's result instead of the function
            got = type(args[0]).__name__ if args else "nothing"
            print(
                f"❌ Not yet: pass your function itself, {check.__name__}(your_function); got {got}."
            )
            return CheckResult(False)
        try:
            message = check(*args, **kwargs)
        except NotImplementedError:
            print("⏳ Not attempted yet: replace `raise NotImplementedError` with your code.")
            return CheckResult(False)
        except CheckFailed as failure:
            print(f"❌ Not yet: {failure}")
            return CheckResult(False)
        except Exception as error:  # the reader's code raised: explain instead of crashing
            print(f"❌ Your code raised {type(error).__name__}: {error}")
            return CheckResult(False)
        print(f"✅ Correct! {message}")
        return CheckResult(True)

    return run


def _real_tensor(result: object, what: str) -> torch.Tensor:
    if not isinstance(result, torch.Tensor):
        raise CheckFailed(f"{what} should return a torch.Tensor; got {type(result).__name__}.")
    if not torch.is_floating_point(result):
        raise CheckFailed(f"{what} should return floating-point numbers; got dtype {result.dtype}.")
    return result


def _as_tensor(result: object, what: str) -> torch.Tensor:
    tensor = _real_tensor(result, what)
    if torch.isnan(tensor).any():
        raise CheckFailed(f"{what} returned NaN.")
    return tensor


def diagnose(
    answer: torch.Tensor,
    mistakes: Sequence[tuple[torch.Tensor, str]],
    *,
    expected: torch.Tensor | None = None,
    otherwise: str = "",
    context: str = "",
    rtol: float = 1e-5,
    atol: float = 1e-8,
) -> None:
    """Return if ``answer`` matches ``expected``; else raise `CheckFailed` with the hint of
    the first known mistake it matches, or with ``otherwise``.

    Parameters
    ----------
    answer
        What the reader's function returned.
    mistakes
        ``(what that mistake would return, its hint)`` pairs, most likely first.
    expected
        The right answer; ``None`` when the caller has already found ``answer`` wrong.
    otherwise
        The message when no known mistake matches (say what to compare with).
    context
        A prefix for the message, such as the inputs (``"with sigma = 0.5: "``).
    rtol, atol
        Tolerances of ``torch.allclose``, for the right answer and the mistakes alike.
    """

    def matches(value: torch.Tensor) -> bool:
        value = value.detach().to(answer.dtype)
        return answer.shape == value.shape and torch.allclose(answer, value, rtol, atol)

    answer = answer.detach()
    if expected is not None and matches(expected):
        return
    for wrong, hint in mistakes:
        if matches(wrong):
            raise CheckFailed(context + hint)
    raise CheckFailed(context + otherwise)
