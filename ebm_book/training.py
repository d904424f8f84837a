"""One plain training loop: Adam on random mini-batches, seeded, with a progress bar.

Every model in the book is trained by `train`. It works on any data tensor of
shape ``(N, d)`` and any loss of the form ``loss_fn(model, batch, generator)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._validation import check_points, check_positive, check_positive_int

__all__ = ["train"]

LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Generator], torch.Tensor]


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
    check_points(data, name="data")
    check_positive_int(n_steps, "n_steps")
    check_positive_int(batch_size, "batch_size")
    lr = check_positive(lr, "lr")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
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
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss.item()} at step {len(history) + 1}; try a smaller lr."
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if averaged_model is not None:
            averaged_model.update_parameters(model)
        history.append(loss.item())
    model.eval()
    return history
