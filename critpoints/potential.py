"""The one interface between a model and the model-agnostic solvers: :class:`Potential`.

A potential is a loss L(θ) on a flat parameter vector θ ∈ R^dim, with the model's own
parameters (e.g. (W, b) for TMS, (A, B) for the linear autoencoder) reached through
``flatten``/``unflatten``. The solvers of :mod:`critpoints.solve` (search, polish, classify) and
the samplers of :mod:`critpoints.slt` see only this protocol, as pele's ``BasePotential``.

Precision convention: ``dps=None`` evaluates in float64, vectorised over leading batch axes of
θ; ``dps=d`` evaluates one point (an object array of mpmath numbers, floats or decimal strings)
with mpmath at ``d`` significant digits and returns mpmath numbers. Callers pass ``dps`` by
keyword: a potential may take data arguments before it (minibatch weights, a data-set slot).
Potentials without an mpmath evaluator (the empirical losses) raise ``NotImplementedError`` for
``dps`` other than None.

Geometry the solvers need, named in the mathematics:

- ``orbit_tangents(θ)``: tangent vectors at θ of the orbit of the continuous symmetry group
  (O(m) acting on the hidden space for TMS, GL(m) for the linear autoencoder);
- ``flat_coordinates(θ)``: θ-indices along which L is locally constant (dead columns);
- ``hessian_jumps(θ, atol)``: the places (e.g. TMS blocks (i, j)) where the Hessian is
  discontinuous at θ, decided with tolerance ``atol`` (empty for a smooth model);
- ``hessian_side(θ, atol)``: the one-sided convention, an opaque value that ``hessian(…,
  side=…)`` accepts, fixing which adjacent smooth piece the Hessian is taken from;
- ``switching_functions(θ, dps)``: the functions s_k(θ) whose zero sets are the boundaries
  between the smooth pieces of L (TMS: the end values c and a + c of every block's
  pre-activation), with their float64 Jacobian: what :func:`critpoints.solve.polish` holds at
  zero to refine a critical point that lies on a boundary;
- ``extra_evidence(θ)``: model-specific facts stored beside a classification (TMS: where the
  flat critical set ends, ``flat_set_exits``); ``{}`` when there are none.

Models that are smooth everywhere (the linear autoencoder) return ``[]``, ``None`` and no
switching functions for the three boundary members; :class:`SmoothPotential` gives these
defaults.

Two optional members let a model run the classification's local searches compiled with its
loss inside them (the TMS potential has both; the generic numpy code runs otherwise, with the
same steps): ``sublevel_walk(θ*, basis)`` (:class:`critpoints.slt.volume.CompiledWalk`, the
nested-sampling walk of the volume-scaling λ̂) and ``quotient_descent(θ, basis, radii,
directions, L0, steps)`` (the descent of :func:`critpoints.solve.classify.directional_curvature`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "FixedCoordinates",
    "Potential",
    "SmoothPotential",
    "complement_basis",
    "finite_difference_hessian",
    "significant",
    "sphere_descent_step",
    "symmetry_generators",
]


@runtime_checkable
class Potential(Protocol):
    """A loss on θ ∈ R^dim with exact derivatives and the geometry of its critical sets.

    Attributes
    ----------
    dim : int
        Length of θ.
    """

    dim: int

    def flatten(self, *parameters: Any) -> np.ndarray:
        """θ from the model's parameters (any leading batch axes kept; dtype preserved)."""

    def unflatten(self, theta: Any) -> tuple[np.ndarray, ...]:
        """The model's parameters from θ (inverse of :meth:`flatten`, batched, dtype kept)."""

    def loss(self, theta: Any, dps: int | None = None) -> Any:
        """L(θ): float64 array over the batch axes, or an mpmath number at ``dps`` digits."""

    def loss_and_gradient(self, theta: Any, dps: int | None = None) -> tuple[Any, np.ndarray]:
        """``(L, ∇L)`` with ∇L shaped like θ (object array of mpmath numbers when ``dps``)."""

    def hessian(self, theta: Any, dps: int | None = None, side: Any = None) -> np.ndarray:
        """∇²L, shape (..., dim, dim). ``side`` (from :meth:`hessian_side`) chooses the
        one-sided Hessian where L is not C²; ``None`` decides the pieces at θ itself."""

    def hessian_side(self, theta: Any, atol: float) -> Any:
        """The one-sided convention at θ: a point within ``atol`` of a place where the Hessian
        jumps takes a fixed side of it (TMS: the ReLU switched off). ``None`` if smooth."""

    def hessian_jumps(self, theta: Any, atol: float) -> list:
        """Where the Hessian of L is discontinuous at θ (within ``atol``); ``[]`` if smooth."""

    def switching_functions(self, theta: Any, dps: int | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
        """``(s, J)``: the values s_k(θ) of the functions whose zero sets bound the smooth
        pieces of L (float64, or mpmath numbers at ``dps`` digits), and their Jacobian
        ∂s_k/∂θ in float64, shape (k, dim). ``k = 0`` if L is smooth."""

    def orbit_tangents(self, theta: Any) -> np.ndarray:
        """Tangents of the symmetry orbit through θ, shape (k, dim) (rows may be dependent)."""

    def flat_coordinates(self, theta: Any) -> list[int]:
        """θ-indices along which L is locally constant at θ."""

    def extra_evidence(self, theta: Any) -> dict:
        """Model-specific evidence stored with a classification (``{}`` if none)."""


class SmoothPotential:
    """Defaults for a C^∞ potential without flat coordinates or extra evidence (mix-in)."""

    def hessian_side(self, theta: Any, atol: float) -> None:
        return None

    def hessian_jumps(self, theta: Any, atol: float) -> list:
        return []

    def switching_functions(self, theta: Any, dps: int | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(0, dtype=float if dps is None else object), np.zeros((0, self.dim))

    def flat_coordinates(self, theta: Any) -> list[int]:
        return []

    def extra_evidence(self, theta: Any) -> dict:
        return {}


def significant(x: float, digits: int) -> float:
    """``x`` rounded to ``digits`` significant digits: numbers that a float64 search produces are
    stored so, because their last bits differ between BLAS kernels and machines."""
    return float(f"{x:.{digits - 1}e}")


def complement_basis(rows: Any, dim: int, tolerance: float = 1e-9) -> np.ndarray:
    """Orthonormal basis (columns) of the complement in R^dim of the span of ``rows``; singular
    values below ``tolerance`` × the largest count as zero (the zero modes a model explains,
    :func:`symmetry_generators`, or its orbit tangents)."""
    rows = np.asarray(rows, dtype=float)
    if len(rows) == 0:
        return np.eye(dim)
    _, singular, vt = np.linalg.svd(rows)
    rank = int((singular > tolerance * max(singular.max(), 1e-300)).sum())
    return vt[rank:].T


def sphere_descent_step(z: np.ndarray, q: np.ndarray, g: np.ndarray, step: np.ndarray,
                        q_and_grad) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One projected-gradient step of a batch of unit vectors z (rows) downhill on a function
    q of the direction (``q_and_grad(z) -> (q, ∇q)``), kept on the sphere; a row's step grows
    by 1.2 when it lowers q and halves otherwise (the row stays). Used to minimise directional
    quotients (L(θ + tz) − L(θ))/t² over directions."""
    tangent = g - (g * z).sum(axis=1, keepdims=True) * z
    trial = z - step[:, None] * tangent
    trial /= np.linalg.norm(trial, axis=1, keepdims=True)
    q_trial, g_trial = q_and_grad(trial)
    better = q_trial < q
    z, q, g = z.copy(), q.copy(), g.copy()
    z[better], q[better], g[better] = trial[better], q_trial[better], g_trial[better]
    return z, q, g, np.where(better, step * 1.2, step * 0.5)


def symmetry_generators(potential: Potential, theta: Any) -> np.ndarray:
    """The zero modes a potential explains at θ: its orbit tangents, then a unit vector per
    flat coordinate; shape (k, dim) in float64 (rows may be linearly dependent)."""
    theta = np.asarray(theta).astype(float)
    rows = list(potential.orbit_tangents(theta))
    for index in potential.flat_coordinates(theta):
        e = np.zeros(potential.dim)
        e[index] = 1.0
        rows.append(e)
    return np.array(rows) if rows else np.zeros((0, potential.dim))


def finite_difference_hessian(potential: Potential, theta: Any, step: float = 1e-5
                              ) -> np.ndarray:
    """Central differences of the exact gradient, symmetrised: shape (..., dim, dim), float64.

    The fallback Hessian of a potential without a coded one (as pele's numerical Hessian):
    error O(step²)·|∇³L| + O(ε/step)·|∇L|, about 1e-10 at the default step. Not for points
    within ``step`` of a place where the Hessian jumps.
    """
    theta = np.asarray(theta, dtype=float)
    eye = np.eye(potential.dim) * step
    shifted = theta[..., None, :] + np.stack([eye, -eye])[(slice(None),) + (None,) * (
        theta.ndim - 1)]
    gradients = potential.loss_and_gradient(shifted)[1]  # (2, ..., dim, dim)
    H = (gradients[0] - gradients[1]) / (2 * step)
    return (H + np.swapaxes(H, -1, -2)) / 2


class FixedCoordinates:
    """A potential restricted to some coordinates of θ, the others held at fixed values.

    For critical sets that a symmetry pins to a coordinate subspace (a k-gon's dead columns at
    W_j = 0 exactly, critical by the polygon's symmetry): solving on the free coordinates keeps
    the pinned ones exact, where a search on the full θ would leave rounding noise in them (and
    a noise of 10⁻¹⁷ in a coefficient makes some closed forms very ill-conditioned). A critical
    point of the restriction is a critical point of the full potential when the gradient in the
    fixed coordinates vanishes there: check it with the full potential.

    Parameters
    ----------
    potential : Potential
    theta : array_like, shape (dim,)
        The full point: supplies the fixed coordinates' values.
    free : sequence of int
        Indices of θ that vary; θ_free is the restricted potential's parameter vector.
    """

    def __init__(self, potential: Potential, theta: Any, free: Any):
        self.potential = potential
        self.base = np.array(theta, dtype=object if np.asarray(theta).dtype == object else float)
        self.free = np.asarray(free, dtype=int)
        self.dim = len(self.free)

    def full(self, theta_free: Any) -> np.ndarray:
        """θ with the free coordinates from ``theta_free`` (batched) and the others fixed."""
        theta_free = np.asarray(theta_free)
        dtype = object if object in (theta_free.dtype, self.base.dtype) else float
        out = np.broadcast_to(self.base, theta_free.shape[:-1] + self.base.shape).astype(dtype)
        out[..., self.free] = theta_free
        return out

    def flatten(self, *parameters: Any) -> np.ndarray:
        return np.asarray(self.potential.flatten(*parameters))[..., self.free]

    def unflatten(self, theta: Any) -> tuple[np.ndarray, ...]:
        return self.potential.unflatten(self.full(theta))

    def loss(self, theta: Any, dps: int | None = None) -> Any:
        return self.potential.loss(self.full(theta), dps=dps)

    def loss_and_gradient(self, theta: Any, dps: int | None = None) -> tuple[Any, np.ndarray]:
        value, gradient = self.potential.loss_and_gradient(self.full(theta), dps=dps)
        return value, gradient[..., self.free]

    def hessian(self, theta: Any, dps: int | None = None, side: Any = None) -> np.ndarray:
        H = self.potential.hessian(self.full(theta), dps=dps, side=side)
        return H[..., self.free[:, None], self.free[None, :]]

    def hessian_side(self, theta: Any, atol: float) -> Any:
        return self.potential.hessian_side(self.full(theta), atol)

    def hessian_jumps(self, theta: Any, atol: float) -> list:
        return self.potential.hessian_jumps(self.full(theta), atol)

    def switching_functions(self, theta: Any, dps: int | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
        values, jacobian = self.potential.switching_functions(self.full(theta), dps=dps)
        return values, jacobian[:, self.free]

    def orbit_tangents(self, theta: Any) -> np.ndarray:
        """The full orbit tangents that move no fixed coordinate, restricted."""
        tangents = np.asarray(self.potential.orbit_tangents(self.full(theta)), dtype=float)
        fixed = np.setdiff1d(np.arange(self.base.shape[-1]), self.free)
        keep = np.abs(tangents[:, fixed]).max(axis=1, initial=0.0) == 0 if len(tangents) else []
        return tangents[keep][:, self.free] if len(tangents) else np.zeros((0, self.dim))

    def flat_coordinates(self, theta: Any) -> list[int]:
        position = {int(index): k for k, index in enumerate(self.free)}
        return [position[i] for i in self.potential.flat_coordinates(self.full(theta))
                if i in position]

    def extra_evidence(self, theta: Any) -> dict:
        return self.potential.extra_evidence(self.full(theta))
