"""The linear autoencoder E(A, B) = tr[(I − AB) Σ (I − AB)ᵀ] as a
:class:`critpoints.potential.Potential` (SPEC §1).

θ = (A row-major, B row-major), A n×m, B m×n. Values, gradients and Hessian-vector products come
from the sympy derivation (:func:`critpoints.linear.symbolic.evaluators`), in float64 or, on
object arrays, in mpmath. E is a polynomial: smooth everywhere, no flat coordinates; its zero
modes are the GL(m) orbit (A C, C⁻¹ B) and, for a repeated eigenvalue of Σ, the rotations inside
the eigenspace (R A, B Rᵀ) with R Σ Rᵀ = Σ.
"""

from __future__ import annotations

import itertools
from typing import Any

import mpmath
import numpy as np

from critpoints.linear.covariance import EigenSystem, canonical_eigensystem
from critpoints.linear.symbolic import evaluators
from critpoints.potential import SmoothPotential

__all__ = ["LinearAutoencoder"]


class LinearAutoencoder(SmoothPotential):
    """E(A, B) on θ = (vec A, vec B), row-major.

    Parameters
    ----------
    sigma : array_like, shape (n, n)
        Σ, symmetric positive definite.
    m : int
        Hidden size.
    eig : EigenSystem, optional
        Σ's canonical eigensystem (computed if not given): its clusters of equal eigenvalues
        give the rotation zero modes.

    Examples
    --------
    >>> import numpy as np
    >>> model = LinearAutoencoder(np.diag([3.0, 2.0, 1.0]), 1)
    >>> A = np.array([[1.0], [0.0], [0.0]])
    >>> float(model.loss(model.flatten(A, A.T)))   # tr Σ − λ_1 (SPEC §1)
    3.0
    """

    def __init__(self, sigma: Any, m: int, eig: EigenSystem | None = None):
        self.sigma = np.asarray(sigma, dtype=float)
        self.n, self.m = int(self.sigma.shape[0]), int(m)
        self.dim = 2 * self.n * self.m
        self.eig = canonical_eigensystem(self.sigma) if eig is None else eig

    def __repr__(self) -> str:
        return f"LinearAutoencoder(n={self.n}, m={self.m})"

    # parameters ↔ θ
    def flatten(self, A: Any, B: Any) -> np.ndarray:
        A, B = np.asarray(A), np.asarray(B)
        return np.concatenate([A.reshape(A.shape[:-2] + (-1,)), B.reshape(B.shape[:-2] + (-1,))],
                              axis=-1)

    def unflatten(self, theta: Any) -> tuple[np.ndarray, np.ndarray]:
        theta = np.asarray(theta)
        k = self.n * self.m
        if theta.shape[-1] != 2 * k:
            raise ValueError(f"θ must have last axis 2·n·m = {2 * k}; got {theta.shape[-1]}")
        A = theta[..., :k].reshape(theta.shape[:-1] + (self.n, self.m))
        B = theta[..., k:].reshape(theta.shape[:-1] + (self.m, self.n))
        return A, B

    # values and derivatives (the generated evaluators take one point: loop over the batch)
    def _sigma(self, dps: int | None):
        if dps is None:
            return self.sigma
        return np.array([[mpmath.mpf(x) for x in row] for row in self.sigma.tolist()],
                        dtype=object)

    def _point(self, theta: Any, dps: int | None) -> np.ndarray:
        if dps is None:
            return np.asarray(theta, dtype=float)
        return np.array([mpmath.mpf(v) for v in np.asarray(theta, dtype=object).ravel()],
                        dtype=object).reshape(np.shape(theta))

    def loss(self, theta: Any, dps: int | None = None):
        return self.loss_and_gradient(theta, dps=dps)[0]

    def loss_and_gradient(self, theta: Any, dps: int | None = None):
        ev = evaluators()
        with mpmath.workdps(dps or mpmath.mp.dps):
            theta = self._point(theta, dps)
            sigma = self._sigma(dps)
            batch = theta.shape[:-1]
            values = np.empty(batch, dtype=object if dps else float)
            gradients = np.empty(theta.shape, dtype=theta.dtype)
            for index in np.ndindex(*batch):
                A, B = self.unflatten(theta[index])
                values[index] = ev.loss(A, B, sigma)
                gradients[index] = self.flatten(*ev.gradient(A, B, sigma))
        return (values[()] if not batch else values), gradients

    def hessian(self, theta: Any, dps: int | None = None, side: Any = None) -> np.ndarray:
        """Built column by column from the generated Hessian-vector product, symmetrised."""
        hvp = evaluators().hessian_vector
        with mpmath.workdps(dps or mpmath.mp.dps):
            theta = self._point(theta, dps)
            sigma = self._sigma(dps)
            H = np.empty(theta.shape + (self.dim,), dtype=theta.dtype)
            zero, one = (mpmath.mpf(0), mpmath.mpf(1)) if dps else (0.0, 1.0)
            for index in np.ndindex(*theta.shape[:-1]):
                A, B = self.unflatten(theta[index])
                for k in range(self.dim):
                    e = np.full(self.dim, zero, dtype=theta.dtype)
                    e[k] = one
                    H[index + (slice(None), k)] = self.flatten(*hvp(A, B, sigma,
                                                                    *self.unflatten(e)))
            return (H + np.swapaxes(H, -1, -2)) / 2

    # geometry
    def orbit_tangents(self, theta: Any) -> np.ndarray:
        """GL(m): (A X, −X B) for X = e_p e_qᵀ; rotations R commuting with Σ: (K A, −B K) for
        K = u_p u_qᵀ − u_q u_pᵀ inside an eigenspace."""
        A, B = self.unflatten(np.asarray(theta, dtype=float))
        tangents = []
        for p, q in itertools.product(range(self.m), repeat=2):
            X = np.zeros((self.m, self.m))
            X[p, q] = 1.0
            tangents.append(self.flatten(A @ X, -X @ B))
        U = self.eig.eigenvectors
        for cluster in self.eig.clusters:
            for p, q in itertools.combinations(cluster, 2):
                K = np.outer(U[:, p], U[:, q]) - np.outer(U[:, q], U[:, p])
                tangents.append(self.flatten(K @ A, -B @ K))
        return np.array(tangents)
