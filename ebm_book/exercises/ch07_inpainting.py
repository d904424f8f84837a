r"""Chapter 7's "build it" grader: one step of inpainting by replacement, judged three ways.

The reader writes ``inpainting_step(x, t, t_next, score, process, observed, mask,
generator)``: an ancestral step (6.12) of every pixel from ``t`` down to ``t_next``, then
the observed pixels (``mask`` True) replaced by the observed image noised to ``t_next`` by
the forward process, $\sqrt{\bar\alpha(t')}\,y + \sigma(t')\,z$ (7.2). The grader:

1. runs one step on eight probe chains with a seeded generator and compares it with the
   reference, which draws the step's noise first and the replacement's second, each of
   the chains' shape; each usual mistake, computed with the same draws, names itself if
   it matches. A step that draws its noise otherwise matches nothing here and goes on;
2. runs one long step, from 0.2 to 0.1, on 4096 noisy copies of one image, and measures
   each pixel's mean and the spread about it, which do not depend on the order of the
   draws: the replaced pixels must have the mean $\sqrt{\bar\alpha(t')}\,y$ and the
   standard deviation $\sigma(t')$, the others the mean and standard deviation of one
   ancestral step (6.12). A wrong step is named from what was measured (no spread: no
   noise; a mean off by a factor: which coefficient);
3. runs the whole sampler, 100 steps from the VP prior, with the step, on 1000 images
   of a Gaussian with the digits' mean and covariance, whose exact score and exact
   conditional distribution of the unobserved pixels given the observed ones are known;
   the completions must sit as close to the exact conditional mean as the reference's do.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from .. import diffusion
from ..processes import NoiseProcess, VariancePreserving
from ._framework import CheckFailed, _as_tensor, checker, diagnose, per_chain, private_run

__all__ = ["check_inpainting_step", "gaussian_digits", "reference_inpainting_step"]

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Step = Callable[..., torch.Tensor]

DIM = 64  # 8 x 8 images
OBSERVED = torch.arange(DIM) < DIM // 2  # the top four rows are observed
N_PROBE, N_CHAINS, N_STEPS = 8, 1000, 100
NUGGET = 0.01  # added to the digits' covariance: border pixels never vary in the data
# The statistic: the mean squared distance of the completions from the exact conditional
# mean, over the trace of the exact conditional covariance (1 for exact conditional
# samples). Replacement is not exact conditional sampling: over 20 seeds the reference
# gave 1.211 on average (sd 0.020, range 1.171 to 1.242). We accept 1.06 to 1.36, seven
# standard deviations either side: the reference never fails. A step that never replaces
# the observed pixels gives about 1.9. The subtler mistakes (the replacement noised to the
# wrong time, or not at all) move the statistic by less than its spread: the first two
# tests, one step at a time, name them.
ACCEPT = (1.06, 1.36)
# The moment test: MOMENT_CHAINS noisy copies of one image, one step between MOMENT_TIMES
# (a long step: a coefficient taken at the wrong time, or squared, is off by 5% or more).
# A right step fails only if one of the 64 pixels' means is Z_MAX standard errors off
# (probability below 64 * 2 * Phi(-5) = 4e-5 for the step's draws), or if the spread
# about them misses its value by SPREAD_SE standard errors.
MOMENT_CHAINS, MOMENT_TIMES, Z_MAX, SPREAD_SE = 4096, (0.2, 0.1), 5.0, 6.0

HINTS = {
    "none": "your step leaves the observed pixels where the ancestral step put them: "
    "nothing ties the image to the observation. Replace the pixels where mask is True by "
    "the observed image noised to t_next.",
    "clean": "you put the clean observed pixels back at every step; at time t_next the "
    "chains carry noise of size sigma(t_next), and the observed pixels must too: "
    "sqrt(alpha_bar(t_next)) * observed + sigma(t_next) * z, as the forward process "
    "(6.2) would noise them.",
    "time t": "you noised the observation to time t, the step's start; the step ends at "
    "t_next, and the replaced pixels must be at t_next with the others.",
    "no scaling": "the VP process shrinks the data as it adds noise: the observed pixels at "
    "t_next are sqrt(alpha_bar(t_next)) * observed + sigma(t_next) * z "
    "(process.mean_coefficient(t_next)), not observed + sigma(t_next) * z.",
    "inverted": "you replaced the pixels where mask is False: mask is True where the pixel "
    "is observed, and those are the pixels to replace.",
}


@functools.cache
def gaussian_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The mean ``(64,)`` and covariance ``(64, 64)`` (plus 0.01 I) of the training digits, float64."""
    from ..datasets import digits

    x = digits("train").x.double()
    return x.mean(dim=0), torch.cov(x.T) + NUGGET * torch.eye(DIM, dtype=torch.float64)


def _gaussian_score(process: NoiseProcess) -> Score:
    r"""The exact score of $p_t$ for $\mathcal{N}(\mu, \Sigma)$: $-(\bar\alpha\Sigma + \sigma^2 I)^{-1}(x - \sqrt{\bar\alpha}\,\mu)$."""
    mean, cov = gaussian_digits()
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        times = per_chain(
            t,
            x,
            missing="your step called score(x) without a time: call it as score(x, t).",
            mismatch=lambda k: (
                f"your step called the score with {k} times for {x.shape[0]} images."
            ),
        )
        scale = process.mean_coefficient(times)[:, None]
        variances = scale**2 * eigenvalues + process.sigma(times)[:, None] ** 2
        centred = (x.double() - scale * mean) @ eigenvectors
        return (-(centred / variances) @ eigenvectors.T).to(x.dtype)

    return score


def reference_inpainting_step(
    x: torch.Tensor,
    t: float,
    t_next: float,
    score: Score,
    process: NoiseProcess,
    observed: torch.Tensor,
    mask: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The reference step (7.2): the package's ancestral step, then the replacement."""
    moved = diffusion.ancestral(
        score, process, x, times=torch.tensor([t, t_next]), generator=generator, denoise=False
    ).samples
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    noisy = process.mean_coefficient(t_next) * observed + process.sigma(t_next) * z
    return torch.where(mask, noisy.to(x.dtype), moved)


def _probe(step: Step, process: NoiseProcess, score: Score) -> None:
    """One step on eight chains; the right answer and each mistake with the same draws."""
    mean, cov = gaussian_digits()
    draw = torch.Generator().manual_seed(71)
    images = mean + torch.randn(N_PROBE, DIM, generator=draw, dtype=torch.float64) @ torch.linalg.cholesky(cov).T  # fmt: skip
    observed = torch.where(OBSERVED, images, torch.zeros_like(images))
    t, t_next = 0.55, 0.5
    x = process.mean_coefficient(t) * images + process.sigma(t) * torch.randn(
        N_PROBE, DIM, generator=draw, dtype=torch.float64
    )
    before = x.clone()
    got = _as_tensor(
        step(x, t, t_next, score, process, observed, OBSERVED, torch.Generator().manual_seed(72)),
        "inpainting_step",
    )
    if not torch.equal(x, before):
        raise CheckFailed(
            "your step changed its input x in place (x += ..., x[mask] = ...): build the "
            "result as a new tensor, for instance with torch.where(mask, ..., ...)."
        )
    if got.shape != x.shape:
        raise CheckFailed(f"inpainting_step should return shape {tuple(x.shape)}; got {tuple(got.shape)}.")  # fmt: skip

    def variant(kind: str) -> torch.Tensor:
        g = torch.Generator().manual_seed(72)
        moved = diffusion.ancestral(
            score, process, x, times=torch.tensor([t, t_next]), generator=g, denoise=False
        ).samples
        z = torch.randn(x.shape, generator=g, dtype=x.dtype)
        at = t if kind == "time t" else t_next
        scale = 1.0 if kind == "no scaling" else process.mean_coefficient(at)
        noisy = scale * observed + process.sigma(at) * z
        if kind == "clean":
            noisy = observed
        where = ~OBSERVED if kind == "inverted" else OBSERVED
        return moved if kind == "none" else torch.where(where, noisy, moved)

    mistakes = [(variant(kind), hint) for kind, hint in HINTS.items()]
    diagnose(got, mistakes, expected=variant("right"), otherwise="")


def _fits(values: torch.Tensor, mean: torch.Tensor, std: float) -> tuple[bool, float, float]:
    """Whether ``values`` (chains by pixels) have the ``mean`` and the standard deviation
    ``std``; then the largest |z-score| of the pixels' means, and the spread about those
    means over ``std``."""
    n, k = values.shape
    residual = (values - mean) / std
    z = (residual.mean(dim=0).abs().max() * math.sqrt(n)).item()
    spread = residual.var(dim=0).mean().sqrt().item()
    return z < Z_MAX and abs(spread - 1) < SPREAD_SE / math.sqrt(2 * n * k), z, spread


def _replacement_mistake(
    got: torch.Tensor, observed: torch.Tensor, process: NoiseProcess, z: float, spread: float
) -> str:
    """Name the mistake of replaced pixels from their means' factor on ``observed`` and
    their ``spread`` over sigma(t')."""
    t, t_next = MOMENT_TIMES
    root, root_t = process.mean_coefficient(t_next).item(), process.mean_coefficient(t).item()
    noise, noise_t = process.sigma(t_next).item(), process.sigma(t).item()
    factor = (got.mean(dim=0) @ observed / (observed @ observed)).item()
    known = [  # (the means' factor, the spread over sigma(t'), the hint)
        (root, 0.0, "the replaced pixels carry no noise: sqrt(alpha_bar(t_next)) * observed "
         "is only the forward process's mean at t_next; add sigma(t_next) * z, fresh "
         "standard normal noise, as (7.2) does."),
        (1.0, 0.0, HINTS["clean"]),
        (root**2, 1.0, "the observation's factor is sqrt(alpha_bar(t_next)) "
         "(process.mean_coefficient(t_next)), not alpha_bar(t_next): alpha_bar is the "
         "fraction of the data's variance left, and a variance scales as the square of "
         "the factor."),
        (root, noise, "the noise's factor is sigma(t_next), its standard deviation, not "
         "sigma(t_next)^2, its variance: sigma(t_next) * z has variance sigma(t_next)^2."),
        (root_t, 1.0, "you scaled the observation by the mean coefficient at t, the "
         "step's start; the replaced pixels must be at t_next with the others: "
         "process.mean_coefficient(t_next) * observed + process.sigma(t_next) * z."),
        (root, noise_t / noise, "the replaced pixels carry the noise of time t, the step's "
         "start, sigma(t); they must be at t_next with the others: sigma(t_next) * z."),
        (root_t, noise_t / noise, HINTS["time t"]),
        (root, (1 - root) / noise, "the noise's factor is sigma(t_next) = sqrt(1 - "
         "alpha_bar(t_next)), not 1 - sqrt(alpha_bar(t_next)): for VP the variances, "
         "alpha_bar + sigma^2, add up to one, not the factors."),
        (1.0, 1.0, HINTS["no scaling"]),
        (1.0, 1 / root, "observed + sigma(t_next) / sqrt(alpha_bar(t_next)) * z is the "
         "noisy observation divided by sqrt(alpha_bar(t_next)); the chains are not "
         "rescaled: the VP process shrinks the data as it adds noise, "
         "sqrt(alpha_bar(t_next)) * observed + sigma(t_next) * z."),
    ]  # fmt: skip
    for want_factor, want_spread, hint in known:  # the candidates are 5% or more apart
        close_spread = abs(spread - want_spread) < 0.02 * max(1, want_spread)
        if abs(factor - want_factor) < 0.02 and close_spread:
            return hint
    return (
        f"from t = {t} to t_next = {t_next}, the replaced pixels should be "
        f"sqrt(alpha_bar(t_next)) * observed + sigma(t_next) * z (7.2): on average "
        f"{root:.3f} * observed, spread sigma(t_next) = {noise:.3f}. Yours average about "
        f"{factor:.3f} * observed (a pixel's mean is {z:.0f} standard errors off) and "
        f"spread {spread:.2f} * sigma(t_next)."
    )


def _step_mistake(z: float, spread: float, process: NoiseProcess) -> str:
    """Name the mistake of the ancestral step from the unobserved pixels' moments."""
    t, t_next = MOMENT_TIMES
    ratio = process.sigma(t).item() / process.sigma(t_next).item()
    where = f"the unobserved pixels, one ancestral step (6.12) from t = {t} to {t_next}"
    if spread < 0.02:
        return f"{where}, carry no fresh noise: (6.12) adds sqrt(beta_i) sigma(t') / sigma(t) z."
    if abs(spread - ratio) < 0.02 * ratio:
        return (
            f"{where}, spread as if the step's noise had the variance beta_i, DDPM's other "
            "choice; (6.12) samples the posterior, whose variance is the smaller "
            "beta_i sigma(t')^2 / sigma(t)^2."
        )
    if z < Z_MAX:  # the mean is right, the spread wrong
        return f"{where}, spread {spread:.2f} times (6.12)'s sqrt(beta_i) sigma(t') / sigma(t)."
    return (
        f"{where}, are off its mean (x + beta_i s(x, t)) / sqrt(alpha_i) by up to {z:.0f} "
        f"standard errors (and spread {spread:.2f} times its noise): check the score's "
        "time (t), the factor beta_i and the division by sqrt(alpha_i), or call "
        "diffusion.ancestral with times=torch.tensor([t, t_next]) and denoise=False."
    )


def _moments(step: Step, process: NoiseProcess, score: Score) -> None:
    """One long step on many noisy copies of one image: each pixel's mean and spread."""
    mean, cov = gaussian_digits()
    draw = torch.Generator().manual_seed(74)
    white = torch.randn(DIM, generator=draw, dtype=torch.float64)
    image = mean + torch.linalg.cholesky(cov) @ white
    t, t_next = MOMENT_TIMES
    n, o, u = MOMENT_CHAINS, OBSERVED, ~OBSERVED
    x = process.mean_coefficient(t) * image + process.sigma(t) * torch.randn(
        n, DIM, generator=draw, dtype=torch.float64
    )
    observed = torch.where(OBSERVED, image, 0.0).expand(n, DIM)
    generator = torch.Generator().manual_seed(75)
    got = step(x.clone(), t, t_next, score, process, observed.clone(), OBSERVED, generator)
    got = _as_tensor(got, "inpainting_step")
    if got.shape != x.shape:
        raise CheckFailed(f"inpainting_step should return shape {tuple(x.shape)}; got {tuple(got.shape)}.")  # fmt: skip
    got = got.detach().double()
    ratio, beta = process.transition(t_next, t)  # sqrt(alpha_i), beta_i
    step_mean = (x + beta * score(x, torch.full((n,), t, dtype=torch.float64))) / ratio
    step_std = math.sqrt(beta) * process.sigma(t_next).item() / process.sigma(t).item()
    root, noise = process.mean_coefficient(t_next).item(), process.sigma(t_next).item()
    replaced, z, spread = _fits(got[:, o], root * observed[:, o], noise)
    moved, z_moved, spread_moved = _fits(got[:, u], step_mean[:, u], step_std)
    if replaced and moved:
        return
    if _fits(got[:, o], step_mean[:, o], step_std)[0]:  # the observed pixels were stepped
        inverted = _fits(got[:, u], root * observed[:, u], noise)[0]
        raise CheckFailed(HINTS["inverted" if inverted else "none"])
    if not replaced:
        raise CheckFailed(_replacement_mistake(got[:, o], image[o], process, z, spread))
    raise CheckFailed(_step_mistake(z_moved, spread_moved, process))


def _completion_error(step: Step, seed: int) -> tuple[float, float]:
    """Run the sampler with ``step``; return the statistic and the largest miss of an observed pixel."""
    vp = VariancePreserving()
    score = _gaussian_score(vp)
    mean, cov = gaussian_digits()
    g = torch.Generator().manual_seed(seed)
    images = mean + torch.randn(N_CHAINS, DIM, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T  # fmt: skip
    observed = torch.where(OBSERVED, images, torch.zeros_like(images))
    x = vp.prior_sample(N_CHAINS, DIM, g).double()
    times = vp.time_grid(N_STEPS).tolist()
    for t, t_next in zip(times[:-1], times[1:]):
        x = step(x, t, t_next, score, vp, observed, OBSERVED, g)
        if not isinstance(x, torch.Tensor) or not torch.isfinite(x).all():
            raise CheckFailed(f"your step returned non-finite values at t = {t_next:.3f}.")
    miss = (x[:, OBSERVED] - images[:, OBSERVED]).abs().max().item()
    o, u = OBSERVED, ~OBSERVED
    gain = cov[u][:, o] @ torch.linalg.inv(cov[o][:, o])
    exact_mean = mean[u] + (images[:, o] - mean[o]) @ gain.T
    exact_cov = cov[u][:, u] - gain @ cov[o][:, u]
    error = ((x[:, u] - exact_mean) ** 2).sum(dim=1).mean() / exact_cov.trace()
    return error.item(), miss


@checker
def check_inpainting_step(inpainting_step: Step) -> str:
    r"""Check ``inpainting_step``: an ancestral step (6.12), then the observed pixels replaced (7.2).

    Examples
    --------
    >>> check_inpainting_step(reference_inpainting_step)
    ✅ Correct! ...
    True
    """
    with private_run():
        vp = VariancePreserving()
        try:
            _probe(inpainting_step, vp, _gaussian_score(vp))
        except CheckFailed as failure:
            if str(failure):  # a named mistake; an unnamed difference goes on
                raise
        _moments(inpainting_step, vp, _gaussian_score(vp))
        error, miss = _completion_error(inpainting_step, seed=73)
    # sigma(t_min) = 0.01 for VP: the observed pixels end within a few hundredths.
    if miss > 0.1:
        raise CheckFailed(
            f"after the last step an observed pixel is {miss:.2f} away from the observation: "
            "the observed pixels must end where the observation is. Replace the pixels "
            "where mask is True, at every step, by the observation noised to t_next."
        )
    low, high = ACCEPT
    if not low < error < high:
        raise CheckFailed(
            f"on a Gaussian with the digits' mean and covariance, your completions' mean "
            f"squared distance from the exact conditional mean is {error:.2f} times what "
            f"exact conditional samples give (the reference gives about 1.21; accepted: "
            f"{low} to {high}). "
            + (
                "Too far: the unobserved pixels do not follow the observation; check the "
                "ancestral step (6.12) and that the replaced pixels carry the noise of t_next."
                if error > high
                else "Too close: the completions have too little noise; the ancestral step "
                "adds fresh noise of variance beta_i sigma(t')^2 / sigma(t)^2."
            )
        )
    return (
        f"your completions sit {error:.2f} times as far from the exact conditional mean as "
        "exact conditional samples would (the reference: about 1.21). Replacement is not "
        "exact conditioning, but close: the unobserved pixels learn of the observation "
        "only through the score, one step at a time."
    )
