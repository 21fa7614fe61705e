"""Which basin a sampler's parameters are in: quench (descend) them and identify where they end.

A chain localised at w* may cross a barrier into another basin mid-run (the 5-gon's chains into
the lower 5⁺ basin when γ is small). Its loss alone does not tell: partly escaped chains keep
most draws above L(w*). The basin does: :func:`quench` runs batched heavy-ball gradient descent
from many points at once (pele calls this a quench), and :class:`QuenchBasin` says whether each
quenched point is w* up to the model's symmetry, using a model-supplied ``same_point`` test, and
names the others with an optional ``identify``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["QuenchBasin", "quench"]


def quench(potential: Any, theta: Any, *, step: float, steps: int = 3000,
           momentum: float = 0.9, gradient_tolerance: float = 1e-9) -> np.ndarray:
    """Batched heavy-ball descent v ← μv − α∇L, θ ← θ + v from every row of ``theta``.

    Parameters
    ----------
    potential
        Has ``loss_and_gradient(θ (C, dim))``.
    theta : array_like (C, dim)
    step : float
        α; stable for α ≤ 1/h_max (h_max the largest curvature met).
    steps : int
        Iteration cap; rows stop moving once their gradient norm is below the tolerance.
    momentum : float
        μ; with α h ≪ 1 the soft directions converge like (1 − √(α h)) per step instead of
        (1 − α h).

    Returns
    -------
    ndarray (C, dim)
    """
    theta = np.array(theta, dtype=float, copy=True)
    velocity = np.zeros_like(theta)
    active = np.ones(len(theta), dtype=bool)
    for _ in range(steps):
        if not active.any():
            break
        _, grad = potential.loss_and_gradient(theta[active])
        norms = np.linalg.norm(grad, axis=1)
        converged = norms < gradient_tolerance
        moved = momentum * velocity[active] - step * grad
        moved[converged] = 0.0
        velocity[active] = moved
        theta[active] += moved
        idx = np.flatnonzero(active)
        active[idx[converged]] = False
    return theta


@dataclass
class QuenchBasin:
    """Basin test: quench points and compare with the quenched centre.

    Parameters
    ----------
    potential
        The loss whose basins count (``loss_and_gradient`` batched).
    centre : array_like (dim,)
        w*.
    same_point : callable (θ_a, θ_b) → bool
        Whether two quenched points are the same critical point up to symmetry.
    step : float
        Quench step (≤ 1/h_max).
    identify : callable θ → str, optional
        Names a quenched point outside the basin (e.g. the nearest catalog entry).
    steps : int
        Quench iterations.
    rule : str
        The test in words, for the record.
    """

    potential: Any
    centre: Any
    same_point: Callable[[np.ndarray, np.ndarray], bool]
    step: float
    identify: Callable[[np.ndarray], str] | None = None
    steps: int = 3000
    rule: str = "quench (heavy-ball descent) and compare with w* up to symmetry"

    def __post_init__(self):
        self.centre = np.asarray(self.centre, dtype=float)
        self._centre_quenched = quench(self.potential, self.centre[None, :], step=self.step,
                                       steps=self.steps)[0]

    def __call__(self, theta: Any) -> tuple[np.ndarray, list]:
        """(in_basin (C,) bool, label per row: None inside the basin)."""
        ends = quench(self.potential, theta, step=self.step, steps=self.steps)
        inside = np.array([bool(self.same_point(self._centre_quenched, e)) for e in ends])
        labels = [None if ok else (self.identify(e) if self.identify else "elsewhere")
                  for ok, e in zip(inside, ends)]
        return inside, labels
