"""The two local searches of the classification, compiled with the TMS loss inside them.

- the constrained random walk of nested sampling (:func:`critpoints.slt.volume._constrained_walk`),
  behind the volume-scaling λ̂ of a non-smooth minimum: ~25 000 small batches of 60 points, each
  costing ~50 µs of Python and array overhead in numpy against ~10 µs of loss; the three such
  minima at n = 6 were 58 % of ``enumerate --n 6`` (docs/performance.md);
- the projected-gradient descent of the directional quotient q(v) = (L(θ + t v) − L(θ))/t² on
  the unit sphere (:func:`critpoints.solve.classify.directional_curvature`): 200 steps of 256
  directions per non-smooth point, 70 % overhead in numpy.

Both take the same steps as the numpy code from the same random numbers (the walk's are drawn
beforehand, :class:`critpoints.slt.volume.WalkNoise`), one point at a time in a compiled loop,
with the loss of :func:`critpoints.tms._compiled_blocks.point_loss` (and its gradient). The walk
moves each copy in θ itself (θ = θ* + basis·z: the shaped step is basis·chol·ξ, precomputed once
per call, and the scaling move needs no product at all; |z| = |θ − θ*| as the basis is
orthonormal) and returns to z once at the end. Every sum runs in a fixed order, written as
axpy loops that the compiler vectorises across the outputs without reordering any one sum (no
BLAS, whose kernels round differently from machine to machine; no fast-math). It differs from
the numpy code's in the rounding of the sums only — but a walk compares losses near 1e-11 above
L*, where that rounding is 1e-6 relative, and one decision taken differently sends it down
another path of the same distribution (the λ̂ of the 12-feature 4⁺⁺⁺⁺⁺⁺⁺⁺ came out 17.535 here
and 17.511 from numpy, stored λ = 17.5 either way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from critpoints.tms._compiled_blocks import _JIT, point_loss, point_loss_and_gradient

__all__ = ["TMSSublevelWalk", "quotient_descent"]


@numba.njit(**_JIT)
def _add_product(out, matrix_t, v, factor):
    # out += factor · matrix_tᵀ v = Σ_i (factor v_i) · row i of matrix_t, one row at a time
    for i in range(v.shape[0]):
        c = factor * v[i]
        for p in range(out.shape[0]):
            out[p] += matrix_t[i, p] * c


@numba.njit(**_JIT)
def _inside_below(proposal, theta_center, radius, reference_loss, m, n):
    # (1, L − L0) of a proposal inside the ball, (0, inf) outside (not evaluated)
    norm2 = 0.0
    for p in range(proposal.shape[0]):
        delta = proposal[p] - theta_center[p]
        norm2 += delta * delta
    if np.sqrt(norm2) < radius:
        return 1, point_loss(proposal, m, n) - reference_loss
    return 0, np.inf


@numba.njit(**_JIT)
def _walk(x, fx, chol, scale, radial, threshold, step_normals, scale_normals, uniforms, center,
          radius, reference_loss, theta_star, basis_t, m, n):
    steps, R, k, d = step_normals.shape
    D = theta_star.shape[0]
    accepted = np.zeros(R)
    accepted_radial = np.zeros(R)
    evaluations = 0
    # the shaped step in θ: (basis·chol_r)ᵀ, row j = Σ_i chol[r, i, j]·basis row i
    step_t = np.zeros((R, d, D))
    for r in range(R):
        for i in range(d):
            for j in range(i + 1):
                c = chol[r, i, j]
                for p in range(D):
                    step_t[r, j, p] += basis_t[i, p] * c
    theta_center = theta_star.copy()
    _add_product(theta_center, basis_t, center, 1.0)
    theta = np.empty(D)
    proposal = np.empty(D)
    offset = np.empty(d)
    for r in range(R):
        for c in range(k):
            for i in range(d):
                offset[i] = x[r, c, i] - center[i]
            theta[:] = theta_center
            _add_product(theta, basis_t, offset, 1.0)
            moved = False
            for s in range(steps):
                # (1) the Gaussian step shaped by chol
                proposal[:] = theta
                _add_product(proposal, step_t[r], step_normals[s, r, c], scale[r])
                evaluated, f = _inside_below(proposal, theta_center, radius, reference_loss, m,
                                             n)
                evaluations += evaluated
                if f < threshold[r]:
                    theta[:] = proposal
                    fx[r, c] = f
                    accepted[r] += 1
                    moved = True
                # (2) the scaling move about the centre, accepted with probability min(1, s^d)
                log_s = radial[r] * scale_normals[s, r, c]
                factor = np.exp(log_s)
                for p in range(D):
                    proposal[p] = theta_center[p] + factor * (theta[p] - theta_center[p])
                if d * log_s - np.log(uniforms[s, r, c]) >= 0.0:
                    evaluated, f = _inside_below(proposal, theta_center, radius,
                                                 reference_loss, m, n)
                    evaluations += evaluated
                    if f < threshold[r]:
                        theta[:] = proposal
                        fx[r, c] = f
                        accepted_radial[r] += 1
                        moved = True
            if moved:  # back to z = center + basisᵀ(θ − θ_center); an unmoved copy keeps its z
                for i in range(d):
                    x[r, c, i] = center[i]
                for p in range(D):
                    delta = theta[p] - theta_center[p]
                    for i in range(d):
                        x[r, c, i] += basis_t[i, p] * delta
    return accepted, accepted_radial, evaluations


@dataclass(frozen=True)
class TMSSublevelWalk:
    """The walk on the slice θ* + basis·z of the TMS potential with n features in m dimensions
    (a :class:`critpoints.slt.volume.CompiledWalk`)."""

    theta_star: np.ndarray  # (dim,)
    basis: np.ndarray  # (dim, d), orthonormal columns
    m: int
    n: int

    def walk(self, x, fx, chol, scale, radial, threshold, noise, center, radius,
             reference_loss):
        accepted, accepted_radial, evaluations = _walk(
            x, fx, np.ascontiguousarray(chol, dtype=float), np.asarray(scale, dtype=float),
            np.asarray(radial, dtype=float), np.asarray(threshold, dtype=float),
            noise.step_normals, noise.scale_normals, noise.uniforms,
            np.ascontiguousarray(center, dtype=float), float(radius), float(reference_loss),
            self.theta_star, np.ascontiguousarray(self.basis.T), self.m, self.n)
        return accepted, accepted_radial, int(evaluations)


@numba.njit(**_JIT)
def _quotient(z, theta0, basis, basis_t, t, reference_loss, m, n, theta, grad, q_grad):
    # q(z) = (L(θ0 + t·basis z) − L0)/t² and ∇q = basisᵀ ∇L / t (written into q_grad)
    theta[:] = theta0
    _add_product(theta, basis_t, z, t)
    value = point_loss_and_gradient(theta, m, n, grad)
    q_grad[:] = 0.0
    _add_product(q_grad, basis, grad, 1.0)
    for i in range(q_grad.shape[0]):
        q_grad[i] /= t
    return (value - reference_loss) / (t * t)


@numba.njit(**_JIT)
def _quotient_descent(theta0, basis, basis_t, radii, directions, reference_loss, steps, m, n):
    rows, d = directions.shape
    z = directions.copy()
    q = np.empty(rows)
    theta = np.empty(theta0.shape[0])
    grad = np.empty(theta0.shape[0])
    g = np.empty(d)
    g_trial = np.empty(d)
    trial = np.empty(d)
    for row in range(rows):
        t = radii[row]
        zr = z[row]
        qr = _quotient(zr, theta0, basis, basis_t, t, reference_loss, m, n, theta, grad, g)
        step = 0.1
        for _ in range(steps):
            # the step of critpoints.potential.sphere_descent_step for this row
            along = 0.0
            for i in range(d):
                along += g[i] * zr[i]
            norm2 = 0.0
            for i in range(d):
                trial[i] = zr[i] - step * (g[i] - along * zr[i])
                norm2 += trial[i] * trial[i]
            norm = np.sqrt(norm2)
            for i in range(d):
                trial[i] /= norm
            q_trial = _quotient(trial, theta0, basis, basis_t, t, reference_loss, m, n, theta,
                                grad, g_trial)
            if q_trial < qr:
                zr[:] = trial
                g[:] = g_trial
                qr = q_trial
                step *= 1.2
            else:
                step *= 0.5
        q[row] = qr
    return z, q


def quotient_descent(theta0, basis, radii, directions, reference_loss, steps, m, n):
    """Minimise q(v) = (L(θ0 + t·basis v) − L0)/t² over unit v for the TMS potential with n
    features in m dimensions, from each row of ``directions`` with its own t (``radii``), by
    ``steps`` steps of :func:`critpoints.potential.sphere_descent_step`; the final directions
    and quotients."""
    basis = np.ascontiguousarray(basis, dtype=float)
    return _quotient_descent(
        np.ascontiguousarray(theta0, dtype=float), basis, np.ascontiguousarray(basis.T),
        np.ascontiguousarray(radii, dtype=float), np.ascontiguousarray(directions, dtype=float),
        float(reference_loss), int(steps), int(m), int(n))
