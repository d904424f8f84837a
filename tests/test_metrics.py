"""Sample-quality metrics: zero (up to the finite-sample floor) for equal distributions, growing with a shift."""

import math
from functools import cache

import pytest
import scipy.linalg
import torch

from ebm_book import datasets
from ebm_book.metrics import (
    LogisticClassifier,
    class_coverage,
    class_histogram,
    fisher_divergence,
    frechet_distance,
    gaussian_frechet_distance,
    mmd,
    mode_weights,
    nearest_neighbours,
    sample_quality,
    sliced_wasserstein,
)
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


# --- Frechet distance ---------------------------------------------------------------------------


def random_covariance(d, g):
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T + 0.1 * torch.eye(d, dtype=torch.float64)


def test_gaussian_frechet_distance_matches_its_closed_forms():
    # 1-D: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2
    assert gaussian_frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]) == pytest.approx(9 + 1)
    # commuting (diagonal) covariances: sum of (sqrt(a_i) - sqrt(b_i))^2
    value = gaussian_frechet_distance(
        [0.0, 0.0], [[1.0, 0], [0, 4.0]], [1.0, 1.0], [[9.0, 0], [0, 1.0]]
    )
    assert value == pytest.approx(2 + (1 - 3) ** 2 + (2 - 1) ** 2)
    # general covariances: the formula with scipy's matrix square root, and symmetric in a, b
    g = seeded(6)
    mean_a, mean_b = (
        torch.randn(5, generator=g, dtype=torch.float64),
        torch.randn(5, generator=g, dtype=torch.float64),
    )
    cov_a, cov_b = random_covariance(5, g), random_covariance(5, g)
    root = scipy.linalg.sqrtm(cov_a.numpy())
    cross = scipy.linalg.sqrtm(root @ cov_b.numpy() @ root).real
    expected = ((mean_a - mean_b) ** 2).sum().item() + float(
        torch.trace(cov_a + cov_b).item() - 2 * cross.trace()
    )
    assert gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(
        expected, rel=1e-10
    )
    assert gaussian_frechet_distance(mean_b, cov_b, mean_a, cov_a) == pytest.approx(
        expected, rel=1e-10
    )
    assert gaussian_frechet_distance(mean_a, cov_a, mean_a, cov_a) == pytest.approx(0.0, abs=1e-10)


def with_moments(z, mean, cov):
    """Points whose sample mean and (unbiased) sample covariance are exactly mean and cov."""
    centred = z - z.mean(0)
    whitening = torch.linalg.cholesky(torch.cov(centred.T))
    white = torch.linalg.solve_triangular(whitening, centred.T, upper=False).T  # sample cov I
    return mean + white @ torch.linalg.cholesky(cov).T


def test_frechet_distance_of_two_sets_is_that_of_their_fitted_gaussians():
    g = seeded(7)
    d = 4
    mean_a, mean_b = (
        torch.randn(d, generator=g, dtype=torch.float64),
        torch.randn(d, generator=g, dtype=torch.float64),
    )
    cov_a, cov_b = random_covariance(d, g), random_covariance(d, g)
    # any points (here uniform, far from Gaussian) with these sample moments
    x = with_moments(torch.rand(300, d, generator=g, dtype=torch.float64), mean_a, cov_a)
    y = with_moments(torch.rand(200, d, generator=g, dtype=torch.float64), mean_b, cov_b)
    expected = gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b)
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-9)
    # and a set against itself gives 0, in 64 dimensions too
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    digits = datasets.digits("test").x
    assert frechet_distance(digits, digits) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_samples_converges_to_the_closed_form():
    # Samples of N(mu_a, I) and N(mu_b, 4 I) in d = 2: FD = |mu_a - mu_b|^2 + 2 (1 - 2)^2 = 5 + 2.
    # The estimate's bias is O(d / n) = 1e-4 here, far below its standard error; 30 repeats
    # give the standard error of their mean.
    g = seeded(8)
    values = torch.tensor(
        [
            frechet_distance(
                torch.randn(4000, 2, generator=g),
                2 * torch.randn(4000, 2, generator=g) + torch.tensor([1.0, 2.0]),
            )
            for _ in range(30)
        ]
    )
    se = values.std().item() / math.sqrt(len(values))
    assert abs(values.mean().item() - 7.0) < 4 * se


# --- nearest neighbours -----------------------------------------------------------------------


def test_nearest_neighbours_agree_with_brute_force_and_find_exact_copies():
    g = seeded(9)
    reference = 100 + torch.randn(2000, 64, generator=g)  # large values: exact distances matter
    copies = torch.randperm(2000, generator=g)[:50]
    x = torch.cat([reference[copies], 100 + torch.randn(3000, 64, generator=g)])
    found = nearest_neighbours(x, reference)  # several blocks of rows
    assert torch.equal(found.distances[:50], torch.zeros(50))  # copies are at distance 0
    assert torch.equal(found.indices[:50], copies)
    brute = torch.cdist(
        x[50:].double(), reference.double(), compute_mode="donot_use_mm_for_euclid_dist"
    )
    torch.testing.assert_close(
        found.distances[50:].double(), brute.min(1).values, rtol=1e-6, atol=0
    )
    assert torch.equal(found.indices[50:], brute.argmin(1))


# --- classes ----------------------------------------------------------------------------------


def test_class_histogram_and_its_standard_errors():
    labels = torch.tensor([0] * 5 + [1] * 3 + [3] * 2)
    weights, se = class_histogram(labels, 4)
    assert weights.tolist() == [0.5, 0.3, 0.0, 0.2]
    torch.testing.assert_close(se, torch.sqrt(weights * (1 - weights) / 10))


def test_class_coverage_is_the_effective_number_of_classes_over_k():
    assert class_coverage(torch.arange(10).repeat(7), 10) == pytest.approx(1.0, abs=1e-12)
    assert class_coverage(torch.full((50,), 4), 10) == pytest.approx(0.1, abs=1e-12)
    assert class_coverage(torch.tensor([1, 2, 3] * 4), 6) == pytest.approx(0.5, abs=1e-12)
    # shares (1/2, 1/4, 1/4): H = 1.5 log 2, exp(H) = 2^1.5
    assert class_coverage(torch.tensor([0, 0, 1, 2]), 3) == pytest.approx(2**1.5 / 3, rel=1e-12)


@cache
def digit_classifier():
    return LogisticClassifier(*datasets.digits("train"))


def test_logistic_classifier_finds_the_bayes_log_odds_of_two_gaussians():
    # Classes N(-1, 1) and N(1, 1), equally likely: the true log-odds are 2 x. With almost no
    # penalty the fitted slope is the maximum-likelihood estimate, whose standard error is
    # 1 / sqrt(sum_i p_i (1 - p_i) x_i^2) (the intercept, near 0, is nearly uncorrelated).
    g = seeded(10)
    n = 5000
    labels = torch.cat([torch.zeros(n, dtype=torch.int64), torch.ones(n, dtype=torch.int64)])
    x = torch.randn(2 * n, 1, generator=g, dtype=torch.float64) + 2 * labels[:, None] - 1
    classifier = LogisticClassifier(x, labels, regularization=1e-8)
    grid = torch.tensor([[-1.0], [0.0], [1.0]], dtype=torch.float64)
    p = classifier.probabilities(grid)
    slope = (torch.log(p[2, 1] / p[2, 0]) - torch.log(p[0, 1] / p[0, 0])).item() / 2
    p_data = classifier.probabilities(x)[:, 1]
    se = 1 / math.sqrt((p_data * (1 - p_data) * x[:, 0] ** 2).sum().item())
    assert abs(slope - 2.0) < 4 * se
    torch.testing.assert_close(p.sum(1), torch.ones(3, dtype=torch.float64))
    assert p.dtype == torch.float64


def test_digit_classifier_is_accurate_and_consistent():
    classifier = digit_classifier()
    x_test, labels_test = datasets.digits("test")
    # about 98%; 4 binomial standard errors (sqrt(0.02 * 0.98 / 359) = 0.0074) below is 0.95
    assert classifier.accuracy(x_test, labels_test) > 0.95
    logits, p = classifier.logits(x_test), classifier.probabilities(x_test)
    assert logits.shape == (359, 10) and logits.dtype == torch.float32
    torch.testing.assert_close(
        p, torch.softmax(logits, dim=1)
    )  # probabilities are the softmax of the logits
    assert torch.equal(classifier.predict(x_test), p.argmax(1))
    torch.testing.assert_close(classifier.confidence(x_test), p.max(1).values)


def test_sample_quality_tells_real_digits_from_collapsed_noisy_or_ghostly_ones():
    classifier = digit_classifier()
    (x, labels), (x_test, _) = datasets.digits("train"), datasets.digits("test")
    real = sample_quality(x, classifier, x_test)
    assert real.coverage > 0.99 and real.confident > 0.8
    collapsed = sample_quality(x[:1].repeat(300, 1), classifier, x_test)  # one image, 300 times
    assert collapsed.coverage == pytest.approx(0.1, abs=1e-12)
    assert collapsed.frechet > 10 * real.frechet
    # Pixel noise barely shakes a linear classifier's confidence, but moves its logits' spread.
    noisy = x[:300] + 0.8 * torch.randn(300, 64, generator=seeded(11))
    assert sample_quality(noisy, classifier, x_test).frechet > 10 * real.frechet
    # Two digits overlaid (mostly of different classes) are classified without confidence.
    ghosts = (x[:300] + x[1:301]) / 2
    assert (labels[:300] != labels[1:301]).float().mean() > 0.8
    assert sample_quality(ghosts, classifier, x_test).confident < real.confident / 2


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
