"""k-gon critical points of the TMS potential (SPEC §3): patterns, the reduced problem, the
enumeration, and the catalog document built from it."""

from critpoints.kgon.enumerate import (
    EnumeratedPoint,
    Enumeration,
    describe,
    enumerate_critical_points,
)
from critpoints.kgon.patterns import Pattern, enumerate_patterns, label_of
from critpoints.kgon.reduced import ReducedSolution, solve_regular_polygon

__all__ = [
    "EnumeratedPoint",
    "Enumeration",
    "Pattern",
    "ReducedSolution",
    "catalog_document",
    "describe",
    "enumerate_critical_points",
    "enumerate_patterns",
    "label_of",
    "solve_regular_polygon",
]


def catalog_document(
    n: int, entries: list[dict], unrealised: list[dict], command: str, random_search=None,
    seed: int = 0, m: int = 2, sparsity: float | None = None, importance=None,
    pattern_language: dict | None = None, descent_closure: dict | None = None,
    volume_check_max_dimension: int | None = None,
) -> dict:
    """The catalog document (see :mod:`critpoints.catalog`) of an enumeration for n features
    and hidden dimension m: of the one-hot potential (kind ``tms-high-sparsity``) or, with
    ``sparsity``, of the potential at finite sparsity (kind ``tms-finite-sparsity``, the model
    block records S and the importances, default all 1). A ``volume_check_max_dimension`` the
    classification used is recorded in the conventions, where certify reads it."""
    from critpoints.catalog import new_document
    from critpoints.solve.classify import BOUNDARY_TOLERANCE

    model = {
        "kind": "tms-high-sparsity",
        "n": n,
        "m": m,
        "conventions": {
            "parameters": "W is m×n (columns W_i), b has n entries; f(x) = ReLU(WᵀW x + b)",
            "hessian_order": "W flattened row-major, then b",
            "gauge": "first nonzero column on the positive x axis, polygon counter-clockwise, "
            "then zero columns with positive bias, then dead features" if m == 2 else
            "k-gon patterns: planar, in the first two coordinates, vertex 0 on the positive "
            "first axis; other points: QR (echelon) gauge, the nonzero columns in a canonical "
            "chain order with the j-th column that enlarges their span in the span of the "
            "first j + 1 axes (positive j-th coordinate), then zero columns with positive "
            "bias, then dead features",
            "flat_representatives": "dead vertex bias -2 l², dead feature bias -1/(2n)",
            "boundary_convention": "ReLU'(0) = 0: a block within boundary_tolerance of an "
            "activation boundary is on it and takes the Hessian of the side where the ReLU is off",
            "boundary_tolerance": BOUNDARY_TOLERANCE,
            "classification_seed": seed,
        },
    }
    if volume_check_max_dimension is not None:
        model["conventions"]["volume_check_max_dimension"] = volume_check_max_dimension
    if sparsity is not None:
        model["kind"] = "tms-finite-sparsity"
        model["sparsity"] = float(sparsity)
        model["importance"] = [float(v) for v in importance] if importance is not None else [
            1.0] * n
        model["conventions"]["flat_representatives"] = (
            "dead vertex bias -2 l² (1 + Σ_d max(cos 2πd/k, 0)), dead feature bias -1/(2n); "
            "zero columns with positive bias at E[x_j] = (1 - S)/2")
    document = new_document(model, entries, command)
    document["patterns_without_critical_point"] = sorted(unrealised, key=lambda u: u["id"])
    if random_search is not None:
        document["random_search"] = random_search
    if pattern_language is not None and pattern_language["max_dead_vertices"] is not None:
        document["pattern_language"] = pattern_language
    if descent_closure is not None:
        document["descent_closure"] = descent_closure
    return document
