"""Which critical point is the lowest minimum at each sparsity: the phase line along S.

Issue 16 point 5 for n = 6, m = 2: "which k-gon is optimal at which sparsity", with the
boundaries computed, not sampled. The input is a ``critpoints.sparsity-branches`` document
(:mod:`critpoints.kgon.branches`): every followed branch θ(S) with its loss and Hessian index
at its continuation points. The line is built in three steps.

1. **Winner at every stored sparsity.** At each S where some branch has a continuation point,
   every branch that is alive there gets its loss by monotone cubic (PCHIP) interpolation in
   p = log₁₀(1 − S) through its continuation points, and its index when its two neighbouring
   points agree (otherwise it is solved there, if its loss is within :data:`BAND` of the
   lowest). The lowest index-0 candidate is the provisional winner. The interpolation only
   *orders* the branches; no number below is taken from it. (Linear interpolation between
   continuation points is off by 4 % of the loss at the median and by 17 % at the 90th
   percentile when every other point of the n = 6 branches is left out; PCHIP by 0.4 % and
   3.7 %. The chord once put 5⁺ 5 % too high at S = 0.887, and a higher branch became the
   provisional winner over a stretch where 5⁺ was lower.)
2. **Boundaries.** Where the provisional winner changes between two consecutive sparsities
   (A on the sparse side, B on the dense side), both branches are re-solved (Newton from the
   interpolated point at the exact S; :func:`solve_branch`) and the change is located: by
   Brent's method on L_A − L_B when both are minima on the whole bracket (``equal-loss``, a
   first-order change of the global minimum), otherwise by bisection on "A is a minimum below
   B" (``stability``: A stops being a minimum or B becomes one there — the index change of
   the continuation, now refined). Each boundary is then checked by solving *every* branch
   alive at it: a third minimum lower there is reported (``lower_elsewhere``) rather than
   hidden. Each located boundary is then bracketed by two float sparsities at which its
   branches are refined to 60 digits (:func:`certify_boundary`): the loss difference (or the
   unstable branch's smallest eigenvalue) changes sign between them. Where a change cannot
   be located (the re-solved branches show A winning across B's run, or B across A's: the
   provisional order was wrong), every stored point of both runs is decided again by solving
   each candidate within :data:`BAND` of the lowest; where a third branch is lower at a
   boundary, the points next to it are decided by solving every branch; and the runs are
   rebuilt.
3. **Completeness evidence.** The line is the lowest of the followed branches, so it is the
   global minimum only where the list is complete. The record says which catalog entries
   were not followed, where a followed *saddle* lies below every followed minimum (then a
   lower minimum exists that no followed branch reaches: the saddle's descent goes below the
   line), and, at chosen sparsities, what random multi-start minimisation of the full
   (W, b) finds (a start ending lower than the line is a violation, stored with its θ).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np
from scipy.interpolate import PchipInterpolator

from critpoints import mpfr
from critpoints.kgon.branches import kink_spectrum, parameter_of, sparsity_of
from critpoints.potential import FixedCoordinates
from critpoints.solve.continuation import newton_correct
from critpoints.tms.model import TMSSparsePotential

__all__ = [
    "CertifiedBracket",
    "LineBoundary",
    "LinePoint",
    "MultiStartCheck",
    "PhaseLine",
    "certify_boundary",
    "limit_starts_of",
    "phase_line",
    "solve_branch",
]

#: Gradient norm at which a re-solved branch point is accepted (the continuation's).
GTOL = 1e-11
#: Two re-solved minima whose losses agree to this (relative) are one point reached by two
#: branches (a tie), not an exchange of the global minimum.
TIE = 1e-12
#: Rounds of (line, independent multi-start check); a lower minimum a check finds is
#: followed and joins the next round's line, checked with a new seed.
CHECK_ROUNDS = 3
#: Largest Newton correction ‖Δθ‖/(1 + ‖θ‖) from the interpolated point: beyond it the solve
#: has probably jumped to another branch and is refused (the continuation's rule).
MAX_JUMP = 0.05
#: Relative loss band above the lowest interpolated minimum inside which every candidate is
#: solved to decide the winner at a stored sparsity (interpolation error, see above).
BAND = 0.05
#: Width in p = log₁₀(1 − S) to which boundaries are located.
PTOL = 1e-9


@dataclass(frozen=True)
class LinePoint:
    """One branch solved at one sparsity."""

    id: str
    sparsity: float
    loss: float
    grad_norm: float
    index: int
    theta: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class CertifiedBracket:
    """A boundary bracketed by two float sparsities at which the branches concerned were
    refined to ``dps`` digits (:func:`certify_boundary`).

    ``equal-loss``: at ``lower`` and ``upper`` both branches are critical to ``grad_norm`` at
    ``dps`` digits and L_dense − L_sparse (``gaps``, decimal strings) has opposite signs, far
    above the error a gradient that small leaves on L: the equal-loss S lies in between (both
    branches continuous there, index 0 at both ends). ``stability``: the smallest eigenvalue
    of the unstable branch's full Hessian at ``dps`` digits (``eigenvalues``) changes sign
    between the ends. ``certified`` False when the signs do not differ (the record says so).
    """

    kind: str
    lower: float
    upper: float
    dps: int
    gaps: tuple[str, str] | None
    eigenvalues: tuple[str, str] | None
    grad_norm: float
    certified: bool

    def to_json(self) -> dict:
        return {"kind": self.kind, "lower": self.lower, "upper": self.upper, "dps": self.dps,
                "loss_gaps": None if self.gaps is None else list(self.gaps),
                "smallest_eigenvalues": (None if self.eigenvalues is None
                                         else list(self.eigenvalues)),
                "grad_norm": _finite_or_none(self.grad_norm), "certified": self.certified}


@dataclass(frozen=True)
class LineBoundary:
    """Where the lowest followed minimum changes from ``sparse`` (the branch winning at larger
    S) to ``dense``.

    ``kind`` is ``"equal-loss"`` (both are minima on both sides; L_A = L_B at ``sparsity``, a
    root to |Δp| ≤ 10⁻⁹) or ``"stability"`` (one of them changes index there; ``unstable`` says
    which, ``loss_gap`` = L_dense − L_sparse at the boundary, the jump of the line), or
    ``"unresolved"`` (the re-solved branches do not bracket a change: reported, not located).
    ``lower_elsewhere`` lists other followed branches that are lower minima at the boundary.
    """

    sparsity: float
    sparse: str
    dense: str
    kind: str
    loss_sparse: float | None  # None: that branch has no solution at the boundary
    loss_dense: float | None
    grad_norm: float | None
    unstable: str | None
    checked_branches: int
    lower_elsewhere: tuple[str, ...]
    certificate: CertifiedBracket | None = None

    @property
    def loss_gap(self) -> float | None:
        if self.loss_sparse is None or self.loss_dense is None:
            return None
        return self.loss_dense - self.loss_sparse


@dataclass(frozen=True)
class MultiStartCheck:
    """Random starts minimised on the full (W, b) at one sparsity, against the line."""

    sparsity: float
    starts: int
    best_loss: float
    best_grad_norm: float
    line_loss: float | None
    line_id: str | None
    violation: bool
    best_theta: np.ndarray = field(repr=False)


@dataclass
class PhaseLine:
    """Everything :func:`phase_line` computes; :meth:`to_json` gives the document body."""

    n: int
    m: int
    importance: list[float]
    grid: list[dict]
    intervals: list[dict]
    boundaries: list[LineBoundary]
    saddles_below: list[dict]
    checks: list[MultiStartCheck]
    followed: list[str]
    no_branch: list[str]
    not_followed: list[str]
    discovered: list[dict]
    solves: int
    same_branch: dict[str, str] = field(default_factory=dict)
    check_rounds: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "hidden": self.m,
            "importance": self.importance,
            "grid": self.grid,
            "intervals": self.intervals,
            "boundaries": [{
                "sparsity": b.sparsity, "density": 1.0 - b.sparsity, "sparse": b.sparse,
                "dense": b.dense, "kind": b.kind, "loss_sparse": b.loss_sparse,
                "loss_dense": b.loss_dense, "loss_gap": b.loss_gap, "grad_norm": b.grad_norm,
                "unstable": b.unstable, "checked_branches": b.checked_branches,
                "lower_elsewhere": list(b.lower_elsewhere),
                "certificate": None if b.certificate is None else b.certificate.to_json()}
                for b in self.boundaries],
            "completeness": {
                "followed_branches": len(self.followed),
                "no_branch": self.no_branch,
                "not_followed": self.not_followed,
                "same_branch_as": self.same_branch,
                "check_rounds": self.check_rounds,
                "saddles_below_every_minimum": self.saddles_below,
                "multistart_points": len(self.checks),
                "multistart_starts": int(sum(c.starts for c in self.checks)),
                "multistart_violations": int(sum(c.violation for c in self.checks)),
                "checks": [{"sparsity": c.sparsity, "starts": c.starts,
                            "best_loss": _finite_or_none(c.best_loss),
                            "best_grad_norm": _finite_or_none(c.best_grad_norm),
                            "line_loss": c.line_loss, "line_id": c.line_id,
                            "violation": c.violation,
                            "best_theta": [float(v) for v in c.best_theta]}
                           for c in self.checks],
            },
            "discovered": self.discovered,
            "solves": self.solves,
        }


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class _Track:
    """A followed branch: its continuation points in p, the coordinates it varies."""

    def __init__(self, record: dict, n: int, m: int):
        self.id = record["id"]
        points = record["points"]
        # in order of p = log₁₀(1 − S) (a found point's record runs from S = 0.999 too)
        points = sorted(points, key=lambda q: -q["sparsity"])
        self.p = np.array([parameter_of(q["sparsity"]) for q in points])
        self.loss = np.array([q["loss"] for q in points])
        self.index = np.array([q["index"] for q in points])
        self.grad_norm = np.array([q["grad_norm"] for q in points])
        self.theta = np.array([q["theta"] for q in points], dtype=float)
        W = self.theta[0, : m * n].reshape(m, n)
        # zero columns are pinned at exactly 0 by the continuation (their gradient vanishes
        # identically): keep them pinned
        pinned = {r * n + j for j in range(n) if not W[:, j].any() for r in range(m)}
        self.free = np.array([i for i in range(self.theta.shape[1]) if i not in pinned])
        # the loss along a branch is C¹ in p (dL/dS = ∂L_S/∂S at a critical point), so a
        # monotone cubic follows it far better than a chord (with two points it is the chord;
        # the points run one way in S, a fold's far side is stored apart)
        self._loss_curve = PchipInterpolator(self.p, self.loss) if len(self.p) > 1 else None

    def alive(self, p: float) -> bool:
        return self.p[0] - 1e-12 <= p <= self.p[-1] + 1e-12

    def stores(self, p: float) -> int | None:
        """The index of the continuation point at p, or None."""
        k = int(np.searchsorted(self.p, p))
        for i in (k - 1, k):
            if 0 <= i < len(self.p) and abs(self.p[i] - p) <= 1e-12:
                return i
        return None

    def interpolate(self, p: float) -> tuple[float, int | None, np.ndarray]:
        """Loss (PCHIP), index (None where the neighbours disagree) and θ (linear) at p."""
        i = self.stores(p)
        if i is not None:
            return float(self.loss[i]), int(self.index[i]), self.theta[i]
        k = int(np.searchsorted(self.p, p))
        k = min(max(k, 1), len(self.p) - 1)
        t = (p - self.p[k - 1]) / (self.p[k] - self.p[k - 1])
        index = int(self.index[k]) if self.index[k] == self.index[k - 1] else None
        return (float(self._loss_curve(p)), index,
                (1 - t) * self.theta[k - 1] + t * self.theta[k])


class _Solver:
    """Branches solved at sparsities, each (branch, p) once; ``prefill`` solves many in
    ``workers`` processes."""

    def __init__(self, n: int, m: int, importance, workers: int = 1,
                 progress: Callable[[str], None] | None = None):
        self.n, self.m, self.importance = n, m, importance
        self.workers = workers
        self.say = progress or (lambda message: None)
        self.models: dict[float, TMSSparsePotential] = {}
        self.cache: dict[tuple[str, float], LinePoint | None] = {}
        self.solves = 0

    def model(self, S: float) -> TMSSparsePotential:
        if S not in self.models:
            self.models[S] = TMSSparsePotential(self.n, self.m, sparsity=S,
                                                importance=self.importance)
        return self.models[S]

    def prefill(self, jobs: Sequence[tuple[_Track, float]]) -> None:
        """Solve the (track, p) pairs not yet solved, in ``workers`` processes: each solve
        is a function of its track and p alone, so the cache ends up the same as from
        solving them here one by one."""
        todo, seen = [], set()
        for track, p in jobs:
            key = (track.id, float(p))
            if key not in self.cache and key not in seen:
                seen.add(key)
                todo.append((track, float(p)))
        if self.workers <= 1 or len(todo) < 2:
            for track, p in todo:
                self(track, p)
            return
        from critpoints.workers import mapped

        def tick(stage: str, done: int, total: int) -> None:
            if done % 100 == 0 or done == total:
                self.say(f"phase-line: {stage} {done}/{total}")

        points = mapped(_solve_job, [(self.n, self.m, self.importance, track, p)
                                     for track, p in todo], self.workers, tick, "branch solves")
        for (track, p), point in zip(todo, points):
            self.cache[(track.id, p)] = point
        self.solves += len(todo)

    def __call__(self, track: _Track, p: float) -> LinePoint | None:
        key = (track.id, float(p))
        if key not in self.cache:
            self.cache[key] = self._solve(track, p)
        return self.cache[key]

    def _solve(self, track: _Track, p: float) -> LinePoint | None:
        if not track.alive(p):
            return None
        S = sparsity_of(p)
        model = self.model(S)
        _, _, predicted = track.interpolate(p)
        restricted = FixedCoordinates(model, predicted, track.free)
        self.solves += 1
        result = newton_correct(restricted, predicted[track.free], GTOL, 12, [0])
        if result is None:
            return None
        jump = np.linalg.norm(result[0] - predicted[track.free]) / (1 + np.linalg.norm(predicted))
        if jump > MAX_JUMP:
            return None
        theta = restricted.full(result[0])
        eigenvalues = _index_spectrum(model, theta)
        tolerance = 1e-9 * max(1.0, float(np.abs(eigenvalues).max()))
        _, gradient = model.loss_and_gradient(theta)
        return LinePoint(track.id, S, float(model.loss(theta)),
                         float(np.linalg.norm(gradient)),
                         int((eigenvalues < -tolerance).sum()), theta)


def _solve_job(job) -> LinePoint | None:
    n, m, importance, track, p = job
    return _Solver(n, m, importance)._solve(track, p)


def solve_branch(record: dict, sparsity: float, n: int, m: int = 2,
                 importance=None) -> LinePoint | None:
    """One followed branch (a record of a sparsity-branches document) solved at ``sparsity``
    by Newton from its interpolated point; None where it is not alive or the solve fails."""
    return _Solver(n, m, importance)(_Track(record, n, m), parameter_of(sparsity))


def _candidates(tracks: Sequence[_Track], p: float) -> list[tuple[float, int | None, str]]:
    out = []
    for track in tracks:
        if track.alive(p):
            loss, index, _ = track.interpolate(p)
            out.append((loss, index, track.id))
    return sorted(out, key=lambda c: (c[0], c[2]))  # (the index may be None)


def _ordered(tracks: Sequence[_Track], p: float) -> tuple[list, float]:
    """The candidates at p by interpolated loss, and the band's upper end: :data:`BAND` above
    the lowest interpolated minimum."""
    candidates = _candidates(tracks, p)
    settled = [loss for loss, index, _ in candidates if index == 0]
    return candidates, (min(settled) * (1 + BAND) + 1e-12 if settled else math.inf)


def _band(tracks: Sequence[_Track], p: float, decide: bool = False) -> list[_Track]:
    """The branches :func:`_provisional_winner` solves at p by their interpolated losses:
    those within :data:`BAND` of the lowest interpolated minimum whose index is unknown there
    (with ``decide``, every one in the band), not stored at p."""
    by_id = {t.id: t for t in tracks}
    candidates, bound = _ordered(tracks, p)
    return [by_id[ident] for loss, index, ident in candidates
            if loss <= bound and (index is None or (decide and index == 0))
            and by_id[ident].stores(p) is None]


def _provisional_winner(tracks: Sequence[_Track], p: float, solve: _Solver,
                        decide: bool = False) -> str | None:
    """The lowest minimum at p by interpolated loss. A branch whose index is unknown at p
    (its neighbouring points disagree) is solved there if its interpolated loss is within
    :data:`BAND` of the lowest interpolated minimum; with ``decide``, so is every candidate
    in that band (a stored point is its own solution), and the winner is the lowest solved
    minimum."""
    by_id = {t.id: t for t in tracks}
    candidates, bound = _ordered(tracks, p)
    minima = []
    for loss, index, ident in candidates:
        if loss > bound:
            break
        if index is None or (decide and index == 0):
            track = by_id[ident]
            k = track.stores(p)
            point = (LinePoint(ident, sparsity_of(p), float(track.loss[k]),
                               float(track.grad_norm[k]), int(track.index[k]), track.theta[k])
                     if k is not None else solve(track, p))
            if point is None:
                continue
            loss, index = point.loss, point.index
            if decide and index == 0:
                # a minimum solved above its interpolation widens the band
                bound = max(bound, (1 + BAND) * loss + 1e-12)
        if index == 0:
            minima.append((loss, ident))
    return min(minima)[1] if minima else None


def _locate(solve: _Solver, a: _Track, b: _Track, sparse_side: Sequence[float],
            dense_side: Sequence[float]):
    """The boundary between winner A (provisionally at the p's of ``sparse_side``, nearest
    the change last) and B (at ``dense_side``, nearest first): (p, kind, lo, hi).

    The re-solved branches decide: the bracket closes at the first p of B's run where A does
    not win and opens at the p before it (the last p of A's run where A wins, if that first p
    is B's nearest). The interpolated indices that chose the runs can be off next to an index
    change, by more than one point where many branches make the grid dense."""
    from scipy.optimize import brentq

    def wins_a(p: float) -> bool:
        x, y = solve(a, p), solve(b, p)
        a_min = x is not None and x.index == 0
        b_min = y is not None and y.index == 0
        if a_min and b_min:
            return x.loss <= y.loss or _tied(x, y)  # a tie keeps A
        return a_min

    # nearest first over the whole runs: the first p where A stops winning closes the
    # bracket, and the p before it (A wins there) opens it; a run of A's wins past the
    # provisional change (interpolated indices, a dense grid of branch points) only moves
    # the bracket, while a change found at the nearest point is the bracket it always was
    hi_at = next((i for i, p in enumerate(dense_side) if not wins_a(p)), None)
    hi = None if hi_at is None else dense_side[hi_at]
    if hi_at:
        lo = dense_side[hi_at - 1]
    else:
        lo = next((p for p in reversed(sparse_side) if wins_a(p)), None)
    if lo is None or hi is None:
        edge = sparse_side[-1] if lo is None else lo
        return edge, "unresolved", edge, dense_side[0] if hi is None else hi
    ends = [(solve(a, p), solve(b, p)) for p in (lo, hi)]
    both_minima = all(x is not None and y is not None and x.index == 0 and y.index == 0
                      for x, y in ends)
    if both_minima and (ends[0][0].loss - ends[0][1].loss) * (
            ends[1][0].loss - ends[1][1].loss) <= 0:
        def gap(p: float) -> float:
            x, y = solve(a, p), solve(b, p)
            if x is None or y is None or x.index or y.index:
                raise _Lost
            return x.loss - y.loss
        try:
            root = brentq(gap, lo, hi, xtol=PTOL, rtol=4 * np.finfo(float).eps)
            return root, "equal-loss", root, root
        except _Lost:
            pass
    while hi - lo > PTOL:
        mid = 0.5 * (lo + hi)
        if wins_a(mid):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi), "stability", lo, hi


def _boundary(solve: _Solver, tracks: Sequence[_Track], by_id: dict, w0: str, w1: str,
              sparse_side: Sequence[float], dense_side: Sequence[float]) -> LineBoundary:
    """The located change from w0 (sparse side) to w1, checked against every other branch."""
    a, b = by_id[w0], by_id[w1]
    root, kind, _, hi = _locate(solve, a, b, sparse_side, dense_side)
    x, y = solve(a, root), solve(b, root)
    unstable = None
    if kind == "stability":
        # A wins at lo, not at hi: either A is no minimum at hi, or B is none at lo
        denser = solve(a, hi)
        unstable = w0 if denser is None or denser.index else w1
    others = []
    checked = 0
    solve.prefill([(t, root) for t in tracks if t.id not in (w0, w1) and t.alive(root)])
    minima = [v.loss for v in (x, y) if v is not None and v.index == 0]
    line = min(minima) if minima else math.inf
    for track in tracks:
        if track.id in (w0, w1) or not track.alive(root):
            continue
        z = solve(track, root)
        checked += 1
        if z is not None and z.index == 0 and z.loss < line - 1e-12 * max(1.0, abs(line)):
            others.append(track.id)
    return LineBoundary(
        sparsity_of(root), w0, w1, kind, x.loss if x else None, y.loss if y else None,
        max(v.grad_norm for v in (x, y) if v is not None) if (x or y) else None,
        unstable, checked, tuple(others))


def _refined(solve: _Solver, track: _Track, p: float, dps: int):
    """The branch at p refined to ``dps`` digits: (θ as mpf array, ‖∇L‖) or None."""
    import mpmath

    from critpoints.solve.newton import polish

    point = solve(track, p)
    if point is None:
        return None
    restricted = FixedCoordinates(solve.model(sparsity_of(p)), point.theta, track.free)
    result = polish(restricted, point.theta[track.free], dps=dps,
                    tol=mpmath.mpf(10) ** (20 - dps))
    if not result.success:
        return None
    return restricted.full(result.theta), float(result.grad_norm)


def _smallest_eigenvalue(model: TMSSparsePotential, theta, dps: int):
    """The smallest eigenvalue of the full Hessian at ``dps`` digits, leaving out those below
    10^(−dps/2) in size (the rotation orbit and flat directions: zero to the working
    precision, while the eigenvalue that crosses at a stability boundary is far larger)."""
    import mpmath

    with mpmath.workdps(dps):
        H = model.hessian(theta, dps=dps)
        values = mpfr.eigsy(H.tolist(), eigvals_only=True)  # mpmath.eigsy's bits
        floor = mpmath.mpf(10) ** (-(dps // 2))
        return min((v for v in values if abs(v) > floor), default=mpmath.mpf(0))


def _measured_end(solve: _Solver, by_id: dict, boundary: LineBoundary, p: float, dps: int):
    """At one end of a bracket: (the signed quantity whose sign must change, ‖∇L‖ of the
    refined points), or None where a branch cannot be refined (or an equal-loss branch is no
    minimum there). Equal-loss: L_dense − L_sparse at ``dps`` digits; stability: the
    unstable branch's smallest eigenvalue at ``dps`` digits."""
    import mpmath

    model = solve.model(sparsity_of(p))
    if boundary.kind == "stability":
        unstable = _refined(solve, by_id[boundary.unstable], p, dps)
        if unstable is None:
            return None
        return _smallest_eigenvalue(model, unstable[0], dps), [unstable[1]]
    pair = [by_id[boundary.sparse], by_id[boundary.dense]]
    if any(getattr(solve(t, p), "index", None) != 0 for t in pair):
        return None
    sparse, dense = (_refined(solve, t, p, dps) for t in pair)
    if sparse is None or dense is None:
        return None
    with mpmath.workdps(dps):
        gap = model.loss(dense[0], dps=dps) - model.loss(sparse[0], dps=dps)
    return gap, [sparse[1], dense[1]]


def certify_boundary(solve: _Solver, by_id: dict, boundary: LineBoundary, dps: int = 60,
                     widths: Sequence[float] = (4.0, 40.0, 400.0)) -> CertifiedBracket | None:
    """A :class:`CertifiedBracket` of a located boundary: the float sparsities p* ± w·PTOL (in
    p = log₁₀(1 − S)) for the first w of ``widths`` whose ends differ in sign, the branches
    refined to ``dps`` digits at both ends; ``certified`` False if no width does. None for an
    unresolved boundary."""
    import mpmath

    if boundary.kind not in ("equal-loss", "stability"):
        return None
    centre = parameter_of(boundary.sparsity)
    best = None
    for width in widths:
        ends = (centre - width * PTOL, centre + width * PTOL)
        measured = [_measured_end(solve, by_id, boundary, p, dps) for p in ends]
        if any(m is None for m in measured):
            continue
        values = [m[0] for m in measured]
        changed = mpmath.sign(values[0]) * mpmath.sign(values[1]) < 0
        text = tuple(mpmath.nstr(v, 20, min_fixed=-5, max_fixed=5) for v in values)
        lower, upper = sorted(sparsity_of(p) for p in ends)
        best = CertifiedBracket(
            boundary.kind, lower, upper, dps,
            text if boundary.kind == "equal-loss" else None,
            text if boundary.kind == "stability" else None,
            max(g for m in measured for g in m[1]), bool(changed))
        if changed:
            return best
    if best is None:
        lower, upper = sorted(sparsity_of(centre + d * widths[-1] * PTOL) for d in (-1, 1))
        best = CertifiedBracket(boundary.kind, lower, upper, dps, None, None, math.inf, False)
    return best


class _Lost(Exception):
    """A branch stopped being a minimum (or alive) inside the bracket of a root."""


def _line_at(solve: _Solver, tracks: Sequence[_Track], S: float) -> LinePoint | None:
    """Every track alive at S re-solved there: the lowest minimum, or None."""
    p = parameter_of(S)
    minima = [v for v in (solve(t, p) for t in tracks if t.alive(p))
              if v is not None and v.index == 0]
    return min(minima, key=lambda v: v.loss) if minima else None


def _is_known(solve: _Solver, tracks: Sequence[_Track], point: LinePoint) -> bool:
    p = parameter_of(point.sparsity)
    for track in tracks:
        if track.alive(p):
            v = solve(track, p)
            if v is not None and abs(v.loss - point.loss) <= 1e-9 * max(1.0, abs(point.loss)):
                return True
    return False


def phase_line(document: dict, catalog_ids: Sequence[str] = (), *,
               discovery_sparsities: Sequence[float] = (),
               validation_sparsities: Sequence[float] = (), starts: int = 8, seed: int = 0,
               workers: int = 1, certify_dps: int | None = 60,
               limit_starts: Sequence[tuple[str, float, np.ndarray]] = (),
               progress: Callable[[str], None] | None = None) -> PhaseLine:
    """The lowest minimum along S among the branches of a ``critpoints.sparsity-branches``
    document and the minima that multi-start finds below them.

    Parameters
    ----------
    document : dict
        A sparsity-branches document (its branches, model and grid).
    catalog_ids : sequence of str
        The ids of the one-hot catalog the branches come from: those the document does not
        contain are named in the record (the line says nothing about them).
    discovery_sparsities : sequence of float
        Sparsities at which ``starts`` random (W, b) are minimised (:func:`discover`); every
        minimum found there below the line of the branches followed so far is itself followed
        in S both ways (:func:`follow_point`) and joins the line.
    validation_sparsities : sequence of float
        Sparsities (other than the discovery ones) at which a second, independent multi-start
        (seed + 1) is compared with the line: a lower minimum is a violation. It is followed
        and joins the candidates, the line is rebuilt and checked again with seed + 2, …
        (:data:`CHECK_ROUNDS` rounds at most); the last round's checks are stored.
    starts, seed, workers : int
    limit_starts : sequence of (str, float, ndarray)
        ``(name, S, θ)``: points near S = 1 predicted from constrained minima of the limits
        S → 1 (:func:`limit_starts_of`). Each is polished at S and, if a minimum that no
        followed branch is, followed in S both ways and made a candidate whether or not it is
        lower than the line at S (a branch that wins only further down starts here).
    certify_dps : int, optional
        Every located boundary is bracketed between two float sparsities at which its
        branches are refined to this many digits (:func:`certify_boundary`); None: not.
    progress : callable, optional

    Returns
    -------
    PhaseLine
    """
    say = progress or (lambda message: None)
    n, m = document["model"]["n"], document["model"]["m"]
    importance = document["model"].get("importance")
    tracks, same_as = _distinct_tracks([_Track(b, n, m) for b in document["branches"]
                                        if b["points"]])
    solve = _Solver(n, m, importance, workers, say)

    discovered: list[dict] = []
    by_id = {t.id: t for t in tracks}

    def adopt(S: float, point: LinePoint, origin: str, anywhere: bool = False) -> str | None:
        """Follow a minimum found at S in S both ways and make it a candidate, unless it is
        no lower than the line there (unless ``anywhere``) or is a followed branch; its id or
        None."""
        line = _line_at(solve, tracks, S)
        if (not anywhere and line is not None
                and point.loss >= line.loss - 1e-9 * max(1.0, abs(line.loss))):
            return None
        if _is_known(solve, tracks, point):
            return None
        ident = f"found-{len(discovered) + 1}"
        record = follow_point(point.theta, S, n, m, importance, ident)
        record["found_by"] = origin
        discovered.append(record)
        tracks.append(_Track(record, n, m))
        by_id[ident] = tracks[-1]
        say(f"phase-line: {ident} ({record['label']}, L = {point.loss:.10g} at S = {S:g}, "
            f"{'no line' if line is None else f'line {line.loss:.10g}'}, {origin}) followed: "
            f"S {record['points'][0]['sparsity']:g} .. {record['points'][-1]['sparsity']:g}")
        return ident

    if discovery_sparsities:
        for S, point in discover(n, m, discovery_sparsities, starts, seed, importance, workers,
                                 say):
            adopt(S, point, "discovery")
    for name, S, theta in limit_starts:
        point = _polish_minimum(solve, S, np.asarray(theta, dtype=float))
        if point is not None and point.index == 0:
            adopt(S, point, name, anywhere=True)

    # the line, then an independent multi-start against it (seed + 1); a lower minimum that
    # check finds is followed and joins the candidates, and the line is built again and
    # checked with a fresh seed, for at most CHECK_ROUNDS rounds: the stored checks are those
    # of the last round, whose starts the final line did not use
    rounds: list[dict] = []
    checks: list[MultiStartCheck] = []
    for round_ in range(CHECK_ROUNDS):
        runs, boundaries = _settled_line(solve, tracks, by_id)
        if not validation_sparsities:
            break
        check_seed = seed + 1 + round_
        checks = _multistart_checks(solve, tracks, n, m, validation_sparsities, starts,
                                    check_seed, importance, workers, say)
        adopted = []
        if round_ + 1 < CHECK_ROUNDS:
            for check in checks:
                if check.violation:
                    point = LinePoint("check", check.sparsity, check.best_loss,
                                      check.best_grad_norm, 0, check.best_theta)
                    ident = adopt(check.sparsity, point, f"check (seed {check_seed})")
                    if ident is not None:
                        adopted.append(ident)
        rounds.append({"seed": check_seed, "starts": starts * len(checks),
                       "violations": sum(c.violation for c in checks), "adopted": adopted})
        if not adopted:
            break

    if certify_dps:
        boundaries = [replace(b, certificate=certify_boundary(solve, by_id, b, certify_dps))
                      for b in boundaries]
    for b in boundaries:
        certificate = b.certificate
        say(f"phase-line: {b.sparse} | {b.dense} at S = {b.sparsity:.10f} ({b.kind}), "
            f"{b.checked_branches} other branches checked, {len(b.lower_elsewhere)} lower"
            + ("" if certificate is None else
               f"; {'certified' if certificate.certified else 'NOT certified'} in "
               f"[{certificate.lower!r}, {certificate.upper!r}] at {certificate.dps} digits"))

    # the grid: the stored continuation points at the document's grid sparsities (every
    # branch alive there hits them exactly)
    grid = []
    for S in document["settings"]["grid"]:
        p = parameter_of(S)
        stored = []
        for track in tracks:
            k = np.flatnonzero(np.abs(track.p - p) <= 1e-12)
            if k.size:
                k = int(k[0])
                stored.append((float(track.loss[k]), int(track.index[k]),
                               float(track.grad_norm[k]), track.id))
        minima = [q for q in stored if q[1] == 0]
        best = min(minima) if minima else None
        lowest = min(stored) if stored else None
        grid.append({"sparsity": S,
                     "winner": best[3] if best else None,
                     "loss": best[0] if best else None,
                     "grad_norm": best[2] if best else None,
                     "alive": len(stored),
                     "minima": len(minima),
                     "lowest_critical": None if lowest is None else {
                         "id": lowest[3], "loss": lowest[0], "index": lowest[1]}})
    saddles_below = [{"sparsity": g["sparsity"], **g["lowest_critical"]} for g in grid
                     if g["lowest_critical"] is not None and g["lowest_critical"]["index"] > 0
                     and (g["loss"] is None or g["lowest_critical"]["loss"] < g["loss"])]

    # intervals: the runs of one winner, S decreasing, cut at the located boundaries (or, next
    # to a stretch without any followed minimum, at the last stored point of the run)
    intervals = []
    located = iter(boundaries)
    start = 1.0
    for k, (ident, run) in enumerate(runs):
        if k + 1 < len(runs):
            following = runs[k + 1][0]
            end = (next(located).sparsity if ident is not None and following is not None
                   else sparsity_of(run[-1]))
        else:
            end = sparsity_of(run[-1])
        intervals.append({"from": start, "to": end, "id": ident})
        start = end

    followed = [t.id for t in tracks]
    no_branch = [b["id"] for b in document["branches"] if not b["points"]]
    in_document = {b["id"] for b in document["branches"]}
    not_followed = [i for i in catalog_ids if i not in in_document]
    return PhaseLine(n, m, [float(v) for v in (importance or [1.0] * n)], grid, intervals,
                     boundaries, saddles_below, checks, followed, no_branch, not_followed,
                     discovered, solve.solves, same_as, rounds)


def _settled_line(solve: _Solver, tracks: Sequence[_Track], by_id: dict
                  ) -> tuple[list[tuple[str | None, list[float]]], list[LineBoundary]]:
    """The runs of one provisional winner (p ascending) and the boundaries between them.

    Provisional winners at every stored sparsity; the boundaries between consecutive runs,
    re-solved; where a boundary is unresolved, every stored point of both runs is decided by
    solving the candidates within :data:`BAND` of the lowest; where another branch is lower
    at a boundary, the stored points on both sides are decided by solving every branch alive
    there; and the runs are rebuilt (at most four rounds)."""
    settled: set[float] = set()
    ps = sorted({float(p) for t in tracks for p in t.p})
    solve.prefill([(t, p) for p in ps for t in _band(tracks, p)])
    provisional = {p: _provisional_winner(tracks, p, solve) for p in ps}
    for _ in range(4):
        _keep_through_ties(provisional, by_id, solve)
        runs: list[tuple[str | None, list[float]]] = []  # (winner, its p's)
        for p, w in sorted(provisional.items()):
            if runs and runs[-1][0] == w:
                runs[-1][1].append(p)
            else:
                runs.append((w, [p]))
        boundaries, decide, exhaust = [], [], []
        for (w0, sparse_side), (w1, dense_side) in pairwise(runs):
            if w0 is None or w1 is None:
                continue
            b = _boundary(solve, tracks, by_id, w0, w1, sparse_side, dense_side)
            boundaries.append(b)
            if b.kind == "unresolved":
                # the re-solved branches do not confirm the runs' provisional winners
                # (their interpolated losses misordered them): decide every stored point
                # of both runs by solving the candidates near the lowest
                decide += [*sparse_side, parameter_of(b.sparsity), *dense_side]
            elif b.lower_elsewhere:
                # another branch is lower at the boundary: decide both stored points next
                # to it, and the boundary itself, from every branch alive there
                exhaust += [parameter_of(b.sparsity), sparse_side[-1], dense_side[0]]
        decide = sorted({p for p in decide if p not in settled})
        exhaust = sorted({p for p in exhaust if p not in settled})
        if not decide and not exhaust:
            break
        solve.prefill([(t, p) for p in decide for t in _band(tracks, p, decide=True)])
        for p in decide:
            provisional[p] = _provisional_winner(tracks, p, solve, decide=True)
            settled.add(p)
        solve.prefill([(t, p) for p in exhaust for t in tracks if t.alive(p)])
        for p in exhaust:
            best = _line_at(solve, tracks, sparsity_of(p))
            provisional[p] = best.id if best else None
            settled.add(p)
    return runs, boundaries


def _keep_through_ties(provisional: dict, by_id: dict, solve: _Solver) -> None:
    """Where the provisional winner changes (S decreasing) to a branch whose re-solved loss
    equals the previous winner's (:data:`TIE`, both minima), keep the previous winner:
    the two are the same point there (a minimum found by multi-start can continue onto a
    followed branch where it merges with it), not an exchange of the global minimum."""
    current = None
    for p in sorted(provisional):
        w = provisional[p]
        if current is not None and w is not None and w != current:
            x, y = solve(by_id[current], p), solve(by_id[w], p)
            if (x is not None and y is not None and x.index == 0 and y.index == 0
                    and _tied(x, y)):
                provisional[p] = w = current
        current = w


def _tied(x: LinePoint, y: LinePoint) -> bool:
    return abs(x.loss - y.loss) <= TIE * max(1.0, abs(y.loss))


def _multistart_checks(solve: _Solver, tracks: Sequence[_Track], n: int, m: int,
                       sparsities: Sequence[float], starts: int, seed: int, importance,
                       workers: int, say: Callable[[str], None]) -> list[MultiStartCheck]:
    """Random multi-start at each sparsity against the line of ``tracks`` there."""
    found = discover(n, m, sparsities, starts, seed, importance, workers, say)
    checks = []
    for S in sparsities:
        S = float(S)
        line = _line_at(solve, tracks, S)
        here = [q for s_, q in found if s_ == S]
        best = min(here, key=lambda q: q.loss) if here else None
        violation = best is not None and (
            line is None or best.loss < line.loss - 1e-9 * max(1.0, abs(line.loss)))
        checks.append(MultiStartCheck(
            S, starts, best.loss if best else math.inf,
            best.grad_norm if best else math.inf, line.loss if line else None,
            line.id if line else None, bool(violation),
            best.theta if best else np.zeros(0)))
        say(f"phase-line: check (seed {seed}) at S = {S:g}: multi-start "
            f"{checks[-1].best_loss:.10g}, line {line.loss if line else float('nan'):.10g}"
            + (" — LOWER" if violation else ""))
    return checks


def _distinct_tracks(tracks: list[_Track]) -> tuple[list[_Track], dict[str, str]]:
    """The tracks without repeats, and {id left out: id kept}. Distinct one-hot points of one
    flat critical set can continue to the same branch (a collapsed dead vertex, a `+` bias
    going to 0): a track with the same continuation sparsities, indices and losses (to 10⁻¹²
    relative) as an earlier one is the same branch for the line, and is left out (the
    earlier, in catalog order, is kept)."""
    kept: list[_Track] = []
    same_as: dict[str, str] = {}
    for track in tracks:
        twin = next((k for k in kept if k.p.shape == track.p.shape
                     and np.array_equal(k.p, track.p)
                     and np.array_equal(k.index, track.index)
                     and np.allclose(k.loss, track.loss, rtol=1e-12, atol=1e-15)), None)
        if twin is None:
            kept.append(track)
        else:
            same_as[track.id] = twin.id
    return kept, same_as


def _start(args) -> tuple[float, np.ndarray]:
    """One random start minimised on the full (W, b) (L-BFGS), from its own seed."""
    from scipy.optimize import minimize

    n, m, S, importance, entropy = args
    rng = np.random.default_rng(entropy)
    model = TMSSparsePotential(n, m, sparsity=S, importance=importance)

    def value_gradient(theta):
        L, g = model.loss_and_gradient(theta)
        return float(L), np.asarray(g, dtype=float)

    theta0 = np.concatenate([rng.normal(0, 1, m * n), rng.normal(0, 0.2, n)])
    result = minimize(value_gradient, theta0, jac=True, method="L-BFGS-B",
                      options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-10})
    return float(result.fun), np.array(result.x)


def _pinned_zero_columns(theta: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """θ with columns of norm ≤ 10⁻⁶ set to exactly 0, and the free coordinates (the others):
    an L-BFGS end point leaves 10⁻⁸ in a column that is zero at the critical point, and such
    a column makes the cube moments ill-conditioned."""
    theta = np.array(theta, dtype=float)
    W = theta[: m * n].reshape(m, n)
    zero = [j for j in range(n) if np.linalg.norm(W[:, j]) <= 1e-6]
    for j in zero:
        theta[[r * n + j for r in range(m)]] = 0.0
    pinned = {r * n + j for j in zero for r in range(m)}
    return theta, np.array([i for i in range(len(theta)) if i not in pinned])


def shape_label(theta: np.ndarray, n: int, m: int) -> str:
    """The catalog's label k⁺…⁻… (:func:`critpoints.kgon.patterns.label_of`) read off a point
    at finite S: k nonzero columns (‖W_j‖ > 10⁻⁶), of them φ dead vertices (output dead on the
    whole input cube: b_j + Σ_i max(G_ij, 0) ≤ 0), and σ zero columns with a positive bias;
    zero columns with a bias ≤ 0 are not written."""
    from critpoints.kgon.patterns import label_of

    W = np.asarray(theta[: m * n], dtype=float).reshape(m, n)
    b = np.asarray(theta[m * n:], dtype=float)
    live = np.linalg.norm(W, axis=0) > 1e-6
    G = W.T @ W
    dead = live & (b + np.maximum(G, 0.0).sum(axis=0) <= 0)
    return label_of(int(live.sum()), int(((~live) & (b > 1e-9)).sum()), int(dead.sum()))


def _index_spectrum(model: TMSSparsePotential, theta: np.ndarray) -> np.ndarray:
    """The eigenvalues that decide the index: on a kink, of the side with the most negative
    ones (:func:`critpoints.kgon.branches.kink_spectrum`)."""
    return kink_spectrum(model, theta, np.arange(len(theta)))[0]


def _polish_minimum(solve: _Solver, S: float, theta: np.ndarray) -> LinePoint | None:
    """Newton from an L-BFGS end point (zero columns pinned): a critical point with its index,
    or None."""
    n, m = solve.n, solve.m
    model = solve.model(S)
    snapped, free = _pinned_zero_columns(theta, n, m)
    restricted = FixedCoordinates(model, snapped, free)
    result = newton_correct(restricted, snapped[free], GTOL, 20, [0])
    if result is None:
        return None
    full = restricted.full(result[0])
    loss, gradient = model.loss_and_gradient(full)
    if np.linalg.norm(gradient) > 10 * GTOL:
        return None
    eigenvalues = _index_spectrum(model, full)
    tolerance = 1e-9 * max(1.0, float(np.abs(eigenvalues).max()))
    return LinePoint("", S, float(loss), float(np.linalg.norm(gradient)),
                     int((eigenvalues < -tolerance).sum()), full)


def limit_starts_of(document: dict, sparsity: float) -> list[tuple[str, float, np.ndarray]]:
    """Starts at ``sparsity`` (near 1) from the constrained minima with a positive multiplier
    of a ``critpoints.limits`` document: the limit's point with each bias of its strict face
    at n(1 − S)μ_j/(2Sⁿ), where the all-zero input's pull 2Sⁿb_j balances the one-hot one
    (docs/sparsity.md; uniform importance). The others are critical points of the one-hot
    potential, whose branches the branches file follows."""
    n = document["model"]["n"]
    out = []
    for point in document["limits"]:
        if point["verdict"] != "minimum" or not point["strict_face"]:
            continue
        W, b = np.array(point["W"], dtype=float), np.array(point["b"], dtype=float)
        for j, mu in zip(point["face"], point["multipliers"]):
            if mu > 0:
                b[j] = n * (1 - sparsity) * mu / (2 * sparsity**n)
        out.append((f"limit {point['id']}", sparsity, np.concatenate([W.ravel(), b])))
    return out


def follow_point(theta: np.ndarray, sparsity: float, n: int, m: int = 2, importance=None,
                 ident: str = "") -> dict:
    """A critical point of L_S found at ``sparsity`` followed both ways, to S = 0.999 and to
    S = 0 (:func:`critpoints.solve.continuation.follow_through`, zero columns pinned): a record
    with the fields of a sparsity-branches branch that :func:`phase_line` reads (id, label,
    points in order of decreasing S, events, end)."""
    from critpoints.kgon.branches import GRID, START_SPARSITY, branch_json
    from critpoints.solve.continuation import Branch, follow_through

    snapped, free = _pinned_zero_columns(theta, n, m)
    models: dict[float, TMSSparsePotential] = {}

    def family(p: float) -> FixedCoordinates:
        if p not in models:
            models[p] = TMSSparsePotential(n, m, sparsity=sparsity_of(p), importance=importance)
        return FixedCoordinates(models[p], snapped, free)

    def spectrum(p: float, x: np.ndarray):
        return kink_spectrum(models[p], family(p).full(x), free)

    p0 = parameter_of(sparsity)
    legs = [follow_through(family, snapped[free], p0, stop, grid=GRID, spectrum=spectrum,
                           gtol=GTOL)[0] for stop in (parameter_of(START_SPARSITY), 0.0)]
    up, down = legs
    merged = Branch(points=list(reversed(up.points)) + down.points[1:],
                    events=[{**e, "between": list(reversed(e["between"]))}
                            if e["kind"] != "index-change" else
                            {**e, "between": list(reversed(e["between"])),
                             "index": list(reversed(e["index"]))}
                            for e in reversed(up.events)] + down.events,
                    end=down.end, end_reason=down.end_reason,
                    corrector_failures=up.corrector_failures + down.corrector_failures)
    record = {"id": ident, "label": shape_label(snapped, n, m), "found_at": sparsity,
              **branch_json(merged, snapped, free, n)}
    record["sparse_end"] = {"kind": up.end, "reason": up.end_reason,
                            "sparsity": record["points"][0]["sparsity"]
                            if record["points"] else None}
    return record


def discover(n: int, m: int, sparsities: Sequence[float], starts: int, seed: int,
             importance=None, workers: int = 1, progress=None) -> list[tuple[float, LinePoint]]:
    """Random multi-start at each sparsity (``starts`` L-BFGS runs on the full (W, b), each
    from its own seed: the same results for any ``workers``), every end point polished by
    Newton; the distinct minima (index 0; losses apart by more than 10⁻⁹ relative) per
    sparsity, lowest first."""
    say = progress or (lambda message: None)
    jobs = []
    for k, S in enumerate(sparsities):
        for child in np.random.SeedSequence([seed, k]).spawn(starts):
            jobs.append((n, m, float(S), importance, child))
    ends = []
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for end in pool.map(_start, jobs):
                ends.append(end)
                if len(ends) % 10 == 0:
                    say(f"phase-line: multi-start {len(ends)}/{len(jobs)}")
    else:
        for job in jobs:
            ends.append(_start(job))
            if len(ends) % 10 == 0:
                say(f"phase-line: multi-start {len(ends)}/{len(jobs)}")
    solve = _Solver(n, m, importance)
    out = []
    for k, S in enumerate(sparsities):
        found: list[LinePoint] = []
        for _, theta in ends[k * starts:(k + 1) * starts]:
            point = _polish_minimum(solve, float(S), theta)
            if point is None or point.index != 0:
                continue
            if all(abs(point.loss - q.loss) > 1e-9 * max(1.0, abs(q.loss)) for q in found):
                found.append(point)
        found.sort(key=lambda q: q.loss)
        say(f"phase-line: multi-start at S = {S:g}: {len(found)} distinct minima from "
            f"{starts} starts" + (f", lowest {found[0].loss:.10g}" if found else ""))
        out.extend((float(S), q) for q in found)
    return out
