"""The flat family through a critical point: the local dimension of its critical set.

A critical point θ₀ may lie on a continuum of critical points at the same loss that the model's
symmetry does not explain (the zero-loss configurations of TMS when n ≤ 2m, a dead column free
to move inside its dead cone, ...). The Hessian cannot measure that continuum: its zero modes
also count higher-order directions (an isolated degenerate point), and where L is not C² the
one-sided Hessians over-count. This module measures the set itself, by sampling its members.

Method (for any :class:`critpoints.potential.Potential`).

1. *Members.* Directions z are drawn uniformly on the unit sphere of the complement of the
   explained zero modes (orbit tangents and flat coordinates, as in
   :func:`critpoints.solve.classify.directional_curvature`). From θ₀ + δ·z the
   Levenberg–Marquardt search of :func:`critpoints.solve.find_critical_points` returns to a
   critical point; it is a *member* when it converged, its loss equals L(θ₀) (within
   :data:`LOSS_TOLERANCE`) and it lies within 3δ of θ₀.
2. *Tangent dimension* k₁. The members' displacements, projected on that complement, are
   ≈ δ·P z + O(δ²) where P projects on the tangent cone of the critical set: along the cone
   they grow like δ, across it like δ² (curvature of the family, or a cusp). The singular
   values of the displacement matrix, in units of the expected first-order size δ·√(K/r)
   (K members, r the complement's dimension), are O(1) along the cone and O(δ) across it; a
   direction counts when that ratio is above :data:`FIRST_ORDER` at both scales δ = 10⁻², 10⁻³
   and the two agree within a factor :data:`SCALE_AGREEMENT` (a degenerate isolated point,
   whose search stops where ‖∇L‖ reaches the tolerance, gives displacements that do not scale
   with δ). k₁ = 0 means θ₀ is isolated in its critical set: a semialgebraic set with other
   points arbitrarily close to θ₀ has a tangent direction there (curve selection lemma).
3. *Dimension* k. The tangent cone can be smaller than the set (a cusp: the zero-loss
   configurations of n = 4, m = 3 near the planar square form a 5-dimensional set whose
   tangent cone at the square is 2-dimensional, the in-plane angles opening only at second
   order). At a generic point of a semialgebraic set the tangent dimension equals the local
   dimension, and generic points are dense; so the tangent dimension is measured again at up
   to :data:`MEMBERS_REMEASURED` members returned to from the larger scale
   :data:`MEMBER_REACH` (the farthest, pairwise apart, each joined to θ₀ through the set: its
   midpoint with θ₀ returns to a member nearby), at scales of a tenth of their squared
   distance to θ₀ (inside a cusp), but not below :data:`REMEASURE_FLOOR` (below it a quartic
   direction's gradient falls under the search tolerance and would pass for flat). The set's
   dimension at a point is its explained zero modes there (they lie in the set) plus its
   tangent dimension off them, and a member can explain more than θ₀ (a dead column strictly
   dead there); k is the largest such total minus the zero modes explained at θ₀.

The record says what was sampled (scales, starts, members kept) beside the numbers, and
``dimension`` is ``None`` ("untested") when too few members were kept to decide. This is
numerical evidence, not a proof, and k is a lower bound in practice: a stratum of the set that
no re-measured member falls in is not seen (n = 8, m = 3, `4`: 8 with seed 0, 9 with seed 1;
9 is proved in docs/polytopes.md), and a lower FIRST_ORDER counts thin directions as flat
(0.005 gives 12 there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critpoints.potential import Potential, complement_basis, significant, symmetry_generators
from critpoints.solve.newton import find_critical_points

__all__ = [
    "FIRST_ORDER",
    "LOSS_TOLERANCE",
    "MEMBERS_REMEASURED",
    "SCALE_AGREEMENT",
    "FlatFamily",
    "TangentMeasurement",
    "flat_family",
    "tangent_dimension",
]

#: A member has the loss of θ₀ within this (relative to max(1, |L(θ₀)|)).
LOSS_TOLERANCE = 1e-10
#: A singular value counts as first order above this fraction of the expected δ·√(K/r).
FIRST_ORDER = 0.05
#: ... and when its values at the two scales agree within this factor.
SCALE_AGREEMENT = 3.0
#: Members at which the tangent dimension is measured again (the farthest first).
MEMBERS_REMEASURED = 8
#: Scale of the perturbations whose members have their tangent dimension measured again.
MEMBER_REACH = 0.1
#: Smallest scale of a re-measurement (see :func:`flat_family`).
REMEASURE_FLOOR = 1e-3
#: Scales δ of the perturbations at θ₀.
SCALES = (1e-2, 1e-3)
#: Levenberg–Marquardt settings of the returns to the critical set.
SEARCH_GTOL = 1e-12
SEARCH_ITERATIONS = 100


@dataclass
class TangentMeasurement:
    """One measurement of the tangent cone at a point, at two scales.

    ``dimension`` is k₁ (``None`` when at some scale fewer than ``k₁ + 3`` members were kept or
    fewer than 3 at all); ``singular_values`` per scale, in units of δ·√(K/r), largest first;
    ``members`` kept per scale out of ``starts``.
    """

    dimension: int | None
    explained: int
    complement: int
    starts: int
    scales: tuple[float, ...]
    members: list[int]
    singular_values: list[list[float]]

    def to_json(self) -> dict:
        return {"dimension": self.dimension, "explained": self.explained,
                "complement": self.complement,
                "starts": self.starts, "scales": list(self.scales), "members": self.members,
                "singular_values": [[significant(v, 3) for v in values]
                                    for values in self.singular_values]}


@dataclass
class FlatFamily:
    """Result of :func:`flat_family`: ``dimension`` k of the critical set through θ₀ beyond
    the explained zero modes (``None``: untested), ``tangent_dimension`` k₁ at θ₀, and the
    measurements (at θ₀, then at the members)."""

    dimension: int | None
    tangent_dimension: int | None
    explained: int
    at_point: TangentMeasurement
    at_members: list[TangentMeasurement]

    @property
    def isolated(self) -> bool | None:
        """True: no other critical point at that loss near θ₀ up to symmetry; None: untested."""
        return None if self.dimension is None else self.dimension == 0

    def to_json(self) -> dict:
        return {"dimension": self.dimension, "tangent_dimension": self.tangent_dimension,
                "explained_zero_modes": self.explained, "at_point": self.at_point.to_json(),
                "at_members": [m.to_json() for m in self.at_members]}


def _first_order_count(values: list[np.ndarray]) -> int:
    """Directions first order at every scale: above FIRST_ORDER and scale-independent."""
    width = min(len(v) for v in values)
    count = 0
    for i in range(width):
        column = [float(v[i]) for v in values]
        if min(column) > FIRST_ORDER and max(column) <= SCALE_AGREEMENT * min(column):
            count += 1
        else:
            break
    return count


def tangent_dimension(potential: Potential, theta, *, scales=SCALES, starts: int | None = None,
                      seed: int = 0, workers: int = 1) -> TangentMeasurement:
    """k₁: the dimension of the tangent cone at θ of its critical set at level L(θ), off the
    zero modes the potential explains (method: module docstring, step 2)."""
    theta0 = np.asarray(theta, dtype=float)
    basis = complement_basis(symmetry_generators(potential, theta0), theta0.size)
    r = basis.shape[1]
    explained = theta0.size - r
    count = starts if starts is not None else max(2 * r + 8, 24)
    rng = np.random.default_rng(seed)
    kept, values = [], []
    for delta in scales:
        z = rng.standard_normal((count, r))
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        ends, member = _returns(potential, theta0, theta0 + delta * z @ basis.T, 3 * delta,
                                workers, around=theta0)
        displacement = (ends - theta0) @ basis
        kept.append(int(member.sum()))
        if member.sum() and r:
            unit = delta * np.sqrt(member.sum() / r)
            values.append(np.linalg.svd(displacement[member], compute_uv=False) / unit)
        else:
            values.append(np.zeros(0))
    dimension = _first_order_count(values) if r else 0
    if r and (min(kept) < 3 or min(kept) < dimension + 3):
        dimension = None
    return TangentMeasurement(dimension, explained, r, count, tuple(scales), kept,
                              [[float(v) for v in s] for s in values])


def flat_family(potential: Potential, theta, *, seed: int = 0, members: int = MEMBERS_REMEASURED,
                workers: int = 1) -> FlatFamily:
    """The flat family through the critical point θ: its dimension beyond the zero modes the
    potential explains, from sampled members (method: module docstring).

    Parameters
    ----------
    potential : Potential
    theta : array_like, shape (dim,)
        A critical point (float64 is enough: the members are float64 searches).
    seed : int
        Seed of the random directions.
    members : int
        How many members (the farthest from θ) have their tangent dimension measured again.
    workers : int
        Processes for the searches (the result does not depend on it).
    """
    theta0 = np.asarray(theta, dtype=float)
    at_point = tangent_dimension(potential, theta0, seed=seed, workers=workers)
    if at_point.dimension is None:  # too few returns from 10⁻²: other critical sets near
        at_point = tangent_dimension(potential, theta0, scales=(1e-3, 1e-4), seed=seed,
                                     workers=workers)
    if not at_point.dimension:  # isolated (0) or untested (None): nothing to re-measure
        return FlatFamily(at_point.dimension, at_point.dimension, at_point.explained, at_point,
                          [])
    remeasured = []
    far = _members(potential, theta0, MEMBER_REACH, at_point.starts, seed, workers)
    for i, point in enumerate(_distinct(far, theta0, members)):
        # a cusp of the family is ~distance² wide at the member: measure inside it, but not
        # below REMEASURE_FLOOR, where a quartic direction's gradient falls under the search
        # tolerance and would pass for flat
        scale = max(0.1 * float(np.linalg.norm(point - theta0)) ** 2, REMEASURE_FLOOR)
        remeasured.append(tangent_dimension(potential, point, scales=(scale, scale / 10),
                                            seed=seed + 1 + i, workers=workers))
    # The set's dimension at a point is the explained zero modes there (directions inside the
    # set: orbit, strictly dead columns) plus the tangent dimension off them; a member may
    # explain more than θ (a dead column strictly dead there), so compare totals.
    totals = [m.explained + m.dimension for m in (at_point, *remeasured) if m.dimension is not None]
    return FlatFamily(max(totals) - at_point.explained, at_point.dimension, at_point.explained,
                      at_point, remeasured)


def _returns(potential: Potential, theta0: np.ndarray, starts: np.ndarray, reach,
             workers: int, around: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg–Marquardt from each start: (end points, whether each is a member: converged,
    at the loss of θ₀, within ``reach`` of ``around`` (default: its start))."""
    L0 = float(potential.loss(theta0))
    search = find_critical_points(potential, starts, gtol=SEARCH_GTOL,
                                  max_iter=SEARCH_ITERATIONS, workers=workers)
    loss = np.atleast_1d(potential.loss(search.theta))
    centre = starts if around is None else around
    member = (search.converged & (np.abs(loss - L0) <= LOSS_TOLERANCE * max(1.0, abs(L0)))
              & (np.linalg.norm(search.theta - centre, axis=1) <= reach))
    return search.theta, member


def _members(potential: Potential, theta0: np.ndarray, delta: float, count: int, seed: int,
             workers: int) -> np.ndarray:
    """Members returned to from θ₀ + δ·z, z random unit vectors off the explained zero modes,
    farthest first; a member y is kept only if the midpoint (θ₀ + y)/2 also returns to a member
    within |y − θ₀|/4 of it (y is joined to θ₀ inside the set, not on another critical set at
    the same loss)."""
    basis = complement_basis(symmetry_generators(potential, theta0), theta0.size)
    rng = np.random.default_rng([seed, 1])
    z = rng.standard_normal((count, basis.shape[1]))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    starts = theta0 + delta * z @ basis.T
    ends, member = _returns(potential, theta0, starts, np.full(count, 3 * delta), workers)
    ends = ends[member]
    if len(ends) == 0:
        return ends
    distance = np.linalg.norm(ends - theta0, axis=1)
    _, joined = _returns(potential, theta0, (theta0 + ends) / 2, distance / 4, workers)
    ends, distance = ends[joined], distance[joined]
    return ends[np.argsort(-distance, kind="stable")]


def _distinct(points: np.ndarray, theta0: np.ndarray, count: int) -> list[np.ndarray]:
    """Up to ``count`` of ``points`` (farthest from θ₀ first), each farther than a fifth of its
    distance to θ₀ from the ones already taken: different parts of the family."""
    chosen: list[np.ndarray] = []
    for point in points:
        if len(chosen) == count:
            break
        reach = 0.2 * np.linalg.norm(point - theta0)
        if all(np.linalg.norm(point - other) > reach for other in chosen):
            chosen.append(point)
    return chosen
