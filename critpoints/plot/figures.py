"""The figures of critpoints: energy levels, transition graph, SGD loss curves, phase occupancy.

Every function takes loaded data (a catalog dict, a networkx graph, a trajectory, a phases dict)
and returns a matplotlib ``Figure``; :func:`critpoints.plot.save_figure` writes it. matplotlib is
imported inside the functions (see :mod:`critpoints.plot._mpl`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from critpoints.plot._mpl import COLOURS, pyplot
from critpoints.plot.glyph import draw_glyph, glyph_legend_handles

__all__ = ["catalog_figure", "phases_figure", "sgd_figure", "transition_figure"]

_GLYPH_IN = 0.62  # glyph side, inches
_SLOT_IN = 0.74  # horizontal room per critical point, inches


def _classification_handles(classes: Sequence[str]) -> list:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=COLOURS[c], lw=3, label=f"level: {c}") for c in classes]
    handles.append(Line2D([], [], color="black", lw=2, ls=(0, (2, 1.2)),
                          label="dashed level: verdict saddle"))
    return handles


def catalog_figure(
    document: dict, top: int = 18, title: str | None = None, patterns_only: bool = True
):
    """Energy-level diagram of a TMS catalog with a polygon glyph on every level.

    Critical points are sorted by loss and the lowest ``top`` are drawn left to right; each sits
    on a bar at its loss L, coloured by its classification and dashed when its verdict is a
    saddle, with its label and (when defined) its learning coefficient λ underneath.

    Parameters
    ----------
    document : dict
        A catalog as returned by :func:`critpoints.catalog.load_catalog`.
    top : int
        How many of the lowest critical points to show (all if there are fewer).
    title : str, optional
        Default: "TMS critical points, n = N, m = 2 (lowest K of T)".
    patterns_only : bool
        Show only the points of the k-gon pattern language (``origin`` "pattern"), as in the
        paper's figure; False adds the irregular points of the full-space searches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    if top < 1:
        raise ValueError("top must be at least 1")
    points = sorted(
        (
            p
            for p in document["critical_points"]
            if not patterns_only or p.get("origin", "pattern") == "pattern"
        ),
        key=lambda p: (p["loss"], p["id"]),
    )
    shown = points[:top]
    n = document["model"]["n"]
    limit = 1.05 * max(
        [float(np.max(np.linalg.norm(np.asarray(p["W"], float), axis=0))) for p in shown] + [1.0]
    )
    width = max(6.5, _SLOT_IN * len(shown) + 1.6)
    height = 4.6
    fig = plt.figure(figsize=(width, height))
    left, right, bottom, axes_h = 0.9 / width, 0.2 / width, 0.75 / height, 3.0 / height
    ax = fig.add_axes([left, bottom, 1 - left - right, axes_h])
    ax.grid(axis="x", visible=False)
    losses = np.array([p["loss"] for p in shown])
    # Room below the lowest level for its label, above the highest for its glyph.
    label_room = 0.55 / 3.0
    glyph_room = (_GLYPH_IN + 0.08) / 3.0
    lo_l, hi_l = float(losses.min()), float(losses.max())
    span = max(hi_l - lo_l, 1e-3)
    # Solve for limits with the label and glyph rooms as fractions of the axis height.
    total = span / (1 - label_room - glyph_room)
    ax.set_ylim(lo_l - label_room * total, hi_l + glyph_room * total)
    ax.set_xlim(-0.6, len(shown) - 0.4)
    ax.set_xticks([])
    ax.set_ylabel("loss $L(W, b)$ (population, dimensionless)")
    classes = []
    for i, point in enumerate(shown):
        cls = point["classification"]
        classes.append(cls)
        dashed = point.get("verdict") == "saddle"
        ax.plot([i - 0.38, i + 0.38], [point["loss"]] * 2, color=COLOURS.get(cls, "black"),
                lw=3, ls=(0, (2, 1.2)) if dashed else "-", solid_capstyle="butt", zorder=2)
        text = point["label"]
        if point.get("learning_coefficient") is not None:
            text += f"\nλ={point['learning_coefficient']:g}"
        ax.annotate(text, (i, point["loss"]), xytext=(0, -4), textcoords="offset points",
                    ha="center", va="top", fontsize=9, fontweight="bold", linespacing=1.1)
        # A square glyph of fixed size in inches, bottom centre on the level bar.
        inset = ax.inset_axes([0, 0, 1, 1])
        inset.set_axes_locator(_GlyphLocator(ax, i, point["loss"]))
        draw_glyph(inset, point["W"], point["b"], limit=limit)
    present = [c for c in ("minimum", "saddle", "degenerate", "non-smooth") if c in classes]
    fig.legend(handles=_classification_handles(present) + glyph_legend_handles(),
               loc="upper center", ncol=4, frameon=False, bbox_to_anchor=(0.5, 1.0),
               fontsize=9, handlelength=2.2, columnspacing=1.2)
    if title is None:
        total_count = len(points)
        extra = f" (lowest {len(shown)} of {total_count})" if len(shown) < total_count else ""
        title = f"TMS critical points, n = {n}, m = 2{extra}"
    fig.text(0.5, (bottom + axes_h) + 0.02, title, ha="center", va="bottom",
             fontsize=11, fontweight="bold")
    return fig


class _GlyphLocator:
    """Axes locator: a square of side ``_GLYPH_IN`` inches standing on the point (x, y) of
    ``ax``."""

    def __init__(self, ax, x: float, y: float):
        self.ax, self.x, self.y = ax, x, y

    def __call__(self, inset, renderer):
        from matplotlib.transforms import Bbox

        fig = self.ax.figure
        px, py = self.ax.transData.transform((self.x, self.y))
        side = _GLYPH_IN * fig.dpi
        lower_left = fig.transFigure.inverted().transform((px - side / 2, py + 0.04 * fig.dpi))
        upper_right = fig.transFigure.inverted().transform((px + side / 2,
                                                            py + 0.04 * fig.dpi + side))
        return Bbox([lower_left, upper_right])


def transition_figure(G, title: str | None = None, annotate_counts: bool = True):
    """The SGD transition graph on the (λ, loss) plane.

    Nodes are catalog entries placed at (learning coefficient λ, loss); entries without a λ (the
    non-smooth k-gons and saddles, where λ is not defined by the Hessian) are placed in a shaded
    band left of the λ axis, marked "λ undefined", spread left to right by loss. Node size grows
    with the number of runs that ended there; edge width with the number of transitions.

    Parameters
    ----------
    G : networkx.DiGraph
        As read by :func:`critpoints.transition_store.read_transition_json`.
    title : str, optional
    annotate_counts : bool
        Write each edge's count at its midpoint.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    shown = _shown_nodes(G)
    pos, band_right, band_w = _transition_layout(G, shown)
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    ax.axvspan(band_right - band_w, band_right, color="#EEEEEE", zorder=0)
    ax.axvline(band_right, color="#999999", lw=0.8, ls="--", zorder=0)
    ax.text(band_right - band_w / 2, 0.99, "λ undefined\n(non-smooth / saddle)",
            transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=9,
            color="#555555")
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs + [band_right - band_w]) - 0.3, max(xs) + 1.0)
    pad = 0.12 * (max(ys) - min(ys) + 0.01)
    ax.set_ylim(min(ys) - pad, max(ys) + 2 * pad)
    _draw_transition_edges(ax, G, pos, annotate_counts)
    _draw_transition_nodes(ax, G, shown, pos)
    ticks = [t for t in ax.get_xticks() if t >= band_right + 0.1]
    ax.set_xticks(ticks)
    ax.set_xlabel("learning coefficient λ (dimensionless)")
    ax.set_ylabel("loss $L$ at the critical point")
    _transition_legend(ax, G, shown)
    if title is None:
        runs = G.graph.get("runs")
        init = G.graph.get("init")
        n = (G.graph.get("model") or {}).get("n")
        title = f"SGD transitions, n = {n}" + (f", {runs} runs from {init}" if runs else "")
    ax.set_title(title)
    return fig


def _shown_nodes(G) -> list:
    """Visited nodes and nodes with an edge, then the unvisited smooth minima with λ > 0."""
    shown = [v for v, d in G.nodes(data=True)
             if G.degree(v) > 0 or (d.get("visits") or 0) > 0]
    # Smooth minima below the all-dead level give context even when no run reached them.
    shown += [v for v, d in G.nodes(data=True) if v not in shown
              and d.get("learning_coefficient") not in (None, 0, 0.0)
              and d.get("classification") == "minimum"]
    if not shown:
        raise NothingToDraw("no run settled on a catalogued point and the graph has no "
                            "minimum with λ > 0 to show: nothing to draw")
    return shown


class NothingToDraw(ValueError):
    """A valid input with nothing a figure could show (e.g. a sweep too short to settle)."""


def _transition_layout(G, shown: list) -> tuple[dict, float, float]:
    """Positions (λ, loss); nodes without λ spread by loss over a band left of the λ axis.
    Returns the positions, the band's right edge and its width."""
    with_lambda = [v for v in shown if G.nodes[v].get("learning_coefficient") is not None]
    without = sorted((v for v in shown if G.nodes[v].get("learning_coefficient") is None),
                     key=lambda v: (G.nodes[v]["loss"], v))
    lambdas = [float(G.nodes[v]["learning_coefficient"]) for v in with_lambda]
    lam_lo = min([*lambdas, 0.0])
    lam_hi = max([*lambdas, 1.0])
    band_w = max(1.5, 0.22 * (lam_hi - lam_lo) + 0.6 * len(without))
    band_right = lam_lo - 0.8
    pos = {v: (float(G.nodes[v]["learning_coefficient"]), G.nodes[v]["loss"]) for v in with_lambda}
    for j, v in enumerate(without):
        x = band_right - band_w * (j + 0.5) / max(len(without), 1)
        pos[v] = (x, G.nodes[v]["loss"])
    return pos, band_right, band_w


def _draw_transition_edges(ax, G, pos: dict, annotate_counts: bool) -> None:
    """Arcs of width ∝ √count, optionally with the count at the arc's midpoint."""
    from matplotlib.patches import FancyArrowPatch

    counts = [d.get("count", 1) for _, _, d in G.edges(data=True)]
    max_count = max([*counts, 1])
    for u, v, d in G.edges(data=True):
        if u not in pos or v not in pos:
            continue
        count = d.get("count", 1)
        width = 0.8 + 4.2 * math.sqrt(count / max_count)
        arrow = FancyArrowPatch(pos[u], pos[v], arrowstyle="-|>", mutation_scale=14,
                                lw=width, color="#555555", alpha=0.75,
                                connectionstyle="arc3,rad=0.18", shrinkA=11, shrinkB=11,
                                zorder=2)
        ax.add_patch(arrow)
        if annotate_counts:
            # Midpoint of the arc3 Bézier curve, computed in display coordinates.
            p0, p2 = ax.transData.transform(pos[u]), ax.transData.transform(pos[v])
            dx, dy = p2 - p0
            middle = 0.5 * (p0 + p2) + 0.5 * 0.18 * np.array([dy, -dx])
            mx, my = ax.transData.inverted().transform(middle)
            ax.annotate(f"{count}", (mx, my), xytext=(0, 0), textcoords="offset points",
                        fontsize=8.5, color="#333333", ha="center", va="center",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                              "alpha": 0.8})


def _draw_transition_nodes(ax, G, shown: list, pos: dict) -> None:
    """Markers of area ∝ √(runs ending there), hollow when not visited, with their labels."""
    finals = [G.nodes[v].get("final_runs") or 0 for v in shown]
    max_final = max([*finals, 1])
    for v in shown:
        d = G.nodes[v]
        final = d.get("final_runs") or 0
        visited = (d.get("visits") or 0) > 0 or G.degree(v) > 0
        colour = COLOURS.get(d.get("classification"), "black")
        size = 40 + 260 * math.sqrt(final / max_final)
        ax.scatter(*pos[v], s=size, color=colour if visited else "white", edgecolor=colour,
                   lw=1.5, zorder=3)
        ax.annotate(d.get("label", v), pos[v], xytext=(0, 9), textcoords="offset points",
                    ha="center", va="bottom", fontsize=10, fontweight="bold", zorder=4)


def _transition_legend(ax, G, shown: list) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=COLOURS[c], marker="o", lw=0, ms=7, label=c)
               for c in ("minimum", "non-smooth", "saddle")
               if any(G.nodes[v].get("classification") == c for v in shown)]
    handles.append(Line2D([], [], color="black", marker="o", mfc="white", lw=0, ms=7,
                          label="not visited"))
    handles.append(Line2D([], [], color="#555555", lw=3, label="transition (width ∝ √count)"))
    ax.legend(handles=handles, loc="upper right", title="node area ∝ √(runs ending there)",
              title_fontsize=8.5)


def sgd_figure(trajectory, histories, catalog: dict, title: str | None = None):
    """Population-loss curves of an SGD sweep, each plateau labelled by its critical point.

    Parameters
    ----------
    trajectory : critpoints.dynamics.sgd.Trajectory
    histories : list of critpoints.dynamics.transitions.RunHistory
        The identified plateaus of the same runs
        (:func:`critpoints.dynamics.transitions.run_histories`).
    catalog : dict
        The catalog the plateaus were matched to (for the levels' exact losses).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    by_id = {p["id"]: p for p in catalog["critical_points"]}
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    steps = np.asarray(trajectory.steps)
    x = np.maximum(steps, 1)
    cmap = plt.get_cmap("viridis")
    runs = len(trajectory.runs)
    for row in range(runs):
        ax.plot(x, trajectory.population_loss[row], lw=1.1,
                color=cmap(0.1 + 0.8 * row / max(runs - 1, 1)), alpha=0.85,
                label=f"run {int(trajectory.runs[row])}")
    levels: dict[str, int] = {}
    for history in histories:
        for plateau in history.plateaus:
            if plateau.id is not None:
                levels[plateau.id] = levels.get(plateau.id, 0) + 1
    for ident, count in sorted(levels.items(), key=lambda kv: by_id[kv[0]]["loss"]):
        loss = by_id[ident]["loss"]
        ax.axhline(loss, color="#444444", lw=0.8, ls=":", zorder=0)
        ax.annotate(f"{by_id[ident]['label']}  (L={loss:.4f}, {count} plateau"
                    f"{'s' if count > 1 else ''})", (1.0, loss),
                    xycoords=("axes fraction", "data"), xytext=(-4, 3),
                    textcoords="offset points", ha="right", va="bottom", fontsize=9,
                    fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_xscale("log")
    ax.set_xlabel("SGD step (log scale)")
    ax.set_ylabel("population loss $L(W_t, b_t)$")
    if runs <= 8:
        ax.legend(loc="lower left", ncol=2, fontsize=8)
    if title is None:
        title = f"SGD loss curves, {runs} runs; dotted: plateaus' critical points"
    ax.set_title(title)
    return fig


def phases_figure(phases: dict, title: str | None = None):
    """Posterior occupancy of the phases against the number of samples N.

    Left: the free-energy prediction F_N = N L + λ log N + c in the prior convention (the
    published one) with the predicted transitions marked; right: the MCMC occupancy (markers)
    against the Laplace-convention prediction (dashed; on the sampler's own data sets, with the
    data-set term, when the file has one), when the file has an empirical part.

    Parameters
    ----------
    phases : dict
        A file written by ``python -m critpoints phases`` (see docs/slt.md).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    theory = phases["theory"]
    N = np.asarray(phases["N"], dtype=float)
    empirical = phases.get("empirical")
    panels = 2 if empirical else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2), sharey=True, squeeze=False)
    axes = axes[0]
    ids = list(theory[next(iter(theory))]["occupancy"])
    palette = plt.get_cmap("tab10")
    colour = {ident: palette(i % 10) for i, ident in enumerate(ids)}
    markers = "osD^vP*X"
    marker = {ident: markers[i % len(markers)] for i, ident in enumerate(ids)}
    convention = "prior" if "prior" in theory else next(iter(theory))
    ax = axes[0]
    for ident in ids:
        ax.plot(N, theory[convention]["occupancy"][ident], color=colour[ident], lw=1.8,
                marker=marker[ident], ms=3.5, label=ident)
    for t in theory[convention].get("dominant_transitions", []):
        ax.axvline(t["samples"], color="#666666", lw=0.8, ls="--")
        ax.annotate(f"{t['from']}→{t['to']}\nN≈{t['samples']:.0f}", (t["samples"], 0.5),
                    xytext=(3, 0), textcoords="offset points", fontsize=8.5, rotation=90,
                    va="center", ha="left")
    ax.set_title(f"free-energy prediction ({convention} convention)")
    ax.set_ylabel("posterior occupancy")
    if empirical:
        ax = axes[1]
        occ = empirical["occupancy"]
        other = np.zeros_like(N)
        for ident, values in occ.items():
            if ident not in ids:
                other += np.asarray(values, dtype=float)
        for ident in ids:
            if ident in occ:
                ax.plot(N, occ[ident], color=colour[ident], lw=0, marker=marker[ident], ms=5,
                        label=f"{ident} (MCMC)")
            with_data = empirical.get("theory_with_data", {}).get("laplace")
            if with_data and ident in with_data["occupancy"]:
                ax.plot(N, with_data["occupancy"][ident], color=colour[ident], lw=1.2, ls="--")
            elif "laplace" in theory:
                ax.plot(N, theory["laplace"]["occupancy"][ident], color=colour[ident], lw=1.2,
                        ls="--")
        ax.plot(N, other, color="#777777", lw=0, marker="x", ms=5, label="other (MCMC)")
        crossing = empirical.get("crossing_5_to_6")
        if crossing:
            ax.axvline(crossing, color="#666666", lw=0.8, ls="--")
            ax.annotate(f"5→6 MCMC\nN≈{crossing:.0f}", (crossing, 0.5), xytext=(3, 0),
                        textcoords="offset points", fontsize=8.5, rotation=90, va="center")
        ax.set_title("MCMC occupancy; dashed: Laplace prediction"
                     + (" with data-set term" if empirical.get("theory_with_data") else ""))
        ax.legend(fontsize=8, loc="center right")
    axes[0].legend(title="phase", fontsize=8.5, loc="center left")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("number of samples N (log scale)")
        ax.set_ylim(-0.02, 1.02)
    if title is None:
        title = f"Bayesian phases of the TMS, n = {phases.get('n')}"
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig
