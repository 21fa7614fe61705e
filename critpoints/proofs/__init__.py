"""Proofs: exact algebraic forms, interval certificates, the k = n existence question."""
