"""Exact description of a regular catalog point and exact (rational) evaluation of its gradient.

For a regular k-gon point with rational x = l² and s (the 4-gon family x = 1, s = 0, and the
all-dead polygons represented at x = 1) the Gram matrix G = WᵀW and the biases are rational when
cos(2πd/k) is (k ∈ {1, 2, 3, 4, 6}). The gradient of L is dL/db_j = (1/n) Σ_i F_c(G_ij, b_j) and
dL/dW = W M with M = (F_a + F_aᵀ)/n; since Mᵀ G M = (WM)ᵀ(WM), W M = 0 ⇔ G M = 0. So criticality
is decided exactly in rational arithmetic (python Fractions, FLINT's fmpq_mat for G M) from G
and b alone, without the irrational entries of W. Blocks are evaluated with the generated region
formulas of the region given by the ReLU'(0) = 0 convention; L is C¹ away from W_i = 0 = b_i, so
on an activation boundary these one-sided formulas give the true derivative.

Gram entries with irrational cosines are allowed only in blocks that are strictly dead (their
derivatives are then exactly 0), decided with Arb balls.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import flint
import mpmath
import numpy as np

from critpoints.tms._generated import FUNCTIONS
from critpoints.tms.regions import block_region

__all__ = ["ExactPoint", "exact_gradient_vanishes", "point_balls", "regular_exact_point"]

_RATIONAL_COS = {
    Fraction(0): Fraction(1), Fraction(1, 6): Fraction(1, 2), Fraction(1, 4): Fraction(0),
    Fraction(1, 3): Fraction(-1, 2), Fraction(1, 2): Fraction(-1), Fraction(2, 3): Fraction(-1, 2),
    Fraction(3, 4): Fraction(0), Fraction(5, 6): Fraction(1, 2),
}


@dataclass
class ExactPoint:
    """A regular point: n, k, exact x, vertex bias ratio s, the per-column kind and exact biases."""

    n: int
    k: int
    x: Fraction
    s: Fraction | None
    dead_vertices: tuple[int, ...]
    sigma: int
    b: list[Fraction]

    def gram(self, i: int, j: int):
        """G_ij as a Fraction, or ``("cos", t)`` meaning x·cos(2πt) (irrational)."""
        if i >= self.k or j >= self.k:
            return Fraction(0)
        t = Fraction(i - j, self.k) % 1
        if t in _RATIONAL_COS:
            return self.x * _RATIONAL_COS[t]
        return ("cos", t)


def regular_exact_point(entry: dict, n: int, x: Fraction, s: Fraction | None) -> ExactPoint:
    """The exact point of a regular catalog entry (gauge and representatives of the catalog)."""
    k, sigma = entry["k"], entry["sigma"]
    dead = tuple(entry["dead_vertices"] or ())
    b: list[Fraction] = []
    for i in range(k):
        b.append(-2 * x if i in dead else x * s)
    b += [Fraction(1, 2 * n)] * sigma
    b += [Fraction(-1, 2 * n)] * (n - k - sigma)
    return ExactPoint(n, k, x, s, dead, sigma, b)


def point_balls(point: ExactPoint) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) as Arb balls enclosing the exact point (current flint precision)."""
    W = np.array([[flint.arb(0)] * point.n for _ in range(2)], dtype=object)
    root = flint.arb(flint.fmpq(point.x.numerator, point.x.denominator)).sqrt()
    for i in range(point.k):
        angle = flint.fmpq(2 * i, point.k)
        W[0, i] = root * flint.arb.cos_pi_fmpq(angle)
        W[1, i] = root * flint.arb.sin_pi_fmpq(angle)
    b = np.array([flint.arb(flint.fmpq(v.numerator, v.denominator)) for v in point.b], dtype=object)
    return W, b


def matches_stored(point: ExactPoint, entry: dict, digits: int) -> mpmath.mpf:
    """Largest |exact - stored| over W_exact and b_exact (to check the reconstruction), as an
    mpf (at hundreds of digits it is below the smallest float64)."""
    with mpmath.workdps(digits + 10):
        worst = mpmath.mpf(0)
        root = mpmath.sqrt(mpmath.mpf(point.x.numerator) / point.x.denominator)
        for i in range(point.n):
            if i < point.k:
                angle = 2 * mpmath.pi * i / point.k
                w = (root * mpmath.cos(angle), root * mpmath.sin(angle))
            else:
                w = (0, 0)
            rows = entry["W_exact"]
            for r in range(2):  # m = 1 stores one row: the polygon must lie on it (k ≤ 2)
                stored = mpmath.mpf(rows[r][i]) if r < len(rows) else mpmath.mpf(0)
                worst = max(worst, abs(stored - w[r]))
            for row in rows[2:]:  # a planar point in m > 2: the other rows are 0
                worst = max(worst, abs(mpmath.mpf(row[i])))
            exact_b = mpmath.mpf(point.b[i].numerator) / point.b[i].denominator
            worst = max(worst, abs(mpmath.mpf(entry["b_exact"][i]) - exact_b))
        return +worst


def _wm_vanishes(point: ExactPoint, M) -> tuple[bool | None, str]:
    """dL/dW = W M for an irrational polygon: column j is Σ_v M[v][j] W_v over the vertices
    (zero columns contribute W = 0). With M[v][j] equal for all vertices it is a multiple of
    Σ_v W_v = √x Σ_v e^{2πiv/k} = 0 (k ≥ 2), exactly; anything else is left undecided.
    """
    for j in range(point.n):
        column = [M[v][j] for v in range(point.k)]
        if all(v == 0 for v in column):
            continue
        if point.k >= 2 and all(v == column[0] for v in column):
            continue
        return None, f"dL/dW column {j} mixes irrational vertex coordinates unevenly"
    return True, ("dL/db = 0 exactly; dL/dW = W·(F_a + F_aᵀ)/n vanishes exactly: every column is "
                  "0 or a rational multiple of the sum of the polygon's vertices, which is 0")


def _region(a: Fraction, c: Fraction) -> int:
    return block_region(a, c)


def _strictly_dead(point: ExactPoint, t: Fraction, c: Fraction) -> bool:
    """x·cos(2πt) + c < 0 and c < 0, certified with Arb."""
    if c >= 0:
        return False
    value = flint.arb(flint.fmpq(point.x.numerator, point.x.denominator)) * flint.arb.cos_pi_fmpq(
        flint.fmpq(2 * t.numerator, t.denominator)
    ) + flint.arb(flint.fmpq(c.numerator, c.denominator))
    return bool(value < 0)


def _rational_matrix(rows: list[list[Fraction]]) -> flint.fmpq_mat:
    return flint.fmpq_mat([[flint.fmpq(v.numerator, v.denominator) for v in row]
                           for row in rows])


def exact_gradient_vanishes(point: ExactPoint) -> tuple[bool | None, str]:
    """Decide ∇L = 0 at the exact point in rational arithmetic.

    Returns
    -------
    (result, detail)
        result True (gradient exactly zero), False (some component exactly nonzero), or None
        (an irrational Gram entry enters a non-dead block: not decidable here).
    """
    n = point.n
    for i in range(n):
        if i >= point.k and point.b[i] == 0:
            return None, f"column {i} is zero with zero bias (L not C¹ there)"
    F_a = [[Fraction(0)] * n for _ in range(n)]
    F_c = [[Fraction(0)] * n for _ in range(n)]
    G = [[point.gram(i, j) for j in range(n)] for i in range(n)]  # once, not n³ times
    for i in range(n):
        for j in range(n):
            a, c = G[i][j], point.b[j]
            if isinstance(a, tuple):
                if _strictly_dead(point, a[1], c):
                    continue  # derivatives exactly 0 in the dead region (F_a, F_c stay 0)
                return None, f"block ({i}, {j}) has an irrational Gram entry and is not dead"
            _, fa, fc = FUNCTIONS[("Q" if i == j else "P", 1)][_region(a, c)](a, c)
            F_a[i][j], F_c[i][j] = Fraction(fa), Fraction(fc)
    db = [sum(F_c[i][j] for i in range(n)) / n for j in range(n)]
    if any(v != 0 for v in db):
        return False, f"dL/db ≠ 0 exactly: {[str(v) for v in db]}"
    M = [[(F_a[i][j] + F_a[j][i]) / n for j in range(n)] for i in range(n)]
    if any(isinstance(g, tuple) for row in G for g in row):
        return _wm_vanishes(point, M)
    # every Gram entry is rational here: the product in FLINT's exact rational matrices
    GM = _rational_matrix(G) * _rational_matrix(M)
    for i in range(n):
        for j in range(n):
            total = Fraction(int(GM[i, j].p), int(GM[i, j].q))
            if total != 0:
                return False, f"(G M)[{i},{j}] = {total} ≠ 0: dL/dW ≠ 0 exactly"
    return True, "dL/db = 0 and G·(F_a + F_aᵀ)/n = 0 exactly (rational arithmetic), hence dL/dW = 0"
