"""How far apart two score functions are."""

from __future__ import annotations

import torch

from .._types import ScoreFn
from .._validation import require_callable, require_points, require_vector_field

__all__ = ["fisher_divergence"]


def fisher_divergence(
    score_a: ScoreFn,
    score_b: ScoreFn,
    x: torch.Tensor,
) -> float:
    r"""The mean squared difference of two score fields over the points ``x``.

    $$
    \frac1n \sum_{i=1}^n \big\lVert s_a(x_i) - s_b(x_i) \big\rVert^2 .
    $$

    With ``x`` drawn from $\rho$, $s_a = \nabla \log \rho$ and $s_b = \nabla \log p$, this
    estimates the Fisher divergence
    $D_F(\rho \,\Vert\, p) = \mathbb{E}_{x\sim\rho}\lVert \nabla\log\rho(x) - \nabla\log p(x)\rVert^2$
    (the book's definition has no factor $\tfrac12$: explicit score matching is half of
    it). Evaluated on chosen points instead (where $p$ is large, or small), it shows
    *where* a learned score is accurate.

    Examples
    --------
    >>> x = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
    >>> fisher_divergence(lambda x: -x, lambda x: -x + 1.0, x)
    3.0
    """
    require_callable(score_a, "score_a")
    require_callable(score_b, "score_b")
    require_points(x)
    with torch.no_grad():
        a = require_vector_field(score_a(x), x, "score_a")
        b = require_vector_field(score_b(x), x, "score_b")
    return ((a - b) ** 2).sum(dim=1).mean().item()
