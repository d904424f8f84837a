r"""Chapter 3's "build it" grader: a denoising loss and a training loop, judged by what they learn.

The reader writes ``dsm_loss(model, x, sigma, generator)``, which draws its own noise,
and ``fit_score(model, data, sigma, n_steps, lr, generator)``, Adam on mini-batches. The
grader checks them in three stages, cheapest first, so that a mistake is named where it
is plainest:

1. the loss, exactly (in `ch03_losses`): the model records the noisy points it is
   shown, which gives back the noise the reader drew, and with it the right value;
2. the loop, on a few steps: one Adam step moves every parameter by about ``lr``; the
   number of backward passes, the gradients left at the end (are they summed over
   steps?) and the effect of the generator (same seed, same model) tell the rest;
3. the result, statistically: a small `~ebm_book.nets.ScoreMLP` trained on the book's
   three-mode mixture at $\sigma = 0.5$, compared with the exact noisy score
   $\nabla \log p_\sigma$ on samples of $p_\sigma$ (relative Fisher divergence, mean
   cosine, and the ratio of the fields' sizes, which names a wrong scale).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from ..examples import example_mixture
from ..nets import ScoreMLP
from ._framework import CheckFailed, _as_tensor, checker, private_run
from .ch03_losses import LOSS_SCALES, check_loss_with_own_noise

__all__ = ["check_score_training"]

SIGMA = 0.5  # moderate: the noisy mixture is smooth, and its score is learned fast
N_STEPS, LR, N_DATA, N_TEST = 500, 3e-3, 4096, 4000
# The reference (Adam, batches of 256 drawn with the generator) over 20 seeds of the
# grader's `seed` (initial weights and generator): relative D_F mean 0.032, sd 0.008,
# largest 0.048; mean cosine mean 0.971, sd 0.010, smallest 0.952. We allow mean + 5 sd
# and mean - 5 sd, rounded outwards: 0.07 and 0.92. Correct variants over 10 seeds: a
# shuffled DataLoader (epochs) 0.025 ± 0.005, batches of 128 0.041 ± 0.008, of 512
# 0.020 ± 0.005. Every mistake tried lands far outside: a flipped sign 3.9 (cosine
# -0.97), -z/sigma^2 0.92 (the field 1.9 times too long), -sigma z 0.58 (0.24 times as
# long), the clean point or no noise 1.0 (a field near zero), no zero_grad 1.0.
MAX_RELATIVE_FISHER = 0.07
MIN_COSINE = 0.92
# A loop may be slower than the plain one (a DataLoader is about twice as slow, whole-data
# batches a few times), but not by this factor, timed against the plain loop on 5 steps:
# a loop over single points is about 100 times slower.
SLOWDOWN_ALLOWED = 25.0


def _small_model(seed: int) -> ScoreMLP:
    """The grader's network, with the initial weights of ``seed``, untouched global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ScoreMLP(dim=2, hidden=64, depth=2)


def _parameters(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _run_counting(
    fit_score: Callable[..., object],
    seed: int,
    data: torch.Tensor,
    n_steps: int,
    generator_seed: int,
) -> tuple[ScoreMLP, list[list[torch.Tensor]], object]:
    """Run the reader's loop; record the fresh gradient of every backward pass."""
    model = _small_model(seed)
    fresh: list[list[torch.Tensor]] = [[] for _ in model.parameters()]
    for store, p in zip(fresh, model.parameters()):
        p.register_hook(lambda grad, store=store: store.append(grad.detach().clone()))
    history = fit_score(
        model, data, SIGMA, n_steps, LR, torch.Generator().manual_seed(generator_seed)
    )
    return model, fresh, history


def _plain_loop(model: torch.nn.Module, data: torch.Tensor, n_steps: int) -> None:
    """Adam on the denoising loss, the loop the reader's is timed against."""
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(n_steps):
        batch = data[torch.randint(len(data), (256,), generator=generator)]
        z = torch.randn(batch.shape, generator=generator)
        loss = 0.5 * ((model(batch + SIGMA * z) + z / SIGMA) ** 2).sum(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _seconds_per_step(run: Callable[[], object], n_steps: int) -> float:
    """Processor seconds per step (not wall time, which a busy machine inflates)."""
    begun = time.process_time()
    run()
    return (time.process_time() - begun) / n_steps


def _check_history(history: object, n_steps: int) -> None:
    try:
        values = [float(v) for v in history]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise CheckFailed(
            "fit_score should return the list of its losses, one float per step "
            f"(loss.item()); got {type(history).__name__}."
        ) from None
    if len(values) != n_steps:
        raise CheckFailed(f"fit_score returned {len(values)} losses for n_steps = {n_steps}.")
    if not all(math.isfinite(v) for v in values):
        raise CheckFailed("the losses fit_score returned are not all finite.")


def _check_loop(fit_score: Callable[..., object], seed: int, data: torch.Tensor) -> float:
    """Stage 2: Adam at rate lr, n_steps steps, fresh gradients, the generator, the speed.

    Returns the seconds a step of the reader's loop takes.
    """
    start = _parameters(_small_model(seed))
    model, fresh, _ = _run_counting(fit_score, seed, data, 1, 200 + seed)
    if len(fresh[0]) > 1:
        raise CheckFailed(
            f"with n_steps = 1 your loop ran {len(fresh[0])} backward passes: one per step, "
            "exactly n_steps of them."
        )
    moved = (_parameters(model) - start).abs()
    if fresh[0] and moved.max() == 0:
        raise CheckFailed(
            "the parameters did not change: make an Adam optimizer over model.parameters() "
            "and call its step() after loss.backward()."
        )
    gradient = torch.cat([g[-1].flatten() for g in fresh]) if all(fresh) else None
    if gradient is not None:
        ratio = (moved[gradient.abs() > 1e-5] / LR).median().item()
        if abs(ratio - 1) > 0.1:  # Adam's first step is lr * g / |g|, for every parameter
            raise CheckFailed(
                f"Adam's first step moves every parameter by lr = {LR:g}; yours moved them by "
                f"{ratio * LR:.2g} (the median). Use torch.optim.Adam(model.parameters(), lr=lr)."
            )
    begun = time.process_time()
    model, fresh, history = _run_counting(fit_score, seed, data, 5, 200 + seed)
    seconds = (time.process_time() - begun) / 5
    plain = _seconds_per_step(lambda: _plain_loop(_small_model(seed), data, 5), 5)
    if seconds > SLOWDOWN_ALLOWED * plain:
        raise CheckFailed(
            f"your loop takes {seconds * 1000:.0f} ms a step, {seconds / plain:.0f} times as "
            f"long as a plain one: is it looping over single points? Evaluate the model on "
            f"the whole batch at once."
        )
    passes = len(fresh[0])
    if passes != 5:
        raise CheckFailed(
            f"with n_steps = 5 your loop ran {passes} backward passes: one loss.backward() "
            "and one optimizer step per step, exactly n_steps of them."
        )
    _check_history(history, 5)
    for p, grads in zip(model.parameters(), fresh):
        if p.grad is not None and torch.allclose(
            p.grad, torch.stack(grads).sum(0), rtol=1e-4, atol=1e-8
        ):
            if not torch.allclose(p.grad, grads[-1], rtol=1e-4, atol=1e-8):
                raise CheckFailed(
                    "the gradients accumulate over the steps: PyTorch adds each backward "
                    "pass to .grad, so call optimizer.zero_grad() before each backward()."
                )
    after = _parameters(model)
    if not torch.equal(after, _parameters(_run_counting(fit_score, seed, data, 5, 200 + seed)[0])):
        raise CheckFailed(
            "two runs with identically seeded generators trained different models: your "
            "loop draws from PyTorch's global random state. Draw the batches with the "
            "generator: torch.randint(..., generator=generator), or "
            "DataLoader(..., shuffle=True, generator=generator)."
        )
    if torch.equal(after, _parameters(_run_counting(fit_score, seed, data, 5, 201 + seed)[0])):
        raise CheckFailed(
            "the generator passed in does not change the training: draw the batches and "
            "the noise with it, not with a generator of your own."
        )
    return seconds


def _field_statistics(model: torch.nn.Module) -> tuple[float, float, float]:
    """Relative Fisher divergence, mean cosine, and size ratio against grad log p_sigma."""
    noisy = example_mixture().perturbed(SIGMA)
    test = noisy.sample(N_TEST, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        learned = _as_tensor(model(test), "the trained model").double()
    exact = noisy.score(test).double()
    scale = exact.pow(2).sum(1).mean()
    relative = ((learned - exact).pow(2).sum(1).mean() / scale).item()
    cosine = torch.cosine_similarity(learned, exact, dim=1).mean().item()
    size = (learned.pow(2).sum(1).mean() / scale).sqrt().item()
    return relative, cosine, size


@checker
def check_score_training(
    dsm_loss: Callable[..., torch.Tensor], fit_score: Callable[..., object], seed: int = 0
) -> str:
    r"""Check a denoising loss and a training loop by the score field they learn.

    ``dsm_loss(model, x, sigma, generator)`` returns $J_{\text{DSM}}$ on the batch ``x``,
    drawing its noise with ``generator`` (half or twice $J_{\text{DSM}}$ is accepted: the
    minimizer is the same), and ``fit_score(model, data, sigma, n_steps, lr, generator)``
    trains ``model`` with Adam on mini-batches of ``data`` and returns the list of the
    losses. ``seed`` changes the initial weights and the generator the grader passes.

    Examples
    --------
    >>> def loss(model, x, sigma, generator):
    ...     z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    ...     return 0.5 * ((model(x + sigma * z) + z / sigma) ** 2).sum(1).mean()
    >>> def fit(model, data, sigma, n_steps, lr, generator, batch_size=256):
    ...     optimizer, history = torch.optim.Adam(model.parameters(), lr=lr), []
    ...     for _ in range(n_steps):
    ...         batch = data[torch.randint(len(data), (batch_size,), generator=generator)]
    ...         value = loss(model, batch, sigma, generator)
    ...         optimizer.zero_grad()
    ...         value.backward()
    ...         optimizer.step()
    ...         history.append(value.item())
    ...     return history
    >>> check_score_training(loss, fit)
    ✅ Correct! ...
    True
    """
    if not callable(fit_score):
        raise CheckFailed(
            f"pass both functions, check_score_training(dsm_loss, fit_score); the second "
            f"is a {type(fit_score).__name__}."
        )
    with private_run():
        scale = check_loss_with_own_noise(dsm_loss)
        data = example_mixture().sample(N_DATA, generator=torch.Generator().manual_seed(1))
        _check_loop(fit_score, 100 + seed, data)
        model = _small_model(100 + seed)
        history = fit_score(
            model, data, SIGMA, N_STEPS, LR, torch.Generator().manual_seed(200 + seed)
        )
        _check_history(history, N_STEPS)
        relative, cosine, size = _field_statistics(model)
    measured = (
        f"after {N_STEPS} steps at sigma = {SIGMA}, relative D_F = {relative:.3f} (we allow "
        f"{MAX_RELATIVE_FISHER}), mean cosine {cosine:.3f} (at least {MIN_COSINE})"
    )
    if relative <= MAX_RELATIVE_FISHER and cosine >= MIN_COSINE:
        note = "" if scale == 1.0 else f" (your loss is {LOSS_SCALES[scale]}: the same minimizer)"
        return f"{measured}: your network learned the noisy score from samples alone{note}."
    if cosine < -0.5:
        hint = "the learned field points away from the data: the target's sign is flipped."
    elif cosine > 0.8 and size > 1.5:
        hint = (
            f"the field points the right way but is {size:.1f} times too long, close to "
            f"1/sigma = {1 / SIGMA:g}: is the target -z/sigma^2?"
        )
    elif cosine > 0.8 and size < 0.6:
        hint = f"the field points the right way but is {size:.2f} times too short (sigma^2 = {SIGMA**2:g}?)."
    elif size < 0.2:
        hint = (
            "the learned field is nearly zero: does the model see the noisy points, and is "
            "its target the kernel's score?"
        )
    else:
        hint = (
            "compare your loop with the contract: Adam with lr, n_steps steps, a batch of "
            "batch_size points drawn with the generator, your dsm_loss on each batch."
        )
    raise CheckFailed(f"{measured}: {hint}")
