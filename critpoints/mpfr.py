"""mpmath numbers computed through MPFR (gmpy2), to the same bits.

mpmath's ``mpf`` arithmetic runs in Python: at 60–80 digits one product or sum costs ≈ 2 µs,
most of it interpreter overhead, and the high-precision evaluators spend their time there. MPFR
rounds +, −, ×, ÷ and √ correctly, as mpmath does, so at the same precision in bits and the
same rounding (to nearest, ties to even) the same sequence of operations gives the same numbers,
bit for bit, at a fraction of the cost (gmpy2's ``mpfr`` in numpy object arrays).

:func:`computed_through_mpfr` runs a function of object arrays of ``mpf`` on ``mpfr`` copies and
returns ``mpf`` again, at mpmath's current working precision. Only for functions that use those
operations and comparisons (no ``mpmath`` functions, no transcendental functions); a division
by zero raises, as in mpmath. The tests hold each user to the bits of plain mpmath.

:func:`eigsy` is ``mpmath.eigsy`` (symmetric eigen-decomposition) transcribed to MPFR, to the
bit: for :func:`critpoints.solve.newton.precise_polish`, the grey-zone eigenvalues of
:func:`critpoints.solve.classify.classify` and the other high-precision spectra.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gmpy2
import mpmath
import numpy as np
from mpmath.libmp import from_man_exp

__all__ = ["computed_through_mpfr", "eigsy", "from_mpf", "to_mpf"]


def _context(prec: int, rounding: int = gmpy2.RoundToNearest) -> gmpy2.context:
    """MPFR at ``prec`` bits, rounding to nearest (ties to even: mpmath's ``"n"``), with
    exponents as wide as MPFR allows (mpmath's are unbounded). A division by zero or an invalid
    operation (0/0) raises, as in mpmath, instead of returning ±inf or nan."""
    return gmpy2.context(precision=prec, round=rounding, subnormalize=False,
                         emax=gmpy2.get_emax_max(), emin=gmpy2.get_emin_min(),
                         trap_divzero=True, trap_invalid=True)


def from_mpf(x: Any) -> gmpy2.mpfr:
    """The ``mpfr`` equal to the ``mpf`` ``x``, exactly: a number with more bits than the current
    context keeps them (mpmath, too, rounds only the results of operations)."""
    sign, man, exp, bc = x._mpf_
    if not man:
        if exp:  # mpmath's inf, -inf, nan: normalised with man = 0 and exp ≠ 0
            return gmpy2.mpfr(float(x))
        return gmpy2.mpfr(0)
    if bc <= gmpy2.get_context().precision:
        value = gmpy2.mul_2exp(gmpy2.mpfr(man), exp)
    else:
        with _context(bc):
            value = gmpy2.mul_2exp(gmpy2.mpfr(man), exp)
    return -value if sign else value


def to_mpf(x: Any) -> Any:
    """``x`` with every ``mpfr`` (alone, in an object array or in a tuple of them) made the equal
    ``mpf``; −0 becomes mpmath's only zero. Anything else is returned as it is."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        convert = _mpf_converter()
        out = np.empty(x.shape, dtype=object)
        out.reshape(-1)[:] = [convert(v) for v in x.reshape(-1)]
        return out
    if isinstance(x, tuple):
        return tuple(to_mpf(v) for v in x)
    return _mpf_converter()(x)


def _mpf_converter() -> Callable[[Any], Any]:
    make, mpfr, is_finite = mpmath.mp.make_mpf, gmpy2.mpfr, gmpy2.is_finite

    def convert(v):
        if type(v) is not mpfr:
            return v
        if not is_finite(v):
            return mpmath.mpf(float(v))
        man, exp = v.as_mantissa_exp()
        return make(from_man_exp(man, int(exp)))  # exactly, as mpmath keeps an unrounded input
    return convert


def _as_mpfr(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    flat_in, flat_out = array.reshape(-1), out.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = from_mpf(flat_in[i])
    return out


def computed_through_mpfr(function: Callable[..., Any], *arrays: np.ndarray) -> Any:
    """``function(*arrays)`` for object arrays of ``mpf``, evaluated on ``mpfr`` copies at
    mpmath's current precision; the result (numbers, object arrays, tuples of them) as ``mpf``.
    The same bits as ``function(*arrays)`` when ``function`` uses only +, −, ×, ÷, √ and
    comparisons (see the module docstring)."""
    with _context(mpmath.mp.prec):
        result = function(*(_as_mpfr(np.asarray(a, dtype=object)) for a in arrays))
    return to_mpf(result)


# ----------------------------------------------------------------------------------------------
# Symmetric eigen-decomposition


def eigsy(A: Any, eigvals_only: bool = False) -> Any:
    """``mpmath.eigsy(A, eigvals_only)`` — the eigenvalues (ascending, a column
    ``mpmath.matrix``) and, unless ``eigvals_only``, the orthogonal matrix of eigenvectors
    (columns) of a real symmetric matrix of mpmath numbers — computed in MPFR: the same
    operations as mpmath's (EISPACK tred2 then imtql2, transcribed from
    ``mpmath.matrices.eigen_symmetric``), each rounded the same way, so the same bits, in a
    fraction of the time. ``A`` is anything ``mpmath.matrix`` takes (e.g. a list of rows or an
    object array); it is read at mpmath's current precision."""
    rows = mpmath.matrix(A).tolist()
    n = len(rows)
    prec = mpmath.mp.prec
    with _context(prec):
        a = [[from_mpf(x) for x in row] for row in rows]
        d, e = [gmpy2.mpfr(0)] * n, [gmpy2.mpfr(0)] * n
        _tridiagonalise(a, d, e, not eigvals_only)
        _implicit_ql(d, e, [] if eigvals_only else a, prec, mpmath.mp.dps)
    convert = _mpf_converter()
    values = mpmath.matrix(n, 1)
    for i in range(n):
        values[i] = convert(d[i])
    if eigvals_only:
        return values
    vectors = mpmath.matrix(n, n)
    for i in range(n):
        for j in range(n):
            vectors[i, j] = convert(a[i][j])
    return values, vectors


def _tridiagonalise(A: list, D: list, E: list, calc_ev: bool) -> None:
    """``r_sy_tridiag(ctx, A, D, E, calc_ev)`` on lists of mpfr (A[i][j] is A[i, j])."""
    n = len(A)
    zero = gmpy2.mpfr(0)
    for i in range(n - 1, 0, -1):
        scale = 0
        for k in range(i):
            scale += abs(A[k][i])
        scale_inv = 0
        if scale != 0:
            scale_inv = 1 / scale
        if i == 1 or scale == 0 or gmpy2.is_infinite(scale_inv):
            E[i] = A[i - 1][i]
            D[i] = zero
            continue
        H = 0
        for k in range(i):
            A[k][i] *= scale_inv
            H += A[k][i] * A[k][i]
        F = A[i - 1][i]
        G = gmpy2.sqrt(H)
        if F > 0:
            G = -G
        E[i] = scale * G
        H -= F * G
        A[i - 1][i] = F - G
        F = 0
        for j in range(i):
            if calc_ev:
                A[i][j] = A[j][i] / H
            G = 0
            for k in range(j + 1):
                G += A[k][j] * A[k][i]
            for k in range(j + 1, i):
                G += A[j][k] * A[k][i]
            E[j] = G / H
            F += E[j] * A[j][i]
        HH = F / (2 * H)
        for j in range(i):
            F = A[j][i]
            G = E[j] - HH * F
            E[j] = G
            for k in range(j + 1):
                A[k][j] -= F * E[k] + G * A[k][i]
        D[i] = H
    for i in range(1, n):
        E[i - 1] = E[i]
    E[n - 1] = zero
    if not calc_ev:
        for i in range(n):
            D[i] = A[i][i]
        return
    D[0] = zero
    for i in range(n):
        if D[i] != 0:
            for j in range(i):
                G = 0
                for k in range(i):
                    G += A[i][k] * A[k][j]
                for k in range(i):
                    A[k][j] -= G * A[k][i]
        D[i] = A[i][i]
        A[i][i] = gmpy2.mpfr(1)
        for j in range(i):
            A[j][i] = A[i][j] = zero


def _hypot_one(x, prec: int):
    """mpmath's ``hypot(x, 1)`` (``libmpf.mpf_hypot``): x² exactly, x² + 1 rounded toward zero
    at prec + 4 bits, its square root rounded to nearest at prec bits."""
    if x == 0:
        return gmpy2.mpfr(1)
    with _context(2 * prec + 8):
        square = x * x  # exact: x has at most prec bits
    with _context(prec + 4, gmpy2.RoundToZero):
        total = square + 1
    return gmpy2.sqrt(total)


def _implicit_ql(d: list, e: list, z: list, prec: int, dps: int) -> None:
    """``tridiag_eigen(ctx, d, e, z)`` on lists of mpfr (z[w][i] is z[w, i]; no rows: the
    eigenvalues only)."""
    n = len(d)
    e[n - 1] = gmpy2.mpfr(0)
    eps = gmpy2.mul_2exp(gmpy2.mpfr(1), 1 - prec)
    iterlim = 2 * dps
    rows = range(len(z))
    for l in range(n):  # the names of the transcribed routine
        j = 0
        while True:
            m = l
            while m + 1 != n and not abs(e[m]) <= eps * (abs(d[m]) + abs(d[m + 1])):
                m += 1
            if m == l:
                break
            if j >= iterlim:
                raise RuntimeError("tridiag_eigen: no convergence to an eigenvalue after "
                                   f"{iterlim} iterations")
            j += 1
            p = d[l]
            g = (d[l + 1] - p) / (2 * e[l])
            r = _hypot_one(g, prec)
            s = g - r if g < 0 else g + r
            g = d[m] - p + e[l] / s
            s, c, p = 1, 1, 0
            for i in range(m - 1, l - 1, -1):
                f = s * e[i]
                b = c * e[i]
                if abs(f) > abs(g):
                    c = g / f
                    r = _hypot_one(c, prec)
                    e[i + 1] = f * r
                    s = 1 / r
                    c = c * s
                else:
                    s = f / g
                    r = _hypot_one(s, prec)
                    e[i + 1] = g * r
                    c = 1 / r
                    s = s * c
                g = d[i + 1] - p
                r = (d[i] - g) * s + 2 * c * b
                p = s * r
                d[i + 1] = g + p
                g = c * r - b
                for w in rows:
                    f = z[w][i + 1]
                    z[w][i + 1] = s * z[w][i] + c * f
                    z[w][i] = c * z[w][i] - s * f
            d[l] = d[l] - p
            e[l] = g
            e[m] = gmpy2.mpfr(0)
    for ii in range(1, n):
        i = ii - 1
        k = i
        p = d[i]
        for j in range(ii, n):
            if d[j] >= p:
                continue
            k = j
            p = d[k]
        if k == i:
            continue
        d[k] = d[i]
        d[i] = p
        for w in rows:
            p = z[w][i]
            z[w][i] = z[w][k]
            z[w][k] = p
