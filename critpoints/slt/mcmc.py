"""Posterior sampling over a ladder of sample sizes: MALA with replica exchange.

Target at level k: p_k(θ) ∝ exp(−E_k(θ)), E_k(θ) = N_k L(θ) + ½‖θ‖² (standard normal prior).
With the population potential L the levels differ only in the inverse temperature N_k, so
swapping the states of adjacent levels is accepted with probability
min(1, exp((N_{k+1} − N_k)(L(θ_{k+1}) − L(θ_k)))) and the chain on every level stays exactly
invariant for its own p_k. Within a level, each step is a Metropolis-adjusted Langevin move
(MALA): θ' = θ − (h/2)∇E(θ) + √h ξ, accepted with the Metropolis–Hastings ratio of the
asymmetric proposal, so the sampler is exact (no discretisation bias). Step sizes h_k adapt
during burn-in only (towards acceptance 0.574), then stay fixed.

Everything is vectorised over (replica ensembles × levels). The potential is any object of
:mod:`critpoints.slt.potentials` (``loss_and_gradient(theta (B, d))``); levels below the reported
range serve as "hot" replicas that carry states between phases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LadderResult", "sample_posterior_ladder", "occupancy_crossing"]


@dataclass
class LadderResult:
    """Draws summarised per level.

    Attributes
    ----------
    levels : ndarray (K,)
        The sample sizes N_k.
    counts : list of dict
        ``counts[k][label]``: number of recorded draws at level k classified as ``label``.
    mean_loss : ndarray (K,)
        Posterior mean of L at each level.
    acceptance, swap_acceptance : ndarray
        MALA acceptance per level (after burn-in) and swap acceptance per adjacent pair.
    step_sizes : ndarray (K,)
        The adapted MALA step sizes.
    draws : int
        Recorded draws per level (ensembles × recorded steps).
    """

    levels: np.ndarray
    counts: list
    mean_loss: np.ndarray
    acceptance: np.ndarray
    swap_acceptance: np.ndarray
    step_sizes: np.ndarray
    draws: int
    info: dict = field(default_factory=dict)

    def occupancy(self, labels: list[str]) -> dict[str, np.ndarray]:
        """Fraction of draws per level for each label in ``labels`` (of all draws)."""
        return {
            lab: np.array([c.get(lab, 0) / self.draws for c in self.counts]) for lab in labels
        }


def sample_posterior_ladder(
    potential: Any,
    levels: Any,
    *,
    ensembles: int = 8,
    steps: int = 20000,
    burn_in: int = 5000,
    thin: int = 10,
    swap_every: int = 1,
    exchange: bool = True,
    classify: Callable[[np.ndarray], np.ndarray] | None = None,
    seed: Any = None,
    target_acceptance: float = 0.574,
    progress: Callable[[int, int], None] | None = None,
) -> LadderResult:
    """Sample p_k(θ) ∝ exp(−N_k L(θ) − ½‖θ‖²) for every N_k in ``levels`` at once.

    Parameters
    ----------
    potential
        ``dim`` and ``loss_and_gradient(theta (B, dim))``; L must not depend on the level
        (a population potential).
    levels : array_like of float
        Increasing sample sizes N_k (the ladder; include small "hot" values for mixing).
    ensembles : int
        Independent replica-exchange ensembles (each has one replica per level).
    steps, burn_in, thin : int
        MALA steps; steps before recording (and during which step sizes adapt); record every
        ``thin`` steps.
    swap_every : int
        Attempt swaps of adjacent levels every this many steps (alternating even/odd pairs).
    exchange : bool
        ``False`` runs independent MALA chains per level (no swaps): each chain is still exact
        for its level but stays in the basin it falls into, so occupancies then reflect basins
        of attraction from the prior as much as posterior mass (the comparison protocol).
    classify : callable, optional
        Maps θ of shape (B, dim) to labels (B,); defaults to one label "all".
    seed
        Seed or ``numpy.random.Generator``.
    progress : callable, optional
        ``progress(step, steps)`` every 5% of the run.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    levels = np.asarray(levels, dtype=float)
    if levels.ndim != 1 or len(levels) < 1 or np.any(np.diff(levels) <= 0) or levels[0] <= 0:
        raise ValueError("levels must be a strictly increasing sequence of positive numbers")
    if steps <= burn_in:
        raise ValueError("steps must exceed burn_in")
    K, C, d = len(levels), int(ensembles), potential.dim
    Nk = levels[None, :, None]  # broadcast over (C, K, d)

    def energy_and_grad(theta):
        loss, grad = potential.loss_and_gradient(theta.reshape(-1, d))
        loss, grad = loss.reshape(C, K), grad.reshape(C, K, d)
        return loss, Nk[..., 0] * loss + 0.5 * np.sum(theta**2, axis=-1), Nk * grad + theta

    theta = rng.standard_normal((C, K, d))  # start from the prior
    loss, energy, grad = energy_and_grad(theta)
    # Initial step: a fraction of 1/(N h_max) with h_max ~ 1 for the TMS potential.
    log_h = np.log(0.5 / (levels + 1.0))
    accepted = np.zeros(K)
    swaps_tried = np.zeros(max(K - 1, 1))
    swaps_done = np.zeros(max(K - 1, 1))
    counts = [dict() for _ in range(K)]
    loss_sum = np.zeros(K)
    recorded = 0
    for step in range(steps):
        h = np.exp(log_h)[None, :, None]
        mean_fwd = theta - 0.5 * h * grad
        proposal = mean_fwd + np.sqrt(h) * rng.standard_normal(theta.shape)
        loss_p, energy_p, grad_p = energy_and_grad(proposal)
        mean_bwd = proposal - 0.5 * h * grad_p
        log_q_fwd = -np.sum((proposal - mean_fwd) ** 2, axis=-1) / (2 * h[..., 0])
        log_q_bwd = -np.sum((theta - mean_bwd) ** 2, axis=-1) / (2 * h[..., 0])
        log_alpha = energy - energy_p + log_q_bwd - log_q_fwd
        accept = np.log(rng.random((C, K))) < np.where(np.isfinite(log_alpha), log_alpha, -np.inf)
        theta = np.where(accept[..., None], proposal, theta)
        loss = np.where(accept, loss_p, loss)
        energy = np.where(accept, energy_p, energy)
        grad = np.where(accept[..., None], grad_p, grad)
        rate = accept.mean(axis=0)
        if step < burn_in:
            # Robbins–Monro on log h; frozen afterwards so the chain is a fixed MH kernel.
            log_h += (rate - target_acceptance) * 2.0 / np.sqrt(step + 10.0)
        else:
            accepted += rate
        if exchange and K > 1 and step % swap_every == 0:
            first = (step // swap_every) % 2
            for k in range(first, K - 1, 2):
                log_a = (levels[k + 1] - levels[k]) * (loss[:, k + 1] - loss[:, k])
                swap = np.log(rng.random(C)) < log_a
                if step >= burn_in:
                    swaps_tried[k] += C
                    swaps_done[k] += swap.sum()
                if swap.any():
                    i = np.flatnonzero(swap)
                    theta[i, k], theta[i, k + 1] = theta[i, k + 1].copy(), theta[i, k].copy()
                    loss[i, k], loss[i, k + 1] = loss[i, k + 1].copy(), loss[i, k].copy()
                    # Energies and gradients depend on the level: recompute for the swapped.
                    for kk in (k, k + 1):
                        energy[i, kk] = levels[kk] * loss[i, kk] + 0.5 * np.sum(
                            theta[i, kk] ** 2, axis=-1)
                    _, g = potential.loss_and_gradient(theta[i][:, [k, k + 1]].reshape(-1, d))
                    g = g.reshape(len(i), 2, d)
                    grad[i, k] = levels[k] * g[:, 0] + theta[i, k]
                    grad[i, k + 1] = levels[k + 1] * g[:, 1] + theta[i, k + 1]
        if step >= burn_in and (step - burn_in) % thin == 0:
            recorded += 1
            loss_sum += loss.sum(axis=0)
            labels = (classify(theta.reshape(-1, d)) if classify is not None
                      else np.full(C * K, "all", dtype=object)).reshape(C, K)
            for k in range(K):
                for lab in labels[:, k]:
                    counts[k][lab] = counts[k].get(lab, 0) + 1
        if progress is not None and (step + 1) % max(1, steps // 20) == 0:
            progress(step + 1, steps)
    post = steps - burn_in
    return LadderResult(
        levels=levels,
        counts=counts,
        mean_loss=loss_sum / (recorded * C),
        acceptance=accepted / post,
        swap_acceptance=np.divide(swaps_done, np.maximum(swaps_tried, 1)),
        step_sizes=np.exp(log_h),
        draws=recorded * C,
    )


def occupancy_crossing(N: Any, p_from: Any, p_to: Any) -> float | None:
    """N where p_to − p_from changes sign from − to + for the last time (log-N interpolation)."""
    N, diff = np.asarray(N, float), np.asarray(p_to, float) - np.asarray(p_from, float)
    idx = [i for i in range(len(N) - 1) if diff[i] < 0 <= diff[i + 1]]
    if not idx:
        return None
    i = idx[-1]
    t = -diff[i] / (diff[i + 1] - diff[i])
    return float(np.exp(np.log(N[i]) + t * (np.log(N[i + 1]) - np.log(N[i]))))
