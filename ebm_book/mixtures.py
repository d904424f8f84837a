r"""Gaussian mixtures: the book's ground truth, with exact scores, samples and noisy versions.

$$
p(x) = \sum_{k=1}^{K} \pi_k\, \mathcal{N}(x; \mu_k, \Sigma_k) .
$$

Everything about a mixture is exact: its log density, its score, its samples, and the
distribution of noisy data $x + \sigma z$ (another mixture: `GaussianMixture.perturbed`),
so its noise-conditional score too (`GaussianMixture.noisy_score`). The mixtures the
book uses are made in `ebm_book.examples`.

Sampling is written out rather than taken from ``torch.distributions``, whose samplers
take no ``generator``: every random draw of the book comes from an explicit one. The
log densities and the score share one computation of $\Sigma_k^{-1}(x - \mu_k)$, which
keeps the samplers that call the score thousands of times fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._validation import (
    as_float_tensor,
    mixture_covariances,
    mixture_weights,
    require_generator,
    require_int,
    require_noise_levels,
    require_non_negative,
    require_points,
    require_positive,
)
from .energies import Energy, symmetric_inverse

__all__ = ["GaussianMixture"]


class GaussianMixture(Energy):
    r"""Mixture of Gaussians $p(x) = \sum_k \pi_k\, \mathcal{N}(x; \mu_k, \Sigma_k)$.

    The energy is the negative log density, $E(x) = -\log p(x)$, so $Z_1 = 1$. Everything
    about a mixture is exact: log density, score, samples, and the distribution of
    noisy data $x + \sigma z$ with $z \sim \mathcal{N}(0, I)$ (see `perturbed`).
    That makes it the book's ground truth for every learned score.

    The score is a responsibility-weighted average of the component scores,

    $$
    \nabla_x \log p(x) = \sum_k r_k(x)\, \Sigma_k^{-1}(\mu_k - x),
    \qquad r_k(x) = \frac{\pi_k \mathcal{N}(x;\mu_k,\Sigma_k)}{p(x)} .
    $$

    Parameters
    ----------
    means
        $\mu_k$, shape ``(K, d)``.
    covs
        $\Sigma_k$: shape ``(K, d, d)``; or a float, or ``(K,)`` floats, for isotropic
        variances $\sigma_k^2 I$. Defaults to identity matrices.
    weights
        $\pi_k$, shape ``(K,)``, positive; normalized to sum to one. Defaults to uniform.

    Examples
    --------
    >>> gm = GaussianMixture(means=[[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8])
    >>> x = torch.tensor([[5.0, 5.0]])
    >>> round(gm.log_prob(x).item(), 4)  # log(0.8 / (2 pi))
    -2.0609
    >>> gm.score(x)  # at the centre of the heavy mode the score vanishes
    tensor([[0., 0.]])
    >>> gm.perturbed(1.0).covs[0]  # covariance I + sigma^2 I
    tensor([[2., 0.],
            [0., 2.]])
    """

    def __init__(
        self,
        means: Sequence[Sequence[float]] | torch.Tensor,
        covs: object = None,
        weights: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        self.means = as_float_tensor(means, "means")
        if self.means.ndim != 2 or self.means.numel() == 0:
            raise ValueError(
                f"means must have shape (K, d): K component means in d dimensions; "
                f"got shape {tuple(self.means.shape)}."
            )
        n_components, self.dim = self.means.shape
        self.covs = mixture_covariances(covs, n_components, self.dim)
        self.weights = mixture_weights(weights, n_components)
        self.precisions = symmetric_inverse(self.covs)
        self._cholesky = torch.linalg.cholesky(self.covs)
        self._log_norms = -0.5 * (
            self.dim * math.log(2 * math.pi) + torch.logdet(self.covs)
        )  # log of each component's normalizing constant

    @property
    def n_components(self) -> int:
        """Number of components $K$."""
        return self.means.shape[0]

    def component_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        r"""$\log \pi_k + \log \mathcal{N}(x; \mu_k, \Sigma_k)$ for each point and component, ``(N, K)``."""
        require_points(x, self.dim)
        return self._log_probs_and_drift(x)[0]

    def _log_probs_and_drift(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Component log-probabilities ``(N, K)`` and component scores $P_k(\mu_k - x)$ ``(N, K, d)``.

        Both need $P_k (x - \mu_k)$; computing it once keeps sampling with the score fast.
        """
        diff = x[:, None, :] - self.means.to(x)  # (N, K, d)
        precision_diff = torch.einsum("nkj,kji->nki", diff, self.precisions.to(x))
        mahalanobis = (diff * precision_diff).sum(dim=2)
        log_probs = torch.log(self.weights.to(x)) + self._log_norms.to(x) - 0.5 * mahalanobis
        return log_probs, -precision_diff

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        r"""Posterior component probabilities $r_k(x)$, shape ``(N, K)``; rows sum to one."""
        return torch.softmax(self.component_log_probs(x), dim=1)

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the most responsible component of each point, shape ``(N,)``."""
        return self.component_log_probs(x).argmax(dim=1)

    def _energy(self, x: torch.Tensor) -> torch.Tensor:
        return -torch.logsumexp(self.component_log_probs(x), dim=1)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        log_probs, component_scores = self._log_probs_and_drift(x)
        responsibilities = torch.softmax(log_probs, dim=1)
        return (responsibilities[:, :, None] * component_scores).sum(dim=1)

    def log_partition(self, temperature: float = 1.0) -> float:
        temperature = require_positive(temperature, "temperature")
        if temperature != 1.0:
            raise NotImplementedError(
                "exp(-E/T) of a mixture with T != 1 is not a mixture: its partition function "
                "has no closed form. Estimate it with ebm_book.partition."
            )
        return 0.0

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` exact samples, shape ``(n, d)``: pick a component, then sample it."""
        require_int(n, "n")
        generator = require_generator(generator, "cpu")
        components = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator)
        return self.means[components] + torch.einsum("nij,nj->ni", self._cholesky[components], z)

    def perturbed(self, sigma: float) -> GaussianMixture:
        r"""The exact distribution of $\tilde x = x + \sigma z$, $x \sim p$, $z \sim \mathcal{N}(0, I)$.

        Convolving each component with $\mathcal{N}(0, \sigma^2 I)$ adds $\sigma^2 I$ to its
        covariance, so the noisy data is again a mixture, with the same means and weights.
        """
        sigma = require_non_negative(sigma, "sigma")
        if sigma == 0.0:
            return self
        return GaussianMixture(self.means, self.covs + sigma**2 * torch.eye(self.dim), self.weights)

    def noisy_score(self, x: torch.Tensor, sigma: object) -> torch.Tensor:
        r"""The exact noise-conditional score $\nabla_x \log p_\sigma(x)$ of this mixture.

        $p_\sigma = p * \mathcal{N}(0, \sigma^2 I)$ is the mixture whose covariances are
        $\Sigma_k + \sigma^2 I$ (see `perturbed`). This is the oracle that a noise-conditional
        score network $s_\theta(x, \sigma)$ tries to learn, with the same call signature:
        ``sigma`` is one level for all points or one level per point, shape ``(N,)``.

        Examples
        --------
        >>> mixture = GaussianMixture([[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8])
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
        >>> torch.allclose(mixture.noisy_score(x, torch.tensor([2.0, 2.0])),
        ...                mixture.perturbed(2.0).score(x))
        True
        """
        x = require_points(x, dim=self.dim)
        levels = require_noise_levels(sigma, x, allow_zero=True, dtype=torch.float64)
        score = torch.empty_like(x)
        for level in levels.unique().tolist():  # samplers use one level per batch: one pass
            rows = levels == level
            score[rows.to(x.device)] = self._noisy(level).score(x[rows.to(x.device)])
        return score

    def _noisy(self, sigma: float) -> GaussianMixture:
        """`perturbed`, remembered: a sampler asks for the same few levels thousands of times."""
        cache = self.__dict__.setdefault("_noisy_cache", {})
        if sigma not in cache:
            cache[sigma] = self.perturbed(sigma)
        return cache[sigma]

    def __repr__(self) -> str:
        return f"GaussianMixture(n_components={self.n_components}, dim={self.dim})"
