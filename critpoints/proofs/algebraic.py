"""Exact algebraic forms of the regular k-gon critical points (issue 4, part 1).

On one activation interval of s the reduced loss is F = 1/3 + x F₁(s) + x² F₂(s) and its critical
points are the roots of h = 2F₁'F₂ - F₁F₂' with x = -F₁/(2F₂) (:mod:`critpoints.kgon.reduced`).
The coefficients of F₁, F₂, h are sums of rational functions of κ_d = cos(2πd/k) = T_d(c),
c = cos(2π/k), hence elements of the field K = ℚ(c) = ℚ[c]/(m(c)), m the minimal polynomial of c.
Computing in K exactly (polynomials in c reduced mod m, divisions by inversion mod m) gives h ∈ K[s];
its norm N(s) = Res_c(m(c), h(c, s)) ∈ ℚ[s] vanishes at every root of h, so the minimal polynomial
of s over ℚ is the irreducible factor of N that vanishes at the numeric root. For x and the vertex
bias b = x s the same with the relations 2xF₂ + F₁ = 0 and 2bF₂ + sF₁ = 0: eliminate s against h,
then c against m, factor, and pick the factor vanishing at the numeric value.

Every algebraic number is returned with an isolating interval with rational end points (sympy's
exact real-root isolation), so it is identified exactly, not only numerically.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import mpmath
import sympy as sp

from critpoints.proofs.reduced_blocks import Interval, block_coefficients, interval_blocks, intervals

__all__ = ["cos_minimal_polynomial", "reduced_polynomials_exact", "exact_form", "AlgebraicNumber"]

c_sym, s_sym, t_sym = sp.symbols("c s t")


@lru_cache(maxsize=None)
def cos_minimal_polynomial(k: int) -> sp.Poly:
    """Minimal polynomial over ℚ of cos(2π/k), monic, as a Poly in c."""
    poly = sp.minimal_polynomial(sp.cos(2 * sp.pi / k), c_sym, polys=True)
    return poly.monic()


def _reduce(poly: sp.Poly, m: sp.Poly) -> sp.Poly:
    return poly.rem(m) if m.degree() > 0 else poly


def _kappa_poly(fraction: Fraction | None, k: int, m: sp.Poly) -> sp.Poly:
    """cos(2π·fraction) as an element of ℚ[c]/(m), fraction = d/k: T_d(c)."""
    if fraction is None:
        return sp.Poly(0, c_sym, domain="QQ")
    d = int(fraction * k)
    return _reduce(sp.Poly(sp.chebyshevt(d, c_sym), c_sym, domain="QQ"), m)


def _coefficient(numerator: list, kappa_power: int, kappa: sp.Poly, m: sp.Poly) -> sp.Poly:
    value = sp.Poly(0, c_sym, domain="QQ")
    for coefficient in reversed(numerator):  # Horner in κ
        value = _reduce(value * kappa + sp.Rational(coefficient.numerator, coefficient.denominator), m)
    if kappa_power:
        inverse = sp.Poly(sp.invert(kappa.as_expr(), m.as_expr(), c_sym), c_sym, domain="QQ")
        for _ in range(kappa_power):
            value = _reduce(value * inverse, m)
    return value


@lru_cache(maxsize=None)
def reduced_polynomials_exact(n: int, k: int, interval: Interval) -> tuple[sp.Poly, sp.Poly, sp.Poly]:
    """F₁, F₂ and h on one interval, as Polys in (s, c) with coefficients reduced mod m(c).

    Parameters
    ----------
    n, k : int
        Features and polygon vertices (zero columns n - k see the polygon through P(0, xs)).
    interval : Interval
        One of :func:`critpoints.proofs.reduced_blocks.intervals` ``(k)``.

    Returns
    -------
    (F1, F2, h) : sympy Polys in the generators (s, c), exact over ℚ.
    """
    m = cos_minimal_polynomial(k)
    parts = block_coefficients()
    F = [sp.Poly(0, s_sym, c_sym, domain="QQ"), sp.Poly(0, s_sym, c_sym, domain="QQ")]
    for block, fraction, code, multiplicity in interval_blocks(n, k, interval):
        kappa = _kappa_poly(fraction, k, m) if block == "P" else sp.Poly(1, c_sym, domain="QQ")
        for order in (0, 1):
            for j, (numerator, power) in enumerate(parts[(block, code)][order]):
                if all(v == 0 for v in numerator):
                    continue
                value = _coefficient(numerator, power, kappa, m) * multiplicity
                F[order] += sp.Poly(value.as_expr() * s_sym**j, s_sym, c_sym, domain="QQ")
    F1, F2 = F
    h = 2 * F1.diff(s_sym) * F2 - F1 * F2.diff(s_sym)
    h = _reduce_2d(h, m)
    return F1, F2, h


def _reduce_2d(poly: sp.Poly, m: sp.Poly) -> sp.Poly:
    """Reduce the c-degree of a Poly in (s, c) modulo m(c)."""
    if m.degree() == 0 or poly.is_zero:
        return poly
    _, rem = sp.div(poly, sp.Poly(m.as_expr(), s_sym, c_sym, domain="QQ"))
    return rem


def _norm(poly: sp.Poly, m: sp.Poly, var: sp.Symbol) -> sp.Poly:
    """Res_c(m(c), poly(var, c)) ∈ ℚ[var] (poly itself if c is rational)."""
    if m.degree() == 1:
        root = sp.solve(m.as_expr(), c_sym)[0]
        return sp.Poly(poly.as_expr().subs(c_sym, root), var, domain="QQ")
    return sp.Poly(sp.resultant(m.as_expr(), poly.as_expr(), c_sym), var, domain="QQ")


class AlgebraicNumber(dict):
    """A real algebraic number: minimal polynomial over ℚ and an isolating interval.

    A plain dict (so it is stored as JSON as is): ``minpoly`` (str, integer coefficients, in the
    variable ``t``), ``degree``, ``interval`` ([lower, upper] as rational strings), and ``value``
    (a rational string when the degree is 1).
    """


def _algebraic(poly: sp.Poly, value, name: str) -> AlgebraicNumber:
    """The irreducible factor of ``poly`` vanishing at ``value`` (mpf), with an isolating interval."""
    if poly.is_zero:
        raise ValueError(f"{name}: eliminant is identically zero")
    best, best_residual = None, None
    for factor, _ in poly.factor_list()[1]:
        lead = max(abs(v) for v in factor.all_coeffs())
        residual = abs(mpmath.polyval([mpmath.mpf(int(v.p)) / int(v.q) for v in factor.all_coeffs()], value))
        residual /= mpmath.mpf(int(lead.p)) / int(lead.q) * max(1, abs(value)) ** factor.degree()
        if best is None or residual < best_residual:
            best, best_residual = factor, residual
    if best_residual > mpmath.mpf(10) ** (-(mpmath.mp.dps // 2)):
        raise ValueError(f"{name}: no factor of the eliminant vanishes at {mpmath.nstr(value, 15)}")
    best = sp.Poly(best.as_expr().subs(best.gen, t_sym), t_sym, domain="QQ")
    _, integer = best.clear_denoms(convert=True)
    integer = integer.primitive()[1]
    if integer.LC() < 0:
        integer = -integer
    out = AlgebraicNumber(minpoly=str(integer.as_expr()), degree=int(integer.degree()))
    if integer.degree() == 1:
        root = sp.Rational(-integer.coeff_monomial(1), integer.coeff_monomial(t_sym))
        out["interval"] = [str(root), str(root)]
        out["value"] = str(root)
        return out
    for (lower, upper), _ in integer.intervals(eps=sp.Rational(1, 10**12)):
        if lower <= sp.Rational(str(mpmath.nstr(value, 40))) <= upper:
            out["interval"] = [str(lower), str(upper)]
            return out
    raise ValueError(f"{name}: no isolating interval of the factor contains the numeric value")


def _breakpoint_value(point):
    if point.infinite:
        return mpmath.inf
    f = point.fraction
    return -mpmath.cospi(2 * mpmath.mpf(f.numerator) / f.denominator)


def _interval_of(n: int, k: int, s_value) -> Interval:
    for interval in intervals(k):
        lo = _breakpoint_value(interval.lower)
        hi = _breakpoint_value(interval.upper)
        if lo < s_value < hi:
            return interval
    raise ValueError(f"s = {mpmath.nstr(s_value, 15)} lies on a breakpoint (no open interval)")


@lru_cache(maxsize=None)
def _exact_form_cached(n: int, k: int, s_text: str, x_text: str) -> dict:
    with mpmath.workdps(60):
        s_value, x_value = mpmath.mpf(s_text), mpmath.mpf(x_text)
        m = cos_minimal_polynomial(k)
        if s_value == 0:
            # On the breakpoint s = 0 (the 4-gon family): rational x from F₁ and F₂ at s = 0⁻ and
            # 0⁺ (F is C¹, so both sides agree; the lower side is used).
            interval = next(iv for iv in intervals(k) if iv.upper.fraction == Fraction(1, 4))
            F1, F2, _ = reduced_polynomials_exact(n, k, interval)
            if m.degree() != 1:
                raise ValueError("s = 0 with an irrational polygon angle is not handled")
            root = sp.solve(m.as_expr(), c_sym)[0]
            f1 = F1.as_expr().subs({s_sym: 0, c_sym: root})
            f2 = F2.as_expr().subs({s_sym: 0, c_sym: root})
            x_exact = sp.nsimplify(-f1 / (2 * f2))
            out = {"x": _rational(x_exact), "s": _rational(sp.Integer(0)),
                   "vertex_bias": _rational(sp.Integer(0))}
            return {"field": "Q", "interval": "s = 0 (breakpoint)", "coordinates": out,
                    "cos_minpoly": str(m.as_expr())}
        interval = _interval_of(n, k, s_value)
        F1, F2, h = reduced_polynomials_exact(n, k, interval)
        x_sym, b_sym = sp.symbols("x b")
        s_poly = _norm(h, m, s_sym)
        h_s = sp.Poly(h.as_expr(), s_sym)  # coefficients in ℚ[c]
        coords = {"s": _algebraic(s_poly, s_value, "s")}
        for name, symbol, relation, value in (
            ("x", x_sym, 2 * x_sym * F2.as_expr() + F1.as_expr(), x_value),
            ("vertex_bias", b_sym, 2 * b_sym * F2.as_expr() + s_sym * F1.as_expr(), x_value * s_value),
        ):
            eliminant = sp.resultant(h.as_expr(), relation, s_sym)
            eliminant = _reduce_2d(sp.Poly(eliminant, symbol, c_sym, domain="QQ"), m)
            coords[name] = _algebraic(_norm(eliminant, m, symbol), value, name)
        del h_s
        return {
            "field": f"Q(cos(2*pi/{k}))",
            "cos_minpoly": str(m.as_expr()),
            "interval": interval.describe(),
            "coordinates": coords,
        }


def _rational(value: sp.Rational) -> AlgebraicNumber:
    value = sp.Rational(value)
    return AlgebraicNumber(minpoly=str(value.q * t_sym - value.p), degree=1,
                           interval=[str(value), str(value)], value=str(value))


def exact_form(n: int, k: int, x: str, s: str) -> dict:
    """Minimal polynomials (over ℚ) of x = l², s = b/x and the vertex bias b of a reduced point.

    Parameters
    ----------
    n, k : int
    x, s : str
        Decimal strings of the numeric solution (≥ 40 correct digits), used only to pick the
        right factor and isolating interval.

    Returns
    -------
    dict
        ``field`` (where h's coefficients live), ``cos_minpoly``, ``interval`` (the activation
        interval of s), ``coordinates``: ``{"x": AlgebraicNumber, "s": ..., "vertex_bias": ...}``.
    """
    return _exact_form_cached(n, k, s, x)
