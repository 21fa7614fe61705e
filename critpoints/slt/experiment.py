"""The SLT experiments as library functions: ``run_phases`` and ``run_llc``.

What ``critpoints phases`` and ``critpoints llc`` compute, callable from a notebook with a catalog
document (``critpoints.catalog.load_catalog`` or ``load_builtin``). Each returns a documented
record whose ``to_json()`` is the command's JSON document (``critpoints.phases``,
``critpoints.llc``). No files and no printing: progress goes to an optional callback
``progress(message)``.

Example
-------
>>> from critpoints.catalog import load_builtin
>>> from critpoints.slt.experiment import run_phases, sample_size_grid
>>> result = run_phases(load_builtin(6), sample_size_grid(100, 300, 4))  # doctest: +SKIP
>>> result.crossing("5", "6", "laplace")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DOCUMENT_PAIR",
    "BiasTooLarge",
    "ConventionTheory",
    "LLCRunResult",
    "LLCSweep",
    "LadderSettings",
    "OccupancyCurves",
    "PhasesResult",
    "SampledOccupancy",
    "drawn_data_sets",
    "empirical_minimum",
    "run_llc",
    "run_llc_sweep",
    "run_phases",
    "sample_size_grid",
    "sampling_levels",
    "theory_with_data",
]

#: The pair of phases whose occupancy crossing a version-1 ``critpoints.phases`` document
#: stores (``crossing_5_to_6``): the published n = 6 transition. Any other pair is available
#: from the record (:meth:`PhasesResult.crossing`, :meth:`SampledOccupancy.crossing_of`).
DOCUMENT_PAIR = ("5", "6")
#: Recorded MALA draws: every 10th step after burn-in.
MALA_THIN = 10
#: Largest Hessian eigenvalue assumed when a point's is smaller (the basin quench step 1/h_max
#: would otherwise be unbounded at a flat point).
MIN_CURVATURE = 1e-3

Progress = Callable[[str], None] | None


def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values]


def _pair_crossing(grid: Any, occupancy: dict, pair: tuple[str, str]) -> float | None:
    from critpoints.slt.mcmc import occupancy_crossing

    zeros = [0] * len(grid)
    return occupancy_crossing(grid, occupancy.get(pair[0], zeros), occupancy.get(pair[1], zeros))


def _check_tms_catalog(document: dict, n: int | None = None) -> int:
    model = document["model"]
    if model.get("kind") != "tms-high-sparsity" or (n is not None and model.get("n") != n):
        raise ValueError(f"a {model.get('kind')} catalog for n = {model.get('n')}, not a TMS "
                         f"catalog" + (f" for n = {n}" if n is not None else ""))
    return model["n"]


# --- phases ---------------------------------------------------------------------------------

def sample_size_grid(lo: float, hi: float, count: int = 16) -> np.ndarray:
    """The N grid of ``phases``: ``count`` geometric points from ``lo`` to ``hi``, rounded to whole
    numbers, duplicates removed."""
    return np.unique(np.round(np.geomspace(lo, hi, count)))


def sampling_levels(grid: np.ndarray, hot_levels: int) -> np.ndarray:
    """The sampler's ladder: the grid plus ``hot_levels`` geometric levels from N = 5 up to (not
    including) its first point, which help the replicas mix."""
    hot = np.geomspace(5.0, grid[0], hot_levels + 1)[:-1] if hot_levels else []
    return np.unique(np.concatenate([np.round(hot), grid]))


@dataclass
class ConventionTheory:
    """The free-energy prediction in one convention for the constant c.

    Attributes
    ----------
    phases : list of :class:`~critpoints.slt.freeenergy.Phase`
        The catalogued phases (λ, c as derived, before the likelihood scale).
    transitions : list of dict
        Every pairwise crossing of F (``freeenergy.transitions``).
    dominant_transitions : list of dict
        Where the phase of least F changes within the sample range.
    occupancy : dict
        Phase id → predicted occupancy on the grid.
    """

    phases: list
    transitions: list[dict]
    dominant_transitions: list[dict]
    occupancy: dict[str, list[float]]

    def to_json(self) -> dict:
        return {
            "phases": [
                {"id": p.id, "loss": p.loss, "lambda": p.lam, "constant": p.constant,
                 "lambda_source": p.lam_source, "constant_source": p.constant_source,
                 "details": p.details}
                for p in self.phases
            ],
            "transitions": self.transitions,
            "dominant_transitions": self.dominant_transitions,
            "occupancy": self.occupancy,
        }


@dataclass
class OccupancyCurves:
    """Occupancy per phase on the grid (the free energy with its data-set term, or sampled),
    the crossing of the record's pair of phases and where the most occupied phase changes."""

    occupancy: dict[str, list[float]]
    crossing: float | None
    dominant_changes: list[dict]

    def to_json(self) -> dict:
        return {"occupancy": self.occupancy, "crossing_5_to_6": self.crossing,
                "dominant_changes": self.dominant_changes}


@dataclass
class SampledOccupancy:
    """The MCMC check of ``run_phases``: MALA with replica exchange over the ladder ``levels``.

    Attributes
    ----------
    data : {"empirical", "population"}
        Likelihood exp(−S N L_N) on drawn data sets, or exp(−S N L).
    levels : ndarray
        The sampled ladder (grid plus hot levels).
    occupancy : dict
        Label → fraction of draws on the grid (every label seen, catalogued or not).
    catalogued : list of str
        The labels that are catalogued phases (the columns of the printed table).
    crossing : float or None
        Sampled crossing of the pair of phases ``pair``.
    theory_crossing : dict
        Convention → the same crossing of the theoretical occupancy.
    with_data : dict
        Convention → :class:`OccupancyCurves` of the free energy plus its data-set term on the
        sampler's own data sets (empty for ``data="population"``).
    dominant_changes : list of dict
        Where the most occupied catalogued phase changes.
    """

    data: str
    nll_scale: float
    levels: np.ndarray
    ensembles: int
    steps: int
    burn_in: int
    thin: int
    draws_per_level: int
    seed: int
    grid: np.ndarray
    occupancy: dict[str, list[float]]
    catalogued: list[str]
    mean_loss: list[float]
    acceptance: list[float]
    swap_acceptance: list[float]
    pair: tuple[str, str]
    crossing: float | None
    theory_crossing: dict[str, float | None]
    with_data: dict[str, OccupancyCurves]
    dominant_changes: list[dict]

    @property
    def method(self) -> str:
        likelihood = "L_N" if self.data == "empirical" else "L"
        return ("MALA with replica exchange over the N ladder (exact MH), standard normal "
                f"prior, log-likelihood −{self.nll_scale:g}·N·({likelihood})")

    def crossing_of(self, from_id: str, to_id: str) -> float | None:
        """Sampled occupancy crossing ``from_id`` → ``to_id`` (last sign change, log-N)."""
        return _pair_crossing(self.grid, self.occupancy, (from_id, to_id))

    def to_json(self) -> dict:
        return {
            "method": self.method, "data": self.data, "nll_scale": self.nll_scale,
            "levels": _floats(self.levels),
            "ensembles": self.ensembles, "steps": self.steps, "burn_in": self.burn_in,
            "thin": self.thin, "draws_per_level": self.draws_per_level, "seed": self.seed,
            "occupancy": self.occupancy,
            "mean_loss": self.mean_loss,
            "acceptance": self.acceptance,
            "swap_acceptance": self.swap_acceptance,
            "crossing_5_to_6": self.crossing,
            "theory_crossing_5_to_6": self.theory_crossing,
            "theory_with_data": {conv: c.to_json() for conv, c in self.with_data.items()},
            "dominant_changes": self.dominant_changes,
        }


@dataclass
class PhasesResult:
    """Bayesian phases of a TMS catalog on a grid of sample sizes (the ``phases`` command).

    Attributes
    ----------
    n : int
        Number of features.
    catalog : str
        Where the catalog came from (stored in the document).
    convention : {"prior", "laplace"}
        The constant c of the headline ``transitions``.
    lambda_overrides : dict
        λ supplied for entries without one.
    nll_scale : float
        S of the likelihood exp(−S·N·L_N).
    grid : ndarray
        The sample sizes N.
    pair : (str, str)
        The pair of phases whose occupancy crossing is reported (default :data:`DOCUMENT_PAIR`).
    theory : dict
        Convention → :class:`ConventionTheory`.
    with_data : dict or None
        Without sampling, with ``data_sets`` > 0: convention → :class:`OccupancyCurves` of the
        free energy plus its data-set term on ``data_sets`` drawn data sets of seed ``seed``.
    sampled : :class:`SampledOccupancy` or None
        The MCMC check (``mcmc_steps`` > 0).
    """

    n: int
    catalog: str
    convention: str
    lambda_overrides: dict[str, float]
    nll_scale: float
    grid: np.ndarray
    pair: tuple[str, str]
    theory: dict[str, ConventionTheory]
    with_data: dict[str, OccupancyCurves] | None = None
    data_sets: int = 0
    seed: int = 0
    sampled: SampledOccupancy | None = None

    @property
    def transitions(self) -> list[dict]:
        """The transitions of the chosen convention (critical N in ``samples``)."""
        return self.theory[self.convention].transitions

    def crossing(self, from_id: str, to_id: str, convention: str | None = None) -> float | None:
        """Theoretical occupancy crossing ``from_id`` → ``to_id`` on the grid (any pair)."""
        theory = self.theory[convention or self.convention]
        return _pair_crossing(self.grid, theory.occupancy, (from_id, to_id))

    def to_json(self) -> dict:
        """The ``critpoints.phases`` document (schema version 1)."""
        from critpoints.documents import PHASES, new_document

        if self.pair != DOCUMENT_PAIR and (self.with_data or self.sampled):
            raise ValueError(f"a version-1 phases document stores the {DOCUMENT_PAIR} crossing; "
                             f"this record has {self.pair}")
        document = new_document(PHASES, {
            "command": "phases", "n": self.n, "catalog": self.catalog,
            "convention": self.convention, "lambda_overrides": self.lambda_overrides,
            "nll_scale": self.nll_scale,
            "transitions": [
                {"from": t["from"], "to": t["to"], "samples": t["samples"], "type": t["type"]}
                for t in self.transitions
            ],
            "N": _floats(self.grid),
            "theory": {conv: t.to_json() for conv, t in self.theory.items()},
        })
        if self.with_data is not None:
            document["theory_with_data"] = dict(
                {conv: c.to_json() for conv, c in self.with_data.items()},
                data_sets=self.data_sets, seed=self.seed)
        if self.sampled is not None:
            document["empirical"] = self.sampled.to_json()
        return document


def _theory(phase_lists: dict, grid: np.ndarray, scale: float) -> dict[str, ConventionTheory]:
    from critpoints.slt import freeenergy as fe

    theory = {}
    for convention, unscaled in phase_lists.items():
        phases = [p.with_nll_scale(scale) for p in unscaled]
        theory[convention] = ConventionTheory(
            phases=unscaled,
            transitions=fe.transitions(phases),
            dominant_transitions=fe.dominant_transitions(phases, (grid[0], grid[-1])),
            occupancy={p.id: _floats(row)
                       for p, row in zip(phases, fe.theoretical_occupancy(phases, grid))},
        )
    return theory


def drawn_data_sets(n: int, sizes: Any, count: int, rng: np.random.Generator, m: int = 2):
    """``count`` streams of high-sparsity samples as nested data sets: data set (d, k) is the first
    ``sizes[k]`` samples of stream d (:class:`~critpoints.slt.potentials.TMSEmpiricalSets`)."""
    from critpoints.slt.potentials import TMSEmpiricalSets
    from critpoints.tms.data import sample_high_sparsity

    streams = [sample_high_sparsity(n, int(max(sizes)), seed=rng) for _ in range(count)]
    return TMSEmpiricalSets.nested(streams, sizes, m)


def theory_with_data(phase_lists: dict, potential: Any, slots: Any, grid: np.ndarray,
                     scale: float, pair: tuple[str, str] = DOCUMENT_PAIR
                     ) -> dict[str, OccupancyCurves]:
    """Occupancy, crossing of ``pair`` and dominant changes of F + δ (the data-set term,
    ``freeenergy.data_set_shift``) on the data sets ``slots`` of ``potential``."""
    from critpoints.slt import freeenergy as fe
    from critpoints.slt.mcmc import dominant_changes

    out = {}
    for conv, phases in phase_lists.items():
        mean, _ = fe.data_set_occupancy(phases, potential, slots, grid, scale)
        occ = {p.id: _floats(row) for p, row in zip(phases, mean)}
        out[conv] = OccupancyCurves(occ, _pair_crossing(grid, occ, pair),
                                    dominant_changes(grid, occ))
    return out


@dataclass(frozen=True)
class LadderSettings:
    """How ``run_phases`` samples: MALA steps, ensembles, likelihood, hot levels, seed."""

    steps: int
    ensembles: int = 8
    data: str = "empirical"
    hot_levels: int = 8
    seed: int = 0


def _ladder_potential(n: int, m: int, levels: np.ndarray, settings: LadderSettings,
                      rng: np.random.Generator):
    from critpoints.slt.potentials import TMSPopulation

    if settings.data == "empirical":
        potential = drawn_data_sets(n, levels, settings.ensembles, rng, m)
        return potential, potential.slot_grid
    return TMSPopulation(n, m), None


def _sample_ladder(n: int, m: int, grid: np.ndarray, settings: LadderSettings, scale: float,
                   theory: dict, phase_lists: dict, pair: tuple[str, str],
                   progress: Progress) -> SampledOccupancy:
    from critpoints.slt.mcmc import dominant_changes, sample_posterior_ladder
    from critpoints.slt.phases import phase_label

    levels = sampling_levels(grid, settings.hot_levels)
    rng = np.random.default_rng(settings.seed)
    potential, slots = _ladder_potential(n, m, levels, settings, rng)
    burn_in = settings.steps // 4
    res = sample_posterior_ladder(
        potential, scale * levels, ensembles=settings.ensembles, steps=settings.steps,
        burn_in=burn_in, thin=MALA_THIN, slots=slots,
        classify=lambda theta: phase_label(*potential.unflatten(theta)), seed=rng,
        progress=lambda step, steps: _say(progress, f"phases: MCMC step {step}/{steps}"),
    )
    keep = np.isin(levels, grid)
    labels = sorted({lab for c in res.counts for lab in c})
    occ = {lab: _floats(np.asarray(vals)[keep]) for lab, vals in res.occupancy(labels).items()}
    ids = [p.id for p in phase_lists["prior"]]
    catalogued = [lab for lab in sorted(occ, key=lambda lab: (lab not in ids, lab)) if lab in ids]
    with_data = {}
    if settings.data == "empirical":
        # The same data sets through the free energy with its data-set term δ (see
        # freeenergy.data_set_shift): the theory the sampler should agree with at finite N.
        _say(progress, "phases: data-set terms of the free energies")
        with_data = theory_with_data(phase_lists, potential, slots[:, keep], grid, scale, pair)
    return SampledOccupancy(
        data=settings.data, nll_scale=scale, levels=levels, ensembles=settings.ensembles,
        steps=settings.steps, burn_in=burn_in, thin=MALA_THIN, draws_per_level=res.draws,
        seed=settings.seed, grid=grid, occupancy=occ, catalogued=catalogued,
        mean_loss=_floats(res.mean_loss[keep]), acceptance=_floats(res.acceptance),
        swap_acceptance=_floats(res.swap_acceptance), pair=pair,
        crossing=_pair_crossing(grid, occ, pair),
        theory_crossing={conv: _pair_crossing(grid, t.occupancy, pair)
                         for conv, t in theory.items()},
        with_data=with_data, dominant_changes=dominant_changes(grid, occ, catalogued),
    )


def run_phases(
    catalog: dict,
    grid: Any,
    *,
    source: str = "",
    convention: str = "prior",
    lambda_overrides: dict[str, float] | None = None,
    nll_scale: float = 1.0,
    mcmc_steps: int = 0,
    ensembles: int = 8,
    data: str = "empirical",
    data_sets: int = 0,
    hot_levels: int = 8,
    seed: int = 0,
    pair: tuple[str, str] = DOCUMENT_PAIR,
    progress: Progress = None,
) -> PhasesResult:
    """Free energies, predicted transitions and occupancy curves of a TMS catalog's phases.

    Parameters
    ----------
    catalog : dict
        A TMS catalog document (``critpoints.catalog.load_catalog``).
    grid : array of float
        Sample sizes N (e.g. :func:`sample_size_grid`); ``nll_scale · grid[0]`` must exceed 1.
    source : str
        Where the catalog came from (stored as ``catalog`` in the document).
    convention : {"prior", "laplace"}
        Constant c of the headline transitions (both conventions are computed).
    lambda_overrides : dict, optional
        λ for entries without one, by catalog id.
    nll_scale : float
        S in the likelihood exp(−S·N·L_N).
    mcmc_steps : int
        MALA steps per replica (0: theory only; else at least 100). Burn-in is a quarter, every
        10th later step is recorded.
    ensembles : int
        Replica-exchange ensembles, each with data sets of its own.
    data : {"empirical", "population"}
        Likelihood of the sampled posterior.
    data_sets : int
        Without sampling: also predict the occupancy with the data-set term on this many drawn
        data sets (0 = off).
    hot_levels : int
        Extra ladder levels below ``grid[0]`` (down to N = 5).
    seed : int
        Seed of the data sets and chains.
    pair : (str, str)
        The phases whose occupancy crossing is reported (any two catalog ids or labels).
    progress : callable, optional
        Called with a one-line message at each stage.

    Returns
    -------
    PhasesResult
        ``to_json()`` is the ``critpoints.phases`` document.
    """
    from critpoints.slt import freeenergy as fe

    overrides = dict(lambda_overrides or {})
    n = _check_tms_catalog(catalog)
    if 0 < mcmc_steps < 100:
        raise ValueError("mcmc_steps must be 0 or at least 100")
    if nll_scale * grid[0] <= 1:
        raise ValueError(f"nll_scale × N = {nll_scale * grid[0]:g} must exceed 1")
    unknown = sorted(set(overrides) - {e["id"] for e in catalog["critical_points"]})
    if unknown:
        raise ValueError(f"unknown label(s) {', '.join(unknown)} in lambda_overrides")
    grid = np.asarray(grid, float)
    m = catalog["model"].get("m", 2)
    phase_lists = {conv: fe.phases_from_catalog(catalog, conv, overrides)
                   for conv in ("prior", "laplace")}
    theory = _theory(phase_lists, grid, nll_scale)
    result = PhasesResult(n, source, convention, overrides, nll_scale, grid, pair, theory,
                          data_sets=data_sets, seed=seed)
    if data_sets and not mcmc_steps:
        potential = drawn_data_sets(n, grid, data_sets, np.random.default_rng(seed), m)
        _say(progress, "phases: data-set terms of the free energies")
        result.with_data = theory_with_data(phase_lists, potential, potential.slot_grid, grid,
                                            nll_scale, pair)
    if mcmc_steps:
        settings = LadderSettings(mcmc_steps, ensembles, data, hot_levels, seed)
        result.sampled = _sample_ladder(n, m, grid, settings, nll_scale, theory, phase_lists,
                                        pair, progress)
    return result


# --- llc ------------------------------------------------------------------------------------

class BiasTooLarge(ValueError):
    """The fixed SGLD settings predict a bias of λ̂ above the tolerance, or a step beyond the
    stability limit (raised before sampling)."""


#: Basin test: quenched points within this max-norm distance (up to symmetry) of the quenched
#: centre's live part are "the same point".
BASIN_ATOL = 1e-2


@dataclass
class LLCRunResult:
    """λ̂ at a catalog point by SGLD (the ``llc`` command), with the settings used.

    Attributes
    ----------
    n, label : int, str
        The catalog and the entry.
    data : {"population", "empirical"}
        Population potential L or empirical loss on ``samples`` drawn points.
    samples, chains, steps, burn_in : int
        N (sets Nβ = N/log N), and the chains' shape.
    batch_size : int or None
        Minibatch size (None: full batches).
    epsilon, gamma, dead_bias : float
        SGLD step, localisation, bias of dead features.
    seed : int
    h_max : float
        Largest Hessian eigenvalue at the centre.
    centre : {"catalog", "empirical minimum"}
        Where the chains are localised: the catalog point, or (empirical data) the minimum of
        the empirical loss next to it, whose gradient is zero (at the catalog point the
        empirical gradient is O(1/√N) and biases λ̂ down).
    centre_shift : float
        Distance between the catalog point and the centre.
    calibration : :class:`~critpoints.slt.calibration.SGLDCalibration`
        How ε and γ were chosen (or, when the user fixed them, what they predict).
    theory : :class:`~critpoints.slt.coefficients.LearningCoefficient`
        The theoretical λ (or why there is none).
    estimate : :class:`~critpoints.slt.llc.LLCResult`
        λ̂ and its diagnostics.
    """

    n: int
    label: str
    data: str
    samples: float
    chains: int
    steps: int
    burn_in: int
    batch_size: int | None
    epsilon: float
    gamma: float
    dead_bias: float
    seed: int
    h_max: float
    centre: str
    centre_shift: float
    calibration: Any
    theory: Any
    estimate: Any = field(repr=False)

    @property
    def predicted_bias(self) -> float | None:
        """λ_h − ½ rank of the harmonic model at (ε, γ) (None: no prediction)."""
        prediction = self.calibration.prediction
        return None if prediction is None else prediction.bias

    @property
    def corrected(self) -> float | None:
        """λ̂ − predicted bias: the estimate with the computable harmonic bias removed."""
        bias = self.predicted_bias
        return None if bias is None else self.estimate.llc_mean - bias

    def to_json(self) -> dict:
        """The ``critpoints.llc`` document."""
        from critpoints.documents import LLC, new_document

        return new_document(LLC, {
            "command": "llc", "n": self.n, "label": self.label, "data": self.data,
            "samples": self.samples, "chains": self.chains, "steps": self.steps,
            "burn_in": self.burn_in, "batch_size": self.batch_size, "epsilon": self.epsilon,
            "gamma": self.gamma, "dead_bias": self.dead_bias, "seed": self.seed,
            "centre": self.centre, "centre_shift": self.centre_shift,
            "calibration": self.calibration.to_json(),
            "predicted_bias": self.predicted_bias, "llc_corrected": self.corrected,
            "theory": {"value": self.theory.value, "reason": self.theory.reason},
            **self.estimate.summary(),
            "trace_mean_per_chain": _floats(self.estimate.trace.mean(axis=1)),
        })


def _llc_start(entry: dict, dead_bias: float) -> tuple[np.ndarray, np.ndarray]:
    """The entry's (W, b) with each dead feature's bias moved to ``dead_bias`` (deep inside its
    flat interval b ≤ 0, so that chains do not cross b = 0 into another basin)."""
    W, b = np.asarray(entry["W"], float), np.asarray(entry["b"], float)
    zero = np.linalg.norm(W, axis=0) < 1e-12
    return W, np.where(zero & (b <= 0), dead_bias, b)


def empirical_minimum(potential: Any, theta: Any) -> np.ndarray:
    """The minimum of a (C¹, piecewise-quadratic) empirical loss next to ``theta``: L-BFGS from
    ``theta`` to a gradient at rounding level (Newton steps cycle between the quadratic pieces
    when kinks are dense, as they are for N ≥ 1000)."""
    from scipy.optimize import minimize

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = potential.loss_and_gradient(x[None, :])
        return float(value[0]), grad[0]

    result = minimize(fun, np.asarray(theta, dtype=float), jac=True, method="L-BFGS-B",
                      options={"maxiter": 20000, "gtol": 1e-13, "ftol": 1e-16})
    return result.x


def _minibatch_noise(potential: Any, theta: np.ndarray, vectors: np.ndarray,
                     batch_size: int) -> np.ndarray:
    """σ_i²: variance of a minibatch's mean gradient along each eigenvector (sampling without
    replacement: factor (N − B) / (B (N − 1)))."""
    grads = potential.per_sample_gradients(theta)
    size = len(grads)
    projected = grads @ vectors
    variance = projected.var(axis=0, ddof=1)
    return variance * (size - batch_size) / (batch_size * max(size - 1, 1))


def _tms_basin(n: int, m: int, centre: np.ndarray, entries: list[dict], step: float):
    from critpoints.slt.basins import QuenchBasin
    from critpoints.slt.phases import nearest_catalog_entry
    from critpoints.tms.model import TMSPotential
    from critpoints.tms.symmetry import live_part, same_live_part

    population = TMSPotential(n, m)

    def same_point(a: np.ndarray, b: np.ndarray) -> bool:
        return same_live_part(live_part(*population.unflatten(a), 1e-6),
                              live_part(*population.unflatten(b), 1e-6), BASIN_ATOL)

    def identify(theta: np.ndarray) -> str:
        return nearest_catalog_entry(*population.unflatten(theta), entries)[0]

    return QuenchBasin(population, centre, same_point, step, identify,
                       rule="quench on the population loss at 40 checkpoints per chain; same live "
                       f"part as w* up to O(2) × S_n within {BASIN_ATOL:g}")


def run_llc(
    catalog: dict,
    label: str,
    *,
    samples: float = 1_000_000,
    data: str = "population",
    batch_size: int | None = 1000,
    chains: int = 16,
    steps: int = 30000,
    burn_in: int | None = None,
    epsilon: float | None = None,
    gamma: float | None = None,
    dead_bias: float = -0.5,
    seed: int = 0,
    centre: str = "auto",
    step_tolerance: float = 0.01,
    bias_tolerance: float = 0.1,
    refuse_bias: bool = False,
    basin_checks: bool = True,
    progress: Progress = None,
) -> LLCRunResult:
    """λ̂ = Nβ(E[L] − L(w*)), Nβ = N/log N, by SGLD chains localised at a catalog point.

    Parameters
    ----------
    catalog : dict
        A TMS catalog document.
    label : str
        The entry's id (e.g. "5+").
    samples : float
        N: sets Nβ = N/log N and, with ``data="empirical"``, the number of drawn samples.
    data : {"population", "empirical"}
        Population potential, or the empirical loss on N drawn samples.
    batch_size : int or None
        Minibatch size for empirical data (None, or ≥ N: full batches).
    chains, steps : int
        Number of chains and SGLD steps per chain.
    burn_in : int, optional
        Default ``steps // 4``.
    epsilon, gamma : float, optional
        SGLD step and localisation; default: calibrated from the Hessian at the centre
        (:func:`critpoints.slt.calibration.calibrate_sgld`).
    dead_bias : float
        Bias of dead features, ≤ 0 (default −0.5).
    seed : int
        Seed of the chains and the data.
    centre : {"auto", "catalog", "empirical"}
        Localise at the catalog point, or at the empirical loss's minimum next to it ("auto":
        the latter for empirical data).
    step_tolerance : float
        Largest predicted step bias (fraction of ½ rank) for the calibrated ε.
    bias_tolerance : float
        With a fixed ``gamma`` or ``epsilon``: warn when the predicted bias exceeds this fraction
        of ½ rank.
    refuse_bias : bool
        Raise :class:`BiasTooLarge` instead of warning, before sampling.
    basin_checks : bool
        Identify 40 checkpoints per chain by quenching (escape detection over time).
    progress : callable, optional
        Called with a one-line message now and then.

    Returns
    -------
    LLCRunResult

    Raises
    ------
    KeyError
        ``label`` is not a catalog id.
    BiasTooLarge
        ``refuse_bias`` and the fixed settings' predicted bias is above ``bias_tolerance``.
    critpoints.slt.sgld.SGLDDiverged
        The chains diverged (the message gives ε a_max).
    """
    from critpoints.slt.calibration import calibrate_sgld
    from critpoints.slt.coefficients import theoretical_learning_coefficient
    from critpoints.slt.llc import default_nbeta
    from critpoints.slt.potentials import TMSEmpirical, TMSPopulation
    from critpoints.slt.sgld import SGLDDiverged, sgld_llc

    n = _check_tms_catalog(catalog)
    entries = {e["id"]: e for e in catalog["critical_points"]}
    if label not in entries:
        raise KeyError(f"unknown label {label!r}; catalog ids: {', '.join(entries)}")
    entry = entries[label]
    burn_in = steps // 4 if burn_in is None else burn_in
    W, b = _llc_start(entry, dead_bias)
    population = TMSPopulation(n, W.shape[0])
    if data == "population":
        potential = population
        batch_size = None
    else:
        from critpoints.tms.data import sample_high_sparsity

        potential = TMSEmpirical(sample_high_sparsity(n, int(samples), seed=seed), W.shape[0])
        if batch_size is not None and batch_size >= potential.size:
            batch_size = None
    nbeta = default_nbeta(samples)
    theta_catalog = potential.flatten(W, b)
    use_empirical_centre = centre == "empirical" or (centre == "auto" and data == "empirical")
    if use_empirical_centre:
        theta_star = empirical_minimum(potential, theta_catalog)
    else:
        theta_star = theta_catalog
    smooth = entry.get("verdict") == "minimum" and not entry.get("on_boundary")
    if data == "population":
        hessian = potential.hessian(theta_star, side=potential.hessian_side(theta_star, 1e-9))
    else:
        hessian = potential.hessian(theta_star)
    values, vectors = np.linalg.eigh(0.5 * (hessian + hessian.T))
    noise = (None if batch_size is None
             else _minibatch_noise(potential, theta_star, vectors, batch_size))
    h_max = float(values.max())
    if epsilon is not None and epsilon * (nbeta * h_max + (gamma or 0.0)) >= 4.0:
        raise BiasTooLarge(f"SGLD would diverge: ε (Nβ h_max + γ) = "
                           f"{epsilon * (nbeta * h_max + (gamma or 0.0)):.3g} ≥ 4, the stability "
                           "limit of the Langevin step")
    basin = None
    if basin_checks:
        if gamma is None:
            _say(progress, f"llc {label}: calibrating γ (harmonic and basin probes)")
        basin = _tms_basin(n, W.shape[0], population.flatten(W, b),
                           catalog["critical_points"], 1.0 / max(h_max, MIN_CURVATURE))
    pilot = None
    if basin is not None and gamma is None:
        pilot_steps = max(2000, steps // 10)
        pilot_rng = np.random.default_rng([seed, 1])  # the main run's stream stays as it was

        def pilot(trial_gamma: float, trial_epsilon: float) -> int:
            _say(progress, f"llc {label}: pilot run at γ = {trial_gamma:.3g}")
            run = sgld_llc(potential, theta_star, samples, chains=chains, steps=pilot_steps,
                           burn_in=pilot_steps // 4, epsilon=trial_epsilon, gamma=trial_gamma,
                           seed=pilot_rng, batch_size=batch_size, basin=basin, checkpoints=20,
                           acceptance_every=None)
            return int(run.escaped.sum())

    calibration = calibrate_sgld(
        potential, theta_star, hessian, nbeta, smooth=smooth,
        flat_coordinates=population.flat_coordinates(theta_star), noise=noise,
        step_tolerance=step_tolerance, gamma=gamma, epsilon=epsilon, basin=basin, pilot=pilot,
    )
    warning = None
    prediction = calibration.prediction
    if (gamma is not None or epsilon is not None) and prediction is not None \
            and abs(prediction.bias) > bias_tolerance * prediction.half_rank:
        warning = (f"the predicted bias of λ̂ at ε = {calibration.epsilon:.3g}, "
                   f"γ = {calibration.gamma:g} is {prediction.bias:+.3f} "
                   f"({abs(prediction.bias) / prediction.half_rank:.0%} of ½ rank "
                   f"{prediction.half_rank:g}), above the tolerance {bias_tolerance:g}")
        if refuse_bias:
            raise BiasTooLarge(warning)
    try:
        estimate = sgld_llc(
            potential, theta_star, samples, chains=chains, steps=steps,
            burn_in=burn_in, epsilon=calibration.epsilon, gamma=calibration.gamma, seed=seed,
            batch_size=batch_size, basin=basin,
            progress=lambda step, total: _say(progress, f"llc {label}: step {step}/{total}"),
        )
    except SGLDDiverged as exc:
        stiffness = calibration.epsilon * (nbeta * h_max + calibration.gamma)
        exc.args = (f"{exc}: ε (Nβ h_max + γ) = {stiffness:.3g} should be ≲ 1",)
        raise
    if warning is not None:
        estimate.warnings.append(warning)
    if prediction is not None and estimate.kept.any():
        share = abs(prediction.bias) / max(abs(estimate.llc_mean - prediction.bias), 1e-300)
        if share > 0.5:
            estimate.warnings.append(
                f"λ̂ − bias rests {share:.0%} on the predicted correction: the localisation that "
                "keeps these chains in the basin leaves the sampled part to measure only the "
                "anharmonic deviation from the Hessian (more data, a wider basin, or a smaller "
                "γ at the risk of escapes)")
    if estimate.kept.sum() < max(2, chains // 2):
        estimate.warnings.append(f"only {int(estimate.kept.sum())} of {chains} chains stayed in "
                                 "the basin: raise γ or check that w* is a minimum")
    shift = float(np.linalg.norm(theta_star - theta_catalog))
    return LLCRunResult(n, label, data, samples, chains, steps, burn_in, batch_size,
                        calibration.epsilon, calibration.gamma, dead_bias, seed, h_max,
                        "empirical minimum" if use_empirical_centre else "catalog", shift,
                        calibration, theoretical_learning_coefficient(entry), estimate)


@dataclass
class LLCSweep:
    """λ̂ over a grid of (N, ε, γ) at one catalog point (``llc --sweep``).

    Attributes
    ----------
    runs : list of LLCRunResult
        One per setting; for each N the calibrated setting first.
    calibrated : list of bool
        Whether the run used the calibrated (ε, γ).
    """

    n: int
    label: str
    data: str
    chains: int
    steps: int
    burn_in: int
    seed: int
    runs: list
    calibrated: list

    def rows(self) -> list[dict]:
        """One plain row per run (the table the command prints)."""
        rows = []
        for run, calibrated in zip(self.runs, self.calibrated):
            estimate = run.estimate
            acceptance = None if estimate.acceptance is None else float(
                np.mean(estimate.acceptance))
            rows.append({
                "samples": run.samples, "epsilon": run.epsilon, "gamma": run.gamma,
                "calibrated": calibrated, "llc_mean": estimate.llc_mean,
                "llc_std": estimate.llc_std, "predicted_bias": run.predicted_bias,
                "llc_corrected": run.corrected, "acceptance": acceptance,
                "rhat": estimate.rhat if np.isfinite(estimate.rhat) else None,
                "stationarity_z": estimate.stationarity_z,
                "chains_escaped": int(estimate.escaped.sum()),
                "chains_dropped": int((~estimate.kept).sum()),
            })
        return rows

    def to_json(self) -> dict:
        """The ``critpoints.llc-sweep`` document."""
        from critpoints.documents import LLC_SWEEP, new_document

        theory = self.runs[0].theory
        return new_document(LLC_SWEEP, {
            "command": "llc --sweep", "n": self.n, "label": self.label, "data": self.data,
            "chains": self.chains, "steps": self.steps, "burn_in": self.burn_in,
            "seed": self.seed, "theory": {"value": theory.value, "reason": theory.reason},
            "rows": self.rows(),
        })


#: Default sweep: multiples of the calibrated γ and ε.
SWEEP_GAMMA_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)
SWEEP_EPSILON_FACTORS = (0.25, 1.0, 4.0)


def run_llc_sweep(
    catalog: dict,
    label: str,
    *,
    samples: Any = (1_000,),
    gammas: Any = None,
    epsilons: Any = None,
    progress: Progress = None,
    **options: Any,
) -> LLCSweep:
    """λ̂ at ``label`` for every N in ``samples`` and every (ε, γ) of the grid.

    Parameters
    ----------
    samples : sequence of float
        Sample sizes N.
    gammas, epsilons : sequence of float, optional
        The grid; default the calibrated value times :data:`SWEEP_GAMMA_FACTORS` and
        :data:`SWEEP_EPSILON_FACTORS` (per N; the calibrated pair runs first).
    **options
        Passed to :func:`run_llc` (``data``, ``chains``, ``steps``, ``burn_in``, ``seed``, …).

    Returns
    -------
    LLCSweep
    """
    runs, calibrated = [], []
    for size in samples:
        base = run_llc(catalog, label, samples=size, progress=progress, **options)
        runs.append(base)
        calibrated.append(True)
        grid_gamma = gammas if gammas is not None else [
            base.gamma * f for f in SWEEP_GAMMA_FACTORS]
        grid_epsilon = epsilons if epsilons is not None else [
            base.epsilon * f for f in SWEEP_EPSILON_FACTORS]
        for gamma in grid_gamma:
            for epsilon in grid_epsilon:
                if gamma == base.gamma and epsilon == base.epsilon:
                    continue
                _say(progress, f"llc sweep {label}: N = {size:g}, ε = {epsilon:.3g}, "
                     f"γ = {gamma:.3g}")
                try:
                    runs.append(run_llc(catalog, label, samples=size, gamma=gamma,
                                        epsilon=epsilon, progress=None, **options))
                except Exception as exc:  # a diverging setting is a row of the answer
                    from critpoints.slt.sgld import SGLDDiverged

                    if not isinstance(exc, SGLDDiverged):
                        raise
                    _say(progress, f"  diverged: {exc}")
                    continue
                calibrated.append(False)
    first = runs[0]
    return LLCSweep(first.n, label, first.data, first.chains, first.steps, first.burn_in,
                    first.seed, runs, calibrated)
