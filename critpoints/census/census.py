"""The census of the TMS landscape: every critical orbit below the all-dead level, with an
estimate of what it has not found.

Strategies feed one deduplicated set of orbits (a critical point up to O(m) × permutations,
with its flat critical set — dead columns anywhere in their flat intervals — counted once):

``pattern``
    the k-gon pattern language (:mod:`critpoints.kgon.enumerate`: regular ansatzes verified, and
    the full-space search from the broken ones); for m > 2 its points embedded in the first two
    coordinates of R^m (a planar critical point stays critical: ∂L/∂W = 2 W ∂L/∂G vanishes on
    zero rows), for m = 1 the collinear ones;
``gaussian``, ``polar``, ``sparse``
    random starts in three parameterisations (:func:`critpoints.census.strategies.random_starts`);
``kick``
    ± each Hessian eigendirection of every orbit found, at two amplitudes (neighbouring
    critical points, from saddles to higher- and lower-index saddles);
``ascent``
    gentlest-ascent dynamics from every orbit without an unstable direction, along each
    eigendirection (saddle searches from the minima);
``descent``
    steepest descent from every orbit with unstable directions, along ± each of them
    (:func:`critpoints.landscape.descent.steepest_descent`).

Every start ends with the Levenberg–Marquardt search on ‖∇L‖²; a start that converges
(gradient ≤ 1e-11) to a point with L ≤ 1/3 is a *hit* of the orbit it lands in. The census runs
in rounds: a batch of random starts, then the moves from every orbit not yet expanded. It stops
when the species-richness estimate of the orbits the random starts have not reached is below 1
and a round's moves found nothing new, or when the budget of random starts is spent.

Completeness estimate. The random starts are a sample from the basins of the search; orbit o is
hit with some unknown probability p_o. With f₁ orbits hit once and f₂ hit twice, Chao1
(Chao 1984, bias-corrected form) estimates the orbits with p_o > 0 not yet seen as
f₁(f₁ − 1) / (2 (f₂ + 1)). It is a lower bound: orbits with vanishing basins (found only by the
pattern language or by the moves) are outside what random sampling can estimate, which is why
those strategies exist; the census reports how many orbits no random start ever hit.

New orbits are refined to ``digits`` digits (:func:`critpoints.solve.newton.polish`); those
whose refinement fails (typically on activation boundaries) stay in the census as *unrefined*
orbits with their float64 point and the reason, and do not enter the catalog. Everything is
pure: the result does not depend on ``workers`` (each start is searched independently and the
results are registered in start order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import mpmath
import numpy as np

from critpoints.census import strategies
from critpoints.kgon.enumerate import (
    SEARCH_ITERATIONS,
    Candidate,
    ClosureBudget,
    Enumeration,
    KnownOrbits,
    build_entries,
    close_under_descent,
    search_pattern_language,
)
from critpoints.solve.newton import find_critical_points, polish_to_digits
from critpoints.tms.model import TMSPotential
from critpoints.tms.symmetry import live_part, same_live_part

__all__ = [
    "ALL_DEAD_LEVEL",
    "RANDOM_STRATEGIES",
    "Census",
    "CensusBudget",
    "Comparison",
    "Orbit",
    "chao1_unseen",
    "compare_catalogs",
    "run_census",
]

#: L at W = 0 with every output dead: (1/n) Σ_i ∫₀¹ μ² dμ = 1/3. The census covers L ≤ 1/3.
ALL_DEAD_LEVEL = 1 / 3

#: Strategies whose starts are random draws (the sample Chao1 is computed from).
RANDOM_STRATEGIES = strategies.PARAMETERISATIONS

#: Every strategy, in the order of the census record.
STRATEGIES = ("pattern", *RANDOM_STRATEGIES, "kick", "ascent", "descent")

#: Gradient norm at which a float64 search counts as converged.
SEARCH_GTOL = 1e-11

#: A column whose pre-activation never exceeds this counts as dead in the orbit key. The
#: float64 search stops at ‖∇L‖ ≤ 1e-11, which it reaches on the edge of a flat critical set
#: with a "dead" column still firing at ~1e-6 (its gradient is O(ε²)): that point is not
#: critical (the 60-digit refinement rightly refuses it) but belongs to the flat set.
DEAD_TOL = 1e-5

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CensusBudget:
    """How much the census may search.

    Attributes
    ----------
    random_starts : int
        Random starts at most (all rounds together).
    round_starts : int
        Random starts per round (divided equally among the parameterisations).
    min_rounds : int
        Rounds before the stopping rule may stop the census.
    moves : bool
        Expand every orbit found by the moves (kicks, gentlest ascent, steepest descent). Without
        them the census is a sample of the random starts' basins only: cheaper, and still an
        independent check of a catalog's low-lying points (``census --no-moves --compare``).
    """

    random_starts: int = 60_000
    round_starts: int = 6_000
    min_rounds: int = 2
    moves: bool = True

    def __post_init__(self) -> None:
        if self.round_starts < len(RANDOM_STRATEGIES):
            raise ValueError(f"round_starts must be at least {len(RANDOM_STRATEGIES)}")
        if self.random_starts < self.round_starts:
            raise ValueError("random_starts must be at least round_starts")


@dataclass
class Orbit:
    """One critical orbit found by the census.

    Attributes
    ----------
    loss : float
        float64 loss of its first point.
    live : tuple
        Its live part (columns that are not flat), the key of the deduplication.
    points : list of ndarray
        Up to four float64 points of the orbit (θ), the first ones found: what refinement and
        the moves start from.
    hits : dict
        Starts that landed in it, per strategy.
    candidate : Candidate or None
        The refined point (``digits`` digits), None while unrefined.
    unrefined_reason : str
    expanded : bool
        Whether the moves from it (kicks, ascent, descent) have been run.
    discovered_at : int
        Random starts spent when it was first hit (the census's clock).
    """

    loss: float
    live: tuple
    points: list = field(default_factory=list)
    hits: dict = field(default_factory=dict)
    candidate: Candidate | None = None
    unrefined_reason: str = ""
    expanded: bool = False
    discovered_at: int = 0

    def first_found_by(self) -> str:
        return next(s for s in STRATEGIES if self.hits.get(s, 0) > 0)


@dataclass
class Census:
    """Result of :func:`run_census`.

    Attributes
    ----------
    enumeration : Enumeration
        The catalog entries (every refined orbit, classified) and the patterns without a
        critical point; ``random_search`` is None (the census record replaces it).
    orbits : list of Orbit
        Every orbit found, in order of discovery.
    record : dict
        The catalog's ``census`` record: budget, rounds, stopping reason, per-strategy counts,
        the random sample's statistics with the Chao1 estimate, hits per catalog id, and the
        unrefined orbits.
    """

    enumeration: Enumeration
    orbits: list[Orbit]
    record: dict


def chao1_unseen(hit_counts) -> float:
    """Bias-corrected Chao1 estimate of the species not yet seen: f₁(f₁ − 1) / (2 (f₂ + 1)),
    with f_k the number of species seen exactly k times (Chao 1984; Colwell's EstimateS form)."""
    counts = np.asarray(list(hit_counts), dtype=int)
    f1 = int((counts == 1).sum())
    f2 = int((counts == 2).sum())
    return f1 * (f1 - 1) / (2 * (f2 + 1))


def critical_set_key(W, b) -> tuple:
    """The live part of (W, b) (:data:`DEAD_TOL`): what :func:`same_critical_set` compares."""
    return live_part(W, b, DEAD_TOL)


def same_critical_set(loss: float, live: tuple, known: list[tuple[float, tuple]]
                      ) -> int | None:
    """The index in ``known`` ((loss, live part) pairs) of the critical set (loss, live) lies
    in, or None: a twin (loss within 1e-9, live parts equal up to O(m) × permutations), else a
    member of the same flat family (loss within 1e-9 and as many live columns, not congruent:
    e.g. the n = 3 points at L = 1/9 with two features at a free angle)."""
    near = [j for j, (other, _) in enumerate(known) if abs(other - loss) < 1e-9]
    twin = next((j for j in near if same_live_part(known[j][1], live)), None)
    if twin is not None:
        return twin
    return next((j for j in near if known[j][1][0].shape[1] == live[0].shape[1]), None)


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


class _Registry:
    """The orbits found so far, and where each start landed."""

    def __init__(self, potential: TMSPotential):
        self.potential = potential
        self.orbits: list[Orbit] = []
        self.losses: list[float] = []
        self.strategy_starts = dict.fromkeys(STRATEGIES, 0)
        self.strategy_converged = dict.fromkeys(STRATEGIES, 0)
        self.random_spent = 0

    def find(self, loss: float, live: tuple) -> int | None:
        # only the orbits at this loss are compared (a vectorised filter first: the moves
        # register ~10⁵ ends against ~10³ orbits at n = 8)
        near = np.flatnonzero(np.abs(np.asarray(self.losses) - loss) < 1e-9)
        j = same_critical_set(loss, live, [(self.losses[i], self.orbits[i].live) for i in near])
        return None if j is None else int(near[j])

    def add_known(self, candidate: Candidate) -> None:
        W, b = candidate.W.astype(float), candidate.b.astype(float)
        loss = float(self.potential.loss(self.potential.flatten(W, b)))
        orbit = Orbit(loss, critical_set_key(W, b), [self.potential.flatten(W, b)],
                      {"pattern": 1}, candidate=candidate)
        self.orbits.append(orbit)
        self.losses.append(loss)

    def register(self, strategy: str, thetas: np.ndarray, converged: np.ndarray) -> int:
        """Record the ends of a strategy's starts; returns how many new orbits they found."""
        new = 0
        losses = self.potential.loss(thetas) if len(thetas) else np.zeros(0)
        for theta, ok, loss in zip(thetas, converged, losses):
            self.strategy_starts[strategy] += 1
            if strategy in RANDOM_STRATEGIES:
                self.random_spent += 1
            if not ok or not loss <= ALL_DEAD_LEVEL + 1e-9:
                continue
            self.strategy_converged[strategy] += 1
            W, b = self.potential.unflatten(theta)
            live = critical_set_key(W, b)
            j = self.find(float(loss), live)
            if j is None:
                self.orbits.append(Orbit(float(loss), live, discovered_at=self.random_spent))
                self.losses.append(float(loss))
                j, new = len(self.orbits) - 1, new + 1
            orbit = self.orbits[j]
            orbit.hits[strategy] = orbit.hits.get(strategy, 0) + 1
            if len(orbit.points) < 4:
                orbit.points.append(np.array(theta))
        return new


class _Searcher:
    """The Levenberg–Marquardt search from every row of a batch
    (:func:`~critpoints.solve.newton.find_critical_points`), its chunks run in one process, a
    process pool or on a Dask cluster opened once for the census. The result does not depend
    on how the rows are split: each start is searched alone."""

    def __init__(self, potential: TMSPotential, workers: int, scheduler: str | None):
        self.potential, self.workers = potential, max(workers, 1)
        self.client = self.executor = None
        if scheduler is not None:
            from distributed import Client

            self.client = Client(scheduler)
            self.executor = _DaskMap(self.client)
            self.workers = max(self.workers, 2)
        elif workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            self.executor = ProcessPoolExecutor(max_workers=workers)

    def __enter__(self) -> _Searcher:
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        elif self.executor is not None:
            self.executor.shutdown()

    def __call__(self, thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(thetas) == 0:
            return thetas, np.zeros(0, dtype=bool)
        search = find_critical_points(self.potential, thetas, gtol=SEARCH_GTOL,
                                      max_iter=SEARCH_ITERATIONS, workers=self.workers,
                                      executor=self.executor)
        return search.theta, search.converged


class _DaskMap:
    """``map(function, jobs)`` on a Dask client, results in order."""

    def __init__(self, client):
        self.client = client

    def map(self, function, jobs):
        return self.client.gather(self.client.map(function, list(jobs), pure=False))


def _moves(registry: _Registry, potential: TMSPotential) -> dict[str, np.ndarray]:
    """Starts of the moves from every orbit not yet expanded (kicks, ascent) and the descent
    starts from its unstable directions; the orbits are marked expanded."""
    kicks, ascent_theta, ascent_dir, descent = [], [], [], []
    for orbit in registry.orbits:
        if orbit.expanded or not orbit.points:
            continue
        orbit.expanded = True
        theta = (potential.flatten(orbit.candidate.W.astype(float),
                                   orbit.candidate.b.astype(float))
                 if orbit.candidate is not None else orbit.points[0])
        directions = strategies.eigendirections(potential, theta)
        kicks.append(strategies.eigendirection_kicks(theta, directions))
        unstable = directions.unstable
        if len(unstable) == 0:
            for v in directions.vectors:
                for sign in (1.0, -1.0):
                    ascent_theta.append(theta)
                    ascent_dir.append(sign * v)
        for v in unstable:
            for sign in (1.0, -1.0):
                descent.append(theta + sign * DESCENT_KICK * v)
    dim = potential.dim
    return {
        "kick": np.concatenate(kicks) if kicks else np.zeros((0, dim)),
        "ascent": (np.array(ascent_theta), np.array(ascent_dir)) if ascent_theta
        else (np.zeros((0, dim)), np.zeros((0, dim))),
        "descent": np.array(descent) if descent else np.zeros((0, dim)),
    }


#: Displacement along an unstable direction before steepest descent from a saddle.
DESCENT_KICK = 1e-2


def run_census(
    n: int,
    m: int = 2,
    *,
    budget: CensusBudget = CensusBudget(),
    digits: int = 60,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
    descent_closure: bool = False,
    closure_budget: ClosureBudget = ClosureBudget(),
) -> Census:
    """The census of the critical orbits of the TMS potential with L ≤ 1/3 (module doc).

    Parameters
    ----------
    n : int
        Features (n ≥ 1).
    m : int
        Hidden dimension (m ≥ 1; for m ≠ 2 the planar pattern language is embedded, see the
        module doc, and every other point is stored in the echelon gauge of
        :mod:`critpoints.tms.polytope`).
    budget : CensusBudget
    digits : int
        Precision of the refinement and verification of catalog entries.
    seed : int
        Seed of the random starts and of the classification.
    workers : int
        Processes for the searches and the classification; the result does not depend on it.
    scheduler : str, optional
        Address of a Dask distributed scheduler that runs the searches instead.
    progress : callable, optional
        ``progress(stage, done, total)``.
    descent_closure : bool
        Close the catalogued points under descent from their saddles afterwards
        (:func:`critpoints.kgon.enumerate.close_under_descent`; the moves already descend
        along the unstable Hessian directions of every orbit, the closure also along the
        stored descents of non-smooth saddles and from the points it adds). Its record is the
        enumeration's ``descent_closure``; the points it adds have no census hits.
    closure_budget : ClosureBudget
        Rounds and descents the closure may spend.

    Returns
    -------
    Census
    """
    if m < 1:
        raise ValueError(f"m must be at least 1; got {m}")
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}")
    tick = progress or _no_progress
    potential = TMSPotential(n, m)
    registry = _Registry(potential)

    known, unrealised = search_pattern_language(n, digits, tick, workers)
    for candidate in embedded_patterns(known.candidates, m):
        registry.add_known(candidate)

    with _Searcher(potential, workers, scheduler) as search:
        rounds, stop_reason, history = _rounds(registry, potential, budget, seed, search, tick)
    per_parameterisation = budget.round_starts // len(RANDOM_STRATEGIES)
    _refine(registry, potential, digits, tick, workers)
    _merge_refined(registry)
    candidates = [o.candidate for o in registry.orbits if o.candidate is not None]
    closure = None
    if descent_closure:
        closure = close_under_descent(KnownOrbits.of(candidates), n, digits, seed, tick=tick,
                                      workers=workers, budget=closure_budget)
        entries = closure.entries
    else:
        entries = build_entries(candidates, n, digits, seed, tick, workers)
    if m != 2:
        unrealised = []  # the planar patterns' search record belongs to the m = 2 catalog
    enumeration = Enumeration(entries, unrealised,
                              descent_closure=None if closure is None else closure.record)
    record = _record(registry, entries, budget, seed, rounds, stop_reason, history,
                     per_parameterisation * len(RANDOM_STRATEGIES) * rounds)
    return Census(enumeration, registry.orbits, record)


def embedded_patterns(candidates: list[Candidate], m: int) -> list[Candidate]:
    """The pattern language's points (m = 2) as points in R^m: zero rows added for m > 2 (at
    full precision); for m = 1 the collinear ones (second row exactly zero: the 0-, 1- and
    2-gons) with their first row."""
    if m == 2:
        return list(candidates)
    if m < 2:
        return [replace(c, W=c.W[:1].copy()) for c in candidates
                if all(v == 0 for v in c.W[1])]
    out = []
    for candidate in candidates:
        zeros = np.array([[mpmath.mpf(0)] * candidate.W.shape[1] for _ in range(m - 2)],
                         dtype=object)
        out.append(replace(candidate, W=np.vstack([candidate.W, zeros])))
    return out


def _rounds(registry: _Registry, potential: TMSPotential, budget: CensusBudget, seed: int,
            search: _Searcher, tick: Progress) -> tuple[int, str, list[dict]]:
    """The census's rounds (module doc): ``(rounds, stop reason, history)``."""
    from critpoints.landscape.descent import steepest_descent

    n, m = potential.n, potential.m
    per_parameterisation = budget.round_starts // len(RANDOM_STRATEGIES)
    rounds, history = 0, []
    while True:
        rounds += 1
        new_random = 0
        for index, name in enumerate(RANDOM_STRATEGIES):
            rng = np.random.default_rng([seed, n, rounds, index])
            starts = strategies.random_starts(n, m, per_parameterisation, name, rng)
            new_random += registry.register(name, *search(starts))
            tick(f"round {rounds}: random starts", index + 1, len(RANDOM_STRATEGIES))
        new_moves = 0
        while budget.moves:  # expand until the moves find nothing new
            moves = _moves(registry, potential)
            found = registry.register("kick", *search(moves["kick"]))
            theta, direction = moves["ascent"]
            if len(theta):
                climbed = strategies.gentlest_ascent(potential, theta, direction)
                found += registry.register("ascent", *search(climbed))
            if len(moves["descent"]):
                descended = steepest_descent(potential, moves["descent"], finish=False,
                                             workers=search.workers, executor=search.executor)
                found += registry.register("descent", *search(descended.theta))
            new_moves += found
            tick(f"round {rounds}: moves", len(registry.orbits), len(registry.orbits))
            if found == 0:
                break
        sampled = [sum(o.hits.get(s, 0) for s in RANDOM_STRATEGIES) for o in registry.orbits]
        unseen = chao1_unseen(c for c in sampled if c > 0)
        history.append({"round": rounds, "orbits": len(registry.orbits),
                        "new_from_random_starts": new_random, "new_from_moves": new_moves,
                        "unseen_estimate": round(unseen, 3)})
        if rounds >= budget.min_rounds and unseen < 1 and new_moves == 0:
            return rounds, ("the Chao1 estimate of orbits the random starts have not reached "
                            "is below 1" + (" and the last round's moves found no new orbit"
                                            if budget.moves else " (no moves)")), history
        if (rounds + 1) * per_parameterisation * len(RANDOM_STRATEGIES) > budget.random_starts:
            return rounds, (f"budget of {budget.random_starts} random starts spent; the Chao1 "
                            f"estimate of unseen orbits is {unseen:.2f}"), history


def _refined_orbit(job: tuple):
    """The first successful ``digits``-digit refinement among an orbit's points:
    ``(parameters or None, gradient norm of the last attempt)``."""
    potential, points, digits = job
    result = None
    for theta in points:
        result = polish_to_digits(potential, theta, digits)
        if result.success:
            return result.parameters, result.grad_norm
    return None, result.grad_norm


def _refine(registry: _Registry, potential: TMSPotential, digits: int, tick: Progress,
            workers: int = 1) -> None:
    """Refine every new orbit to ``digits`` digits from its first points, in turn. Each orbit's
    refinement depends on its points alone, so ``workers`` > 1 processes share them with the
    same result (one orbit costs ~0.3 s at n = 8: 80-digit Newton steps)."""
    new = [o for o in registry.orbits if o.candidate is None]
    jobs = [(potential, o.points, digits) for o in new]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = []
            for done, result in enumerate(pool.map(_refined_orbit, jobs, chunksize=4), 1):
                results.append(result)
                tick("refine new orbits", done, len(jobs))
    else:
        results = []
        for done, job in enumerate(jobs, 1):
            tick("refine new orbits", done, len(jobs))
            results.append(_refined_orbit(job))
    for orbit, (parameters, grad_norm) in zip(new, results):
        if parameters is not None:
            W, b = parameters
            origin = ("random-search" if orbit.first_found_by() in RANDOM_STRATEGIES
                      else "landscape-search")
            orbit.candidate = Candidate(None, W, b, False, -1, None, origin)
        else:
            orbit.unrefined_reason = (f"the {digits}-digit refinement stalled from each of "
                                      f"{len(orbit.points)} points (gradient "
                                      f"{mpmath.nstr(grad_norm, 3)})")


def _merge_refined(registry: _Registry) -> None:
    """Identify the orbits again from their refined points, and merge each into the first
    orbit whose critical set it lies in: Newton drives an output that a float64 end left barely
    switched on (activation ~1e-8) to exactly 0, onto the edge of a flat set found before."""
    kept: list[Orbit] = []
    keys: list[tuple[float, tuple]] = []
    for orbit in registry.orbits:
        # the pattern language's points are kept as they are: one entry per pattern, even
        # where two patterns share a flat set (`2` and `4--{0,2}`), as enumerate keeps them
        if orbit.candidate is None or orbit.candidate.origin == "pattern":
            kept.append(orbit)
            keys.append((orbit.loss, orbit.live))
            continue
        W = orbit.candidate.W.astype(float)
        b = orbit.candidate.b.astype(float)
        loss = float(registry.potential.loss(registry.potential.flatten(W, b)))
        live = critical_set_key(W, b)
        j = same_critical_set(loss, live, keys)
        if j is None or kept[j].candidate is None:
            kept.append(orbit)
            keys.append((loss, live))
            continue
        first = kept[j]
        for strategy, count in orbit.hits.items():
            first.hits[strategy] = first.hits.get(strategy, 0) + count
        first.discovered_at = min(first.discovered_at, orbit.discovered_at)
    registry.orbits = kept
    registry.losses = [orbit.loss for orbit in kept]


def _record(registry: _Registry, entries, budget: CensusBudget, seed: int, rounds: int,
            stop_reason: str, history: list, random_starts: int) -> dict:
    """The catalog's ``census`` record (see the module doc)."""
    potential = registry.potential
    orbits = registry.orbits
    ids = _entry_ids(registry, entries)
    per_strategy = {}
    for s in STRATEGIES:
        hit = [o for o in orbits if o.hits.get(s, 0) > 0]
        per_strategy[s] = {
            "starts": registry.strategy_starts[s] if s != "pattern" else None,
            "converged": registry.strategy_converged[s] if s != "pattern" else None,
            "orbits_hit": len(hit),
            "orbits_first_found": sum(1 for o in hit if o.first_found_by() == s),
        }
    sampled = [sum(o.hits.get(s, 0) for s in RANDOM_STRATEGIES) for o in orbits]
    seen = [c for c in sampled if c > 0]
    late = sum(1 for o in orbits if o.discovered_at > 0.8 * random_starts)
    unseen = chao1_unseen(seen)
    return {
        "seed": seed,
        "budget": {"random_starts": budget.random_starts, "round_starts": budget.round_starts,
                   "min_rounds": budget.min_rounds,
                   **({} if budget.moves else {"moves": False})},
        "rounds": rounds,
        "stop_reason": stop_reason,
        "history": history,
        "orbits": len(orbits),
        "orbits_catalogued": sum(1 for o in orbits if o.candidate is not None),
        "strategies": per_strategy,
        "random_sample": {
            "starts": random_starts,
            "orbits_hit": len(seen),
            "singletons": sum(1 for c in seen if c == 1),
            "doubletons": sum(1 for c in seen if c == 2),
            "unseen_estimate": round(unseen, 3),
            "new_in_last_20_percent": late,
            "orbits_never_hit": len(orbits) - len(seen),
        },
        "hits": {ident: {s: o.hits[s] for s in STRATEGIES if s in o.hits}
                 for ident, o in zip(ids, orbits) if ident is not None},
        "unrefined": [{"loss": round(o.loss, 12),
                       "W": np.round(potential.unflatten(o.points[0])[0], 8).tolist(),
                       "b": np.round(potential.unflatten(o.points[0])[1], 8).tolist(),
                       "hits": {s: o.hits[s] for s in STRATEGIES if s in o.hits},
                       "reason": o.unrefined_reason}
                      for o in orbits if o.candidate is None],
    }


def _entry_ids(registry: _Registry, entries) -> list[str | None]:
    """The catalog id of each orbit (None for unrefined ones), matched by loss and live part."""
    keyed = [(e.loss, critical_set_key(np.array(e.W), np.array(e.b)), e.id) for e in entries]
    ids = []
    for orbit in registry.orbits:
        if orbit.candidate is None:
            ids.append(None)
            continue
        W, b = orbit.candidate.W.astype(float), orbit.candidate.b.astype(float)
        live = critical_set_key(W, b)
        loss = float(registry.potential.loss(registry.potential.flatten(W, b)))
        j = same_critical_set(loss, live, [(other, other_live) for other, other_live, _ in keyed])
        ids.append(None if j is None else keyed[j][2])
    return ids


@dataclass
class Comparison:
    """What two orbit sets disagree on (:func:`compare_catalogs`).

    Attributes
    ----------
    only_in_first, only_in_second : list of dict
        Entries (id, loss, classification, verdict) of each catalog without an entry of the
        same critical set (:func:`same_critical_set`) in the other.
    common : int
        Entries of the first catalog with a twin in the second.
    """

    only_in_first: list[dict]
    only_in_second: list[dict]
    common: int


def compare_catalogs(first, second, level: float = ALL_DEAD_LEVEL) -> Comparison:
    """The orbits with L ≤ ``level`` that one catalog holds and the other lacks.

    Parameters
    ----------
    first, second : Catalog or dict
        Two TMS catalogs for the same n (e.g. the committed one and an independent census).
    level : float
        Only entries with L ≤ level + 1e-9 are compared.
    """
    from critpoints.catalog import Catalog

    def keyed(catalog):
        catalog = Catalog.of(catalog)
        rows = []
        for ident, point in catalog.items():
            if point["loss"] <= level + 1e-9:
                W, b = catalog.parameters(ident)
                rows.append((point, critical_set_key(W, b)))
        return rows

    def summary(point):
        return {key: point.get(key) for key in ("id", "loss", "classification", "verdict")}

    def lacking(rows, others):
        known = [(other["loss"], other_live) for other, other_live in others]
        return [summary(point) for point, live in rows
                if same_critical_set(point["loss"], live, known) is None]

    a, b = keyed(first), keyed(second)
    only_first = lacking(a, b)
    return Comparison(only_first, lacking(b, a), len(a) - len(only_first))
