r"""The grading framework every exercise grader is built with.

A grader runs the reader's function on chosen inputs and says, in one line, whether it
is right, and if not, what is most likely wrong. Write one by decorating a function
that returns a success message, and raises `CheckFailed` with an explanation otherwise;
`diagnose` tries the usual mistakes in turn and names the one that matches. Two more
kinds of question have ready-made graders: a formula the reader writes as a function
(`compare_formula`, which evaluates it at many points) and a choice among options, each
of which explains itself when chosen (`multiple_choice`).

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

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence

import torch

__all__ = [
    "CheckFailed",
    "CheckResult",
    "checker",
    "compare_formula",
    "diagnose",
    "multiple_choice",
    "not_attempted",
]


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


def not_attempted() -> CheckResult:
    """Print the "not attempted yet" line and return a failed result."""
    print("⏳ Not attempted yet: replace `raise NotImplementedError` (or `None`) with your answer.")
    return CheckResult(False)


def compare_formula(
    formula: Callable[..., object],
    reference: Callable[..., float],
    points: Sequence[tuple[float, ...]],
    mistakes: Sequence[tuple[Callable[..., float], str]] = (),
    *,
    name: str = "your formula",
    rtol: float = 1e-6,
) -> None:
    """Check a formula written as a function of numbers, at every one of ``points``.

    A derivation's result is an expression; evaluating it at many random arguments tells
    equal expressions from different ones (two different smooth expressions agree at a
    handful of random points only by accident). When the reader's formula differs, each
    known wrong formula in ``mistakes`` is evaluated at the same points, and the first that
    agrees everywhere names the mistake.

    Raises
    ------
    CheckFailed
        If the formula returns something that is not a finite number, or differs from
        ``reference`` at some point (with the hint of the matching mistake, if any).
    """

    def values(fn: Callable[..., object]) -> list[float]:
        out = []
        for point in points:
            value = fn(*point)
            try:
                out.append(float(value))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise CheckFailed(
                    f"{name} should return a number; at {point} it returned {value!r}."
                ) from None
        return out

    def agree(a: list[float], b: list[float]) -> bool:
        return all(abs(x - y) <= rtol * max(abs(y), 1e-12) for x, y in zip(a, b))

    got, want = values(formula), values(reference)
    if any(v != v or v in (float("inf"), float("-inf")) for v in got):
        raise CheckFailed(f"{name} returned a non-finite value: {got}.")
    if agree(got, want):
        return
    for wrong, hint in mistakes:
        if agree(got, values(wrong)):
            raise CheckFailed(hint)
    index = next(i for i, (x, y) in enumerate(zip(got, want)) if abs(x - y) > rtol * abs(y))
    raise CheckFailed(
        f"at {points[index]} {name} gives {got[index]:.6g}; the right value is {want[index]:.6g}."
    )


def multiple_choice(
    name: str, options: dict[str, tuple[bool, str]]
) -> Callable[[object], CheckResult]:
    """A grader for a question with lettered options, each explaining itself when chosen.

    ``options`` maps each letter to ``(is it right, why)``. Whatever the reader picks,
    the explanation of that option is printed: a wrong choice learns why it is wrong.

    Examples
    --------
    >>> grade = multiple_choice("check_sky", {
    ...     "a": (True, "Rayleigh scattering favours short wavelengths."),
    ...     "b": (False, "the sea reflects the sky, not the other way round."),
    ... })
    >>> grade("b")
    ❌ Not yet: the sea reflects the sky, not the other way round.
    False
    >>> grade("(A)")
    ✅ Correct! Rayleigh scattering favours short wavelengths.
    True
    """
    letters = sorted(options)

    def grade(answer: object) -> CheckResult:
        if answer is None or answer is NotImplemented or answer == "":
            return not_attempted()
        key = str(answer).strip().lower().strip("()").strip()
        if key not in options:
            print(f"❌ Not yet: answer with one of {', '.join(letters)}; got {answer!r}.")
            return CheckResult(False)
        correct, why = options[key]
        print(("✅ Correct! " if correct else "❌ Not yet: ") + why)
        return CheckResult(correct)

    grade.__name__ = grade.__qualname__ = name
    grade.__doc__ = f"Grade a choice among {', '.join(letters)}."
    return grade


@contextlib.contextmanager
def private_run() -> Iterator[None]:
    """Keep the reader's global random state, and run on one thread, then restore both.

    A grader that trains or samples must not change the reader's random numbers; and
    networks this small train fastest on one thread: on a busy machine, several threads
    fighting over the cores make each step many times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(threads)


def per_chain(
    value: object, x: torch.Tensor, *, missing: str, mismatch: Callable[[int], str]
) -> torch.Tensor:
    """A score's conditioning argument (a noise level or a time) for each chain, float64
    of shape (N,), from one number or one per chain; or a failure that explains.

    ``missing`` is the message when the reader passed none; ``mismatch(k)`` the message
    when they passed ``k`` values for the ``N`` chains.
    """
    if value is None:
        raise CheckFailed(missing)
    values = torch.as_tensor(value).detach().to(torch.float64).reshape(-1)
    if values.numel() == 1:
        return values.expand(x.shape[0])
    if values.numel() != x.shape[0]:
        raise CheckFailed(mismatch(values.numel()))
    return values
