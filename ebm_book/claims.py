r"""Claims: statements in the prose that the chapter checks against its own results.

When a chapter says "annealed Langevin recovers the weight 0.8 within three standard
errors", that sentence depends on a run. The chapter states it once more, in code, right
after the cell that computes it:

>>> weight, standard_error = 0.79, 0.007
>>> claim(
...     "annealed Langevin recovers the weight 0.8 within three standard errors",
...     abs(weight - 0.8) < 3 * standard_error,
...     weight=weight, standard_error=standard_error,
... )

If the run stops supporting the sentence (a change of seed, of a default, of the
package), the cell raises `ClaimError`, which names the claim and the numbers behind it,
and the book's build fails there:

>>> claim("the loss is below 1", 1.3 < 1, loss=1.3)
Traceback (most recent call last):
...
ebm_book.claims.ClaimError: claim no longer holds: 'the loss is below 1' (loss = 1.3)

**Checking every claim at once.** With the environment variable ``EBM_BOOK_CLAIMS_LOG``
set to a file path, `claim` raises nothing: it appends one JSON line per claim (its text,
whether it held, its numbers) to that file, so that one run of a chapter reports on all
of its claims. ``scripts/check_claims.py`` uses this to re-run every chapter with shifted
seeds (see `ebm_book.seeds`).
"""

from __future__ import annotations

import json
import os

__all__ = ["CLAIMS_LOG_VARIABLE", "ClaimError", "claim"]

CLAIMS_LOG_VARIABLE = "EBM_BOOK_CLAIMS_LOG"


class ClaimError(AssertionError):
    """A statement of the text is no longer supported by the numbers computed next to it."""


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a 0-d tensor or array
        return _format(value.item())
    return str(value)


def _truth(holds: object) -> bool:
    """``holds`` as one truth value; a tensor or array of several is ambiguous, ``None`` a slip."""
    if holds is None:
        raise TypeError("holds is None: pass the comparison itself, e.g. abs(error) < 0.01.")
    size = getattr(holds, "size", None)
    n_values = holds.numel() if hasattr(holds, "numel") else size if isinstance(size, int) else 1
    if n_values != 1:
        raise ValueError(
            f"holds must be one truth value; got {n_values} values (shape "
            f"{tuple(getattr(holds, 'shape', ()))}): combine them with .all() or .any()."
        )
    return bool(holds)


def claim(statement: str, holds: object, **evidence: object) -> None:
    """Check that ``statement``, made in the text, is true of this run; fail loudly if not.

    Parameters
    ----------
    statement
        The claim, in the words of the text (it is what the error message shows).
    holds
        Whether the numbers support it: a ``bool`` (or anything ``bool()`` accepts, such
        as a one-element tensor).
    **evidence
        The numbers behind the claim, shown in the message (and logged).

    Raises
    ------
    ClaimError
        If ``holds`` is false and ``EBM_BOOK_CLAIMS_LOG`` is not set.

    Examples
    --------
    >>> claim("two plus two is four", 2 + 2 == 4)
    """
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError(f"statement must be a non-empty string; got {statement!r}.")
    held = _truth(holds)
    numbers = {name: _format(value) for name, value in evidence.items()}
    log_path = os.environ.get(CLAIMS_LOG_VARIABLE)
    if log_path:
        record = {"claim": statement, "held": held, "evidence": numbers}
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        return
    if not held:
        details = ", ".join(f"{name} = {value}" for name, value in numbers.items())
        raise ClaimError(
            f"claim no longer holds: {statement!r}" + (f" ({details})" if details else "")
        )
