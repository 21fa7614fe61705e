"""The local learning coefficient estimator λ̂ (mathematics only; the loop is in ``sgld``).

As in devinterp (``slt/llc.py``): with Nβ = N / log N (the WBIC inverse temperature times N),

    λ̂ = Nβ (E_β[L_N] − L_N(w*)),

the expectation over a posterior localised at w*, p(w) ∝ exp(−Nβ L_N(w) − γ/2 ‖w − w*‖²). To
leading order E_β[L_N] − L_N(w*) = λ / (Nβ) for a minimum with learning coefficient λ.
:class:`LLCEstimator` receives the loss of every chain at every draw (``update``) and turns the
traces into the estimate and its diagnostics (``finalize``).

Escapes are decided in one place, :meth:`LLCEstimator.finalize`: with a basin test
(:class:`BasinExits`, from quenching checkpoints of every chain, see :mod:`critpoints.slt.basins`)
a chain keeps the draws before its last in-basin checkpoint and is dropped when that is less than
``min_kept`` of its draws; without one, the older rule applies (a chain with more than
``escape_fraction`` of its draws below L(w*) is dropped), and the record says which rule decided.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["BasinExits", "LLCEstimator", "LLCResult", "default_nbeta", "split_rhat"]


def default_nbeta(n_samples: float) -> float:
    """Nβ = N / log N, the inverse temperature of WBIC (Watanabe 2013) times N."""
    if n_samples <= 1:
        raise ValueError(f"N must exceed 1 for Nβ = N / log N; got {n_samples}")
    return n_samples / math.log(n_samples)


#: Points kept per chain in the JSON traces (block means).
TRACE_POINTS = 200


def split_rhat(traces: list[np.ndarray]) -> float:
    """Split-R̂ (Gelman et al., BDA3 §11.4) of equal-length chains: each split in halves; values
    near 1 mean the chains agree with each other. NaN for fewer than two chains of ≥ 4 draws."""
    if len(traces) < 2 or min(len(t) for t in traces) < 4:
        return math.nan
    length = min(len(t) for t in traces) // 2 * 2
    halves = np.concatenate([np.asarray(t[:length], float).reshape(2, -1) for t in traces])
    n = halves.shape[1]
    within = halves.var(axis=1, ddof=1).mean()
    between = n * halves.mean(axis=1).var(ddof=1)
    if within <= 0:
        return math.nan if between <= 0 else math.inf
    return float(math.sqrt(((n - 1) / n * within + between / n) / within))


def _block_means(values: np.ndarray, points: int = TRACE_POINTS) -> list[float]:
    if len(values) <= points:
        return [float(v) for v in values]
    edges = np.linspace(0, len(values), points + 1).astype(int)
    return [float(values[a:b].mean()) for a, b in itertools.pairwise(edges)]


@dataclass
class BasinExits:
    """When each chain left the basin of w*, from checkpoints identified after the run.

    Attributes
    ----------
    checkpoint_draws : ndarray (K,)
        Draw indices at which the chains' parameters were identified.
    in_basin : ndarray of bool (K, C)
        Whether the checkpoint's quench ended at w* (up to symmetry).
    labels : ndarray of object (K, C)
        What each checkpoint was identified as (None inside the basin).
    rule : str
        How the identification was made, in words.
    """

    checkpoint_draws: np.ndarray
    in_basin: np.ndarray
    labels: np.ndarray
    rule: str

    def first_exits(self) -> list:
        """Per chain, the index of the first checkpoint outside the basin (None: never left)."""
        return [int(out[0]) if out.size else None
                for out in (np.flatnonzero(~column) for column in self.in_basin.T)]

    def kept_draws(self, n_draws: int) -> np.ndarray:
        """Per chain, the number of leading draws known to be in the basin: all of them when
        every checkpoint is in, else the draws up to the last checkpoint before the first exit."""
        return np.array([n_draws if k is None else 0 if k == 0
                         else int(self.checkpoint_draws[k - 1]) + 1 for k in self.first_exits()])

    def first_exit_draws(self) -> list:
        """Per chain, the draw of the first checkpoint outside the basin (None: never left)."""
        return [None if k is None else int(self.checkpoint_draws[k]) for k in self.first_exits()]

    def exit_labels(self) -> list:
        """Per chain, what its first checkpoint outside the basin was identified as."""
        return [None if k is None else self.labels[k, c]
                for c, k in enumerate(self.first_exits())]


@dataclass
class LLCResult:
    """λ̂ with its diagnostics (attribute access, like ``scipy.optimize.OptimizeResult``).

    Attributes
    ----------
    llc_mean, llc_std : float
        Mean and standard deviation over the used chains of the per-chain λ̂.
    llc_per_chain : ndarray (C,)
        Nβ (mean of the chain's used draws − L(w*)).
    kept : ndarray of bool (C,)
        Chains used in ``llc_mean``.
    chain_action : list of str
        Per chain: "kept" (all draws), "truncated" (draws before it left the basin) or "dropped".
    draws_used : ndarray of int (C,)
        Draws of each chain that entered its λ̂.
    first_exit_draw : list of (int or None)
        Draw at which the chain was first seen outside the basin (None: never, or no basin test).
    exit_labels : list of (str or None)
        What the chain was identified as when first seen outside.
    escape_rule : str
        Which rule decided escapes (basin identification or fraction of draws below L(w*)).
    fraction_below : ndarray (C,)
        Fraction of each chain's draws with L < L(w*) − ``tolerance``.
    escaped : ndarray of bool (C,)
        Chains seen outside the basin (basin rule), or with ``fraction_below`` above
        ``escape_fraction`` (fraction rule).
    trace : ndarray (C, draws)
        The loss at every recorded draw.
    init_loss, nbeta : float
        L(w*) and Nβ.
    stationarity_z : float
        Difference of the pooled means of the second and first half of the used draws, in units
        of its standard error (from per-chain half means): large values mean the chains drift.
    rhat : float
        Split-R̂ of the used draws (truncated to the shortest used chain).
    acceptance : ndarray (C,) or None
        Mean Metropolis acceptance probability the SGLD proposals would have had (MALA ratio,
        evaluated every few steps); values well below 1 mean the step ε is too large.
    warnings : list of str
        Human-readable problems.
    """

    llc_mean: float
    llc_std: float
    llc_per_chain: np.ndarray
    kept: np.ndarray
    fraction_below: np.ndarray
    escaped: np.ndarray
    trace: np.ndarray
    init_loss: float
    nbeta: float
    stationarity_z: float
    warnings: list[str] = field(default_factory=list)
    chain_action: list[str] = field(default_factory=list)
    draws_used: np.ndarray | None = None
    first_exit_draw: list = field(default_factory=list)
    exit_labels: list = field(default_factory=list)
    escape_rule: str = ""
    rhat: float = math.nan
    acceptance: np.ndarray | None = None

    def running_llc(self) -> list[list[float]]:
        """Per chain, λ̂ from the draws so far (cumulative), at :data:`TRACE_POINTS` points."""
        draws = np.arange(1, self.trace.shape[1] + 1)
        running = self.nbeta * (np.cumsum(self.trace, axis=1) / draws - self.init_loss)
        return [_block_means(r) for r in running]

    def summary(self) -> dict:
        """Plain-JSON summary (block-averaged traces, no full traces)."""
        acceptance = None if self.acceptance is None else [float(v) for v in self.acceptance]
        return {
            "llc_mean": self.llc_mean,
            "llc_std": self.llc_std,
            "llc_per_chain": [float(v) for v in self.llc_per_chain],
            "chains_kept": int(self.kept.sum()),
            "chains_escaped": int(self.escaped.sum()),
            "fraction_below_init": [float(v) for v in self.fraction_below],
            "init_loss": self.init_loss,
            "nbeta": self.nbeta,
            "stationarity_z": self.stationarity_z,
            "warnings": list(self.warnings),
            "escape_rule": self.escape_rule,
            "chain_action": list(self.chain_action),
            "draws_used": [int(v) for v in self.draws_used],
            "first_exit_draw": list(self.first_exit_draw),
            "exit_labels": list(self.exit_labels),
            "rhat": None if not math.isfinite(self.rhat) else self.rhat,
            "acceptance": acceptance,
            "trace_blocks": [_block_means(t) for t in self.trace],
            "running_llc": self.running_llc(),
        }


class LLCEstimator:
    """Accumulates per-chain loss traces and finalises them into :class:`LLCResult`.

    Parameters
    ----------
    n_chains, n_draws : int
        Shape of the trace.
    nbeta : float
        Nβ, the inverse temperature times the sample size used by the sampler.
    init_loss : float
        L_N(w*), the loss at the centre of the localisation.
    tolerance : float
        A draw counts as "below" w* when L < L(w*) − tolerance.
    escape_fraction : float
        Without a basin test: chains with more than this fraction of draws below w* are dropped.
    stationarity_threshold : float
        |z| above which a "not stationary" warning is issued.
    min_kept : float
        With a basin test: a chain that left the basin is truncated to its in-basin draws when
        they are at least this fraction of its draws, else dropped.
    """

    def __init__(
        self,
        n_chains: int,
        n_draws: int,
        nbeta: float,
        init_loss: float,
        tolerance: float = 0.0,
        escape_fraction: float = 0.5,
        stationarity_threshold: float = 4.0,
        min_kept: float = 0.5,
    ):
        if n_draws < 2:
            raise ValueError("need at least two draws per chain")
        self.trace = np.full((n_chains, n_draws), np.nan)
        self.nbeta = float(nbeta)
        self.init_loss = float(init_loss)
        self.tolerance = float(tolerance)
        self.escape_fraction = float(escape_fraction)
        self.stationarity_threshold = float(stationarity_threshold)
        self.min_kept = float(min_kept)

    def update(self, draw: int, losses: np.ndarray) -> None:
        """Record the loss of every chain at draw number ``draw``."""
        self.trace[:, draw] = losses

    def _chains(self, exits: BasinExits | None, below: np.ndarray):
        n_chains, n_draws = self.trace.shape
        if exits is None:
            escaped = below > self.escape_fraction
            used = np.where(escaped, 0, n_draws)
            actions = ["dropped" if e else "kept" for e in escaped]
            rule = (f"fraction of draws below L(w*) above {self.escape_fraction:.0%} "
                    "(no basin test)")
            return escaped, used, actions, [None] * n_chains, [None] * n_chains, rule
        used = exits.kept_draws(n_draws)
        first = exits.first_exit_draws()
        escaped = np.array([f is not None for f in first])
        actions = []
        for c in range(n_chains):
            if not escaped[c]:
                actions.append("kept")
            elif used[c] >= max(2, self.min_kept * n_draws):
                actions.append("truncated")
            else:
                actions.append("dropped")
                used[c] = 0
        return escaped, used, actions, first, exits.exit_labels(), exits.rule

    def finalize(self, exits: BasinExits | None = None,
                 acceptance: np.ndarray | None = None) -> LLCResult:
        """λ̂ and its diagnostics; ``exits`` from a basin test, ``acceptance`` per chain."""
        trace = self.trace
        if np.isnan(trace).any():
            raise ValueError("finalize() before every draw was recorded")
        below = (trace < self.init_loss - self.tolerance).mean(axis=1)
        escaped, used, actions, first, labels, rule = self._chains(exits, below)
        kept = used > 0
        per_chain = np.array([
            self.nbeta * (trace[c, : used[c]].mean() - self.init_loss) if used[c] else
            self.nbeta * (trace[c].mean() - self.init_loss) for c in range(len(trace))
        ])
        warnings = []
        if escaped.any():
            counts = {a: actions.count(a) for a in ("truncated", "dropped")}
            warnings.append(
                f"{int(escaped.sum())} of {len(escaped)} chains left the basin of w* "
                f"({counts['truncated']} truncated to their in-basin draws, "
                f"{counts['dropped']} dropped; rule: {rule})"
            )
        use = per_chain[kept] if kept.any() else per_chain
        if not kept.any():
            warnings.append("every chain left the basin: λ̂ is the mean over all draws and "
                            "does not describe w*")
        segments = [trace[c, : used[c]] for c in range(len(trace)) if kept[c]] or list(trace)
        # Stationarity: compare the two halves of every used segment. The standard error comes
        # from the spread over chains of the per-chain half-difference (chains are independent).
        diff = np.array([s[len(s) // 2:].mean() - s[: len(s) // 2].mean() for s in segments])
        if len(diff) >= 2 and diff.std(ddof=1) > 0:
            z = float(diff.mean() / (diff.std(ddof=1) / math.sqrt(len(diff))))
        else:
            z = 0.0
        if abs(z) > self.stationarity_threshold:
            warnings.append(
                f"chains not stationary: second-half mean loss differs from the first half by "
                f"{z:+.1f} standard errors (lengthen burn-in or adjust the step size)"
            )
        rhat = split_rhat(segments)
        if math.isfinite(rhat) and rhat > 1.1:
            warnings.append(f"chains disagree: split-R̂ = {rhat:.2f} > 1.1 (run longer)")
        if acceptance is not None and float(np.mean(acceptance)) < 0.9:
            warnings.append(f"mean MALA acceptance {float(np.mean(acceptance)):.2f} < 0.9: the "
                            "step ε is large for the local curvature")
        return LLCResult(
            llc_mean=float(use.mean()),
            llc_std=float(use.std(ddof=1)) if len(use) > 1 else 0.0,
            llc_per_chain=per_chain,
            kept=kept,
            fraction_below=below,
            escaped=escaped,
            trace=trace,
            init_loss=self.init_loss,
            nbeta=self.nbeta,
            stationarity_z=z,
            warnings=warnings,
            chain_action=actions,
            draws_used=used,
            first_exit_draw=first,
            exit_labels=labels,
            escape_rule=rule,
            rhat=rhat,
            acceptance=None if acceptance is None else np.asarray(acceptance, float),
        )
