"""Chapter 4 graders: the reference answers pass, each known mistake gets its hint, and the
statistical graders pass the reference solutions for several seeds."""

import math
import re

import pytest
import torch
from checker_helpers import assert_feedback, run_checker
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ebm_book import datasets, exercises, losses, nets, noise, sampling, training
from ebm_book.exercises import ch04_annealing as ch04


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            lambda hi, lo, n: lo * (hi / lo) ** torch.linspace(0, 1, n),
            "largest noise level comes first",
        ),
        (lambda hi, lo, n: torch.linspace(hi, lo, n), "constant ratio"),
        (lambda hi, lo, n: hi * (lo / hi) ** torch.linspace(0, 1, n + 1), r"shape \(5,\)"),
        (lambda hi, lo, n: hi * (lo / hi) ** torch.linspace(0, 1, n), None),
    ],
)
def test_geometric_sigmas_checker(answer, message):
    assert_feedback(exercises.check_geometric_sigmas, answer, message)


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            lambda x, s, a, b, z: x + (a**2 - b**2) / 2 * s(x, a) + (a**2 - b**2) ** 0.5 * z,
            "not half",
        ),
        (lambda x, s, a, b, z: x + (a - b) * s(x, a) + (a - b) ** 0.5 * z, r"\*squared\*"),
        (lambda x, s, a, b, z: x + (a**2 - b**2) * s(x, a), "forgot the noise"),
        (lambda x, s, a, b, z: x + (a**2 - b**2) * s(x, a) + (a**2 - b**2) ** 0.5 * z, None),
    ],
)
def test_reverse_diffusion_step_checker(answer, message):
    assert_feedback(exercises.check_reverse_diffusion_step, answer, message)


# ---- Exercise 4.1: when two modes merge -------------------------------------------------


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda h, s: math.sqrt(h**2 - s**2), None),
        (lambda h, s: math.sqrt((h - s) * (h + s)), None),  # the same, factored
        (lambda h, s: torch.tensor(h**2 - s**2).sqrt(), None),  # a 0-d tensor is a number
        (lambda h, s: math.sqrt(h**2 + s**2), "subtract"),
        (lambda h, s: h - s, "variances do"),
        (lambda h, s: h, "own width"),
        (lambda h, s: math.sqrt(4 * h**2 - s**2), r"\*half\*-distance"),
        (lambda h, s: h**2 - s**2, "return sigma"),
        (lambda h, s: math.sqrt((h**2 - s**2) / 2), "not 2 sigma"),
    ],
)
def test_merging_sigma_checker(answer, message):
    assert_feedback(ch04.check_merging_sigma, answer, message)


# ---- Exercise 4.2: the multi-noise loss ---------------------------------------------------


def loop_over_levels(model, x, sigmas, generator=None):
    """Every level for every point: the average over levels of (4.1), written out."""
    terms = []
    for sigma in sigmas:
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        terms.append(0.5 * ((sigma * model(x + sigma * z, sigma) + z) ** 2).sum(dim=1).mean())
    return torch.stack(terms).mean()


def one_level_per_batch(model, x, sigmas, generator=None):
    sigma = sigmas[torch.randint(len(sigmas), (1,), generator=generator)].item()
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    noisy = x + sigma * z
    return 0.5 * sigma**2 * ((model(noisy, sigma) + z / sigma) ** 2).sum(dim=1).mean()


def one_level_per_point(kind="right"):
    """The package's loss, written out, with one of the usual mistakes."""

    def loss(model, x, sigmas, generator=None):
        sigma = sigmas[torch.randint(len(sigmas), (x.shape[0],), generator=generator)][:, None]
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        noisy = {"clean point": x, "noise unscaled": x + z}.get(kind, x + sigma * z)
        scores = model(noisy, sigma[:, 0])
        squares = {
            "no weight": (scores + z / sigma) ** 2,
            "target z": sigma**2 * (scores + z) ** 2,
            "sign": (sigma * scores - z) ** 2,
        }.get(kind, (sigma * scores + z) ** 2)
        value = 0.5 * squares.sum(dim=1).mean()
        return {"twice": 2 * value, "detached": value.detach()}.get(kind, value)

    return loss


def without_sigma(model, x, sigmas, generator=None):
    sigma = sigmas[torch.randint(len(sigmas), (x.shape[0],), generator=generator)][:, None]
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return 0.5 * ((sigma * model(x + sigma * z) + z) ** 2).sum(dim=1).mean()


def smallest_level_only(model, x, sigmas, generator=None):
    return one_level_per_point()(model, x, sigmas[-1:], generator)


@pytest.mark.parametrize(
    "answer, message",
    [
        (losses.multi_noise_denoising_score_matching, None),
        (one_level_per_point(), None),
        (loop_over_levels, None),
        (one_level_per_batch, None),
        (one_level_per_point("no weight"), r"lambda\(sigma\) = sigma\^2 is missing"),
        (one_level_per_point("target z"), "not -z"),
        (one_level_per_point("sign"), "against the noise"),
        (one_level_per_point("clean point"), "noisy points"),
        (one_level_per_point("noise unscaled"), "scaled by its level"),
        (one_level_per_point("twice"), "factor 1/2"),
        (one_level_per_point("detached"), "not connected"),
        (without_sigma, "without the noise levels"),
        (smallest_level_only, "never used the level"),
    ],
)
def test_multi_noise_loss_checker(answer, message):
    assert_feedback(ch04.check_multi_noise_loss, answer, message)


@pytest.mark.parametrize("seed", range(5))
def test_multi_noise_loss_reference_passes_for_every_seed(seed):
    passed, out = run_checker(
        lambda loss: ch04.check_multi_noise_loss(loss, seed=seed),
        losses.multi_noise_denoising_score_matching,
    )
    assert passed, out


# ---- Exercise 4.4: annealed Langevin dynamics ----------------------------------------------


def annealed(kind="right"):
    """Annealed Langevin dynamics, right or with one of the usual mistakes."""

    def sampler(score, x0, sigmas, eps, n_steps_each, generator=None):
        x, levels = x0, (sigmas.flip(0) if kind == "smallest first" else sigmas)
        previous = sigmas[0]
        for sigma in levels:
            eps_i = eps if kind == "no scaling" else eps * (sigma / sigmas[-1]).item() ** 2
            at = {"previous level": previous, "smallest level": sigmas[-1]}.get(kind, sigma)
            for _ in range(n_steps_each):
                z = torch.randn(x.shape, generator=generator)
                drift = score(x, at)
                if kind == "noise sqrt(2 eps)":
                    x = x + eps_i / 2 * drift + math.sqrt(2 * eps_i) * z
                elif kind == "drift eps":
                    x = x + eps_i * drift + math.sqrt(eps_i) * z
                elif kind == "no noise":
                    x = x + eps_i / 2 * drift
                else:
                    x = x + eps_i / 2 * drift + math.sqrt(eps_i) * z
            previous = sigma
        if kind == "denoised":
            x = x + sigmas[-1] ** 2 * score(x, sigmas[-1])
        return x

    return sampler


def per_chain_levels(score, x0, sigmas, eps, n_steps_each, generator=None):
    """One level per chain, shape (N,), and the step written with eta = eps_i / 2."""
    x = x0.clone()
    for sigma in sigmas.tolist():
        eta = eps / 2 * sigma**2 / sigmas[-1].item() ** 2
        levels = torch.full((x.shape[0],), sigma)
        for _ in range(n_steps_each):
            noise = torch.randn(x.shape, generator=generator)
            x = x + eta * score(x, levels) + math.sqrt(2 * eta) * noise
    return x


def step_sizes_first(score, x0, sigmas, eps, n_steps_each, generator=None):
    """The step sizes computed up front, and float64 chains."""
    steps = eps * sigmas.double() ** 2 / sigmas[-1].double() ** 2
    x = x0.double()
    for sigma, eps_i in zip(sigmas, steps):
        for _ in range(n_steps_each):
            z = torch.randn(x.shape, generator=generator, dtype=torch.float64)
            x = x + 0.5 * eps_i * score(x, sigma) + eps_i.sqrt() * z
    return x


def in_place(score, x0, sigmas, eps, n_steps_each, generator=None):
    x = x0
    for sigma in sigmas:
        eps_i = eps * (sigma / sigmas[-1]).item() ** 2
        for _ in range(n_steps_each):
            x += eps_i / 2 * score(x, sigma) + math.sqrt(eps_i) * torch.randn(
                x.shape, generator=generator
            )
    return x


def level_index(score, x0, sigmas, eps, n_steps_each, generator=None):
    x = x0
    for i, sigma in enumerate(sigmas):
        eps_i = eps * (sigma / sigmas[-1]).item() ** 2
        for _ in range(n_steps_each):
            z = torch.randn(x.shape, generator=generator)
            x = x + eps_i / 2 * score(x, float(i + 1)) + math.sqrt(eps_i) * z
    return x


def reused_noise(score, x0, sigmas, eps, n_steps_each, generator=None):
    x, z = x0, torch.randn(x0.shape, generator=generator)
    for sigma in sigmas:
        eps_i = eps * (sigma / sigmas[-1]).item() ** 2
        for _ in range(n_steps_each):
            x = x + eps_i / 2 * score(x, sigma) + math.sqrt(eps_i) * z
    return x


@pytest.mark.parametrize(
    "answer, message",
    [
        (annealed(), None),
        (per_chain_levels, None),
        (step_sizes_first, None),
        (annealed("no scaling"), "freeze at the large levels"),
        (annealed("smallest first"), "starts at the smallest level"),
        (annealed("noise sqrt(2 eps)"), "twice the noise"),
        (annealed("drift eps"), "half as wide"),
        (annealed("no noise"), "never moved"),
        (annealed("previous level"), r"60 times at sigma = 2.4"),
        (annealed("smallest level"), "at the level of the step"),
        (annealed("denoised"), "final denoising step"),
        (level_index, "index"),
        (reused_noise, "reuse one noise draw"),
        (in_place, "in-place"),
    ],
)
def test_annealed_langevin_checker(answer, message):
    assert_feedback(ch04.check_annealed_langevin, answer, message)


@pytest.mark.parametrize("seed", range(1, 6))
def test_annealed_langevin_reference_passes_for_every_seed(seed):
    passed, out = run_checker(
        lambda sampler: ch04.check_annealed_langevin(sampler, seed=seed), annealed()
    )
    assert passed, out


# ---- Exercise 4.5: a run that went wrong ---------------------------------------------------


@pytest.mark.parametrize(
    "answer, message",
    [
        ("c", "merge only near sigma = 7"),
        ("(C)", "merge only near sigma = 7"),
        ("a", "grows exponentially"),
        ("b", "valley that the noise has"),
        ("d", "do see the weights"),
        ("e", "answer with one of"),
    ],
)
def test_stuck_weights_checker(answer, message):
    passed, out = run_checker(ch04.check_stuck_weights, answer)
    assert passed == (answer.strip("()").lower() == "c"), out
    assert re.search(message, out), out


# ---- Exercise 4.6: your own NCSN ----------------------------------------------------------


def trained_ncsn_samples(data_set, seed, n_steps=1500):
    """The solution of Exercise 4.6: train an NCSN, return its sampling function."""
    data = datasets.make(data_set, 5000, generator=torch.Generator().manual_seed(80 + seed))
    levels = noise.geometric_sigmas(noise.max_pairwise_distance(data), 0.05, 10)
    torch.manual_seed(81 + seed)
    network = nets.NoiseConditionalScoreMLP(dim=2, hidden=64, depth=3)
    average = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(0.99))
    training.train(
        network,
        lambda model, batch, g: losses.multi_noise_denoising_score_matching(
            model, batch, levels, g
        ),
        data,
        n_steps=n_steps,
        batch_size=256,
        lr=2e-3,
        seed=82 + seed,
        progress=False,
        averaged_model=average,
    )
    model, step = average.module.eval(), noise.ncsnv2_step_size(levels, 50)

    def samples(n, generator):
        start = levels[0] * torch.randn(n, 2, generator=generator)
        with torch.no_grad():
            return sampling.annealed_langevin(model, start, levels, step, 50, generator).samples

    return samples


@pytest.mark.parametrize("seed", range(5))
def test_ncsn_samples_reference_passes_for_every_seed(seed):
    passed, out = run_checker(
        lambda fn: ch04.check_ncsn_samples(fn, "rings", seed=seed),
        trained_ncsn_samples("rings", seed),
    )
    assert passed, out


def fresh(data_set, **options):
    return lambda n, generator: datasets.make(data_set, n, generator=generator, **options)


@pytest.mark.parametrize(
    "answer, data_set, options, message",
    [
        (fresh("two_moons"), "two_moons", {}, None),
        (fresh("swiss_roll"), datasets.swiss_roll, {}, None),  # the function, not its name
        (fresh("rings", noise=0.1), "rings", {"noise": 0.1}, None),  # with its options
        (lambda n, g: 3 * torch.randn(n, 2, generator=g), "two_moons", {}, "times as wide"),
        (lambda n, g: 0.05 * torch.randn(n, 2, generator=g), "spirals", {}, "cluster"),
        (fresh("two_moons"), "checkerboard", {}, r"times the floor"),
        (lambda n, g: torch.zeros(n, 3), "rings", {}, r"shape \(n, 2\)"),
        (lambda n, g: torch.full((n, 2), float("nan")), "rings", {}, "NaN"),
        (fresh("rings"), "circles", {}, "choose the data set by its name"),
    ],
)
def test_ncsn_samples_checker(answer, data_set, options, message):
    passed, out = run_checker(lambda fn: ch04.check_ncsn_samples(fn, data_set, **options), answer)
    assert passed == (message is None), out
    if message:
        assert re.search(message, out), out
