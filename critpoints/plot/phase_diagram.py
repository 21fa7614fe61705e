"""The phase diagram of a ``critpoints.phase-diagram`` document: winning type per cell, coloured,
with the boundary curves (roots of L*_A = L*_B) drawn over it."""

from __future__ import annotations

import numpy as np

from critpoints.plot._mpl import pyplot

__all__ = ["phase_diagram_figure"]

# Okabe–Ito (colour-blind safe), black replaced by grey; one colour per type of the longest list
# (n = 3, m = 2: 8 types)
_PALETTE = ("#999999", "#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#F0E442", "#0072B2",
            "#D55E00")


def _log_edges(values) -> np.ndarray:
    logs = np.log(np.asarray(values, dtype=float))
    middle = (logs[1:] + logs[:-1]) / 2
    return np.exp(np.concatenate([[2 * logs[0] - middle[0]], middle,
                                  [2 * logs[-1] - middle[-1]]]))


def _pieces(points: np.ndarray, densities, ratios) -> list[np.ndarray]:
    """A boundary's points (in the document's order) split where consecutive points lie more
    than 2.5 grid steps apart on the log axes: one boundary kind of one pair of types can
    have pieces in several places of the plane, which a single line would join across
    cells where it does not hold."""
    step = max(np.diff(np.log10(densities)).max(initial=0.0),
               np.diff(np.log10(ratios)).max(initial=0.0))
    logs = np.log10(points)
    gaps = np.linalg.norm(np.diff(logs, axis=0), axis=1) > 2.5 * step
    return np.split(points, np.flatnonzero(gaps) + 1)


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
    fig, ax = plt.subplots(figsize=(6.4, 6.4), layout="constrained")
    colours = ListedColormap(_PALETTE[: len(names)])
    # cell edges at the geometric midpoints (shading="nearest" takes arithmetic midpoints,
    # which on log axes cut the first row and column short, even below zero)
    ax.pcolormesh(_log_edges(x), _log_edges(y), index, cmap=colours, vmin=-0.5,
                  vmax=len(names) - 0.5, shading="flat", alpha=0.75)
    drawn = set()
    for boundary in document["boundaries"]:
        points = np.asarray(boundary["points"])
        if not len(points):
            continue
        ends = boundary.get("kind") == "type-ends"
        label = ("boundary: a type ceases to exist" if ends
                 else "boundary: equal loss L*_A = L*_B")
        for piece in _pieces(points, x, y):
            ax.plot(piece[:, 0], piece[:, 1], "k--" if ends else "k-", lw=1.5, marker=".",
                    ms=4, label=None if label in drawn else label)
            drawn.add(label)
    # a one-letter key at the middle of each type's cells (the names are long and would overlap
    # or leave the axes; the legend spells them out)
    key = {k: chr(ord("A") + i) for i, k in enumerate(sorted(set(index.ravel())))}
    for k, letter in key.items():
        rows, columns = np.nonzero(index == k)
        middle = np.argsort(np.log(x[columns]) + np.log(y[rows]))[len(rows) // 2]
        ax.text(x[columns[middle]], y[rows[middle]], letter, ha="center", va="center",
                fontsize=10, weight="bold",
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "alpha": 0.8, "lw": 0})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("feature density 1 − S")
    ax.set_ylabel(f"relative importance r of feature {document['n']}")
    present = sorted(set(index.ravel()))
    lines = ax.get_legend_handles_labels()[0]
    ax.legend(handles=[Patch(color=_PALETTE[k], alpha=0.75,
                             label=f"{key[k]}  {names[k]}: {labels[names[k]]}")
                       for k in present] + lines, loc="upper center",
              bbox_to_anchor=(0.5, -0.13), ncol=1, fontsize=7.5, framealpha=0.9)
    ax.set_title(title or f"TMS n = {document['n']}, m = {document['hidden']}: lowest "
                 "configuration type (exact $L_{S,I}$)", fontsize=10)
    return fig
