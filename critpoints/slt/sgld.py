"""Stochastic-gradient Langevin dynamics for λ̂, vectorised over chains (devinterp's ``sgld``).

One step, for every chain at once (ε the step size, γ the localisation, Nβ = N / log N):

    w ← w − (ε/2) [Nβ ∇L_batch(w) + γ (w − w*)] + √ε ξ,   ξ ~ N(0, I).

The loop only moves the chains and hands each recorded loss to an
:class:`~critpoints.slt.llc.LLCEstimator`; the estimate is its ``finalize()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from critpoints.slt.llc import LLCEstimator, LLCResult, default_nbeta

__all__ = ["SGLDDiverged", "sgld_llc"]


class SGLDDiverged(FloatingPointError):
    """Chains whose parameters became non-finite: the step size or the localisation is too large
    for the curvature (stability needs ε (Nβ h_max + γ) ≲ 2)."""

    def __init__(self, step: int, chains: list[int]):
        self.step, self.chains = step, list(chains)
        shown = ", ".join(map(str, self.chains[:10])) + (", ..." if len(self.chains) > 10 else "")
        super().__init__(f"SGLD diverged (non-finite parameters) at step {step} in chain(s) "
                         f"{shown}")

    def __reduce__(self):
        return (type(self), (self.step, self.chains))


def sgld_llc(
    potential: Any,
    theta_star: Any,
    n_samples: float,
    *,
    chains: int = 8,
    steps: int = 2000,
    burn_in: int = 500,
    epsilon: float = 1e-4,
    gamma: float = 100.0,
    nbeta: float | None = None,
    batch_size: int | None = None,
    seed: Any = None,
    escape_fraction: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> LLCResult:
    """Estimate the local learning coefficient at ``theta_star`` by SGLD.

    Parameters
    ----------
    potential
        An object with ``dim`` and ``loss_and_gradient(theta (C, dim))`` (see
        :mod:`critpoints.slt.potentials`). If it has ``minibatch(indices)`` and ``batch_size`` is
        given, each step uses the gradient of a random minibatch (shared by the chains) and records
        that minibatch's loss, as devinterp does.
    theta_star : array_like (dim,)
        The centre w*; every chain starts there.
    n_samples : float
        N, the sample size in Nβ = N / log N (for a population potential: the size the posterior
        is meant to imitate).
    chains, steps, burn_in : int
        Independent chains; SGLD steps per chain; steps discarded before recording.
    epsilon, gamma : float
        Step size and localisation strength. Stability needs ε Nβ h_max ≲ 1 (h_max the largest
        Hessian eigenvalue); γ biases λ̂ down by the factor Nβh/(Nβh + γ) per direction of
        curvature h, so keep γ ≪ Nβ h_min.
    nbeta : float, optional
        Override Nβ.
    seed
        Seed or ``numpy.random.Generator``.
    escape_fraction : float
        See :class:`~critpoints.slt.llc.LLCEstimator`.
    progress : callable, optional
        Called as ``progress(step, steps)`` every 10% of the run.

    Returns
    -------
    LLCResult

    Raises
    ------
    SGLDDiverged
        At the first step after which a chain's parameters are not finite.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if steps <= burn_in + 1:
        raise ValueError(f"steps ({steps}) must exceed burn_in ({burn_in}) + 1")
    theta_star = np.asarray(theta_star, dtype=float)
    nb = default_nbeta(n_samples) if nbeta is None else float(nbeta)
    init_loss = float(potential.loss_and_gradient(theta_star[None, :])[0][0])
    # Draws below L(w*) by less than float64 noise of the loss itself are not "escapes".
    estimator = LLCEstimator(
        chains, steps - burn_in, nb, init_loss, tolerance=1e-12 * max(1.0, abs(init_loss)),
        escape_fraction=escape_fraction,
    )
    theta = np.repeat(theta_star[None, :], chains, axis=0)
    use_batches = batch_size is not None and hasattr(potential, "minibatch")
    # Overflow is not warned about: a diverging chain is reported as SGLDDiverged.
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            if use_batches:
                idx = rng.choice(potential.size, size=batch_size, replace=False)
                value, grad = potential.minibatch(idx).loss_and_gradient(theta)
            else:
                value, grad = potential.loss_and_gradient(theta)
            if step >= burn_in:
                estimator.update(step - burn_in, value)  # loss at the current draw, before moving
            drift = nb * grad + gamma * (theta - theta_star)
            noise = rng.standard_normal(theta.shape)
            theta = theta - 0.5 * epsilon * drift + np.sqrt(epsilon) * noise
            if not np.isfinite(theta).all():
                bad = np.flatnonzero(~np.isfinite(theta).all(axis=1))
                raise SGLDDiverged(step + 1, bad.tolist())
            if progress is not None and (step + 1) % max(1, steps // 10) == 0:
                progress(step + 1, steps)
    return estimator.finalize()
