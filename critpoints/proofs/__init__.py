"""Proofs: exact algebraic forms and interval certificates of catalog points (issue 4).

Pure mathematics: nothing here reads or writes files or prints, and nothing here imports the
k-gon layer (:mod:`critpoints.kgon` uses these tools; the k = n existence question is
:mod:`critpoints.kgon.existence`).
"""

from critpoints.proofs.annotate import (
    annotate,
    certificate_radius,
    check_entry,
    hessian_certificate,
    reduced_box_point,
)

__all__ = [
    "annotate",
    "certificate_radius",
    "check_entry",
    "hessian_certificate",
    "reduced_box_point",
]
