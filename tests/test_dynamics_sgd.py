"""Vectorised SGD on sparse TMS samples against dense, per-run reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.dynamics import sgd
from critpoints.tms import data


def dense(features, magnitudes, n):
    x = np.zeros(features.shape + (n,))
    np.put_along_axis(x, features[..., None], magnitudes[..., None], axis=-1)
    return x


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 8),
    m=st.integers(1, 3),
    R=st.integers(1, 4),
    B=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_sparse_gradient_equals_dense_backprop(n, m, R, B, seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(R, m, n))
    b = rng.normal(scale=0.5, size=(R, n))
    f = rng.integers(0, n, size=(R, B))
    mu = rng.random(size=(R, B))
    loss, dW, db = data.empirical_loss_and_gradient(W, b, dense(f, mu, n))
    dW_s, db_s = sgd.minibatch_gradient(W, b, f, mu)
    np.testing.assert_allclose(dW_s, dW, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(db_s, db, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(sgd.sparse_empirical_loss(W, b, f, mu), loss, rtol=1e-12)


def test_datasets_are_the_high_sparsity_samples_of_the_same_generator():
    f, mu = sgd.sample_datasets(6, 50, seed=7, runs=[0, 3])
    for row, r in enumerate([0, 3]):
        parent = sgd.run_seed_sequence(7, r)
        child = np.random.SeedSequence(parent.entropy, spawn_key=parent.spawn_key + (0,))
        x = data.sample_high_sparsity(6, 50, seed=np.random.default_rng(child))
        np.testing.assert_array_equal(dense(f[row], mu[row], 6), x)


def test_run_seed_sequence_is_the_spawned_child():
    children = np.random.SeedSequence(11).spawn(5)
    for r, child in enumerate(children):
        assert sgd.run_seed_sequence(11, r).generate_state(4).tolist() == child.generate_state(
            4
        ).tolist()


def reference_sgd(W0, b0, x, batch, lr, steps, seed, run):
    """One run, one step at a time, dense samples and the dense backprop of critpoints.tms.data.

    The minibatch order follows the protocol's definition: epochs are uniform permutations drawn
    by ``Generator.permuted`` from the run's third child stream, four epochs per draw, the first
    (N // batch)·batch entries used.
    """
    N = x.shape[0]
    parent = sgd.run_seed_sequence(seed, run)
    rng = np.random.default_rng(
        np.random.SeedSequence(parent.entropy, spawn_key=parent.spawn_key + (2,))
    )
    per_epoch = N // batch
    order = []
    while len(order) < steps:
        for epoch in rng.permuted(np.broadcast_to(np.arange(N), (4, N)), axis=1):
            order += [epoch[i * batch : (i + 1) * batch] for i in range(per_epoch)]
    W, b = W0.copy(), b0.copy()
    history = [(W.copy(), b.copy())]
    for step in range(steps):
        _, dW, db = data.empirical_loss_and_gradient(W, b, x[order[step]])
        W, b = W - lr * dW, b - lr * db
        history.append((W.copy(), b.copy()))
    return history


def test_vectorised_sgd_equals_per_run_reference_step_by_step():
    n, m, N, batch, steps, seed, runs = 6, 2, 42, 8, 70, 3, [0, 1, 4]
    protocol = sgd.SGDProtocol(samples=N, batch=batch, lr=0.05, steps=steps)
    f, mu = sgd.sample_datasets(n, N, seed, runs)
    W0, b0 = sgd.gaussian_init(n, m, 0.5, seed, runs)
    b0 = b0 + 0.05  # live outputs, so every term of the gradient is exercised
    lrs = np.array([0.05, 0.1, 0.02])
    trajectory = sgd.run_sgd(
        W0, b0, f, mu, protocol, seed, runs, lr=lrs, checkpoints=np.arange(steps + 1)
    )
    for row, r in enumerate(runs):
        reference = reference_sgd(W0[row], b0[row], dense(f[row], mu[row], n), batch, lrs[row],
                                  steps, seed, r)
        for k, (W, b) in enumerate(reference):
            np.testing.assert_allclose(trajectory.W[row, k], W, rtol=1e-11, atol=1e-13)
            np.testing.assert_allclose(trajectory.b[row, k], b, rtol=1e-11, atol=1e-13)
        x = dense(f[row], mu[row], n)
        np.testing.assert_allclose(
            trajectory.empirical_loss[row],
            data.empirical_loss(trajectory.W[row], trajectory.b[row], x),
            rtol=1e-12,
        )


def test_a_run_is_bitwise_the_same_alone_or_in_any_batch():
    n, seed, protocol = 6, 5, sgd.SGDProtocol(samples=100, batch=10, steps=300)

    def train(runs):
        f, mu = sgd.sample_datasets(n, protocol.samples, seed, runs)
        W0, b0 = sgd.gaussian_init(n, 2, 0.5, seed, runs)
        return sgd.run_sgd(W0, b0, f, mu, protocol, seed, runs, checkpoints=[0, 150, 300])

    together = train(list(range(7)))
    for subset in ([3], [5, 3], [6, 0, 2]):
        alone = train(subset)
        for row, r in enumerate(subset):
            assert np.array_equal(alone.W[row], together.W[r])
            assert np.array_equal(alone.b[row], together.b[r])


def test_perturbed_init_is_centred_on_the_start():
    W0, b0 = np.arange(12.0).reshape(2, 6), np.arange(6.0)
    W, b = sgd.perturbed_init(W0, b0, 0.0, seed=1, runs=[0, 1])
    assert np.array_equal(W[1], W0) and np.array_equal(b[0], b0)


def test_checkpoints_cover_both_ends_and_are_increasing():
    steps = sgd.checkpoint_steps(225_000)
    assert steps[0] == 0 and steps[-1] == 225_000 and np.all(np.diff(steps) > 0)
    assert sgd.checkpoint_steps(0).tolist() == [0]


def test_protocol_rejects_impossible_settings():
    with pytest.raises(ValueError):
        sgd.SGDProtocol(samples=10, batch=20)
    with pytest.raises(ValueError):
        sgd.SGDProtocol(lr=-1.0)
