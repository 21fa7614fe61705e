"""k-gon enumeration: the reduced problem, the pattern language, verification and classification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from critpoints import tms
from critpoints.kgon import enumerate_critical_points, enumerate_patterns, solve_regular_polygon
from critpoints.kgon.patterns import dead_vertex_placements
from critpoints.solve import find_critical_points, polish
from critpoints.tms.model import TMSPotential
from critpoints.tms.symmetry import canonical_form, orbit_distance, rotation


def regular_polygon(k, n, norm, bias):
    W = np.zeros((2, n))
    angles = 2 * np.pi * np.arange(k) / k
    W[:, :k] = norm * np.array([np.cos(angles), np.sin(angles)])
    b = np.full(n, -0.5 / n)
    b[:k] = bias
    return W, b


# ----------------------------------------------------------------------------------------------
# The reduced problem against published values and an independent scan


@pytest.mark.parametrize(
    "n, norm, bias",
    [
        (6, 1.32053, -0.61814),  # SPEC §2 table (Chen et al. 2023)
        (7, 1.44839, -0.96691),  # SPEC §2, k = n = 7
        (8, 1.55045, -1.29119),  # SPEC §2, k = n = 8 (the paper's 5th digit disagrees with itself)
        (4, 1.0, 0.0),  # the square: perfect reconstruction, no interference
    ],
)
def test_k_equals_n_gons_match_published(n, norm, bias):
    solutions = solve_regular_polygon(n, n)
    assert len(solutions) == 1
    assert float(solutions[0].norm) == pytest.approx(norm, abs=6e-6)
    assert float(solutions[0].vertex_bias) == pytest.approx(bias, abs=6e-6)


def test_published_losses_n5():
    # SPEC §2: L(5-gon, n = 5) = 0.01583 and L(4-gon, n = 5) = 0.06667.
    (five,) = solve_regular_polygon(5, 5)
    W, b = regular_polygon(5, 5, float(five.norm), float(five.vertex_bias))
    assert round(float(tms.loss(W, b)), 5) == 0.01583
    (four,) = solve_regular_polygon(5, 4)
    W, b = regular_polygon(4, 5, float(four.norm), float(four.vertex_bias))
    assert round(float(tms.loss(W, b)), 5) == 0.06667


def _profile_stationary_points(n, k, grid=400):
    """Independent scan: stationary points in s of min_x L(regular k-gon with l² = x, b = x s).

    F is a convex quadratic in x for fixed s, so every critical point of the reduced problem is a
    stationary point of this profile; the scan uses the full potential, not the reduced algebra.
    """

    def profile(s):
        result = minimize_scalar(
            lambda x: float(tms.loss(*regular_polygon(k, n, np.sqrt(x), x * s))),
            bounds=(1e-6, 50.0),
            method="bounded",
            options={"xatol": 1e-12},
        )
        return result.fun

    grid_s = np.linspace(-0.97, 1.0, grid)
    values = np.array([profile(s) for s in grid_s])
    slopes = np.diff(values)
    return [grid_s[i] for i in range(1, len(slopes))
            if np.sign(slopes[i]) != np.sign(slopes[i - 1])]


@pytest.mark.slow
@pytest.mark.parametrize("n", [9, 12])
def test_reduced_solutions_match_an_independent_profile_scan(n):
    # The paper reports two 12-gon roots; the reduced algebra finds one and so does this scan.
    solutions = solve_regular_polygon(n, n)
    stationary = _profile_stationary_points(n, n)
    assert len(stationary) == len(solutions)
    for s_scan, solution in zip(stationary, solutions):
        assert s_scan == pytest.approx(float(solution.s), abs=0.01)


@pytest.mark.parametrize("k", [5, 6, 7])
def test_reduced_solution_is_critical_in_full_space_at_60_digits(k):
    import mpmath

    from critpoints.kgon.enumerate import build_parameters
    from critpoints.kgon.patterns import Pattern

    (solution,) = solve_regular_polygon(k, k)
    pattern = Pattern(k, k, 0, 0, (), 1)
    W, b = build_parameters(pattern, solution.norm, solution.vertex_bias, 60)
    with mpmath.workdps(60):
        dW, db = tms.gradient(W, b, dps=60)
        assert max(abs(v) for v in [*dW.ravel(), *db.ravel()]) < mpmath.mpf(10) ** -50


# ----------------------------------------------------------------------------------------------
# Patterns


@pytest.mark.parametrize(
    "k, phi, count",
    # Numbers of binary bracelets with k beads, φ of them black (OEIS A052307).
    [(4, 2, 2), (5, 2, 2), (6, 2, 3), (6, 3, 3), (7, 3, 4), (8, 4, 8), (8, 3, 5), (3, 1, 1)],
)
def test_dead_vertex_placements_count_bracelets(k, phi, count):
    assert len(dead_vertex_placements(k, phi)) == count


def test_dead_vertex_placements_are_the_smallest_dihedral_images():
    """The vectorised bracelet enumeration against the definition, by brute force over every
    subset: one placement per dihedral orbit, its lexicographically smallest image, sorted."""
    from itertools import combinations

    for k in range(11):
        for phi in range(k + 1):
            expected = set()
            for positions in combinations(range(k), phi):
                images = [tuple(sorted((p + s) % k for p in positions)) for s in range(k)]
                images += [tuple(sorted((s - p) % k for p in positions)) for s in range(k)]
                expected.add(min(images) if k else positions)
            assert dead_vertex_placements(k, phi) == tuple(sorted(expected)), (k, phi)


def test_few_dead_vertex_placements_listed_from_subsets_match_the_masks():
    """Above k = 16 placements of few dead (or few live) vertices are listed from subsets
    containing vertex 0; on k ≤ 16 both listings must agree, and the Burnside count
    (bracelet_count) must equal the length of the listing for every k ≤ 16, φ."""
    from critpoints.kgon.patterns import _few_placements, _placements_by_count, bracelet_count

    for k in range(1, 17):
        full = _placements_by_count(k)
        for phi in range(k + 1):
            assert bracelet_count(k, phi) == len(full[phi]), (k, phi)
            if min(phi, k - phi) <= 3:
                assert _few_placements(k, phi) == full[phi], (k, phi)
    # OEIS A000029 (bracelets with 2 colours, any number of black beads): a(16..20)
    assert [sum(bracelet_count(k, phi) for phi in range(k + 1)) for k in range(16, 21)] == [
        2250, 4112, 7685, 14310, 27012]


@pytest.mark.parametrize("n", [1, 5, 8, 12])
def test_pattern_count_with_a_dead_vertex_budget(n):
    from critpoints.kgon.enumerate import PatternLanguageBudget
    from critpoints.kgon.patterns import pattern_count

    assert pattern_count(n) == len(enumerate_patterns(n))
    for budget in range(4):
        listed = enumerate_patterns(n, budget)
        assert pattern_count(n, budget) == len(listed)
        assert all(p.phi <= budget for p in listed)
        assert {p.id for p in listed} == {p.id for p in enumerate_patterns(n) if p.phi <= budget}
        record = PatternLanguageBudget.of(n, budget)
        assert record.patterns_searched + record.patterns_not_searched == pattern_count(n)


def test_enumerate_above_n20_needs_a_dead_vertex_budget(capsys):
    from critpoints.cli import main

    assert main(["enumerate", "--n", "32", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "288346308 patterns" in err[0] and "--max-dead-vertices" in err[0]


def test_pattern_ids_are_unique_and_labels_follow_spec():
    patterns = enumerate_patterns(6)
    ids = [p.id for p in patterns]
    assert len(ids) == len(set(ids))
    assert {"6", "5", "5+", "4++----", "4--{0,1}", "4--{0,2}"} <= set(ids)
    for p in patterns:
        assert p.label == f"{p.k}{'+' * p.sigma}{'-' * p.phi}"
        assert p.k + p.sigma <= p.n


# ----------------------------------------------------------------------------------------------
# The n = 6 enumeration against the paper


@pytest.fixture(scope="module")
def catalog_n6():
    enumeration = enumerate_critical_points(6)
    return {e.id: e.to_json() for e in enumeration.entries}, enumeration.unrealised


def test_n6_has_the_published_low_loss_families(catalog_n6):
    entries, _ = catalog_n6
    # SPEC §3: the 6-gon, 5, 5+ and fifteen 4^{σ,φ} (σ ≤ 2, φ ≤ 4).
    expected = {"6", "5", "5+"}
    for sigma in range(3):
        for phi in range(5):
            label = f"4{'+' * sigma}{'-' * phi}"
            assert any(e["label"] == label for e in entries.values()), label
    assert expected <= set(entries)
    # SPEC §2 losses
    assert round(entries["6"]["loss"], 5) == 0.04819
    assert round(entries["5"]["loss"], 5) == 0.06874
    assert round(entries["5+"]["loss"], 5) == 0.06180
    assert round(entries["4+"]["loss"], 5) == 0.10417


def test_n6_minima_and_learning_coefficients(catalog_n6):
    entries, _ = catalog_n6
    # Published λ (Chen et al. 2023, seed 001 table): 6-gon 8.5, 5 7, 5+ 8.5.
    for ident, lam in (("6", 8.5), ("5", 7.0), ("5+", 8.5)):
        assert entries[ident]["classification"] == "minimum"
        assert entries[ident]["learning_coefficient"] == lam
    for e in entries.values():
        if e["k"] == 4 and e["phi"] < 4:  # squares with at least one live vertex (b = 0)
            assert e["classification"] in ("non-smooth", "degenerate")
            assert e["on_boundary"]
            assert e["verdict"] in ("minimum", "saddle")


def test_non_smooth_minima_learning_coefficients_recomputed(catalog_n6):
    # Every stored λ of a non-smooth minimum is recomputed from its point with other random
    # directions (seed 1): same rank, same curvature to 1%; undetermined ones stay undetermined.
    from critpoints.solve.classify import CURVATURE_FLOOR, directional_curvature

    entries, _ = catalog_n6
    checked = 0
    for e in entries.values():
        if e["classification"] != "non-smooth" or e["verdict"] != "minimum":
            continue
        model = TMSPotential(6)
        report = directional_curvature(model, model.flatten(np.array(e["W"]), np.array(e["b"])),
                                       seed=1)
        q = min(r["min_q"] for r in report["radii"])
        if e["learning_coefficient"] is None:
            assert q < 10 * CURVATURE_FLOOR, e["id"]
            continue
        stored = min(r["min_q"] for r in e["evidence"]["directional_curvature"]["radii"])
        assert e["learning_coefficient"] == report["rank"] / 2
        assert q == pytest.approx(stored, rel=0.01), e["id"]
        checked += 1
    assert checked >= 3  # 4++, 4+, 4 (measured λ = 8.5, 8, 7.5)


def test_positive_bias_columns_lower_the_loss_by_quarter_n_squared(catalog_n6):
    entries, _ = catalog_n6
    # SPEC §2: a zero column with positive bias lowers L by exactly 1/(4n²) relative to a dead one.
    assert entries["5"]["loss"] - entries["5+"]["loss"] == pytest.approx(1 / 144, abs=1e-13)
    assert entries["4"]["loss"] - entries["4+"]["loss"] == pytest.approx(1 / 144, abs=1e-13)


def test_saddle_evidence_is_a_real_descent(catalog_n6):
    """Every verdict 'saddle' comes with a direction along which L really decreases, and no
    'minimum' carries one (the verdict follows its evidence)."""
    entries, _ = catalog_n6
    for e in entries.values():
        W, b = np.array(e["W"]), np.array(e["b"])
        theta = tms.flatten(W, b)
        probe = e["evidence"].get("descent")
        if e["verdict"] == "minimum":
            assert probe is None or min(probe["delta_loss"]) >= 0, e["id"]
            continue
        if e["verdict"] != "saddle":
            continue
        if probe is not None:
            # re-evaluated here at 60 digits from the exact point, independently of classify
            with mpmath.workdps(60):
                W_exact = np.array(e["W_exact"], dtype=object)
                b_exact = np.array(e["b_exact"], dtype=object)
                theta_exact = np.array([mpmath.mpf(v) for v in tms.flatten(W_exact, b_exact)])
                L0 = tms.loss(W_exact, b_exact, dps=60)
                for t in probe["radii"][1:]:
                    step = np.array([mpmath.mpf(t) * mpmath.mpf(v) for v in probe["direction"]])
                    assert tms.loss(*tms.unflatten(theta_exact + step, 2, 6), dps=60) < L0, e["id"]
        else:  # smooth saddle: the eigenvector of the most negative eigenvalue
            assert e["classification"] == "saddle"
            _, vectors = np.linalg.eigh(tms.hessian(W, b))
            step = 1e-3 * vectors[:, 0]
            assert tms.loss(*tms.unflatten(theta + step, 2, 6)) < tms.loss(W, b), e["id"]


# ----------------------------------------------------------------------------------------------
# Symmetry reduction and the full-space solver


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 8), st.integers(0, 2**32 - 1))
def test_orbit_distance_vanishes_on_the_orbit(n, seed):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(2, n)), rng.normal(size=n)
    R = rotation(rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.5:
        R = R @ np.diag([1.0, -1.0])
    perm = rng.permutation(n)
    W2, b2 = R @ W[:, perm], b[perm]
    assert orbit_distance(W, b, W2, b2) < 1e-9
    Wc, bc, _ = canonical_form(W, b)
    Wc2, bc2, _ = canonical_form(W2, b2)
    np.testing.assert_allclose(Wc, Wc2, atol=1e-9)
    np.testing.assert_allclose(bc, bc2, atol=1e-12)
    # and a genuinely different point is far
    assert orbit_distance(W, b, W2 * 1.1, b2) > 1e-3


def test_search_and_polish_recover_the_hexagon():
    (solution,) = solve_regular_polygon(6, 6)
    W, b = regular_polygon(6, 6, float(solution.norm), float(solution.vertex_bias))
    rng = np.random.default_rng(5)
    starts_W = W + 0.02 * rng.normal(size=(8, 2, 6))
    starts_b = b + 0.02 * rng.normal(size=(8, 6))
    model = TMSPotential(6)
    search = find_critical_points(model, model.flatten(starts_W, starts_b))
    assert search.converged.all()
    found_W, found_b = search.parameters
    for i in range(8):
        assert orbit_distance(W, b, found_W[i], found_b[i]) < 1e-5
    polished = polish(model, search.theta[0], dps=50)
    assert polished.success and float(polished.grad_norm) < 1e-35


def _searched_orbits(n: int, workers: int):
    """Stages 1–2 of the enumeration (no classification): the known orbits after the searches
    from the broken ansatzes and from 300 random starts, and the random search's counts."""
    from critpoints.kgon.enumerate import (
        KnownOrbits,
        random_starts_of,
        screen_patterns,
        search_from_starts,
    )

    screening = screen_patterns(enumerate_patterns(n), 60)
    broken = screening.broken
    search = search_from_starts(
        np.array([c.W.astype(float) for c in broken]),
        np.array([c.b.astype(float) for c in broken]),
        broken, KnownOrbits.of(screening.verified), 60, "broken", workers=workers)
    starts_W, starts_b = random_starts_of(n, 300, 0)
    search = search_from_starts(starts_W, starts_b, [None] * 300, search.known, 60, "random",
                                workers=workers)
    return search.known, search.counts


def test_search_finds_every_orbit_at_n6():
    """Completeness of the searches at n = 6, where it is cheap: the reference is the search of
    critpoints 54516d1^ (150-iteration slow path lineage; 121 orbits, stored as float64 points
    in tests/data), made before search results were identified again after their 60-digit
    refinement. Today's search (two workers) must hold every one of those critical sets (loss
    within 1e-9, live parts equal up to O(2) × S_n) and none twice: the reference had 5 points
    catalogued twice, so a change that loses a point or lets a duplicate back fails here."""
    import critpoints.tms as tms
    from critpoints.census.census import critical_set_key, same_critical_set

    reference = json.loads((Path(__file__).parent / "data" /
                            "n6-search-orbits-before-54516d1.json").read_text())["points"]
    known, counts = _searched_orbits(6, workers=2)
    found = []
    for c in known.candidates:
        W, b = np.array(c.W, dtype=float), np.array(c.b, dtype=float)
        found.append((float(tms.loss(W, b)), critical_set_key(W, b)))
    lost = [p["loss"] for p in reference
            if same_critical_set(p["loss"], critical_set_key(np.array(p["W"]), np.array(p["b"])),
                                 found) is None]
    assert lost == []
    twice = [loss for i, (loss, key) in enumerate(found)
             if same_critical_set(loss, key, found[:i] + found[i + 1:]) is not None
             and known.candidates[i].origin != "pattern"]
    assert twice == []
    assert counts["starts"] == 300 and counts["refinement_failed"] == 0


def test_search_is_the_same_for_any_number_of_workers(monkeypatch):
    """Chunked and multi-process Levenberg–Marquardt: the same final points to the bit."""
    from critpoints.solve import newton

    monkeypatch.setattr(newton, "CHUNK_SIZE", 16)
    model = TMSPotential(7)
    rng = np.random.default_rng(3)
    theta = model.flatten(rng.normal(size=(40, 2, 7)), 0.3 * rng.normal(size=(40, 7)))
    one = newton._levenberg_marquardt(model, theta.copy(), 1e-11, 60, 1e-3)
    for workers in (1, 3):
        other = find_critical_points(model, theta, gtol=1e-11, max_iter=60, workers=workers)
        assert np.array_equal(other.theta, one.theta)
        assert np.array_equal(other.grad_norm, one.grad_norm)


def test_flat_dead_feature_sets_end_in_a_descent(catalog_n6):
    """A dead feature's flat bias interval b ≤ 0 ends at 0, where switching it on lowers L.

    Independent value: for a zero column j at b_j = ε > 0 every block (i, j) is live with a = 0,
    so L changes by [Q(0, ε) - 1/3 + (n - 1)·ε²]/n = (nε² - ε)/n (SPEC §2's 1/(4n²) argument).
    """
    entries, _ = catalog_n6
    n = 6
    checked = 0
    for e in entries.values():
        for exit_ in e["evidence"].get("flat_set_exits", []):
            if np.linalg.norm(np.array(e["W"])[:, exit_["column"]]) == 0:
                eps = exit_["step"]
                assert exit_["delta_loss"] == pytest.approx((n * eps**2 - eps) / n, rel=1e-6)
                checked += 1
    assert checked > 0
    assert any(x["delta_loss"] < 0 for x in entries["5"]["evidence"]["flat_set_exits"])


# ----------------------------------------------------------------------------------------------
# The main job runs without sympy (issue 13: derived once, generated code at run time)

ROOT = Path(__file__).resolve().parents[1]

#: Prepended to a script run in a fresh interpreter: every import of sympy fails, and at the end
#: sympy must not be in sys.modules.
_BLOCK_SYMPY = """
import sys

class _NoSympy:
    def find_spec(self, name, path=None, target=None):
        if name == "sympy" or name.startswith("sympy."):
            raise ImportError(f"sympy is blocked in this run ({name})")
        return None

sys.meta_path.insert(0, _NoSympy())
"""

_CLI = _BLOCK_SYMPY + """
from critpoints.cli import main
status = main(sys.argv[1:])
assert not any(name == "sympy" or name.startswith("sympy.") for name in sys.modules)
sys.exit(status)
"""

_EXACT_FORMS = _BLOCK_SYMPY + """
import json
from critpoints.proofs.algebraic import exact_form
checked = 0
for entry in json.load(open(sys.argv[1]))["critical_points"]:
    reduced, stored = entry["reduced"], entry["exact"]
    if reduced and stored and stored.get("field", "Q") != "Q":
        assert exact_form(6, entry["k"], reduced["x"], reduced["s"]) == stored, entry["id"]
        checked += 1
assert checked >= 3 and "sympy" not in sys.modules
"""


def _python_without_sympy(script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True,
                          text=True, timeout=900, check=False)


def _committed_command(n: int) -> list[str]:
    """The arguments (after ``python -m critpoints``) of the command that wrote the committed
    catalog for n features (the census for n = 2..8)."""
    path = ROOT / "catalog" / f"tms-n{n}-m2.json"
    return json.loads(path.read_text(encoding="utf-8"))["generator"]["command"].split()[3:]


def test_enumerate_and_exact_forms_run_without_sympy(tmp_path):
    """The committed n = 4 catalog's command gives its bytes, and the exact forms of the n = 6
    catalog's irrational points (5-gons, hexagon) are re-derived as stored, with every sympy
    import failing."""
    out = tmp_path / "tms-n4-m2.json"
    result = _python_without_sympy(_CLI, *_committed_command(4), "--quiet", "--no-landscape",
                                   "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.read_bytes() == (ROOT / "catalog" / "tms-n4-m2.json").read_bytes()
    result = _python_without_sympy(_EXACT_FORMS, str(ROOT / "catalog" / "tms-n6-m2.json"))
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("n", [5, 6])
def test_enumerate_runs_without_sympy(n, tmp_path):
    """The main job (the census of n = 6) and n = 5 — regular points, certificates, exact
    algebraic forms of the irrational polygons — with every sympy import failing: the committed
    bytes."""
    out = tmp_path / f"tms-n{n}-m2.json"
    result = _python_without_sympy(_CLI, *_committed_command(n), "--quiet", "--no-landscape",
                                   "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.read_bytes() == (ROOT / "catalog" / f"tms-n{n}-m2.json").read_bytes()


@pytest.mark.parametrize("command", [
    ["enumerate", "--n", "3", "--hidden", "1", "--random-starts", "20"],
    ["census", "--n", "2", "--hidden", "1", "--budget", "40", "--round-starts", "20",
     "--no-landscape"],
])
def test_collinear_catalogs_are_written_and_certify(command, tmp_path, capsys):
    """m = 1 (the collinear k ≤ 2 points): both commands write a catalog that certifies. The
    exact-point check read a second row of W, which m = 1 does not have (IndexError)."""
    from critpoints.cli import main

    out = tmp_path / "m1.json"
    assert main([*command, "--quiet", "--workers", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["model"]["m"] == 1
    assert all(len(p["W"]) == 1 for p in document["critical_points"])
    assert any(p["certificate"]["proved"] for p in document["critical_points"])
    assert main(["certify", str(out), "--quiet"]) == 0, capsys.readouterr().out
