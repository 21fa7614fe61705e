"""The transition graph: construction, files, sweeps, determinism and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from test_dynamics_catalog import build_catalog

from critpoints.catalog import Catalog, entry_id
from critpoints.cli import main
from critpoints.dynamics.sgd import SGDProtocol
from critpoints.dynamics.sweep import SweepConfig, sweep, sweep_graph
from critpoints.dynamics.transitions import PlateauRecord, RunHistory, Transition, transition_graph
from critpoints.store import write_catalog
from critpoints.transition_store import (
    graph_to_json_text,
    read_transition_graphml,
    read_transition_json,
    write_transition_graph,
)

CATALOG = build_catalog(6)
LOSS = {entry_id(p): p["loss"] for p in Catalog.from_document(CATALOG)}


def record(run, start, end, pid):
    return PlateauRecord(run, start, end, LOSS.get(pid, 0.2), pid if pid != "?" else None,
                         [[0.0] * 6] * 2, [0.0] * 6, [[0.0] * 6] * 2, [0.0] * 6, 0.2, 0.0,
                         "" if pid != "?" else "no catalog entry matches")


def synthetic_histories():
    return [
        RunHistory(0, [record(0, 0, 900, "4++"), record(0, 1000, 5000, "5+")],
                   [Transition(0, "4++", "5+", 950)], "5+"),
        RunHistory(1, [record(1, 0, 400, "4++"), record(1, 500, 800, "?"),
                       record(1, 900, 5000, "5+")], [Transition(1, "4++", "5+", 450)], "5+"),
        RunHistory(2, [record(2, 0, 5000, "6")], [], "6"),
        RunHistory(3, [record(3, 0, 3000, "5")], [], None),
    ]


def test_graph_counts_runs_edges_and_the_loss_lambda_verdict():
    G = transition_graph(synthetic_histories(), CATALOG, {"seed": 0})
    assert set(G.nodes) == set(LOSS)
    assert G.nodes["5+"]["final_runs"] == 2 and G.nodes["6"]["final_runs"] == 1
    assert G.graph["runs"] == 4 and G.graph["runs_unsettled"] == [3]
    assert G.graph["unidentified_count"] == 1
    edge = G.edges["4++", "5+"]
    assert edge["count"] == 2 and edge["steps"] == [450, 950] and edge["runs"] == [0, 1]
    assert edge["loss_drop"] == pytest.approx(LOSS["4++"] - LOSS["5+"])
    assert edge["learning_coefficient_change"] is None  # the 4-gons have no λ in this catalog
    assert G.graph["every_edge_lowers_loss"] is True
    assert G.graph["exceptions"] == []


def test_graph_round_trips_through_json_and_graphml(tmp_path):
    G = transition_graph(synthetic_histories(), CATALOG, {"seed": 0, "protocol": {"lr": 0.005}})
    json_path, graphml_path = write_transition_graph(G, tmp_path / "t.transitions.json")
    for H in (read_transition_json(json_path), read_transition_graphml(graphml_path)):
        assert set(H.nodes) == set(G.nodes) and set(H.edges) == set(G.edges)
        for u, v, data in G.edges(data=True):
            assert H.edges[u, v]["steps"] == data["steps"]
            assert H.edges[u, v]["count"] == data["count"]
        for node, data in G.nodes(data=True):
            assert H.nodes[node]["loss"] == data["loss"]
            assert H.nodes[node].get("learning_coefficient") == data["learning_coefficient"]
        assert H.graph["protocol"] == {"lr": 0.005}
        assert H.graph["unidentified"] == G.graph["unidentified"]
    # plain networkx reads the JSON with the documented keys
    with open(json_path) as handle:
        plain = nx.node_link_graph(json.load(handle), edges="edges")
    assert plain.edges["4++", "5+"]["count"] == 2
    # and rewriting the loaded graph gives the same bytes
    written = Path(json_path).read_text(encoding="utf-8")
    assert graph_to_json_text(read_transition_json(json_path)) == written


@pytest.mark.slow
def test_small_sweep_ends_at_the_low_loss_polygons_with_only_loss_decreasing_edges():
    config = SweepConfig(6, 24, 0, SGDProtocol(steps=60_000), "random", 0.5, CATALOG)
    histories = sweep(config, workers=2)
    G = sweep_graph(config, histories)
    finals = [h.final for h in histories if h.final is not None]
    # The paper (and seed 001): SGD from random starts settles at the 6-gon, 5 or 5+.
    low = [f for f in finals if f in ("6", "5", "5+")]
    assert len(low) >= 0.75 * len(histories)
    # a claim with no edge to test it is null ("untested"), never true
    assert G.graph["every_edge_lowers_loss"] is (True if G.number_of_edges() else None)
    assert all(d > 0 for _, _, d in G.edges(data="loss_drop"))


def small_config(runs=5):
    return SweepConfig(6, runs, 1, SGDProtocol(samples=200, batch=20, steps=4000), "4++", 0.02,
                       CATALOG)


def test_workers_do_not_change_the_graph_bytes():
    config = small_config()
    one = graph_to_json_text(sweep_graph(config, sweep(config, workers=1)))
    two = graph_to_json_text(sweep_graph(config, sweep(config, workers=2)))
    assert one == two


def test_dask_cluster_gives_the_same_graph():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    config = small_config(3)
    local = graph_to_json_text(sweep_graph(config, sweep(config, workers=1)))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = graph_to_json_text(
            sweep_graph(config, sweep(config, workers=2, scheduler=cluster.scheduler_address))
        )
    assert local == remote


@pytest.fixture
def catalog_file(tmp_path):
    path = tmp_path / "tms-n6-m2.json"
    write_catalog(path, CATALOG)
    return path


def cli(catalog_file, out, *extra):
    return main(["transitions", "--n", "6", "--runs", "4", "--steps", "3000", "--samples", "200",
                 "--catalog", str(catalog_file), "--out", str(out), "--init", "4++", "--quiet",
                 *extra])


def test_cli_writes_both_files_identically_for_one_or_two_workers(catalog_file, tmp_path, capsys):
    assert cli(catalog_file, tmp_path / "a.json", "--workers", "1") == 0
    assert cli(catalog_file, tmp_path / "b.json", "--workers", "2") == 0
    out = capsys.readouterr().out
    assert "every edge lowers the loss" in out and "final critical point" in out
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a.graphml").read_bytes() == (tmp_path / "b.graphml").read_bytes()
    assert read_transition_graphml(tmp_path / "a.graphml").graph["runs"] == 4


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lr", "-1"], "--lr"),
        (["--runs", "0"], "--runs"),
        (["--batch", "500"], "--batch"),
        (["--init", "17-gon"], "--init"),
        (["--catalog", "/nonexistent/c.json"], "cannot read"),
    ],
)
def test_cli_bad_arguments_exit_2_and_leave_existing_output(catalog_file, tmp_path, capsys,
                                                            extra, message):
    out = tmp_path / "keep.json"
    out.write_text("previous\n")
    assert cli(catalog_file, out, *extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == "previous\n"


def test_unidentified_records_keep_their_parameters():
    G = transition_graph(synthetic_histories(), CATALOG, {})
    (u,) = G.graph["unidentified"]
    assert u["run"] == 1 and np.shape(u["W"]) == (2, 6) and u["reason"]


def test_sweep_start_and_default_paths_are_library_rules():
    from critpoints.dynamics.sweep import (
        CATALOG_START_NOISE,
        PAPER_START_LABEL,
        default_init_scale,
        resolve_init,
    )
    from critpoints.transition_store import default_graph_path

    def document(points):
        return {"model": {"kind": "tms-high-sparsity", "n": 6, "m": 2}, "critical_points": points}

    catalog = document([{"id": "a", "label": "x"}, {"id": "b", "label": PAPER_START_LABEL}])
    assert resolve_init("4-gon", catalog) == "b"  # the first entry with the paper's label
    assert resolve_init("a", catalog) == "a" and resolve_init("random", catalog) == "random"
    assert resolve_init("zz", catalog) is None
    assert resolve_init("4-gon", document([])) is None
    # Xavier for a 6 → 2 layer: sqrt(2 / (6 + 2)) = 0.5.
    assert default_init_scale(6, "random") == 0.5
    assert default_init_scale(6, "b") == CATALOG_START_NOISE
    assert default_graph_path(None, 6) == "catalog/tms-n6-m2.transitions.json"
    assert default_graph_path("x/c.json", 6, random=True) == "x/c.transitions-random.json"


def test_cli_maps_the_edges_onto_the_landscape_beside_the_catalog_or_computes_it(
        catalog_file, tmp_path, capsys):
    from critpoints.cli.landscape import write_landscape_of
    from critpoints.landscape_store import default_landscape_path

    # no landscape file beside the catalog: computed, and said so
    assert cli(catalog_file, tmp_path / "a.json") == 0
    source = read_transition_json(tmp_path / "a.json").graph["landscape"]
    assert source["source"] == "computed" and "no tms-n6-m2.landscape.json" in source["reason"]
    # the file beside the catalog, written by `landscape`: read
    landscape_path = default_landscape_path(catalog_file, 6)
    write_landscape_of(CATALOG, catalog_file, 6, 0, landscape_path, quiet=True)
    assert cli(catalog_file, tmp_path / "b.json") == 0
    G = read_transition_json(tmp_path / "b.json")
    assert G.graph["landscape"] == {"source": "file", "file": "tms-n6-m2.landscape.json",
                                    "command": "python -m critpoints landscape --n 6 --seed 0"}
    # the same graph either way (only the attribute naming the source differs)
    A = read_transition_json(tmp_path / "a.json")
    assert list(A.edges(data=True)) == list(G.edges(data=True))
    assert all(d["landscape_connection"] is not None for _, _, d in G.edges(data=True))
    # a landscape of another catalog (an entry renumbered) is not used
    doc = json.loads(Path(landscape_path).read_text())
    doc["nodes"][0]["id"] = "renamed"
    Path(landscape_path).write_text(json.dumps(doc))
    capsys.readouterr()
    assert cli(catalog_file, tmp_path / "c.json") == 0
    reason = read_transition_json(tmp_path / "c.json").graph["landscape"]["reason"]
    assert "not the catalog's landscape" in reason and "renamed" in reason
    assert "computing the landscape graph" not in capsys.readouterr().err  # --quiet
    assert cli(catalog_file, tmp_path / "d.json", "--landscape", landscape_path) == 2
    assert "is not the landscape of" in capsys.readouterr().err


def test_graph_without_a_landscape_has_null_connections_and_the_claim_on_minima():
    G = transition_graph(synthetic_histories(), CATALOG, {"seed": 0})
    edge = G.edges["4++", "5+"]
    assert edge["explained_by_landscape"] is None and edge["landscape_path"] is None
    assert G.graph["edges_explained_by_landscape"] is None
    # the synthetic catalog's verdicts are all "undecided": no minimum, nothing to test
    claim = G.graph["published_claim"]
    assert claim["verdict"] is None and claim["edges_untested"]["an end is not a minimum"] == [
        "4++ -> 5+"]
    # with 4++ and 5+ minima: 4++ -> 5+ joins two minima, but 4++ has no λ here: untested
    decided = dict(CATALOG, critical_points=[
        dict(p, verdict="minimum") if p["id"] in ("4++", "5+") else p
        for p in CATALOG["critical_points"]])
    claim = transition_graph(synthetic_histories(), decided, {}).graph["published_claim"]
    assert claim["verdict"] is None and claim["transitions_tested"] == 0
    assert [(r["source"], r["target"], r["count"]) for r in claim["untested"]] == [
        ("4++", "5+", 2)]
