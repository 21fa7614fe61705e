"""Stochastic-gradient Langevin dynamics for λ̂, vectorised over chains (devinterp's ``sgld``).

One step, for every chain at once (ε the step size, γ the localisation, Nβ = N / log N):

    w ← w − (ε/2) [Nβ ∇L_batch(w) + γ (w − w*)] + √ε ξ,   ξ ~ N(0, I).

The loop only moves the chains and hands each recorded loss to an
:class:`~critpoints.slt.llc.LLCEstimator`; the estimate is its ``finalize()``. Two diagnostics
are gathered on the way: every ``acceptance_every`` steps the Metropolis probability the proposal
would have had under MALA (same minibatch at both ends: one extra gradient), and ``checkpoints``
snapshots of every chain, identified after the run by a ``basin`` test
(:class:`critpoints.slt.basins.QuenchBasin`) to find when a chain left the basin of w*.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from critpoints.slt.llc import BasinExits, LLCEstimator, LLCResult, default_nbeta

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
    basin: Callable[[np.ndarray], tuple[np.ndarray, list]] | None = None,
    checkpoints: int = 40,
    acceptance_every: int | None = 10,
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
    basin : callable, optional
        ``basin(θ (K, dim)) → (in_basin (K,), labels)``; the chains' parameters at
        ``checkpoints`` evenly spaced draws are tested after the run, and each chain is kept,
        truncated to its in-basin draws or dropped (:meth:`LLCEstimator.finalize`). Without it,
        the fraction-of-draws-below rule decides.
    acceptance_every : int or None
        Evaluate the MALA acceptance probability every this many steps after burn-in (None: not
        at all).

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
    draws = steps - burn_in
    snapshot_draws = np.unique(np.linspace(0, draws - 1, max(1, min(checkpoints, draws)))
                               .round().astype(int))
    snapshots = np.empty((len(snapshot_draws), chains, theta.shape[1]))
    accepted, evaluated = np.zeros(chains), 0
    # Overflow is not warned about: a diverging chain is reported as SGLDDiverged.
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            batch = potential.minibatch(rng.choice(potential.size, size=batch_size,
                                                   replace=False)) if use_batches else potential
            value, grad = batch.loss_and_gradient(theta)
            draw = step - burn_in
            if draw >= 0:
                estimator.update(draw, value)  # loss at the current draw, before moving
                slot = np.searchsorted(snapshot_draws, draw)
                if slot < len(snapshot_draws) and snapshot_draws[slot] == draw:
                    snapshots[slot] = theta
            drift = nb * grad + gamma * (theta - theta_star)
            noise = rng.standard_normal(theta.shape)
            proposal = theta - 0.5 * epsilon * drift + np.sqrt(epsilon) * noise
            if acceptance_every and draw >= 0 and draw % acceptance_every == 0:
                accepted += _mala_acceptance(batch, theta, proposal, value, noise, nb,
                                             gamma, epsilon, theta_star)
                evaluated += 1
            theta = proposal
            if not np.isfinite(theta).all():
                bad = np.flatnonzero(~np.isfinite(theta).all(axis=1))
                raise SGLDDiverged(step + 1, bad.tolist())
            if progress is not None and (step + 1) % max(1, steps // 10) == 0:
                progress(step + 1, steps)
    exits = None
    if basin is not None:
        inside, labels = basin(snapshots.reshape(-1, theta.shape[1]))
        inside = np.asarray(inside, dtype=bool).reshape(len(snapshot_draws), chains)
        labels = np.array(labels, dtype=object).reshape(len(snapshot_draws), chains)
        exits = BasinExits(snapshot_draws, inside, labels,
                           getattr(basin, "rule", "basin test at checkpoints"))
    return estimator.finalize(exits, accepted / evaluated if evaluated else None)


def _mala_acceptance(potential: Any, theta: np.ndarray, proposal: np.ndarray, value: np.ndarray,
                     noise: np.ndarray, nbeta: float, gamma: float,
                     epsilon: float, centre: np.ndarray) -> np.ndarray:
    """min(1, π(w')q(w|w') / π(w)q(w'|w)) for π ∝ exp(−U), U = Nβ L + ½γ‖w − w*‖², and the
    Langevin proposal q(·|w) = N(w − ε∇U(w)/2, ε I): 1 for an exact sampler, lower the more the
    discretisation distorts the target."""
    new_value, new_grad = potential.loss_and_gradient(proposal)
    energy = nbeta * value + 0.5 * gamma * np.sum((theta - centre) ** 2, axis=1)
    new_energy = nbeta * new_value + 0.5 * gamma * np.sum((proposal - centre) ** 2, axis=1)
    back = theta - (proposal - 0.5 * epsilon * (nbeta * new_grad + gamma * (proposal - centre)))
    log_ratio = (energy - new_energy - np.sum(back**2, axis=1) / (2 * epsilon)
                 + 0.5 * np.sum(noise**2, axis=1))
    with np.errstate(over="ignore"):
        return np.minimum(1.0, np.exp(np.minimum(log_ratio, 0.0)))
