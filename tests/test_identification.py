"""Identification of search results against known critical sets (issue 15, trust).

The n = 8, m = 3 catalog once listed one flat critical set twice, `8-~1` (minimum) and `8-~2`
(degenerate) at L = 0.0483515: a descent end whose small dead column was switched on by ~1e-8
was not a twin of `8-~1` in float64, and its 60-digit polish drove the activation to exactly 0,
onto the edge of `8-~1`'s flat set. Searches now identify a point again after its refinement.
"""

from __future__ import annotations

import json
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import critpoints.tms as tms
from critpoints.census.census import same_critical_set
from critpoints.kgon.enumerate import (
    Candidate,
    KnownOrbits,
    _examine_converged,
    inside_flat_sets,
    movable_dead_columns,
)
from critpoints.tms.model import TMSPotential
from critpoints.tms.symmetry import dead_outputs, live_part, normalise_flat_biases

ROOT = Path(__file__).resolve().parents[1]
TMS_CATALOGS = sorted((ROOT / "catalog").glob("tms-n*-m[0-9].json"))


def _search_duplicates(document: dict) -> list[str]:
    """Pairs of entries in one critical set (loss within 1e-9 and live parts equal up to
    O(m) × S_n, or a member of the same flat family) of which at least one was found by a
    search: the search compares every point with those found before it, so such a pair is a
    point catalogued twice. (Pattern entries are representatives of their pattern and may
    share a set: `2` and `4--{0,2}`.)"""
    points = document["critical_points"]
    keys = [(p["loss"], live_part(np.array(p["W"]), np.array(p["b"]))) for p in points]
    out = []
    for i, point in enumerate(points):
        if point["origin"] == "pattern":
            continue
        others = [keys[j] for j in range(len(points)) if j != i]
        j = same_critical_set(*keys[i], others)
        if j is not None:
            j += j >= i
            out.append(f"{point['id']} ({point['origin']}) lies in the critical set of "
                       f"{points[j]['id']} (L = {point['loss']:.12f})")
    return out


@pytest.mark.parametrize("path", TMS_CATALOGS, ids=lambda p: p.name)
def test_no_search_result_is_catalogued_twice(path):
    assert _search_duplicates(json.loads(path.read_text(encoding="utf-8"))) == []


def test_the_duplicate_check_catches_the_old_defect():
    """The two entries of the old n = 8, m = 3 catalog (float64 parts; column 7 is dead in both,
    at the top of its flat interval in the second)."""
    document = json.loads((ROOT / "catalog" / "tms-n8-m3.json").read_text(encoding="utf-8"))
    point = _entry_at(document, 0.04835147659732468)
    twin = dict(point, id="8-~2", origin="landscape-search")
    W, b = np.array(point["W"]), np.array(point["b"])
    W[:, 7] *= 2.0  # another representative: the dead column longer, its bias at its top
    b[7] = -max(0.0, float((W.T @ W)[:, 7].max()))
    twin["W"], twin["b"] = W.tolist(), b.tolist()
    assert len(_search_duplicates({"critical_points": [point, twin]})) == 2


def _entry_at(document: dict, loss: float) -> dict:
    return next(p for p in document["critical_points"] if abs(p["loss"] - loss) < 1e-12)


def test_a_search_end_refined_onto_the_edge_of_a_known_flat_set_is_not_new():
    """The float64 end has the small dead column of the n = 8, m = 3 minimum at L = 0.0483515
    switched on by 1e-8 (so its live part has one column more than the known point's); the
    60-digit refinement switches it off exactly. Identified from the float64 end alone it was a
    new point; identified again after the refinement it lies in the known set."""
    document = json.loads((ROOT / "catalog" / "tms-n8-m3.json").read_text(encoding="utf-8"))
    point = _entry_at(document, 0.04835147659732468)
    with mpmath.workdps(60):
        W = np.array([[mpmath.mpf(v) for v in row] for row in point["W_exact"]], dtype=object)
        b = np.array([mpmath.mpf(v) for v in point["b_exact"]], dtype=object)
    known = KnownOrbits.of([Candidate(None, W, b, False, -1, None, "random-search")])
    W_end, b_end = np.array(point["W"]), np.array(point["b"])
    dead = np.flatnonzero(dead_outputs(W_end, b_end) & (np.abs(W_end).sum(axis=0) > 0))
    assert len(dead) == 1
    j = int(dead[0])
    b_end[j] = -float((W_end.T @ W_end)[:, j].max()) + 1e-8
    assert live_part(W_end, b_end)[0].shape[1] == live_part(W, b)[0].shape[1] + 1
    outcome, _, new = _examine_converged(TMSPotential(8, 3), W_end, b_end, None, known, 60)
    assert (outcome, new) == ("in_catalogued_sets", None)


def _dead_biases_at_an_edge(document: dict) -> list[str]:
    """Dead outputs whose bias is at (within 1e-9 of) the top of its flat interval."""
    out = []
    for point in document["critical_points"]:
        W, b = np.array(point["W"]), np.array(point["b"])
        top = normalise_flat_biases(W, b)  # each dead bias at the top of its flat interval
        for j in np.flatnonzero(dead_outputs(W, b) & (b > top - 1e-9)):
            out.append(f"{point['id']}: b[{j}] = {b[j]:.9f} at the top {top[j]:.9f}")
    return out


@pytest.mark.parametrize("path", TMS_CATALOGS, ids=lambda p: p.name)
def test_no_committed_dead_output_sits_on_its_activation_boundary(path):
    """Every dead output of a committed entry is strictly dead: a representative with a dead
    bias at the top of its flat interval sits on an activation boundary, where the Hessian takes
    the boundary convention and no Krawczyk box lies in one region (401 of 3 767 entries were
    stored so before the searches moved such biases inside; 4 smooth minima among them were
    left uncertified, `9-~1` classified degenerate without λ)."""
    assert _dead_biases_at_an_edge(json.loads(path.read_text(encoding="utf-8"))) == []


def _mp(values):
    return np.array([[mpmath.mpf(float(v)) for v in row] for row in np.atleast_2d(values)],
                    dtype=object)


def _unchanged_loss_and_gradient(W, b, V, c):
    assert abs(tms.loss(V, c, 60) - tms.loss(W, b, 60)) < mpmath.mpf(10) ** -50
    gW, gb = tms.gradient(W, b, 60)
    mW, mb = tms.gradient(V, c, 60)
    assert max(abs(x - y) for x, y in zip(np.ravel(gW), np.ravel(mW))) < mpmath.mpf(10) ** -50
    assert max(abs(x - y) for x, y in zip(gb, mb)) < mpmath.mpf(10) ** -50


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 3), st.integers(2, 6), st.integers(0, 2**32 - 1), st.booleans(),
       st.booleans())
def test_inside_flat_sets_moves_flat_coordinates_only(m, n, seed, zero_column, plus_column):
    """A dead output with its bias at the top of its flat interval (a dead vertex, or a zero
    column at b = 0): the bias moves strictly inside, by max(|top|, 1/(2n)), as does every
    other dead output's; live outputs' columns and biases do not move; the loss and the
    gradient at 60 digits are unchanged (also beside a positive-bias zero column, whose ∂L/∂W
    carries every column); the result is a fixed point."""
    rng = np.random.default_rng(seed)
    with mpmath.workdps(60):
        Wf = rng.normal(size=(m, n))
        j = int(rng.integers(n))
        if zero_column:
            Wf[:, j] = 0.0
        bf = rng.normal(size=n) * 0.3
        if plus_column and n > 2:  # a `+` column beside j
            Wf[:, (j + 1) % n] = 0.0
            bf[(j + 1) % n] = 0.2
        G = Wf.T @ Wf
        W, b = _mp(Wf), _mp(bf)[0]
        column = [sum((W[r, i] * W[r, j] for r in range(m)), mpmath.mpf(0)) for i in range(n)]
        top = -max(mpmath.mpf(0), max(column))
        b[j] = top
        for i in range(n):  # keep every other output strictly off its own edge
            if i != j and -max(0.0, float(G[:, i].max())) - float(b[i]) < 1e-6:
                b[i] += mpmath.mpf("0.5")
        candidate = Candidate(None, W, b, False, -1, None, "random-search")
        moved = inside_flat_sets(candidate, 60)
        # the top of the moved point (a movable column j moves, and its top with it)
        top = -max(mpmath.mpf(0), max(
            mpmath.fsum(moved.W[r, i] * moved.W[r, j] for r in range(m)) for i in range(n)))
        assert abs(moved.b[j] - (top - max(abs(top), mpmath.mpf(1) / (2 * n)))) < 1e-55
        dead = dead_outputs(W.astype(float), b.astype(float), 1e-9)
        for i in np.flatnonzero(~dead):  # a live output's column and bias do not move
            assert moved.b[i] == b[i]
            assert all(moved.W[r, i] == W[r, i] for r in range(m))
        assert dead_outputs(moved.W.astype(float), moved.b.astype(float), -1e-12)[dead].all()
        _unchanged_loss_and_gradient(W, b, moved.W, moved.b)
        assert inside_flat_sets(moved, 60) is moved


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 3), st.integers(3, 6), st.integers(0, 2**32 - 1),
       st.floats(1e-13, 1e-10), st.booleans(), st.booleans())
def test_a_movable_dead_column_is_placed_the_same_from_noisy_ends(m, n, seed, noise, on_kink,
                                                                   plus_column):
    """A dead column whose input switches nothing on (the flat column of a search's end): two
    ends that differ by float64 noise in it give the same stored representative (rounded to 4
    digits of its norm), strictly inside its flat set; one whose input sits on another output's
    kink (the `8-~1` representative of the n = 8, m = 3 census) is moved off it. Beside a
    positive-bias zero column (`+`) the column is not flat — that output's ∂L/∂W carries it —
    and stays where it is. Loss and gradient do not change."""
    rng = np.random.default_rng(seed)
    with mpmath.workdps(60):
        Wf = rng.normal(size=(m, n))
        bf = -0.5 - rng.random(n)  # every output's bias negative: input j can be dead
        if plus_column:
            Wf[:, 0], bf[0] = 0.0, 0.2
        j = n - 1
        # column j small and pointing away from the others: its input switches nothing on
        direction = -Wf[:, :j].sum(axis=1)
        direction /= np.linalg.norm(direction)
        scale = 0.9 * min(-bf[i] / max(Wf[:, i] @ direction, 1e-9) for i in range(j)
                          if bf[i] < 0)
        Wf[:, j] = direction * min(scale, 0.5)
        dots = Wf[:, :j].T @ Wf[:, j]
        kink = int(np.argmax(dots))
        if on_kink:  # an input pre-activation 0, on a negative bias
            assume(dots[kink] > 1e-3)
            bf[kink] = -dots[kink]
        G = Wf.T @ Wf
        bf[j] = -max(0.0, G[:, j].max()) - 0.1  # output j strictly dead
        W, b = _mp(Wf), _mp(bf)[0]
        if on_kink:  # exactly 0 at 60 digits, not a float64 residue
            b[kink] = -mpmath.fsum(W[r, kink] * W[r, j] for r in range(m))
        assert movable_dead_columns(Wf, bf)[j] == (not plus_column)
        first = inside_flat_sets(Candidate(None, W, b, False, -1, None, "random-search"), 60)
        _unchanged_loss_and_gradient(W, b, first.W, first.b)
        if plus_column:
            assert all(x == y for x, y in zip(first.W.ravel(), W.ravel()))
            return
        noisy = W.copy()
        noisy[:, j] = [v + mpmath.mpf(noise) * (1 if r % 2 else -1) for r, v in
                       enumerate(W[:, j])]
        second = inside_flat_sets(Candidate(None, noisy, b, False, -1, None, "random-search"),
                                  60)
        assert all(x == y for x, y in zip(first.W.ravel(), second.W.ravel()))
        assert all(x == y for x, y in zip(first.b, second.b))
        V, c = first.W.astype(float), first.b.astype(float)
        pre = V[:, :j].T @ V[:, j] + c[:j]
        assert pre.max() < -1e-6


@pytest.mark.parametrize("residue", ["1e-45", "-1e-45", "0"])
def test_a_kink_bias_residue_does_not_pick_the_hessian_certificate(residue):
    """`5~2` of n = 5 has every bias on a kink (b = 0, W_i·W_j = 0): its stored biases are exact
    zeros now, but a residue of either sign below the stored digits once made the certificate's
    Hessian (evaluated at the bare point) claim index exactly 1 on one machine and exactly 2 on
    another. Over the box the block ball touches 0 whichever the residue: one verdict."""
    from critpoints.proofs.annotate import annotate

    entry = next(e for e in json.loads((ROOT / "catalog" / "tms-n5-m2.json").read_text(
        encoding="utf-8"))["critical_points"] if e["id"] == "5~2")
    entry = dict(entry, b_exact=[residue] * 5)
    certificate, _ = annotate(entry, 5, 60)
    assert not certificate["proved"]
    assert certificate["hessian"]["reason"].startswith("on an activation boundary")
    assert "claim" not in certificate["hessian"]


@pytest.mark.parametrize("ident", ["5~1", "5-~4"])
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_polish_to_digits_stores_the_same_digits_from_any_nearby_start(ident, seed):
    """Two float64 starts near an isolated irregular point of n = 5 (`5~1`, a smooth saddle;
    `5-~4`, with a dead column on kinks) that differ by 1e-13 noise (other BLAS kernels end a
    search in other last bits): polish_to_digits, the canonical gauge and the flat-set placement
    give the same 60-digit strings, and the catalog's. (Points on continua, like `5-~7` with
    three coincident columns that can split, do not: docs/catalog.md.)"""
    from critpoints.kgon.enumerate import EntryCache, _decimal
    from critpoints.solve import polish_to_digits

    entry = next(e for e in json.loads((ROOT / "catalog" / "tms-n5-m2.json").read_text(
        encoding="utf-8"))["critical_points"] if e["id"] == ident)
    W, b = np.array(entry["W"]), np.array(entry["b"])
    model = TMSPotential.of(W)
    rng = np.random.default_rng(seed)
    stored = []
    for _ in range(2):
        theta = model.flatten(W, b) + 1e-13 * rng.standard_normal(model.dim)
        result = polish_to_digits(model, theta, 60)
        assert result.success
        V, c = result.parameters
        placed = EntryCache().canonicalised(Candidate(None, V, c, False, -1, None,
                                                      "random-search"), 60)
        stored.append(([_decimal(v, 60) for v in placed.W.ravel()],
                       [_decimal(v, 60) for v in placed.b]))
    assert stored[0] == stored[1]
    assert stored[0] == ([v for row in entry["W_exact"] for v in row], entry["b_exact"])
