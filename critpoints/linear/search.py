"""Independent search for critical points: the shared Levenberg–Marquardt search
(:func:`critpoints.solve.find_critical_points`) on the
:class:`~critpoints.linear.model.LinearAutoencoder` potential, from random starts.

Used to test completeness of :func:`critpoints.linear.critical.enumerate_critical_points`: every
root found must have W = AB equal to a catalogued projection onto eigen-directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critpoints.linear.covariance import EigenSystem
from critpoints.linear.model import LinearAutoencoder
from critpoints.solve.newton import find_critical_points

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
    sigma: np.ndarray, m: int, *, starts: int, seed: int, scale: float = 1.0, gtol: float = 1e-10,
    max_iter: int = 200,
) -> list[GradientRoot]:
    """Solve ∇E(A, B) = 0 by Levenberg–Marquardt on ‖∇E‖² from random starts (all at once).

    Parameters
    ----------
    sigma : numpy.ndarray
    m : int
    starts : int
        Number of random starts, entries N(0, scale²) from ``default_rng(seed)``.
    seed : int
    scale : float
    gtol : float
        Gradient-norm threshold for ``converged`` (a start stops there).
    max_iter : int
        Iterations at most.

    Returns
    -------
    list of GradientRoot
    """
    model = LinearAutoencoder(sigma, m)
    rng = np.random.default_rng(seed)
    theta0 = scale * rng.standard_normal((starts, model.dim))
    search = find_critical_points(model, theta0, gtol=gtol, max_iter=max_iter)
    found_A, found_B = search.parameters
    return [GradientRoot(A, B, A @ B, float(norm), bool(ok))
            for A, B, norm, ok in zip(found_A, found_B, search.grad_norm, search.converged)]


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
