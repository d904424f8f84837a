r"""Chapter 1: energies, Boltzmann probabilities, and an importance-sampling estimate of Z."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..energies import Gaussian
from ._framework import CheckFailed, _as_tensor, _real_tensor, checker, diagnose

__all__ = ["check_boltzmann_probabilities", "check_gaussian_energy", "check_importance_sampling"]


@checker
def check_gaussian_energy(gaussian_energy: Callable[..., torch.Tensor]) -> str:
    r"""Check ``gaussian_energy(x, mean, std)``: the energy of $\mathcal{N}(\mu, \sigma^2)$.

    Any energy $E(x) = (x-\mu)^2 / (2\sigma^2) + c$ passes, for any constant $c$, because
    constants cancel in $e^{-E}/Z$. The check therefore compares energy *differences*.

    Examples
    --------
    >>> check_gaussian_energy(lambda x, mean, std: (x[:, 0] - mean) ** 2 / (2 * std**2))
    ✅ Correct! ...
    True
    >>> check_gaussian_energy(lambda x, mean, std: (x[:, 0] - mean) ** 2 / (2 * std))
    ❌ Not yet: ... divide by the variance std**2, not by std.
    False
    """
    x = torch.linspace(-3.0, 4.0, 15)[:, None]
    for mean, std in [(0.0, 1.0), (1.0, 0.5), (-2.0, 3.0)]:
        result = _as_tensor(gaussian_energy(x.clone(), mean, std), "gaussian_energy")
        if result.shape != (x.shape[0],):
            raise CheckFailed(
                f"for x of shape {tuple(x.shape)} the energy should have shape ({x.shape[0]},), "
                f"one value per point; got {tuple(result.shape)}. Index the coordinate with x[:, 0]."
            )
        expected = (x[:, 0] - mean) ** 2 / (2 * std**2)
        got_diff, want_diff = result - result[0], expected - expected[0]  # constants cancel
        if torch.allclose(got_diff, want_diff, rtol=1e-4, atol=1e-5):
            continue
        informative = want_diff.abs() > 1e-3  # points where the true difference is not ~0
        ratio = (got_diff[informative] / want_diff[informative]).median().item()
        hint = {
            -1.0: "lower energy must mean higher probability: E is minus the log density.",
            2.0: "did you forget the factor 1/2?",
        }.get(round(ratio, 3))
        if hint is None and std != 1.0 and torch.allclose(got_diff / std, want_diff, rtol=1e-4):
            hint = "divide by the variance std**2, not by std."
        raise CheckFailed(
            f"with mean={mean}, std={std}: E(x) - E(x0) at x={x[-1, 0].item():.1f} should be "
            f"{want_diff[-1].item():.4f}; got {got_diff[-1].item():.4f}. "
            + (hint or "Compare with E(x) = (x - mean)^2 / (2 std^2).")
        )
    return "Your energy matches (x - mean)^2 / (2 std^2) up to an additive constant."


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
def check_importance_sampling(estimate_z: Callable[..., float]) -> str:
    r"""Check ``estimate_z(energy, proposal, n, generator)``, an importance-sampling estimate of $Z$.

    The target is the 3-D energy $E(x) = \tfrac12 \lVert x - m \rVert^2$ with
    $Z = (2\pi)^{3/2}$; the proposal is a wider Gaussian. With $n = 20\,000$ samples the
    estimator's relative standard error is below 1%, so an answer within 5% is right and
    one outside it is wrong beyond reasonable doubt (more than 5 standard errors).

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
    generator = torch.Generator().manual_seed(1234)
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
