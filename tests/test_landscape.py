"""The landscape graph: steepest descent, minimax pathways, disconnectivity, the files."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from critpoints.catalog import Catalog
from critpoints.cli import main
from critpoints.documents import DocumentError
from critpoints.landscape import (
    descent_valleys,
    disconnectivity,
    landscape_graph,
    minimum_pathways,
    steepest_descent,
)
from critpoints.landscape_store import (
    landscape_to_json_text,
    read_landscape_graphml,
    read_landscape_json,
    write_landscape,
)
from critpoints.potential import Potential, SmoothPotential

ROOT = Path(__file__).resolve().parents[1]
N6 = ROOT / "catalog" / "tms-n6-m2.landscape.json"


class TiltedDoubleWell(SmoothPotential):
    """L(x, y) = (x² − 1)² + a·x + y²: two minima on the x axis, a saddle between them."""

    dim = 2

    def __init__(self, tilt: float):
        self.tilt = tilt

    def flatten(self, theta):
        return np.asarray(theta)

    def unflatten(self, theta):
        return (np.asarray(theta),)

    def loss(self, theta, dps=None):
        x, y = np.moveaxis(np.asarray(theta, dtype=float), -1, 0)
        return (x**2 - 1) ** 2 + self.tilt * x + y**2

    def loss_and_gradient(self, theta, dps=None):
        theta = np.asarray(theta, dtype=float)
        x, y = np.moveaxis(theta, -1, 0)
        gradient = np.stack([4 * x * (x**2 - 1) + self.tilt, 2 * y], axis=-1)
        return self.loss(theta), gradient

    def hessian(self, theta, dps=None, side=None):
        x = np.asarray(theta, dtype=float)[..., 0]
        H = np.zeros(np.shape(x) + (2, 2))
        H[..., 0, 0] = 12 * x**2 - 4
        H[..., 1, 1] = 2.0
        return H

    def orbit_tangents(self, theta):
        return np.zeros((0, 2))


def test_the_double_well_is_a_potential():
    assert isinstance(TiltedDoubleWell(0.3), Potential)


@pytest.mark.parametrize("tilt", [0.0, 0.3])
def test_descent_from_the_saddle_reaches_both_minima_with_the_right_barriers(tilt):
    well = TiltedDoubleWell(tilt)
    # Independent: the critical points are the real roots of ∂L/∂x = 4x³ − 4x + a (numpy's
    # companion-matrix roots), the saddle the middle one.
    left, saddle, right = np.sort(np.roots([4.0, 0.0, -4.0, tilt]).real)
    level = float(well.loss([saddle, 0.0]))
    starts = [[saddle + 1e-3, 0.02], [saddle - 1e-3, -0.02]]
    paths = steepest_descent(well, starts)
    assert paths.converged.all() and paths.flow_converged.all()
    np.testing.assert_allclose(paths.theta, [[right, 0.0], [left, 0.0]], atol=1e-10)
    barriers = level - paths.loss
    expected = [level - well.loss([right, 0.0]), level - well.loss([left, 0.0])]
    np.testing.assert_allclose(barriers, expected, rtol=1e-12)
    # Descent only goes down: the highest loss on a path is its start's.
    np.testing.assert_allclose(paths.max_loss, well.loss(np.array(starts)), rtol=0, atol=0)
    assert (paths.steps > 0).all()


def test_one_start_is_the_same_alone_and_in_a_batch():
    well = TiltedDoubleWell(0.3)
    batch = steepest_descent(well, [[0.2, 0.5], [-0.4, 0.1], [1.5, -1.0]])
    alone = steepest_descent(well, [-0.4, 0.1])
    assert alone.theta.shape == (2,)
    np.testing.assert_array_equal(batch.theta[1], alone.theta)
    assert batch.steps[1] == alone.steps


class _InOrder:
    """An executor that runs the jobs here, in order (chunking without processes)."""

    def map(self, function, jobs):
        return [function(job) for job in jobs]


def test_descents_shared_among_workers_are_the_same_to_the_bit():
    """Chunked (an executor, or two processes) and in one batch: every field of every path the
    same bits, on the TMS potential (the compiled evaluators work row by row)."""
    from critpoints.tms.model import TMSPotential

    potential = TMSPotential(4, 2)
    starts = np.random.default_rng(3).normal(scale=0.5, size=(37, potential.dim))
    whole = steepest_descent(potential, starts, max_steps=400)
    for shared in (steepest_descent(potential, starts, max_steps=400, executor=_InOrder()),
                   steepest_descent(potential, starts, max_steps=400, workers=2)):
        for name in ("theta", "loss", "grad_norm", "converged", "flow_converged", "start_loss",
                     "max_loss", "steps"):
            np.testing.assert_array_equal(getattr(shared, name), getattr(whole, name), name)
        assert shared.finish_iterations == whole.finish_iterations
    assert whole.steps.min() < whole.steps.max()  # paths of different lengths were mixed


# ----------------------------------------------------------------------------------------------
# Every way down from a non-smooth saddle


class ThreeValleys:
    """L(θ) = ¾|θ|² + ¼|θ|⁴ − Σ_i ReLU(u_i·θ)², θ ∈ R², u_i unit vectors 120° apart.

    C¹ but not C² on the lines u_i·θ = 0 (as the TMS loss on its activation boundaries). At the
    origin (a critical point, L = 0) the quotient is q(v) = L(tv)/t² = ¾ − Σ_i ReLU(u_i·v)² +
    t²/4, worked out by hand: −¼ + t²/4 at each u_i, a local minimum on the circle (the other
    two terms vanish within 30° of u_i), and +¼ at −u_i (two terms of ¼). So the origin is a
    saddle with three valleys, u_1, u_2, u_3, none the opposite of another, and L rises along
    −u_i. Along u_i, L = r⁴/4 − r²/4: a minimum at r = 1/√2 with L = −1/16 (the other terms
    stay 0 near it, and the Hessian there, 2·I + 2θθᵀ − 2u_iu_iᵀ + … is positive).
    """

    dim = 2
    angles = np.deg2rad([10.0, 130.0, 250.0])

    def __init__(self):
        self.u = np.stack([np.cos(self.angles), np.sin(self.angles)], axis=1)

    def flatten(self, W, b=()):
        return np.asarray(W, dtype=float).reshape(-1)

    def unflatten(self, theta):
        theta = np.asarray(theta, dtype=float)
        return theta.reshape(theta.shape[:-1] + (1, 2)), np.zeros(theta.shape[:-1] + (0,))

    def loss(self, theta, dps=None):
        theta = np.asarray(theta, dtype=float)
        r2 = (theta**2).sum(-1)
        return 0.75 * r2 + 0.25 * r2**2 - (np.maximum(theta @ self.u.T, 0) ** 2).sum(-1)

    def loss_and_gradient(self, theta, dps=None):
        theta = np.asarray(theta, dtype=float)
        r2 = (theta**2).sum(-1)[..., None]
        active = np.maximum(theta @ self.u.T, 0)
        return self.loss(theta), 1.5 * theta + r2 * theta - 2 * active @ self.u

    def hessian(self, theta, dps=None, side=None):
        theta = np.asarray(theta, dtype=float)
        on = (theta @ self.u.T > 0).astype(float)
        r2 = (theta**2).sum(-1)[..., None, None]
        return ((1.5 + r2) * np.eye(2) + 2 * theta[..., :, None] * theta[..., None, :]
                - 2 * np.einsum("...i,ia,ib->...ab", on, self.u, self.u))

    def orbit_tangents(self, theta):
        return np.zeros((0, 2))

    def flat_coordinates(self, theta):
        return []


def test_the_three_valleys_of_a_kink_saddle_are_found():
    well = ThreeValleys()
    found = descent_valleys(well, [0.0, 0.0], seed=0)
    assert len(found.directions) == found.distinct == 3
    # each valley is one u_i (to the minimisation's accuracy), each u_i is found once
    cosines = found.directions @ well.u.T
    assert sorted(cosines.argmax(axis=1).tolist()) == [0, 1, 2]
    assert cosines.max(axis=1).min() > 1 - 1e-8
    t = 1e-3  # q(u_i) = −1/4 + t²/4 (class docstring)
    np.testing.assert_allclose(found.quotients, -0.25 + t**2 / 4, rtol=1e-9)
    # u_1 is the catalog's stored direction: excluded, the other two remain
    rest = descent_valleys(well, [0.0, 0.0], seed=0, exclude=[well.u[0]])
    assert sorted((rest.directions @ well.u.T).argmax(axis=1).tolist()) == [1, 2]


def test_valley_search_is_deterministic():
    well = ThreeValleys()
    a = descent_valleys(well, [0.0, 0.0], seed=3)
    b = descent_valleys(well, [0.0, 0.0], seed=3)
    np.testing.assert_array_equal(a.directions, b.directions)
    np.testing.assert_array_equal(a.quotients, b.quotients)


def _three_valley_catalog() -> dict:
    """The origin of :class:`ThreeValleys` as a non-smooth saddle whose stored descent is u_1,
    and its three minima (u_i/√2, L = −1/16)."""
    well = ThreeValleys()

    def entry(pid, theta, loss, verdict, **extra):
        return {"id": pid, "label": pid, "W": [list(theta)], "b": [], "loss": loss,
                "classification": "non-smooth" if verdict == "saddle" else "minimum",
                "verdict": verdict, "hessian_index": None if verdict == "saddle" else 0,
                "hessian": {"n_neg": 0}, "learning_coefficient": None, **extra}

    stored = {"descent": {"direction": list(well.u[0]), "confirmed": True}}
    points = [entry("o", [0.0, 0.0], 0.0, "saddle", evidence=stored)]
    points += [entry(f"m{i + 1}", well.u[i] / np.sqrt(2), -1 / 16, "minimum") for i in range(3)]
    return {"model": {"kind": "hand-made", "n": 1, "m": 2}, "critical_points": points}


def _nearest_minimum(W, b, loss):
    well = ThreeValleys()
    distances = np.linalg.norm(well.u / np.sqrt(2) - np.ravel(W), axis=1)
    i = int(distances.argmin())
    return (f"m{i + 1}", float(distances[i])) if distances[i] < 1e-6 else (None, distances[i])


def test_landscape_follows_every_valley_of_a_non_smooth_saddle():
    catalog = _three_valley_catalog()
    G = landscape_graph(catalog, ThreeValleys(), matcher=_nearest_minimum)
    edges = sorted((v, d["direction_source"], d["side"]) for _, v, d in G.out_edges("o",
                                                                                   data=True))
    # the stored direction (u_1) reaches m1; its opposite rises (q = +1/4); the two other
    # valleys reach m2 and m3
    assert edges == [("m1", "stored-descent", "+"), ("m2", "sphere-valley", "+"),
                     ("m3", "sphere-valley", "+")]
    assert [(f["direction_source"], f["side"]) for f in G.graph["sides_without_descent"]] == [
        ("stored-descent", "-")]
    for _, _, d in G.out_edges("o", data=True):
        assert d["barrier"] == 1 / 16 and d["transition_state"]
    (search,) = G.graph["valley_searches"]
    assert (search["saddle"], search["distinct"], search["followed"]) == ("o", 2, 2)
    assert G.graph["settings"]["sphere_valleys"]["cap"] == 12
    # without the valley search only the stored direction is followed
    alone = landscape_graph(catalog, ThreeValleys(), matcher=_nearest_minimum,
                            sphere_valleys=False)
    assert [v for _, v in alone.out_edges("o")] == ["m1"]
    assert alone.graph["settings"]["sphere_valleys"] is None


def test_landscape_with_valleys_is_the_same_on_a_rerun():
    catalog = _three_valley_catalog()
    runs = [landscape_graph(catalog, ThreeValleys(), matcher=_nearest_minimum, seed=5)
            for _ in range(2)]
    first, second = (list(G.edges(keys=True, data=True)) for G in runs)
    assert first == second
    assert runs[0].graph == runs[1].graph


def test_n6_saddle_4pp_m_descends_to_5_and_4pp():
    # 4++- (L = 0.152778, non-smooth): its stored descent reaches 5; the valley search finds
    # three more valleys (measured: q = −0.004193 near the stored direction, and a symmetric
    # pair at q = −0.002615; 2048 samples, and radius 1e-2, find the same four directions),
    # the pair reaching 4++. The graph is built on the minima and 4++- only (fast).
    from critpoints.catalog import Catalog

    document = Catalog.builtin(6).to_json()
    document["critical_points"] = [e for e in document["critical_points"]
                                   if e["verdict"] == "minimum" or e["id"] == "4++-"]
    G = landscape_graph(document)
    ends = sorted((d["direction_source"], v) for _, v, d in G.out_edges("4++-", data=True))
    assert ends == [("sphere-valley", "4++"), ("sphere-valley", "4++"),
                    ("sphere-valley", "5"), ("stored-descent", "5")]
    (search,) = G.graph["valley_searches"]
    assert search["quotients"] == [-0.004193, -0.002615, -0.002615]


# ----------------------------------------------------------------------------------------------
# Pathways and disconnectivity of a hand-made graph


def _hand_made() -> nx.MultiDiGraph:
    """Minima A(0), B(1), C(0.5), D(2), E(1.5); saddles s1 (3): A, B; s2 (2.5): B, C;
    s3 (5): C, D; s4 (4): A, C; x (6, index 2): A, D — not a transition state."""
    G = nx.MultiDiGraph()
    for name, loss in {"A": 0.0, "B": 1.0, "C": 0.5, "D": 2.0, "E": 1.5}.items():
        G.add_node(name, loss=loss, verdict="minimum", classification="minimum",
                   hessian_index=0)
    for name, loss, index, ends in [("s1", 3.0, 1, "AB"), ("s2", 2.5, 1, "BC"),
                                    ("s3", 5.0, None, "CD"), ("s4", 4.0, 1, "AC"),
                                    ("x", 6.0, 2, "AD")]:
        G.add_node(name, loss=loss, verdict="saddle",
                   classification="non-smooth" if index is None else "saddle",
                   hessian_index=index)
        for side, end in zip("+-", ends):
            G.add_edge(name, end, key=f"d0{side}", side=side, end_is_minimum=True,
                       transition_state=index in (1, None), barrier=loss - G.nodes[end]["loss"])
    return G


def test_minimax_pathways_of_a_hand_made_graph():
    found = {(p.source, p.target): p for p in minimum_pathways(_hand_made())}
    # A–C: via s4 the barrier would be 4, via s1 then s2 it is 3 (worked out by hand).
    assert found["A", "C"].path == ("A", "s1", "B", "s2", "C")
    assert (found["A", "C"].saddle, found["A", "C"].level) == ("s1", 3.0)
    assert found["A", "C"].barrier_from_source == 3.0
    assert found["A", "C"].barrier_from_target == 2.5
    assert found["B", "C"].level == 2.5 and found["B", "C"].path == ("B", "s2", "C")
    assert found["A", "D"].level == 5.0  # not 6: x has index 2
    assert not any("E" in pair for pair in found)
    assert len(found) == 6  # every pair of {A, B, C, D}


def test_disconnectivity_of_a_hand_made_graph():
    tree = disconnectivity(_hand_made())
    leaves = [b for b in tree.basins if b.is_leaf]
    assert [b.minima for b in leaves] == [("A",), ("B",), ("C",), ("D",), ("E",)]
    inner = [b for b in tree.basins if not b.is_leaf]
    assert [(b.level, b.minima, b.saddles) for b in inner] == [
        (2.5, ("B", "C"), ("s2",)), (3.0, ("A", "B", "C"), ("s1",)),
        (5.0, ("A", "B", "C", "D"), ("s3",))]
    assert sorted(tree.basins[r].minima for r in tree.roots) == [("A", "B", "C", "D"), ("E",)]
    assert tree.basin_of("A", 2.9) == ("A",)
    assert tree.basin_of("A", 3.0) == ("A", "B", "C")
    assert tree.basin_of("E", 100.0) == ("E",)


def test_disconnectivity_on_coarse_levels_joins_at_the_level_above():
    # Levels 3.2 and 4.5 (as pele's nlevels): s2 (2.5) and s1 (3) both join at 3.2, in one
    # node of three children; s3 (5) is above the top level, so D joins nothing.
    tree = disconnectivity(_hand_made(), levels=[4.5, 3.2])
    inner = [b for b in tree.basins if not b.is_leaf]
    assert [(b.level, b.minima, len(b.children)) for b in inner] == [(3.2, ("A", "B", "C"), 3)]
    assert len(tree.roots) == 3


# ----------------------------------------------------------------------------------------------
# The committed files


@pytest.fixture(scope="module")
def committed6() -> nx.MultiDiGraph:
    return read_landscape_json(N6)


def test_committed_file_round_trips(committed6, tmp_path):
    assert landscape_to_json_text(committed6) == N6.read_text(encoding="utf-8")
    json_path, graphml_path = write_landscape(committed6, tmp_path / "l.json")
    assert Path(json_path).read_bytes() == N6.read_bytes()
    assert Path(graphml_path).read_bytes() == N6.with_suffix(".graphml").read_bytes()
    back = read_landscape_graphml(N6.with_suffix(".graphml"))
    assert dict(back.nodes(data=True)) == dict(committed6.nodes(data=True))
    assert list(back.edges(keys=True, data=True)) == list(committed6.edges(keys=True, data=True))
    assert back.graph == committed6.graph


def test_committed_files_read_with_plain_networkx(committed6):
    document = json.loads(N6.read_text(encoding="utf-8"))
    assert (document["schema_name"], document["schema_version"]) == ("critpoints.landscape", 1)
    G = nx.node_link_graph(document, edges="edges", nodes="nodes", source="source",
                           target="target", name="id", key="key")
    assert isinstance(G, nx.MultiDiGraph)
    assert sorted(G.edges(keys=True)) == sorted(committed6.edges(keys=True))
    raw = nx.read_graphml(N6.with_suffix(".graphml"))
    assert raw.graph["schema_name"] == "critpoints.landscape"
    assert sorted(raw.edges(keys=True)) == sorted(committed6.edges(keys=True))


def test_committed_n6_file_is_current(committed6):
    from critpoints.catalog import Catalog

    settings = committed6.graph["settings"]
    # A file written before the valley search existed (no settings["sphere_valleys"]) is
    # compared with a graph built without it.
    valleys = settings.get("sphere_valleys")
    options = None if valleys is None else {k: v for k, v in valleys.items() if k != "seed_rule"}
    G = landscape_graph(Catalog.builtin(6), seed=settings["seed"],
                        sphere_valleys=valleys is not None, valley_options=options)

    def edges(H):
        return sorted((u, v, k, d["end_is_minimum"], round(d["barrier"], 12))
                      for u, v, k, d in H.edges(keys=True, data=True))

    def unmatched(H):
        return sorted((e["saddle"], e["direction"], e["side"], round(e["loss"], 8))
                      for e in H.graph["unmatched_ends"])

    assert edges(G) == edges(committed6)
    assert unmatched(G) == unmatched(committed6)
    for key in ("saddles_examined", "descents", "ends_matched", "ends_unmatched",
                "index1_saddles", "index1_saddles_both_ends_minima"):
        assert G.graph[key] == committed6.graph[key], key


def test_n6_index1_saddles_end_at_minima(committed6):
    # Every index-1 saddle of n = 6 descends to catalogued minima on both sides, and its
    # barriers are the catalog's loss differences.
    catalog = Catalog.builtin(6)
    index1 = [p["id"] for p in catalog if p["hessian_index"] == 1]
    assert committed6.graph["index1_saddles"] == len(index1) > 0
    assert committed6.graph["index1_saddles_both_ends_minima"] == len(index1)
    assert committed6.graph["ends_unmatched"] == 0
    for s, data in committed6.nodes(data=True):
        for _, end, edge in committed6.out_edges(s, data=True):
            assert edge["barrier"] == data["loss"] - committed6.nodes[end]["loss"] > 0
            assert edge["path_max_loss"] <= data["loss"]


# ----------------------------------------------------------------------------------------------
# Bad input: one line, exit status 2


@pytest.mark.parametrize("text, where", [
    ("{", "not valid JSON"),
    ('{"schema_name": "critpoints.landscape", "schema_version": 1}', "is a required property"),
    ('{"schema_name": "critpoints.landscape", "schema_version": 9}', "not supported"),
])
def test_bad_landscape_file_exits_2_with_one_line(tmp_path, capsys, text, where):
    bad = tmp_path / "bad.landscape.json"
    bad.write_text(text, encoding="utf-8")
    assert main(["plot", "landscape", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and where in err and str(bad) in err


def test_a_transition_graphml_is_not_a_landscape():
    with pytest.raises(DocumentError, match=r"expected 'critpoints\.landscape'"):
        read_landscape_graphml(ROOT / "catalog" / "tms-n6-m2.transitions.graphml")


def test_landscape_command_refuses_a_catalog_of_another_n(capsys, tmp_path):
    code = main(["landscape", "--n", "7", "--catalog", str(ROOT / "catalog" / "tms-n6-m2.json"),
                 "--output", str(tmp_path / "l.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not a TMS catalog for --n 7" in err
