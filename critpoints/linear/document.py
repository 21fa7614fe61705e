"""The catalog document (a plain dict) for the linear autoencoder's critical points.

Pure: builds the document; writing it is the CLI's (or :mod:`critpoints.catalog`'s) business.
"""

from __future__ import annotations

import mpmath
import numpy as np

from critpoints.catalog import new_document
from critpoints.linear.covariance import canonical_eigensystem, canonical_eigensystem_mp
from critpoints.linear.critical import (
    enumerate_critical_points,
    gradient_norm_mp,
    hessian_spectrum,
    representative,
)

__all__ = ["MIN_DIGITS", "VerificationError", "build_catalog_document", "gradient_tolerance"]

#: Fewest working digits accepted: loss_exact carries digits − 15 ≥ 30 significant digits.
MIN_DIGITS = 45


class VerificationError(RuntimeError):
    """A catalogued point failed its high-precision gradient check (should never happen)."""


def gradient_tolerance(digits: int) -> mpmath.mpf:
    """Bound the gradient norm must meet at ``digits`` working digits: 10^(−2·digits/3).

    For 60 digits this is 1e-40 (SPEC §3's bar). Why two thirds: the eigenvectors carry about
    ``digits`` correct digits, and the gradient loses a few more to Σ's conditioning; a third of
    the digits is a generous margin that still rules out any float64-level (1e-16) error.
    """
    return mpmath.power(10, -(2 * digits) // 3)  # an mpf: as a float, 10^-334 would be 0


def build_catalog_document(
    sigma: np.ndarray,
    m: int,
    *,
    sigma_source: str,
    command: str,
    digits: int = 60,
    require_distinct: bool = True,
) -> dict:
    """Enumerate, verify at ``digits`` digits, and lay out the catalog document.

    Parameters
    ----------
    sigma : numpy.ndarray
        Symmetric positive definite n×n (validated).
    m : int
        Hidden size.
    sigma_source : str
        E.g. ``"random seed=0"``, ``"sparse S=0.95"``, ``"file sigma.json"``.
    command : str
        The CLI command line recorded in ``generator.command``.
    digits : int
        mpmath working precision for the gradient check and ``loss_exact`` (≥ ``MIN_DIGITS``).
    require_distinct : bool
        See :func:`critpoints.linear.critical.enumerate_critical_points`.

    Returns
    -------
    dict
        The document of the catalog contract (schema_name ``critpoints.catalog``, version 1).

    Raises
    ------
    VerificationError
        If a point's gradient at ``digits`` digits exceeds :func:`gradient_tolerance`.
    """
    if digits < MIN_DIGITS:
        raise ValueError(f"digits must be at least {MIN_DIGITS}, got {digits}")
    points = enumerate_critical_points(sigma, m, require_distinct=require_distinct)
    eig = canonical_eigensystem(sigma)
    _, U_mp = canonical_eigensystem_mp(sigma, eig.clusters, digits)
    # The stored float representative is the high-precision one rounded: float and mp agree.
    U_float = np.array([[float(x) for x in row] for row in U_mp])
    tolerance = gradient_tolerance(digits)
    entries = []
    for point in points:
        grad_mp, loss_mp = gradient_norm_mp(sigma, U_mp, point.subset, m, digits)
        if grad_mp > tolerance:
            raise VerificationError(
                f"gradient {mpmath.nstr(grad_mp, 3)} > {mpmath.nstr(tolerance, 3)} at "
                f"{point.label}"
            )
        A, B = representative(U_float, point.subset, m)
        spectrum = hessian_spectrum(A, B, sigma, eig)
        classification = spectrum.classification
        # Learning coefficient of a Morse–Bott minimum: half the rank of the Hessian (SPEC §5).
        learning_coefficient = spectrum.n_pos / 2 if classification == "minimum" else None
        entries.append(
            {
                "label": point.label,
                "subset": list(point.subset),
                "rank": point.rank,
                "A": A.tolist(),
                "B": B.tolist(),
                "loss": float(loss_mp),
                "loss_exact": _decimal_string(loss_mp, digits - 15),
                "grad_norm": float(grad_mp),
                "precision_digits": digits,
                "hessian": {
                    "eigenvalues": spectrum.stored_eigenvalues,
                    "n_pos": spectrum.n_pos,
                    "n_neg": spectrum.n_neg,
                    "n_zero": spectrum.n_zero,
                    "n_zero_symmetry": spectrum.n_zero_symmetry,
                },
                "hessian_index": spectrum.n_neg,
                "classification": classification,
                "learning_coefficient": learning_coefficient,
                "on_boundary": False,
                "certificate": None,
                "exact": None,
            }
        )
    model = {
        "kind": "linear-autoencoder",
        "n": len(sigma),
        "m": int(m),
        "sigma": np.asarray(sigma, dtype=float).tolist(),
        "sigma_source": sigma_source,
    }
    return new_document(model, entries, command)


def _decimal_string(value, significant: int) -> str:
    """Plain decimal (no exponent) with ``significant`` significant digits."""
    with mpmath.workdps(significant + 10):
        text = mpmath.nstr(value, significant, strip_zeros=False, min_fixed=-mpmath.inf,
                           max_fixed=mpmath.inf)
    return text
