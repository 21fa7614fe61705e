"""The reduced problem of a regular k-gon (SPEC §3), solved completely.

Put k columns of squared norm x at the vertices of a regular polygon, give every live vertex the
bias b = x·s, and leave the other n - k columns zero. The loss seen by one live output is

    F(x, s) = Q(x, x s) + Σ_{d=1}^{k-1} P(x cos(2πd/k), x s) + (n - k) P(0, x s)

(every vertex is an input of every output, dead or not, so F does not depend on which vertices
are dead, nor on the zero columns' biases). P is homogeneous of degree 2 in (a, c) and
Q = 1/3 - 2R + P with R homogeneous of degree 1, hence

    F(x, s) = 1/3 + x F₁(s) + x² F₂(s),

and the activation region of every block depends on s alone: its end values are x·s and
x·(κ + s) with κ ∈ {1, cos(2πd/k), 0}. So s ranges over finitely many intervals, cut at s = 0 and
s = -κ, and on each interval F₁ and F₂ are polynomials in s. Critical points satisfy

    ∂F/∂x = F₁ + 2x F₂ = 0  and  ∂F/∂s = x F₁' + x² F₂' = 0,

i.e. x = -F₁/(2F₂) and h(s) = 2F₁' F₂ - F₁ F₂' = 0: one univariate polynomial per interval.
All its roots are computed (mpmath.polyroots, every complex root of the polynomial), the real
ones inside the interval kept, and x recovered. Nothing is missed: a critical point with x > 0 in
the interior of an interval, or on its boundary (F is C¹ across boundaries, so h is continuous),
is a root of that interval's h. On s ≤ -1 every block is dead and F is constant (h ≡ 0): the
all-dead polygons, handled as flat patterns.

The coefficients of F₁ and F₂ come from :func:`critpoints.tms.polygon.reduced_polynomials` (the
one place the reduced polynomials are built, from generated code derived once by sympy), here
evaluated in mpmath: no sympy at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import mpmath

from critpoints.tms.polygon import intervals
from critpoints.tms.polygon import reduced_polynomials as _polygon_polynomials

__all__ = ["ReducedSolution", "reduced_polynomials", "solve_regular_polygon"]


def _poly_add(p, q):
    out = [mpmath.mpf(0)] * max(len(p), len(q))
    for i, v in enumerate(p):
        out[i] += v
    for i, v in enumerate(q):
        out[i] += v
    return out


def _poly_mul(p, q):
    out = [mpmath.mpf(0)] * (len(p) + len(q) - 1)
    for i, u in enumerate(p):
        for j, v in enumerate(q):
            out[i + j] += u * v
    return out


def _poly_der(p):
    return [i * p[i] for i in range(1, len(p))] or [mpmath.mpf(0)]


def _poly_eval(p, s):
    return mpmath.polyval(list(reversed(p)), s)


def _cosine(fraction: Fraction | None):
    """cos(2π·fraction) in mpmath at the working precision; exactly 0 where it is 0 (d/k = 1/4,
    3/4) and for the zero columns (None)."""
    if fraction is None:
        return mpmath.mpf(0)
    value = mpmath.cos(2 * mpmath.pi * fraction.numerator / fraction.denominator)
    return mpmath.mpf(0) if abs(value) < mpmath.mpf(10) ** (-mpmath.mp.dps + 5) else value


def reduced_polynomials(n: int, k: int, interval) -> tuple[list, list]:
    """F₁ and F₂ (mpmath coefficients in s, lowest first) on one activation interval of
    :func:`critpoints.tms.polygon.intervals` ``(k)``, at the working precision."""
    return _polygon_polynomials(n, k, interval, _cosine)


@dataclass(frozen=True)
class ReducedSolution:
    """A critical point of the reduced problem: squared norm x = l², bias ratio s = b/x."""

    x: mpmath.mpf
    s: mpmath.mpf
    interval: tuple  # (lower, upper) breakpoints of s
    norm: mpmath.mpf  # l = √x, at the precision of the solve
    vertex_bias: mpmath.mpf  # b_v = x·s


@cache
def solve_regular_polygon(n: int, k: int, dps: int = 80) -> tuple[ReducedSolution, ...]:
    """Every critical point (x > 0, s > -1) of the reduced regular k-gon problem.

    Parameters
    ----------
    n : int
        Number of features (columns).
    k : int
        Number of polygon vertices, 1 ≤ k ≤ n.
    dps : int
        Working precision; roots are accurate to about dps - 10 digits (less near multiple
        roots: the callers verify every solution in full space).

    Returns
    -------
    tuple of ReducedSolution, sorted by s.
    """
    if not 1 <= k <= n:
        raise ValueError(f"need 1 ≤ k ≤ n; got k = {k}, n = {n}")
    with mpmath.workdps(dps):
        # Intervals of s above -1: (-1, b₁], (b₁, b₂], ..., (b_last, ∞).
        found: list[ReducedSolution] = []
        tol = mpmath.mpf(10) ** (-(dps // 2))
        for interval in intervals(k):
            lower, upper = _snap_breakpoint(interval.lower), _snap_breakpoint(interval.upper)
            F1, F2 = reduced_polynomials(n, k, interval)
            h = _poly_add(
                _poly_mul([2 * v for v in _poly_der(F1)], F2),
                [-v for v in _poly_mul(F1, _poly_der(F2))],
            )
            scale = max(abs(v) for v in h)
            while len(h) > 1 and abs(h[-1]) <= scale * mpmath.mpf(10) ** (-mpmath.mp.dps + 10):
                h.pop()
            if all(v == 0 for v in h):
                continue
            if lower == -1:
                h = _deflate(h, mpmath.mpf(-1))
            if len(h) == 1:
                continue
            roots = mpmath.polyroots(list(reversed(h)), maxsteps=400, extraprec=4 * dps)
            for root in roots:
                if abs(mpmath.im(root)) > tol:
                    continue
                s = mpmath.re(root)
                # Snap roots that sit on a breakpoint to it (the 4-gon's s = 0, for example).
                for edge in (lower, upper):
                    if edge != mpmath.inf and abs(s - edge) < tol:
                        s = edge
                # s = -1 is where F₁ and F₂ vanish together (the vertex's output switches off
                # at mu = 1): a multiple root of h, not a critical point with x > 0.
                if not (lower <= s <= upper) or s <= -1:
                    continue
                if s not in (lower, upper):
                    s = _refine_root(h, s, lower, upper)
                F2s = _poly_eval(F2, s)
                if F2s <= 0:
                    continue
                x = -_poly_eval(F1, s) / (2 * F2s)
                if x <= 0:
                    continue
                if any(abs(s - other.s) < tol for other in found):
                    continue
                found.append(ReducedSolution(x, s, (lower, upper), mpmath.sqrt(x), x * s))
        return tuple(sorted(found, key=lambda sol: sol.s))


def _snap_breakpoint(point):
    """The breakpoint -cos(2π·fraction) in mpmath, exactly 0 where it is 0 (s = 0)."""
    if point.infinite:
        return mpmath.inf
    return -_cosine(point.fraction)


def _deflate(h, root):
    """Divide out (s - root) as often as it divides h (to rounding).

    At s = -1 both F₁ and F₂ vanish to high order, so h has a multiple root there; polyroots
    would return it as a cluster of inaccurate roots that could leak into (-1, ...).
    """
    scale = max(abs(v) for v in h)
    tolerance = scale * mpmath.mpf(10) ** (-mpmath.mp.dps + 15)
    while len(h) > 1 and abs(_poly_eval(h, root)) <= tolerance:
        # synthetic division, highest degree first
        coeffs = list(reversed(h))
        quotient = [coeffs[0]]
        for coefficient in coeffs[1:-1]:
            quotient.append(coefficient + quotient[-1] * root)
        h = list(reversed(quotient))
    return h


def _refine_root(h, s, lower, upper):
    """A few Newton steps on h at full precision (polyroots' accuracy drops at multiple roots)."""
    dh = _poly_der(h)
    for _ in range(50):
        derivative = _poly_eval(dh, s)
        if derivative == 0:
            break
        step = _poly_eval(h, s) / derivative
        new = s - step
        if not (lower <= new <= upper):
            break
        s = new
        if abs(step) <= abs(s) * mpmath.mpf(10) ** (-mpmath.mp.dps + 3):
            break
    return s
