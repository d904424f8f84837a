"""Sample-quality metrics: zero (up to the finite-sample floor) for equal distributions, growing with a shift."""

import math

import pytest
import torch

from ebm_book.metrics import fisher_divergence, mmd, mode_weights, sliced_wasserstein
from ebm_book.mixtures import GaussianMixture


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def test_unbiased_mmd_is_zero_in_expectation_for_equal_distributions():
    g = seeded()
    values = torch.tensor(
        [mmd(torch.randn(300, 2, generator=g), torch.randn(300, 2, generator=g)) for _ in range(40)]
    )
    se = values.std().item() / math.sqrt(len(values))
    assert abs(values.mean().item()) < 4 * se
    shifted = mmd(torch.randn(300, 2, generator=g), torch.randn(300, 2, generator=g) + 0.5)
    assert shifted > 10 * values.std().item()  # a half-sd shift is far above the noise


def test_mmd_grows_with_the_shift_and_matches_its_closed_form():
    g = seeded(1)
    x = torch.randn(1000, 2, generator=g)
    y = torch.randn(1000, 2, generator=g)
    values = [mmd(x, y + shift, bandwidth=1.0) for shift in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert values == sorted(values)
    # Closed form for N(0, I) vs N(delta, I) in d = 2 with h = 1:
    # MMD^2 = 2 (h^2 / (h^2 + 2))^(d/2) (1 - exp(-|delta|^2 / (2 (h^2 + 2)))), here |delta|^2 = 2.
    expected = 2 * (1 / 3) * (1 - math.exp(-2.0 / 6))
    repeats = torch.tensor(
        [
            mmd(
                torch.randn(400, 2, generator=g),
                torch.randn(400, 2, generator=g) + 1.0,
                bandwidth=1.0,
            )
            for _ in range(20)
        ]
    )
    se = repeats.std().item() / math.sqrt(len(repeats))
    assert abs(repeats.mean().item() - expected) < 4 * se


def test_sliced_wasserstein_floor_and_shift():
    g = seeded(2)
    x, y = torch.randn(4000, 2, generator=g), torch.randn(4000, 2, generator=g)
    floor = sliced_wasserstein(x, y, generator=g)
    assert floor < 0.05
    shifted = sliced_wasserstein(x, y + torch.tensor([3.0, 4.0]), generator=g)
    assert shifted == pytest.approx(
        5 / math.sqrt(2), rel=0.03
    )  # E (theta . delta)^2 = |delta|^2 / d


def test_sliced_wasserstein_handles_unequal_sizes():
    g = seeded(3)
    value = sliced_wasserstein(
        torch.randn(3000, 2, generator=g), torch.randn(1000, 2, generator=g) + 1.0, generator=g
    )
    assert value == pytest.approx(1.0, rel=0.08)  # |delta| / sqrt(2) with delta = (1, 1)


def test_mode_weights_with_standard_errors():
    mixture = GaussianMixture([[-5.0, -5.0], [5.0, 5.0], [5.0, -5.0]], weights=[0.2, 0.5, 0.3])
    n = 20_000
    weights, se = mode_weights(mixture.sample(n, generator=seeded(4)), mixture)
    torch.testing.assert_close(se, torch.sqrt(weights * (1 - weights) / n))
    assert (
        torch.abs(weights - torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)) < 4.5 * se
    ).all()


def test_fisher_divergence_of_known_scores():
    x = torch.randn(500, 2, generator=seeded(5))
    assert fisher_divergence(lambda x: -x, lambda x: -x, x) == 0.0
    value = fisher_divergence(lambda x: -x, lambda x: -2 * x, x)
    assert value == pytest.approx((x**2).sum(1).mean().item(), rel=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mmd(torch.zeros(5, 2), torch.zeros(5, 3)), r"y must have shape \(N, 2\)"),
        (lambda: mmd(torch.zeros(1, 2), torch.zeros(5, 2)), "at least 2 points"),
        (
            lambda: mmd(torch.randn(5, 2), torch.randn(5, 2), bandwidth=0.0),
            "bandwidth must be a positive",
        ),
        (
            lambda: sliced_wasserstein(torch.zeros(5, 2), torch.zeros(5, 2), n_projections=0),
            "n_projections",
        ),
        (
            lambda: fisher_divergence(lambda x: x, lambda x: x[:, 0], torch.zeros(3, 2)),
            r"score_b must map x of shape \(3, 2\).*got shape \(3,\)",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
