"""The limits S → 1 of finite-sparsity critical points (critpoints.tms.limits): KKT points of
the one-hot potential on b ≤ 0, checked from the committed files' own numbers, against the
finite-sparsity potential itself, and against one-sided finite differences."""

from __future__ import annotations

import json
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.cli import main
from critpoints.solve import find_critical_points
from critpoints.store import load_document
from critpoints.tms import TMSSparsePotential
from critpoints.tms.limits import MULTIPLIER_ZERO, bounded_descent, kkt_residuals
from critpoints.tms.model import TMSPotential

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "catalog").glob("tms-n*-m*.limits.json"))


def _document(n: int) -> dict:
    return json.loads((ROOT / "catalog" / f"tms-n{n}-m2.limits.json").read_text("utf-8"))


def test_committed_limit_files_exist():
    assert {path.name for path in FILES} >= (
        {f"tms-n{n}-m2.limits.json" for n in range(2, 7)}
        | {f"tms-n{n}-m3.limits.json" for n in (4, 5, 6)})


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_committed_limits_are_kkt_points_at_their_precision(path):
    """From the stored 60-digit numbers: the gradient off the face vanishes, the face's biases
    are 0, the free ones ≤ 0, and the multipliers (derivatives from b > 0) are the stored ones
    and ≥ 0; the loss is the stored one."""
    document = load_document(path, "critpoints.limits")
    n, m = document["model"]["n"], document["model"]["m"]
    digits = document["precision_digits"]
    potential = TMSPotential(n, m)
    assert document["summary"]["limits"] == len(document["limits"])
    for point in document["limits"]:
        with mpmath.workdps(digits):
            W = np.array([[mpmath.mpf(v) for v in row] for row in point["W_exact"]], dtype=object)
            b = np.array([mpmath.mpf(v) for v in point["b_exact"]], dtype=object)
            assert all(b[j] == 0 for j in point["face"]), point["id"]
            theta = potential.flatten(W, b)
            norm, multipliers, top = kkt_residuals(potential, theta, point["face"], dps=digits)
            assert norm <= mpmath.mpf(10) ** (20 - digits), point["id"]
            assert top is None or top <= MULTIPLIER_ZERO, point["id"]
            loss = potential.loss(theta, dps=digits)
            assert abs(loss - mpmath.mpf(point["loss_exact"])) < mpmath.mpf(10) ** (15 - digits)
        for stored, computed in zip(point["multipliers"], multipliers):
            assert computed >= -MULTIPLIER_ZERO
            if stored == 0.0:
                assert abs(computed) <= MULTIPLIER_ZERO, point["id"]
            else:
                assert float(computed) == pytest.approx(stored, rel=1e-9), point["id"]
        strict = [j for j, mu in zip(point["face"], point["multipliers"]) if mu > 0]
        assert point["strict_face"] == strict


@pytest.mark.parametrize("n", [2, 3])
def test_limits_command_reproduces_the_committed_bytes(tmp_path, n):
    committed = ROOT / "catalog" / f"tms-n{n}-m2.limits.json"
    command = json.loads(committed.read_text("utf-8"))["generator"]["command"]
    out = tmp_path / committed.name
    arguments = command.split()[3:]  # after "python -m critpoints"; the shipped catalog
    assert main([*arguments, "--quiet", "--out", str(out)]) == 0
    assert out.read_bytes() == committed.read_bytes()


@pytest.mark.parametrize(("n", "m"), [(n, 2) for n in range(2, 7)] + [(n, 3) for n in (4, 5, 6)])
def test_every_catalogued_minimum_without_positive_bias_is_a_constrained_minimum(n, m):
    """A minimum of L̃ with b ≤ 0 is a KKT point with no positive multiplier and a minimum on
    b ≤ 0 (L̃ ≥ L* nearby in all of space); a catalogued point with a positive bias is not a
    limit itself (the all-zero input pulls that bias to 0)."""
    catalog = json.loads((ROOT / "catalog" / f"tms-n{n}-m{m}.json").read_text("utf-8"))
    limits = json.loads((ROOT / "catalog" / f"tms-n{n}-m{m}.limits.json").read_text(
        "utf-8"))["limits"]
    verdicts: dict[str, set] = {}
    for point in limits:
        for ident in point["catalog_ids"]:
            verdicts.setdefault(ident, set()).add(point["verdict"])
    for entry in catalog["critical_points"]:
        positive = max(entry["b"]) > 1e-12
        if positive:
            assert entry["id"] not in verdicts
        elif entry["verdict"] == "minimum":
            assert "minimum" in verdicts.get(entry["id"], set()), entry["id"]


def test_found_2_limit_continues_to_a_minimum_of_the_finite_sparsity_potential():
    """n = 6: the lowest limit with a positive multiplier (the face b_6 = 0) predicts, near
    S = 1, a critical point of L_S with b_6 ≈ n(1 − S)μ/(2Sⁿ) and L_S/(n(1 − S)) = L̃ + O(1 − S)
    (the expansion of docs/sparsity.md). Newton on the exact finite-sparsity potential from
    that prediction converges to a minimum whose bias and scaled loss approach the prediction
    as S → 1: the errors fall about tenfold from S = 0.999 to S = 0.9999."""
    point = next(p for p in _document(6)["limits"] if p["strict_face"])
    assert point["verdict"] == "minimum"
    (j,), (mu,) = point["strict_face"], point["multipliers"]
    n = 6
    errors = []
    for S in (0.999, 0.9999):
        potential = TMSSparsePotential(n, 2, sparsity=S)
        W, b = np.array(point["W"]), np.array(point["b"])
        predicted = n * (1 - S) * mu / (2 * S**n)
        b[j] = predicted
        start = potential.flatten(W, b)
        search = find_critical_points(potential, start, gtol=1e-12, max_iter=60)
        assert search.converged
        _, b_found = potential.unflatten(search.theta)
        assert b_found[j] == pytest.approx(predicted, rel=0.05)
        assert np.abs(search.theta - start).max() < 10 * (1 - S)
        assert np.linalg.eigvalsh(potential.hessian(search.theta))[1] > 0  # one orbit mode
        scaled = float(potential.loss(search.theta)) / (n * (1 - S))
        errors.append((abs(b_found[j] / predicted - 1), abs(scaled - point["loss"])))
    for coarse, fine in zip(*errors):
        assert fine < coarse / 5


def test_the_limit_of_5_plus_is_a_saddle_whose_descent_needs_b_6_at_zero():
    """n = 6: 5⁺'s limit (the pentagon, its zero column's bias at 0, multiplier 1/6) is a
    saddle on its face: the zero column grown along a vertex lowers L̃, since at b_6 = 0 only
    the vertices it makes an acute angle with interfere. With b_6 = β > 0 (where the
    finite-S branch holds it) every vertex interferes while |W_6| ≪ β, and the same move
    raises L̃: the finite-S minimum's basin is O(β) = O(1 − S) wide."""
    point = next(p for p in _document(6)["limits"]
                 if p["face"] == [5] and p["multipliers"] == [pytest.approx(1 / 6)])
    assert point["verdict"] == "saddle" and point["face_verdict"] == "saddle"
    n = 6
    potential = TMSPotential(n, 2)
    W, b = np.array(point["W"]), np.array(point["b"])
    vertex = W[:, 0] / np.linalg.norm(W[:, 0])
    dots = vertex @ W[:, :5]  # the zero column's direction against the five live columns
    assert (b[:5] < 0).all()  # their outputs stay off on input 6 while |W_6| is small

    def change(beta: float, t: float) -> float:
        b0 = b.copy()
        b0[5] = beta
        moved = W.copy()
        moved[:, 5] = t * vertex
        return float(potential.loss(potential.flatten(moved, b0))
                     - potential.loss(potential.flatten(W, b0)))

    # By hand, to order t²: reconstructing feature 6, E[(μ − μt² − β)² − (μ − β)²] =
    # (−2/3 + β)t²; its output on input i, ReLU(μ t v·W_i + β)², adds E[μ²](v·W_i)² t² = t²/3
    # (v·W_i)² for every i when β ≥ t|v·W_i| (the term linear in t sums to β t v·ΣW_i = 0 for
    # the regular pentagon), and only for v·W_i > 0 when β = 0; L̃ averages over n inputs.
    at_zero = (-2 / 3 + (dots[dots > 0] ** 2).sum() / 3) / n
    beta = 0.01
    held = (-2 / 3 + beta + (dots**2).sum() / 3) / n
    assert at_zero < 0 < held
    assert change(0.0, 1e-3) / 1e-6 == pytest.approx(at_zero, rel=1e-2)
    assert change(beta, 1e-4) / 1e-8 == pytest.approx(held, rel=1e-2)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), face_size=st.integers(1, 3))
def test_multipliers_are_one_sided_derivatives(seed, face_size):
    """−∂⁺L̃/∂b_j at b_j = 0 against a one-sided finite difference, at random points (with a
    zero column on the face, where L̃ is not differentiable in b_j)."""
    rng = np.random.default_rng(seed)
    n = 3
    potential = TMSPotential(n, 2)
    W, b = rng.normal(size=(2, n)), rng.normal(size=n) * 0.3
    face = list(range(n - face_size, n))
    b[face] = 0.0
    W[:, face[0]] = 0.0
    theta = potential.flatten(W, b)
    _, multipliers, _ = kkt_residuals(potential, theta, face)
    for j, mu in zip(face, multipliers):
        h = 1e-6
        up = theta.copy()
        up[2 * n + j] = h
        difference = (float(potential.loss(up)) - float(potential.loss(theta))) / h
        assert -mu == pytest.approx(difference, abs=1e-5)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_bounded_descent_ends_near_a_kkt_point(seed):
    rng = np.random.default_rng(seed)
    potential = TMSPotential(3, 2)
    start = np.concatenate([rng.normal(size=6) * 0.6, rng.normal(size=3) * 0.3])
    end, face = bounded_descent(potential, start)
    _, b = potential.unflatten(end)
    assert (b <= 0).all()
    assert all(b[j] == 0 for j in face)
    assert float(potential.loss(end)) <= float(potential.loss(np.minimum(start, np.r_[
        np.full(6, np.inf), np.zeros(3)]))) + 1e-12
    _, gradient = potential.loss_and_gradient(end)
    free = [i for i in range(9) if i - 6 not in face]
    assert np.linalg.norm(gradient[free]) < 1e-4
    _, multipliers, _ = kkt_residuals(potential, end, face)
    assert min(multipliers, default=0.0) > -1e-4


@pytest.mark.parametrize(("arguments", "message"), [
    (["--n", "0"], "at least 1"),
    (["--n", "11"], "at most 10"),
    (["--n", "3", "--hidden", "4"], "at most 3"),
    (["--n", "4", "--catalog", "CATALOG3"], "not a TMS catalog for --n 4"),
    (["--n", "3", "--catalog", "MISSING"], "cannot read"),
])
def test_limits_command_rejects_bad_input(tmp_path, capsys, arguments, message):
    out = tmp_path / "keep.json"
    out.write_text("keep me", encoding="utf-8")
    arguments = [str(ROOT / "catalog" / "tms-n3-m2.json") if a == "CATALOG3"
                 else str(tmp_path / "missing.json") if a == "MISSING" else a
                 for a in arguments]
    assert main(["limits", *arguments, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert out.read_text(encoding="utf-8") == "keep me"


def test_limit_starts_put_the_face_biases_where_the_all_zero_input_balances_them():
    """The phase line starts a branch at S = 0.999 from each constrained minimum with a
    positive multiplier (n = 6: found-2's limit alone), its face bias at n(1 − S)μ/(2Sⁿ)."""
    from critpoints.kgon.sparsity_line import limit_starts_of

    document = _document(6)
    starts = limit_starts_of(document, 0.999)
    chosen = [p for p in document["limits"] if p["verdict"] == "minimum" and p["strict_face"]]
    assert [name for name, _, _ in starts] == [f"limit {p['id']}" for p in chosen]
    assert len(starts) == 1
    (_, S, theta), point = starts[0], chosen[0]
    j = point["strict_face"][0]
    mu = point["multipliers"][point["face"].index(j)]
    assert S == 0.999
    assert theta[12 + j] == pytest.approx(6 * 0.001 * mu / (2 * 0.999**6), rel=1e-12)
    assert np.array_equal(theta[:12], np.array(point["W"]).ravel())
