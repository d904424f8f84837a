r"""Chapter 2: the score of a Gaussian, one Langevin step, and MALA's acceptance ratio."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._framework import CheckFailed, _as_tensor, checker, diagnose

__all__ = ["check_gaussian_score", "check_langevin_step", "check_mala_log_acceptance"]


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
def check_langevin_step(langevin_step: Callable[..., torch.Tensor]) -> str:
    r"""Check ``langevin_step(x, score, step_size, noise)`` $= x + \frac{\epsilon}{2} s(x) + \sqrt{\epsilon}\,z$.

    The noise $z$ is passed in, so the check is exact, not statistical.

    Examples
    --------
    >>> check_langevin_step(lambda x, s, eps, z: x + eps / 2 * s(x) + eps**0.5 * z)
    ✅ Correct! ...
    True
    >>> check_langevin_step(lambda x, s, eps, z: x + eps * s(x) + (2 * eps) ** 0.5 * z)
    ❌ Not yet: that is the other convention...book uses eps/2 and sqrt(eps).
    False
    """
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 2, generator=g)
    noise = torch.randn(5, 2, generator=g)

    def score(points: torch.Tensor) -> torch.Tensor:
        return -2.0 * points + 1.0

    step = 0.09
    result = _as_tensor(langevin_step(x.clone(), score, step, noise.clone()), "langevin_step")
    if result.shape != x.shape:
        raise CheckFailed(
            f"return the new points, shape {tuple(x.shape)}; got {tuple(result.shape)}."
        )

    def update(drift: float, noise_scale: float) -> torch.Tensor:
        return x + drift * score(x) + noise_scale * noise

    mistakes = [
        (update(step, (2 * step) ** 0.5), "that is the other convention, x + eps s + sqrt(2 eps) z; the book uses eps/2 and sqrt(eps)."),
        (update(step, step**0.5), "the drift is (eps/2) s(x), half the step size."),
        (update(step / 2, step), "the noise is scaled by sqrt(eps), not eps."),
        (update(step / 2, 0.0), "you forgot the noise: without it this is gradient ascent, which collapses onto the modes."),
        (update(-step / 2, step**0.5), "move *along* the score (uphill in log p): + (eps/2) s(x)."),
    ]  # fmt: skip
    diagnose(
        result,
        mistakes,
        expected=update(step / 2, step**0.5),
        otherwise="compare with x + (eps/2) * score(x) + sqrt(eps) * noise.",
        atol=1e-6,
    )
    return "x + (eps/2) s(x) + sqrt(eps) z, the book's convention (Song & Ermon 2019)."


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
