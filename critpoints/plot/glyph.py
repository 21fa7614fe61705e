"""Polygon glyphs: a picture of one critical point (W, b) of the TMS with hidden dimension 2.

Each column W_i is an arrow from the origin. A feature plays one of four roles, read off (W, b)
with the conventions of SPEC §3:

- ``live``: W_i ≠ 0 and its own output switches on for some mu (b_i > −‖W_i‖²);
- ``dead_vertex``: W_i ≠ 0 but b_i ≤ −‖W_i‖² (its output is always off): dashed arrow with a cross;
- ``positive_bias``: W_i = 0 and b_i > 0 (the "+" of a label): filled dot under the polygon;
- ``dead_feature``: W_i = 0 and b_i ≤ 0 (a flat direction): hollow dot under the polygon.
"""

from __future__ import annotations

import numpy as np

from critpoints.plot._mpl import COLOURS

__all__ = ["ZERO_COLUMN_TOL", "draw_glyph", "feature_roles", "glyph_legend_handles"]

#: Columns shorter than this are zero columns (catalog entries store exact zeros).
ZERO_COLUMN_TOL = 1e-6


def feature_roles(W, b, tol: float = ZERO_COLUMN_TOL) -> list[str]:
    """The role of every feature of (W, b): live, dead_vertex, positive_bias or dead_feature.

    Parameters
    ----------
    W : array_like, shape (2, n)
    b : array_like, shape (n,)
    tol : float
        Columns with norm ≤ ``tol`` count as zero columns.

    Examples
    --------
    >>> feature_roles([[1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]], [0.0, 0.1, -0.1, -5.0])
    ['live', 'positive_bias', 'dead_feature', 'dead_vertex']
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    norms2 = np.sum(W * W, axis=0)
    roles = []
    for norm2, bias in zip(norms2, b):
        if np.sqrt(norm2) <= tol:
            roles.append("positive_bias" if bias > 0 else "dead_feature")
        else:
            roles.append("dead_vertex" if bias <= -norm2 else "live")
    return roles


def draw_glyph(ax, W, b, limit: float = 1.7) -> None:
    """Draw the glyph of (W, b) into ``ax`` (an empty, equal-aspect box of half-width ``limit``).

    The vertices are joined in angular order by a thin outline so that the polygon reads as one
    shape; zero columns are drawn as a row of dots along the bottom edge.
    """
    W = np.asarray(W, dtype=float)
    roles = feature_roles(W, b)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.patch.set_alpha(0.0)
    vertices = [i for i, role in enumerate(roles) if role in ("live", "dead_vertex")]
    if len(vertices) >= 2:
        order = sorted(vertices, key=lambda i: np.arctan2(W[1, i], W[0, i]))
        ring = W[:, order + order[:1]]
        ax.plot(ring[0], ring[1], color="#BBBBBB", lw=0.8, zorder=1)
    for i in vertices:
        dead = roles[i] == "dead_vertex"
        colour = COLOURS[roles[i]]
        ax.annotate(
            "", xy=(W[0, i], W[1, i]), xytext=(0.0, 0.0),
            arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.6, "mutation_scale": 9,
                        "linestyle": "--" if dead else "-", "shrinkA": 0, "shrinkB": 0},
            zorder=3,
        )
        if dead:
            ax.plot(W[0, i], W[1, i], marker="x", color=colour, ms=6, mew=1.8, zorder=4)
    zeros = [role for role in roles if role in ("positive_bias", "dead_feature")]
    # Positive-bias columns first, then dead features, centred along the bottom edge.
    zeros.sort(key=lambda role: role != "positive_bias")
    step = 0.45
    x0 = -step * (len(zeros) - 1) / 2
    for j, role in enumerate(zeros):
        filled = role == "positive_bias"
        ax.plot(x0 + j * step, -limit + 0.2, marker="o", ms=5,
                color=COLOURS[role], mfc=COLOURS[role] if filled else "white", mew=1.2,
                zorder=4, clip_on=False)


def glyph_legend_handles() -> list:
    """Legend entries explaining the glyph symbols."""
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color=COLOURS["live"], lw=1.6, marker=">", ms=5,
               label="column $W_i$ (live output)"),
        Line2D([], [], color=COLOURS["dead_vertex"], lw=1.6, ls="--", marker="x", ms=6,
               label=r"dead vertex, $b_i \leq -\|W_i\|^2$"),
        Line2D([], [], color=COLOURS["positive_bias"], lw=0, marker="o", ms=5,
               label=r"zero column, $b_i > 0$ (+)"),
        Line2D([], [], color=COLOURS["dead_feature"], lw=0, marker="o", ms=5, mfc="white",
               label=r"dead feature, $W_i = 0,\ b_i \leq 0$"),
    ]
