"""The limits S → 1 of critical points of the finite-sparsity potential: KKT points of the
one-hot potential on the orthant b ≤ 0.

Near S = 1 the exact potential is (docs/sparsity.md)

    L_S(W, b) = Sⁿ Σ_j ReLU(b_j)² + n(1 − S) L̃(W, b) + O((1 − S)²),

L̃ the one-hot (high-sparsity) potential. At a critical point of L_S the W-gradient gives
∇_W L̃ → 0, and the b_j-gradient 2Sⁿ ReLU(b_j) + n(1 − S) ∂L̃/∂b_j + O((1 − S)²) = 0 gives,
in the limit, either b_j ≤ 0 and ∂L̃/∂b_j = 0, or b_j = 0 and ∂L̃/∂b_j ≤ 0 (a positive bias is
held at b_j ≈ −n(1 − S) ∂L̃/∂b_j / 2). These are the Karush–Kuhn–Tucker conditions of

    minimise L̃(W, b) subject to b ≤ 0,

with multipliers μ_j = −∂L̃/∂b_j ≥ 0 on the *face* J = {j : b_j = 0}. So every limit S → 1 of
critical points of L_S is such a KKT point. L_S/(n(1 − S)) is L̃ plus the exterior penalty
κ Σ ReLU(b_j)², κ = Sⁿ/(n(1 − S)) → ∞: its global minima tend to the global minima of L̃ on
b ≤ 0, and a strict constrained local minimum (strict complementarity, second-order sufficient)
is the limit of local minima of L_S. A limit of local minima need not be a constrained minimum:
the minima of L_S can have basins that shrink to nothing as S → 1 (5⁺ of n = 6: docs/sparsity.md).
A catalogued one-hot critical point with a positive bias (5⁺, 4⁺⁺, ...) is not one; its
finite-S branch ends at the point with that bias at 0, on a face, where ∂L̃/∂b_j < 0.

The search (:func:`search_limits`) solves ∇L̃ = 0 in every coordinate except the pinned
biases b_J = 0 (Levenberg–Marquardt on :class:`critpoints.potential.FixedCoordinates`), from
random starts on each face size |J| = 0..n (J the last |J| features: the potential is symmetric
under permutations) and from every catalogued point with its positive biases set to 0, and
keeps the feasible ends (b ≤ 0, multipliers ≥ 0), up to O(m) × permutations and flat dead
columns (the census's critical-set rule, among ends with the same positive multipliers).
Bounded descents (L-BFGS-B on b ≤ 0) from random starts and from every limit found, perturbed,
reach the constrained minima beside the saddles; their ends are searched again on their faces.

Each limit is refined to ``digits`` digits on its face (biases within 10⁻⁹ of 0 join the face)
and classified (:func:`critpoints.solve.classify` of the restriction). The constrained verdict:
a saddle on the face is a saddle (its descent stays in the face, feasible); with every
multiplier positive (strict complementarity: leaving the face raises L̃ at first order) the
face's verdict is the verdict; otherwise the biases with zero multiplier are released (both
signs) and a minimum of that restriction is a minimum on b ≤ 0 too, anything else
``undecided``.

L̃ is not differentiable in b_j where a column's output switches on exactly at b_j = 0
(W_j = 0): the multipliers are the derivatives from b_j > 0, the side a branch of L_S holds
its bias on (:func:`kkt_residuals`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import mpmath
import numpy as np

from critpoints.census.census import chao1_unseen, critical_set_key, same_critical_set
from critpoints.kgon.enumerate import random_starts_of
from critpoints.potential import FixedCoordinates, significant
from critpoints.solve import classify, find_critical_points, polish_to_digits
from critpoints.tms.model import TMSPotential

__all__ = [
    "FEASIBILITY_TOLERANCE",
    "MAX_LOSS",
    "MULTIPLIER_ZERO",
    "Limit",
    "LimitSearch",
    "bounded_descent",
    "face_potential",
    "kkt_residuals",
    "limits_document",
    "refine_limit",
    "search_limits",
]

#: A bias within this of 0 is on the face; a multiplier or bias beyond it of the wrong sign
#: makes a float64 end infeasible.
FEASIBILITY_TOLERANCE = 1e-9
#: Refined multipliers and free biases within this of 0 count as 0 (see refine_limit).
MULTIPLIER_ZERO = 1e-12
#: Levenberg–Marquardt settings of the searches (as the census's random starts).
SEARCH_GTOL = 1e-11
SEARCH_ITERATIONS = 150
#: Starts of the catalogued points: the point itself and this many perturbed copies.
CATALOG_COPIES = 2
CATALOG_NOISE = 0.05
#: Iterations of a bounded descent (L-BFGS-B) and the perturbation of the found limits that
#: start them (besides random starts): descents from the saddles reach the minima beside them.
DESCENT_ITERATIONS = 3000
DESCENT_NOISE = 0.05

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


#: Float64 searches evaluate L̃ at θ clipped to this box, and ends outside RUNAWAY are dropped:
#: off a critical point on a face, ‖∇L̃‖ can decay towards infinity (free biases to −∞), and a
#: Levenberg–Marquardt start that follows it would overflow.
CLIP = 50.0
RUNAWAY = 10.0


class _Clipped(FixedCoordinates):
    """The face potential evaluated at float64 θ clipped to [−CLIP, CLIP] (searches only; a
    non-finite coordinate of a runaway start counts as the bound)."""

    def full(self, theta_free):
        out = super().full(theta_free)
        if out.dtype == object:
            return out
        return np.clip(np.nan_to_num(out, nan=CLIP, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP)


def face_potential(potential: TMSPotential, theta, face) -> FixedCoordinates:
    """L̃ with the biases of ``face`` pinned to 0 (their coordinates fixed, all others free)."""
    theta = np.array(theta, dtype=object if np.asarray(theta).dtype == object else float)
    pinned = [potential.m * potential.n + j for j in face]
    base = theta.copy()
    base[pinned] = 0 if base.dtype == object else 0.0
    free = [i for i in range(potential.dim) if i not in set(pinned)]
    return FixedCoordinates(potential, base, free)


def kkt_residuals(potential: TMSPotential, theta, face, dps: int | None = None):
    """``(free gradient norm, multipliers, largest free bias)`` at θ (float64, or mpmath
    numbers at ``dps`` digits). The multiplier of b_j, j in the face, is −∂⁺L̃/∂b_j, the
    derivative from b_j > 0 (where a branch of L_S holds its bias, module doc): L̃ is not
    differentiable in b_j where a column's output switches on exactly at b_j = 0 (W_j = 0), and
    the code's gradient there is the switched-off side. It is evaluated at b_j = ε, ε = 10⁻¹²
    in float64 and 10^(15 − dps) at ``dps`` digits (error O(ε))."""
    theta = np.asarray(theta)
    face = sorted(face)
    first = potential.m * potential.n
    pinned = {first + j for j in face}
    free = [i for i in range(potential.dim) if i not in pinned]
    biases = potential.unflatten(theta)[1]
    free_biases = [biases[j] for j in range(potential.n) if j not in set(face)]
    _, gradient = potential.loss_and_gradient(theta, dps=dps)
    above = theta.copy()
    if dps is None:
        above[[first + j for j in face]] = 1e-12
        _, right = potential.loss_and_gradient(above)
        norm = float(np.linalg.norm(np.asarray(gradient, dtype=float)[free]))
        multipliers = [-float(right[first + j]) for j in face]
        top = max((float(v) for v in free_biases), default=-np.inf)
        return norm, multipliers, top
    with mpmath.workdps(dps):
        for j in face:
            above[first + j] = mpmath.mpf(10) ** (15 - dps)
        _, right = potential.loss_and_gradient(above, dps=dps)
        norm = mpmath.sqrt(mpmath.fsum(gradient[i] ** 2 for i in free))
        multipliers = [-right[first + j] for j in face]
        top = max(free_biases, default=None)
    return norm, multipliers, top


@dataclass
class Limit:
    """A KKT point of L̃ on b ≤ 0 (module doc): its face, float64 point, loss, the starts that
    reached its critical set, and once refined its exact point and classification."""

    face: tuple[int, ...]
    W: np.ndarray
    b: np.ndarray
    loss: float
    live: tuple
    #: The positive multipliers, sorted and rounded: two ends are one limit only if these agree.
    signature: tuple = ()
    origins: list[str] = field(default_factory=list)
    hits: int = 0
    random_hits: int = 0
    #: How good a representative of its critical set the point is (lower is better).
    rank: tuple = (1, 0)
    exact: dict | None = None


@dataclass
class LimitSearch:
    """Result of :func:`search_limits`: the limits found (by loss) and the search record."""

    limits: list[Limit]
    record: dict


def _normalised_face(potential: TMSPotential, theta: np.ndarray, face) -> tuple[int, ...]:
    """The face plus the free biases within the tolerance of 0."""
    b = potential.unflatten(theta)[1]
    return tuple(sorted(set(face) | {j for j in range(potential.n)
                                     if abs(b[j]) <= FEASIBILITY_TOLERANCE}))


def _starts(potential: TMSPotential, count: int, seed: int, catalog_points
            ) -> list[tuple[tuple[int, ...], np.ndarray, str]]:
    """(face, start θ, origin) of every search: ``count`` random starts on each face size and
    the catalogued points projected on their faces (with perturbed copies)."""
    n, m = potential.n, potential.m
    out = []
    for size in range(n + 1):
        face = tuple(range(n - size, n))
        starts_W, starts_b = random_starts_of(n, count, seed + size, m)
        for W, b in zip(starts_W, starts_b):
            b = b.copy()
            b[list(face)] = 0.0
            out.append((face, potential.flatten(W, b), "random"))
    rng = np.random.default_rng([seed, n, m, 7])
    for ident, W, b in catalog_points:
        W, b = np.array(W, dtype=float), np.array(b, dtype=float)
        face = tuple(int(j) for j in np.flatnonzero(b > 0))
        b = np.where(b > 0, 0.0, b)
        theta = potential.flatten(W, b)
        out.append((face, theta, f"catalog:{ident}"))
        for _ in range(CATALOG_COPIES):
            noisy = theta + CATALOG_NOISE * rng.standard_normal(theta.shape)
            noisy[[m * n + j for j in face]] = 0.0
            out.append((face, noisy, f"catalog:{ident}~"))
    return out


def bounded_descent(potential: TMSPotential, theta) -> tuple[np.ndarray, tuple[int, ...]]:
    """A local minimum of L̃ on b ≤ 0 from θ (L-BFGS-B, scipy) and its face (the biases at the
    bound within the tolerance, set to exactly 0)."""
    from scipy.optimize import minimize

    first = potential.m * potential.n
    bounds = [(None, None)] * first + [(None, 0.0)] * potential.n
    start = np.array(theta, dtype=float)
    start[first:] = np.minimum(start[first:], 0.0)

    def value_and_gradient(x):
        value, gradient = potential.loss_and_gradient(np.clip(x, -CLIP, CLIP))
        return float(value), np.asarray(gradient, dtype=float)

    result = minimize(value_and_gradient, start, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": DESCENT_ITERATIONS, "gtol": 1e-12, "ftol": 1e-15})
    end = result.x.copy()
    face = tuple(int(j) for j in np.flatnonzero(end[first:] >= -FEASIBILITY_TOLERANCE))
    end[[first + j for j in face]] = 0.0
    return end, face


def _search_faces(potential: TMSPotential, starts, limits: list[Limit], workers: int,
                  tick: Progress, stage: str) -> dict:
    """Levenberg–Marquardt on the face of every start ((face, θ, origin)); the feasible ends
    join ``limits`` (a new one, or a hit of a known one). Returns the counts."""
    by_face: dict[tuple, list[int]] = {}
    for i, (face, _, _) in enumerate(starts):
        by_face.setdefault(face, []).append(i)
    ends = np.zeros((len(starts), potential.dim))
    converged = np.zeros(len(starts), dtype=bool)
    for done, (face, indices) in enumerate(sorted(by_face.items()), 1):
        exact = face_potential(potential, starts[indices[0]][1], face)
        restricted = _Clipped(potential, exact.base, exact.free)
        thetas = np.array([starts[i][1][restricted.free] for i in indices])
        with np.errstate(all="ignore"):  # runaway starts overflow before they are dropped
            search = find_critical_points(restricted, thetas, gtol=SEARCH_GTOL,
                                          max_iter=SEARCH_ITERATIONS, workers=workers)
        ends[indices] = exact.full(np.atleast_2d(search.theta))
        converged[indices] = (np.atleast_1d(search.converged)
                              & (np.abs(ends[indices]).max(axis=1) <= RUNAWAY))
        tick(stage, done, len(by_face))
    counts = {"starts": len(starts), "converged": int(converged.sum()), "infeasible": 0,
              "feasible": 0}
    for i, (face, _, origin) in enumerate(starts):
        if not converged[i]:
            continue
        theta = ends[i]
        _, multipliers, top = kkt_residuals(potential, theta, face)
        if top > FEASIBILITY_TOLERANCE or min(multipliers, default=0.0) < -FEASIBILITY_TOLERANCE:
            counts["infeasible"] += 1
            continue
        counts["feasible"] += 1
        W, b = potential.unflatten(theta)
        loss = float(potential.loss(theta))
        live = critical_set_key(W, b)
        signature = tuple(sorted(round(mu, 6) for mu in multipliers
                                 if mu > FEASIBILITY_TOLERANCE))
        alike = [lim for lim in limits if lim.signature == signature]
        index = same_critical_set(loss, live, [(lim.loss, lim.live) for lim in alike])
        match = None if index is None else alike[index]
        normalised = _normalised_face(potential, theta, face)
        # One critical set (a dead column free in its dead region, say) is represented by a
        # catalogued point that is itself a limit (the catalog places flat columns inside their
        # sets), else by its most interior end, with the fewest biases at 0: an end on the edge
        # of a flat set can have a descent beside it that the set's interior has not.
        catalogued = origin.startswith("catalog:") and not origin.endswith("~") and bool(
            np.abs(theta - starts[i][1]).max() <= 1e-9)
        rank = (0 if catalogued else 1, len(normalised))
        if match is None:
            match = Limit(normalised, W, b, loss, live, signature, rank=rank)
            limits.append(match)
        elif rank < match.rank:
            match.face, match.W, match.b, match.loss, match.live = normalised, W, b, loss, live
            match.rank = rank
        match.hits += 1
        match.random_hits += origin == "random"
        if origin not in match.origins and len(match.origins) < 8:
            match.origins.append(origin)
    return counts


def search_limits(n: int, m: int = 2, *, random_starts: int = 200, seed: int = 0,
                  catalog_points=(), workers: int = 1,
                  progress: Progress | None = None) -> LimitSearch:
    """The KKT points of the one-hot potential on b ≤ 0 that the searches reach (float64; see
    the module doc). ``catalog_points``: (id, W, b) of catalogued critical points, projected on
    their faces as starts."""
    tick = progress or _no_progress
    potential = TMSPotential(n, m)
    starts = _starts(potential, random_starts, seed, catalog_points)
    limits: list[Limit] = []
    counts = _search_faces(potential, starts, limits, workers, tick, "face searches")
    # bounded descents from random starts and from every limit found, perturbed: their ends
    # (local minima on b ≤ 0) are searched again on their faces
    rng = np.random.default_rng([seed, n, m, 11])
    starts_W, starts_b = random_starts_of(n, random_starts, seed + n + 1, m)
    descents = [(potential.flatten(W, b), "descent") for W, b in zip(starts_W, starts_b)]
    for lim in limits:
        theta = potential.flatten(lim.W, lim.b)
        descents += [(theta + DESCENT_NOISE * rng.standard_normal(theta.shape),
                      "descent-from-limit") for _ in range(CATALOG_COPIES)]
    ends = []
    for done, (theta, origin) in enumerate(descents, 1):
        end, face = bounded_descent(potential, theta)
        if np.all(np.isfinite(end)) and np.abs(end).max() <= RUNAWAY:
            ends.append((face, end, origin))
        tick("bounded descents", done, len(descents))
    second = _search_faces(potential, ends, limits, workers, tick, "face searches from descents")
    counts = {key: counts[key] + second[key] for key in counts}
    counts["descents"] = len(descents)
    limits.sort(key=lambda lim: (lim.loss, len(lim.face)))
    random_hits = [lim.random_hits for lim in limits]
    record = {
        "random_starts_per_face_size": random_starts,
        "catalog_points": len(catalog_points),
        "catalog_copies": CATALOG_COPIES,
        "seed": seed,
        **counts,
        "limits": len(limits),
        "limits_hit_by_random_starts": sum(1 for h in random_hits if h),
        "chao1_unseen": significant(chao1_unseen([h for h in random_hits if h]), 3),
    }
    return LimitSearch(limits, record)


def _classified(potential: TMSPotential, full, face, digits: int, seed: int):
    restricted = face_potential(potential, full, face)
    return classify(restricted, np.array(full[restricted.free], dtype=object), dps=digits,
                    seed=seed, determine_lambda=False)


def refine_limit(limit: Limit, m: int, digits: int = 60, seed: int = 0) -> dict | None:
    """The limit at ``digits`` digits on its face, its KKT residuals there and its
    classification (the face's verdict and the constrained one, module doc); None if the
    refinement fails or the refined point is not feasible."""
    n = limit.b.shape[-1]
    potential = TMSPotential(n, m)
    theta = potential.flatten(limit.W, limit.b)
    restricted = face_potential(potential, theta, limit.face)
    try:
        with np.errstate(all="ignore"):
            result = polish_to_digits(restricted, theta[restricted.free], digits)
    except (np.linalg.LinAlgError, ValueError):  # a step that diverged: not refined
        return None
    if not result.success:
        return None
    with mpmath.workdps(digits):
        full = restricted.full(np.array(result.theta, dtype=object))
        norm, multipliers, top = kkt_residuals(potential, full, limit.face, dps=digits)
        # A multiplier within this of 0 is 0: on a flat family the polish leaves the float64
        # start's error (~1e-14) along the family, and a column then sits 1e-14 off a kink
        tiny = mpmath.mpf(MULTIPLIER_ZERO)
        if (top is not None and top > tiny) or any(mu < -tiny for mu in multipliers):
            return None
        loss = potential.loss(full, dps=digits)
    strict = tuple(j for j, mu in zip(limit.face, multipliers) if mu > tiny)
    on_face = _classified(potential, full, limit.face, digits, seed)
    if on_face.verdict == "saddle":  # a descent inside the face: feasible
        verdict, deciding = "saddle", on_face
    elif strict == tuple(limit.face):  # strict complementarity: the face decides
        verdict, deciding = on_face.verdict, on_face
    else:
        # zero multipliers: let those biases move both ways (the pinned strict ones leave
        # the face uphill at first order); a minimum there is one on b ≤ 0 too
        deciding = _classified(potential, full, strict, digits, seed)
        verdict = "minimum" if deciding.verdict == "minimum" else "undecided"
    W, b = potential.unflatten(full)
    return {
        "W_exact": [[mpmath.nstr(v, digits, strip_zeros=False) for v in row] for row in W],
        "b_exact": [mpmath.nstr(v, digits, strip_zeros=False) for v in b],
        "loss_exact": mpmath.nstr(loss, digits, strip_zeros=False),
        "loss": float(loss),
        "free_grad_norm": float(norm),
        "multipliers": [significant(float(mu), 10) if abs(mu) > tiny else 0.0
                        for mu in multipliers],
        "strict_face": list(strict),
        "face_classification": on_face.classification,
        "face_verdict": on_face.verdict,
        "deciding_classification": deciding.classification,
        "verdict": verdict,
        "W": [[round(float(v), 12) for v in row] for row in W],
        "b": [round(float(v), 12) for v in b],
    }


#: Limits above this loss are not refined or stored (the census's range: L̃ ≤ 1/3 is the
#: all-dead level).
MAX_LOSS = 1 / 3 + 1e-9


def limits_document(search: LimitSearch, n: int, m: int, digits: int, seed: int,
                    command: str, catalog: list[dict] | None = None,
                    progress: Progress | None = None) -> dict:
    """The ``critpoints.limits`` document of a search: every limit with L̃ ≤ 1/3 refined and
    classified (:func:`refine_limit`), those whose refinement failed listed as unrefined with
    their float64 point; a limit that is a critical point of L̃ itself (no positive
    multiplier) lists the ``catalog`` entries (of the same n, m) in its critical set (the
    census's rule: the same loss and live part, or as many live columns)."""
    from critpoints import __version__

    tick = progress or _no_progress
    chosen = [lim for lim in search.limits if lim.loss <= MAX_LOSS]
    known = [(e["loss"], critical_set_key(np.array(e["W"]), np.array(e["b"])))
             for e in (catalog or [])]
    points, unrefined = [], []
    for done, lim in enumerate(chosen, 1):
        exact = refine_limit(lim, m, digits, seed)
        tick("refinement and classification", done, len(chosen))
        common = {"hits": lim.hits, "random_hits": lim.random_hits, "origins": lim.origins}
        if exact is None:
            unrefined.append({"face": list(lim.face), "loss": significant(lim.loss, 10),
                              "W": np.round(lim.W, 8).tolist(), "b": np.round(lim.b, 8).tolist(),
                              **common})
            continue
        catalog_ids = []
        if not exact["strict_face"] and catalog:
            key = critical_set_key(np.array(exact["W"]), np.array(exact["b"]))
            catalog_ids = [entry["id"] for entry, other in zip(catalog, known)
                           if same_critical_set(exact["loss"], key, [other]) is not None]
        points.append({"face": list(lim.face), **exact, "catalog_ids": catalog_ids, **common})
    points.sort(key=lambda p: (p["loss"], len(p["face"]), p["loss_exact"]))
    for k, point in enumerate(points, 1):
        point["id"] = f"limit-{k}"
    verdicts = {v: sum(p["verdict"] == v for p in points)
                for v in ("minimum", "saddle", "undecided")}
    return {
        "schema_name": "critpoints.limits",
        "schema_version": 1,
        "generator": {"package": "critpoints", "version": __version__, "command": command},
        "model": {"kind": "tms-high-sparsity", "n": n, "m": m},
        "precision_digits": digits,
        "search": search.record,
        "summary": {"limits": len(points), "unrefined": len(unrefined), **verdicts},
        "limits": [{"id": p.pop("id"), **p} for p in points],
        "unrefined": unrefined,
    }
