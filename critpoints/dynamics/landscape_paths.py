"""Observed SGD transitions read on the landscape graph, and the published claim tested on the
transitions that can test it.

Landscape connection
--------------------
For a transition A → B between two catalog entries, :func:`landscape_connection` asks the
landscape graph (:func:`critpoints.landscape.landscape_graph`: an edge ``saddle → end`` for each
steepest-descent path from a saddle) how A and B are joined, and takes the connection with the
lowest *level* (the highest loss on it, from the catalog):

============  ==========================================================  ==================
kind          the landscape joins A and B ...                             level
============  ==========================================================  ==================
``descent``   A is a saddle and its descents reach B                      L(A)
``ascent``    B is a saddle and its descents reach A                      L(B)
``saddle``    one saddle S (≠ A, B) has descents reaching A and B         L(S)
``pathway``   A and B are minima joined by the minimax path of            its highest saddle
              :func:`critpoints.landscape.minimum_pathways` (minima and
              transition-state saddles in turn)
``none``      none of these
============  ==========================================================  ==================

A saddle's descents *reach* an entry when a descent path ends there or at a lower saddle whose
descents reach it in turn (a directed path of the landscape graph: every step goes downhill, so
the level is the first saddle's loss). Ties go to the kinds in this order, then to the saddle
first in the landscape graph's order, then to the shorter path.
The connection records the path (catalog ids), the saddle at its level (``saddle``; A itself for
``descent``), and the barrier from A, level − L(A) (0 for ``descent``; negative when A is above
the saddle, which only a ``saddle`` or ``pathway`` connection from a higher A can give).
**Explained by the landscape** means joined (any kind but ``none``); it is null when A or B is
not a node of the landscape graph (a landscape computed from another catalog).

Minimum-to-minimum transitions and the published claim
------------------------------------------------------
"Every transition lowers the loss and raises the learning coefficient" compares two *minima*:
λ is defined at a minimum (the catalog has none for the saddles), and a plateau at a saddle is
the passage from one basin to the next. :func:`minimum_transitions` reads each run's sequence of
identified plateaus, keeps the entries whose catalog verdict is ``minimum``, and makes each
consecutive pair of different minima A, B one minimum-to-minimum transition, ``via`` the
entries of the plateaus between them (saddles SGD rested at on the way; empty for a direct
jump). :func:`published_claim` tests the claim on those transitions, grouped by (A, B): tested
when both have λ; it *holds* for the pair when L(A) > L(B) and λ(B) > λ(A), and *fails*
otherwise. The transition-graph edges that cannot test it are counted by reason (an end that is
not a minimum, an end without λ). A claim tested on no transition is null — printed
"untested", never "yes".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

__all__ = [
    "CLAIM",
    "LandscapeConnection",
    "MinimumTransition",
    "landscape_connection",
    "landscape_connections",
    "landscape_mismatch",
    "minimum_transitions",
    "published_claim",
]

#: The claim tested (the paper's wording).
CLAIM = "every transition lowers the loss and raises the learning coefficient"

#: Tie-break order of the connection kinds.
KINDS = ("descent", "ascent", "saddle", "pathway")


@dataclass(frozen=True)
class LandscapeConnection:
    """How the landscape graph joins the ends of a transition A → B.

    Attributes
    ----------
    source, target : str
        A and B.
    kind : str or None
        ``"descent"``, ``"ascent"``, ``"saddle"``, ``"pathway"``, ``"none"`` (see the module
        docstring); None when A or B is not in the landscape graph.
    path : tuple of str
        Catalog ids from A to B (``()`` when not joined).
    saddle : str or None
        The saddle at the connection's level.
    level : float or None
        The highest loss on the path (the saddle's).
    barrier : float or None
        ``level`` − L(A).
    """

    source: str
    target: str
    kind: str | None
    path: tuple[str, ...] = ()
    saddle: str | None = None
    level: float | None = None
    barrier: float | None = None

    @property
    def explained(self) -> bool | None:
        """True when the landscape joins A and B, False when not, None when it cannot say."""
        return None if self.kind is None else self.kind != "none"


def _pathways_by_pair(landscape: nx.MultiDiGraph) -> dict[frozenset, object]:
    from critpoints.landscape import minimum_pathways

    return {frozenset((p.source, p.target)): p for p in minimum_pathways(landscape)}


def landscape_connection(landscape: nx.MultiDiGraph, source: str, target: str,
                         pathways: dict | None = None) -> LandscapeConnection:
    """The lowest connection of ``source`` and ``target`` in the landscape graph.

    Parameters
    ----------
    landscape : networkx.MultiDiGraph
        A landscape graph (:func:`critpoints.landscape.landscape_graph` or
        :func:`critpoints.landscape_store.read_landscape_json`).
    source, target : str
        Catalog ids, A and B of the transition A → B.
    pathways : dict, optional
        ``frozenset({a, b}) → MinimumPathway`` of the landscape (computed when not given; pass
        it when mapping many transitions).

    Returns
    -------
    LandscapeConnection

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> for node, loss, verdict in (("a", 0.1, "minimum"), ("s", 0.2, "saddle"),
    ...                             ("b", 0.05, "minimum")):
    ...     G.add_node(node, loss=loss, verdict=verdict)
    >>> _ = G.add_edge("s", "a", transition_state=True, end_is_minimum=True)
    >>> _ = G.add_edge("s", "b", transition_state=True, end_is_minimum=True)
    >>> c = landscape_connection(G, "a", "b")
    >>> c.kind, c.path, c.saddle, round(c.barrier, 3), c.explained
    ('saddle', ('a', 's', 'b'), 's', 0.1, True)
    """
    if source not in landscape or target not in landscape:
        return LandscapeConnection(source, target, None)
    loss = {node: landscape.nodes[node]["loss"] for node in (source, target)}
    order = {node: i for i, node in enumerate(landscape.nodes)}
    found = []  # (level, kind, path, saddle)
    below_source = nx.descendants(landscape, source)
    if target in below_source:
        found.append((loss[source], "descent", nx.shortest_path(landscape, source, target),
                      source))
    if source in nx.descendants(landscape, target):
        found.append((loss[target], "ascent",
                      nx.shortest_path(landscape, target, source)[::-1], target))
    shared = (nx.ancestors(landscape, source) & nx.ancestors(landscape, target)
              - {source, target})
    for saddle in shared:
        path = (nx.shortest_path(landscape, saddle, source)[::-1]
                + nx.shortest_path(landscape, saddle, target)[1:])
        found.append((landscape.nodes[saddle]["loss"], "saddle", path, saddle))
    if pathways is None:
        pathways = _pathways_by_pair(landscape)
    pathway = pathways.get(frozenset((source, target)))
    if pathway is not None:
        path = pathway.path if pathway.source == source else tuple(reversed(pathway.path))
        found.append((pathway.level, "pathway", path, pathway.saddle))
    if not found:
        return LandscapeConnection(source, target, "none")
    level, kind, path, saddle = min(
        found, key=lambda f: (f[0], KINDS.index(f[1]), order[f[3]], len(f[2])))
    return LandscapeConnection(source, target, kind, tuple(path), saddle, float(level),
                               float(level - loss[source]))


def landscape_mismatch(landscape: nx.MultiDiGraph, catalog) -> str | None:
    """Why a landscape graph is not that of ``catalog`` (a :class:`~critpoints.catalog.Catalog`
    or its document), or None when its nodes are the catalog's ids with the same losses
    (within 1e-12): a landscape computed before the catalog changed (entries added, irregular
    points renumbered) must not be used to read its transitions."""
    from critpoints.catalog import Catalog

    catalog = Catalog.of(catalog)
    ids, nodes = list(catalog.ids), list(landscape.nodes)
    if set(ids) != set(nodes):
        missing, extra = sorted(set(ids) - set(nodes)), sorted(set(nodes) - set(ids))
        return (f"its nodes are not the catalog's ids ({len(missing)} ids missing, e.g. "
                f"{missing[:3]}; {len(extra)} not in the catalog, e.g. {extra[:3]})")
    moved = [pid for pid, point in catalog.items()
             if abs(float(point["loss"]) - landscape.nodes[pid]["loss"]) > 1e-12]
    if moved:
        return f"{len(moved)} nodes have another loss than the catalog's (e.g. {moved[:3]})"
    return None


def landscape_connections(landscape: nx.MultiDiGraph, pairs: Iterable[tuple[str, str]]
                          ) -> dict[tuple[str, str], LandscapeConnection]:
    """:func:`landscape_connection` of every pair, the minimax pathways computed once."""
    pathways = _pathways_by_pair(landscape)
    return {(a, b): landscape_connection(landscape, a, b, pathways) for a, b in pairs}


@dataclass(frozen=True)
class MinimumTransition:
    """One run's passage from the minimum ``source`` to the minimum ``target``.

    Attributes
    ----------
    run : int
    source, target : str
        Consecutive minima among the run's identified plateaus.
    via : tuple of str
        The entries of the identified plateaus between them, in order (saddles; ``()`` for a
        direct jump).
    """

    run: int
    source: str
    target: str
    via: tuple[str, ...]


def minimum_transitions(histories, verdicts: dict[str, str]) -> list[MinimumTransition]:
    """The minimum-to-minimum transitions of a sweep (see the module docstring).

    Parameters
    ----------
    histories : list of RunHistory
    verdicts : dict
        Catalog id → verdict (``"minimum"``, ``"saddle"``, ...).

    Returns
    -------
    list of MinimumTransition
        In run order, then time order.
    """
    found = []
    for history in histories:
        visited = []  # identified entries, consecutive repeats merged
        for record in history.plateaus:
            if record.id is not None and (not visited or visited[-1] != record.id):
                visited.append(record.id)
        previous, between = None, []
        for entry in visited:
            if verdicts.get(entry) != "minimum":
                if previous is not None:
                    between.append(entry)
                continue
            if previous is not None and entry != previous:
                found.append(MinimumTransition(history.run, previous, entry, tuple(between)))
            previous, between = entry, []
    return found


def published_claim(G: nx.DiGraph, transitions: list[MinimumTransition],
                    connections: dict[tuple[str, str], LandscapeConnection] | None = None
                    ) -> dict:
    """The published claim tested on the minimum-to-minimum transitions (module docstring).

    Parameters
    ----------
    G : networkx.DiGraph
        The transition graph (nodes with ``loss``, ``learning_coefficient``, ``verdict``;
        edges A → B).
    transitions : list of MinimumTransition
    connections : dict, optional
        (A, B) → :class:`LandscapeConnection` of the tested pairs (their saddle is recorded).

    Returns
    -------
    dict
        ``claim``, ``verdict`` (true/false, null when untested), ``transitions_tested``,
        ``holds``, ``fails`` (pairs (A, B)), ``runs_tested`` (run transitions),
        ``tested`` (one record per pair), ``untested`` (pairs of minima without λ), and
        ``edges_untested``: the transition-graph edges that cannot test the claim, by reason.
    """
    nodes = G.nodes
    grouped: dict[tuple[str, str], list[MinimumTransition]] = defaultdict(list)
    for t in transitions:
        grouped[(t.source, t.target)].append(t)
    tested, untested = [], []
    for (a, b), events in grouped.items():
        lam_a, lam_b = nodes[a]["learning_coefficient"], nodes[b]["learning_coefficient"]
        record = {
            "source": a,
            "target": b,
            "count": len(events),
            "runs": sorted({t.run for t in events}),
            "via": sorted({" -> ".join(t.via) for t in events}),
            "loss_drop": nodes[a]["loss"] - nodes[b]["loss"],
        }
        connection = (connections or {}).get((a, b))
        record["landscape_saddle"] = None if connection is None else connection.saddle
        if lam_a is None or lam_b is None:
            untested.append(record)
            continue
        record["learning_coefficient_change"] = lam_b - lam_a
        record["holds"] = record["loss_drop"] > 0 and lam_b - lam_a > 0
        tested.append(record)
    edges_untested: dict[str, list[str]] = {"an end is not a minimum": [],
                                            "an end has no learning coefficient": []}
    for a, b in G.edges:
        if nodes[a].get("verdict") != "minimum" or nodes[b].get("verdict") != "minimum":
            edges_untested["an end is not a minimum"].append(f"{a} -> {b}")
        elif nodes[a]["learning_coefficient"] is None or nodes[b]["learning_coefficient"] is None:
            edges_untested["an end has no learning coefficient"].append(f"{a} -> {b}")
    holds = sum(r["holds"] for r in tested)
    return {
        "claim": CLAIM,
        "tested_on": "minimum-to-minimum transitions (consecutive minima of a run, through the "
                     "saddle plateaus between them)",
        "verdict": (holds == len(tested)) if tested else None,
        "transitions_tested": len(tested),
        "holds": holds,
        "fails": len(tested) - holds,
        "runs_tested": sum(r["count"] for r in tested),
        "tested": tested,
        "untested": untested,
        "edges_untested": edges_untested,
    }
