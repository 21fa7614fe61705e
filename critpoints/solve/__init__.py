"""Newton / Hessian machinery: critical point search and refinement, symmetry reduction."""

from critpoints.solve.newton import (
    CriticalPointSearch,
    PolishResult,
    find_critical_points,
    polish,
)
from critpoints.solve.symmetry import canonical_form, orbit_distance, same_orbit

__all__ = [
    "CriticalPointSearch",
    "PolishResult",
    "canonical_form",
    "find_critical_points",
    "orbit_distance",
    "polish",
    "same_orbit",
]
