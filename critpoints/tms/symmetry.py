"""Symmetries of the TMS potential: O(m) on the hidden space and joint permutations of (W_i, b_i).

Critical points come in orbits of O(m) × S_n. This module gives

- :func:`canonical_form`: one representative per orbit; for m = 2 the first nonzero column on
  the positive x axis, the polygon in counter-clockwise order, zero columns last; for other m
  the QR gauge of :mod:`critpoints.tms.polytope` (nonzero columns in a canonical chain order, in
  echelon form); deterministic for the exactly symmetric points the catalog stores;
- :func:`orbit_distance`: how far two points are from being in the same orbit (robust to
  noise, used for matching SGD plateaus and deduplication); for m ≠ 2 through the Gram matrix
  (:func:`critpoints.tms.polytope.orthogonal_orbit_distance`).
"""

from __future__ import annotations

import mpmath
import numpy as np
from scipy.optimize import linear_sum_assignment

from critpoints.tms import polytope

__all__ = [
    "ZERO_COLUMN",
    "canonical_form",
    "dead_outputs",
    "live_part",
    "normalise_flat_biases",
    "orbit_distance",
    "polar_geometry",
    "rotation",
    "same_live_part",
    "same_orbit",
]

#: Columns with norm below this count as zero columns.
ZERO_COLUMN = 1e-8


def rotation(angle: float) -> np.ndarray:
    """The 2×2 rotation by ``angle`` (radians)."""
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def _check_planar(W: np.ndarray) -> None:
    if W.ndim != 2 or W.shape[0] != 2:
        raise ValueError(f"the O(2) canonical form needs W of shape (2, n); got {W.shape}")


def _candidate_forms(W: np.ndarray, b: np.ndarray, zero: float):
    """All gauge-fixed forms: each nonzero column on the +x axis, with and without reflection."""
    norms = np.linalg.norm(W, axis=0)
    nonzero = np.flatnonzero(norms > zero)
    zeros = np.flatnonzero(norms <= zero)
    # positive biases first; biases equal to 6 decimals (float64 noise) keep their order
    zero_order = zeros[np.lexsort((zeros, -np.round(b[zeros], 6)))]
    for anchor in nonzero:
        for reflect in (False, True):
            V = W * np.array([[1.0], [-1.0]]) if reflect else W
            angle0 = np.arctan2(V[1, anchor], V[0, anchor])
            V = rotation(-angle0) @ V
            V[1, anchor] = 0.0  # exactly on the axis, not at an angle of 2π - 1e-17
            angles = np.mod(np.arctan2(V[1, nonzero], V[0, nonzero]), 2 * np.pi)
            angles[nonzero == anchor] = 0.0
            angles[angles > 2 * np.pi - 1e-12] = 0.0
            order = nonzero[np.lexsort((-b[nonzero], -norms[nonzero], np.round(angles, 9)))]
            order = np.concatenate([order, zero_order]).astype(int)
            yield V[:, order], b[order], order


def _key(V: np.ndarray, b: np.ndarray) -> tuple:
    norms = np.round(np.linalg.norm(V, axis=0), 9)
    angles = np.mod(np.arctan2(V[1], V[0]), 2 * np.pi)
    angles[(norms == 0) | (angles > 2 * np.pi - 1e-9)] = 0.0
    angles = np.round(angles, 9)
    return tuple(np.stack([-norms, angles, -np.round(b, 9)], axis=1).ravel())


def canonical_form(W, b, zero: float = ZERO_COLUMN) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The orbit representative of (W, b) under O(m) × permutations.

    For m ≠ 2: the columns in :func:`critpoints.tms.polytope.echelon_order`, rotated into
    echelon form (:func:`critpoints.tms.polytope.echelon_rotation`). For m = 2:

    The representative puts the columns in counter-clockwise order starting from a largest
    column on the positive x axis, chooses among the anchors and the reflection the form whose
    (norm, angle, bias) sequence is lexicographically smallest (largest norms first), and puts
    zero columns last, positive biases first.

    Returns
    -------
    (W, b, order)
        The canonical parameters and the column permutation that produced them
        (``W_canonical = R @ W[:, order]`` for some R in O(2)).
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    if W.ndim == 2 and W.shape[0] != 2:
        order = polytope.echelon_order(W, b, zero)
        V = polytope.echelon_rotation(W[:, order]) @ W[:, order]
        pivots = polytope.pivot_columns(V)
        for j, p in enumerate(pivots):  # the gauge's zeros exactly, not rounding residues
            V[j + 1:, p] = 0.0
        V[len(pivots):] = 0.0
        return np.where(np.abs(V) < 1e-15, 0.0, V), b[order], order
    _check_planar(W)
    best = None
    for V, c, order in _candidate_forms(W, b, zero):
        key = _key(V, c)
        if best is None or key < best[0]:
            best = (key, V, c, order)
    if best is None:  # W = 0: only the biases matter
        order = np.lexsort((np.arange(len(b)), -b))
        return np.zeros_like(W), b[order], order
    _, V, c, order = best
    V = np.where(np.abs(V) < 1e-15, 0.0, V)
    return V, c, order


def orbit_distance(W1, b1, W2, b2) -> float:
    """Smallest max-norm distance between (W2, b2) and the O(m) × S_n orbit of (W1, b1).

    For m ≠ 2 see :func:`critpoints.tms.polytope.orthogonal_orbit_distance`. For m = 2:
    columns are matched by an optimal assignment after every gauge choice that puts a column of
    the first point onto the direction of a largest column of the second, so the answer is
    exact up to the assignment's cost model (squared distances in (w_x, w_y, b)).
    """
    W1, b1, W2, b2 = (np.asarray(v, dtype=float) for v in (W1, b1, W2, b2))
    if W1.ndim == 2 and W1.shape[0] != 2:
        return polytope.orthogonal_orbit_distance(W1, b1, W2, b2)
    _check_planar(W1)
    _check_planar(W2)
    if W1.shape != W2.shape:
        return np.inf
    P2 = np.vstack([W2, b2])  # (3, n)
    norms2 = np.linalg.norm(W2, axis=0)
    j0 = int(np.argmax(norms2))
    target = np.arctan2(W2[1, j0], W2[0, j0])
    best = np.inf
    norms1 = np.linalg.norm(W1, axis=0)
    anchors = np.flatnonzero(np.abs(norms1 - norms2[j0]) <= max(0.5 * norms2[j0], 1e-6))
    if norms2[j0] <= ZERO_COLUMN or anchors.size == 0:
        anchors = np.array([0])
    for anchor in anchors:
        for reflect in (False, True):
            V = W1 * np.array([[1.0], [-1.0]]) if reflect else W1
            angle = target - np.arctan2(V[1, anchor], V[0, anchor])
            V = rotation(angle) @ V
            P1 = np.vstack([V, b1])
            cost = ((P1[:, :, None] - P2[:, None, :]) ** 2).sum(axis=0)
            rows, cols = linear_sum_assignment(cost)
            distance = np.abs(P1[:, rows] - P2[:, cols]).max()
            best = min(best, distance)
    return float(best)


def same_orbit(W1, b1, W2, b2, atol: float = 1e-6) -> bool:
    """Whether (W2, b2) lies within ``atol`` (max norm) of the orbit of (W1, b1).

    The sorted biases and sorted column norms are invariants of the orbit that move by at most
    ``atol`` and √m·``atol`` between points within ``atol`` of each other's orbit (a matching
    that moves every entry by ≤ atol moves the sorted lists by no more): pairs they tell apart
    are rejected without the search over gauges and matchings (the census compares ~10⁵ ends
    against the orbits at their loss)."""
    W1, b1, W2, b2 = (np.asarray(v, dtype=float) for v in (W1, b1, W2, b2))
    if W1.shape != W2.shape:
        return False
    slack = 1.0 + 1e-9  # rounding of the norms
    if np.abs(np.sort(b1) - np.sort(b2)).max(initial=0.0) > atol * slack:
        return False
    norms1, norms2 = np.linalg.norm(W1, axis=0), np.linalg.norm(W2, axis=0)
    if (np.abs(np.sort(norms1) - np.sort(norms2)).max(initial=0.0)
            > np.sqrt(W1.shape[0]) * atol * slack + 1e-15):
        return False
    return orbit_distance(W1, b1, W2, b2) <= atol


def dead_outputs(W, b, tol: float = 0.0) -> np.ndarray:
    """Features whose output is switched off for every input: b_j ≤ 0 and W_i·W_j + b_j ≤ 0 ∀i.

    Their bias is a flat direction of L (anywhere in (-∞, -max(0, max_i W_i·W_j)]).
    ``tol`` shifts both tests (b_j ≤ tol, ...): positive to accept noisy points, negative to ask
    for strictly dead outputs, which stay dead in a neighbourhood.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    G = np.swapaxes(W, -1, -2) @ W
    return (b <= tol) & (G.max(axis=-2) + b <= tol)


def normalise_flat_biases(W, b) -> np.ndarray:
    """Biases with every flat bias moved to the top of its flat interval.

    Points that differ only inside a flat set (a dead feature's bias -0.3 or -2) then compare
    equal; the top of the interval, -max(0, max_i W_i·W_j), is the same for all of them.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    G = np.swapaxes(W, -1, -2) @ W
    top = -np.maximum(G.max(axis=-2), 0.0)
    return np.where(dead_outputs(W, b), top, b)


def polar_geometry(W, b, dps: int) -> dict:
    """Norms, polar angles (degrees in [0, 360)) and biases of an m = 2 point, computed at
    ``dps`` digits from the exact representative and rounded once to float64, so they do not
    depend on the machine (the catalog's ``geometry``)."""
    with mpmath.workdps(dps):
        norms, angles = [], []
        for x, y in zip(W[0], W[1]):
            norm = mpmath.sqrt(x * x + y * y)
            angle = mpmath.degrees(mpmath.atan2(y, x)) if norm > mpmath.mpf(10) ** -8 else 0
            angle = float(angle + 360 if angle < 0 else angle)
            norms.append(float(norm))
            angles.append(0.0 if angle == 360.0 else angle)  # -1e-50° is 0°, not 360°
        return {"norms": norms, "angles_deg": angles, "biases": [float(v) for v in b]}


def live_part(W, b, tol: float = 1e-9):
    """The columns (W, b) whose output is not dead for every input, within ``tol``
    (:func:`dead_outputs`): what identifies a critical point up to its flat dead columns."""
    Wf = np.asarray(W, dtype=float)
    bf = np.asarray(b, dtype=float)
    live = ~dead_outputs(Wf, bf, tol)
    return Wf[:, live], bf[live]


def same_live_part(first, second, atol: float = 1e-6) -> bool:
    """Whether two live parts (:func:`live_part`) have as many columns and lie in one orbit
    (:func:`same_orbit`); two empty ones agree."""
    (W1, b1), (W2, b2) = first, second
    if W1.shape != W2.shape:
        return False
    return W1.shape[1] == 0 or same_orbit(W1, b1, W2, b2, atol)
