"""Choosing SGLD's step ε and localisation γ from the geometry at w*, and predicting the bias.

Near a minimum whose loss is quadratic in the curved directions, L(w* + δ) ≈ L* + ½ Σ h_i δ_i²
(h_i the Hessian eigenvalues along orthonormal v_i), SGLD on U = Nβ L + ½γ‖δ‖² is, direction by
direction, the discretised Ornstein–Uhlenbeck process

    δ ← (1 − ε a/2) δ − (ε Nβ/2) η + √ε ξ,   a = Nβ h + γ,

with η the minibatch error of the gradient along v_i (variance σ², zero for full batches). Its
stationary variance is exactly v = (1 + ε Nβ² σ²/4) / (a (1 − ε a/4)) (stable for ε a < 4), so

    λ_h(ε, γ) = Nβ E[L − L*] = (Nβ/2) Σ_i h_i v_i,

which tends to ½ #{h_i > 0} (the learning coefficient of a Morse–Bott minimum) as ε, γ → 0.
:func:`harmonic_llc` evaluates it and splits the bias λ_h − ½ rank into the localisation part
(γ: ½ Σ Nβh/(Nβh + γ) − ½ rank, always < 0), the step part (ε) and the minibatch part (σ²).

The prediction holds only where the chains stay in the region in which the Hessian describes
the loss. :func:`harmonic_probe` measures that: the mean loss increase over draws from the
harmonic localised posterior, against the quadratic model's. :func:`calibrate_sgld` then
chooses

- γ: the smallest value on a geometric ladder that passes the probe (weaker localisation
  lets the chains reach anharmonic regions, where λ̂ overshoots: measured 11.0 ± 1.4 for the
  6-gon at N = 1000 with γ = 1.1, λ = 8.5), and at least the value that keeps every flat
  coordinate inside its flat set at three standard deviations (a dead feature's bias at −0.5
  would otherwise cross 0 into another basin);
- ε: the largest step whose predicted step bias is at most ``step_tolerance`` of ½ rank, and
  ε a_max ≤ 0.4 (stiffest direction well inside the stability limit 4).

The localisation bias at the chosen γ is then predicted, reported, and subtracted
(``LLCResult.corrected``): what remains unpredicted is the anharmonic part the probe bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq

__all__ = [
    "HarmonicPrediction",
    "HarmonicProbe",
    "SGLDCalibration",
    "calibrate_sgld",
    "flat_extent",
    "harmonic_llc",
    "harmonic_probe",
    "retention",
]

#: Eigenvalues at most this (relative to the largest) count as zero modes.
ZERO_CURVATURE = 1e-7
#: Draws of the Monte Carlo harmonic probe.
PROBE_DRAWS = 4000
#: Largest accepted relative error of the harmonic model under the localised posterior.
HARMONIC_TOLERANCE = 0.05
#: Flat coordinates are kept this many posterior standard deviations inside their flat set.
FLAT_SIGMAS = 3.0
#: Draws from the harmonic localised posterior quenched for the basin rule, and the fraction
#: that must end at w*.
RETENTION_DRAWS = 1000
MIN_RETENTION = 0.998
#: Stiffest direction: ε a_max at most this (4 is the stability limit).
MAX_STEP_STIFFNESS = 0.4


@dataclass(frozen=True)
class HarmonicPrediction:
    """What the quadratic model predicts for SGLD at given (Nβ, γ, ε, minibatch noise).

    Attributes
    ----------
    llc : float
        λ_h = (Nβ/2) Σ h_i v_i, the expectation of λ̂ for a quadratic loss.
    half_rank : float
        ½ #{curved directions}: λ of a Morse–Bott minimum.
    bias, localisation_bias, step_bias, minibatch_bias : float
        λ_h − ½ rank, and its parts from γ, ε and the minibatch noise.
    stable : bool
        ε a_max < 4: the discretised chain has a stationary law.
    stiffness : float
        ε a_max.
    """

    llc: float
    half_rank: float
    bias: float
    localisation_bias: float
    step_bias: float
    minibatch_bias: float
    stable: bool
    stiffness: float

    def to_json(self) -> dict:
        # An unstable step (stiffness ≥ 4) has no finite prediction: null, as JSON has no inf.
        return {"llc": _json_number(self.llc), "half_rank": self.half_rank,
                "bias": _json_number(self.bias),
                "localisation_bias": _json_number(self.localisation_bias),
                "step_bias": _json_number(self.step_bias),
                "minibatch_bias": _json_number(self.minibatch_bias), "stable": self.stable,
                "stiffness": _json_number(self.stiffness)}


def _json_number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _curved(curvatures: Any) -> np.ndarray:
    h = np.asarray(curvatures, dtype=float).ravel()
    scale = max(float(np.max(np.abs(h))), 1e-300) if h.size else 1.0
    return h > ZERO_CURVATURE * scale


def harmonic_llc(curvatures: Any, nbeta: float, gamma: float, epsilon: float,
                 noise: Any = None) -> HarmonicPrediction:
    """The quadratic model's λ̂ for SGLD, exactly (see the module docstring).

    Parameters
    ----------
    curvatures : array_like
        Hessian eigenvalues h_i at w*; those ≤ 1e-7 × max |h| are zero modes (they add nothing
        to E[L] at second order). Negative curvatures make the prediction meaningless (w* is not
        a minimum) and raise.
    nbeta, gamma, epsilon : float
        Nβ, the localisation and the step.
    noise : array_like, optional
        σ_i², the variance of the minibatch gradient of L along each eigendirection (same order
        as ``curvatures``); default zero (full batches, or a population potential).

    Returns
    -------
    HarmonicPrediction

    Examples
    --------
    >>> p = harmonic_llc([1.0, 1.0, 0.0], nbeta=1e4, gamma=0.0, epsilon=1e-8)
    >>> round(p.llc, 6), p.half_rank
    (1.0, 1.0)
    """
    h = np.asarray(curvatures, dtype=float).ravel()
    curved = _curved(h)
    if np.any(h[~curved] < -ZERO_CURVATURE * max(float(np.max(np.abs(h))), 1e-300)):
        raise ValueError("negative curvature: w* is not a minimum, the harmonic model does not "
                         "apply")
    s2 = np.zeros_like(h) if noise is None else np.asarray(noise, dtype=float).ravel()
    h, s2 = h[curved], s2[curved]
    a = nbeta * h + gamma
    stiffness = float(epsilon * np.max(a)) if a.size else 0.0
    half_rank = 0.5 * h.size
    if stiffness >= 4.0:
        return HarmonicPrediction(math.inf, half_rank, math.inf, math.nan, math.inf, math.nan,
                                  False, stiffness)
    localised = 0.5 * float(np.sum(nbeta * h / a))
    stepped = 0.5 * float(np.sum(nbeta * h / (a * (1 - epsilon * a / 4))))
    total = 0.5 * float(np.sum(nbeta * h * (1 + epsilon * nbeta**2 * s2 / 4)
                               / (a * (1 - epsilon * a / 4))))
    return HarmonicPrediction(total, half_rank, total - half_rank, localised - half_rank,
                              stepped - localised, total - stepped, True, stiffness)


@dataclass(frozen=True)
class HarmonicProbe:
    """How far the loss is from its quadratic model where the localised posterior goes.

    Draws δ from the harmonic localised posterior N(0, (Nβ H⁺ + γ I)⁻¹) (H⁺: the Hessian with
    negative eigenvalues set to zero; zero modes get variance 1/γ) and compares the mean loss
    increase there with the quadratic model's: the first-order perturbative estimate of the
    anharmonic error of λ_h (it also sees flat coordinates that reach the end of their flat set,
    and steps across activation boundaries, which a probe along single eigendirections misses).

    Attributes
    ----------
    draws : int
    harmonic, sampled : float
        Nβ E[½ δᵀH⁺δ] and Nβ E[L(w* + δ) − L(w*)].
    relative_error : float
        sampled / harmonic − 1.
    passed : bool
        relative_error ≤ :data:`HARMONIC_TOLERANCE`: the posterior does not reach where the loss
        rises faster than quadratically (the overshoot of weak localisation). A negative error
        (the empirical loss softening between its kinks) over-states its effect on λ̂ by about
        two (measured: −10 % probed, −4 % sampled for the 6-gon at N = 1000) and passes.
    """

    draws: int
    harmonic: float
    sampled: float
    relative_error: float
    passed: bool


def _eigen(hessian: Any) -> tuple[np.ndarray, np.ndarray]:
    H = np.asarray(hessian, dtype=float)
    values, vectors = np.linalg.eigh(0.5 * (H + H.T))
    return values, vectors


def harmonic_probe(potential: Any, centre: Any, hessian: Any, nbeta: float, gamma: float,
                   draws: int = PROBE_DRAWS, seed: int = 0) -> HarmonicProbe:
    """The Monte Carlo harmonic probe of :class:`HarmonicProbe` (one batched ``potential.loss``
    of ``draws`` points; a fixed ``seed`` makes the calibration reproducible)."""
    values, vectors = _eigen(hessian)
    h = np.clip(values, 0.0, None)
    a = nbeta * h + gamma
    if np.any(a <= 0):
        raise ValueError("γ = 0 leaves the zero modes unconfined: the probe needs γ > 0")
    z = np.random.default_rng(seed).standard_normal((draws, h.size)) / np.sqrt(a)
    centre = np.asarray(centre, dtype=float)
    losses = np.asarray(potential.loss(centre + z @ vectors.T), dtype=float)
    base = float(np.asarray(potential.loss(centre[None, :]), dtype=float)[0])
    harmonic = nbeta * float(np.mean(0.5 * (z**2) @ h))
    sampled = nbeta * float(np.mean(losses - base))
    error = sampled / harmonic - 1.0 if harmonic > 0 else math.inf
    return HarmonicProbe(draws, harmonic, sampled, error, error <= HARMONIC_TOLERANCE)


def flat_extent(potential: Any, centre: Any, coordinates: Any, *, reach: float = 4.0,
                relative: float = 1e-12) -> float:
    """Smallest distance from ``centre`` along ± each flat coordinate at which L stops being
    constant (bisection to 1e-3 of ``reach``); ``reach`` when it stays flat that far."""
    centre = np.asarray(centre, dtype=float)
    base = float(np.asarray(potential.loss(centre[None, :]))[0])
    tolerance = relative * max(1.0, abs(base))
    extent = reach
    for k in coordinates:
        for sign in (1.0, -1.0):
            def flat(t: float, k: int = int(k), sign: float = sign) -> bool:
                point = centre.copy()
                point[k] += sign * t
                return abs(float(np.asarray(potential.loss(point[None, :]))[0]) - base) <= tolerance

            if flat(extent):
                continue
            lo, hi = 0.0, extent
            while hi - lo > 1e-3 * reach:
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if flat(mid) else (lo, mid)
            extent = min(extent, lo)
    return extent


@dataclass
class SGLDCalibration:
    """ε and γ chosen from the geometry at w*, with the prediction and what it rests on.

    Attributes
    ----------
    epsilon, gamma : float
    prediction : HarmonicPrediction or None
        None where there is no Hessian to predict from (non-smooth points).
    probe : HarmonicProbe or None
        The harmonic probe at the chosen γ.
    gamma_harmonic : float or None
        The lower bound on γ from the harmonic region (None: γ was given, not chosen).
    gamma_flat : float
        The lower bound on γ that keeps the flat coordinates in their flat set.
    flat_extent : float or None
        Distance to the end of the flat set along the flat coordinates (None: none).
    relaxation_steps : float
        2 / (ε a_min): steps for the slowest curved direction to forget its start.
    retention : float or None
        Fraction of harmonic-posterior draws that quench back to w* at the chosen γ (None: no
        basin test).
    pilots : list of (γ, chains that left)
        The pilot runs that decided γ, in order.
    basis : str
        What the choice rests on, in words.
    """

    epsilon: float
    gamma: float
    prediction: HarmonicPrediction | None
    probe: HarmonicProbe | None
    gamma_harmonic: float | None
    gamma_flat: float
    flat_extent: float | None
    relaxation_steps: float
    basis: str
    notes: list[str] = field(default_factory=list)
    retention: float | None = None
    pilots: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "epsilon": self.epsilon, "gamma": self.gamma,
            "prediction": None if self.prediction is None else self.prediction.to_json(),
            "probe_relative_error": (None if self.probe is None
                                     else _json_number(self.probe.relative_error)),
            "probe_passed": None if self.probe is None else self.probe.passed,
            "gamma_harmonic": self.gamma_harmonic, "gamma_flat": self.gamma_flat,
            "flat_extent": self.flat_extent, "relaxation_steps": self.relaxation_steps,
            "retention": self.retention,
            "pilots": [{"gamma": g, "chains_left": k} for g, k in self.pilots],
            "basis": self.basis, "notes": list(self.notes),
        }


def _gamma_ladder(nbeta: float, h_min: float) -> np.ndarray:
    # From below the softest curved direction's Nβh to far above it, factor √2 apart.
    return nbeta * h_min * 2.0 ** np.arange(-4, 16.5, 0.5)


def retention(basin: Any, centre: Any, hessian: Any, nbeta: float, gamma: float,
              draws: int = RETENTION_DRAWS, seed: int = 1) -> float:
    """Fraction of draws from the harmonic localised posterior N(0, (Nβ H⁺ + γ)⁻¹) around
    ``centre`` that ``basin`` places in the basin of w*."""
    values, vectors = _eigen(hessian)
    a = nbeta * np.clip(values, 0.0, None) + gamma
    z = np.random.default_rng(seed).standard_normal((draws, values.size)) / np.sqrt(a)
    inside, _ = basin(np.asarray(centre, dtype=float) + z @ vectors.T)
    return float(np.mean(inside))


def _step_for(h: np.ndarray, nbeta: float, gamma: float, budget: float,
              noise: np.ndarray | None) -> float:
    a_max = nbeta * float(np.max(h)) + gamma
    cap = MAX_STEP_STIFFNESS / a_max

    def excess(epsilon: float) -> float:
        p = harmonic_llc(h, nbeta, gamma, epsilon, noise)
        return p.step_bias + p.minibatch_bias - budget

    if excess(cap) <= 0:
        return cap
    return brentq(excess, cap * 1e-9, cap, xtol=cap * 1e-6)


def calibrate_sgld(
    potential: Any,
    centre: Any,
    hessian: Any,
    nbeta: float,
    *,
    smooth: bool = True,
    flat_coordinates: Any = (),
    noise: Any = None,
    step_tolerance: float = 0.01,
    gamma: float | None = None,
    epsilon: float | None = None,
    basin: Any = None,
    retention_draws: int = RETENTION_DRAWS,
    pilot: Any = None,
) -> SGLDCalibration:
    """Choose (ε, γ) at ``centre`` (see the module docstring) and predict λ̂'s bias.

    Parameters
    ----------
    potential
        Has ``loss(θ (C, dim))`` (for the probe and the flat extent).
    centre : array_like (dim,)
        w*, a minimum of the potential that is sampled.
    hessian : array_like (dim, dim)
        ∇²L at w* (for a non-smooth point: a one-sided Hessian, used only for the step).
    nbeta : float
    smooth : bool
        False for a non-smooth point: no harmonic prediction, γ from the flat set and the probe of
        the one-sided Hessian's positive part, ε from its largest eigenvalue.
    flat_coordinates : sequence of int
        θ-indices along which L is locally constant.
    noise : array_like, optional
        Minibatch gradient variance along each eigendirection of ``hessian`` (eigh order).
    step_tolerance : float
        Largest predicted step + minibatch bias, as a fraction of ½ rank.
    gamma, epsilon : float, optional
        Fix either instead of choosing it (the prediction is still made).
    basin : callable, optional
        ``basin(θ (K, dim)) → (in_basin, labels)`` (:class:`critpoints.slt.basins.QuenchBasin`):
        a rung of the γ ladder passes only if at least :data:`MIN_RETENTION` of
        ``retention_draws`` draws from the harmonic localised posterior quench back to w* (the
        chains stay in its basin; chains that still leave are truncated or dropped by the
        estimator).
    pilot : callable, optional
        ``pilot(γ, ε) → number of chains that left the basin`` in a short SGLD run: the harmonic
        posterior under-states the real posterior's tails (soft directions lead out of the
        basin), so γ is doubled from the probes' choice until a pilot loses no chain.

    Returns
    -------
    SGLDCalibration
    """
    values, _ = _eigen(hessian)
    notes: list[str] = []
    positive = values[_curved(values) & (values > 0)]
    if positive.size == 0:
        raise ValueError("the Hessian has no positive curvature to calibrate from")
    noise_arr = None if noise is None else np.asarray(noise, dtype=float)
    extent = None
    gamma_flat = 0.0
    if len(flat_coordinates):
        extent = flat_extent(potential, centre, flat_coordinates)
        gamma_flat = (FLAT_SIGMAS / extent) ** 2
    gamma_harmonic = None  # stays None where γ is given
    retained = None
    pilots: list[tuple[float, int]] = []
    if gamma is None:
        ladder = _gamma_ladder(nbeta, float(positive.min()))
        first = next((i for i, g in enumerate(ladder)
                      if harmonic_probe(potential, centre, hessian, nbeta, g).passed), None)
        if first is None:
            first = len(ladder) - 1
            notes.append("no γ on the ladder passes the harmonic probe; the largest is used")
        if basin is not None:
            # Retention grows with γ: bisect for the first rung at or above ``first`` that keeps
            # the harmonic posterior in the basin.
            def keeps(i: int) -> bool:
                return retention(basin, centre, hessian, nbeta, ladder[i],
                                 retention_draws) >= MIN_RETENTION

            lo, hi = first, len(ladder) - 1
            if keeps(lo):
                hi = lo
            elif not keeps(hi):
                notes.append("no γ on the ladder keeps the harmonic posterior in the basin; the "
                             "largest is used")
                lo = hi
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if keeps(mid) else (mid, hi)
            first = hi
            retained = retention(basin, centre, hessian, nbeta, ladder[first], retention_draws)
        gamma_harmonic = float(ladder[first])
        if pilot is not None:
            while True:
                trial = max(float(ladder[first]), gamma_flat)
                left = pilot(trial, _step_for(values if smooth else positive, nbeta, trial,
                                              step_tolerance * 0.5 * positive.size, noise_arr))
                pilots.append((trial, int(left)))
                if left == 0 or first >= len(ladder) - 2:
                    break
                first += 2
            gamma_harmonic = float(ladder[first])
        gamma = max(gamma_harmonic, gamma_flat)
    probe = harmonic_probe(potential, centre, hessian, nbeta, gamma)
    budget = step_tolerance * 0.5 * positive.size
    epsilon_given = epsilon is not None
    if epsilon is None:
        epsilon = _step_for(positive if not smooth else values, nbeta, gamma, budget,
                            None if not smooth else noise_arr)
    a_min = nbeta * float(positive.min()) + gamma
    relaxation = 2.0 / (epsilon * a_min)
    if smooth:
        prediction = harmonic_llc(values, nbeta, gamma, epsilon, noise_arr)
        if gamma_harmonic is None:
            gamma_basis = f"γ = {gamma:.6g} given"
        else:
            gamma_basis = (
                "γ the smallest on a √2 ladder whose harmonic posterior stays where the loss is "
                f"quadratic (Monte Carlo probe within {HARMONIC_TOLERANCE:.0%})"
                + (f" and in the basin of w* (≥ {MIN_RETENTION:.1%} of {retention_draws} draws "
                   "quench back)" if basin is not None else "")
                + (", doubled until a pilot run loses no chain" if pilot is not None else "")
                + (", raised to keep the flat coordinates 3 sd inside their flat set"
                   if gamma_flat > gamma_harmonic else ""))
        epsilon_basis = (f"ε = {epsilon:.6g} given" if epsilon_given
                         else f"ε for a step bias ≤ {step_tolerance:.0%} of ½ rank")
        basis = f"Hessian spectrum at w*: {gamma_basis}; {epsilon_basis}"
    else:
        prediction = None
        basis = ("non-smooth point: no Hessian, so no bias prediction; "
                 + (f"ε = {epsilon:.6g} given" if epsilon_given else
                    "ε from the largest eigenvalue of the stored one-sided Hessian")
                 + ", "
                 + (f"γ = {gamma:.6g} given" if gamma_harmonic is None else
                    "γ from the probe of its positive part and the flat set"))
    return SGLDCalibration(float(epsilon), float(gamma), prediction, probe, gamma_harmonic,
                           gamma_flat, extent, relaxation, basis, notes, retained, pilots)
