"""Descents from every saddle of a set of critical points: the step that closes a catalog under
descent.

A catalog is *closed under descent* when no catalogued saddle descends to an uncatalogued
critical point. :func:`descend_saddles` follows steepest descent
(:func:`~critpoints.landscape.descent.steepest_descent`, finished by the Levenberg–Marquardt
search) from each saddle along ± each of its descent directions and returns where the paths
end; the caller identifies the ends against its catalog and adds the new points
(:func:`critpoints.kgon.enumerate.close_under_descent` for TMS), then descends from the new
saddles in turn, until no new point appears.

The descent directions of a saddle are those of the landscape graph
(:func:`~critpoints.landscape.graph.saddle_directions`: the negative-curvature eigenvectors of a
smooth saddle, the stored confirmed descent direction of a non-smooth or degenerate one) and,
for a non-smooth or degenerate saddle, also the eigenvectors of its (one-sided) Hessian with a
negative eigenvalue off the symmetry orbit (:func:`critpoints.census.strategies.eigendirections`,
the census's moves): there L is not C², and a valley can leave along a direction the stored
descent does not. Within a degenerate unstable eigenspace of a smooth saddle the diagonals of
its basis are followed too (:func:`_diagonals`). Each direction is started by the landscape
graph's start rule (:func:`~critpoints.landscape.graph.descent_starts`) and taken both ways.

Model-agnostic: everything goes through the :class:`~critpoints.potential.Potential` protocol
and the catalog entry's stored classification. Pure: no I/O.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from critpoints.landscape.descent import steepest_descent
from critpoints.landscape.graph import DescentStart, Direction, descent_starts, saddle_directions
from critpoints.potential import Potential

__all__ = ["SaddleDescents", "closure_directions", "descend_saddles"]

#: The start rule of :func:`descend_saddles` (the landscape graph's defaults).
START_RULE = {"step": 1e-3, "min_drop": 1e-9, "doublings": 8}

#: A descent direction within this cosine of one already taken is not taken again.
SAME_DIRECTION = 0.99


@dataclass
class SaddleDescents:
    """Result of :func:`descend_saddles`.

    Attributes
    ----------
    saddles : list of str
        The saddles descended from (at least one direction along which L drops).
    starts : list of DescentStart
        One per descent, in order.
    theta : ndarray, shape (len(starts), dim)
        Where each descent ended (after the Levenberg–Marquardt finish).
    loss : ndarray
        L at the ends.
    converged : ndarray of bool
        The end is a critical point to float64 accuracy (``gtol`` of the descent).
    sides_without_descent : int
        Directions and sides along which L does not drop by the start rule's ``min_drop``.
    skipped : int
        Descents not followed (beyond ``max_descents``).
    """

    saddles: list[str]
    starts: list[DescentStart]
    theta: np.ndarray
    loss: np.ndarray
    converged: np.ndarray
    sides_without_descent: int
    skipped: int = 0


def closure_directions(entry: dict, potential: Potential, theta: np.ndarray,
                       rng: np.random.Generator) -> list[Direction]:
    """The directions :func:`descend_saddles` follows from one catalog entry (module doc);
    ``[]`` unless its verdict is ``saddle``."""
    from critpoints.census.strategies import eigendirections

    if entry.get("verdict") != "saddle":
        return []
    smooth = entry["classification"] == "saddle" and bool(entry.get("hessian_index"))
    source = "hessian" if smooth else "stored-descent"
    directions = [Direction(v, source, "+-")
                  for v in saddle_directions(entry, potential, theta, rng)]
    if smooth:
        return directions + _diagonals([d.vector for d in directions], potential, theta)
    for v in eigendirections(potential, theta).unstable:
        if all(abs(float(v @ d.vector)) < SAME_DIRECTION for d in directions):
            directions.append(Direction(v, "negative-curvature", "+-"))
    return directions


def _diagonals(vectors: list[np.ndarray], potential: Potential, theta: np.ndarray,
               rtol: float = 1e-6) -> list[Direction]:
    """Within each degenerate unstable eigenspace (equal curvature v·Hv within ``rtol``) of a
    smooth saddle, the diagonals (v_i ± v_j)/√2 of its basis: one basis of a k-dimensional
    eigenspace picks k of its infinitely many ways down, and the diagonals sample more of
    them (at n = 7, m = 3 a descent along one basis of a 4-dimensional eigenspace reached a
    point that another basis missed)."""
    if len(vectors) < 2:
        return []
    H = potential.hessian(theta)
    curvature = [float(v @ H @ v) for v in vectors]
    out = []
    for i in range(len(vectors)):
        for j in range(i + 1, len(vectors)):
            scale = max(abs(curvature[i]), 1e-12)
            if abs(curvature[i] - curvature[j]) <= rtol * scale:
                for sign in (1.0, -1.0):
                    out.append(Direction((vectors[i] + sign * vectors[j]) / np.sqrt(2),
                                         "eigenspace-diagonal", "+-"))
    return out


def descend_saddles(potential: Potential, saddles: list[tuple[str, np.ndarray, dict]], *,
                    seed: int = 0, descent_options: dict | None = None,
                    max_descents: int | None = None, workers: int = 1) -> SaddleDescents:
    """Steepest descent from each saddle along ± each of its directions
    (:func:`closure_directions`).

    Parameters
    ----------
    potential : Potential
    saddles : list of (str, ndarray, dict)
        ``(id, θ, entry)`` of each point; entries whose verdict is not ``saddle`` are skipped.
    seed : int
        Seed of the basis of degenerate unstable eigenspaces (as in the landscape graph), per
        saddle: ``numpy.random.default_rng([seed, crc32(key)])`` with the key its entry's
        ``loss_exact`` (or its id), so that a saddle's directions do not depend on which
        other saddles are descended with it, nor on its id (which a later round may renumber).
    descent_options : dict, optional
        Keyword arguments of :func:`~critpoints.landscape.descent.steepest_descent`.
    max_descents : int, optional
        Follow at most this many descents (the first ones, saddle by saddle).
    workers : int
        Processes sharing the descents; the ends do not depend on it.

    Returns
    -------
    SaddleDescents
    """
    starts: list[DescentStart] = []
    descended, flat = [], 0
    for ident, theta, entry in saddles:
        theta = np.asarray(theta, dtype=float)
        key = str(entry.get("loss_exact", ident)).encode("utf-8")
        rng = np.random.default_rng([seed, zlib.crc32(key)])
        directions = closure_directions(entry, potential, theta, rng)
        found, none = descent_starts(potential, theta, directions, ident, **START_RULE)
        flat += len(none)
        if found:
            descended.append(ident)
            starts.extend(found)
    skipped = 0
    if max_descents is not None and len(starts) > max_descents:
        starts, skipped = starts[:max_descents], len(starts) - max_descents
    if not starts:
        empty = np.zeros((0, potential.dim))
        return SaddleDescents(descended, [], empty, np.zeros(0), np.zeros(0, dtype=bool), flat,
                              skipped)
    paths = steepest_descent(potential, np.array([s.theta for s in starts]), workers=workers,
                             **(descent_options or {}))
    return SaddleDescents(descended, starts, paths.theta, paths.loss, paths.converged, flat,
                          skipped)
