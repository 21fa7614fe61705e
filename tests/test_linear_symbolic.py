"""The sympy derivation (critpoints.linear.symbolic) against independent computations."""

import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from critpoints.linear import symbolic
from critpoints.linear.critical import predicted_hessian_eigenvalues


def _random_point(rng, n, m):
    X = rng.standard_normal((3 * n, n))
    return rng.standard_normal((n, m)), rng.standard_normal((m, n)), X.T @ X, X


def test_import_runs_no_derivation():
    # A fresh interpreter: importing the package must not import sympy (hence derive nothing).
    code = ("import sys, critpoints.linear, critpoints.linear.critical; "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_matrix_form_gradient_is_the_textbook_one():
    # SPEC §1: ∂E/∂A = 0 ⇔ ABΣBᵀ = ΣBᵀ and ∂E/∂B = 0 ⇔ AᵀABΣ = AᵀΣ (with a factor 2).
    d = symbolic.derive()
    A, B, S = d.symbols["A"], d.symbols["B"], d.symbols["Sigma"]
    assert sp.expand(d.grad_A - 2 * (A * B * S * B.T - S * B.T)) == sp.ZeroMatrix(*d.grad_A.shape)
    assert sp.expand(d.grad_B - 2 * (A.T * A * B * S - A.T * S)) == sp.ZeroMatrix(*d.grad_B.shape)
    assert d.critical_equations == (
        sp.expand(A * B * S * B.T - S * B.T), sp.expand(A.T * A * B * S - A.T * S))


@pytest.mark.parametrize("n,m", [(2, 1), (3, 2), (4, 2)])
def test_gradient_entrywise(n, m):
    assert symbolic.verify_gradient_entrywise(n, m)


@pytest.mark.parametrize("n,m", [(2, 1), (3, 2)])
def test_hessian_entrywise(n, m):
    assert symbolic.verify_hessian_entrywise(n, m)


@pytest.mark.parametrize("n,m", [(3, 1), (3, 2)])
def test_tied_flow_is_minus_gradient_of_tied_loss(n, m):
    assert symbolic.verify_tied_gradient_entrywise(n, m)


@pytest.mark.parametrize("n,m", [(3, 2), (4, 2)])
def test_isotropic_energy_benefit_plus_interference(n, m):
    assert symbolic.verify_isotropic_energy(n, m)


def test_entrywise_check_can_fail():
    # The checker must detect a wrong formula: perturb the derivation's grad_A and re-run.
    d = symbolic.derive()
    wrong = symbolic.MatrixDerivation(d.symbols, d.loss, 2 * d.grad_A, d.grad_B,
                                      d.hessian_vector, d.hessian_quadratic_form,
                                      d.critical_equations)
    original = symbolic.derive
    try:
        symbolic.derive = lambda: wrong
        assert not symbolic.verify_gradient_entrywise(2, 1)
    finally:
        symbolic.derive = original


def test_loss_equals_sum_over_samples():
    # Independent: E = Σ_t ‖x_t − A B x_t‖² computed sample by sample, Σ = Σ_t x_t x_tᵀ.
    rng = np.random.default_rng(1)
    A, B, S, X = _random_point(rng, 5, 2)
    direct = sum(np.sum((x - A @ B @ x) ** 2) for x in X)
    assert symbolic.evaluators().loss(A, B, S) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_matches_central_differences(seed):
    rng = np.random.default_rng(seed)
    n, m = 5, 2
    A, B, S, _ = _random_point(rng, n, m)
    ev = symbolic.evaluators()
    gA, gB = ev.gradient(A, B, S)
    h = 1e-6
    for M, G in ((A, gA), (B, gB)):
        for idx in np.ndindex(M.shape):
            M[idx] += h
            up = ev.loss(A, B, S)
            M[idx] -= 2 * h
            down = ev.loss(A, B, S)
            M[idx] += h
            # Central differences are exact for the cubic-and-lower part; error O(h²)·(4th deriv).
            assert (up - down) / (2 * h) == pytest.approx(G[idx], rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_hessian_matches_differences_of_gradient(seed):
    from critpoints.linear.model import LinearAutoencoder

    rng = np.random.default_rng(seed)
    n, m = 4, 2
    A, B, S, _ = _random_point(rng, n, m)
    ev = symbolic.evaluators()
    model = LinearAutoencoder(S, m)
    theta = model.flatten(A, B)
    H = model.hessian(theta)
    h = 1e-6
    for k in range(len(theta)):
        def grad_at(t):
            return model.flatten(*ev.gradient(*model.unflatten(t), S))
        e = np.zeros_like(theta)
        e[k] = h
        column = (grad_at(theta + e) - grad_at(theta - e)) / (2 * h)
        np.testing.assert_allclose(H[:, k], column, rtol=1e-6, atol=1e-6)
    # The quadratic form is ½ vᵀ H v.
    a, b = rng.standard_normal((n, m)), rng.standard_normal((m, n))
    v = model.flatten(a, b)
    assert ev.hessian_quadratic_form(A, B, S, a, b) == pytest.approx(v @ H @ v / 2, rel=1e-12)


def test_tied_flow_numerically():
    # dW/dt of seed 000 §2.2, typed here independently: 2[(I − WWᵀ)ΣW + Σ(I − WWᵀ)W].
    rng = np.random.default_rng(3)
    n, m = 5, 2
    W = rng.standard_normal((n, m))
    X = rng.standard_normal((10, n))
    S = X.T @ X
    R = np.eye(n) - W @ W.T
    np.testing.assert_allclose(symbolic.evaluators().tied_flow(W, S),
                               2 * (R @ S @ W + S @ R @ W), rtol=1e-12)
    # And σ²‖I − WWᵀ‖²_F at Σ = σ² I.
    assert symbolic.evaluators().tied_loss(W, 0.7 * np.eye(n)) == pytest.approx(
        0.7 * np.sum(R**2), rel=1e-12)


@pytest.mark.parametrize("subset", [(1, 3), (2, 4), (1,), ()])
def test_symbolic_hessian_spectrum_matches_closed_form(subset):
    # Sympy's exact block spectrum at Σ = diag(λ) versus the hand-derived closed form.
    n, m = 4, 2
    result = symbolic.symbolic_hessian_spectrum(n, m, tuple(j - 1 for j in subset))
    lam_values = [5.0, 3.0, 2.0, 0.5]
    at = dict(zip(result["lambdas"], lam_values))
    exact = sorted(float(ev.subs(at)) for _, _, eigs in result["blocks"]
                   for ev, mult in eigs.items() for _ in range(mult))
    np.testing.assert_allclose(exact, predicted_hessian_eigenvalues(subset, m, lam_values),
                               atol=1e-12)
