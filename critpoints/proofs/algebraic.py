"""Exact algebraic forms of the regular k-gon critical points (issue 4, part 1).

On one activation interval of s the reduced loss is F = 1/3 + x F₁(s) + x² F₂(s) and its critical
points are the roots of h = 2F₁'F₂ - F₁F₂' with x = -F₁/(2F₂) (:mod:`critpoints.kgon.reduced`).
The coefficients of F₁, F₂, h are sums of rational functions of κ_d = cos(2πd/k) = T_d(c),
c = cos(2π/k), hence elements of the field K = ℚ(c) = ℚ[c]/(m(c)), m the minimal polynomial of c.
Computing in K exactly (polynomials in c reduced mod m, divisions by inversion mod m) gives
h ∈ K[s]; its norm N(s) = Res_c(m(c), h(c, s)) ∈ ℚ[s] vanishes at every root of h, so the minimal
polynomial of s over ℚ is the irreducible factor of N that vanishes at the numeric root. For x
and the vertex bias b = x s the same with the relations 2xF₂ + F₁ = 0 and 2bF₂ + sF₁ = 0:
eliminate s against h, then c against m, factor, and pick the factor vanishing at the numeric
value.

Every algebraic number is returned with an isolating interval with rational end points, so it is
identified exactly, not only numerically.

No sympy at run time: exact arithmetic is python-flint's (ℚ[c] polynomials, multivariate
resultants, factorisation over ℚ), F₁ and F₂ are built by
:func:`critpoints.tms.polygon.reduced_polynomials` (the one place) in the field K, and the
isolating intervals come from :mod:`critpoints.proofs.realroots`, which follows sympy's
continued-fraction isolation step by step (the end points stored in the catalogs are those).
Minimal polynomials are printed as sympy prints them (``5*t**4 + 7*t**3 - t + 1``,
``c**2 + c/2 - 1/4``), the catalogs' format.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import cache

import flint
import mpmath

from critpoints.proofs.realroots import isolating_intervals
from critpoints.tms.polygon import Interval, interval_of, intervals, reduced_polynomials

__all__ = ["AlgebraicNumber", "cos_minimal_polynomial", "exact_form", "parse_polynomial_text",
           "polynomial_text", "reduced_polynomials_exact"]

#: Names of the variables in the stored minimal polynomials and in the polynomials returned here.
COSINE_VARIABLE, S_VARIABLE, STORED_VARIABLE = "c", "s", "t"

#: Width below which the stored isolating intervals are refined (the catalogs' 10⁻¹²).
ISOLATION_WIDTH = Fraction(1, 10**12)

#: cos(2πt) where it is rational (Niven: t = d/k with k ∈ {1, 2, 3, 4, 6}).
_RATIONAL_COS = {
    Fraction(0): Fraction(1), Fraction(1, 6): Fraction(1, 2), Fraction(1, 4): Fraction(0),
    Fraction(1, 3): Fraction(-1, 2), Fraction(1, 2): Fraction(-1), Fraction(2, 3): Fraction(-1, 2),
    Fraction(3, 4): Fraction(0), Fraction(5, 6): Fraction(1, 2),
}

#: Polynomial ring ℚ[s, c, x, b] of the eliminations (lexicographic order).
_RING = flint.fmpq_mpoly_ctx.get((S_VARIABLE, COSINE_VARIABLE, "x", "b"), "lex")


@cache
def cos_minimal_polynomial(k: int) -> flint.fmpq_poly:
    """Minimal polynomial over ℚ of cos(2π/k), monic, as a python-flint ``fmpq_poly`` in c.

    From the minimal polynomial P of 2cos(2π/k) (``fmpz_poly.cos_minpoly``): P(2c), made monic.
    """
    coefficients = [int(v) for v in flint.fmpz_poly.cos_minpoly(k).coeffs()]
    scaled = flint.fmpq_poly([v * 2**i for i, v in enumerate(coefficients)])
    return scaled / scaled.leading_coefficient()


class _FieldElement:
    """An element of K = ℚ[c]/(m(c)): an ``fmpq_poly`` in c reduced mod m, with + - * / (exact),
    so that the generated polygon blocks evaluate in K."""

    __slots__ = ("modulus", "poly")

    def __init__(self, poly, modulus):
        self.poly = poly % modulus if modulus.degree() > 0 else poly
        self.modulus = modulus

    @staticmethod
    def _lift(other):
        if isinstance(other, _FieldElement):
            return other.poly
        other = Fraction(other)
        return flint.fmpq_poly([flint.fmpq(other.numerator, other.denominator)])

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
        divisor = self._lift(other)
        if divisor.is_zero():
            raise ZeroDivisionError("division by zero in Q(cos 2pi/k)")
        gcd, inverse, _ = divisor.xgcd(self.modulus)  # inverse·divisor + _·m = gcd = 1
        return _FieldElement(self.poly * inverse / gcd, self.modulus)


def _field_cosine(k: int, m):
    """cos(2π·fraction) in K = ℚ(cos 2π/k): T_d(c) mod m for fraction = d/k, 0 for None."""
    c = flint.fmpq_poly([0, 1])

    def cosine(fraction: Fraction | None) -> _FieldElement:
        if fraction is None:
            return _FieldElement(flint.fmpq_poly([0]), m)
        d = int(fraction * k)
        previous, current = flint.fmpq_poly([1]), c  # Chebyshev T_0, T_1
        if d == 0:
            return _FieldElement(previous, m)
        for _ in range(d - 1):
            previous, current = current, (2 * c * current - previous) % m
        return _FieldElement(current, m)

    return cosine


def _in_ring(coefficients) -> flint.fmpq_mpoly:
    """Σ_j coefficients[j](c)·s^j as an element of ℚ[s, c, x, b]."""
    out = _RING.from_dict({})
    for j, poly in enumerate(coefficients):
        for i, value in enumerate(poly.coeffs()):
            if value != 0:
                out += _RING.from_dict({(j, i, 0, 0): value})
    return out


def _poly_mul(p, q, m):
    out = [flint.fmpq_poly([0])] * (len(p) + len(q) - 1)
    for i, u in enumerate(p):
        for j, v in enumerate(q):
            out[i + j] = out[i + j] + u * v
    return [v % m if m.degree() > 0 else v for v in out]


def _derivative(p):
    return [i * p[i] for i in range(1, len(p))] or [flint.fmpq_poly([0])]


@cache
def reduced_polynomials_exact(n: int, k: int, interval: Interval) -> tuple:
    """F₁, F₂ and h = 2F₁'F₂ - F₁F₂' on one interval, exactly, with coefficients in K.

    Parameters
    ----------
    n, k : int
        Features and polygon vertices (zero columns n - k see the polygon through P(0, xs)).
    interval : Interval
        One of :func:`critpoints.tms.polygon.intervals` ``(k)``.

    Returns
    -------
    (F1, F2, h) : tuples over the powers of s (lowest first) of ``fmpq_poly`` in c, each reduced
    modulo m(c) = :func:`cos_minimal_polynomial` ``(k)``.
    """
    m = cos_minimal_polynomial(k)
    parts = reduced_polynomials(n, k, interval, _field_cosine(k, m))
    F1, F2 = ([v.poly for v in part] for part in parts)
    first = _poly_mul([2 * v for v in _derivative(F1)], F2, m)
    second = _poly_mul(F1, _derivative(F2), m)
    size = max(len(first), len(second))
    first += [flint.fmpq_poly([0])] * (size - len(first))
    second += [flint.fmpq_poly([0])] * (size - len(second))
    h = [u - v for u, v in zip(first, second)]
    return tuple(F1), tuple(F2), tuple(h)


def _reduce_in_c(poly: flint.fmpq_mpoly, m) -> flint.fmpq_mpoly:
    """Reduce the c-degree of an element of ℚ[s, c, x, b] modulo m(c)."""
    if m.degree() == 0:
        return poly
    groups: dict[tuple, dict[int, object]] = {}
    for (es, ec, ex, eb), value in poly.to_dict().items():
        groups.setdefault((es, ex, eb), {})[ec] = value
    out = _RING.from_dict({})
    for (es, ex, eb), by_power in groups.items():
        coefficients = [0] * (max(by_power) + 1)
        for power, value in by_power.items():
            coefficients[power] = value
        reduced = flint.fmpq_poly(coefficients) % m
        for i, value in enumerate(reduced.coeffs()):
            if value != 0:
                out += _RING.from_dict({(es, i, ex, eb): value})
    return out


def _norm(poly: flint.fmpq_mpoly, m, variable: int) -> flint.fmpq_poly:
    """Res_c(m(c), poly) ∈ ℚ[variable] as an ``fmpq_poly`` (poly is free of the other variables)."""
    modulus = _RING.from_dict({(0, i, 0, 0): v for i, v in enumerate(m.coeffs()) if v != 0})
    if poly.degrees()[1] == 0:
        resultant = poly ** m.degree() if m.degree() > 1 else poly
    else:
        resultant = modulus.resultant(poly, COSINE_VARIABLE)
    coefficients: dict[int, object] = {}
    for exponents, value in resultant.to_dict().items():
        if any(e for i, e in enumerate(exponents) if i != variable):
            raise ValueError("the norm depends on more than one variable")
        coefficients[exponents[variable]] = value
    size = max(coefficients, default=0) + 1
    return flint.fmpq_poly([coefficients.get(i, 0) for i in range(size)])


class AlgebraicNumber(dict):
    """A real algebraic number: minimal polynomial over ℚ and an isolating interval.

    A plain dict (so it is stored as JSON as is): ``minpoly`` (str, integer coefficients, in the
    variable ``t``), ``degree``, ``interval`` ([lower, upper] as rational strings), and ``value``
    (a rational string when the degree is 1).
    """


def _fraction(value) -> Fraction:
    value = flint.fmpq(value)
    return Fraction(int(value.p), int(value.q))


def _term_text(coefficient: Fraction, variable: str, power: int) -> str:
    """One term |coefficient|·variable^power as sympy prints it (the sign is the caller's)."""
    coefficient = abs(coefficient)
    if power == 0:
        return str(coefficient)
    monomial = variable if power == 1 else f"{variable}**{power}"
    numerator, denominator = coefficient.numerator, coefficient.denominator
    text = monomial if numerator == 1 else f"{numerator}*{monomial}"
    return text if denominator == 1 else f"{text}/{denominator}"


def polynomial_text(coefficients: list[Fraction], variable: str) -> str:
    """A polynomial (coefficients lowest degree first) as sympy's ``str`` prints it, highest
    degree first: ``5*t**4 - 23*t**3 + t - 1``, ``c**2 + c/2 - 1/4``."""
    parts = []
    for power in range(len(coefficients) - 1, -1, -1):
        value = Fraction(coefficients[power])
        if value == 0:
            continue
        term = _term_text(value, variable, power)
        if not parts:
            parts.append(term if value > 0 else f"-{term}")
        else:
            parts.append(f"{'+' if value > 0 else '-'} {term}")
    return " ".join(parts) if parts else "0"


#: Highest degree :func:`parse_polynomial_text` accepts (the catalogs' minimal polynomials have
#: degree ≤ 60; a stored ``t**100000000`` would take for ever to evaluate).
MAX_PARSED_DEGREE = 1024

_CONSTANT_TERM = re.compile(r"(\d+)(?:/(\d+))?")


def parse_polynomial_text(text: str, variable: str) -> list[Fraction]:
    """The coefficients (lowest degree first) of a polynomial written as
    :func:`polynomial_text` writes it, and nothing else: a stored minimal polynomial is read
    by this grammar, never evaluated as code (``sympify`` would run whatever a tampered file
    holds).

    Raises
    ------
    ValueError
        Not of that form, a repeated power, or a degree above :data:`MAX_PARSED_DEGREE`.
    """
    if not isinstance(text, str) or not text or len(text) > 100_000:
        raise ValueError("not a polynomial text")
    if text == "0":
        return [Fraction(0)]
    term_pattern = re.compile(rf"(?:(\d+)\*)?{re.escape(variable)}(?:\*\*(\d+))?(?:/(\d+))?")
    words = text.split(" ")
    signs, terms = [1], []
    if words[0].startswith("-") and len(words[0]) > 1:
        signs[0], words[0] = -1, words[0][1:]
    terms.append(words[0])
    if len(words) % 2 != 1:
        raise ValueError(f"not a polynomial in {variable}: {text[:60]!r}")
    for sign, term in zip(words[1::2], words[2::2]):
        if sign not in ("+", "-"):
            raise ValueError(f"not a polynomial in {variable}: {text[:60]!r}")
        signs.append(1 if sign == "+" else -1)
        terms.append(term)
    coefficients: dict[int, Fraction] = {}
    for sign, term in zip(signs, terms):
        constant = _CONSTANT_TERM.fullmatch(term)
        monomial = None if constant else term_pattern.fullmatch(term)
        if constant:
            power, value = 0, Fraction(int(constant[1]), int(constant[2] or 1))
        elif monomial:
            power = int(monomial[2] or 1)
            value = Fraction(int(monomial[1] or 1), int(monomial[3] or 1))
        else:
            raise ValueError(f"not a polynomial in {variable}: term {term[:40]!r}")
        if power > MAX_PARSED_DEGREE:
            raise ValueError(f"degree {power} above {MAX_PARSED_DEGREE}")
        if power in coefficients or value == 0:
            raise ValueError(f"not a polynomial in {variable}: term {term[:40]!r} repeated or 0")
        coefficients[power] = sign * value
    return [coefficients.get(k, Fraction(0)) for k in range(max(coefficients) + 1)]


def _algebraic(poly: flint.fmpq_poly, value, name: str) -> AlgebraicNumber:
    """The irreducible factor of ``poly`` vanishing at ``value`` (mpf), with an isolating
    interval."""
    if poly.is_zero():
        raise ValueError(f"{name}: eliminant is identically zero")
    best, best_residual = None, None
    for factor, _ in poly.factor()[1]:
        coefficients = [_fraction(v) for v in factor.coeffs()]  # lowest degree first
        lead = max(abs(v) for v in coefficients)
        residual = abs(mpmath.polyval([mpmath.mpf(v.numerator) / v.denominator
                                       for v in reversed(coefficients)], value))
        residual /= (mpmath.mpf(lead.numerator) / lead.denominator
                     * max(1, abs(value)) ** factor.degree())
        if best is None or residual < best_residual:
            best, best_residual = coefficients, residual
    if best_residual > mpmath.mpf(10) ** (-(mpmath.mp.dps // 2)):
        raise ValueError(f"{name}: no factor of the eliminant vanishes at {mpmath.nstr(value, 15)}")
    # integer, primitive, positive leading coefficient
    common = math.lcm(*(v.denominator for v in best))
    integer = [int(v * common) for v in best]
    content = math.gcd(*integer)
    integer = [v // content for v in integer]
    if integer[-1] < 0:
        integer = [-v for v in integer]
    degree = len(integer) - 1
    out = AlgebraicNumber(minpoly=polynomial_text(integer, STORED_VARIABLE), degree=degree)
    if degree == 1:
        root = Fraction(-integer[0], integer[1])
        out["interval"] = [str(root), str(root)]
        out["value"] = str(root)
        return out
    target = Fraction(mpmath.nstr(value, 40))
    for lower, upper in isolating_intervals(list(reversed(integer)), ISOLATION_WIDTH):
        if lower <= target <= upper:
            out["interval"] = [str(lower), str(upper)]
            return out
    raise ValueError(f"{name}: no isolating interval of the factor contains the numeric value")


def _rational(value: Fraction) -> AlgebraicNumber:
    """A rational number as an :class:`AlgebraicNumber` (minimal polynomial q·t - p)."""
    value = Fraction(value)
    return AlgebraicNumber(minpoly=polynomial_text([-value.numerator, value.denominator],
                                                   STORED_VARIABLE),
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
    coordinates = {"x": _rational(x), "s": _rational(Fraction(0)),
                   "vertex_bias": _rational(Fraction(0))}
    cos_minpoly = polynomial_text([-_RATIONAL_COS[Fraction(1, k) % 1], 1], COSINE_VARIABLE)
    return {"field": "Q", "interval": "s = 0 (breakpoint)", "coordinates": coordinates,
            "cos_minpoly": cos_minpoly}


@cache
def _exact_form_cached(n: int, k: int, s_text: str, x_text: str) -> dict:
    with mpmath.workdps(60):
        s_value, x_value = mpmath.mpf(s_text), mpmath.mpf(x_text)
        if s_value == 0:
            return _breakpoint_form(n, k)
        m = cos_minimal_polynomial(k)
        interval = interval_of(k, s_value)
        F1, F2, h = reduced_polynomials_exact(n, k, interval)
        s_gen, _, x_gen, b_gen = _RING.gens()
        H, P1, P2 = _in_ring(h), _in_ring(F1), _in_ring(F2)
        coords = {"s": _algebraic(_norm(H, m, 0), s_value, "s")}
        for name, index, relation, value in (
            ("x", 2, 2 * x_gen * P2 + P1, x_value),
            ("vertex_bias", 3, 2 * b_gen * P2 + s_gen * P1, x_value * s_value),
        ):
            eliminant = _reduce_in_c(H.resultant(relation, S_VARIABLE), m)
            coords[name] = _algebraic(_norm(eliminant, m, index), value, name)
        return {
            "field": f"Q(cos(2*pi/{k}))",
            "cos_minpoly": polynomial_text([_fraction(v) for v in m.coeffs()], COSINE_VARIABLE),
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
    """
    return _exact_form_cached(n, k, s, x)
