# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Beyond two dimensions: handwritten digits on a CPU
#
# !!! abstract "In this chapter"
#     **Time:** about 70 minutes: about 35 of reading and running the code, about 35 of exercises.
#
#     **You will learn to**
#
#     - load a real data set of images, 8 x 8 handwritten digits in $d = 64$ dimensions, and see what the dimension changes in NCSNv2's techniques: which of them bite only now, and which do not care;
#     - train a small convolutional score network with the diffusion loss of Chapter 6, within the minute of CPU time that a page of this book may take, and measure what the moving average of its weights is worth;
#     - sample it with the reverse SDE, the probability-flow ODE and annealed Langevin dynamics, and watch noise become a digit;
#     - evaluate generated images honestly, with numbers computed on the page: a classifier's confidence, its class histogram, a Fréchet distance with its floor, and a check that the model does not copy its training images;
#     - generate a chosen digit with classifier-free guidance, and complete half a digit by conditioning the sampler on the pixels you see;
#     - diagnose a model that never learned the largest noise levels.
#
#     **You need** [Chapter 4](04_annealed_langevin.py) (noise levels, annealed Langevin dynamics and NCSNv2's five techniques) and [Chapter 6](06_diffusion_and_sdes.py) (the VP process, $J_{\text{simple}}$, ancestral sampling, the probability-flow ODE and classifier-free guidance).
#
# Every experiment so far lived in the plane, where we could draw the density and check
# each sample by eye. Chapter 4 ended by suggesting the next step: replace the 2-D data by
# 8 x 8 images. This chapter takes it. Nothing in the package's losses, networks and
# samplers assumed two dimensions, so the code barely changes; what changes is what we
# can check, and which of the book's heuristics start to matter.

# %%
import math
import time
from statistics import NormalDist

import matplotlib.pyplot as plt
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ebm_book import (
    claims,
    datasets,
    ddpm,
    diffusion,
    display,
    flow,
    guidance,
    metrics,
    nets,
    noise,
    plotting,
    processes,
    sampling,
    seeds,
    training,
)
from ebm_book.exercises.ch07_digits import (
    check_closer_probability,
    check_inpainting_step,
    check_truncated_model,
)

plotting.use_book_style()

# %% [markdown]
# ## 7.1 The data: 1,797 digits in 64 dimensions
#
# The handwritten digits of [Alpaydin & Kaynak (1998)](../references.md#alpaydin1998)
# are 1,797 images of 8 x 8 pixels, about 180 of each digit from 0 to 9. Each pixel
# counts the ink in a block of a larger scan, from 0 to 16; `datasets.digits` maps it to
# $[-1, 1]$, blank paper at $-1$, and flattens each image to a point of
# $\mathbb{R}^{64}$, row by row, the shape `(N, d)` that every function of the book
# takes. It holds out a fifth of each class, chosen by a seed, as a test set that no model
# of this chapter sees in training. The data ship with scikit-learn: nothing is
# downloaded.

# %% alt="Thirty handwritten digits from the training set, 8 by 8 pixels each, in three rows of ten: each column shows three examples of one digit, 0 to 9, dark ink on white paper."
split = seeds.seed(0)  # the seed that chooses the held-out images
x, labels = datasets.digits("train", seed=split)
x_test, labels_test = datasets.digits("test", seed=split)
n, d = x.shape
examples_of = [x[labels == k][:3] for k in range(10)]  # three of each digit
by_row = torch.stack(examples_of, dim=1).reshape(30, d)  # one digit per column
plotting.plot_images(by_row, n_cols=10)
plt.show()
print(f"training images: {n}, held out: {len(x_test)}, dimension d = {d}")

# %% [markdown]
# ## 7.2 What 64 dimensions change: the noise levels
#
# Chapter 4 chose its noise levels with NCSNv2's techniques
# ([Song & Ermon, 2020](../references.md#song2020)) and found that in the plane one of
# them, the ratio of the levels, set no bound at all. Here they are again, for the digits.
#
# **Technique 1: the largest level.** $\sigma_1$ should be about the largest distance
# between two data points, so that noise of that size can carry a chain from any data
# point to any other.

# %%
largest = noise.max_pairwise_distance(x)
print(f"largest distance between two training digits: {largest:.2f}")
print(f"largest possible (every pixel from -1 to 1): {2 * math.sqrt(d):.0f}")

# %% [markdown]
# Why does that size suffice, and does it depend on the dimension? Take two data points
# $x_i$ and $x_j$ and blur the first, $x_i + \sigma z$. The chance that the blurred point
# lies nearer $x_j$ than $x_i$ measures how well noise of level $\sigma$ mixes the two.
#
# ### Exercise 7.1: how large must $\sigma_1$ be? (derive it, about 10 minutes)
#
# Derive the probability that $x_i + \sigma z$, with $z \sim \mathcal{N}(0, I)$ in $d$
# dimensions, is nearer $x_j$ than $x_i$, as a function of the distance
# $\lVert x_i - x_j \rVert$ and of $\sigma$; call it (7.1). The grader evaluates your formula
# at twelve random points. A hint: the two points are equally near on a hyperplane;
# which part of the noise decides the side?


# %%
def closer_probability(distance: float, sigma: float) -> float:
    """P(x_i + sigma z is nearer x_j than x_i), for |x_i - x_j| = distance.

    Use statistics.NormalDist().cdf for the standard normal distribution
    function Phi.
    """
    # TODO: your formula here
    raise NotImplementedError


check_closer_probability(closer_probability)

# %% tags=["solution"]
from statistics import NormalDist  # noqa: F811  (self-contained)

from ebm_book.exercises.ch07_digits import check_closer_probability


def closer_probability_solution(distance, sigma):
    # The two points are equally near on the hyperplane through the midpoint,
    # orthogonal to x_j - x_i. Only the noise's component along that direction,
    # sigma times one standard normal, decides the side: it must exceed
    # distance / 2.
    return NormalDist().cdf(-distance / (2 * sigma))


check_closer_probability(closer_probability_solution)

# %% [markdown]
# The answer, $\Phi\big(-\lVert x_i - x_j\rVert/(2\sigma)\big)$ with $\Phi$ the standard
# normal distribution function, does not contain $d$: the other $d - 1$ directions of the
# noise move the blurred point parallel to the hyperplane. Technique 1 is the same rule
# in every dimension. We check the formula by Monte Carlo on the two digits that are
# farthest apart, in all 64 dimensions at once:

# %%
far_i, far_j = divmod(torch.cdist(x, x).argmax().item(), n)  # farthest pair
generator = seeds.generator(10)
monte_carlo = {}  # sigma: (the share nearer x_j, its standard error, formula)
for sigma in (1.0, largest / 2, largest):
    blurred = x[far_i] + sigma * torch.randn(20_000, d, generator=generator)
    nearer = (
        (blurred - x[far_j]).norm(dim=1) < (blurred - x[far_i]).norm(dim=1)
    ).double()
    share = nearer.mean().item()
    formula = NormalDist().cdf(-largest / (2 * sigma))
    monte_carlo[sigma] = (
        share,
        nearer.std().item() / math.sqrt(20_000),
        formula,
    )
    print(
        f"sigma = {sigma:5.2f}: Monte Carlo {share:.4f}, (7.1) {formula:.4f}"
    )
# 20,000 draws: binomial standard errors of at most 0.0035; the formula is
# exact, so each share must lie within 4 of them.
claims.claim(
    "the Monte Carlo shares agree with (7.1) within 4 standard errors",
    all(abs(s - f) <= 4 * max(e, 1e-3) for s, e, f in monte_carlo.values()),
    monte_carlo=monte_carlo,
)

# %% [markdown]
# At $\sigma_1$ equal to the largest distance, a third of the blurred points cross over;
# at $\sigma = 1$, a level that was large for Chapter 4's ring, essentially none.
#
# **Technique 2: the ratio of the levels.** This one does depend on $d$. A noisy point
# $x_0 + \sigma z$ lies at the distance $\sigma\lVert z\rVert$ from its clean point, and in
# $d$ dimensions $\lVert z\rVert$ is about $\sqrt d$, give or take $1/\sqrt2$: the noise
# puts the points on a thin shell of radius $\sigma\sqrt d$ around the data. Consecutive
# levels $\sigma_i = \gamma\,\sigma_{i+1}$ make two shells, whose radii differ by
# $(\gamma - 1)\,\sigma_{i+1}\sqrt d$, and a chain that leaves level $i$ on the first
# must find its way to the second. In the plane the "shells" are fat discs that overlap
# for any reasonable $\gamma$; in 64 dimensions they separate. NCSNv2 asks for the
# overlap criterion of Chapter 4 to be one half (`noise.ncsnv2_ratio`); we draw the two
# shells for that ratio and for the ratio of Chapter 4's ten levels, stretched from this
# data's $\sigma_1$ down to $\sigma_L = 0.02$.

# %% alt="Two panels of histograms of the distance of a noisy point from its clean point, in units of the smaller level: in 2 dimensions (left) and in 64 dimensions (right), at one level and at the level above it for two ratios, NCSNv2's and the larger one of Chapter 4's ten levels. In 2 dimensions the three histograms are broad and overlap heavily; in 64 dimensions they are narrow peaks, the first two touching, the third far apart from the first."
ratio_ncsnv2 = noise.ncsnv2_ratio(d)  # technique 2 in d = 64
copied_levels = noise.geometric_sigmas(largest, 0.02, 10)  # Chapter 4's L
ratio_copied = (copied_levels[0] / copied_levels[1]).item()
generator = seeds.generator(9)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
apart = {}  # dimension: share of the copied ratio's shell inside the lower one
for ax, dim in zip(axes, (2, d)):
    radius = torch.randn(20_000, dim, generator=generator).norm(dim=1)
    upper_edge = radius.quantile(0.99)  # the lower level's shell ends here
    for gamma, name in [
        (1.0, "level $\\sigma$"),
        (ratio_ncsnv2, f"$\\gamma\\sigma$, $\\gamma = {ratio_ncsnv2:.2f}$"),
        (ratio_copied, f"$\\gamma\\sigma$, $\\gamma = {ratio_copied:.2f}$"),
    ]:
        ax.hist(gamma * radius, bins=120, density=True, alpha=0.5, label=name)
    fresh = torch.randn(20_000, dim, generator=generator).norm(dim=1)
    apart[dim] = (ratio_copied * fresh < upper_edge).double().mean().item()
    ax.set(
        title=f"$d = {dim}$",
        xlabel="distance from the clean point / $\\sigma$",
        yticks=[],
    )
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()
print(f"NCSNv2's ratio for d = 2: {noise.ncsnv2_ratio(2):.2f} (no bound)")
print(f"NCSNv2's ratio for d = {d}: {ratio_ncsnv2:.3f}")
# 20,000 draws each: a share of 1% or less has a standard error of 0.0007.
claims.claim(
    "in 2-D most of the copied ratio's shell lies inside the lower level's; "
    "in 64-D almost none (under 1%)",
    apart[2] > 0.5 and apart[d] < 0.01,
    apart=apart,
)

# %% tags=["prose"]
display.prose(
    rf"""
    In the plane, {apart[2]:.0%} of the points at the level
    $\gamma\sigma$, with Chapter 4's ratio $\gamma = {ratio_copied:.2f}$, lie
    within the lower level's disc (inside its 99th percentile); in 64
    dimensions, {apart[d]:.2%} do. NCSNv2's criterion now asks for
    $\gamma = {ratio_ncsnv2:.2f}$, and with it
    {len(noise.suggest_sigmas(x, 0.02))} levels from $\sigma_1$ down to
    $\sigma_L = 0.02$ (`noise.suggest_sigmas`), where Chapter 4 used ten. Every
    level costs sampling steps, so technique 4 then sets the step size for
    the budget.
    """
)

# %% [markdown]
# **Technique 4: the step size.** For a budget of about 100 score evaluations, NCSNv2's
# levels allow $M = 5$ Langevin steps each, Chapter 4's ten levels $M = 10$. Technique 4
# finds the step $\epsilon$ that brings each level's variance back to the level's own
# after $M$ steps (Section 4.3). With the budget fixed, more levels leave fewer steps at
# each:

# %%
schedules = {  # name: (levels, M); about 100 score evaluations each
    "NCSNv2 (techniques 1, 2, 4)": (noise.suggest_sigmas(x, 0.02), 5),
    "Chapter 4's ten levels": (noise.geometric_sigmas(largest, 0.02, 10), 10),
    "five levels": (noise.geometric_sigmas(largest, 0.02, 5), 20),
}
steps_of, variance_ratios = {}, {}
for name, (levels, m) in schedules.items():
    gamma = (levels[0] / levels[1]).item()
    step = noise.ncsnv2_step_size(levels, m)  # technique 4
    steps_of[name] = step
    ratio = noise.ncsnv2_variance_ratio(step, levels[-1].item(), gamma, m)
    variance_ratios[name] = ratio
    print(
        f"{name:>28}: L = {len(levels):2d}, gamma = {gamma:.2f}, M = {m:2d},"
        f" eps = {step / levels[-1] ** 2:.3f} sigma_L^2, variance ratio"
        f" {ratio:.3f}"
    )

# The schedules in order of their number of levels, from most to fewest: the
# fewer Langevin steps a level gets, the larger each must be, and the further
# from 1 the variance it reaches.
by_levels = sorted(schedules, key=lambda name: -len(schedules[name][0]))
claims.claim(
    "fewer steps per level need larger steps and end further from the level's "
    "variance",
    all(
        steps_of[a] > steps_of[b] and variance_ratios[a] > variance_ratios[b]
        for a, b in zip(by_levels, by_levels[1:])
    ),
    steps=steps_of,
    variance_ratios=variance_ratios,
)

# %% [markdown]
# The fewer steps a level gets, the larger each step must be to cross the gap to the next
# level in time, and the further from 1 the variance ratio stays: the chains' stationary
# variance is inflated (the bias of Chapter 2). Section 7.5 runs the three schedules on
# the trained model.
#
# ## 7.3 A score network for images
#
# **The network.** A multilayer perceptron treats the 64 pixels as 64 unrelated numbers.
# A convolutional network shares its weights across the image: a stroke is a stroke
# wherever it lies. `nets.TimeConditionalCNN` is a small U-Net sized for a CPU: residual
# blocks of 3 x 3 convolutions at full resolution and at half resolution (4 x 4), a skip
# connection between them, and the time $t$ (through Fourier features, as the MLP of
# Chapter 6) and the class label entering every block. It takes images flattened to
# `(N, 64)`, like every loss and sampler of the package.
#
# **The loss.** We train it as Chapter 6 trained its MLP: the VP process, the noise
# prediction $z_\theta(x_t, t, k)$ and the loss $J_{\text{simple}}$ of
# [Ho et al. (2020)](../references.md#ho2020), with the class label $k$ dropped 20% of the
# time, so that one network is both the conditional model that
# guidance needs (Section 7.6) and the unconditional one, with the label "none". The
# labels travel as a 65th column of the training table. With the moving average of the
# weights, $\bar\theta \leftarrow 0.99\,\bar\theta + 0.01\,\theta$ (technique 5), the
# raw weights $\theta$ and their average come out of the same run.
#
# **The budget.** The whole page must run in under a minute on one CPU core, and
# training is most of it: 1,400 steps on batches of 64 digits, about sixty passes over
# the training set. Larger networks and longer runs give better digits; this one gives
# recognisable ones, as the measurements below show. On a GPU the same code runs
# unchanged, once the data and the model are moved there: every function follows the
# device of its inputs.

# %%
vp = processes.VariancePreserving()  # beta from 0.1 to 20, as in Chapter 6
seeds.manual_seed(1)  # the network's initial weights
network = nets.TimeConditionalCNN(n_classes=10)
average = AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(0.99))
table = torch.cat([x, labels[:, None].float()], dim=1)  # labels: column 65


def loss(model, batch, generator):
    return ddpm.noise_prediction_loss(
        model, batch[:, :d], vp, generator,
        labels=batch[:, d].long(), drop_label=0.2,
    )  # fmt: skip


started = time.process_time()
history = training.train(
    network, loss, table, n_steps=1400, batch_size=64, lr=2e-3,
    seed=seeds.seed(2), progress=False, averaged_model=average,
)  # fmt: skip
training_seconds = time.process_time() - started
trained = average.module.eval()
n_weights = sum(p.numel() for p in network.parameters())
print(f"{n_weights} weights; training: {training_seconds:.1f} s of CPU time")
print(f"J_simple over the last 100 steps: {sum(history[-100:]) / 100:.2f}")

# %% [markdown]
# **Is the convolution worth it?** To find out, we train Chapter 6's network,
# `nets.TimeConditionalMLP`, three hidden layers of 256 units, with everything else
# the same: the loss, the 1,400 steps on the same batches, the learning rate and the
# moving average. Section 7.5 compares their samples.

# %%
seeds.manual_seed(16)  # the perceptron's initial weights
perceptron = nets.TimeConditionalMLP(d, hidden=256, n_classes=10)
perceptron_average = AveragedModel(
    perceptron, multi_avg_fn=get_ema_multi_avg_fn(0.99)
)
started = time.process_time()
training.train(
    perceptron, loss, table, n_steps=1400, batch_size=64, lr=2e-3,
    seed=seeds.seed(2), progress=False, averaged_model=perceptron_average,
)  # fmt: skip
perceptron_seconds = time.process_time() - started
perceptron_weights = sum(p.numel() for p in perceptron.parameters())
print(
    f"{perceptron_weights} weights; training: {perceptron_seconds:.1f} s"
    " of CPU time"
)

# %% [markdown]
# ## 7.4 From noise to digits
#
# With the label "none" (`with_label(-1)`) the network predicts the noise of the
# unconditional process, and `vp.score_from_noise` makes it a score (Chapter 6). We draw
# 500 digits with ancestral sampling, DDPM's discretisation of the reverse SDE, with 100
# steps, recording the chains as they go.

# %% alt="A grid of 100 digits generated by the diffusion model from pure noise with ancestral sampling: most are clearly recognisable digits of all ten classes, some are malformed."
score = vp.score_from_noise(trained.with_label(-1))
generator = seeds.generator(3)
with torch.no_grad():
    main_run = diffusion.ancestral(
        score, vp, vp.prior_sample(500, d, generator), 100, generator,
        record_every=10,
    )  # fmt: skip
samples = main_run.samples.clamp(
    -1, 1
)  # the data's range, as a figure shows it
plotting.plot_images(samples[:100])
plt.show()

# %% tags=["prose"]
display.prose(
    rf"""
    The trajectory of eight of those chains, every ten steps from $t = 1$ to
    the end. A chain at time $t$ carries the process's noise, of standard
    deviation $\sigma(t)$ = {vp.sigma(0.5).item():.2f} halfway,
    {vp.sigma(0.2).item():.2f} at $t = 0.2$ and {vp.sigma(0.1).item():.2f}
    at $t = 0.1$, against pixels that span 2 from paper to ink: the digit
    emerges from the speckle as that noise fades.
    """
)

# %% alt="Eight rows of eleven images: each row follows one chain of the sampler every ten steps, from pure noise at t = 1 on the left; the images stay noise-like until the last columns, where a digit emerges on the right."
strip = main_run.trajectory[:, :8].transpose(0, 1).reshape(-1, d)
plotting.plot_images(strip, n_cols=main_run.trajectory.shape[0])
plt.show()

# %% [markdown]
# ### The three kinds of sampler
#
# The same score drives Chapter 6's probability-flow ODE (Heun's method, 50 steps) and
# Chapter 4's annealed Langevin dynamics, through
# `vp.level_score`, which turns the score of time $t$ into the score of noise level
# $\sigma$: the chains then walk down the levels of Section 7.2, from
# $\mathcal{N}(0, \sigma_1^2 I)$, with the step size of technique 4. How good are the
# digits? We can no longer compare with a density, so we ask a classifier.
#
# ## 7.5 Honest evaluation, computed on the page
#
# **A judge.** A multinomial logistic regression fitted to the training digits
# (`metrics.LogisticClassifier`, scikit-learn's, deterministic) gives each image the
# probabilities $p(k \mid x)$ of the ten classes, through one affine logit per class,
# $\mathrm{logit}_k(x)$. It asks three questions of a set of generated digits
# (`metrics.sample_quality`):
#
# - **confidence**: the share of images whose most probable class has $p(k \mid x) > 0.9$.
#   A blurred or broken digit gets no class with confidence;
# - **coverage**: the classes' shares $\hat w_k$ among the images, through the entropy
#   $\mathcal{H} = -\sum_k \hat w_k \log \hat w_k$ of that histogram, as $e^{\mathcal{H}}/K$
#   with $K = 10$: 1 when every class is equally frequent, as in the data, $1/K$ for a
#   model that draws a single digit;
# - **the Fréchet distance** between the generated and the held-out images, measured in
#   the classifier's logits: fit a Gaussian to each set of logits, with means
#   $\hat\mu_1, \hat\mu_2$ and covariances $\hat\Sigma_1, \hat\Sigma_2$, and compute
#
# $$
# \mathrm{FD} = \lVert \hat\mu_1 - \hat\mu_2 \rVert^2
# + \operatorname{tr}\Big(\hat\Sigma_1 + \hat\Sigma_2 - 2\big(\hat\Sigma_1^{1/2}\,\hat\Sigma_2\,\hat\Sigma_1^{1/2}\big)^{1/2}\Big),
# $$
#
#   the distance between two Gaussians of [Dowson & Landau (1982)](../references.md#dowson1982).
#   It compares the means and the spreads of what the classifier sees; on an Inception
#   network's features it is the FID of [Heusel et al. (2017)](../references.md#heusel2017).
#
# Each number needs its reference: what real digits score. Real training digits, as many
# as each sampler below makes (250), against the held-out set give the **floor**. The
# number matters: a Fréchet distance estimated from fewer images comes out larger, even
# between two samples of the same distribution.

# %%
classifier = metrics.LogisticClassifier(x, labels)
accuracy = classifier.accuracy(x_test, labels_test)
subset = torch.randperm(n, generator=seeds.generator(15))[:250]
floor = metrics.sample_quality(x[subset], classifier, x_test)
held_logits = classifier.logits(x_test)


def judge(images, seed):
    """The classifier's three measures, and bootstrap standard errors."""
    quality = metrics.sample_quality(images, classifier, x_test)
    logits = classifier.logits(images)
    generator = seeds.generator(seed)
    resampled = [  # 30 bootstrap resamples of the generated images
        torch.randint(len(images), (len(images),), generator=generator)
        for _ in range(30)
    ]
    frechet_error = torch.tensor([
        metrics.frechet_distance(logits[r], held_logits) for r in resampled
    ]).std().item()  # fmt: skip
    share = quality.confident
    share_error = math.sqrt(share * (1 - share) / len(images))
    return quality, share_error, frechet_error


print(f"the classifier's accuracy on held-out digits: {accuracy:.3f}")
# The logistic regression is deterministic; its held-out accuracy is
# about 0.98 on every split.
claims.claim(
    "the classifier recognises over 95% of the held-out digits",
    accuracy > 0.95,
    accuracy=accuracy,
)

# %%
started = time.process_time()
levels_score = vp.level_score(score)  # the score of noise level sigma


def annealed(levels, m, seed, count=250):
    """Annealed Langevin from N(0, sigma_1^2 I) with technique 4's step."""
    generator = seeds.generator(seed)
    start = levels[0] * torch.randn(count, d, generator=generator)
    step = noise.ncsnv2_step_size(levels, m)
    with torch.no_grad():
        return sampling.annealed_langevin(
            levels_score, start, levels, step, m, generator
        )


with torch.no_grad():
    generator = seeds.generator(4)
    raw_samples = diffusion.ancestral(
        vp.score_from_noise(network.with_label(-1)), vp,
        vp.prior_sample(250, d, generator), 100, generator,
    ).samples  # fmt: skip
    heun = flow.heun(
        score, vp, vp.prior_sample(250, d, seeds.generator(5)), 50
    )
runs = {  # name: (images, score evaluations)
    "ancestral (reverse SDE), 100 steps": (
        samples[:250],
        main_run.score_evaluations,
    ),
    "probability flow, Heun, 50 steps": (heun.samples, heun.score_evaluations),
}
for index, (name, (levels, m)) in enumerate(schedules.items()):
    result = annealed(levels, m, seed=6 + index)
    runs[f"annealed Langevin, {name}"] = (
        result.samples,
        len(levels) * m + 1,
    )
runs["ancestral, raw weights (no average)"] = (raw_samples, 101)
with torch.no_grad():
    generator = seeds.generator(17)
    perceptron_score = vp.score_from_noise(
        perceptron_average.module.eval().with_label(-1)
    )
    runs["ancestral, the perceptron (MLP) instead"] = (
        diffusion.ancestral(
            perceptron_score, vp, vp.prior_sample(250, d, generator), 100,
            generator,
        ).samples,
        101,
    )  # fmt: skip
judged = {
    name: judge(images.clamp(-1, 1), seed=20 + index)
    for index, (name, (images, _)) in enumerate(runs.items())
}
print(
    f"sampling and judging: {time.process_time() - started:.1f} s of CPU time"
)
display.show_table(
    ["sampler (250 images)", "score evaluations", "confident", "coverage",
     "Fréchet distance"],
    [["real training digits (floor)", "-", f"{floor.confident:.2f}",
      f"{floor.coverage:.3f}", f"{floor.frechet:.2f}"]]
    + [[name, runs[name][1], f"{q.confident:.2f} ± {se:.2f}",
        f"{q.coverage:.3f}", f"{q.frechet:.1f} ± {fe:.1f}"]
       for name, (q, se, fe) in judged.items()],
)  # fmt: skip

# %% [markdown]
# (Each row: 250 images clipped to $[-1, 1]$; ± one standard error, binomial for the
# confident share and from 30 bootstrap resamples of the images for the Fréchet
# distance. The floor uses 250 training digits, as every row. 250 images are few, enough
# to tell apart the differences that matter here and cheap enough for a page that must
# run in a minute; the main run's 500 serve the figures and the memorisation check.)

# %%
ancestral_q, _, ancestral_fe = judged["ancestral (reverse SDE), 100 steps"]
raw_q, _, raw_fe = judged["ancestral, raw weights (no average)"]
perceptron_q, perceptron_se, perceptron_fe = judged[
    "ancestral, the perceptron (MLP) instead"
]
names = list(schedules)
ncsnv2_q, _, ncsnv2_fe = judged[f"annealed Langevin, {names[0]}"]
copied_q, _, copied_fe = judged[f"annealed Langevin, {names[1]}"]
five_q, _, five_fe = judged[f"annealed Langevin, {names[2]}"]


def apart_by(a, a_error, b, b_error):
    """How many standard errors of the difference separate b from a."""
    return (b - a) / math.sqrt(a_error**2 + b_error**2)


raw_gap = apart_by(ancestral_q.frechet, ancestral_fe, raw_q.frechet, raw_fe)
five_gap = apart_by(ncsnv2_q.frechet, ncsnv2_fe, five_q.frechet, five_fe)
copied_gap = apart_by(ncsnv2_q.frechet, ncsnv2_fe, copied_q.frechet, copied_fe)
# The same network, the same sampler, 250 images each: the difference of two
# independent Frechet distances, in its bootstrap standard error. At the
# book's seeds the raw weights' distance is about four times the average's,
# 5 standard errors further; at seed shift 3 the gap was 2.7 standard errors,
# hence a one-sided margin of 2.
claims.claim(
    "the raw weights' samples are further from the held-out digits than the "
    "average's, by more than 2 standard errors",
    raw_gap > 2,
    raw=raw_q.frechet,
    averaged=ancestral_q.frechet,
    standard_errors=raw_gap,
)
# The perceptron's samples: at the book's seeds their Frechet distance is
# about three times the CNN's, 7 standard errors further, and their
# confident share half of it; we claim 3 standard errors, which held for
# seed shifts 0 to 3.
perceptron_gap = apart_by(
    ancestral_q.frechet, ancestral_fe, perceptron_q.frechet, perceptron_fe
)
claims.claim(
    "an MLP trained the same steps makes worse digits than the CNN: a "
    "Frechet distance more than 3 standard errors larger, and fewer "
    "confident ones",
    perceptron_gap > 3 and perceptron_q.confident < ancestral_q.confident,
    mlp=perceptron_q.frechet,
    cnn=ancestral_q.frechet,
    standard_errors=perceptron_gap,
)
averaged_runs = [
    (k, v) for k, v in judged.items() if "raw" not in k and "MLP" not in k
]
# Binomial standard errors of about 0.03 with 250 images, for the samplers
# and for the floor alike.
below_floor = {
    name: apart_by(floor.confident, floor_error, q.confident, se)
    for name, (q, se, _) in judged.items()
    for floor_error in [
        math.sqrt(floor.confident * (1 - floor.confident) / 250)
    ]
}
claims.claim(
    "no sampler is as good as the data: each one's share of confident digits "
    "is below real digits' by more than 3 standard errors",
    all(gap < -3 for gap in below_floor.values()),
    standard_errors=below_floor,
)
# Coverage of 250 images: bootstrap standard errors of about 0.01 to 0.02
# (finite samples bias it down a little); real digits give 0.99.
claims.claim(
    "every sampler of the unconditional model, with averaged weights, "
    "covers the classes (coverage over 0.85)",
    all(q.coverage > 0.85 for name, (q, _, _) in averaged_runs),
    coverage={name: q.coverage for name, (q, _, _) in averaged_runs},
)


def against_ncsnv2(gap):
    """A verdict on a Frechet distance's gap to NCSNv2's, in standard errors."""
    if gap > 3:
        return f"{gap:.1f} standard errors worse than NCSNv2's"
    if gap < -3:
        return f"{-gap:.1f} standard errors better than NCSNv2's"
    return (
        f"within {abs(gap):.1f} standard errors of NCSNv2's, a difference "
        "that 250 images cannot establish"
    )


# %% tags=["prose"]
display.prose(
    rf"""
    The three kinds of sampler all make digits of every class: coverage at
    least {min(q.coverage for _, (q, _, _) in averaged_runs):.2f}, against
    {floor.coverage:.3f} for real digits. None is as good as the data:
    {ancestral_q.confident:.0%} of the ancestral sampler's digits are
    classified with confidence, against {floor.confident:.0%} of real ones,
    and its Fréchet distance, {ancestral_q.frechet:.1f}, is
    {ancestral_q.frechet / floor.frechet:.0f} times the floor. The moving
    average of the weights is worth a lot: the raw weights of the same run
    give a Fréchet distance of {raw_q.frechet:.1f}, {raw_gap:.0f} standard
    errors further. So is the convolution: the perceptron trained on the
    same batches gives {perceptron_q.frechet:.1f}, {perceptron_gap:.0f}
    standard errors further than the CNN, and only
    {perceptron_q.confident:.0%} confident digits. Its steps are cheaper
    ({perceptron_seconds:.0f} s of training against
    {training_seconds:.0f} s), so this compares equal steps, not equal
    cost; reflection question 5 asks you to try the other. Among the
    schedules of annealed Langevin dynamics,
    NCSNv2's gives {ncsnv2_q.frechet:.1f}; five levels
    ($\gamma = {(largest / 0.02) ** 0.25:.1f}$, shells far apart) give
    {five_q.frechet:.1f}, {against_ncsnv2(five_gap)}; Chapter 4's ten levels
    give {copied_q.frechet:.1f}, {against_ncsnv2(copied_gap)}. Technique 4's
    step carries the chains across wider gaps than the shells alone suggest:
    technique 2's ratio is a safe choice, and how far one may stray from it
    is a matter to measure, not to assume.
    """
)

# %% [markdown]
# **Mode coverage and memorisation.** Does the model make every digit about equally
# often, as the data has them? And are its digits new, or copies of training images? A
# model that memorised its training set would score well on every measure above. For
# each generated digit we find its nearest training image (`metrics.nearest_neighbours`),
# and compare those distances with the same distances for the held-out digits, which
# the model never saw: real, new digits, at their natural distance from the training set.

# %% alt="Left: the share of each digit 0 to 9 among the 500 generated digits, as bars with error bars, around the data's share of one tenth (dashed line): every digit is made, some more often than others. Right: histograms of the distance from each image to its nearest training image, for the 500 generated digits and for the held-out digits: the generated digits lie at least as far from the training set as held-out digits do, with no spike near zero."
predicted = classifier.predict(samples)
shares, share_errors = metrics.class_histogram(predicted, 10)
generated_nearest = metrics.nearest_neighbours(samples, x)
held_nearest = metrics.nearest_neighbours(x_test, x)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].bar(range(10), shares, yerr=share_errors, capsize=2, color="C0")
axes[0].axhline(0.1, color="gray", ls="--", lw=1)
axes[0].set(xticks=range(10), xlabel="class", ylabel="share of generated")
bins = torch.linspace(0, 6, 41)
for values, name in [
    (generated_nearest.distances, "generated"),
    (held_nearest.distances, "held-out digits"),
]:
    axes[1].hist(values, bins=bins, density=True, alpha=0.55, label=name)
axes[1].set(xlabel="distance to the nearest training image", yticks=[])
axes[1].legend()
plt.tight_layout()
plt.show()
main_quality = metrics.sample_quality(samples, classifier, x_test)
close_call = held_nearest.distances.quantile(0.05).item()
too_close = (generated_nearest.distances < close_call).double().mean().item()
closest = generated_nearest.distances.min().item()
# A copy would be at distance 0 (pixel values are multiples of 1/8). If the
# generated digits were as new as held-out ones, 5% of them would fall below
# the held-out digits' 5% quantile; the binomial standard error with 500
# images is 0.01, and across seeds the share was 0 to 1%. We accept at most
# 5% plus two standard errors.
claims.claim(
    "no generated digit is a copy of a training image, and no more of them "
    "lie unusually close to the training set than held-out digits do",
    closest > 0.5 and too_close < 0.05 + 2 * math.sqrt(0.05 * 0.95 / 500),
    closest=closest,
    too_close=too_close,
    close_call=close_call,
)
# Medians of 500 and 359 distances whose spread is about 0.5: standard errors
# near 0.03; at the book's seeds the generated digits sit about 0.7 further.
claims.claim(
    "the generated digits lie further from the training set, in median, "
    "than held-out digits do",
    generated_nearest.distances.median() > held_nearest.distances.median(),
    generated=generated_nearest.distances.median(),
    held_out=held_nearest.distances.median(),
)
largest_share = shares.max().item()
smallest_share = shares.min().item()
# 500 images: binomial standard errors of about 0.013 near 0.1.
claims.claim(
    "every digit is made (each class over 3% of the samples)",
    smallest_share > 0.03,
    shares=shares,
)

# %% tags=["prose"]
display.prose(
    rf"""
    Every digit is made: the classes' shares run from {smallest_share:.1%} to
    {largest_share:.1%} (standard errors about 1.3%) against about 10% each
    in the data, a coverage of {main_quality.coverage:.3f}. The model is not
    copying: the generated digit nearest to any training image is
    {closest:.2f} away from it (a copy would be at 0), and
    {too_close:.1%} of the generated digits are nearer the training set than
    the held-out digits' 5% quantile, {close_call:.2f}, against 5% for new
    real digits. The median generated digit is
    {generated_nearest.distances.median():.2f} from its nearest training
    image, a held-out digit {held_nearest.distances.median():.2f}: the model's
    digits are further from the training set than real new
    digits, the mark of a model that is still imperfect, not of one that
    memorised.
    """
)

# %% [markdown]
# Here are ten generated digits above their nearest training images: relatives, not
# copies.

# %% alt="Two rows of ten digits: generated digits on top, and below each the training image nearest to it, which shows the same digit drawn differently."
pairs = torch.cat([samples[:10], x[generated_nearest.indices[:10]]])
plotting.plot_images(pairs, n_cols=10)
plt.show()

# %% [markdown]
# ## 7.6 Conditional generation: classifier-free guidance
#
# The same network, given a class $k$, predicts the noise of $p_t(x \mid k)$, and
# Chapter 6's classifier-free guidance ([Ho & Salimans, 2022](../references.md#ho2022))
# combines the two scores with the weight $\xi$:
# $\tilde s = (1 + \xi)\,\nabla_x\log p_t(x \mid k) - \xi\,\nabla_x\log p_t(x)$. We
# draw 20 digits of each class at $\xi = 0$ (plain conditional sampling) and $\xi = 3$,
# all classes in one batch (the network takes one label per image), with 50 ancestral
# steps, and ask the classifier whether it agrees with the class asked for.

# %% alt="Two grids of generated digits, one row per class from 0 to 9: on the left without guidance (weight 0), varied and mostly of the right class; on the right with guidance weight 3, every row clearly the requested digit, drawn in a thicker, more uniform style."
wanted = torch.arange(10).repeat_interleave(20)  # 20 images of each class


def conditional(model, labels):
    """The noise prediction for one given class per image."""
    return lambda x, t: model(x, t, labels)


guided_rows, guided = [], {}
fig, axes = plt.subplots(1, 2, figsize=(11, 6))
for ax, xi in zip(axes, (0.0, 3.0)):
    guided_score = guidance.classifier_free_guidance(
        vp.score_from_noise(conditional(trained, wanted)), score, xi
    )
    generator = seeds.generator(12)
    with torch.no_grad():
        images = diffusion.ancestral(
            guided_score, vp, vp.prior_sample(len(wanted), d, generator), 50,
            generator,
        ).samples.clamp(-1, 1)  # fmt: skip
    agreement = classifier.accuracy(images, wanted)
    quality, _, frechet_error = judge(images, seed=30)
    guided[xi] = (agreement, quality, frechet_error)
    plotting.plot_images(images.reshape(10, 20, d)[:, :8].reshape(-1, d),
                         n_cols=8, ax=ax)  # fmt: skip
    ax.set_title(f"guidance weight $\\xi = {xi:g}$")
    guided_rows.append([
        f"{xi:g}", f"{agreement:.3f}", f"{quality.confident:.2f}",
        f"{quality.frechet:.1f} ± {frechet_error:.1f}",
    ])  # fmt: skip
plt.tight_layout()
plt.show()
display.show_table(
    ["$\\xi$", "agreement with the class asked for", "confident",
     "Fréchet distance"],
    guided_rows,
)  # fmt: skip

# %%
(agree_0, quality_0, fe_0), (agree_3, quality_3, fe_3) = guided.values()
# 200 images: binomial standard errors of at most 0.035 on an agreement.
# Across seeds the conditional samples agreed 0.85 to 0.92, the guided
# ones over 0.97; their Frechet distances were about 1 and over 8.
agree_error = math.sqrt(agree_0 * (1 - agree_0) / 200)
claims.claim(
    "without guidance most conditional samples already have the class asked "
    "for (over 75%); with weight 3 more do (over 95%)",
    agree_0 > 0.75 and agree_3 > 0.95 and agree_3 > agree_0,
    agreement=[agree_0, agree_3],
)
claims.claim(
    "guidance moves the samples away from the held-out digits' spread: "
    "the Frechet distance grows by more than 3 standard errors",
    apart_by(quality_0.frechet, fe_0, quality_3.frechet, fe_3) > 3,
    frechet=[quality_0.frechet, quality_3.frechet],
)
# Confident shares: binomial standard errors of 0.03 (200 images) and 0.02
# (the 250 unconditional ones); across seeds the gap was 0.3 to 0.4.
unconditional_share = ancestral_q.confident
confident_gap = apart_by(
    unconditional_share,
    math.sqrt(unconditional_share * (1 - unconditional_share) / 250),
    quality_0.confident,
    math.sqrt(quality_0.confident * (1 - quality_0.confident) / 200),
)
claims.claim(
    "the conditional samples (weight 0) are classified with confidence far "
    "more often than the unconditional ones (by over 4 standard errors)",
    confident_gap > 4,
    conditional=quality_0.confident,
    unconditional=unconditional_share,
)

# %% tags=["prose"]
display.prose(
    rf"""
    Without guidance, {agree_0:.0%} of the digits are the class asked for
    (± {agree_error:.0%}); with $\xi = 3$, {agree_3:.1%}, and
    {quality_3.confident:.0%} of them are classified with confidence. The
    price is the one Chapter 6 measured in the plane: the guided digits of a
    class look alike, and their Fréchet distance to the held-out digits grows
    from {quality_0.frechet:.1f} to {quality_3.frechet:.1f}, because their
    spread no longer matches the data's. One more thing shows here: the
    conditional samples are classified with confidence far more often than
    the unconditional ones of Section 7.4 ({quality_0.confident:.0%} against
    {ancestral_q.confident:.0%}), and their Fréchet distance is
    {quality_0.frechet:.1f} against {ancestral_q.frechet:.1f}. The unconditional score was trained on the
    20% of the batches whose label was dropped, and the conditional one on
    the other 80%: drawing a class first and then a digit of it is also an
    unconditional sampler, and here the better one.
    """
)

# %% [markdown]
# ## 7.7 An inverse problem: completing half a digit
#
# Suppose we see only the top half of a digit, four rows of pixels, and want the bottom
# half. Write $\chi \in \{0, 1\}^{64}$ for the mask, 1 on the observed pixels, and $x_0$
# for the digit, of which we know only $\chi \odot x_0$. We want samples of the missing
# pixels given the observed ones. The score model knows $p_t$; the simplest way to make
# it respect the observation is **replacement**
# ([Song et al., 2021](../references.md#song2021);
# [Lugmayr et al., 2022](../references.md#lugmayr2022)): run the reverse process on the
# whole image, and after every step from $t$ to $t'$ overwrite the observed pixels with
# what the forward process would have made of them at $t'$:
#
# $$
# x \leftarrow \chi \odot \big(\sqrt{\bar\alpha(t')}\;x_0 + \sigma(t')\, z\big) + (1 - \chi) \odot x ,
# \qquad z \sim \mathcal{N}(0, I) .
# \tag{7.2}
# $$
#
# The missing pixels never see the observation directly; they see it through the score,
# which at every step pulls the whole image towards images whose top half looks like
# this one. It is not exact conditional sampling (the observed pixels are noised
# independently of the path the others took), but it is close, and it needs no training.
#
# ### Exercise 7.2: the inpainting step (build it, about 20 minutes)
#
# Write `inpainting_step`: one ancestral step (6.12) of every pixel from `t` down to
# `t_next` (you may call `diffusion.ancestral` with the grid `times=torch.tensor([t,
# t_next])` and `denoise=False`, or write it with its posterior variance), then the
# replacement (7.2), with random numbers from `generator`. The grader checks three
# things. If you draw the step's noise first and the replacement's second, it compares
# your step with the right one exactly. Whatever the order, it takes one step of 4096
# copies of an image and measures the mean and spread of the observed and the missing
# pixels against (7.2) and (6.12), which names the usual mistakes. Last, it runs your
# step for 100 steps on a Gaussian with the digits' mean and covariance, whose exact
# conditional distribution is known, and checks the completions against it.


# %%
def inpainting_step(x, t, t_next, score, process, observed, mask, generator):
    """One step of inpainting by replacement (7.2), from time t to t_next.

    x: the images at time t, shape (N, d); leave this tensor unchanged.
    score(x, t): the score of the process; process: a NoiseProcess (VP here).
    observed: the clean images x_0, shape (N, d); only their pixels where
        mask is True are known (the others hold meaningless values).
    mask: a boolean tensor of shape (d,), True on the observed pixels.
    generator: the torch.Generator to draw every random number from.
    Returns the images at time t_next, shape (N, d).
    """
    # TODO: your code here
    raise NotImplementedError


check_inpainting_step(inpainting_step)

# %% tags=["solution"]
import torch

from ebm_book import diffusion
from ebm_book.exercises.ch07_digits import check_inpainting_step


def inpainting_step_solution(
    x, t, t_next, score, process, observed, mask, generator
):
    moved = diffusion.ancestral(  # one step (6.12) of every pixel
        score, process, x, times=torch.tensor([t, t_next]),
        generator=generator, denoise=False,
    ).samples  # fmt: skip
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    # the observed pixels as the forward process (6.2) would have them at t'
    noisy = process.mean_coefficient(t_next) * observed
    noisy = noisy + process.sigma(t_next) * z
    return torch.where(mask, noisy.to(x.dtype), moved)


check_inpainting_step(inpainting_step_solution)

# %% [markdown]
# Now on the digits: the top half of 200 held-out digits, 20 of each class, completed
# with 100 steps of (7.2) by the trained model (the unconditional score: the model is not
# told the class). At the end the observed pixels are set to the observation itself. As
# a baseline we fill the missing half with the training set's mean digit, and we ask the
# classifier whether each completed digit is the digit it was.

# %% alt="Three rows of ten held-out digits: the true digits, the observed top halves with the bottom half missing (grey), and the model's completions, which continue the strokes of the top half, sometimes into another digit than the true one."
top = torch.arange(d) < d // 2  # the mask: the top four rows are observed
chosen = torch.cat([(labels_test == k).nonzero()[:20, 0] for k in range(10)])
truth, truth_labels = x_test[chosen], labels_test[chosen]
generator = seeds.generator(13)
state = vp.prior_sample(len(truth), d, generator)
times = vp.time_grid(100).tolist()
with torch.no_grad():
    for t, t_next in zip(times[:-1], times[1:]):  # the step of Exercise 7.2
        state = inpainting_step_solution(
            state, t, t_next, score, vp, truth, top, generator
        )
completed = torch.where(top, truth, state).clamp(-1, 1)
mean_filled = torch.where(top, truth, x.mean(dim=0))
shown = torch.arange(0, 200, 20)  # one of each class
observed_view = torch.where(top, truth, torch.zeros(()))  # grey: unseen
plotting.plot_images(
    torch.cat([truth[shown], observed_view[shown], completed[shown]]),
    n_cols=10,
)
plt.show()
scores_of = {  # images: (classified as the true digit, confidently)
    name: (
        classifier.accuracy(images, truth_labels),
        (classifier.confidence(images) > 0.9).double().mean().item(),
    )
    for name, images in [
        ("the true digits", truth),
        ("top half, bottom from the mean digit", mean_filled),
        ("top half, bottom completed (7.2)", completed),
    ]
}
display.show_table(
    ["images (200)", "classified as the true digit", "confident"],
    [[name, f"{a:.3f}", f"{c:.2f}"] for name, (a, c) in scores_of.items()],
)

# %%
(true_rate, _), (mean_rate, mean_sure), (completed_rate, completed_sure) = (
    scores_of.values()
)
# 200 digits: binomial standard errors of at most 0.035 on each share.
# Across seeds the completions' accuracy was 0.5 to 0.6, their confident
# share 0.4 to 0.5, the mean-filled digits' confident share under 0.3.
rate_error = math.sqrt(completed_rate * (1 - completed_rate) / 200)
sure_gap = apart_by(
    mean_sure,
    math.sqrt(mean_sure * (1 - mean_sure) / 200),
    completed_sure,
    math.sqrt(completed_sure * (1 - completed_sure) / 200),
)
claims.claim(
    "the completed digits are the true digit far more often than chance "
    "(over 0.3, against 0.1)",
    completed_rate > 0.3,
    rate=completed_rate,
)
claims.claim(
    "the completions are classified with confidence more often than the "
    "mean-filled images (by over 3 standard errors)",
    sure_gap > 3,
    completed=completed_sure,
    mean_filled=mean_sure,
)
accuracy_gap = apart_by(mean_rate, rate_error, completed_rate, rate_error)
if accuracy_gap > 3:
    accuracy_verdict = "more often than the mean digit's filling does"
elif accuracy_gap < -3:
    accuracy_verdict = (
        "less often than the mean digit's filling does, by "
        f"{-accuracy_gap:.1f} standard errors"
    )
else:
    accuracy_verdict = (
        f"{'less' if accuracy_gap < 0 else 'more'} often than the mean "
        f"digit's filling does, but by only {abs(accuracy_gap):.1f} standard "
        "errors, a difference that 200 digits cannot establish"
    )

hedging = (
    "A wrong completion is a confident wrong digit, while the mean digit "
    "hedges between the candidates; that is why the blurs are the true digit "
    "as often or more."
    if accuracy_gap < 0
    else ""
)
mean_sure = round(mean_sure, 2)  # as the table shows it

# %% tags=["prose"]
display.prose(
    rf"""
    The classifier recognises {true_rate:.0%} of the 200 true digits. The
    completed ones are the true digit {completed_rate:.0%} of the time
    (± {rate_error:.0%}), far above the 10% of a guess, and
    {accuracy_verdict} ({mean_rate:.0%}). They are digits: the classifier is
    confident about {completed_sure:.0%} of them, and about
    {mean_sure:.0%} of the mean-filled images, which are blurs. Look at the
    figure to see why the class is often another: the top half of a digit
    often fits several (the tops of a 0 and of a 9 look alike). A completion
    is one sample of the digits that fit the top half, as it should be.
    {hedging} Inpainting samples the possibilities; it does not return the
    truth.
    """
)

# %% [markdown]
# ### Exercise 7.3: a model without the largest noise levels (diagnose it, about 5 minutes)
#
# To save training time, someone trains the same network only on noise levels up to
# $0.5$: times $t$ at which $\sigma(t)/\sqrt{\bar\alpha(t)} \le 0.5$, the lowest seventh of
# the VP process's time range. To sample, they start ancestral sampling where their
# model's levels end, from the VP prior $\mathcal{N}(0, I)$, with 60 steps down to
# $t_{\min}$. (We need not train their model: below that time our network is such a
# model, trained on those levels among others, so we run ours on their grid.)

# %% alt="A grid of 100 digits from a sampler started at noise level 0.5 from the standard normal prior: the paper is grey and speckled instead of white."
fine = torch.linspace(0, 1, 100_001, dtype=torch.float64)
level_of = vp.sigma(fine) / vp.mean_coefficient(fine)  # grows with t
cut = fine[level_of <= 0.5].max().item()  # where the model's levels end
generator = seeds.generator(14)
with torch.no_grad():
    truncated = diffusion.ancestral(
        score, vp, vp.prior_sample(250, d, generator),
        times=torch.linspace(cut, vp.t_min, 61, dtype=torch.float64),
        generator=generator,
    ).samples.clamp(-1, 1)  # fmt: skip
plotting.plot_images(truncated[:100])
plt.show()
truncated_q, truncated_se, truncated_fe = judge(truncated, seed=31)
paper = {  # the mean value of the border pixels, blank paper in the data
    "data": x.reshape(-1, 8, 8)[:, :, 0].mean().item(),
    "main samples": samples.reshape(-1, 8, 8)[:, :, 0].mean().item(),
    "this run": truncated.reshape(-1, 8, 8)[:, :, 0].mean().item(),
}
# 250 and 500 images of 8 pixels each: standard errors of the column's mean
# under 0.01. The thresholds sit more than five of them from the values.
claims.claim(
    "the truncated run's paper is grey: its left column averages above "
    "-0.93, the main samples' below -0.95",
    paper["this run"] > -0.93 and paper["main samples"] < -0.95,
    paper=paper,
)

# %% tags=["prose"]
display.prose(
    rf"""
    The left column of pixels, blank paper in every training digit (mean
    {paper["data"]:.2f}), averages {paper["this run"]:.2f} in these samples,
    against {paper["main samples"]:.2f} in the main run's. The classifier is
    confident about {truncated_q.confident:.0%} of them (the main run:
    {ancestral_q.confident:.0%}), and their Fréchet distance is
    {truncated_q.frechet:.1f} (the main run: {ancestral_q.frechet:.1f}). What
    went wrong?
    """
)

# %% [markdown]
# - **a.** Too few steps: 60 steps cannot turn noise into a digit.
# - **b.** The sampler starts from the wrong distribution: at the level 0.5 the noisy
#   digits are nothing like $\mathcal{N}(0, I)$, and small noise levels cannot repair that.
# - **c.** The model memorised its training images.
# - **d.** Without the largest levels the moving average of the weights does not work.

# %%
answer = None  # "a", "b", "c" or "d"
check_truncated_model(answer)

# %% tags=["solution"]
from ebm_book.exercises.ch07_digits import check_truncated_model

check_truncated_model("b")

# %% [markdown]
# ## Reflection questions
#
# ??? question "1. Technique 1 does not depend on the dimension, technique 2 does. Which of the two would you expect to matter more for 32 x 32 colour images, and why?"
#     Technique 2. Exercise 7.1 showed that the largest level is set by the largest
#     distance, in any dimension; it grows with the images, but one number fixes it. The
#     shells of consecutive levels, though, have radii $\sigma\sqrt d$ and widths about
#     $\sigma/\sqrt2$: at $d = 3072$ NCSNv2's ratio is about 1.04, and the number of
#     levels, hundreds, is what makes large images expensive to sample with annealed
#     Langevin dynamics. Continuous-time samplers (Chapter 6) make the levels a grid of
#     times, which hides the choice but does not remove it.
#
# ??? question "2. The memorisation check compared distances to the nearest training image. Would a model that memorised half its training set and generated noise otherwise pass it?"
#     Not the claim as made here: its copies would sit at distance zero, far below the
#     held-out digits' 5% quantile, and a share of them there near one half would fail
#     it. But the check looks at one distance per image: a model that copied training
#     digits with small changes (a shifted stroke) would sit close to, not on, the
#     training set, and only the comparison with held-out digits would show it. Looking
#     at the nearest pairs, as the figure does, remains part of the check.
#
# ??? question "3. The Fréchet distance here uses a linear classifier's logits. What can it not see?"
#     It compares the means and covariances of ten numbers per image. Two sets with the
#     same logit statistics look the same to it, even if one has speckle that does not
#     move the logits, or strokes drawn in a style the classifier ignores. A deeper
#     network's features (as the FID uses) see more, but every such measure sees only
#     what its features encode; that is why the page shows the samples too.
#
# ??? question "4. Replacement noises the observed pixels independently of the path of the others. When would that be a poor approximation, and what does RePaint do about it?"
#     When the observed and the missing pixels are strongly coupled at large noise: the
#     replaced pixels then disagree with what the rest of the image has become, and the
#     sampler has too few steps left to reconcile them. RePaint (Lugmayr et al., 2022)
#     goes back and forth: after a reverse step it adds noise again and repeats the
#     step, which lets the two parts harmonise, at the price of more score evaluations.
#     The Gaussian of Exercise 7.2 shows the effect: its grader measures how much
#     further from the exact conditional mean the completions land than exact samples do.
#
# ??? question "5. The perceptron of Section 7.3 trained the same steps as the CNN, in less CPU time. Give it the CNN's time instead: do you expect it to catch up?"
#     Run it: train the perceptron for as many steps as fit in the CNN's training time
#     (the ratio of the two times printed in Section 7.3) and judge 250 of its samples
#     as in Section 7.5. The case for the convolution is not about steps: the
#     perceptron's first layer must learn each pixel's relation to its neighbours
#     separately, at all 64 positions, where a convolution learns one 3 x 3 pattern and
#     applies it everywhere. More steps let the perceptron fit more; they do not give it
#     that sharing, which with 1,438 training images is much of what there is to learn.
#
# ## Summary
#
# - The digits are points of $\mathbb{R}^{64}$; the package's losses, networks and
#   samplers take them unchanged. A small convolutional U-Net, trained with
#   $J_{\text{simple}}$ for about sixty passes over the data, makes recognisable digits
#   within a page's budget of CPU time.
# - Technique 1 is the same in every dimension: noise of the largest distance moves a
#   chain between any two points with probability at least $\Phi(-1/2) \approx 0.31$.
#   Technique 2 bites only in high dimension, where noise lives on thin shells; technique
#   4's step size carries
#   the chains across wider gaps than the shells suggest, so how far a schedule may
#   stray from technique 2 is measured, not assumed.
# - The moving average of the weights costs nothing and, on this short run, measurably
#   improves the Fréchet distance.
# - Honest evaluation needs references: a classifier's confidence, coverage and Fréchet
#   distance against real digits' values, and a memorisation check against held-out
#   digits. This model covers the classes, copies nothing, and is measurably worse than
#   real data.
# - One network, trained with dropped labels, gives conditional samples, guided samples
#   (sharper, less diverse) and, with replacement, completions of half-seen digits.
# - A sampler can only start where the model's levels end: without the largest levels
#   the prior is wrong, and no small level repairs it.
#
# ## Where to go next
#
# - Larger images need larger networks and many more training steps than a page can
#   run; the recipe is the same. [Karras et al. (2022)](../references.md#karras2022)
#   give a modern design of the network's scaling and of the samplers, and
#   [Rombach et al. (2022)](../references.md#rombach2022) run the diffusion in an
#   autoencoder's latent space, where images are small again.
# - Inpainting is one inverse problem among many: deblurring, super-resolution and
#   colourisation observe a linear function of the image instead of some of its pixels,
#   and the same idea, the score model as a prior, applies.
#
# ## References
#
# - E. Alpaydin, C. Kaynak (1998). *Optical recognition of handwritten digits.* UCI
#   Machine Learning Repository. (The data set.) [↗](../references.md#alpaydin1998)
# - Y. Song, S. Ermon (2020). *Improved techniques for training score-based generative
#   models.* NeurIPS. (NCSNv2: the five techniques.) [↗](../references.md#song2020)
# - J. Ho, A. Jain, P. Abbeel (2020). *Denoising diffusion probabilistic models.*
#   NeurIPS. [↗](../references.md#ho2020)
# - Y. Song, J. Sohl-Dickstein, D. P. Kingma, A. Kumar, S. Ermon, B. Poole (2021).
#   *Score-based generative modeling through stochastic differential equations.* ICLR.
#   (Inpainting by replacement, Appendix I.) [↗](../references.md#song2021)
# - J. Ho, T. Salimans (2022). *Classifier-free diffusion guidance.* NeurIPS Workshop on
#   Deep Generative Models and Downstream Applications; arXiv:2207.12598.
#   [↗](../references.md#ho2022)
# - M. Heusel, H. Ramsauer, T. Unterthiner, B. Nessler, S. Hochreiter (2017). *GANs
#   trained by a two time-scale update rule converge to a local Nash equilibrium.*
#   NeurIPS. (The FID.) [↗](../references.md#heusel2017)
# - D. C. Dowson, B. V. Landau (1982). *The Fréchet distance between multivariate normal
#   distributions.* Journal of Multivariate Analysis 12(3). [↗](../references.md#dowson1982)
# - A. Lugmayr, M. Danelljan, A. Romero, F. Yu, R. Timofte, L. Van Gool (2022).
#   *RePaint: inpainting using denoising diffusion probabilistic models.* CVPR.
#   [↗](../references.md#lugmayr2022)
# - T. Karras, M. Aittala, T. Aila, S. Laine (2022). *Elucidating the design space of
#   diffusion-based generative models.* NeurIPS. [↗](../references.md#karras2022)
# - R. Rombach, A. Blattmann, D. Lorenz, P. Esser, B. Ommer (2022). *High-resolution image
#   synthesis with latent diffusion models.* CVPR. [↗](../references.md#rombach2022)
#
# The full bibliography is on the [references page](../references.md).
