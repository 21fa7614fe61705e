"""Independent search for critical points: root finding on the gradient from random starts.

Used to test completeness of :func:`critpoints.linear.critical.enumerate_critical_points`: every
root found must have W = AB equal to a catalogued projection onto eigen-directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from critpoints.linear.covariance import EigenSystem
from critpoints.linear.critical import _pack, hessian_matrix
from critpoints.linear.symbolic import evaluators

__all__ = ["GradientRoot", "find_gradient_roots", "match_projection"]


@dataclass(frozen=True)
class GradientRoot:
    """Result of one root-finding run.

    Attributes
    ----------
    A, B : numpy.ndarray
        End point.
    W : numpy.ndarray
        A B.
    grad_norm : float
        ‖∇E‖ at the end point.
    converged : bool
        grad_norm ≤ the requested tolerance.
    """

    A: np.ndarray
    B: np.ndarray
    W: np.ndarray
    grad_norm: float
    converged: bool


def find_gradient_roots(
    sigma: np.ndarray, m: int, *, starts: int, seed: int, scale: float = 1.0, gtol: float = 1e-10
) -> list[GradientRoot]:
    """Solve ∇E(A, B) = 0 by Levenberg–Marquardt (Jacobian = Hessian) from random starts.

    Parameters
    ----------
    sigma : numpy.ndarray
    m : int
    starts : int
        Number of random starts, entries N(0, scale²) from ``default_rng(seed)``.
    seed : int
    scale : float
    gtol : float
        Gradient-norm threshold for ``converged``.

    Returns
    -------
    list of GradientRoot
    """
    n = len(sigma)
    ev = evaluators()
    rng = np.random.default_rng(seed)

    def unpack(theta):
        return theta[: n * m].reshape(n, m), theta[n * m :].reshape(m, n)

    def residual(theta):
        return _pack(*ev.gradient(*unpack(theta), sigma))

    def jacobian(theta):
        return hessian_matrix(*unpack(theta), sigma)

    roots = []
    for _ in range(starts):
        theta0 = scale * rng.standard_normal(2 * n * m)
        result = least_squares(residual, theta0, jac=jacobian, method="lm", xtol=1e-15,
                               ftol=1e-15, gtol=1e-15, max_nfev=2000)
        A, B = unpack(result.x)
        grad_norm = float(np.linalg.norm(residual(result.x)))
        roots.append(GradientRoot(A, B, A @ B, grad_norm, grad_norm <= gtol))
    return roots


def match_projection(W: np.ndarray, eig: EigenSystem, atol: float = 1e-6) -> tuple | None:
    """The subset J (ranks) with W = Σ_{j ∈ J} u_j u_jᵀ, or None if W is no such projection.

    Parameters
    ----------
    W : numpy.ndarray
    eig : EigenSystem
        With distinct eigenvalues.
    atol : float
        Max-entry tolerance of the comparison.
    """
    U = eig.eigenvectors
    in_eigenbasis = U.T @ W @ U
    diagonal = np.diag(in_eigenbasis)
    subset = tuple(int(j) + 1 for j in np.flatnonzero(diagonal > 0.5))
    projection = U[:, [j - 1 for j in subset]] @ U[:, [j - 1 for j in subset]].T
    if np.max(np.abs(W - projection)) > atol:
        return None
    return subset
