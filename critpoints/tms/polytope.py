"""O(m) × S_n symmetry of TMS points in any hidden dimension m: congruence, gauge, point groups.

L(W, b) depends on W only through the Gram matrix G = WᵀW, and two configurations with the same
Gram matrix differ by an orthogonal map of the hidden space. So

- two points lie in one O(m) × S_n orbit iff some permutation π of the columns has
  G₁[π, π] = G₂ and b₁[π] = b₂ (:func:`column_matchings`, a backtracking search over the
  columns, pruned by norms and biases);
- the symmetry group of a point is the set of orthogonal maps R with R W = W[:, π] for an
  automorphism π of (G, b) (:func:`point_group`); in m = 3 it is named in Schoenflies notation
  from its rotation axes and mirror planes, and the configuration of its nonzero columns gets a
  readable shape name (tetrahedron, triangular bipyramid, square antiprism, regular k-gon, …);
- the live columns spanning d dimensions have an orbit of dimension
  m(m − 1)/2 − (m − d)(m − d − 1)/2 (:func:`orbit_dimension`): the stabiliser O(m − d) acts on
  the orthogonal complement of their span;
- the gauge of the catalog (:func:`echelon_order`, :func:`echelon_rotation`) is a QR gauge:
  the nonzero columns in a canonical order, rotated so that the j-th column that enlarges their
  span lies in the span of the first j + 1 coordinate axes with a positive last coordinate
  (W[r, p_j] = 0 for r > j, W[j, p_j] > 0) — for m = 2 the first column on the positive x axis,
  as in :func:`critpoints.tms.symmetry.canonical_form`.

Everything is pure (numpy and mpmath; no I/O).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import mpmath
import numpy as np

__all__ = [
    "PointGroup",
    "column_geometry",
    "column_matchings",
    "echelon_order",
    "echelon_rotation",
    "orbit_dimension",
    "orthogonal_orbit_distance",
    "pivot_columns",
    "point_group",
    "schoenflies",
    "shape_name",
    "span_dimension",
]

#: Columns with norm below this count as zero columns (as in :mod:`critpoints.tms.symmetry`).
ZERO_COLUMN = 1e-8


def orbit_dimension(m: int, d: int) -> int:
    """Dimension of the O(m) orbit of a configuration whose columns span d dimensions:
    dim O(m) − dim O(m − d) = m(m − 1)/2 − (m − d)(m − d − 1)/2."""
    return m * (m - 1) // 2 - (m - d) * (m - d - 1) // 2


def span_dimension(W, rtol: float = 1e-7) -> int:
    """Rank of the columns of W (singular values above ``rtol`` times the largest, and above
    :data:`ZERO_COLUMN`)."""
    W = np.asarray(W, dtype=float)
    if W.size == 0:
        return 0
    s = np.linalg.svd(W, compute_uv=False)
    if s.max(initial=0.0) <= ZERO_COLUMN:
        return 0
    return int((s > max(rtol * s.max(), ZERO_COLUMN)).sum())


def column_matchings(G1, b1, G2, b2, atol: float = 1e-6) -> Iterator[np.ndarray]:
    """Every permutation π with |G₁[π_i, π_j] − G₂[i, j]| ≤ atol and |b₁[π_i] − b₂[i]| ≤ atol.

    A depth-first search: position i of the second configuration is matched to a free column of
    the first with the same norm and bias, consistent with every position matched before it.
    Positions are taken in order of how few candidates they have.
    """
    G1, G2 = np.asarray(G1, dtype=float), np.asarray(G2, dtype=float)
    b1, b2 = np.asarray(b1, dtype=float), np.asarray(b2, dtype=float)
    n = len(b2)
    if len(b1) != n:
        return
    candidates = [np.flatnonzero((np.abs(np.diag(G1) - G2[i, i]) <= atol)
                                 & (np.abs(b1 - b2[i]) <= atol)) for i in range(n)]
    order = sorted(range(n), key=lambda i: (len(candidates[i]), i))
    if any(len(c) == 0 for c in candidates):
        return
    assignment = np.full(n, -1)
    used = np.zeros(n, dtype=bool)

    def extend(depth: int) -> Iterator[np.ndarray]:
        if depth == n:
            yield assignment.copy()
            return
        i = order[depth]
        placed = [order[k] for k in range(depth)]
        for j in candidates[i]:
            if used[j]:
                continue
            if placed and np.abs(G1[j, assignment[placed]] - G2[i, placed]).max() > atol:
                continue
            assignment[i], used[j] = j, True
            yield from extend(depth + 1)
            assignment[i], used[j] = -1, False

    yield from extend(0)


def column_geometry(W, b, dps: int) -> dict:
    """Norms, biases and the cosines between nonzero columns (upper triangle, row by row) of a
    point in any m, computed at ``dps`` digits and rounded once to float64 (the catalog's
    ``geometry`` for m ≠ 2)."""
    with mpmath.workdps(dps):
        m, n = W.shape
        norms = [mpmath.sqrt(mpmath.fsum(W[r, i] ** 2 for r in range(m))) for i in range(n)]
        cosines = []
        for i in range(n):
            for j in range(i + 1, n):
                if norms[i] > mpmath.mpf(10) ** -8 and norms[j] > mpmath.mpf(10) ** -8:
                    dot = mpmath.fsum(W[r, i] * W[r, j] for r in range(m))
                    cosines.append(float(dot / (norms[i] * norms[j])))
        return {"norms": [float(v) for v in norms], "biases": [float(v) for v in b],
                "cosines": cosines}


def _procrustes(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The orthogonal R minimising ‖R A − B‖ (Frobenius): R = U Vᵀ for B Aᵀ = U S Vᵀ."""
    U, _, Vt = np.linalg.svd(B @ A.T)
    return U @ Vt


def orthogonal_orbit_distance(W1, b1, W2, b2, atol: float = 1e-3,
                              max_matchings: int = 200) -> float:
    """Smallest max-norm distance between (W2, b2) and the O(m) × S_n orbit of (W1, b1), over
    the column matchings whose Gram matrices and biases agree within ``atol`` (each aligned by
    the best orthogonal map, Procrustes); ∞ if there is none. Exact for points closer than
    ``atol``/4 (in Gram entries) to each other's orbit."""
    W1, b1, W2, b2 = (np.asarray(v, dtype=float) for v in (W1, b1, W2, b2))
    if W1.shape != W2.shape:
        return np.inf
    scale = 4 * max(1.0, float(np.abs(W1).max(initial=0.0)), float(np.abs(W2).max(initial=0.0)))
    best = np.inf
    for count, pi in enumerate(column_matchings(W1.T @ W1, b1, W2.T @ W2, b2, atol * scale)):
        A = W1[:, pi]
        R = _procrustes(A, W2)
        distance = max(float(np.abs(R @ A - W2).max(initial=0.0)),
                       float(np.abs(b1[pi] - b2).max(initial=0.0)))
        best = min(best, distance)
        if best == 0.0 or count + 1 >= max_matchings:
            break
    return float(best)


def pivot_columns(W, rtol: float = 1e-7) -> list[int]:
    """The columns (in order) that enlarge the span of the columns before them: where the
    residual of a column after projection onto that span exceeds ``rtol`` times its norm."""
    W = np.asarray(W, dtype=float)
    basis: list[np.ndarray] = []
    pivots = []
    for i in range(W.shape[1]):
        v = W[:, i].copy()
        norm = np.linalg.norm(v)
        if norm <= ZERO_COLUMN:
            continue
        for q in basis:
            v -= (q @ v) * q
        if np.linalg.norm(v) > rtol * norm and len(basis) < W.shape[0]:
            basis.append(v / np.linalg.norm(v))
            pivots.append(i)
    return pivots


def echelon_order(W, b, zero: float = ZERO_COLUMN) -> np.ndarray:
    """A canonical order of the columns for the QR gauge.

    Nonzero columns first: a chain that starts at a column of largest norm (then largest bias)
    and continues each time with the remaining column of largest norm, then largest bias, then
    largest inner product with the column before it (ties: lowest index); among the starting
    columns, the one whose gauge-fixed form (:func:`echelon_rotation`, rounded to 9 decimals) is
    lexicographically smallest. Zero columns last, largest bias first.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    norms = np.linalg.norm(W, axis=0)
    nonzero = [int(i) for i in np.flatnonzero(norms > zero)]
    zeros = np.flatnonzero(norms <= zero)
    zero_order = [int(i) for i in zeros[np.lexsort((zeros, -b[zeros]))]]
    if not nonzero:
        return np.array(zero_order, dtype=int)
    rn, rb = np.round(norms, 9), np.round(b, 9)
    top = max((rn[i], rb[i]) for i in nonzero)
    best = None
    for start in (i for i in nonzero if (rn[i], rb[i]) == top):
        chain, rest = [start], [i for i in nonzero if i != start]
        while rest:
            previous = chain[-1]
            nxt = max(rest, key=lambda i: (rn[i], rb[i], round(float(W[:, i] @ W[:, previous]),
                                                                9), -i))
            chain.append(nxt)
            rest.remove(nxt)
        order = chain + zero_order
        V = echelon_rotation(W[:, order]) @ W[:, order]
        key = tuple(np.round(V, 9).ravel() + 0.0)
        if best is None or key < best[0]:
            best = (key, order)
    return np.array(best[1], dtype=int)


def echelon_rotation(W, dps: int | None = None):
    """The orthogonal R (m × m) that puts the columns of W in echelon form: for the pivot
    columns p_0, p_1, … (:func:`pivot_columns`), (R W)[r, p_j] = 0 for r > j and
    (R W)[j, p_j] > 0. Rows beyond the span complete the basis (Gram–Schmidt of the coordinate
    axes). With ``dps`` the map is computed with mpmath at that precision (an object array)
    from W given at any precision; otherwise in float64."""
    Wf = np.asarray(W, dtype=float)
    m = Wf.shape[0]
    pivots = pivot_columns(Wf)
    if dps is None:
        vectors = [Wf[:, p] for p in pivots] + [np.eye(m)[r] for r in range(m)]
        basis: list[np.ndarray] = []
        for v in vectors:
            v = np.array(v, dtype=float)
            for q in basis:
                v = v - (q @ v) * q
            if np.linalg.norm(v) > 1e-6 and len(basis) < m:
                basis.append(v / np.linalg.norm(v))
        return np.array(basis)
    with mpmath.workdps(dps):
        Wp = np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(W, dtype=object))
        vectors = [list(Wp[:, p]) for p in pivots]
        vectors += [[mpmath.mpf(int(r == s)) for s in range(m)] for r in range(m)]
        basis = []
        for v in vectors:
            v = list(v)
            for q in basis:
                dot = mpmath.fsum(a * c for a, c in zip(q, v))
                v = [a - dot * c for a, c in zip(v, q)]
            norm = mpmath.sqrt(mpmath.fsum(a * a for a in v))
            if norm > mpmath.mpf("1e-6") and len(basis) < m:
                basis.append([a / norm for a in v])
        return np.array(basis, dtype=object)


# ----------------------------------------------------------------------------------------------
# Point groups


@dataclass(frozen=True)
class PointGroup:
    """The symmetry group of a configuration's nonzero columns with their biases.

    Attributes
    ----------
    span_dimension : int
        d, the dimension of the span of the nonzero columns.
    orbit_dimension : int
        Dimension of the O(m) orbit (:func:`orbit_dimension`).
    column_permutations : int
        Automorphisms π of (G, b) on the nonzero columns (flat biases normalised).
    order : int or None
        Order of the group of orthogonal maps of R^m realising them together with the
        stabiliser of the span (None when that stabiliser O(m − d) is infinite, m − d ≥ 2).
    name : str
        Schoenflies symbol in m = 3 (``Td``, ``D3h``, ``C∞v``, …), ``Dk``/``Ck`` in m = 2,
        ``order g`` otherwise.
    shape : str
        A readable name of the nonzero columns (``regular tetrahedron``, ``regular 5-gon``, …).
    """

    span_dimension: int
    orbit_dimension: int
    column_permutations: int
    order: int | None
    name: str
    shape: str

    def to_json(self) -> dict:
        return {"span_dimension": self.span_dimension, "orbit_dimension": self.orbit_dimension,
                "column_permutations": self.column_permutations, "order": self.order,
                "point_group": self.name, "shape": self.shape}


def _group_elements(W: np.ndarray, b: np.ndarray, atol: float) -> tuple[list[np.ndarray], int]:
    """The distinct orthogonal maps of the span (in span coordinates, d × d) realising the
    automorphisms of (G, b) of the nonzero columns, and the number of automorphisms."""
    G = W.T @ W
    R0 = echelon_rotation(W)
    d = span_dimension(W)
    X = (R0 @ W)[:d]  # the columns in coordinates of their span
    elements: list[np.ndarray] = []
    count = 0
    for pi in column_matchings(G, b, G, b, atol):
        count += 1
        # R X = X[:, π]: least squares (exact for an automorphism of a spanning set)
        R = np.linalg.lstsq(X.T, X[:, pi].T, rcond=None)[0].T
        if not any(np.abs(R - E).max() < 1e-6 for E in elements):
            elements.append(R)
    return elements, count


def point_group(W, b, atol: float = 1e-6) -> PointGroup:
    """The point group of the nonzero columns of (W, b) and a readable name (module doc).

    ``b`` should have its flat biases normalised (:func:`critpoints.tms.symmetry.
    normalise_flat_biases`), so that dead vertices are compared by their place in the flat set.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    m = W.shape[0]
    nonzero = np.linalg.norm(W, axis=0) > ZERO_COLUMN
    Wl, bl = W[:, nonzero], b[nonzero]
    d = span_dimension(Wl)
    orbit = orbit_dimension(m, d)
    if Wl.shape[1] == 0:
        return PointGroup(0, 0, 1, None if m >= 2 else 2, f"O({m})", "no nonzero column")
    elements, count = _group_elements(Wl, bl, atol)
    # the full group in O(m): span elements × O(m − d) on the complement
    order = None if m - d >= 2 else len(elements) * (2 if m - d == 1 else 1)
    full = _embedded(elements, d, m) if order is not None else None
    if m == 3:  # without `full`: d = 1, a line with O(2) about it
        name = schoenflies(full) if full is not None else (
            "D∞h" if len(elements) == 2 else "C∞v")
    elif m == 2 and full is not None:
        rotations = sum(1 for R in full if np.linalg.det(R) > 0)
        name = f"D{rotations}" if len(full) > rotations else f"C{rotations}"
    else:
        name = f"order {order}" if order is not None else f"O({m - d}) × order {len(elements)}"
    shape = shape_name(Wl, name, d, len(elements))
    return PointGroup(d, orbit, count, order, name, shape)


def _embedded(elements: list[np.ndarray], d: int, m: int) -> list[np.ndarray]:
    """The maps of the span extended to R^m by ±1 on a one-dimensional complement (or nothing
    when d = m)."""
    out = []
    for R in elements:
        for sign in ((1.0, -1.0) if m - d == 1 else (None,)):
            E = np.eye(m)
            E[:d, :d] = R
            if sign is not None:
                E[d, d] = sign
            out.append(E)
    return out


def _axis(R: np.ndarray) -> np.ndarray:
    """Unit axis of a proper rotation (eigenvector of eigenvalue 1), sign-normalised."""
    values, vectors = np.linalg.eig(R)
    v = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    v /= np.linalg.norm(v)
    k = int(np.argmax(np.abs(v) > 1e-6))
    return v if v[k] > 0 else -v


def schoenflies(elements: list[np.ndarray]) -> str:
    """Schoenflies symbol of a finite subgroup of O(3) given by its elements (3 × 3 orthogonal
    matrices): from the orders of its rotation axes, whether it contains the inversion, mirror
    planes perpendicular to (σh) or containing (σv) the principal axis."""
    eye = np.eye(3)
    proper = [R for R in elements if np.linalg.det(R) > 0]
    improper = [R for R in elements if np.linalg.det(R) < 0]
    inversion = any(np.abs(R + eye).max() < 1e-6 for R in improper)
    axes: list[list] = []  # [axis, number of rotations about it]
    for R in proper:
        if np.abs(R - eye).max() < 1e-6:
            continue
        a = _axis(R)
        for entry in axes:
            if abs(abs(entry[0] @ a) - 1) < 1e-6:
                entry[1] += 1
                break
        else:
            axes.append([a, 1])
    orders = [count + 1 for _, count in axes]
    mirrors = []
    for R in improper:
        values, vectors = np.linalg.eigh((R + R.T) / 2)
        if np.sum(np.abs(values - 1) < 1e-6) == 2:  # a reflection: eigenvalues (-1, 1, 1)
            mirrors.append(vectors[:, np.argmin(values)])
    high = [o for o in orders if o >= 3]
    if len(high) >= 2:
        top = max(orders)
        base = {3: "T", 4: "O", 5: "I"}[top]
        if inversion:
            return base + "h"
        if improper:
            return base + "d"
        return base
    if not axes:
        if inversion:
            return "Ci"
        return "Cs" if mirrors else "C1"
    principal_order = max(orders)
    candidates = [a for a, c in axes if c + 1 == principal_order]
    if principal_order == 2 and len(axes) == 3:  # D2 family: three perpendicular C2 axes
        if inversion:
            return "D2h"
        return "D2d" if improper else "D2"
    principal = candidates[0]
    perpendicular_c2 = sum(1 for a, c in axes if c + 1 == 2 and abs(a @ principal) < 1e-6)
    sigma_h = any(abs(abs(v @ principal) - 1) < 1e-6 for v in mirrors)
    sigma_v = any(abs(v @ principal) < 1e-6 for v in mirrors)
    N = principal_order
    if perpendicular_c2 >= 1:
        if sigma_h:
            return f"D{N}h"
        return f"D{N}d" if improper else f"D{N}"
    if sigma_h:
        return f"C{N}h"
    if sigma_v:
        return f"C{N}v"
    return f"S{2 * N}" if improper else f"C{N}"


#: Readable names of nonzero-column configurations in m = 3 with equal norms: (columns,
#: Schoenflies symbol) → shape.
POLYHEDRA = {
    (4, "Td"): "regular tetrahedron",
    (6, "Oh"): "regular octahedron",
    (8, "Oh"): "cube",
    (12, "Ih"): "regular icosahedron",
    (5, "D3h"): "triangular bipyramid",
    (6, "D4h"): "square bipyramid",
    (7, "D5h"): "pentagonal bipyramid",
    (8, "D6h"): "hexagonal bipyramid",
    (6, "D3h"): "triangular prism",
    (6, "D3d"): "triangular antiprism",
    (8, "D4d"): "square antiprism",
    (8, "D4h"): "square prism",
    (4, "C3v"): "triangular pyramid",
    (5, "C4v"): "square pyramid",
    (4, "D2d"): "tetragonal disphenoid",
    (4, "D2"): "rhombic disphenoid",
    (7, "C3v"): "capped octahedron",
}


def shape_name(W, group: str, d: int, span_order: int) -> str:
    """A readable name of the nonzero columns W (equal norms or not) with point group ``group``
    spanning d dimensions, whose symmetry group restricted to the span has ``span_order``
    elements: a regular k-gon (k equal columns in a plane with the 2k symmetries of the
    dihedral group D_k), a named polyhedron, or the count and the group."""
    W = np.asarray(W, dtype=float)
    k = W.shape[1]
    norms = np.linalg.norm(W, axis=0)
    equal = bool(np.ptp(norms) <= 1e-6 * max(1.0, norms.max()))
    prefix = "" if equal else "unequal-norm "
    if d == 1:
        return f"{k} column{'s' if k != 1 else ''} on a line"
    if d == 2:
        if equal and k >= 3 and span_order == 2 * k:
            return f"regular {k}-gon (planar)"
        return f"{prefix}planar {k}-column configuration"
    name = POLYHEDRA.get((k, group)) if W.shape[0] == 3 else None
    if name is not None:
        return prefix + name
    return f"{prefix}{k} columns spanning {d} dimensions"
