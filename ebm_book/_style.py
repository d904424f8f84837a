"""The book's house style for figures, re-exported by `ebm_book.plotting`.

An opaque white canvas (so a figure reads the same on the site's light and dark themes),
the colour-blind-safe Okabe-Ito palette, perceptually uniform colour maps, and
high-resolution PNGs for sharp figures on high-DPI screens.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from cycler import cycler

#: The Okabe-Ito palette: eight colours distinguishable under common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

ENERGY_CMAP = "magma"  # low energy dark, like a deep valley
DENSITY_CMAP = "viridis"
# Score magnitudes: dark purple (weak) to orange (strong); plasma's pale yellow end is
# dropped so that strong arrows stay visible on a white background.
FIELD_CMAP = mpl.colors.LinearSegmentedColormap.from_list(
    "book_field", mpl.colormaps["plasma"](np.linspace(0.0, 0.82, 256))
)

BOOK_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "figure.edgecolor": "white",
    "savefig.facecolor": "white",
    "savefig.bbox": "tight",
    "axes.facecolor": "white",
    "axes.edgecolor": "#444444",
    "axes.labelcolor": "#222222",
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "axes.grid": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=OKABE_ITO),
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "lines.linewidth": 2.0,
    "contour.linewidth": 1.0,
    "legend.frameon": False,
    "text.color": "#222222",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "image.cmap": DENSITY_CMAP,
    "font.size": 11,
}


def use_book_style(high_dpi: bool = True) -> None:
    """Apply the book's matplotlib style; in Jupyter, also render figures at 2x resolution.

    Examples
    --------
    >>> use_book_style(high_dpi=False)
    >>> mpl.rcParams["figure.facecolor"]
    'white'
    """
    mpl.rcParams.update(BOOK_STYLE)  # type: ignore[arg-type]  # keys are rc names
    if high_dpi:
        try:  # Only inside IPython: ask the inline backend for retina (2x) PNGs.
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("retina")
        except ImportError:
            pass
