"""The reduced regular k-gon problem of any TMS potential, through the Potential interface.

:mod:`critpoints.kgon.reduced` solves the k-gon reduction of the one-hot potential from its
generated polynomials. At finite sparsity (SPEC §8) the same reduction holds, and this module
solves it for any potential of the TMS family (``TMSPotential``, ``TMSSparsePotential`` with
uniform importance) from the potential's own loss, evaluated in float64:

put k columns of squared norm x at the vertices of a regular polygon with the shared bias
b = x·s, and the other n − k columns at zero with bias ≤ 0 (they see nothing and say nothing).
Every cube moment μ_p^α(a, c) is homogeneous of degree p in (a, c) and every coefficient a is
x·cos(2πd/k) or 0, so the loss is exactly

    L(x, s) = C + x·F₁(s) + x²·F₂(s),

and on every interval of s on which no vertex value s + Σ_{i∈V} cos(2πi/k) (V a set of
vertices) changes sign, F₁ and F₂ are polynomials in s of degree ≤ k + 2 (a vertex sum of
φ_{p+r}(c + a·v)/Π a_i with r ≤ d + |α|). Critical points with x > 0 are x = −F₁/(2F₂) with

    h(s) = 2F₁'(s)F₂(s) − F₁(s)F₂'(s) = 0,

one polynomial per interval, as in the one-hot case. Here F₁, F₂ are not read from generated
code but fitted: L is evaluated at x = 0, 1, 2 and at k + 8 Chebyshev nodes of each interval
(least squares in the Chebyshev basis of degree k + 2; the fit residual, which is rounding
for a polynomial, is reported), and every complex root of h is computed. The roots are
accurate to ~10⁻⁸ (float64 data); the callers polish each solution in full space at high
precision and keep only those whose full gradient vanishes there.

The one-hot potential goes through the same code (its breakpoints are a subset of these), and
agrees with :func:`critpoints.kgon.reduced.solve_regular_polygon` (tests/test_sparse_kgon.py).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial import chebyshev

__all__ = ["ProfileSolution", "polygon_breakpoints", "polygon_symmetry", "polygon_theta",
           "solve_polygon_profile", "symmetric_model"]

#: Polynomial degree of F₁, F₂ on an interval, above k (see the module docstring).
DEGREE_MARGIN = 2
#: At the first breakpoint every vertex output switches off and F₁, F₂ vanish to high order: a
#: multiple root of h (s = −1 in the one-hot case), which the fit returns as a cluster of
#: inaccurate roots next to it. Roots closer than this (relative) are that root.
EDGE_GAP = 1e-2
#: Solutions with x = l² below this are the zero polygon (x = 0 with every bias at E[x_j], a
#: pattern without vertices) blurred by the fit's rounding: near x = 0 the profile is flat.
MIN_SQUARED_NORM = 1e-4
#: Where the outputs only just switch on (next to the breakpoint at which the first vertex
#: output comes alive, s = −1 for the one-hot model) F₁ and F₂ vanish to high order and the
#: fitted h has spurious roots whose x = −F₁/(2F₂) is a ratio of rounding errors (x ≈ 2.5·10⁴
#: at n = 6, k = 6). A root is kept only where the model's own F₂ exceeds this fraction of the
#: interval's scale (at the genuine roots up to n = 8 it is above 0.1).
FLAT_PROFILE = 1e-8
#: Fit nodes beyond the degree + 1 that a polynomial needs: the residual checks the fit.
EXTRA_NODES = 5


@dataclass(frozen=True)
class ProfileSolution:
    """A critical point of the reduced k-gon problem: squared norm x = l², bias ratio s = b/x."""

    x: float
    s: float
    interval: tuple[float, float]  # (lower, upper) breakpoints of s (upper may be inf)
    norm: float  # l = √x
    vertex_bias: float  # b_v = x·s
    fit_residual: float  # largest relative residual of the F₁, F₂ fits on the interval


def polygon_symmetry(n: int, k: int) -> list[list[int]]:
    """Generators of the feature permutations that fix a regular k-gon on features 0..k−1
    (vertex i at angle 2πi/k, one shared bias) with the other n − k columns zero and sharing
    one bias: the rotation i → i + 1 and the reflection i → −i (mod k) of the vertices, and
    a transposition and an (n − k)-cycle of the zero columns (together all their
    permutations). Empty where there is nothing to permute."""
    generators = []
    if k >= 2:
        generators.append([(i + 1) % k if i < k else i for i in range(n)])
    if k >= 3:
        generators.append([(k - i) % k if i < k else i for i in range(n)])
    if n - k >= 2:
        generators.append([i if i < k else k + (i - k + 1) % (n - k) for i in range(n)])
    if n - k >= 3:
        generators.append([*range(k), k + 1, k, *range(k + 2, n)])
    return generators


def symmetric_model(model: Any, k: int) -> Any:
    """``model`` evaluated with the symmetry of the regular k-gon (:func:`polygon_symmetry`)
    where it can use one (``with_symmetry``: the finite-sparsity potential, whose cost is then
    that of one block per orbit); ``model`` itself otherwise."""
    with_symmetry = getattr(model, "with_symmetry", None)
    generators = polygon_symmetry(model.n, k)
    return with_symmetry(generators) if with_symmetry is not None and generators else model


def _cosines(k: int) -> np.ndarray:
    """cos(2πi/k), i = 0..k−1, with exact zeros where the angle is a multiple of π/2."""
    values = np.cos(2 * np.pi * np.arange(k) / k)
    values[np.abs(values) < 1e-12] = 0.0
    return values


def polygon_breakpoints(k: int) -> np.ndarray:
    """Where a vertex value s + Σ_{i∈V} cos(2πi/k) of output 0 changes sign: −Σ_{i∈V} cos(2πi/k)
    over every set V of vertices (∅ included: s = 0), sorted, equal values merged."""
    cos = _cosines(k)
    sums = sorted({round(-sum(cos[list(V)]), 12) + 0.0 for d in range(k + 1)
                   for V in itertools.combinations(range(k), d)})
    return np.array(sums)


def polygon_theta(model: Any, k: int, norm, vertex_bias, dead_feature_bias: float = -0.1
                  ) -> np.ndarray:
    """θ of the regular k-gon (vertex 0 on the positive x axis; the n − k other columns zero with
    bias ``dead_feature_bias``) in float64, batched over ``norm`` and ``vertex_bias``."""
    norm = np.asarray(norm, dtype=float)
    vertex_bias = np.asarray(vertex_bias, dtype=float)
    shape = np.broadcast(norm, vertex_bias).shape
    n, m = model.n, model.m
    W = np.zeros(shape + (m, n))
    angles = 2 * np.pi * np.arange(k) / k
    cos, sin = np.cos(angles), np.sin(angles)
    cos[np.abs(cos) < 1e-12] = 0.0
    sin[np.abs(sin) < 1e-12] = 0.0
    W[..., 0, :k] = norm[..., None] * cos
    if m >= 2:
        W[..., 1, :k] = norm[..., None] * sin
    b = np.full(shape + (n,), float(dead_feature_bias))
    b[..., :k] = vertex_bias[..., None]
    return model.flatten(W, b)


def _profile(model: Any, k: int, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F₁(s), F₂(s) from the loss at x = 0, 1, 2 (one float64 batch)."""
    x = np.array([0.0, 1.0, 2.0])[:, None]
    theta = polygon_theta(model, k, np.sqrt(x) * np.ones_like(s), x * s)
    L0, L1, L2 = np.asarray(model.loss(theta), dtype=float)
    d1, d2 = L1 - L0, L2 - L0
    return (4 * d1 - d2) / 2, (d2 - 2 * d1) / 2


def solve_polygon_profile(model: Any, k: int, span: float = 4.0) -> tuple[ProfileSolution, ...]:
    """Every critical point (x > 0) of the regular k-gon of ``model`` with a live vertex output.

    Parameters
    ----------
    model : Potential
        A TMS potential (``n``, ``m`` ≥ 2 attributes, float64 batched ``loss``) with the same
        importance for every feature.
    k : int
        Vertices, 1 ≤ k ≤ n.
    span : float
        The last interval (every vertex value positive) is unbounded; it is fitted on
        [last breakpoint, last breakpoint + span] and its roots are kept wherever they lie.

    Returns
    -------
    tuple of ProfileSolution, sorted by s. Below the first breakpoint every output of the
    polygon is dead and L does not depend on (x, s): no isolated solution there.
    """
    n = model.n
    if not 1 <= k <= n:
        raise ValueError(f"need 1 ≤ k ≤ n; got k = {k}, n = {n}")
    model = symmetric_model(model, k)  # every point of the profile is the symmetric polygon
    breaks = polygon_breakpoints(k)
    edges = [*breaks.tolist(), math.inf]
    found: list[ProfileSolution] = []
    for lower, upper in itertools.pairwise(edges):
        # Above the last breakpoint every vertex value is positive: the moments are the
        # polynomial ones, of degree 2 in (a, c) jointly, so F₁, F₂ have degree ≤ 2 there (a
        # higher-degree fit would extrapolate its rounding into spurious far roots).
        degree = k + DEGREE_MARGIN if math.isfinite(upper) else 2
        nodes = degree + 1 + EXTRA_NODES
        top = upper if math.isfinite(upper) else lower + span
        t = np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)  # Chebyshev nodes in (−1, 1)
        s = lower + (t + 1) * (top - lower) / 2
        F1, F2 = _profile(model, k, s)
        c1 = chebyshev.chebfit(t, F1, degree)
        c2 = chebyshev.chebfit(t, F2, degree)
        scale = max(np.abs(F1).max(), np.abs(F2).max(), 1e-300)
        residual = float(max(np.abs(chebyshev.chebval(t, c1) - F1).max(),
                             np.abs(chebyshev.chebval(t, c2) - F2).max()) / scale)
        h = chebyshev.chebsub(
            2 * chebyshev.chebmul(chebyshev.chebder(c1), c2),
            chebyshev.chebmul(c1, chebyshev.chebder(c2)))
        if np.abs(h).max() <= 1e-12 * scale**2:
            continue  # constant profile (no live output): flat, not isolated
        h = np.trim_zeros(np.where(np.abs(h) > 1e-14 * np.abs(h).max(), h, 0.0), "b")
        if len(h) < 2:
            continue
        roots = chebyshev.chebroots(h)
        half = (top - lower) / 2
        for root in roots:
            if abs(root.imag) > 1e-6:
                continue
            tr = float(root.real)
            if not math.isfinite(upper) and tr > 1:
                pass  # the last interval extends to +∞
            elif not -1 - 1e-7 <= tr <= 1 + 1e-7:
                continue
            tr = _refined(h, tr)
            s_value = lower + (tr + 1) * half
            if s_value <= breaks[0] + EDGE_GAP * (1 + abs(breaks[0])):
                continue
            F1s = float(chebyshev.chebval(tr, c1))
            F2s = float(chebyshev.chebval(tr, c2))
            if F2s <= 0:
                continue
            if float(_profile(model, k, np.array([s_value]))[1][0]) <= FLAT_PROFILE * scale:
                continue  # L is flat in x to rounding here: a root of the fit's noise
            x = -F1s / (2 * F2s)
            if x <= MIN_SQUARED_NORM:
                continue
            if any(abs(s_value - other.s) < 1e-6 for other in found):
                continue
            found.append(ProfileSolution(x, s_value, (lower, upper), math.sqrt(x), x * s_value,
                                         residual))
    return tuple(sorted(found, key=lambda sol: sol.s))


def _refined(h: np.ndarray, t: float) -> float:
    """A few Newton steps on the Chebyshev series h from t."""
    dh = chebyshev.chebder(h)
    for _ in range(20):
        derivative = chebyshev.chebval(t, dh)
        if derivative == 0:
            break
        step = chebyshev.chebval(t, h) / derivative
        t -= step
        if abs(step) < 1e-15:
            break
    return float(t)
