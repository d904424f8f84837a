"""Malformed calls, as a new reader makes them: each fails at once with a message that
names the argument and what was received. And the conveniences that are accepted
(float64 input, int step sizes, lists of sigmas) give the same result as the canonical call.
"""

from __future__ import annotations

import io
import math
from contextlib import redirect_stdout

import matplotlib.pyplot as plt
import pytest
import torch

import ebm_book
from ebm_book import (
    _chains,
    claims,
    contrastive,
    datasets,
    ddpm,
    diffusion,
    display,
    energies,
    examples,
    exercises,
    flow,
    guidance,
    losses,
    metrics,
    mixtures,
    nets,
    noise,
    partition,
    plotting,
    processes,
    sampling,
    score,
    seeds,
    training,
)
from ebm_book._validation import require_vector_field
from ebm_book.sampling import DivergenceError

NAN, INF = float("nan"), float("inf")
X = torch.tensor([[0.5, -1.0], [1.0, 0.0], [-0.5, 0.25], [2.0, 1.0]])
X_NAN = X.clone()
X_NAN[2, 1] = NAN
X_INF = X.clone()
X_INF[1, 0] = INF
SIGMAS = torch.tensor([1.0, 0.5, 0.1])
MIXTURE = examples.example_mixture()
GAUSSIAN = energies.Gaussian([0.0, 0.0])
VP = processes.VariancePreserving()
TIME_SCORE = VP.time_score(MIXTURE.noisy_score)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def square_loss(model, batch, generator):
    return model(batch).pow(2).mean()


def case(call, error, message, id):
    return pytest.param(call, error, message, id=id)


BAD_CALLS = [
    # --- energies -------------------------------------------------------------------------
    case(lambda: MIXTURE.energy(X_NAN), ValueError, r"x contains NaN or inf in 1 of its 4 rows \(the first is row 2: \[-0.5, nan\]\)", "energies: energy of NaN points"),
    case(lambda: MIXTURE.score(X_INF), ValueError, r"x contains NaN or inf .* row 1: \[inf, 0.0\]", "energies: score of inf points"),
    case(lambda: MIXTURE.energy(torch.zeros(0, 2)), ValueError, r"x is empty \(shape \(0, 2\)\)", "energies: energy of no points"),
    case(lambda: MIXTURE.energy(torch.zeros(3, 2, dtype=torch.int64)), ValueError, r"x must be a floating-point tensor; got dtype torch.int64", "energies: integer points"),
    case(lambda: MIXTURE.energy([[0.0, 0.0]]), TypeError, r"x must be a torch.Tensor of shape \(N, d\); got list", "energies: a list of points"),
    case(lambda: MIXTURE.score(X, temperature="1"), TypeError, r"temperature must be a positive number; got the str '1'", "energies: a string temperature"),
    case(lambda: MIXTURE.score(X, torch.ones(4)), ValueError, r"temperature must be one number; got a tensor of shape \(4,\).*noisy_score", "energies: score(x, sigma) on an energy"),
    case(lambda: energies.Gaussian([NAN, 0.0]), ValueError, r"mean must be finite; got \[nan, 0.0\]", "energies: NaN mean"),
    case(lambda: energies.Gaussian("ab"), TypeError, r"mean must be numbers .*got 'ab'", "energies: string mean"),
    case(lambda: energies.Gaussian([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]]), ValueError, r"cov must be symmetric; got \[\[1.0, 0.5\], \[0.0, 1.0\]\]", "energies: asymmetric covariance"),
    case(lambda: energies.Gaussian([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]]), ValueError, r"cov must be positive definite .*eigenvalues are \[-1.0, 3.0\]", "energies: indefinite covariance"),
    case(lambda: energies.Gaussian([0.0]).sample(1e3), TypeError, r"n must be an integer; got the float 1000.0 \(write 1000\)", "energies: a float count"),
    case(lambda: energies.Gaussian([0.0]).sample(10, generator=0), TypeError, r"generator must be a torch.Generator or None; got the int 0.*seeds.generator\(0\)", "energies: an int seed as generator"),
    case(lambda: mixtures.GaussianMixture([[0.0], [1.0]], weights=[1.0, NAN]), ValueError, r"weights must be finite; got \[1.0, nan\]", "mixtures: NaN weight"),
    case(lambda: mixtures.GaussianMixture([[0.0], [1.0]], covs=[1.0, 0.0]), ValueError, r"covs must be 2 positive variances; got \[1.0, 0.0\]", "mixtures: zero variance"),
    case(lambda: mixtures.GaussianMixture(torch.zeros(0, 2)), ValueError, r"means must have shape \(K, d\).*got shape \(0, 2\)", "mixtures: no components"),
    case(lambda: MIXTURE.perturbed(torch.ones(5)), ValueError, r"sigma must be a non-negative number; got a tensor of 5 values, shape \(5,\)", "energies: batch of sigmas to perturbed"),
    case(lambda: MIXTURE.perturbed(NAN), ValueError, r"sigma must be a non-negative number; got nan", "energies: NaN sigma to perturbed"),
    case(lambda: MIXTURE.noisy_score(X, torch.tensor([1.0, -1.0, 1.0, 1.0])), ValueError, r"sigma must be a non-negative, finite noise level .*got 1 value that is not: \[-1.0\] at index \[1\]", "energies: negative noise level"),
    case(lambda: MIXTURE.noisy_score(X, torch.ones(3)), ValueError, r"sigma must be one noise level or one per point, shape \(4,\); got shape \(3,\)", "energies: wrong number of noise levels"),
    case(lambda: energies.DoubleWell(tilt=NAN), ValueError, r"tilt must be a finite number; got nan", "energies: NaN tilt"),
    case(lambda: energies.Banana(curvature=NAN), ValueError, r"curvature must be a finite number; got nan", "energies: NaN curvature"),
    case(lambda: energies.Banana(scale=INF), ValueError, r"scale must be a positive number; got inf", "energies: infinite scale"),
    case(lambda: examples.grid_of_gaussians(3.0), TypeError, r"n_per_side must be an integer; got the float 3.0", "examples: float grid size"),
    # --- partition ------------------------------------------------------------------------
    case(lambda: partition.PartitionEstimate(0.0).relative_error(0), ValueError, r"true_value must be a positive number; got 0", "partition: relative error against Z = 0"),
    case(lambda: partition.PartitionEstimate(NAN), ValueError, r"log_value must be a finite number; got nan", "partition: NaN estimate"),
    case(lambda: partition.tensor_grid([(0, 1)], 3, dtype=torch.int64), TypeError, r"dtype must be a floating-point torch.dtype; got torch.int64", "partition: integer grid"),
    case(lambda: partition.quadrature_partition(MIXTURE, [(NAN, 1.0), (0.0, 1.0)]), ValueError, r"bounds\[0\] must be a finite number; got nan", "partition: NaN bound"),
    case(lambda: partition.quadrature_partition(MIXTURE, [(0, 1)] * 2, 10.0), TypeError, r"n_per_axis must be an integer; got the float 10.0", "partition: float grid count"),
    case(lambda: partition.quadrature_partition(lambda x: x.numpy().sum(1), [(0, 1)]), TypeError, r"energy must return a torch.Tensor of shape \(101,\); got ndarray", "partition: energy returning NumPy"),
    case(lambda: partition.quadrature_partition(lambda x: torch.full((len(x),), -INF), [(0, 1)]), ValueError, r"energy returned NaN or -inf at 101 of the 101 points \(the first is x = \[0.0\]\)", "partition: energy of -inf"),
    case(lambda: partition.quadrature_partition(lambda x: torch.full((len(x),), INF), [(0, 1)]), ValueError, r"every grid point has zero weight .*box \[\(0.0, 1.0\)\]", "partition: energy of +inf everywhere"),
    case(lambda: partition.monte_carlo_partition(MIXTURE, [(0, 1)] * 2, 1), ValueError, r"n_samples must be an integer >= 2; got 1", "partition: one Monte Carlo sample"),
    case(lambda: partition.importance_sampling_partition(MIXTURE, torch.zeros(2)), TypeError, r"proposal must have the methods sample\(n, generator=...\) and log_prob\(x\).*got Tensor", "partition: a tensor as proposal"),
    case(lambda: partition.importance_sampling_partition(MIXTURE, energies.Gaussian([0.0] * 3), 10), ValueError, r"proposal.sample\(n\) must have shape \(N, 2\).*got shape \(10, 3\)", "partition: proposal of the wrong dimension"),
    case(lambda: partition.annealed_importance_sampling(MIXTURE, GAUSSIAN, 10, 0), ValueError, r"n_levels must be a positive integer; got 0", "partition: AIS without levels"),
    case(lambda: partition.annealed_importance_sampling(MIXTURE, "q"), TypeError, r"proposal must have the methods sample\(n, generator=...\) and log_prob\(x\).*got str", "partition: a string as AIS proposal"),
    case(lambda: partition.annealed_importance_sampling(MIXTURE, GAUSSIAN, 10, 5, step_size=NAN), ValueError, r"step_size must be a positive number; got nan", "partition: NaN AIS step"),
    case(lambda: partition.grid_log_likelihood(MIXTURE, torch.zeros(3, 3), [(-5, 5)] * 2), ValueError, r"x must have shape \(N, 2\).*got shape \(3, 3\)", "partition: log-likelihood of 3-D points on a 2-D grid"),
    case(lambda: partition.grid_log_likelihood(MIXTURE, torch.full((2, 2), 6.0), [(-5, 5)] * 2), ValueError, r"x has 2 of its 2 points outside the box .*\[6.0, 6.0\]\); .*enlarge bounds", "partition: log-likelihood outside the box"),
    case(lambda: partition.grid_sample(MIXTURE, 10.0, [(-5, 5)] * 2), TypeError, r"n must be an integer; got the float 10.0 \(write 10\)", "partition: float number of grid samples"),
    case(lambda: partition.grid_sample(MIXTURE, 10, [(-5, 5)] * 2, generator=1), TypeError, r"generator must be a torch.Generator or None; got the int 1", "partition: int seed to grid sampling"),
    # --- score ----------------------------------------------------------------------------
    case(lambda: score.score_from_energy(lambda x: torch.zeros(len(x)), X), ValueError, r"energy does not depend on x", "score: energy without a gradient"),
    case(lambda: score.score_from_energy(lambda x: x.sum(1) * NAN, X), ValueError, r"energy returned NaN or -inf at 4 of the 4 points \(the first is x = \[0.5, -1.0\]\)", "score: NaN energy"),
    case(lambda: score.score_from_energy(X, X), TypeError, r"energy must be a function called as energy\(x\); got Tensor", "score: a tensor as energy"),
    case(lambda: score.jacobian_trace(lambda x: x * NAN, X), ValueError, r"fn returned NaN or inf at 4 of the 4 points", "score: NaN vector field"),
    case(lambda: score.jacobian_trace(lambda x: torch.zeros_like(x), X), ValueError, r"fn does not depend on x", "score: constant vector field"),
    case(lambda: score.hutchinson_trace(lambda x: x, X, n_probes=0), ValueError, r"n_probes must be a positive integer; got 0", "score: no probes"),
    case(lambda: score.hutchinson_trace(lambda x: x, X, generator=1), TypeError, r"generator must be a torch.Generator or None; got the int 1", "score: int generator for probes"),
    # --- sampling -------------------------------------------------------------------------
    case(lambda: sampling.langevin(lambda x: -x, X_NAN, 0.1, 10), ValueError, r"x0 contains NaN or inf in 1 of its 4 rows \(the first is row 2", "sampling: NaN start points"),
    case(lambda: sampling.langevin(lambda x: -x, torch.zeros(0, 2), 0.1, 10), ValueError, r"x0 is empty \(shape \(0, 2\)\)", "sampling: no chains"),
    case(lambda: sampling.langevin(lambda x: x * NAN, X, 0.1, 10), ValueError, r"score returned NaN or inf at 4 of the 4 points \(the first is x = \[0.5, -1.0\]\)", "sampling: NaN score at the start"),
    case(lambda: sampling.langevin(lambda x: (-x).tolist(), X, 0.1, 10), TypeError, r"score must return a torch.Tensor of shape \(4, 2\); got list", "sampling: score returning a list"),
    case(lambda: sampling.langevin(lambda x, sigma: -x, X, 0.1, 10), TypeError, r"score is called as score\(x\), but the function passed takes \(x, sigma\)", "sampling: s(x, sigma) to langevin"),
    case(lambda: sampling.langevin(lambda x: -x, X, "0.1", 10), TypeError, r"step_size must be a positive number; got the str '0.1'", "sampling: string step size"),
    case(lambda: sampling.langevin(lambda x: -x, X, 0.1, 10.0), TypeError, r"n_steps must be an integer; got the float 10.0", "sampling: float step count"),
    case(lambda: sampling.langevin(lambda x: -x, X, 0.1, 10, generator=0), TypeError, r"generator must be a torch.Generator or None; got the int 0", "sampling: int seed to langevin"),
    case(lambda: sampling.langevin(lambda x: -x, X, 0.1, 10, record_every=0), ValueError, r"record_every must be a positive integer; got 0", "sampling: record every 0 steps"),
    case(lambda: sampling.mala(lambda x: x.sum(), X, 0.1, 10, score=lambda x: -x), ValueError, r"energy must return a tensor of shape \(4,\), one value per point; got shape \(\)", "sampling: scalar energy to MALA"),
    case(lambda: sampling.mala(lambda x: x.sum(1) * NAN, X, 0.1, 10, score=lambda x: -x), ValueError, r"energy returned NaN or -inf at 4 of the 4 points", "sampling: NaN energy to MALA"),
    case(lambda: sampling.mala(lambda x: x[:, :1], X, 0.1, 10, score=lambda x: -x), ValueError, r"energy must return a tensor of shape \(4,\).*got shape \(4, 1\)", "sampling: (N, 1) energy to MALA"),
    case(lambda: sampling.mala(lambda x: torch.zeros(len(x)), X, 0.1, 10), ValueError, r"energy does not depend on x", "sampling: MALA energy without gradient"),
    case(lambda: sampling.annealed_langevin(lambda x: -x, X, SIGMAS, 0.01, 5), TypeError, r"score is called as score\(x, sigma\), but the function passed takes \(x\)", "sampling: s(x) to annealed Langevin"),
    case(lambda: sampling.annealed_langevin(lambda x, s: -x, X, [0.5, 1.0], 0.01, 5), ValueError, r"sigmas must be strictly decreasing .*got \[0.5, 1.0\]", "sampling: increasing sigmas"),
    case(lambda: sampling.annealed_langevin(lambda x, s: -x, X, "abc", 0.01, 5), TypeError, r"sigmas must be a 1-D tensor or list of noise levels; got 'abc'", "sampling: string sigmas"),
    case(lambda: sampling.reverse_diffusion(lambda x: -x, X, SIGMAS), TypeError, r"score is called as score\(x, sigma\)", "sampling: s(x) to the reverse SDE"),
    case(lambda: sampling.probability_flow(lambda x, s: -x, X_INF, SIGMAS), ValueError, r"x0 contains NaN or inf", "sampling: inf start of the ODE"),
    # --- metrics --------------------------------------------------------------------------
    case(lambda: metrics.mmd(X, X, max_points=0), ValueError, r"max_points must be an integer >= 2; got 0", "metrics: MMD of no points"),
    case(lambda: metrics.mmd(X_NAN, X), ValueError, r"x contains NaN or inf", "metrics: MMD of NaN samples"),
    case(lambda: metrics.mmd(X, torch.zeros(5, 3)), ValueError, r"y must have shape \(N, 2\).*got shape \(5, 3\)", "metrics: MMD across dimensions"),
    case(lambda: metrics.mmd(X[:1], X), ValueError, r"x and y need at least 2 points each; got shapes \(1, 2\) and \(4, 2\)", "metrics: MMD of one point"),
    case(lambda: metrics.sliced_wasserstein(X, X_INF), ValueError, r"y contains NaN or inf in 1 of its 4 rows", "metrics: SW of inf samples"),
    case(lambda: metrics.sliced_wasserstein(X, X, generator=0), TypeError, r"generator must be a torch.Generator or None; got the int 0", "metrics: int seed to SW"),
    case(lambda: metrics.mode_weights(torch.zeros(0, 2), MIXTURE), ValueError, r"samples is empty \(shape \(0, 2\)\)", "metrics: mode weights of nothing"),
    case(lambda: metrics.mode_weights(X, energies.Ring()), TypeError, r"mixture must be an ebm_book.mixtures.GaussianMixture.*got Ring", "metrics: mode weights of a ring"),
    case(lambda: metrics.fisher_divergence(lambda x: x, lambda x: x, torch.zeros(0, 2)), ValueError, r"x is empty", "metrics: Fisher divergence of nothing"),
    case(lambda: metrics.fisher_divergence(lambda x: x * NAN, lambda x: x, X), ValueError, r"score_a returned NaN or inf at 4 of the 4 points", "metrics: NaN score_a"),
    case(lambda: metrics.fisher_divergence(lambda x: x, lambda x: x[:, 0], X), ValueError, r"score_b must map x of shape \(4, 2\).*got shape \(4,\)", "metrics: score_b of the wrong shape"),
    case(lambda: metrics.frechet_distance(X, torch.zeros(5, 3)), ValueError, r"y must have shape \(N, 2\).*got shape \(5, 3\)", "metrics: Frechet distance across dimensions"),
    case(lambda: metrics.frechet_distance(X[:1], X), ValueError, r"x and y need at least 2 points each; got shapes \(1, 2\) and \(4, 2\)", "metrics: Frechet distance of one point"),
    case(lambda: metrics.gaussian_frechet_distance([0.0, 0.0], [[1.0]], [0.0, 0.0], torch.eye(2)), ValueError, r"mean_a must have shape \(d,\) and cov_a shape \(d, d\); got shapes \(2,\) and \(1, 1\)", "metrics: mean and covariance of different sizes"),
    case(lambda: metrics.gaussian_frechet_distance([0.0], [[-1.0]], [0.0], [[1.0]]), ValueError, r"cov_a must be positive definite .*eigenvalues are \[-1.0\]", "metrics: a negative variance"),
    case(lambda: metrics.gaussian_frechet_distance([0.0], [[1.0]], [0.0, 1.0], torch.eye(2)), ValueError, r"the two Gaussians must have the same dimension; got 1 and 2", "metrics: Gaussians of two dimensions"),
    case(lambda: metrics.nearest_neighbours(X, torch.zeros(3, 3)), ValueError, r"reference must have shape \(N, 2\).*got shape \(3, 3\)", "metrics: neighbours across dimensions"),
    case(lambda: metrics.nearest_neighbours(X_NAN, X), ValueError, r"x contains NaN or inf in 1 of its 4 rows", "metrics: neighbours of NaN"),
    case(lambda: metrics.class_histogram(torch.tensor([0.0, 1.0]), 2), TypeError, r"labels must be an integer tensor of shape \(N,\); got dtype torch.float32", "metrics: float labels"),
    case(lambda: metrics.class_coverage(torch.tensor([0, 3]), 3), ValueError, r"labels must be integers in \[0, 3\), shape \(N,\); got shape \(2,\), values in \[0, 3\]", "metrics: a label beyond the classes"),
    case(lambda: metrics.class_histogram(torch.tensor([0, 1]), 2.0), TypeError, r"n_classes must be an integer; got the float 2.0", "metrics: float number of classes"),
    case(lambda: metrics.LogisticClassifier(X, torch.tensor([0, 2, 2, 0])), ValueError, r"labels must contain every class 0 .. 2, at least two; missing: \[1\]", "metrics: a class without examples"),
    case(lambda: metrics.LogisticClassifier(X, torch.tensor([0, 1, 0])), ValueError, r"labels must be integers in \[0, .*\), shape \(4,\); got shape \(3,\)", "metrics: fewer labels than points"),
    case(lambda: metrics.LogisticClassifier(X, torch.tensor([0, 1, 0, 1]), regularization=0), ValueError, r"regularization must be a positive number; got 0", "metrics: no regularization"),
    case(lambda: metrics.LogisticClassifier(X, torch.tensor([0, 1, 0, 1])).logits(torch.zeros(3, 5)), ValueError, r"x must have shape \(N, 2\).*got shape \(3, 5\)", "metrics: logits of points of another dimension"),
    case(lambda: metrics.sample_quality(X, "logistic", X), TypeError, r"classifier must be a LogisticClassifier; got str", "metrics: a string as classifier"),
    case(lambda: metrics.sample_quality(X, metrics.LogisticClassifier(X, torch.tensor([0, 1, 0, 1])), X, threshold=1.0), ValueError, r"threshold must be a number in \(0, 1\); got 1.0", "metrics: a confidence threshold of 1"),
    # --- losses ---------------------------------------------------------------------------
    case(lambda: losses.explicit_score_matching(lambda x: -x, X, lambda x: x[:, :1]), ValueError, r"true_score must map x of shape \(4, 2\).*got shape \(4, 1\)", "losses: (N, 1) true score"),
    case(lambda: losses.explicit_score_matching(lambda x: -x, X, lambda x: x * NAN), ValueError, r"true_score returned NaN or inf at 4 of the 4 points", "losses: NaN true score"),
    case(lambda: losses.explicit_score_matching(lambda x: -x, X_NAN, lambda x: -x), ValueError, r"x contains NaN or inf", "losses: NaN data in ESM"),
    case(lambda: losses.implicit_score_matching(lambda x: torch.zeros_like(x), X), ValueError, r"model does not depend on x", "losses: ISM of a constant model"),
    case(lambda: losses.sliced_score_matching(lambda x: -x, X, generator=0), TypeError, r"generator must be a torch.Generator or None; got the int 0", "losses: int seed to SSM"),
    case(lambda: losses.denoising_score_matching(lambda x: -x, X, [0.1]), TypeError, r"sigma must be a positive number; got \[0.1\]", "losses: list sigma to DSM"),
    case(lambda: losses.denoising_score_matching(lambda x: x[:, :1], X, 0.1), ValueError, r"model must map x of shape \(4, 2\).*got shape \(4, 1\)", "losses: (N, 1) model in DSM"),
    case(lambda: losses.multi_noise_denoising_score_matching(lambda x: -x, X, SIGMAS), TypeError, r"model is called as model\(x, sigma\), but the function passed takes \(x\)", "losses: s(x) to the NCSN loss"),
    case(lambda: losses.multi_noise_denoising_score_matching(nets.ScoreMLP(2), X, SIGMAS), TypeError, r"model is called as model\(x, sigma\)", "losses: ScoreMLP to the NCSN loss"),
    case(lambda: losses.contrastive_divergence(MIXTURE, X, X_NAN), ValueError, r"samples contains NaN or inf in 1 of its 4 rows", "losses: NaN samples in CD"),
    case(lambda: losses.contrastive_divergence(lambda x: x, X, X), ValueError, r"energy must return a tensor of shape \(4,\), one value per point; got shape \(4, 2\)", "losses: a vector field as CD energy"),
    case(lambda: losses.noise_contrastive_estimation(GAUSSIAN.log_prob, X, GAUSSIAN, generator=0), TypeError, r"generator must be a torch.Generator or None; got the int 0", "losses: int seed to NCE"),
    case(lambda: losses.noise_contrastive_estimation(GAUSSIAN.log_prob, X, GAUSSIAN, noise_ratio=1.5), TypeError, r"noise_ratio must be a positive integer; got 1.5", "losses: fractional noise ratio"),
    case(lambda: ddpm.noise_prediction_loss(lambda x, t: x, X, "vp"), TypeError, r"process must be a NoiseProcess; got str", "ddpm: a string as process"),
    case(lambda: ddpm.noise_prediction_loss(lambda x, t, labels: x, X, VP, labels=torch.zeros(4, dtype=torch.int64), drop_label=1.5), ValueError, r"drop_label must be a probability, in \[0, 1\]; got 1.5", "ddpm: drop probability above 1"),
    case(lambda: ddpm.noise_prediction_loss(lambda x: x, X, VP), TypeError, r"model is called as model\(x, t\), but the function passed takes \(x\)", "ddpm: s(x) as noise model"),
    # --- nets -----------------------------------------------------------------------------
    case(lambda: nets.NoiseConditionalScoreMLP(2)(X, torch.tensor([0.5, 0.0, 0.5, 0.5])), ValueError, r"sigma must be a positive, finite noise level .*got 1 value that is not: \[0.0\] at index \[1\]", "nets: NCSN at sigma = 0"),
    case(lambda: nets.NoiseConditionalScoreMLP(2)(X, NAN), ValueError, r"sigma must be a positive, finite noise level .*got 4 values that are not: \[nan, nan, nan, nan\]", "nets: NCSN at NaN sigma"),
    case(lambda: nets.NoiseConditionalScoreMLP(2)(X, "0.5"), TypeError, r"sigma must be a number or a tensor of shape \(4,\); got '0.5'", "nets: NCSN at a string sigma"),
    case(lambda: nets.ScoreMLP(2)(X_NAN), ValueError, r"x contains NaN or inf", "nets: ScoreMLP of NaN"),
    case(lambda: nets.ScoreMLP(2.0), TypeError, r"dim must be an integer; got the float 2.0", "nets: float dimension"),
    case(lambda: nets.mlp(2, 2, depth=0), ValueError, r"depth must be a positive integer; got 0", "nets: no hidden layers"),
    case(lambda: nets.SelfNormalizingEnergy(lambda x: x), TypeError, r"energy must be a torch.nn.Module \(such as EnergyMLP\); got function", "nets: a function as NCE energy"),
    case(lambda: nets.SelfNormalizingEnergy(nets.EnergyMLP(2), log_normalizer=NAN), ValueError, r"log_normalizer must be a finite number; got nan", "nets: NaN log-normalizer"),
    case(lambda: nets.TimeConditionalMLP(2, n_classes=3)(X, 0.5, torch.tensor([0, 1, 3, -1])), ValueError, r"labels must be integers in \[-1, 3\) \(-1: no label\), shape \(4,\); got shape \(4,\), values in \[-1, 3\]", "nets: a label out of range"),
    case(lambda: nets.TimeConditionalMLP(2)(X, 0.5, torch.zeros(4, dtype=torch.int64)), ValueError, r"labels were given to a TimeConditionalMLP with n_classes=0", "nets: labels to an unconditional network"),
    case(lambda: nets.TimeConditionalMLP(2)(X, torch.full((3,), 0.5)), ValueError, r"t must be one time or one per point, shape \(4,\); got shape \(3,\)", "nets: too few times"),
    case(lambda: nets.TimeConditionalMLP(2, n_classes=3)(X, 0.5, torch.zeros(4)), TypeError, r"labels must be an integer tensor of shape \(4,\); got dtype torch.float32", "nets: float labels"),
    case(lambda: nets.TimeConditionalCNN()(torch.zeros(4, 63), 0.5), ValueError, r"x must have shape \(N, 64\).*got shape \(4, 63\)", "nets: 63 pixels to the CNN"),
    case(lambda: nets.TimeConditionalCNN()(torch.zeros(4, 1, 8, 8), 0.5), ValueError, r"x must have shape \(N, 64\).*got shape \(4, 1, 8, 8\)", "nets: unflattened images to the CNN"),
    case(lambda: nets.TimeConditionalCNN()(torch.zeros(4, 64), 1.5), ValueError, r"t must be times in \[0, 1\]; got 1.5", "nets: CNN at a time after 1"),
    case(lambda: nets.TimeConditionalCNN(n_classes=10)(torch.zeros(4, 64), 0.5, torch.tensor([0, 1, 2, 10])), ValueError, r"labels must be integers in \[-1, 10\) \(-1: no label\), shape \(4,\); got shape \(4,\), values in \[0, 10\]", "nets: CNN label out of range"),
    case(lambda: nets.TimeConditionalCNN()(torch.zeros(4, 64), 0.5, torch.zeros(4, dtype=torch.int64)), ValueError, r"labels were given to a TimeConditionalCNN with n_classes=0", "nets: labels to an unconditional CNN"),
    case(lambda: nets.NoiseConditionalScoreCNN(side=7), ValueError, r"side must be even \(the network halves it\); got 7", "nets: odd image side"),
    case(lambda: nets.NoiseConditionalScoreCNN(channels=0), ValueError, r"channels must be a positive integer; got 0", "nets: CNN without channels"),
    case(lambda: nets.NoiseConditionalScoreCNN()(torch.zeros(4, 64), -1.0), ValueError, r"sigma must be a positive, finite noise level .*got 4 values that are not: \[-1.0, -1.0, -1.0, -1.0\]", "nets: CNN at a negative sigma"),
    # --- noise ----------------------------------------------------------------------------
    case(lambda: noise.ncsnv2_ratio(2, target=1.5), ValueError, r"target must be a number in \(0, 1\); got 1.5", "noise: overlap target above 1"),
    case(lambda: noise.ncsnv2_ratio(100, max_ratio=0.5), ValueError, r"max_ratio must be a number > 1; got 0.5", "noise: ratio below 1"),
    case(lambda: noise.max_pairwise_distance(X_NAN), ValueError, r"data contains NaN or inf", "noise: NaN data spread"),
    case(lambda: noise.max_pairwise_distance(X, max_points=0), ValueError, r"max_points must be an integer >= 2; got 0", "noise: spread of no points"),
    case(lambda: noise.geometric_sigmas(1.0, 0.1, 1), ValueError, r"n_levels must be an integer >= 2; got 1", "noise: one level"),
    case(lambda: noise.geometric_sigmas(0.1, 1.0, 5), ValueError, r"sigma_max must be larger than sigma_min; got sigma_max=0.1, sigma_min=1", "noise: levels upside down"),
    case(lambda: noise.annealed_step_sizes([1.0, NAN], 0.1), ValueError, r"sigmas must be positive and finite; got \[1.0, nan\]", "noise: NaN level"),
    case(lambda: noise.ncsnv2_step_size([1.0], 10), ValueError, r"sigmas needs at least 2 levels to have a ratio; got \[1.0\]", "noise: one level to NCSNv2"),
    # --- training -------------------------------------------------------------------------
    case(lambda: training.train(nets.ScoreMLP(2), square_loss, X_NAN, 5, progress=False), ValueError, r"data contains NaN or inf in 1 of its 4 rows", "training: NaN training data"),
    case(lambda: training.train(nets.ScoreMLP(2), square_loss, torch.zeros(0, 2), 5, progress=False), ValueError, r"data is empty \(shape \(0, 2\)\)", "training: no training data"),
    case(lambda: training.train(nets.ScoreMLP(3), square_loss, X, 5, progress=False), ValueError, r"data must have shape \(N, 3\).*got shape \(4, 2\)", "training: data of the wrong dimension"),
    case(lambda: training.train(nets.NoiseConditionalScoreCNN(), square_loss, X, 5, progress=False), ValueError, r"data must have shape \(N, 64\).*got shape \(4, 2\)", "training: 2-D points to an image network"),
    case(lambda: training.train(lambda x: x, square_loss, X, 5, progress=False), TypeError, r"model must be a torch.nn.Module; got function", "training: a function as model"),
    case(lambda: training.train(nets.ScoreMLP(2), lambda m, b, g: m(b).pow(2), X, 5, progress=False), ValueError, r"loss_fn must return a scalar tensor \(use .mean\(\)\); got shape \(256, 2\)", "training: per-point loss"),
    case(lambda: training.train(nets.ScoreMLP(2), lambda m, b, g: m(b).pow(2).mean().detach(), X, 5, progress=False), ValueError, r"loss_fn returned a loss that does not depend on the model's parameters", "training: detached loss"),
    case(lambda: training.train(nets.ScoreMLP(2), lambda m, b: m(b).pow(2).mean(), X, 5, progress=False), TypeError, r"loss_fn is called as loss_fn\(model, batch, generator\), but the function passed takes \(m, b\)", "training: two-argument loss"),
    case(lambda: training.train(nets.ScoreMLP(2), square_loss, X, 5, seed=-1, progress=False), ValueError, r"seed must be a non-negative integer; got -1", "training: negative seed"),
    case(lambda: training.train(nets.ScoreMLP(2), square_loss, X, 5, progress=False, averaged_model=3), TypeError, r"averaged_model must be a torch.optim.swa_utils.AveragedModel \(or None\); got int", "training: bad averaged model"),
    case(lambda: training.train(nets.EnergyMLP(2), square_loss, X, 5, progress=False, max_grad_norm=0), ValueError, r"max_grad_norm must be a positive number; got 0", "training: clipping at norm 0"),
    # --- contrastive ----------------------------------------------------------------------
    case(lambda: contrastive.short_run_langevin(GAUSSIAN, X_NAN, 0.1, 5), ValueError, r"x0 contains NaN or inf in 1 of its 4 rows", "contrastive: NaN start points"),
    case(lambda: contrastive.short_run_langevin(GAUSSIAN, X, 0.1, 5, generator=0), TypeError, r"generator must be a torch.Generator or None; got the int 0", "contrastive: int seed to short-run Langevin"),
    case(lambda: contrastive.short_run_langevin(lambda x: x.sum(1) * NAN, X, 0.1, 5), ValueError, r"energy returned NaN or -inf at 4 of the 4 points \(the first is x = \[0.5, -1.0\]\)", "contrastive: NaN energy"),
    case(lambda: contrastive.ReplayBuffer([(1, -1)] * 2), ValueError, r"bounds\[0\] must be an interval \(low, high\) with low < high; got \(1, -1\)", "contrastive: empty box for the buffer"),
    case(lambda: contrastive.ReplayBuffer([(-1, 1)] * 2, capacity=0), ValueError, r"capacity must be a positive integer; got 0", "contrastive: empty buffer"),
    case(lambda: contrastive.ReplayBuffer([(-1, 1)] * 2, 10).sample(5, generator=3), TypeError, r"generator must be a torch.Generator or None; got the int 3", "contrastive: int seed to the buffer"),
    case(lambda: contrastive.ContrastiveDivergence(0.0), ValueError, r"step_size must be a positive number; got 0.0", "contrastive: CD with step 0"),
    case(lambda: contrastive.ContrastiveDivergence(0.1, n_steps=2.0), TypeError, r"n_steps must be an integer; got the float 2.0 \(write 2\)", "contrastive: float number of Langevin steps"),
    # --- datasets -------------------------------------------------------------------------
    case(lambda: datasets.two_moons(10, noise=NAN), ValueError, r"noise must be a non-negative number; got nan", "datasets: NaN noise"),
    case(lambda: datasets.two_moons(10, generator=0), TypeError, r"generator must be a torch.Generator or None; got the int 0", "datasets: int seed to a data set"),
    case(lambda: datasets.checkerboard(10, size=0), ValueError, r"size must be a positive number; got 0", "datasets: checkerboard of size 0"),
    case(lambda: datasets.checkerboard(10, size=NAN), ValueError, r"size must be a positive number; got nan", "datasets: checkerboard of NaN size"),
    case(lambda: datasets.rings(10, radii=("a",)), TypeError, r"radii must be numbers .*got \('a',\)", "datasets: string radii"),
    case(lambda: datasets.spirals(10, n_arms=0), ValueError, r"n_arms must be a positive integer; got 0", "datasets: no spiral arms"),
    case(lambda: datasets.digits("held_out"), ValueError, r"split must be one of \['train', 'test', 'all'\]; got 'held_out'", "datasets: unknown digits split"),
    case(lambda: datasets.digits(shape=(8, 8)), ValueError, r"shape must be 'flat' or 'image'; got \(8, 8\)", "datasets: digits shape as a tuple"),
    case(lambda: datasets.digits(scale=(1, -1)), ValueError, r"scale must be \(low, high\) with low < high; got \(1, -1\)", "datasets: digits scale upside down"),
    case(lambda: datasets.digits(scale=1.0), TypeError, r"scale must be a pair \(low, high\) of numbers; got 1.0", "datasets: one number as digits scale"),
    case(lambda: datasets.digits(test_fraction=1.0), ValueError, r"test_fraction must be a number in \(0, 1\); got 1.0", "datasets: hold out every digit"),
    case(lambda: datasets.digits(seed=seeds.generator(0)), TypeError, r"seed must be a non-negative integer; got <torch._C.Generator", "datasets: a generator as digits seed"),
    # --- plotting -------------------------------------------------------------------------
    case(lambda: plotting.plot_samples(X_NAN), ValueError, r"x contains NaN or inf", "plotting: plotting NaN samples"),
    case(lambda: plotting.plot_contours(lambda x: x.sum(1) * NAN, n=5), ValueError, r"fn returned NaN or -inf at 25 of the 25 points \(the first is x = \[-3.0, -3.0\]\)", "plotting: contours of NaN"),
    case(lambda: plotting.plot_contours(3), TypeError, r"fn must be a function called as fn\(x\); got int", "plotting: contours of a number"),
    case(lambda: plotting.plot_contours(lambda x: x.sum(1), n=10.0), TypeError, r"n must be an integer; got the float 10.0", "plotting: float number of grid points"),
    case(lambda: plotting.plot_score_field(lambda x: x * NAN, n=3), ValueError, r"score returned NaN or inf at 9 of the 9 points", "plotting: NaN score field"),
    case(lambda: plotting.plot_score_field(lambda x: x[:, 0], n=3), ValueError, r"score must map x of shape \(9, 2\).*got shape \(9,\)", "plotting: scalar score field"),
    case(lambda: plotting.plot_energy_2d(lambda x: x.sum(1), max_energy=NAN), ValueError, r"max_energy must be a finite number; got nan", "plotting: NaN clipping level"),
    case(lambda: plotting.plot_density_1d(lambda x: x[:, 0], xlim=(1, 1)), ValueError, r"xlim\[0\] must be an interval \(low, high\) with low < high; got \(1, 1\)", "plotting: empty interval"),
    case(lambda: plotting.plot_images(torch.zeros(4, 63)), ValueError, r"x of shape \(4, 63\) are not square images: 63 pixels is not a square number", "plotting: images of 63 pixels"),
    case(lambda: plotting.plot_images(torch.zeros(4, 3, 8, 8)), ValueError, r"x must hold square one-channel images, .*got shape \(4, 3, 8, 8\)", "plotting: colour images"),
    case(lambda: plotting.plot_images(torch.full((2, 64), NAN)), ValueError, r"x contains NaN or inf in 2 of its 2 rows", "plotting: NaN images"),
    case(lambda: plotting.image_grid(torch.zeros(4, 64), n_cols=0), ValueError, r"n_cols must be a positive integer; got 0", "plotting: a grid of no columns"),
    case(lambda: plotting.plot_images(torch.zeros(4, 64), value_range=(1, 0)), ValueError, r"value_range must be \(low, high\) with low < high; got \(1, 0\)", "plotting: value range upside down"),
    # --- processes, ddpm ------------------------------------------------------------------
    case(lambda: processes.VarianceExploding(1.0, 0.5), ValueError, r"sigma_max must be a number > 1; got 0.5", "processes: sigma_max below sigma_min"),
    case(lambda: processes.VarianceExploding(0.0, 5.0), ValueError, r"sigma_min must be a positive number; got 0.0", "processes: geometric VE from sigma 0"),
    case(lambda: processes.VarianceExploding(schedule="cosine"), ValueError, r"schedule must be 'geometric' or 'linear'; got 'cosine'", "processes: unknown schedule"),
    case(lambda: processes.VariancePreserving(t_min=1.0), ValueError, r"t_min must be a time in \[0, 1\); got 1.0", "processes: t_min at the prior"),
    case(lambda: VP.sigma(1.5), ValueError, r"t must be times in \[0, 1\]; got 1.5", "processes: a time after 1"),
    case(lambda: VP.sigma(torch.tensor([0.5, NAN])), ValueError, r"t must be times in \[0, 1\]; got \[0.5, nan\]", "processes: NaN time"),
    case(lambda: VP.transition(0.8, 0.2), ValueError, r"t_from must not be after t_to \(a forward step\); got t_from=0.8, t_to=0.2", "processes: a backward transition"),
    case(lambda: VP.sample_marginal(X, 0.5, generator=0), TypeError, r"generator must be a torch.Generator or None; got the int 0", "processes: int seed to sample_marginal"),
    case(lambda: VP.marginal(energies.Gaussian([0.0, 0.0]), 0.5), TypeError, r"mixture must be a GaussianMixture; got Gaussian", "processes: marginal of a Gaussian energy"),
    case(lambda: VP.time_score(lambda x: -x), TypeError, r"score is called as score\(x, sigma\), but the function passed takes \(x\)", "processes: s(x) to time_score"),
    case(lambda: VP.level_score(lambda x: -x), TypeError, r"score is called as score\(x, t\), but the function passed takes \(x\)", "processes: s(x) to level_score"),
    case(lambda: VP.level_score(TIME_SCORE)(X, 1000.0), ValueError, r"sigma must be noise levels of this process, in \[0, 152.2\]; got levels in \[1000, 1000\]", "processes: a level beyond the prior"),
    case(lambda: VP.simulate(X, 10, method="heun"), ValueError, r"method must be 'exact' or 'euler_maruyama'; got 'heun'", "processes: unknown simulation method"),
    case(lambda: ddpm.DDPMSchedule([0.1, 1.5]), ValueError, r"betas must be numbers in \(0, 1\); got \[0.1, 1.5\]", "ddpm: beta above 1"),
    case(lambda: ddpm.DDPMSchedule("abc"), TypeError, r"betas must be a 1-D tensor or list of numbers; got 'abc'", "ddpm: string betas"),
    case(lambda: ddpm.DDPMSchedule.linear(100.0), TypeError, r"n_steps must be an integer; got the float 100.0", "ddpm: float number of steps"),
    case(lambda: ddpm.DDPMSchedule.from_process(processes.VarianceExploding(), 100), TypeError, r"process must be a VariancePreserving process; got VarianceExploding", "ddpm: chain of a VE process"),
    # --- diffusion, flow, guidance ---------------------------------------------------------
    case(lambda: diffusion.euler_maruyama(TIME_SCORE, "vp", X, 10), TypeError, r"process must be a NoiseProcess of ebm_book.processes .*got str", "diffusion: a string as process"),
    case(lambda: diffusion.euler_maruyama(TIME_SCORE, VP, X), ValueError, r"give n_steps \(evenly spaced steps from t = 1 to t_min\) or times", "diffusion: no steps"),
    case(lambda: diffusion.euler_maruyama(TIME_SCORE, VP, X, 10, times=[1.0, 0.5]), ValueError, r"give n_steps or times, not both; got n_steps=10", "diffusion: steps and times"),
    case(lambda: diffusion.ancestral(TIME_SCORE, VP, X, times=[0.5, 1.0]), ValueError, r"times must be strictly decreasing .*got \[0.5, 1.0\]", "diffusion: increasing times"),
    case(lambda: diffusion.euler_maruyama(lambda x: -x, VP, X, 10), TypeError, r"score is called as score\(x, t\), but the function passed takes \(x\)", "diffusion: s(x) to a diffusion sampler"),
    case(lambda: diffusion.euler_maruyama(TIME_SCORE, VP, X_NAN, 10), ValueError, r"start contains NaN or inf in 1 of its 4 rows", "diffusion: NaN start points"),
    case(lambda: diffusion.predictor_corrector(TIME_SCORE, VP, X, 10, predictor="langevin"), ValueError, r"predictor must be one of \['ancestral', 'euler_maruyama', 'reverse_diffusion'\] or None; got 'langevin'", "diffusion: unknown predictor"),
    case(lambda: diffusion.predictor_corrector(TIME_SCORE, VP, X, 10, snr=0), ValueError, r"snr must be a positive number; got 0", "diffusion: zero signal-to-noise ratio"),
    case(lambda: diffusion.ScoreCounter(3), TypeError, r"score must be a function called as score\(x, t\); got int", "diffusion: counting a number"),
    case(lambda: flow.heun(TIME_SCORE, VP, X, times=[1.0, 2.0]), ValueError, r"times must be times in \[0, 1\]; got \[1.0, 2.0\]", "flow: a time after 1"),
    case(lambda: flow.euler(TIME_SCORE, VP, X, 0), ValueError, r"n_steps must be a positive integer; got 0", "flow: no steps"),
    case(lambda: flow.log_likelihood(TIME_SCORE, VP, X, 10, divergence="trace"), ValueError, r"divergence must be 'exact' or 'hutchinson'; got 'trace'", "flow: unknown divergence"),
    case(lambda: flow.log_likelihood(lambda x, t: torch.zeros_like(x), VP, X, 5), ValueError, r"score does not depend on x", "flow: likelihood of a constant score"),
    case(lambda: flow.log_likelihood(TIME_SCORE, VP, X, 10, t_start=1.0), ValueError, r"t_start must be a time in \[0, 1\); got 1.0", "flow: likelihood from t = 1"),
    case(lambda: guidance.classifier_free_guidance(TIME_SCORE, TIME_SCORE, -1.0), ValueError, r"weight must be a non-negative number; got -1.0", "guidance: negative weight"),
    case(lambda: guidance.classifier_free_guidance(lambda x: -x, TIME_SCORE, 1.0), TypeError, r"conditional is called as conditional\(x, t\), but the function passed takes \(x\)", "guidance: s(x) as conditional score"),
    # --- display, seeds, claims -----------------------------------------------------------
    case(lambda: display.show_table("ab", [[1, 2]]), TypeError, r"headers must be a list of column titles; got 'ab'", "display: a string as headers"),
    case(lambda: display.show_table(["a", "b"], [[1, 2], [3]]), ValueError, r"every row must have 2 entries, one per header; rows\[1\] has 1: \[3\]", "display: a short row"),
    case(lambda: display.animate_samples(torch.zeros(3, 5)), ValueError, r"trajectory must be a tensor of shape \(n_frames, N, 2\).*got shape \(3, 5\)", "display: 2-D trajectory"),
    case(lambda: display.animate_samples(torch.full((2, 3, 2), NAN)), ValueError, r"trajectory \(all frames\) contains NaN or inf", "display: NaN trajectory"),
    case(lambda: display.animate_samples(torch.zeros(2, 3, 2), titles=["a"]), ValueError, r"titles must have one entry per frame \(2\); got 1", "display: too few titles"),
    case(lambda: seeds.seed(5000), ValueError, r"n must be an integer seed in \[0, 1000\); got 5000", "seeds: seed out of range"),
    case(lambda: claims.claim("the loss fell", torch.tensor([True, False])), ValueError, r"holds must be one truth value; got 2 values \(shape \(2,\)\)", "claims: a claim on two values"),
    case(lambda: claims.claim("the loss fell", None), TypeError, r"holds is None", "claims: a claim on None"),
]  # fmt: skip


@pytest.mark.parametrize("call, error, message", BAD_CALLS)
def test_bad_call_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
    plt.close("all")


def test_at_least_sixty_bad_calls_cover_every_public_module():
    modules = {param.id.split(":")[0] for param in BAD_CALLS}
    public = {name for name in ebm_book.__all__ if name != "exercises"}  # checkers: see below
    assert modules == public
    assert len(BAD_CALLS) >= 60
    assert len({param.id for param in BAD_CALLS}) == len(BAD_CALLS)  # each a distinct mistake


# --- what the samplers and the training loop blame ------------------------------------------


def test_langevin_blames_a_score_that_turns_nan_at_ordinary_points():
    def score(x):  # a bug: NaN beyond |x| = 2.5, where the chains soon wander
        return torch.where(x.abs() > 2.5, NAN, -x)

    with pytest.raises(
        DivergenceError, match=r"score returned NaN or inf at step \d+ .*not the cause"
    ):
        sampling.langevin(score, X, 0.5, 500, generator=seeded())


def test_langevin_blames_a_step_size_that_makes_chains_grow():
    with pytest.raises(
        DivergenceError, match=r"after growing from .*step size 10 is probably too large"
    ):
        sampling.langevin(lambda x: -x, X, 10.0, 500, generator=seeded())


def test_annealed_langevin_names_the_step_of_the_level():
    def score(x, sigma):
        return -x / sigma[:, None] ** 2

    with pytest.raises(
        DivergenceError, match=r"step size at this level, 1000 .*try a smaller step_size"
    ):
        sampling.annealed_langevin(score, X, SIGMAS, 10.0, 50, generator=seeded())


def test_diffusion_samplers_blame_coarse_steps_or_a_large_corrector_step():
    def steep(x, t):
        return -1e30 * x

    with pytest.raises(
        DivergenceError, match=r"time steps are probably too coarse .*larger n_steps"
    ):
        diffusion.euler_maruyama(steep, VP, X, 10, seeded())
    with pytest.raises(
        DivergenceError, match=r"corrector's Langevin step, [0-9.e+]+, is probably too large"
    ):
        diffusion.predictor_corrector(
            TIME_SCORE, VP, X, 10, seeded(), predictor=None, step_size=1e30
        )


def test_training_blames_the_loss_not_the_learning_rate_at_the_first_step():
    def nan_loss(model, batch, generator):
        return model(batch).pow(2).mean() * NAN

    with pytest.raises(
        FloatingPointError,
        match=r"first step, before any update, so the learning rate is not the cause",
    ):
        training.train(nets.ScoreMLP(2), nan_loss, X, 5, progress=False)


def test_training_suggests_a_smaller_learning_rate_when_it_diverges():
    def steep_loss(model, batch, generator):
        return model(batch).pow(2).mean() * 1e30

    with pytest.raises(
        FloatingPointError, match=r"at step \d+, after \d+ updates? .*smaller lr \(now 1e\+30\)"
    ):
        training.train(nets.ScoreMLP(2), steep_loss, X, 50, lr=1e30, progress=False)


def test_the_score_s_output_is_checked_at_the_first_step_only(monkeypatch):
    calls = []

    def counting_check(values, x, name):
        calls.append(name)
        return require_vector_field(values, x, name)

    monkeypatch.setattr(_chains, "require_vector_field", counting_check)
    sampling.langevin(lambda x: -x, X, 0.1, 25, generator=seeded())
    assert calls == ["score"]


# --- conveniences that are accepted, and give the canonical result ------------------------------


def test_networks_accept_float64_and_answer_in_float64():
    torch.manual_seed(0)
    score_net, energy_net = nets.ScoreMLP(2, hidden=16), nets.EnergyMLP(2, hidden=16)
    conditional = nets.NoiseConditionalScoreMLP(2, hidden=16)
    images = torch.randn(3, 16, generator=seeded(2))
    conv, conv_time = (
        nets.NoiseConditionalScoreCNN(side=4, channels=4),
        nets.TimeConditionalCNN(4, 4),
    )
    torch.nn.init.normal_(conv_time.net.last.weight)  # not the zero function it starts as
    for output, canonical in [
        (score_net(X.double()), score_net(X)),
        (energy_net(X.double()), energy_net(X)),
        (energy_net.score(X.double()), energy_net.score(X)),
        (conditional(X.double(), 0.5), conditional(X, 0.5)),
        (conv(images.double(), 0.5), conv(images, 0.5)),
        (conv_time(images.double(), 0.5), conv_time(images, 0.5)),
    ]:
        assert output.dtype == torch.float64
        assert torch.equal(output, canonical.double())


def test_an_int_step_size_gives_the_same_chains_as_the_float():
    as_int = sampling.langevin(lambda x: -x, X, 1, 30, generator=seeded(1)).samples
    as_float = sampling.langevin(lambda x: -x, X, 1.0, 30, generator=seeded(1)).samples
    assert torch.equal(as_int, as_float)


def test_int_parameters_are_numbers():
    assert MIXTURE.score(X, temperature=2).equal(MIXTURE.score(X, temperature=2.0))
    assert noise.annealed_step_sizes(SIGMAS, 1).equal(noise.annealed_step_sizes(SIGMAS, 1.0))
    assert energies.Ring(radius=2, width=1).energy(X).equal(energies.Ring(2.0, 1.0).energy(X))


def test_a_list_of_sigmas_gives_the_same_result_as_a_tensor():
    def score(x, sigma):
        return -x / (1 + sigma[:, None] ** 2)

    as_list = sampling.annealed_langevin(score, X, [1.0, 0.5, 0.1], 0.01, 5, seeded(2))
    as_tensor = sampling.annealed_langevin(score, X, SIGMAS, 0.01, 5, seeded(2))
    assert torch.equal(as_list.samples, as_tensor.samples)
    loss_list = losses.multi_noise_denoising_score_matching(score, X, [1.0, 0.5, 0.1], seeded(3))
    loss_tensor = losses.multi_noise_denoising_score_matching(score, X, SIGMAS, seeded(3))
    assert loss_list.item() == loss_tensor.item()
    torch.testing.assert_close(
        noise.annealed_step_sizes([1.0, 0.5], 0.01), torch.tensor([0.04, 0.01])
    )


def test_an_int_seed_is_refused_with_the_book_s_way_to_seed():
    with pytest.raises(
        TypeError, match=r"seeds.generator\(7\) \(or torch.Generator\(\).manual_seed\(7\)\)"
    ):
        sampling.langevin(lambda x: -x, X, 0.1, 5, generator=7)
    a = sampling.langevin(lambda x: -x, X, 0.1, 5, generator=seeds.generator(7)).samples
    b = sampling.langevin(
        lambda x: -x, X, 0.1, 5, generator=torch.Generator().manual_seed(7)
    ).samples
    assert torch.equal(a, b)  # without a seed shift, the two are the same generator


# --- the exercise checkers never raise -------------------------------------------------------

GARBAGE = {
    "None": lambda *args: None,
    "a string": lambda *args: "abc",
    "NaN": lambda *args: math.nan,
    "a list": lambda *args: [1.0, 2.0],
    "integers": lambda *args: torch.ones(6, 2, dtype=torch.int64),
    "a NaN tensor": lambda *args: torch.full((6, 2), math.nan),
    "an empty tensor": lambda *args: torch.zeros(0),
    "an error": lambda *args: 1 / 0,
    "too few arguments": lambda: 1.0,
}
CHECKERS = [getattr(exercises, name) for name in exercises.__all__ if name.startswith("check_")]


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("answer", list(GARBAGE.values()) + [3], ids=list(GARBAGE) + ["a number"])
def test_checkers_give_feedback_on_garbage_and_never_raise(checker, answer):
    printed = io.StringIO()
    with redirect_stdout(printed):
        result = checker(answer)
    assert result == False  # noqa: E712  (a CheckResult, equal to False)
    assert printed.getvalue().startswith("❌")
