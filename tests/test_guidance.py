"""Classifier-free guidance: a sum of scores, and what it does to a class."""

import math

import torch

from ebm_book import flow
from ebm_book.guidance import classifier_free_guidance
from ebm_book.metrics import mode_weights
from ebm_book.mixtures import GaussianMixture
from ebm_book.processes import VariancePreserving
from ebm_book.score import score_from_energy

LABELLED = GaussianMixture([[-1.0, 0.0], [1.0, 0.0]], 0.5, [0.5, 0.5])  # two overlapping classes
CLASS_1 = GaussianMixture([[1.0, 0.0]], 0.5)
VP = VariancePreserving()


def test_guidance_is_the_score_of_a_product_of_distributions():
    """(1 + w) s(x | c) - w s(x) is the gradient of log p_t(x | c)^(1+w) p_t(x)^(-w)."""
    conditional, unconditional = (
        VP.time_score(CLASS_1.noisy_score),
        VP.time_score(LABELLED.noisy_score),
    )
    x = torch.randn(30, 2, generator=torch.Generator().manual_seed(0))
    t = torch.full((30,), 0.3)
    p_c, p = VP.marginal(CLASS_1, 0.3), VP.marginal(LABELLED, 0.3)
    for w in (0.0, 1.0, 4.0):
        guided = classifier_free_guidance(conditional, unconditional, w)(x, t)

        def energy(y, w=w):
            return -((1 + w) * p_c.log_prob(y) - w * p.log_prob(y))

        torch.testing.assert_close(guided, score_from_energy(energy, x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        classifier_free_guidance(conditional, unconditional, 0)(x, t), conditional(x, t)
    )


def test_guidance_sharpens_the_class_and_lowers_the_diversity():
    """Sampled with the exact scores, more guidance: more samples that the classifier gives
    to class 1 and a smaller spread, each by more than 4.5 standard errors of the difference
    (binomial for the fractions, sd sqrt(2 / n) relative for the variances)."""
    n = 2000
    start = VP.prior_sample(n, 2, torch.Generator().manual_seed(1))
    conditional, unconditional = (
        VP.time_score(CLASS_1.noisy_score),
        VP.time_score(LABELLED.noisy_score),
    )
    fractions, variances = [], []
    for w in (0.0, 3.0):
        score = classifier_free_guidance(conditional, unconditional, w)
        x = flow.heun(score, VP, start, 30).samples
        fractions.append(mode_weights(x, LABELLED)[0][1].item())
        variances.append(x[:, 0].var().item())
    fraction_se = math.sqrt(sum(f * (1 - f) for f in fractions) / n)
    assert fractions[1] - fractions[0] > 4.5 * fraction_se, fractions
    variance_se = math.sqrt(2 / n) * math.hypot(*variances)
    assert variances[0] - variances[1] > 4.5 * variance_se, variances
