"""Lazy, reproducible matplotlib: the only place critpoints imports it.

matplotlib is the optional extra ``plot`` (``pip install 'critpoints[plot]'``). Nothing imports it
at module level: :func:`pyplot` imports it on first use, selects the non-interactive Agg backend
and fixes the settings that would otherwise make the files differ from run to run.
"""

from __future__ import annotations

import os
from pathlib import Path

INSTALL_HINT = "matplotlib is not installed: pip install 'critpoints[plot]'"

#: Style shared by every figure: legible in print at the figure's own size.
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    # SVG ids are hashes salted with a random value unless this is fixed.
    "svg.hashsalt": "critpoints",
    "svg.fonttype": "path",
    "axes.grid": True,
    "grid.alpha": 0.3,
}

#: Colours that stay distinct for colour-blind readers (Okabe–Ito) and in greyscale by marker.
COLOURS = {
    "minimum": "#0072B2",
    "saddle": "#D55E00",
    "degenerate": "#CC79A7",
    "non-smooth": "#009E73",
    "live": "#0072B2",
    "dead_vertex": "#D55E00",
    "positive_bias": "#E69F00",
    "dead_feature": "#777777",
}


class MissingMatplotlib(ImportError):
    """matplotlib (the ``plot`` extra) is needed and not importable."""


def pyplot():
    """Import ``matplotlib.pyplot`` with the Agg backend and the critpoints style.

    Raises
    ------
    MissingMatplotlib
        If matplotlib is not installed; the message says how to install it.
    """
    try:
        import matplotlib
    except ImportError as exc:  # also raised when sys.modules["matplotlib"] is None
        raise MissingMatplotlib(INSTALL_HINT) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def pyplot_available() -> None:
    """Raise :class:`MissingMatplotlib` (with the install hint) unless matplotlib imports."""
    pyplot()


def save_figure(fig, path: str | os.PathLike, close: bool = True) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix: .png, .svg or .pdf) reproducibly.

    The date and the software version are left out of the file's metadata, so the same figure
    gives the same bytes on every run with the same matplotlib.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or path-like
    close : bool
        Close the figure afterwards (pass False to save it again in another format).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg", ".pdf"):
        raise ValueError(f"{path}: the suffix must be .png, .svg or .pdf")
    metadata = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
                "pdf": {"CreationDate": None, "Creator": None, "Producer": None}}[suffix[1:]]
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata=metadata)
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path
