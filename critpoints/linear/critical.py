"""Enumeration, verification and classification of the linear autoencoder's critical points.

Every critical point of E(A, B) = tr[(I − AB) Σ (I − AB)ᵀ] (Σ SPD) has W = AB equal to the
orthogonal projection onto span{u_j : j ∈ J} for a set J of eigen-directions with |J| = rank W ≤ m
(Baldi–Hornik; |J| = m exactly when A has full rank). We catalogue one representative per orbit
of the symmetry group:

    A = [u_{j_1}, …, u_{j_r}, 0, …, 0]  (n×m),  B = Aᵀ,

with r = |J| "live" hidden units and m − r "dead" ones (the canonical gauge C = I; for r = m this
is A = U_J, B = U_Jᵀ). When Σ has a repeated eigenvalue the critical points form continuous
families; a family is fixed by how many directions it takes from each eigenspace and is
represented by the first ones of a canonical basis.

Hessian at the representative (derived in docs/linear.md, checked by
:func:`critpoints.linear.symbolic.symbolic_hessian_spectrum`), with i ∈ J, j ∉ J:

- each ordered pair (i, i') ∈ J×J: eigenvalues 4λ_{i'} and 0   (r² zeros: the GL orbit);
- each pair (i ∈ J, j ∉ J): (λ_i + λ_j) ± √((λ_i − λ_j)² + 4λ_j²), negative iff λ_j > λ_i;
- each dead unit and j ∉ J: ±2λ_j;  each dead unit and i ∈ J: 0, 0.

Hence the index is (m − r)(n − r) + #{(i, j) : i ∈ J, j ∉ J, λ_j > λ_i}; with distinct eigenvalues
and J = {r_1 < … < r_r} (ranks, 1 = largest) that is (m − r)(n − r) + Σ_k (r_k − k).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import mpmath
import numpy as np

from critpoints.linear.covariance import EigenSystem, canonical_eigensystem, validate_covariance
from critpoints.linear.model import LinearAutoencoder
from critpoints.linear.symbolic import evaluators
from critpoints.solve.classify import classify

__all__ = [
    "CriticalPoint",
    "Escape",
    "HessianSpectrum",
    "enumerate_critical_points",
    "escape_direction",
    "gradient_norm_mp",
    "hessian_matrix",
    "hessian_spectrum",
    "predicted_hessian_eigenvalues",
    "predicted_index",
    "predicted_symmetry_zeros",
    "representative",
]


@dataclass(frozen=True)
class HessianSpectrum:
    """Eigenvalues of the full 2nm×2nm Hessian, their sign counts and what they decide.

    Attributes
    ----------
    eigenvalues : numpy.ndarray
        Ascending, float64, unrounded.
    n_pos, n_neg, n_zero : int
        Counts with the shared zero rule of :mod:`critpoints.solve.classify`
        (|μ| ≤ 1e-9 · max(1, max|μ|), refined at 60 digits in the grey zone).
    n_zero_symmetry : int
        Dimension of the symmetry orbit through the point (zeros the symmetries explain).
    stored_eigenvalues : list of float
        The eigenvalues as catalogs store them: 8 significant digits, zeros as 0.0 (the last
        bits of a LAPACK eigenvalue differ between machines).
    classification : str
        ``"minimum"``, ``"saddle"`` or ``"degenerate"``: any negative eigenvalue makes a saddle;
        none and every zero explained makes a (Morse–Bott) minimum; otherwise second order
        cannot decide.
    """

    eigenvalues: np.ndarray
    n_pos: int
    n_neg: int
    n_zero: int
    n_zero_symmetry: int
    classification: str
    stored_eigenvalues: list = field(default_factory=list)


@dataclass(frozen=True)
class Escape:
    """An explicit loss-lowering perturbation of a saddle (Proposition 3 of seed 000 §1.2).

    Attributes
    ----------
    kind : str
        ``"swap"``: rotate live direction u_i towards the excluded, larger u_j,
        A_ε = A with column u_i replaced by (u_i + ε u_j)/√(1 + ε²), B_ε = A_εᵀ;
        exact ΔE(ε) = −(λ_j − λ_i) ε² / (1 + ε²).
        ``"grow"``: give a dead hidden unit k the excluded direction u_j,
        A_ε = A + ε u_j e_kᵀ, B_ε = B + ε e_k u_jᵀ; exact ΔE(ε) = −2λ_j ε² + λ_j ε⁴.
    live_rank : int or None
        Rank i of the live direction that is rotated (``"swap"``), else None.
    target_rank : int
        Rank j of the excluded eigen-direction moved into.
    hidden_unit : int
        0-based hidden unit that is changed.
    rate : float
        c in ΔE = c ε² + O(ε⁴) (negative).
    """

    kind: str
    live_rank: int | None
    target_rank: int
    hidden_unit: int
    rate: float
    _lambda_live: float = field(repr=False, default=0.0)
    _lambda_target: float = field(repr=False, default=0.0)

    def predicted_loss_change(self, epsilon: float) -> float:
        """Exact E(A_ε, B_ε) − E(A, B) from the closed form (derived in docs/linear.md)."""
        e2 = epsilon * epsilon
        if self.kind == "swap":
            return -(self._lambda_target - self._lambda_live) * e2 / (1.0 + e2)
        return -2.0 * self._lambda_target * e2 + self._lambda_target * e2 * e2

    def perturb(self, A: np.ndarray, B: np.ndarray, U: np.ndarray, epsilon: float):
        """The perturbed point (A_ε, B_ε) for eigenvector matrix U (columns by rank)."""
        A_eps, B_eps = A.copy(), B.copy()
        u_j = U[:, self.target_rank - 1]
        k = self.hidden_unit
        if self.kind == "swap":
            u_i = U[:, self.live_rank - 1]
            column = (u_i + epsilon * u_j) / math.sqrt(1.0 + epsilon**2)
            A_eps[:, k] = column
            B_eps[k, :] = column
        else:
            A_eps[:, k] += epsilon * u_j
            B_eps[k, :] += epsilon * u_j
        return A_eps, B_eps


@dataclass(frozen=True)
class CriticalPoint:
    """One catalogued critical point (an orbit representative), in the style of OptimizeResult.

    Attributes
    ----------
    subset : tuple of int
        Ranks (1 = largest eigenvalue) of the eigen-directions carried by the live hidden units.
    counts : tuple of int
        Directions taken from each eigenvalue cluster (the family; equals the subset's indicator
        when the eigenvalues are distinct).
    rank : int
        rank(AB) = |subset|.
    A, B : numpy.ndarray
        Representative, A n×m, B = Aᵀ.
    loss : float
        E at the point, from the generated loss function.
    loss_formula : float
        tr Σ − Σ_{i ∈ subset} λ_i.
    grad_norm : float
        Frobenius norm of the float64 gradient at (A, B).
    hessian : HessianSpectrum
    hessian_index : int
        Number of negative Hessian eigenvalues (numerical).
    predicted_index : int
        From the closed formula (:func:`predicted_index`).
    classification : str
        ``"minimum"``, ``"saddle"`` or ``"degenerate"`` (see :func:`classify`).
    family_dimension : int
        Dimension of the family of such points beyond the GL(m) orbit (0 for distinct eigenvalues).
    escape : Escape or None
        A loss-lowering direction for saddles.
    """

    subset: tuple
    counts: tuple
    rank: int
    A: np.ndarray
    B: np.ndarray
    loss: float
    loss_formula: float
    grad_norm: float
    hessian: HessianSpectrum
    hessian_index: int
    predicted_index: int
    classification: str
    family_dimension: int
    escape: Escape | None

    @property
    def label(self) -> str:
        """``"I={1,3}"`` (ranks); with a repeated eigenvalue, e.g. ``"I={1,2 of 2..6}"``."""
        return subset_label(self.subset, self._clusters_for_label)

    _clusters_for_label: tuple = field(default=(), repr=False, compare=False)


def subset_label(subset: tuple, clusters: tuple) -> str:
    """Human-readable family label from ranks and eigenvalue clusters (0-based)."""
    parts = []
    chosen = set(subset)
    for cluster in clusters:
        ranks = [i + 1 for i in cluster]
        k = sum(r in chosen for r in ranks)
        if k == 0:
            continue
        if len(ranks) == 1:
            parts.append(str(ranks[0]))
        else:
            parts.append(f"{k} of {ranks[0]}..{ranks[-1]}")
    return "I={" + ",".join(parts) + "}"


def representative(U: np.ndarray, subset: tuple, m: int) -> tuple[np.ndarray, np.ndarray]:
    """A = [u_j for j in subset, then zero columns] (n×m) and B = Aᵀ.

    Works for float arrays and mpmath object arrays alike.
    """
    n = U.shape[0]
    A = np.zeros((n, m), dtype=U.dtype)
    if U.dtype == object:
        A[:] = mpmath.mpf(0)
    for k, rank in enumerate(subset):
        A[:, k] = U[:, rank - 1]
    return A, A.T.copy()


def hessian_matrix(A: np.ndarray, B: np.ndarray, sigma: np.ndarray,
                   eig: EigenSystem | None = None) -> np.ndarray:
    """Full Hessian of E in the coordinates θ = (vec A, vec B) (row-major), 2nm × 2nm, float64
    (:meth:`critpoints.linear.model.LinearAutoencoder.hessian`)."""
    model = LinearAutoencoder(sigma, A.shape[1], eig)
    return model.hessian(model.flatten(A, B))


def hessian_spectrum(A, B, sigma, eig: EigenSystem) -> HessianSpectrum:
    """Eigenvalues, sign counts and second-order classification of the Hessian at (A, B), by the
    shared classifier (:func:`critpoints.solve.classify.classify` on the
    :class:`~critpoints.linear.model.LinearAutoencoder` potential): zeros compared with the
    GL(m) orbit and the rotations inside eigenspaces of Σ; ``eigenvalues`` unrounded."""
    model = LinearAutoencoder(sigma, A.shape[1], eig)
    result = classify(model, model.flatten(A, B))
    return HessianSpectrum(
        eigenvalues=result.raw_eigenvalues,
        n_pos=result.n_pos,
        n_neg=result.n_neg,
        n_zero=result.n_zero,
        n_zero_symmetry=result.n_zero_symmetry,
        classification=result.classification,
        stored_eigenvalues=list(result.eigenvalues),
    )


def _excluded_larger_pairs(subset: tuple, eigenvalues: np.ndarray, clusters: tuple):
    """Pairs (i ∈ J, j ∉ J) of ranks with λ_j > λ_i strictly (different clusters)."""
    cluster_of = {i + 1: c for c, cluster in enumerate(clusters) for i in cluster}
    chosen = set(subset)
    return [
        (i, j)
        for i in subset
        for j in range(1, len(eigenvalues) + 1)
        if j not in chosen and cluster_of[j] < cluster_of[i]
    ]


def predicted_index(subset: tuple, m: int, n: int, clusters: tuple | None = None) -> int:
    """Closed-form Hessian index at the representative of ``subset``.

    index = (m − r)(n − r) + #{(i, j) : i ∈ J, j ∉ J, λ_j > λ_i}, r = |J|; with distinct
    eigenvalues and J = {r_1 < … < r_r} the count is Σ_k (r_k − k).

    Parameters
    ----------
    subset : tuple of int
        Ranks (1-based).
    m, n : int
    clusters : tuple, optional
        Eigenvalue clusters (0-based); default: all eigenvalues distinct.
    """
    r = len(subset)
    dead = (m - r) * (n - r)
    if clusters is None:
        return dead + sum(rank - k for k, rank in enumerate(sorted(subset), start=1))
    dummy = np.zeros(n)
    return dead + len(_excluded_larger_pairs(tuple(sorted(subset)), dummy, clusters))


def predicted_symmetry_zeros(subset: tuple, m: int, clusters: tuple) -> int:
    """Closed-form symmetry-orbit dimension: m² − (m − r)² + Σ_clusters k_c (d_c − k_c).

    The first part is the GL(m) orbit of a rank-r point; the second the Grassmannian directions
    of each repeated eigenspace of dimension d_c from which k_c directions are taken.
    """
    r = len(subset)
    chosen = set(subset)
    family = 0
    for cluster in clusters:
        k = sum((i + 1) in chosen for i in cluster)
        family += k * (len(cluster) - k)
    return m * m - (m - r) ** 2 + family


def predicted_hessian_eigenvalues(subset: tuple, m: int, eigenvalues: np.ndarray) -> np.ndarray:
    """Closed-form Hessian spectrum at the representative (see module docstring), ascending."""
    lam = np.asarray(eigenvalues, dtype=float)
    n = len(lam)
    live = [r - 1 for r in subset]
    excluded = [j for j in range(n) if j not in live]
    values = []
    for _, i2 in itertools.product(live, live):
        values += [4.0 * lam[i2], 0.0]
    for i, j in itertools.product(live, excluded):
        root = math.sqrt((lam[i] - lam[j]) ** 2 + 4.0 * lam[j] ** 2)
        values += [lam[i] + lam[j] + root, lam[i] + lam[j] - root]
    for _ in range(m - len(live)):
        values += [v for j in excluded for v in (2.0 * lam[j], -2.0 * lam[j])]
        values += [0.0, 0.0] * len(live)
    return np.sort(np.array(values))


def escape_direction(subset: tuple, m: int, eig: EigenSystem) -> Escape | None:
    """The steepest of the explicit escapes (seed 000 Prop. 3 and its rank-deficient analogue).

    - r < m: grow a dead unit (the first one, k = r) along the largest excluded u_j:
      rate −2λ_j.
    - r = m and some excluded λ_j > some live λ_i: swap the live direction with the smallest
      eigenvalue towards the excluded one with the largest: rate −(λ_j − λ_i).
    - otherwise (the minimum) None.
    """
    lam = eig.eigenvalues
    n = len(lam)
    excluded = [j for j in range(1, n + 1) if j not in subset]
    r = len(subset)
    if r < m:
        j = excluded[0]
        return Escape("grow", None, j, r, -2.0 * lam[j - 1], 0.0, float(lam[j - 1]))
    pairs = _excluded_larger_pairs(subset, lam, eig.clusters)
    if not pairs:
        return None
    i, j = max(pairs, key=lambda p: (lam[p[1] - 1] - lam[p[0] - 1], -p[1], p[0]))
    return Escape(
        "swap", i, j, list(subset).index(i), -(lam[j - 1] - lam[i - 1]),
        float(lam[i - 1]), float(lam[j - 1]),
    )


def _family_subsets(clusters: tuple, m: int):
    """Every r ≤ m and every way of taking k_c directions from cluster c (Σ k_c = r).

    Yields the representative ranks (first k_c of each cluster) and the counts. With distinct
    eigenvalues these are exactly all subsets of {1..n} of size ≤ m.
    """
    sizes = [len(c) for c in clusters]
    for counts in itertools.product(*(range(min(s, m) + 1) for s in sizes)):
        if sum(counts) > m:
            continue
        subset = tuple(sorted(i + 1 for c, k in zip(clusters, counts) for i in c[:k]))
        yield subset, counts


def enumerate_critical_points(
    sigma: np.ndarray, m: int, *, require_distinct: bool = True
) -> list[CriticalPoint]:
    """All critical points of E (orbit representatives), verified and classified, sorted by loss.

    Parameters
    ----------
    sigma : numpy.ndarray
        Symmetric positive definite n×n.
    m : int
        Hidden size, 1 ≤ m < n.
    require_distinct : bool
        If True (default) a repeated eigenvalue raises :class:`RepeatedEigenvalueError`: the
        critical points are then not isolated orbits but continuous families. If False, one
        representative per family is returned and the family directions are counted as symmetry
        zeros (they are orbits of the rotations inside the eigenspace, which fix Σ).

    Returns
    -------
    list of CriticalPoint
        Sorted by (loss, −rank, subset).
    """
    from critpoints.linear.covariance import RepeatedEigenvalueError

    sigma = validate_covariance(sigma)
    n = len(sigma)
    if not 1 <= m < n:
        raise ValueError(f"hidden size m must satisfy 1 ≤ m < n = {n}, got {m}")
    eig = canonical_eigensystem(sigma)
    if require_distinct and not eig.distinct:
        raise RepeatedEigenvalueError(
            f"Σ has a repeated eigenvalue ({eig.repeated_description()}): critical points form "
            "continuous families"
        )
    ev = evaluators()
    points = []
    for subset, counts in _family_subsets(eig.clusters, m):
        A, B = representative(eig.eigenvectors, subset, m)
        gA, gB = ev.gradient(A, B, sigma)
        spectrum = hessian_spectrum(A, B, sigma, eig)
        points.append(
            CriticalPoint(
                subset=subset,
                counts=counts,
                rank=len(subset),
                A=A,
                B=B,
                loss=float(ev.loss(A, B, sigma)),
                loss_formula=float(np.trace(sigma) - sum(eig.eigenvalues[r - 1] for r in subset)),
                grad_norm=float(np.sqrt(np.sum(gA**2) + np.sum(gB**2))),
                hessian=spectrum,
                hessian_index=spectrum.n_neg,
                predicted_index=predicted_index(subset, m, n, eig.clusters),
                classification=spectrum.classification,
                family_dimension=predicted_symmetry_zeros(subset, m, eig.clusters)
                - (m * m - (m - len(subset)) ** 2),
                escape=escape_direction(subset, m, eig),
                _clusters_for_label=eig.clusters,
            )
        )
    points.sort(key=lambda p: (p.loss_formula, -p.rank, p.subset))
    return points


def gradient_norm_mp(sigma: np.ndarray, U_mp: np.ndarray, subset: tuple, m: int, dps: int):
    """Frobenius norm of the gradient at the representative, evaluated at ``dps`` digits.

    The generated gradient is evaluated on object arrays of mpmath numbers; Σ's float entries are
    exact binary numbers, U_mp its eigenvectors to ``dps`` digits.

    Returns
    -------
    (mpmath.mpf, mpmath.mpf)
        (‖∇E‖, E) at the representative.
    """
    ev = evaluators()
    with mpmath.workdps(dps):
        sigma_mp = np.array([[mpmath.mpf(x) for x in row] for row in sigma.tolist()], dtype=object)
        A, B = representative(U_mp, subset, m)
        gA, gB = ev.gradient(A, B, sigma_mp)
        norm = mpmath.sqrt(sum(x * x for x in np.ravel(gA)) + sum(x * x for x in np.ravel(gB)))
        loss = ev.loss(A, B, sigma_mp)
    return norm, loss
