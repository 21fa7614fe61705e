"""Finding critical points of any :class:`critpoints.potential.Potential` in full space.

The Hessian is singular along symmetry orbits and flat dead features, so plain Newton steps are
ill-posed. Two tools:

- :func:`find_critical_points`: Levenberg–Marquardt on the gradient (minimises ‖∇L‖², steps
  ``-(H² + λI)⁻¹ H g``), float64, vectorised over a batch of starting points. It converges to
  critical points of any index, not only minima.
- :func:`polish`: Newton refinement to high precision: residuals (the gradient) in mpmath at
  ``dps`` digits, steps from the float64 pseudo-inverse of the Hessian (zero modes dropped), so
  each step gains about 16 digits minus log10 of the condition number. Where that stalls (a
  critical point on an activation boundary), the potential's switching functions that nearly
  vanish are held at zero and Newton runs on that stratum (see :func:`polish`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import mpmath
import numpy as np

from critpoints import mpfr
from critpoints.potential import Potential

__all__ = [
    "CriticalPointSearch",
    "PolishResult",
    "find_critical_points",
    "polish",
    "polish_to_digits",
    "precise_polish",
    "verification_bound",
]


@dataclass
class CriticalPointSearch:
    """Result of :func:`find_critical_points` for a batch of starts (arrays over the batch).

    Attributes
    ----------
    theta : ndarray
        Final points, shape (B, dim) (or (dim,) for a single start).
    parameters : tuple of ndarray
        The same points as the model's parameters (``potential.unflatten(theta)``).
    grad_norm : ndarray
        Euclidean norm of the full gradient at the final points.
    converged : ndarray of bool
        ``grad_norm <= gtol``.
    nit : int
        Iterations run.
    """

    theta: np.ndarray
    parameters: tuple
    grad_norm: np.ndarray
    converged: np.ndarray
    nit: int


def _flat_gradient(potential: Potential, theta: np.ndarray) -> np.ndarray:
    return potential.loss_and_gradient(theta)[1]


#: Starts advanced together by one call of the Levenberg–Marquardt loop: larger batches gain
#: nothing per start (the work is dense linear algebra per start) and cost memory (at n = 16 a
#: batch of 11 600 starts held ~1 GB of Hessians).
CHUNK_SIZE = 512


def find_critical_points(
    potential: Potential, theta, *, gtol: float = 1e-12, max_iter: int = 200,
    damping: float = 1e-3, min_step: float = 0.0, workers: int = 1, executor=None,
    progress=None,
) -> CriticalPointSearch:
    """Levenberg–Marquardt search for zeros of the gradient from each start in a batch.

    Parameters
    ----------
    potential : Potential
    theta : array_like, shape (B, dim) or (dim,)
        Starting points (``potential.flatten(...)`` of the model's parameters).
    gtol : float
        Stop a start once its gradient norm is at most this.
    max_iter : int
        Iterations at most.
    damping : float
        Initial Levenberg–Marquardt parameter (relative to the Hessian's scale).
    min_step : float
        Also stop a start once an accepted step is at most ``min_step`` times ‖θ‖ (0: never;
        with ``gtol=0`` the search then runs until ‖∇L‖ cannot be reduced, λ ≥ 10¹²).
    workers : int
        Processes sharing the starts. Every start's iteration uses only its own numbers, so
        more than :data:`CHUNK_SIZE` starts are advanced in chunks (in ``workers`` processes if
        > 1) and the result is the same, to the bit, for any chunking and any ``workers``
        (``nit`` is the largest over the chunks).
    executor : optional
        Runs the chunks instead of a fresh process pool: anything with ``map(function,
        jobs)`` returning the results in order (an open ``ProcessPoolExecutor``, or an adapter
        of a Dask client); a caller with many batches opens it once.
    progress : callable, optional
        Called as ``progress(done, total)`` as chunks of starts finish (in order).
    """
    theta = np.array(theta, dtype=float)  # a copy: updated in place below
    if theta.ndim == 2 and len(theta) > CHUNK_SIZE:
        # (fewer starts than a chunk: one batch here beats starting processes, measured at
        # n = 6, 333 starts)
        return _in_chunks(potential, theta, gtol, max_iter, damping, min_step, workers,
                          executor, progress)
    search = _levenberg_marquardt(potential, theta, gtol, max_iter, damping, min_step)
    if progress is not None:
        progress(1, 1)
    return search


def _in_chunks(potential, theta, gtol, max_iter, damping, min_step, workers, executor=None,
               progress=None) -> CriticalPointSearch:
    count = max(-(-len(theta) // CHUNK_SIZE), min(len(theta), workers))  # ≥ 2
    # Interleaved, so that every chunk holds starts of every kind (fast and slow) alike.
    chunks = [theta[first::count] for first in range(count)]
    jobs = [(potential, chunk, gtol, max_iter, damping, min_step) for chunk in chunks]

    def collected(results):
        done = []
        for result in results:
            done.append(result)
            if progress is not None:
                progress(len(done), count)
        return done

    if executor is not None:
        results = collected(executor.map(_chunk_job, jobs))
    elif workers > 1 and count > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(workers, count)) as pool:
            results = collected(pool.map(_chunk_job, jobs))
    else:
        results = collected(_chunk_job(job) for job in jobs)
    theta = np.empty_like(theta)
    gnorm = np.empty(len(theta))
    for first, result in enumerate(results):
        theta[first::count] = result.theta
        gnorm[first::count] = result.grad_norm
    return CriticalPointSearch(theta, potential.unflatten(theta), gnorm, gnorm <= gtol,
                               max(r.nit for r in results))


def _chunk_job(job) -> CriticalPointSearch:
    return _levenberg_marquardt(*job)


def _levenberg_marquardt(potential, theta, gtol, max_iter, damping, min_step=0.0
                         ) -> CriticalPointSearch:
    single = theta.ndim == 1
    if single:
        theta = theta[None]
    B, dim = theta.shape
    g = _flat_gradient(potential, theta)
    gnorm = np.linalg.norm(g, axis=1)
    lam = np.full(B, damping)
    stalled = np.zeros(B, dtype=bool)  # an accepted step at most min_step·‖θ‖
    diagonal = np.arange(dim)
    it = 0
    for it in range(1, max_iter + 1):
        # Starts whose λ saturated are stuck at a nonzero minimum of ‖g‖²: leave them.
        active = (gnorm > gtol) & (lam < 1e12) & ~stalled
        if not active.any():
            it -= 1
            break
        idx = np.flatnonzero(active)
        th = theta[idx]
        H = potential.hessian(th)
        scale = np.maximum(np.abs(H).max(axis=(1, 2)), 1e-12)
        HH = H @ H
        rhs = np.einsum("bij,bj->bi", H, g[idx])
        for _ in range(8):  # raise λ until the step reduces ‖g‖
            # HH + λ s² I without forming λ s² I: the same sums, a third of the memory traffic
            A = HH.copy()
            A[:, diagonal, diagonal] += (lam[idx] * scale**2)[:, None]
            step = np.linalg.solve(A, rhs[..., None])[..., 0]
            trial = th - step
            g_trial = _flat_gradient(potential, trial)
            n_trial = np.linalg.norm(g_trial, axis=1)
            better = n_trial < gnorm[idx]
            accept = idx[better]
            theta[accept] = trial[better]
            g[accept] = g_trial[better]
            gnorm[accept] = n_trial[better]
            lam[accept] = np.maximum(lam[accept] / 4, 1e-15)
            if min_step > 0.0:
                stalled[accept] = (np.linalg.norm(step[better], axis=1)
                                   <= min_step * np.linalg.norm(th[better], axis=1))
            lam[idx[~better]] *= 8
            keep = ~better
            idx, th, rhs, HH, scale = idx[keep], th[keep], rhs[keep], HH[keep], scale[keep]
            if idx.size == 0:
                break
    if single:
        return CriticalPointSearch(theta[0], potential.unflatten(theta[0]), gnorm[0],
                                   bool(gnorm[0] <= gtol), it)
    return CriticalPointSearch(theta, potential.unflatten(theta), gnorm, gnorm <= gtol, it)


#: How far from a boundary an input to :func:`polish` may sit and still be held on it. The input
#: has a gradient ≲ 1e-8; where the critical point lies on a boundary across which L is C² but not
#: C³ (s³ terms), the gradient grows like s², so the distance s can be ~ √1e-8.
BOUNDARY_REACH = 1e-4

#: Distinct scales of switching-function values: a ratio of at least this between consecutive
#: sorted |s_k| separates "on the boundary up to float64 error" from "near it".
SCALE_GAP = 10.0

#: At most this many active sets are tried by the boundary phase (the largest first).
MAX_ACTIVE_SETS = 6


@dataclass
class PolishResult:
    """Result of :func:`polish`.

    Attributes
    ----------
    theta : ndarray of mpmath numbers
        The refined point, at ``dps`` digits.
    parameters : tuple of ndarray
        The same point as the model's parameters.
    grad_norm : mpmath.mpf
        Norm of the full gradient there, evaluated at ``dps`` digits.
    success : bool
        ``grad_norm <= tol``.
    nit : int
        Steps taken (Newton steps, plus the tangent steps of the boundary phase if it ran).
    message : str
    history : list of mpmath.mpf
        Gradient norms after each step (both phases, in order).
    method : str
        ``"newton"`` (free Newton steps sufficed or nothing better was found),
        ``"boundary-newton"`` (the point was refined with switching functions held at zero)
        or ``"precise-levenberg-marquardt"`` (:func:`precise_polish`).
    active : list of int
        Indices of the switching functions (``potential.switching_functions``) held at zero by
        the boundary phase when it succeeded; ``[]`` otherwise.
    """

    theta: np.ndarray
    parameters: tuple
    grad_norm: object
    success: bool
    nit: int
    message: str = ""
    history: list = field(default_factory=list)
    method: str = "newton"
    active: list = field(default_factory=list)


def _mp_gradient(potential: Potential, theta, dps):
    return potential.loss_and_gradient(np.asarray(theta, dtype=object), dps=dps)[1]


def _mp_norm(values):
    return mpmath.sqrt(mpmath.fsum(x * x for x in values))


def _shifted(theta, step):
    """θ + step, the float64 step applied at full precision."""
    return theta + np.array([mpmath.mpf(float(s)) for s in step], dtype=object)


def _stalled(history: list) -> bool:
    """Three steps without a tenfold gain."""
    return len(history) >= 4 and history[-1] > history[-4] / 10


def polish(potential: Potential, theta, dps: int = 60, tol=None, max_iter: int = 20
           ) -> PolishResult:
    """Refine a float64 critical point to ``dps`` digits, also one on an activation boundary.

    Parameters
    ----------
    potential : Potential
    theta : array_like, shape (dim,)
        A point close to a critical point (gradient ≲ 1e-8), floats, strings or mpmath numbers.
    dps : int
        Working precision in decimal digits.
    tol : mpmath.mpf, optional
        Target gradient norm; default 10^-(dps - 15).
    max_iter : int
        Steps at most of the Newton phase, and of each attempt of the boundary phase.

    Returns
    -------
    PolishResult
        ``success`` iff the gradient norm, evaluated by the potential at ``dps`` digits at the
        returned point, is at most ``tol`` (whichever phase produced it).

    Notes
    -----
    *Newton phase.* Steps ``-H⁺ g`` with H⁺ the float64 pseudo-inverse (eigenvalues below 1e-10
    of the largest dropped: the symmetry orbit and flat directions), g at full precision. On a
    smooth point this is all that runs, and the result is the same as without the second phase.

    *Boundary phase* (only if the Newton phase fails and the potential has switching
    functions s_k, whose zero sets bound its smooth pieces). Where the critical point lies on
    such a boundary, Newton's model is the wrong piece's on one side: the steps cycle across
    it, converge linearly (a Hessian jump), or crawl because the gradient grows like s² (a
    boundary where L is C² but not C³). The cure is to put the point on the boundary exactly.
    The active set is {k : |s_k| ≤ τ} for a threshold τ ≤ :data:`BOUNDARY_REACH` at a gap of
    the sorted |s_k| (ratio ≥ :data:`SCALE_GAP`), largest set first. For each, alternate

    1. projection onto the manifold M = {s_k = 0, k active}: minimum-norm Newton steps
       ``-S⁺ s`` (S the float64 Jacobian of the active s_k, s at full precision) until
       ‖s‖ ≤ tol/1000;
    2. a Gauss–Newton step for g = 0 restricted to M: ``-N (H N)⁺ g``, N an orthonormal basis
       of ker S (the tangent space of M).

    This is Newton's method for the critical point of L restricted to one stratum of its
    piecewise-smooth structure. Its Jacobian H N is the same for every adjacent piece: L is C¹,
    so the Hessians of two pieces differ only by terms ∇s_k ∇s_lᵀ of active switching functions,
    which vanish on tangent vectors; steps therefore gain ~16 digits each (the float64
    Jacobian), as on a smooth point. A least-squares step on the stacked system [g; s] instead
    lets the normal components of the step feel the wrong piece's Hessian and converges only
    linearly (measured: a factor ~0.15 a step on n = 6 points where all biases vanish). An
    attempt ends when the gradient makes no tenfold gain in three steps (a constraint that is
    not really active, or M misses the critical point); the next smaller set is tried.

    Neither phase relaxes the criterion: success is ``‖∇L‖ ≤ tol`` at ``dps`` digits, from the
    potential's own evaluator, at the returned point. If both phases fail the Newton phase's
    point is returned. Not a proof (see ``critpoints.solve``'s interval certificates).
    """
    with mpmath.workdps(dps):
        tol = mpmath.mpf(10) ** (-(dps - 15)) if tol is None else mpmath.mpf(tol)
        theta = np.array([mpmath.mpf(v) for v in np.asarray(theta, dtype=object)], dtype=object)
        start = theta
        g = _mp_gradient(potential, theta, dps)
        norm = _mp_norm(g)
        history = [norm]
        pinv = None
        it = 0
        for it in range(1, max_iter + 1):
            if norm <= tol:
                it -= 1
                break
            if pinv is None or it % 4 == 0:
                H = potential.hessian(theta.astype(float))
                values, vectors = np.linalg.eigh(H)
                keep = np.abs(values) > 1e-10 * max(np.abs(values).max(), 1e-300)
                pinv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
            step = pinv @ g.astype(float)
            theta = _shifted(theta, -step)
            g = _mp_gradient(potential, theta, dps)
            new_norm = _mp_norm(g)
            history.append(new_norm)
            # Stalled (typically on an activation boundary, where Newton's model is wrong on
            # one side): three steps without a tenfold gain end the refinement.
            norm = new_norm
            if it >= 3 and _stalled(history):
                break
        if norm <= tol:
            return PolishResult(theta, potential.unflatten(theta), norm, True, it, "converged",
                                history)
        for active in _active_sets(potential, start):
            found, found_norm, steps, attempt = _boundary_newton(potential, start, active, dps,
                                                                 tol, max_iter)
            it += steps
            history.extend(attempt)
            if found_norm <= tol:
                return PolishResult(found, potential.unflatten(found), found_norm, True, it,
                                    f"converged on {active.size} boundaries", history,
                                    "boundary-newton", [int(k) for k in active])
        message = f"gradient norm {mpmath.nstr(norm, 5)} > tolerance"
        return PolishResult(theta, potential.unflatten(theta), norm, False, it, message,
                            history)


def verification_bound(digits: int):
    """The gradient norm a ``digits``-digit critical point must reach: 10^(20 − digits)."""
    return mpmath.mpf(10) ** (20 - digits)


def polish_to_digits(potential: Potential, theta, digits: int, max_iter: int = 20
                     ) -> PolishResult:
    """:func:`polish` until every one of ``digits`` stored digits has converged, else to the
    verification bound.

    First at ``digits`` + 20 digits to ‖∇L‖ ≤ 10^−(digits + 12): the point is then fixed to
    every stored digit by the equations alone (stored digits are significant digits: a
    coordinate of size 10^−3 needs 10^−63 absolute, and ten more for safety). Stopping at the
    verification bound (:func:`verification_bound`, 10^−40 at 60 digits) leaves the last ~15
    stored digits to the float64 start and to the float64 pseudo-inverses of the steps (BLAS
    kernels differ between machines: other bytes elsewhere), and leaves the point too far from
    the critical point for a Krawczyk box of radius 10^−40. Where that refinement stalls (some
    points on activation boundaries) the verification bound at ``digits`` digits is the
    criterion, as before. Where both fail, :func:`precise_polish` (the Hessian at full
    precision) tries to every digit, and is accepted at the verification bound.

    A coordinate that ends below 10^−digits in magnitude is zero to every stored digit: it is
    set to exactly 0 when the gradient there still meets the criterion (a bias on a kink at
    b = 0 would otherwise carry a rounding residue of either sign, which picks the side of a
    one-sided Hessian).
    """
    with mpmath.workdps(digits + 20):
        deep = mpmath.mpf(10) ** (-digits - 12)
        result = polish(potential, theta, dps=digits + 20, tol=deep, max_iter=max_iter)
        tolerance, dps = deep, digits + 20
        if not result.success:
            tolerance, dps = verification_bound(digits), digits
            result = polish(potential, theta, dps=dps, tol=tolerance, max_iter=max_iter)
        if not result.success:
            # the last resort: the Hessian at full precision (costly, see precise_polish), to
            # every digit if it gets there, else to the bound
            precise = precise_polish(potential, theta, digits + 20, deep)
            if precise.success:
                tolerance, dps, result = deep, digits + 20, precise
            elif precise.grad_norm <= verification_bound(digits):
                tolerance, dps = verification_bound(digits), digits + 20
                result = replace(precise, success=True, message="converged to the "
                                 "verification bound (precise Levenberg–Marquardt)")
            else:
                return result
        tiny = mpmath.mpf(10) ** (-digits)
        snapped = np.array([mpmath.mpf(0) if abs(v) <= tiny else v for v in result.theta],
                           dtype=object)
        if all(a is b for a, b in zip(snapped, result.theta)):
            return result
        norm = _mp_norm(_mp_gradient(potential, snapped, dps))
        if norm > tolerance:
            return result
        return replace(result, theta=snapped, parameters=potential.unflatten(snapped),
                       grad_norm=norm)


def precise_polish(potential: Potential, theta, dps: int, tol, max_iter: int = 12
                   ) -> PolishResult:
    """Levenberg–Marquardt with the Hessian at full precision: the last resort of
    :func:`polish_to_digits`, for points where :func:`polish` fails.

    :func:`polish` steps with a float64 pseudo-inverse whose cut (1e-10 of the largest
    eigenvalue) is fixed. Where the Hessian has eigenvalues near that cut — tiny curvatures
    beside the symmetry's and the flat sets' zero modes, as at many points of the n = 8, m = 3
    census — float64 Newton steps gain a few digits each and then stall (‖∇L‖ ~ 1e-30), or
    blow up along a direction whose float64 eigenvalue is noise (‖∇L‖ ~ 1e+30). Here the
    Hessian is evaluated at ``dps`` digits and diagonalised (``mpmath.eigsy``, run in MPFR by
    :func:`critpoints.mpfr.eigsy`: the same bits, ≈ 10× faster at dimension 48); eigenvalues
    below √‖∇L‖ of the largest are dropped (the zero modes: they are O(‖∇L‖) off a critical
    point, while a real curvature is not), and the step −Σ cᵢ λᵢ/(λᵢ² + μλ²ₘₐₓ) vᵢ over the
    rest is accepted only when ‖∇L‖ falls. μ starts at 0 (Newton's step, quadratic
    convergence); a rejected step raises it to 1e-12, then ×8 (at most 12 tries); an accepted
    one divides it by 10⁴. Success
    is ``‖∇L‖ ≤ tol`` at ``dps`` digits; the refinement ends after three steps without a
    tenfold gain. Costly (an eigen-decomposition per step: ≈ 0.2 s at dimension 48).
    """
    with mpmath.workdps(dps):
        tol = mpmath.mpf(tol)
        theta = np.array([mpmath.mpf(v) for v in np.asarray(theta, dtype=object)], dtype=object)
        g = _mp_gradient(potential, theta, dps)
        norm = _mp_norm(g)
        history = [norm]
        mu = mpmath.mpf(0)  # Newton's step first; damped only after a rejected step
        it = 0
        for it in range(1, max_iter + 1):
            if norm <= tol or (it > 3 and _stalled(history)):
                it -= 1
                break
            H = potential.hessian(theta, dps=dps)
            values, vectors = mpfr.eigsy(H.tolist())  # mpmath.eigsy's bits, in MPFR
            scale = max(abs(v) for v in values)
            keep = [i for i, v in enumerate(values) if abs(v) > mpmath.sqrt(norm) * scale]
            coefficients = vectors.T * mpmath.matrix(list(g))
            for _ in range(12):
                step = [mpmath.fsum(coefficients[i] * values[i] / (values[i] ** 2
                                                                   + mu * scale ** 2)
                                    * vectors[r, i] for i in keep) for r in range(len(theta))]
                trial = theta - np.array(step, dtype=object)
                g_trial = _mp_gradient(potential, trial, dps)
                trial_norm = _mp_norm(g_trial)
                if trial_norm < norm:
                    theta, g, norm = trial, g_trial, trial_norm
                    mu /= 10**4
                    break
                mu = max(8 * mu, mpmath.mpf(10) ** -12)
            else:
                break
            history.append(norm)
        success = bool(norm <= tol)
        message = ("converged (precise Levenberg–Marquardt)" if success else
                   f"gradient norm {mpmath.nstr(norm, 5)} > tolerance (precise "
                   "Levenberg–Marquardt)")
        return PolishResult(theta, potential.unflatten(theta), norm, success, it, message,
                            history, "precise-levenberg-marquardt")


def _active_sets(potential: Potential, theta) -> list[np.ndarray]:
    """Candidate sets of switching functions to hold at zero, largest first: {k : |s_k| ≤ τ}
    for each τ ≤ BOUNDARY_REACH after which the sorted |s_k| jump by SCALE_GAP or more."""
    values, _ = potential.switching_functions(theta.astype(float))
    magnitudes = np.abs(np.asarray(values, dtype=float))
    ordered = np.sort(magnitudes)
    thresholds = [ordered[i] for i in range(len(ordered))
                  if ordered[i] <= BOUNDARY_REACH
                  and (i + 1 == len(ordered) or ordered[i + 1] > SCALE_GAP * ordered[i])]
    return [np.flatnonzero(magnitudes <= tau) for tau in reversed(thresholds)][:MAX_ACTIVE_SETS]


def _on_manifold(potential: Potential, theta, active, dps, target, max_iter: int):
    """Minimum-norm Newton steps onto {s_k = 0, k ∈ active}; (θ, ‖s‖)."""
    history = []
    for _ in range(max_iter):
        values, jacobian = potential.switching_functions(theta, dps=dps)
        residual = values[active]
        history.append(_mp_norm(residual))
        if history[-1] <= target or _stalled(history):
            break
        step = np.linalg.lstsq(jacobian[active], residual.astype(float), rcond=1e-10)[0]
        theta = _shifted(theta, -step)
    return theta, history[-1]


def _boundary_newton(potential: Potential, theta, active, dps, tol, max_iter: int):
    """Newton for ∇L = 0 on the stratum {s_k = 0, k ∈ active} (see :func:`polish`).

    Returns (θ, ‖∇L‖ at θ, tangent steps taken, gradient norms after each projection).
    """
    history = []
    steps = 0
    while True:
        theta, _ = _on_manifold(potential, theta, active, dps, tol / 1000, max_iter)
        g = _mp_gradient(potential, theta, dps)
        history.append(_mp_norm(g))
        if history[-1] <= tol or _stalled(history) or steps == max_iter:
            return theta, history[-1], steps, history
        theta_f = theta.astype(float)
        H = potential.hessian(theta_f)
        _, jacobian = potential.switching_functions(theta_f)
        _, singular, vt = np.linalg.svd(jacobian[active])
        rank = int((singular > 1e-10 * max(singular.max(), 1e-300)).sum())
        tangents = vt[rank:].T
        coefficients = np.linalg.lstsq(H @ tangents, g.astype(float), rcond=1e-10)[0]
        theta = _shifted(theta, -(tangents @ coefficients))
        steps += 1
