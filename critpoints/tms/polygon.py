"""The regular polygon reduction of the potential (SPEC §3), in any arithmetic: the one place
where the reduced polynomials F₁ and F₂ are built.

Put k columns of squared norm x at the vertices of a regular polygon, give every live vertex the
bias b = x·s, and leave the other n - k columns zero. One live output sees

    F(x, s) = Q(x, xs) + Σ_{d=1}^{k-1} P(x κ_d, xs) + (n - k) P(0, xs),   κ_d = cos(2πd/k),

and since every block is homogeneous of degree 2 in (a, c), F = 1/3 + x F₁(s) + x² F₂(s). The
region of block κ on an interval of s is 2·[s > 0] + [κ + s > 0]; the breakpoints are s = 0 and
s = -κ_d (d = 0 … ⌊k/2⌋), all exact: they are stored as the rational number d/k (meaning
-cos(2πd/k)). On each open interval between breakpoints F₁ and F₂ are polynomials in s.

The per-block parts come from the generated module :mod:`critpoints.tms._polygon_generated`
(derived by :func:`critpoints.tms.symbolic.polygon_block_parts`, written by
``python -m critpoints derive --write``): plain arithmetic with exact constants, so
:func:`reduced_polynomials` runs unchanged on mpmath numbers (the enumerator,
:mod:`critpoints.kgon.reduced`), Arb balls (certificates, :mod:`critpoints.proofs.interval`),
Fractions and exact elements of ℚ(cos 2π/k) (:mod:`critpoints.proofs.algebraic`). No sympy here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from itertools import pairwise

import mpmath

from critpoints.tms._polygon_generated import PARTS

__all__ = [
    "Breakpoint",
    "Interval",
    "interval_blocks",
    "interval_of",
    "intervals",
    "reduced_polynomials",
]


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

    def value(self):
        """The breakpoint as an mpmath number at the current precision (``mpmath.inf`` for +∞)."""
        if self.fraction is None:
            return mpmath.inf
        return -mpmath.cospi(2 * mpmath.mpf(self.fraction.numerator) / self.fraction.denominator)


@dataclass(frozen=True)
class Interval:
    """One open activation interval (lower, upper) of s above -1."""

    lower: Breakpoint
    upper: Breakpoint

    def describe(self) -> str:
        return f"({self.lower.describe()}, {self.upper.describe()})"


@cache
def intervals(k: int) -> tuple[Interval, ...]:
    """The activation intervals of s for a regular k-gon (with or without zero columns).

    s = -cos(2πd/k) increases with d ∈ [0, k/2]; the zero columns' breakpoint s = 0 is
    -cos(2π/4), merged when 4 | k.
    """
    fractions = {Fraction(d, k) for d in range(k // 2 + 1)} | {Fraction(1, 4)}
    points = sorted(fractions)  # increasing d/k ∈ [0, 1/2] ⇒ increasing -cos(2πd/k)
    bounds = [Breakpoint(f) for f in points] + [Breakpoint(None)]
    return tuple(Interval(lo, hi) for lo, hi in pairwise(bounds))


def interval_of(k: int, s_value) -> Interval:
    """The open activation interval of a regular k-gon containing the mpmath number ``s_value``.

    Raises ValueError when ``s_value`` lies on a breakpoint (to the current precision).
    """
    for interval in intervals(k):
        if interval.lower.value() < s_value < interval.upper.value():
            return interval
    raise ValueError(f"s = {mpmath.nstr(s_value, 15)} lies on a breakpoint (no open interval)")


def _above(kappa_fraction: Fraction, interval: Interval) -> bool:
    """Whether κ + s > 0 on the interval, with κ = cos(2π·kappa_fraction), decided exactly.

    κ + s > 0 ⇔ s > -κ; -κ is the breakpoint with the same fraction (folded into [0, 1/2]),
    and -cos(2πt) is increasing in t on [0, 1/2].
    """
    t = kappa_fraction % 1
    if t > Fraction(1, 2):
        t = 1 - t
    return interval.lower.fraction is not None and interval.lower.fraction >= t


def interval_blocks(
    n: int, k: int, interval: Interval
) -> list[tuple[str, Fraction | None, int, int]]:
    """``(block, d/k or None for κ = 0, region code, multiplicity)`` for one output on an interval.

    In the order Q (κ = 1, fraction 0), P for d = 1 … k-1, then the n - k zero columns.
    """
    s_positive = interval.lower.fraction is not None and interval.lower.fraction >= Fraction(1, 4)
    out = [("Q", Fraction(0), 2 * s_positive + _above(Fraction(0), interval), 1)]
    for d in range(1, k):
        frac = Fraction(d, k)
        out.append(("P", frac, 2 * s_positive + _above(frac, interval), 1))
    if n > k:
        # κ = 0: live when s > 0, dead when s < 0 (no partial region).
        out.append(("P", None, 3 if s_positive else 0, n - k))
    return out


def reduced_polynomials(n: int, k: int, interval: Interval, cosine: Callable) -> tuple[list, list]:
    """F₁ and F₂ on one activation interval, coefficients (lowest power of s first) in the
    arithmetic of ``cosine``.

    Parameters
    ----------
    n, k : int
        Features and polygon vertices (1 ≤ k ≤ n).
    interval : Interval
        One of :func:`intervals` ``(k)``.
    cosine : callable
        ``cosine(t)`` returns cos(2πt) for a Fraction t = d/k, or 0 for ``None`` (the zero
        columns), as a number of the wanted type: an mpmath number, an Arb ball, a Fraction
        (rational cosines only) or an exact field element. Every coefficient is computed with
        + - * / from these and exact integers, so its accuracy is that of the arithmetic.

    Returns
    -------
    (F1, F2) : lists of coefficients, equal lengths not guaranteed.
    """
    F1: list = []
    F2: list = []
    for block, fraction, code, multiplicity in interval_blocks(n, k, interval):
        kappa = cosine(fraction)
        first, second = PARTS[block][code](kappa)
        for total, part in ((F1, first), (F2, second)):
            for j, value in enumerate(part):
                if j < len(total):
                    total[j] = total[j] + multiplicity * value
                else:
                    total.append(multiplicity * value)
    return F1, F2
