r"""Chapter 1: energies, Boltzmann probabilities, the partition function of a Gaussian,
an importance-sampling estimate of Z and a diagnosis of one that went wrong.

The grader of the "build it" exercise, `check_three_well`, lives in ``ch01_landscapes``
and is re-exported here, so that the chapter imports all its graders from one module.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..energies import Gaussian
from ._framework import (
    CheckFailed,
    _real_tensor,
    checker,
    compare_formula,
    diagnose,
    multiple_choice,
)
from .ch01_landscapes import check_three_well

__all__ = [
    "check_boltzmann_probabilities",
    "check_error_bar_diagnosis",
    "check_gaussian_partition_function",
    "check_importance_sampling",
    "check_three_well",
]


@checker
def check_boltzmann_probabilities(boltzmann_probabilities: Callable[..., torch.Tensor]) -> str:
    r"""Check ``boltzmann_probabilities(energies, temperature)`` $= e^{-E_i/T} / \sum_j e^{-E_j/T}$.

    Includes energies around 1000, where the naive formula overflows to ``inf/inf = nan``.

    Examples
    --------
    >>> check_boltzmann_probabilities(lambda e, t: torch.softmax(-e / t, dim=0))
    ✅ Correct! ...
    True
    >>> naive = lambda e, t: torch.exp(-e / t) / torch.exp(-e / t).sum()
    >>> check_boltzmann_probabilities(naive)
    ❌ Not yet: ... log-sum-exp ...
    False
    """
    cases = [
        (torch.tensor([0.0, 1.0, 2.0]), 1.0),
        (torch.tensor([0.0, 1.0, 2.0]), 0.25),
        (torch.tensor([-3.0, 0.5, 0.5, 4.0]), 2.0),
        (torch.tensor([-1000.0, -999.0, -998.0]), 1.0),
        (torch.tensor([1000.0, 1001.0, 1002.0]), 0.5),
    ]
    for energies, temperature in cases:
        probs = _real_tensor(
            boltzmann_probabilities(energies.clone(), temperature), "boltzmann_probabilities"
        )
        expected = torch.softmax(-energies / temperature, dim=0)
        if not torch.isfinite(probs).all():
            raise CheckFailed(
                f"for energies {energies.tolist()} at T={temperature} you returned "
                f"{probs.tolist()}: exp(-E/T) over- or underflows. Subtract the smallest "
                "energy first (the log-sum-exp trick); the probabilities do not change."
            )
        if probs.shape != expected.shape:
            raise CheckFailed(f"expected shape {tuple(expected.shape)}; got {tuple(probs.shape)}.")
        mistakes = [
            (torch.softmax(energies / temperature, dim=0), "high energy got high probability: use exp(-E/T), with the minus sign."),
            (torch.softmax(-energies, dim=0), "the temperature has no effect in your function: divide E by T."),
        ]  # fmt: skip
        total = probs.sum().item()
        diagnose(
            probs,
            mistakes,
            expected=expected,
            context=f"for energies {energies.tolist()} at T={temperature} expected "
            f"{[round(p, 4) for p in expected.tolist()]}; got "
            f"{[round(p, 4) for p in probs.tolist()]}. ",
            otherwise=f"the probabilities sum to {total:.4f}: divide by Z = sum_j exp(-E_j/T)."
            if not math.isclose(total, 1.0, rel_tol=1e-4)
            else "compare with p_i = exp(-E_i/T) / sum_j exp(-E_j/T).",
            rtol=1e-4,
            atol=1e-6,
        )
    return "Normalized, temperature-aware, and stable even at energies around 1000."


@checker
def check_importance_sampling(estimate_z: Callable[..., float], seed: int = 1234) -> str:
    r"""Check ``estimate_z(energy, proposal, n, generator)``, an importance-sampling estimate of $Z$.

    The target is the 3-D energy $E(x) = \tfrac12 \lVert x - m \rVert^2$ with
    $Z = (2\pi)^{3/2}$; the proposal is a wider Gaussian. With $n = 20\,000$ samples the
    estimator's relative standard deviation is 0.52% (per axis, a proposal of variance
    $v = 1.8$ shifted by $\delta = 0.3$ gives $\mathbb{E}_q[w^2]/Z^2 =
    v\,e^{\delta^2/(2v-1)}/\sqrt{2v-1} = 1.155$; so $\sqrt{(1.155^3 - 1)/20\,000}$), so an
    answer within 5% is right and one outside it is wrong beyond reasonable doubt (about
    10 standard deviations). ``seed`` seeds the samples (the tests try several).

    Examples
    --------
    >>> def estimate_z(energy, proposal, n, generator):
    ...     x = proposal.sample(n, generator=generator)
    ...     return torch.exp(-energy(x) - proposal.log_prob(x)).mean().item()
    >>> check_importance_sampling(estimate_z)
    ✅ Correct! ...
    True
    """
    mean = torch.tensor([0.5, -0.5, 1.0])
    target = Gaussian(mean)
    proposal = Gaussian(mean + 0.3, cov=1.8)
    true_z = (2 * math.pi) ** 1.5
    generator = torch.Generator().manual_seed(seed)
    result = estimate_z(target, proposal, 20_000, generator)
    if isinstance(result, torch.Tensor):
        if result.numel() != 1:
            raise CheckFailed(
                f"return one number, Z-hat; got a tensor of shape {tuple(result.shape)}."
            )
        result = result.item()
    if not isinstance(result, (int, float)) or not math.isfinite(result):
        raise CheckFailed(f"return a finite float; got {result!r}.")
    if math.isclose(result, true_z, rel_tol=0.05):
        return f"Z-hat = {result:.3f} vs the exact (2 pi)^(3/2) = {true_z:.3f}."
    if math.isclose(result, math.log(true_z), rel_tol=0.05):
        hint = "that is log Z: return Z itself (exponentiate)."
    elif math.isclose(result, 1.0, rel_tol=0.05):
        hint = "weights exp(-E)/q should use the *unnormalized* target exp(-E), not a normalized density."
    else:
        hint = "the weight of a sample is exp(-E(x)) / q(x): divide by the proposal density."
    raise CheckFailed(f"your estimate {result:.4g} is far from Z = {true_z:.4f}; {hint}")


def _gaussian_z(sigma: float, temperature: float, d: int, c: float) -> float:
    return math.exp(-c / temperature) * (2 * math.pi * sigma**2 * temperature) ** (d / 2)


# The usual wrong widths (the factor from the integral over x) and wrong constants (the
# factor from c), each with its hint; the grader tries every combination.
_WIDTHS: list[tuple[Callable[[float, float, int], float], str]] = [
    (lambda s, t, d: (2 * math.pi * s**2 * t) ** (d / 2), ""),
    (
        lambda s, t, d: (2 * math.pi * s**2) ** (d / 2),
        "The temperature is missing: exp(-E/T) is, up to a factor, a Gaussian of variance sigma^2 T.",
    ),
    (
        lambda s, t, d: (2 * math.pi * s**2 / t) ** (d / 2),
        "T divides the energy, so it multiplies the variance: Z_T grows with T.",
    ),
    (
        lambda s, t, d: (2 * math.pi * s**2 * t) ** d,
        "Each coordinate contributes one Gaussian integral, sqrt(2 pi sigma^2 T): the power is d/2, not d.",
    ),
    (
        lambda s, t, d: (2 * math.pi * s**2 * t) ** 0.5,
        "That is one coordinate's integral; the d coordinates contribute one factor each.",
    ),
    (
        lambda s, t, d: (2 * math.pi * s**2 * t) ** (d // 2),
        "d // 2 rounds down when d is odd: write d / 2.",
    ),
    (lambda s, t, d: (2 * math.pi * s * t) ** (d / 2), "The variance is sigma^2, not sigma."),
    (
        lambda s, t, d: (s**2 * t) ** (d / 2),
        "The Gaussian integral of exp(-u^2/2) over the line is sqrt(2 pi), not 1.",
    ),
    (
        lambda s, t, d: (math.pi * s**2 * t) ** (d / 2),
        "The Gaussian integral of exp(-u^2/2) over the line is sqrt(2 pi), not sqrt(pi).",
    ),
    (
        lambda s, t, d: (2 * math.pi * s**2 * t) ** (-d / 2),
        "That is 1/Z_T, the factor that normalizes the density; Z_T is the integral itself.",
    ),
]
_CONSTANTS: list[tuple[Callable[[float, float], float], str]] = [
    (lambda c, t: math.exp(-c / t), ""),
    (lambda c, t: 1.0,
     "The constant c is missing: exp(-(E + c)/T) = exp(-c/T) exp(-E/T), and exp(-c/T) comes out of the integral."),
    (lambda c, t: math.exp(-c),
     "The constant is divided by T like the rest of the energy: exp(-c/T), not exp(-c)."),
    (lambda c, t: math.exp(c / t),
     "Mind the sign of the constant: a higher energy everywhere means a smaller Z_T: exp(-c/T)."),
    (lambda c, t: math.exp(-c * t),
     "Divide the constant by T, do not multiply: exp(-c/T)."),
]  # fmt: skip


def _combined(
    width: Callable[[float, float, int], float], constant: Callable[[float, float], float]
) -> Callable[[float, float, int, float], float]:
    return lambda s, t, d, c: width(s, t, d) * constant(c, t)


# Points spread over the arguments' ranges, with T != 1 and odd and even d, so that two
# different formulas agree at all of them only by accident.
_POINTS = [
    (0.7, 0.5, 1, 0.3),
    (1.3, 2.0, 2, -0.8),
    (0.45, 1.7, 3, 1.2),
    (2.1, 0.3, 4, -0.4),
    (1.0, 3.0, 5, 2.5),
    (0.3, 0.8, 7, -1.5),
]


@checker
def check_gaussian_partition_function(formula: Callable[..., float]) -> str:
    r"""Check ``formula(sigma, temperature, d, c)``: $Z_T$ of
    $E(x) = \lVert x-\mu\rVert^2/(2\sigma^2) + c$ on $\mathbb{R}^d$.

    The formula is evaluated at six points and compared with the right one; when it
    differs, every combination of a usual wrong width factor and a usual wrong constant
    factor is tried, and the matching one is named.

    Examples
    --------
    >>> check_gaussian_partition_function(
    ...     lambda sigma, t, d, c: math.exp(-c / t) * (2 * math.pi * sigma**2 * t) ** (d / 2)
    ... )
    ✅ Correct! ...
    True
    >>> check_gaussian_partition_function(
    ...     lambda sigma, t, d, c: math.exp(-c / t) * (2 * math.pi * sigma**2) ** (d / 2)
    ... )
    ❌ Not yet: The temperature is missing: ...
    False
    """
    mistakes = [
        (
            lambda s, t, d, c: d / 2 * math.log(2 * math.pi * s**2 * t) - c / t,
            "That is log Z_T; the question asks for Z_T itself.",
        )
    ]
    for w, (width, width_hint) in enumerate(_WIDTHS):
        for k, (constant, constant_hint) in enumerate(_CONSTANTS):
            if w or k:
                hint = " ".join(h for h in (width_hint, constant_hint) if h)
                mistakes.append((_combined(width, constant), hint))
    compare_formula(formula, _gaussian_z, _POINTS, mistakes, name="your Z_T", rtol=1e-5)
    return (
        "Z_T = exp(-c/T) (2 pi sigma^2 T)^(d/2). The mean does not appear (shifting x "
        "moves the landscape, not its volume); c scales Z_T but changes no probability; "
        "and T widens every axis by sqrt(T)."
    )


check_error_bar_diagnosis = multiple_choice(
    "check_error_bar_diagnosis",
    {
        "a": (
            False,
            "bad luck does not repeat. Each estimate lies dozens of its own standard "
            "errors from Z, which honest error bars allow essentially never, and five "
            "independent seeds agree on the same wrong value: the error is systematic.",
        ),
        "b": (
            True,
            "the proposal sits in the deeper valley and never reaches the other one, ten "
            "of its standard deviations away along x_1. Every weight is a weight of the "
            "first valley, so Z-hat estimates that valley's mass, 0.7 of Z. The standard "
            "error and the ESS are computed from the weights that were drawn, and those "
            "are well balanced: neither can see mass that no sample visited. The ESS "
            "warns of uneven weights; coverage needs another check, such as a proposal "
            "with a component at every minimum that descents from many starting points "
            "reach.",
        ),
        "c": (
            False,
            "more samples would shrink the standard error around the same wrong value. "
            "The estimator is unbiased, but the missing mass enters only through samples "
            "in the other valley, which this proposal draws with a probability below "
            "1e-16 each: no affordable n gets there.",
        ),
        "d": (
            False,
            "nothing overflowed: the package computes the weights in log space, and the "
            "ESS, more than half of n, shows well-balanced weights. That is the trap: "
            "every diagnostic computed from the samples looks healthy.",
        ),
    },
)
