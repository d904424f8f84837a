"""Checks of the parameters of Gaussians and Gaussian mixtures: means, covariances, weights."""

from __future__ import annotations

import torch


def as_float_tensor(value: object, name: str) -> torch.Tensor:
    """``value`` as a finite tensor of the default float dtype.

    Examples
    --------
    >>> as_float_tensor([[0, 1]], "means")
    tensor([[0., 1.]])
    >>> as_float_tensor([0.0, float("nan")], "mean")
    Traceback (most recent call last):
    ...
    ValueError: mean must be finite; got [0.0, nan].
    """
    try:
        tensor = torch.as_tensor(value, dtype=torch.get_default_dtype())
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"{name} must be numbers (a tensor or nested lists); got {value!r}."
        ) from None
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return tensor


def require_covariances(covs: torch.Tensor, name: str = "cov") -> torch.Tensor:
    """Check that every matrix in ``covs`` (shape ``(d, d)`` or ``(K, d, d)``) is symmetric positive definite.

    Examples
    --------
    >>> require_covariances(torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    Traceback (most recent call last):
    ...
    ValueError: cov must be positive definite (all eigenvalues > 0); its eigenvalues are [-1.0, 3.0].
    """
    if not torch.allclose(covs, covs.transpose(-1, -2), atol=1e-6):
        raise ValueError(f"{name} must be symmetric; got {covs.tolist()}.")
    eigenvalues = torch.linalg.eigvalsh(covs)
    if (eigenvalues <= 0).any():
        shown = [
            [round(v, 6) for v in row] for row in eigenvalues.reshape(-1, covs.shape[-1]).tolist()
        ]
        raise ValueError(
            f"{name} must be positive definite (all eigenvalues > 0); its eigenvalues are "
            f"{shown[0] if covs.ndim == 2 else shown}."
        )
    return covs


def mixture_covariances(covs: object, n_components: int, dim: int) -> torch.Tensor:
    """The ``(K, d, d)`` covariances of a mixture, from ``None`` (identities), one variance,
    ``K`` variances, or ``K`` matrices.

    Examples
    --------
    >>> mixture_covariances([1.0, 4.0], 2, 1)
    tensor([[[1.]],
    <BLANKLINE>
            [[4.]]])
    >>> mixture_covariances([1.0, 0.0], 2, 1)
    Traceback (most recent call last):
    ...
    ValueError: isotropic covs must be 2 positive variances; got [1.0, 0.0].
    """
    eye = torch.eye(dim)
    if covs is None:
        return eye.repeat(n_components, 1, 1)
    covs = as_float_tensor(covs, "covs")
    if covs.ndim == 0:
        covs = covs.repeat(n_components)
    if covs.ndim == 1:
        if covs.shape != (n_components,) or (covs <= 0).any():
            raise ValueError(
                f"isotropic covs must be {n_components} positive variances; got {covs.tolist()}."
            )
        return covs[:, None, None] * eye
    if covs.shape != (n_components, dim, dim):
        raise ValueError(
            f"covs must have shape ({n_components}, {dim}, {dim}); got {tuple(covs.shape)}."
        )
    return require_covariances(covs, "covs")


def mixture_weights(weights: object, n_components: int) -> torch.Tensor:
    """The ``K`` weights of a mixture, normalized to sum to one (``None``: uniform).

    Examples
    --------
    >>> mixture_weights([1, 3], 2)
    tensor([0.2500, 0.7500])
    """
    if weights is None:
        return torch.full((n_components,), 1.0 / n_components)
    weights = as_float_tensor(weights, "weights")
    if weights.shape != (n_components,) or (weights <= 0).any():
        raise ValueError(
            f"weights must be {n_components} positive numbers, one per component; "
            f"got {weights.tolist()}."
        )
    return weights / weights.sum()
