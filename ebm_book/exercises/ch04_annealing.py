r"""Chapter 4: a geometric noise schedule, annealed step sizes, and a reverse-diffusion step."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._framework import CheckFailed, _as_tensor, checker, diagnose

__all__ = ["check_annealed_step_sizes", "check_geometric_sigmas", "check_reverse_diffusion_step"]


@checker
def check_geometric_sigmas(geometric_sigmas: Callable[..., torch.Tensor]) -> str:
    r"""Check ``geometric_sigmas(sigma_max, sigma_min, n_levels)``: a geometric sequence, largest first.

    Examples
    --------
    >>> check_geometric_sigmas(
    ...     lambda hi, lo, n: hi * (lo / hi) ** torch.linspace(0, 1, n)
    ... )
    ✅ Correct! ...
    True
    >>> check_geometric_sigmas(lambda hi, lo, n: torch.linspace(hi, lo, n))
    ❌ Not yet: ... constant ratio ...
    False
    """
    for high, low, n in [(10.0, 0.1, 5), (3.0, 0.01, 12)]:
        result = _as_tensor(geometric_sigmas(high, low, n), "geometric_sigmas")
        expected = high * (low / high) ** torch.linspace(0, 1, n, dtype=torch.float64)
        if result.shape != (n,):
            raise CheckFailed(f"return {n} levels, shape ({n},); got shape {tuple(result.shape)}.")
        result = result.double()
        if torch.allclose(result, expected, rtol=1e-4):
            continue
        if torch.allclose(result, expected.flip(0), rtol=1e-4):
            hint = "the largest noise level comes first: sigma_1 = sigma_max."
        elif torch.allclose(result, torch.linspace(high, low, n, dtype=torch.float64), rtol=1e-4):
            hint = "those are evenly spaced; consecutive levels need a constant ratio sigma_i / sigma_(i+1)."
        else:
            hint = f"expected {[round(v, 4) for v in expected.tolist()]}."
        raise CheckFailed(f"for sigma_max={high}, sigma_min={low}, n_levels={n}: {hint}")
    return "a constant ratio between levels: the same relative change at every scale."


@checker
def check_annealed_step_sizes(step_sizes: Callable[..., torch.Tensor]) -> str:
    r"""Check ``step_sizes(sigmas, eps)`` $= \epsilon\,\sigma_i^2/\sigma_L^2$.

    Examples
    --------
    >>> check_annealed_step_sizes(lambda s, eps: eps * s**2 / s[-1] ** 2)
    ✅ Correct! ...
    True
    >>> check_annealed_step_sizes(lambda s, eps: eps * s / s[-1])
    ❌ Not yet: ... squares ...
    False
    """
    sigmas = torch.tensor([5.0, 1.0, 0.2, 0.04], dtype=torch.float64)
    eps = 2e-3
    result = _as_tensor(step_sizes(sigmas.clone(), eps), "step_sizes").double()
    expected = eps * sigmas**2 / sigmas[-1] ** 2
    if result.shape != sigmas.shape:
        raise CheckFailed(f"return one step size per level, shape (4,); got {tuple(result.shape)}.")
    if torch.allclose(result, expected, rtol=1e-6):
        return "eps_i = eps sigma_i^2 / sigma_L^2: the step is eps at the last level."
    if torch.allclose(result, eps * sigmas / sigmas[-1], rtol=1e-6):
        hint = "use the squares of the noise levels: eps_i = eps sigma_i^2 / sigma_L^2."
    elif torch.allclose(result, eps * sigmas**2 / sigmas[0] ** 2, rtol=1e-6):
        hint = "divide by the *smallest* level, sigma_L (the last one), so the last step is eps."
    else:
        hint = f"expected {[float(f'{v:.4g}') for v in expected.tolist()]}."
    raise CheckFailed(hint)


@checker
def check_reverse_diffusion_step(reverse_step: Callable[..., torch.Tensor]) -> str:
    r"""Check one reverse-diffusion step of the VE SDE, with the noise passed in.

    $x \leftarrow x + (\sigma_i^2 - \sigma_{i+1}^2)\,s(x, \sigma_i) + \sqrt{\sigma_i^2 - \sigma_{i+1}^2}\,z$.

    Examples
    --------
    >>> def step(x, score, s_now, s_next, z):
    ...     v = s_now**2 - s_next**2
    ...     return x + v * score(x, s_now) + v**0.5 * z
    >>> check_reverse_diffusion_step(step)
    ✅ Correct! ...
    True
    """
    g = torch.Generator().manual_seed(4)
    x = torch.randn(6, 2, generator=g, dtype=torch.float64)
    z = torch.randn(6, 2, generator=g, dtype=torch.float64)

    def score(points: torch.Tensor, sigma: float) -> torch.Tensor:
        return -points / (1 + sigma**2)

    s_now, s_next = 2.0, 1.5
    result = _as_tensor(reverse_step(x.clone(), score, s_now, s_next, z.clone()), "reverse_step")
    if result.shape != x.shape:
        raise CheckFailed(
            f"return the new points, shape {tuple(x.shape)}; got {tuple(result.shape)}."
        )
    variance = s_now**2 - s_next**2
    expected = x + variance * score(x, s_now) + variance**0.5 * z
    result = result.double()
    mistakes = [
        (x + variance / 2 * score(x, s_now) + variance**0.5 * z, "the reverse SDE's drift is the full (sigma_i^2 - sigma_(i+1)^2) s, not half of it (that is Langevin's factor)."),
        (x + (s_now - s_next) * score(x, s_now) + (s_now - s_next) ** 0.5 * z, "use the difference of the *squared* levels, sigma_i^2 - sigma_(i+1)^2."),
        (x + variance * score(x, s_now), "you forgot the noise term sqrt(sigma_i^2 - sigma_(i+1)^2) z (without it, see the probability-flow ODE)."),
    ]  # fmt: skip
    diagnose(
        result,
        mistakes,
        otherwise="compare with x + (s_i^2 - s_(i+1)^2) score(x, s_i) + sqrt(s_i^2 - s_(i+1)^2) z.",
        expected=expected,
        atol=1e-6,
    )
    return "the drift and the noise both use the variance removed between the two levels."
