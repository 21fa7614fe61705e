"""The learning coefficient λ as a volume-scaling exponent, estimated by nested sampling.

For a local minimum θ* of a loss L, the learning coefficient λ and its multiplicity m are defined
by the volume of the sublevel sets inside a ball B(θ*, ρ):

    V(ε) = vol{θ ∈ B(θ*, ρ) : L(θ) − L(θ*) < ε} ~ c · ε^λ · (−log ε)^(m−1)    (ε → 0).

Flat directions of the critical set inside the ball only change the constant c. A non-degenerate
(piecewise) quadratic of rank r has λ = r/2 and m = 1; L = x⁴ + y² has λ = 3/4, m = 1;
L = (xy)² has λ = 1/2, m = 2.

This module measures V(ε) directly, without any second-order model of L, so it is independent
of the Hessian and of straight-line (directional) curvature tests: a curved valley along which L
grows more slowly than along every straight line shows up as a smaller slope.

Method
------
*Nested sampling* (Skilling 2006) of the uniform distribution on the ball. K live points start
uniform in B(θ*, ρ). Each iteration removes the k live points of largest loss; with the survivors
uniform in {L < L_(k)} (L_(k) the smallest removed loss), the fraction of volume kept by the
threshold of the i-th removed point has E[log t_i] = −Σ_{j<i} 1/(K − j) (order statistics of K
uniform draws). Each removal records a pair (ε = L − L(θ*), log V = log vol B + Σ E[log t]). The
k removed points are replaced by copies of random survivors moved by a constrained random walk
(accepted only inside the ball and below the threshold) whose steps alternate

- a Gaussian proposal shaped by the covariance of the survivors of the *other* runs (a shape
  taken from the walker's own run depends on the walker's position and breaks the invariance of
  the uniform law: measured, λ̂ = 7.1 instead of 9 on an isotropic quadratic in d = 18), and
- a scaling move θ* + s(θ − θ*), log s ~ N(0, σ²), accepted with probability min(1, s^d) (the
  Jacobian), which moves across the level sets.

Both step sizes are steered towards 25 % acceptance between iterations. Independent runs
(``runs``, all evaluated in one batch per walk step) give the spread; the error of log V grows
like √(nats / K).

The exponent is the slope d log V / d log ε. :func:`fit_volume_exponent` interpolates every run's
log V at a grid in log ε, fits a straight line over a window of the smallest decades reached (the
asymptotic regime: far below the scale where the ball boundary, the ends of the flat set or the
smallest curvature matter), and reports the mean over runs with its standard error, together with
the local slope of every decade (the trend: whether it has settled). The (−log ε)^(m−1) factor
makes the apparent slope λ − (m−1)/log(1/ε): pass ``multiplicity=m`` to remove it (ε in the units
of the loss, so the correction is exact only up to an O(1/log² ε) constant shift); the default
m = 1 is the non-degenerate piecewise-quadratic case, where there is nothing to remove.

Pure mathematics: no files, no printing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from critpoints.potential import complement_basis

__all__ = [
    "DecadeSlope",
    "NestedSamplingRun",
    "VolumeProfile",
    "VolumeScaling",
    "fit_volume_exponent",
    "log_ball_volume",
    "nested_volume_profile",
    "rotation_slice",
    "tms_ball_radius",
    "tms_sparse_ball_radius",
    "volume_scaling",
    "volume_scaling_exponent",
    "volume_scaling_of",
]

#: Acceptance rate the Gaussian step scale is steered towards.
TARGET_ACCEPTANCE = 0.25
#: Acceptance rate the scaling move's σ is steered towards.
RADIAL_ACCEPTANCE = 0.25


# ----------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class NestedSamplingRun:
    """One nested-sampling run: the sublevel-set volume at a decreasing sequence of thresholds.

    Attributes
    ----------
    delta_loss : ndarray (J,)
        Thresholds ε_j = L_j − L(θ*) of the removed points, non-increasing.
    log_volume : ndarray (J,)
        Natural log of the estimated volume of {θ ∈ B(θ*, ρ) : L(θ) − L(θ*) < ε_j}.
    acceptance : float
        Mean acceptance rate of the random-walk steps.
    """

    delta_loss: np.ndarray
    log_volume: np.ndarray
    acceptance: float


@dataclass(frozen=True)
class VolumeProfile:
    """The output of :func:`nested_volume_profile`: several runs of log V(ε) in one ball.

    Attributes
    ----------
    runs : tuple of NestedSamplingRun
    dimension : int
        Number of coordinates d.
    radius : float
        Ball radius ρ.
    reference_loss : float
        L(θ*), subtracted from every loss.
    log_ball_volume : float
        log vol B(θ*, ρ).
    epsilon_top : float
        Median of L − L(θ*) over the initial live points (all runs): the scale where the
        profile starts; decades are counted down from here.
    epsilon_stop : float
        The threshold every run was driven below (``epsilon_top · 10^-decades``).
    live_points, removed_per_iteration, walk_steps : int
        K, k and the number of random-walk steps per replacement.
    iterations : int
        Iterations done (each removes k points from every run).
    evaluations : int
        Loss evaluations (all runs).
    reached : bool
        Every run went below ``epsilon_stop`` within the iteration budget.
    descends : bool
        Some run found L < L(θ*) − ``descent_tolerance`` inside the ball: θ* is not a local
        minimum there and V(ε) does not shrink to zero (no learning coefficient).
    min_delta_loss : float
        Smallest L − L(θ*) met by any live point.
    flat : bool
        At least half of the initial (ball-uniform) points have |L − L(θ*)| ≤ the descent
        tolerance and none is below: L is constant on a set of at least half the ball's volume,
        so V(ε) ≥ vol B / 2 for every ε > 0 and λ = 0. Nothing else is sampled.
    """

    runs: tuple[NestedSamplingRun, ...]
    dimension: int
    radius: float
    reference_loss: float
    log_ball_volume: float
    epsilon_top: float
    epsilon_stop: float
    live_points: int
    removed_per_iteration: int
    walk_steps: int
    iterations: int
    evaluations: int
    reached: bool
    descends: bool
    min_delta_loss: float
    flat: bool = False


@dataclass(frozen=True)
class DecadeSlope:
    """The local slope d log V / d log ε over one decade [10^lower, 10^upper] of ε.

    Attributes
    ----------
    log10_lower, log10_upper : float
        The decade's ends (log10 of ε).
    slope : float
        Mean over runs of (log V(10^upper) − log V(10^lower)) / log(10).
    standard_error : float
        Standard deviation over runs / √runs (NaN with one run).
    """

    log10_lower: float
    log10_upper: float
    slope: float
    standard_error: float


@dataclass(frozen=True)
class VolumeScaling:
    """The estimated volume-scaling exponent λ̂ of a local minimum.

    Attributes
    ----------
    lam : float
        λ̂: mean over runs of the least-squares slope of log V against log ε over ``window``
        (after removing (m−1)·log(−log ε) when ``multiplicity`` m > 1).
    standard_error : float
        Standard deviation of the per-run slopes / √runs (NaN with one run).
    per_run : tuple of float
        The per-run slopes.
    window : tuple of float
        (log10 ε_low, log10 ε_high) of the fitted window.
    slopes : tuple of DecadeSlope
        Local slope of every decade from ``epsilon_top`` down (the trend; uncorrected for m).
    multiplicity : int
        The m assumed by the fit.
    runs, live_points, walk_steps, dimension : int
    radius : float
        Ball radius ρ.
    reference_loss : float
        L(θ*).
    epsilon_top : float
        Where the decades start.
    evaluations : int
        Loss evaluations.
    descends : bool
        L went below L(θ*) inside the ball: not a local minimum, ``lam`` is meaningless (NaN).
    reached : bool
        Every run reached the bottom of the window.
    seed : int
    seconds : float
        Wall-clock time (not part of :meth:`to_json`).
    coordinates : str
        What was sampled: ``"ball"`` (the full ball around θ*) or ``"rotation slice"`` (the
        ball in the affine slice transversal to the O(m) orbit, see :func:`volume_scaling`).
    flat : bool
        L is constant on at least half the ball (see :class:`VolumeProfile`): ``lam`` is 0
        exactly (standard error 0), nothing was fitted.
    """

    lam: float
    standard_error: float
    per_run: tuple[float, ...]
    window: tuple[float, float]
    slopes: tuple[DecadeSlope, ...]
    multiplicity: int
    runs: int
    live_points: int
    walk_steps: int
    dimension: int
    radius: float
    reference_loss: float
    epsilon_top: float
    evaluations: int
    descends: bool
    reached: bool
    seed: int
    seconds: float
    coordinates: str = "ball"
    flat: bool = False

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-safe values (no wall-clock time: the same seed gives the same dict).

        NaN (undefined standard errors, ``lam`` of a descending point) becomes ``None``.
        """

        def number(x: float) -> float | None:
            return None if not math.isfinite(x) else float(x)

        return {
            "method": "nested-sampling volume scaling",
            "lambda": number(self.lam),
            "standard_error": number(self.standard_error),
            "per_run": [number(x) for x in self.per_run],
            "window_log10_epsilon": [number(self.window[0]), number(self.window[1])],
            "multiplicity": int(self.multiplicity),
            "decade_slopes": [
                {"log10_lower": float(s.log10_lower), "log10_upper": float(s.log10_upper),
                 "slope": number(s.slope), "standard_error": number(s.standard_error)}
                for s in self.slopes
            ],
            "runs": int(self.runs),
            "live_points": int(self.live_points),
            "walk_steps": int(self.walk_steps),
            "dimension": int(self.dimension),
            "radius": float(self.radius),
            "reference_loss": float(self.reference_loss),
            "epsilon_top": number(self.epsilon_top),
            "evaluations": int(self.evaluations),
            "descends": bool(self.descends),
            "reached": bool(self.reached),
            "seed": int(self.seed),
            "coordinates": self.coordinates,
            "flat": bool(self.flat),
        }


# ----------------------------------------------------------------------------------------------
# Nested sampling


#: Live points per run below d = 58 (above, d + 2: the fewest the walk's shape needs).
DEFAULT_LIVE_POINTS = 60


def log_ball_volume(dimension: int, radius: float) -> float:
    """log of the volume of a d-ball of radius ρ: (d/2) log π − log Γ(d/2 + 1) + d log ρ."""
    return (0.5 * dimension * math.log(math.pi) - math.lgamma(0.5 * dimension + 1)
            + dimension * math.log(radius))


def _uniform_in_ball(rng: np.random.Generator, shape: tuple[int, ...], dimension: int,
                     radius: float) -> np.ndarray:
    direction = rng.standard_normal(shape + (dimension,))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    length = radius * rng.random(shape + (1,)) ** (1.0 / dimension)
    return direction * length


def nested_volume_profile(
    loss: Callable[[np.ndarray], np.ndarray],
    center: Any,
    radius: float,
    *,
    live_points: int | None = None,
    runs: int = 4,
    removed_per_iteration: int | None = None,
    walk_steps: int | None = None,
    decades: float = 6.0,
    max_iterations: int | None = None,
    reference_loss: float | None = None,
    descent_tolerance: float | None = None,
    seed: int = 0,
    compiled_walk: CompiledWalk | None = None,
) -> VolumeProfile:
    """log V(ε) of the sublevel sets of ``loss`` in the ball B(center, radius), by nested sampling.

    Parameters
    ----------
    loss : callable
        Vectorised loss: an array of shape (B, d) of points to an array of shape (B,).
    center : array_like, shape (d,)
        θ*, the local minimum.
    radius : float
        Ball radius ρ.
    live_points : int, optional
        K, live points per run: default max(60, d + 2) (the walk's shape is estimated from the
        survivors and needs d + 2 of them; a fixed 60 made every classification with d > 58 —
        a non-smooth minimum at n ≥ 20 — fail).
    runs : int
        Independent runs (stepped together, one batch of loss evaluations per walk step).
    removed_per_iteration : int, optional
        k, points removed and replaced per iteration (default K/4: fewer, larger batches; the
        volume bookkeeping is exact for any k through the order statistics).
    walk_steps : int, optional
        Random-walk steps per replacement (default max(2d, 10)); each step is one shaped
        Gaussian proposal and one scaling proposal about θ*. Measured at the n = 6 4-gons
        (8 seeds each): d steps left a bias of ≈ +0.08 in λ̂ (4: 7.59, 4⁺⁺: 8.58), 2d steps
        none detectable (7.52, 8.47).
    decades : float
        Stop once every run's threshold is below ``epsilon_top · 10^-decades``, with
        ``epsilon_top`` the median of L − L(θ*) over the initial live points.
    max_iterations : int, optional
        Budget of iterations (default: enough for λ = d/2 over ``decades + 4`` decades).
    reference_loss : float, optional
        L(θ*) (default: ``loss(center)``).
    descent_tolerance : float, optional
        A live point with L − L(θ*) < −tolerance means θ* is not a minimum in the ball: sampling
        stops and the profile is flagged ``descends``. Default 1e-13·|L(θ*)| (a thousand times
        the float64 rounding of L, so flat directions never trigger it).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same profile.
    compiled_walk : CompiledWalk, optional
        The same walk compiled with ``loss`` inside it (a model's
        ``sublevel_walk``): the same moves from the same random numbers, without a Python call
        per step. Its losses may differ from ``loss``'s in the last bits.

    Returns
    -------
    VolumeProfile
    """
    center = np.asarray(center, dtype=float).ravel()
    d = center.size
    K = int(live_points) if live_points is not None else max(DEFAULT_LIVE_POINTS, d + 2)
    k = int(removed_per_iteration) if removed_per_iteration is not None else max(1, K // 4)
    if not 1 <= k < K:
        raise ValueError(f"need 1 ≤ removed_per_iteration < live_points; got k={k}, K={K}")
    if K < d + 2:
        raise ValueError(f"need live_points ≥ d + 2 = {d + 2} to shape the walk; got {K}")
    if radius <= 0:
        raise ValueError(f"radius must be positive; got {radius}")
    steps = int(walk_steps) if walk_steps is not None else max(2 * d, 10)
    R = int(runs)
    rng = np.random.default_rng(seed)
    ball = _SublevelBall(loss, center, float(radius), reference_loss, compiled_walk)
    tolerance = 1e-13 * abs(ball.L0) if descent_tolerance is None else descent_tolerance

    live = center + _uniform_in_ball(rng, (R, K), d, radius)
    values = ball.evaluate(live.reshape(-1, d)).reshape(R, K) - ball.L0
    descends = bool((values < -tolerance).any())
    epsilon_top = float(np.median(values))
    common = {"dimension": d, "radius": float(radius), "reference_loss": ball.L0,
              "log_ball_volume": log_ball_volume(d, radius), "epsilon_top": epsilon_top,
              "live_points": K, "removed_per_iteration": k, "walk_steps": steps}
    if not descends and epsilon_top <= tolerance:  # flat: L constant on half the ball
        empty = NestedSamplingRun(delta_loss=np.zeros(0), log_volume=np.zeros(0), acceptance=0.0)
        return VolumeProfile(
            runs=(empty,) * R, **common, epsilon_stop=float("nan"), iterations=0,
            evaluations=ball.evaluations, reached=True, descends=False,
            min_delta_loss=float(values.min()), flat=True)
    epsilon_stop = epsilon_top * 10.0 ** (-decades)
    if max_iterations is None:
        nats = 0.5 * d * math.log(10.0) * (decades + 4)
        max_iterations = math.ceil(nats * K / k) + 10
    state = _NestedState(live, values, k, log_ball_volume(d, radius))
    while state.active.any() and not descends and state.iterations < max_iterations:
        _nested_iteration(ball, state, rng, steps, epsilon_stop)
        if (state.values < -tolerance).any():
            descends = True
    return VolumeProfile(
        runs=state.runs(), **common, epsilon_stop=epsilon_stop, iterations=state.iterations,
        evaluations=ball.evaluations, reached=not state.active.any() and not descends,
        descends=descends, min_delta_loss=float(state.values.min()))


class CompiledWalk(Protocol):
    """:func:`_constrained_walk` with the loss compiled into it (e.g.
    :meth:`critpoints.tms.model.TMSPotential.sublevel_walk`)."""

    def walk(self, x: np.ndarray, fx: np.ndarray, chol: np.ndarray, scale: np.ndarray,
             radial: np.ndarray, threshold: np.ndarray, noise: WalkNoise, center: np.ndarray,
             radius: float, reference_loss: float) -> tuple[np.ndarray, np.ndarray, int]:
        """Walk ``x``/``fx`` in place as :func:`_constrained_walk` does; the accepted counts of
        both moves per run and the number of loss evaluations."""


class _SublevelBall:
    """The loss restricted to the ball B(center, radius), counting evaluations."""

    def __init__(self, loss: Callable, center: np.ndarray, radius: float,
                 reference_loss: float | None, compiled: CompiledWalk | None = None):
        self.loss, self.center, self.radius, self.compiled = loss, center, radius, compiled
        self.evaluations = 0
        self.L0 = (float(self.evaluate(center[None])[0]) if reference_loss is None
                   else float(reference_loss))

    def evaluate(self, points: np.ndarray) -> np.ndarray:
        self.evaluations += len(points)
        return np.asarray(self.loss(points), dtype=float).reshape(len(points))

    def constrained(self, proposal: np.ndarray, threshold: np.ndarray, log_margin: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Accept where inside the ball, below the threshold and ``log_margin`` ≥ 0; the loss
        above L0 of the proposals (inf where not evaluated)."""
        candidate = ((np.linalg.norm(proposal - self.center, axis=2) < self.radius)
                     & (log_margin >= 0))
        f_proposal = np.full(candidate.shape, np.inf)
        if candidate.any():
            f_proposal[candidate] = self.evaluate(proposal[candidate]) - self.L0
        return candidate & (f_proposal < threshold[:, None]), f_proposal


class _NestedState:
    """Live points of R runs, their losses above L0, the records and the walk's adaptation."""

    def __init__(self, live: np.ndarray, values: np.ndarray, removed: int, log_ball: float):
        R, K, d = live.shape
        self.live, self.values, self.k = live, values, removed
        # E[log t] of the i-th removed point: −Σ_{j<i} 1/(K − j), i = 1..k
        self.shrink = -np.cumsum(1.0 / (K - np.arange(removed)))
        self.log_x = np.full(R, log_ball)
        self.records_eps: list[np.ndarray] = []
        self.records_logv: list[np.ndarray] = []
        self.scale = np.full(R, 2.38 / math.sqrt(d))
        self.radial = np.full(R, 1.0 / d)
        self.accepted_total = np.zeros(R)
        self.proposed_total = np.zeros(R)
        self.active = np.ones(R, dtype=bool)
        self.iterations = 0
        self.rows = np.arange(R)[:, None]

    def remove_worst(self, epsilon_stop: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Record the k worst points of each run; their indices, the survivors' and the new
        threshold (survivors are uniform in {L − L0 < threshold})."""
        order = np.argsort(-self.values, axis=1, kind="stable")  # worst (largest loss) first
        worst, survivors = order[:, :self.k], order[:, self.k:]
        removed = self.values[self.rows, worst]  # (R, k), non-increasing along axis 1
        self.records_eps.append(np.where(self.active[:, None], removed, np.nan))
        self.records_logv.append(np.where(self.active[:, None], self.log_x[:, None] + self.shrink,
                                          np.nan))
        self.log_x = self.log_x + self.shrink[-1]
        threshold = removed[:, -1]
        self.active &= threshold > epsilon_stop
        self.iterations += 1
        return worst, survivors, threshold

    def walk_shape(self, survivors: np.ndarray) -> np.ndarray:
        """Cholesky factor of the step covariance of each run (R, d, d)."""
        # Step shape: the covariance of the survivors of the *other* runs. A shape estimated
        # from the walker's own run depends on its position (through the start and through its
        # start's relatives), and the walk then no longer leaves the uniform distribution
        # invariant: measured, λ̂ of the isotropic quadratic in d = 18 came out 7.1 instead of 9
        # (7.7 with the start left out). The other runs are independent of this walker, so
        # with them the invariance is exact. A single run falls back on its own survivors.
        R, K, d = self.live.shape
        spread = self.live[self.rows, survivors]  # (R, K − k, d)
        centred = spread - spread.mean(axis=1, keepdims=True)
        scatter = np.einsum("rki,rkj->rij", centred, centred)
        if R > 1:
            cov = (scatter.sum(axis=0) - scatter) / ((R - 1) * (K - self.k - 1))
        else:
            cov = scatter / (K - self.k - 1)
        cov += (1e-14 * np.trace(cov, axis1=1, axis2=2)[:, None, None] / d) * np.eye(d)
        return np.linalg.cholesky(cov)

    def adapt(self, accepted: np.ndarray, accepted_radial: np.ndarray, steps: int) -> None:
        """Tune both step sizes towards their target acceptance."""
        rate = accepted / (steps * self.k)
        rate_radial = accepted_radial / (steps * self.k)
        self.accepted_total += accepted + accepted_radial
        self.proposed_total += 2 * steps * self.k
        self.scale *= np.exp(np.clip(rate - TARGET_ACCEPTANCE, -0.5, 0.5) * 2.0)
        self.radial *= np.exp(np.clip(rate_radial - RADIAL_ACCEPTANCE, -0.5, 0.5) * 2.0)

    def runs(self) -> tuple[NestedSamplingRun, ...]:
        R = len(self.live)
        eps = np.concatenate(self.records_eps, axis=1) if self.records_eps else np.zeros((R, 0))
        logv = (np.concatenate(self.records_logv, axis=1) if self.records_logv
                else np.zeros((R, 0)))
        out = []
        for r in range(R):
            keep = np.isfinite(eps[r])
            out.append(NestedSamplingRun(
                delta_loss=eps[r, keep], log_volume=logv[r, keep],
                acceptance=float(self.accepted_total[r] / max(self.proposed_total[r], 1))))
        return tuple(out)


@dataclass(frozen=True)
class WalkNoise:
    """The random numbers of one constrained walk, drawn before it in the walk's own order (per
    step: the Gaussian step's normals, the scaling move's normal, its uniform), so that any
    implementation of the walk — :func:`_constrained_walk` or a model's compiled one
    (:meth:`critpoints.tms.model.TMSPotential.sublevel_walk`) — takes the same moves."""

    step_normals: np.ndarray  # (steps, R, k, d)
    scale_normals: np.ndarray  # (steps, R, k)
    uniforms: np.ndarray  # (steps, R, k)

    @classmethod
    def draw(cls, rng: np.random.Generator, steps: int, R: int, k: int, d: int) -> WalkNoise:
        # Per step the R·k·d step normals and the R·k scale normals are one draw of R·k·(d + 1)
        # normals (a Generator keeps no normal in reserve: the same numbers as two draws).
        normals = np.empty((steps, R * k * (d + 1)))
        uniforms = np.empty((steps, R, k))
        for s in range(steps):
            rng.standard_normal(out=normals[s])
            rng.random(out=uniforms[s])
        step_normals = np.ascontiguousarray(normals[:, :R * k * d]).reshape(steps, R, k, d)
        scale_normals = np.ascontiguousarray(normals[:, R * k * d:]).reshape(steps, R, k)
        return cls(step_normals, scale_normals, uniforms)


def _constrained_walk(ball: _SublevelBall, x: np.ndarray, fx: np.ndarray, chol: np.ndarray,
                      scale: np.ndarray, radial: np.ndarray, threshold: np.ndarray,
                      noise: WalkNoise) -> tuple[np.ndarray, np.ndarray]:
    """Move the copies ``x`` (losses ``fx``, updated in place) by one pair of moves per step of
    ``noise`` inside {L − L0 < threshold}; the accepted counts per run of each kind of move."""
    R, k, d = x.shape
    accepted = np.zeros(R)
    accepted_radial = np.zeros(R)
    for z, normal, u in zip(noise.step_normals, noise.scale_normals, noise.uniforms):
        # (1) a Gaussian step shaped like the survivors (moves along the level sets)
        proposal = x + scale[:, None, None] * np.einsum("rij,rkj->rki", chol, z)
        accept, f_proposal = ball.constrained(proposal, threshold, np.zeros((R, k)))
        x[accept] = proposal[accept]
        fx[accept] = f_proposal[accept]
        accepted += accept.sum(axis=1)
        # (2) a scaling move about θ*: x → θ* + s (x − θ*), log s ~ N(0, σ²), accepted with
        # probability min(1, s^d) (the Jacobian; the target is uniform). It moves across
        # the level sets, so the loss of a copy forgets its parent's in a few steps.
        log_s = radial[:, None] * normal
        proposal = ball.center + np.exp(log_s)[..., None] * (x - ball.center)
        accept, f_proposal = ball.constrained(proposal, threshold, d * log_s - np.log(u))
        x[accept] = proposal[accept]
        fx[accept] = f_proposal[accept]
        accepted_radial += accept.sum(axis=1)
    return accepted, accepted_radial


def _nested_iteration(ball: _SublevelBall, state: _NestedState, rng: np.random.Generator,
                      steps: int, epsilon_stop: float) -> None:
    """Remove the k worst live points of every run and replace them by walked copies of
    random survivors."""
    R, K, _ = state.live.shape
    rows, k = state.rows, state.k
    worst, survivors, threshold = state.remove_worst(epsilon_stop)
    start = survivors[rows, rng.integers(0, K - k, size=(R, k))]
    x = state.live[rows, start].copy()
    fx = state.values[rows, start].copy()
    chol = state.walk_shape(survivors)
    noise = WalkNoise.draw(rng, steps, R, k, x.shape[2])
    if ball.compiled is not None:
        accepted, accepted_radial, evaluations = ball.compiled.walk(
            x, fx, chol, state.scale, state.radial, threshold, noise, ball.center, ball.radius,
            ball.L0)
        ball.evaluations += evaluations
    else:
        accepted, accepted_radial = _constrained_walk(ball, x, fx, chol, state.scale,
                                                      state.radial, threshold, noise)
    state.adapt(accepted, accepted_radial, steps)
    state.live[rows, worst] = x
    state.values[rows, worst] = fx


# ----------------------------------------------------------------------------------------------
# Fit


def _log_volume_at(run: NestedSamplingRun, log_epsilon: np.ndarray) -> np.ndarray:
    """log V of a run interpolated (linearly in log ε) at the given natural-log thresholds."""
    eps = run.delta_loss
    positive = eps > 0
    x = np.log(eps[positive])[::-1]  # increasing
    y = run.log_volume[positive][::-1]
    out = np.interp(log_epsilon, x, y, left=np.nan, right=np.nan)
    return out


def fit_volume_exponent(
    profile: VolumeProfile,
    *,
    window: float = 3.0,
    multiplicity: int = 1,
    points_per_decade: int = 8,
    seed: int = 0,
    seconds: float = float("nan"),
) -> VolumeScaling:
    """λ̂ from a :class:`VolumeProfile`: the slope of log V against log ε in the deepest decades.

    Parameters
    ----------
    profile : VolumeProfile
    window : float
        Number of decades fitted, counted up from ``profile.epsilon_stop`` (the smallest
        threshold every run reached).
    multiplicity : int
        m of V ~ c ε^λ (−log ε)^(m−1); m > 1 subtracts (m−1) log(−log ε) before the fit
        (requires ε < 1 in the window).
    points_per_decade : int
        Density of the grid in log ε at which each run's log V is interpolated.
    seed, seconds
        Recorded in the result (the seed of the profile, the time it took).

    Returns
    -------
    VolumeScaling
        ``lam`` is NaN when the profile ``descends`` (not a local minimum) and 0 when it is
        ``flat``.
    """
    if multiplicity < 1:
        raise ValueError(f"multiplicity must be ≥ 1; got {multiplicity}")
    nan = float("nan")
    if profile.descends or profile.flat:
        value = 0.0 if profile.flat else nan
        return VolumeScaling(
            lam=value, standard_error=value, per_run=tuple(value for _ in profile.runs),
            window=(nan, nan), slopes=(), multiplicity=int(multiplicity), runs=len(profile.runs),
            live_points=profile.live_points, walk_steps=profile.walk_steps,
            dimension=profile.dimension, radius=profile.radius,
            reference_loss=profile.reference_loss, epsilon_top=profile.epsilon_top,
            evaluations=profile.evaluations, descends=profile.descends, reached=profile.reached,
            seed=int(seed), seconds=float(seconds), flat=profile.flat)
    low = math.log10(profile.epsilon_stop)
    high = low + window
    top = math.log10(profile.epsilon_top)
    if high > top + 1e-12:
        raise ValueError(f"window of {window} decades exceeds the {top - low:.3g} decades sampled")
    grid10 = np.linspace(low, high, round(window * points_per_decade) + 1)
    grid = grid10 * math.log(10.0)
    correction = np.zeros_like(grid)
    if multiplicity > 1:
        if high >= 0:
            raise ValueError("the (−log ε)^(m−1) correction needs ε < 1 in the window")
        correction = (multiplicity - 1) * np.log(-grid)
    per_run = []
    for run in profile.runs:
        y = _log_volume_at(run, grid) - correction
        ok = np.isfinite(y)
        if ok.sum() < 2:
            per_run.append(float("nan"))
            continue
        per_run.append(float(np.polyfit(grid[ok], y[ok], 1)[0]))
    per = np.asarray(per_run)

    def mean_and_error(values: np.ndarray) -> tuple[float, float]:
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return float("nan"), float("nan")
        se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")
        return float(values.mean()), se

    lam, se = mean_and_error(per)
    slopes = []
    n_decades = math.floor(top - low + 1e-9)
    for i in range(n_decades):
        upper, lower = top - i, top - i - 1
        ends = np.array([lower, upper]) * math.log(10.0)
        local = np.array([np.diff(_log_volume_at(run, ends))[0] / math.log(10.0)
                          for run in profile.runs])
        slope, slope_se = mean_and_error(local)
        slopes.append(DecadeSlope(log10_lower=lower, log10_upper=upper, slope=slope,
                                  standard_error=slope_se))
    return VolumeScaling(
        lam=lam, standard_error=se, per_run=tuple(per_run), window=(low, high),
        slopes=tuple(slopes), multiplicity=int(multiplicity), runs=len(profile.runs),
        live_points=profile.live_points, walk_steps=profile.walk_steps,
        dimension=profile.dimension, radius=profile.radius,
        reference_loss=profile.reference_loss, epsilon_top=profile.epsilon_top,
        evaluations=profile.evaluations, descends=profile.descends, reached=profile.reached,
        seed=int(seed), seconds=float(seconds))


def volume_scaling_exponent(
    loss: Callable[[np.ndarray], np.ndarray],
    center: Any,
    radius: float,
    *,
    live_points: int | None = None,
    runs: int = 4,
    walk_steps: int | None = None,
    decades: float = 6.0,
    window: float = 3.0,
    multiplicity: int = 1,
    reference_loss: float | None = None,
    seed: int = 0,
    compiled_walk: CompiledWalk | None = None,
) -> VolumeScaling:
    """λ̂ of a local minimum of any vectorised loss: :func:`nested_volume_profile` + fit.

    Parameters
    ----------
    loss : callable
        Array (B, d) → array (B,).
    center : array_like, shape (d,)
        The minimum θ*.
    radius : float
        Ball radius ρ: small enough that the ball holds no other structure of L than the
        minimum's (and, if any, a piece of its flat critical set).
    live_points, runs, walk_steps, decades, reference_loss, seed, compiled_walk
        See :func:`nested_volume_profile`.
    window, multiplicity
        See :func:`fit_volume_exponent`.

    Returns
    -------
    VolumeScaling

    Examples
    --------
    >>> import numpy as np
    >>> quadratic = lambda theta: (np.array([1.0, 3.0, 0.0]) * theta**2).sum(axis=1)
    >>> result = volume_scaling_exponent(quadratic, np.zeros(3), 1.0, seed=1)
    >>> abs(result.lam - 1.0) < 0.2   # rank 2: λ = 1
    True
    """
    started = time.perf_counter()
    profile = nested_volume_profile(
        loss, center, radius, live_points=live_points, runs=runs, walk_steps=walk_steps,
        decades=decades, reference_loss=reference_loss, seed=seed, compiled_walk=compiled_walk)
    return fit_volume_exponent(profile, window=window, multiplicity=multiplicity, seed=seed,
                               seconds=time.perf_counter() - started)


# ----------------------------------------------------------------------------------------------
# TMS


def tms_ball_radius(W: Any, b: Any, fraction: float = 0.25, tolerance: float = 1e-9) -> float:
    """Default ball radius around a TMS point: a quarter of the way to the nearest foreign kink.

    L is a sum of blocks F_ij(G_ij, b_j) (G = WᵀW), each a polynomial on the regions cut out by
    the activation arguments c = b_j and a + c = G_ij + b_j. Arguments that vanish at θ* are the
    point's own non-smoothness (part of what is measured); a non-zero argument is a margin to a
    boundary that does not pass through θ*, e.g. the end of a dead bias's flat interval (a dead
    bias at −1/(2n) is 1/(2n) from it). A displacement of norm ρ changes b_j by at most ρ and
    G_ij + b_j by at most ρ·√(|W_i|² + |W_j|² + 1) + ρ² (ρ·√(4|W_j|² + 1) + ρ² on the diagonal),
    so

        ρ = fraction · min over non-zero margins of margin / √(…)

    keeps every foreign boundary at least (1 − fraction) of its margin away inside the ball
    (ρ² is negligible here). The ball then contains only θ*'s own kinks and, for dead features,
    the part of the flat critical set within ρ.

    Returns
    -------
    float
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    G = W.T @ W
    squared_norms = np.diag(G)
    n = b.size
    lever = np.sqrt(squared_norms[:, None] + squared_norms[None, :] + 1.0)
    lever[np.diag_indices(n)] = np.sqrt(4.0 * squared_norms + 1.0)
    margins = np.concatenate([np.abs(b), np.abs(G + b[None, :]).ravel()])
    levers = np.concatenate([np.ones(n), lever.ravel()])
    foreign = margins > tolerance
    if not foreign.any():
        raise ValueError("every activation argument vanishes at this point: choose radius=")
    return float(fraction * (margins[foreign] / levers[foreign]).min())


def tms_sparse_ball_radius(W: Any, b: Any, fraction: float = 0.25, tolerance: float = 1e-9,
                           max_active: int | None = None) -> float:
    """Default ball radius around a point of the finite-sparsity TMS potential: a quarter of
    the way to the nearest foreign kink (the analogue of :func:`tms_ball_radius`).

    At sparsity S the loss averages, over the active set A, integrals over the cube [0,1]^A of
    ReLU(b_j + Σ_{i∈A} G_ij x_i) and its square; by inclusion–exclusion over the cube's vertices
    each is analytic in (G, b) until the hyperplane meets a vertex, so the activation arguments
    are the vertex values m_{B,j} = b_j + Σ_{i∈B} G_ij for every B ⊆ {1..n} with
    |B| ≤ ``max_active`` (B = {i} and ∅ are the one-hot arguments). Each is quadratic in θ with
    gradient norm g (∂b_j = 1; ∂W_i = W_j for i ∈ B∖{j}; ∂W_j = Σ_{i∈B} W_i + [j∈B] W_j) and
    Hessian norm at most h = √|B∖{j}| + 2[j∈B], so a displacement of norm ρ moves it by at
    most gρ + hρ²/2; ρ is the largest value keeping every non-zero margin's move within
    ``fraction`` of it (both terms kept: unlike the one-hot case the levers grow with |B|).

    Returns
    -------
    float
    """
    from critpoints.tms.cube import _vertices

    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    n = b.size
    K = n if max_active is None else int(max_active)
    vertices = _vertices(n)  # every B ⊆ {1..n} as a 0/1 row
    subsets = vertices[vertices.sum(axis=1) <= K]  # (#B, n)
    G = W.T @ W
    margins = b[None, :] + subsets @ G  # m_{B,j}
    column_sums = subsets @ W.T  # Σ_{i∈B} W_i, (#B, m)
    size = subsets.sum(axis=1, keepdims=True)
    others = size - subsets  # |B∖{j}|
    own = column_sums[:, None, :] + subsets[:, :, None] * W.T[None, :, :]
    g = np.sqrt(1.0 + others * np.diag(G)[None, :] + (own ** 2).sum(axis=2))
    h = np.sqrt(others) + 2.0 * subsets
    foreign = np.abs(margins) > tolerance
    if not foreign.any():
        raise ValueError("every activation argument vanishes at this point: choose radius=")
    allowed = fraction * np.abs(margins[foreign])
    g, h = g[foreign], h[foreign]
    # the positive root of (h/2)ρ² + gρ = allowed, written without cancellation
    return float((2.0 * allowed / (g + np.sqrt(g * g + 2.0 * h * allowed))).min())


def rotation_slice(W: Any, b: Any, tolerance: float = 1e-9) -> np.ndarray:
    """Orthonormal basis of the complement of the O(m) orbit's tangent space at (W, b).

    The TMS loss is invariant under W ↦ QW (Q ∈ O(m)); the tangent of the orbit at θ is spanned
    by flatten(J W, 0) for the generators J = e_p e_qᵀ − e_q e_pᵀ (p < q) of so(m).

    Returns
    -------
    ndarray, shape (m·n + n, d')
        Columns span the orthogonal complement (d' = m·n + n − orbit dimension).
    """
    from critpoints.tms.model import TMSCoordinates

    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    coordinates = TMSCoordinates.of(W)
    theta = coordinates.flatten(W, b)
    return complement_basis(coordinates.orbit_tangents(theta), theta.size, tolerance)


def volume_scaling(W: Any, b: Any, **options: Any) -> VolumeScaling:
    """λ̂ of a TMS critical point (float W, b) from the scaling of its sublevel-set volumes:
    :func:`volume_scaling_of` on the TMS potential, whose keyword ``options`` are these.

    Parameters
    ----------
    W : array_like, shape (m, n)
    b : array_like, shape (n,)
        The point (floats; a 60-digit point rounded to float64 is critical to ~1e-16, far below
        the thresholds sampled).
    radius : float, optional
        Ball radius ρ in θ = (W row-major, b). Default :func:`tms_ball_radius` (a quarter of the
        distance to the nearest activation boundary not through the point: ≈ 0.0147 for the
        n = 6 4-gons, whose nearest such boundary is a bias 1/(2n) away).
    live_points, runs, walk_steps, decades
        See :func:`nested_volume_profile`.
    window
        Decades fitted at the bottom (see :func:`fit_volume_exponent`).
    quotient_rotations : bool
        Sample the affine slice θ* + (orbit tangent)^⊥ instead of the full ball (default). The
        O(m) orbit is a curved flat direction: at small ε the sublevel set is a thin bent tube
        that the random walk follows badly (measured: the runs of one estimate became
        correlated, seed-to-seed spread ≈ 1.4 × the reported standard error). L is exactly
        invariant and the slice is transversal to the orbit, so V_full(ε) ≍ V_slice(ε) with the
        same exponent: only the constant changes.
    seed : int

    Returns
    -------
    VolumeScaling
        ``lam`` estimates λ with m = 1 (the piecewise-quadratic case; the per-decade
        ``slopes`` show whether the slope has settled). ``dimension`` is the sampled dimension
        (m·n + n, minus the orbit dimension with ``quotient_rotations``).
    """
    from critpoints.tms.model import TMSPotential

    Wf = np.asarray(W, dtype=float)
    bf = np.asarray(b, dtype=float)
    tms = TMSPotential.of(Wf)
    return volume_scaling_of(tms, tms.flatten(Wf, bf), **options)


def volume_scaling_of(
    potential: Any,
    theta: Any,
    *,
    radius: float | None = None,
    live_points: int | None = None,
    runs: int = 4,
    walk_steps: int | None = None,
    decades: float = 6.0,
    window: float = 3.0,
    quotient_rotations: bool = True,
    seed: int = 0,
) -> VolumeScaling:
    """λ̂ of a critical point θ of any :class:`critpoints.potential.Potential` from the scaling
    of its sublevel-set volumes (the options are described at :func:`volume_scaling`, the TMS
    case).

    ``radius`` defaults to ``potential.ball_radius(θ)`` (models whose Hessian never jumps have
    no such member: pass it). With ``quotient_rotations`` the slice θ* + (orbit tangents)^⊥ is
    sampled, the orbit tangents from ``potential.orbit_tangents``.
    """
    theta_star = np.asarray(theta, dtype=float)
    if radius is None and not hasattr(potential, "ball_radius"):
        raise ValueError(f"{potential!r} has no ball_radius: pass radius=")
    rho = potential.ball_radius(theta_star) if radius is None else float(radius)
    basis = (complement_basis(potential.orbit_tangents(theta_star), theta_star.size)
             if quotient_rotations else np.eye(theta_star.size))

    def sliced_loss(z: np.ndarray) -> np.ndarray:
        return potential.loss(theta_star + z @ basis.T)

    # A model that compiles its loss walks without a Python call per step (TMS: λ̂ 2.2–2.8×
    # faster at n = 12 and 6, docs/performance.md).
    compiled = (potential.sublevel_walk(theta_star, basis)
                if hasattr(potential, "sublevel_walk") else None)
    result = volume_scaling_exponent(
        sliced_loss, np.zeros(basis.shape[1]), rho, live_points=live_points, runs=runs,
        walk_steps=walk_steps, decades=decades, window=window,
        reference_loss=float(potential.loss(theta_star)), seed=seed, compiled_walk=compiled)
    return replace(result, coordinates="rotation slice" if quotient_rotations else "ball")
