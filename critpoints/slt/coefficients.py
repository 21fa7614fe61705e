"""Theoretical learning coefficients.

- Catalog entries (SPEC §5): a minimum whose Hessian has rank r after the zero modes explained by
  symmetry and flat directions, with no higher-order degeneracy, has λ = r/2. Everything else
  gets ``None`` with the reason.
- Reduced-rank regression (Aoyagi & Watanabe 2005, "Stochastic complexities of reduced rank
  regression in Bayesian estimation", Neural Networks 18, 924–933): the model y = A B x with
  B: H×M, A: N×H and a true map of rank r; its real log canonical threshold in closed form.
  The linear autoencoder (docs/linear.md) is the case output = input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "LearningCoefficient",
    "linear_autoencoder_lambda",
    "reduced_rank_regression_lambda",
    "theoretical_learning_coefficient",
]


@dataclass(frozen=True)
class LearningCoefficient:
    """A theoretical learning coefficient, or the reason there is none.

    Attributes
    ----------
    value : float or None
        λ, or ``None`` when the geometry recorded in the catalog does not determine it.
    reason : str
        How ``value`` follows from the entry (e.g. "17 positive Hessian eigenvalues, 1 zero mode
        explained by symmetry: λ = 17/2"), or why it is ``None``.
    """

    value: float | None
    reason: str


def theoretical_learning_coefficient(entry: dict[str, Any]) -> LearningCoefficient:
    """λ of a catalog entry, recomputed from its Hessian record and checked against the catalog.

    λ = n_pos/2 for a smooth minimum whose zero modes are all explained (symmetry orbit, flat
    dead-feature directions: there the potential is exactly constant, so they contribute 0).
    A non-smooth minimum gets λ = (dim − explained zero modes)/2 when its catalog record shows
    quadratic growth in every other direction (``evidence.directional_curvature``, see
    :mod:`critpoints.solve.classify`). Other non-smooth points, saddles and unexplained zero
    modes give ``None`` with the reason; so does a disagreement with the catalog's own value.

    Parameters
    ----------
    entry : dict
        One element of ``critical_points`` of a TMS catalog document.

    Returns
    -------
    LearningCoefficient

    Examples
    --------
    >>> entry = {"id": "6", "classification": "minimum", "learning_coefficient": 8.5,
    ...          "hessian": {"n_pos": 17, "n_neg": 0, "n_zero": 1, "n_zero_symmetry": 1}}
    >>> theoretical_learning_coefficient(entry).value
    8.5
    """
    hess = entry["hessian"]
    classification = entry.get("classification")
    stored = entry.get("learning_coefficient")
    evidence = entry.get("evidence", {}) or {}
    curvature = evidence.get("directional_curvature")
    if (classification in ("non-smooth", "degenerate") and entry.get("verdict") == "minimum"
            and stored is not None and curvature):
        return _piecewise_quadratic(entry, hess, stored, curvature, evidence)
    if classification != "minimum":
        if classification == "non-smooth":
            why = "non-smooth point (on an activation boundary): rank/2 of a one-sided Hessian"
            why += " does not give λ"
            if entry.get("verdict") == "minimum":
                why += " (a minimum by the sphere test; estimate λ by sampling)"
        elif classification == "saddle":
            why = f"saddle of index {hess['n_neg']}: not a phase (no local posterior mass)"
        else:
            why = f"classification {classification!r}: second order does not decide"
        extra = evidence.get("learning_coefficient")
        if isinstance(extra, str) and extra not in why:
            why += f"; catalog: {extra}"
        return LearningCoefficient(None, why)
    if hess["n_neg"] != 0:
        return LearningCoefficient(None, f"{hess['n_neg']} negative eigenvalues: not a minimum")
    if hess["n_zero"] != hess["n_zero_symmetry"]:
        return LearningCoefficient(
            None,
            f"{hess['n_zero']} zero eigenvalues but only {hess['n_zero_symmetry']} explained by "
            "symmetry and flat directions: higher-order degeneracy, rank/2 does not apply",
        )
    value = hess["n_pos"] / 2
    if stored is not None and abs(stored - value) > 1e-12:
        return LearningCoefficient(
            None, f"catalog stores λ = {stored} but its Hessian record gives {value}"
        )
    reason = (
        f"{hess['n_pos']} positive Hessian eigenvalues, {hess['n_zero']} zero modes all explained "
        f"by symmetry/flat directions: λ = {hess['n_pos']}/2"
    )
    return LearningCoefficient(value, reason)


def _piecewise_quadratic(entry, hess, stored, curvature, evidence) -> LearningCoefficient:
    """λ = r/2 of a non-smooth minimum from its directional-curvature record (re-checked)."""
    from critpoints.solve.classify import grows_quadratically

    dim = hess["n_pos"] + hess["n_neg"] + hess["n_zero"]
    rank = dim - hess["n_zero_symmetry"]
    if curvature.get("rank") != rank or not grows_quadratically(curvature):
        q_min = min(r["min_q"] for r in curvature["radii"])
        return LearningCoefficient(
            None, f"directional-curvature record inconsistent with λ = {stored} (rank {rank}, "
            f"min q {q_min:.3g})")
    if abs(stored - rank / 2) > 1e-12:
        return LearningCoefficient(
            None, f"catalog stores λ = {stored} but its curvature record gives {rank}/2")
    from critpoints.solve.classify import volume_agrees

    volume = evidence.get("volume_scaling")
    if volume is None or not volume_agrees(rank / 2, volume):
        return LearningCoefficient(
            None, f"catalog stores λ = {stored} without a volume-scaling estimate that agrees")
    return LearningCoefficient(rank / 2, str(evidence.get("learning_coefficient", "")))


def reduced_rank_regression_lambda(M: int, N: int, H: int, r: int) -> float:
    """RLCT of reduced-rank regression (Aoyagi & Watanabe 2005, Main Theorem).

    Model y = A B x, B: H×M, A: N×H, true map of rank r ≤ min(M, N, H), input distribution with a
    positive definite covariance.

    Parameters
    ----------
    M, N, H, r : int
        Input dimension, output dimension, hidden width, rank of the true map.

    Returns
    -------
    float
        λ; the four cases of the theorem:

        - N + r ≤ M + H, M + r ≤ N + H, H + r ≤ M + N (central):
          [2(H + r)(M + N) − (M − N)² − (H + r)²]/8, plus 1/8 when M + N + H + r is odd;
        - M + H < N + r: (HM − Hr + Nr)/2;
        - N + H < M + r: (HN − Hr + Mr)/2;
        - M + N < H + r: MN/2.

    Examples
    --------
    >>> reduced_rank_regression_lambda(3, 3, 2, 0)  # central, M+N+H+r even
    2.5
    >>> reduced_rank_regression_lambda(1, 1, 1, 1)  # a regular 1-parameter model after gauge
    0.5
    """
    if min(M, N, H) < 1 or not 0 <= r <= min(M, N, H):
        raise ValueError(f"need M, N, H ≥ 1 and 0 ≤ r ≤ min(M, N, H); got {(M, N, H, r)}")
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2
    if M + N < H + r:
        return M * N / 2
    value = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
    if (M + N + H + r) % 2:
        value += 1
    return value / 8


def linear_autoencoder_lambda(n: int, m: int, rank: int) -> float:
    """λ of the linear autoencoder x ↦ A B x (A: n×m, B: m×n) at its global minimum.

    With data covariance Σ of rank ``rank``:

    - ``rank ≤ m`` (realisable: A B = identity on the data's span is reachable): only B's action on
      span Σ matters (B's other m(n − rank) entries are exactly flat), so this is reduced-rank
      regression with M = rank inputs, N = n outputs, H = m, true rank ``rank``;
    - ``rank > m`` with distinct eigenvalues (not realisable: the minimum is the projection onto
      the top-m eigenspace, a smooth GL(m) orbit, docs/linear.md): λ = (2nm − m²)/2 from the
      Hessian rank, which the reduced-rank formula with M = N = n, H = r = m also gives.
    """
    if not 1 <= m < n or not 1 <= rank <= n:
        raise ValueError(f"need 1 ≤ m < n and 1 ≤ rank ≤ n; got n={n}, m={m}, rank={rank}")
    if rank <= m:
        return reduced_rank_regression_lambda(rank, n, m, rank)
    return (2 * n * m - m * m) / 2
