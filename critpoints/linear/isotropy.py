"""How far is the sparse-data Σ from the Σ ∝ I simplification (seed 000 §2)?

Σ(S) = a I + c (J − I) with a = (1 − S)/3 = E[x_i²] and c = ((1 − S)/2)² = E[x_i x_j]; the
simplification replaces it by σ² I with σ² = a. Under σ² I every rank-m orthogonal projection is
a global minimum (loss (n − m) σ²); under the true Σ (eigenvalues λ_1 = a + (n − 1)c on 1/√n and
λ_2 = a − c, (n − 1)-fold) the minima are the family span{1} ⊕ V (V ⊂ 1^⊥, dim m − 1), the
m-subspaces of 1^⊥ are saddles, and every other subspace (e.g. a coordinate subspace, the
"one feature per hidden unit" solution natural in TMS) is not critical at all.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import null_space, subspace_angles

from critpoints.linear.covariance import sparse_covariance, sparse_covariance_eigenvalues
from critpoints.linear.critical import enumerate_critical_points
from critpoints.linear.symbolic import evaluators

__all__ = ["DEFAULT_SPARSITIES", "format_isotropy_table", "isotropy_row", "isotropy_table"]

DEFAULT_SPARSITIES = (0.0, 0.5, 0.9, 0.95, 0.99, 0.999)


def isotropy_row(n: int, m: int, sparsity: float) -> dict:
    """Compare the true sparse Σ(S) with σ² I at one sparsity, numerically.

    Parameters
    ----------
    n, m : int
        1 ≤ m < n.
    sparsity : float
        S in [0, 1).

    Returns
    -------
    dict
        ``S``; ``lambda_top``, ``lambda_rest`` (numerical eigenvalues of Σ); ``offdiag_ratio`` c/a;
        ``grad_coordinate``: ‖∇E_Σ‖/σ² at the σ²I-minimum A = [e_1 … e_m], B = Aᵀ (0 would mean
        it is still critical); ``angle_deg``: largest principal angle between span{e_1..e_m} and
        the nearest true minimiser span{1} ⊕ (span{e_1..e_m} ∩ 1^⊥); ``loss_gap``,
        ``loss_gap_rel``: E_Σ at the coordinate subspace minus the true minimum (absolute, and
        relative to the true minimum); ``min_loss``, ``min_loss_isotropic``: true minimum and
        (n − m) σ².
    """
    sigma = sparse_covariance(n, sparsity)
    eigenvalues = np.linalg.eigvalsh(sigma)[::-1]
    a = sigma[0, 0]
    c = sigma[0, 1]
    ev = evaluators()
    coordinate = np.eye(n)[:, :m]
    gA, gB = ev.gradient(coordinate, coordinate.T, sigma)
    grad_norm = math.sqrt(float(np.sum(gA**2) + np.sum(gB**2)))
    points = enumerate_critical_points(sigma, m, require_distinct=False)
    minimum = points[0]
    if minimum.classification != "minimum":  # the theory says it is; fail loudly if not
        raise RuntimeError(f"lowest point {minimum.label} classified {minimum.classification}")
    ones = np.ones((n, 1)) / math.sqrt(n)
    # Nearest true minimiser to the coordinate subspace (optimal: see docs/linear.md).
    inside = coordinate @ null_space(ones.T @ coordinate)  # span{e_1..e_m} ∩ 1^⊥
    nearest = np.hstack([ones, inside])
    angle = float(np.max(subspace_angles(coordinate, nearest)))
    loss_coordinate = float(ev.loss(coordinate, coordinate.T, sigma))
    return {
        "S": sparsity,
        "lambda_top": float(eigenvalues[0]),
        "lambda_rest": float(eigenvalues[1]),
        "offdiag_ratio": float(c / a),
        "grad_coordinate": grad_norm / a,
        "angle_deg": math.degrees(angle),
        "loss_gap": loss_coordinate - minimum.loss,
        "loss_gap_rel": (loss_coordinate - minimum.loss) / minimum.loss,
        "min_loss": minimum.loss,
        "min_loss_isotropic": (n - m) * a,
        "closed_form_eigenvalues": sparse_covariance_eigenvalues(n, sparsity),
    }


def isotropy_table(n: int = 6, m: int = 2, sparsities=DEFAULT_SPARSITIES) -> list[dict]:
    """:func:`isotropy_row` for each sparsity."""
    return [isotropy_row(n, m, s) for s in sparsities]


def format_isotropy_table(rows: list[dict], n: int, m: int) -> str:
    """Markdown table of :func:`isotropy_table` rows."""
    lines = [
        f"n = {n}, m = {m}, σ² = (1 − S)/3",
        "",
        f"| S | λ_1 | λ_2 (×{n - 1}) | c/a | ‖∇E_Σ‖/σ² at coord. subspace "
        "| angle to nearest true min | loss gap | rel. loss gap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['S']:g} | {r['lambda_top']:.6g} | {r['lambda_rest']:.6g} | "
            f"{r['offdiag_ratio']:.4g} | {r['grad_coordinate']:.4g} | {r['angle_deg']:.3f}° | "
            f"{r['loss_gap']:.4g} | {r['loss_gap_rel']:.4g} |"
        )
    return "\n".join(lines)
