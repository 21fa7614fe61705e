"""The landscape graph of a catalog: where the steepest-descent paths from its saddles lead.

Edges
-----
For every catalogued saddle the graph holds one directed edge per downhill path that leaves it,
``saddle → end`` (a :class:`networkx.MultiDiGraph`, edge key ``"d<direction><side>"``,
e.g. ``"d0+"``, ``"d2-"``: not integers, so that GraphML readers keep them apart):

- a smooth saddle (classification ``saddle``, Hessian index k ≥ 1): the k eigenvectors of its
  negative Hessian eigenvalues, each taken both ways (sides ``+`` and ``-``). Within a
  degenerate negative eigenspace the basis is the orthonormalised projection of seeded random
  vectors (``seed``), and the sign of every direction is the one with a positive product with
  its random vector, so that the directions do not depend on the LAPACK build;
- a non-smooth (or degenerate) saddle whose ``evidence.descent`` is confirmed: the stored descent
  direction (normalised), direction 0, both ways (the ``-`` side need not descend: L is not C²
  there; a side that does not descend is listed in ``sides_without_descent``); then (unless
  ``sphere_valleys=False``) its other valleys, directions 1, 2, …, ``+`` side only:
  :func:`~critpoints.landscape.valleys.descent_valleys` minimises the quotient
  (L(θ + tv) − L(θ))/t² on a small sphere off the orbit tangents and flat coordinates from
  seeded random directions, keeps the minima that descend at two radii, distinct (cosine ≤
  0.99 with each other, with the stored direction and with its opposite) and at most ``cap``
  (12) of them, most negative quotient first. A smooth saddle's ± eigenvector pairs do not
  describe such a point: L has a different quadratic form in every cone of directions, and its
  ways down need not come in opposite pairs. Each search is recorded in ``valley_searches``.

Every edge (and unmatched end, and side without descent) says where its direction came from:
``direction_source`` ``"hessian"``, ``"stored-descent"`` or ``"sphere-valley"``.

Start rule. A path starts at θ_s ± t·v with t the first of ``step``·2^j (j = 0 … ``doublings``)
for which L(θ_s) − L(θ_s ± t·v) ≥ ``min_drop`` (for a smooth saddle the drop is about
|λ|t²/2, so t = ``step`` = 1e-3 serves every |λ| ≥ 2e-3). A side for which no such t exists is
not descended. From the start :func:`~critpoints.landscape.descent.steepest_descent` follows the
flow to the critical point it reaches, which is matched to the catalog
(:class:`critpoints.dynamics.plateaus.CatalogMatcher`: O(2) × permutations and the flat
directions of dead features).

Edge attributes: ``side``, ``direction``, ``direction_source``, ``saddle_index`` (the Hessian
index, null when non-smooth), ``saddle_classification``, ``transition_state`` (true for the
edges of index-1 and non-smooth saddles: the ones the graph of minima uses), ``start_offset``
(t), ``barrier`` (L(saddle) − L(end), catalog losses), ``path_max_loss``, ``end_is_minimum``,
``steps``.

Ends that match no entry (or whose search did not converge) become no node: they are listed in
the graph attribute ``unmatched_ends`` with their loss, parameters and reason — candidates for
the catalog, never dropped; ends of one candidate point share its ``candidate`` number.

Graph of minima
---------------
:func:`minimum_pathways` and :func:`disconnectivity` use the minima (verdict ``minimum``) joined
by the transition-state edges: a saddle joins every two distinct minima its descents reach, at
the level L(saddle). The minimax (lowest-barrier) path between two minima runs along a minimum
spanning tree of that graph; the disconnectivity tree (Becker & Karplus 1997, Wales et al. 1998;
as ``pele/utils/disconnectivity_graph.py`` draws it) groups, at every level E, the minima joined
by saddles with L ≤ E into one basin.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import networkx as nx
import numpy as np

from critpoints.catalog import Catalog
from critpoints.landscape.descent import steepest_descent
from critpoints.potential import Potential, significant

__all__ = [
    "Basin",
    "DescentStart",
    "Direction",
    "DisconnectivityTree",
    "MinimumPathway",
    "descent_starts",
    "disconnectivity",
    "landscape_graph",
    "minima_graph",
    "minimum_pathways",
    "saddle_directions",
    "unstable_directions",
]

#: Digits kept of the numbers a float64 descent produces (their last bits vary with BLAS).
DIGITS = 10


@dataclass(frozen=True)
class DescentStart:
    """Where a descent from a saddle starts: θ_s + (side)·``offset``·v for its direction v
    (number ``direction`` among the saddle's, from ``source``)."""

    saddle: str
    direction: int
    side: str
    offset: float
    theta: np.ndarray
    source: str


@dataclass(frozen=True)
class Direction:
    """A unit direction to descend along, where it came from, and the sides to try."""

    vector: np.ndarray
    #: "hessian", "stored-descent", "sphere-valley"; in the descent closure also
    #: "negative-curvature" and "eigenspace-diagonal" (critpoints.landscape.closure)
    source: str
    sides: str  # "+-" or "+"


#: Defaults of the valley search at non-smooth saddles (keyword arguments of
#: :func:`~critpoints.landscape.valleys.descent_valleys`; the seed is per saddle).
VALLEY_DEFAULTS = {"samples": 256, "radius": 1e-3, "check_radii": [1e-3, 1e-4], "steps": 3000,
                   "merge_every": 100, "qtol": 1e-10, "cosine": 0.99, "cap": 12}
#: How a saddle's valley search is seeded (recorded in the graph's settings).
VALLEY_SEED_RULE = "numpy.random.default_rng([seed, zlib.crc32(saddle id as UTF-8)])"


def _canonical_basis(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An orthonormal basis (rows) of the span of the orthonormal rows ``vectors`` that does not
    depend on which basis LAPACK returned: seeded random vectors projected and orthonormalised,
    each sign fixed by a positive product with its random vector."""
    k, dim = vectors.shape
    random = rng.standard_normal((k, dim))
    projected = (random @ vectors.T) @ vectors
    q, r = np.linalg.qr(projected.T)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1
    return (q * signs).T


def unstable_directions(catalog: Catalog, potential: Potential, entry_id: str,
                        rng: np.random.Generator, degenerate_rtol: float = 1e-6
                        ) -> list[np.ndarray]:
    """The unit directions along which the saddle ``entry_id`` is descended (see the module
    docstring): its negative-curvature eigenvectors if smooth, else the stored confirmed
    descent direction; ``[]`` for an entry that is not a saddle or has neither."""
    entry = catalog.entry(entry_id)
    theta = potential.flatten(*catalog.parameters(entry_id))
    return saddle_directions(entry, potential, theta, rng, degenerate_rtol)


def saddle_directions(entry: dict, potential: Potential, theta: np.ndarray,
                      rng: np.random.Generator, degenerate_rtol: float = 1e-6
                      ) -> list[np.ndarray]:
    """:func:`unstable_directions` of one catalog entry (a dict with ``verdict``,
    ``classification``, ``hessian_index`` and ``evidence``) at its point θ."""
    if entry.get("verdict") != "saddle":
        return []
    if entry["classification"] == "saddle" and entry.get("hessian_index"):
        k = int(entry["hessian_index"])
        values, vectors = np.linalg.eigh(potential.hessian(theta))
        values, vectors = values[:k], vectors[:, :k].T
        directions, start = [], 0
        while start < k:  # groups of (numerically) equal eigenvalues
            stop = start + 1
            scale = max(abs(values[start]), 1e-12)
            while stop < k and abs(values[stop] - values[start]) <= degenerate_rtol * scale:
                stop += 1
            directions.extend(_canonical_basis(vectors[start:stop], rng))
            start = stop
        return directions
    descent = entry.get("evidence", {}).get("descent")
    if descent and descent.get("confirmed"):
        v = np.asarray(descent["direction"], dtype=float)
        return [v / np.linalg.norm(v)]
    return []


def _valley_directions(potential: Potential, theta: np.ndarray, stored: np.ndarray,
                       saddle: str, seed: int, options: dict) -> tuple[list[Direction], dict]:
    """The sphere valleys of a non-smooth saddle not within ``cosine`` of its stored descent
    (or of the stored direction's opposite, which is followed too), and the search's record."""
    from critpoints.landscape.valleys import descent_valleys

    found = descent_valleys(potential, theta, exclude=[stored, -stored],
                            seed=[seed, zlib.crc32(saddle.encode("utf-8"))], **options)
    record = {"saddle": saddle, "samples": found.samples, "descending": found.descending,
              "distinct": found.distinct, "followed": len(found.directions),
              "quotients": [significant(float(q), 4) for q in found.quotients]}
    return [Direction(v, "sphere-valley", "+") for v in found.directions], record


def _descent_directions(catalog: Catalog, potential: Potential, entry_id: str,
                        rng: np.random.Generator, seed: int, valleys: dict | None
                        ) -> tuple[list[Direction], dict | None]:
    """:func:`unstable_directions` with their sources and sides, followed (at a saddle
    descended along its stored direction, when ``valleys`` is not None) by its sphere valleys;
    and the valley search's record (None without one)."""
    found = unstable_directions(catalog, potential, entry_id, rng)
    if not found:
        return [], None
    entry = catalog.entry(entry_id)
    if entry["classification"] == "saddle" and entry.get("hessian_index"):
        return [Direction(v, "hessian", "+-") for v in found], None
    directions = [Direction(found[0], "stored-descent", "+-")]
    if valleys is None:
        return directions, None
    theta = potential.flatten(*catalog.parameters(entry_id))
    more, record = _valley_directions(potential, theta, found[0], entry_id, seed, valleys)
    return directions + more, record


def descent_starts(potential: Potential, theta: np.ndarray, directions: list[Direction],
                   saddle: str, step: float, min_drop: float, doublings: int
                   ) -> tuple[list[DescentStart], list[dict]]:
    """The starts θ ± t·v of the start rule (module doc) along each direction, and the sides
    along which L does not drop (one record each)."""
    if not directions:
        return [], []
    V = np.array([d.vector for d in directions])
    offsets = step * 2.0 ** np.arange(doublings + 1)
    level = float(potential.loss(theta))
    starts, flat = [], []
    for sign, side in ((1.0, "+"), (-1.0, "-")):
        # points[j, d] = θ + sign·t_j·v_d
        points = theta + sign * offsets[:, None, None] * V[None]
        drop = level - np.asarray(potential.loss(points))
        for d, direction in enumerate(directions):
            if side not in direction.sides:
                continue
            good = np.flatnonzero(drop[:, d] >= min_drop)
            if good.size == 0:
                flat.append({"saddle": saddle, "direction": d, "side": side,
                             "direction_source": direction.source,
                             "largest_offset": float(offsets[-1]),
                             "drop": significant(float(drop[-1, d]), 4)})
                continue
            j = int(good[0])
            starts.append(DescentStart(saddle, d, side, float(offsets[j]), points[j, d],
                                 direction.source))
    return starts, flat


def _curvature(potential: Potential, theta: np.ndarray, zero: float = 1e-8) -> dict:
    """The float64 Hessian's smallest eigenvalue (0 within ``zero``, 3 digits) and its number
    of eigenvalues below −``zero``: what an unmatched end looks like to second order (its
    one-sided Hessian where L is not C²)."""
    values = np.linalg.eigvalsh(potential.hessian(theta))
    smallest = float(values[0])
    return {"hessian_min_eigenvalue": significant(smallest, 3) if abs(smallest) > zero else 0.0,
            "hessian_n_neg": int((values < -zero).sum())}


def _node_attributes(entry: dict) -> dict:
    return {
        "label": entry.get("label", ""),
        "loss": float(entry["loss"]),
        "classification": entry["classification"],
        "verdict": entry.get("verdict", entry["classification"]),
        "hessian_index": entry.get("hessian_index"),
        "n_neg": int(entry["hessian"]["n_neg"]),
        "learning_coefficient": entry.get("learning_coefficient"),
    }


def _default_matcher(catalog: Catalog):
    """The flat-set match of :class:`~critpoints.dynamics.plateaus.CatalogMatcher`; failing it,
    the census's rule (:func:`critpoints.census.census.same_critical_set`: the same loss and,
    up to O(2) × permutations, the same live columns, or as many live columns — a member of a
    flat family the projection onto the entry's flat set does not reach)."""
    from critpoints.census.census import critical_set_key, same_critical_set
    from critpoints.dynamics.plateaus import CatalogMatcher

    matcher = CatalogMatcher(catalog)
    keys = [(p["loss"], critical_set_key(*catalog.parameters(i))) for i, p in catalog.items()]

    def match(W, b, loss):
        found = matcher.match(W, b, loss)
        if found.id is not None:
            return found.id, found.distance, "flat-set"
        j = same_critical_set(loss, critical_set_key(W, b), keys)
        if j is not None:
            return catalog.ids[j], found.distance, "critical-set"
        return None, found.distance, None

    return match


def _candidate_numbers(unmatched: list[dict], same: Callable[[dict, dict], bool]) -> None:
    """Number the unmatched converged ends so that ends of one point share a number."""
    representatives: list[dict] = []
    for end in unmatched:
        if not end["converged"]:
            end["candidate"] = None
            continue
        for number, other in enumerate(representatives):
            if same(end, other):
                end["candidate"] = number
                break
        else:
            end["candidate"] = len(representatives)
            representatives.append(end)


def _same_tms_point(a: dict, b: dict) -> bool:
    """The census's rule (:func:`critpoints.census.census.same_critical_set`): one critical set
    up to O(2) × permutations and flat columns."""
    from critpoints.census.census import critical_set_key, same_critical_set

    key = critical_set_key(np.array(b["W"]), np.array(b["b"]))
    return same_critical_set(a["loss"], critical_set_key(np.array(a["W"]), np.array(a["b"])),
                             [(b["loss"], key)]) is not None


def landscape_graph(
    catalog: Catalog | dict,
    potential: Potential | None = None,
    *,
    step: float = 1e-3,
    min_drop: float = 1e-9,
    doublings: int = 8,
    seed: int = 0,
    sphere_valleys: bool = True,
    valley_options: dict | None = None,
    matcher: Callable | None = None,
    descent_options: dict | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> nx.MultiDiGraph:
    """The landscape graph of a catalog: the saddles' steepest-descent paths and their ends.

    Parameters
    ----------
    catalog : Catalog or dict
        A TMS catalog (or any catalog whose entries carry ``W``, ``b``).
    potential : Potential, optional
        The potential; default ``TMSPotential(n, m)`` of the catalog's model.
    step, min_drop, doublings : float, float, int
        The start rule: the offset t is the first of ``step``·2^j, j ≤ ``doublings``, with
        L(saddle) − L(start) ≥ ``min_drop``.
    seed : int
        Seed of the random vectors that fix the basis of degenerate unstable eigenspaces, and
        (with the saddle's id, :data:`VALLEY_SEED_RULE`) of each valley search.
    sphere_valleys : bool
        Also descend along the sphere valleys of every saddle descended along a stored
        direction (non-smooth or degenerate): :func:`~critpoints.landscape.valleys.
        descent_valleys`, ``+`` side only. False gives the graph without them.
    valley_options : dict, optional
        Keyword arguments of the valley search over :data:`VALLEY_DEFAULTS`.
    matcher : callable, optional
        ``matcher(W, b, loss) -> (id or None, distance[, rule])``; default
        :class:`~critpoints.dynamics.plateaus.CatalogMatcher` of the catalog.
    descent_options : dict, optional
        Keyword arguments of :func:`~critpoints.landscape.descent.steepest_descent`.
    progress : callable, optional
        Called with a line of text at each stage.
    workers : int
        Processes sharing the descents; the graph does not depend on it.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes: every catalog id with ``label``, ``loss``, ``classification``, ``verdict``,
        ``hessian_index``, ``n_neg``, ``learning_coefficient``. Edges ``saddle → end`` and the
        graph attributes as in the module docstring; the summary numbers ``saddles_examined``,
        ``descents``, ``ends_matched``, ``ends_unmatched``, ``index1_saddles``,
        ``index1_saddles_both_ends_minima``, ``nonsmooth_saddles``,
        ``nonsmooth_saddles_every_end_minimum`` (every descending side matched at a minimum)
        and the lists ``unmatched_ends``,
        ``sides_without_descent`` and ``valley_searches``; ``settings`` holds the start rule,
        the seed, the descent options and ``sphere_valleys`` (the valley search's parameters
        and seed rule, None when off).
    """
    catalog = Catalog.of(catalog)
    if potential is None:
        from critpoints.tms.model import TMSPotential

        potential = TMSPotential(catalog.model.n, catalog.model.m)
    match = matcher or _default_matcher(catalog)
    say = progress or (lambda _line: None)
    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph()
    for pid, entry in catalog.items():
        G.add_node(pid, **_node_attributes(entry))
    valleys = {**VALLEY_DEFAULTS, **(valley_options or {})} if sphere_valleys else None
    starts: list[DescentStart] = []
    flat: list[dict] = []
    examined = []
    searches = []
    for pid in catalog.ids:
        directions, search = _descent_directions(catalog, potential, pid, rng, seed, valleys)
        if not directions:
            continue
        examined.append(pid)
        if search is not None:
            searches.append(search)
        theta = potential.flatten(*catalog.parameters(pid))
        found, none = descent_starts(potential, theta, directions, pid, step, min_drop, doublings)
        starts.extend(found)
        flat.extend(none)
    say(f"{len(examined)} saddles ({len(searches)} valley searches), {len(starts)} descents")
    options = {**(descent_options or {})}
    # a catalog without saddles (e.g. minima only) has no descent to follow
    paths = steepest_descent(potential, np.array([s.theta for s in starts]).reshape(
        len(starts), potential.dim), workers=workers, **options) if starts else None
    longest = int(paths.steps.max(initial=0)) if starts else 0
    say(f"descents done (longest {longest} steps); matching the ends")
    unmatched = []
    for i, start in enumerate(starts):
        W, b = potential.unflatten(paths.theta[i])
        end_loss = float(paths.loss[i])
        end_id, distance, rule = ((match(W, b, end_loss) + (None,))[:3] if paths.converged[i]
                                  else (None, np.inf, None))
        saddle = G.nodes[start.saddle]
        if end_id is None:
            reason = ("no catalog entry matches the critical point reached" if paths.converged[i]
                      else f"the search did not converge (gradient norm "
                           f"{paths.grad_norm[i]:.1e})")
            unmatched.append({
                "saddle": start.saddle, "direction": start.direction, "side": start.side,
                "direction_source": start.source,
                "loss": significant(end_loss, DIGITS),
                "W": [[significant(float(x), 8) for x in row] for row in W],
                "b": [significant(float(x), 8) for x in b],
                "grad_norm": significant(float(paths.grad_norm[i]), 2),
                "converged": bool(paths.converged[i]),
                "nearest_distance": significant(float(distance), 3) if np.isfinite(distance)
                else None,
                "reason": reason,
                "same_loss_entries": [pid for pid, e in catalog.items()
                                      if abs(e["loss"] - end_loss) <= 1e-9],
                **_curvature(potential, paths.theta[i]),
            })
            continue
        end = G.nodes[end_id]
        G.add_edge(
            start.saddle, end_id, key=f"d{start.direction}{start.side}",
            side=start.side, direction=start.direction, direction_source=start.source,
            saddle_index=saddle["hessian_index"],
            saddle_classification=saddle["classification"],
            transition_state=saddle["classification"] != "saddle" or saddle["hessian_index"] == 1,
            start_offset=start.offset,
            barrier=saddle["loss"] - end["loss"],
            path_max_loss=significant(float(paths.max_loss[i]), DIGITS),
            end_is_minimum=end["verdict"] == "minimum",
            steps=int(paths.steps[i]),
            **({} if rule is None else {"match": rule}),
        )
    _candidate_numbers(unmatched, _same_tms_point)
    G.graph.update(_summary(G, examined, len(starts), unmatched, flat))
    G.graph["valley_searches"] = searches
    G.graph["settings"] = {"step": step, "min_drop": min_drop, "doublings": doublings,
                           "seed": seed, "descent": options,
                           "sphere_valleys": None if valleys is None else {
                               **valleys, "check_radii": list(valleys["check_radii"]),
                               "seed_rule": VALLEY_SEED_RULE}}
    return G


def _ends_at_minima(G: nx.MultiDiGraph, saddles: Iterable[str], unmatched_saddles: set,
                    both_sides: bool) -> int:
    """How many ``saddles`` have every descent matched to a minimum (and, with
    ``both_sides``, descents on both sides)."""
    count = 0
    for s in saddles:
        edges = list(G.out_edges(s, data=True))
        sides = {d["side"] for _, _, d in edges}
        enough = sides == {"+", "-"} if both_sides else bool(sides)
        if s not in unmatched_saddles and enough and all(
                d["end_is_minimum"] for _, _, d in edges):
            count += 1
    return count


def _summary(G, examined, descents, unmatched, flat) -> dict:
    index1 = [s for s in examined if G.nodes[s]["hessian_index"] == 1]
    nonsmooth = [s for s in examined if G.nodes[s]["classification"] != "saddle"]
    unmatched_saddles = {u["saddle"] for u in unmatched}
    return {
        "saddles_examined": len(examined),
        "descents": descents,
        "ends_matched": G.number_of_edges(),
        "ends_unmatched": len(unmatched),
        "index1_saddles": len(index1),
        "index1_saddles_both_ends_minima": _ends_at_minima(G, index1, unmatched_saddles, True),
        "nonsmooth_saddles": len(nonsmooth),
        "nonsmooth_saddles_every_end_minimum": _ends_at_minima(G, nonsmooth, unmatched_saddles,
                                                               False),
        "unmatched_ends": unmatched,
        "sides_without_descent": flat,
    }


# ----------------------------------------------------------------------------------------------
# The graph of minima


def minima_graph(G: nx.MultiDiGraph) -> nx.Graph:
    """Minima joined by saddles: an edge a–b (attributes ``saddle``, ``level`` = L(saddle)) for
    the lowest transition-state saddle whose descents reach both minima a ≠ b."""
    H = nx.Graph()
    for node, data in G.nodes(data=True):
        if data["verdict"] == "minimum":
            H.add_node(node, loss=data["loss"])
    for s, data in G.nodes(data=True):
        ends = sorted({v for _, v, d in G.out_edges(s, data=True)
                       if d["transition_state"] and d["end_is_minimum"]})
        level = data["loss"]
        for i, a in enumerate(ends):
            for b in ends[i + 1:]:
                if not H.has_edge(a, b) or (level, s) < (H[a][b]["level"], H[a][b]["saddle"]):
                    H.add_edge(a, b, saddle=s, level=level)
    return H


@dataclass(frozen=True)
class MinimumPathway:
    """The lowest-barrier path between two minima.

    Attributes
    ----------
    source, target : str
        The minima (``source`` the lower in catalog order).
    path : tuple of str
        Minima and saddles in turn: ``(source, saddle, minimum, …, target)``.
    saddle : str
        The highest saddle on the path.
    level : float
        Its loss: the lowest level at which the two minima are joined.
    barrier_from_source, barrier_from_target : float
        ``level`` − L(source), ``level`` − L(target).
    """

    source: str
    target: str
    path: tuple[str, ...]
    saddle: str
    level: float
    barrier_from_source: float
    barrier_from_target: float


def minimum_pathways(G: nx.MultiDiGraph) -> list[MinimumPathway]:
    """For every pair of minima joined through saddles, the minimax path and its barrier.

    The minimax path (the one whose highest saddle is lowest) runs along a minimum spanning tree
    of :func:`minima_graph` weighted by the saddle levels.

    Returns
    -------
    list of MinimumPathway
        Ordered by the minima's order in ``G``.
    """
    H = minima_graph(G)
    order = {node: i for i, node in enumerate(G.nodes)}
    tree = nx.minimum_spanning_tree(H, weight="level")
    found = []
    for component in nx.connected_components(tree):
        members = sorted(component, key=order.__getitem__)
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                minima = nx.shortest_path(tree, a, b)
                hops = [tree[u][v] for u, v in itertools.pairwise(minima)]
                top = max(hops, key=lambda e: e["level"])
                path = [a]
                for hop, nxt in zip(hops, minima[1:]):
                    path += [hop["saddle"], nxt]
                found.append(MinimumPathway(
                    a, b, tuple(path), top["saddle"], top["level"],
                    top["level"] - H.nodes[a]["loss"], top["level"] - H.nodes[b]["loss"]))
    return sorted(found, key=lambda p: (order[p.source], order[p.target]))


@dataclass(frozen=True)
class Basin:
    """A node of the disconnectivity tree.

    Attributes
    ----------
    index : int
        Position in :attr:`DisconnectivityTree.basins`.
    level : float
        A leaf: its minimum's loss. Otherwise the level at which its children join.
    minima : tuple of str
        The minima in the basin.
    children : tuple of int
        The basins joined here (``()`` for a leaf).
    parent : int or None
        The basin this one joins at a higher level (None for a root).
    saddles : tuple of str
        The saddles that join the children (``()`` for a leaf).
    """

    index: int
    level: float
    minima: tuple[str, ...]
    children: tuple[int, ...]
    parent: int | None
    saddles: tuple[str, ...]

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(frozen=True)
class DisconnectivityTree:
    """The tree of basins: leaves are minima, inner nodes join basins at a level.

    Attributes
    ----------
    basins : tuple of Basin
        Leaves first (one per minimum, in the graph's order), then the joins by rising level.
    roots : tuple of int
        The basins that join nothing above (one per connected component of the graph of
        minima).
    """

    basins: tuple[Basin, ...]
    roots: tuple[int, ...]

    def basin_of(self, minimum: str, level: float) -> tuple[str, ...]:
        """The minima that share a basin with ``minimum`` at ``level`` (joined by saddles with
        L ≤ level)."""
        node = next(b for b in self.basins if b.minima == (minimum,))
        while node.parent is not None and self.basins[node.parent].level <= level:
            node = self.basins[node.parent]
        return node.minima


def disconnectivity(G: nx.MultiDiGraph, levels: Iterable[float] | None = None
                    ) -> DisconnectivityTree:
    """The disconnectivity tree of the landscape graph ``G``.

    At every level E the minima joined by transition-state saddles with L ≤ E form a basin
    (the connected components of :func:`minima_graph` restricted to those saddles); the basins
    at a higher level contain those below, which makes a tree.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        A landscape graph (:func:`landscape_graph`), or any graph with the same attributes.
    levels : iterable of float, optional
        The energy levels E (as pele's ``nlevels``/``Emax``): joins are drawn at the lowest
        level ≥ the saddle's loss, saddles above the highest level join nothing. Default: every
        saddle level, which gives the exact tree (each join at its barrier).

    Returns
    -------
    DisconnectivityTree
    """
    H = minima_graph(G)
    grid = None if levels is None else np.sort(np.asarray(list(levels), dtype=float))
    basins: list[dict] = []
    top: dict[str, int] = {}  # minimum → index of the highest basin containing it
    for node in H.nodes:
        top[node] = len(basins)
        basins.append({"level": H.nodes[node]["loss"], "minima": (node,), "children": (),
                       "parent": None, "saddles": ()})
    order = {node: i for i, node in enumerate(H.nodes)}
    edges = sorted(H.edges(data=True), key=lambda e: (e[2]["level"], e[2]["saddle"],
                                                      order[e[0]], order[e[1]]))
    for a, b, data in edges:
        level = data["level"]
        if grid is not None:
            j = int(np.searchsorted(grid, level))
            if j == len(grid):
                continue
            level = float(grid[j])
        ia, ib = top[a], top[b]
        if ia == ib:
            continue
        minima = tuple(sorted(basins[ia]["minima"] + basins[ib]["minima"],
                              key=order.__getitem__))
        # A join at the level of a basin that was itself made at that level extends it.
        merged = [i for i in (ia, ib) if basins[i]["children"] and basins[i]["level"] == level]
        if merged:
            keep = merged[0]
            other = ib if keep == ia else ia
            children = basins[other]["children"] if other in merged else (other,)
            basins[keep]["children"] += children
            for child in children:
                basins[child]["parent"] = keep
            if other in merged:
                basins[other] = None  # emptied: its children moved
            basins[keep]["saddles"] += (data["saddle"],)
            target = keep
        else:
            target = len(basins)
            basins.append({"level": level, "minima": (), "children": (ia, ib), "parent": None,
                           "saddles": (data["saddle"],)})
            basins[ia]["parent"] = basins[ib]["parent"] = target
        basins[target]["minima"] = minima
        for m in minima:
            top[m] = target
    return _renumbered(basins)


def _renumbered(basins: list[dict | None]) -> DisconnectivityTree:
    kept = [i for i, b in enumerate(basins) if b is not None]
    new = {old: i for i, old in enumerate(kept)}
    out = tuple(
        Basin(new[old], float(b["level"]), tuple(b["minima"]),
              tuple(new[c] for c in b["children"]),
              None if b["parent"] is None else new[b["parent"]], tuple(b["saddles"]))
        for old, b in ((old, basins[old]) for old in kept)
    )
    return DisconnectivityTree(out, tuple(b.index for b in out if b.parent is None))
