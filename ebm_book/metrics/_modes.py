"""Which share of the samples falls in each mode of a mixture."""

from __future__ import annotations

import torch

from .._validation import require_points
from ..mixtures import GaussianMixture

__all__ = ["mode_weights"]


def mode_weights(
    samples: torch.Tensor, mixture: GaussianMixture
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Fraction of samples attributed to each mixture component, with standard errors.

    Each sample goes to its most responsible component. For $n$ independent samples, a
    fraction $\hat w_k$ has the binomial standard error $\sqrt{\hat w_k(1-\hat w_k)/n}$
    (chains that have not mixed are *not* independent: then the true uncertainty is larger).

    Returns
    -------
    weights, standard_errors
        Both of shape ``(K,)``.

    Examples
    --------
    >>> gm = GaussianMixture([[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8])
    >>> w, se = mode_weights(gm.sample(10_000, generator=torch.Generator().manual_seed(0)), gm)
    >>> bool(abs(w[1] - 0.8) < 4 * se[1])
    True
    """
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(
            "mixture must be an ebm_book.mixtures.GaussianMixture, whose components define the "
            f"modes; got {type(mixture).__name__}."
        )
    require_points(samples, dim=mixture.dim, name="samples")
    n = samples.shape[0]
    counts = torch.bincount(mixture.assign(samples).cpu(), minlength=mixture.n_components)
    weights = counts.double() / n
    return weights, torch.sqrt(weights * (1 - weights) / n)
