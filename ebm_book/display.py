r"""Notebook displays: text computed from results, tables, and animations.

Everything here returns an IPython display object (``Markdown`` or ``HTML``), which
Jupyter, Colab and the book's site render in place of a code cell's output.

* `prose`: a paragraph of the text whose numbers come from the code, so that the text
  and the results cannot disagree;
* `show_table`: a small table of results;
* `animate_samples`: a looping animation of samples moving over time.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import plotting
from ._types import EnergyFn
from ._validation import (
    require_bounds,
    require_callable,
    require_int,
    require_points,
    require_positive,
)

if TYPE_CHECKING:  # IPython is there in notebooks; outside them, a stand-in with .data
    from IPython.display import HTML, Markdown

__all__ = ["animate_samples", "prose", "show_table"]


def _markdown(text: str) -> Markdown:
    try:
        from IPython.display import Markdown
    except ImportError:  # outside Jupyter: a plain object with the same ``.data``
        from types import SimpleNamespace as Markdown  # type: ignore[assignment]
    return Markdown(data=text)


def prose(text: str) -> Markdown:
    """A paragraph of the book whose numbers are computed, rendered as Markdown.

    The chapters write run-dependent sentences with f-strings, so that a number in the
    text is always the number the code computed. The site shows only the rendered text
    of such a cell (its tag ``prose`` hides the code); Colab shows it as a form cell.
    Indentation common to all lines is removed, so triple-quoted text can be indented.

    Examples
    --------
    >>> distance = 0.0912
    >>> print(prose(f"Two fresh samples are {distance:.3f} apart.").data)
    Two fresh samples are 0.091 apart.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string of Markdown; got {type(text).__name__}.")
    return _markdown(textwrap.dedent(text).strip())


def show_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> Markdown:
    """A small table of results, rendered as Markdown in notebooks and on the site.

    Returns an ``IPython.display.Markdown`` object, whose plain-text form is the
    Markdown source itself. Floats are shown with 4 significant digits.

    Examples
    --------
    >>> print(show_table(["d", "error"], [[1, 0.012345], [2, 3.0]]).data)
    | d | error |
    |---:|---:|
    | 1 | 0.01235 |
    | 2 | 3 |
    """
    if isinstance(headers, str) or not hasattr(headers, "__len__"):
        raise TypeError(f"headers must be a list of column titles; got {headers!r}.")
    for i, row in enumerate(rows):
        if isinstance(row, str) or not hasattr(row, "__len__"):  # a list, tuple or array
            raise TypeError(f"rows[{i}] must be a list of entries, one per header; got {row!r}.")
        if len(row) != len(headers):
            raise ValueError(
                f"every row must have {len(headers)} entries, one per header; "
                f"rows[{i}] has {len(row)}: {list(row)!r}."
            )

    def cell(value: object) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---:|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    text = "\n".join(lines)
    return _markdown(text)


def animate_samples(
    trajectory: torch.Tensor,
    background: EnergyFn | None = None,
    xlim: tuple[float, float] = (-3.0, 3.0),
    ylim: tuple[float, float] = (-3.0, 3.0),
    titles: Sequence[str] | None = None,
    frame_ms: int = 120,
    size_inches: float = 3.2,
    dpi: int = 100,
) -> HTML:
    """Animate 2-D samples over time as a small, looping animated WebP image.

    Each frame is drawn with matplotlib and the frames are packed by Pillow into one
    lossless WebP, typically 5-10 kB per frame: light enough for a web page. The result
    displays inline in Jupyter, Colab and on the site.

    Parameters
    ----------
    trajectory
        Samples over time, shape ``(n_frames, N, 2)`` (e.g. a sampler's ``trajectory``).
    background
        Optional energy whose contour lines are drawn behind the samples.
    titles
        One title per frame (default: ``"frame k"``).
    frame_ms
        Duration of each frame in milliseconds.

    Returns
    -------
    IPython.display.HTML
        An ``<img>`` element with the animation embedded as a data URI.
    """
    import base64
    import io

    from PIL import Image

    if not isinstance(trajectory, torch.Tensor):
        raise TypeError(f"trajectory must be a torch.Tensor; got {type(trajectory).__name__}.")
    if trajectory.ndim != 3 or trajectory.shape[2] != 2 or 0 in trajectory.shape:
        raise ValueError(
            "trajectory must be a tensor of shape (n_frames, N, 2), e.g. a sampler's "
            f"trajectory; got shape {tuple(trajectory.shape)}."
        )
    n_frames = trajectory.shape[0]
    require_points(trajectory.reshape(-1, 2), name="trajectory (all frames)")
    if titles is not None and len(titles) != n_frames:
        raise ValueError(f"titles must have one entry per frame ({n_frames}); got {len(titles)}.")
    if background is not None:
        require_callable(background, "background")
    require_bounds([xlim, ylim], "xlim/ylim")
    require_int(frame_ms, "frame_ms")
    require_int(dpi, "dpi")
    require_positive(size_inches, "size_inches")
    fig, ax = plt.subplots(figsize=(size_inches, size_inches), dpi=dpi)
    if background is not None:
        X, Y, values = plotting.evaluate_on_grid(background, xlim, ylim, 120)
        ax.contour(X, Y, values, levels=12, colors="#bbbbbb", linewidths=0.8)
    points = trajectory.detach().cpu().numpy()
    # Opaque points in one colour keep the palette small, so lossless WebP stays light.
    scatter = ax.scatter(points[0, :, 0], points[0, :, 1], s=3, color=plotting.OKABE_ITO[0], lw=0)
    ax.set(xlim=xlim, ylim=ylim, aspect="equal", xticks=[], yticks=[])
    ax.grid(False)
    frames = []
    for k in range(n_frames):
        scatter.set_offsets(points[k])
        ax.set_title(titles[k] if titles is not None else f"frame {k}", fontsize=10)
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())  # type: ignore[attr-defined]  # Agg canvas
        frames.append(Image.fromarray(rgba[:, :, :3]))
    plt.close(fig)
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="WEBP", save_all=True, append_images=frames[1:], duration=frame_ms,
        loop=0, lossless=True, method=4,
    )  # fmt: skip
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    width = int(size_inches * dpi)
    html = (
        f'<img class="ebm-animation" width="{width}" alt="animation of samples over time" '
        f'src="data:image/webp;base64,{encoded}">'
    )
    try:
        from IPython.display import HTML
    except ImportError:  # outside Jupyter: an object with the same ``.data``
        from types import SimpleNamespace as HTML  # type: ignore[assignment]
    return HTML(data=html)
