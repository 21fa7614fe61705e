"""Finding critical points of any :class:`critpoints.potential.Potential` in full space.

The Hessian is singular along symmetry orbits and flat dead features, so plain Newton steps are
ill-posed. Two tools:

- :func:`find_critical_points`: Levenberg–Marquardt on the gradient (minimises ‖∇L‖², steps
  ``-(H² + λI)⁻¹ H g``), float64, vectorised over a batch of starting points. It converges to
  critical points of any index, not only minima.
- :func:`polish`: Newton refinement to high precision: residuals (the gradient) in mpmath at
  ``dps`` digits, steps from the float64 pseudo-inverse of the Hessian (zero modes dropped), so
  each step gains about 16 digits minus log10 of the condition number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np

from critpoints.potential import Potential

__all__ = ["CriticalPointSearch", "PolishResult", "find_critical_points", "polish"]


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


def find_critical_points(
    potential: Potential, theta, *, gtol: float = 1e-12, max_iter: int = 200,
    damping: float = 1e-3,
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
    """
    theta = np.array(theta, dtype=float)  # a copy: updated in place below
    single = theta.ndim == 1
    if single:
        theta = theta[None]
    B, dim = theta.shape
    g = _flat_gradient(potential, theta)
    gnorm = np.linalg.norm(g, axis=1)
    lam = np.full(B, damping)
    eye = np.eye(dim)
    it = 0
    for it in range(1, max_iter + 1):
        # Starts whose λ saturated are stuck at a nonzero minimum of ‖g‖²: leave them.
        active = (gnorm > gtol) & (lam < 1e12)
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
            A = HH + (lam[idx] * scale**2)[:, None, None] * eye
            trial = th - np.linalg.solve(A, rhs[..., None])[..., 0]
            g_trial = _flat_gradient(potential, trial)
            n_trial = np.linalg.norm(g_trial, axis=1)
            better = n_trial < gnorm[idx]
            accept = idx[better]
            theta[accept] = trial[better]
            g[accept] = g_trial[better]
            gnorm[accept] = n_trial[better]
            lam[accept] = np.maximum(lam[accept] / 4, 1e-15)
            lam[idx[~better]] *= 8
            keep = ~better
            idx, th, rhs, HH, scale = idx[keep], th[keep], rhs[keep], HH[keep], scale[keep]
            if idx.size == 0:
                break
    if single:
        return CriticalPointSearch(theta[0], potential.unflatten(theta[0]), gnorm[0],
                                   bool(gnorm[0] <= gtol), it)
    return CriticalPointSearch(theta, potential.unflatten(theta), gnorm, gnorm <= gtol, it)


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
        Newton steps taken.
    message : str
    """

    theta: np.ndarray
    parameters: tuple
    grad_norm: object
    success: bool
    nit: int
    message: str = ""
    history: list = field(default_factory=list)


def _mp_gradient(potential: Potential, theta, dps):
    return potential.loss_and_gradient(np.asarray(theta, dtype=object), dps=dps)[1]


def polish(potential: Potential, theta, dps: int = 60, tol=None, max_iter: int = 20
           ) -> PolishResult:
    """Refine a float64 critical point to ``dps`` digits.

    Parameters
    ----------
    potential : Potential
    theta : array_like, shape (dim,)
        A point close to a critical point (gradient ≲ 1e-8), floats, strings or mpmath numbers.
    dps : int
        Working precision in decimal digits.
    tol : mpmath.mpf, optional
        Target gradient norm; default 10^-(dps - 15).

    Notes
    -----
    Newton steps ``-H⁺ g`` with H⁺ the float64 pseudo-inverse (eigenvalues below 1e-10 of the
    largest dropped: the symmetry orbit and flat directions), g at full precision. The result is
    a critical point to ``tol`` if ``success``; it is not a proof (see ``critpoints.solve``'s
    interval certificates for that).
    """
    with mpmath.workdps(dps):
        tol = mpmath.mpf(10) ** (-(dps - 15)) if tol is None else mpmath.mpf(tol)
        theta = np.array([mpmath.mpf(v) for v in np.asarray(theta, dtype=object)], dtype=object)
        g = _mp_gradient(potential, theta, dps)
        norm = mpmath.sqrt(mpmath.fsum(x * x for x in g))
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
            # The step is a float64 vector; apply it at full precision.
            theta = theta - np.array([mpmath.mpf(float(s)) for s in step], dtype=object)
            g = _mp_gradient(potential, theta, dps)
            new_norm = mpmath.sqrt(mpmath.fsum(x * x for x in g))
            history.append(new_norm)
            # Stalled (typically on an activation boundary, where Newton's model is wrong on
            # one side): three steps without a tenfold gain end the refinement.
            if it >= 3 and new_norm > history[-4] / 10:
                norm = new_norm
                break
            norm = new_norm
        success = bool(norm <= tol)
        message = "converged" if success else f"gradient norm {mpmath.nstr(norm, 5)} > tolerance"
        return PolishResult(theta, potential.unflatten(theta), norm, success, it, message,
                            history)
