"""The disconnectivity graph of a landscape graph (Becker & Karplus 1997; Wales, Miller & Walsh
1998), drawn as energy-landscape codes draw it: loss upwards, one leaf per minimum at its loss,
labelled with its id, and two basins joined by a horizontal bar at the level of the lowest
saddle between them (:func:`critpoints.landscape.disconnectivity`)."""

from __future__ import annotations

from critpoints.plot._mpl import COLOURS, pyplot

__all__ = ["disconnectivity_figure"]

_LEAF_IN = 0.34  # horizontal room per minimum, inches


def _leaf_order(tree, loss) -> list[int]:
    """Basins in drawing order, leaves left to right: each basin's children by their lowest
    minimum (as pele's ``order_by_energy``), the roots likewise."""
    def lowest(index: int) -> tuple:
        minima = tree.basins[index].minima
        return min((loss[m], m) for m in minima)

    order: list[int] = []

    def visit(index: int) -> None:
        basin = tree.basins[index]
        if basin.is_leaf:
            order.append(index)
        for child in sorted(basin.children, key=lowest):
            visit(child)

    # Joined basins first (lowest first), then the minima no saddle joins to another.
    for root in sorted(tree.roots, key=lambda r: (tree.basins[r].is_leaf, lowest(r))):
        visit(root)
    return order


def disconnectivity_figure(G, title: str | None = None, label_saddles: bool = True):
    """The disconnectivity graph of the landscape graph ``G``.

    Minima that no catalogued transition-state saddle joins to another minimum stand on their
    own, drawn in grey up to the top of the figure.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        As read by :func:`critpoints.landscape_store.read_landscape_json`.
    title : str, optional
    label_saddles : bool
        Write the id of the saddle at each join.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from critpoints.landscape import disconnectivity

    plt = pyplot()
    tree = disconnectivity(G)
    loss = {m: G.nodes[m]["loss"] for m in G.nodes if G.nodes[m]["verdict"] == "minimum"}
    if not loss:
        raise ValueError("the graph has no minimum")
    leaves = _leaf_order(tree, loss)
    x = {index: float(i) for i, index in enumerate(leaves)}
    # Inner basins come after their children in tree.basins (joins by rising level).
    for basin in tree.basins:
        if not basin.is_leaf:
            x[basin.index] = sum(x[c] for c in basin.children) / len(basin.children)
    levels = [b.level for b in tree.basins]
    low, high = min(levels), max(levels)
    span = max(high - low, 1e-3)
    top = high + 0.06 * span
    width = max(5.0, _LEAF_IN * len(leaves) + 1.5)
    fig, ax = plt.subplots(figsize=(width, 5.6))
    ax.grid(axis="x", visible=False)
    joined = COLOURS["minimum"]
    alone = "#999999"
    drawn: list[tuple[float, float, float]] = []
    for basin in tree.basins:
        colour = alone if basin.is_leaf and basin.parent is None else joined
        upper = top if basin.parent is None else tree.basins[basin.parent].level
        ax.plot([x[basin.index]] * 2, [basin.level, upper], color=colour, lw=1.4,
                ls="--" if colour == alone else "-", solid_capstyle="butt")
        if not basin.is_leaf:
            xs = [x[c] for c in basin.children]
            ax.plot([min(xs), max(xs)], [basin.level] * 2, color=joined, lw=1.4)
            saddles = ", ".join(dict.fromkeys(basin.saddles))
            # A label that would overlap one already drawn is left out (crowded low levels of
            # large n); the landscape file names every joining saddle.
            half = 0.045 * len(saddles) / _LEAF_IN + 0.15  # 7-point characters ≈ 0.07 in wide
            extent = (x[basin.index] - half, x[basin.index] + half)
            if label_saddles and not any(
                    extent[0] < right and left < extent[1]
                    and abs(basin.level - level) < 0.06 * span for left, right, level in drawn):
                drawn.append((*extent, basin.level))
                ax.annotate(saddles, (x[basin.index], basin.level), xytext=(0, 2),
                            textcoords="offset points", fontsize=7, ha="center", va="bottom",
                            color=COLOURS["saddle"],
                            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"},
                            zorder=4)
    for index in leaves:
        minimum = tree.basins[index].minima[0]
        smooth = G.nodes[minimum]["classification"] == "minimum"
        ax.plot(x[index], loss[minimum], "o" if smooth else "s", ms=4,
                color=COLOURS["minimum" if smooth else "non-smooth"], zorder=3)
        ax.annotate(minimum, (x[index], loss[minimum]), xytext=(0, -5),
                    textcoords="offset points", rotation=90, ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.8, len(leaves) - 0.2)
    ax.set_ylim(low - 0.16 * span, top)
    ax.set_xticks([])
    ax.set_ylabel("loss $L$")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", ls="", color=COLOURS["minimum"], label="smooth minimum"),
        Line2D([], [], marker="s", ls="", color=COLOURS["non-smooth"],
               label="non-smooth minimum"),
        Line2D([], [], color=joined,
               label="joined at the lowest saddle (id in orange where it fits)"),
        Line2D([], [], color=alone, ls="--", label="joined to no other minimum"),
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    if title is None:
        n = (G.graph.get("model") or {}).get("n")
        title = (f"Disconnectivity graph, TMS n = {n}: minima joined through index-1 and "
                 "non-smooth saddles")
    ax.set_title(title)
    return fig
