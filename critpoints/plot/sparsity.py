"""The branches of the catalogued critical points in sparsity S (``critpoints
sparsity-branches``): normalised loss against 1 − S."""

from __future__ import annotations

import numpy as np

from critpoints.plot._mpl import pyplot

__all__ = ["phase_line_figure", "sparsity_branches_figure"]


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
    fig, ax = plt.subplots(figsize=(10.0, 5.6))
    palette = plt.get_cmap("tab10")
    handles: dict = {}
    for rank, branch in enumerate(reversed(branches)):
        order = len(branches) - 1 - rank
        coloured = order < highlight
        # tab10 without its grey (index 7), which the uncoloured branches use
        colour = palette((0, 1, 2, 3, 4, 5, 6, 8, 9)[order % 9]) if coloured else "#bbbbbb"
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
        fold = branch.get("fold")
        if fold is not None:
            # the turn, and the far side (a saddle) followed back towards S = 1, dotted
            t_fold = 1 - fold["sparsity"]
            ax.plot(t_fold, fold["loss"] / (n * t_fold), marker="o", mfc="white", color=colour,
                    ms=6 if coloured else 3.5, zorder=4)
            beyond = (fold.get("beyond") or {}).get("points", [])
            if beyond:
                tb = np.array([1 - p["sparsity"] for p in beyond])
                yb = np.array([p["loss"] for p in beyond]) / (n * tb)
                ax.plot(np.r_[t_fold, tb], np.r_[fold["loss"] / (n * t_fold), yb],
                        color=colour, lw=width, ls=":", zorder=3 if coloured else 1)
        elif branch["end"]["kind"] not in ("reached",):
            ax.plot(t[-1], y[-1], marker="x", color=colour, ms=7 if coloured else 4, zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel("1 − S  (probability that a feature is active)")
    ax.set_ylabel("L_S / (n (1 − S))")
    ax.set_xlim(10**-3.35, 1.05)
    style = [ax.plot([], [], color="#444444", lw=1.8, ls="-", label="local minimum (index 0)")[0],
             ax.plot([], [], color="#444444", lw=1.8, ls="--", label="saddle")[0],
             ax.plot([], [], color="#444444", lw=0, marker="o", mfc="white",
                     label="fold (the far side dotted)")[0],
             ax.plot([], [], color="#444444", lw=0, marker="x",
                     label="branch ends (corrector fails)")[0]]
    first = ax.legend(handles=style, loc="upper left", fontsize=9)
    ax.add_artist(first)
    # outside the axes: the branches cross where density is high (lower right)
    ax.legend(handles=[handles[k] for k in sorted(handles)], loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=8.5, title="branch (one-hot L)",
              title_fontsize=8.5, ncol=1)
    ax.grid(True, which="major", lw=0.4, alpha=0.5)
    ax.set_title(title or f"n = {n}, m = {document['model']['m']}: catalogued critical points "
                 "followed in sparsity")
    fig.tight_layout()
    return fig


# Okabe–Ito (colour-blind safe) for the winners of the phase line
_WINNER_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442",
                   "#999999")


def phase_line_figure(document: dict, branches: dict, title: str | None = None):
    """The phase line along S: L_S/(n(1 − S)) against 1 − S (log axis) of every candidate
    (grey), the lowest minimum coloured by which point it is, the located boundaries as
    vertical lines, and a strip below naming the winner of each interval.

    Parameters
    ----------
    document : dict
        A ``critpoints.phase-line`` document.
    branches : dict
        The ``critpoints.sparsity-branches`` document it was computed from (the curves of the
        followed branches; the discovered ones are in ``document``).
    """
    plt = pyplot()
    n = document["n"]
    records = [b for b in branches["branches"] if b["points"]] + document["discovered"]
    by_id = {r["id"]: r for r in records}
    fig, (ax, strip) = plt.subplots(2, 1, figsize=(8.6, 6.4), sharex=True,
                                    gridspec_kw={"height_ratios": [5, 0.7], "hspace": 0.05})

    def curve(record, lo=0.0, hi=1.0):
        points = sorted((p for p in record["points"] if lo - 1e-12 <= p["sparsity"] <= hi + 1e-12
                         and p["sparsity"] < 1), key=lambda p: p["sparsity"])
        t = np.array([1 - p["sparsity"] for p in points])
        y = np.array([p["loss"] for p in points]) / (n * t) if points else np.array([])
        return t, y, [p["index"] for p in points]

    for record in records:
        t, y, _ = curve(record)
        ax.plot(t, y, color="#cccccc", lw=0.6, zorder=1)
    winners = [i["id"] for i in document["intervals"] if i["id"] is not None]
    colour = {ident: _WINNER_COLOURS[k % len(_WINNER_COLOURS)]
              for k, ident in enumerate(dict.fromkeys(winners))}
    for interval in document["intervals"]:
        ident = interval["id"]
        if ident is None:
            continue
        t, y, _ = curve(by_id[ident], interval["to"], interval["from"])
        # the re-solved losses at the interval's boundaries close the gaps to them
        ends = [(1 - b["sparsity"], b["loss_dense"]) for b in document["boundaries"]
                if b["dense"] == ident and abs(b["sparsity"] - interval["from"]) < 1e-12]
        ends += [(1 - b["sparsity"], b["loss_sparse"]) for b in document["boundaries"]
                 if b["sparse"] == ident and abs(b["sparsity"] - interval["to"]) < 1e-12]
        for x, loss in ends:
            if loss is not None and x > 0:
                t, y = np.append(t, x), np.append(y, loss / (n * x))
        order = np.argsort(t)
        ax.plot(t[order], y[order], color=colour[ident], lw=2.4, zorder=3)
    for ident in colour:
        label = by_id[ident]["label"]
        ax.plot([], [], color=colour[ident], lw=2.4,
                label=f"{ident} ({label})" if label != ident else ident)
    for boundary in document["boundaries"]:
        x = boundary["density"]
        for axis in (ax, strip):
            axis.axvline(x, color="#444444", lw=0.8, ls=":" if boundary["kind"] == "stability"
                         else "--", zorder=2)
        ax.annotate(f"S = {boundary['sparsity']:.4f}", (x, 1.0), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=7.5, color="#444444")
    for check in document["completeness"]["checks"]:
        if check["best_loss"] is not None:
            t = 1 - check["sparsity"]
            ax.plot(t, check["best_loss"] / (n * t), marker="x" if check["violation"] else "+",
                    color="#b00000" if check["violation"] else "black", ms=8, zorder=4)
    ax.plot([], [], marker="+", color="black", lw=0, label="multi-start check")
    ax.plot([], [], color="#444444", ls="--", lw=0.8, label="equal-loss boundary")
    ax.plot([], [], color="#444444", ls=":", lw=0.8, label="stability boundary")
    ax.plot([], [], color="#cccccc", lw=0.6, label="other followed points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(10**-3.1, 1.0)
    ax.set_ylabel("L_S / (n (1 − S))")
    ax.legend(loc="upper left", fontsize=8, ncol=2, framealpha=0.92)
    ax.grid(True, which="major", lw=0.4, alpha=0.5)
    ax.set_title(title or f"n = {n}, m = {document['hidden']}: lowest minimum along the "
                 "sparsity S (uniform importance)")
    for interval in document["intervals"]:
        lo, hi = 1 - interval["from"], 1 - interval["to"]
        lo = max(lo, 10**-3.1)
        ident = interval["id"]
        strip.axvspan(lo, hi, color=colour.get(ident, "#ffffff"), alpha=0.85)
        if ident is not None and np.log10(hi / lo) > 0.18:
            strip.text(np.sqrt(lo * hi), 0.5, ident, ha="center", va="center", fontsize=8.5,
                       color="white" if colour[ident] in ("#0072B2", "#D55E00", "#009E73")
                       else "black")
    strip.set_yticks([])
    strip.set_xlabel("1 − S  (probability that a feature is active)")
    fig.subplots_adjust(left=0.1, right=0.97, top=0.93, bottom=0.1)
    return fig
