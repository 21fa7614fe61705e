"""The finite-sparsity TMS potential (SPEC §8, issue 16) against independent computations.

References: sympy's exact integration and nested adaptive quadrature of the definitions
(:mod:`critpoints.tms.reference`, no code shared with the closed form) for cubes of dimension
≤ 3, randomised quasi-Monte Carlo beyond; the one-hot potential of SPEC §2 for the limit S → 1.
"""

from __future__ import annotations

import itertools
import math
import sys

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from critpoints import tms
from critpoints.tms import cube, sparse, sparse_symbolic
from critpoints.tms.cube import cube_moment
from critpoints.tms.reference import qmc_sparse_loss, quad_cube_moment, quad_sparse_loss

SPARSITIES = (0.0, 0.3, 0.7, 0.9, 0.99)

# ----------------------------------------------------------------------------------------------
# The derivation


@pytest.mark.parametrize("k", range(sparse_symbolic.MAX_WEIGHT + 1))
def test_interval_rule_integrates_polynomials_exactly(k):
    assert sparse_symbolic.check_interval_rule(k)


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_closed_form_equals_exact_sympy_integration(data):
    """The sympy vertex sum (Piecewise φ's) equals sympy's piecewise integration of the
    definition at rational points, d ≤ 2."""
    d = data.draw(st.integers(1, 2))
    fractions = st.fractions(-2, 2, max_denominator=5).filter(lambda f: f != 0)
    a = [sp.Rational(f.numerator, f.denominator) for f in
         data.draw(st.lists(fractions, min_size=d, max_size=d))]
    c_frac = data.draw(st.fractions(-2, 2, max_denominator=5))
    c = sp.Rational(c_frac.numerator, c_frac.denominator)
    alpha = tuple(data.draw(st.lists(st.integers(0, 2), min_size=d, max_size=d)))
    p = data.draw(st.integers(1, 2))
    expr, symbols, c_sym = sparse_symbolic.cube_moment_closed_form(alpha, p)
    closed = sp.nsimplify(expr.subs(dict(zip(symbols, a)) | {c_sym: c}))
    assert closed == sparse_symbolic.cube_moment_definition(alpha, p, a, c)


# ----------------------------------------------------------------------------------------------
# Cube moments against quadrature (d ≤ 3) and quasi-Monte Carlo (d ≥ 4)

# (no subnormals: the quadrature reference evaluates a·ξ = 5e-324·ξ as 0 on half the interval
# and returns 0.5 for μ_0 = 1; subnormal coefficients are tested against mpmath below)
coefficient = st.one_of(st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False),
                        st.just(0.0))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_cube_moment_matches_quadrature(data):
    d = data.draw(st.integers(1, 3))
    a = data.draw(st.lists(coefficient, min_size=d, max_size=d))
    c = data.draw(st.floats(-2.0, 2.0, allow_nan=False))
    alpha = tuple(data.draw(st.lists(st.integers(0, 3), min_size=d, max_size=d)))
    p = data.draw(st.integers(0, 2))
    value = float(cube_moment(a, c, p, alpha))
    reference = quad_cube_moment(a, c, p, alpha)
    # absolute part: quadrature of a piece of width ~1e-8 left by a breakpoint near 0 or 1
    assert value == pytest.approx(reference, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("d", [4, 5, 6])
def test_cube_moment_matches_quasi_monte_carlo(d):
    from scipy.stats import qmc

    rng = np.random.default_rng(d)
    for trial in range(3):
        a = rng.normal(size=d)
        c = 0.3 * rng.normal() - 0.3 * a.sum() / 2
        alpha = tuple(rng.integers(0, 3, size=d))
        for p in (1, 2):
            estimates = []
            for _ in range(8):
                xi = qmc.Sobol(d, scramble=True, seed=rng).random(2**12)
                z = np.maximum(c + xi @ a, 0.0)
                estimates.append(float((np.prod(xi**np.array(alpha), axis=1) * z**p).mean())
                                 / math.factorial(p))
            mean = np.mean(estimates)
            error = np.std(estimates, ddof=1) / math.sqrt(8)
            assert abs(float(cube_moment(a, c, p, alpha)) - mean) <= 6 * error + 1e-12, (
                trial, p)


def test_unweighted_identity_of_the_issue():
    """∫ ReLU(c + a·x)^p dx = p!/(p+d)! Σ_v (−1)^(d−|v|) ReLU(c + a·v)^(p+d)/Π a_i, evaluated here
    directly in exact rationals (SPEC §8's box-spline identity, sign convention made explicit)."""
    from fractions import Fraction
    from itertools import product

    a = [Fraction(3, 4), Fraction(-1, 2), Fraction(5, 3)]
    c = Fraction(-2, 5)
    for p in (0, 1, 2):
        d = len(a)
        total = Fraction(0)
        for v in product((0, 1), repeat=d):
            z = c + sum(ai * vi for ai, vi in zip(a, v))
            if z > 0:
                total += (-1) ** (d - sum(v)) * z ** (p + d)
        closed = total * math.factorial(p) / math.factorial(p + d) / math.prod(a)
        assert float(cube_moment([float(x) for x in a], float(c), p)) * math.factorial(p) \
            == pytest.approx(float(closed), rel=1e-14)


# ----------------------------------------------------------------------------------------------
# Numerical stability: near-degenerate coefficients against mpmath at 50 digits

NEAR_DEGENERATE = [
    ([1e-8, 1.0], -0.5),
    ([1e-8, -1e-8, 1.0], 0.2),
    ([0.0, 1.0, -0.7], 0.3),
    ([1e-12, 0.0, 2.0, -1.5], -0.1),
    ([1e-5, 1e-5, 1e-5, 1.0], -0.5),
    ([3e-9, -0.4, 0.8, 1e-300], 0.05),
    ([1.0, -1.0, 1e-7, 2e-7, -3e-7], 0.01),
]


@pytest.mark.parametrize("a, c", NEAR_DEGENERATE)
@pytest.mark.parametrize("p, weight", [(2, 0), (1, 1), (0, 2), (-1, 3)])
def test_near_degenerate_coefficients_against_mpmath(a, c, p, weight):
    alpha = (weight,) + (0,) * (len(a) - 1)
    value = cube_moment(a, c, p, alpha)
    with mpmath.workdps(50):
        precise = cube_moment(a, c, p, alpha, dps=50)
        assert abs(value - precise) <= 1e-13 * abs(precise) + 1e-28 * (1 + abs(c) ** 2)


def test_small_coefficient_is_continuous_into_the_dropped_dimension():
    """a_1 = 10⁻⁸ and a_1 = 0 (the coordinate dropped exactly) differ by O(10⁻⁸)."""
    for p, alpha in ((2, (0, 0, 0)), (1, (1, 1, 0)), (0, (2, 0, 1))):
        tiny = cube_moment([1e-8, 0.9, -0.6], -0.2, p, alpha)
        zero = cube_moment([0.0, 0.9, -0.6], -0.2, p, alpha)
        assert abs(tiny - zero) < 1e-7


def test_fallbacks_are_taken_when_needed(monkeypatch):
    """An ill-conditioned vertex sum goes through double-double; a denormal coefficient
    (1/Π a overflows) through mpmath, and both agree with mpmath at 60 digits."""
    calls = []
    original = cube._precise
    monkeypatch.setattr(cube, "_precise", lambda *args: calls.append(args) or original(*args))
    value = cube_moment([1e-9, 1.0, -1.0], 0.4, 2)
    assert not calls
    assert value == pytest.approx(float(cube_moment([1e-9, 1.0, -1.0], 0.4, 2, dps=60)),
                                  rel=1e-13)
    # both entries of a single-coefficient cube overflow 1/a: no small coordinate to split off
    value = cube_moment([1e-310], -1e-310 / 2, 2)
    assert calls
    assert value == pytest.approx(float(cube_moment([1e-310], -1e-310 / 2, 2, dps=60)),
                                  rel=1e-13)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_compiled_double_double_vertex_sum_is_the_numpy_one(data):
    """The compiled double-double vertex sum takes the numpy reference's operations in its
    order: the same bits for μ and Σ|terms|, on cubes of every dimension up to 6 with weights,
    one or several rows, and coefficients from 1 down to 10⁻¹² (where double-double is needed)."""
    d = data.draw(st.integers(1, 6))
    alpha = tuple(data.draw(st.lists(st.integers(0, 3), min_size=d, max_size=d)))
    N = data.draw(st.sampled_from([1, 2, 5]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = rng.normal(size=(N, d)) * 10.0 ** rng.integers(-12, 1, size=(N, d))
    a[a == 0] = 1.0
    c = rng.normal(size=N) * 0.5
    p = data.draw(st.integers(-1, 2))
    reference = cube._vertex_sum_dd_numpy(a, c, p, alpha)
    compiled = cube._vertex_sum_dd(a, c, p, alpha)
    for ours, theirs in zip(compiled, reference):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("d", range(1, 6))
def test_compiled_double_double_on_a_grid_of_weights(d):
    """Every weight with |α| ≤ 2 on seven rows with one coefficient 10⁻⁶ (the sums of the
    reference run in Fortran or C order depending on the weights, and the rounding of Σ|terms|
    follows that order): the compiled sum gives the reference's bits for every p."""
    rng = np.random.default_rng(d)
    for alpha in itertools.product(range(3), repeat=d):
        if sum(alpha) > 2:
            continue
        a = rng.normal(size=(7, d))
        a[:, 0] *= 1e-6
        c = rng.normal(size=7) * 0.5
        for p in range(-1, 3):
            reference = cube._vertex_sum_dd_numpy(a, c, p, alpha)
            compiled = cube._vertex_sum_dd(a, c, p, alpha)
            for ours, theirs in zip(compiled, reference):
                np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_mpmath_vertex_sum_is_the_mpf_arithmetic(data):
    """The mpmath vertex sum works on raw libmp values with one coefficient per class of terms;
    it must give the bits of the plain mpf arithmetic it replaces (``_vertex_sum_reference``:
    φ = z^N/N! or z·0, the products coefficient·φ, fsum of the terms and of their absolute
    values), and so must the float64 sum (one coefficient per class, then gathered)."""
    d = data.draw(st.integers(1, 4))
    alpha = tuple(data.draw(st.lists(st.integers(0, 2), min_size=d, max_size=d)))
    p = data.draw(st.integers(-1, 2))
    dps = data.draw(st.sampled_from([20, 60]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    with mpmath.workdps(dps):
        a = np.array([[mpmath.mpf(float(v)) for v in row]
                      for row in rng.normal(size=(3, d)) * 10.0 ** rng.integers(-8, 1, (3, d))],
                     dtype=object)
        c = np.array([mpmath.mpf(float(v)) for v in rng.normal(size=3) * 0.5], dtype=object)
        z = c[:, None] + (a[:, None, :] * cube._vertices(d)[None]).sum(axis=2)
        for row in range(3):  # the fallback's vertex values, on raw values: the same bits
            assert list(cube._mp_vertex_values(a[row], c[row])) == list(z[row])
        value, size = cube._vertex_sum(z, a, p, alpha)
        reference = cube._vertex_sum_reference(z, a, p, alpha)
    assert list(value) == list(reference[0]) and list(size) == list(reference[1])
    floats = np.array(z, dtype=float), np.array(a, dtype=float)
    for ours, theirs in zip(cube._vertex_sum(*floats, p, alpha),
                            cube._vertex_sum_reference(*floats, p, alpha)):
        np.testing.assert_array_equal(ours, theirs)


def test_tiny_coefficients_are_split_off_without_mpmath(monkeypatch):
    """Denormal and 10⁻¹¹ coefficients (a cube of the n = 2 phase diagram, antipodal type near
    its collapse) go through the exact quadrature of cube._split_moment, not mpmath."""
    calls = []
    original = cube._precise
    monkeypatch.setattr(cube, "_precise", lambda *args: calls.append(args) or original(*args))
    cases = [([1e-310, 1e-310, 1.0], -0.5, 2, (0, 0, 0)),
             ([1.0000000001183467, 6.215409658062117e-11], -6.832988688245929e-11, -1, (1, 2)),
             ([1.0000000001183467, 6.215409658062117e-11], -6.832988688245929e-11, 0, (1, 1))]
    for a, c, p, alpha in cases:
        value = cube_moment(a, c, p, alpha)
        assert not calls
        exact = cube_moment(a, c, p, alpha, dps=60)
        assert abs(value - exact) <= 1e-14 * abs(exact)
        calls.clear()


def _log_coefficient(sign: int, exponent: float) -> float:
    return 0.0 if exponent > 16.5 else sign * 10.0 ** -exponent


coefficient_scale = st.builds(_log_coefficient, st.sampled_from([-1, 1]), st.floats(0, 17))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 4).flatmap(lambda d: st.tuples(
    st.lists(coefficient_scale, min_size=d, max_size=d),
    st.one_of(st.floats(-2, 2), coefficient_scale),
    st.integers(-1, 2),
    st.lists(st.integers(0, 3), min_size=d, max_size=d))))
def test_coefficients_from_1e_16_to_1_against_mpmath(case):
    """Coefficients spanning 10⁻¹⁶..1 (and exact zeros), offsets O(1) or as tiny: the float64
    moment (with its automatic split / double-double / mpmath fallbacks) agrees with mpmath at
    50 digits to 10⁻¹³ relative, or to the stated absolute floor RTOL·2⁻²⁶·scale for moments far
    below their natural scale (cube.py's rule)."""
    a, c, p, alpha = case
    if p == -1 and not any(a):
        return
    value = cube_moment(a, c, p, alpha)
    with mpmath.workdps(50):
        exact = cube_moment(a, c, p, alpha, dps=50)
    top = max(c + sum(max(x, 0.0) for x in a), 0.0)
    scale = 1 / max(abs(x) for x in a) if p < 0 else top**p / math.factorial(p)
    # (and float64's range: a moment below the smallest normal float64 — 8e-1132 from
    # c = 3.8e-283, p = 2 — is returned as 0 or a subnormal)
    floor = max(cube.RTOL * 2.0**-26 * scale, sys.float_info.min)
    # the stated contract of every path (float64 sums are accepted up to RTOL = 1e-12) ...
    assert abs(value - exact) <= cube.RTOL * abs(exact) + floor
    # ... and the split quadrature on its own, wherever it applies, to 1e-13
    nonzero = [x for x in a if x]
    if len(nonzero) >= 2 and cube.CubeBatch(np.array([nonzero]), np.array([c])).cut.size:
        kept = tuple(k for x, k in zip(a, alpha) if x)
        factor = math.prod(1 / (k + 1) for x, k in zip(a, alpha) if not x)
        big = max(max(abs(x) for x in nonzero), abs(c))
        scaled = np.array([nonzero]) / big
        t = int(np.abs(scaled).argmin())
        split = cube._split_moment(scaled, np.array([c / big]), p, kept, t)[0]
        split *= factor * big**p
        assert abs(split - exact) <= 1e-13 * abs(exact) + floor


@settings(max_examples=50, deadline=None)
@given(bases=st.lists(st.floats(1e-8, 10.0), min_size=1, max_size=8),
       exponents=st.lists(st.integers(0, 12), min_size=1, max_size=8))
def test_integer_power_is_the_left_to_right_product(bases, exponents):
    """The cube moments' integer powers are x·x·…·x from the left in IEEE products (the same
    bits on every CPU, unlike numpy's SIMD ``power``), within e ulps of the exact power."""
    size = min(len(bases), len(exponents))
    base, exponent = np.array(bases[:size]), np.array(exponents[:size])
    powers = cube._integer_power(base, exponent)
    for x, e, value in zip(base.tolist(), exponent.tolist(), powers.tolist()):
        product = 1.0
        for _ in range(e):
            product = product * x
        assert value == product
        with mpmath.workdps(50):
            exact = mpmath.mpf(x) ** e
            assert abs(value - exact) <= e * 2.0**-52 * exact
    assert np.array_equal(cube._integer_power(base, 3), cube._integer_power(base, np.full(size, 3)))
    with pytest.raises(ValueError):
        cube._integer_power(base, -1)


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-10.0, 10.0), st.floats(-1e-300, 1e-300),
                                 st.sampled_from([0.0, -0.0, 1e300, -1e300])),
                       min_size=2, max_size=16),
       orders=st.lists(st.integers(0, 14), min_size=1, max_size=12), rows=st.integers(1, 3))
def test_compiled_phi_is_the_numpy_phi(values, orders, rows):
    """The vertex sum's φ terms, compiled, are the bits of ``cube._phi`` (signs, zeros,
    subnormal and overflowing powers included)."""
    width = len(values)
    z = np.array([values[(i + r) % width] for r in range(rows) for i in range(width)]
                 ).reshape(rows, width)
    vertex = np.array([k % width for k in range(len(orders))], dtype=np.intp)
    order = np.array(orders)
    with np.errstate(over="ignore", under="ignore"):
        expected = cube._phi(z[:, vertex], order[None, :])
    got = cube._phi_terms(z, vertex, order)
    assert got.tobytes() == expected.tobytes()


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 4).flatmap(lambda d: st.tuples(
    st.lists(st.floats(0.3, 2.0), min_size=d, max_size=d),
    st.lists(st.sampled_from([-1, 1]), min_size=d, max_size=d),
    st.floats(-1.5, 1.5),
    st.integers(-1, 2),
    st.lists(st.integers(0, 3), min_size=d, max_size=d),
    st.integers(0, d - 1))))
@example(([1.0, 1.0], [-1, -1], 2.707065033620372e-206, 2, [0, 0], 0))
def test_split_quadrature_equals_the_vertex_sum_where_it_is_well_conditioned(case):
    """Coefficients of comparable size (the vertex sum accepted in float64): integrating any one
    coordinate out by cube._split_moment gives the same moment within the vertex sum's own
    tolerance RTOL, and is itself within 10⁻¹³ of mpmath at 50 digits (the float64 vertex sum
    was 8·10⁻¹⁴ off at a = (−1, −0.5, −0.3, 1.9), c = 0.597, the split 2·10⁻¹⁴)."""
    magnitudes, signs, c, p, alpha, t = case
    a = np.array([m * s for m, s in zip(magnitudes, signs)])
    batch = cube.CubeBatch(a[None, :], np.array([c]))
    if not len(batch.cut):
        return
    vertex = cube_moment(a, c, p, alpha)
    split = cube._split_moment(a[None, :], np.array([c]), p, tuple(alpha), t)[0]
    top = max(c + np.maximum(a, 0).sum(), 0.0)
    scale = 1 / np.abs(a).max() if p < 0 else top**p / math.factorial(p)
    # a moment below float64's range (c = 2.7·10⁻²⁰⁶ against a = (−1, −1): μ ≈ 2·10⁻⁸²⁴, found
    # by hypothesis) can only come out as 0 or a few subnormals
    floor = cube.RTOL * 2.0**-26 * scale + 4 * np.finfo(float).smallest_subnormal
    assert abs(split - vertex) <= (cube.RTOL + 1e-13) * abs(vertex) + floor
    with mpmath.workdps(50):
        exact = cube_moment(a, c, p, alpha, dps=50)
    assert abs(split - exact) <= 1e-13 * abs(exact) + floor


# ----------------------------------------------------------------------------------------------
# The potential against the definition

coordinate = st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False)


@st.composite
def sparse_points(draw, max_n=3, max_m=3):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    W = np.array(draw(st.lists(coordinate, min_size=m * n, max_size=m * n))).reshape(m, n)
    b = np.array(draw(st.lists(coordinate, min_size=n, max_size=n))) / 2
    S = draw(st.sampled_from(SPARSITIES))
    importance = draw(st.one_of(st.none(), st.lists(st.floats(0.1, 3.0), min_size=n,
                                                    max_size=n)))
    return W, b, S, importance


@settings(max_examples=12, deadline=None)
@given(sparse_points())
def test_loss_matches_quadrature(point):
    W, b, S, importance = point
    value = tms.loss(W, b, sparsity=S, importance=importance)
    assert value == pytest.approx(quad_sparse_loss(W, b, S, importance), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("n, m", [(4, 2), (5, 3), (6, 2)])
def test_loss_matches_quasi_monte_carlo(n, m):
    rng = np.random.default_rng(10 * n + m)
    for S, importance in ((0.3, None), (0.7, rng.uniform(0.2, 2.0, n)), (0.0, None)):
        W = rng.normal(size=(m, n)) * 0.7
        b = rng.normal(size=n) * 0.3
        estimate, error = qmc_sparse_loss(W, b, S, importance, points=2**11, seed=n)
        value = float(tms.loss(W, b, sparsity=S, importance=importance))
        assert abs(value - estimate) <= 6 * error + 1e-12, (S, value, estimate, error)


def test_the_extreme_sparsities():
    """S = 1: only the all-zero input, L = Σ_j I_j ReLU(b_j)²; S = 0: every feature active,
    against quadrature over the full cube."""
    rng = np.random.default_rng(4)
    W, b, importance = rng.normal(size=(2, 3)), rng.normal(size=3), np.array([1.0, 2.0, 0.5])
    assert tms.loss(W, b, sparsity=1.0, importance=importance) == pytest.approx(
        float((importance * np.maximum(b, 0) ** 2).sum()), rel=1e-15)
    assert tms.loss(W, b, sparsity=0.0, importance=importance) == pytest.approx(
        quad_sparse_loss(W, b, 0.0, importance), rel=1e-12)


# ----------------------------------------------------------------------------------------------
# The limit S → 1 (the one-hot potential of SPEC §2)


def _limit_quotient(W, b, S, **keywords):
    n = W.shape[1]
    zero_input = S**n * np.sum(np.maximum(b, 0) ** 2)
    return (tms.loss(W, b, sparsity=S, **keywords) - zero_input) / (n * (1 - S))


def test_single_feature_sets_are_the_one_hot_potential():
    """With the sets |A| ≤ 1 only, L_S = Sⁿ Σ ReLU(b_j)² + n(1 − S)S^(n−1) L_onehot exactly."""
    rng = np.random.default_rng(7)
    for n in (2, 4, 6):
        W, b = rng.normal(size=(2, n)), rng.normal(size=n) * 0.5
        for S in (0.2, 0.9, 0.999):
            expected = S**n * np.sum(np.maximum(b, 0) ** 2) + n * (1 - S) * S ** (n - 1) * \
                tms.loss(W, b)
            assert tms.loss(W, b, sparsity=S, max_active=1) == pytest.approx(expected, rel=1e-13)
    with mpmath.workdps(40):
        W, b = rng.normal(size=(2, 3)), rng.normal(size=3) * 0.5
        S = mpmath.mpf("0.75")
        expected = S**3 * mpmath.fsum(max(mpmath.mpf(v), 0) ** 2 for v in b.tolist()) \
            + 3 * (1 - S) * S**2 \
            * tms.loss(W, b, dps=40)
        value = tms.loss(W, b, sparsity=0.75, max_active=1, dps=40)
        assert abs(value - expected) < mpmath.mpf(10) ** -35


def test_limit_quotient_tends_to_the_one_hot_potential_at_rate_one_minus_S():
    rng = np.random.default_rng(8)
    for n in (3, 5):
        W, b = rng.normal(size=(2, n)) * 0.8, rng.normal(size=n) * 0.4
        one_hot = float(tms.loss(W, b))
        errors = [abs(_limit_quotient(W, b, 1 - h) - one_hot) for h in (1e-2, 1e-3, 1e-4)]
        # O(1 − S): the error falls tenfold per decade of 1 − S (to within 20 %)
        for coarse, fine in itertools.pairwise(errors):
            assert 8 < coarse / fine < 12.5, errors
        assert errors[-1] < 1e-3 * max(1.0, one_hot)


def test_positive_bias_point_is_not_a_limit_of_finite_sparsity_critical_points():
    """5⁺ (n = 6, SPEC §2): the zero column's bias +1/(2n) is critical for L_onehot, but at
    S < 1 the all-zero input's Sⁿ ReLU(b_6)² dominates its derivative: ∂L_S/∂b_6 ≈ Sⁿ/n > 0."""
    n = 6
    angles = 2 * np.pi * np.arange(5) / 5
    W = np.zeros((2, n))
    W[:, :5] = 1.17046 * np.array([np.cos(angles), np.sin(angles)])
    b = np.array([-0.28230] * 5 + [1 / (2 * n)])
    assert abs(tms.gradient(W, b)[1][5]) < 1e-12  # critical in b_6 for the one-hot model
    for S in (0.99, 0.999):
        db = tms.gradient(W, b, sparsity=S)[1][5]
        # 2 Sⁿ b_6 from the zero input, against O(n(1 − S)) from the rest
        assert db > 0.5 * 2 * S**n / (2 * n)


# ----------------------------------------------------------------------------------------------
# Derivatives, batching, precision, truncation


def test_gradient_and_hessian_at_a_point_with_zero_columns():
    """A 4-gon in n = 6 with two zero columns: exact zeros of G drop coordinates; the gradient
    and the Hessian agree with central differences and with mpmath."""
    n = 6
    W = np.zeros((2, n))
    W[:, :4] = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    b = np.array([-0.1, -0.1, -0.1, -0.1, -0.05, -0.2])
    S = 0.8
    theta = tms.flatten(W, b)
    _, dW, db = tms.loss_and_gradient(W, b, sparsity=S)
    h = 1e-6
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = h
        plus = tms.loss(*tms.unflatten(theta + e, 2, n), sparsity=S)
        minus = tms.loss(*tms.unflatten(theta - e, 2, n), sparsity=S)
        assert tms.flatten(dW, db)[k] == pytest.approx((plus - minus) / (2 * h), abs=1e-8)
    H = tms.hessian(W, b, sparsity=S)
    H_mp = tms.hessian(W, b, sparsity=S, dps=30).astype(float)
    np.testing.assert_allclose(H, H_mp, atol=1e-13)
    np.testing.assert_allclose(H, H.T, atol=0)


def test_batched_evaluation_agrees_with_single_points():
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(2, 3, 2, 4)), rng.normal(size=(2, 3, 4)) * 0.3
    values, dW, db = tms.loss_and_gradient(W, b, sparsity=0.4, importance=[1, 2, 3, 4])
    H = tms.hessian(W, b, sparsity=0.4, importance=[1, 2, 3, 4])
    assert values.shape == (2, 3) and dW.shape == W.shape and H.shape == (2, 3, 12, 12)
    assert db.shape == b.shape
    for index in np.ndindex(2, 3):
        single = tms.loss_and_gradient(W[index], b[index], sparsity=0.4,
                                       importance=[1, 2, 3, 4])
        assert values[index] == single[0]
        np.testing.assert_array_equal(dW[index], single[1])
        np.testing.assert_array_equal(
            H[index], tms.hessian(W[index], b[index], sparsity=0.4, importance=[1, 2, 3, 4]))


def test_mpmath_evaluation_agrees_with_float64():
    rng = np.random.default_rng(5)
    W, b = rng.normal(size=(3, 5)), rng.normal(size=5) * 0.3
    for S in (0.0, 0.5, 0.95):
        value = tms.loss(W, b, sparsity=S, dps=40)
        assert isinstance(value, mpmath.mpf)
        assert float(value) == pytest.approx(float(tms.loss(W, b, sparsity=S)), rel=1e-13)
        for mp, fl in zip(tms.gradient(W, b, sparsity=S, dps=40),
                          tms.gradient(W, b, sparsity=S), strict=True):
            np.testing.assert_allclose(mp.astype(float), fl, rtol=1e-12, atol=1e-14)


def test_truncation_bound_holds():
    rng = np.random.default_rng(6)
    n = 6
    for S in (0.3, 0.7, 0.95):
        W, b = rng.normal(size=(2, n)), rng.normal(size=n) * 0.5
        exact = tms.loss(W, b, sparsity=S)
        for K in range(n + 1):
            truncated = tms.loss(W, b, sparsity=S, max_active=K)
            bound = sparse.truncation_bound(W, b, S, max_active=K)
            assert 0 <= exact - truncated <= bound + 1e-15
        assert sparse.truncation_bound(W, b, S, max_active=n) == 0


def test_cost_counts():
    """n·3ⁿ vertex terms for the full value: Σ_d C(n, d)·n·2^d = n·3ⁿ (binomial theorem)."""
    for n in range(1, 13):
        assert sparse.vertex_terms(n) == n * 3**n


def test_one_hot_behaviour_is_unchanged_without_sparsity():
    rng = np.random.default_rng(9)
    W, b = rng.normal(size=(2, 4)), rng.normal(size=4)
    assert tms.loss(W, b) == tms.potential.loss(W, b, None)
    with pytest.raises(ValueError, match="sparsity"):
        tms.loss(W, b, importance=[1, 1, 1, 1])


@pytest.mark.parametrize("keywords, message", [
    ({"sparsity": 1.5}, "sparsity"),
    ({"sparsity": -0.1}, "sparsity"),
    ({"sparsity": float("nan")}, "sparsity"),
    ({"sparsity": "dense"}, "sparsity"),
    ({"sparsity": 0.5, "importance": [1, 2]}, "one entry per feature"),
    ({"sparsity": 0.5, "importance": [1, 0, 1]}, "positive"),
    ({"sparsity": 0.5, "importance": [1, float("inf"), 1]}, "finite"),
    ({"sparsity": 0.5, "max_active": -1}, "max_active"),
])
def test_bad_arguments_are_refused(keywords, message):
    with pytest.raises(ValueError, match=message):
        tms.loss(np.ones((2, 3)), np.zeros(3), **keywords)


def test_solvers_find_a_critical_point_of_the_sparse_potential():
    """find_critical_points + classify on TMSSparsePotential from the one-hot 6-gon scaled."""
    from critpoints.solve import classify, find_critical_points

    n = 6
    model = tms.TMSSparsePotential(n, 2, sparsity=0.95)
    angles = 2 * np.pi * np.arange(n) / n
    W = 1.32053 * np.array([np.cos(angles), np.sin(angles)])
    b = np.full(n, -0.61814)
    search = find_critical_points(model, model.flatten(W, b))
    assert search.converged
    _, gradient = model.loss_and_gradient(search.theta)
    assert np.linalg.norm(gradient) < 1e-10
    # still a regular hexagon: equal norms and biases (the symmetry is kept by Newton)
    W_found, b_found = model.unflatten(search.theta)
    norms = np.linalg.norm(W_found, axis=0)
    assert np.ptp(norms) < 1e-8 and np.ptp(b_found) < 1e-8
    result = classify(model, search.theta, dps=30)
    # the hexagon is the global minimum of the one-hot model (SPEC §2); at S = 0.95 it stays a
    # local minimum, the rotation its only zero mode
    assert result.hessian_index == 0 and result.n_zero == 1, result


def test_evaluate_command_at_finite_sparsity(tmp_path, capsys):
    """``evaluate --sparsity --importance`` prints the loss of tms.loss with those keywords."""
    import json

    from critpoints.cli import main

    W, b = [[1.0, 0.0, -0.5], [0.0, 1.0, 0.3]], [-0.1, 0.05, -0.2]
    params = tmp_path / "point.json"
    params.write_text(json.dumps({"W": W, "b": b}), encoding="utf-8")
    assert main(["evaluate", "--params", str(params), "--sparsity", "0.7",
                 "--importance", "1,2,0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "sparsity S = 0.7" in lines[0]
    loss_printed = float(lines[1].split()[1])
    assert loss_printed == float(tms.loss(W, b, sparsity=0.7, importance=[1, 2, 0.5]))
    eigenvalues = [float(line) for line in lines[4:]]
    np.testing.assert_allclose(eigenvalues, np.linalg.eigvalsh(
        tms.hessian(W, b, sparsity=0.7, importance=[1, 2, 0.5])), rtol=1e-15, atol=1e-15)


def test_polygons_at_finite_sparsity_with_pinned_dead_columns():
    """The n = 6 pentagon with its dead column pinned at W_6 = 0 (FixedCoordinates): a critical
    point of the full L_S at S = 0.9 (the gradient in the pinned coordinates vanishes by the
    pentagon's symmetry), still a regular pentagon, a local minimum whose zero modes are the
    rotation and the dead column's flat bias; close to the one-hot pentagon (SPEC §2:
    ‖W_i‖ = 1.17046, b = −0.28230) at S = 0.999."""
    from critpoints.potential import FixedCoordinates
    from critpoints.solve import find_critical_points

    n, k = 6, 5
    angles = 2 * np.pi * np.arange(k) / k
    W = np.zeros((2, n))
    W[:, :k] = 1.17046 * np.array([np.cos(angles), np.sin(angles)])
    b = np.array([-0.28230] * k + [-0.1])
    free = [r * n + i for r in range(2) for i in range(k)] + [2 * n + i for i in range(k)]
    found = {}
    for S in (0.999, 0.9):
        model = tms.TMSSparsePotential(n, 2, sparsity=S)
        restricted = FixedCoordinates(model, model.flatten(W, b), free)
        search = find_critical_points(restricted, model.flatten(W, b)[free])
        assert search.converged
        theta = restricted.full(search.theta)
        assert np.linalg.norm(model.loss_and_gradient(theta)[1]) < 1e-12
        W_found, b_found = model.unflatten(theta)
        norms = np.linalg.norm(W_found[:, :k], axis=0)
        assert np.ptp(norms) < 1e-10 and np.ptp(b_found[:k]) < 1e-10
        eigenvalues = np.linalg.eigvalsh(model.hessian(theta))
        tolerance = 1e-9 * np.abs(eigenvalues).max()
        assert (eigenvalues > -tolerance).all() and (np.abs(eigenvalues) <= tolerance).sum() == 2
        found[S] = (norms.mean(), b_found[0])
    assert found[0.999][0] == pytest.approx(1.17046, abs=5e-3)
    assert found[0.999][1] == pytest.approx(-0.28230, abs=5e-3)
    # lower sparsity: a smaller pentagon with a less negative bias (docs/sparsity.md table)
    assert found[0.9][0] < found[0.999][0] and found[0.9][1] > found[0.999][1]


# ----------------------------------------------------------------------------------------------
# Symmetric points: one block per orbit (symmetry=)


@st.composite
def symmetric_points(draw):
    """A point invariant under a group of feature permutations, and generators of the group:
    either a regular k-gon on a random subset of the features with the other columns zero and
    sharing one bias (generators: polygon_symmetry, relabelled), or a random point whose
    features come in classes of identical columns, biases and importances (generators: the
    transpositions inside each class)."""
    from critpoints.kgon.profile import polygon_symmetry

    n = draw(st.integers(3, 6))
    m = draw(st.integers(2, 3))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    S = draw(st.sampled_from(SPARSITIES))
    relabel = rng.permutation(n)  # feature relabel[i] plays the role of i
    if draw(st.booleans()):
        k = draw(st.integers(2, n))
        angles = 2 * np.pi * np.arange(k) / k
        W0 = np.zeros((m, n))
        W0[0, :k], W0[1, :k] = np.cos(angles), np.sin(angles)
        W0 *= rng.uniform(0.5, 1.5)
        b0 = np.where(np.arange(n) < k, rng.uniform(-0.6, 0.3), rng.uniform(-0.3, 0.3))
        I0 = np.where(np.arange(n) < k, 1.0, rng.uniform(0.5, 2.0))
        generators = polygon_symmetry(n, k)
    else:
        classes = rng.integers(0, draw(st.integers(1, n - 1)), size=n)
        columns = rng.normal(size=(m, n)) * 0.8
        biases, weights = rng.normal(size=n) * 0.4, rng.uniform(0.5, 2.0, size=n)
        W0, b0, I0 = columns[:, classes], biases[classes], weights[classes]
        generators = [[j if j not in (a, c) else (c if j == a else a) for j in range(n)]
                      for a in range(n) for c in range(a + 1, n) if classes[a] == classes[c]]
    W, b, importance = np.empty_like(W0), np.empty_like(b0), np.empty_like(I0)
    W[:, relabel], b[relabel], importance[relabel] = W0, b0, I0
    generators = [[int(relabel[g[int(np.flatnonzero(relabel == i)[0])]]) for i in range(n)]
                  for g in generators]
    return W, b, S, importance, generators


@settings(max_examples=15, deadline=None)
@given(symmetric_points())
def test_symmetric_evaluation_is_the_full_sum(point):
    """Value, gradient and Hessian with symmetry= (one block per orbit, symmetrised) equal the
    full sum over all blocks, to rounding; the bias gradient is exactly equal along orbits."""
    W, b, S, importance, generators = point
    L, dW, db = sparse.loss_and_gradient(W, b, S, importance)
    Ls, dWs, dbs = sparse.loss_and_gradient(W, b, S, importance, symmetry=generators)
    scale = max(1.0, abs(float(L)))
    assert abs(Ls - L) <= 1e-13 * scale
    assert np.abs(dWs - dW).max() <= 1e-12 * scale and np.abs(dbs - db).max() <= 1e-12 * scale
    H, Hs = sparse.hessian(W, b, S, importance), sparse.hessian(W, b, S, importance,
                                                                symmetry=generators)
    assert np.abs(Hs - H).max() <= 1e-11 * max(1.0, np.abs(H).max())
    for g in generators:
        assert np.array_equal(dbs[np.array(g)], dbs)


def test_symmetric_evaluation_at_mpmath_precision():
    """The 60-digit polygon of n = 5, k = 4 with symmetry agrees with the full sum to 55
    digits."""
    from critpoints.kgon.profile import polygon_symmetry

    with mpmath.workdps(70):
        W = np.array([[mpmath.mpf("1.2") * mpmath.cospi(mpmath.mpf(2 * i) / 4) if i < 4 else 0
                       for i in range(5)],
                      [mpmath.mpf("1.2") * mpmath.sinpi(mpmath.mpf(2 * i) / 4) if i < 4 else 0
                       for i in range(5)]], dtype=object)
        b = np.array([mpmath.mpf("-0.3")] * 4 + [mpmath.mpf("-0.1")], dtype=object)
    full = sparse.loss_and_gradient(W, b, 0.7, dps=60)
    symmetric = sparse.loss_and_gradient(W, b, 0.7, dps=60, symmetry=polygon_symmetry(5, 4))
    with mpmath.workdps(60):
        assert abs(full[0] - symmetric[0]) <= mpmath.mpf(10) ** -55
        for exact, shared in zip((full[1], full[2]), (symmetric[1], symmetric[2])):
            assert max(abs(x - y) for x, y in zip(np.ravel(exact), np.ravel(shared))) <= \
                mpmath.mpf(10) ** -55


def test_symmetry_is_refused_where_it_does_not_hold():
    W = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    b = np.array([-0.2, -0.2, -0.2])
    swap = [[2, 1, 0]]  # columns 0 and 2 are antipodal: G is invariant under swapping them
    assert sparse.loss(W, b, 0.5, symmetry=swap) == pytest.approx(sparse.loss(W, b, 0.5),
                                                                  rel=1e-14)
    with pytest.raises(ValueError, match=r"G = WᵀW is not invariant under \[1, 0, 2\]"):
        sparse.loss(W, b, 0.5, symmetry=[[1, 0, 2]])
    with pytest.raises(ValueError, match="b is not invariant"):
        sparse.loss(W, np.array([-0.2, -0.2, -0.3]), 0.5, symmetry=swap)
    with pytest.raises(ValueError, match="importances are not invariant"):
        sparse.loss(W, b, 0.5, importance=[1.0, 1.0, 2.0], symmetry=swap)
    with pytest.raises(ValueError, match="not a permutation"):
        sparse.loss(W, b, 0.5, symmetry=[[0, 0, 1]])
    with pytest.raises(ValueError, match="sequence of permutations"):
        sparse.loss(W, b, 0.5, symmetry=[None])
    with pytest.raises(ValueError, match="pass sparsity= as well"):
        tms.loss(W, b, symmetry=swap)


def test_model_with_symmetry_is_the_same_potential():
    from critpoints.kgon.profile import polygon_symmetry, polygon_theta
    from critpoints.tms import TMSSparsePotential

    model = TMSSparsePotential(6, 2, sparsity=0.8)
    symmetric = model.with_symmetry(polygon_symmetry(6, 5))
    theta = polygon_theta(model, 5, np.array([1.1, 0.9]), np.array([-0.2, 0.05]))
    assert np.allclose(symmetric.loss(theta), model.loss(theta), rtol=1e-14, atol=0)
    assert np.allclose(symmetric.gradient(theta), model.gradient(theta), rtol=0, atol=1e-13)
    assert "symmetry=[[1, 2, 3, 4, 0, 5]" in repr(symmetric) and "symmetry" not in repr(model)
    with pytest.raises(ValueError, match="not invariant"):
        symmetric.loss(np.random.default_rng(0).normal(size=model.dim))


@settings(max_examples=8, deadline=None)
@given(st.integers(2, 5), st.integers(1, 3), st.sampled_from(SPARSITIES), st.integers(0, 2**16))
def test_several_importances_give_the_bits_of_one_call_each(n, m, S, seed):
    """with_importances evaluates the blocks once for K importance vectors: each result is
    bit for bit loss_and_gradient and hessian with that vector (batched points)."""
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(3, m, n)) * 0.8, rng.normal(size=(3, n)) * 0.3
    vectors = rng.uniform(0.5, 2.0, size=(2, n))
    for order in (1, 2):
        for vector, result in zip(vectors, sparse.with_importances(W, b, S, vectors, order)):
            single = sparse.loss_and_gradient(W, b, S, vector)
            if order == 2:
                single = (*single, sparse.hessian(W, b, S, vector))
            assert len(result) == len(single)
            assert all(np.array_equal(x, y) for x, y in zip(result, single))
    with pytest.raises(ValueError, match="shape"):
        sparse.with_importances(W, b, S, vectors[0])
    with pytest.raises(ValueError, match="positive"):
        sparse.with_importances(W, b, S, -vectors)
    with pytest.raises(ValueError, match="one entry per feature"):
        sparse.loss(W, b, S, importance=vectors)  # several vectors only through with_importances
