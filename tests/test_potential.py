"""Every :class:`critpoints.potential.Potential` implementation against its own loss.

Properties, run over all implementations: the gradient is the derivative of the loss (central
finite differences, an independent computation from the loss values alone), flatten/unflatten
round-trip (batched), and the Hessian matches finite differences of the gradient.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.linear.covariance import random_covariance
from critpoints.linear.model import LinearAutoencoder
from critpoints.potential import Potential, finite_difference_hessian
from critpoints.slt.potentials import (
    ReducedRankRegression,
    TMSEmpirical,
    TMSEmpiricalSets,
    TMSPopulation,
)
from critpoints.tms.data import sample_high_sparsity
from critpoints.tms.model import TMSPotential, TMSSparsePotential


def _one_hot(n: int, N: int, seed: int) -> np.ndarray:
    return sample_high_sparsity(n, N, seed=seed)


IMPLEMENTATIONS = {
    "tms-population-n4-m2": lambda: TMSPotential(4, 2),
    "tms-population-n3-m3": lambda: TMSPotential(3, 3),
    "tms-sparse-n4-m2": lambda: TMSSparsePotential(4, 2, 0.6, importance=[1, 0.8, 1.2, 0.5]),
    "tms-sparse-n3-m3-dense": lambda: TMSSparsePotential(3, 3, 0.0),
    "tms-empirical": lambda: TMSEmpirical(_one_hot(4, 50, 0)),
    "tms-empirical-sets": lambda: TMSEmpiricalSets([_one_hot(4, 30, 1), _one_hot(4, 20, 2)]),
    "reduced-rank-regression": lambda: ReducedRankRegression(
        np.random.default_rng(3).normal(size=(3, 4)), 2),
    "linear-autoencoder": lambda: LinearAutoencoder(random_covariance(4, 0), 2),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS), scope="module")
def model(request):
    return IMPLEMENTATIONS[request.param]()


def _point(model, seed: int, batch: tuple = ()) -> np.ndarray:
    # Random continuous points: with probability 1 off every kink of the piecewise TMS losses.
    return 0.7 * np.random.default_rng(seed).normal(size=batch + (model.dim,))


def test_every_implementation_is_a_potential(model):
    assert isinstance(model, Potential)
    assert isinstance(model.dim, int) and model.dim > 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_gradient_is_the_derivative_of_the_loss(model, seed):
    theta = _point(model, seed)
    _, gradient = model.loss_and_gradient(theta)
    h = 1e-6
    steps = np.eye(model.dim) * h
    # central differences of the loss: error O(h²)·|L'''| + O(ε/h)·|L| ≈ 1e-9
    numeric = (model.loss(theta + steps) - model.loss(theta - steps)) / (2 * h)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([(), (3,), (2, 2)]))
def test_flatten_unflatten_round_trip(model, seed, batch):
    theta = _point(model, seed, batch)
    parameters = model.unflatten(theta)
    assert all(p.shape[: len(batch)] == batch for p in parameters)
    np.testing.assert_array_equal(model.flatten(*parameters), theta)
    # batched evaluation agrees with one point at a time
    values = np.asarray(model.loss(theta))
    assert values.shape == batch
    for index in np.ndindex(*batch):
        assert values[index] == pytest.approx(float(model.loss(theta[index])), rel=1e-12)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_hessian_matches_differences_of_the_gradient(model, seed):
    theta = _point(model, seed)
    H = model.hessian(theta)
    assert H.shape == (model.dim, model.dim)
    np.testing.assert_allclose(H, finite_difference_hessian(model, theta), rtol=1e-4, atol=1e-5)


def test_orbit_tangents_are_flat_directions(model):
    # L is invariant along its symmetry orbit: L(θ + t v) − L(θ) = O(t²) for every tangent v.
    theta = _point(model, 11)
    tangents = model.orbit_tangents(theta)
    assert tangents.shape[1] == model.dim
    _, gradient = model.loss_and_gradient(theta)
    for v in tangents:
        assert abs(gradient @ v) <= 1e-9 * max(1.0, np.abs(gradient).max() * np.abs(v).max())


@pytest.mark.parametrize("make", [lambda: TMSPotential(4, 2),
                                  lambda: TMSSparsePotential(4, 2, 0.3, importance=[2, 1, 1, .5]),
                                  lambda: LinearAutoencoder(random_covariance(4, 0), 2)])
def test_mpmath_evaluation_agrees_with_float64(make):
    model = make()
    theta = _point(model, 5)
    value, gradient = model.loss_and_gradient(theta, dps=40)
    assert isinstance(value, mpmath.mpf)
    assert float(value) == pytest.approx(float(model.loss(theta)), rel=1e-13)
    np.testing.assert_allclose(gradient.astype(float), model.loss_and_gradient(theta)[1],
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(model.hessian(theta, dps=40).astype(float), model.hessian(theta),
                               rtol=1e-10, atol=1e-12)


def test_fixed_coordinates_restrict_value_gradient_and_hessian():
    from critpoints.potential import FixedCoordinates

    full = TMSSparsePotential(3, 2, 0.5)
    theta = _point(full, 21)
    free = [0, 2, 4, 7]
    restricted = FixedCoordinates(full, theta, free)
    assert restricted.dim == 4
    theta_free = theta[free] + 0.01
    moved = theta.copy()
    moved[free] = theta_free
    value, gradient = restricted.loss_and_gradient(theta_free)
    full_value, full_gradient = full.loss_and_gradient(moved)
    assert value == full_value
    np.testing.assert_array_equal(gradient, full_gradient[free])
    np.testing.assert_array_equal(restricted.hessian(theta_free),
                                  full.hessian(moved)[np.ix_(free, free)])
    # batched, and the restricted loss's own finite differences
    batch = np.stack([theta_free, theta_free + 0.02])
    assert restricted.loss(batch).shape == (2,)
    h = 1e-6
    for k in range(4):
        e = np.zeros(4)
        e[k] = h
        numeric = (restricted.loss(theta_free + e) - restricted.loss(theta_free - e)) / (2 * h)
        assert gradient[k] == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_population_is_one_class():
    assert TMSPopulation is TMSPotential


def test_solvers_import_no_model():
    # critpoints/solve/ takes a Potential: no module-level import of a model package.
    models = ("critpoints.tms", "critpoints.linear", "critpoints.kgon", "critpoints.slt")
    for path in (Path(__file__).parents[1] / "critpoints" / "solve").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(models), (path.name, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith(models) for a in node.names), path.name
