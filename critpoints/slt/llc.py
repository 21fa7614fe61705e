"""The local learning coefficient estimator λ̂ (mathematics only; the loop is in ``sgld``).

As in devinterp (``slt/llc.py``): with Nβ = N / log N (the WBIC inverse temperature times N),

    λ̂ = Nβ (E_β[L_N] − L_N(w*)),

the expectation over a posterior localised at w*, p(w) ∝ exp(−Nβ L_N(w) − γ/2 ‖w − w*‖²). To
leading order E_β[L_N] − L_N(w*) = λ / (Nβ) for a minimum with learning coefficient λ.
:class:`LLCEstimator` receives the loss of every chain at every draw (``update``) and turns the
traces into the estimate and its diagnostics (``finalize``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LLCEstimator", "LLCResult", "default_nbeta"]


def default_nbeta(n_samples: float) -> float:
    """Nβ = N / log N, the inverse temperature of WBIC (Watanabe 2013) times N."""
    if n_samples <= 1:
        raise ValueError(f"N must exceed 1 for Nβ = N / log N; got {n_samples}")
    return n_samples / math.log(n_samples)


@dataclass
class LLCResult:
    """λ̂ with its diagnostics (attribute access, like ``scipy.optimize.OptimizeResult``).

    Attributes
    ----------
    llc_mean, llc_std : float
        Mean and standard deviation over the kept chains of the per-chain λ̂.
    llc_per_chain : ndarray (C,)
        Nβ (mean of the chain's trace − L(w*)).
    kept : ndarray of bool (C,)
        Chains used in ``llc_mean`` (not escaped).
    fraction_below : ndarray (C,)
        Fraction of each chain's draws with L < L(w*) − ``tolerance``: the chain found lower loss
        than the critical point (it escaped to another phase, or w* is not a local minimum).
    escaped : ndarray of bool (C,)
        Chains with ``fraction_below`` above the estimator's ``escape_fraction``.
    trace : ndarray (C, draws)
        The loss at every recorded draw.
    init_loss, nbeta : float
        L(w*) and Nβ.
    stationarity_z : float
        Difference of the pooled means of the second and first half of the traces, in units of its
        standard error (from per-chain half means): large values mean the chains still drift.
    warnings : list of str
        Human-readable problems (non-stationary chains, escaped chains).
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

    def summary(self) -> dict:
        """Plain-JSON summary (no traces)."""
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
        Chains with more than this fraction of draws below w* are marked escaped and excluded
        (the paper discards such chains).
    stationarity_threshold : float
        |z| above which a "not stationary" warning is issued.
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
    ):
        if n_draws < 2:
            raise ValueError("need at least two draws per chain")
        self.trace = np.full((n_chains, n_draws), np.nan)
        self.nbeta = float(nbeta)
        self.init_loss = float(init_loss)
        self.tolerance = float(tolerance)
        self.escape_fraction = float(escape_fraction)
        self.stationarity_threshold = float(stationarity_threshold)

    def update(self, draw: int, losses: np.ndarray) -> None:
        """Record the loss of every chain at draw number ``draw``."""
        self.trace[:, draw] = losses

    def finalize(self) -> LLCResult:
        trace = self.trace
        if np.isnan(trace).any():
            raise ValueError("finalize() before every draw was recorded")
        per_chain = self.nbeta * (trace.mean(axis=1) - self.init_loss)
        below = (trace < self.init_loss - self.tolerance).mean(axis=1)
        escaped = below > self.escape_fraction
        kept = ~escaped
        warnings = []
        if escaped.any():
            warnings.append(
                f"{int(escaped.sum())} of {len(escaped)} chains escaped (more than "
                f"{self.escape_fraction:.0%} of draws below L(w*)); excluded from λ̂"
            )
        use = per_chain[kept] if kept.any() else per_chain
        # Stationarity: compare the two halves of every chain. The standard error comes from the
        # spread over chains of the per-chain half-difference (chains are independent).
        half = trace.shape[1] // 2
        diff = trace[:, half:].mean(axis=1) - trace[:, :half].mean(axis=1)
        diff = diff[kept] if kept.sum() >= 2 else diff
        if len(diff) >= 2 and diff.std(ddof=1) > 0:
            z = float(diff.mean() / (diff.std(ddof=1) / math.sqrt(len(diff))))
        else:
            z = 0.0
        if abs(z) > self.stationarity_threshold:
            warnings.append(
                f"chains not stationary: second-half mean loss differs from the first half by "
                f"{z:+.1f} standard errors (lengthen burn-in or adjust the step size)"
            )
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
        )
