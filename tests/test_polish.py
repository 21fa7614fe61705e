"""polish: Newton refinement to many digits, also of critical points on activation boundaries."""

from __future__ import annotations

import json
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.kgon.enumerate import SEARCH_ITERATIONS, random_starts_of
from critpoints.linear.covariance import random_covariance
from critpoints.linear.model import LinearAutoencoder
from critpoints.solve import find_critical_points, polish
from critpoints.tms import potential as tms_potential
from critpoints.tms.model import TMSPotential

ROOT = Path(__file__).resolve().parents[1]


def _catalog(n: int) -> list[dict]:
    path = ROOT / "catalog" / f"tms-n{n}-m2.json"
    return json.loads(path.read_text(encoding="utf-8"))["critical_points"]


def _float_critical_point(start: int):
    """The float64 critical point that ``enumerate``'s random search reaches from its random
    start ``start`` at n = 6 (seed 0): same starts, same Levenberg–Marquardt settings."""
    starts_W, starts_b = random_starts_of(6, 300, 0)
    model = TMSPotential(6)
    search = find_critical_points(model, model.flatten(starts_W[start], starts_b[start]),
                                  gtol=1e-11, max_iter=SEARCH_ITERATIONS)
    assert search.converged
    return model, search.theta


# Regressions: random starts of `enumerate --n 6` (seed 0) whose points failed the 60-digit
# refinement before the boundary phase (counted in random_search.refinement_failed, 40 of 300):
#  2: biases 0 and pairs of orthogonal columns (kinks G_ij = b_j = 0); Newton reached 6e-28
#     and then cycled across the kinks;
# 32: four off-diagonal ends G_ij + b_j ≈ 2e-6 (L is C² but not C³ there, the gradient ∝ s²);
#     Newton crawled at a factor ~0.5 a step;
# 48: kinks and a diagonal end |W_3|² + b_3 = 0, where the Hessian jumps.
@pytest.mark.parametrize("start, boundary_ends", [(2, 14), (32, 4), (48, 10)])
def test_boundary_critical_point_polishes_to_60_digits(start, boundary_ends):
    model, theta = _float_critical_point(start)
    result = polish(model, theta, dps=60)
    assert result.success and result.method == "boundary-newton"
    assert len(result.active) == boundary_ends
    # The criterion, recomputed independently of polish: the potential's 60-digit gradient.
    W, b = result.parameters
    assert tms_potential.gradient_norm(W, b, 60) <= mpmath.mpf(10) ** -45
    # and the point lies on those boundaries to the same accuracy
    values, _ = model.switching_functions(result.theta, dps=60)
    assert max(abs(values[k]) for k in result.active) <= mpmath.mpf(10) ** -45
    # a genuine refinement of the float64 point, not a jump to another critical point
    assert np.abs(result.theta.astype(float) - theta).max() < 1e-5


def test_smooth_catalog_points_take_the_newton_path_unchanged():
    """Every n = 6 catalog point off the boundaries, rounded to float64, is refined to the
    stored loss — by the Newton phase alone except next to a boundary (census point 6-~… with a
    switching function ≈ 1e-5, where Newton stalls on the kink and the boundary phase lands on
    the same point)."""
    model = TMSPotential(6)
    smooth = [e for e in _catalog(6) if not e["on_boundary"]]
    assert smooth  # catalog/tms-n6-m2.json: the smooth points of the census
    for entry in smooth:
        theta = model.flatten(np.array(entry["W"]), np.array(entry["b"]))
        result = polish(model, theta, dps=60, tol=mpmath.mpf(10) ** -40)
        # the Newton phase alone, unless a boundary quantity is within the boundary phase's
        # reach (1e-4) and Newton stalled on the nearby kink: then the same point to 1e-38
        assert result.success
        assert result.method == "newton" or min(
            abs(v) for v in model.switching_functions(theta, dps=30)[0]) < 1e-4
        with mpmath.workdps(60):
            loss = model.loss(result.theta, dps=60)
            assert abs(loss - mpmath.mpf(entry["loss_exact"])) < mpmath.mpf(10) ** -38


def test_smooth_potential_has_no_boundary_phase():
    model = LinearAutoencoder(random_covariance(4, 0), 2)
    theta = np.random.default_rng(0).normal(size=model.dim)
    values, jacobian = model.switching_functions(theta)
    assert values.shape == (0,) and jacobian.shape == (0, model.dim)
    result = polish(model, theta, dps=30)  # far from critical: fails, honestly
    assert not result.success and result.method == "newton"


@settings(max_examples=8, deadline=None)
@given(entry=st.integers(0, 106), noise=st.integers(3, 13), seed=st.integers(0, 2**16),
       dps=st.sampled_from([30, 45]))
def test_success_means_the_gradient_is_below_tol(entry, noise, seed, dps):
    """Whatever the start (catalog points on and off boundaries, moved by 10^-noise), polish
    reports success exactly when the potential's own dps-digit gradient at the returned point
    is at most tol."""
    model = TMSPotential(6)
    point = _catalog(6)[entry]
    rng = np.random.default_rng(seed)
    theta = model.flatten(np.array(point["W"]), np.array(point["b"]))
    theta = theta + 10.0 ** -noise * rng.normal(size=theta.shape)
    tol = mpmath.mpf(10) ** -(dps - 15)
    result = polish(model, theta, dps=dps, tol=tol)
    W, b = result.parameters
    recomputed = tms_potential.gradient_norm(W, b, dps)
    assert result.grad_norm == recomputed
    assert result.success == (recomputed <= tol)


# An orbit of the n = 8, m = 3 census whose float64 polish stalls (‖∇L‖ 1.6e-30 at 60 digits,
# 1.4e-33 at 80: eigenvalues beside the zero modes near the pseudo-inverse's cut), as the census
# recorded it (8 digits): the full-precision last resort refines it to every digit.
_STALLING_W = [[-0.62736092, -0.62736092, 0.65869423, 0.01909551, 0.65869423, -0.18258204,
                0.22142734, -0.18258204],
               [0.32751993, 0.32751993, -0.38400395, 0.04891415, -0.38400395, -0.46769354,
                0.683793, -0.46769354],
               [-0.10389142, -0.10389142, 0.0744265, 0.05401488, 0.0744265, -0.51646423,
                0.72703862, -0.51646423]]
_STALLING_B = [-0.00776923, -0.00776923, -0.58687642, 0.0645882, -0.58687642, -0.01192,
               -0.03511767, -0.01192]


@pytest.mark.slow
def test_the_precise_last_resort_refines_a_point_the_float_steps_cannot():
    from critpoints.solve.newton import polish_to_digits, verification_bound

    tms = TMSPotential(8, 3)
    theta = tms.flatten(np.array(_STALLING_W), np.array(_STALLING_B))
    assert not polish(tms, theta, dps=60, tol=verification_bound(60)).success
    assert not polish(tms, theta, dps=80, tol=mpmath.mpf(10) ** -72).success
    result = polish_to_digits(tms, theta, 60)
    assert result.success and result.method == "precise-levenberg-marquardt"
    with mpmath.workdps(80):
        g = tms.gradient(np.asarray(result.theta, dtype=object), dps=80)
        assert mpmath.sqrt(mpmath.fsum(x * x for x in g)) <= mpmath.mpf(10) ** -72
    assert abs(float(tms.loss(result.theta.astype(float))) - 0.204294361462) < 1e-10
