"""The k-gon critical points of the TMS potential at finite sparsity S (SPEC §8, issue 16).

The pattern language of :mod:`critpoints.kgon.patterns` carries over unchanged; what changes is
the potential (``TMSSparsePotential``, through the Potential interface only) and three of the
pattern's numbers:

* the polygon's (l, b_v) come from the reduced problem of the model
  (:func:`critpoints.kgon.profile.solve_polygon_profile`, two unknowns per activation interval;
  with uniform importance every vertex output sees the same profile), refined at ``digits``
  digits by Newton's method in (l, b_v) on the model's own gradient;
* a zero column with positive bias (the ``+`` of a label) sees nothing and says nothing
  (G_ij = 0), so its output is the constant b_j and its critical bias is E[x_j] = (1 − S)/2
  (1/(2n) in the one-hot model). The gradient in its weights vanishes there exactly: the output
  it would feed has ∂L/∂b = 0, and its own output's residual x_j − b_j has mean 0;
* a dead vertex's output is off for every input only when b ≤ −Σ_i max(G_ij, 0) (every set of
  active features, not one at a time): the flat representative is twice that,
  −2 l² (1 + Σ_d max(cos 2πd/k, 0)) (the one-hot catalogs use −2 l²).

Every point is then verified in full space at ``digits`` digits (all m·n + n gradient
coordinates), and classified by :func:`critpoints.solve.classify.classify` on the model.
Patterns whose regular ansatz is not critical (a dead vertex that breaks the symmetry, or a
non-uniform importance) are searched in full space from the ansatz (Levenberg–Marquardt on the
model with the zero columns pinned at exactly 0, where their gradient vanishes identically,
then the ``digits``-digit polish); what the search finds is kept with its real geometry
(``regular: false``), and the patterns without a point are listed with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mpmath
import numpy as np

from critpoints.kgon.enumerate import SEARCH_ITERATIONS as RANDOM_SEARCH_ITERATIONS
from critpoints.kgon.enumerate import (
    Candidate,
    EnumeratedPoint,
    Enumeration,
    Progress,
    _canonicalised,
    _decimal,
    _disambiguated,
    _ident,
    _no_progress,
    _polygon,
    _unrealised,
    entry_names,
    random_starts_of,
)
from critpoints.kgon.patterns import Pattern, enumerate_patterns
from critpoints.kgon.profile import solve_polygon_profile, symmetric_model
from critpoints.potential import FixedCoordinates
from critpoints.solve.classify import classify
from critpoints.solve.newton import find_critical_points, polish_to_digits, verification_bound
from critpoints.tms.symmetry import live_part, polar_geometry, same_live_part
from critpoints.workers import mapped as _mapped

__all__ = [
    "all_dead_level",
    "dead_vertex_factor",
    "enumerate_at_sparsity",
    "feature_mean",
    "identify_ends",
    "polish_polygon",
    "random_search_at_sparsity",
]

#: Levenberg–Marquardt iterations of the full-space search from a broken ansatz.
SEARCH_ITERATIONS = 60


def feature_mean(model: Any):
    """E[x_j]: the critical bias of a zero column with positive bias — (1 − S)/2 at sparsity S,
    1/(2n) for the one-hot model (no ``sparsity`` attribute)."""
    sparsity = getattr(model, "sparsity", None)
    if sparsity is None:
        return mpmath.mpf(1) / (2 * model.n)
    return (1 - mpmath.mpf(float(sparsity))) / 2  # the float S exactly, as the model uses it


def dead_vertex_factor(k: int) -> float:
    """1 + Σ_{d=1}^{k−1} max(cos 2πd/k, 0): a vertex output is dead for every set of active
    features when b ≤ −l² times this."""
    cos = np.cos(2 * np.pi * np.arange(1, k) / k)
    return 1.0 + float(np.where(cos > 1e-12, cos, 0.0).sum())


def _norm(values) -> Any:
    return mpmath.sqrt(mpmath.fsum(v * v for v in values))


def _parameters(model: Any, pattern: Pattern, norm, vertex_bias, dps: int):
    """Full (W, b) of a pattern at ``dps`` digits in the canonical gauge, with the finite-S
    representatives of the module docstring."""
    n, k = pattern.n, pattern.k
    with mpmath.workdps(dps):
        W = np.array([[mpmath.mpf(0)] * n for _ in range(model.m)], dtype=object)
        b = np.array([mpmath.mpf(0)] * n, dtype=object)
        if k:
            columns, _ = _polygon(k, norm, dps)
            dead_bias = -2 * mpmath.mpf(norm) ** 2 * mpmath.mpf(repr(dead_vertex_factor(k)))
            for i in range(k):
                W[0, i], W[1, i] = columns[i]
                b[i] = dead_bias if i in pattern.dead_vertices else mpmath.mpf(vertex_bias)
        for j in range(k, k + pattern.sigma):
            b[j] = feature_mean(model)
        for j in range(k + pattern.sigma, n):
            b[j] = -mpmath.mpf(1) / (2 * n)
    return W, b


def polish_polygon(model: Any, k: int, norm: float, vertex_bias: float, digits: int,
                   max_iter: int = 12):
    """(l, b_v) of the regular k-gon (every vertex live, the other columns zero with bias
    −1/(2n)) refined at ``digits`` digits: Newton's method in the two unknowns on the model's
    full gradient (chain rule: ∂/∂l = Σ_vertices ∇_W·W/l, ∂/∂b_v = Σ_vertices ∂/∂b_i), the
    2 × 2 Hessian from the float64 one.

    Returns ``(norm, vertex_bias, gradient norm)`` (mpmath numbers; the gradient is the full
    one, every coordinate, at ``digits`` digits).
    """
    n, m = model.n, model.m
    pattern = Pattern(n, k, 0, 0, (), 1)
    model = symmetric_model(model, k)  # every iterate is the symmetric polygon
    with mpmath.workdps(digits + 10):
        norm, vertex_bias = mpmath.mpf(repr(float(norm))), mpmath.mpf(repr(float(vertex_bias)))
        grad, previous = None, None
        for _ in range(max_iter):
            W, b = _parameters(model, pattern, norm, vertex_bias, digits + 10)
            theta = model.flatten(W, b)
            _, grad = model.loss_and_gradient(theta, dps=digits + 5)
            size = _norm(grad)
            # Converged in every stored digit (stopping at the verification bound 10^(20 −
            # digits) left the last ~15 digits to the float64 start: other bytes on another
            # machine), or no longer gaining (the working precision's floor).
            if size <= mpmath.mpf(10) ** (-digits - 2) or (
                    previous is not None and size > previous / 10):
                break
            previous = size
            J = np.zeros((model.dim, 2))
            Wf = W.astype(float)
            for r in range(m):
                J[r * n: r * n + k, 0] = Wf[r, :k] / float(norm)
            J[m * n: m * n + k, 1] = 1.0
            H = model.hessian(theta.astype(float))
            reduced_H = J.T @ H @ J
            reduced_g = np.array([mpmath.fsum(grad[i] * J[i, c] for i in np.flatnonzero(J[:, c]))
                                  for c in range(2)], dtype=object)
            step = np.linalg.solve(reduced_H, reduced_g.astype(float))
            norm = norm - mpmath.mpf(float(step[0]))
            vertex_bias = vertex_bias - mpmath.mpf(float(step[1]))
        if abs(vertex_bias) <= mpmath.mpf(10) ** (-digits):
            # on the all-zero input's kink (see _search): exactly 0, and verified there
            vertex_bias = mpmath.mpf(0)
            W, b = _parameters(model, pattern, norm, vertex_bias, digits + 10)
            size = _norm(model.loss_and_gradient(model.flatten(W, b), dps=digits + 5)[1])
        return +norm, +vertex_bias, size


def _pinned_free(model: Any, W) -> np.ndarray:
    """θ-indices that vary in a search: everything but the weights of the zero columns (held at
    exactly 0, where the gradient in them vanishes identically)."""
    m, n = model.m, model.n
    zero = [i for i in range(n) if all(W[r, i] == 0 for r in range(m))]
    fixed = {r * n + i for r in range(m) for i in zero}
    return np.array([i for i in range(model.dim) if i not in fixed])


def _search(model: Any, W, b, digits: int):
    """Full-space search from (W, b) on the model (zero columns pinned): the polished point or
    None with the reason."""
    theta = model.flatten(W, b)
    restricted = FixedCoordinates(model, theta.astype(float), _pinned_free(model, W))
    start = theta.astype(float)[restricted.free]
    search = find_critical_points(restricted, start, gtol=1e-11, max_iter=SEARCH_ITERATIONS)
    if not bool(np.all(search.converged)):
        return None, (f"regular ansatz not critical; Levenberg–Marquardt on the gradient from "
                      f"it did not converge in {SEARCH_ITERATIONS} iterations")
    exact_base = FixedCoordinates(model, theta, restricted.free)
    start = np.asarray(search.theta).reshape(-1)
    # Polished until every stored digit has converged, so that the stored point does not
    # depend on the float64 start; else to the verification bound.
    polished = polish_to_digits(exact_base, start, digits)
    if not polished.success:
        return None, ("regular ansatz not critical; the full-space search converged in float64 "
                      f"but the {digits}-digit refinement stalled")
    # (a bias polished onto the all-zero input's kink, below the stored digits, comes back as
    # exactly 0: polish_to_digits, so no rounding residue picks the one-sided Hessian's side)
    return model.unflatten(exact_base.full(polished.theta)), None


def _entry(model: Any, candidate: Candidate, ident: str, label: str, kgon: tuple, dps: int,
           seed: int) -> EnumeratedPoint:
    """The catalog entry of a verified point of ``model`` (as
    :func:`critpoints.kgon.enumerate._entry`; no interval certificate or exact form: those are
    proofs about the one-hot polynomials)."""
    W_text = [[_decimal(v, dps) for v in row] for row in candidate.W]
    b_text = [_decimal(v, dps) for v in candidate.b]
    with mpmath.workdps(dps):
        W = np.array([[mpmath.mpf(v) for v in row] for row in W_text], dtype=object)
        b = np.array([mpmath.mpf(v) for v in b_text], dtype=object)
        theta = model.flatten(W, b)
        loss, grad = model.loss_and_gradient(theta, dps=dps)
        grad_norm = _norm(grad)
    result = classify(model, theta, dps=dps, seed=seed)
    k, sigma, phi = kgon
    return EnumeratedPoint(
        id=ident, label=label, k=k, sigma=sigma, phi=phi,
        dead_vertices=list(candidate.pattern.dead_vertices) if candidate.regular else None,
        regular=candidate.regular, origin=candidate.origin,
        W=np.asarray(W, dtype=float).tolist(), b=np.asarray(b, dtype=float).tolist(),
        W_exact=W_text, b_exact=b_text, loss=float(loss), loss_exact=_decimal(loss, dps),
        grad_norm=float(grad_norm), precision_digits=dps,
        geometry=polar_geometry(W, b, dps), reduced=candidate.reduced,
        hessian={"eigenvalues": result.eigenvalues, "n_pos": result.n_pos,
                 "n_neg": result.n_neg, "n_zero": result.n_zero,
                 "n_zero_symmetry": result.n_zero_symmetry,
                 "zero_tolerance": result.zero_tolerance},
        hessian_index=result.hessian_index, classification=result.classification,
        verdict=result.verdict, evidence=result.evidence,
        learning_coefficient=result.learning_coefficient, on_boundary=result.on_boundary,
        certificate=None, exact=None,
    )


def _entry_job(job):
    return _entry(*job)


def _screen_job(job):
    """One pattern's regular ansatz at ``digits`` digits: (candidate, verified?, reason)."""
    model, pattern, norm, bias, reduced, index, digits, uniform = job
    W, b = _parameters(model, pattern, norm, bias, digits)
    candidate = Candidate(pattern, W, b, True, index, reduced)
    tolerance = verification_bound(digits)
    with mpmath.workdps(digits):
        _, grad = model.loss_and_gradient(model.flatten(W, b).astype(float))
        if uniform and float(np.sqrt((np.asarray(grad) ** 2).sum())) <= 1e-7:
            _, grad = model.loss_and_gradient(model.flatten(W, b), dps=digits)
            if _norm(grad) <= tolerance:
                return candidate, True, None
    found, reason = _search(model, W, b, digits)
    if found is None:
        return candidate, False, reason
    return Candidate(pattern, found[0], found[1], False, -1, None, "pattern-search"), True, None


def enumerate_at_sparsity(model: Any, digits: int = 60, progress: Progress | None = None,
                          seed: int = 0, workers: int = 1, random_starts: int = 0
                          ) -> Enumeration:
    """Every k-gon critical point of a finite-sparsity TMS potential (hidden dimension 2).

    Parameters
    ----------
    model : TMSSparsePotential
        The potential (n features, m = 2, sparsity S < 1, importances I).
    digits : int
        Verification precision: every point's full gradient is at most 10^(20 − digits) at
        ``digits`` digits.
    progress : callable, optional
        ``progress(stage, done, total)``.
    seed : int
        Seed of the classification's random directions.
    workers : int
        Processes for the screen, the searches and the classification (same result for any).
    random_starts : int
        Random starts of the full-space search for critical points outside the pattern
        language (:func:`random_search_at_sparsity`; 0: none).

    Returns
    -------
    Enumeration
        ``entries`` (regular points first, then the irregular ones by loss: the pattern
        searches' and the random starts'), ``unrealised`` patterns with the reason;
        ``random_search`` the random starts' record (None without them).
    """
    if model.m != 2:
        raise ValueError(f"the k-gon patterns need hidden dimension 2; got m = {model.m}")
    tick = progress or _no_progress
    n = model.n
    importance = np.asarray(getattr(model, "importance", np.ones(n)), dtype=float)
    uniform = bool(np.all(importance == importance[0]))
    reference = model if uniform else type(model)(n, model.m, sparsity=model.sparsity)
    polygons: dict[int, list] = {}
    for k in range(1, n + 1):
        tick("reduced problems", k, n)
        polygons[k] = []
        for solution in solve_polygon_profile(reference, k):
            norm, bias, _ = polish_polygon(reference, k, solution.norm, solution.vertex_bias,
                                           digits)
            reduced = {"x": mpmath.nstr(norm**2, digits), "s": mpmath.nstr(bias / norm**2, digits),
                       "norm": mpmath.nstr(norm, digits),
                       "vertex_bias": mpmath.nstr(bias, digits)}
            polygons[k].append((norm, bias, reduced))
    jobs = []
    for pattern in enumerate_patterns(n):
        if pattern.k == 0 or pattern.live_vertices == 0:
            jobs.append((model, pattern, 1, 0, None, -1, digits, uniform))
            continue
        for index, (norm, bias, reduced) in enumerate(polygons[pattern.k]):
            jobs.append((model, pattern, norm, bias, reduced, index, digits, uniform))
    screened = _mapped(_screen_job, jobs, workers, tick, "patterns")
    points: list[Candidate] = []
    unrealised: list[dict] = []
    known_live: list[tuple] = []
    known_loss: list[float] = []
    for candidate, verified, reason in screened:
        if not verified:
            unrealised.append(_unrealised(candidate.pattern, reason))
            continue
        if not candidate.regular:
            theta = model.flatten(candidate.W, candidate.b).astype(float)
            loss = float(model.loss(theta))
            live = live_part(candidate.W, candidate.b)
            twin = next((j for j, (other, value) in enumerate(zip(known_live, known_loss))
                         if abs(value - loss) < 1e-9 and same_live_part(other, live)), None)
            if twin is not None:
                where = _ident(points[twin]) if points[twin].regular else "a point found before"
                unrealised.append(_unrealised(candidate.pattern, (
                    "regular ansatz not critical; the full-space search from it reached the "
                    f"critical set of {where}")))
                continue
            known_live.append(live)
            known_loss.append(loss)
        else:
            theta = model.flatten(candidate.W, candidate.b).astype(float)
            known_live.append(live_part(candidate.W, candidate.b))
            known_loss.append(float(model.loss(theta)))
        points.append(candidate)
    random_search = None
    if random_starts:
        found, random_search = random_search_at_sparsity(
            model, list(zip(known_loss, known_live)), random_starts, seed, digits, workers,
            tick)
        points.extend(found)
    regular = [c for c in points if c.regular]
    irregular = sorted((_canonicalised(c, digits) for c in points if not c.regular),
                       key=lambda c: float(model.loss(model.flatten(c.W, c.b).astype(float))))
    ordered = regular + irregular
    entry_jobs = [(model, candidate, ident, label, kgon, digits, seed)
                  for candidate, (ident, label, kgon) in zip(ordered, entry_names(ordered))]
    entries = _mapped(_entry_job, entry_jobs, workers, tick, "classify")
    return Enumeration(_disambiguated(entries), unrealised, random_search)


def all_dead_level(model: Any) -> float:
    """L at W = 0 with every output dead (b < 0): the reconstruction error of predicting 0,
    the level the random search covers (1/3 in the one-hot model)."""
    W = np.zeros((model.m, model.n))
    return float(model.loss(model.flatten(W, -np.ones(model.n))))


def _polish_job(job):
    model, theta, digits = job
    result = polish_to_digits(model, theta, digits)
    return model.unflatten(result.theta) if result.success else None


def identify_ends(model: Any, search: Any, level: float, keys: list[tuple[float, tuple]]
                  ) -> Iterator[tuple[np.ndarray, int]]:
    """The converged ends of a search (:func:`critpoints.solve.newton.find_critical_points`)
    at or below ``level``, in order, each with the index in ``keys`` ((float loss, live part)
    pairs) of its critical set by the census's rule
    (:func:`critpoints.census.census.same_critical_set`); an end in no known set appends its
    own key, so later ends find it."""
    from critpoints.census.census import critical_set_key, same_critical_set

    losses = np.atleast_1d(model.loss(search.theta))
    for theta, ok, loss in zip(search.theta, search.converged, losses):
        if not ok or not loss <= level + 1e-9:
            continue
        W, b = model.unflatten(theta)
        live = critical_set_key(W, b)
        j = same_critical_set(float(loss), live, keys)
        if j is None:
            keys.append((float(loss), live))
            j = len(keys) - 1
        yield theta, j


def random_search_at_sparsity(model: Any, known: list[tuple[float, tuple]], count: int,
                              seed: int, digits: int, workers: int = 1,
                              tick: Progress = _no_progress) -> tuple[list[Candidate], dict]:
    """The full-space search for critical points outside the pattern language: Levenberg–
    Marquardt from ``count`` random starts (:func:`critpoints.kgon.enumerate.random_starts_of`,
    the one-hot enumeration's), every converged end at or below the all-dead level identified
    with the known critical sets (``known``: (float loss, live part) pairs; the census's rule,
    :func:`critpoints.census.census.same_critical_set`) or with the ends before it, and each
    new one refined to ``digits`` digits from its first end.

    Returns the new points (irregular candidates, origin ``random-search``) and the catalog's
    ``random_search`` record: the counts, and the sample's statistics — orbits hit, singletons,
    doubletons and the Chao1 estimate of critical sets with a basin that the starts have not
    reached (:func:`critpoints.census.census.chao1_unseen`; it counts the pattern language's
    points too, when a start lands in them).
    """
    from critpoints.census.census import chao1_unseen

    n, m = model.n, model.m
    level = all_dead_level(model)
    starts_W, starts_b = random_starts_of(n, count, seed, m)
    search = find_critical_points(
        model, model.flatten(starts_W, starts_b), gtol=1e-11,
        max_iter=RANDOM_SEARCH_ITERATIONS, workers=workers,
        progress=lambda done, total: tick("random-start search: Levenberg–Marquardt chunks",
                                          done, total))
    keys = list(known)
    hits = [0] * len(keys)
    first_end: dict[int, np.ndarray] = {}
    converged = 0
    for theta, j in identify_ends(model, search, level, keys):
        converged += 1
        if j == len(hits):  # a new critical set, appended to keys
            hits.append(0)
            first_end[j] = np.array(theta)
        hits[j] += 1
    new = sorted(first_end)
    refined = _mapped(_polish_job, [(model, first_end[j], digits) for j in new], workers, tick,
                      f"random-start search: {digits}-digit polish of new points")
    found: list[Candidate] = []
    failed = 0
    for parameters in refined:
        if parameters is None:
            failed += 1
            continue
        found.append(Candidate(None, parameters[0], parameters[1], False, -1, None,
                               "random-search"))
    seen = [h for h in hits if h > 0]
    record = {
        "seed": seed,
        "starts": count,
        "converged": converged,
        "in_catalogued_sets": sum(hits[:len(known)]),
        "refinement_failed": failed,
        "new_points": len(found),
        "orbits_hit": len(seen),
        "singletons": seen.count(1),
        "doubletons": seen.count(2),
        "unseen_estimate": round(chao1_unseen(seen), 3),
    }
    return found, record
