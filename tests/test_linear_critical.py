"""Enumeration, verification, classification and escapes of the linear autoencoder."""

import itertools
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from critpoints.linear.covariance import (
    RepeatedEigenvalueError,
    canonical_eigensystem,
    canonical_eigensystem_mp,
    random_covariance,
    sparse_covariance,
    sparse_covariance_eigenvalues,
)
from critpoints.linear.critical import (
    enumerate_critical_points,
    gradient_norm_mp,
    predicted_hessian_eigenvalues,
    predicted_index,
)
from critpoints.linear.search import find_gradient_roots, match_projection
from critpoints.linear.symbolic import evaluators


@st.composite
def spd_with_distinct_eigenvalues(draw, max_n=8):
    """Σ = Q diag(λ) Qᵀ, Q Haar-random, λ ∈ [0.1, 10] with relative gaps ≥ 1e-2."""
    n = draw(st.integers(2, max_n))
    m = draw(st.integers(1, min(n - 1, 3)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lam = np.sort(rng.uniform(0.1, 10.0, n))[::-1]
    if np.min(-np.diff(lam)) < 1e-2 * lam[0]:
        lam = np.linspace(10.0, 0.1, n) * rng.uniform(0.5, 2.0)
    Q = ortho_group.rvs(n, random_state=rng) if n > 1 else np.eye(1)
    sigma = Q @ np.diag(lam) @ Q.T
    return (sigma + sigma.T) / 2, m, lam


@settings(max_examples=25, deadline=None)
@given(spd_with_distinct_eigenvalues())
def test_enumeration_properties(case):
    sigma, m, lam = case
    n = len(sigma)
    points = enumerate_critical_points(sigma, m)
    # Baldi–Hornik count: one orbit per subset J with |J| ≤ m.
    assert len(points) == sum(math.comb(n, r) for r in range(m + 1))
    assert len({p.subset for p in points}) == len(points)
    eig = canonical_eigensystem(sigma)
    np.testing.assert_allclose(eig.eigenvalues, lam, rtol=1e-10)  # λ we put in
    for p in points:
        assert p.grad_norm <= 1e-10
        # Loss formula tr Σ − Σ_{i∈J} λ_i with the λ used to build Σ.
        assert p.loss == pytest.approx(np.sum(lam) - sum(lam[j - 1] for j in p.subset),
                                       rel=1e-10, abs=1e-10)
        assert p.hessian_index == p.predicted_index
        assert p.hessian_index == predicted_index(p.subset, m, n)  # rank formula, no clusters
        # Every Hessian zero is explained by the GL(m) orbit: m² − (m − r)².
        assert p.hessian.n_zero == p.hessian.n_zero_symmetry == m * m - (m - p.rank) ** 2
        np.testing.assert_allclose(p.hessian.eigenvalues,
                                   predicted_hessian_eigenvalues(p.subset, m, lam),
                                   atol=1e-9 * lam[0])
    minima = [p for p in points if p.classification == "minimum"]
    assert [p.subset for p in minima] == [tuple(range(1, m + 1))]
    assert points[0] is minima[0]
    assert all(p.classification == "saddle" for p in points[1:])
    assert all(p.escape is not None for p in points[1:])


@settings(max_examples=15, deadline=None)
@given(spd_with_distinct_eigenvalues(max_n=6))
def test_escape_lowers_loss_at_predicted_rate(case):
    sigma, m, lam = case
    loss = evaluators().loss
    eig = canonical_eigensystem(sigma)
    for p in enumerate_critical_points(sigma, m)[1:]:
        e = p.escape
        # Rate from the eigenvalues we put in: swap −(λ_j − λ_i), grow −2λ_j.
        expected = (-(lam[e.target_rank - 1] - lam[e.live_rank - 1]) if e.kind == "swap"
                    else -2 * lam[e.target_rank - 1])
        assert e.rate == pytest.approx(expected, rel=1e-9)
        changes = []
        for eps in (1e-2, 1e-3):
            A, B = e.perturb(p.A, p.B, eig.eigenvectors, eps)
            change = loss(A, B, sigma) - loss(p.A, p.B, sigma)
            assert change < 0
            assert change / eps**2 == pytest.approx(expected, rel=2e-4)
            changes.append(change)
        # Second order: ten times smaller ε, a hundred times smaller change.
        assert math.log10(changes[0] / changes[1]) == pytest.approx(2.0, abs=1e-3)
        # The exact closed form holds at finite ε as well.
        A, B = e.perturb(p.A, p.B, eig.eigenvectors, 0.3)
        assert loss(A, B, sigma) - loss(p.A, p.B, sigma) == pytest.approx(
            e.predicted_loss_change(0.3), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("n,m,seed", [(3, 1, 0), (5, 2, 1), (6, 3, 2)])
def test_gradient_vanishes_at_60_digits(n, m, seed):
    sigma = random_covariance(n, seed)
    eig = canonical_eigensystem(sigma)
    _, U = canonical_eigensystem_mp(sigma, eig.clusters, 60)
    for p in enumerate_critical_points(sigma, m):
        grad, loss_mp = gradient_norm_mp(sigma, U, p.subset, m, 60)
        assert grad <= mpmath.mpf("1e-40")
        assert float(loss_mp) == pytest.approx(p.loss_formula, rel=1e-13)


def test_60_digit_check_detects_a_non_critical_point():
    # The same machinery reports a large gradient at a perturbed point: the check can fail.
    sigma = random_covariance(4, 0)
    eig = canonical_eigensystem(sigma)
    _, U = canonical_eigensystem_mp(sigma, eig.clusters, 60)
    U_bad = U.copy()
    U_bad[0, 0] += mpmath.mpf("1e-20")
    grad, _ = gradient_norm_mp(sigma, U_bad, (1, 2), 2, 60)
    assert grad > mpmath.mpf("1e-25")


@pytest.mark.parametrize("n,m,seed", [(4, 2, 0), (5, 2, 1), (5, 3, 2)])
def test_root_finding_finds_only_catalogued_points(n, m, seed):
    sigma = random_covariance(n, seed)
    eig = canonical_eigensystem(sigma)
    catalogued = {p.subset for p in enumerate_critical_points(sigma, m)}
    found = set()
    # Unit-scale starts find full-rank points; small starts reach rank-deficient ones too.
    for scale in (1.0, 0.05):
        for root in find_gradient_roots(sigma, m, starts=8, seed=seed, scale=scale):
            if not root.converged:
                continue
            subset = match_projection(root.W, eig)
            assert subset in catalogued, f"uncatalogued critical point, W =\n{root.W}"
            found.add(subset)
    assert len(found) >= 2  # the search did find roots (not vacuous)


def test_match_projection_rejects_non_projection():
    eig = canonical_eigensystem(random_covariance(4, 0))
    U = eig.eigenvectors
    W = U[:, :2] @ U[:, :2].T
    assert match_projection(W, eig) == (1, 2)
    rotated = (U[:, 0] + U[:, 2]) / math.sqrt(2)
    assert match_projection(np.outer(rotated, rotated), eig) is None


def test_repeated_eigenvalue_is_refused_by_default():
    with pytest.raises(RepeatedEigenvalueError):
        enumerate_critical_points(sparse_covariance(5, 0.9), 2)
    with pytest.raises(RepeatedEigenvalueError):
        enumerate_critical_points(np.diag([3.0, 2.0, 2.0, 1.0]), 2)


@pytest.mark.parametrize("n,m", [(5, 1), (6, 2), (6, 3)])
def test_sparse_covariance_families(n, m):
    S = 0.9
    sigma = sparse_covariance(n, S)
    top, rest = sparse_covariance_eigenvalues(n, S)
    # Closed form versus LAPACK.
    np.testing.assert_allclose(np.linalg.eigvalsh(sigma)[::-1], [top] + [rest] * (n - 1),
                               rtol=1e-12)
    points = enumerate_critical_points(sigma, m, require_distinct=False)
    # Families: (take u_1 or not) × (k from the (n−1)-fold eigenspace), total ≤ m.
    assert len(points) == sum(1 for t in (0, 1) for k in range(n) if t + k <= m)
    minimum = points[0]
    assert minimum.classification == "minimum"
    assert sum(p.classification == "minimum" for p in points) == 1
    # The minimum is a family: Grassmannian Gr(m − 1, n − 1) of dimension (m−1)(n−m).
    assert minimum.family_dimension == (m - 1) * (n - m)
    assert minimum.hessian.n_zero == m * m + (m - 1) * (n - m) == minimum.hessian.n_zero_symmetry
    assert minimum.loss == pytest.approx(np.trace(sigma) - top - (m - 1) * rest, rel=1e-12)
    for p in points:
        assert p.grad_norm <= 1e-12
        assert p.hessian_index == p.predicted_index
        assert p.hessian.n_zero == p.hessian.n_zero_symmetry


def test_eigensystem_is_canonical_under_rotation_of_repeated_space():
    # The canonical basis depends on the eigenspace only, not on LAPACK's choice inside it.
    sigma = np.diag([4.0, 2.0, 2.0, 1.0])
    rng = np.random.default_rng(0)
    Q = np.eye(4)
    Q[1:3, 1:3] = ortho_group.rvs(2, random_state=rng)
    a = canonical_eigensystem(sigma).eigenvectors
    b = canonical_eigensystem(Q @ sigma @ Q.T).eigenvectors  # same Σ: Q commutes with it
    np.testing.assert_allclose(a, b, atol=1e-12)
    for i, j in itertools.combinations(range(4), 2):
        assert abs(a[:, i] @ a[:, j]) < 1e-12
