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

sympy is imported here lazily, only for points with an irrational s (not a breakpoint): factoring
the eliminants over ℚ, resultants, and the isolating intervals stored in the catalogs, which are
the end points of sympy's continued-fraction root isolation (``Poly.intervals(eps=10⁻¹²)``);
another isolator would give other, equally valid, end points and change the catalogs' bytes. The
points on the breakpoint s = 0 with a rational polygon angle (every k ≤ 4 and k = 6) are
rational and are computed here in Fractions, without sympy. F₁ and F₂ are built by
:func:`critpoints.tms.polygon.reduced_polynomials` (the one place), in the field ℚ(c) below.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import mpmath

from critpoints.tms.polygon import Interval, interval_of, intervals, reduced_polynomials

__all__ = ["cos_minimal_polynomial", "reduced_polynomials_exact", "exact_form", "AlgebraicNumber"]

#: Names of the variables in the stored minimal polynomials and in the Polys returned here.
COSINE_VARIABLE, S_VARIABLE, STORED_VARIABLE = "c", "s", "t"

#: cos(2π/k) where it is rational (Niven: k ∈ {1, 2, 3, 4, 6}) and cos(2πt) for t = d/k then.
_RATIONAL_COS = {
    Fraction(0): Fraction(1), Fraction(1, 6): Fraction(1, 2), Fraction(1, 4): Fraction(0),
    Fraction(1, 3): Fraction(-1, 2), Fraction(1, 2): Fraction(-1), Fraction(2, 3): Fraction(-1, 2),
    Fraction(3, 4): Fraction(0), Fraction(5, 6): Fraction(1, 2),
}


def _symbols():
    import sympy as sp

    return sp, sp.Symbol(COSINE_VARIABLE), sp.Symbol(S_VARIABLE), sp.Symbol(STORED_VARIABLE)


@lru_cache(maxsize=None)
def cos_minimal_polynomial(k: int):
    """Minimal polynomial over ℚ of cos(2π/k), monic, as a sympy Poly in c."""
    sp, c_sym, _, _ = _symbols()
    poly = sp.minimal_polynomial(sp.cos(2 * sp.pi / k), c_sym, polys=True)
    return poly.monic()


def _reduce(poly, m):
    return poly.rem(m) if m.degree() > 0 else poly


class _FieldElement:
    """An element of K = ℚ[c]/(m(c)): a sympy Poly in c reduced mod m, with + - * / (exact), so
    that the generated polygon blocks evaluate in K."""

    __slots__ = ("poly", "modulus")

    def __init__(self, poly, modulus):
        self.poly = _reduce(poly, modulus)
        self.modulus = modulus

    def _lift(self, other):
        if isinstance(other, _FieldElement):
            return other.poly
        sp, c_sym, _, _ = _symbols()
        other = Fraction(other)
        return sp.Poly(sp.Rational(other.numerator, other.denominator), c_sym, domain="QQ")

    def __add__(self, other):
        return _FieldElement(self.poly + self._lift(other), self.modulus)

    __radd__ = __add__

    def __sub__(self, other):
        return _FieldElement(self.poly - self._lift(other), self.modulus)

    def __rsub__(self, other):
        return _FieldElement(self._lift(other) - self.poly, self.modulus)

    def __neg__(self):
        return _FieldElement(-self.poly, self.modulus)

    def __mul__(self, other):
        return _FieldElement(self.poly * self._lift(other), self.modulus)

    __rmul__ = __mul__

    def __truediv__(self, other):
        sp, c_sym, _, _ = _symbols()
        divisor = self._lift(other)
        if divisor.is_ground:
            return _FieldElement(self.poly.quo_ground(divisor.LC()), self.modulus)
        inverse = sp.Poly(sp.invert(divisor.as_expr(), self.modulus.as_expr(), c_sym), c_sym, domain="QQ")
        return _FieldElement(self.poly * inverse, self.modulus)


def _field_cosine(k: int, m):
    """cos(2π·fraction) in K = ℚ(cos 2π/k): T_d(c) mod m for fraction = d/k, 0 for None."""
    sp, c_sym, _, _ = _symbols()

    def cosine(fraction: Fraction | None) -> _FieldElement:
        if fraction is None:
            return _FieldElement(sp.Poly(0, c_sym, domain="QQ"), m)
        d = int(fraction * k)
        return _FieldElement(sp.Poly(sp.chebyshevt(d, c_sym), c_sym, domain="QQ"), m)

    return cosine


@lru_cache(maxsize=None)
def reduced_polynomials_exact(n: int, k: int, interval: Interval):
    """F₁, F₂ and h on one interval, as Polys in (s, c) with coefficients reduced mod m(c).

    Parameters
    ----------
    n, k : int
        Features and polygon vertices (zero columns n - k see the polygon through P(0, xs)).
    interval : Interval
        One of :func:`critpoints.tms.polygon.intervals` ``(k)``.

    Returns
    -------
    (F1, F2, h) : sympy Polys in the generators (s, c), exact over ℚ.
    """
    sp, c_sym, s_sym, _ = _symbols()
    m = cos_minimal_polynomial(k)
    F = []
    for part in reduced_polynomials(n, k, interval, _field_cosine(k, m)):
        total = sp.Poly(0, s_sym, c_sym, domain="QQ")
        for j, value in enumerate(part):
            if not value.poly.is_zero:
                total += sp.Poly(value.poly.as_expr() * s_sym**j, s_sym, c_sym, domain="QQ")
        F.append(total)
    F1, F2 = F
    h = 2 * F1.diff(s_sym) * F2 - F1 * F2.diff(s_sym)
    h = _reduce_2d(h, m)
    return F1, F2, h


def _reduce_2d(poly, m):
    """Reduce the c-degree of a Poly in (s, c) modulo m(c)."""
    sp, c_sym, s_sym, _ = _symbols()
    if m.degree() == 0 or poly.is_zero:
        return poly
    _, rem = sp.div(poly, sp.Poly(m.as_expr(), s_sym, c_sym, domain="QQ"))
    return rem


def _norm(poly, m, var):
    """Res_c(m(c), poly(var, c)) ∈ ℚ[var] (poly itself if c is rational)."""
    sp, c_sym, _, _ = _symbols()
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


def _algebraic(poly, value, name: str) -> AlgebraicNumber:
    """The irreducible factor of ``poly`` vanishing at ``value`` (mpf), with an isolating interval."""
    sp, _, _, t_sym = _symbols()
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


def _linear_text(variable: str, lead: int, root: Fraction) -> str:
    """``lead·variable - root`` as sympy prints it (``t - 1``, ``c + 1/2``, ``2*t + 1``, ``t``)."""
    text = variable if lead == 1 else f"{lead}*{variable}"
    constant = -lead * root
    if constant == 0:
        return text
    return f"{text} {'+' if constant > 0 else '-'} {abs(constant)}"


def _rational(value: Fraction) -> AlgebraicNumber:
    """A rational number as an :class:`AlgebraicNumber` (minimal polynomial q·t - p)."""
    value = Fraction(value)
    return AlgebraicNumber(minpoly=_linear_text(STORED_VARIABLE, value.denominator, value),
                           degree=1, interval=[str(value), str(value)], value=str(value))


def _breakpoint_form(n: int, k: int) -> dict:
    """The point on the breakpoint s = 0 (the 4-gon family), exactly and without sympy.

    x = -F₁/(2F₂) at s = 0 from the interval below 0 (F is C¹ there, both sides agree), in
    Fractions: only possible when cos(2π/k) is rational, which is what the catalogs meet.
    """
    if Fraction(1, k) % 1 not in _RATIONAL_COS:
        raise ValueError("s = 0 with an irrational polygon angle is not handled")

    def cosine(fraction):
        return Fraction(0) if fraction is None else _RATIONAL_COS[fraction % 1]

    interval = next(iv for iv in intervals(k) if iv.upper.fraction == Fraction(1, 4))
    F1, F2 = reduced_polynomials(n, k, interval, cosine)
    x = -F1[0] / (2 * F2[0])
    coordinates = {"x": _rational(x), "s": _rational(Fraction(0)), "vertex_bias": _rational(Fraction(0))}
    return {"field": "Q", "interval": "s = 0 (breakpoint)", "coordinates": coordinates,
            "cos_minpoly": _linear_text(COSINE_VARIABLE, 1, _RATIONAL_COS[Fraction(1, k) % 1])}


@lru_cache(maxsize=None)
def _exact_form_cached(n: int, k: int, s_text: str, x_text: str) -> dict:
    with mpmath.workdps(60):
        s_value, x_value = mpmath.mpf(s_text), mpmath.mpf(x_text)
        if s_value == 0:
            return _breakpoint_form(n, k)
        sp, c_sym, s_sym, _ = _symbols()
        m = cos_minimal_polynomial(k)
        interval = interval_of(k, s_value)
        F1, F2, h = reduced_polynomials_exact(n, k, interval)
        x_sym, b_sym = sp.symbols("x b")
        coords = {"s": _algebraic(_norm(h, m, s_sym), s_value, "s")}
        for name, symbol, relation, value in (
            ("x", x_sym, 2 * x_sym * F2.as_expr() + F1.as_expr(), x_value),
            ("vertex_bias", b_sym, 2 * b_sym * F2.as_expr() + s_sym * F1.as_expr(), x_value * s_value),
        ):
            eliminant = sp.resultant(h.as_expr(), relation, s_sym)
            eliminant = _reduce_2d(sp.Poly(eliminant, symbol, c_sym, domain="QQ"), m)
            coords[name] = _algebraic(_norm(eliminant, m, symbol), value, name)
        return {
            "field": f"Q(cos(2*pi/{k}))",
            "cos_minpoly": str(m.as_expr()),
            "interval": interval.describe(),
            "coordinates": coords,
        }


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
        sympy is imported only when s is not 0 (see the module docstring).
    """
    return _exact_form_cached(n, k, s, x)
