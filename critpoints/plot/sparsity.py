"""The branches of the catalogued critical points in sparsity S (``critpoints
sparsity-branches``): normalised loss against 1 − S."""

from __future__ import annotations

import numpy as np

from critpoints.plot._mpl import pyplot

__all__ = ["sparsity_branches_figure"]


def sparsity_branches_figure(document: dict, highlight: int = 8, title: str | None = None):
    """L_S/(n(1 − S)) of every followed branch against 1 − S (log axis).

    The normalisation makes the left end the one-hot loss (the limit S → 1 of SPEC §8, up to
    the all-zero input's term, which vanishes on branches with no positive bias). Solid where
    the branch is a local minimum (index 0 of the full Hessian), dashed where it is a saddle;
    the ``highlight`` branches with the lowest loss at S = 0.999 are coloured and named in the
    legend, the others grey; × marks where a branch ends before S = 0.

    Parameters
    ----------
    document : dict
        A ``critpoints.sparsity-branches`` document.
    """
    plt = pyplot()
    n = document["model"]["n"]
    branches = [b for b in document["branches"] if b["points"]]
    branches.sort(key=lambda b: b["points"][0]["loss"])
    fig, ax = plt.subplots(figsize=(8.4, 5.6))
    palette = plt.get_cmap("tab10")
    handles: dict = {}
    for rank, branch in enumerate(reversed(branches)):
        order = len(branches) - 1 - rank
        coloured = order < highlight
        colour = palette(order % 10) if coloured else "#bbbbbb"
        S = np.array([p["sparsity"] for p in branch["points"]])
        t = 1 - S
        y = np.array([p["loss"] for p in branch["points"]]) / (n * t)
        stable = np.array([p["index"] == 0 for p in branch["points"]])
        width = 1.8 if coloured else 0.7
        for i in range(len(t) - 1):
            ax.plot(t[i:i + 2], y[i:i + 2], color=colour, lw=width,
                    ls="-" if stable[i] and stable[i + 1] else "--",
                    zorder=3 if coloured else 1)
        if coloured:
            handles[order] = ax.plot([], [], color=colour, lw=width,
                                     label=f"{branch['id']} ({branch['one_hot_loss']:.4f})")[0]
        if branch["end"]["kind"] not in ("reached",):
            ax.plot(t[-1], y[-1], marker="x", color=colour, ms=7 if coloured else 4, zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel("1 − S  (probability that a feature is active)")
    ax.set_ylabel("L_S / (n (1 − S))")
    ax.set_xlim(10**-3.35, 1.05)
    style = [ax.plot([], [], color="#444444", lw=1.8, ls="-", label="local minimum (index 0)")[0],
             ax.plot([], [], color="#444444", lw=1.8, ls="--", label="saddle")[0],
             ax.plot([], [], color="#444444", lw=0, marker="x",
                     label="branch ends (fold or failure)")[0]]
    first = ax.legend(handles=style, loc="upper left", fontsize=9)
    ax.add_artist(first)
    ax.legend(handles=[handles[k] for k in sorted(handles)], loc="lower right", fontsize=8.5,
              title="branch (one-hot L)", title_fontsize=8.5, ncol=2)
    ax.grid(True, which="major", lw=0.4, alpha=0.5)
    ax.set_title(title or f"n = {n}, m = {document['model']['m']}: catalogued critical points "
                 "followed in sparsity")
    fig.tight_layout()
    return fig
