"""The reduced regular k-gon problem as exact data: blocks, activation intervals, coefficients.

Shared by the exact (sympy, :mod:`critpoints.proofs.algebraic`) and the rigorous interval
(python-flint Arb, :mod:`critpoints.proofs.interval`) treatments of
:mod:`critpoints.kgon.reduced`. With a = xκ and c = xs every block formula of
:mod:`critpoints.tms.symbolic` is a polynomial in x of degree ≤ 2 whose coefficients are
polynomials in s with coefficients rational in κ (denominators are powers of κ). One output of a
regular k-gon with n - k zero columns sees

    F(x, s) = Q(x, xs) + Σ_{d=1}^{k-1} P(x κ_d, xs) + (n - k) P(0, xs),   κ_d = cos(2πd/k),

so F = 1/3 + x F₁(s) + x² F₂(s). The region of block κ on an interval of s is
2·[s > 0] + [κ + s > 0]; the breakpoints are s = 0 and s = -κ_d (d = 1 … ⌊k/2⌋), all exact:
they are stored as the rational number d/k (meaning -cos(2πd/k)) or 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import sympy as sp

from critpoints.tms import symbolic

__all__ = ["Breakpoint", "Interval", "block_coefficients", "intervals", "interval_blocks"]

_x, _kappa, _s = sp.symbols("x kappa s", real=True)


@lru_cache(maxsize=None)
def block_coefficients() -> dict:
    """``{(block, region): (F1 part, F2 part)}``; each part a list over powers of s (lowest
    first) of ``(numerator, kappa_power)`` with numerator a list of Fractions (coefficients of
    κ^0, κ^1, …) and the coefficient equal to numerator(κ) / κ^kappa_power.

    Derived from :func:`critpoints.tms.symbolic.block_formulas`, not typed in.
    """
    formulas = symbolic.block_formulas()
    a, c = symbolic.a, symbolic.c
    out = {}
    for block in ("P", "Q"):
        for code in range(4):
            expr = sp.expand(formulas[block][code].subs({a: _x * _kappa, c: _x * _s}))
            poly_x = sp.Poly(expr, _x)
            parts = []
            for power in (1, 2):
                coeff = sp.together(sp.expand(poly_x.coeff_monomial(_x**power)))
                poly_s = sp.Poly(sp.expand(coeff * _kappa**4), _s)
                terms = []
                for j in range(poly_s.degree() + 1 if not poly_s.is_zero else 0):
                    num = sp.Poly(poly_s.coeff_monomial(_s**j), _kappa)
                    coeffs = [Fraction(int(v.p), int(v.q)) for v in reversed(num.all_coeffs())]
                    # numerator(κ)/κ⁴: strip common powers of κ
                    shift = 0
                    while len(coeffs) > 1 and coeffs[0] == 0 and shift < 4:
                        coeffs.pop(0)
                        shift += 1
                    if all(v == 0 for v in coeffs):
                        coeffs, shift = [Fraction(0)], 4
                    terms.append((coeffs, 4 - shift))
                parts.append(terms)
            out[(block, code)] = tuple(parts)
    return out


@dataclass(frozen=True)
class Breakpoint:
    """An exact breakpoint of s: ``-cos(2π·fraction)``; fraction 1/4 is s = 0 and None is +∞."""

    fraction: Fraction | None

    @property
    def infinite(self) -> bool:
        return self.fraction is None

    def describe(self) -> str:
        if self.fraction is None:
            return "+inf"
        if self.fraction == Fraction(1, 4):
            return "0"
        if self.fraction == 0:
            return "-1"
        return f"-cos(2*pi*{self.fraction.numerator}/{self.fraction.denominator})"

    def sympy(self) -> sp.Expr:
        if self.fraction is None:
            return sp.oo
        return -sp.cos(2 * sp.pi * sp.Rational(self.fraction.numerator, self.fraction.denominator))


@dataclass(frozen=True)
class Interval:
    """One open activation interval (lower, upper) of s above -1."""

    lower: Breakpoint
    upper: Breakpoint

    def describe(self) -> str:
        return f"({self.lower.describe()}, {self.upper.describe()})"


@lru_cache(maxsize=None)
def intervals(k: int) -> tuple[Interval, ...]:
    """The activation intervals of s for a regular k-gon (with or without zero columns).

    s = -cos(2πd/k) increases with d ∈ [0, k/2]; the zero columns' breakpoint s = 0 is
    -cos(2π/4), merged when 4 | k.
    """
    fractions = {Fraction(d, k) for d in range(0, k // 2 + 1)} | {Fraction(1, 4)}
    points = sorted(fractions)  # increasing d/k ∈ [0, 1/2] ⇒ increasing -cos(2πd/k)
    bounds = [Breakpoint(f) for f in points] + [Breakpoint(None)]
    return tuple(Interval(lo, hi) for lo, hi in zip(bounds, bounds[1:]))


def _probe_side(kappa_fraction: Fraction, interval: Interval) -> bool:
    """Whether κ + s > 0 on the interval, with κ = cos(2π·kappa_fraction), decided exactly.

    κ + s > 0 ⇔ s > -κ; -κ is the breakpoint with the same fraction (folded into [0, 1/2]),
    and -cos(2πt) is increasing in t on [0, 1/2].
    """
    t = kappa_fraction % 1
    if t > Fraction(1, 2):
        t = 1 - t
    return interval.lower.fraction is not None and interval.lower.fraction >= t


def interval_blocks(n: int, k: int, interval: Interval) -> list[tuple[str, Fraction | None, int, int]]:
    """``(block, d/k or None for κ = 0, region code, multiplicity)`` for one output on an interval."""
    s_positive = interval.lower.fraction is not None and interval.lower.fraction >= Fraction(1, 4)
    out = [("Q", Fraction(0), 2 * s_positive + _probe_side(Fraction(0), interval), 1)]
    for d in range(1, k):
        frac = Fraction(d, k)
        out.append(("P", frac, 2 * s_positive + _probe_side(frac, interval), 1))
    if n > k:
        # κ = 0: live when s > 0, dead when s < 0 (no partial region).
        out.append(("P", None, 3 if s_positive else 0, n - k))
    return out
