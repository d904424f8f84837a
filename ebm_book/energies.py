r"""Energy functions and their Boltzmann distributions.

An energy $E:\mathbb{R}^d \to \mathbb{R}$ defines, at temperature $T > 0$, the
Boltzmann (or Gibbs) density

$$
p_T(x) = \frac{e^{-E(x)/T}}{Z_T}, \qquad Z_T = \int_{\mathbb{R}^d} e^{-E(x)/T}\,\mathrm{d}x .
$$

Low energy means high probability. Every class here shares one interface
(`Energy`): ``energy(x)`` for a batch ``x`` of shape ``(N, d)`` returns
shape ``(N,)``; ``score(x)`` returns $\nabla_x \log p_T(x)$ with shape ``(N, d)``;
``log_partition(T)`` returns $\log Z_T$ where it is known in closed form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import torch

from ._validation import (
    as_float_tensor,
    require_covariances,
    require_generator,
    require_int,
    require_points,
    require_positive,
    require_real,
)
from .score import score_from_energy

__all__ = [
    "Banana",
    "DoubleWell",
    "Energy",
    "Gaussian",
    "Ring",
]


class Energy:
    r"""Base class of an energy $E(x)$ and its Boltzmann density $p_T \propto e^{-E/T}$.

    Subclasses implement ``_energy`` (and, where it is known, ``_score`` and
    ``log_partition``); the public methods validate their input first.

    Examples
    --------
    >>> class Quadratic(Energy):
    ...     dim = 1
    ...     def _energy(self, x):
    ...         return 0.5 * x[:, 0] ** 2
    >>> Quadratic().energy(torch.tensor([[2.0]]))
    tensor([2.])
    >>> Quadratic().score(torch.tensor([[2.0]]))  # by autograd: -dE/dx
    tensor([[-2.]])
    """

    dim: int

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        r"""Energy $E(x)$ of each point. ``x``: ``(N, d)``; returns ``(N,)``."""
        return self._energy(require_points(x, self.dim))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy(x)

    def unnormalized_log_prob(self, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        r"""$\log \tilde p_T(x) = -E(x)/T$: the log density up to the constant $-\log Z_T$."""
        return -self.energy(x) / require_positive(temperature, "temperature")

    def log_partition(self, temperature: float = 1.0) -> float:
        r"""$\log Z_T$ in closed form. Raises ``NotImplementedError`` where none is known."""
        raise NotImplementedError(
            f"{type(self).__name__} has no closed-form partition function; "
            "estimate it with ebm_book.partition (quadrature in 1-2 D, sampling beyond)."
        )

    def log_prob(self, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        r"""Normalized log density $\log p_T(x) = -E(x)/T - \log Z_T$, shape ``(N,)``."""
        return self.unnormalized_log_prob(x, temperature) - self.log_partition(temperature)

    def score(self, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        r"""Score $\nabla_x \log p_T(x) = -\nabla_x E(x) / T$, shape ``(N, d)``."""
        require_points(x, self.dim)
        if isinstance(temperature, torch.Tensor) and temperature.numel() > 1:
            raise ValueError(
                f"temperature must be one number; got a tensor of shape {tuple(temperature.shape)}. "
                "Called as a noise-conditional score s(x, sigma)? Use GaussianMixture.noisy_score."
            )
        temperature = require_positive(temperature, "temperature")
        return self._score(x) / temperature

    def _energy(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        # Subclasses with an analytic gradient override this; autograd is the fallback.
        return score_from_energy(self._energy, x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"


def symmetric_inverse(matrices: torch.Tensor) -> torch.Tensor:
    r"""Inverse of symmetric matrices, made exactly symmetric.

    Rounding makes ``inv(A)`` slightly asymmetric; the analytic score uses $P(x - \mu)$
    while autograd differentiates $\tfrac12 x^\top P x$ into $\tfrac12(P + P^\top)x$,
    so an asymmetric $P$ would make the two disagree.
    """
    inverse = torch.linalg.inv(matrices.double())
    return (0.5 * (inverse + inverse.transpose(-1, -2))).to(matrices.dtype)


class Gaussian(Energy):
    r"""Gaussian energy $E(x) = \tfrac12 (x-\mu)^\top \Sigma^{-1} (x-\mu)$.

    Its Boltzmann density at temperature $T$ is $\mathcal{N}(\mu, T\Sigma)$ with the
    closed-form partition function

    $$
    Z_T = (2\pi T)^{d/2} \, \lvert \Sigma \rvert^{1/2}.
    $$

    The energy has no normalizing constant in it, so $Z_1 \neq 1$ in general: this is the
    book's reference case for estimators of $Z$.

    Parameters
    ----------
    mean
        $\mu$, shape ``(d,)``.
    cov
        $\Sigma$: a ``(d, d)`` positive-definite matrix, or a positive float for
        $\sigma^2 I$. Defaults to the identity.

    Examples
    --------
    >>> g = Gaussian(mean=[0.0, 0.0])
    >>> g.energy(torch.tensor([[1.0, 1.0]]))
    tensor([1.])
    >>> round(math.exp(g.log_partition()), 4)  # 2 pi
    6.2832
    >>> g.score(torch.tensor([[1.0, -1.0]]))
    tensor([[-1.,  1.]])
    """

    def __init__(self, mean: Sequence[float] | torch.Tensor, cov: object = None) -> None:
        self.mean = as_float_tensor(mean, "mean")
        if self.mean.ndim != 1 or self.mean.numel() == 0:
            raise ValueError(f"mean must have shape (d,); got shape {tuple(self.mean.shape)}.")
        self.dim = self.mean.numel()
        if cov is None:
            cov = torch.eye(self.dim)
        elif isinstance(cov, (int, float)):
            cov = require_positive(cov, "cov") * torch.eye(self.dim)
        cov = as_float_tensor(cov, "cov")
        if cov.shape != (self.dim, self.dim):
            raise ValueError(
                f"cov must have shape ({self.dim}, {self.dim}) to match mean; "
                f"got {tuple(cov.shape)}."
            )
        self.cov = require_covariances(cov)
        self.precision = symmetric_inverse(self.cov)
        self._cholesky = torch.linalg.cholesky(self.cov)

    def _energy(self, x: torch.Tensor) -> torch.Tensor:
        diff = x - self.mean.to(x)
        return 0.5 * torch.einsum("ni,ij,nj->n", diff, self.precision.to(x), diff)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        return -(x - self.mean.to(x)) @ self.precision.to(x)

    def log_partition(self, temperature: float = 1.0) -> float:
        temperature = require_positive(temperature, "temperature")
        logdet = torch.logdet(self.cov.double()).item()
        return 0.5 * self.dim * math.log(2 * math.pi * temperature) + 0.5 * logdet

    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        r"""Draw ``n`` exact samples from $\mathcal{N}(\mu, T\Sigma)$, shape ``(n, d)``."""
        require_int(n, "n")
        temperature = require_positive(temperature, "temperature")
        z = torch.randn(n, self.dim, generator=require_generator(generator, "cpu"))
        return self.mean + math.sqrt(temperature) * z @ self._cholesky.T

    def __repr__(self) -> str:
        return f"Gaussian(dim={self.dim})"


class DoubleWell(Energy):
    r"""Double-well energy: two valleys at $x_1 = \pm a$ separated by a barrier of height $h$.

    $$
    E(x) = h\left(\frac{x_1^2}{a^2} - 1\right)^2 + c\,x_1 + \tfrac12 \sum_{i=2}^{d} x_i^2 .
    $$

    The tilt $c$ makes one well deeper than the other. The remaining coordinates are a
    plain Gaussian. There is no closed-form partition function.

    Parameters
    ----------
    barrier
        Barrier height $h > 0$ (at $c = 0$, the energy at $x_1 = 0$ above the minima).
    separation
        $a > 0$: the minima sit near $x_1 = \pm a$.
    tilt
        $c$; a positive tilt favours the left well.
    dim
        $d \geq 1$.

    Examples
    --------
    >>> well = DoubleWell(barrier=2.0)
    >>> well.energy(torch.tensor([[-1.0], [0.0], [1.0]]))
    tensor([0., 2., 0.])
    """

    def __init__(
        self, barrier: float = 1.0, separation: float = 1.0, tilt: float = 0.0, dim: int = 1
    ) -> None:
        self.barrier = require_positive(barrier, "barrier")
        self.separation = require_positive(separation, "separation")
        self.tilt = require_real(tilt, "tilt")
        self.dim = require_int(dim, "dim")

    def _energy(self, x: torch.Tensor) -> torch.Tensor:
        x1 = x[:, 0]
        well = self.barrier * ((x1 / self.separation) ** 2 - 1) ** 2 + self.tilt * x1
        return well + 0.5 * (x[:, 1:] ** 2).sum(dim=1)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        x1 = x[:, 0]
        a2 = self.separation**2
        d_well = 4 * self.barrier * (x1**2 / a2 - 1) * x1 / a2 + self.tilt
        return -torch.cat([d_well[:, None], x[:, 1:]], dim=1)

    def __repr__(self) -> str:
        return (
            f"DoubleWell(barrier={self.barrier}, separation={self.separation}, "
            f"tilt={self.tilt}, dim={self.dim})"
        )


class Ring(Energy):
    r"""Ring energy in 2-D: a circular valley of radius $R$ and width $\omega$.

    $$
    E(x) = \frac{(\lVert x \rVert - R)^2}{2 \omega^2}.
    $$

    In polar coordinates the partition function is a 1-D integral with a closed form,

    $$
    Z_T = 2\pi\left[ \omega_T^2\, e^{-R^2/(2 \omega_T^2)} + \sqrt{2\pi}\, R\, \omega_T\, \Phi(R / \omega_T) \right],
    \qquad \omega_T = \omega\sqrt{T},
    $$

    where $\Phi$ is the standard normal CDF.

    Examples
    --------
    >>> ring = Ring(radius=2.0, width=0.5)
    >>> ring.energy(torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    tensor([0., 2.])
    """

    dim = 2

    def __init__(self, radius: float = 2.0, width: float = 0.3) -> None:
        self.radius = require_positive(radius, "radius")
        self.width = require_positive(width, "width")

    def _energy(self, x: torch.Tensor) -> torch.Tensor:
        return (x.norm(dim=1) - self.radius) ** 2 / (2 * self.width**2)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        radius = x.norm(dim=1, keepdim=True)
        # -dE/dx = -(|x| - R)/omega^2 * x/|x|; the direction x/|x| is undefined at 0, where we use 0.
        direction = x / radius.clamp(min=torch.finfo(x.dtype).tiny)
        return -(radius - self.radius) / self.width**2 * direction

    def log_partition(self, temperature: float = 1.0) -> float:
        w = self.width * math.sqrt(require_positive(temperature, "temperature"))
        r = self.radius
        normal_cdf = NormalDist().cdf(r / w)  # Phi
        radial = w**2 * math.exp(-(r**2) / (2 * w**2)) + math.sqrt(2 * math.pi) * r * w * normal_cdf
        return math.log(2 * math.pi * radial)

    def __repr__(self) -> str:
        return f"Ring(radius={self.radius}, width={self.width})"


class Banana(Energy):
    r"""Banana-shaped energy in 2-D: a Gaussian bent along a parabola.

    $$
    E(x) = \frac{x_1^2}{2 \ell^2} + \frac{\bigl(x_2 - \kappa\,(x_1^2 - \ell^2)\bigr)^2}{2}.
    $$

    The map $(x_1, x_2) \mapsto (x_1,\, x_2 - \kappa(x_1^2 - \ell^2))$ has unit Jacobian and
    turns this into a Gaussian with standard deviations $\ell$ and $1$, so
    $Z_T = 2\pi \ell T$ exactly, and exact samples come from bending Gaussian samples.

    Parameters
    ----------
    curvature
        $\kappa$: how strongly the banana bends.
    scale
        $\ell > 0$: the spread along $x_1$.

    Examples
    --------
    >>> banana = Banana(curvature=0.5, scale=2.0)
    >>> banana.energy(torch.tensor([[0.0, -2.0]]))  # the bottom of the valley at x1 = 0
    tensor([0.])
    >>> round(math.exp(banana.log_partition()), 4)  # 2 pi ell
    12.5664
    """

    dim = 2

    def __init__(self, curvature: float = 0.5, scale: float = 2.0) -> None:
        self.curvature = require_real(curvature, "curvature")
        self.scale = require_positive(scale, "scale")

    def _bend(self, x1: torch.Tensor) -> torch.Tensor:
        return self.curvature * (x1**2 - self.scale**2)

    def _energy(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[:, 0], x[:, 1]
        return x1**2 / (2 * self.scale**2) + (x2 - self._bend(x1)) ** 2 / 2

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[:, 0], x[:, 1]
        residual = x2 - self._bend(x1)  # distance from the valley floor, along x2
        d_x1 = x1 / self.scale**2 - 2 * self.curvature * x1 * residual
        return -torch.stack([d_x1, residual], dim=1)

    def log_partition(self, temperature: float = 1.0) -> float:
        return math.log(2 * math.pi * self.scale * require_positive(temperature, "temperature"))

    def sample(
        self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Exact samples, shape ``(n, 2)``: bend samples of the underlying Gaussian."""
        require_int(n, "n")
        root_t = math.sqrt(require_positive(temperature, "temperature"))
        z = torch.randn(n, 2, generator=require_generator(generator, "cpu")) * root_t
        x1 = self.scale * z[:, 0]
        return torch.stack([x1, z[:, 1] + self._bend(x1)], dim=1)

    def __repr__(self) -> str:
        return f"Banana(curvature={self.curvature}, scale={self.scale})"
