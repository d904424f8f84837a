r"""Chapter 6's "build it" grader: deterministic DDIM, judged step by step and by its result.

The reader writes ``ddim_sampler(score, process, start, times)``: one step (6.15) for each
pair of consecutive times, from ``times[0]`` down to ``times[-1]``, returning the chains
there without a final denoising step. DDIM is deterministic, so its steps can be compared
exactly. The grader runs it three times, the cheap runs first, so that a mistake is named
where it is plainest:

1. on the VP process, 16 chains drawn from the exact $p_t$ of a Gaussian target at
   ``times[0]``, four uneven steps, with the target's exact score. The score records the
   time of each call, which names a wrong order, the score taken at the next time, a
   missing step or a final denoising step; then the chains are compared with the
   package's `ebm_book.flow.ddim`, and each usual mistake, computed on the same inputs,
   names itself if it matches;
2. the same on a VE process, where $\sqrt{\bar\alpha(t)} = 1$: a formula that holds for
   VP only shows here;
3. the result: 2000 chains from the VP prior, 50 steps, on the 0.2/0.8 mixture of
   Section 4.4 with its exact score: the heavy mode must hold about 0.8 of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from .. import flow
from ..mixtures import GaussianMixture
from ..processes import NoiseProcess, VarianceExploding, VariancePreserving
from ._framework import CheckFailed, _real_tensor, checker, diagnose, per_chain

__all__ = ["check_ddim"]

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# The probes: a Gaussian target N(MEAN, diag(VARIANCE)), whose p_t is Gaussian at every
# time, and an uneven grid (no step is a multiple of another, so that no mistake in the
# times hides).
MEAN = torch.tensor([1.5, -1.0], dtype=torch.float64)
VARIANCE = torch.tensor([0.5, 2.0], dtype=torch.float64)
GRID = torch.tensor([0.9, 0.62, 0.35, 0.15, 0.04], dtype=torch.float64)
PROBE_CHAINS = 16
PROCESSES: dict[str, NoiseProcess] = {
    "VP": VariancePreserving(),
    "VE": VarianceExploding(sigma_min=0.05, sigma_max=5.0),
}

# The result: Section 4.4's mixture, 2000 chains from the VP prior, 50 steps down to t_min.
MIXTURE = GaussianMixture(means=[[-5.0, -5.0], [5.0, 5.0]], weights=[0.2, 0.8])
N_CHAINS, N_STEPS = 2000, 50
# Over 60 seeds the package's flow.ddim gave the heavy mode 0.798 of 2000 chains on
# average (sd 0.0088, the binomial standard error sqrt(0.8 * 0.2 / 2000) = 0.0089; range
# 0.783 to 0.819), and 0.796 of 200 000 chains: a bias of 0.004 with 50 steps. We accept
# 0.8 within 0.004 plus four standard errors, 0.040: the reference fails about once in
# 15 000 runs. (A sampler that never moves its chains gives 0.5.)
HEAVY_BAND = 0.004 + 4 * math.sqrt(0.8 * 0.2 / N_CHAINS)

IN_PLACE = (
    "your sampler changed the start points themselves (an in-place update such as "
    "x += ... or x.mul_(...) on x = start): the caller's tensor must stay as it was. "
    "Write x = x + ... instead."
)


def _per_point(t: object, x: torch.Tensor) -> torch.Tensor:
    """The time of each chain, float64 of shape (N,), from a number or a tensor."""
    return per_chain(
        t,
        x,
        missing="your sampler called score(x) without a time: the score of a process is "
        "called as score(x, t), with the current time t of the chains.",
        mismatch=lambda k: (
            f"your sampler called the score with {k} times for {x.shape[0]} "
            "chains: pass the current time t, one number or one per chain, not the grid."
        ),
    )


def _gaussian_score(process: NoiseProcess) -> Score:
    """The exact score of p_t for the Gaussian target: N(m mean, m^2 variance + sigma^2)."""

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        times = _per_point(t, x)
        mean = process.mean_coefficient(times)[:, None]
        variance = mean**2 * VARIANCE + process.sigma(times)[:, None] ** 2
        return (-(x.double() - mean * MEAN) / variance).to(x.dtype)

    return score


class _Spy:
    """The probe's score, recording the grid index of the time of each call."""

    def __init__(self, score: Score, n_chains: int) -> None:
        self.score, self.n_chains = score, n_chains
        self.calls: list[int] = []

    def __call__(self, x: torch.Tensor, t: object = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2:
            raise CheckFailed("your sampler called the score with something other than points x, shape (N, d).")  # fmt: skip
        if x.shape[0] != self.n_chains:
            raise CheckFailed(
                f"your sampler called the score on {x.shape[0]} of the {self.n_chains} "
                "chains at once: update all the chains together, with tensor "
                "operations on the whole batch x, not a loop over chains."
            )
        times = _per_point(t, x)
        distinct = times.unique()
        if len(distinct) > 1:
            raise CheckFailed(
                "your sampler called the score with several times in one call; all the "
                "chains are at the same time t at each step."
            )
        hit = torch.isclose(GRID, distinct, rtol=0, atol=1e-6).nonzero()
        if len(hit) == 0:
            value = distinct.item()
            hint = (
                " (that looks like the index of the time: pass the time times[i] itself)"
                if value.is_integer()
                else ""
            )
            raise CheckFailed(
                f"your sampler called the score at t = {value:.4g}, which is not one of the "
                f"grid's times {[round(v, 4) for v in GRID.tolist()]}{hint}."
            )
        self.calls.append(int(hit[0, 0]))
        return self.score(x, times)


def _describe(order: Iterable[int]) -> str:
    """The times of the grid at the indices ``order``, as text."""
    return ", ".join(f"{GRID[i].item():g}" for i in order)


def _check_calls(calls: list[int]) -> None:
    """Name the mistake in the sequence of times the score was called at, if any."""
    n_steps = len(GRID) - 1
    order = [i for k, i in enumerate(calls) if k == 0 or calls[k - 1] != i]  # repeats merged
    expected = list(range(n_steps))
    if order == expected:
        return  # one or more score evaluations per step, each at the step's own time
    if not order:
        raise CheckFailed("your sampler never called the score: DDIM reads it at every step.")
    seen = (
        f"your sampler called the score at t = {_describe(order)}; the grid is "
        f"{_describe(range(n_steps + 1))}"
    )
    if order == expected + [n_steps]:
        hint = (
            "the last call, at times[-1], is a final denoising step. This exercise asks "
            "for the chains as the last DDIM step leaves them, at times[-1]; the samplers "
            "of the package take that step separately (denoise=True)."
        )
    elif order == list(range(1, n_steps + 1)):
        hint = (
            "each step read the score at its *next* time t'. The score must be taken "
            "where the chains are, at the step's current time t."
        )
    elif len(order) > 1 and order == sorted(order, reverse=True):  # increasing times
        hint = (
            "that runs the grid the wrong way: times is decreasing, the chains start at "
            "times[0] and each step goes to the next, smaller time."
        )
    elif order == expected[: len(order)]:
        hint = (
            f"that is {len(order)} steps; a grid of {n_steps + 1} times has {n_steps}, one "
            "per pair of consecutive times, the last one ending at times[-1]."
        )
    else:
        hint = "DDIM takes one step per pair of consecutive times, in order, from times[0]."
    raise CheckFailed(f"{seen}: {hint}")


def _final_states(result: object, n_chains: int) -> torch.Tensor:
    """The reader's result as an (n_chains, 2) float64 tensor, or an explained failure."""
    if isinstance(result, (list, tuple)) or hasattr(result, "samples"):
        raise CheckFailed(
            f"your sampler returned a {type(result).__name__}; return only the chains at "
            f"times[-1], one tensor of shape ({n_chains}, 2)."
        )
    result = _real_tensor(result, "your sampler")
    if result.ndim == 3 and result.shape[1:] == (n_chains, 2):
        raise CheckFailed(
            f"your sampler returned {result.shape[0]} states of the chains, shape "
            f"{tuple(result.shape)}; return only the last, shape ({n_chains}, 2)."
        )
    if result.shape != (n_chains, 2):
        raise CheckFailed(
            f"for {n_chains} chains in 2 dimensions return shape ({n_chains}, 2), the "
            f"chains at times[-1]; got {tuple(result.shape)}."
        )
    if not torch.isfinite(result).all():
        raise CheckFailed("your chains reached inf or NaN.")
    return result.detach().double()


def _run(
    sampler: Callable[..., object], score: Score, process: NoiseProcess, start: torch.Tensor,
    times: torch.Tensor,
) -> torch.Tensor:  # fmt: skip
    kept = start.clone()
    result = sampler(score, process, start, times.clone())
    if not torch.equal(start, kept):
        raise CheckFailed(IN_PLACE)
    return _final_states(result, start.shape[0])


def _variant(process: NoiseProcess, start: torch.Tensor, kind: str) -> torch.Tensor:
    """What DDIM with the mistake ``kind`` returns on the probe."""
    score, times = _gaussian_score(process), GRID.tolist()
    if kind == "euler":
        return flow.euler(score, process, start, times=GRID, denoise=False).samples
    x = start
    for t, t_next in zip(times[:-1], times[1:]):
        now_mean, now_sigma = process.mean_coefficient(t), process.sigma(t)
        then_mean, then_sigma = process.mean_coefficient(t_next), process.sigma(t_next)
        base = start if kind == "restart" else x
        s = score(base, torch.full((len(x),), t, dtype=torch.float64))
        if kind == "alpha bar":  # alpha_bar for sqrt(alpha_bar)
            now_mean, then_mean = now_mean**2, then_mean**2
        variance = {"tweedie sigma": now_sigma}.get(kind, now_sigma**2)
        shift = -variance * s if kind == "tweedie sign" else variance * s
        clean = base + shift if kind == "no division" else (base + shift) / now_mean
        noise = (now_sigma if kind == "noise sign" else -now_sigma) * s
        new_mean = now_mean if kind == "mean both" else then_mean
        new_sigma = now_sigma if kind == "sigma both" else then_sigma
        x = new_mean * clean + new_sigma * noise
    return x


MISTAKES = [
    ("sigma both", "you put the predicted noise back with sigma(t), the current time's standard deviation: at the new time it is sigma(t'), as in x_t' = sqrt(alpha_bar(t')) x_0 + sigma(t') z (6.2)."),
    ("mean both", "you scaled the predicted clean point with the current time's mean coefficient: at the new time it is sqrt(alpha_bar(t')), process.mean_coefficient(t')."),
    ("no division", "Tweedie's formula (6.10) divides by the mean coefficient: x0_hat = (x + sigma(t)^2 s) / sqrt(alpha_bar(t)). (On VE, where it is 1, the mistake would not show.)"),
    ("alpha bar", "the data are scaled by sqrt(alpha_bar(t)), process.mean_coefficient(t), not by alpha_bar(t)."),
    ("noise sign", "the predicted noise is z_hat = -sigma(t) s (6.10): the score points against the noise that was added."),
    ("tweedie sigma", "Tweedie's formula (6.10) multiplies the score by the variance sigma(t)^2, not by sigma(t)."),
    ("tweedie sign", "Tweedie's formula moves x *up* the score: x0_hat = (x + sigma(t)^2 s) / sqrt(alpha_bar(t))."),
    ("restart", "each of your steps starts again from `start`: carry the chains over, and take each step from the x that the previous step produced."),
    ("euler", "those are the steps of Euler's method for the probability-flow ODE, x + dt u (flow.euler): another first-order method. DDIM steps through the predicted clean point and noise (6.15)."),
]  # fmt: skip


def _probe(sampler: Callable[..., object], name: str, seed: int) -> None:
    """Compare the reader's chains with flow.ddim on one process; name the mistake."""
    process, generator = PROCESSES[name], torch.Generator().manual_seed(seed)
    mean, sigma = process.mean_coefficient(GRID[0]).item(), process.sigma(GRID[0]).item()
    z = torch.randn(PROBE_CHAINS, 2, generator=generator, dtype=torch.float64)
    start = mean * MEAN + (mean**2 * VARIANCE + sigma**2).sqrt() * z  # exact p_t at times[0]
    spy = _Spy(_gaussian_score(process), PROBE_CHAINS)
    try:
        answer = _run(sampler, spy, process, start, GRID)
    except AttributeError as error:
        if name == "VP":
            raise
        raise CheckFailed(
            f"on the VE process your code raised AttributeError ({error}): use only "
            "process.mean_coefficient(t) and process.sigma(t), which every process has."
        ) from None
    _check_calls(spy.calls)
    again = _run(sampler, _gaussian_score(process), process, start, GRID)
    if not torch.equal(answer, again):
        raise CheckFailed(
            "two runs from the same start gave different chains: DDIM is deterministic, "
            "its step (6.15) adds no fresh noise (that is ancestral sampling, (6.12))."
        )
    expected = flow.ddim(_gaussian_score(process), process, start, times=GRID, denoise=False)
    mistakes = [(_variant(process, start, kind), hint) for kind, hint in MISTAKES]
    if name == "VE":
        mistakes.insert(0, (start, (
            "your chains did not move. sigma(t) = sqrt(1 - alpha_bar(t)) "
            "holds for VP only; use process.sigma(t), which every process supplies."
        )))  # fmt: skip
    gap = (answer - expected.samples).abs().max().item()
    diagnose(
        answer,
        mistakes,
        expected=expected.samples,
        context=f"on the {name} process: ",
        otherwise=(
            f"after {len(GRID) - 1} steps your chains differ from those of flow.ddim by up "
            f"to {gap:.3g}. Compare each step with (6.15): the predicted clean point and "
            "noise at t, put together again at t'."
        ),
        rtol=1e-4,
        atol=1e-6,
    )


@checker
def check_ddim(ddim_sampler: Callable[..., torch.Tensor], seed: int = 0) -> str:
    r"""Check ``ddim_sampler(score, process, start, times)``: deterministic DDIM (6.15).

    The reader's sampler takes one step per pair of consecutive ``times`` (a decreasing
    float64 grid) from the chains ``start`` at ``times[0]``, and returns the chains at
    ``times[-1]``, shape ``(N, d)``, without a final denoising step. Its chains must
    agree with `ebm_book.flow.ddim` on a VP and a VE process, and on the two-mode
    mixture of Section 4.4 it must give the heavy mode about 0.8 of 2000 chains (see the
    module's docstring). ``seed`` seeds the start points.

    Examples
    --------
    >>> def sampler(score, process, start, times):
    ...     x = start
    ...     for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
    ...         s = score(x, torch.full((len(x),), t))
    ...         sigma = process.sigma(t)
    ...         clean = (x + sigma**2 * s) / process.mean_coefficient(t)
    ...         x = process.mean_coefficient(t_next) * clean - process.sigma(t_next) * sigma * s
    ...     return x
    >>> check_ddim(sampler)
    ✅ Correct! ...
    True
    >>> def sigma_twice(score, process, start, times):
    ...     x = start
    ...     for t, t_next in zip(times[:-1].tolist(), times[1:].tolist()):
    ...         s = score(x, torch.full((len(x),), t))
    ...         sigma = process.sigma(t)
    ...         clean = (x + sigma**2 * s) / process.mean_coefficient(t)
    ...         x = process.mean_coefficient(t_next) * clean - sigma * sigma * s
    ...     return x
    >>> check_ddim(sigma_twice)
    ❌ Not yet: on the VP process: you put the predicted noise back with sigma(t)...
    False
    """
    for name in PROCESSES:
        _probe(ddim_sampler, name, seed)
    vp = PROCESSES["VP"]
    exact = vp.time_score(MIXTURE.noisy_score)

    def mixture_score(x: torch.Tensor, t: object = None) -> torch.Tensor:
        return exact(x, _per_point(t, x).to(x.dtype))

    start = vp.prior_sample(N_CHAINS, 2, torch.Generator().manual_seed(seed + 1))
    samples = _run(ddim_sampler, mixture_score, vp, start, vp.time_grid(N_STEPS))
    heavy = (MIXTURE.assign(samples) == 1).double().mean().item()
    error = math.sqrt(heavy * (1 - heavy) / N_CHAINS)
    if abs(heavy - 0.8) > HEAVY_BAND:
        raise CheckFailed(
            f"your steps agree with flow.ddim on the probes, but on the two-mode mixture "
            f"the heavy mode holds {heavy:.3f} ± {error:.3f} of your chains; we accept "
            f"0.8 ± {HEAVY_BAND:.3f}. Does your sampler work with float32 chains and a "
            f"grid of {N_STEPS + 1} times from 1 down to {vp.t_min:g}?"
        )
    return (
        f"your steps are flow.ddim's on VP and VE, and from the VP prior your {N_CHAINS} "
        f"chains give the heavy mode {heavy:.3f} ± {error:.3f} (its weight is 0.8) in "
        f"{N_STEPS} deterministic steps, {N_STEPS} score evaluations."
    )
