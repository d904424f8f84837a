"""Toy data sets: shapes, reproducibility, and the geometry each one promises."""

import math
from collections import Counter

import pytest
import torch

from ebm_book import datasets


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", sorted(datasets.DATASETS))
def test_every_dataset_is_seeded_float32_and_2d(name):
    a = datasets.make(name, 257, generator=seeded(1))
    b = datasets.make(name, 257, generator=seeded(1))
    c = datasets.make(name, 257, generator=seeded(2))
    assert a.shape == (257, 2) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.isfinite(a).all()
    assert a.abs().max() < 4.0  # every set fits the book's standard [-4, 4]^2 window


def test_two_moons_are_two_unit_half_circles():
    x = datasets.two_moons(4000, noise=0.0, generator=seeded()) / 1.6 + torch.tensor([0.5, 0.25])
    upper = (x - torch.tensor([0.0, 0.0])).norm(dim=1)
    lower = (x - torch.tensor([1.0, 0.5])).norm(dim=1)
    assert torch.minimum((upper - 1).abs(), (lower - 1).abs()).max() < 1e-5
    assert (upper - 1).abs().lt(1e-5).float().mean().item() == pytest.approx(
        0.5, abs=4 * 0.5 / math.sqrt(4000)
    )


def test_rings_put_points_in_proportion_to_circumference():
    x = datasets.rings(30_000, radii=(1.0, 2.0), noise=0.0, generator=seeded())
    inner = (x.norm(dim=1) < 1.5).float().mean().item()
    assert inner == pytest.approx(1 / 3, abs=4 * math.sqrt(2 / 9 / 30_000))


def test_swiss_roll_radius_follows_its_angle():
    x = datasets.swiss_roll(2000, noise=0.0, generator=seeded())
    radius = x.norm(dim=1) * 7.0
    assert radius.min() >= 1.5 * math.pi - 1e-4 and radius.max() <= 4.5 * math.pi + 1e-4


def test_checkerboard_is_uniform_over_its_dark_squares():
    x = datasets.checkerboard(40_000, generator=seeded())
    cells = torch.floor(x + 2.0).long()
    index = cells[:, 0] * 4 + cells[:, 1]
    counts = torch.bincount(index, minlength=16).double()
    dark = counts[counts > 0]
    assert len(dark) == 8
    expected = 40_000 / 8
    chi2 = ((dark - expected) ** 2 / expected).sum().item()
    assert chi2 < 24.3  # 0.1% critical value of chi-squared with 7 degrees of freedom


def test_gaussian_ring_samples_cluster_at_the_mixture_means():
    x = datasets.gaussian_ring(8000, n_modes=6, radius=2.0, std=0.1, generator=seeded())
    assert x.norm(dim=1).mean().item() == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: datasets.make("moons", 10), "unknown data set 'moons'"),
        (lambda: datasets.two_moons(10, noise=-1.0), "noise must be a non-negative"),
        (lambda: datasets.two_moons(0), "n must be a positive integer"),
        (lambda: datasets.rings(10, radii=()), "radii must be a non-empty"),
    ],
)
def test_bad_input_raises_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- the handwritten digits -------------------------------------------------------------------


def _rows(x):
    return Counter(tuple(row) for row in x.tolist())


def test_digits_split_is_a_stratified_partition_fixed_by_the_seed():
    train, test, everything = (datasets.digits(split) for split in ("train", "test", "all"))
    assert everything.x.shape == (1797, 64) and everything.x.dtype == torch.float32
    assert everything.labels.dtype == torch.int64
    # train and test together are exactly the data set (as multisets of (image, label) rows)
    joined = torch.cat([torch.cat([s.x, s.labels[:, None].float()], 1) for s in (train, test)])
    assert _rows(joined) == _rows(torch.cat([everything.x, everything.labels[:, None].float()], 1))
    # each class holds out round(20%) of its images
    per_class = torch.bincount(everything.labels)
    assert torch.equal(torch.bincount(test.labels), torch.round(0.2 * per_class).long())
    # the same seed gives the same split, another seed another one
    assert torch.equal(datasets.digits("test", seed=0).x, test.x)
    assert not torch.equal(datasets.digits("test", seed=1).x, test.x)


def test_digits_pixels_are_the_ink_counts_mapped_linearly_to_the_scale():
    counts = datasets.digits("all", scale=(0, 16)).x
    assert torch.equal(counts, counts.round()) and counts.min() == 0 and counts.max() == 16
    default = datasets.digits("all").x
    assert torch.allclose(default, counts / 8 - 1)  # 0 -> -1 (blank), 16 -> 1 (full ink)
    images = datasets.digits("all", shape="image").x
    assert images.shape == (1797, 1, 8, 8)
    assert torch.equal(images.reshape(-1, 64), default)  # pixels row by row


def test_digits_look_like_digits():
    # The mean 0 has a hole: its centre pixels hold less ink than the ring around them;
    # the mean 1 is the other way round.
    x, labels = datasets.digits("all", scale=(0, 16), shape="image")
    centre = (slice(3, 5), slice(3, 5))
    ring = (slice(1, 7), slice(2, 6))
    zero, one = x[labels == 0, 0].mean(0), x[labels == 1, 0].mean(0)
    assert zero[centre].mean() < 0.5 * zero[ring].mean()
    assert one[centre].mean() > one[ring].mean()
