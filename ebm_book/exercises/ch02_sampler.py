r"""Chapter 2's "build it" grader: a whole Langevin sampler, judged by what its chains do.

The reader's sampler runs many chains on a correlated 2-D Gaussian $\mathcal{N}(\mu, \Sigma)$.
There the score is $-\Lambda(x - \mu)$ and every update is linear in the offset from $\mu$:
$x_{t+1} - \mu = M (x_t - \mu) + \text{noise}$, with $M = I - \tfrac{\epsilon}{2}\Lambda$ for
the book's update. So the mean and covariance of the chains after $n$ steps are known
exactly (Section 2.4's recursion), for the right sampler and for each usual mistake alike
(another drift or noise factor, noise reused, uniform noise, a single step). The grader
compares the reader's chains with each prediction in standard errors and names the
prediction they fit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from ._framework import CheckFailed, _real_tensor, checker

__all__ = ["check_langevin_sampler"]

MEAN = torch.tensor([1.0, -1.0], dtype=torch.float64)  # the target of Section 2.4
COV = torch.tensor([[1.0, 0.8], [0.8, 1.0]], dtype=torch.float64)
PRECISION = torch.linalg.inv(COV)
START = torch.tensor([-2.0, 1.0], dtype=torch.float64)  # every chain starts here
# eps = 0.2 is half the stability limit 4 * 0.2 of the narrow direction (variance 0.2):
# ULA's bias there is a factor 4/3, which the other conventions miss by 1.5 and 2.
# 200 steps shrink the start's offset by 0.944^200 < 1e-5 along the wide direction.
STEP, N_STEPS, N_CHAINS = 0.2, 200, 20_000
CHAINS = f"{N_CHAINS:,}".replace(",", " ")  # 20 000, as the book writes it
# Every statistic below is a z-score, standard normal for a right sampler. Over 200
# seeds the reference's largest |z| of five had mean 1.5, sd 0.6, largest 3.3; a normal
# tail puts the chance that one of five exceeds 5 at 3e-6. Each mistake below lands 50
# or more standard errors from the right prediction, and within 3 of its own.
Z_LIMIT = 5.0
SECONDS_ALLOWED = 8.0  # for the main run, extrapolated from a 3-step trial


def _score(x: torch.Tensor) -> torch.Tensor:
    """The target's score, in the dtype and on the device of ``x``."""
    return -(x - MEAN.to(x)) @ PRECISION.to(x)


def _moments(
    drift: float,
    noise_cov: torch.Tensor,
    n_steps: int = N_STEPS,
    noise_mean: float = 0.0,
    reused: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance after ``n_steps`` of x <- x + drift s(x) + noise, from START.

    The noise has mean ``noise_mean`` in each coordinate and covariance ``noise_cov``;
    ``reused`` means one draw per chain, added again at every step.
    """
    contraction = torch.eye(2, dtype=torch.float64) - drift * PRECISION
    offset, cov = START - MEAN, torch.zeros(2, 2, dtype=torch.float64)
    total = torch.zeros(2, 2, dtype=torch.float64)  # sum of contraction^k, k < t
    for _ in range(n_steps):
        offset = contraction @ offset + noise_mean
        cov = contraction @ cov @ contraction.T + noise_cov
        total = contraction @ total + torch.eye(2, dtype=torch.float64)
    if reused:
        cov = total @ noise_cov @ total.T
    return MEAN + offset, cov


def _largest_z(samples: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> float:
    """The largest |z| of five statistics of ``samples`` against a Gaussian (mean, cov).

    The samples are whitened with cov^(-1/2); then the mean of each coordinate has
    standard error 1/sqrt(n), each variance sqrt(2/n), the covariance 1/sqrt(n).
    """
    n = samples.shape[0]
    values, vectors = torch.linalg.eigh(cov)
    white = (samples - mean) @ vectors / values.sqrt()
    sample_cov = torch.cov(white.T)
    z = [
        *(white.mean(dim=0) * math.sqrt(n)).tolist(),
        *((sample_cov.diagonal() - 1) / math.sqrt(2 / n)).tolist(),
        sample_cov[0, 1].item() * math.sqrt(n),
    ]
    return max(abs(v) for v in z)


def _mistakes() -> list[tuple[tuple[torch.Tensor, torch.Tensor], str]]:
    eps, identity = STEP, torch.eye(2, dtype=torch.float64)
    return [
        (
            _moments(eps / 2, 2 * eps * identity),
            "your chains' variance is about twice what it should be: the noise sqrt(2 eps) z "
            "belongs with the drift eps s(x) of the other convention. In the book's update "
            "(2.1) the drift (eps/2) s(x) goes with the noise sqrt(eps) z.",
        ),
        (
            _moments(eps, 2 * eps * identity),
            "that is the other convention, x + eps s(x) + sqrt(2 eps) z: the book's update "
            "with a step of 2 eps, hence a larger bias. Use the drift (eps/2) s(x) and the "
            "noise sqrt(eps) z of (2.1).",
        ),
        (
            _moments(eps, eps * identity),
            "your chains are too narrow: the drift is (eps/2) s(x), half the step size "
            "times the score.",
        ),
        (
            _moments(eps / 2, eps**2 * identity),
            "your chains are far too narrow: the noise is scaled by sqrt(eps), not eps.",
        ),
        (
            _moments(eps / 2, eps / 12 * identity, noise_mean=math.sqrt(eps) / 2),
            "your chains drift off the mean and are too narrow: torch.rand draws uniform "
            "numbers in [0, 1); Langevin's noise is standard normal, torch.randn.",
        ),
        (
            _moments(eps / 2, eps * identity, reused=True),
            "your chains spread far too wide: each one seems to reuse a single noise draw "
            "at every step. Draw fresh noise inside the loop.",
        ),
        (
            _moments(eps / 2, eps * identity, n_steps=1),
            "your chains are where one step takes them: is the return inside the loop?",
        ),
    ]


def _describe(samples: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> str:
    """The chains' mean and variances along the target's axes, against ULA's prediction."""
    n = samples.shape[0]
    _, axes = torch.linalg.eigh(COV)  # the narrow axis first
    got = torch.cov(((samples - mean) @ axes).T).diagonal()
    want = (axes.T @ cov @ axes).diagonal()
    names = ("narrow", "wide")
    variances = "; ".join(
        f"along its {name} axis {g:.3f} (ULA: {w:.3f} ± {w * math.sqrt(2 / n):.3f})"
        for name, g, w in zip(names, got.tolist(), want.tolist())
    )
    chain_mean = [round(v, 3) for v in samples.mean(dim=0).tolist()]
    return (
        f"the chains' variance is {variances}; their mean is {chain_mean} "
        f"(ULA: {[round(v, 3) for v in mean.tolist()]})."
    )


def _final_states(result: object, n_chains: int) -> torch.Tensor:
    """The reader's result as an (n_chains, 2) float64 tensor, or an explained failure."""
    if isinstance(result, (list, tuple)):
        raise CheckFailed(
            f"your sampler returned a {type(result).__name__} (the trajectory?); return only "
            f"the final states, one tensor of shape ({n_chains}, 2)."
        )
    result = _real_tensor(result, "your sampler")
    if result.shape == (n_chains, 2):
        return result.detach().double()
    if result.ndim == 3 and result.shape[1:] == (n_chains, 2):
        hint = "that looks like the whole trajectory; return only the final states"
    elif result.shape in ((2,), (1, 2)):
        hint = "that is one point; return the final state of every chain, one row each"
    else:
        hint = "return the final state of every chain, one row each"
    raise CheckFailed(
        f"for {n_chains} chains in 2 dimensions the result has shape ({n_chains}, 2); got "
        f"{tuple(result.shape)}: {hint}."
    )


def _run(sampler: Callable[..., object], n_chains: int, n_steps: int, seed: int) -> torch.Tensor:
    x0 = START.float().repeat(n_chains, 1)
    kept = x0.clone()
    result = sampler(_score, x0, STEP, n_steps, torch.Generator().manual_seed(seed))
    if not torch.equal(x0, kept):
        raise CheckFailed(
            "your sampler moved the start points x0 themselves (an in-place update such as "
            "x += ...): the caller's tensor must stay as it was. Start from a copy, or write "
            "x = x + ..."
        )
    return _final_states(result, n_chains)


def _seconds(task: Callable[[], object]) -> float:
    started = time.perf_counter()
    task()
    return time.perf_counter() - started


def _reference_trial() -> None:
    """Three steps of a batch update of N_CHAINS chains: the speed a sampler should have."""
    x = START.float().repeat(N_CHAINS, 1)
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        x = x + STEP / 2 * _score(x) + math.sqrt(STEP) * torch.randn(x.shape, generator=generator)


def _check_spread(samples: torch.Tensor) -> None:
    """Fail with the likely cause when the chains ran away or did not spread."""
    if not torch.isfinite(samples).all() or samples.abs().max() > 1e3:
        size = samples.abs().max().item()
        raise CheckFailed(
            f"your chains ran away (|x| reached {size:.3g}). With eps = {STEP}, inside the "
            "stable range for this target, Langevin chains stay within a few units of the "
            "mean. Check the sign of the drift: the chains must move along the score, "
            "towards high probability."
        )
    if (samples - samples[0]).abs().max() < 1e-6:
        noiseless, _ = _moments(STEP / 2, torch.zeros(2, 2, dtype=torch.float64))
        where = [round(v, 3) for v in samples[0].tolist()]
        if torch.allclose(samples[0], START, atol=1e-6):
            raise CheckFailed(f"your chains have not moved from their start, {where}.")
        if torch.allclose(samples[0], noiseless, atol=1e-3):
            raise CheckFailed(
                f"every chain ended at the mode {where}: without noise, Langevin dynamics "
                "is gradient ascent, which collapses onto the modes. Add the noise term."
            )
        raise CheckFailed(
            f"every chain ended at the same point, {where}: all the chains got the same "
            "noise. Draw one independent standard normal number per chain and coordinate, "
            "noise of the shape of x."
        )
    spread = torch.linalg.eigvalsh(torch.cov(samples.T))
    if spread[0] < 1e-6 * spread[1]:
        raise CheckFailed(
            "your chains spread along a line only: both coordinates of a chain got the same "
            "noise. Draw noise of the shape of x, (N, d)."
        )


def _check_reproducible(sampler: Callable[..., object], seed: int) -> None:
    runs = [_run(sampler, 50, 5, s) for s in (seed, seed, seed + 1)]
    if not torch.equal(runs[0], runs[1]):
        raise CheckFailed(
            "your chains are right, but two runs with the same generator seed differ: draw "
            "every random number from `generator` (e.g. torch.randn(..., generator=generator)), "
            "so that a seed reproduces the run."
        )
    if torch.equal(runs[0], runs[2]):
        raise CheckFailed(
            "your chains are right, but they do not change with the generator's seed: draw "
            "the noise from the `generator` passed in, not from one of your own."
        )


@checker
def check_langevin_sampler(langevin_sampler: Callable[..., torch.Tensor], seed: int = 0) -> str:
    r"""Check ``langevin_sampler(score, x0, step_size, n_steps, generator)``: Langevin chains.

    It runs 20 000 chains for 200 steps of size $\epsilon = 0.2$ on $\mathcal{N}(\mu, \Sigma)$
    with $\Sigma = \begin{pmatrix}1 & 0.8\\ 0.8 & 1\end{pmatrix}$, all started at one point,
    and compares the final states' mean and covariance with ULA's exact prediction, within
    five standard errors. It also runs the sampler twice with one seed (the chains must be
    the same) and with another (they must differ). ``seed`` seeds every run.

    Examples
    --------
    >>> def sampler(score, x0, step_size, n_steps, generator=None):
    ...     x = x0
    ...     for _ in range(n_steps):
    ...         noise = torch.randn(x.shape, generator=generator)
    ...         x = x + step_size / 2 * score(x) + step_size**0.5 * noise
    ...     return x
    >>> check_langevin_sampler(sampler)
    ✅ Correct! ...
    True
    >>> def no_noise(score, x0, step_size, n_steps, generator=None):
    ...     x = x0
    ...     for _ in range(n_steps):
    ...         x = x + step_size / 2 * score(x)
    ...     return x
    >>> check_langevin_sampler(no_noise)
    ❌ Not yet: every chain ended at the mode ...
    False
    """
    # A short trial run checks the shape, in-place updates and the speed, measured
    # against the grader's own batch update on the same chains (so that a busy machine
    # slows both): a loop over chains is hundreds of times slower.
    trial = _seconds(_reference_trial) + 1e-3
    reader = _seconds(lambda: _run(langevin_sampler, N_CHAINS, 3, seed))
    expected_time = reader * N_STEPS / 3
    if expected_time > SECONDS_ALLOWED and reader > 20 * trial:
        raise CheckFailed(
            f"3 steps of {CHAINS} chains took {reader:.1f} s, so the grader's {N_STEPS} "
            f"steps would take about {expected_time:.0f} s. Update all the chains at once, "
            "with tensor operations on the whole batch x, not a loop over chains."
        )
    samples = _run(langevin_sampler, N_CHAINS, N_STEPS, seed)
    _check_spread(samples)
    mean, cov = _moments(STEP / 2, STEP * torch.eye(2, dtype=torch.float64))
    z = _largest_z(samples, mean, cov)
    if z > Z_LIMIT:
        for (wrong_mean, wrong_cov), hint in _mistakes():
            if _largest_z(samples, wrong_mean, wrong_cov) < Z_LIMIT:
                raise CheckFailed(hint)
        raise CheckFailed(
            f"{_describe(samples, mean, cov)} They are {z:.0f} standard errors off. Compare "
            "your loop with the update (2.1), one step at a time."
        )
    _check_reproducible(langevin_sampler, seed)
    exact_z = _largest_z(samples, MEAN, COV)
    return (
        f"your {CHAINS} chains have the mean and the covariance that ULA predicts "
        f"(largest deviation {z:.1f} standard errors), and a seed reproduces them. Note that "
        f"the target's own covariance is {exact_z:.0f} standard errors away: that is the "
        "step-size bias of ULA, Sections 2.4 and 2.5."
    )
