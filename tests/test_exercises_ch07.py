"""Chapter 7 graders: the reference answers pass, each known mistake gets its hint, and the
statistical grader passes the reference solution for several seeds."""

from statistics import NormalDist

import pytest
import torch
from checker_helpers import assert_feedback

from ebm_book import diffusion
from ebm_book.exercises import ch07_digits as ch07
from ebm_book.exercises import ch07_inpainting as inpainting

PHI = NormalDist().cdf

# ---- Exercise 7.1: the chance of crossing over ------------------------------------------------


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda D, s: PHI(-D / (2 * s)), None),
        (lambda D, s: 1 - PHI(D / (2 * s)), None),  # the upper tail
        (
            lambda D, s: torch.special.ndtr(torch.tensor(-D / (2 * s), dtype=torch.float64)),
            None,
        ),  # a tensor
        (lambda D, s: PHI(-D / s), "midpoint"),
        (lambda D, s: PHI(-D * 8 / (2 * s)), "length"),
        (lambda D, s: PHI(D / (2 * s)), "staying nearer"),
        (lambda D, s: 2 * PHI(-D / (2 * s)), "only one direction"),
        (lambda D, s: PHI(-D / (2 * s * s)), "not sigma"),
        (lambda D, s: PHI(-D / (2 * s * 2**0.5)), "difference of two noisy points"),
        (lambda D, s: PHI(-D / (2 * s * 8)), r"dividing by sqrt\(d\)"),
        (lambda D, s: None, "should return a number"),
    ],
)
def test_closer_probability_checker(answer, message):
    assert_feedback(ch07.check_closer_probability, answer, message)


# ---- Exercise 7.2: the inpainting step -----------------------------------------------------


def ancestral_step(x, t, t_next, score, process, g):
    return diffusion.ancestral(
        score, process, x, times=torch.tensor([t, t_next]), generator=g, denoise=False
    ).samples


def written_out(x, t, t_next, score, process, observed, mask, g):
    """The ancestral step (6.12) by hand, with the noises drawn in the reference's order."""
    ratio, variance = process.transition(t_next, t)  # sqrt(alpha_i), beta_i
    s = score(x, torch.full((x.shape[0],), t, dtype=x.dtype))
    spread = variance**0.5 * process.sigma(t_next) / process.sigma(t)
    moved = (x + variance * s) / ratio + spread * torch.randn(x.shape, generator=g, dtype=x.dtype)
    z = torch.randn(x.shape, generator=g, dtype=x.dtype)
    noisy = process.mean_coefficient(t_next) * observed + process.sigma(t_next) * z
    return torch.where(mask, noisy, moved)


def replacement_first_drawn(x, t, t_next, score, process, observed, mask, g):
    """Right, but the replacement's noise drawn before the step's: only the statistics can tell."""
    z = torch.randn(x.shape, generator=g, dtype=x.dtype)
    moved = ancestral_step(x, t, t_next, score, process, g)
    noisy = process.mean_coefficient(t_next) * observed + process.sigma(t_next) * z
    return mask * noisy + (~mask) * moved


def by_hand_float_time(x, t, t_next, score, process, observed, mask, g):
    """(6.12) by hand from alpha_bar, the score called with a float time, the replacement's
    noise drawn first and in float32, and the multiply-by-mask form."""
    z = torch.randn(x.shape, generator=g)
    ab_t, ab_next = float(process.alpha_bar(t)), float(process.alpha_bar(t_next))
    alpha = ab_t / ab_next
    spread = ((1 - alpha) * (1 - ab_next) / (1 - ab_t)) ** 0.5
    noise = torch.randn(x.shape, generator=g, dtype=x.dtype)
    moved = (x + (1 - alpha) * score(x, t)) / alpha**0.5 + spread * noise
    noisy = ab_next**0.5 * observed + (1 - ab_next) ** 0.5 * z
    m = mask.to(x.dtype)
    return m * noisy + (1 - m) * moved


def tensor_time(x, t, t_next, score, process, observed, mask, g):
    """The reference with tensor times, the global generator for the replacement's noise."""
    t, t_next = torch.tensor(t), torch.tensor(t_next)
    moved = ancestral_step(x, t.item(), t_next.item(), score, process, g)
    z = torch.randn_like(x)
    noisy = process.mean_coefficient(t_next) * observed + process.sigma(t_next) * z
    return torch.where(mask, noisy, moved)


def mistaken(kind):
    def step(x, t, t_next, score, process, observed, mask, g):
        moved = ancestral_step(x, t, t_next, score, process, g)
        z = torch.randn(x.shape, generator=g, dtype=x.dtype)
        at = t if kind == "time t" else t_next
        noisy = process.mean_coefficient(at) * observed + process.sigma(at) * z
        if kind == "clean":
            noisy = observed
        if kind == "none":
            return moved
        if kind == "in place":
            x[:, mask] = noisy[:, mask]
            return x
        return torch.where(~mask if kind == "inverted" else mask, noisy, moved)

    return step


@pytest.mark.parametrize(
    "answer, message",
    [
        (inpainting.reference_inpainting_step, None),
        (written_out, None),
        (replacement_first_drawn, None),
        (by_hand_float_time, None),
        (tensor_time, None),
        (mistaken("none"), "nothing ties the image"),
        (mistaken("clean"), "clean observed pixels"),
        (mistaken("time t"), "step's start"),
        (mistaken("inverted"), "mask is False"),
        (mistaken("in place"), "in place"),
    ],
)
def test_inpainting_checker(answer, message):
    assert_feedback(ch07.check_inpainting_step, answer, message)


def right_noisy(p, t, tn, y, z):
    return p.mean_coefficient(tn) * y + p.sigma(tn) * z


# Wrong replacements, from the process p, the times t and tn, the observation y and the noise z.
WRONG_REPLACEMENTS = {
    "no noise": (lambda p, t, tn, y, z: p.mean_coefficient(tn) * y, "carry no noise"),
    "clean": (lambda p, t, tn, y, z: y + 0 * z, "clean observed pixels"),
    "alpha_bar": (lambda p, t, tn, y, z: p.alpha_bar(tn) * y + p.sigma(tn) * z, "not alpha_bar"),
    "variance": (
        lambda p, t, tn, y, z: p.mean_coefficient(tn) * y + p.sigma(tn) ** 2 * z,
        "its standard deviation, not",
    ),
    "mean at t": (
        lambda p, t, tn, y, z: p.mean_coefficient(t) * y + p.sigma(tn) * z,
        "mean coefficient at t,",
    ),
    "sigma at t": (
        lambda p, t, tn, y, z: p.mean_coefficient(tn) * y + p.sigma(t) * z,
        "noise of time t",
    ),
    "both at t": (
        lambda p, t, tn, y, z: p.mean_coefficient(t) * y + p.sigma(t) * z,
        "noised the observation to time t",
    ),
    "one minus root": (
        lambda p, t, tn, y, z: p.mean_coefficient(tn) * y + (1 - p.mean_coefficient(tn)) * z,
        "not 1 - sqrt",
    ),
    "no scaling": (lambda p, t, tn, y, z: y + p.sigma(tn) * z, "shrinks the data"),
    "divided": (
        lambda p, t, tn, y, z: y + p.sigma(tn) / p.mean_coefficient(tn) * z,
        "divided by sqrt",
    ),
}


def replacing(noisy, replacement_first):
    """The ancestral step, then the replacement ``noisy``, its noise drawn first or second."""

    def step(x, t, t_next, score, process, observed, mask, g):
        z = torch.randn(x.shape, generator=g, dtype=x.dtype) if replacement_first else None
        moved = ancestral_step(x, t, t_next, score, process, g)
        if z is None:
            z = torch.randn(x.shape, generator=g, dtype=x.dtype)
        return torch.where(mask, noisy(process, t, t_next, observed, z), moved)

    return step


@pytest.mark.parametrize("replacement_first", [False, True])
@pytest.mark.parametrize("kind", list(WRONG_REPLACEMENTS))
def test_wrong_replacements_are_named_whatever_the_order_of_the_draws(kind, replacement_first):
    noisy, message = WRONG_REPLACEMENTS[kind]
    assert_feedback(ch07.check_inpainting_step, replacing(noisy, replacement_first), message)


def test_unreplaced_and_inverted_are_named_whatever_the_order_of_the_draws():
    def unreplaced(x, t, t_next, score, process, observed, mask, g):
        torch.randn(x.shape, generator=g, dtype=x.dtype)  # drawn first, never used
        return ancestral_step(x, t, t_next, score, process, g)

    def inverted(x, t, t_next, score, process, observed, mask, g):
        z = torch.randn(x.shape, generator=g, dtype=x.dtype)
        moved = ancestral_step(x, t, t_next, score, process, g)
        return torch.where(~mask, right_noisy(process, t, t_next, observed, z), moved)

    assert_feedback(ch07.check_inpainting_step, unreplaced, "nothing ties the image")
    assert_feedback(ch07.check_inpainting_step, inverted, "mask is False")


def stepping(noise_variance, score_at_next=False):
    """(6.12) by hand, the step's fresh noise of ``noise_variance(beta_i, process, t, t')``
    (drawn first), then the replacement."""

    def step(x, t, t_next, score, process, observed, mask, g):
        ratio, beta = process.transition(t_next, t)
        spread = noise_variance(beta, process, t, t_next) ** 0.5
        s = score(x, t_next if score_at_next else t)
        moved = (x + beta * s) / ratio + spread * torch.randn(x.shape, generator=g, dtype=x.dtype)
        z = torch.randn(x.shape, generator=g, dtype=x.dtype)
        return torch.where(mask, right_noisy(process, t, t_next, observed, z), moved)

    return step


def posterior(beta, process, t, t_next):
    return beta * process.sigma(t_next) ** 2 / process.sigma(t) ** 2


@pytest.mark.parametrize(
    "step, message",
    [
        (stepping(posterior), None),
        (stepping(lambda beta, process, t, t_next: 0.0 * beta), "no fresh noise"),
        (stepping(lambda beta, process, t, t_next: beta), "DDPM's other choice"),
        (stepping(posterior, score_at_next=True), "the score's time"),
    ],
)
def test_the_ancestral_step_is_checked_too(step, message):
    assert_feedback(ch07.check_inpainting_step, step, message)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_reference_passes_the_statistical_test_for_five_seeds(seed):
    error, miss = inpainting._completion_error(inpainting.reference_inpainting_step, seed)
    low, high = inpainting.ACCEPT
    assert low < error < high and miss < 0.1


# ---- Exercise 7.3: a model without the largest levels ------------------------------------


@pytest.mark.parametrize(
    "answer, message",
    [("b", None), ("(B)", None), ("a", "steps"), ("c", "memorised"), ("d", "moving average")],
)
def test_truncated_model_checker(answer, message):
    assert_feedback(ch07.check_truncated_model, answer, message)
