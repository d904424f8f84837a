"""Plotting helpers: they draw what they claim (normalized densities, grids) and reject bad input."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from ebm_book import plotting
from ebm_book.energies import DoubleWell
from ebm_book.examples import ring_of_gaussians


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_density_1d_is_normalized_and_peaks_in_the_wells():
    ax = plotting.plot_density_1d(DoubleWell(barrier=3.0), xlim=(-2.5, 2.5), temperature=0.5)
    x, y = ax.lines[0].get_xdata(), ax.lines[0].get_ydata()
    assert np.trapezoid(y, x) == pytest.approx(1.0, rel=1e-9)
    assert abs(abs(x[np.argmax(y)]) - 1.0) < 0.02


def test_density_2d_integrates_to_one_on_its_grid():
    X, Y, _ = plotting.evaluate_on_grid(lambda x: x[:, 0], (-1, 1), (-2, 2), n=5)
    assert X[0].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert Y[:, 0].tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    ax = plotting.plot_density_2d(ring_of_gaussians(4, radius=1.5, std=0.3), (-3, 3), (-3, 3))
    assert len(ax.collections) > 0


def test_energy_and_surface_plots_draw():
    fig = plt.figure()
    ax3d = fig.add_subplot(projection="3d")
    plotting.plot_surface_3d(DoubleWell(dim=2), ax=ax3d, max_value=5.0)
    assert len(ax3d.collections) == 1
    ax = plotting.plot_energy_2d(DoubleWell(dim=2), max_energy=4.0)
    assert ax.get_aspect() == 1.0


def test_use_book_style_sets_the_palette():
    plotting.use_book_style(high_dpi=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    assert colors[:2] == plotting.OKABE_ITO[:2]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: plotting.plot_samples(torch.zeros(10, 3)), ValueError, r"shape \(N, 2\)"),
        (
            lambda: plotting.plot_energy_1d(lambda x: x),
            ValueError,
            r"energy must return a tensor of shape \(400,\).*got shape \(400, 1\)",
        ),
        (lambda: plotting.evaluate_on_grid(lambda x: x[:, 0], (1, -1)), ValueError, "low < high"),
        (
            lambda: plotting.plot_surface_3d(lambda x: x[:, 0], ax=plt.figure().add_subplot()),
            ValueError,
            "3-D axes",
        ),
        (
            lambda: plotting.plot_density_1d(lambda x: x[:, 0], temperature=-1),
            ValueError,
            "temperature",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_image_grid_puts_image_i_at_row_i_div_n_cols_and_column_i_mod_n_cols():
    images = torch.arange(7 * 16, dtype=torch.float32).reshape(7, 16)  # seven 4 x 4 images
    grid = plotting.image_grid(images, n_cols=3, padding=2, pad_value=-1.0)
    assert grid.shape == (3 * 6 + 2, 3 * 6 + 2)
    for i in range(7):
        row, col = divmod(i, 3)
        top, left = 2 + 6 * row, 2 + 6 * col
        assert torch.equal(grid[top : top + 4, left : left + 4], images[i].reshape(4, 4))
    assert (grid == -1).sum() == grid.numel() - 7 * 16  # everything else is padding
    as_images = plotting.image_grid(images.reshape(7, 1, 4, 4), n_cols=3, padding=2, pad_value=-1.0)
    assert torch.equal(as_images, grid)
