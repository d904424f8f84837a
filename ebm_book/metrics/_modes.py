"""Which share of the samples falls in each mode of a mixture, or in each class."""

from __future__ import annotations

import torch

from .._validation import require_int, require_labels, require_points
from ..mixtures import GaussianMixture

__all__ = ["class_coverage", "class_histogram", "mode_weights"]


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


def class_histogram(labels: torch.Tensor, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The share $\hat w_k$ of each class $k$ among ``labels``, with binomial standard errors.

    The class analogue of `mode_weights`, for the classes a classifier assigns to
    generated images: set against the data's class shares (for the digits, about
    $1/K$ each), it shows which classes a model over- or under-produces. For $n$
    independent samples the standard error of $\hat w_k$ is $\sqrt{\hat w_k(1-\hat w_k)/n}$.

    Parameters
    ----------
    labels
        Integers in ``0 .. n_classes - 1``, shape ``(N,)``.
    n_classes
        $K$.

    Returns
    -------
    weights, standard_errors
        Both float64 of shape ``(K,)``, on the labels' device.

    Examples
    --------
    >>> weights, se = class_histogram(torch.tensor([0, 0, 1, 3]), 4)
    >>> weights
    tensor([0.5000, 0.2500, 0.0000, 0.2500], dtype=torch.float64)
    """
    require_int(n_classes, "n_classes")
    require_labels(labels, n_classes)
    n = labels.shape[0]
    weights = torch.bincount(labels, minlength=n_classes).double() / n
    return weights, torch.sqrt(weights * (1 - weights) / n)


def class_coverage(labels: torch.Tensor, n_classes: int) -> float:
    r"""How evenly ``labels`` cover the $K$ classes: $e^{\mathcal{H}}/K$, with $\mathcal{H} = -\sum_k \hat w_k \log \hat w_k$.

    $e^{\mathcal{H}}$, the exponential of the entropy, is the effective number of classes of the histogram $\hat w$ (`class_histogram`):
    $K$ when every class has the same share, $m$ when $m$ classes share the labels
    evenly and the others are missing. The coverage is therefore 1 for uniform labels
    and $1/K$ when a model collapses onto one class: a measure of mode coverage against
    a uniform truth (the digits' classes hold 9.7% to 10.2% of the images each, which
    gives 0.9999).

    Examples
    --------
    >>> class_coverage(torch.arange(10), 10)
    1.0
    >>> class_coverage(torch.tensor([3, 7, 3, 7]), 10)  # two classes of ten, evenly
    0.2
    """
    weights, _ = class_histogram(labels, n_classes)
    present = weights[weights > 0]
    entropy = -(present * present.log()).sum()
    return entropy.exp().item() / n_classes
