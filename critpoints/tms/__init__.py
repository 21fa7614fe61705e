"""The ReLU Toy Model of Superposition in the high-sparsity limit (SPEC §2).

``loss``, ``gradient``, ``hessian`` evaluate the closed-form potential L(W, b) (float64 batched,
or mpmath with ``dps=``); ``critpoints.tms.symbolic`` holds the sympy derivation they are
generated from; ``critpoints.tms.data`` samples the data distribution;
:class:`critpoints.tms.model.TMSPotential` (``critpoints.tms.TMSPotential``, imported on first
use) is the same potential as a :class:`critpoints.potential.Potential` for the solvers.
With ``sparsity=S`` (and ``importance=I``) the three evaluators give the exact potential at finite
sparsity (SPEC §8, :mod:`critpoints.tms.sparse`), and
:class:`critpoints.tms.model.TMSSparsePotential` is its Potential.
"""

from critpoints.tms.potential import (
    REGION_NAMES,
    adjacent_regions,
    block_regions,
    flatten,
    gradient,
    hessian,
    kink_jumps,
    loss,
    loss_and_gradient,
    unflatten,
)

__all__ = [
    "REGION_NAMES",
    "TMSPotential",
    "TMSSparsePotential",
    "adjacent_regions",
    "block_regions",
    "flatten",
    "gradient",
    "hessian",
    "kink_jumps",
    "loss",
    "loss_and_gradient",
    "unflatten",
]


def __getattr__(name: str):
    if name in ("TMSPotential", "TMSSparsePotential"):
        from critpoints.tms import model

        return getattr(model, name)
    raise AttributeError(f"module 'critpoints.tms' has no attribute {name!r}")
