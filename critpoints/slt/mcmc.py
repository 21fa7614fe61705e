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

__all__ = ["LadderResult", "dominant_changes", "occupancy_crossing", "sample_posterior_ladder"]


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
    ladder = _Ladder(potential, levels, int(ensembles), slots)
    if steps <= burn_in:
        raise ValueError("steps must exceed burn_in")
    K, C, d = len(ladder.levels), ladder.ensembles, ladder.dim
    state = _ChainState.from_prior(ladder, rng)
    # Initial step: a fraction of 1/(β h_max) with h_max ~ 1 for the TMS potential.
    log_h = np.log(0.5 / (ladder.levels + 1.0))
    tally = _LadderTally(K, C, classify)
    for step in range(steps):
        rate = _mala_step(ladder, state, np.exp(log_h)[None, :, None], rng)
        if step < burn_in:
            # Robbins–Monro on log h; frozen afterwards so the chain is a fixed MH kernel.
            log_h += (rate - target_acceptance) * 2.0 / np.sqrt(step + 10.0)
        else:
            tally.accepted += rate
        if exchange and K > 1 and step % swap_every == 0:
            lower = np.arange((step // swap_every) % 2, K - 1, 2)
            if len(lower):
                state.loss, state.lgrad = _swap_pairs(
                    lower, state.theta, state.loss, state.lgrad, ladder, rng, tally,
                    count=step >= burn_in)
        state.refresh_energy(ladder)
        if step >= burn_in and (step - burn_in) % thin == 0:
            tally.record(state.theta, state.loss, d)
        if progress is not None and (step + 1) % max(1, steps // 20) == 0:
            progress(step + 1, steps)
    return tally.result(ladder.levels, steps - burn_in, np.exp(log_h))


class _Ladder:
    """The targets E_k(θ) = β_k L_k(θ) + ½‖θ‖² of a ladder, vectorised over (C, K) replicas."""

    def __init__(self, potential: Any, levels: Any, ensembles: int, slots: Any):
        levels = np.asarray(levels, dtype=float)
        if levels.ndim != 1 or len(levels) < 1 or np.any(np.diff(levels) <= 0) or levels[0] <= 0:
            raise ValueError("levels must be a strictly increasing sequence of positive numbers")
        self.potential, self.levels, self.ensembles = potential, levels, ensembles
        self.dim = potential.dim
        self.slotted = bool(getattr(potential, "slotted", False))
        self.slots = slots
        if self.slotted:
            if slots is None:
                raise ValueError("a slotted potential needs slots (ensembles × levels data sets)")
            self.slots = np.asarray(slots, dtype=int)
            if self.slots.shape != (ensembles, len(levels)):
                raise ValueError(f"slots must have shape {(ensembles, len(levels))}; "
                                 f"got {self.slots.shape}")
        self.beta = levels[None, :]  # broadcast over (C, K)

    def evaluate(self, theta: np.ndarray, slot: Any) -> tuple[np.ndarray, np.ndarray]:
        """L and ∇L of states ``theta`` (..., d), on data sets ``slot`` if slotted."""
        flat = theta.reshape(-1, self.dim)
        if self.slotted:
            value, grad = self.potential.loss_and_gradient(flat, slot.reshape(-1))
        else:
            value, grad = self.potential.loss_and_gradient(flat)
        return value.reshape(theta.shape[:-1]), grad.reshape(theta.shape)

    def energy(self, theta: np.ndarray, loss: np.ndarray) -> np.ndarray:
        return self.beta * loss + 0.5 * np.sum(theta**2, axis=-1)

    def energy_gradient(self, theta: np.ndarray, lgrad: np.ndarray) -> np.ndarray:
        return self.beta[..., None] * lgrad + theta


@dataclass
class _ChainState:
    """States θ (C, K, d) of every replica with their L, ∇L, energy and its gradient."""

    theta: np.ndarray
    loss: np.ndarray
    lgrad: np.ndarray
    energy: np.ndarray
    grad: np.ndarray

    @classmethod
    def from_prior(cls, ladder: _Ladder, rng: np.random.Generator) -> _ChainState:
        theta = rng.standard_normal((ladder.ensembles, len(ladder.levels), ladder.dim))
        loss, lgrad = ladder.evaluate(theta, ladder.slots)
        return cls(theta, loss, lgrad, ladder.energy(theta, loss),
                   ladder.energy_gradient(theta, lgrad))

    def refresh_energy(self, ladder: _Ladder) -> None:
        self.energy = ladder.energy(self.theta, self.loss)
        self.grad = ladder.energy_gradient(self.theta, self.lgrad)


def _mala_step(ladder: _Ladder, state: _ChainState, h: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """One Metropolis-adjusted Langevin step of every replica (step sizes ``h`` (1, K, 1));
    updates θ, L, ∇L of ``state`` and returns the acceptance rate per level."""
    theta, grad = state.theta, state.grad
    mean_fwd = theta - 0.5 * h * grad
    proposal = mean_fwd + np.sqrt(h) * rng.standard_normal(theta.shape)
    loss_p, lgrad_p = ladder.evaluate(proposal, ladder.slots)
    energy_p = ladder.energy(proposal, loss_p)
    grad_p = ladder.energy_gradient(proposal, lgrad_p)
    mean_bwd = proposal - 0.5 * h * grad_p
    log_q_fwd = -np.sum((proposal - mean_fwd) ** 2, axis=-1) / (2 * h[..., 0])
    log_q_bwd = -np.sum((theta - mean_bwd) ** 2, axis=-1) / (2 * h[..., 0])
    log_alpha = state.energy - energy_p + log_q_bwd - log_q_fwd
    accept = (np.log(rng.random(log_alpha.shape))
              < np.where(np.isfinite(log_alpha), log_alpha, -np.inf))
    state.theta = np.where(accept[..., None], proposal, theta)
    state.loss = np.where(accept, loss_p, state.loss)
    state.lgrad = np.where(accept[..., None], lgrad_p, state.lgrad)
    return accept.mean(axis=0)


class _LadderTally:
    """What a ladder run counts: labels and mean loss of recorded draws, MALA and swap
    acceptances."""

    def __init__(self, levels: int, ensembles: int, classify: Callable | None):
        self.ensembles, self.classify = ensembles, classify
        self.accepted = np.zeros(levels)
        self.swaps_tried = np.zeros(max(levels - 1, 1))
        self.swaps_done = np.zeros(max(levels - 1, 1))
        self.counts: list[dict] = [{} for _ in range(levels)]
        self.loss_sum = np.zeros(levels)
        self.recorded = 0

    def record(self, theta: np.ndarray, loss: np.ndarray, dim: int) -> None:
        C, K = loss.shape
        self.recorded += 1
        self.loss_sum += loss.sum(axis=0)
        labels = (self.classify(theta.reshape(-1, dim)) if self.classify is not None
                  else np.full(C * K, "all", dtype=object)).reshape(C, K)
        for k in range(K):
            for lab in labels[:, k]:
                self.counts[k][lab] = self.counts[k].get(lab, 0) + 1

    def result(self, levels: np.ndarray, post: int, step_sizes: np.ndarray) -> LadderResult:
        return LadderResult(
            levels=levels,
            counts=self.counts,
            mean_loss=self.loss_sum / (self.recorded * self.ensembles),
            acceptance=self.accepted / post,
            swap_acceptance=np.divide(self.swaps_done, np.maximum(self.swaps_tried, 1)),
            step_sizes=step_sizes,
            draws=self.recorded * self.ensembles,
        )


def _swap_pairs(lower, theta, loss, lgrad, ladder: _Ladder, rng, tally: _LadderTally, count):
    """Try to swap the states of levels (k, k+1) for k in ``lower``, in every ensemble.

    Updates ``theta`` in place and returns the new (loss, lgrad): a state keeps its own
    L_k-values only when all levels share one potential; otherwise it is re-evaluated on the
    data set of the level it moves to (those are the cross terms of the acceptance ratio).
    """
    upper = lower + 1
    C = theta.shape[0]
    if ladder.slotted:
        moved = np.concatenate([theta[:, upper], theta[:, lower]], axis=1)  # to lower, to upper
        target = np.concatenate([ladder.slots[:, lower], ladder.slots[:, upper]], axis=1)
        cross_loss, cross_grad = ladder.evaluate(moved, target)
        down_loss, up_loss = np.split(cross_loss, 2, axis=1)  # L_k(θ_{k+1}), L_{k+1}(θ_k)
        down_grad, up_grad = np.split(cross_grad, 2, axis=1)
    else:
        down_loss, up_loss = loss[:, upper], loss[:, lower]
        down_grad, up_grad = lgrad[:, upper], lgrad[:, lower]
    b_lo, b_hi = ladder.levels[lower][None, :], ladder.levels[upper][None, :]
    log_a = (b_lo * loss[:, lower] + b_hi * loss[:, upper]
             - b_lo * down_loss - b_hi * up_loss)
    swap = np.log(rng.random(log_a.shape)) < np.where(np.isfinite(log_a), log_a, -np.inf)
    if count:
        tally.swaps_tried[lower] += C
        tally.swaps_done[lower] += swap.sum(axis=0)
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
