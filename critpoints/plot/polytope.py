"""The figure of an m = 3 catalog: its energy levels and 3-D glyphs of its polytopes.

A glyph draws every nonzero column W_i as an arrow from the origin of R³ (live columns solid,
dead vertices dashed), the edges of the convex hull of the column tips when they span three
dimensions (the polytope; a polygon's edges when they span two), and lists the zero columns
with positive bias (σ) under it.
"""

from __future__ import annotations

import numpy as np

from critpoints.plot._mpl import COLOURS, pyplot

__all__ = ["draw_polytope_glyph", "polytope_figure"]


def _hull_edges(tips: np.ndarray) -> list[tuple[int, int]]:
    """Edges (i, j) of the convex hull of the points ``tips`` (k × 3); for coplanar points
    the polygon's edges in angular order; none for fewer than three points."""
    k = len(tips)
    if k < 3:
        return []
    centred = tips - tips.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    if s[-1] > 1e-6 * max(s[0], 1e-12) and k >= 4:
        from scipy.spatial import ConvexHull

        hull = ConvexHull(tips)
        edges = set()
        for simplex in hull.simplices:
            for a in range(3):
                i, j = sorted((int(simplex[a]), int(simplex[(a + 1) % 3])))
                # drop the diagonals of coplanar faces: an edge is real if its two adjacent
                # facets are not coplanar
                edges.add((i, j))
        return _true_edges(tips, hull, edges)
    _, _, Vt = np.linalg.svd(centred)
    x, y = centred @ Vt[0], centred @ Vt[1]
    order = np.argsort(np.arctan2(y, x))
    return [(int(order[i]), int(order[(i + 1) % k])) for i in range(k)]


def _true_edges(tips, hull, edges) -> list[tuple[int, int]]:
    normals = hull.equations[:, :3]
    out = []
    for i, j in sorted(edges):
        facets = [f for f, simplex in enumerate(hull.simplices) if i in simplex and j in simplex]
        if len(facets) == 2 and abs(normals[facets[0]] @ normals[facets[1]] - 1) < 1e-9:
            continue  # a diagonal of a flat face
        out.append((i, j))
    return out


def draw_polytope_glyph(ax, W, b, limit: float = 1.5) -> None:
    """Draw one point (W 3 × n, b) on a 3-D axes ``ax`` (module doc)."""
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    norms = np.linalg.norm(W, axis=0)
    nonzero = np.flatnonzero(norms > 1e-6)
    for i in nonzero:
        dead = b[i] <= -norms[i] ** 2
        colour = COLOURS["dead_vertex"] if dead else COLOURS["live"]
        ax.plot([0, W[0, i]], [0, W[1, i]], [0, W[2, i]], color=colour, lw=1.6,
                ls="--" if dead else "-")
        ax.scatter([W[0, i]], [W[1, i]], [W[2, i]], color=colour, s=14, depthshade=False)
    tips = W[:, nonzero].T
    for i, j in _hull_edges(tips):
        ax.plot(*zip(tips[i], tips[j]), color="0.45", lw=0.8)
    sigma = int(((norms <= 1e-6) & (b > 0)).sum())
    if sigma:
        ax.text2D(0.5, 0.02, f"+{sigma} (b > 0)", transform=ax.transAxes, ha="center",
                  fontsize=7)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_zlim(-limit, limit)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_zticks([])
    ax.view_init(elev=18, azim=35)


def _chosen(document: dict, glyphs: int) -> list[dict]:
    """The points drawn as glyphs: the minima with some live column (L < 1/3), then the lowest
    smooth index-1 saddles, then the lowest other saddles, ``glyphs`` at most, by loss."""
    points = sorted(document["critical_points"], key=lambda p: (p["loss"], p["id"]))
    live = [p for p in points if p["loss"] < 1 / 3 - 1e-9]
    minima = [p for p in live if p["verdict"] == "minimum"]
    index1 = [p for p in live if p["hessian_index"] == 1 and p["classification"] == "saddle"]
    others = [p for p in live if p["verdict"] == "saddle" and p not in index1]
    chosen = (minima[: glyphs // 2] + index1)[: max(glyphs - 2, glyphs // 2)]
    chosen += [p for p in others if p not in chosen][: glyphs - len(chosen)]
    return sorted(chosen, key=lambda p: (p["loss"], p["id"]))


def polytope_figure(document: dict, top: int = 30, glyphs: int = 12):
    """Energy levels of the ``top`` lowest critical points of an m = 3 catalog (each labelled
    with its id and point group) above 3-D glyphs of its minima and lowest saddles.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    if document["model"]["m"] != 3:
        raise ValueError(f"the polytope figure draws m = 3 catalogs; this one has "
                         f"m = {document['model']['m']}")
    n = document["model"]["n"]
    points = sorted(document["critical_points"], key=lambda p: (p["loss"], p["id"]))[:top]
    chosen = _chosen(document, glyphs)
    columns = 6
    rows = max(1, -(-len(chosen) // columns))
    fig = plt.figure(figsize=(12, 4.2 + 2.1 * rows))
    grid = fig.add_gridspec(1 + rows, columns, height_ratios=[2.2] + [1.0] * rows)
    ax = fig.add_subplot(grid[0, :])
    ax.grid(axis="x", visible=False)
    for i, p in enumerate(points):
        colour = COLOURS.get(p["classification"], "black")
        dashed = p["verdict"] == "saddle"
        ax.plot([i - 0.38, i + 0.38], [p["loss"]] * 2, color=colour, lw=3,
                ls=(0, (2, 1.2)) if dashed else "-", solid_capstyle="butt")
        group = (p.get("symmetry") or {}).get("point_group", "")
        ax.annotate(f"{p['id']}\n{group}", (i, p["loss"]), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=6.5,
                    rotation=90)
    ax.set_xlim(-0.6, len(points) - 0.4)
    ax.set_xticks([])
    ax.set_ylabel("loss L(W, b)")
    low, high = points[0]["loss"], points[-1]["loss"]
    ax.set_ylim(low - 0.05 * max(high - low, 1e-3), high + 0.35 * max(high - low, 1e-3))
    ax.set_title(f"TMS critical points, n = {n}, m = 3: the lowest {len(points)} of "
                 f"{len(document['critical_points'])} (solid: verdict minimum, dashed: saddle; "
                 "colour: classification)", fontsize=10)
    from matplotlib.lines import Line2D

    present = sorted({p["classification"] for p in points})
    ax.legend(handles=[Line2D([], [], color=COLOURS.get(c, "black"), lw=3, label=c)
                       for c in present], loc="upper left", fontsize=8, frameon=False)
    limit = 1.1 * max([float(np.linalg.norm(np.asarray(p["W"], float), axis=0).max())
                       for p in chosen] + [1.0])
    for index, p in enumerate(chosen):
        glyph = fig.add_subplot(grid[1 + index // columns, index % columns], projection="3d")
        draw_polytope_glyph(glyph, p["W"], p["b"], limit=limit)
        record = p.get("symmetry") or {}
        index_text = "" if p["hessian_index"] is None else f", index {p['hessian_index']}"
        loss = p["loss"] if abs(p["loss"]) >= 5e-5 else 0.0  # no "-0.0000"
        glyph.set_title(f"{p['id']}  L = {loss:.4f}\n{record.get('point_group', '')} "
                        f"{p['verdict']}{index_text}", fontsize=7.5)
    fig.tight_layout()
    return fig
