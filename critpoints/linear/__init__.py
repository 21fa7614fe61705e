"""The linear autoencoder (Baldi–Hornik 1989): every critical point in closed form.

Submodules (imported on first attribute access, so ``import critpoints.linear`` runs no sympy):

- :mod:`~critpoints.linear.symbolic`   sympy derivation of E(A, B), gradient, Hessian, tied flow
- :mod:`~critpoints.linear.covariance` Σ: random SPD, sparse-data E[xxᵀ], canonical eigensystems
- :mod:`~critpoints.linear.critical`   enumeration, Hessian, index formula, classification, escapes
- :mod:`~critpoints.linear.model`      the loss E(A, B) as a :class:`critpoints.potential.Potential`
- :mod:`~critpoints.linear.search`     independent root finding (the shared solver) on the gradient
- :mod:`~critpoints.linear.isotropy`   the sparse Σ versus the σ²I simplification
- :mod:`~critpoints.linear.document`   the catalog document (a dict; no I/O)
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "derive": "symbolic",
    "derive_tied": "symbolic",
    "evaluators": "symbolic",
    "random_covariance": "covariance",
    "sparse_covariance": "covariance",
    "sparse_covariance_eigenvalues": "covariance",
    "canonical_eigensystem": "covariance",
    "CovarianceError": "covariance",
    "RepeatedEigenvalueError": "covariance",
    "CriticalPoint": "critical",
    "enumerate_critical_points": "critical",
    "predicted_index": "critical",
    "escape_direction": "critical",
    "find_gradient_roots": "search",
    "LinearAutoencoder": "model",
    "isotropy_table": "isotropy",
    "format_isotropy_table": "isotropy",
    "build_catalog_document": "document",
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605  sorted() is a list; the names are written once, in _EXPORTS


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"critpoints.linear.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'critpoints.linear' has no attribute {name!r}")
