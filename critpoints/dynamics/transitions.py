"""From trajectories to plateau histories, and from histories to the transition graph.

A run's *history* is its list of plateaus (identified or not), the transitions between
consecutive identified plateaus whose catalog entries differ, its final state: the entry of
its last plateau when that plateau reaches the end of the run (otherwise the run is
*unsettled*), and its *unsettled tail*: the band cut by the end of the run that is long enough
to be a plateau but fails the trend test (its loss still falling,
:func:`critpoints.dynamics.plateaus.loss_trend`), kept apart from the plateaus and never
identified.

The transition step is the first checkpoint after the source plateau at which the population loss
is at or below the midpoint of the two plateau levels.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import networkx as nx
import numpy as np

from critpoints.catalog import Catalog
from critpoints.dynamics.landscape_paths import (
    landscape_connections,
    minimum_transitions,
    published_claim,
)
from critpoints.dynamics.plateaus import (
    CatalogMatcher,
    PlateauRule,
    detect_bands,
    identify,
    plateau_starts,
)
from critpoints.dynamics.sgd import Trajectory

__all__ = [
    "PlateauRecord",
    "RunHistory",
    "Transition",
    "UnsettledBand",
    "graph_summary",
    "run_histories",
    "transition_graph",
]


@dataclass
class PlateauRecord:
    """One plateau of one run, with what the identification found (``W``, ``b``: the
    representative, its last checkpoint)."""

    run: int
    start_step: int
    end_step: int
    loss: float
    id: str | None
    W: list
    b: list
    critical_W: list
    critical_b: list
    critical_loss: float
    grad_norm: float
    reason: str
    method: str = ""
    #: The checkpoint step the deciding search (or nearest-entry comparison) started from: the
    #: representative's (``end_step``) or an earlier checkpoint of the plateau.
    search_step: int | None = None


@dataclass
class Transition:
    """An observed jump between two identified plateaus of one run."""

    run: int
    source: str
    target: str
    step: int


@dataclass
class UnsettledBand:
    """A band long enough to be a plateau whose loss is still falling (it fails the trend test
    of :func:`critpoints.dynamics.plateaus.loss_trend`): not a plateau, not identified.

    Attributes
    ----------
    run, start_step, end_step : int
    loss : float
        Median population loss of the band.
    rate, rate_error : float
        The trend test's fitted dL/dt (per SGD step) and its standard error.
    at_end : bool
        The band reaches the run's last checkpoint (an unsettled tail, cut by the end of the
        run; every band failing the test is one under the current rule).
    """

    run: int
    start_step: int
    end_step: int
    loss: float
    rate: float
    rate_error: float
    at_end: bool


@dataclass
class RunHistory:
    run: int
    plateaus: list[PlateauRecord]
    transitions: list[Transition]
    final: str | None
    #: The SGD step at which the run's parameters became non-finite (a run dropped from the
    #: sweep with ``SweepConfig.drop_diverged``); None for a run that trained normally.
    diverged_at: int | None = None
    #: Bands that fail the trend test (still descending), in time order.
    unsettled: list[UnsettledBand] = field(default_factory=list)


def run_histories(
    trajectory: Trajectory, matcher: CatalogMatcher, rule: PlateauRule = PlateauRule()
) -> list[RunHistory]:
    """Detect and identify the plateaus of every run of a trajectory.

    The identification of all plateaus of all runs is one batched critical-point search.
    """
    steps = trajectory.steps
    K = steps.size
    found = []  # (row, plateau)
    unsettled = {row: [] for row in range(len(trajectory.runs))}
    for row, run in enumerate(trajectory.runs):
        for band in detect_bands(steps, trajectory.population_loss[row], rule):
            if band.settled:
                found.append((row, band))
            else:
                unsettled[row].append(UnsettledBand(
                    int(run), band.start_step, band.end_step, band.loss, band.rate,
                    band.rate_error, band.last == K - 1))
    # each plateau's starts (representative first), padded with its earliest to one length
    starts = [plateau_starts(p) for _, p in found]
    width = max((len(s) for s in starts), default=1)
    starts = [np.concatenate([s, np.repeat(s[-1:], width - len(s))]) for s in starts]
    W = np.array([trajectory.W[row, s] for (row, _), s in zip(found, starts)]).reshape(
        -1, width, *trajectory.W.shape[2:]
    )
    b = np.array([trajectory.b[row, s] for (row, _), s in zip(found, starts)]).reshape(
        -1, width, trajectory.b.shape[2]
    )
    identifications = identify(W, b, [p.loss for _, p in found], matcher)
    histories = []
    for row, run in enumerate(trajectory.runs):
        loss = trajectory.population_loss[row]
        records, spans = [], []
        for (r, plateau), ident, Wp, bp, start in zip(found, identifications, W, b, starts):
            if r != row:
                continue
            spans.append(plateau)
            records.append(
                PlateauRecord(
                    int(run),
                    plateau.start_step,
                    plateau.end_step,
                    plateau.loss,
                    ident.id,
                    Wp[0].tolist(),
                    bp[0].tolist(),
                    ident.W.tolist(),
                    ident.b.tolist(),
                    ident.loss,
                    ident.grad_norm,
                    ident.reason,
                    ident.method,
                    int(steps[start[ident.start]]),
                )
            )
        transitions = []
        previous = None  # (record, span) of the last identified plateau
        for record, span in zip(records, spans):
            if record.id is None:
                continue
            if previous is not None and previous[0].id != record.id:
                level = 0.5 * (previous[0].loss + record.loss)
                between = np.arange(previous[1].last + 1, span.first + 1)
                below = between[loss[between] <= level]
                step = int(steps[below[0]] if below.size else steps[span.first])
                transitions.append(Transition(int(run), previous[0].id, record.id, step))
            previous = (record, span)
        settled = bool(spans) and spans[-1].last == K - 1
        final = records[-1].id if settled else None
        histories.append(RunHistory(int(run), records, transitions, final,
                                    unsettled=unsettled[row]))
    return histories


def _learning_coefficient(point: dict):
    value = point.get("learning_coefficient")
    return None if value is None else float(value)


def transition_graph(histories: list[RunHistory], catalog: Catalog | dict,
                     attributes: dict, landscape: nx.MultiDiGraph | None = None) -> nx.DiGraph:
    """The transition graph of a sweep.

    Parameters
    ----------
    histories : list of RunHistory
        One per run, in run order.
    catalog : Catalog or dict
        The catalog whose entries the plateaus were matched to (a loaded document is taken as
        it is: :meth:`Catalog.of`).
    attributes : dict
        Graph attributes describing the sweep (protocol, initialisation, seed, rule, where the
        landscape graph came from, ...).
    landscape : networkx.MultiDiGraph, optional
        The catalog's landscape graph (:func:`critpoints.landscape.landscape_graph`); every
        edge is mapped onto it (:mod:`critpoints.dynamics.landscape_paths`). Without it the
        landscape fields are null.

    Returns
    -------
    networkx.DiGraph
        Nodes: every catalog entry (key ``id``) with ``label``, ``loss``,
        ``learning_coefficient`` (None when the catalog has none), ``classification``,
        ``verdict``, ``hessian_index``, ``final_runs`` (runs that ended there) and ``visits``
        (runs with a plateau there). Edges: observed transitions with ``count``, ``steps``,
        ``runs`` (sorted lists), ``loss_drop`` (source loss − target loss, from the catalog),
        ``learning_coefficient_change`` (target − source, None if either is unknown) and the
        landscape connection ``landscape_connection`` (its kind), ``landscape_path``,
        ``landscape_saddle``, ``landscape_barrier`` (from the source),
        ``explained_by_landscape``. Graph attributes: ``attributes`` plus ``runs``, the
        unidentified plateaus and their count, the unsettled tails and their count, the
        unsettled runs, the edges the landscape does not explain, the verdict on "every
        transition lowers the loss and raises the learning coefficient" over the edges with
        its exceptions, and ``published_claim``: that claim tested on the minimum-to-minimum
        transitions (:func:`critpoints.dynamics.landscape_paths.published_claim`).
    """
    catalog = Catalog.of(catalog)
    G = nx.DiGraph()
    final = defaultdict(int)
    visits = defaultdict(set)
    for history in histories:
        if history.final is not None:
            final[history.final] += 1
        for record in history.plateaus:
            if record.id is not None:
                visits[record.id].add(history.run)
    for pid, point in catalog.items():
        G.add_node(
            pid,
            label=point.get("label", pid),
            loss=float(point["loss"]),
            learning_coefficient=_learning_coefficient(point),
            classification=point.get("classification"),
            verdict=point.get("verdict", point.get("classification")),
            hessian_index=point.get("hessian_index"),
            final_runs=final[pid],
            visits=len(visits[pid]),
        )
    observed = defaultdict(list)
    for history in histories:
        for t in history.transitions:
            observed[(t.source, t.target)].append((t.step, t.run))
    order = {pid: i for i, pid in enumerate(catalog.ids)}
    pairs = sorted(observed, key=lambda e: (order[e[0]], order[e[1]]))
    verdicts = dict(G.nodes(data="verdict"))
    passages = minimum_transitions(histories, verdicts)
    passage_pairs = list(dict.fromkeys((t.source, t.target) for t in passages))
    connections = (landscape_connections(landscape, list(dict.fromkeys(pairs + passage_pairs)))
                   if landscape is not None else {})
    exceptions = []
    for (source, target) in pairs:
        events = sorted(observed[(source, target)])
        drop = G.nodes[source]["loss"] - G.nodes[target]["loss"]
        lam_s = G.nodes[source]["learning_coefficient"]
        lam_t = G.nodes[target]["learning_coefficient"]
        change = None if lam_s is None or lam_t is None else lam_t - lam_s
        G.add_edge(
            source,
            target,
            count=len(events),
            steps=[step for step, _ in events],
            runs=sorted({run for _, run in events}),
            loss_drop=drop,
            learning_coefficient_change=change,
            **_landscape_fields(connections.get((source, target))),
        )
        if drop <= 0:
            exceptions.append(f"{source} -> {target} raises the loss by {-drop:.6g}")
        if change is not None and change <= 0:
            exceptions.append(
                f"{source} -> {target} lowers the learning coefficient by {-change:g}"
            )
    unidentified = [
        asdict(record) for history in histories for record in history.plateaus if record.id is None
    ]
    unsettled = [asdict(band) for history in histories for band in history.unsettled]
    explained = [d for _, _, d in G.edges(data="explained_by_landscape")]
    G.graph.update(attributes)
    G.graph.update(
        runs=len(histories),
        runs_unsettled=[h.run for h in histories if h.final is None],
        plateaus=sum(len(h.plateaus) for h in histories),
        plateaus_identified_by_search=sum(
            r.method == "search" for h in histories for r in h.plateaus
        ),
        plateaus_identified_by_nearest_entry=sum(
            r.method == "nearest" for h in histories for r in h.plateaus
        ),
        unidentified_count=len(unidentified),
        unidentified=unidentified,
        unsettled_tails_count=sum(band["at_end"] for band in unsettled),
        unsettled_bands=unsettled,
        edges_explained_by_landscape=(sum(e is True for e in explained)
                                      if landscape is not None else None),
        edges_unexplained_by_landscape=[
            f"{s} -> {t}" for s, t, e in G.edges(data="explained_by_landscape") if e is False],
        edges_outside_landscape=[
            f"{s} -> {t}" for s, t, e in G.edges(data="explained_by_landscape")
            if e is None and landscape is not None],
        **_published_claim(G),
        exceptions=exceptions,
        published_claim=published_claim(G, passages, connections),
    )
    return G


def _landscape_fields(connection) -> dict:
    """The edge attributes of a :class:`~critpoints.dynamics.landscape_paths.LandscapeConnection`
    (all null without one)."""
    if connection is None:
        return {"landscape_connection": None, "landscape_path": None, "landscape_saddle": None,
                "landscape_barrier": None, "explained_by_landscape": None}
    return {
        "landscape_connection": connection.kind,
        "landscape_path": list(connection.path) if connection.kind is not None else None,
        "landscape_saddle": connection.saddle,
        "landscape_barrier": connection.barrier,
        "explained_by_landscape": connection.explained,
    }


def _published_claim(G: nx.DiGraph) -> dict:
    """"Every transition lowers the loss and raises λ", each half judged on the edges that can
    test it: a half tested on no edge is null ("untested"), never true."""
    changes = list(G.edges(data="learning_coefficient_change"))
    tested = [c for _, _, c in changes if c is not None]
    return {
        "every_edge_lowers_loss": (all(d > 0 for _, _, d in G.edges(data="loss_drop"))
                                   if G.number_of_edges() else None),
        "every_edge_raises_learning_coefficient": all(c > 0 for c in tested) if tested else None,
        "edges_tested_for_learning_coefficient": len(tested),
        "edges_without_learning_coefficient": [f"{s} -> {t}" for s, t, c in changes if c is None],
    }


def graph_summary(G: nx.DiGraph) -> str:
    """A plain-text summary: runs per final state, edges with counts and their landscape
    connection, the loss/λ verdict over the edges, and the published claim tested on the
    minimum-to-minimum transitions."""
    g = G.graph
    tails = g.get("unsettled_tails_count")
    lines = [
        f"runs: {g['runs']}  plateaus: {g['plateaus']} (identified by critical "
        f"point search {g['plateaus_identified_by_search']}, by nearest entry after a "
        f"stalled search {g['plateaus_identified_by_nearest_entry']}, unidentified "
        f"{g['unidentified_count']})  unsettled runs: {len(g['runs_unsettled'])}"
    ]
    if tails is not None:
        bands = g["unsettled_bands"]
        where = (f", L {min(b['loss'] for b in bands):.4f}-{max(b['loss'] for b in bands):.4f}"
                 if bands else "")
        lines.append(f"still descending (not plateaus): {tails} unsettled tails at the end of "
                     f"the run, {len(bands) - tails} bands before it{where}")
    lines.append("final critical point       runs   loss        lambda")
    for pid, data in sorted(G.nodes(data=True), key=lambda item: -item[1]["final_runs"]):
        if data["final_runs"]:
            lam = data["learning_coefficient"]
            lam = "-" if lam is None else f"{lam:g}"
            lines.append(f"  {pid:<24} {data['final_runs']:>5}   {data['loss']:.6f}    {lam}")
    lines.append("transitions                count  loss drop   lambda change  median step"
                 "  landscape (barrier from source)")
    mapped = g.get("edges_explained_by_landscape") is not None
    for s, t, data in G.edges(data=True):
        change = data["learning_coefficient_change"]
        change = "unknown" if change is None else f"{change:+g}"
        lines.append(
            f"  {s + ' -> ' + t:<24} {data['count']:>5}  {data['loss_drop']:+.6f}  {change:>13}"
            f"  {int(np.median(data['steps'])):>11}  {_connection_text(data, mapped)}"
        )
    if G.number_of_edges() == 0:
        lines.append("  (none)")
    if g.get("edges_explained_by_landscape") is not None:
        lines.append(f"edges explained by the landscape: {g['edges_explained_by_landscape']} of "
                     f"{G.number_of_edges()} ({len(g['edges_outside_landscape'])} with an end "
                     "outside it)")
    lowers = g["every_edge_lowers_loss"]
    lowers = "untested (no transitions)" if lowers is None else "yes" if lowers else "no"
    lines.append(f"every edge lowers the loss: {lowers}")
    unknown = g["edges_without_learning_coefficient"]
    claim = g["every_edge_raises_learning_coefficient"]
    tested = g.get("edges_tested_for_learning_coefficient", 0)
    if claim is None:
        verdict = f"untested (no edge has lambda at both ends; {len(unknown)} edges untested)"
    else:
        verdict = f"{'yes' if claim else 'no'} on {tested} tested edges ({len(unknown)} untested)"
    lines.append(f"every edge raises the learning coefficient: {verdict}")
    for exception in g["exceptions"]:
        lines.append(f"  exception: {exception}")
    if g.get("published_claim") is not None:
        lines.extend(claim_summary(g["published_claim"]))
    return "\n".join(lines)


def _connection_text(data: dict, mapped: bool) -> str:
    kind = data.get("landscape_connection")
    if kind is None:
        return "an end not in the landscape" if mapped else "-"
    if kind == "none":
        return "not joined"
    return f"{kind} via {data['landscape_saddle']} ({data['landscape_barrier']:+.6f})"


def claim_summary(claim: dict) -> list[str]:
    """The lines of the published claim's test (:func:`published_claim`)."""
    verdict = claim["verdict"]
    verdict = "untested" if verdict is None else "yes" if verdict else "no"
    lines = [
        f"published claim ({claim['claim']}), on minimum-to-minimum transitions: {verdict} — "
        f"{claim['transitions_tested']} tested ({claim['runs_tested']} run transitions), "
        f"{claim['holds']} hold, {claim['fails']} fail, {len(claim['untested'])} without lambda"
    ]
    for record in claim["tested"]:
        via = " | ".join(v or "direct" for v in record["via"])
        lines.append(
            f"  {record['source']} -> {record['target']}: {record['count']} runs via {via}; "
            f"loss drop {record['loss_drop']:+.6f}, lambda change "
            f"{record['learning_coefficient_change']:+g}: "
            f"{'holds' if record['holds'] else 'fails'} (landscape saddle "
            f"{record['landscape_saddle'] or 'none'})")
    for reason, edges in claim["edges_untested"].items():
        if edges:
            lines.append(f"  edges untested, {reason}: {len(edges)}")
    return lines
