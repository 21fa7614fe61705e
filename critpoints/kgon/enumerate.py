"""Enumerate, verify and classify the k-gon critical points of the TMS potential (m = 2).

For every pattern of :mod:`critpoints.kgon.patterns`:

1. the reduced problem (:mod:`critpoints.kgon.reduced`) gives every regular (l, b_v);
2. the full parameters are built in the canonical gauge (vertex 0 on the positive x axis;
   columns: polygon vertices in counter-clockwise order, then the σ positive-bias zero columns at
   b = 1/(2n), then the dead features). Representatives of flat biases: a dead vertex gets
   b = -2l² (its flat interval is b ≤ -l²), a dead feature b = -1/(2n) (flat interval b ≤ 0);
3. the full gradient is evaluated at ``digits`` digits; if it vanishes (≤ 10^(20-digits)) the
   point is a verified critical point;
4. otherwise (a dead vertex breaks the polygon's symmetry) a Levenberg–Marquardt search on the
   full gradient starts from the ansatz and, if it converges, the point is polished to
   ``digits`` digits and kept with its real (irregular) geometry; if it does not, the pattern is
   recorded as having no critical point near its ansatz;
5. points are deduplicated up to O(2) × permutations (flat biases normalised) and classified
   (:func:`critpoints.solve.classify.classify`).

Everything here is pure computation: :func:`enumerate_critical_points` returns an
:class:`Enumeration` (records whose ``to_json()`` is the catalog's entry) and writes nothing. It
runs three stages, each a function returning a record: :func:`screen_patterns` (regular ansatzes,
verified or broken), :func:`search_from_starts` (Levenberg–Marquardt from broken ansatzes and
random starts, against the orbits known so far) and :func:`build_entries` (canonical gauge,
ids, classification, certificates).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from functools import cache

import mpmath
import numpy as np

from critpoints.kgon.patterns import Pattern, enumerate_patterns, label_of, pattern_count
from critpoints.kgon.reduced import solve_regular_polygon
from critpoints.proofs import annotate
from critpoints.solve.classify import classify
from critpoints.solve.newton import find_critical_points, polish_to_digits, verification_bound
from critpoints.tms import potential
from critpoints.tms.model import TMSPotential
from critpoints.tms.polytope import column_geometry, echelon_rotation, pivot_columns, point_group
from critpoints.tms.symmetry import (
    ZERO_COLUMN,
    canonical_form,
    dead_outputs,
    live_part,
    normalise_flat_biases,
    polar_geometry,
    same_live_part,
)

__all__ = [
    "Candidate",
    "ClosureBudget",
    "DescentClosure",
    "EntryCache",
    "EnumeratedPoint",
    "Enumeration",
    "KnownOrbits",
    "Screening",
    "StartsSearch",
    "build_entries",
    "build_parameters",
    "close_under_descent",
    "describe",
    "entry_names",
    "enumerate_critical_points",
    "screen_patterns",
    "search_from_starts",
    "search_pattern_language",
]

#: Progress callback: ``progress(stage, done, total)``.
Progress = Callable[[str, int, int], None]

#: Levenberg–Marquardt iterations per start of the full-space searches. Most starts that reach a
#: critical point do so in ≲ 25 iterations, but at n = 12 cutting to 40 loses 4 of 219 points,
#: so completeness wins over speed here (this search dominates the time for n ≥ 12).
SEARCH_ITERATIONS = 150


@dataclass
class Candidate:
    """A point to be catalogued: its pattern (None for a random start), (W, b) at full
    precision, and where it came from."""

    pattern: Pattern
    W: np.ndarray  # mpmath numbers
    b: np.ndarray
    regular: bool
    solution_index: int  # which root of the reduced problem (0-based), or -1
    reduced: dict | None
    origin: str = "pattern"  # pattern | pattern-search | random-search
    #: ‖∇L‖ in float64 at (W, b), once computed (the screen sets it for every ansatz).
    float_gradient: float | None = None


def build_parameters(pattern: Pattern, norm, vertex_bias, dps: int):
    """Full (W, b) of a pattern at ``dps`` digits, in the canonical gauge (see module doc)."""
    n, k = pattern.n, pattern.k
    columns, dead_bias = _polygon(k, norm, dps)
    with mpmath.workdps(dps):
        W = np.array([[mpmath.mpf(0)] * n for _ in range(2)], dtype=object)
        b = np.array([mpmath.mpf(0)] * n, dtype=object)
        for i in range(k):
            W[0, i], W[1, i] = columns[i]
            b[i] = dead_bias if i in pattern.dead_vertices else mpmath.mpf(vertex_bias)
        for j in range(k, k + pattern.sigma):
            b[j] = mpmath.mpf(1) / (2 * n)
        for j in range(k + pattern.sigma, n):
            b[j] = -mpmath.mpf(1) / (2 * n)
        return W, b


@cache
def _polygon(k: int, norm, dps: int) -> tuple[tuple, object]:
    """The vertices (x, y) of the regular k-gon of the given norm at ``dps`` digits (exact
    zeros where the angle is a multiple of π/2), and a dead vertex's bias -2·norm². Shared by
    every pattern with this polygon: its σ, φ and placements only change the biases."""
    with mpmath.workdps(dps):
        norm = mpmath.mpf(norm)
        columns = []
        for i in range(k):
            angle = 2 * mpmath.pi * i / k
            column = [norm * mpmath.cos(angle), norm * mpmath.sin(angle)]
            for r in range(2):
                if abs(column[r]) < mpmath.mpf(10) ** (-dps + 5):
                    column[r] = mpmath.mpf(0)
            columns.append(tuple(column))
        return tuple(columns), -2 * norm**2


def _candidates(pattern: Pattern, dps: int) -> list[Candidate]:
    """Regular ansatz points of a pattern (one per reduced solution)."""
    n, k = pattern.n, pattern.k
    if k == 0 or pattern.live_vertices == 0:
        # No live vertex: the polygon's norm is a flat direction; l = 1 represents it.
        W, b = build_parameters(pattern, 1, 0, dps)
        return [Candidate(pattern, W, b, True, -1, None)]
    out = []
    for index, solution in enumerate(solve_regular_polygon(n, k, dps + 20)):
        with mpmath.workdps(dps + 20):
            norm, vertex_bias = solution.norm, solution.vertex_bias
        W, b = build_parameters(pattern, norm, vertex_bias, dps)
        reduced = {
            "x": mpmath.nstr(solution.x, dps),
            "s": mpmath.nstr(solution.s, dps),
            "norm": mpmath.nstr(norm, dps),
            "vertex_bias": mpmath.nstr(vertex_bias, dps),
        }
        out.append(Candidate(pattern, W, b, True, index, reduced))
    return out


def describe(W, b, zero: float = 1e-8) -> tuple[int, int, int]:
    """(k, σ, φ) of any point: nonzero columns, positive-bias zero columns, dead nonzero ones."""
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    norms = np.linalg.norm(W, axis=0)
    nonzero = norms > zero
    dead_output = dead_outputs(W, b, tol=1e-12)
    return int(nonzero.sum()), int(((~nonzero) & (b > 0)).sum()), int((nonzero & dead_output).sum())


def _decimal(x, digits):
    text = mpmath.nstr(x, digits, min_fixed=-5, max_fixed=5, strip_zeros=False)
    return text.replace("+", "")


def _entry(candidate: Candidate, ident: str, label: str, kgon: tuple, n: int, dps: int,
           seed: int, volume_check_max_dimension: int | None = None) -> EnumeratedPoint:
    # Everything the entry states is computed from the representative it stores (the
    # dps-digit decimal strings), not from the working value with guard digits: a float copy
    # of the working value can differ in the last bit from the stored string's (n = 11
    # `6+++++----~1`, a bias of -9.1e-40), and certify re-derives from the strings.
    W_text = [[_decimal(v, dps) for v in row] for row in candidate.W]
    b_text = [_decimal(v, dps) for v in candidate.b]
    with mpmath.workdps(dps):
        W = np.array([[mpmath.mpf(v) for v in row] for row in W_text], dtype=object)
        b = np.array([mpmath.mpf(v) for v in b_text], dtype=object)
        loss = potential.loss(W, b, dps=dps)
        grad_norm = potential.gradient_norm(W, b, dps)
    tms = TMSPotential.of(W)
    result = classify(tms, tms.flatten(W, b), dps=dps, seed=seed,
                      volume_check_max_dimension=volume_check_max_dimension)
    k, sigma, phi = kgon
    entry = {
        "id": ident,
        "label": label,
        "k": k,
        "sigma": sigma,
        "phi": phi,
        "dead_vertices": list(candidate.pattern.dead_vertices) if candidate.regular else None,
        "regular": candidate.regular,
        "origin": candidate.origin,
        "W": np.asarray(W, dtype=float).tolist(),
        "b": np.asarray(b, dtype=float).tolist(),
        "W_exact": W_text,
        "b_exact": b_text,
        "loss": float(loss),
        "loss_exact": _decimal(loss, dps),
        "grad_norm": float(grad_norm),
        "precision_digits": dps,
        "geometry": polar_geometry(W, b, dps) if W.shape[0] == 2 else column_geometry(W, b, dps),
        "reduced": candidate.reduced,
        "hessian": {
            "eigenvalues": result.eigenvalues,
            "n_pos": result.n_pos,
            "n_neg": result.n_neg,
            "n_zero": result.n_zero,
            "n_zero_symmetry": result.n_zero_symmetry,
            "zero_tolerance": result.zero_tolerance,
        },
        "hessian_index": result.hessian_index,
        "classification": result.classification,
        "verdict": result.verdict,
        "evidence": result.evidence,
        "learning_coefficient": result.learning_coefficient,
        "on_boundary": result.on_boundary,
        "certificate": None,
        "exact": None,
    }
    entry["certificate"], entry["exact"] = annotate(entry, n, dps)
    if W.shape[0] != 2:  # the m = 2 catalogs describe their polygons by `geometry` alone
        Wf, bf = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
        entry["symmetry"] = point_group(Wf, normalise_flat_biases(Wf, bf)).to_json()
    return EnumeratedPoint(**entry)


@dataclass
class EnumeratedPoint:
    """One verified, classified critical point: a catalog entry (SPEC §3; the fields are those
    of the catalog format, docs/catalog.md). :meth:`to_json` gives the entry in file order."""

    id: str
    label: str
    k: int
    sigma: int
    phi: int
    dead_vertices: list | None
    regular: bool
    origin: str
    W: list
    b: list
    W_exact: list
    b_exact: list
    loss: float
    loss_exact: str
    grad_norm: float
    precision_digits: int
    geometry: dict
    reduced: dict | None
    hessian: dict
    hessian_index: int | None
    classification: str
    verdict: str
    evidence: dict
    learning_coefficient: float | None
    on_boundary: bool
    certificate: dict | None
    exact: dict | None
    #: m ≠ 2: the point group of the nonzero columns and a readable shape
    #: (:func:`critpoints.tms.polytope.point_group`); absent (None) for m = 2.
    symmetry: dict | None = None

    def to_json(self) -> dict:
        """The catalog entry as a plain dict, keys in the catalog's order (``symmetry`` only
        where there is one)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["symmetry"] is None:
            del out["symmetry"]
        return out


@dataclass
class Screening:
    """Stage 1: the regular ansatzes of every pattern, split by whether they are critical
    (gradient ≤ 10^(20 − digits) at ``digits`` digits) or not."""

    verified: list[Candidate]
    broken: list[Candidate]


@dataclass
class KnownOrbits:
    """Critical points found so far, with what the search compares new points against: their
    live part (the columns that are not flat) and float64 loss."""

    candidates: list[Candidate] = field(default_factory=list)
    live_parts: list[tuple] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, candidates: list[Candidate]) -> KnownOrbits:
        return cls(list(candidates), [live_part(c.W, c.b) for c in candidates],
                   [float(potential.loss(c.W.astype(float), c.b.astype(float)))
                    for c in candidates])

    def with_point(self, candidate: Candidate, live_part: tuple, loss: float) -> KnownOrbits:
        return KnownOrbits([*self.candidates, candidate], [*self.live_parts, live_part],
                           [*self.losses, loss])

    def twin(self, loss: float, live_part: tuple) -> int | None:
        """A known point with this loss and the same live columns up to symmetry: the search
        landed in its flat critical set (dead columns moved or shrunk)."""
        return next((j for j in range(len(self.candidates))
                     if abs(self.losses[j] - loss) < 1e-9
                     and same_live_part(self.live_parts[j], live_part)), None)

    def family_member(self, loss: float, live_part: tuple) -> int | None:
        """A known point with this loss and as many live columns, not congruent: a member of
        a flat family (e.g. two unit vectors more than 90° apart, which the 2-gon belongs to)."""
        return next((j for j in range(len(self.candidates))
                     if abs(self.losses[j] - loss) < 1e-9
                     and self.live_parts[j][0].shape[1] == live_part[0].shape[1]), None)


@dataclass
class StartsSearch:
    """Stage 2: what a full-space search from a batch of starts found.

    Attributes
    ----------
    known : KnownOrbits
        The known orbits extended by the new points (``origin`` pattern-search or
        random-search).
    unrealised : list of dict
        For starts from a broken ansatz that gave no new point: the pattern and the reason.
    counts : dict
        ``starts``, ``converged``, ``in_catalogued_sets``, ``refinement_failed``,
        ``new_points`` (the catalog's ``random_search`` record for random starts).
    """

    known: KnownOrbits
    unrealised: list[dict]
    counts: dict


@dataclass
class Enumeration:
    """Result of :func:`enumerate_critical_points`.

    Attributes
    ----------
    entries : list of EnumeratedPoint
        Verified critical points, regular ones first, then the irregular ones by exact loss.
    unrealised : list of dict
        Patterns whose ansatz is not critical and from which the full-space search found no new
        critical point (``id``, ``label``, ``reason``).
    random_search : dict or None
        Counts of the random-start search with its seed (None without random starts).
    pattern_language : PatternLanguageBudget or None
        Which patterns were searched and how many were left out.
    descent_closure : dict or None
        What the descent closure did (:func:`close_under_descent`; None when not run).
    """

    entries: list[EnumeratedPoint]
    unrealised: list[dict]
    random_search: dict | None = None
    pattern_language: PatternLanguageBudget | None = None
    descent_closure: dict | None = None


@dataclass(frozen=True)
class PatternLanguageBudget:
    """How much of the k^{σ,φ}-gon language an enumeration searched: every pattern, or those
    with at most ``max_dead_vertices`` dead vertices (exact counts by Burnside's lemma)."""

    max_dead_vertices: int | None
    patterns_searched: int
    patterns_not_searched: int

    @classmethod
    def of(cls, n: int, max_dead_vertices: int | None) -> PatternLanguageBudget:
        searched = pattern_count(n, max_dead_vertices)
        return cls(max_dead_vertices, searched, pattern_count(n) - searched)

    def to_json(self) -> dict:
        return {"max_dead_vertices": self.max_dead_vertices,
                "patterns_searched": self.patterns_searched,
                "patterns_not_searched": self.patterns_not_searched}


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def screen_patterns(patterns: list[Pattern], digits: int, tick: Progress = _no_progress
                    ) -> Screening:
    """Stage 1: the regular ansatz of every pattern, critical or not.

    A float64 screen comes first (all ansatzes in one batch; the same numbers as one at a
    time): an ansatz far from critical needs no ``digits``-digit check.
    """
    tolerance = verification_bound(digits)
    candidates: list[Candidate] = []
    for done, pattern in enumerate(patterns, 1):
        candidates.extend(_candidates(pattern, digits))
        tick("patterns", done, len(patterns))
    verified: list[Candidate] = []
    broken: list[Candidate] = []
    if not candidates:
        return Screening(verified, broken)
    norms = _float_gradient_norms(np.array([c.W.astype(float) for c in candidates]),
                                  np.array([c.b.astype(float) for c in candidates]))
    for candidate, norm in zip(candidates, norms.tolist()):
        candidate.float_gradient = norm
        if norm > 1e-8:
            broken.append(candidate)
        elif potential.gradient_norm(candidate.W, candidate.b, digits) <= tolerance:
            verified.append(candidate)
        else:
            broken.append(candidate)
    return Screening(verified, broken)


def _float_gradient_norms(W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """‖∇L‖ in float64 of a batch of points (W (B, 2, n), b (B, n))."""
    _, dW, db = potential.loss_and_gradient(W, b)
    return np.sqrt((dW**2).sum(axis=(-2, -1)) + (db**2).sum(axis=-1))


def search_from_starts(
    starts_W: np.ndarray,
    starts_b: np.ndarray,
    origins: list[Candidate | None],
    known: KnownOrbits,
    digits: int,
    stage: str,
    tick: Progress = _no_progress,
    workers: int = 1,
) -> StartsSearch:
    """Stage 2: Levenberg–Marquardt from each start; keep the new critical orbits (polished to
    ``digits`` digits), explain the rest.

    ``origins[i]`` is the broken ansatz a start comes from, or None for a random start (whose
    failures are only counted). Each new point is compared with ``known`` and with the points
    found before it in this batch. With ``workers`` > 1 the starts are shared among that many
    processes (the same result to the bit: :func:`critpoints.solve.find_critical_points`).
    """
    tms = TMSPotential.of(starts_W)
    search = find_critical_points(
        tms, tms.flatten(starts_W, starts_b), gtol=1e-11, max_iter=SEARCH_ITERATIONS,
        workers=workers,
        progress=lambda done, total: tick(f"{stage}: Levenberg–Marquardt chunks", done, total))
    found_W, found_b = search.parameters
    polished = _polished_ahead(
        tms, found_W, found_b, search.converged, known, digits, workers,
        progress=lambda done, total: tick(f"{stage}: {digits}-digit polish of new points", done,
                                          total))
    counts = {"starts": len(origins), "converged": 0, "in_catalogued_sets": 0,
              "refinement_failed": 0, "new_points": 0}
    unrealised: list[dict] = []
    for i, origin in enumerate(origins):
        tick(stage, i + 1, len(origins))
        if not search.converged[i]:
            if origin is not None:
                unrealised.append(_unrealised(origin.pattern, (
                    f"regular ansatz not critical (gradient {_float_grad(origin):.2g}); "
                    "Levenberg–Marquardt on the gradient from it did not converge "
                    f"in {SEARCH_ITERATIONS} iterations"
                )))
            continue
        counts["converged"] += 1
        outcome, reason, point = _examine_converged(tms, found_W[i], found_b[i], origin, known,
                                                    digits, polished.get(i))
        counts[outcome] += 1
        if reason is not None:
            unrealised.append(_unrealised(origin.pattern, reason))
        if point is not None:
            known = known.with_point(*point)
    return StartsSearch(known, unrealised, counts)


def _polished_ahead(tms: TMSPotential, found_W, found_b, converged, known: KnownOrbits,
                    digits: int, workers: int, progress=None) -> dict:
    """With ``workers`` > 1: the polish (:func:`_polish_start`) of every converged start that
    the examination will polish if every polish succeeds, run in that many processes; by start
    index. The examination then runs as always, taking a polish from here when there is one
    and polishing itself otherwise (a failed polish adds no point, so a later start may need
    one that was not foreseen): the same results as without, in the same order."""
    if workers <= 1:
        return {}
    ahead = []
    for i in np.flatnonzero(converged):
        loss = float(potential.loss(found_W[i], found_b[i]))
        live = live_part(found_W[i], found_b[i])
        if known.twin(loss, live) is None and known.family_member(loss, live) is None:
            ahead.append(int(i))
            known = known.with_point(None, live, loss)
    if len(ahead) < 2:
        return {}
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(tms, found_W[i], found_b[i], digits) for i in ahead]
    polished = {}
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        for i, result in zip(ahead, pool.map(_polish_job, jobs)):
            polished[i] = result
            if progress is not None:
                progress(len(polished), len(jobs))
    return polished


def _polish_job(job):
    return _polish_start(*job)


def _polish_start(tms: TMSPotential, W, b, digits: int):
    """The ``digits``-digit refinement of a converged float64 start (every stored digit
    converged where possible: :func:`critpoints.solve.newton.polish_to_digits`)."""
    return polish_to_digits(tms, tms.flatten(W, b), digits)


def _examine_converged(tms: TMSPotential, W, b, origin: Candidate | None, known: KnownOrbits,
                       digits: int, polished=None):
    """A converged start: ``(count key, reason or None, (candidate, live part, loss) or None)``.

    The reason is given only for starts from a broken ansatz that found no new point.
    ``polished``: this start's :func:`_polish_start`, if already computed.
    """
    pattern = origin.pattern if origin is not None else None
    loss = float(potential.loss(W, b))
    live = live_part(W, b)
    known_set = _in_known_set(known, loss, live, pattern)
    if known_set is not None:
        return known_set
    if polished is None:
        polished = _polish_start(tms, W, b, digits)
    if not polished.success:
        reason = ("regular ansatz not critical; the full-space search converged in float64 "
                  f"(loss {loss:.6f}) but the {digits}-digit refinement stalled "
                  "(the point lies on an activation boundary)")
        return "refinement_failed", reason if pattern is not None else None, None
    W_exact, b_exact = polished.parameters
    # identify again from the refined point: Newton drives an output that the float64 end left
    # barely switched on (activation ~1e-8) to exactly 0, onto the edge of a known flat set
    loss = float(potential.loss(W_exact.astype(float), b_exact.astype(float)))
    live = live_part(W_exact, b_exact)
    known_set = _in_known_set(known, loss, live, pattern, refined_to=digits)
    if known_set is not None:
        return known_set
    candidate = Candidate(pattern, W_exact, b_exact, False, -1, None,
                          "pattern-search" if pattern is not None else "random-search")
    return "new_points", None, (candidate, live, loss)


def _in_known_set(known: KnownOrbits, loss: float, live: tuple, pattern,
                  refined_to: int | None = None):
    """``("in_catalogued_sets", reason, None)`` if (loss, live part) lies in the critical set
    of a known point (:meth:`KnownOrbits.twin`, :meth:`KnownOrbits.family_member`), else None.
    The reason is given only for a start from a broken ansatz (``pattern`` not None)."""
    twin = known.twin(loss, live)
    family = twin if twin is not None else known.family_member(loss, live)
    if family is None:
        return None
    if pattern is None:
        return "in_catalogued_sets", None, None
    found = known.candidates[family]
    name = _ident(found) if found.pattern is not None else "a point found by search"
    where = (f"the critical set of {name}" if twin is not None
             else f"a point with the loss and live-column count of {name} (a member of its flat "
             "family)")
    search = ("the full-space search from it" if refined_to is None
              else f"the full-space search from it, refined to {refined_to} digits,")
    return "in_catalogued_sets", f"regular ansatz not critical; {search} reached {where}", None


def random_starts_of(n: int, count: int, seed: int, m: int = 2
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random starts: W ~ N(0, s²) (m × n) with s = 0.3, 0.6, 1.0 in turn,
    b ~ N(0, 0.3²)."""
    rng = np.random.default_rng([seed, n])
    scales = np.array([0.3, 0.6, 1.0])[np.arange(count) % 3]
    starts_W = rng.normal(size=(count, m, n)) * scales[:, None, None]
    starts_b = rng.normal(size=(count, n)) * 0.3
    return starts_W, starts_b


@dataclass
class EntryCache:
    """What :func:`build_entries` computed, kept for its next call on a larger set of points
    (the descent closure calls it once per round): the canonical representative of each
    candidate, and the entry of each representative. An entry depends only on its
    representative and the seed — its id aside, which is assigned again on every call."""

    canonical: dict = field(default_factory=dict)  # id(candidate) -> (candidate, canonical)
    entries: dict = field(default_factory=dict)  # representative key -> EnumeratedPoint

    def canonicalised(self, candidate: Candidate, dps: int) -> Candidate:
        kept = self.canonical.get(id(candidate))
        if kept is None or kept[0] is not candidate:
            kept = (candidate, inside_flat_sets(_canonicalised(candidate, dps), dps))
            self.canonical[id(candidate)] = kept
        return kept[1]


def _representative_key(candidate: Candidate, label: str, dps: int) -> tuple:
    return (label, candidate.regular, candidate.solution_index, candidate.origin,
            tuple(_decimal(v, dps) for v in candidate.W.ravel()),
            tuple(_decimal(v, dps) for v in candidate.b))


def build_entries(points: list[Candidate], n: int, digits: int, seed: int,
                  tick: Progress = _no_progress, workers: int = 1,
                  cache: EntryCache | None = None,
                  volume_check_max_dimension: int | None = None) -> list[EnumeratedPoint]:
    """Stage 3: the catalog entries of the points found, classified and annotated.

    Irregular points are numbered within their label in order of their exact loss (then of
    their canonical coordinates), so ids depend neither on which start found them first nor on
    the last bits of a float64 search. With ``workers`` > 1 the entries are classified in that
    many processes; each entry depends only on its point and the seed, so the result is the
    same for any number of workers. With a ``cache`` the points it has seen are not
    canonicalised and classified again (the result is the same). ``volume_check_max_dimension``
    is passed to :func:`critpoints.solve.classify.classify`.
    """
    cache = cache if cache is not None else EntryCache()
    regular = [c for c in points if c.regular]
    irregular = sorted((cache.canonicalised(c, digits) for c in points if not c.regular),
                       key=lambda c: _exact_order(c, digits))
    ordered = regular + irregular
    jobs = [(candidate, ident, label, kgon, n, digits, seed, volume_check_max_dimension)
            for candidate, (ident, label, kgon) in zip(ordered, entry_names(ordered))]
    keys = [_representative_key(job[0], job[2], digits) for job in jobs]
    todo = [i for i, key in enumerate(keys) if key not in cache.entries]
    if workers > 1 and len(todo) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for done, (i, entry) in enumerate(
                    zip(todo, pool.map(_entry_of, [jobs[i] for i in todo])), 1):
                cache.entries[keys[i]] = entry
                tick("classify", done, len(todo))
    else:
        for done, i in enumerate(todo, 1):
            cache.entries[keys[i]] = _entry_of(jobs[i])
            tick("classify", done, len(todo))
    entries = [replace(cache.entries[key], id=job[1]) for key, job in zip(keys, jobs)]
    return _disambiguated(entries)


def entry_names(candidates: list[Candidate]) -> list[tuple[str, str, tuple]]:
    """``(id, label, (k, σ, φ))`` of each candidate, in order: a regular point is named by its
    pattern (and root), an irregular one ``label~j``, the j-th of its label in the order
    given."""
    names = []
    irregular_count: dict[str, int] = {}
    for candidate in candidates:
        if candidate.regular:
            ident, label = _ident(candidate), candidate.pattern.label
            kgon = (candidate.pattern.k, candidate.pattern.sigma, candidate.pattern.phi)
        else:
            kgon = describe(candidate.W, candidate.b)
            label = label_of(*kgon)
            irregular_count[label] = irregular_count.get(label, 0) + 1
            ident = f"{label}~{irregular_count[label]}"
        names.append((ident, label, kgon))
    return names


def _entry_of(job: tuple) -> EnumeratedPoint:
    return _entry(*job)


def search_pattern_language(n: int, digits: int, tick: Progress = _no_progress,
                            workers: int = 1, max_dead_vertices: int | None = None
                            ) -> tuple[KnownOrbits, list[dict]]:
    """Stages 1 and 2 for the patterns (those with at most ``max_dead_vertices`` dead vertices
    when given): every regular ansatz screened, and the full-space search from the broken
    ones; returns the critical points found (``known``) and the patterns without one, with
    the reason (``unrealised``)."""
    screening = screen_patterns(enumerate_patterns(n, max_dead_vertices), digits, tick)
    known = KnownOrbits.of(screening.verified)
    if not screening.broken:
        return known, []
    broken = screening.broken
    search = search_from_starts(
        np.array([c.W.astype(float) for c in broken]),
        np.array([c.b.astype(float) for c in broken]),
        broken, known, digits, "search from broken ansatzes", tick, workers)
    return search.known, search.unrealised


def enumerate_critical_points(
    n: int,
    digits: int = 60,
    progress: Progress | None = None,
    seed: int = 0,
    random_starts: int = 0,
    workers: int = 1,
    m: int = 2,
    max_dead_vertices: int | None = None,
    descent_closure: bool | None = None,
    volume_check_max_dimension: int | None = None,
) -> Enumeration:
    """All k-gon critical points for n features, hidden dimension m (default 2).

    For m = 1 the collinear k-gon points (k ≤ 2) are kept; for m = 3 the k-gon points are
    embedded in the first two coordinates of R^m
    (:func:`critpoints.census.census.embedded_patterns`: a planar critical point stays
    critical), and for m = 3 the polytope pattern language (:mod:`critpoints.kgon.polytopes`)
    adds the rigid polytopes (reduced problem, verified in full space) and the full-space
    search from the polytope families; the random starts are in R^m. The patterns' search
    record (``unrealised``) is then empty: it belongs to the m = 2 catalog.

    Parameters
    ----------
    n : int
        Number of features, n ≥ 1.
    digits : int
        Working precision (decimal digits) of the verification; gradients of catalogued points
        are at most 10^(20 - digits).
    progress : callable, optional
        Called as ``progress(stage, done, total)``.
    seed : int
        Seed of the random directions of the sphere tests (classification of non-smooth and
        degenerate points) and of the random starts.
    random_starts : int
        Also search from this many random points (:func:`random_starts_of`): finds critical
        points outside the pattern language (e.g. two features sharing a vertex). New orbits
        are added with ``origin: "random-search"``.
    workers : int
        Processes that run the searches and classify the entries (the result does not depend
        on it).
    m : int
        Hidden dimension, 1, 2 or 3.
    max_dead_vertices : int, optional
        Search only the patterns with φ ≤ this many dead vertices (the language grows like
        Σ_k (n − k + 1)·2^k/(2k), 2.9·10⁸ patterns at n = 32); ``Enumeration.pattern_language``
        counts what was and was not searched.
    descent_closure : bool, optional
        Close the points under descent from their saddles (:func:`close_under_descent`);
        default: for m ≥ 3 (the m = 2 catalogs come from the census, whose moves descend from
        the saddles, or predate the step).
    volume_check_max_dimension : int, optional
        Confirm λ of non-smooth and degenerate minima by the volume-scaling check only at
        points of at most this many parameters (:func:`critpoints.solve.classify.classify`);
        default: at every dimension.

    Returns
    -------
    Enumeration
        ``entries`` (catalog records, ``to_json()`` each), ``unrealised`` patterns with the
        reason, and the ``random_search`` counts (None without random starts).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}")
    if digits < 30:
        raise ValueError(f"digits must be at least 30; got {digits}")
    if m not in (1, 2, 3):
        raise ValueError(f"m must be 1, 2 or 3 (the census takes any m); got {m}")
    tick = progress or _no_progress
    known, unrealised = search_pattern_language(n, digits, tick, workers, max_dead_vertices)
    language = PatternLanguageBudget.of(n, max_dead_vertices)
    if m != 2:
        known, unrealised = _polytope_language(n, m, known, digits, tick, workers), []
    random_search = None
    if random_starts:
        starts_W, starts_b = random_starts_of(n, random_starts, seed, m)
        search = search_from_starts(starts_W, starts_b, [None] * random_starts, known, digits,
                                    "random-start search", tick, workers)
        known, random_search = search.known, {"seed": seed, **search.counts}
    if descent_closure is None:
        descent_closure = m >= 3
    if descent_closure:
        closure = close_under_descent(known, n, digits, seed, tick=tick, workers=workers,
                                      volume_check_max_dimension=volume_check_max_dimension)
        return Enumeration(closure.entries, unrealised, random_search,
                           pattern_language=language, descent_closure=closure.record)
    entries = build_entries(known.candidates, n, digits, seed, tick, workers,
                            volume_check_max_dimension=volume_check_max_dimension)
    return Enumeration(entries, unrealised, random_search, pattern_language=language)


@dataclass(frozen=True)
class ClosureBudget:
    """How far :func:`close_under_descent` may go.

    Attributes
    ----------
    rounds : int
        Rounds at most (each descends from the saddles not yet descended from).
    descents : int
        Descents at most, all rounds together.
    """

    rounds: int = 6
    descents: int = 20_000


@dataclass
class DescentClosure:
    """Result of :func:`close_under_descent`.

    Attributes
    ----------
    known : KnownOrbits
        The points, with those the descents found (``origin`` ``landscape-search``).
    entries : list of EnumeratedPoint
        The catalog entries of every point (as :func:`build_entries` gives them).
    record : dict
        The catalog's ``descent_closure`` record: ``closed`` (no saddle left undescended and
        the last round found no new point), ``stop_reason``, the totals ``saddles_descended``,
        ``descents``, ``converged``, ``in_catalogued_sets``, ``refinement_failed``,
        ``new_points``, the ids of the new entries (``new_ids``) and one record per round.
    """

    known: KnownOrbits
    entries: list[EnumeratedPoint]
    record: dict


def close_under_descent(known: KnownOrbits, n: int, digits: int, seed: int, *,
                        budget: ClosureBudget = ClosureBudget(), tick: Progress = _no_progress,
                        workers: int = 1,
                        volume_check_max_dimension: int | None = None) -> DescentClosure:
    """Close a set of critical points under descent from its saddles.

    Each round classifies the points (:func:`build_entries`, the points of earlier rounds from
    a cache), descends from every saddle not yet descended from along ± each of its descent
    directions (:func:`critpoints.landscape.closure.descend_saddles`: negative-curvature
    eigenvectors, and the stored descent of a non-smooth saddle), and hands the ends to the
    search of :func:`search_from_starts` — identified up to O(m) × S_n and flat columns
    against the known points, a new one refined to ``digits`` digits — so that every new
    point is verified and classified as the others. It stops when a round finds no new point
    (the set is then closed: no saddle of it descends to a point it lacks, as far as the
    descents reach) or when the budget is spent.

    Parameters
    ----------
    known : KnownOrbits
        The points found so far (TMS, any m).
    n : int
    digits : int
        Precision of the refinement and verification.
    seed : int
        Seed of the classification and of the bases of degenerate unstable eigenspaces.
    budget : ClosureBudget
    tick : callable, optional
        ``progress(stage, done, total)``.
    workers : int
        Processes for the searches and the classification (the result does not depend on it).
    volume_check_max_dimension : int, optional
        Passed to :func:`build_entries`.

    Returns
    -------
    DescentClosure
    """
    from critpoints.landscape.closure import descend_saddles

    cache = EntryCache()
    descended: set[tuple] = set()
    totals = dict.fromkeys(("saddles_descended", "descents", "converged", "in_catalogued_sets",
                            "refinement_failed", "new_points"), 0)
    rounds: list[dict] = []
    added: list[Candidate] = []
    stop_reason, closed = "", False
    while True:
        entries = build_entries(known.candidates, n, digits, seed, tick, workers, cache,
                                volume_check_max_dimension)
        saddles = []
        for entry in entries:
            key = (tuple(v for row in entry.W_exact for v in row), tuple(entry.b_exact))
            if entry.verdict == "saddle" and key not in descended:
                descended.add(key)
                saddles.append(entry)
        if not saddles:
            stop_reason = "every saddle descended from; the last round found no new point"
            closed = True
            break
        if len(rounds) == budget.rounds or totals["descents"] >= budget.descents:
            stop_reason = (f"budget spent ({budget.rounds} rounds, {budget.descents} descents) "
                           f"with {len(saddles)} saddles not descended from")
            break
        W0 = np.asarray(saddles[0].W)
        tms = TMSPotential(n, W0.shape[0])
        tick(f"descent closure, round {len(rounds) + 1}: descents", 0, 1)
        ends = descend_saddles(
            tms, [(e.id, tms.flatten(np.asarray(e.W), np.asarray(e.b)), e.to_json())
                  for e in saddles],
            seed=seed, max_descents=budget.descents - totals["descents"], workers=workers)
        tick(f"descent closure, round {len(rounds) + 1}: descents", 1, 1)
        count = len(ends.starts)
        before = len(known.candidates)
        counts = dict.fromkeys(("converged", "in_catalogued_sets", "refinement_failed",
                                "new_points"), 0)
        if count:  # saddles whose every side is flat to the start rule give no descent
            ends_W, ends_b = tms.unflatten(ends.theta)
            search = search_from_starts(np.reshape(ends_W, (count, tms.m, n)),
                                        np.reshape(ends_b, (count, n)), [None] * count, known,
                                        digits, f"descent closure, round {len(rounds) + 1}: "
                                        "ends", tick, workers)
            known, counts = search.known, search.counts
        for candidate in known.candidates[before:]:
            candidate.origin = "landscape-search"
            added.append(candidate)
        record = {"round": len(rounds) + 1, "saddles": len(saddles),
                  "saddles_descended": len(ends.saddles), "descents": count,
                  "descents_skipped": ends.skipped,
                  **{k: counts[k] for k in ("converged", "in_catalogued_sets",
                                            "refinement_failed", "new_points")}}
        rounds.append(record)
        for k in totals:
            totals[k] += record[k]
        if ends.skipped:
            entries = build_entries(known.candidates, n, digits, seed, tick, workers, cache,
                                    volume_check_max_dimension)
            stop_reason = (f"budget of {budget.descents} descents spent; {ends.skipped} "
                           "descents not followed")
            break
        if not record["new_points"]:
            entries = build_entries(known.candidates, n, digits, seed, tick, workers, cache,
                                    volume_check_max_dimension)
            stop_reason, closed = "a round found no new point", True
            break
    new_keys = set()
    for candidate in added:
        canonical = cache.canonicalised(candidate, digits)
        new_keys.add((tuple(_decimal(v, digits) for v in canonical.W.ravel()),
                      tuple(_decimal(v, digits) for v in canonical.b)))
    new_ids = [e.id for e in entries
               if (tuple(v for row in e.W_exact for v in row), tuple(e.b_exact)) in new_keys]
    record = {"closed": closed, "stop_reason": stop_reason, "budget": {
        "rounds": budget.rounds, "descents": budget.descents}, **totals,
        "new_ids": new_ids, "rounds": rounds}
    return DescentClosure(known, entries, record)


def _echelon(W, dps: int) -> np.ndarray:
    """W (mpmath numbers, columns in canonical order) rotated at ``dps`` digits into echelon form
    (:func:`critpoints.tms.polytope.echelon_rotation`), with the entries the gauge makes zero —
    W[r, p_j] for r > j at the pivot columns p_j, and the rows beyond the span of the columns —
    set to exact zeros (they are rounding residues of the rotation, ~10^-dps)."""
    m, n = W.shape
    with mpmath.workdps(dps + 10):
        R = echelon_rotation(W, dps + 10)
        V = np.array([[mpmath.fsum(R[r, s] * W[s, i] for s in range(m)) for i in range(n)]
                      for r in range(m)], dtype=object)
        pivots = pivot_columns(W.astype(float))
        for j, p in enumerate(pivots):
            for r in range(j + 1, m):
                V[r, p] = mpmath.mpf(0)
        for r in range(len(pivots), m):
            V[r, :] = mpmath.mpf(0)
        for r in range(m):
            for i in range(n):
                if abs(V[r, i]) < mpmath.mpf(10) ** (5 - dps):
                    V[r, i] = mpmath.mpf(0)
    return V


def _polytope_language(n: int, m: int, planar: KnownOrbits, digits: int, tick: Progress,
                       workers: int) -> KnownOrbits:
    """The k-gon points embedded in R^m, the rigid polytopes verified at ``digits`` digits and
    the points the full-space search finds from the polytope families
    (:mod:`critpoints.kgon.polytopes`), deduplicated."""
    from critpoints.census.census import embedded_patterns
    from critpoints.kgon import polytopes

    known = KnownOrbits.of(embedded_patterns(planar.candidates, m))
    if m != 3:
        return known
    tolerance = verification_bound(digits)
    tms = TMSPotential(n, m)
    ansatzes = polytopes.rigid_ansatzes(n)
    broken_W, broken_b = [], []
    for done, ansatz in enumerate(ansatzes, 1):
        tick("polytope ansatzes", done, len(ansatzes))
        W, b = ansatz.parameters()
        result = _polish_start(tms, W, b, digits)
        if not result.success or result.grad_norm > tolerance:
            broken_W.append(W)
            broken_b.append(b)
            continue
        W_exact, b_exact = result.parameters
        loss = float(potential.loss(W, b))
        live = live_part(W, b)
        if known.twin(loss, live) is None and known.family_member(loss, live) is None:
            candidate = Candidate(None, W_exact, b_exact, False, -1, None, "pattern")
            known = known.with_point(candidate, live, loss)
    family_W, family_b = polytopes.family_starts(n)
    starts_W = np.concatenate([np.array(broken_W).reshape(-1, m, n), family_W])
    starts_b = np.concatenate([np.array(broken_b).reshape(-1, n), family_b])
    if len(starts_W):
        before = len(known.candidates)
        search = search_from_starts(starts_W, starts_b, [None] * len(starts_W), known, digits,
                                    "search from polytope families", tick, workers)
        known = search.known
        for candidate in known.candidates[before:]:
            candidate.origin = "pattern-search"  # from a polytope ansatz, not a random start
    return known


def _exact_order(candidate: Candidate, dps: int) -> tuple:
    """Sort key of a point from its exact representative: loss to 30 digits, then the canonical
    coordinates to 9 decimals (distinct orbits with equal loss)."""
    with mpmath.workdps(dps):
        loss = potential.loss(candidate.W, candidate.b, dps=dps)
        key = mpmath.nstr(loss, 30, min_fixed=-100, max_fixed=100)
    coordinates = tuple(round(float(v), 9) + 0.0 for v in [*candidate.W.ravel(), *candidate.b])
    return (mpmath.mpf(key), coordinates)


def _unrealised(pattern: Pattern, reason: str) -> dict:
    return {"id": pattern.id, "label": pattern.label, "reason": reason}


def _ident(candidate: Candidate) -> str:
    suffix = f"#{candidate.solution_index + 1}" if candidate.solution_index > 0 else ""
    return candidate.pattern.id + suffix


def _disambiguated(entries: list[EnumeratedPoint]) -> list[EnumeratedPoint]:
    """The first of several reduced solutions of one pattern gets an explicit #1."""
    ids = {e.id for e in entries}
    return [replace(e, id=e.id + "#1") if f"{e.id}#2" in ids else e for e in entries]


def _float_grad(candidate: Candidate) -> float:
    if candidate.float_gradient is not None:
        return candidate.float_gradient
    W, b = candidate.W.astype(float), candidate.b.astype(float)
    return float(_float_gradient_norms(W[None], b[None])[0])


#: Pre-activations within this of 0 count as on an activation boundary when flat columns are
#: placed (a 60-digit point that lies on a kink is on it to ~10⁻⁶⁰).
FLAT_TOL = 1e-9

#: Pre-activations a flat column is kept strictly below when it is placed.
FLAT_MARGIN = 1e-6


@dataclass(frozen=True)
class DeadColumnFreedom:
    """How the weights of a nonzero column j with a dead output enter the loss.

    Output j is off everywhere, so W_j matters only through the outputs i ≠ j that see input j
    (intensity μ ∈ [0, 1], pre-activation μ W_j·W_i + b_i):

    ``seen``
        outputs with b_i > tol or W_j·W_i + b_i > tol: on for some μ, with a value that depends
        on W_j·W_i; then W_j is not flat (the loss depends on it only through W_j·W_i, but
        ∂L/∂W_i carries W_j whole);
    ``kinks``
        outputs with b_i = 0 = W_i·W_j (within tol): at 0 for every μ; W_j stays orthogonal to
        them (a component along W_i would switch output i on);
    every other column i is off (b_i ≤ tol, W_j·W_i + b_i ≤ tol), and stays off under small
    moves where W_j·W_i + b_i < 0. With no seen output, W_j is flat up to the kinks.
    """

    column: int
    seen: tuple[int, ...]
    kinks: tuple[int, ...]
    off: tuple[int, ...]


def dead_column_freedoms(W, b, tol: float = FLAT_TOL) -> list[DeadColumnFreedom]:
    """:class:`DeadColumnFreedom` of every nonzero column with a dead output (within ``tol``)."""
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    n = W.shape[1]
    G = W.T @ W
    zero = np.linalg.norm(W, axis=0) <= ZERO_COLUMN
    out: list[DeadColumnFreedom] = []
    for j in np.flatnonzero(dead_outputs(W, b, tol) & ~zero):
        seen, kinks, off = [], [], []
        for i in range(n):
            if i == j:
                continue
            # (a zero column i with b_i > 0 sees input j too: its output is b_i whatever W_j
            # is, but ∂L/∂W_i = Σ_k c_k W_k carries W_j)
            if b[i] > tol or G[j, i] + b[i] > tol:
                seen.append(i)
            elif abs(b[i]) <= tol and abs(G[j, i]) <= tol:
                kinks.append(i)
            else:
                off.append(i)
        out.append(DeadColumnFreedom(int(j), tuple(seen), tuple(kinks), tuple(off)))
    return out


def movable_dead_columns(W, b, tol: float = FLAT_TOL) -> np.ndarray:
    """Mask of the nonzero dead-output columns j that no output sees (:class:`DeadColumnFreedom`
    with ``seen`` empty): their whole direction, up to the kinks, is flat; the canonical gauge
    does not anchor on them."""
    mask = np.zeros(np.asarray(W).shape[1], dtype=bool)
    for freedom in dead_column_freedoms(W, b, tol):
        mask[freedom.column] = not freedom.seen
    return mask


def _orthonormal(vectors: list) -> list:
    """Gram–Schmidt (twice, at the working precision) of ``vectors``, dropping those within
    1e-9 of the span of the ones before."""
    basis = []
    for v in vectors:
        u = list(v)
        for _ in range(2):
            for q in basis:
                c = mpmath.fsum(x * y for x, y in zip(u, q))
                u = [x - c * y for x, y in zip(u, q)]
        norm = mpmath.sqrt(mpmath.fsum(x * x for x in u))
        if norm > mpmath.mpf("1e-9"):
            basis.append([x / norm for x in u])
    return basis


def _round_significant(values: list, scale) -> list:
    """``values`` rounded to multiples of 10^(⌊log10 scale⌋ − 3): 4 significant digits of
    ``scale`` (exact decimals)."""
    exponent = math.floor(math.log10(float(scale))) - 3
    unit = mpmath.mpf(10) ** exponent
    return [mpmath.mpf(round(float(v / unit))) * unit for v in values]


def _placed_column(W, j: int, freedom: DeadColumnFreedom, m: int):
    """Column j (that no output sees) at its canonical place in its flat set (mpmath numbers):
    its components along the kinks' columns exactly 0, and the rest — coordinates in the
    complement of their span, completed from the coordinate axes in order — rounded to 4
    significant digits of its length."""
    kink_basis = _orthonormal([[W[r, i] for r in range(m)] for i in freedom.kinks])
    axes = [[mpmath.mpf(int(r == a)) for r in range(m)] for a in range(m)]
    flat_basis = _orthonormal([*kink_basis, *axes])[len(kink_basis):]
    w = [W[r, j] for r in range(m)]
    flat = [mpmath.fsum(x * y for x, y in zip(w, q)) for q in flat_basis]
    size = mpmath.sqrt(mpmath.fsum(c * c for c in flat))
    if flat_basis and size > mpmath.mpf("1e-9"):
        flat = _round_significant(flat, size)
    return [mpmath.fsum(c * q[r] for c, q in zip(flat, flat_basis)) for r in range(m)]


def inside_flat_sets(candidate: Candidate, dps: int) -> Candidate:
    """The candidate with its flat coordinates at canonical places strictly inside its flat
    set, so that the stored representative depends on neither the float64 search's last bits
    (which differ between machines with their BLAS kernels) nor a kink.

    1. Each nonzero column with a dead output that no other output sees
       (:func:`dead_column_freedoms`) is placed by :func:`_placed_column`: exactly orthogonal
       to the columns whose outputs sit on a kink at b_i = 0, the rest rounded to 4
       significant digits. The placement is kept where every output that was off stays
       strictly off (pre-activation < −1e-6). If that fails, the column is first halved — the
       segment t W_j, t ∈ (0, 1],
       stays in the flat set (convexity: t a_i + (1 − t) b_i < 0 for b_i < 0) and leaves the
       kinks a_i = 0 of its end (the `8-~1` representative of the n = 8, m = 3 census).
    2. Every dead output's bias (b_j ≤ top_j = −max(0, max_i W_i·W_j), its flat interval) is
       set to top_j − max(|top_j|, 1/(2n)) — −2l² for a dead vertex whose own column sets the
       top, −1/(2n) for a dead feature, the pattern language's representatives — where output
       j is strictly dead (at the top itself it sits on an activation boundary, where the
       Hessian takes the boundary convention and no Krawczyk box lies in one region).

    Only the one-hot potential's flat sets are these (not for finite sparsity); the loss and
    the columns with live outputs do not change. Idempotent. A result with a moved column is
    checked: if the full gradient at ``dps`` digits grew (beyond 10× or 10^−dps), the candidate
    is returned as it was — a placement must not leave the critical set.
    """
    placed = _placed_in_flat_sets(candidate, dps)
    if placed is candidate or placed.W is candidate.W:
        # (a dead output's bias anywhere below its top is critical by construction: only a
        # moved column needs the check, a gradient at dps digits)
        return placed
    with mpmath.workdps(dps):
        before = potential.gradient_norm(candidate.W, candidate.b, dps)
        after = potential.gradient_norm(placed.W, placed.b, dps)
    if after > max(10 * before, mpmath.mpf(10) ** (-dps)):
        return candidate
    return placed


def _placed_in_flat_sets(candidate: Candidate, dps: int) -> Candidate:
    """:func:`inside_flat_sets` without the check."""
    W, b = candidate.W, candidate.b
    m, n = W.shape
    Wf, bf = W.astype(float), b.astype(float)
    with mpmath.workdps(dps + 10):
        W_new = np.array(W, dtype=object)
        b_new = np.array(b, dtype=object)

        def strictly_off(column, freedom):
            return all(mpmath.fsum(column[r] * W_new[r, i] for r in range(m)) + b_new[i]
                       < -mpmath.mpf(FLAT_MARGIN) for i in freedom.off)

        for freedom in dead_column_freedoms(Wf, bf):
            if freedom.seen:
                # not flat: ∂L/∂W_i of a seen output carries W_j whole (the loss depends only
                # on W_j·W_i, the gradient does not), so moving any component leaves the set
                continue
            j = freedom.column
            placed = _placed_column(W_new, j, freedom, m)
            if not strictly_off(placed, freedom):
                halved = W_new.copy()
                halved[:, j] = [v / 2 for v in W_new[:, j]]
                placed = _placed_column(halved, j, freedom, m)
            moved = max(abs(x - y) for x, y in zip(placed, W_new[:, j]))
            if moved <= mpmath.mpf(10) ** (-dps - 2):  # already in place (idempotence)
                continue
            if any(v != 0 for v in placed) and strictly_off(placed, freedom):
                W_new[:, j] = placed
        # the outputs dead at the point found (a moved column's own output is dead there,
        # and its top moved with it)
        for j in np.flatnonzero(dead_outputs(Wf, bf, FLAT_TOL)):
            preactivations = [mpmath.fsum(W_new[r, i] * W_new[r, j] for r in range(m))
                              for i in range(n)]
            top = -max(mpmath.mpf(0), max(preactivations))
            b_new[j] = top - max(abs(top), mpmath.mpf(1) / (2 * n))
        b_new = np.array([+v for v in b_new], dtype=object)  # at dps digits
        W_new = np.array([[+v for v in row] for row in W_new], dtype=object)
    same_W = all(x == y for x, y in zip(W_new.ravel(), W.ravel()))
    same_b = all(x == y for x, y in zip(b_new, b))
    if same_W and same_b:
        return candidate
    return replace(candidate, W=W if same_W else W_new, b=b if same_b else b_new)


def _without_movable_columns(W, b) -> np.ndarray:
    """W (float) with its movable dead columns (:func:`movable_dead_columns`) set to zero."""
    W = np.array(W, dtype=float)
    W[:, movable_dead_columns(W, b)] = 0.0
    return W


def _canonicalised(candidate: Candidate, dps: int) -> Candidate:
    """The candidate rotated/permuted into the canonical gauge, at full precision.

    For m = 2 the gauge is fixed by the columns that are not movable dead columns (those are
    ordered as zero columns, after the others): a movable column's direction is anywhere in its
    flat set, to the float64 search's last bits, and must not rotate the rest."""
    Wf = candidate.W.astype(float)
    bf = candidate.b.astype(float)
    if Wf.shape[0] == 2:
        Wf = _without_movable_columns(Wf, bf)
    _, _, order = canonical_form(Wf, bf)
    W = candidate.W[:, order]
    b = candidate.b[order]
    if W.shape[0] != 2:
        V = _echelon(W, dps)
        if potential.gradient_norm(V, b, dps) > mpmath.mpf(10) ** (-dps):
            # the zeros the gauge sets moved the point off the critical point by more than the
            # stored digits (a column's out-of-span residue above rounding): refine again from
            # the gauge-fixed point and fix the gauge of the result
            tms = TMSPotential.of(V)
            result = polish_to_digits(tms, tms.flatten(V, b), dps)
            if result.success:
                V, b = result.parameters
                V = _echelon(V, dps)
        return replace(candidate, W=V, b=b, regular=False, solution_index=-1, reduced=None)
    # 10 guard digits: the point is rounded once, when stored, not here as well
    with mpmath.workdps(dps + 10):
        first = next((i for i in range(W.shape[1]) if abs(W[0, i]) + abs(W[1, i]) > 0), None)
        if first is not None:
            angle = mpmath.atan2(W[1, first], W[0, first])
            c, s = mpmath.cos(angle), mpmath.sin(angle)
            rotated = np.empty_like(W)
            rotated[0] = [c * W[0, i] + s * W[1, i] for i in range(W.shape[1])]
            rotated[1] = [-s * W[0, i] + c * W[1, i] for i in range(W.shape[1])]
            # the gauge's zero exactly, and every entry below the stored digits (the rotation
            # leaves residues of either sign where the critical point has zeros)
            rotated[1, first] = mpmath.mpf(0)
            tiny = mpmath.mpf(10) ** (-dps)
            W = np.array([[mpmath.mpf(0) if abs(v) <= tiny else v for v in row]
                          for row in rotated], dtype=object)
            # reflect so that the canonical form's orientation (counter-clockwise) holds
            fixed = _without_movable_columns(W.astype(float), b.astype(float))
            Wc, _, _ = canonical_form(fixed, b.astype(float))
            if np.abs(Wc - fixed).max() > 1e-9:
                W = W * np.array([[1], [-1]], dtype=object)
    return Candidate(candidate.pattern, W, b, False, -1, None, candidate.origin)
