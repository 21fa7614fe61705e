"""Weighted cube moments μ_p^α(a, c) = E_{ξ ~ U[0,1]^d}[ξ^α φ_p(c + a·ξ)], φ_p = ReLU^p/p!.

The building blocks of the finite-sparsity potential (:mod:`critpoints.tms.sparse`), evaluated
from the closed form derived in :mod:`critpoints.tms.sparse_symbolic` (the vertex sum built
from the generated one-dimensional rules ``INTERVAL_RULES``), with φ_0 = H (H(0) = 0) and
φ_{−1} = δ (p = −1 is allowed when d ≥ 1: the moments of the Hessian of the reconstruction term).

Three regimes, decided from the vertex values c + a·v (exactly, at the precision of the input):

- **dead** (every vertex value ≤ 0): the pre-activation is ≤ 0 on the whole cube; μ = 0.
- **live** (every vertex value > 0): φ_p is the polynomial (c + a·ξ)^p/p! on the whole cube and
  μ is a finite sum of products of uniform moments E[ξ_t^k] = 1/(k + 1). All its terms are
  bounded by (|c| + Σ|a_t|)^p ≤ (2 max_v z_v)^p while μ ≥ (max_v z_v / 2)^p 4^{−|α|}, so it
  loses at most a few bits: no cancellation to fear.
- **cut** (the hyperplane c + a·ξ = 0 crosses the cube): the vertex sum. It divides by Π a_t and
  its terms alternate in sign: the rounding error of the float64 sum is about
  ε·Σ|terms|, ε = 2⁻⁵², so its relative error is ε × κ with the condition number
  κ = Σ|terms| / |μ|. κ is about 1 to 10³ for coefficients of comparable size and grows like
  (scale / min|a_t|)^{1+α_t} when one coefficient is small against the others or against c
  (a_t = 10⁻⁸ gives κ ≈ 10⁸: half the float64 digits gone).

The stated rule (:data:`RTOL`): a float64 vertex sum is accepted when ``SAFETY·ε·κ ≤ RTOL``;
otherwise, for a cube of dimension d ≥ 3 (:data:`SPLIT_AFTER_DD`), double-double is tried first
(below), and only what it does not accept goes on; then, if its smallest coefficient is small
(|a_t| ≤ :data:`SPLIT` after scaling to max(|c|, |a_t|) ∈ [1, 2)), that coordinate is integrated
out by exact Gauss–Legendre quadrature between the knots of the lower-dimensional moment
(:func:`_split_moment`: a sum of positive, well-conditioned terms, no cancellation, float64
speed — this is the stable reformulation for tiny coefficients, which before went to mpmath);
otherwise that moment is recomputed in double-double arithmetic (vectorised, about 32 digits,
unit roundoff ε₂ = 2⁻¹⁰⁴) from the same float64 inputs and accepted when ``SAFETY·ε₂·κ ≤ RTOL``
(κ up to about 10¹⁸); what is left (κ larger still, or overflow of 1/Π a_t) is recomputed with
mpmath at 17 + log₁₀ κ + 10 digits (κ re-estimated at the higher precision, and the precision
raised until the estimate fits). Each accepted moment then has relative rounding error about
RTOL or less, except that a moment smaller than 2⁻²⁶·scale (scale an upper bound of it from the
size of the cube: φ_p(max_v z_v), or 1/max|a_t| for the δ moment) is accepted with absolute
error RTOL·2⁻²⁶·scale ≈ 1.5·10⁻²¹·scale: such moments (a cut through a corner where the weight
ξ^α vanishes) are tiny against their natural size, and asking them for relative accuracy sent
many of the Hessian's δ moments to mpmath (266 of them for one n = 8 Hessian, 9 s of its 17 s).
With ``dps=D`` the mpmath sum is accepted when its κ leaves D digits, and otherwise repeated at
D + log₁₀ κ + 10 digits.

A coefficient a_t = 0 exactly drops its coordinate: μ is E[ξ_t^{α_t}] = 1/(α_t + 1) times the
moment in the other coordinates (the elements of a batch are grouped by their pattern of zero
coefficients).
"""

from __future__ import annotations

import math
from functools import cache

import mpmath
import numpy as np
from mpmath.libmp import (
    from_float,
    from_int,
    fzero,
    mpf_add,
    mpf_div,
    mpf_gt,
    mpf_mul,
    mpf_mul_int,
    mpf_pow_int,
    mpf_sum,
)

from critpoints.tms._sparse_generated import INTERVAL_RULES

__all__ = ["RTOL", "SAFETY", "SPLIT", "CubeBatch", "cube_moment"]

#: Largest relative rounding error accepted from a float64 (then double-double) vertex sum.
RTOL = 1e-12
#: Factor on ε·κ for the rounding of the vertex values, powers and the sum of the terms (the
#: error of a sum of T terms is ε·Σ|terms| times √T typically, T at worst). With RTOL it lets
#: κ ≤ 1.1·10³ through in float64: 60 % of the cut moments of a random n = 10 gradient (median
#: κ ≈ 10², 90th percentile 2·10⁴, 99.9th 10⁹).
SAFETY = 4.0
_EPS = float(np.finfo(float).eps)
#: A cut cube (scaled to max(|c|, |a_t|) ∈ [1, 2)) whose float64 vertex sum is not accepted and
#: whose smallest |a_t| is at most this has that coordinate integrated out exactly
#: (:func:`_split_moment`) instead of going to double-double or mpmath.
SPLIT = 2.0**-4
#: Cubes of at least this dimension try double-double before the split quadrature (below
#: it, the split comes first: one level of quadrature on a 1- or 2-dimensional inner cube is
#: cheaper than double-double).
SPLIT_AFTER_DD = 3
#: Moments below this fraction of their natural scale (:func:`_natural_scale`) are held to an
#: absolute error RTOL·_FLOOR·scale instead of a relative one (2⁻²⁶ ≈ 1.5·10⁻⁸).
_FLOOR = 2.0**-26
#: Digits beyond the target carried by the fallback (the estimate κ is itself approximate).
_GUARD = 10


@cache
def _vertices(d: int) -> np.ndarray:
    """v ∈ {0,1}^d as rows, vertex index Σ v_t 2^t."""
    return ((np.arange(2**d)[:, None] >> np.arange(d)[None, :]) & 1).astype(float)


@cache
def _combinations(alpha: tuple[int, ...]):
    """The terms of the vertex sum of μ^α: (vertex index, total antiderivative order r, integer
    numerator, extra powers of 1/a_t beyond the first in the weighted coordinates): one term
    per choice of a rule term in every coordinate (the product of the rules), built with
    numpy index grids."""
    d = len(alpha)
    weighted = tuple(t for t, k in enumerate(alpha) if k)
    rules = [np.array(INTERVAL_RULES[k], dtype=np.intp) for k in alpha]  # rows (bit, r, num)
    choice = np.indices([len(rule) for rule in rules]).reshape(d, -1).T  # (T, d)
    T = choice.shape[0]
    vertex = np.zeros(T, dtype=np.intp)
    order = np.zeros(T, dtype=np.intp)
    numerator = np.ones(T, dtype=float)
    extra = np.zeros((T, len(weighted)), dtype=np.intp)
    for t, rule in enumerate(rules):
        picked = rule[choice[:, t]]
        vertex += picked[:, 0] << t
        order += picked[:, 1]
        numerator *= picked[:, 2]
        if t in weighted:
            extra[:, weighted.index(t)] = picked[:, 1] - 1
    return vertex, order, numerator, extra, weighted


@cache
def _coefficient_classes(alpha: tuple[int, ...]):
    """The distinct (numerator, extra powers) of :func:`_combinations`' terms: (numerators,
    extra powers, index of each term's class). A term's coefficient numerator·Π 1/a_t ·
    Π_weighted (1/a_t)^extra is the same product for every term of a class, so it is formed
    once per class (the same operations in the same order as per term: the same bits)."""
    _, _, numerator, extra, weighted = _combinations(alpha)
    keys = np.column_stack([numerator, extra]) if len(weighted) else numerator[:, None]
    unique, index = np.unique(keys, axis=0, return_inverse=True)
    return unique[:, 0].copy(), unique[:, 1:].astype(np.intp), index.ravel()


_FACTORIALS = np.array([float(math.factorial(k)) for k in range(171)])


def _integer_power(base: np.ndarray, exponent) -> np.ndarray:
    """base ** exponent for integer exponents ≥ 0 (an array broadcasting against base, or an
    int) by repeated multiplication, base·base·…·base from the left: IEEE products, the same
    bits on every machine. numpy's float64 ``power`` is not: on AVX512 machines it is a SIMD
    library's pow, which differs from the C library's in 4 % of integer powers
    (docs/sparsity.md)."""
    exponent = np.asarray(exponent)
    if exponent.size and exponent.min() < 0:
        raise ValueError("_integer_power needs exponents ≥ 0")
    shape = np.broadcast_shapes(np.shape(base), exponent.shape)
    dtype = np.result_type(base, 1.0)
    top = int(exponent.max(initial=0))
    if exponent.ndim == 0:
        result = np.ones(shape, dtype=dtype)
        for _ in range(top):
            result = result * base
        return result
    # the table 1, x, x·x, (x·x)·x, … once, then each element's entry (fewer numpy calls than
    # a masked product per power: the arrays here are small and many)
    powers = np.empty((top + 1, *shape), dtype=dtype)
    powers[0] = 1.0
    for k in range(1, top + 1):
        np.multiply(powers[k - 1], base, out=powers[k])
    return np.take_along_axis(powers, np.broadcast_to(exponent, shape)[None], axis=0)[0]


def _power_of(base: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """base ** exponent elementwise: :func:`_integer_power` for float64, the mpf operator for
    mpmath numbers (exact integer powers, machine-independent already)."""
    if base.dtype == object:
        return base ** exponent
    return _integer_power(base, exponent)


def _phi(z: np.ndarray, order: np.ndarray) -> np.ndarray:
    """φ_N(z) = ReLU(z)^N / N! elementwise, N ≥ 0 (φ_0 = H, H(0) = 0), float64."""
    positive = np.maximum(z, 0.0)
    return np.where(z > 0, _integer_power(positive, order) / _FACTORIALS[order], 0.0)


def _phi_terms(z: np.ndarray, vertex: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """:func:`_phi` of the terms, ``_phi(z[:, vertex], orders[None, :])``, compiled
    (:func:`critpoints.tms._compiled_cube.phi_terms`; the same bits)."""
    # imported here, as the compiled dd sum is: numba only for processes that need it
    from critpoints.tms._compiled_cube import phi_terms

    return phi_terms(np.asarray(z, dtype=float), vertex, np.asarray(orders, dtype=np.int64),
                     _FACTORIALS)


@cache
def _raw_factorial(n: int):
    return from_int(math.factorial(n))


def _phi_raw(value, n: int, prec: int, rounding: str):
    """φ_n of one raw mpmath value (the ``_mpf_`` tuple) at ``prec`` bits: the libmp operations
    that ``value**n / n! if value > 0 else value * 0`` on mpf numbers performs (a finite value
    is > 0 when its sign bit is clear and its mantissa nonzero; inf and nan ask mpf_gt)."""
    sign, mantissa, exponent, _ = value
    positive = (not sign and mantissa) if mantissa or not exponent else mpf_gt(value, fzero)
    if positive:
        return mpf_div(mpf_pow_int(value, n, prec, rounding), _raw_factorial(n), prec, rounding)
    return mpf_mul_int(value, 0, prec, rounding)


def _inverse_and_common(a: np.ndarray):
    """1/a_t and Π_t 1/a_t (N, d), (N,) for :func:`_vertex_sum` (float64 or mpmath)."""
    inverse = 1 / a
    common = np.prod(inverse, axis=1) if a.shape[1] else np.ones(len(a), dtype=a.dtype)
    return inverse, common


def _vertex_sum(z: np.ndarray, a: np.ndarray, p: int, alpha: tuple[int, ...],
                reciprocals=None):
    """The closed form on cut cubes: (μ, Σ|terms|), for z the vertex values (N, 2^d), a (N, d)
    with no zero entry; ``reciprocals`` = :func:`_inverse_and_common` of a when the caller
    keeps it for several moments (at the same precision)."""
    vertex, order, _, _, weighted = _combinations(alpha)
    inverse, common = _inverse_and_common(a) if reciprocals is None else reciprocals
    class_numerator, class_extra, term_class = _coefficient_classes(alpha)
    coefficient = class_numerator[None, :] * common[:, None]
    for column, t in enumerate(weighted):
        coefficient = coefficient * _power_of(inverse[:, t : t + 1],
                                              class_extra[None, :, column])
    # (np.take keeps the C order of the per-term product, and so the order of the float sums)
    coefficient = np.take(coefficient, term_class, axis=1)
    if z.dtype != object:
        terms = coefficient * _phi_terms(z, vertex, order + p)
        return terms.sum(axis=1), np.abs(terms).sum(axis=1)
    # mpmath numbers: the same libmp operations as the mpf arithmetic, on the raw values
    # (φ per distinct (vertex, order), the term products, fsum's exact sums rounded once)
    prec, rounding = mpmath.mp._prec_rounding
    value = np.empty(len(z), dtype=object)
    size = np.empty(len(z), dtype=object)
    for row, (z_row, c_row) in enumerate(zip(z, coefficient)):
        phi = {}
        terms = []
        for k, (v, n) in enumerate(zip(vertex.tolist(), (order + p).tolist())):
            if (v, n) not in phi:
                phi[v, n] = _phi_raw(z_row[v]._mpf_, n, prec, rounding)
            factor = c_row[k]
            factor = factor._mpf_ if hasattr(factor, "_mpf_") else from_float(factor)
            terms.append(mpf_mul(factor, phi[v, n], prec, rounding))
        value[row] = mpmath.mp.make_mpf(mpf_sum(terms, prec, rounding))
        size[row] = mpmath.mp.make_mpf(mpf_sum(terms, prec, rounding, True))
    return value, size


def _vertex_sum_reference(z: np.ndarray, a: np.ndarray, p: int, alpha: tuple[int, ...],
                          reciprocals=None):
    """:func:`_vertex_sum` term by term in the arithmetic of the inputs (numpy floats, or mpf
    numbers with their operators and ``mpmath.fsum``): the reference it reproduces bit for bit
    (tests; ``bench/sparsity.py --paths`` times the two). ``reciprocals`` is ignored."""
    vertex, order, numerator, extra, weighted = _combinations(alpha)
    inverse, common = _inverse_and_common(a)
    coefficient = numerator[None, :] * common[:, None]
    for column, t in enumerate(weighted):
        coefficient = coefficient * _power_of(inverse[:, t : t + 1], extra[None, :, column])
    if z.dtype != object:
        terms = coefficient * _phi(z[:, vertex], order[None, :] + p)
        return terms.sum(axis=1), np.abs(terms).sum(axis=1)
    orders = (order + p).tolist()
    value = np.empty(len(z), dtype=object)
    size = np.empty(len(z), dtype=object)
    for row in range(len(z)):
        terms = [coefficient[row, k] * (z[row, v] ** n / math.factorial(n) if z[row, v] > 0
                                        else z[row, v] * 0)
                 for k, (v, n) in enumerate(zip(vertex.tolist(), orders))]
        value[row] = mpmath.fsum(terms)
        size[row] = mpmath.fsum(abs(term) for term in terms)
    return value, size


# ----------------------------------------------------------------------------------------------
# Double-double arithmetic (pairs hi + lo of float64, about 32 digits), vectorised: the first
# fallback of an ill-conditioned vertex sum. Error-free transformations of Knuth (two_sum) and
# Dekker (two_prod with Veltkamp's split; numpy has no fused multiply-add).

_SPLITTER = 134217729.0  # 2^27 + 1
#: Unit roundoff of the double-double operations used here (sloppy addition: about 2^-104
#: relative to the sum of the magnitudes).
_EPS_DD = 2.0**-104


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _quick_two_sum(a, b):
    s = a + b
    return s, b - (s - a)


def _split(a):
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def _two_prod(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _dd_add(x, y):
    s, e = _two_sum(x[0], y[0])
    return _quick_two_sum(s, e + x[1] + y[1])


def _dd_mul(x, y):
    p, e = _two_prod(x[0], y[0])
    return _quick_two_sum(p, e + (x[0] * y[1] + x[1] * y[0]))


def _dd_reciprocal(a):
    """1/a for float a, as a double-double."""
    q = 1.0 / a
    p, e = _two_prod(q, a)
    return _quick_two_sum(q, ((1.0 - p) - e) / a)


def _dd_power(x, n: int):
    """x^n (n ≥ 0) by binary exponentiation."""
    result = (np.ones_like(x[0]), np.zeros_like(x[0]))
    while n:
        if n & 1:
            result = _dd_mul(result, x)
        n >>= 1
        if n:
            x = _dd_mul(x, x)
    return result


def _vertex_sum_dd(a: np.ndarray, c: np.ndarray, p: int, alpha: tuple[int, ...]):
    """:func:`_vertex_sum` in double-double arithmetic from the float64 inputs (a (N, d) with no
    zero entry, c (N,)): (μ as float64, Σ|terms| as float64), compiled
    (:func:`critpoints.tms._compiled_cube.vertex_sum_dd`; the same bits as
    :func:`_vertex_sum_dd_numpy`)."""
    # imported here, as the compiled blocks are: numba only for processes that need it
    from critpoints.tms._compiled_cube import vertex_sum_dd

    vertex, order, numerator, extra, weighted = _combinations(alpha)
    orders = order + p
    d = a.shape[1]
    value, terms = vertex_sum_dd(
        np.ascontiguousarray(a, dtype=float), np.ascontiguousarray(c, dtype=float), _vertices(d),
        vertex, orders, numerator, _FACTORIALS[orders], np.ascontiguousarray(extra),
        np.array(weighted, dtype=np.intp))
    # Σ|terms| as numpy sums the reference's array: its layout is Fortran order unless a
    # weighted coordinate's factors were applied (then C), and the order of the float sum
    # follows the layout
    if not (len(weighted) and extra.max(initial=0) > 0):
        terms = np.asfortranarray(terms)
    return value, np.abs(terms).sum(axis=1)


def _vertex_sum_dd_numpy(a: np.ndarray, c: np.ndarray, p: int, alpha: tuple[int, ...]):
    """The numpy reference of :func:`_vertex_sum_dd` (the compiled loop takes the same
    operations in the same order; the tests compare the two)."""
    vertex, order, numerator, extra, weighted = _combinations(alpha)
    N, d = a.shape
    bits = _vertices(d)
    z = (np.broadcast_to(c[:, None], (N, 2**d)).copy(), np.zeros((N, 2**d)))
    for t in range(d):
        z = _dd_add(z, (a[:, t : t + 1] * bits[None, :, t], np.zeros((N, 2**d))))
    positive = z[0] > 0
    z = (np.where(positive, z[0], 0.0), np.where(positive, z[1], 0.0))  # (N, 2^d)
    orders = order + p  # (T,): p + d plus the extra orders of the weighted coordinates
    lowest = int(orders.min())
    table = [_dd_power(z, lowest)]
    for _ in range(int(orders.max()) - lowest):
        table.append(_dd_mul(table[-1], z))
    hi = np.stack([h for h, _ in table])  # (orders, N, 2^d): powers on the vertices only
    lo = np.stack([low for _, low in table])
    value = (hi[orders - lowest, :, vertex].T, lo[orders - lowest, :, vertex].T)  # (N, T)
    on = positive[:, vertex]
    value = (np.where(on, value[0], 0.0), np.where(on, value[1], 0.0))
    # numerator / N! per term (exact integers up to 18!)
    inverse_factorial = _dd_reciprocal(np.array([float(math.factorial(int(n))) for n in orders]))
    constant = _dd_mul(inverse_factorial, (numerator, np.zeros_like(numerator)))
    value = _dd_mul(value, (constant[0][None, :], constant[1][None, :]))
    inverse = _dd_reciprocal(a)
    common = (np.ones(N), np.zeros(N))
    for t in range(d):
        common = _dd_mul(common, (inverse[0][:, t], inverse[1][:, t]))
    value = _dd_mul(value, (common[0][:, None], common[1][:, None]))
    for column, t in enumerate(weighted):
        for power in range(1, int(extra[:, column].max(initial=0)) + 1):
            apply = extra[:, column] >= power
            factor = (np.where(apply[None, :], inverse[0][:, t : t + 1], 1.0),
                      np.where(apply[None, :], inverse[1][:, t : t + 1], 0.0))
            value = _dd_mul(value, factor)
    size = np.abs(value[0]).sum(axis=1)
    while value[0].shape[1] > 1:  # pairwise summation over the terms
        if value[0].shape[1] % 2:
            value = (np.concatenate([value[0], np.zeros((N, 1))], axis=1),
                     np.concatenate([value[1], np.zeros((N, 1))], axis=1))
        value = _dd_add((value[0][:, 0::2], value[1][:, 0::2]),
                        (value[0][:, 1::2], value[1][:, 1::2]))
    return value[0][:, 0] + value[1][:, 0], size


def _split_moment(a: np.ndarray, c: np.ndarray, p: int, alpha: tuple[int, ...],
                  t: int) -> np.ndarray:
    """μ_p^α(a, c) with coordinate t integrated out by exact quadrature (cut cubes, d ≥ 2);
    see :class:`_SplitQuadrature`."""
    return _SplitQuadrature(a, c, t).moment(p, alpha)


@cache
def _gauss_legendre(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [−1, 1] (numpy's, computed once per count: about
    80 µs a call, and a split is built hundreds of thousands of times in a search). Read-only."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    x.flags.writeable = w.flags.writeable = False
    return x, w


class _SplitQuadrature:
    """Coordinate t of N cut cubes integrated out exactly, for any moment.

    μ_p^α(a, c) = ∫_0^1 τ^{α_t} μ_p^β(a', c + a_t τ) dτ, with a' and β the other coordinates.
    The integrand is a piecewise polynomial in τ of degree ≤ p + d − 1 + |α| whose only breaks
    are the knots τ_v = −(c + a'·v)/a_t where an inner vertex value vanishes; Gauss–Legendre
    with K nodes on each piece between the knots in (0, 1) is exact up to degree 2K − 1
    (K is chosen for |α| ≤ 6, p ≤ 2; :meth:`moment` adds nodes beyond), and the inner moments have
    well-conditioned coefficients when a_t is the small one. Every inner moment is ≥ 0
    (φ_p ≥ 0, ξ^β ≥ 0) and the weights are positive, so the sum has no cancellation: the
    relative error is that of the inner moments (:data:`RTOL`, or their absolute floor) plus a
    few ulp. The knots are computed from the vertex values in double-double, so that a vertex
    value that cancels to ~10⁻¹⁶ still puts its knot right relative to a tiny a_t. The inner
    moments go through one :class:`CubeBatch` (built once, reused by every moment asked: its
    own live/dead/cut rule and fallbacks; a second small coefficient is split off in turn).
    """

    def __init__(self, a: np.ndarray, c: np.ndarray, t: int, nodes: int | None = None,
                 vertex_values: np.ndarray | None = None):
        N, d = a.shape
        self.a, self.c, self.t, self.d = a, c, t, d
        self.vertex_values = vertex_values
        self._finer: _SplitQuadrature | None = None
        rest = [s for s in range(d) if s != t]
        self.rest = rest
        a_rest, a_t = a[:, rest], a[:, t]
        bits = _vertices(d - 1)
        if vertex_values is not None:
            # the outer cube's own vertex values (each rounded once) on the face v_t = 0: a
            # nested split keeps the digits that c + a'·v recomputed from a rounded c would lose
            face = (bits @ (2 ** np.array(rest))).astype(np.intp)
            z = (np.asarray(vertex_values, dtype=float)[:, face], np.zeros((N, 2 ** (d - 1))))
        else:
            z = (np.broadcast_to(c[:, None], (N, 2 ** (d - 1))).copy(),
                 np.zeros((N, 2 ** (d - 1))))
            for s in range(d - 1):
                z = _dd_add(z, (a_rest[:, s: s + 1] * bits[None, :, s],
                                np.zeros((N, 2 ** (d - 1)))))
        with np.errstate(all="ignore"):
            knots = -(z[0] + z[1]) / a_t[:, None]
        interior = (knots > 0) & (knots < 1)
        count = int(interior.sum(axis=1).max())
        knots = np.sort(np.where(interior, knots, 1.0), axis=1)[:, :count]
        edges = np.concatenate([np.zeros((N, 1)), knots, np.ones((N, 1))], axis=1)
        left, length = edges[:, :-1], np.diff(edges, axis=1)  # (N, pieces)
        self.nodes = nodes or (2 + d - 1 + 6) // 2 + 1
        x, w = _gauss_legendre(self.nodes)
        self.tau = left[:, :, None] + length[:, :, None] * (x[None, None, :] + 1) / 2
        self.weight = length[:, :, None] * w[None, None, :] / 2  # (N, pieces, K)
        per_cube = self.tau.shape[1] * self.tau.shape[2]
        # inner vertex values z_v + a_t τ from the double-double z_v: a vertex value that
        # cancels (c + a'·v ≈ 0) keeps the digits of a_t τ that c + a_t τ in float64 would lose
        shift = a_t[:, None] * self.tau.reshape(N, -1)  # (N, per_cube)
        inner_z = z[0][:, None, :] + (z[1][:, None, :] + shift[:, :, None])
        inner_z = inner_z.reshape(N * per_cube, 2 ** (d - 1))
        self.inner = CubeBatch(np.repeat(a_rest, per_cube, axis=0), inner_z[:, 0],
                               vertex_values=inner_z)

    def moment(self, p: int, alpha: tuple[int, ...]) -> np.ndarray:
        degree = p + self.d - 1 + sum(alpha)
        if degree > 2 * self.nodes - 1:  # more nodes (never asked by the potential: |α| ≤ 6)
            if self._finer is None or degree > 2 * self._finer.nodes - 1:
                self._finer = _SplitQuadrature(self.a, self.c, self.t, degree // 2 + 1,
                                               self.vertex_values)
            return self._finer.moment(p, alpha)
        beta = tuple(alpha[s] for s in self.rest)
        values = self.inner.moment(p, beta).reshape(self.tau.shape)
        weight = self.weight * _integer_power(self.tau, alpha[self.t])
        return (weight * values).sum(axis=(1, 2))


def _natural_scale(a: np.ndarray, c: np.ndarray, p: int) -> np.ndarray:
    """An upper bound of |μ_p^α| from the size of the cube (weights ξ^α ≤ 1): φ_p of the largest
    pre-activation for p ≥ 0, and 1/max_t |a_t| for the δ moment (the density of c + a·ξ is at
    most that of its widest summand). Moments below 2⁻²⁶ times this are accepted with absolute
    error RTOL·2⁻²⁶·scale instead of relative error RTOL."""
    top = np.maximum(c + np.maximum(a, 0).sum(axis=1), 0.0)
    if p < 0:
        return 1.0 / np.abs(a).max(axis=1)
    return _integer_power(top, p) / math.factorial(p)


def _uniform_moment(beta) -> float:
    return 1.0 / math.prod(k + 1 for k in beta)


def _polynomial_moment(a: np.ndarray, c: np.ndarray, p: int, alpha: tuple[int, ...]):
    """E[ξ^α (c + a·ξ)^p / p!] by expanding the power (p ≤ 2), for the live cubes."""
    d = len(alpha)

    def moment(*extra_indices):
        beta = list(alpha)
        for t in extra_indices:
            beta[t] += 1
        value = _uniform_moment(beta)
        return mpmath.mpf(1) / round(1 / value) if a.dtype == object else value

    if p < 0:
        return c * 0
    if p == 0:
        return c * 0 + moment()
    first = sum((a[:, t] * moment(t) for t in range(d)), c * 0)
    if p == 1:
        return c * moment() + first
    if p == 2:
        second = sum((a[:, t] * a[:, s] * moment(t, s) for t in range(d) for s in range(d)),
                     c * 0)
        return (c * c * moment() + 2 * c * first + second) / 2
    raise ValueError(f"live cube moments are implemented for p ≤ 2; got p = {p}")


def _mp_vertex_values(a, c) -> np.ndarray:
    """c + a·v at every vertex v of the cube, mpf numbers at the working precision (the mpmath
    cubes of :class:`CubeBatch` and the fallback :func:`_precise`): for each v
    the a_t with v_t = 1 summed in the order of t, then added to c, every addition rounded —
    the operations of ``c + (a * v).sum()`` on mpf numbers (a_t·1 and a_t·0 are exact, and
    adding an exact zero changes nothing), on the raw values."""
    prec, rounding = mpmath.mp._prec_rounding
    raw = [value._mpf_ for value in a]
    out = np.empty(2 ** len(raw), dtype=object)
    for v in range(len(out)):
        total = fzero
        for t, a_t in enumerate(raw):
            if (v >> t) & 1:
                total = mpf_add(total, a_t, prec, rounding)
        out[v] = mpmath.mp.make_mpf(mpf_add(c._mpf_, total, prec, rounding))
    return out


def _precise(a_row, c_value, p: int, alpha: tuple[int, ...], digits: int):
    """One cut-cube moment with mpmath at enough digits for ``digits`` correct ones: the
    precision is raised until 10^(−digits)·|μ| ≥ 10^(−working)·Σ|terms| (capped so that a μ
    that is exactly 0 ends the loop, with absolute error ≤ 10^(−cap)·Σ|terms|)."""
    magnitudes = [abs(float(v)) for v in a_row] + [abs(float(c_value))]
    smallest = min((m for m in magnitudes[:-1] if m > 0), default=1.0)
    # (log of each: the ratio overflows for denormal coefficients)
    spread = max(0.0, math.log10(max(magnitudes)) - math.log10(smallest))
    cap = digits + 60 + int(5 * spread)
    working = digits + _GUARD
    while True:
        with mpmath.workdps(working):
            a_mp = np.array([[mpmath.mpf(v) for v in a_row]], dtype=object)
            z = _mp_vertex_values(a_mp[0], mpmath.mpf(c_value))[None]
            value, size = _vertex_sum(z, a_mp, p, alpha)
            value, size = value[0], size[0]
            if value != 0:
                needed = digits + _GUARD + max(0, int(mpmath.ceil(mpmath.log10(size / abs(value)))))
            else:
                needed = cap + 1
            if needed <= working or working >= cap:
                return value
            working = min(max(needed, working + 20), cap)


class CubeBatch:
    """N cubes with coefficients a (N, d) and offsets c (N,), their vertex values computed once
    for every moment asked of them (the potential asks up to 2 + 2d + d² per cube).

    Parameters
    ----------
    a : array_like, shape (N, d)
    c : array_like, shape (N,)
    dps : int, optional
        Object arrays of mpmath numbers evaluated at this many digits (else float64).
    vertex_values : array_like, shape (N, 2^d), optional
        c + a·v at the vertices when the caller knows them better than float64 evaluation of
        c + a·v (the inner cubes of :class:`_SplitQuadrature`); float64 only.
    """

    def __init__(self, a, c, dps: int | None = None, vertex_values=None):
        dtype = float if dps is None else object
        self.a = np.asarray(a, dtype=dtype).reshape(len(c), -1)
        self.c = np.asarray(c, dtype=dtype)
        self.dps = dps
        self.N, self.d = self.a.shape
        zero = np.array(self.a == 0, dtype=bool).reshape(self.N, self.d)
        has_zero = zero.any(axis=1)
        self.regular = np.flatnonzero(~has_zero)
        # Elements sharing a pattern of zero coefficients: the same reduced cube.
        self.groups = []
        if has_zero.any():
            members_all = np.flatnonzero(has_zero)
            patterns, inverse = np.unique(zero[has_zero], axis=0, return_inverse=True)
            for g, pattern in enumerate(patterns):
                members = members_all[inverse.ravel() == g]
                kept = np.flatnonzero(~pattern)
                self.groups.append((members, kept, CubeBatch(
                    self.a[members][:, kept], self.c[members], dps)))
        a_r, c_r = self.a[self.regular], self.c[self.regular]
        if dtype is object:
            z = np.empty((len(c_r), 2**self.d), dtype=object)
            for row in range(len(c_r)):
                z[row] = _mp_vertex_values(a_r[row], c_r[row]) if self.d else c_r[row]
            positive = np.array(z > 0, dtype=bool).reshape(z.shape)
        elif vertex_values is not None:  # given more accurately than c + a·v in float64
            z = np.asarray(vertex_values, dtype=float)[self.regular]
            positive = z > 0
        else:
            # c + a·v with compensated (double-double) summation, then rounded once: a vertex
            # value that cancels (c + a·v ≈ 0) is correct to its own last bit, which the
            # condition number κ of the vertex sum does not account for
            bits = _vertices(self.d)
            zz = (np.broadcast_to(c_r[:, None], (len(c_r), 2**self.d)).copy(),
                  np.zeros((len(c_r), 2**self.d)))
            for t in range(self.d):
                zz = _dd_add(zz, (a_r[:, t: t + 1] * bits[None, :, t],
                                  np.zeros((len(c_r), 2**self.d))))
            z = zz[0] + zz[1]
            positive = z > 0
        self.live = np.flatnonzero(positive.all(axis=1))
        self.cut = np.flatnonzero(positive.any(axis=1) & ~positive.all(axis=1))
        self.z_cut = z[self.cut]
        self.a_cut = a_r[self.cut]
        self.c_cut = c_r[self.cut]
        # μ_p(λa, λc) = λ^p μ_p(a, c): the cut cubes are brought to max(|c|, |a_t|) ∈ [1, 2) by
        # a power of two λ (exact), so that 1/Π a_t and the powers of the vertex values neither
        # overflow nor underflow for tiny or huge inputs.
        self._splits: dict = {}
        self._reciprocals = None  # 1/a_t and Π 1/a_t of the cut cubes, once for every moment
        self._floors: dict = {}  # p -> the absolute floor of the float64 acceptance rule
        self._underflow = None
        # each cut cube scaled by a power of two 2^e (exact), e kept to undo it exactly
        self.scale_exponent = np.zeros(len(self.cut), dtype=int)
        self.scale_cut = np.ones(len(self.cut))
        if dtype is not object and len(self.cut):
            largest = np.maximum(np.abs(self.c_cut), np.abs(self.a_cut).max(axis=1))
            self.scale_exponent = np.frexp(largest)[1] - 1
            self.scale_cut = np.ldexp(1.0, self.scale_exponent)
            self.a_cut = self.a_cut / self.scale_cut[:, None]
            self.c_cut = self.c_cut / self.scale_cut
            self.z_cut = self.z_cut / self.scale_cut[:, None]

    def moment(self, p: int, alpha: tuple[int, ...]) -> np.ndarray:
        """μ_p^α for every cube, shape (N,) (float64 or mpmath numbers)."""
        alpha = tuple(int(k) for k in alpha)
        if len(alpha) != self.d:
            raise ValueError(f"alpha must have d = {self.d} entries; got {alpha}")
        out = np.zeros(self.N) if self.dps is None else self.c * 0
        if len(self.live):
            idx = self.regular[self.live]
            out[idx] = _polynomial_moment(self.a[idx], self.c[idx], p, alpha)
        if len(self.cut):
            out[self.regular[self.cut]] = self._cut_moment(p, alpha)
        for members, kept, sub in self.groups:
            dropped = [alpha[t] for t in range(self.d) if t not in set(kept.tolist())]
            factor = _uniform_moment(dropped)
            if self.dps is not None:
                factor = mpmath.mpf(1) / round(1 / factor)
            out[members] = sub.moment(p, tuple(alpha[t] for t in kept)) * factor
        return out

    def _cut_moment(self, p: int, alpha: tuple[int, ...]) -> np.ndarray:
        if self.dps is None:
            with np.errstate(all="ignore"):
                if self._reciprocals is None:
                    self._reciprocals = _inverse_and_common(self.a_cut)
                    # vertex values far below the scale 1 may have underflowed in their powers
                    self._underflow = ((self.z_cut != 0)
                                       & (np.abs(self.z_cut) < 2.0**-500)).any(axis=1)
                value, size = _vertex_sum(self.z_cut, self.a_cut, p, alpha, self._reciprocals)
                if p not in self._floors:
                    self._floors[p] = _FLOOR * _natural_scale(self.a_cut, self.c_cut, p)
                floor, underflow = self._floors[p], self._underflow
                suspect = np.flatnonzero(~np.isfinite(value) | ~np.isfinite(size) | underflow | (
                    SAFETY * _EPS * size > RTOL * np.maximum(np.abs(value), floor)))
                if len(suspect) and self.d >= SPLIT_AFTER_DD:
                    # d ≥ 3 first in double-double: a split multiplies the batch by the
                    # quadrature points (pieces × nodes), and its inner moments split again,
                    # so nested splits grow like (pieces × nodes)^depth (four deep seen in one
                    # n = 6 Hessian); double-double is ~30× float64 whatever d
                    suspect = self._double_double(suspect, p, alpha, floor, underflow, value)
                if len(suspect) and self.d >= 2:
                    # a small coefficient: integrate its coordinate out by exact quadrature
                    # (stable: a sum of positive, well-conditioned lower-dimensional moments)
                    a_suspect = np.abs(self.a_cut[suspect])
                    split = a_suspect.min(axis=1) <= SPLIT
                    coordinate = a_suspect.argmin(axis=1)
                    for t in np.unique(coordinate[split]):
                        members = suspect[split & (coordinate == t)]
                        key = (int(t), members.tobytes())
                        if key not in self._splits:  # reused by the other moments
                            self._splits[key] = _SplitQuadrature(
                                self.a_cut[members], self.c_cut[members], int(t),
                                vertex_values=self.z_cut[members])
                        value[members] = self._splits[key].moment(p, alpha)
                    suspect = suspect[~split]
                if len(suspect) and self.d < SPLIT_AFTER_DD:
                    suspect = self._double_double(suspect, p, alpha, floor, underflow, value)
            for index in suspect:
                value[index] = float(_precise(self.a_cut[index], self.c_cut[index], p, alpha, 17))
            # the scale's p-th power 2^(e·p) exactly (p = −1 included)
            return value * np.ldexp(1.0, self.scale_exponent * p)
        with mpmath.workdps(self.dps + _GUARD):
            if self._reciprocals is None:
                self._reciprocals = _inverse_and_common(self.a_cut)
            value, size = _vertex_sum(self.z_cut, self.a_cut, p, alpha, self._reciprocals)
        tolerance = mpmath.mpf(10) ** (-self.dps - _GUARD + 2)
        digits = mpmath.mpf(10) ** -self.dps
        suspect = np.flatnonzero([s * tolerance > abs(v) * digits for v, s in zip(value, size)])
        for index in suspect:
            value[index] = +_precise(self.a_cut[index], self.c_cut[index], p, alpha, self.dps)
        return value

    def _double_double(self, suspect, p, alpha, floor, underflow, value):
        """The ``suspect`` cut moments recomputed in double-double into ``value``; returns
        those still not accepted (``SAFETY·ε₂·κ > RTOL``)."""
        value_dd, size_dd = _vertex_sum_dd(self.a_cut[suspect], self.c_cut[suspect], p, alpha)
        good = np.isfinite(value_dd) & np.isfinite(size_dd) & ~underflow[suspect] & (
            SAFETY * _EPS_DD * size_dd <= RTOL * np.maximum(np.abs(value_dd), floor[suspect]))
        value[suspect[good]] = value_dd[good]
        return suspect[~good]


def cube_moment(a, c, p: int, alpha=None, dps: int | None = None) -> np.ndarray:
    """μ_p^α(a, c) = E_{ξ ~ U[0,1]^d}[ξ^α ReLU(c + a·ξ)^p / p!] for a batch of cubes.

    Parameters
    ----------
    a : array_like, shape (N, d) or (d,)
        Coefficients.
    c : array_like, shape (N,) or scalar
        Offsets.
    p : int
        Power, ≥ −1 (−1: the δ moment, needs d ≥ 1; 0: the Heaviside step with H(0) = 0).
    alpha : sequence of int, optional
        Exponents of the weight ξ^α, each in 0..3 (default all 0).
    dps : int, optional
        Evaluate with mpmath at this many digits.

    Returns
    -------
    ndarray of shape (N,) (or a scalar for one cube): float64, or mpmath numbers with ``dps``.

    Examples
    --------
    >>> round(float(cube_moment([1.0, 1.0], -1.0, 2)), 12)   # E[ReLU(ξ₁ + ξ₂ − 1)²]/2 = 1/24
    0.041666666667
    """
    single = np.ndim(c) == 0
    a = np.atleast_2d(np.asarray(a, dtype=float if dps is None else object))
    c = np.atleast_1d(np.asarray(c, dtype=float if dps is None else object))
    if dps is not None:
        with mpmath.workdps(dps):
            a = np.vectorize(mpmath.mpf, otypes=[object])(a) if a.size else a
            c = np.vectorize(mpmath.mpf, otypes=[object])(c)
    alpha = (0,) * a.shape[1] if alpha is None else tuple(alpha)
    if p < -1 or (p == -1 and a.shape[1] == 0):
        raise ValueError("p must be ≥ 0, or −1 on a cube of dimension ≥ 1")
    if any(k not in INTERVAL_RULES for k in alpha):
        raise ValueError(f"weight exponents must be in 0..{max(INTERVAL_RULES)}; got {alpha}")
    if dps is None:
        values = CubeBatch(a, c).moment(p, alpha)
    else:
        with mpmath.workdps(dps):
            values = CubeBatch(a, c, dps).moment(p, alpha)
    return values[0] if single else values
