"""The float64 blocks F_ij of the TMS potential and their derivatives in one compiled loop.

The region formulas are the generated ones (:mod:`critpoints.tms._generated`), compiled by numba
as they stand: every block runs the same IEEE operations in the same order as the numpy path of
:func:`critpoints.tms.potential._blocks` (no fast-math, no FMA contraction is requested), so the
values are the same bits — ``tests/test_potential.py`` checks it in every region and order. What
changes is the cost of a call: the numpy path sorts, gathers and scatters the blocks of a small
batch (60–256 points) by region in ~0.4 ms, half of all of ``enumerate``'s time
(docs/performance.md); this loop takes microseconds.

Compiled code is cached on disk (numba ``cache=True``), so only the first run on a machine pays
the compilation (a few seconds).
"""

from __future__ import annotations

import numba
import numpy as np

from critpoints.tms import _generated as g

__all__ = ["blocks"]

_JIT = {"cache": True, "error_model": "numpy", "nogil": True}

# Division by zero cannot happen inside a region (a ≠ 0 wherever r = −c/a is formed), but
# error_model="numpy" keeps numpy's inf/nan semantics rather than raising, as the numpy path does.
_p0 = tuple(numba.njit(**_JIT)(f) for f in g.FUNCTIONS[("P", 0)])
_q0 = tuple(numba.njit(**_JIT)(f) for f in g.FUNCTIONS[("Q", 0)])
_p1 = tuple(numba.njit(**_JIT)(f) for f in g.FUNCTIONS[("P", 1)])
_q1 = tuple(numba.njit(**_JIT)(f) for f in g.FUNCTIONS[("Q", 1)])
_p2 = tuple(numba.njit(**_JIT)(f) for f in g.FUNCTIONS[("P", 2)])
_q2 = tuple(numba.njit(**_JIT)(f) for f in g.FUNCTIONS[("Q", 2)])
p0_dead, p0_rising, p0_falling, p0_live = _p0
q0_dead, q0_rising, q0_falling, q0_live = _q0
p1_dead, p1_rising, p1_falling, p1_live = _p1
q1_dead, q1_rising, q1_falling, q1_live = _q1
p2_dead, p2_rising, p2_falling, p2_live = _p2
q2_dead, q2_rising, q2_falling, q2_live = _q2


@numba.njit(**_JIT)
def _gram(W, s, i, j, m):
    # G_ij = W_i·W_j summed over the rows in order, as potential._gram_and_bias does.
    a = W[s, 0, i] * W[s, 0, j]
    for r in range(1, m):
        a = a + W[s, r, i] * W[s, r, j]
    return a


@numba.njit(**_JIT)
def _region(a, c, regions, s, i, j, given):
    # The rule of critpoints.tms.regions.block_region with atol = 0.
    if given:
        return regions[s, i, j]
    return 2 * (c > 0.0) + (a + c > 0.0)


@numba.njit(**_JIT)
def _formula0(region, a, c, diagonal):
    # the generated formula of the block's kind (Q on the diagonal, P off it) and region
    if diagonal:
        if region == 0:
            return q0_dead(a, c)
        if region == 1:
            return q0_rising(a, c)
        if region == 2:
            return q0_falling(a, c)
        return q0_live(a, c)
    if region == 0:
        return p0_dead(a, c)
    if region == 1:
        return p0_rising(a, c)
    if region == 2:
        return p0_falling(a, c)
    return p0_live(a, c)


@numba.njit(**_JIT)
def _formula1(region, a, c, diagonal):
    if diagonal:
        if region == 0:
            return q1_dead(a, c)
        if region == 1:
            return q1_rising(a, c)
        if region == 2:
            return q1_falling(a, c)
        return q1_live(a, c)
    if region == 0:
        return p1_dead(a, c)
    if region == 1:
        return p1_rising(a, c)
    if region == 2:
        return p1_falling(a, c)
    return p1_live(a, c)


@numba.njit(**_JIT)
def _formula2(region, a, c, diagonal):
    if diagonal:
        if region == 0:
            return q2_dead(a, c)
        if region == 1:
            return q2_rising(a, c)
        if region == 2:
            return q2_falling(a, c)
        return q2_live(a, c)
    if region == 0:
        return p2_dead(a, c)
    if region == 1:
        return p2_rising(a, c)
    if region == 2:
        return p2_falling(a, c)
    return p2_live(a, c)


@numba.njit(**_JIT)
def _order0(W, b, regions, given):
    B, m, n = W.shape
    out = np.empty((1, B, n, n))
    for s in range(B):
        for i in range(n):
            for j in range(n):
                a = _gram(W, s, i, j, m)
                c = b[s, j]
                v = _formula0(_region(a, c, regions, s, i, j, given), a, c, i == j)
                for k in range(1):
                    out[k, s, i, j] = v[k]
    return out


@numba.njit(**_JIT)
def _order1(W, b, regions, given):
    B, m, n = W.shape
    out = np.empty((3, B, n, n))
    for s in range(B):
        for i in range(n):
            for j in range(n):
                a = _gram(W, s, i, j, m)
                c = b[s, j]
                v = _formula1(_region(a, c, regions, s, i, j, given), a, c, i == j)
                for k in range(3):
                    out[k, s, i, j] = v[k]
    return out


@numba.njit(**_JIT)
def _order2(W, b, regions, given):
    B, m, n = W.shape
    out = np.empty((6, B, n, n))
    for s in range(B):
        for i in range(n):
            for j in range(n):
                a = _gram(W, s, i, j, m)
                c = b[s, j]
                v = _formula2(_region(a, c, regions, s, i, j, given), a, c, i == j)
                for k in range(6):
                    out[k, s, i, j] = v[k]
    return out


_KERNELS = (_order0, _order1, _order2)
_NO_REGIONS = np.zeros((0, 0, 0), dtype=np.int8)


def blocks(W: np.ndarray, b: np.ndarray, order: int, regions: np.ndarray | None
           ) -> tuple[np.ndarray, ...]:
    """F_ij and its (a, c) derivatives up to ``order`` for float64 W (..., m, n) and biases
    b (..., n), with a = G_ij = W_i·W_j and c = b_j; ``regions`` as in
    :func:`critpoints.tms.potential._blocks`. Returns arrays of shape (..., n, n)."""
    m, n = W.shape[-2:]
    batch = W.shape[:-2]
    W3 = np.ascontiguousarray(W, dtype=np.float64).reshape(-1, m, n)
    b2 = np.ascontiguousarray(b, dtype=np.float64).reshape(-1, n)
    if regions is None:
        given, r3 = False, _NO_REGIONS
    else:
        given = True
        r3 = np.ascontiguousarray(np.broadcast_to(np.asarray(regions, dtype=np.int8),
                                                  batch + (n, n))).reshape(-1, n, n)
    out = _KERNELS[order](W3, b2, r3, given)
    return tuple(values.reshape(batch + (n, n)) for values in out)


@numba.njit(**_JIT)
def _point_block(theta, m, n, i, j):
    # (a, c) = (G_ij, b_j) of one flat point, G_ij summed over the rows in order
    a = theta[i] * theta[j]
    for r in range(1, m):
        a = a + theta[r * n + i] * theta[r * n + j]
    return a, theta[m * n + j]


@numba.njit(**_JIT)
def point_loss(theta, m, n):
    """L(θ) of one flat point θ = (W row-major (m, n), b): the sum of its blocks F_ij / n, in
    the order i, j (the numpy path sums pairwise, so the two agree to rounding, not bits)."""
    total = 0.0
    for i in range(n):
        for j in range(n):
            a, c = _point_block(theta, m, n, i, j)
            total += _formula0(2 * (c > 0.0) + (a + c > 0.0), a, c, i == j)[0]
    return total / n


@numba.njit(**_JIT)
def point_loss_and_gradient(theta, m, n, grad):
    """L(θ) of one flat point, and ∇L written into ``grad`` (same layout as θ):
    ∂L/∂W = W (S + Sᵀ) with S = F_a / n, ∂L/∂b_j = Σ_i F_c,ij / n (as
    :func:`critpoints.tms.potential.gradient_from_blocks`, summed in a fixed order)."""
    S = np.empty((n, n))
    total = 0.0
    for j in range(m * n + n):
        grad[j] = 0.0
    for i in range(n):
        for j in range(n):
            a, c = _point_block(theta, m, n, i, j)
            v = _formula1(2 * (c > 0.0) + (a + c > 0.0), a, c, i == j)
            total += v[0]
            S[i, j] = v[1] / n
            grad[m * n + j] += v[2] / n
    for r in range(m):
        for i in range(n):  # axpy order: each ∂L/∂W_rk summed over i in order, vectorisable
            w = theta[r * n + i]
            for k in range(n):
                grad[r * n + k] += w * (S[i, k] + S[k, i])
    return total / n
