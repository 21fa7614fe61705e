"""Proofs: exact algebraic forms, interval certificates, the k = n existence question (issue 4).

Pure mathematics: nothing here reads or writes files or prints.
"""

from critpoints.proofs.annotate import annotate, certificate_radius, check_entry

__all__ = ["annotate", "check_entry", "certificate_radius"]
