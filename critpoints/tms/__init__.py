"""The ReLU Toy Model of Superposition in the high-sparsity limit (SPEC §2).

``loss``, ``gradient``, ``hessian`` evaluate the closed-form potential L(W, b) (float64 batched,
or mpmath with ``dps=``); ``critpoints.tms.symbolic`` holds the sympy derivation they are
generated from; ``critpoints.tms.data`` samples the data distribution.
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
