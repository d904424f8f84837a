r"""Chapter 4: when two modes merge, a geometric noise schedule, annealed step sizes, a run
that went wrong, and a reverse-diffusion step.

The statistical graders live in `ch04_sampler` (annealed Langevin dynamics) and
`ch04_training` (the multi-noise loss, and samples of a trained NCSN); they are
re-exported here, so that the chapter imports all of its graders from this module.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import torch

from ._framework import CheckFailed, _as_tensor, checker, compare_formula, diagnose, multiple_choice
from .ch04_sampler import check_annealed_langevin
from .ch04_training import check_multi_noise_loss, check_ncsn_samples

__all__ = [
    "check_annealed_langevin",
    "check_geometric_sigmas",
    "check_merging_sigma",
    "check_multi_noise_loss",
    "check_ncsn_samples",
    "check_reverse_diffusion_step",
    "check_stuck_weights",
]


def _merging_points(n: int = 10) -> list[tuple[float, float]]:
    """(half_distance, mode_std) with the modes narrower than half their distance."""
    draw = random.Random(4)
    points = []
    for _ in range(n):
        half_distance = draw.uniform(0.5, 10.0)
        points.append((half_distance, draw.uniform(0.05, 0.95) * half_distance))
    return points


@checker
def check_merging_sigma(merging_sigma: Callable[..., float]) -> str:
    r"""Check ``merging_sigma(half_distance, mode_std)``: the smallest $\sigma$ at which two
    equal-weight Gaussian modes, blurred by $\mathcal{N}(0, \sigma^2 I)$, have a single mode.

    Compared with the right formula at ten random points.

    Examples
    --------
    >>> check_merging_sigma(lambda h, s: (h**2 - s**2) ** 0.5)
    ✅ Correct! ...
    True
    >>> check_merging_sigma(lambda h, s: (h**2 + s**2) ** 0.5)
    ❌ Not yet: ... subtract...
    False
    """
    mistakes = [
        (
            lambda h, s: math.sqrt(h**2 + s**2),
            "the blurred modes have the variance s^2 + sigma^2, and they merge when it "
            "reaches the square of the half-distance: subtract the modes' own variance.",
        ),
        (
            lambda h, s: h - s,
            "standard deviations do not add, variances do: a mode of variance s^2 blurred "
            "by noise of variance sigma^2 has the variance s^2 + sigma^2.",
        ),
        (
            lambda h, s: h,
            "that leaves out the modes' own width: they have the variance s^2 before any "
            "noise is added, so less noise is needed.",
        ),
        (
            lambda h, s: math.sqrt(4 * h**2 - s**2),
            "half_distance is half the distance between the centres: the condition compares "
            "the blurred variance with the square of the *half*-distance.",
        ),
        (lambda h, s: h**2 - s**2, "that is sigma^2, the variance to add; return sigma."),
        (
            lambda h, s: math.sqrt((h**2 - s**2) / 2),
            "along the line through the centres only one coordinate matters: the noise "
            "adds sigma^2 to the variance along it, not 2 sigma^2.",
        ),
    ]
    compare_formula(
        merging_sigma,
        lambda h, s: math.sqrt(h**2 - s**2),
        _merging_points(),
        mistakes,
        name="merging_sigma",
    )
    return (
        "sigma = sqrt(half_distance^2 - mode_std^2): the blurred modes merge when their "
        "standard deviation sqrt(mode_std^2 + sigma^2) reaches half the distance between "
        "them. Below it, the density has a valley between the modes."
    )


check_stuck_weights = multiple_choice(
    "check_stuck_weights",
    {
        "a": (
            False,
            "more steps help where chains can still move between the modes: they shrink the "
            "bias of Section 4.4. Here no level lets them: at "
            "sigma = 2 the blurred modes are far apart, with a deep valley between them "
            "(Exercise 4.1), and crossing it takes a time that grows exponentially with "
            "its depth (Chapter 2). Ten times more steps would barely move the weights.",
        ),
        "b": (
            False,
            "the steps are the book's, eps_i = eps sigma_i^2 / sigma_L^2 with eps from "
            "technique 4: at every level they reach that level's variance within each mode. "
            "What no step size can do is carry chains across a valley that the noise has "
            "not filled.",
        ),
        "c": (
            True,
            "two modes at this distance merge only near sigma = 7 (Exercise 4.1: half their "
            "distance is 5 sqrt(2) = 7.07, their standard deviation 1), or near sigma = 5 "
            "with the weights 0.2 and 0.8, so at sigma_1 = 2 the blurred modes are already "
            "separate. No level lets chains cross between them, and the weights stay near "
            "the even split of the uniform start. Technique 1 puts sigma_1 near the largest "
            "distance in the data, 21 here.",
        ),
        "d": (
            False,
            "the scores of p_sigma do see the weights, where the blurred modes overlap: "
            "Failure 3 measured that at sigma = 8 they differ from those of the equal-weight "
            "mixture by a sizeable fraction of their size. At sigma = 2 and below they "
            "barely differ; this schedule never reaches the levels where they do.",
        ),
    },
)


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
