r"""Chapter 2: the score of a Gaussian, one Langevin step, a whole Langevin sampler, how
fast its chains spread, a chain that runs away, and MALA's acceptance ratio.

The sampler's grader, being statistical, lives in `ch02_sampler`; it is re-exported here,
so that the chapter imports all of its graders from this module.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch

from ._framework import CheckFailed, _as_tensor, checker, compare_formula, multiple_choice
from .ch02_sampler import check_langevin_sampler

__all__ = [
    "check_gaussian_score",
    "check_langevin_sampler",
    "check_mala_log_acceptance",
    "check_runaway_chain",
    "check_variance_after",
]


@checker
def check_gaussian_score(gaussian_score: Callable[..., torch.Tensor]) -> str:
    r"""Check ``gaussian_score(x, mean, cov)`` $= -\Sigma^{-1}(x - \mu)$ for a batch ``x`` of shape ``(N, d)``.

    Examples
    --------
    >>> check_gaussian_score(lambda x, m, c: -(x - m) @ torch.linalg.inv(c))
    ✅ Correct! ...
    True
    >>> check_gaussian_score(lambda x, m, c: -(x - m) @ c)
    ❌ Not yet: ... inverse ...
    False
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 2, generator=g, dtype=torch.float64)
    cases = [
        (torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64)),
        (
            torch.tensor([1.0, -2.0], dtype=torch.float64),
            torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64),
        ),
    ]
    for mean, cov in cases:
        result = _as_tensor(gaussian_score(x.clone(), mean.clone(), cov.clone()), "gaussian_score")
        if result.shape != x.shape:
            raise CheckFailed(
                f"the score of a batch of shape {tuple(x.shape)} has the same shape (one gradient "
                f"per point); got {tuple(result.shape)}."
            )
        precision = torch.linalg.inv(cov)
        expected = -(x - mean) @ precision
        if torch.allclose(result.double(), expected, rtol=1e-5, atol=1e-6):
            continue
        if torch.allclose(result.double(), -expected, rtol=1e-5, atol=1e-6):
            hint = "the score points *towards* the mean: it is minus the energy gradient."
        elif torch.allclose(result.double(), -(x - mean) @ cov, rtol=1e-5, atol=1e-6):
            hint = "use the precision matrix, the inverse of the covariance."
        else:
            hint = "compare with s(x) = -Sigma^{-1} (x - mu)."
        raise CheckFailed(f"with mean {mean.tolist()} and cov {cov.tolist()}: {hint}")
    return "The Gaussian score -Sigma^{-1}(x - mu) points to the mean, stronger along narrow directions."


@checker
def check_mala_log_acceptance(mala_log_acceptance: Callable[..., torch.Tensor]) -> str:
    r"""Check ``mala_log_acceptance(x, y, energy, score, step_size)``: the log of MALA's ratio.

    $$
    \log \frac{p(y)\,q(x\mid y)}{p(x)\,q(y\mid x)}
    = E(x) - E(y) - \frac{\lVert x - y - \frac{\epsilon}{2}s(y)\rVert^2 - \lVert y - x - \frac{\epsilon}{2}s(x)\rVert^2}{2\epsilon},
    $$

    one value per chain (before taking the minimum with 0, which does not matter for
    the accept test $\log u < \log a(x, y)$).

    Examples
    --------
    >>> def reference(x, y, energy, score, eps):
    ...     log_q = lambda to, frm: -((to - frm - eps / 2 * score(frm)) ** 2).sum(1) / (2 * eps)
    ...     return energy(x) - energy(y) + log_q(x, y) - log_q(y, x)
    >>> check_mala_log_acceptance(reference)
    ✅ Correct! ...
    True
    >>> check_mala_log_acceptance(lambda x, y, energy, score, eps: energy(x) - energy(y))
    ❌ Not yet: ... proposal ...
    False
    """
    g = torch.Generator().manual_seed(2)
    x = torch.randn(7, 2, generator=g, dtype=torch.float64)
    y = x + 0.4 * torch.randn(7, 2, generator=g, dtype=torch.float64)

    def energy(points: torch.Tensor) -> torch.Tensor:
        return 0.5 * (points**2).sum(1) + 0.3 * points[:, 0] ** 4

    def score(points: torch.Tensor) -> torch.Tensor:
        return -points - torch.stack([1.2 * points[:, 0] ** 3, torch.zeros_like(points[:, 0])], 1)

    step = 0.3

    def log_q(to: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
        return -((to - origin - step / 2 * score(origin)) ** 2).sum(1) / (2 * step)

    result = _as_tensor(
        mala_log_acceptance(x.clone(), y.clone(), energy, score, step), "mala_log_acceptance"
    )
    if result.shape != (x.shape[0],):
        raise CheckFailed(
            f"return one log ratio per chain, shape ({x.shape[0]},); got {tuple(result.shape)}."
        )
    expected = energy(x) - energy(y) + log_q(x, y) - log_q(y, x)
    result = result.double()
    if torch.allclose(result, expected, atol=1e-6):
        return "with the proposal correction q(x|y)/q(y|x), MALA is exact for any step size."
    if torch.allclose(result, energy(x) - energy(y), atol=1e-6):
        hint = "that is only p(y)/p(x): add the proposal correction log q(x|y) - log q(y|x)."
    elif torch.allclose(result, energy(y) - energy(x) + log_q(x, y) - log_q(y, x), atol=1e-6):
        hint = "p(y)/p(x) = exp(E(x) - E(y)): the energy difference has the wrong sign."
    elif torch.allclose(result, energy(x) - energy(y) - log_q(x, y) + log_q(y, x), atol=1e-6):
        hint = "the proposal ratio is upside down: it is q(x|y) / q(y|x), the reverse move on top."
    else:
        hint = "compare with E(x) - E(y) + log q(x|y) - log q(y|x), q(a|b) = N(a; b + (eps/2) s(b), eps I)."
    raise CheckFailed(hint)


def _stationary(sigma: float, eps: float) -> float:
    return sigma**2 / (1 - eps / (4 * sigma**2))


def _factor(sigma: float, eps: float) -> float:
    return 1 - eps / (2 * sigma**2)  # what one step multiplies the offset from 0 by


def _variance_after(sigma: float, eps: float, t: int) -> float:
    return _stationary(sigma, eps) * (1 - _factor(sigma, eps) ** (2 * t))


def _points(n: int = 12) -> list[tuple[float, float, int]]:
    """(sigma, eps, t) with eps inside the stable range (0, 4 sigma^2), t from 1 to 40."""
    draw = random.Random(2)
    points = []
    for _ in range(n):
        sigma = round(draw.uniform(0.4, 2.5), 3)
        eps = round(draw.uniform(0.05, 3.5) * sigma**2, 3)
        points.append((sigma, eps, draw.randint(1, 40)))
    return points


@checker
def check_variance_after(variance_after: Callable[..., float]) -> str:
    r"""Check ``variance_after(sigma, step_size, t)``: $\operatorname{Var}[x_t]$ of ULA on
    $\mathcal{N}(0, \sigma^2)$ after $t$ steps, every chain started at one point.

    Compared with the right formula at twelve random points $(\sigma, \epsilon, t)$.

    Examples
    --------
    >>> def variance_after(sigma, eps, t):  # the sum of the t noise terms' variances
    ...     return sum(eps * (1 - eps / (2 * sigma**2)) ** (2 * k) for k in range(t))
    >>> check_variance_after(variance_after)
    ✅ Correct! ...
    True
    >>> check_variance_after(lambda sigma, eps, t: sigma**2 / (1 - eps / (4 * sigma**2)))
    ❌ Not yet: that is the stationary variance...
    False
    """

    def stationary_times(decay: Callable[[float, float, int], float]) -> Callable[..., float]:
        return lambda sigma, eps, t: _stationary(sigma, eps) * decay(sigma, eps, t)

    mistakes = [
        (
            lambda sigma, eps, t: _stationary(sigma, eps),
            "that is the stationary variance, reached only as t grows: the chains start at "
            "one point, Var[x_0] = 0, and spread step by step.",
        ),
        (
            stationary_times(lambda sigma, eps, t: 1 - _factor(sigma, eps) ** t),
            "close: the variance is multiplied by the square of the offset's factor at each "
            "step (Var[a x] = a^2 Var[x]); count the powers again.",
        ),
        (
            lambda sigma, eps, t: 2 * sigma**2 * (1 - _factor(sigma, eps) ** t),
            "the recursion multiplies the variance by the square of the factor "
            "1 - eps/(2 sigma^2), not by the factor itself (Var[a x] = a^2 Var[x]).",
        ),
        (
            lambda sigma, eps, t: sigma**2 * (1 - _factor(sigma, eps) ** (2 * t)),
            "your formula tends to sigma^2 for large t; ULA's chains tend to the biased "
            "stationary variance of Section 2.5. Sum the series exactly.",
        ),
        (
            lambda sigma, eps, t: t * eps,
            "t eps is the variance of the noise alone, a random walk; the drift pulls the "
            "chains back at every step and the variance levels off.",
        ),
        (
            stationary_times(lambda sigma, eps, t: 1 - _factor(sigma, eps) ** (2 * t + 2)),
            "one noise term too many: after t steps the chains have received t noise terms, "
            "at steps 1 to t.",
        ),
        (
            stationary_times(lambda sigma, eps, t: _factor(sigma, eps) ** (2 * t)),
            "your formula decays to 0; the chains start with variance 0 and spread.",
        ),
        (
            lambda sigma, eps, t: (
                sigma**2 / (1 - eps / (2 * sigma**2)) * (1 - (1 - eps / sigma**2) ** (2 * t))
            ),
            "that is the other convention, drift eps s(x) and noise sqrt(2 eps) z; the book "
            "uses (eps/2) s(x) and sqrt(eps) z.",
        ),
    ]
    compare_formula(variance_after, _variance_after, _points(), mistakes, name="variance_after")
    return (
        "Var[x_t] = sigma^2 (1 - r^(2t)) / (1 - eps/(4 sigma^2)), r = 1 - eps/(2 sigma^2): "
        "the gap to the stationary variance shrinks by r^2 per step, so for small steps "
        "it takes about sigma^2/eps steps to shrink by e: halve the step, double the steps."
    )


check_runaway_chain = multiple_choice(
    "check_runaway_chain",
    {
        "a": (
            False,
            "the noise adds a variance eps at each step, the same at every step; it cannot "
            "make anything grow by a constant factor. And the chains' mean, from which "
            "the noise averages out, alternates and grows just the same: the drift does it.",
        ),
        "b": (
            False,
            "the score is the target's exact one, which samples well with eps = 0.01 in "
            "Section 2.4. A wrong sign would push the chains steadily outwards, without "
            "changing side at every step.",
        ),
        "c": (
            False,
            "the update is linear in the offset from mu: every offset, large or small, is "
            "multiplied by the same matrix I - (eps/2) Lambda. Chains started at mu itself "
            "run away too, from their first noise kick.",
        ),
        "d": (
            True,
            "along the narrow axis (1, -1) the variance is 1 - 0.8 = 0.2, so each step "
            "multiplies the offset from mu by 1 - eps/(2 × 0.2) = -1.5: it changes side and "
            "grows by half. Stability needs eps < 4 × 0.2 = 0.8. The step must fit the "
            "narrowest direction of the target, the smallest eigenvalue of Sigma, not the "
            "variance of each coordinate.",
        ),
        "e": (
            False,
            "with a variance of 1, eps = 1 is well inside Section 2.5's limit 4 sigma^2 = "
            "4, and the bias there is a factor 1/(1 - 1/4) = 4/3, not a blow-up. Look at "
            "the direction along which the chains spread: its variance is not 1.",
        ),
    },
)
