"""Posterior sampling over a ladder of sample sizes: MALA with replica exchange.

Target at level k: p_k(θ) ∝ exp(−E_k(θ)), E_k(θ) = β_k L_k(θ) + ½‖θ‖² (standard normal prior),
with β_k = N_k (or a rescaled N_k, see the likelihood conventions of ``critpoints phases``).
L_k is either one population potential L for all levels, or the empirical loss on a data set
of its own per replica (nested data sets of sizes N_k). Swapping the states of adjacent levels
is accepted with the exact replica-exchange ratio (see :func:`sample_posterior_ladder`), so the
chain on every level stays exactly invariant for its own p_k. Within a level, each step is a
Metropolis-adjusted Langevin move (MALA): θ' = θ − (h/2)∇E(θ) + √h ξ, accepted with the
Metropolis–Hastings ratio of the asymmetric proposal, so the sampler is exact (no
discretisation bias). Step sizes h_k adapt during burn-in only (towards acceptance 0.574), then
stay fixed.

Everything is vectorised over (replica ensembles × levels). The potential is any object of
:mod:`critpoints.slt.potentials` (``loss_and_gradient(theta (B, d))``, or with a data-set index
per chain for the slotted ones); levels below the reported range serve as "hot" replicas that
carry states between phases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LadderResult", "sample_posterior_ladder", "occupancy_crossing", "dominant_changes"]


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
    slots: Any = None,
    classify: Callable[[np.ndarray], np.ndarray] | None = None,
    seed: Any = None,
    target_acceptance: float = 0.574,
    progress: Callable[[int, int], None] | None = None,
) -> LadderResult:
    """Sample p_k(θ) ∝ exp(−β_k L_k(θ) − ½‖θ‖²) for every β_k in ``levels`` at once.

    Parameters
    ----------
    potential
        ``dim`` and ``loss_and_gradient(theta (B, dim))``. A potential with ``slotted = True``
        (e.g. :class:`~critpoints.slt.potentials.TMSEmpiricalSets`) is called as
        ``loss_and_gradient(theta, slot (B,))``: replica (c, k) then has its own loss L_k, on
        data set ``slots[c, k]`` (the empirical loss on a data set of size N_k).
    levels : array_like of float
        Increasing inverse temperatures β_k multiplying L (β_k = N_k for the posterior at
        sample size N_k; include small "hot" values for mixing).
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
    slots : array_like of int, shape (ensembles, K), optional
        Data set of each replica for a slotted potential (required then, ignored otherwise).
    classify : callable, optional
        Maps θ of shape (B, dim) to labels (B,); defaults to one label "all".
    seed
        Seed or ``numpy.random.Generator``.
    progress : callable, optional
        ``progress(step, steps)`` every 5% of the run.

    Notes
    -----
    A swap of the states of levels k and k+1 is accepted with probability
    min(1, exp(β_k L_k(θ_k) + β_{k+1} L_{k+1}(θ_{k+1}) − β_k L_k(θ_{k+1}) − β_{k+1} L_{k+1}(θ_k)))
    (the prior cancels), which for one shared potential is the familiar
    exp((β_{k+1} − β_k)(L(θ_{k+1}) − L(θ_k))). Every level's chain stays exactly invariant.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    levels = np.asarray(levels, dtype=float)
    if levels.ndim != 1 or len(levels) < 1 or np.any(np.diff(levels) <= 0) or levels[0] <= 0:
        raise ValueError("levels must be a strictly increasing sequence of positive numbers")
    if steps <= burn_in:
        raise ValueError("steps must exceed burn_in")
    K, C, d = len(levels), int(ensembles), potential.dim
    slotted = bool(getattr(potential, "slotted", False))
    if slotted:
        if slots is None:
            raise ValueError("a slotted potential needs slots (ensembles × levels data sets)")
        slots = np.asarray(slots, dtype=int)
        if slots.shape != (C, K):
            raise ValueError(f"slots must have shape {(C, K)}; got {slots.shape}")
    beta = levels[None, :]  # broadcast over (C, K)

    def evaluate(theta, slot):
        flat = theta.reshape(-1, d)
        if slotted:
            value, grad = potential.loss_and_gradient(flat, slot.reshape(-1))
        else:
            value, grad = potential.loss_and_gradient(flat)
        return value.reshape(theta.shape[:-1]), grad.reshape(theta.shape)

    def energy_of(theta, loss):
        return beta * loss + 0.5 * np.sum(theta**2, axis=-1)

    def energy_gradient(theta, lgrad):
        return beta[..., None] * lgrad + theta

    theta = rng.standard_normal((C, K, d))  # start from the prior
    loss, lgrad = evaluate(theta, slots)
    energy, grad = energy_of(theta, loss), energy_gradient(theta, lgrad)
    # Initial step: a fraction of 1/(β h_max) with h_max ~ 1 for the TMS potential.
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
        loss_p, lgrad_p = evaluate(proposal, slots)
        energy_p, grad_p = energy_of(proposal, loss_p), energy_gradient(proposal, lgrad_p)
        mean_bwd = proposal - 0.5 * h * grad_p
        log_q_fwd = -np.sum((proposal - mean_fwd) ** 2, axis=-1) / (2 * h[..., 0])
        log_q_bwd = -np.sum((theta - mean_bwd) ** 2, axis=-1) / (2 * h[..., 0])
        log_alpha = energy - energy_p + log_q_bwd - log_q_fwd
        accept = np.log(rng.random((C, K))) < np.where(np.isfinite(log_alpha), log_alpha, -np.inf)
        theta = np.where(accept[..., None], proposal, theta)
        loss = np.where(accept, loss_p, loss)
        lgrad = np.where(accept[..., None], lgrad_p, lgrad)
        rate = accept.mean(axis=0)
        if step < burn_in:
            # Robbins–Monro on log h; frozen afterwards so the chain is a fixed MH kernel.
            log_h += (rate - target_acceptance) * 2.0 / np.sqrt(step + 10.0)
        else:
            accepted += rate
        if exchange and K > 1 and step % swap_every == 0:
            lower = np.arange((step // swap_every) % 2, K - 1, 2)
            if len(lower):
                loss, lgrad = _swap_pairs(lower, theta, loss, lgrad, levels, slots, slotted,
                                          evaluate, rng, swaps_tried, swaps_done,
                                          count=step >= burn_in)
        energy, grad = energy_of(theta, loss), energy_gradient(theta, lgrad)
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


def _swap_pairs(lower, theta, loss, lgrad, levels, slots, slotted, evaluate, rng,
                swaps_tried, swaps_done, count):
    """Try to swap the states of levels (k, k+1) for k in ``lower``, in every ensemble.

    Updates ``theta`` in place and returns the new (loss, lgrad): a state keeps its own
    L_k-values only when all levels share one potential; otherwise it is re-evaluated on the
    data set of the level it moves to (those are the cross terms of the acceptance ratio).
    """
    upper = lower + 1
    C = theta.shape[0]
    if slotted:
        moved = np.concatenate([theta[:, upper], theta[:, lower]], axis=1)  # to lower, to upper
        target = np.concatenate([slots[:, lower], slots[:, upper]], axis=1)
        cross_loss, cross_grad = evaluate(moved, target)
        down_loss, up_loss = np.split(cross_loss, 2, axis=1)  # L_k(θ_{k+1}), L_{k+1}(θ_k)
        down_grad, up_grad = np.split(cross_grad, 2, axis=1)
    else:
        down_loss, up_loss = loss[:, upper], loss[:, lower]
        down_grad, up_grad = lgrad[:, upper], lgrad[:, lower]
    b_lo, b_hi = levels[lower][None, :], levels[upper][None, :]
    log_a = (b_lo * loss[:, lower] + b_hi * loss[:, upper]
             - b_lo * down_loss - b_hi * up_loss)
    swap = np.log(rng.random(log_a.shape)) < np.where(np.isfinite(log_a), log_a, -np.inf)
    if count:
        swaps_tried[lower] += C
        swaps_done[lower] += swap.sum(axis=0)
    if not swap.any():
        return loss, lgrad
    loss, lgrad = loss.copy(), lgrad.copy()
    c, p = np.nonzero(swap)
    k, k1 = lower[p], upper[p]
    theta[c, k], theta[c, k1] = theta[c, k1].copy(), theta[c, k].copy()
    loss[c, k], loss[c, k1] = down_loss[c, p], up_loss[c, p]
    lgrad[c, k], lgrad[c, k1] = down_grad[c, p], up_grad[c, p]
    return loss, lgrad


def occupancy_crossing(N: Any, p_from: Any, p_to: Any) -> float | None:
    """N where p_to − p_from changes sign from − to + for the last time (log-N interpolation)."""
    N, diff = np.asarray(N, float), np.asarray(p_to, float) - np.asarray(p_from, float)
    idx = [i for i in range(len(N) - 1) if diff[i] < 0 <= diff[i + 1]]
    if not idx:
        return None
    i = idx[-1]
    t = -diff[i] / (diff[i + 1] - diff[i])
    return float(np.exp(np.log(N[i]) + t * (np.log(N[i + 1]) - np.log(N[i]))))


def dominant_changes(N: Any, occupancy: dict, labels: Any = None) -> list[dict]:
    """Where the most occupied phase changes along N: ``[{"from", "to", "samples"}, ...]``.

    ``occupancy`` maps labels to occupancies on the grid ``N``; only ``labels`` (default all)
    compete. Each change is located by :func:`occupancy_crossing` of the two phases on the
    grid interval where it happens (log-N interpolation).
    """
    N = np.asarray(N, float)
    labels = list(occupancy) if labels is None else [lab for lab in labels if lab in occupancy]
    if not labels:
        return []
    table = np.array([np.asarray(occupancy[lab], float) for lab in labels])
    best = table.argmax(axis=0)
    out = []
    for i in np.flatnonzero(np.diff(best)):
        a, b = labels[best[i]], labels[best[i + 1]]
        where = occupancy_crossing(N[i:i + 2], table[best[i], i:i + 2], table[best[i + 1], i:i + 2])
        out.append({"from": a, "to": b, "samples": where if where is not None else float(N[i + 1])})
    return out
