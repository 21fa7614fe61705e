"""Exact real-root isolation of integer polynomials by continued fractions (Vincent–Akritas–
Strzeboński), the algorithm of sympy's ``Poly.intervals`` followed step by step, without sympy.

The catalogs store, for every irrational coordinate, an isolating interval with rational end
points. Those end points are not unique: any isolator gives valid ones, but the stored ones are
those of sympy's VAS method (``sympy.polys.rootisolation.dup_isolate_real_roots`` with
``fast=False`` and the LMQ bound of Akritas–Strzeboński–Vigklas, refined until narrower than
``eps``). Following the same steps in integer arithmetic gives the same end points, so exact
forms need no sympy at run time and the catalogs keep their bytes; a test compares this module
with sympy on the catalogs' polynomials and on random ones.

Polynomials are dense lists of Python ints, highest degree first (sympy's ``dup`` layout).

``count_real_roots`` (how many roots a stored interval holds, for ``certify``) needs no particular
end points, so it uses Arb's certified root isolation through python-flint instead.

References: A. G. Akritas, A. W. Strzeboński, "A comparative study of two real root isolation
methods", Nonlinear Analysis: Modelling and Control 10(4), 297–304 (2005); A. G. Akritas,
A. W. Strzeboński, P. S. Vigklas, "Improving the performance of the continued fractions method
using new bounds of positive roots", ibid. 13(3), 265–279 (2008).
"""

from __future__ import annotations

import math
from fractions import Fraction

import flint

__all__ = ["count_real_roots", "isolating_intervals"]


def _strip(f: list[int]) -> list[int]:
    i = 0
    while i < len(f) and not f[i]:
        i += 1
    return f[i:]


def _sign_variations(f: list[int]) -> int:
    prev, k = 0, 0
    for coeff in f:
        if coeff * prev < 0:
            k += 1
        if coeff:
            prev = coeff
    return k


def _shift(f: list[int], a: int) -> list[int]:
    """f(x + a) (Taylor shift), in FLINT's integer polynomials: exact, so the same integers as
    sympy's Horner scheme (the profile of certify at n = 32 had that Python loop first)."""
    if not f:
        return []
    shifted = flint.fmpz_poly(f[::-1])(flint.fmpz_poly([a, 1]))
    coefficients = [int(c) for c in shifted.coeffs()[::-1]]
    return [0] * (len(f) - len(coefficients)) + coefficients


def _reverse(f: list[int]) -> list[int]:
    """x^n f(1/x)."""
    return _strip(list(reversed(f)))


def _mirror(f: list[int]) -> list[int]:
    """f(-x)."""
    f = list(f)
    for i in range(len(f) - 2, -1, -2):
        f[i] = -f[i]
    return f


def _trailing(f: list[int]) -> int:
    return f[-1] if f else 0


def _rshift(f: list[int], n: int) -> list[int]:
    return f[:-n] if f else f


def _eval_at_zero(f: list[int]) -> int:
    return _trailing(f)


def _log2_floor(a: int) -> int:
    # what sympy's ZZ.log does (a float logarithm), kept for identical bounds
    return int(math.log(int(a), 2))


def _root_upper_bound(f: list[int]) -> Fraction | None:
    """The LMQ (local max quadratic) upper bound of the positive roots."""
    n, P = len(f), []
    t = n * [1]
    if f[0] < 0:
        f = [-v for v in f]
    f = list(reversed(f))
    # each coefficient's logarithm once, not once per negative coefficient before it
    logs = [_log2_floor(v) if v > 0 else 0 for v in f]
    for i in range(n):
        if f[i] >= 0:
            continue
        a, QL = _log2_floor(-f[i]), []
        for j in range(i + 1, n):
            if f[j] <= 0:
                continue
            q = t[j] + a - logs[j]
            QL.append([q // (j - i), j])
        if not QL:
            continue
        q = min(QL)
        t[q[1]] = t[q[1]] + 1
        P.append(q[0])
    if not P:
        return None
    return Fraction(2) ** (max(P) + 1)


def _root_lower_bound(f: list[int]) -> Fraction | None:
    bound = _root_upper_bound(_reverse(f))
    return None if bound is None else 1 / bound


def _to_interval(M) -> tuple[Fraction, Fraction]:
    a, b, c, d = M
    s, t = Fraction(a, c), Fraction(b, d)
    return (s, t) if s <= t else (t, s)


def _lower_shift(f: list[int]) -> int:
    A = _root_lower_bound(f)
    return int(A) if A is not None else 0


def _step_refine(f: list[int], M):
    """One step of the positive-root refinement (sympy's ``dup_step_refine_real_root``)."""
    a, b, c, d = M
    if a == b and c == d:
        return f, (a, b, c, d)
    A = _lower_shift(f)
    if A >= 1:
        f = _shift(f, A)
        b, d = A * a + b, A * c + d
        if not _eval_at_zero(f):
            return f, (b, b, d, d)
    f, g = _shift(f, 1), f
    a1, b1, c1, d1 = a, a + b, c, c + d
    if not _eval_at_zero(f):
        return f, (b1, b1, d1, d1)
    k = _sign_variations(f)
    if k == 1:
        a, b, c, d = a1, b1, c1, d1
    else:
        f = _shift(_reverse(g), 1)
        if not _eval_at_zero(f):
            f = _rshift(f, 1)
        a, b, c, d = b, a + b, d, c + d
    return f, (a, b, c, d)


def _refine(f: list[int], M, eps: Fraction):
    a, b, c, d = M
    while not c:
        f, (a, b, c, d) = _step_refine(f, (a, b, c, d))
    while abs(Fraction(a, c) - Fraction(b, d)) >= eps:
        f, (a, b, c, d) = _step_refine(f, (a, b, c, d))
    return f, (a, b, c, d)


def _upper_half(f: list[int]) -> list[int]:
    """f transformed to the interval's upper half, x → 1/(x + 1) (reverse, shift by 1), with a
    root at the split point (a zero trailing coefficient) divided out."""
    g = _shift(_reverse(f), 1)
    return g if _trailing(g) else _rshift(g, 1)


def _positive_roots(f: list[int], eps: Fraction) -> list:
    """Möbius transforms isolating the positive roots (sympy's ``dup_inner_isolate_real_roots``)."""
    a, b, c, d = 1, 0, 0, 1
    k = _sign_variations(f)
    if k == 0:
        return []
    if k == 1:
        return [_refine(f, (a, b, c, d), eps)]
    roots, stack = [], [(a, b, c, d, f, k)]
    while stack:
        a, b, c, d, f, k = stack.pop()
        A = _lower_shift(f)
        if A >= 1:
            f = _shift(f, A)
            b, d = A * a + b, A * c + d
            if not _trailing(f):
                roots.append((f, (b, b, d, d)))
                f = _rshift(f, 1)
            k = _sign_variations(f)
            if k == 0:
                continue
            if k == 1:
                roots.append(_refine(f, (a, b, c, d), eps))
                continue
        f1 = _shift(f, 1)
        a1, b1, c1, d1, r = a, a + b, c, c + d, 0
        if not _trailing(f1):
            roots.append((f1, (b1, b1, d1, d1)))
            f1, r = _rshift(f1, 1), 1
        k1 = _sign_variations(f1)
        k2 = k - k1 - r
        a2, b2, c2, d2 = b, a + b, d, c + d
        if k2 > 1:
            f2 = _upper_half(f)
            k2 = _sign_variations(f2)
        else:
            f2 = None
        if k1 < k2:
            a1, a2, b1, b2 = a2, a1, b2, b1
            c1, c2, d1, d2 = c2, c1, d2, d1
            f1, f2, k1, k2 = f2, f1, k2, k1
        if not k1:
            continue
        if f1 is None:
            f1 = _upper_half(f)
        if k1 == 1:
            roots.append(_refine(f1, (a1, b1, c1, d1), eps))
        else:
            stack.append((a1, b1, c1, d1, f1, k1))
        if not k2:
            continue
        if f2 is None:
            f2 = _upper_half(f)
        if k2 == 1:
            roots.append(_refine(f2, (a2, b2, c2, d2), eps))
        else:
            stack.append((a2, b2, c2, d2, f2, k2))
    return roots


def isolating_intervals(coefficients: list[int], eps: Fraction) -> list[tuple[Fraction, Fraction]]:
    """Isolating intervals, narrower than ``eps``, of the real roots of a square-free integer
    polynomial with f(0) ≠ 0 (an irreducible one of degree ≥ 2, say), sorted.

    Parameters
    ----------
    coefficients : list of int
        Highest degree first; primitive with a positive leading coefficient (as sympy's
        square-free decomposition leaves it).
    eps : Fraction
        Every interval is refined until its width is below ``eps``.

    Returns
    -------
    list of (lower, upper) Fractions, the same as sympy's ``Poly.intervals(eps=eps)``.
    """
    f = _strip([int(v) for v in coefficients])
    if len(f) < 2 or not f[-1]:
        raise ValueError("need a polynomial of degree ≥ 1 with a nonzero constant term")
    negative = []
    for _, M in _positive_roots(_mirror(f), eps):
        u, v = _to_interval(M)
        negative.append((-v, -u))
    positive = [_to_interval(M) for _, M in _positive_roots(f, eps)]
    return sorted(negative + positive)


#: Working precisions (bits) tried in turn by :func:`count_real_roots` before it gives up.
_COUNT_PRECISIONS = (128, 512, 2048, 8192)


def count_real_roots(coefficients: list[int], lo: Fraction, hi: Fraction) -> int:
    """The number of distinct real roots of an integer polynomial in the closed interval
    [lo, hi] (what sympy's ``Poly.count_roots(lo, hi)`` gives, in milliseconds where sympy's
    Sturm sequences take minutes at degree 60).

    A root at an end point is found exactly (f(lo) = 0 in rational arithmetic) and divided
    out; the other roots are isolated by Arb (``fmpz_poly.complex_roots``: certified balls,
    the real ones with imaginary part exactly zero) and each is placed strictly inside or
    outside (lo, hi) by ball comparison, raising the precision until every one is decided.

    Parameters
    ----------
    coefficients : list of int
        Highest degree first; not all zero.
    lo, hi : Fraction
        The interval, lo ≤ hi.
    """
    f = flint.fmpq_poly(list(reversed(coefficients)))
    if f.degree() < 0:
        raise ValueError("the zero polynomial has every number as a root")
    lo, hi = Fraction(lo), Fraction(hi)
    if lo > hi:
        raise ValueError(f"empty interval [{lo}, {hi}]")
    at_ends = 0
    for end in {lo, hi}:
        root = flint.fmpq(end.numerator, end.denominator)
        if f(root) == 0:
            at_ends += 1
            while f(root) == 0:  # divide the end point out, with its multiplicity
                f = f // flint.fmpq_poly([-root, 1])
    if f.degree() < 1:
        return at_ends
    g = f.numer()  # the same roots, integer coefficients
    ends = (flint.fmpq(lo.numerator, lo.denominator), flint.fmpq(hi.numerator, hi.denominator))
    for prec in _COUNT_PRECISIONS:
        with flint.ctx.workprec(prec):
            a, b = flint.arb(ends[0]), flint.arb(ends[1])
            inside, undecided = 0, False
            for root, _ in g.complex_roots():
                # Arb returns a real root with imaginary part exactly 0, a non-real one with
                # a ball that excludes 0
                if not root.imag.is_zero():
                    if 0 in root.imag:
                        undecided = True
                        break
                    continue
                x = root.real
                if a < x and x < b:
                    inside += 1
                elif not (x < a or x > b):
                    undecided = True
                    break
            if not undecided:
                return at_ends + inside
    raise ArithmeticError(f"could not place the roots of a degree-{g.degree()} polynomial "
                          f"against [{lo}, {hi}] at {_COUNT_PRECISIONS[-1]} bits")
