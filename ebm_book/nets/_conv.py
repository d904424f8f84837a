r"""Small convolutional networks of images and a noise level or a time (Chapter 7's digits).

Both take images as the book takes every batch of points, flattened to ``(N, d)`` with
$d = \text{side}^2$ (pixels row by row, the layout of `ebm_book.datasets.digits`), so that
every loss, sampler and metric of the package works on them unchanged; inside, they see
``(N, 1, side, side)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import require_int, require_noise_levels, require_points
from ._conditional import N_FOURIER_FEATURES, _fourier_features, _LabelledNetwork, _times_per_point

__all__ = ["NoiseConditionalScoreCNN", "TimeConditionalCNN"]


class _ResidualBlock(nn.Module):
    """``h + conv(act(norm(conv(act(norm(h))) + shift(e))))``: the conditioning shifts each channel."""

    def __init__(self, channels: int, embedding: int) -> None:
        super().__init__()
        groups = math.gcd(channels, 8)
        self.norm1, self.norm2 = nn.GroupNorm(groups, channels), nn.GroupNorm(groups, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.shift = nn.Linear(embedding, channels)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        r = self.conv1(nn.functional.silu(self.norm1(h))) + self.shift(e)[:, :, None, None]
        return h + self.conv2(nn.functional.silu(self.norm2(r)))


class _UNet(nn.Module):
    """Images ``(N, side**2)`` and conditioning features ``(N, F)`` to images ``(N, side**2)``.

    One residual block at full resolution with ``channels`` channels, a strided convolution
    down to half the side with twice the channels, two blocks there, a transposed
    convolution back up, joined with the full-resolution features (a U-Net's skip
    connection), one more block, and a last convolution to one channel, initialised at
    zero (the network starts as the zero function). The conditioning features go through
    a two-layer MLP to an embedding that shifts the channels of every block.
    """

    def __init__(self, side: int, channels: int, n_features: int) -> None:
        super().__init__()
        self.side = side
        wide, embedding = 2 * channels, 4 * channels
        self.embed = nn.Sequential(
            nn.Linear(n_features, embedding), nn.SiLU(), nn.Linear(embedding, embedding)
        )
        self.first = nn.Conv2d(1, channels, 3, padding=1)
        self.before = _ResidualBlock(channels, embedding)
        self.down = nn.Conv2d(channels, wide, 3, stride=2, padding=1)
        self.middle = nn.ModuleList([_ResidualBlock(wide, embedding) for _ in range(2)])
        self.up = nn.ConvTranspose2d(wide, channels, 2, stride=2)
        self.merge = nn.Conv2d(2 * channels, channels, 1)
        self.after = _ResidualBlock(channels, embedding)
        self.norm = nn.GroupNorm(math.gcd(channels, 8), channels)
        self.last = nn.Conv2d(channels, 1, 3, padding=1)
        for parameter in self.last.parameters():
            nn.init.zeros_(parameter)

    @property
    def dtype(self) -> torch.dtype:
        return self.first.weight.dtype

    def forward(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``x`` and ``features`` in the network's dtype (the callers cast)."""
        e = self.embed(features)
        h = self.before(self.first(x.reshape(-1, 1, self.side, self.side)), e)
        m = self.down(h)
        for block in self.middle:
            m = block(m, e)
        h = self.after(self.merge(torch.cat([self.up(m), h], dim=1)), e)
        return self.last(nn.functional.silu(self.norm(h))).reshape(x.shape[0], -1)


def _require_side(side: int) -> int:
    side = require_int(side, "side", minimum=2)
    if side % 2:
        raise ValueError(f"side must be even (the network halves it); got {side}.")
    return side


class NoiseConditionalScoreCNN(nn.Module):
    r"""A noise-conditional score model of images, $s_\theta(x, \sigma)$: a small convolutional U-Net.

    The CNN counterpart of `NoiseConditionalScoreMLP`, for square one-channel images of
    side ``side`` (the 8 x 8 digits by default), called ``model(x, sigma)`` with ``x`` of
    shape ``(N, side**2)`` and ``sigma`` one level or one per image, ``(N,)``. The
    network sees the noise level through $\tfrac14\log\sigma$ and its Fourier features
    $\cos(\tfrac{j\pi}{4}\log\sigma)$, $\sin(\tfrac{j\pi}{4}\log\sigma)$, $j = 1, \dots, 4$
    (levels from $e^{-4}$ to $e^4$ span one period of the slowest pair), and its output is
    divided by $\sigma$ (NCSNv2's technique 3), so
    that it produces outputs of order one at every level. Trained with
    `losses.multi_noise_denoising_score_matching`; sampled with the samplers of
    `ebm_book.sampling`.

    Convolutions share their weights across the image: a stroke is a stroke wherever it
    lies, which an MLP has to learn at every position. The architecture is `TimeConditionalCNN`'s.

    Parameters
    ----------
    side
        The images' side, even; $d = \text{side}^2$.
    channels
        The channels at full resolution (twice as many at half resolution).

    Examples
    --------
    >>> model = NoiseConditionalScoreCNN()
    >>> x = torch.zeros(5, 64)
    >>> model(x, 0.5).shape, model(x, torch.full((5,), 0.5)).shape
    (torch.Size([5, 64]), torch.Size([5, 64]))
    """

    def __init__(self, side: int = 8, channels: int = 16) -> None:
        super().__init__()
        self.side = _require_side(side)
        self.dim = self.side**2
        self.net = _UNet(self.side, require_int(channels, "channels"), N_FOURIER_FEATURES)

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        require_points(x, self.dim)
        # float64 input: computed in the network's dtype, answered in its own
        h = x.to(self.net.dtype)
        sigma = require_noise_levels(sigma, h)
        out = self.net(h, _fourier_features(torch.log(sigma) / 4)) / sigma[:, None]
        return out.to(x.dtype)


class TimeConditionalCNN(_LabelledNetwork):
    r"""A network of images and diffusion times, $z_\theta(x, t)$, optionally of a class $k$: a small U-Net.

    The CNN counterpart of `TimeConditionalMLP`, with its inputs, outputs and labels, for
    square one-channel images of side ``side`` (the 8 x 8 digits by default), flattened to
    ``(N, side**2)``. Trained with `ddpm.noise_prediction_loss` it predicts the noise $z$
    in $x_t$, and `NoiseProcess.score_from_noise` makes it a score; with ``n_classes``
    $> 0$ and labels dropped in training, it is the conditional and the unconditional
    model of classifier-free guidance at once.

    Architecture: a residual block at full resolution with ``channels`` channels, a
    strided convolution to half the side with twice the channels, two blocks there, back
    up with a skip connection from full resolution (a U-Net), one more block; the time
    (through $t$, $\cos(j\pi t)$, $\sin(j\pi t)$, $j = 1, \dots, 4$) and the label enter
    through a small MLP whose output shifts the channels of every block. The last
    convolution starts at zero.

    Cost, with the defaults (about 65,000 parameters), on one CPU core: a training step
    on a batch of 64 digits takes about 17 ms (an MLP of width 256, about 1 ms), so
    1,400 steps take about 25 s; one evaluation on 100 images, about 3 ms. On the digits
    its samples are far closer to real ones than those of an MLP trained the same steps
    (Chapter 7 measures both).

    Parameters
    ----------
    side
        The images' side, even; $d = \text{side}^2$.
    channels
        The channels at full resolution (twice as many at half resolution).
    n_classes
        The number of classes; 0 for an unconditional network.

    Examples
    --------
    >>> model = TimeConditionalCNN(n_classes=10)
    >>> x = torch.zeros(5, 64)
    >>> model(x, 0.5).shape, model(x, torch.full((5,), 0.5), torch.arange(5)).shape
    (torch.Size([5, 64]), torch.Size([5, 64]))
    >>> torch.equal(model.with_label(3)(x, 0.5), model(x, 0.5, torch.full((5,), 3)))
    True
    """

    def __init__(self, side: int = 8, channels: int = 16, n_classes: int = 0) -> None:
        super().__init__()
        self.side = _require_side(side)
        self.dim = self.side**2
        self.n_classes = require_int(n_classes, "n_classes", minimum=0)
        n_features = N_FOURIER_FEATURES + (n_classes + 1 if n_classes else 0)
        self.net = _UNet(self.side, require_int(channels, "channels"), n_features)

    def forward(
        self, x: torch.Tensor, t: float | torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        require_points(x, self.dim)
        # float64 input: computed in the network's dtype, answered in its own
        h = x.to(self.net.dtype)
        features = [_fourier_features(_times_per_point(t, h)), *self._label_features(labels, h)]
        return self.net(h, torch.cat(features, dim=1)).to(x.dtype)
