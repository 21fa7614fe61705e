"""Chain-vectorised potentials against the project's reference evaluators."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints import tms
from critpoints.slt.potentials import (
    ReducedRankRegression,
    TMSEmpirical,
    TMSEmpiricalSets,
    TMSPopulation,
)
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


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 6), sizes=st.lists(st.integers(1, 80),
       min_size=1, max_size=4), scale=st.sampled_from([0.05, 1.0, 5.0]))
def test_prefix_sum_empirical_matches_per_sample(seed, n, sizes, scale):
    # Prefix sums over sorted magnitudes (O(n² log N)) against the per-sample loop (O(N n)),
    # for every data set, with parameters at several scales (all activation patterns occur).
    rng = np.random.default_rng(seed)
    sets = [sample_high_sparsity(n, N, seed=rng) for N in sizes]
    sets[0][0] = 0.0  # an all-zero sample (mu = 0) is allowed
    potential = TMSEmpiricalSets(sets)
    theta = scale * rng.standard_normal((5 * len(sets), potential.dim))
    slot = np.repeat(np.arange(len(sets)), 5)
    value, grad = potential.loss_and_gradient(theta, slot)
    for s, x in enumerate(sets):
        ref, ref_grad = TMSEmpirical(x).loss_and_gradient(theta[slot == s])
        assert np.allclose(value[slot == s], ref, rtol=1e-11, atol=1e-12)
        assert np.allclose(grad[slot == s], ref_grad, rtol=1e-10, atol=1e-11)


def test_prefix_sum_empirical_on_activation_boundaries():
    # Thresholds exactly at sample magnitudes and a = 0 (W_i ⊥ W_j): ReLU(0) contributes 0.
    x = np.zeros((4, 3))
    x[[0, 1, 2, 3], [0, 0, 1, 2]] = [0.25, 0.5, 0.5, 1.0]
    W = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    for b in ([-0.5, 0.25, -0.5], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]):
        theta = TMSPopulation(3).flatten(W, np.array(b))[None]
        value, grad = TMSEmpiricalSets([x]).loss_and_gradient(theta, [0])
        ref, ref_grad = TMSEmpirical(x).loss_and_gradient(theta)
        assert np.allclose(value, ref, atol=1e-14) and np.allclose(grad, ref_grad, atol=1e-14)


def test_nested_data_sets_and_bad_input():
    import pytest

    stream = sample_high_sparsity(4, 50, seed=0)
    potential = TMSEmpiricalSets.nested(stream, [10, 50])
    theta = np.random.default_rng(0).standard_normal((2, potential.dim))
    assert np.allclose(potential.loss(theta, [0, 1]),
                       [TMSEmpirical(stream[:10]).loss(theta[:1])[0],
                        TMSEmpirical(stream).loss(theta[1:])[0]])
    # Several streams: slot_grid[d, k] is stream d's first sizes[k] samples.
    other = sample_high_sparsity(4, 50, seed=1)
    both = TMSEmpiricalSets.nested([stream, other], [10, 50])
    assert both.slot_grid.tolist() == [[0, 1], [2, 3]]
    assert np.allclose(both.loss(theta[:1], [both.slot_grid[1, 0]]),
                       TMSEmpirical(other[:10]).loss(theta[:1]))
    with pytest.raises(ValueError, match="slot"):
        potential.loss(theta, [0, 2])
    with pytest.raises(ValueError, match="one-hot"):
        TMSEmpiricalSets([np.ones((3, 4))])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        TMSEmpiricalSets([2.0 * stream])
    with pytest.raises(ValueError, match="sizes"):
        TMSEmpiricalSets.nested(stream, [0, 10])
