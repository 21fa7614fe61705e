"""The sparse-data Σ versus the Σ ∝ I simplification (seed 000 §2)."""

import math

import numpy as np
import pytest
from scipy.linalg import subspace_angles

from critpoints.linear.isotropy import isotropy_row


@pytest.mark.parametrize("n,m,S", [(6, 2, 0.95), (6, 2, 0.5), (5, 3, 0.99)])
def test_row_matches_closed_forms(n, m, S):
    row = isotropy_row(n, m, S)
    a, c = (1 - S) / 3, ((1 - S) / 2) ** 2  # E[x_i²], E[x_i x_j] for χξ data
    assert row["lambda_top"] == pytest.approx(a + (n - 1) * c, rel=1e-12)
    assert row["lambda_rest"] == pytest.approx(a - c, rel=1e-12)
    assert row["offdiag_ratio"] == pytest.approx(3 * (1 - S) / 4, rel=1e-12)
    # ∇_A E = −2(I − P)ΣP has (n − m)·m entries equal to −2c; ∇_B E = 0 at B = Aᵀ.
    assert row["grad_coordinate"] == pytest.approx(2 * c * math.sqrt(m * (n - m)) / a, rel=1e-12)
    assert row["angle_deg"] == pytest.approx(math.degrees(math.acos(math.sqrt(m / n))), abs=1e-9)
    assert row["loss_gap"] == pytest.approx((n - m) * c, rel=1e-9)
    assert row["loss_gap_rel"] == pytest.approx(c / (a - c), rel=1e-9)
    assert row["min_loss"] == pytest.approx((n - m) * (a - c), rel=1e-12)


def test_gap_vanishes_but_angle_does_not_as_S_to_1():
    rows = [isotropy_row(6, 2, S) for S in (0.9, 0.99, 0.999)]
    gaps = [r["loss_gap_rel"] for r in rows]
    assert gaps[0] > 9 * gaps[1] > 81 * gaps[2]  # O(1 − S)
    assert len({round(r["angle_deg"], 9) for r in rows}) == 1


def test_no_true_minimiser_is_closer_than_reported():
    # Sample random true minimisers span{1} ⊕ V: none beats the reported largest angle.
    n, m = 6, 2
    reported = math.radians(isotropy_row(n, m, 0.95)["angle_deg"])
    rng = np.random.default_rng(0)
    ones = np.ones((n, 1)) / math.sqrt(n)
    coordinate = np.eye(n)[:, :m]
    for _ in range(200):
        v = rng.standard_normal((n, m - 1))
        v -= ones @ (ones.T @ v)
        assert np.max(subspace_angles(coordinate, np.hstack([ones, v]))) >= reported - 1e-12


@pytest.mark.parametrize("n,m", [(2, 1), (3, 1), (3, 2), (4, 1), (4, 3)])
def test_the_minimum_is_a_minimum_when_the_gap_is_small(n, m):
    """At S = 0.999 and n ≤ 4 the eigen-gap of Σ is ~1e-3 of its scale: the Hessian has
    curvatures ~1e-6 (a grey zone resolved at 60 digits) and the GL(m) zero modes, which at
    the float64 representative are ~1e-19, not 1e-30: they were counted negative, the minimum
    called a saddle and the isotropy table refused (RuntimeError)."""
    from critpoints.linear.covariance import sparse_covariance
    from critpoints.linear.critical import enumerate_critical_points

    points = enumerate_critical_points(sparse_covariance(n, 0.999), m, require_distinct=False)
    assert points[0].classification == "minimum"
    spectrum = points[0].hessian
    assert spectrum.n_neg == 0 and spectrum.n_zero == spectrum.n_zero_symmetry
    assert points[0].hessian_index == points[0].predicted_index == 0
    row = isotropy_row(n, m, 0.999)
    assert row["min_loss"] == pytest.approx((n - m) * ((1 - 0.999) / 3 - (0.001 / 2) ** 2),
                                            rel=1e-9)
