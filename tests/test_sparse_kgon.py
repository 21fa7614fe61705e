"""k-gons at finite sparsity and the branches in S (SPEC §8, issue 16 points 3 and 4).

References: the one-hot reduced problem of :mod:`critpoints.kgon.reduced` (generated
polynomials, mpmath roots) for the model-generic profile solver; a full-space Newton solve of
the finite-S potential (no reduction) for its finite-S solutions; the limit S → 1 of SPEC §8
for what becomes of the catalogued points; the committed ``catalog/tms-n6-m2.sparsity.json``
re-verified from its stored numbers.
"""

from __future__ import annotations

import json
import math
import shlex
from itertools import pairwise
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.cli import main
from critpoints.cli.options import split_ids
from critpoints.kgon.branches import follow_entry, start_point
from critpoints.kgon.profile import polygon_theta, solve_polygon_profile
from critpoints.kgon.reduced import solve_regular_polygon
from critpoints.kgon.sparsity import enumerate_at_sparsity, polish_polygon
from critpoints.solve.continuation import follow_branch
from critpoints.store import builtin_path, load_document
from critpoints.tms import TMSPotential, TMSSparsePotential

ROOT = Path(__file__).resolve().parents[1]
BRANCHES = ROOT / "catalog" / "tms-n6-m2.sparsity.json"


@pytest.mark.parametrize("n", [4, 6, 7])
def test_profile_solver_reproduces_the_one_hot_reduced_solutions(n):
    """The model-generic solver, fed the one-hot TMSPotential, finds exactly the solutions of
    the generated reduced polynomials (kgon/reduced.py) for every k."""
    for k in range(1, n + 1):
        found = solve_polygon_profile(TMSPotential(n, 2), k)
        reference = solve_regular_polygon(n, k)
        assert len(found) == len(reference), k
        for mine, theirs in zip(found, reference):
            assert mine.norm == pytest.approx(float(theirs.norm), abs=1e-7)
            assert mine.vertex_bias == pytest.approx(float(theirs.vertex_bias), abs=1e-7)


@settings(max_examples=6, deadline=None)
@given(sparsity=st.floats(0.3, 0.995), k=st.sampled_from([3, 4]))
def test_finite_sparsity_polygon_agrees_with_a_full_space_newton_solve(sparsity, k):
    """The reduced solution at S is a zero of the full gradient (all 3n coordinates, n = 4),
    and Newton's method on the full potential from a perturbed start returns to it."""
    n = 4
    model = TMSSparsePotential(n, 2, sparsity=sparsity)
    solutions = solve_polygon_profile(model, k)
    assert solutions
    for solution in solutions:
        theta = polygon_theta(model, k, solution.norm, solution.vertex_bias)
        assert np.linalg.norm(model.gradient(theta)) < 1e-7
        # independent: full-space Newton (pinv) from a perturbed start, no reduction
        rng = np.random.default_rng(0)
        current = theta.copy()
        moving = np.flatnonzero(np.abs(theta[: 2 * n]) > 0)
        current[moving] += 1e-3 * rng.normal(size=moving.size)
        current[2 * n: 2 * n + k] += 1e-3
        for _ in range(30):
            g = model.gradient(current)
            if np.linalg.norm(g) < 1e-12:
                break
            values, vectors = np.linalg.eigh(model.hessian(current))
            keep = np.abs(values) > 1e-10 * np.abs(values).max()
            current = current - (vectors[:, keep] / values[keep]) @ (vectors[:, keep].T @ g)
        W = current[: 2 * n].reshape(2, n)
        norms = np.linalg.norm(W[:, :k], axis=0)
        assert np.allclose(norms, solution.norm, atol=1e-7)
        assert np.allclose(current[2 * n: 2 * n + k], solution.vertex_bias, atol=1e-7)


def test_polished_hexagon_is_critical_at_60_digits():
    """Newton in (l, b_v) at 60 digits: every one of the 18 gradient coordinates ≤ 1e-40
    (docs/sparsity.md's S = 0.9 hexagon: l = 1.089521, b = −0.304652)."""
    model = TMSSparsePotential(6, 2, sparsity=0.9)
    (solution,) = solve_polygon_profile(model, 6)
    norm, bias, gradient = polish_polygon(model, 6, solution.norm, solution.vertex_bias, 60)
    assert gradient < mpmath.mpf(10) ** -40
    assert float(norm) == pytest.approx(1.089521, abs=1e-6)
    assert float(bias) == pytest.approx(-0.304652, abs=1e-6)


def test_enumerate_at_finite_sparsity_n2():
    """n = 2, S = 0.9: every entry verified at 60 digits; the two zero columns with bias
    (1 − S)/2 = 0.05 (pattern 0++) are regular and critical (σ bias E[x_j])."""
    enumeration = enumerate_at_sparsity(TMSSparsePotential(2, 2, sparsity=0.9))
    ids = {e.id: e for e in enumeration.entries}
    assert all(e.grad_norm <= 1e-40 for e in enumeration.entries)
    assert {"2", "1", "0", "0++"} <= ids.keys()
    assert ids["0++"].regular and ids["0++"].b == pytest.approx([0.05, 0.05])
    # the two zero columns of positive bias want to grow: a saddle (index from the Hessian)
    assert ids["0++"].verdict == "saddle"


# ----------------------------------------------------------------------------------------------
# The random-start search at finite S: what the pattern language does not reach


def _committed_sparse(n: int) -> dict:
    return json.loads((ROOT / "catalog" / f"tms-n{n}-m2-S0.9.json").read_text("utf-8"))


@pytest.mark.parametrize("n", [2, pytest.param(3, marks=pytest.mark.slow)])
def test_finite_sparsity_catalog_is_reproduced_by_its_command(tmp_path, n):
    """The committed finite-S catalogs are current: every entry verified, classified and the
    random starts searched again by the stored command give the same bytes."""
    committed = ROOT / "catalog" / f"tms-n{n}-m2-S0.9.json"
    command = _committed_sparse(n)["generator"]["command"]
    out = tmp_path / committed.name
    assert main([*command.split()[3:], "--quiet", "--workers", "2", "--out", str(out)]) == 0
    assert out.read_bytes() == committed.read_bytes()


def test_random_starts_find_the_zero_loss_orthogonal_pair_the_patterns_miss():
    """n = 2 = m at S = 0.9: W = I, b = 0 reconstructs every input exactly (ReLU(x) = x for
    x ≥ 0), so L = 0 is the global minimum; the pattern language's lowest point (the antipodal
    pair, whose columns interfere when both features are active) is above it. The committed
    catalog's lowest entry is that pair, found by the random starts."""
    model = TMSSparsePotential(2, 2, sparsity=0.9)
    with mpmath.workdps(60):
        identity = model.flatten(np.array([[mpmath.mpf(1), 0], [0, mpmath.mpf(1)]], dtype=object),
                                 np.array([mpmath.mpf(0)] * 2, dtype=object))
        assert model.loss(identity, dps=60) == 0
    document = _committed_sparse(2)
    lowest = min(document["critical_points"], key=lambda e: mpmath.mpf(e["loss_exact"]))
    assert mpmath.mpf(lowest["loss_exact"]) == 0 and lowest["origin"] == "random-search"
    W = np.array(lowest["W"])
    np.testing.assert_allclose(W.T @ W, np.eye(2), atol=1e-15)
    patterns = [e for e in document["critical_points"] if e["origin"] != "random-search"]
    assert all(mpmath.mpf(e["loss_exact"]) > 0 for e in patterns)
    assert lowest["verdict"] == "minimum"


@pytest.mark.parametrize("n", [2, 3])
def test_finite_sparsity_non_smooth_minima_have_their_volume_check(n):
    """At finite S a non-smooth minimum whose straight lines grow quadratically is checked by
    the volume-scaling exponent as in the one-hot model (a ball free of foreign vertex kinks,
    tms_sparse_ball_radius): its λ is rank/2 exactly when the stored λ̂ agrees by the rule,
    and no entry is left undetermined for want of a ball."""
    from critpoints.solve.classify import volume_agrees

    checked = 0
    for entry in _committed_sparse(n)["critical_points"]:
        evidence = entry["evidence"]
        assert "no ball radius" not in str(evidence.get("learning_coefficient", ""))
        if entry["classification"] != "non-smooth" or entry["verdict"] != "minimum":
            continue
        record = evidence.get("volume_scaling")
        if record is None:  # stopped earlier: a direction grows slower than quadratically
            assert "slower than quadratically" in evidence["learning_coefficient"]
            continue
        checked += 1
        half_rank = evidence["directional_curvature"]["rank"] / 2
        agrees = volume_agrees(half_rank, record)
        assert entry["learning_coefficient"] == (half_rank if agrees else None)
    assert checked >= 1


def test_finite_sparsity_n3_global_minimum_is_the_phase_diagrams_winner():
    """Two independent routes at S = 0.9 (density 0.1), uniform importance: the lowest entry
    of the n = 3 catalog (patterns and 1000 random starts in full space) and the winner of the
    committed phase diagram at that cell (each type's own optimum in its reduced variables,
    multi-start checked)."""
    diagram = json.loads((ROOT / "catalog" / "tms-n3-m2.phase-diagram.json").read_text("utf-8"))
    i, j = diagram["densities"].index(0.1), diagram["ratios"].index(1.0)
    winner = diagram["winner"][i][j]
    document = _committed_sparse(3)
    minima = sorted((e for e in document["critical_points"] if e["verdict"] == "minimum"),
                    key=lambda e: e["loss"])
    assert minima[0]["loss"] == pytest.approx(diagram["losses"][winner][i][j], rel=1e-10)
    assert minima[0]["loss"] < min(e["loss"] for e in document["critical_points"]
                                   if e["origin"] == "pattern")


def test_finite_sparsity_random_search_does_not_depend_on_the_workers():
    """The same points and record from one process and from two (each start is searched alone,
    the ends are registered in start order, the polishes come back in order)."""
    from critpoints.kgon.sparsity import random_search_at_sparsity

    model = TMSSparsePotential(2, 2, sparsity=0.7)
    runs = [random_search_at_sparsity(model, [], 40, 3, 30, workers=w) for w in (1, 2)]
    (found_1, record_1), (found_2, record_2) = runs
    assert record_1 == record_2 and record_1["new_points"] == len(found_1) > 0
    for a, b in zip(found_1, found_2):
        assert [mpmath.nstr(v, 30) for v in (*a.W.ravel(), *a.b)] == [
            mpmath.nstr(v, 30) for v in (*b.W.ravel(), *b.b)]


@pytest.mark.parametrize("n", [2, 3])
def test_finite_sparsity_random_search_record(n):
    """The record's counts agree with each other and with the entries it added; its Chao1
    estimate is f₁(f₁ − 1)/(2(f₂ + 1)) of the stored singletons and doubletons."""
    document = _committed_sparse(n)
    search = document["random_search"]
    assert search["converged"] <= search["starts"]
    assert search["in_catalogued_sets"] <= search["converged"]
    assert search["new_points"] == sum(e["origin"] == "random-search"
                                       for e in document["critical_points"])
    assert search["new_points"] + search["refinement_failed"] <= search["orbits_hit"]
    f1, f2 = search["singletons"], search["doubletons"]
    assert search["unseen_estimate"] == round(f1 * (f1 - 1) / (2 * (f2 + 1)), 3)


@pytest.mark.parametrize("arguments, message", [
    (["--sparsity", "1"], "less than 1"),
    (["--sparsity", "nan"], "finite"),
    (["--sparsity", "-0.5"], "at least 0"),
    (["--sparsity", "0.5", "--importance", "1,2"], "need n = 3"),
    (["--importance", "1,1,1"], "give --sparsity"),
    (["--sparsity", "0.5", "--hidden", "3"], "hidden dimension 2"),
])
def test_enumerate_refuses_bad_sparsity_input(arguments, message, capsys):
    assert main(["enumerate", "--n", "3", *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1


# ----------------------------------------------------------------------------------------------
# The limit S → 1: what becomes of each catalogued point


def _catalog():
    return json.loads(builtin_path("tms-n6-m2.json").read_text())["critical_points"]


@settings(max_examples=5, deadline=None)
@given(one_minus_s=st.floats(1e-5, 1e-3))
def test_positive_bias_on_a_nonzero_column_has_no_branch(one_minus_s):
    """Every catalogued n = 6 point with a positive bias β on a nonzero column: at S near 1
    ∂L_S/∂b_j ≥ β (it is 2Sⁿβ + O(1 − S)), so no critical point of L_S is near it."""
    S = 1 - one_minus_s
    checked = 0
    for entry in _catalog()[::7]:
        record = start_point(entry["W"], entry["b"], S)
        if record["status"] != "no-branch":
            continue
        checked += 1
        for j, db in zip(record["positive_bias"], record["bias_gradient"]):
            beta = entry["b"][j]
            assert db >= 2 * S**6 * beta - 20 * one_minus_s
            assert db >= beta
    assert checked >= 5


def test_positive_bias_zero_column_branch_tends_to_bias_zero():
    """5⁺: at S the zero column's critical bias is (1 − S)/2 (not 1/(2n)); the corrected
    point is critical for L_S; b → 0 as S → 1 while b/(n(1 − S)) = 1/(2n), the one-hot value."""
    entry = next(e for e in _catalog() if e["id"] == "5+")
    n = 6
    for S in (0.999, 0.99):
        record = start_point(entry["W"], entry["b"], S)
        assert record["status"] == "followed"
        (change,) = record["changed"]
        assert change["to"] == pytest.approx((1 - S) / 2)
        assert change["to"] / (n * (1 - S)) == pytest.approx(1 / (2 * n))
        model = TMSSparsePotential(n, 2, sparsity=S)
        free = [i for i in range(3 * n) if i not in (5, n + 5)]
        from critpoints.potential import FixedCoordinates

        theta = model.flatten(record["W"], record["b"])
        branch = follow_branch(lambda p, m=model, t=theta, f=free: FixedCoordinates(m, t, f),
                               theta[free], 0.0, 0.0, gtol=1e-11)
        (point,) = branch.points
        assert point.grad_norm <= 1e-11
        full = theta.copy()
        full[free] = point.theta
        assert full[2 * n + 5] == pytest.approx((1 - S) / 2, abs=1e-12)
        assert np.linalg.norm(model.gradient(full)) <= 1e-11


@settings(max_examples=6, deadline=None)
@given(t=st.floats(0.05, 1.0), one_minus_s=st.sampled_from([1e-3, 1e-2]))
def test_a_dead_vertex_against_a_live_column_collapses(t, one_minus_s):
    """4-'s dead vertex W_0 = e₁ (antipodal to the live W_2): the one-hot potential is constant
    along its ray W_0 → t W_0 (checked on the one-hot potential itself), while L_S grows with
    t there. By hand: only output 2 feels t, when x_0 and x_2 are both on (probability
    (1 − S)²), with error −min(t ξ₀, ξ₂), so L_S(t) − L_S(0) = (1 − S)² E[min(tξ₀, ξ₂)²]
    = (1 − S)² (t²/3 − t³/6) for ξ uniform on [0, 1] and t ≤ 1 (slope (1 − S)²/6 at t = 1).
    The start collapses the column to a zero column with the same bias, a point of θ̃'s
    one-hot critical set."""
    entry = next(e for e in _catalog() if e["id"] == "4-")
    S = 1 - one_minus_s
    W, b = np.array(entry["W"]), np.array(entry["b"])
    one_hot = TMSPotential(6, 2)
    sparse = TMSSparsePotential(6, 2, sparsity=S)

    def along(model, s):
        V = W.copy()
        V[:, 0] *= s
        return float(model.loss(model.flatten(V, b)))

    assert along(one_hot, t) == pytest.approx(entry["loss"], abs=1e-14)
    by_hand = one_minus_s**2 * (t**2 / 3 - t**3 / 6)
    assert along(sparse, t) - along(sparse, 0.0) == pytest.approx(by_hand, rel=1e-8)
    record = start_point(W, b, S)
    collapsed = [c for c in record["changed"] if c["quantity"] == "norm"]
    assert [c["column"] for c in collapsed] == [0]
    assert collapsed[0]["loss_drop"] == pytest.approx(one_minus_s**2 / 6, rel=1e-8)
    assert not record["W"][:, 0].any() and record["b"][0] == b[0]
    _, gradient = one_hot.loss_and_gradient(one_hot.flatten(record["W"], record["b"]))
    assert np.linalg.norm(gradient) <= 1e-12


def test_a_flat_one_hot_set_starts_its_branch_where_L_S_selects():
    """3-: after its dead vertex collapses, the two live columns of the triangle can open from
    120° to 90° at no one-hot cost; at S = 0.999 Newton from θ̃ finds no critical point, and
    the Levenberg–Marquardt start is a member of the same one-hot critical set (checked on
    the one-hot potential: gradient ≤ 1e-10, same loss) with the columns orthogonal; the
    branch is then followed. 4++~1 (irregular, two + columns): its start's one-hot gradient
    shrinks in proportion to 1 − S (the acceptance rule), checked here on the one-hot
    potential itself at both stored sparsities."""
    entry = next(e for e in _catalog() if e["id"] == "3-")
    record = follow_entry(entry, 6, stop_sparsity=0.99, certify=())
    slide = record["start"]["flat_set"]
    assert slide["accepted"] and max(slide["gradient_norms"]) <= 1e-11 and slide["moved"] > 0.1
    assert record["end"]["kind"] == "reached"
    first = np.array(record["points"][0]["theta"])
    one_hot = TMSPotential(6, 2)
    loss, gradient = one_hot.loss_and_gradient(first)
    assert loss == pytest.approx(entry["loss"], abs=1e-6)
    W, _ = one_hot.unflatten(first)
    live = [j for j in range(6) if np.linalg.norm(W[:, j]) > 1e-9]
    assert len(live) == 2
    cosine = W[:, live[0]] @ W[:, live[1]] / np.prod(np.linalg.norm(W[:, live], axis=0))
    assert abs(cosine) <= 1e-3
    assert np.linalg.norm(gradient) <= 1e-10


def test_an_irregular_flat_start_converges_into_the_one_hot_set_linearly_in_1_minus_S():
    from critpoints.kgon.branches import CLOSER, _levenberg_marquardt, flat_set_start
    from critpoints.potential import FixedCoordinates

    entry = next(e for e in _catalog() if e["id"] == "4++~1")
    n, m = 6, 2
    record = start_point(entry["W"], entry["b"], 0.999)
    theta0 = TMSSparsePotential(n, m).flatten(record["W"], record["b"])
    free = [i for i in range(3 * n) if i % n not in record["zero_columns"] or i >= 2 * n]

    def family_at(S):
        return FixedCoordinates(TMSSparsePotential(n, m, sparsity=S), theta0, free)

    slide = flat_set_start(family_at, theta0[free], 0.999, None,
                           dict.fromkeys(record["zero_columns"], 0.0))
    assert slide.accepted
    assert slide.sparsities[1] == pytest.approx(1 - 1e-3 / CLOSER)
    # The search is a function of its input: the same call in the same process (after the
    # searches flat_set_start ran) returns the same bits. scipy's MINPACK
    # least_squares(method="lm"), used before, returned a point 1.4·10⁻⁸ away on its second call
    # from the same input, so the branches file depended on what the worker had run before.
    nearer, norm = _levenberg_marquardt(family_at(slide.sparsities[1]), slide.theta)
    assert np.array_equal(nearer, slide.nearer) and norm == slide.gradient_norms[1] <= 1e-11
    one_hot = TMSPotential(n, m)
    norms = []
    for found in (slide.theta, nearer):  # the one-hot gradient, the + biases at their limit 0
        full = family_at(0.999).full(found)
        full[2 * n + np.array(record["zero_columns"])] = 0.0
        norms.append(float(np.linalg.norm(one_hot.gradient(full))))
    assert norms[1] == pytest.approx(norms[0] / CLOSER, rel=0.1)
    assert 1e-6 < norms[0] < 1e-2


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.3, 1.2))
def test_one_hot_limit_of_the_sparse_potential_is_the_one_hot_potential(seed, scale):
    """(L_S − Sⁿ Σ_j ReLU(b_j)²)/(n(1 − S)) at S = 1 − 10⁻⁷ against the one-hot potential's
    own evaluator, loss and gradient, on random (W, b)."""
    from critpoints.kgon.branches import one_hot_limit

    rng = np.random.default_rng(seed)
    n, m = 5, 2
    W, b = rng.normal(size=(m, n)) * scale, rng.normal(size=n) * 0.3
    one_hot = TMSPotential(n, m)
    theta = one_hot.flatten(W, b)
    loss, gradient = one_hot.loss_and_gradient(theta)
    limit_loss, limit_gradient = one_hot_limit(theta, n, m)
    assert limit_loss == pytest.approx(float(loss), abs=1e-6)
    assert np.abs(limit_gradient - gradient).max() <= 1e-6


def test_branch_of_the_hexagon_loses_stability_between_0_9_and_0_8():
    """The hexagon followed from S = 0.999 to S = 0.8: a minimum until an eigenvalue pair
    crosses zero between S = 0.9 and 0.8 (docs/sparsity.md's table: index 0 at 0.9, 2 at
    0.8, from separate solves)."""
    entry = next(e for e in _catalog() if e["id"] == "6")
    record = follow_entry(entry, 6, stop_sparsity=0.8, certify=())
    assert record["end"]["kind"] == "reached"
    (event, *_) = [e for e in record["events"] if e["kind"] == "index-change"]
    assert event["index"] == [0, 2]
    high, low = event["between"]
    assert 0.8 <= low < event["crossing"] < high <= 0.9
    for point in record["points"]:
        assert point["grad_norm"] <= 1e-11


# ----------------------------------------------------------------------------------------------
# The committed branches file


@pytest.fixture(scope="module")
def branches():
    if not BRANCHES.exists():
        pytest.skip("catalog/tms-n6-m2.sparsity.json not generated")
    return load_document(BRANCHES)


def test_branches_file_is_current_with_its_catalog(branches):
    """The branches are those of the committed one-hot catalog, in its order: all of them, or
    those of the command's --ids (a run that was stopped holds a prefix of those and says so
    in its command)."""
    catalog = json.loads(builtin_path("tms-n6-m2.json").read_text())
    assert branches["catalog"]["command"] == catalog["generator"]["command"]
    assert branches["catalog"]["entries"] == len(catalog["critical_points"])
    command = branches["generator"]["command"]
    assert command.startswith("python -m critpoints sparsity-branches")
    requested = [e["id"] for e in catalog["critical_points"]]
    words = shlex.split(command)  # the command as a shell reads it
    if "--ids" in words:
        chosen = set(split_ids(words[words.index("--ids") + 1]))
        requested = [i for i in requested if i in chosen]
    ids = [b["id"] for b in branches["branches"]]
    assert ids == requested[: len(ids)]
    assert (len(ids) == len(requested)) == ("interrupted" not in command)
    by_id = {e["id"]: e for e in catalog["critical_points"]}
    for branch in branches["branches"]:
        assert branch["one_hot_loss"] == by_id[branch["id"]]["loss"]


def test_an_entry_has_no_branch_exactly_when_a_nonzero_column_has_a_positive_bias(branches):
    """From the catalog's own numbers: a positive bias on a nonzero column is pulled to 0 by the
    all-zero input (∂L_S/∂b_j = 2Sⁿ b_j + O(1 − S)), so such an entry starts no branch, and
    every other followed entry does."""
    catalog = {e["id"]: e for e in json.loads(builtin_path("tms-n6-m2.json").read_text())[
        "critical_points"]}
    for branch in branches["branches"]:
        entry = catalog[branch["id"]]
        W, b = np.array(entry["W"]), np.array(entry["b"])
        pulled = bool(((b > 1e-12) & (np.linalg.norm(W, axis=0) > 1e-12)).any())
        assert (branch["end"]["kind"] == "no-branch") == pulled, branch["id"]


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_stored_branch_points_are_critical(branches, data):
    """A continued point satisfies ‖∇L_S‖ ≤ 1e-10 at its S, re-evaluated from the stored θ."""
    followed = [b for b in branches["branches"] if b["points"]]
    branch = data.draw(st.sampled_from(followed))
    point = data.draw(st.sampled_from(branch["points"]))
    model = TMSSparsePotential(6, 2, sparsity=point["sparsity"])
    theta = np.array(point["theta"])
    assert np.linalg.norm(model.gradient(theta)) <= 1e-10
    assert float(model.loss(theta)) == pytest.approx(point["loss"], rel=1e-9, abs=1e-13)


def _index_changes(branches) -> list[tuple[str, dict, dict, dict]]:
    """(id, event, point before, point after) of every stored index change whose bracket ends
    are stored points (the events beyond a fold name arc points, which are not stored)."""
    out = []
    for branch in branches["branches"]:
        at = {point["sparsity"]: point for point in branch["points"]}
        for event in branch["events"]:
            if event["kind"] == "index-change" and all(s in at for s in event["between"]):
                out.append((branch["id"], event, *(at[s] for s in event["between"])))
    return out


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_stored_index_changes_are_the_indices_of_their_bracket_points(branches, data):
    """A stored index change says what the Hessians at its two bracket points say: re-read from
    the stored θ with the branch's rule (every side of a kink it sits on, eigenvalues below
    −1e-9·max(1, max|λ|)), the indices are the event's pair and the points' own."""
    from critpoints.kgon.branches import kink_spectrum

    ident, event, before, after = data.draw(st.sampled_from(_index_changes(branches)))
    for point, stored in ((before, event["index"][0]), (after, event["index"][1])):
        model = TMSSparsePotential(6, 2, sparsity=point["sparsity"])
        theta = np.array(point["theta"])
        values, _ = kink_spectrum(model, theta, np.arange(model.dim))
        tolerance = 1e-9 * max(1.0, float(np.abs(values).max()))
        assert int((values < -tolerance).sum()) == stored == point["index"], (ident, event)


def test_a_certified_branch_point_is_critical_at_60_digits(branches):
    certified = [(b["id"], c) for b in branches["branches"] for c in b.get("certified", [])
                 if c["success"]]
    assert certified
    ident, point = certified[len(certified) // 2]
    model = TMSSparsePotential(6, 2, sparsity=point["sparsity"])
    with mpmath.workdps(point["dps"]):
        theta = np.array([mpmath.mpf(v) for v in point["theta_exact"]], dtype=object)
        _, grad = model.loss_and_gradient(theta, dps=point["dps"])
        norm = mpmath.sqrt(mpmath.fsum(g * g for g in grad))
    assert norm <= mpmath.mpf(10) ** (20 - point["dps"]), ident
    assert math.isclose(float(norm), point["grad_norm"], rel_tol=1e-6, abs_tol=1e-300) or (
        float(norm) <= 1e-40)


def _ulps_away(x: float, ulps: int) -> float:
    for _ in range(abs(ulps)):
        x = float(np.nextafter(x, math.inf if ulps > 0 else -math.inf))
    return x


@settings(max_examples=6, deadline=None)
@given(norm_ulps=st.integers(-8, 8).filter(bool), bias_ulps=st.integers(-8, 8),
       sparsity=st.sampled_from([0.3, 0.9]))
def test_polished_polygon_does_not_depend_on_its_float_start(norm_ulps, bias_ulps, sparsity):
    # The stored 60 digits of a finite-S polygon are converged ones: two float64 starts a few
    # ulps apart (what another machine's search hands over) polish to the same decimal string.
    # (Stopping at the verification bound 1e-40 left digits 45–60 to the start: the committed
    # tms-n2-m2-S0.9.json differed from a regeneration on another machine there.)
    model = TMSSparsePotential(2, 2, sparsity=sparsity)
    solution = next(s for s in solve_polygon_profile(model, 2) if s.norm > 0.5)
    norm, bias = float(solution.norm), float(solution.vertex_bias)
    starts = [(norm, bias), (_ulps_away(norm, norm_ulps), _ulps_away(bias, bias_ulps))]
    assert starts[0] != starts[1]
    polished = [polish_polygon(model, 2, *start, 60)[:2] for start in starts]
    assert [mpmath.nstr(v, 60) for v in polished[0]] == [mpmath.nstr(v, 60) for v in polished[1]]


def test_bias_on_the_all_zero_kink_takes_the_switched_off_side_whatever_its_sign():
    # The 1+ point at S = 0.9 (one live column of norm 1, its bias on b = 0, a + column): the
    # classification's Hessian must not depend on the sign of a rounding-level bias (a
    # polished b = +1.2e-47 gave 1 negative eigenvalue, b = −5.5e-47 gave 2). With the side of
    # hessian_side both equal the Hessian at b = 0 exactly, the switched-off side.
    from critpoints.solve.classify import BOUNDARY_TOLERANCE

    model = TMSSparsePotential(2, 2, sparsity=0.9)
    exact = model.flatten(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([0.0, 0.05]))
    reference = model.hessian(exact)
    for noise in (1.2e-47, -5.5e-47, 3e-13, -3e-13):
        theta = exact.copy()
        theta[model.m * model.n] = noise
        side = model.hessian_side(theta, atol=BOUNDARY_TOLERANCE)
        assert side == (0,)
        np.testing.assert_array_equal(model.hessian(theta, side=side), reference)
    theta[model.m * model.n] = 1.2e-47  # without the side, the sign of the noise decides
    assert (np.linalg.eigvalsh(model.hessian(theta)) < -1e-9).sum() != (
        np.linalg.eigvalsh(reference) < -1e-9).sum()
    assert model.hessian_side(exact + 1e-9, atol=BOUNDARY_TOLERANCE) is None


@pytest.mark.slow
def test_branch_points_run_monotonically_in_S_and_a_turn_is_a_fold(branches):
    """A branch's points go one way in S (a stretch crossed by arclength included): where
    the parameter turns, the record is a fold and its far side is kept apart (``beyond``)."""
    for branch in branches["branches"]:
        S = [p["sparsity"] for p in branch["points"]]
        assert all(a > b for a, b in pairwise(S)), branch["id"]
        beyond = (branch.get("fold") or {}).get("beyond")
        if beyond is not None:
            S = [p["sparsity"] for p in beyond["points"]]
            assert all(a < b for a, b in pairwise(S)), branch["id"]
        assert (branch["end"]["kind"] == "fold") == ("fold" in branch), branch["id"]


def _fold_records(branches):
    return [b for b in branches["branches"] if "fold" in b]


def test_a_fold_is_a_critical_point_with_one_more_zero_eigenvalue(branches):
    """Re-checked from the stored fold point: ∇L_S vanishes there, it lies beyond the branch's
    last point in S, and the full Hessian has an eigenvalue near zero that the last point does
    not have (the branch's index changes by one across it)."""
    for branch in _fold_records(branches):
        fold, last = branch["fold"], branch["points"][-1]
        model = TMSSparsePotential(6, 2, sparsity=fold["sparsity"])
        theta = np.array(fold["theta"])
        assert np.linalg.norm(model.gradient(theta)) <= 1e-8, branch["id"]
        assert fold["sparsity"] <= last["sparsity"], branch["id"]
        values = np.abs(np.linalg.eigvalsh(model.hessian(theta)))
        near_zero = int((values <= 1e-6 * values.max()).sum())
        assert near_zero == last["zero_modes"] + 1, (branch["id"], near_zero)
        if fold["passed"]:
            assert abs(fold["index_beyond"] - last["index"]) == 1, branch["id"]


def test_a_fold_partner_is_the_same_critical_point_on_the_common_grid(branches):
    """Where the far side of a fold is named as a followed branch, the two coincide up to
    O(2) × S_6 at every grid sparsity both hold (orbit distance, without the pre-filter)."""
    from critpoints.tms.symmetry import orbit_distance

    records = {b["id"]: b for b in branches["branches"]}
    grid = set(branches["settings"]["grid"])
    for branch in _fold_records(branches):
        partner = branch["fold"]["partner"]
        if partner is None:
            continue
        mine = {p["sparsity"]: p for p in branch["fold"]["beyond"]["points"]
                if p["sparsity"] in grid}
        theirs = {p["sparsity"]: p for p in records[partner["id"]]["points"]
                  if p["sparsity"] in grid}
        common = set(mine) & set(theirs)
        assert len(common) == partner["grid_points"] >= 1
        for S in common:
            a, b = (np.array(x["theta"]) for x in (mine[S], theirs[S]))
            assert orbit_distance(a[:12].reshape(2, 6), a[12:], b[:12].reshape(2, 6),
                                  b[12:]) <= 1e-6, (branch["id"], S)


def test_a_fold_far_side_without_a_partner_tends_to_a_limit_of_the_limits_file(branches):
    """A fold's far side that no followed branch continues, followed back to S = 0.999, must
    still tend to a critical point of the limit S → 1: it lies within 10(1 − S) of a limit of
    ``catalog/tms-n6-m2.limits.json`` (made by another search, the face problems on b ≤ 0)."""
    from critpoints.tms.symmetry import orbit_distance

    limits = json.loads(builtin_path("tms-n6-m2.limits.json").read_text())["limits"]
    checked = 0
    for branch in _fold_records(branches):
        fold = branch["fold"]
        beyond = fold.get("beyond")
        if fold["partner"] is not None or not beyond or beyond["end"]["kind"] != "reached":
            continue
        last = beyond["points"][-1]
        theta = np.array(last["theta"])
        W, b = theta[:12].reshape(2, 6), theta[12:]
        nearest = min(orbit_distance(W, b, np.array(p["W"], float), np.array(p["b"], float))
                      for p in limits)
        assert nearest <= 10 * (1 - last["sparsity"]), (branch["id"], nearest)
        checked += 1
    assert checked == sum(1 for b in _fold_records(branches)
                          if b["fold"]["partner"] is None
                          and (b["fold"].get("beyond") or {}).get("end", {}).get("kind")
                          == "reached")


def test_fold_partners_name_the_branch_the_far_side_is():
    """:func:`fold_partners` on records made up from one branch: its far side relabelled and
    rotated is found as that branch; moved by 10⁻⁵ it is not."""
    from critpoints.kgon.branches import GRID, fold_partners, sparsity_of

    rng = np.random.default_rng(3)
    grid = [round(sparsity_of(p), 12) for p in GRID[2:5]]
    points = [{"sparsity": float(f"{S:.12g}"), "loss": 0.1 * k,
               "theta": rng.standard_normal(18).tolist()} for k, S in enumerate(grid)]
    angle = 0.7
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    order = rng.permutation(6)

    def image(point, shift=0.0):
        theta = np.array(point["theta"])
        W = (R @ theta[:12].reshape(2, 6))[:, order] + shift
        return {**point, "theta": np.concatenate([W.ravel(), theta[12:][order]]).tolist()}

    for shift, expected in ((0.0, {"id": "a", "grid_points": 3}), (1e-5, None)):
        records = [{"id": "a", "points": points},
                   {"id": "b", "points": points[:1],
                    "fold": {"beyond": {"points": [image(p, shift) for p in points]},
                             "partner": None}}]
        fold_partners(records, 6, 2)
        assert records[1]["fold"]["partner"] == expected


#: A critical point of L_S at S = 0.362643639487 on the kink b₁ = 0 (column 1 live): the end
#: of `4++~1`'s branch in the file of 2026-12-04 (b₁ = 5·10⁻¹³ there).
ON_BIAS_KINK = [0.8212055301414487, -0.39946943109226585, -0.3609984914599494,
                -0.3609984914599863, 0.0, 0.0, 0.3578377451118382, 0.9167465154699634,
                -0.1573039652455909, -0.1573039652456059, 0.0, 0.0, 0.2583765045747921, 0.0,
                0.3321734718448413, 0.3321734718448423, 0.318678180256345, 0.318678180256345]


@settings(max_examples=8, deadline=None)
@given(rounding=st.floats(-1e-12, 1e-12))
def test_the_index_on_a_bias_kink_does_not_depend_on_the_sign_of_its_rounding(rounding):
    """One Hessian evaluation at :data:`ON_BIAS_KINK` reads a different index on each side of
    b₁ = 0; :func:`kink_spectrum` gives the larger one (the side with a descent) whatever the
    rounding of b₁."""
    from critpoints.kgon.branches import kink_spectrum

    model = TMSSparsePotential(6, 2, sparsity=0.362643639487)
    theta = np.array(ON_BIAS_KINK)
    theta[13] = rounding
    assert np.linalg.norm(model.gradient(theta)) <= 1e-10

    def index(values):
        return int((values < -1e-9 * max(1.0, np.abs(values).max())).sum())

    readings = set()  # single readings at two roundings of b₁ met in branch files
    for b1 in (-1e-15, 5e-13):
        single = theta.copy()
        single[13] = b1
        readings.add(index(np.linalg.eigvalsh(model.hessian(single))))
    assert len(readings) == 2  # a single reading does depend on the side
    assert index(kink_spectrum(model, theta, np.arange(18))[0]) == max(readings)


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_no_stored_minimum_on_a_kink_has_negative_curvature_on_either_side(branches, data):
    """An index-0 branch point on a bias kink (|b_j| ≤ 10⁻⁹) is read on both sides of it
    (b_j = ±10⁻³⁰, an evaluation independent of :func:`kink_spectrum`'s shifts): neither side
    has a negative eigenvalue."""
    on_kink = [(b["id"], p) for b in branches["branches"] for p in b["points"]
               if p["index"] == 0 and np.abs(np.array(p["theta"][12:])).min() <= 1e-9]
    assert on_kink
    ident, point = data.draw(st.sampled_from(on_kink))
    theta = np.array(point["theta"])
    near = np.flatnonzero(np.abs(theta[12:]) <= 1e-9)
    model = TMSSparsePotential(6, 2, sparsity=point["sparsity"])
    for sign in (-1.0, 1.0):
        shifted = theta.copy()
        shifted[12 + near] = sign * 1e-30
        values = np.linalg.eigvalsh(model.hessian(shifted))
        assert values.min() >= -1e-9 * max(1.0, np.abs(values).max()), (ident, point["sparsity"])


def test_every_stored_minimum_on_kinks_was_read_on_every_side(branches):
    """:func:`kink_spectrum` reads every sign pattern of the kinked columns only up to three
    of them (all-minus and all-plus beyond): so no index-0 branch point may sit on kinks of
    more than three columns, where a descent could hide on an unread side. (Saddles may: their
    index is then a lower bound, their verdict is not in doubt.)"""
    from critpoints.kgon.branches import KINK_ATOL

    beyond = []
    for record in branches["branches"]:
        for point in record["points"]:
            model = TMSSparsePotential(6, 2, sparsity=point["sparsity"])
            columns = {jump[1] for jump in model.hessian_jumps(np.array(point["theta"]),
                                                                KINK_ATOL)}
            if len(columns) > 3:
                beyond.append((record["id"], point["sparsity"], point["index"]))
    assert all(index > 0 for _, _, index in beyond), beyond


@pytest.mark.parametrize("n", range(1, 8))
def test_polygon_symmetry_generates_the_polygons_whole_group(n):
    """polygon_symmetry(n, k) generates the dihedral group of the k vertices times every
    permutation of the n − k zero columns (order 2k·(n − k)! for k ≥ 3, 2·(n − 2)! for k = 2,
    (n − 1)! for k = 1), and the regular k-gon with shared biases is invariant under it: the
    symmetric model evaluates it without refusing, to the full sum."""
    from critpoints.kgon.profile import polygon_symmetry

    for k in range(1, n + 1):
        generators = [tuple(g) for g in polygon_symmetry(n, k)]
        group, frontier = {tuple(range(n))}, [tuple(range(n))]
        while frontier:
            element = frontier.pop()
            for g in generators:
                product = tuple(g[i] for i in element)
                if product not in group:
                    group.add(product)
                    frontier.append(product)
        dihedral = 2 * k if k >= 3 else k
        assert len(group) == dihedral * math.factorial(n - k), (n, k)
        model = TMSSparsePotential(n, 2, sparsity=0.7)
        theta = polygon_theta(model, k, 1.05, -0.15, dead_feature_bias=-0.05)
        shared = model.with_symmetry(generators) if generators else model
        assert float(shared.loss(theta)) == pytest.approx(float(model.loss(theta)), rel=1e-13)
