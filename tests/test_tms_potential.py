"""The TMS potential against independent computations of its definition (SPEC §2)."""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from critpoints import tms
from critpoints.tms import symbolic
from critpoints.tms.data import empirical_loss, sample_high_sparsity
from critpoints.tms.reference import quad_loss

# ----------------------------------------------------------------------------------------------
# Independent evaluations of the definition


def exact_loss(W, b) -> sp.Rational:
    """SPEC §2 integrated exactly by sympy for rational W, b: polynomial pieces between switches."""
    W = sp.Matrix(W)
    b = [sp.nsimplify(v) for v in b]
    n = W.shape[1]
    G = W.T * W
    mu = sp.Symbol("mu")
    total = sp.Integer(0)
    for i in range(n):
        for j in range(n):
            pre = G[i, j] * mu + b[j]
            cuts = [sp.Integer(0), sp.Integer(1)]
            if G[i, j] != 0:
                r = -b[j] / G[i, j]
                if 0 < r < 1:
                    cuts.insert(1, r)
            for lo, hi in itertools.pairwise(cuts):
                active = pre.subs(mu, (lo + hi) / 2) > 0
                out = pre if active else 0
                integrand = (mu - out) ** 2 if i == j else out**2
                total += sp.integrate(integrand, (mu, lo, hi))
    return total / n


def regular_polygon(k: int, n: int, norm, vertex_bias, other_bias=0.0):
    """k columns of norm ``norm`` at angles 2πi/k, bias ``vertex_bias``; n - k zero columns."""
    W = np.zeros((2, n))
    b = np.full(n, float(other_bias))
    angles = 2 * np.pi * np.arange(k) / k
    W[0, :k] = norm * np.cos(angles)
    W[1, :k] = norm * np.sin(angles)
    b[:k] = vertex_bias
    return W, b


# ----------------------------------------------------------------------------------------------
# Strategies

coordinate = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


@st.composite
def points(draw, max_n=8, max_m=4):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    W = np.array(draw(st.lists(coordinate, min_size=m * n, max_size=m * n))).reshape(m, n)
    b = np.array(draw(st.lists(coordinate, min_size=n, max_size=n)))
    return W, b


def near_kink(W, b, tol=1e-6) -> bool:
    """Some column and its own bias are both within ``tol`` of 0.

    At W_i = 0, b_i = 0 L is not differentiable, and close to it the second derivatives grow
    like 1/|W_i|², which spoils finite differences.
    """
    return bool(np.any(((W**2).sum(axis=0) <= tol) & (np.abs(b) <= 2 * tol)))


def boundary_distance(W, b) -> float:
    """Distance of the nearest block end value (c or a + c) from 0."""
    G = W.T @ W
    C = np.broadcast_to(b, G.shape)
    return float(min(np.abs(C).min(), np.abs(G + C).min()))


# ----------------------------------------------------------------------------------------------
# The closed form equals the definition


@settings(max_examples=60, deadline=None)
@given(points())
def test_loss_matches_quadrature(point):
    W, b = point
    assert tms.loss(W, b) == pytest.approx(quad_loss(W, b), rel=1e-10, abs=1e-14)


@settings(max_examples=15, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 3),
    st.data(),
)
def test_loss_matches_exact_sympy_integration(n, m, data):
    fractions = st.fractions(-2, 2, max_denominator=7)
    W = [[data.draw(fractions) for _ in range(n)] for _ in range(m)]
    b = [data.draw(fractions) for _ in range(n)]
    exact = exact_loss([[sp.Rational(x.numerator, x.denominator) for x in row] for row in W], b)
    Wf = [[str(sp.Rational(x.numerator, x.denominator).evalf(60)) for x in row] for row in W]
    bf = [str(sp.Rational(x.numerator, x.denominator).evalf(60)) for x in b]
    with mpmath.workdps(50):
        value = tms.loss(Wf, bf, dps=50)
        assert abs(value - mpmath.mpf(str(sp.N(exact, 60)))) < mpmath.mpf(10) ** -45


@pytest.mark.slow
@settings(max_examples=6, deadline=None)
@given(points(max_n=6, max_m=3), st.integers(0, 2**32 - 1))
def test_loss_matches_monte_carlo(point, seed):
    W, b = point
    x = sample_high_sparsity(W.shape[1], 1_000_000, seed=seed)
    G = W.T @ W
    per_sample = np.sum((x - np.maximum(x @ G + b, 0.0)) ** 2, axis=1)
    standard_error = per_sample.std() / math.sqrt(len(per_sample))
    assert abs(per_sample.mean() - tms.loss(W, b)) <= 5 * standard_error + 1e-12
    assert empirical_loss(W, b, x) == pytest.approx(per_sample.mean(), rel=1e-12)


def test_float_and_mpmath_paths_agree():
    rng = np.random.default_rng(7)
    W, b = rng.normal(size=(3, 5)), rng.normal(size=5) * 0.5
    assert float(tms.loss(W, b, dps=30)) == pytest.approx(tms.loss(W, b), rel=1e-14)
    dW, db = tms.gradient(W, b, dps=30)
    dW64, db64 = tms.gradient(W, b)
    np.testing.assert_allclose(dW.astype(float), dW64, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(db.astype(float), db64, rtol=1e-12, atol=1e-14)
    H = tms.hessian(W, b, dps=30)
    np.testing.assert_allclose(H.astype(float), tms.hessian(W, b), rtol=1e-11, atol=1e-13)


def test_batched_matches_single():
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(4, 3, 2, 6)), rng.normal(size=(4, 3, 6))
    values = tms.loss(W, b)
    _, dW, _ = tms.loss_and_gradient(W, b)
    H = tms.hessian(W, b)
    assert values.shape == (4, 3) and dW.shape == W.shape and H.shape == (4, 3, 18, 18)
    for idx in np.ndindex(4, 3):
        assert values[idx] == pytest.approx(tms.loss(W[idx], b[idx]), rel=1e-14)
        np.testing.assert_allclose(dW[idx], tms.gradient(W[idx], b[idx])[0], rtol=1e-13)
        np.testing.assert_allclose(H[idx], tms.hessian(W[idx], b[idx]), rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------------------------
# Symmetries


@settings(max_examples=40, deadline=None)
@given(points(), st.integers(0, 2**32 - 1))
def test_invariant_under_orthogonal_maps_and_permutations(point, seed):
    W, b = point
    rng = np.random.default_rng(seed)
    m, n = W.shape
    Q, _ = np.linalg.qr(rng.normal(size=(m, m)))
    perm = rng.permutation(n)
    reference = tms.loss(W, b)
    assert tms.loss(Q @ W, b) == pytest.approx(reference, rel=1e-12, abs=1e-15)
    assert tms.loss(W[:, perm], b[perm]) == pytest.approx(reference, rel=1e-12, abs=1e-15)
    # The gradient is equivariant: rotate/permute it like the parameters.
    dW, db = tms.gradient(W, b)
    dWp, dbp = tms.gradient(Q @ W[:, perm], b[perm])
    np.testing.assert_allclose(dWp, Q @ dW[:, perm], atol=1e-11)
    np.testing.assert_allclose(dbp, db[perm], atol=1e-11)


# ----------------------------------------------------------------------------------------------
# Derivatives


def _mp_theta(W, b):
    return [mpmath.mpf(float(v)) for v in tms.flatten(W, b)]


@settings(max_examples=20, deadline=None)
@given(points(max_n=5, max_m=3))
def test_gradient_matches_50_digit_finite_differences(point):
    W, b = point
    assume(not near_kink(W, b))
    m, n = W.shape
    with mpmath.workdps(50):
        theta = _mp_theta(W, b)
        h = mpmath.mpf(10) ** -18
        dW, db = tms.gradient(*tms.unflatten(np.array(theta, dtype=object), m, n), dps=50)
        analytic = list(tms.flatten(dW, db))
        for k in range(len(theta)):
            plus, minus = list(theta), list(theta)
            plus[k] += h
            minus[k] -= h
            fd = (
                tms.loss(*tms.unflatten(np.array(plus, dtype=object), m, n), dps=50)
                - tms.loss(*tms.unflatten(np.array(minus, dtype=object), m, n), dps=50)
            ) / (2 * h)
            # Truncation O(h) at a second-derivative jump, O(h²) elsewhere; rounding 1e-32.
            assert abs(fd - analytic[k]) < mpmath.mpf(10) ** -15


def _flat_gradient(theta, m, n):
    dW, db = tms.gradient(*tms.unflatten(theta, m, n))
    return tms.flatten(dW, db)


@settings(max_examples=40, deadline=None)
@given(points(max_n=6, max_m=3))
def test_hessian_symmetric_and_matches_finite_differences(point):
    W, b = point
    assume(boundary_distance(W, b) > 1e-3)
    m, n = W.shape
    H = tms.hessian(W, b)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    theta = tms.flatten(W, b)
    h = 1e-6
    fd = np.array(
        [
            (_flat_gradient(theta + h * e, m, n) - _flat_gradient(theta - h * e, m, n)) / (2 * h)
            for e in np.eye(len(theta))
        ]
    )
    scale = 1.0 + np.abs(H).max()
    np.testing.assert_allclose(fd, H, atol=1e-6 * scale)


@pytest.mark.parametrize("n, m", [(1, 2), (3, 2), (6, 2), (12, 2), (16, 2), (5, 1), (5, 3)])
def test_hessian_assembly_is_bitwise_the_einsum_form(n, m):
    """The O(m²n²) assembly (diagonals written in place) against one einsum per term with
    Kronecker deltas: the same products and sums, so equal to the bit (the searches' results
    must not depend on it), batched and single, with dead, live and zero columns."""
    from critpoints.tms.potential import (
        _assemble_hessian_einsum,
        _blocks,
        _gram_and_bias,
        assemble_hessian,
    )

    rng = np.random.default_rng(n * 10 + m)
    for batch in [(), (7,), (2, 3)]:
        W = rng.normal(size=batch + (m, n))
        b = rng.normal(size=batch + (n,)) * 0.3
        W[..., 0] = 0.0  # a zero column
        G, C = _gram_and_bias(W, b)
        _, F_a, _, F_aa, F_ac, F_cc = _blocks(G, C, 2, None)
        fast = assemble_hessian(W, F_a, F_aa, F_ac, F_cc)
        reference = _assemble_hessian_einsum(W, F_a, F_aa, F_ac, F_cc)
        assert fast.shape == reference.shape
        assert np.array_equal(fast, reference)
    # one point in mpmath numbers: the einsum form adds exact zeros besides, the same values
    with mpmath.workdps(40):
        W = np.vectorize(mpmath.mpf, otypes=[object])(W[(0,) * (W.ndim - 2)])
        b = np.vectorize(mpmath.mpf, otypes=[object])(b[(0,) * (b.ndim - 1)])
        G, C = _gram_and_bias(W, b)
        _, F_a, _, F_aa, F_ac, F_cc = _blocks(G, C, 2, None)
        fast = assemble_hessian(W, F_a, F_aa, F_ac, F_cc)
        reference = _assemble_hessian_einsum(W, F_a, F_aa, F_ac, F_cc)
        assert all(type(x) is mpmath.mpf and x._mpf_ == mpmath.mpf(y)._mpf_
                   for x, y in zip(fast.ravel(), reference.ravel()))


def _same_mpf_bits(x, y) -> bool:
    if isinstance(x, tuple):
        return len(x) == len(y) and all(_same_mpf_bits(u, v) for u, v in zip(x, y))
    if isinstance(x, np.ndarray):
        return x.shape == y.shape and all(_same_mpf_bits(u, v)
                                          for u, v in zip(x.ravel(), y.ravel()))
    return type(x) is mpmath.mpf and type(y) is mpmath.mpf and x._mpf_ == y._mpf_


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 8), m=st.integers(1, 3), dps=st.integers(16, 120),
       seed=st.integers(0, 2**32 - 1), boundary=st.booleans())
def test_high_precision_evaluators_give_the_bits_of_plain_mpmath(n, m, dps, seed, boundary):
    """At dps digits the evaluators run in MPFR (critpoints.mpfr); plain mpmath arithmetic on
    the same formulas is the reference: loss, gradient and Hessian equal to the bit, with zero,
    tiny and large columns and biases, and blocks exactly on activation boundaries (b_j = 0,
    G_ij + b_j = 0, where a wrong sign of zero or a rounded comparison would pick another
    region's formula)."""
    from critpoints.tms import potential

    rng = np.random.default_rng(seed)
    scale = rng.choice([0.0, 1e-30, 1e-9, 0.3, 1.0, 7.0], size=(1, n))
    W = rng.normal(size=(m, n)) * scale
    b = rng.normal(size=n) * rng.choice([0.0, 1e-25, 0.1, 1.0], size=n)
    if boundary and n >= 2:  # b_1 = -G_01 exactly: block (0, 1) on its live/dead boundary
        W[:, 0] = [0.5] + [0.0] * (m - 1)
        W[:, 1] = [0.25] + [0.0] * (m - 1)
        b[1] = -0.125
    for formula in (potential._loss_of, potential._loss_and_gradient_of,
                    potential._hessian_of):
        fast = potential._evaluate(W, b, dps, formula)
        reference = potential._evaluate_in_mpmath(W, b, dps, formula)
        assert _same_mpf_bits(fast, reference), formula.__name__
    # the switching functions of the polish's boundary phase (Gram products and sums)
    from critpoints.tms.model import _switching_values, switching_functions

    values, _ = switching_functions(W, b, dps=dps)
    with mpmath.workdps(dps):
        exact = [np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(x, dtype=object))
                 for x in (W, b)]
        assert _same_mpf_bits(values, _switching_values(*exact))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 7), m=st.integers(1, 3), batch=st.sampled_from([(), (5,), (2, 3)]),
       order=st.integers(0, 2), seed=st.integers(0, 2**32 - 1), given_regions=st.booleans())
def test_compiled_blocks_are_bitwise_the_numpy_blocks(n, m, batch, order, seed, given_regions):
    """The compiled loop (critpoints.tms._compiled_blocks) runs the generated formulas block by
    block; the numpy path sorts the blocks by region and runs each formula on a slice. Same
    operations in the same order per block, so the same bits — in every region (zero, tiny and
    large columns and biases put blocks on and near the boundaries), with the regions forced
    too (any region's formula on any block, inf and nan included), batched or not."""
    from critpoints.tms import _compiled_blocks
    from critpoints.tms.potential import _blocks, _gram_and_bias

    rng = np.random.default_rng(seed)
    scale = rng.choice([0.0, 1e-9, 0.3, 1.0, 3.0], size=batch + (1, n))
    W = rng.normal(size=batch + (m, n)) * scale
    b = rng.normal(size=batch + (n,)) * rng.choice([0.0, 1e-12, 0.1, 1.0], size=batch + (n,))
    b[..., 0] = -W[..., 0, 0] ** 2 if m == 1 else b[..., 0]  # G_00 + b_0 = 0: on a boundary
    regions = rng.integers(0, 4, size=batch + (n, n)).astype(np.int8) if given_regions else None
    compiled = _compiled_blocks.blocks(W, b, order, regions)
    with np.errstate(all="ignore"):
        reference = _blocks(*_gram_and_bias(W, b), order, regions)
    assert len(compiled) == len(reference) == (1, 3, 6)[order]
    for fast, slow in zip(compiled, reference):
        assert fast.shape == slow.shape == batch + (n, n)
        assert np.array_equal(fast, slow, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 8), m=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_compiled_point_loss_and_gradient_are_the_numpy_ones(n, m, seed):
    """The one-point loss and gradient the compiled local searches use
    (``_compiled_blocks.point_loss``, ``point_loss_and_gradient``) against the numpy evaluators:
    the same blocks, summed in another order, so equal to rounding — with zero and tiny columns
    and biases putting blocks on and near the boundaries."""
    from critpoints.tms import _compiled_blocks

    rng = np.random.default_rng(seed)
    W = rng.normal(size=(m, n)) * rng.choice([0.0, 1e-9, 0.3, 1.0, 3.0], size=(1, n))
    b = rng.normal(size=n) * rng.choice([0.0, 1e-12, 0.1, 1.0], size=n)
    theta = tms.flatten(W, b)
    grad = np.empty_like(theta)
    value = _compiled_blocks.point_loss_and_gradient(theta, m, n, grad)
    reference, dW, db = tms.loss_and_gradient(W, b)
    scale = 1.0 + float(np.abs(W).max()) ** 4
    assert value == pytest.approx(float(reference), rel=1e-13, abs=1e-15 * scale)
    assert _compiled_blocks.point_loss(theta, m, n) == pytest.approx(value, rel=1e-13,
                                                                     abs=1e-15 * scale)
    np.testing.assert_allclose(grad, tms.flatten(dW, db), rtol=1e-12, atol=1e-14 * scale)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 7), m=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_compiled_quotient_descent_takes_the_numpy_steps(n, m, seed):
    """``TMSPotential.quotient_descent`` (the compiled descent of the directional quotient q(v)
    of the classification) against the numpy loop of ``sphere_descent_step`` from the same
    starts: after a few steps (before rounding differences can steer a flat valley elsewhere)
    the same directions and quotients; after many, unit vectors that never went up."""
    from critpoints.potential import complement_basis, sphere_descent_step
    from critpoints.tms.model import TMSPotential

    rng = np.random.default_rng(seed)
    model = TMSPotential(n, m)
    theta0 = rng.normal(size=model.dim) * 0.6
    basis = complement_basis(model.orbit_tangents(theta0), model.dim)
    L0 = float(model.loss(theta0))
    t = np.repeat([1e-2, 1e-3], 4)
    z0 = rng.normal(size=(len(t), basis.shape[1]))
    z0 /= np.linalg.norm(z0, axis=1, keepdims=True)

    def q_and_grad(z):
        value, grad = model.loss_and_gradient(theta0 + t[:, None] * (z @ basis.T))
        return (value - L0) / t**2, grad @ basis / t[:, None]

    z, (q, g) = z0, q_and_grad(z0)
    q_start, step = q.copy(), np.full(len(t), 0.1)
    for _ in range(3):
        z, q, g, step = sphere_descent_step(z, q, g, step, q_and_grad)
    z_fast, q_fast = model.quotient_descent(theta0, basis, t, z0, L0, 3)
    np.testing.assert_allclose(z_fast, z, atol=1e-9)
    # q carries the rounding of L (~1e-16) divided by t²
    assert (np.abs(q_fast - q) <= 1e-6 * np.abs(q) + 1e-14 / t**2).all()
    z_long, q_long = model.quotient_descent(theta0, basis, t, z0, L0, 100)
    np.testing.assert_allclose(np.linalg.norm(z_long, axis=1), 1.0, atol=1e-12)
    assert (q_long <= q_start).all()


def test_exact_derivatives_of_symbolic_loss():
    """Gradient and Hessian against sympy's differentiation of the assembled Piecewise loss."""
    L, Wsym, bsym = symbolic.symbolic_loss(3, 2)
    symbols = list(Wsym) + list(bsym)  # W row-major, then b: the documented θ order
    grad = [sp.diff(L, s) for s in symbols]
    hess = [[sp.diff(g, t) for t in symbols] for g in grad]
    rng = np.random.default_rng(11)
    for _ in range(2):
        W = np.round(rng.normal(size=(2, 3)), 3)
        b = np.round(rng.normal(size=3) * 0.5, 3)
        values = {s: sp.Rational(str(v)) for s, v in zip(symbols, tms.flatten(W, b))}
        exact_grad = np.array([g.subs(values) for g in grad], dtype=float)
        np.testing.assert_allclose(exact_grad, _flat_gradient(tms.flatten(W, b), 2, 3), atol=1e-12)
        exact_hess = np.array([[h.subs(values) for h in row] for row in hess], dtype=float)
        np.testing.assert_allclose(exact_hess, tms.hessian(W, b), atol=1e-11)


@st.composite
def boundary_points(draw):
    """A point with block (i, j) exactly on an activation boundary (c = 0 or a + c = 0)."""
    W, b = draw(points(max_n=6, max_m=3))
    n = W.shape[1]
    i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
    G = W.T @ W
    b = b.copy()
    b[j] = 0.0 if draw(st.booleans()) else -G[i, j]
    return W, b, j


@settings(max_examples=60, deadline=None)
@given(boundary_points())
def test_gradient_continuous_across_activation_boundaries(case):
    W, b, j = case
    assume(not near_kink(W, b, tol=1e-5))
    eps = 1e-7
    above, below = b.copy(), b.copy()
    above[j] += eps
    below[j] -= eps
    dW_above, db_above = tms.gradient(W, above)
    dW_below, db_below = tms.gradient(W, below)
    # Continuity leaves a difference of at most 2·eps·(second derivative); a jump would be
    # O(1/n) whatever eps is.
    curvature = max(np.abs(tms.hessian(W, above)).max(), np.abs(tms.hessian(W, below)).max())
    allowed = 4 * eps * (1 + curvature)
    assume(allowed < 1e-3)
    assert np.abs(db_above - db_below).max() <= allowed
    assert np.abs(dW_above - dW_below).max() <= allowed


def test_kink_where_column_and_bias_vanish():
    """At W_i = 0, b_i = 0 the b_i-derivative jumps by -1/n (Q(0, c) = 1/3 - c + c² for c > 0)."""
    n = 4
    W = np.zeros((2, n))
    W[:, 1:] = [[1.0, 0.0, -0.5], [0.0, 1.0, 0.3]]
    b = np.array([0.0, -0.2, 0.1, -0.3])
    _, db = tms.gradient(W, b)
    h = 1e-7
    right = b.copy()
    right[0] = h
    left = b.copy()
    left[0] = -h
    # Independent one-sided difference quotients of the definition.
    assert db[0] == pytest.approx((quad_loss(W, b) - quad_loss(W, left)) / h, abs=1e-6)
    assert db[0] + tms.kink_jumps(W, b)[0] == pytest.approx(
        (quad_loss(W, right) - quad_loss(W, b)) / h, abs=1e-6
    )
    assert tms.kink_jumps(W, b)[0] == pytest.approx(-1 / n)


# ----------------------------------------------------------------------------------------------
# Edge cases (each against quadrature of the definition)


@pytest.mark.parametrize(
    "W, b",
    [
        # W = 0: every output is ReLU(b)
        (np.zeros((2, 3)), np.array([0.0, 0.3, -0.2])),
        # orthogonal columns: a = 0 off the diagonal, with c > 0, c = 0, c < 0
        (np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), np.array([0.2, 0.0, -0.1])),
        # b exactly 0 with a > 0 and a < 0
        (np.array([[1.0, -0.5], [0.2, 0.1]]), np.array([0.0, 0.0])),
        # ReLU switching exactly at mu = 1 (b_1 = -G_01) and at mu = 0 (b = 0)
        (np.array([[1.0, 0.5], [0.0, 0.5]]), np.array([0.0, -0.5])),
        # dead vertex exactly at threshold b_i = -|W_i|²
        (np.array([[1.2, -0.3], [0.4, 0.9]]), np.array([-1.6, -0.5])),
    ],
)
def test_edge_cases_match_quadrature(W, b):
    assert tms.loss(W, b) == pytest.approx(quad_loss(W, b), rel=1e-12, abs=1e-15)
    assert float(tms.loss(W, b, dps=40)) == pytest.approx(quad_loss(W, b), rel=1e-12, abs=1e-15)
    assert np.all(np.isfinite(tms.hessian(W, b)))


def test_all_zero_parameters():
    # L(0, 0) = E[mu²] = 1/3 exactly: nothing is reconstructed.
    with mpmath.workdps(40):
        assert tms.loss(np.zeros((2, 5)), np.zeros(5), dps=40) == mpmath.mpf(1) / 3


# ----------------------------------------------------------------------------------------------
# Published values (SPEC §2 table, from Chen et al. 2023 and seed 001)


@pytest.mark.parametrize(
    "label, k, norm, vertex_bias, extra_bias, published",
    [
        ("6-gon", 6, 1.32053, -0.61814, [], 0.04819),
        ("5-gon", 5, 1.17046, -0.28230, [-0.5], 0.06874),
        ("5+", 5, 1.17046, -0.28230, [1 / 12], 0.06180),
        ("4+", 4, 1.0, 0.0, [1 / 12, -1.0], 0.10417),
    ],
)
def test_published_losses_n6(label, k, norm, vertex_bias, extra_bias, published):
    W, b = regular_polygon(k, 6, norm, vertex_bias)
    b[k:] = extra_bias
    assert round(float(tms.loss(W, b)), 5) == published, label


def test_published_losses_n5():
    # SPEC §2: L(4-gon, n = 5) = 0.06667 and L(5-gon, n = 5) = 0.01583 (from the paper).
    # The 4-gon's remaining column is dead (b < 0); the square has l = 1, b = 0.
    W, b = regular_polygon(4, 5, 1.0, 0.0, other_bias=-1.0)
    assert round(float(tms.loss(W, b)), 5) == 0.06667


@settings(max_examples=30, deadline=None)
@given(points(max_n=8, max_m=3), st.data())
def test_positive_bias_zero_column_lowers_loss_by_quarter_n_squared(point, data):
    """SPEC §2: a zero column's optimal positive bias is 1/(2n) and lowers L by exactly 1/(4n²)."""
    W, b = point
    n = W.shape[1]
    j = data.draw(st.integers(0, n - 1))
    W = W.copy()
    W[:, j] = 0.0
    with mpmath.workdps(40):
        off, on = b.astype(object), b.astype(object)
        off[j] = mpmath.mpf(0)
        on[j] = mpmath.mpf(1) / (2 * n)
        drop = tms.loss(W, on, dps=40) - tms.loss(W, off, dps=40)
        assert abs(drop + mpmath.mpf(1) / (4 * n * n)) < mpmath.mpf(10) ** -35
        # and 1/(2n) is where the b_j-derivative vanishes
        _, db = tms.gradient(W, on, dps=40)
        assert abs(db[j]) < mpmath.mpf(10) ** -35


# ----------------------------------------------------------------------------------------------
# The derivation itself


def test_generated_modules_are_current():
    from critpoints.cli.derive import stale_files

    stale = [path.name for path in stale_files()]
    assert not stale, f"stale generated code {stale}: run `python -m critpoints derive --write`"


def test_derive_names_the_stale_file(monkeypatch, tmp_path, capsys):
    """`critpoints derive` exits 1 naming exactly the stale generated module (here the polygon one,
    pointed at a tampered copy), and 0 when both are current."""
    from critpoints.cli import derive, main

    sources = derive.generated_sources()
    tampered = {}
    for path, source in sources.items():
        copy = tmp_path / path.name
        edit = "# edited by hand\n" if path.name == "_polygon_generated.py" else ""
        copy.write_text(source + edit, encoding="utf-8")
        tampered[copy] = source
    monkeypatch.setattr(derive, "generated_sources", lambda: tampered)
    assert main(["derive"]) == 1
    err = capsys.readouterr().err
    assert "_polygon_generated.py differs" in err and "/_generated.py differs" not in err
    assert main(["derive", "--write"]) == 0
    assert main(["derive"]) == 0


def test_polygon_blocks_recombine_to_the_block_formulas():
    """The generated polygon parts, put back together as constant + x·F₁ part + x²·F₂ part, are
    the sympy block formulas with a = xκ, c = xs (an independent substitution, every region)."""
    import sympy as sp

    from critpoints.tms._polygon_generated import PARTS

    x, s, kappa = sp.symbols("x s kappa")
    formulas = symbolic.block_formulas()
    for block in ("P", "Q"):
        for code in range(4):
            first, second = PARTS[block][code](kappa)
            constant = sp.Rational(1, 3) if block == "Q" else 0  # Q(0, 0) = ∫ mu² = 1/3
            rebuilt = constant + x * sum(v * s**j for j, v in enumerate(first)) + x**2 * sum(
                v * s**j for j, v in enumerate(second))
            direct = formulas[block][code].subs({symbolic.a: x * kappa, symbolic.c: x * s})
            assert sp.simplify(rebuilt - direct) == 0, (block, code)


def test_region_formulas_join_continuously():
    """Adjacent regions agree in value and first derivatives on their common boundary."""
    a, c = symbolic.a, symbolic.c
    f = symbolic.block_formulas()
    # boundary c = 0 (a > 0: rising|live, a < 0: dead|falling);
    # boundary a + c = 0 (dead|rising, falling|live)
    pairs = [((1, 3), {c: 0}), ((0, 2), {c: 0}), ((0, 1), {c: -a}), ((2, 3), {c: -a})]
    for block in ("P", "Q"):
        for (r1, r2), at in pairs:
            for suffix in ("", "_a", "_c"):
                lhs, rhs = f[block + suffix][r1].subs(at), f[block + suffix][r2].subs(at)
                assert sp.simplify(lhs - rhs) == 0, (block + suffix, r1, r2)
    # P is even C² away from a = 0 (only Q's Hessian jumps, at a + c = 0)
    for (r1, r2), at in pairs:
        for suffix in ("_aa", "_ac", "_cc"):
            assert sp.simplify(f["P" + suffix][r1].subs(at) - f["P" + suffix][r2].subs(at)) == 0
    jump = sp.simplify(f["Q_cc"][1].subs(c, -a) - f["Q_cc"][0].subs(c, -a))
    # Q = 1/3 - 2R + P with R = ∫ mu ReLU: R_cc = (switch point)/a → 1/a, P is C²: jump -2/a
    assert jump == -2 / a


def test_regions_partition_the_plane():
    """Every (a, c) lies in exactly one region, and the partial ones imply a ≠ 0."""
    rng = np.random.default_rng(0)
    samples = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, -1), (-1, 1)]
    samples += [tuple(v) for v in rng.normal(size=(200, 2))]
    a, c = symbolic.a, symbolic.c
    for av, cv in samples:
        hits = [r.code for r in symbolic.REGIONS if r.condition.subs({a: av, c: cv})]
        assert len(hits) == 1
        if hits[0] in (1, 2):
            assert av != 0 and 0 <= -cv / av <= 1
