"""Free energies of catalog phases, their crossings (Bayesian phase transitions), occupancies.

Asymptotic local free energy of the phase around a critical point w* (Watanabe; SPEC §5):

    F_N ≈ N L(w*) + λ log N + c.

Two conventions for the constant c:

- ``"prior"`` (default, the published one): c = ½‖w*‖², the negative log-density of a standard
  Gaussian prior at w* up to its normalising constant (d/2) log 2π, common to all phases. The
  published constants (5-gon 3.62417, 5⁺ 3.62764, 6-gon 6.37767) are ½‖w*‖² **with every flat
  bias at the top of its flat interval** (a dead feature's bias at 0, where the prior density on
  its flat interval b ≤ 0 is largest); the catalog stores dead features at −1/(2n), which would
  add 1/(8n²) per dead feature. :func:`prior_constant` applies the top-of-interval rule
  explicitly (``flat_bias="top"``) and can use the stored value (``flat_bias="catalog"``).
- ``"laplace"``: the next-order constant of a Laplace / Morse–Bott integral of
  exp(−N L) φ(w) (φ the standard normal density) around the whole critical set of the phase:

      c = ½‖w*_live‖² + ½ log 2π + ½ log det′H − log vol(orbit) − Σ_dead log P_dead,

  with det′H the product of the positive Hessian eigenvalues (the r = 2λ non-degenerate
  directions), vol(orbit) = 2·n!·2π‖W‖_F / |Stab| the length of the O(2) × S_n orbit (all its
  circles; Stab the finite stabiliser), and P_dead the standard-normal mass of the 3-dimensional
  region (u, β) in which a dead feature's column u and bias β leave L exactly unchanged.
  Defined for smooth minima whose zero modes are the rotation and dead features.

The all-dead plateau (every output off: L = E[mu²] = 1/3, λ = 0 since L is constant on an open
set) has F_N = N/3 − log P(all dead) exactly; :func:`all_dead_prior_mass` estimates that mass.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from critpoints.catalog import Catalog

__all__ = [
    "Phase",
    "all_dead_prior_mass",
    "crossing_sample_size",
    "data_set_occupancy",
    "data_set_shift",
    "dead_feature_prior_mass",
    "dominant_transitions",
    "free_energy",
    "laplace_constant",
    "phases_from_catalog",
    "prior_constant",
    "stabiliser_order",
    "theoretical_occupancy",
    "transitions",
]

ZERO = 1e-9


@dataclass
class Phase:
    """One phase of the posterior: F_N = N·loss + lam·log N + constant.

    Attributes
    ----------
    id : str
        Catalog id (``"6"``, ``"5+"`` ...), or ``"dead"`` for the all-dead plateau.
    loss, lam, constant : float
        L(w*), λ and c.
    lam_source, constant_source : str
        Where λ and c come from (catalog Hessian, override, convention ...).
    details : dict
        The pieces of the constant (for the Laplace convention) and anything else worth keeping.
    """

    id: str
    loss: float
    lam: float
    constant: float
    lam_source: str = ""
    constant_source: str = ""
    details: dict = field(default_factory=dict)
    point: tuple | None = field(default=None, repr=False, compare=False)

    def free_energy(self, N: Any) -> Any:
        N = np.asarray(N, dtype=float)
        return N * self.loss + self.lam * np.log(N) + self.constant

    def with_nll_scale(self, scale: float) -> Phase:
        """The phase for a likelihood whose per-sample negative log-likelihood is scale·ℓ.

        The posterior at sample size N is then exp(−β L) φ with β = scale·N, so
        F = βL + λ log β + c = N (scale·L) + λ log N + (c + λ log scale): the same form with
        loss scale·L and constant c + λ log scale, and every function of this module applies.
        """
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive number; got {scale}")
        if scale == 1:
            return self
        return Phase(self.id, self.loss * scale, self.lam,
                     self.constant + self.lam * math.log(scale), self.lam_source,
                     self.constant_source + f" (+ λ log {scale:g}, likelihood scale)",
                     dict(self.details, nll_scale=scale, unscaled_loss=self.loss,
                          unscaled_constant=self.constant), self.point)


def _entry_arrays(entry: dict) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(entry["W"], dtype=float), np.asarray(entry["b"], dtype=float)


def prior_constant(W: Any, b: Any, flat_bias: str = "top") -> float:
    """½‖w‖² at a critical point, the published free-energy constant.

    Parameters
    ----------
    W, b : array_like
        The critical point (m×n and n).
    flat_bias : {"top", "catalog"}
        ``"top"``: every flat bias (dead feature, dead vertex) moved to the top of its flat
        interval (:func:`critpoints.tms.symmetry.normalise_flat_biases`), where the prior density
        along the flat direction is largest; this reproduces the published constants.
        ``"catalog"``: the biases as given.

    Examples
    --------
    A zero column with bias −1/12 counts as bias 0 under ``"top"``:

    >>> prior_constant([[1.0, 0.0], [0.0, 0.0]], [0.0, -1 / 12])
    0.5
    """
    from critpoints.tms.symmetry import normalise_flat_biases

    W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
    if flat_bias == "top":
        b = normalise_flat_biases(W, b)
    elif flat_bias != "catalog":
        raise ValueError(f"flat_bias must be 'top' or 'catalog'; got {flat_bias!r}")
    return 0.5 * float(np.sum(W**2) + np.sum(b**2))


def stabiliser_order(W: Any, b: Any, atol: float = 1e-8) -> int:
    """|{(g, P) ∈ O(2) × S_n : g W P = W, b P = b}| for a point with rank-2 W.

    Brute force over the n! permutations; g is recovered from W P by least squares (exact when it
    exists because W has rank 2).
    """
    W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
    n = W.shape[1]
    if np.linalg.matrix_rank(W, tol=1e-8) < W.shape[0]:
        raise ValueError("stabiliser_order needs W of full row rank")
    count = 0
    for perm in itertools.permutations(range(n)):
        perm = list(perm)
        if np.max(np.abs(b[perm] - b)) > atol:
            continue
        WP = W[:, perm]
        g = W @ np.linalg.pinv(WP)  # g WP = W if any g does
        if np.max(np.abs(g @ g.T - np.eye(W.shape[0]))) < 1e-7 and np.max(
            np.abs(g @ WP - W)
        ) < atol:
            count += 1
    return count


def dead_feature_prior_mass(W: Any, b: Any, feature: int, n_angles: int = 4096) -> float:
    """Standard-normal mass of the flat region of a dead feature's (u, β) = (W_i, b_i).

    With the other columns fixed, L is unchanged exactly when feature i's own output stays off
    (‖u‖² ≤ −β), its input does not reach any other live output (u·W_j ≤ −b_j) and no other input
    reaches its output (W_j·u ≤ −β). For each β < 0 the u-region is star-shaped:
    ρ ≤ ρ_max(θ, β) = min(√−β, min_{j: W_j·e_θ > 0} min(−b_j, −β)/(W_j·e_θ)), and its 2-d
    normal mass is the mean over θ of 1 − exp(−ρ_max²/2). The β integral uses scipy.quad.
    Requires b_j ≤ 0 for every nonzero column j (else u is not flat).
    """
    from scipy import integrate

    W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
    live = [j for j in range(W.shape[1]) if j != feature and np.linalg.norm(W[:, j]) > ZERO]
    if any(b[j] > 0 for j in live):
        raise ValueError("a live column with positive bias: the dead feature is not flat")
    angles = (np.arange(n_angles) + 0.5) * (2 * np.pi / n_angles)
    directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, A)
    proj = W[:, live].T @ directions if live else np.zeros((0, n_angles))  # (J, A)
    thresholds = -b[live][:, None] if live else np.zeros((0, 1))

    def mass_u(beta: float) -> float:
        radius = np.full(n_angles, math.sqrt(-beta))
        if live:
            limit = np.minimum(thresholds, -beta)
            with np.errstate(divide="ignore", invalid="ignore"):
                caps = np.where(proj > 0, limit / proj, np.inf)
            radius = np.minimum(radius, caps.min(axis=0))
        return float(np.mean(-np.expm1(-0.5 * radius**2)))

    def integrand(beta: float) -> float:
        return mass_u(beta) * math.exp(-0.5 * beta * beta) / math.sqrt(2 * math.pi)

    value, _ = integrate.quad(integrand, -np.inf, 0.0, limit=200, epsabs=1e-12, epsrel=1e-9)
    return value


def all_dead_prior_mass(n: int, m: int = 2, samples: int = 1_000_000, seed: Any = 0) -> float:
    """Prior (standard normal) mass of the all-dead plateau {every output off}, by Monte Carlo.

    Output j is off for every input iff b_j ≤ 0 and W_i·W_j + b_j ≤ 0 for all i
    (:func:`critpoints.tms.symmetry.dead_outputs`); there L = 1/3 exactly. Biases are drawn
    from the negative half-normal (the event needs b ≤ 0; factor 2⁻ⁿ exactly), which multiplies
    the hit rate by 2ⁿ. Relative standard error ≈ 1/√(hits).
    """
    from critpoints.tms.symmetry import dead_outputs

    rng = np.random.default_rng(seed)
    hits = 0
    chunk = 100_000
    for start in range(0, samples, chunk):
        k = min(chunk, samples - start)
        W = rng.standard_normal((k, m, n))
        b = -np.abs(rng.standard_normal((k, n)))
        hits += int(np.all(dead_outputs(W, b), axis=-1).sum())
    return hits / samples * 2.0**-n


def laplace_constant(entry: dict) -> tuple[float | None, dict]:
    """The Morse–Bott constant c of a smooth minimum (see the module docstring).

    Returns
    -------
    (c, pieces)
        ``c`` is ``None`` (with ``pieces["reason"]``) unless the entry is a smooth minimum whose
        zero modes are one rotation plus three per dead feature.
    """
    from critpoints.tms.symmetry import dead_outputs

    W, b = _entry_arrays(entry)
    hess = entry["hessian"]
    n = W.shape[1]
    norms = np.linalg.norm(W, axis=0)
    dead = [i for i in range(n) if norms[i] <= ZERO and b[i] <= 0]
    if entry.get("classification") != "minimum" or hess["n_neg"]:
        return None, {"reason": "not a smooth minimum"}
    if np.linalg.matrix_rank(W, tol=1e-8) < W.shape[0]:
        return None, {"reason": "W not of full rank: no rotation orbit (flat plateau)"}
    if hess["n_zero"] != 1 + 3 * len(dead) or not all(dead_outputs(W, b)[dead]):
        return None, {"reason": "zero modes are not one rotation plus three per dead feature"}
    eig = np.asarray(hess["eigenvalues"], dtype=float)
    positive = np.sort(eig)[-hess["n_pos"] :]
    live = [i for i in range(n) if i not in dead]
    sq_norm = 0.5 * float(np.sum(W[:, live] ** 2) + np.sum(b[live] ** 2))
    half_logdet = 0.5 * float(np.sum(np.log(positive)))
    stab = stabiliser_order(W, b)
    orbit_length = 2 * math.factorial(n) * 2 * math.pi * float(np.linalg.norm(W)) / stab
    dead_masses = [dead_feature_prior_mass(W, b, i) for i in dead]
    c = (
        sq_norm
        + 0.5 * math.log(2 * math.pi)
        + half_logdet
        - math.log(orbit_length)
        - sum(math.log(p) for p in dead_masses)
    )
    pieces = {
        "half_sq_norm_live": sq_norm,
        "half_log_2pi_orbit_direction": 0.5 * math.log(2 * math.pi),
        "half_logdet_hessian": half_logdet,
        "stabiliser_order": stab,
        "log_orbit_length": math.log(orbit_length),
        "dead_feature_prior_masses": dead_masses,
    }
    return c, pieces


def phases_from_catalog(
    catalog: Catalog | dict,
    convention: str = "prior",
    lam_overrides: dict[str, float] | None = None,
    include_dead_plateau: bool = True,
    dead_plateau_samples: int = 1_000_000,
) -> list[Phase]:
    """Phases with a learning coefficient: catalog minima with λ, plus overrides.

    Entries with λ = 0 (the all-dead plateaus "0", "1-", ... of loss 1/3: L is constant on an open
    set, so ½‖w*‖² at an arbitrary point of it means nothing) are replaced by one phase ``"dead"``
    with c = −log P(all dead) when ``include_dead_plateau``. Entries with λ = null enter only
    through ``lam_overrides`` (e.g. ``{"4+": 5.0}``); their constant is ½‖w*‖² in both conventions
    (no Laplace constant for non-smooth points).

    ``catalog`` is a :class:`~critpoints.catalog.Catalog` or a loaded catalog document.

    Raises
    ------
    critpoints.catalog.UnknownEntryError
        An id of ``lam_overrides`` is not in the catalog (a KeyError naming it).
    """
    from critpoints.slt.coefficients import theoretical_learning_coefficient

    if convention not in ("prior", "laplace"):
        raise ValueError(f"convention must be 'prior' or 'laplace'; got {convention!r}")
    overrides = dict(lam_overrides or {})
    catalog = Catalog.of(catalog)
    catalog.entries(sorted(overrides))  # UnknownEntryError for an overridden id not in it
    model = catalog.model
    phases = []
    for pid, entry in catalog.items():
        theory = theoretical_learning_coefficient(entry)
        W, b = catalog.parameters(pid)
        if pid in overrides:
            lam, lam_source = float(overrides[pid]), "override"
        elif theory.value is None:
            continue
        elif theory.value == 0.0:
            continue  # all-dead plateau, handled below
        else:
            lam, lam_source = theory.value, theory.reason
        details = {}
        constant = prior_constant(W, b, "top")
        constant_source = "½‖w*‖², flat biases at the top of their interval"
        if convention == "laplace" and pid not in overrides:
            c, details = laplace_constant(entry)
            if c is not None:
                constant, constant_source = c, "Laplace / Morse–Bott"
        phases.append(
            Phase(pid, float(entry["loss"]), lam, constant, lam_source, constant_source,
                  details, (W, b))
        )
    if include_dead_plateau:
        mass = all_dead_prior_mass(model.n, model.m, samples=dead_plateau_samples)
        if mass > 0:
            phases.append(
                Phase("dead", 1.0 / 3.0, 0.0, -math.log(mass), "L constant on an open set",
                      "−log P(all outputs dead) (Monte Carlo over the prior)",
                      {"prior_mass": mass},
                      (np.zeros((model.m, model.n)), -np.ones(model.n)))
            )
    return phases


def free_energy(phase: Phase, N: Any) -> Any:
    """F_N = N L + λ log N + c (vectorised over N)."""
    return phase.free_energy(N)


def crossing_sample_size(a: Phase, b: Phase, N_min: float = 1.0) -> float | None:
    """Largest N ≥ N_min with F_a(N) = F_b(N), after which the lower-loss phase wins for good.

    f(N) = F_a − F_b = N ΔL + Δλ log N + Δc (Δ = a − b) is convex in N for Δλ ≤ 0. Returns
    ``None`` when ΔL = 0 or when f has no root above N_min (one phase is preferred throughout).
    """
    from scipy.optimize import brentq

    dL, dlam, dc = a.loss - b.loss, a.lam - b.lam, a.constant - b.constant
    if dL == 0:
        return None
    if dL < 0:  # orient so that b has the lower loss
        dL, dlam, dc = -dL, -dlam, -dc

    def f(N):
        return N * dL + dlam * math.log(N) + dc

    # f → +∞; find the last sign change: start past the stationary point N0 = −Δλ/ΔL.
    lo = max(N_min, -dlam / dL if dlam < 0 else N_min)
    if f(lo) >= 0:
        if dlam < 0 or f(N_min) >= 0:
            return None
        lo = N_min  # dlam >= 0: f increasing, single root above N_min
    hi = max(2 * lo, 2.0)
    while f(hi) < 0:
        hi *= 2
    return float(brentq(f, lo, hi, xtol=1e-10, rtol=1e-14))


def transitions(phases: list[Phase], N_min: float = 1.0) -> list[dict]:
    """Every pairwise crossing: ``{"from", "to", "samples", ...}``, ``from`` the higher-loss phase.

    A Type A transition (from lower λ to higher λ) has ``"type": "A"``; a pair where the
    lower-loss phase also has lower or equal λ crosses only through the constants (``"type":
    "constant"``). Sorted by ``samples``.
    """
    out = []
    for a, b in itertools.combinations(phases, 2):
        hi, lo = (a, b) if a.loss > b.loss else (b, a)
        if hi.loss == lo.loss:
            continue
        N = crossing_sample_size(hi, lo, N_min)
        if N is None:
            continue
        out.append({
            "from": hi.id, "to": lo.id, "samples": N,
            "type": "A" if hi.lam < lo.lam else "constant",
            "delta_loss": hi.loss - lo.loss, "delta_lambda": lo.lam - hi.lam,
            "delta_constant": lo.constant - hi.constant,
        })
    return sorted(out, key=lambda t: t["samples"])


def dominant_transitions(phases: list[Phase], N_range: tuple[float, float]) -> list[dict]:
    """Changes of the phase with the lowest free energy as N runs over ``N_range``."""
    lo, hi = N_range
    grid = np.geomspace(lo, hi, 4001)
    F = np.array([p.free_energy(grid) for p in phases])
    best = F.argmin(axis=0)
    out = []
    for k in np.flatnonzero(np.diff(best)):
        a, b = phases[best[k]], phases[best[k + 1]]
        N = crossing_sample_size(a, b, grid[k] * 0.999)
        out.append({"from": a.id, "to": b.id, "samples": N if N is not None else float(grid[k])})
    return out


def theoretical_occupancy(phases: list[Phase], N: Any) -> np.ndarray:
    """p_a(N) = exp(−F_a(N)) / Σ_b exp(−F_b(N)), shape (len(phases), len(N))."""
    N = np.atleast_1d(np.asarray(N, dtype=float))
    F = np.array([p.free_energy(N) for p in phases])
    F -= F.min(axis=0)
    w = np.exp(-F)
    return w / w.sum(axis=0)


def _permutations(n: int, limit: int, seed: Any) -> np.ndarray:
    """All n! permutations of the features, or ``limit`` random ones when n! is larger."""
    if math.factorial(n) <= limit:
        return np.array(list(itertools.permutations(range(n))), dtype=int)
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((limit, n)), axis=1)


def data_set_shift(
    phase: Phase,
    potential: Any,
    slots: Any,
    beta: Any,
    *,
    max_permutations: int = 5040,
    seed: Any = 0,
    chunk: int = 50_000,
) -> np.ndarray:
    """δ_s = −log mean_π exp(−β_s (L_s(π·w*) − L(w*))): the data-set term of a phase's free energy.

    With the empirical loss L_N of one data set in the likelihood, the free energy of a phase is
    F = β L_N-weighted over its critical set: every copy π·w* of the critical point (π ∈ S_n
    permuting the features; L_N is O(m)-invariant already) sits at its own height L_N(π·w*),
    and the Laplace integral sums exp(−β L_N) over the copies. To leading order the local factor
    (λ log β + c) is the same for every copy, so F_data = F + δ with δ as above. δ is O_p(√β):
    N(L_N − L) fluctuates by O(√N) per copy, and a phase that breaks the S_n symmetry (a 5-gon
    chooses which feature to drop) gains the log-sum-exp of its copies' fluctuations; an
    S_n-symmetric point (the all-dead plateau) gets the plain fluctuation β(L_N − L).

    Parameters
    ----------
    phase : Phase
        With ``point`` = (W, b) (phases from :func:`phases_from_catalog` have one) and
        ``loss`` = L(w*) (unscaled).
    potential : TMSEmpiricalSets
        The data sets.
    slots, beta : array_like, same shape
        Data set index and inverse temperature (scale·N) of each requested shift.
    max_permutations : int
        Use all n! permutations up to this many, else this many random ones (a Monte Carlo mean).
    """
    if phase.point is None:
        raise ValueError(f"phase {phase.id!r} has no representative point")
    W, b = (np.asarray(v, dtype=float) for v in phase.point)
    slots = np.asarray(slots, dtype=int)
    beta = np.broadcast_to(np.asarray(beta, dtype=float), slots.shape)
    perms = _permutations(W.shape[1], max_permutations, seed)
    copies = potential.flatten(W[:, perms].transpose(1, 0, 2), b[perms])  # (P, dim)
    flat_slots = slots.ravel()
    heights = np.empty((len(flat_slots), len(perms)))
    per_chunk = max(1, chunk // len(perms))
    for start in range(0, len(flat_slots), per_chunk):
        part = flat_slots[start:start + per_chunk]
        theta = np.broadcast_to(copies, (len(part),) + copies.shape).reshape(-1, copies.shape[1])
        heights[start:start + per_chunk] = potential.loss(
            theta, np.repeat(part, len(perms))).reshape(len(part), len(perms))
    x = -beta.reshape(-1, 1) * (heights - phase.loss)
    top = x.max(axis=1)
    shift = -(top + np.log(np.mean(np.exp(x - top[:, None]), axis=1)))
    return shift.reshape(slots.shape)


def data_set_occupancy(
    phases: list[Phase],
    potential: Any,
    slots: Any,
    N: Any,
    scale: float = 1.0,
    **shift_options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Occupancies with the data-set term, for the data sets of an empirical posterior.

    Parameters
    ----------
    phases : list of Phase
        Unscaled phases with representative points.
    potential : TMSEmpiricalSets
        Holds the data sets; ``slots[d, g]`` is data set d's prefix of size ``N[g]``.
    slots : array_like of int, shape (D, G)
    N : array_like, shape (G,)
    scale : float
        Likelihood scale S (β = S·N).

    Returns
    -------
    (mean, per_data_set)
        Occupancy averaged over the D data sets, shape (P, G), and per data set, (P, D, G).
    """
    slots = np.asarray(slots, dtype=int)
    N = np.asarray(N, dtype=float)
    beta = scale * np.broadcast_to(N, slots.shape)
    F = np.array([
        p.with_nll_scale(scale).free_energy(N)[None, :]
        + data_set_shift(p, potential, slots, beta, **shift_options)
        for p in phases
    ])
    F -= F.min(axis=0)
    w = np.exp(-F)
    occupancy = w / w.sum(axis=0)
    return occupancy.mean(axis=1), occupancy
