"""Steepest-descent paths of any :class:`~critpoints.potential.Potential`, batched.

A path follows the gradient flow dθ/ds = −∇L(θ) approximately: explicit steps θ ← θ − h∇L
with a step size h of its own per path, accepted when they satisfy Armijo's sufficient-decrease
condition L(θ − h∇L) ≤ L(θ) − c·h·‖∇L‖² (then h grows by ``grow``) and halved otherwise. The
move h‖∇L‖ of one step is capped by ``max_move`` so that a path cannot jump over a ridge into
another basin. Once ‖∇L‖ ≤ ``flow_gtol`` (or after ``max_steps``) the Levenberg–Marquardt search
:func:`critpoints.solve.find_critical_points` lands the path on the critical point nearby
(‖∇L‖ ≤ ``gtol``): gradient flow slows down without bound near a critical point, above all near
a degenerate one, while LM converges there quickly.

Every path is independent of the others in its batch (its own step size, its own stopping), so
a start's result does not depend on what it is batched with: ``workers`` > 1 processes (or an
open executor) share the starts in interleaved chunks with the same result to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critpoints.potential import Potential
from critpoints.solve import find_critical_points

__all__ = ["DescentPaths", "steepest_descent"]


@dataclass
class DescentPaths:
    """Result of :func:`steepest_descent` (arrays over the batch of starts).

    Attributes
    ----------
    theta : ndarray, shape (B, dim)
        End points: the critical points the paths reached (after the LM finish).
    loss : ndarray, shape (B,)
        L at the end points.
    grad_norm : ndarray, shape (B,)
        ‖∇L‖ at the end points.
    converged : ndarray of bool, shape (B,)
        ``grad_norm <= gtol``: the end is a critical point to float64 accuracy.
    flow_converged : ndarray of bool, shape (B,)
        The descent itself reached ‖∇L‖ ≤ ``flow_gtol`` within ``max_steps``.
    start_loss : ndarray, shape (B,)
        L at the starts.
    max_loss : ndarray, shape (B,)
        The largest L met along each path (starts, accepted steps and end point). Accepted
        descent steps only lower L, so this is the start's loss unless the LM finish rose above
        it.
    steps : ndarray of int, shape (B,)
        Accepted descent steps of each path.
    finish_iterations : int
        Iterations of the LM finish (over the batch).
    """

    theta: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    converged: np.ndarray
    flow_converged: np.ndarray
    start_loss: np.ndarray
    max_loss: np.ndarray
    steps: np.ndarray
    finish_iterations: int


def steepest_descent(
    potential: Potential,
    theta,
    *,
    flow_gtol: float = 1e-7,
    gtol: float = 1e-12,
    max_steps: int = 50_000,
    initial_step: float = 0.1,
    max_move: float = 0.02,
    armijo: float = 1e-4,
    grow: float = 1.5,
    finish: bool = True,
    workers: int = 1,
    executor=None,
) -> DescentPaths:
    """Follow the steepest-descent path from each start to the critical point it reaches.

    Parameters
    ----------
    potential : Potential
        Any potential (float64 ``loss`` and ``loss_and_gradient`` batched over leading axes).
    theta : array_like, shape (B, dim) or (dim,)
        Starting points.
    flow_gtol : float
        The descent of a path stops once ‖∇L‖ ≤ ``flow_gtol``.
    gtol : float
        Gradient norm the LM finish aims for; ``converged`` is ``grad_norm <= gtol``.
    max_steps : int
        Descent iterations at most (each path stops on its own before that).
    initial_step : float
        Initial step size h of every path (in units of θ per unit of ∇L).
    max_move : float
        Largest Euclidean move h‖∇L‖ of one step: keeps the discrete path close to the flow.
    armijo : float
        The constant c of the sufficient-decrease condition.
    grow : float
        Factor by which h grows after an accepted step (it is halved after a rejected one).
    finish : bool
        Land on the critical point with :func:`~critpoints.solve.find_critical_points`; without
        it the ends are where the descent stopped.
    workers : int
        Processes sharing the starts (interleaved chunks, so that long and short paths mix);
        the result is the same to the bit for any ``workers`` (the evaluators work row by row).
    executor : optional
        Runs the chunks instead of a fresh process pool: anything with ``map(function,
        jobs)`` returning the results in order (e.g. the census's open pool).

    Returns
    -------
    DescentPaths

    Examples
    --------
    >>> import numpy as np
    >>> from critpoints.landscape.descent import steepest_descent
    >>> class Bowl:  # L = |θ|²/2
    ...     dim = 2
    ...     def loss(self, theta): return 0.5 * (np.asarray(theta) ** 2).sum(-1)
    ...     def loss_and_gradient(self, theta):
    ...         theta = np.asarray(theta, dtype=float)
    ...         return self.loss(theta), theta
    ...     def hessian(self, theta): return np.broadcast_to(np.eye(2), np.shape(theta) + (2,))
    ...     def unflatten(self, theta): return (theta,)
    >>> paths = steepest_descent(Bowl(), [[1.0, 0.5]])
    >>> bool(paths.converged[0]), float(abs(paths.theta[0]).max()) < 1e-12
    (True, True)
    """
    theta = np.array(theta, dtype=float)  # a copy: updated in place
    single = theta.ndim == 1
    if single:
        theta = theta[None]
    options = {"flow_gtol": flow_gtol, "gtol": gtol, "max_steps": max_steps,
               "initial_step": initial_step, "max_move": max_move, "armijo": armijo,
               "grow": grow, "finish": finish}
    count = min(len(theta), max(workers, 2 if executor is not None else 1))
    if count > 1 and len(theta) >= MIN_SHARED:
        result = _in_chunks(potential, theta, options, count, workers, executor)
    else:
        result = _descend(potential, theta, **options)
    if single:
        for name in ("theta", "loss", "grad_norm", "converged", "flow_converged", "start_loss",
                     "max_loss", "steps"):
            setattr(result, name, getattr(result, name)[0])
    return result


#: Fewer starts than this are descended in the calling process: starting processes costs more.
MIN_SHARED = 16


def _in_chunks(potential, theta, options, count, workers, executor) -> DescentPaths:
    chunks = [theta[first::count] for first in range(count)]
    jobs = [(potential, chunk, options) for chunk in chunks]
    if executor is not None:
        results = list(executor.map(_descent_job, jobs))
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(workers, count)) as pool:
            results = list(pool.map(_descent_job, jobs))
    fields = {}
    for name in ("theta", "loss", "grad_norm", "converged", "flow_converged", "start_loss",
                 "max_loss", "steps"):
        first = getattr(results[0], name)
        joined = np.empty((len(theta),) + first.shape[1:], dtype=first.dtype)
        for k, result in enumerate(results):
            joined[k::count] = getattr(result, name)
        fields[name] = joined
    return DescentPaths(**fields,
                        finish_iterations=max(r.finish_iterations for r in results))


def _descent_job(job) -> DescentPaths:
    potential, theta, options = job
    return _descend(potential, theta, **options)


def _descend(potential, theta, *, flow_gtol, gtol, max_steps, initial_step, max_move, armijo,
             grow, finish) -> DescentPaths:
    """The descent of a batch (B, dim) in this process (see :func:`steepest_descent`)."""
    B = theta.shape[0]
    loss, grad = potential.loss_and_gradient(theta)
    loss, grad = np.array(loss, dtype=float), np.array(grad, dtype=float)
    start_loss = loss.copy()
    max_loss = loss.copy()
    gnorm = np.linalg.norm(grad, axis=1)
    h = np.full(B, float(initial_step))
    steps = np.zeros(B, dtype=int)
    # A path whose step size underflows cannot go further (L flat to rounding): it stops too.
    for _ in range(max_steps):
        active = np.flatnonzero((gnorm > flow_gtol) & (h > 1e-300))
        if active.size == 0:
            break
        g = grad[active]
        step = np.minimum(h[active], max_move / gnorm[active])
        trial = theta[active] - step[:, None] * g
        trial_loss, trial_grad = potential.loss_and_gradient(trial)
        decrease = loss[active] - trial_loss
        ok = decrease >= armijo * step * gnorm[active] ** 2
        accepted = active[ok]
        theta[accepted] = trial[ok]
        loss[accepted] = trial_loss[ok]
        grad[accepted] = trial_grad[ok]
        gnorm[accepted] = np.linalg.norm(trial_grad[ok], axis=1)
        steps[accepted] += 1
        h[accepted] = step[ok] * grow
        h[active[~ok]] = step[~ok] / 2
    flow_converged = gnorm <= flow_gtol
    finish_iterations = 0
    if finish:
        search = find_critical_points(potential, theta, gtol=gtol)
        theta, finish_iterations = search.theta, search.nit
        loss, grad = potential.loss_and_gradient(theta)
        loss = np.array(loss, dtype=float)
        gnorm = np.linalg.norm(grad, axis=1)
        max_loss = np.maximum(max_loss, loss)
    return DescentPaths(theta, loss, gnorm, gnorm <= gtol, flow_converged, start_loss,
                        max_loss, steps, finish_iterations)
