"""The double-double vertex sum of :mod:`critpoints.tms.cube`, compiled.

At a point near the one-hot flat set (finite S close to 1, columns W_j ≈ 0) most cut cubes have
a tiny coefficient and their float64 vertex sums are not accepted: in a Hessian of n = 6 at
S = 0.999, four cut moments in five go to double-double. The numpy version of that sum
(:func:`critpoints.tms.cube._vertex_sum_dd`) spends its time on small-array overhead, about
60 numpy calls of a few dozen elements per moment. This loop takes the same IEEE operations in
the same order per element — Knuth's two_sum, Dekker's two_prod with Veltkamp's split, the same
power table, the same chain of products and the same pairwise summation tree — so the values are
the same bits (no fast-math, no FMA contraction is requested; ``tests/test_sparsity.py`` compares
the two on random and ill-conditioned cubes).
"""

from __future__ import annotations

import numba
import numpy as np

from critpoints.tms._compiled_blocks import _JIT

__all__ = ["phi_terms", "vertex_sum_dd"]

_SPLITTER = 134217729.0  # 2^27 + 1


@numba.njit(**_JIT)
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@numba.njit(**_JIT)
def _quick_two_sum(a, b):
    s = a + b
    return s, b - (s - a)


@numba.njit(**_JIT)
def _split(a):
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


@numba.njit(**_JIT)
def _two_prod(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@numba.njit(**_JIT)
def _dd_add(x0, x1, y0, y1):
    s, e = _two_sum(x0, y0)
    return _quick_two_sum(s, e + x1 + y1)


@numba.njit(**_JIT)
def _dd_mul(x0, x1, y0, y1):
    p, e = _two_prod(x0, y0)
    return _quick_two_sum(p, e + (x0 * y1 + x1 * y0))


@numba.njit(**_JIT)
def _dd_reciprocal(a):
    q = 1.0 / a
    p, e = _two_prod(q, a)
    return _quick_two_sum(q, ((1.0 - p) - e) / a)


@numba.njit(**_JIT)
def _dd_power(x0, x1, n):
    r0, r1 = 1.0, 0.0
    while n:
        if n & 1:
            r0, r1 = _dd_mul(r0, r1, x0, x1)
        n >>= 1
        if n:
            x0, x1 = _dd_mul(x0, x1, x0, x1)
    return r0, r1


@numba.njit(**_JIT)
def vertex_sum_dd(a, c, bits, vertex, orders, numerator, factorials, extra, weighted):
    """(μ (N,), the high parts of the terms (N, T)) of :func:`cube._vertex_sum_dd` for cubes
    a (N, d), c (N,); ``bits`` the vertices (2^d, d) as floats, per term its vertex, order
    (p included), numerator, order's factorial and extra powers (T, W) of the ``weighted``
    coordinates (W,)."""
    N, d = a.shape
    V = bits.shape[0]
    T = vertex.shape[0]
    lowest = orders.min()
    levels = orders.max() - lowest + 1
    # per-term constants numerator / order!, as double-double
    constant0 = np.empty(T)
    constant1 = np.empty(T)
    for k in range(T):
        f0, f1 = _dd_reciprocal(factorials[k])
        constant0[k], constant1[k] = _dd_mul(f0, f1, numerator[k], 0.0)
    highest_extra = np.zeros(weighted.shape[0], dtype=np.intp)
    for column in range(weighted.shape[0]):
        for k in range(T):
            highest_extra[column] = max(highest_extra[column], extra[k, column])
    value = np.empty(N)
    terms_hi = np.empty((N, T))
    z0 = np.empty(V)
    z1 = np.empty(V)
    positive = np.empty(V, dtype=np.bool_)
    table0 = np.empty((levels, V))
    table1 = np.empty((levels, V))
    inverse0 = np.empty(d)
    inverse1 = np.empty(d)
    width = 1
    while width < T:
        width *= 2
    sum0 = np.empty(width)
    sum1 = np.empty(width)
    for i in range(N):
        # the vertex values c + a·v, one coordinate at a time in double-double
        for v in range(V):
            x0, x1 = c[i], 0.0
            for t in range(d):
                x0, x1 = _dd_add(x0, x1, a[i, t] * bits[v, t], 0.0)
            positive[v] = x0 > 0
            z0[v] = x0 if positive[v] else 0.0
            z1[v] = x1 if positive[v] else 0.0
        # powers lowest, lowest + 1, ... of every vertex value
        for v in range(V):
            p0, p1 = _dd_power(z0[v], z1[v], lowest)
            table0[0, v], table1[0, v] = p0, p1
            for level in range(1, levels):
                p0, p1 = _dd_mul(p0, p1, z0[v], z1[v])
                table0[level, v], table1[level, v] = p0, p1
        common0, common1 = 1.0, 0.0
        for t in range(d):
            inverse0[t], inverse1[t] = _dd_reciprocal(a[i, t])
            common0, common1 = _dd_mul(common0, common1, inverse0[t], inverse1[t])
        for k in range(T):
            v = vertex[k]
            if positive[v]:
                t0 = table0[orders[k] - lowest, v]
                t1 = table1[orders[k] - lowest, v]
            else:
                t0, t1 = 0.0, 0.0
            t0, t1 = _dd_mul(t0, t1, constant0[k], constant1[k])
            t0, t1 = _dd_mul(t0, t1, common0, common1)
            for column in range(weighted.shape[0]):
                t = weighted[column]
                for power in range(1, highest_extra[column] + 1):
                    if extra[k, column] >= power:
                        t0, t1 = _dd_mul(t0, t1, inverse0[t], inverse1[t])
                    else:
                        t0, t1 = _dd_mul(t0, t1, 1.0, 0.0)
            terms_hi[i, k] = t0
            sum0[k], sum1[k] = t0, t1
        # pairwise summation over the terms, zero-padded at each odd level as in numpy
        count = T
        while count > 1:
            if count % 2:
                sum0[count], sum1[count] = 0.0, 0.0
                count += 1
            for k in range(count // 2):
                sum0[k], sum1[k] = _dd_add(sum0[2 * k], sum1[2 * k],
                                           sum0[2 * k + 1], sum1[2 * k + 1])
            count //= 2
        value[i] = sum0[0] + sum1[0]
    return value, terms_hi


@numba.njit(**_JIT)
def phi_terms(z, vertex, orders, factorials):
    """φ_n(z[:, v]) = ReLU(z[:, v])^n / n! for the terms (v, n) = (vertex[t], orders[t]), as
    :func:`critpoints.tms.cube._phi` computes it — the power a chain of products from the
    left, then one division; 0 where z ≤ 0 — in one loop instead of a dozen numpy calls on
    small arrays (the same bits; ``tests/test_sparsity.py`` compares them)."""
    rows, count = z.shape[0], vertex.shape[0]
    out = np.empty((rows, count))
    for i in range(rows):
        for t in range(count):
            x = z[i, vertex[t]]
            if x > 0.0:
                power = 1.0
                for _ in range(orders[t]):
                    power = power * x
                out[i, t] = power / factorials[orders[t]]
            else:
                out[i, t] = 0.0
    return out
