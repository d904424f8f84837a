"""One plain training loop: Adam on random mini-batches, seeded, with a progress bar.

Every model in the book is trained by `train`. It works on any data tensor of
shape ``(N, d)`` and any loss of the form ``loss_fn(model, batch, generator)``.
"""

from __future__ import annotations

import math

import torch

from . import nets
from ._types import LossFn
from ._validation import require_callable, require_int, require_points, require_positive

__all__ = ["train"]


def train(
    model: torch.nn.Module,
    loss_fn: LossFn,
    data: torch.Tensor,
    n_steps: int = 2000,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    averaged_model: torch.optim.swa_utils.AveragedModel | None = None,
    max_grad_norm: float | None = None,
) -> list[float]:
    r"""Train ``model`` with Adam on mini-batches of ``data``; return the loss after every step.

    Parameters
    ----------
    model
        The model to train (updated in place).
    loss_fn
        ``loss_fn(model, batch, generator)`` returns a scalar loss; ``generator`` is the
        loop's seeded generator, for any noise the loss draws.
    data
        Training data, shape ``(N, d)``, on the model's device.
    n_steps, batch_size, lr
        Number of Adam steps, mini-batch size (sampled with replacement), learning rate.
    seed
        Seeds the mini-batches and the loss's noise: same seed, same model.
    progress
        Show a ``tqdm`` progress bar (it renders in Jupyter, Colab and terminals).
    averaged_model
        A ``torch.optim.swa_utils.AveragedModel`` of ``model``, updated after every step:
        with ``multi_avg_fn=get_ema_multi_avg_fn(0.999)`` it keeps an exponential moving
        average of the weights, $\bar\theta \leftarrow 0.999\,\bar\theta + 0.001\,\theta$,
        which NCSNv2 samples with (technique 5) because it smooths out the jitter of the
        last steps.
    max_grad_norm
        If given, scale the gradient of all parameters down to at most this norm before
        each step (``torch.nn.utils.clip_grad_norm_``): one batch of bad samples then
        cannot throw an energy model far off, a stabiliser of contrastive divergence.

    Examples
    --------
    Fit a score model to Gaussian data by denoising score matching:

    >>> from ebm_book.losses import denoising_score_matching
    >>> from ebm_book.nets import ScoreMLP
    >>> torch.manual_seed(0)  # initial weights
    <torch._C.Generator object at ...>
    >>> data = torch.randn(512, 2, generator=torch.Generator().manual_seed(0))
    >>> loss = lambda model, batch, g: denoising_score_matching(model, batch, 0.5, g)
    >>> history = train(ScoreMLP(2, hidden=32), loss, data, n_steps=200, progress=False)
    >>> len(history), history[-1] < history[0]
    (200, True)

    Keep an exponential moving average of the weights as well:

    >>> from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    >>> model = ScoreMLP(2, hidden=32)
    >>> ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99))
    >>> _ = train(model, loss, data, n_steps=50, progress=False, averaged_model=ema)
    >>> ema(data).shape
    torch.Size([512, 2])
    """
    _require_model(model, data, averaged_model)
    require_callable(loss_fn, "loss_fn", ("model", "batch", "generator"))
    require_int(n_steps, "n_steps")
    require_int(batch_size, "batch_size")
    lr = require_positive(lr, "lr")
    if max_grad_norm is not None:
        max_grad_norm = require_positive(max_grad_norm, "max_grad_norm")
    generator = torch.Generator().manual_seed(require_int(seed, "seed", minimum=0))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[float] = []
    model.train()
    steps = range(n_steps)
    if progress:
        # Imported only when asked for: in a notebook without ipywidgets, importing
        # tqdm.auto prints a warning, and a silent run should stay silent.
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="training", leave=False)
    for _ in steps:
        index = torch.randint(data.shape[0], (batch_size,), generator=generator).to(data.device)
        loss = loss_fn(model, data[index], generator)
        if not history:  # the first loss: a differentiable scalar?
            _require_loss(loss)
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(_non_finite_loss(value, len(history) + 1, lr))
        optimizer.zero_grad()
        loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        if averaged_model is not None:
            averaged_model.update_parameters(model)
        history.append(value)
    model.eval()
    return history


def _require_model(model: object, data: torch.Tensor, averaged_model: object) -> None:
    """A module with parameters, on the device of the (finite) data."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    parameters = list(model.parameters())
    if not parameters:
        raise ValueError(f"model has no parameters to train: {type(model).__name__}.")
    # Not the time-conditional networks: their data may carry the labels as one more column.
    book_net = isinstance(
        model,
        (
            nets.ScoreMLP,
            nets.EnergyMLP,
            nets.NoiseConditionalScoreMLP,
            nets.NoiseConditionalScoreCNN,
        ),
    )
    dim = int(model.dim) if book_net else None  # type: ignore[arg-type]
    require_points(data, dim=dim, name="data")
    if parameters[0].device != data.device:
        raise ValueError(
            f"data is on {data.device} but the model is on {parameters[0].device}: "
            f"move one of them, e.g. data.to({str(parameters[0].device)!r})."
        )
    if averaged_model is not None and not callable(
        getattr(averaged_model, "update_parameters", None)
    ):
        raise TypeError(
            "averaged_model must be a torch.optim.swa_utils.AveragedModel (or None); "
            f"got {type(averaged_model).__name__}."
        )


def _require_loss(loss: object) -> None:
    """The first loss must be one number that depends on the model's parameters."""
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        got = (
            f"shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else type(loss).__name__
        )
        raise ValueError(f"loss_fn must return a scalar tensor (use .mean()); got {got}.")
    if not loss.requires_grad:
        raise ValueError(
            "loss_fn returned a loss that does not depend on the model's parameters (no "
            "gradient): compute it from model(batch), without .item(), .detach() or torch.no_grad()."
        )


def _non_finite_loss(value: float, step: int, lr: float) -> str:
    """Blame the right cause: the data are finite (checked), so step 1 means model or loss."""
    if step == 1:
        return (
            f"the loss is {value} at the first step, before any update, so the learning rate "
            "is not the cause: loss_fn returns NaN or inf for this model on this data (the data "
            "are finite). Check the model's output and the loss on one batch."
        )
    return (
        f"the loss became {value} at step {step}, after {step - 1} update"
        f"{'s' if step > 2 else ''} from a finite loss: training diverged. Try a smaller lr "
        f"(now {lr:g})."
    )
