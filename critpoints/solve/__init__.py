"""Model-agnostic solvers on a :class:`critpoints.potential.Potential`: critical point search
(Levenberg–Marquardt), high-precision polish (Newton), classification (Hessian, local search),
the dimension of the flat family through a point (sampled members).

Nothing here knows a model: symmetry (canonical forms, orbit distances) of the TMS potential
lives in :mod:`critpoints.tms.symmetry`.
"""

from critpoints.solve.classify import Classification, classify
from critpoints.solve.family import FlatFamily, flat_family
from critpoints.solve.newton import (
    CriticalPointSearch,
    PolishResult,
    find_critical_points,
    polish,
    polish_to_digits,
    precise_polish,
    verification_bound,
)

__all__ = [
    "Classification",
    "CriticalPointSearch",
    "FlatFamily",
    "PolishResult",
    "classify",
    "find_critical_points",
    "flat_family",
    "polish",
    "polish_to_digits",
    "precise_polish",
    "verification_bound",
]
