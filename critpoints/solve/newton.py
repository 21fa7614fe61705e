"""Finding critical points of the TMS potential in full space.

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

from critpoints.tms import potential

__all__ = ["CriticalPointSearch", "find_critical_points", "polish", "PolishResult"]


@dataclass
class CriticalPointSearch:
    """Result of :func:`find_critical_points` for a batch of starts (arrays over the batch).

    Attributes
    ----------
    W, b : ndarray
        Final points, shapes (B, m, n) and (B, n).
    grad_norm : ndarray
        Euclidean norm of the full gradient at the final points.
    converged : ndarray of bool
        ``grad_norm <= gtol``.
    nit : int
        Iterations run.
    """

    W: np.ndarray
    b: np.ndarray
    grad_norm: np.ndarray
    converged: np.ndarray
    nit: int


def _flat_gradient(theta: np.ndarray, m: int, n: int) -> np.ndarray:
    W, b = potential.unflatten(theta, m, n)
    _, dW, db = potential.loss_and_gradient(W, b)
    return potential.flatten(dW, db)


def find_critical_points(
    W, b, *, gtol: float = 1e-12, max_iter: int = 200, damping: float = 1e-3
) -> CriticalPointSearch:
    """Levenberg–Marquardt search for zeros of the gradient from each start in a batch.

    Parameters
    ----------
    W : array_like, shape (B, m, n) or (m, n)
    b : array_like, shape (B, n) or (n,)
    gtol : float
        Stop a start once its gradient norm is at most this.
    max_iter : int
        Iterations at most.
    damping : float
        Initial Levenberg–Marquardt parameter (relative to the Hessian's scale).
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    single = W.ndim == 2
    if single:
        W, b = W[None], b[None]
    B, m, n = W.shape
    theta = potential.flatten(W, b).copy()
    dim = theta.shape[1]
    g = _flat_gradient(theta, m, n)
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
        H = potential.hessian(*potential.unflatten(th, m, n))
        scale = np.maximum(np.abs(H).max(axis=(1, 2)), 1e-12)
        HH = H @ H
        rhs = np.einsum("bij,bj->bi", H, g[idx])
        for _ in range(8):  # raise λ until the step reduces ‖g‖
            A = HH + (lam[idx] * scale**2)[:, None, None] * eye
            trial = th - np.linalg.solve(A, rhs[..., None])[..., 0]
            g_trial = _flat_gradient(trial, m, n)
            n_trial = np.linalg.norm(g_trial, axis=1)
            better = n_trial < gnorm[idx]
            accept = idx[better]
            theta[accept], g[accept], gnorm[accept] = trial[better], g_trial[better], n_trial[better]
            lam[accept] = np.maximum(lam[accept] / 4, 1e-15)
            lam[idx[~better]] *= 8
            keep = ~better
            idx, th, rhs, HH, scale = idx[keep], th[keep], rhs[keep], HH[keep], scale[keep]
            if idx.size == 0:
                break
    W_out, b_out = potential.unflatten(theta, m, n)
    result = CriticalPointSearch(W_out, b_out, gnorm, gnorm <= gtol, it)
    if single:
        result.W, result.b = W_out[0], b_out[0]
        result.grad_norm, result.converged = gnorm[0], bool(gnorm[0] <= gtol)
    return result


@dataclass
class PolishResult:
    """Result of :func:`polish`.

    Attributes
    ----------
    W, b : ndarray of mpmath numbers
        The refined point, at ``dps`` digits.
    grad_norm : mpmath.mpf
        Norm of the full gradient there, evaluated at ``dps`` digits.
    success : bool
        ``grad_norm <= tol``.
    nit : int
        Newton steps taken.
    message : str
    """

    W: np.ndarray
    b: np.ndarray
    grad_norm: object
    success: bool
    nit: int
    message: str = ""
    history: list = field(default_factory=list)


def _mp_gradient(theta, m, n, dps):
    W, b = potential.unflatten(np.asarray(theta, dtype=object), m, n)
    dW, db = potential.gradient(W, b, dps=dps)
    return potential.flatten(dW, db)


def polish(W, b, dps: int = 60, tol=None, max_iter: int = 20) -> PolishResult:
    """Refine a float64 critical point to ``dps`` digits.

    Parameters
    ----------
    W, b : array_like
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
    W = np.asarray(W, dtype=object)
    b = np.asarray(b, dtype=object)
    m, n = W.shape
    with mpmath.workdps(dps):
        tol = mpmath.mpf(10) ** (-(dps - 15)) if tol is None else mpmath.mpf(tol)
        theta = np.array([mpmath.mpf(v) for v in potential.flatten(W, b)], dtype=object)
        g = _mp_gradient(theta, m, n, dps)
        norm = mpmath.sqrt(mpmath.fsum(x * x for x in g))
        history = [norm]
        pinv = None
        it = 0
        for it in range(1, max_iter + 1):
            if norm <= tol:
                it -= 1
                break
            if pinv is None or it % 4 == 0:
                Wf, bf = potential.unflatten(theta.astype(float), m, n)
                H = potential.hessian(Wf, bf)
                values, vectors = np.linalg.eigh(H)
                keep = np.abs(values) > 1e-10 * max(np.abs(values).max(), 1e-300)
                pinv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
            step = pinv @ g.astype(float)
            # The step is a float64 vector; apply it at full precision.
            theta = theta - np.array([mpmath.mpf(float(s)) for s in step], dtype=object)
            g = _mp_gradient(theta, m, n, dps)
            new_norm = mpmath.sqrt(mpmath.fsum(x * x for x in g))
            history.append(new_norm)
            # Stalled (typically on an activation boundary, where Newton's model is wrong on
            # one side): three steps without a tenfold gain end the refinement.
            if it >= 3 and new_norm > history[-4] / 10:
                norm = new_norm
                break
            norm = new_norm
        W_out, b_out = potential.unflatten(theta, m, n)
        success = bool(norm <= tol)
        message = "converged" if success else f"gradient norm {mpmath.nstr(norm, 5)} > tolerance"
        return PolishResult(W_out, b_out, norm, success, it, message, history)
