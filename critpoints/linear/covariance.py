"""Data covariances Σ for the linear autoencoder and their (canonical) eigensystems.

Σ here is the summed second-moment matrix Σ_t x_t x_tᵀ of SPEC §1 (for population data, the
expectation E[x xᵀ]; the critical points do not care about an overall positive factor).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np

from critpoints import mpfr

__all__ = [
    "CovarianceError",
    "EigenSystem",
    "RepeatedEigenvalueError",
    "canonical_eigensystem",
    "canonical_eigensystem_mp",
    "random_covariance",
    "sparse_covariance",
    "sparse_covariance_eigenvalues",
    "validate_covariance",
]

#: Eigenvalues closer than this (relative to the largest) are treated as equal.
CLUSTER_RTOL = 1e-9


class CovarianceError(ValueError):
    """Σ is not a usable covariance (not square, not finite, not symmetric, not positive
    definite)."""


class RepeatedEigenvalueError(CovarianceError):
    """Σ has a repeated eigenvalue where distinct eigenvalues were required."""


def random_covariance(n: int, seed: int) -> np.ndarray:
    """Random SPD Σ = Xᵀ X / T: the sample second moment of T = 4n standard Gaussian vectors.

    Parameters
    ----------
    n : int
        Dimension.
    seed : int
        Seed for :func:`numpy.random.default_rng` (same seed → same bytes).

    Returns
    -------
    numpy.ndarray
        n×n, exactly symmetric, positive definite with probability one, distinct eigenvalues with
        probability one.
    """
    rng = np.random.default_rng(seed)
    samples = rng.standard_normal((4 * n, n))
    sigma = samples.T @ samples / (4 * n)
    return (sigma + sigma.T) / 2  # exact symmetry, bit for bit


def sparse_covariance(n: int, sparsity: float) -> np.ndarray:
    """E[x xᵀ] for x_i = χ_i ξ_i, χ_i ~ Bernoulli(1 − S), ξ_i ~ U[0, 1], all independent.

    E[x_i²] = (1 − S) E[ξ²] = (1 − S)/3 and, for i ≠ j, E[x_i x_j] = ((1 − S) E[ξ])² = ((1 − S)/2)²,
    so E[x xᵀ] = ((1 − S)/3) I + ((1 − S)/2)² (J − I) (seed 000 §2.1, SPEC §1).

    Parameters
    ----------
    n : int
    sparsity : float
        S in [0, 1).

    Returns
    -------
    numpy.ndarray
    """
    if not 0.0 <= sparsity < 1.0:
        raise CovarianceError(f"sparsity must lie in [0, 1), got {sparsity}")
    diagonal = (1.0 - sparsity) / 3.0
    off_diagonal = ((1.0 - sparsity) / 2.0) ** 2
    sigma = np.full((n, n), off_diagonal)
    np.fill_diagonal(sigma, diagonal)
    return sigma


def sparse_covariance_eigenvalues(n: int, sparsity: float) -> tuple[float, float]:
    """Closed-form eigenvalues of :func:`sparse_covariance`.

    a I + c (J − I) has eigenvalue a + (n − 1) c on the all-ones vector and a − c on its orthogonal
    complement (multiplicity n − 1), with a = (1 − S)/3, c = ((1 − S)/2)².

    Returns
    -------
    (float, float)
        (λ_top, λ_rest); λ_rest has multiplicity n − 1.
    """
    a = (1.0 - sparsity) / 3.0
    c = ((1.0 - sparsity) / 2.0) ** 2
    return a + (n - 1) * c, a - c


def validate_covariance(sigma, *, symmetry_rtol: float = 1e-12) -> np.ndarray:
    """Check Σ is a finite, square, symmetric, positive-definite float matrix of size ≥ 2.

    Parameters
    ----------
    sigma : array_like
    symmetry_rtol : float
        Allowed max|Σ − Σᵀ| relative to max|Σ|; within it Σ is symmetrised exactly.

    Returns
    -------
    numpy.ndarray
        Σ as float64, exactly symmetric.

    Raises
    ------
    CovarianceError
        With a one-line reason.
    """
    try:
        sigma = np.asarray(sigma, dtype=float)
    except (TypeError, ValueError) as exc:
        raise CovarianceError(f"Σ is not a numeric matrix ({exc})") from None
    if sigma.ndim != 2 or sigma.shape[0] != sigma.shape[1]:
        raise CovarianceError(f"Σ must be a square matrix, got shape {sigma.shape}")
    if sigma.shape[0] < 2:
        raise CovarianceError(f"Σ must be at least 2×2, got {sigma.shape[0]}×{sigma.shape[0]}")
    if not np.all(np.isfinite(sigma)):
        raise CovarianceError("Σ has non-finite entries (NaN or inf)")
    scale = np.max(np.abs(sigma))
    if scale == 0.0:
        raise CovarianceError("Σ is the zero matrix, not positive definite")
    if np.max(np.abs(sigma - sigma.T)) > symmetry_rtol * scale:
        raise CovarianceError("Σ is not symmetric")
    sigma = (sigma + sigma.T) / 2
    eigenvalues = np.linalg.eigvalsh(sigma)
    if eigenvalues[0] <= CLUSTER_RTOL * eigenvalues[-1]:
        raise CovarianceError(
            f"Σ is not positive definite (smallest eigenvalue {eigenvalues[0]:.3g}, "
            f"largest {eigenvalues[-1]:.3g})"
        )
    return sigma


@dataclass(frozen=True)
class EigenSystem:
    """Eigenvalues in decreasing order with a canonical orthonormal eigenbasis.

    Attributes
    ----------
    eigenvalues : numpy.ndarray
        λ_1 ≥ … ≥ λ_n (rank r ↔ index r − 1).
    eigenvectors : numpy.ndarray
        Columns u_1 … u_n, canonical (see :func:`canonical_eigensystem`).
    clusters : tuple of tuple of int
        0-based indices grouped by equal eigenvalue (relative tolerance ``CLUSTER_RTOL``), in order.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    clusters: tuple

    @property
    def distinct(self) -> bool:
        """True iff every eigenvalue is simple."""
        return all(len(c) == 1 for c in self.clusters)

    def repeated_description(self) -> str:
        """One line naming the repeated eigenvalues, e.g. 'λ_2 = … = λ_6 = 0.0158 (5-fold)'."""
        parts = []
        for cluster in self.clusters:
            if len(cluster) > 1:
                names = " = ".join(f"λ_{i + 1}" for i in (cluster[0], cluster[-1]))
                value = self.eigenvalues[cluster[0]]
                parts.append(
                    f"{names.replace(' = ', ' = … = ')} = {value:.6g} ({len(cluster)}-fold)"
                )
        return "; ".join(parts)


def _clusters(eigenvalues: np.ndarray) -> tuple:
    tolerance = CLUSTER_RTOL * abs(eigenvalues[0])
    clusters, current = [], [0]
    for i in range(1, len(eigenvalues)):
        if eigenvalues[current[-1]] - eigenvalues[i] <= tolerance:
            current.append(i)
        else:
            clusters.append(tuple(current))
            current = [i]
    clusters.append(tuple(current))
    return tuple(clusters)


def _pivoted_basis(projector_columns, norm, dot, scale, subtract, count):
    """Pivoted Gram–Schmidt on the columns P e_k of an eigenspace projector.

    Why: an eigensolver returns an arbitrary basis of a repeated eigenspace (and arbitrary signs);
    projecting the standard basis vectors, always taking the longest remaining one (first index
    on near-ties), gives a basis that depends only on the eigenspace. For a simple eigenvalue it
    fixes the sign so that the largest-magnitude component is positive.
    """
    residuals = list(projector_columns)
    basis = []
    for _ in range(count):
        norms = [norm(r) for r in residuals]
        largest = max(norms)
        k = next(i for i, v in enumerate(norms) if v >= largest * (1 - 1e-6))
        q = scale(residuals[k], 1 / norms[k])
        basis.append(q)
        residuals = [subtract(r, scale(q, dot(q, r))) for r in residuals]
    return basis


def canonical_eigensystem(sigma: np.ndarray) -> EigenSystem:
    """Eigen-decompose Σ (float64) with a canonical eigenbasis.

    Parameters
    ----------
    sigma : numpy.ndarray
        Symmetric positive definite (see :func:`validate_covariance`).

    Returns
    -------
    EigenSystem
    """
    eigenvalues, vectors = np.linalg.eigh(sigma)
    order = np.argsort(eigenvalues, kind="stable")[::-1]
    eigenvalues, vectors = eigenvalues[order], vectors[:, order]
    clusters = _clusters(eigenvalues)
    basis = np.empty_like(vectors)
    for cluster in clusters:
        V = vectors[:, list(cluster)]
        projector = V @ V.T
        columns = _pivoted_basis(
            [projector[:, k] for k in range(len(sigma))],
            norm=np.linalg.norm, dot=np.dot, scale=lambda v, s: v * s,
            subtract=lambda u, v: u - v, count=len(cluster),
        )
        basis[:, list(cluster)] = np.column_stack(columns)
    return EigenSystem(eigenvalues, basis, clusters)


def canonical_eigensystem_mp(sigma: np.ndarray, clusters: tuple, dps: int):
    """The same canonical eigensystem at ``dps`` decimal digits (mpmath).

    Σ's float64 entries are taken as exact binary numbers; eigenvalues and eigenvectors are those
    of that exact matrix to about ``dps`` digits (``mpmath.eigsy``, run in MPFR:
    :func:`critpoints.mpfr.eigsy`).

    Parameters
    ----------
    sigma : numpy.ndarray
    clusters : tuple
        From the float64 :class:`EigenSystem` (the same grouping is used).
    dps : int

    Returns
    -------
    (list of mpf, numpy.ndarray of mpf)
        Eigenvalues in decreasing order, eigenvector columns as an n×n object array.
    """
    n = len(sigma)
    with mpmath.workdps(dps):
        eigenvalues, vectors = mpfr.eigsy(sigma.tolist())  # mpmath.eigsy's bits, in MPFR
        order = sorted(range(n), key=lambda i: eigenvalues[i], reverse=True)
        values = [eigenvalues[i] for i in order]
        columns = [[vectors[r, i] for r in range(n)] for i in order]
        basis = [None] * n
        for cluster in clusters:
            V = [columns[i] for i in cluster]
            projector_columns = [[sum(v[r] * v[k] for v in V) for r in range(n)] for k in range(n)]
            chosen = _pivoted_basis(
                projector_columns,
                norm=lambda u: mpmath.sqrt(sum(x * x for x in u)),
                dot=lambda u, v: sum(x * y for x, y in zip(u, v)),
                scale=lambda u, s: [x * s for x in u],
                subtract=lambda u, v: [x - y for x, y in zip(u, v)],
                count=len(cluster),
            )
            for i, column in zip(cluster, chosen):
                basis[i] = column
        matrix = np.empty((n, n), dtype=object)
        for i, column in enumerate(basis):
            matrix[:, i] = column
    return values, matrix
