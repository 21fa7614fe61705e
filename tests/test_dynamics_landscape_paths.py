"""Transitions read on the landscape graph, and the published claim on minimum-to-minimum
transitions."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.catalog import Catalog
from critpoints.dynamics.landscape_paths import (
    MinimumTransition,
    landscape_connection,
    landscape_mismatch,
    minimum_transitions,
    published_claim,
)
from critpoints.dynamics.transitions import PlateauRecord, RunHistory
from critpoints.landscape_store import read_landscape_json

ROOT = Path(__file__).resolve().parents[1]


def toy_landscape() -> nx.MultiDiGraph:
    """Minima a (0.10), b (0.05), c (0.02), d (0.30, joined to nothing); index-1 saddles
    s (0.20: a, b), t (0.25: b, c); an index-2 saddle u (0.40) descending to s and to d."""
    G = nx.MultiDiGraph()
    for node, loss, verdict in (("a", 0.10, "minimum"), ("b", 0.05, "minimum"),
                                ("c", 0.02, "minimum"), ("d", 0.30, "minimum"),
                                ("s", 0.20, "saddle"), ("t", 0.25, "saddle"),
                                ("u", 0.40, "saddle")):
        G.add_node(node, loss=loss, verdict=verdict)
    for saddle, end, ts in (("s", "a", True), ("s", "b", True), ("t", "b", True),
                            ("t", "c", True), ("u", "s", False), ("u", "d", False)):
        G.add_edge(saddle, end, transition_state=ts,
                   end_is_minimum=G.nodes[end]["verdict"] == "minimum")
    return G


@pytest.mark.parametrize("source, target, kind, path, saddle, barrier", [
    ("a", "b", "saddle", ("a", "s", "b"), "s", 0.10),
    ("b", "a", "saddle", ("b", "s", "a"), "s", 0.15),
    ("s", "b", "descent", ("s", "b"), "s", 0.0),
    ("a", "s", "ascent", ("a", "s"), "s", 0.10),
    ("u", "a", "descent", ("u", "s", "a"), "u", 0.0),  # through the lower saddle s
    ("a", "c", "pathway", ("a", "s", "b", "t", "c"), "t", 0.15),  # minimax through b
    ("s", "d", "saddle", ("s", "u", "d"), "u", 0.20),
    ("a", "d", "saddle", ("a", "s", "u", "d"), "u", 0.30),
    ("c", "d", "none", (), None, None),
])
def test_connections_of_a_toy_landscape(source, target, kind, path, saddle, barrier):
    c = landscape_connection(toy_landscape(), source, target)
    assert (c.kind, c.path, c.saddle) == (kind, path, saddle)
    assert c.barrier == (None if barrier is None else pytest.approx(barrier))
    assert c.explained is (kind != "none")


def test_an_end_outside_the_landscape_leaves_the_question_open():
    c = landscape_connection(toy_landscape(), "a", "x")
    assert c.kind is None and c.explained is None and c.path == ()


@settings(max_examples=30, deadline=None)
@given(pair=st.tuples(st.sampled_from("abcdstu"), st.sampled_from("abcdstu")))
def test_a_connection_is_a_path_of_the_graph_whose_top_is_its_level(pair):
    G = toy_landscape()
    source, target = pair
    if source == target:
        return
    c = landscape_connection(G, source, target)
    reverse = landscape_connection(G, target, source)
    assert c.explained == reverse.explained and c.level == reverse.level  # symmetric levels
    if not c.explained:
        return
    assert c.path[0] == source and c.path[-1] == target
    U = G.to_undirected()
    assert all(U.has_edge(u, v) for u, v in zip(c.path, c.path[1:]))
    assert c.level == max(G.nodes[v]["loss"] for v in c.path)
    assert c.barrier == pytest.approx(c.level - G.nodes[source]["loss"])


def plateau(run, pid):
    return PlateauRecord(run, 0, 1, 0.1, pid, [], [], [], [], 0.1, 0.0, "")


def test_minimum_transitions_pass_through_saddle_plateaus():
    verdicts = {"a": "minimum", "b": "minimum", "c": "minimum", "s": "saddle", "t": "saddle"}
    histories = [
        RunHistory(0, [plateau(0, "s"), plateau(0, "a"), plateau(0, "s"), plateau(0, None),
                       plateau(0, "b")], [], "b"),
        RunHistory(1, [plateau(1, "a"), plateau(1, "b"), plateau(1, "t"), plateau(1, "c")],
                   [], "c"),
        RunHistory(2, [plateau(2, "a"), plateau(2, "a"), plateau(2, "s")], [], None),
    ]
    assert minimum_transitions(histories, verdicts) == [
        MinimumTransition(0, "a", "b", ("s",)),
        MinimumTransition(1, "a", "b", ()),
        MinimumTransition(1, "b", "c", ("t",)),
    ]


def claim_graph(lambdas: dict) -> nx.DiGraph:
    G = nx.DiGraph()
    for node, loss, verdict in (("a", 0.10, "minimum"), ("b", 0.05, "minimum"),
                                ("c", 0.02, "minimum"), ("s", 0.20, "saddle")):
        G.add_node(node, loss=loss, verdict=verdict, learning_coefficient=lambdas.get(node))
    G.add_edges_from([("a", "s"), ("s", "b"), ("b", "c")])
    return G


def test_a_claim_with_nothing_to_test_is_untested_never_yes():
    G = claim_graph({})  # no λ anywhere
    claim = published_claim(G, [MinimumTransition(0, "a", "b", ("s",))])
    assert claim["verdict"] is None and claim["transitions_tested"] == 0
    assert len(claim["untested"]) == 1
    assert claim["edges_untested"] == {"an end is not a minimum": ["a -> s", "s -> b"],
                                       "an end has no learning coefficient": ["b -> c"]}
    assert published_claim(G, [])["verdict"] is None


def test_the_claim_counts_holds_and_fails_per_pair_of_minima():
    G = claim_graph({"a": 7.0, "b": 8.0, "c": 8.0})
    runs = [MinimumTransition(0, "a", "b", ("s",)), MinimumTransition(1, "a", "b", ()),
            MinimumTransition(1, "b", "c", ())]
    claim = published_claim(G, runs)
    assert (claim["verdict"], claim["transitions_tested"], claim["holds"], claim["fails"],
            claim["runs_tested"]) == (False, 2, 1, 1, 3)
    ab, bc = claim["tested"]
    assert ab["holds"] and ab["via"] == ["", "s"] and ab["runs"] == [0, 1]
    assert not bc["holds"] and bc["learning_coefficient_change"] == 0  # λ not raised


def test_the_committed_n6_landscape_joins_the_observed_min_to_min_transition():
    # 4+ -> 5 (4-gon sweep): the landscape joins them through one index-1 saddle that descends
    # to both; its level is that saddle's catalogued loss and the barrier is measured from
    # L(4+) = 5/48 exactly (the rational certificate of docs/proofs.md).
    G = read_landscape_json(ROOT / "catalog" / "tms-n6-m2.landscape.json")
    catalog = Catalog.load(ROOT / "catalog" / "tms-n6-m2.json")
    assert landscape_mismatch(G, catalog) is None, "regenerate the landscape with the catalog"
    c = landscape_connection(G, "4+", "5")
    assert c.kind == "saddle" and (c.path[0], c.path[-1]) == ("4+", "5")
    assert G.nodes[c.saddle]["hessian_index"] == 1
    assert c.level == catalog.entry(c.saddle)["loss"]
    assert c.barrier == pytest.approx(c.level - 5 / 48, abs=1e-12) and c.barrier > 0


def test_a_landscape_of_another_catalog_is_refused():
    G = toy_landscape()
    catalog = Catalog.load(ROOT / "catalog" / "tms-n6-m2.json")
    assert "not the catalog's ids" in landscape_mismatch(G, catalog)


@pytest.mark.parametrize(
    "graph_file", sorted((ROOT / "catalog").glob("tms-n*-m2.transitions*.json")),
    ids=lambda p: p.name)
def test_committed_transition_graphs_are_read_on_the_committed_landscape(graph_file):
    """After the landscape file changes (a census), the sweeps must be re-run: each edge's
    connection is the one the committed landscape gives."""
    from critpoints.dynamics.landscape_paths import landscape_connections
    from critpoints.transition_store import read_transition_json

    G = read_transition_json(graph_file)
    source = G.graph.get("landscape")
    # the committed sweeps are read on the committed landscape file, never a recomputed one
    assert source is not None and source["source"] == "file", source
    L = read_landscape_json(graph_file.parent / source["file"])
    for (a, b), c in landscape_connections(L, G.edges).items():
        edge = G.edges[a, b]
        assert (edge["landscape_connection"], edge["landscape_saddle"]) == (c.kind, c.saddle)
        assert edge["landscape_path"] == (list(c.path) if c.kind is not None else None)
        assert edge["landscape_barrier"] == c.barrier
