"""The census of the landscape: every critical orbit, found by several strategies, with an
estimate of what is still missing (:mod:`critpoints.census.census`)."""

from critpoints.census.census import (
    ALL_DEAD_LEVEL,
    Census,
    CensusBudget,
    Comparison,
    Orbit,
    chao1_unseen,
    compare_catalogs,
    run_census,
)

__all__ = [
    "ALL_DEAD_LEVEL",
    "Census",
    "CensusBudget",
    "Comparison",
    "Orbit",
    "chao1_unseen",
    "compare_catalogs",
    "run_census",
]
