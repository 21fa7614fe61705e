"""The phase diagram of a ``critpoints.phase-diagram`` document: winning type per cell, coloured,
with the boundary curves (roots of L*_A = L*_B) drawn over it."""

from __future__ import annotations

import numpy as np

from critpoints.plot._mpl import pyplot

__all__ = ["phase_diagram_figure"]

_PALETTE = ("#999999", "#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#F0E442", "#0072B2")


def phase_diagram_figure(document: dict, title: str | None = None):
    """Regions of the winning configuration type over (density 1 − S, importance r), log axes.

    Parameters
    ----------
    document : dict
        A ``critpoints.phase-diagram`` document.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    names = [t["name"] for t in document["types"]]
    labels = {t["name"]: t["label"] for t in document["types"]}
    x = np.asarray(document["densities"])
    y = np.asarray(document["ratios"])
    index = np.array([[names.index(w) for w in row] for row in document["winner"]])
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    colours = ListedColormap(_PALETTE[: len(names)])
    ax.pcolormesh(x, y, index, cmap=colours, vmin=-0.5, vmax=len(names) - 0.5,
                  shading="nearest", alpha=0.75)
    for boundary in document["boundaries"]:
        points = np.asarray(boundary["points"])
        if len(points):
            ax.plot(points[:, 0], points[:, 1], "k-", lw=1.5, marker=".", ms=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("feature density 1 − S")
    ax.set_ylabel(f"relative importance r of feature {document['n']}")
    present = sorted(set(index.ravel()))
    ax.legend(handles=[Patch(color=_PALETTE[k], alpha=0.75, label=labels[names[k]])
                       for k in present], loc="upper left", fontsize=8, framealpha=0.9)
    ax.set_title(title or f"TMS n = {document['n']}, m = {document['hidden']}: lowest "
                 "configuration type (exact L_S,I)")
    return fig
