"""The distinct ways down from a point where L is not C²: the valleys of the directional
quotient on a small sphere.

At a non-smooth critical point θ (on activation boundaries: L is C¹ there, its Hessian one-sided)
L grows to second order along each straight line, with a curvature that depends on which side
of every boundary the line leaves on: the quotient

    q(v) = (L(θ + t v) − L(θ)) / t²,   |v| = 1,

is (for small t) a piecewise quadratic form in v whose pieces are cones. Its local minima on the
unit sphere are the steepest ways down, one per *valley*, and unlike a smooth saddle's negative
eigenvectors they need not come in ± pairs nor span a subspace. The catalog stores one descent
direction (the classifier's evidence that θ is a saddle, not necessarily a minimum of q); the
valleys are found here.

Rule (:func:`descent_valleys`). Random unit directions are drawn in the complement of the
point's explained zero modes (orbit tangents and flat coordinates,
:func:`critpoints.potential.symmetry_generators`; Gaussian vectors projected with the
orthogonal projector, so the sample does not depend on which basis LAPACK returns for the
complement). From each, q at ``radius`` is minimised on that sphere by projected gradient steps
(as :func:`critpoints.solve.classify.directional_curvature` does, each direction with its own
step size); every ``merge_every`` steps a direction within ``cosine`` of one with lower q is
dropped (it is in that valley), so that the slow end of the minimisation — zigzagging along a
kink of q — follows one direction per valley; it stops when no direction has lowered q by more
than ``qtol`` in such a round. A minimised direction is a *descent* when L(θ + t v) < L(θ) by
more than float64 rounding (1e-14·max(1, L)) at every one of ``check_radii`` (two radii: a
decrease that persists as t shrinks, the classifier's rule). The descents, most negative q
first, are kept greedily when their cosine with every kept direction (and with the ``exclude``
directions) is at most ``cosine``; at most ``cap`` of them are returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critpoints.potential import (
    Potential,
    complement_basis,
    sphere_descent_step,
    symmetry_generators,
)

__all__ = ["DescentValleys", "descent_valleys"]


@dataclass(frozen=True)
class DescentValleys:
    """Result of :func:`descent_valleys`.

    Attributes
    ----------
    directions : ndarray, shape (k, dim)
        The distinct valley directions (unit vectors in θ), most negative ``quotients`` first.
    quotients : ndarray, shape (k,)
        q(v) = (L(θ + t v) − L(θ))/t² at ``radius`` along each.
    samples : int
        Random directions minimised.
    descending : int
        Minimised directions that descend at every check radius (directions that met during
        the minimisation counted once).
    distinct : int
        Distinct valleys among them (before the cap, after removing those near ``exclude``).
    """

    directions: np.ndarray
    quotients: np.ndarray
    samples: int
    descending: int
    distinct: int


def descent_valleys(
    potential: Potential,
    theta,
    *,
    samples: int = 256,
    radius: float = 1e-3,
    check_radii: tuple[float, ...] = (1e-3, 1e-4),
    steps: int = 3000,
    merge_every: int = 100,
    qtol: float = 1e-10,
    cosine: float = 0.99,
    cap: int = 12,
    exclude=(),
    seed=0,
) -> DescentValleys:
    """The distinct steepest-descent directions (valleys of the directional quotient) at θ.

    Parameters
    ----------
    potential : Potential
        Any potential (float64 ``loss`` and ``loss_and_gradient`` batched over leading axes;
        ``orbit_tangents`` and ``flat_coordinates`` for the zero modes it explains).
    theta : array_like, shape (dim,)
        The critical point (float64 is enough: the quotient is evaluated at t ≥ 1e-4).
    samples : int
        Random unit directions minimised.
    radius : float
        The t of the quotient that is minimised.
    check_radii : tuple of float
        A minimised direction counts as a descent when L drops (beyond float64 rounding) at
        every one of these radii.
    steps : int
        Projected-gradient iterations of the minimisation.
    merge_every : int
        Every ``merge_every`` iterations, directions within ``cosine`` of a lower one are
        dropped (they are in its valley): the minimisation then follows one per valley.
    qtol : float
        The minimisation stops early once no direction has lowered q by more than ``qtol``
        over ``merge_every`` iterations.
    cosine : float
        Two directions with a larger cosine are one valley.
    cap : int
        Valleys returned at most (the most negative q first).
    exclude : array_like, shape (j, dim), optional
        Directions already followed (e.g. the catalog's stored descent): a valley within
        ``cosine`` of one of them (normalised) is not returned.
    seed : int or sequence of int
        Seed of the random directions (``numpy.random.default_rng``).

    Returns
    -------
    DescentValleys

    Examples
    --------
    L(x, y) = −|x| + y² has a kink along x = 0; its two valleys are ±x (q = −1/t there):

    >>> import numpy as np
    >>> class Kink:
    ...     dim = 2
    ...     def loss(self, theta):
    ...         x, y = np.moveaxis(np.asarray(theta, dtype=float), -1, 0)
    ...         return -np.abs(x) + y**2
    ...     def loss_and_gradient(self, theta):
    ...         theta = np.asarray(theta, dtype=float)
    ...         x, y = np.moveaxis(theta, -1, 0)
    ...         return self.loss(theta), np.stack([-np.sign(x), 2 * y], axis=-1)
    ...     def orbit_tangents(self, theta): return np.zeros((0, 2))
    ...     def flat_coordinates(self, theta): return []
    >>> found = descent_valleys(Kink(), [0.0, 0.0], samples=16, seed=1)
    >>> sorted(np.round(found.directions, 6).tolist())
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    theta = np.asarray(theta, dtype=float)
    dim = theta.size
    L0 = float(potential.loss(theta))
    basis = complement_basis(symmetry_generators(potential, theta), dim)
    projector = basis @ basis.T
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((samples, dim)) @ projector
    v /= np.linalg.norm(v, axis=1, keepdims=True)

    def q_and_grad(u):
        value, grad = potential.loss_and_gradient(theta + radius * u)
        return (np.asarray(value) - L0) / radius**2, (np.asarray(grad) @ projector) / radius

    q, g = q_and_grad(v)
    step = np.full(samples, 0.1)
    previous = q.copy()
    for done in range(steps):
        if done and done % merge_every == 0:
            if (previous - q).max() <= qtol:
                break  # no direction moved down in the last round
            # directions that have met are one valley from here on: follow one of them only
            keep = _distinct(v, np.argsort(q, kind="stable"), cosine)
            keep.sort()
            v, q, g, step = v[keep], q[keep], g[keep], step[keep]
            previous = q.copy()
        v, q, g, step = sphere_descent_step(v, q, g, step, q_and_grad)
    noise = 1e-14 * max(1.0, abs(L0))  # float64 rounding of a loss difference, wide margin
    drops = np.array([L0 - np.asarray(potential.loss(theta + t * v)) for t in check_radii])
    descends = (drops > noise).all(axis=0)
    order = [int(i) for i in np.argsort(q, kind="stable") if descends[i]]
    excluded = np.asarray(exclude, dtype=float).reshape(-1, dim)
    if len(excluded):
        excluded = excluded / np.linalg.norm(excluded, axis=1, keepdims=True)
    kept = [i for i in _distinct(v, order, cosine) if
            not len(excluded) or (excluded @ v[i]).max() <= cosine]
    chosen = kept[:cap]
    return DescentValleys(v[chosen].copy(), q[chosen].copy(), samples, len(order), len(kept))


def _distinct(v: np.ndarray, order, cosine: float) -> list[int]:
    """The rows of ``v`` (unit vectors) taken in ``order`` whose cosine with every row taken
    before is at most ``cosine``."""
    kept: list[int] = []
    for i in order:
        if not kept or (v[kept] @ v[i]).max() <= cosine:
            kept.append(int(i))
    return kept
