r"""Every seed of the book, from one place: so that a whole run can be repeated with new ones.

A chapter never writes ``torch.Generator().manual_seed(3)``; it writes
``seeds.generator(3)``. By default the two are the same. But when the environment
variable ``EBM_BOOK_SEED_SHIFT`` is set to an integer $k$, every seed $n$ of the book
becomes $n + 1000\,k$: new data, new noise, new initial weights, everywhere at once.
Each claim a chapter makes about its results (see `ebm_book.claims`) must survive that
change; one that holds for a single seed only is not a finding.

Re-run the whole book with shifted seeds with::

    python scripts/check_claims.py --shifts 1 2 3

Examples
--------
>>> seed(3)  # with no shift set
3
>>> generator(3).initial_seed()
3
"""

from __future__ import annotations

import os

import torch

from ._validation import require_int

__all__ = ["SEED_SHIFT_VARIABLE", "generator", "manual_seed", "seed", "seed_shift"]

SEED_SHIFT_VARIABLE = "EBM_BOOK_SEED_SHIFT"
SHIFT_STRIDE = 1000  # seeds of one chapter stay below this, so shifted runs never overlap


def seed_shift() -> int:
    """The shift $k$ read from ``EBM_BOOK_SEED_SHIFT`` (0 when it is not set).

    Examples
    --------
    >>> import os
    >>> os.environ["EBM_BOOK_SEED_SHIFT"] = "2"
    >>> seed_shift()
    2
    >>> del os.environ["EBM_BOOK_SEED_SHIFT"]
    >>> seed_shift()
    0
    """
    text = os.environ.get(SEED_SHIFT_VARIABLE, "").strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise ValueError(
            f"{SEED_SHIFT_VARIABLE} must be an integer (the seed shift); got {text!r}."
        ) from None


def seed(n: int) -> int:
    r"""The book's seed number ``n``, shifted by $1000\,k$ under ``EBM_BOOK_SEED_SHIFT=k``.

    Examples
    --------
    >>> seed(0), seed(42)
    (0, 42)
    """
    if require_int(n, "n", minimum=0) >= SHIFT_STRIDE:
        raise ValueError(f"n must be an integer seed in [0, {SHIFT_STRIDE}); got {n!r}.")
    return n + SHIFT_STRIDE * seed_shift()


def generator(n: int, device: torch.device | str | None = None) -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed(n)``, on ``device`` (default: the CPU).

    Examples
    --------
    >>> a = torch.randn(3, generator=generator(7))
    >>> b = torch.randn(3, generator=generator(7))
    >>> torch.equal(a, b)
    True
    """
    return torch.Generator(device=device or "cpu").manual_seed(seed(n))


def manual_seed(n: int) -> None:
    """Seed torch's global generator with ``seed(n)``: for the initial weights of networks.

    Examples
    --------
    >>> manual_seed(0)
    >>> a = torch.nn.Linear(2, 2).weight.detach().clone()
    >>> manual_seed(0)
    >>> torch.equal(a, torch.nn.Linear(2, 2).weight)
    True
    """
    torch.manual_seed(seed(n))
