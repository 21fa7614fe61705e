"""Model-agnostic solvers on a :class:`critpoints.potential.Potential`: critical point search
(Levenberg–Marquardt), high-precision polish (Newton), classification (Hessian, local search).

Nothing here knows a model: symmetry (canonical forms, orbit distances) of the TMS potential
lives in :mod:`critpoints.tms.symmetry`.
"""

from critpoints.solve.classify import Classification, classify
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
    "PolishResult",
    "classify",
    "find_critical_points",
    "polish",
    "polish_to_digits",
    "precise_polish",
    "verification_bound",
]
