"""Chain-vectorised potentials against the project's reference evaluators."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints import tms
from critpoints.slt.potentials import ReducedRankRegression, TMSEmpirical, TMSPopulation
from critpoints.tms.data import empirical_loss_and_gradient, sample_high_sparsity


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), N=st.integers(1, 60), n=st.integers(2, 6))
def test_fast_empirical_matches_dense(seed, N, n):
    rng = np.random.default_rng(seed)
    x = sample_high_sparsity(n, N, seed=rng)
    potential = TMSEmpirical(x)
    theta = rng.standard_normal((3, potential.dim))
    value, grad = potential.loss_and_gradient(theta)
    W, b = potential.unflatten(theta)
    ref, dW, db = empirical_loss_and_gradient(W, b, x)
    assert np.allclose(value, ref, atol=1e-12)
    assert np.allclose(grad, potential.flatten(dW, db), atol=1e-12)
    # Prefix weights = the loss on the first k samples (the nested data sets).
    k = max(1, N // 2)
    weights = np.zeros(N)
    weights[:k] = 1.0 / k
    value_k, grad_k = potential.loss_and_gradient(theta, weights)
    ref_k, dW_k, db_k = empirical_loss_and_gradient(W, b, x[:k])
    assert np.allclose(value_k, ref_k, atol=1e-12)
    assert np.allclose(grad_k, potential.flatten(dW_k, db_k), atol=1e-12)
    assert np.allclose(potential.per_sample_losses(theta).mean(axis=1), ref, atol=1e-12)


def test_population_matches_tms():
    rng = np.random.default_rng(0)
    potential = TMSPopulation(5)
    theta = rng.standard_normal((4, potential.dim))
    value, grad = potential.loss_and_gradient(theta)
    W, b = potential.unflatten(theta)
    assert np.allclose(value, tms.loss(W, b))
    dW, db = tms.gradient(W, b)
    assert np.allclose(grad, potential.flatten(dW, db))


def test_reduced_rank_regression_gradient_finite_differences():
    rng = np.random.default_rng(1)
    potential = ReducedRankRegression(rng.standard_normal((3, 4)), 2,
                                      np.cov(rng.standard_normal((4, 50))))
    theta = rng.standard_normal((1, potential.dim))
    _, grad = potential.loss_and_gradient(theta)
    h = 1e-6
    fd = np.array([
        (potential.loss(theta + h * e) - potential.loss(theta - h * e))[0] / (2 * h)
        for e in np.eye(potential.dim)
    ])
    assert np.allclose(grad[0], fd, atol=1e-6)


def test_empirical_loss_rejects_dense_data():
    import pytest

    with pytest.raises(ValueError):
        TMSEmpirical(np.ones((3, 4)))
