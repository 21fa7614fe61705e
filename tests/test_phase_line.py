"""The phase line along S (``phase-diagram --n 6 --hidden 2``): which critical point is the
lowest minimum at each sparsity, its located boundaries, the committed document re-checked
from its numbers, bad input."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.cli import main
from critpoints.kgon.branches import parameter_of, sparsity_of
from critpoints.kgon.sparsity_line import (
    LinePoint,
    _Solver,
    phase_line,
    shape_label,
    solve_branch,
)
from critpoints.store import builtin_path, load_document
from critpoints.tms import TMSSparsePotential


@pytest.fixture(scope="module")
def branches():
    return load_document(builtin_path("tms-n6-m2.sparsity.json"), "critpoints.sparsity-branches")


def _only(document: dict, ids) -> dict:
    return {**document, "branches": [b for b in document["branches"] if b["id"] in ids]}


def test_hexagon_gives_way_to_the_pentagon_where_their_losses_are_equal(branches):
    """With only the branches 6 and 5⁺: one equal-loss boundary, re-solved independently at
    the root (equal losses), and the order of the two losses flips across it."""
    line = phase_line(_only(branches, {"6", "5+"}))
    (boundary, *rest) = line.boundaries
    assert (boundary.sparse, boundary.dense, boundary.kind) == ("6", "5+", "equal-loss")
    assert 0.9 < boundary.sparsity < 0.944  # the grid points where the winner is 6, then 5+
    records = {b["id"]: b for b in branches["branches"]}
    at = {i: solve_branch(records[i], boundary.sparsity, 6) for i in ("6", "5+")}
    assert at["6"].index == at["5+"].index == 0
    # a root to |Δp| ≤ 10⁻⁹: |L_6 − L_5+| ≤ |d(L_6 − L_5+)/dp| · 10⁻⁹ ≲ 10⁻¹⁰ L
    assert abs(at["6"].loss - at["5+"].loss) <= 1e-10 * at["6"].loss
    for step, lower in ((+2e-3, "6"), (-2e-3, "5+")):
        S = boundary.sparsity + step
        losses = {i: solve_branch(records[i], S, 6).loss for i in ("6", "5+")}
        assert min(losses, key=losses.get) == lower
    assert all(b.kind in ("equal-loss", "stability") for b in rest)
    assert line.intervals[0]["id"] == "6" and line.intervals[0]["from"] == 1.0


def test_stability_boundary_is_where_the_winner_stops_being_a_minimum(branches):
    """5⁺ alone against 3⁺⁺⁺: the line leaves 5⁺ where 5⁺ gets index 2 (bisection on the
    re-solved index, between the continuation points that bracket the index change)."""
    line = phase_line(_only(branches, {"5+", "3+++"}))
    boundary = next(b for b in line.boundaries if b.sparse == "5+")
    assert boundary.kind == "stability" and boundary.unstable == "5+"
    event = next(e for b in branches["branches"] if b["id"] == "5+" for e in b["events"]
                 if e["kind"] == "index-change" and e["index"] == [0, 2])
    high, low = event["between"]
    assert low < boundary.sparsity < high
    record = next(b for b in branches["branches"] if b["id"] == "5+")
    assert solve_branch(record, boundary.sparsity + 1e-6, 6).index == 0
    assert solve_branch(record, boundary.sparsity - 1e-6, 6).index == 2
    assert boundary.loss_gap > 0  # the line jumps up to the next minimum


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, 6), plus=st.integers(0, 6), dead=st.integers(0, 6),
       seed=st.integers(0, 2**32 - 1))
def test_shape_label_follows_the_catalog_grammar(k, plus, dead, seed):
    """k nonzero columns of which ``dead`` have an output dead on the whole cube (bias below
    −Σ_i max(G_ij, 0)), ``plus`` zero columns with a positive bias, the rest zero columns with
    a negative bias (not written): the label k, '+' × plus, '-' × dead, as label_of writes it."""
    from critpoints.kgon.patterns import label_of

    n, m = 6, 2
    plus, dead = min(plus, n - k), min(dead, k)
    rng = np.random.default_rng(seed)
    W = np.zeros((m, n))
    W[:, :k] = rng.normal(size=(m, k)) + 0.1 * np.sign(rng.normal(size=(m, k)))
    G = W.T @ W
    top = np.maximum(G, 0.0).sum(axis=0)
    b = np.concatenate([np.zeros(k), rng.uniform(0.01, 1, plus),
                        -rng.uniform(0.01, 1, n - k - plus)])
    b[:dead] = -top[:dead] - rng.uniform(0.01, 1, dead)
    b[dead:k] = -top[dead:k] + rng.uniform(0.01, 1, k - dead)
    label = shape_label(np.concatenate([W.ravel(), b]), n, m)
    assert label == label_of(k, plus, dead)


# ----------------------------------------------------------------------------------------------
# The committed document


@pytest.fixture(scope="module")
def line_document():
    path = builtin_path("tms-n6-m2.phase-line.json")
    return load_document(path, "critpoints.phase-line")


def test_committed_line_is_current_with_its_branches_file(line_document, branches):
    assert line_document["branches"]["command"] == branches["generator"]["command"]
    assert line_document["command"].startswith("python -m critpoints phase-diagram --n 6 "
                                               "--hidden 2")
    intervals = line_document["intervals"]
    assert intervals[0]["from"] == 1.0 and intervals[-1]["to"] == 0.0
    for a, b in pairwise(intervals):
        assert a["to"] == b["from"] and a["id"] != b["id"]
    for interval in intervals:
        assert interval["from"] > interval["to"], interval  # no zero-width interval
    located = [b["sparsity"] for b in line_document["boundaries"]]
    assert located == sorted(located, reverse=True)


def test_each_winner_beats_its_neighbours_inside_its_interval(line_document, branches):
    """At the middle of every interval (in log₁₀(1 − S)) the winner, re-solved there from its
    stored branch, is a minimum, and no lower than it is either neighbouring interval's
    winner re-solved there (where that one is a minimum)."""
    records = {b["id"]: b for b in branches["branches"]}
    records.update({d["id"]: d for d in line_document["discovered"]})
    intervals = [i for i in line_document["intervals"] if i["id"] is not None]
    for k, interval in enumerate(intervals):
        p = 0.5 * (parameter_of(min(interval["from"], 1 - 1e-3))
                   + parameter_of(interval["to"]))
        S = 1 - 10**p
        winner = solve_branch(records[interval["id"]], S, 6)
        assert winner is not None and winner.index == 0, (interval, S)
        for other in intervals[max(k - 1, 0): k + 2]:
            if other["id"] == interval["id"]:
                continue
            rival = solve_branch(records[other["id"]], S, 6)
            if rival is not None and rival.index == 0:
                assert winner.loss <= rival.loss + 1e-12, (interval, other, S)


def test_committed_boundaries_recheck_from_the_stored_branches(line_document, branches):
    """Every equal-loss boundary: both points re-solved at the stored S from the stored
    branches (or discovered records) are minima with equal losses; every stability boundary:
    the one called unstable changes index across it."""
    records = {b["id"]: b for b in branches["branches"]}
    records.update({d["id"]: d for d in line_document["discovered"]})
    for boundary in line_document["boundaries"]:
        S = boundary["sparsity"]
        a = solve_branch(records[boundary["sparse"]], S, 6)
        b = solve_branch(records[boundary["dense"]], S, 6)
        if boundary["kind"] == "equal-loss":
            assert a.index == b.index == 0
            assert abs(a.loss - b.loss) <= 1e-10 * max(1.0, a.loss), boundary
            assert a.loss == pytest.approx(boundary["loss_sparse"], rel=1e-9)
        elif boundary["kind"] == "stability":
            record = records[boundary["unstable"]]
            indices = [getattr(solve_branch(record, S + d, 6), "index", None)
                       for d in (1e-6, -1e-6)]
            assert indices[0] != indices[1] or None in indices, boundary


def test_committed_boundaries_are_certified_brackets(line_document, branches):
    """Every boundary of the committed line is located and carries a certified bracket, and the
    brackets re-check from the stored branches: equal-loss, both branches polished at 60
    digits on the full potential (no pinned coordinates) at the two stored float sparsities,
    L_dense − L_sparse has the stored value (20 digits) and changes sign; stability, the
    unstable branch's smallest nonzero eigenvalue (float64, far above its error) changes
    sign between them."""
    import mpmath

    from critpoints.solve.newton import polish

    records = {b["id"]: b for b in branches["branches"]}
    records.update({d["id"]: d for d in line_document["discovered"]})
    located = line_document["boundaries"]
    # every change of the committed line is located (an 'unresolved' one is a change the
    # re-solved branches did not confirm: the line is not settled there)
    assert located and all(b["kind"] != "unresolved" for b in located), located
    for boundary in located:
        certificate = boundary["certificate"]
        assert certificate["certified"], boundary
        assert certificate["lower"] < boundary["sparsity"] < certificate["upper"]
        ends = (certificate["upper"], certificate["lower"])  # sparse end first
        if boundary["kind"] == "equal-loss":
            gaps = []
            for S, stored in zip(ends, certificate["loss_gaps"]):
                model = TMSSparsePotential(6, 2, sparsity=S)
                losses = []
                for ident in (boundary["sparse"], boundary["dense"]):
                    point = solve_branch(records[ident], S, 6)
                    assert point.index == 0
                    refined = polish(model, point.theta, dps=60,
                                     tol=mpmath.mpf(10) ** -40)
                    assert refined.success
                    losses.append(model.loss(refined.theta, dps=60))
                with mpmath.workdps(60):
                    gap = losses[1] - losses[0]
                    assert abs(gap - mpmath.mpf(stored)) <= 1e-18 * abs(gap)
                gaps.append(gap)
            assert gaps[0] > 0 > gaps[1]
        else:
            smallest = []
            for S in ends:
                point = solve_branch(records[boundary["unstable"]], S, 6)
                values = np.linalg.eigvalsh(TMSSparsePotential(6, 2, sparsity=S)
                                            .hessian(point.theta))
                smallest.append(min(v for v in values if abs(v) > 1e-12))
            assert smallest[0] * smallest[1] < 0


@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_discovered_points_are_critical_with_their_stored_index(line_document, data):
    """A stored point of a minimum found by multi-start and followed in S: ‖∇L_S‖ ≤ 10⁻¹⁰
    re-evaluated from its θ, and the full Hessian's index as stored."""
    discovered = [d for d in line_document["discovered"] if d["points"]]
    if not discovered:
        pytest.skip("no discovered minima in the committed line")
    record = data.draw(st.sampled_from(discovered))
    point = data.draw(st.sampled_from(record["points"]))
    model = TMSSparsePotential(6, 2, sparsity=point["sparsity"])
    theta = np.array(point["theta"])
    assert np.linalg.norm(model.gradient(theta)) <= 1e-10
    eigenvalues = np.linalg.eigvalsh(model.hessian(theta))
    tolerance = 1e-9 * max(1.0, float(np.abs(eigenvalues).max()))
    assert int((eigenvalues < -tolerance).sum()) == point["index"]
    assert shape_label(theta, 6, 2) == record["label"] or point["sparsity"] != record["found_at"]


def test_the_face_minimum_enters_the_line_from_the_limits(line_document):
    """found-2 (critical only on the face b_6 = 0 as S → 1) is started from the constrained
    minimum of the limits file, not left to the multi-start checks, and wins a stretch of S."""
    origins = {d["id"]: d.get("found_by") for d in line_document["discovered"]}
    from_limits = [i for i, origin in origins.items() if (origin or "").startswith("limit ")]
    assert from_limits
    assert any(interval["id"] in from_limits for interval in line_document["intervals"])


def test_committed_checks_compare_with_the_line(line_document):
    """The independent multi-start points: the stored best θ has the stored loss, and a check
    that says "no violation" has that loss at or above the line."""
    for check in line_document["completeness"]["checks"]:
        if check["best_loss"] is None:
            continue
        model = TMSSparsePotential(6, 2, sparsity=check["sparsity"])
        assert float(model.loss(np.array(check["best_theta"]))) == pytest.approx(
            check["best_loss"], rel=1e-10)
        if not check["violation"]:
            assert check["best_loss"] >= check["line_loss"] - 1e-9 * max(1.0,
                                                                          check["line_loss"])
        # between the grid points: the middle (in p) of two consecutive grid sparsities
        ps = [parameter_of(g["sparsity"]) for g in line_document["grid"]]
        middles = [round(1 - 10 ** (0.5 * (a + b)), 12) for a, b in pairwise(ps)]
        assert check["sparsity"] in middles


# ----------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("argv, message", [
    (["--n", "6", "--hidden", "2", "--grid", "5"], "--grid: only for the planes"),
    (["--n", "7", "--hidden", "2"], "no shipped tms-n7-m2.sparsity.json for the phase line"),
    (["--n", "2", "--hidden", "1", "--no-discovery"], "for the phase line along S"),
    (["--n", "2", "--hidden", "1", "--no-limits"], "for the phase line along S"),
    (["--n", "5", "--hidden", "2", "--branches", str(builtin_path("tms-n6-m2.sparsity.json"))],
     "the branches are of n = 6"),
])
def test_bad_line_input_is_rejected_before_computing(argv, message, capsys):
    assert main(["phase-diagram", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_corrupt_branches_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "b.json"
    bad.write_text('{"schema_name": "critpoints.sparsity-branches", "schema_version": 1}')
    assert main(["phase-diagram", "--n", "6", "--hidden", "2", "--branches", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "b.json" in err and err.count("\n") == 1


@pytest.mark.parametrize("tamper, message", [
    (lambda d: d["branches"][0]["points"][1].__setitem__("sparsity", 7.0), "outside [0, 1]"),
    (lambda d: d["branches"][0]["points"][1]["theta"].pop(), "theta is not"),
    (lambda d: d["branches"][0]["points"][1]["theta"].__setitem__(0, 1e300), "theta is not"),
    (lambda d: d["model"].__setitem__("importance", [1.0]), "model.importance"),
])
def test_a_tampered_branches_file_is_one_line(tamper, message, tmp_path, capsys):
    """Schema-valid but unusable branches (a sparsity of 7, a short or huge θ, one importance
    for six features) were tracebacks from the phase line."""
    document = load_document(builtin_path("tms-n6-m2.sparsity.json"),
                             "critpoints.sparsity-branches")
    tamper(document)
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps(document), encoding="utf-8")
    assert main(["phase-diagram", "--n", "6", "--hidden", "2", "--branches", str(bad),
                 "--out", str(tmp_path / "line.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


_ID = st.builds(lambda k, signs, pair: f"{k}{signs}" + (f"{{{pair[0]},{pair[1]}}}" if pair else ""),
                st.integers(0, 12), st.text("+-~0123456789", max_size=6),
                st.one_of(st.none(), st.tuples(st.integers(0, 9), st.integers(0, 9))))


@given(ids=st.lists(_ID, min_size=1, max_size=8))
def test_id_lists_keep_the_commas_inside_braces(ids):
    """``--ids 6,4++--{0,1},5+``: the comma of a dead-vertex pair belongs to its id."""
    from critpoints.cli.options import split_ids

    assert split_ids(",".join(ids)) == ids


@settings(max_examples=60, deadline=None)
@given(sparse=st.integers(1, 8), dense=st.integers(1, 12), late=st.integers(0, 11),
       seed=st.integers(0, 2**32 - 1))
def test_a_change_past_the_nearest_grid_points_is_still_located(sparse, dense, late, seed):
    """Two branches whose losses cross at p*, on a grid where the provisional winners put the
    change ``late`` grid points too early (the dense side's first points still belong to A):
    the boundary is an equal-loss root at p* to the bisection tolerance, however many points
    of B's run A still wins (a dense grid of branch points), never 'unresolved'."""
    from types import SimpleNamespace

    from critpoints.kgon.sparsity_line import PTOL, _boundary

    late = min(late, dense - 1)
    grid = np.sort(np.random.default_rng(seed).uniform(-3.0, 0.0, sparse + dense))
    if late + 1 < dense:
        crossing = 0.5 * (grid[sparse + late] + grid[sparse + late + 1])
    else:  # A wins on all of B's run but a last point past the crossing
        crossing = grid[-1] + 0.1
        grid = np.append(grid, grid[-1] + 0.2)

    def loss(track, p):  # A's loss (slope 1) is below B's (slope 1/2) for p < p*
        slope = 1.0 if track.id == "A" else 0.5
        return 1.0 + slope * (p - crossing)

    solve = _Exact(loss)

    tracks = [SimpleNamespace(id=i, alive=lambda p: True) for i in "AB"]
    by_id = {t.id: t for t in tracks}
    boundary = _boundary(solve, tracks, by_id, "A", "B", list(grid[:sparse]),
                         list(grid[sparse:]))
    assert boundary.kind == "equal-loss"
    assert abs(parameter_of(boundary.sparsity) - crossing) <= 10 * PTOL


class _Exact(_Solver):
    """Branches 'solved' by an exact loss function of (track, p): minima wherever alive."""

    def __init__(self, loss):
        super().__init__(1, 1, None)
        self.loss = loss

    def _solve(self, track, p):
        if not track.alive(p):
            return None
        return LinePoint(track.id, sparsity_of(p), self.loss(track, p), 0.0, 0, None)


def _synthetic_track(ident: str, ps, loss):
    """A followed branch of a 1 × 1 model stored at ``ps`` with the exact ``loss``."""
    from critpoints.kgon.sparsity_line import _Track

    points = [{"sparsity": sparsity_of(p), "loss": loss(p), "index": 0, "grad_norm": 0.0,
               "theta": [1.0, 0.0]} for p in ps]
    return _Track({"id": ident, "points": points}, 1, 1)


@settings(max_examples=40, deadline=None)
@given(depth=st.floats(0.002, 0.09), deep=st.floats(0.2, 0.5), dense=st.integers(2, 10),
       seed=st.integers(0, 2**32 - 1))
def test_a_winner_misordered_by_interpolation_is_decided_by_solving(depth, deep, dense, seed):
    """A dips below its stored points between them where B, stored densely, dips half as
    far: every interpolation of A lies above B there, so B is the provisional winner of that
    stretch although A is lower everywhere. The re-solved branches show A winning on all of
    B's run; within :data:`BAND` the run is decided again by solving, and the line is A
    alone, with no boundary. Beyond the band, the change stays reported as 'unresolved',
    never located."""
    from critpoints.kgon.sparsity_line import BAND, _settled_line

    # A's interpolations (1) lie within the band above B's lowest point (1 − depth/2, at
    # p = −1.5, always stored), and beyond it for ``deep``
    assert 1.0 <= (1 + BAND) * (1 - 0.5 * depth) and 1.0 > (1 + BAND) * (1 - 0.5 * deep)

    def dip(p):
        return np.sin(np.pi * (p + 2.0)) ** 2 if -2.0 <= p <= -1.0 else 0.0

    for d, decided in ((depth, True), (deep, False)):
        exact = {"A": lambda p, d=d: 1.0 - d * dip(p), "B": lambda p, d=d: 1.0 - 0.5 * d * dip(p)}
        inside = np.sort([-1.5, *np.random.default_rng(seed).uniform(-1.95, -1.05, dense)])
        tracks = [_synthetic_track("A", [-3.0, -2.0, -1.0, 0.0], exact["A"]),
                  _synthetic_track("B", list(inside), exact["B"])]
        by_id = {t.id: t for t in tracks}

        solve = _Exact(lambda track, p, exact=exact: exact[track.id](p))
        runs, boundaries = _settled_line(solve, tracks, by_id)
        if decided:
            assert [w for w, _ in runs] == ["A"] and boundaries == []
        else:
            assert [w for w, _ in runs] == ["A", "B", "A"]
            assert [b.kind for b in boundaries] == ["unresolved", "unresolved"]


def test_solves_in_the_pool_are_the_solves_here(branches):
    """``_Solver.prefill`` with two worker processes caches the same points, to the bit, as
    solving the same (branch, S) pairs in this process (the phase line's bytes do not depend
    on ``--workers``)."""
    from critpoints.kgon.sparsity_line import _Track

    records = {b["id"]: b for b in branches["branches"]}
    tracks = [_Track(records[i], 6, 2) for i in ("6", "5+")]
    jobs = [(t, parameter_of(S)) for t in tracks for S in (0.95, 0.887)]
    here, pooled = _Solver(6, 2, None), _Solver(6, 2, None, workers=2)
    here.prefill(jobs)
    pooled.prefill(jobs)
    assert here.solves == pooled.solves == len(jobs)
    for key, point in here.cache.items():
        other = pooled.cache[key]
        assert point is not None and other is not None
        assert (point.loss, point.grad_norm, point.index) == (other.loss, other.grad_norm,
                                                              other.index)
        assert np.array_equal(point.theta, other.theta)
