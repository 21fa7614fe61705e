"""The polytope pattern language of hidden dimension m = 3 (issue 15, SPEC §7).

A polytope pattern is a configuration of unit directions U (3 × k) that is one orbit, or a few
orbits, of a finite subgroup H of O(3), scaled by norms and given shared biases per orbit; σ
zero columns with positive bias and n − k − σ dead features complete it, as in the k-gon
patterns (:mod:`critpoints.kgon.patterns`).

Two kinds of ansatz:

*rigid, vertex-transitive* (:data:`RIGID`: the regular tetrahedron, octahedron, cube and
icosahedron): H acts transitively on the columns and the stabiliser of a column fixes only its
own axis, so the fixed-point space of H (with the column permutations) is {l U, one shared
vertex bias b_v} for the live columns, zero W and free biases for the others. By symmetric
criticality (Palais) a critical point of the reduced loss F(l, b_v) = L(l U, (b_v, …, 1/(2n),
…, −1/(2n), …)) is a critical point of L: the zero columns' biases are critical exactly at
b = 1/(2n) (b > 0) or flat (b ≤ 0), as for the k-gons. :func:`solve_rigid` finds every
critical point of F on a grid of Newton starts;

*families with a shape parameter* (:func:`family_starts`: prisms, antiprisms and bipyramids,
whose heights, or whose two orbits' norms and biases, are free in the fixed-point space): the
ansatz at several heights and (norm, bias) values is a start of the full-space
Levenberg–Marquardt search (:func:`critpoints.solve.find_critical_points`), which keeps the
symmetry of a symmetric start up to rounding (the gradient of an H-invariant function at an
H-fixed point is H-fixed).

Every point is then verified in full space at high precision by the enumeration
(:func:`critpoints.kgon.enumerate.enumerate_critical_points` with ``m = 3``); planar k-gons come
from the k-gon patterns, embedded. Pure: no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from critpoints.tms.model import TMSPotential

__all__ = [
    "RIGID",
    "PolytopeAnsatz",
    "family_starts",
    "polytope_directions",
    "rigid_ansatzes",
    "solve_rigid",
]


def _unit(vectors) -> np.ndarray:
    U = np.array(vectors, dtype=float).T
    return U / np.linalg.norm(U, axis=0)


def _ring(k: int, height: float = 0.0, phase: float = 0.0) -> list[list[float]]:
    return [[np.cos(2 * np.pi * i / k + phase), np.sin(2 * np.pi * i / k + phase), height]
            for i in range(k)]


def _icosahedron() -> np.ndarray:
    phi = (1 + 5 ** 0.5) / 2
    vertices = []
    for a, b in itertools.product((1, -1), repeat=2):
        vertices += [[0, a, b * phi], [a, b * phi, 0], [b * phi, 0, a]]
    return _unit(vertices)


#: The rigid vertex-transitive polytopes (unit directions, 3 × k): the Platonic solids with at
#: most 12 vertices.
RIGID: dict[str, Callable[[], np.ndarray]] = {
    "regular tetrahedron": lambda: _unit([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]),
    "regular octahedron": lambda: np.hstack([np.eye(3), -np.eye(3)]),
    "cube": lambda: _unit(list(itertools.product((1, -1), repeat=3))),
    "regular icosahedron": _icosahedron,
}


def polytope_directions(name: str) -> np.ndarray:
    """The unit directions (3 × k) of a rigid polytope of :data:`RIGID`."""
    return RIGID[name]()


@dataclass(frozen=True)
class PolytopeAnsatz:
    """One rigid polytope pattern: ``shape`` with k = its vertices, σ zero columns with bias
    1/(2n) and n − k − σ dead features (bias −1/(2n), a representative of the flat set), and a
    solution (``norm``, ``vertex_bias``) of the reduced problem."""

    n: int
    shape: str
    sigma: int
    norm: float
    vertex_bias: float

    @property
    def k(self) -> int:
        return polytope_directions(self.shape).shape[1]

    def parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """Full (W, b) in float64 (3 × n, n): vertices first, then σ, then dead features."""
        return _assemble(self.n, polytope_directions(self.shape), self.sigma, self.norm,
                         self.vertex_bias)


def _assemble(n: int, U: np.ndarray, sigma: int, norm: float, vertex_bias: float):
    k = U.shape[1]
    W = np.zeros((3, n))
    W[:, :k] = norm * U
    b = np.concatenate([np.full(k, vertex_bias), np.full(sigma, 1 / (2 * n)),
                        np.full(n - k - sigma, -1 / (2 * n))])
    return W, b


#: Newton starts of the reduced problem: norms × vertex biases.
REDUCED_GRID = (np.linspace(0.4, 2.0, 9), np.linspace(-1.6, 0.4, 11))


def solve_rigid(n: int, shape: str, sigma: int, tol: float = 1e-12) -> list[tuple[float, float]]:
    """Every critical point (l, b_v) with l > 0 and live vertices (b_v + l² > 0: each vertex's
    own output fires; with b_v + l² ≤ 0 the vertices are dead, F is flat and the point belongs
    to the flat critical set of the zero configuration) of the reduced loss F(l, b_v) of a rigid
    polytope pattern that Newton's method reaches from :data:`REDUCED_GRID` (float64, distinct
    to 1e-7), sorted.

    F(l, b_v) = L(θ(l, b_v)) with θ linear in (l, b_v): its gradient and Hessian are Jᵀ∇L and
    Jᵀ(∇²L)J for J = [∂θ/∂l, ∂θ/∂b_v].
    """
    U = polytope_directions(shape)
    k = U.shape[1]
    if k + sigma > n:
        return []
    tms = TMSPotential(n, 3)
    J = np.stack([tms.flatten(np.hstack([U, np.zeros((3, n - k))]), np.zeros(n)),
                  tms.flatten(np.zeros((3, n)), np.concatenate([np.ones(k),
                                                                 np.zeros(n - k)]))], axis=1)
    found: list[tuple[float, float]] = []
    for l0, b0 in itertools.product(*REDUCED_GRID):
        x = np.array([l0, b0])
        for _ in range(60):
            theta = tms.flatten(*_assemble(n, U, sigma, x[0], x[1]))
            _, g = tms.loss_and_gradient(theta)
            gr = J.T @ g
            if np.linalg.norm(gr) < tol:
                break
            H = J.T @ tms.hessian(theta) @ J
            try:
                step = np.linalg.solve(H, gr)
            except np.linalg.LinAlgError:
                break
            x = x - np.clip(step, -0.25, 0.25)
            if not (0.05 < x[0] < 5 and -5 < x[1] < 5):
                break
        else:
            continue
        if np.linalg.norm(gr) < tol and x[0] > 0.05 and x[1] + x[0] ** 2 > 1e-9 and not any(
                abs(x[0] - a) < 1e-7 and abs(x[1] - c) < 1e-7 for a, c in found):
            found.append((float(x[0]), float(x[1])))
    return sorted(found)


def rigid_ansatzes(n: int) -> list[PolytopeAnsatz]:
    """Every rigid polytope pattern for n features with each reduced solution."""
    out = []
    for shape in RIGID:
        k = polytope_directions(shape).shape[1]
        for sigma in range(n - k + 1):
            for norm, bias in solve_rigid(n, shape, sigma):
                out.append(PolytopeAnsatz(n, shape, sigma, norm, bias))
    return out


#: Heights (z of the top ring, rings at ±z, before normalising) of the prism and antiprism
#: starts; norms and vertex biases of every family start.
FAMILY_HEIGHTS = (0.35, 0.7, 1.1)
FAMILY_NORMS_BIASES = ((1.0, -0.2), (1.3, -0.6))


def _families(n: int) -> list[np.ndarray]:
    """Unit directions of the prisms, antiprisms (2k ≤ n, k ≥ 3; every height) and bipyramids
    and k-gonal pyramids (k + 2 ≤ n, resp. k + 1 ≤ n, k ≥ 3)."""
    shapes = []
    poles = [[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]
    for k in range(3, n + 1):
        if 2 * k <= n:
            for h in FAMILY_HEIGHTS:
                shapes.append(_unit(_ring(k, h) + _ring(k, -h)))
                shapes.append(_unit(_ring(k, h) + _ring(k, -h, np.pi / k)))
        if k + 2 <= n:
            shapes.append(_unit(_ring(k) + poles))
        if k + 1 <= n:
            for h in FAMILY_HEIGHTS:
                shapes.append(_unit(_ring(k, -h / 3) + poles[:1]))
    return shapes


def family_starts(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Starts (W (B, 3, n), b (B, n)) of the full-space search from the polytope families with
    shape parameters, with σ = 0 and σ = 1 zero columns of bias 1/(2n) where they fit."""
    Ws, bs = [], []
    for U in _families(n):
        k = U.shape[1]
        for sigma in range(min(1, n - k) + 1):
            for norm, bias in FAMILY_NORMS_BIASES:
                W, b = _assemble(n, U, sigma, norm, bias)
                Ws.append(W)
                bs.append(b)
    if not Ws:
        return np.zeros((0, 3, n)), np.zeros((0, n))
    return np.array(Ws), np.array(bs)
