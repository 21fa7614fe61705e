"""Hidden dimension m ≥ 3 (issue 15): congruence up to O(m) × S_n, the echelon gauge, orbit
dimensions, point groups, and the census in m = 3."""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.potential import symmetry_generators
from critpoints.tms import potential
from critpoints.tms.model import TMSPotential
from critpoints.tms.polytope import (
    echelon_order,
    echelon_rotation,
    orbit_dimension,
    pivot_columns,
    point_group,
    span_dimension,
)
from critpoints.tms.symmetry import canonical_form, orbit_distance, same_orbit


def _random_rotation(rng: np.random.Generator, m: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.normal(size=(m, m)))
    return Q * np.sign(np.diag(R))


def _ring(k: int, height: float = 0.0, phase: float = 0.0) -> list[np.ndarray]:
    return [np.array([np.cos(2 * np.pi * i / k + phase), np.sin(2 * np.pi * i / k + phase),
                      height]) for i in range(k)]


def _unit(vectors) -> np.ndarray:
    W = np.array(vectors, dtype=float).T
    return W / np.linalg.norm(W, axis=0)


POLES = [np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])]
# Point groups of the polyhedra (Schoenflies symbol and order: the standard tables, e.g.
# Cotton, "Chemical Applications of Group Theory", 3rd ed., appendix IIA).
POLYHEDRA = {
    "regular tetrahedron": (_unit([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]), "Td", 24),
    "regular octahedron": (np.hstack([np.eye(3), -np.eye(3)]), "Oh", 48),
    "cube": (_unit(list(itertools.product([1, -1], repeat=3))), "Oh", 48),
    "triangular bipyramid": (_unit(_ring(3) + POLES), "D3h", 12),
    "pentagonal bipyramid": (_unit(_ring(5) + POLES), "D5h", 20),
    "square antiprism": (_unit(_ring(4, 0.6) + _ring(4, -0.6, np.pi / 4)), "D4d", 16),
    "triangular prism": (_unit(_ring(3, 0.7) + _ring(3, -0.7)), "D3h", 12),
    "square pyramid": (_unit(_ring(4, -0.3) + POLES[:1]), "C4v", 8),
    "regular 5-gon (planar)": (_unit(_ring(5)), "D5h", 20),
}


@pytest.mark.parametrize("shape", sorted(POLYHEDRA))
def test_point_group_of_the_polyhedra_in_any_orientation_and_order(shape):
    W, name, order = POLYHEDRA[shape]
    rng = np.random.default_rng(len(shape))
    for _ in range(3):
        Wt = _random_rotation(rng, 3) @ W[:, rng.permutation(W.shape[1])]
        group = point_group(Wt, np.full(W.shape[1], -0.2))
        assert (group.name, group.order, group.shape) == (name, order, shape)


def test_point_group_sees_unequal_biases_and_lines():
    W, _, _ = POLYHEDRA["regular tetrahedron"]
    b = np.array([-0.2, -0.2, -0.2, -0.5])  # one vertex distinguished: the axis through it
    assert point_group(W, b).name == "C3v"
    line = np.array([[1.0, -1.0], [0.0, 0.0], [0.0, 0.0]])
    assert point_group(line, np.zeros(2)).name == "D∞h"
    assert point_group(line[:, :1], np.zeros(1)).name == "C∞v"
    assert point_group(np.zeros((3, 2)), np.zeros(2)).order is None


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_orbit_dimension_is_the_rank_of_the_orbit_tangents(m, d):
    """m(m−1)/2 − (m−d)(m−d−1)/2 against the numerical rank of {J W : J ∈ so(m)}."""
    if d > m:
        pytest.skip("the span cannot exceed m")
    rng = np.random.default_rng(10 * m + d)
    n = 5
    W = np.zeros((m, n))
    W[:d] = rng.normal(size=(d, n))
    W = _random_rotation(rng, m) @ W
    tms = TMSPotential(n, m)
    tangents = tms.orbit_tangents(tms.flatten(W, rng.normal(size=n)))
    assert np.linalg.matrix_rank(tangents, tol=1e-9) == orbit_dimension(m, d)
    assert span_dimension(W) == d


def test_zero_modes_of_a_planar_polygon_in_three_dimensions():
    """The regular 5-gon of n = 5 (a minimum in m = 2) embedded in R^3: its O(3) orbit has
    dimension 3 (the stabiliser is the reflection through its plane), plus nothing flat."""
    from critpoints.kgon import enumerate_patterns
    from critpoints.kgon.enumerate import _candidates

    pattern = next(p for p in enumerate_patterns(5) if p.label == "5")
    candidate = _candidates(pattern, 30)[0]
    W = np.vstack([candidate.W.astype(float), np.zeros((1, 5))])
    tms = TMSPotential(5, 3)
    theta = tms.flatten(W, candidate.b.astype(float))
    assert np.linalg.norm(tms.gradient(theta)) < 1e-12
    generators = symmetry_generators(tms, theta)
    assert np.linalg.matrix_rank(generators, tol=1e-9) == 3


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 4), n=st.integers(1, 6))
def test_orbit_distance_vanishes_on_the_orbit_and_not_off_it(seed, m, n):
    if m == 2:
        return  # the planar case has its own test (tests/test_kgon.py)
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(m, n))
    b = rng.normal(size=n)
    pi = rng.permutation(n)
    W2 = _random_rotation(rng, m) @ W[:, pi]
    assert orbit_distance(W, b, W2, b[pi]) < 1e-9
    assert same_orbit(W, b, W2, b[pi])
    moved = W2.copy()
    moved[:, 0] *= 1.01
    assert not same_orbit(W, b, moved, b[pi])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 4), n=st.integers(1, 6),
       size=st.sampled_from([0.0, 3e-7, 9e-7, 1e-6, 1.2e-6, 3e-6, 1e-4, 1e-2]),
       shuffle_biases=st.booleans())
def test_same_orbit_prefilter_never_changes_the_verdict(seed, m, n, size, shuffle_biases):
    """same_orbit's invariant pre-filter (sorted biases, sorted norms) only rejects pairs the
    orbit search rejects too: the verdict is orbit_distance(...) ≤ atol, for images of a point
    under O(m) × S_n moved by noise near atol, with or without the biases permuted apart from
    the columns (so the invariants agree where the orbits do not)."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(m, n))
    b = rng.normal(size=n)
    pi = rng.permutation(n)
    W2 = _random_rotation(rng, m) @ W[:, pi] + rng.uniform(-size, size, (m, n))
    b2 = (b[rng.permutation(n)] if shuffle_biases else b[pi]) + rng.uniform(-size, size, n)
    assert same_orbit(W, b, W2, b2) == (orbit_distance(W, b, W2, b2) <= 1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 7))
def test_canonical_form_in_three_dimensions_is_in_echelon_form_and_orbit_invariant(seed, n):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(3, n))
    b = rng.normal(size=n)
    V, c, order = canonical_form(W, b)
    pivots = pivot_columns(V)
    for j, p in enumerate(pivots):
        assert V[j, p] > 0 and np.all(V[j + 1:, p] == 0)
    assert np.allclose(V.T @ V, (W.T @ W)[np.ix_(order, order)])
    assert np.array_equal(c, b[order])
    pi = rng.permutation(n)
    V2, c2, _ = canonical_form(_random_rotation(rng, 3) @ W[:, pi], b[pi])
    assert np.allclose(V, V2, atol=1e-9) and np.allclose(c, c2)


def test_echelon_gauge_at_high_precision_keeps_the_point():
    rng = np.random.default_rng(3)
    W = rng.normal(size=(3, 4))
    order = echelon_order(W, np.zeros(4))
    with mpmath.workdps(50):
        Wp = np.vectorize(mpmath.mpf, otypes=[object])(W[:, order])
        R = echelon_rotation(Wp, 50)
        V = R.dot(Wp)
        gram = V.T.dot(V) - Wp.T.dot(Wp)
        assert max(abs(v) for v in gram.ravel()) < mpmath.mpf(10) ** -45
        assert abs(V[1, 0]) < mpmath.mpf(10) ** -45 and abs(V[2, 1]) < mpmath.mpf(10) ** -45


def test_loss_is_a_function_of_the_gram_matrix_in_any_m():
    """The premise of the Gram-matrix congruence: L(RW, b) = L(W, b) for R in O(m)."""
    rng = np.random.default_rng(4)
    for m in (1, 3, 4):
        W = rng.normal(size=(m, 5))
        b = rng.normal(size=5) * 0.3
        assert potential.loss(_random_rotation(rng, m) @ W, b) == pytest.approx(
            potential.loss(W, b), rel=1e-12)


# ----------------------------------------------------------------------------------------------
# The polytope pattern language and the commands in m = 3


def _quadrature_loss(W: np.ndarray, b: np.ndarray) -> float:
    """L(W, b) of SPEC §2 by adaptive quadrature of its integrals (independent of the sympy
    closed form)."""
    from scipy.integrate import quad

    n = W.shape[1]
    G = W.T @ W
    total = 0.0
    for i in range(n):
        total += quad(lambda mu, i=i: (mu - max(0.0, mu * G[i, i] + b[i])) ** 2, 0, 1,
                      epsabs=1e-14, epsrel=1e-13, limit=200)[0]
        for j in range(n):
            if j != i:
                total += quad(lambda mu, i=i, j=j: max(0.0, mu * G[i, j] + b[j]) ** 2, 0, 1,
                              epsabs=1e-14, epsrel=1e-13, limit=200)[0]
    return total / n


def test_reduced_cube_solution_is_critical_by_quadrature():
    """The cube's reduced critical point at n = 8 (polytopes.solve_rigid): central differences
    of the quadrature loss along the norm and the shared bias vanish."""
    from critpoints.kgon.polytopes import PolytopeAnsatz, solve_rigid

    solutions = solve_rigid(8, "cube", 0)
    assert solutions, "the cube has a reduced critical point at n = 8"
    norm, bias = solutions[-1]

    def F(x, c):
        return _quadrature_loss(*PolytopeAnsatz(8, "cube", 0, x, c).parameters())

    h = 1e-5
    assert abs(F(norm + h, bias) - F(norm - h, bias)) / (2 * h) < 1e-7
    assert abs(F(norm, bias + h) - F(norm, bias - h)) / (2 * h) < 1e-7
    assert F(norm, bias) == pytest.approx(
        float(potential.loss(*PolytopeAnsatz(8, "cube", 0, norm, bias).parameters())), rel=1e-9)


def test_rigid_ansatzes_have_live_vertices():
    from critpoints.kgon.polytopes import rigid_ansatzes

    for ansatz in rigid_ansatzes(6):
        assert ansatz.vertex_bias + ansatz.norm**2 > 0
        W, b = ansatz.parameters()
        assert np.linalg.norm(TMSPotential(6, 3).gradient(
            TMSPotential(6, 3).flatten(W, b))) < 1e-10


@pytest.mark.parametrize("m", [1, 3, 4])
def test_embedded_patterns_stay_critical(m):
    """A planar (m = 1: collinear) k-gon point with zero rows added is critical in R^m."""
    from critpoints.census.census import embedded_patterns
    from critpoints.kgon.enumerate import search_pattern_language

    known, _ = search_pattern_language(4, 40)
    embedded = embedded_patterns(known.candidates, m)
    assert embedded and all(c.W.shape == (m, 4) for c in embedded)
    if m == 1:  # the collinear ones only: at most 2 nonzero columns
        assert all(np.count_nonzero(c.W.astype(float)) <= 2 for c in embedded)
    else:
        assert len(embedded) == len(known.candidates)
    with mpmath.workdps(40):
        for candidate in embedded:
            assert potential.gradient_norm(candidate.W, candidate.b, 40) < mpmath.mpf(10) ** -20


def test_census_in_three_dimensions_writes_a_valid_catalog(tmp_path, capsys):
    from critpoints.catalog import Catalog
    from critpoints.cli import main

    out = tmp_path / "tms-n3-m3.json"
    assert main(["census", "--n", "3", "--hidden", "3", "--budget", "300", "--round-starts",
                 "150", "--workers", "1", "--quiet", "--out", str(out)]) == 2  # no landscape
    assert "--no-landscape" in capsys.readouterr().err
    assert main(["census", "--n", "3", "--hidden", "3", "--no-landscape", "--budget", "300",
                 "--round-starts", "150", "--workers", "1", "--quiet", "--out", str(out)]) == 0
    catalog = Catalog.load(out)
    assert catalog.model.m == 3
    for point in catalog:
        assert np.array(point["W"]).shape == (3, 3)
        record = point["symmetry"]
        m, d = 3, record["span_dimension"]
        assert record["orbit_dimension"] == orbit_dimension(m, d)
        # the zero modes explained are the orbit plus the flat coordinates
        assert point["hessian"]["n_zero_symmetry"] >= record["orbit_dimension"]
    # the embedded regular triangle of m = 2 is there, planar, with its D3h symmetry
    triangle = catalog.entry("3")
    assert triangle["symmetry"]["point_group"] == "D3h"
    assert triangle["symmetry"]["span_dimension"] == 2


@pytest.mark.slow
def test_enumerate_in_three_dimensions_finds_nothing_the_census_lacks(tmp_path):
    """The polytope pattern language (enumerate --hidden 3) against the committed census of
    n = 6, m = 3: an independent search whose every orbit the census must hold."""
    from pathlib import Path

    from critpoints.catalog import Catalog
    from critpoints.census import compare_catalogs
    from critpoints.cli import main

    committed = Path(__file__).resolve().parents[1] / "catalog" / "tms-n6-m3.json"
    if not committed.is_file():
        pytest.fail("catalog/tms-n6-m3.json is not committed")
    out = tmp_path / "enumerated.json"
    assert main(["enumerate", "--n", "6", "--hidden", "3", "--random-starts", "0",
                 "--workers", "1", "--quiet", "--out", str(out)]) == 0
    comparison = compare_catalogs(Catalog.load(out), Catalog.load(committed))
    assert comparison.only_in_first == []
    octahedron = [p for p in Catalog.load(out) if p["symmetry"]["shape"] == "regular octahedron"]
    assert octahedron and octahedron[0]["loss"] == 0.0


@pytest.mark.parametrize("field, value", [
    (("symmetry", "point_group"), "Oh"),
    (("symmetry", "span_dimension"), 1),
    (("geometry", "cosines"), []),
])
def test_recheck_refuses_a_tampered_symmetry_record(field, value):
    """certify re-identifies the point group and recomputes the m ≠ 2 geometry from the exact
    point (the committed n = 4, m = 3 catalog, its regular 4-gon `4`)."""
    import copy
    from pathlib import Path

    from critpoints.proofs.recheck import recheck_entry
    from critpoints.store import load_catalog

    document = load_catalog(Path(__file__).resolve().parents[1] / "catalog" / "tms-n4-m3.json")
    entry = next(e for e in document["critical_points"] if e["id"] == "4")
    assert recheck_entry(entry, 4, 3, 0, False) == []
    tampered = copy.deepcopy(entry)
    tampered[field[0]][field[1]] = value
    failures = recheck_entry(tampered, 4, 3, 0, False)
    assert [f.field for f in failures] == [".".join(field)]
