"""The catalogued one-hot critical points followed in sparsity S (SPEC §8, issue 16 point 4).

The one-hot potential is the limit S → 1 of (L_S − Sⁿ Σ_j I_j ReLU(b_j)²)/(n(1 − S)), not of
L_S itself: the all-zero input's Sⁿ Σ_j I_j ReLU(b_j)² has weight → 1, everything else weight
n(1 − S) → 0. What becomes of a catalogued point θ̃ at S < 1 therefore depends on its biases:

* **every bias ≤ 0** (6, 5, the squares with b_v = 0, …): ∇L_S(θ) = n(1 − S)S^{n−1}∇L̃(θ)
  + O((1 − S)²) near θ̃, and the branch θ(S) → θ̃ starts there (a Newton correction at
  S = 1 − 10⁻³ moves θ̃ by O(1 − S));
* **positive bias on a zero column** (the ``+`` of 5⁺, 4⁺⁺, 0⁺⁺⁺, …): that column sees nothing
  and says nothing (G_ij = 0); its output is the constant b_j and its critical bias is
  E[x_j] = (1 − S)/2 at sparsity S, against 1/(2n) in the one-hot model. The point with
  b_j = (1 − S)/2 (the rest of θ̃ unchanged to O(1 − S)) is a critical point of L_S, and its
  branch tends to θ̃ with b_j → 0 — the same point as the pattern without that ``+`` column at
  the top of its flat interval; in the rescaled bias b_j/(n(1 − S)) it tends to θ̃'s 1/(2n). So
  θ̃ itself is not a limit of critical points of L_S, but its branch is followed from there;
* **positive bias β on a nonzero column**: near θ̃, ∂L_S/∂b_j = 2Sⁿ I_j b_j + O(1 − S) ≥ β
  for 1 − S small, so no critical point of L_S lies near θ̃ as S → 1: θ̃ is a critical point
  of the one-hot model only, and no branch starts at it (recorded with the gradient at
  S = 1 − 10⁻³ that shows it).

* **a dead vertex** (a nonzero column whose output is off on the whole cube) whose column pulls
  a live one down when both features are on (G_ij < 0): the one-hot potential is constant
  along its ray W_j → t W_j, while L_S grows with t at a rate ~(1 − S)², so no critical point
  of L_S keeps the column near its one-hot length: it collapses to a zero column with the same
  bias (a point of the same one-hot critical set), and the branch starts there;
* **any other non-isolated one-hot critical set** (the two remaining columns of a triangle
  can open from 120° to 90° at no one-hot cost, …): L_S's (1 − S)² part selects the member
  the branch tends to, and Newton from θ̃ fails (its step along the set is O(1)); a
  Levenberg–Marquardt solve of ∇L_S = 0 from θ̃ gives the start, kept only if it lies in
  θ̃'s one-hot critical set (one-hot gradient and loss change within 10(1 − S)); otherwise
  the record says where it went.

Dead outputs of nonzero columns get the finite-S flat representative −2 Σ_i max(G_ij, 0)
(dead for every active set, :mod:`critpoints.kgon.sparsity`). Zero columns stay at exactly 0
(pinned: their gradient vanishes identically there, and a rounding residue of 10⁻¹⁷ would
make the cube moments ill-conditioned); the index is read from the full Hessian.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import mpmath
import numpy as np

from critpoints.potential import FixedCoordinates
from critpoints.solve.continuation import (
    ArcPassage,
    Branch,
    follow_branch,
    follow_through,
    newton_correct,
)
from critpoints.solve.newton import find_critical_points
from critpoints.tms.model import TMSSparsePotential
from critpoints.workers import mapped

__all__ = [
    "CERTIFY",
    "START_SPARSITY",
    "follow_entry",
    "parameter_of",
    "sparsity_of",
    "start_point",
]

#: The branches start at S = 1 − 10⁻³ and are followed in p = log₁₀(1 − S) to S = 0 (p = 0).
START_SPARSITY = 0.999
#: Sparsities at which each branch point is refined at 60 digits.
CERTIFY = (0.9, 0.5)
#: Common abscissae of every branch (p = log₁₀(1 − S) from −3 to 0 in steps of 1/4).
GRID = tuple(np.round(np.arange(-3.0, 0.001, 0.25), 10).tolist())
#: A bias counts as positive above this (the catalogs store exact zeros as 0 or ~1e-60).
POSITIVE = 1e-9


def parameter_of(sparsity: float) -> float:
    """p = log₁₀(1 − S)."""
    return math.log10(1.0 - sparsity)


def sparsity_of(parameter: float) -> float:
    """S = 1 − 10^p."""
    return 1.0 - 10.0**parameter


def start_point(W: Any, b: Any, sparsity: float = START_SPARSITY,
                importance: Any = None) -> dict:
    """What becomes of the one-hot critical point (W, b) at sparsity S near 1 (module doc).

    Returns
    -------
    dict
        ``status`` "followed" (``W``, ``b``: the start of its branch, ``zero_columns``,
        ``changed``: what was mapped — biases (``quantity`` "bias") and dead vertices
        collapsed to zero columns (``quantity`` "norm", :func:`_collapse_dead_vertices`)) or
        "no-branch" (``reason``, ``positive_bias``: the
        columns, ``bias_gradient``: ∂L_S/∂b_j there, ``gradient_norm``: ‖∇L_S‖ at the
        one-hot point, its other components below it).
    """
    W = np.array(W, dtype=float)
    b = np.array(b, dtype=float)
    m, n = W.shape
    norms = np.linalg.norm(W, axis=0)
    zero = norms <= 1e-12
    W[:, zero] = 0.0
    positive_live = np.flatnonzero(~zero & (b > POSITIVE))
    if positive_live.size:
        model = TMSSparsePotential(n, m, sparsity=sparsity, importance=importance)
        _, grad = model.loss_and_gradient(model.flatten(W, b))
        db = grad[m * n:]
        return {
            "status": "no-branch",
            "positive_bias": positive_live.tolist(),
            "bias_gradient": [float(db[j]) for j in positive_live],
            "gradient_norm": float(np.linalg.norm(grad)),
            "reason": "positive bias on a nonzero column: ∂L_S/∂b_j = 2Sⁿ I_j b_j + O(1 − S) "
                      "> 0 near it as S → 1; a critical point of the one-hot model only",
        }
    changed = []
    G = W.T @ W
    for j in range(n):
        if zero[j] and b[j] > POSITIVE:
            changed.append({"column": j, "from": float(b[j]), "to": (1 - sparsity) / 2,
                            "quantity": "bias",
                            "why": "zero column, positive bias: critical at (1 − S)/2"})
            b[j] = (1 - sparsity) / 2
        elif not zero[j]:
            top = -float(np.maximum(G[:, j], 0.0).sum())
            dead_one_hot = b[j] <= 0 and float(G[:, j].max()) + b[j] <= 1e-12
            if dead_one_hot and b[j] > 2 * top:
                changed.append({"column": j, "from": float(b[j]), "to": 2 * top,
                                "quantity": "bias",
                                "why": "dead output: finite-S flat representative "
                                       "-2 Σ_i max(G_ij, 0)"})
                b[j] = 2 * top
    changed += _collapse_dead_vertices(W, b, zero, sparsity, importance)
    return {"status": "followed", "W": W, "b": b, "zero_columns": np.flatnonzero(zero).tolist(),
            "changed": changed}


#: Points t/|W_j| along a dead vertex's ray at which L_S must increase for it to collapse.
RAY = tuple(np.linspace(0.0, 1.0, 9)[1:].tolist())


def _collapse_dead_vertices(W: np.ndarray, b: np.ndarray, zero: np.ndarray, sparsity: float,
                            importance: Any) -> list[dict]:
    """Set to zero (in place) each dead vertex whose column L_S pulls in; the changes made.

    A dead vertex j (a nonzero column whose output is off for every input of the cube,
    b_j + Σ_i max(G_ij, 0) ≤ 0) leaves the one-hot potential constant along its ray
    W_j → t W_j, 0 < t ≤ 1: on e_j the other outputs see t G_ij + b_i, which stays off when
    it was off (positive biases sit on zero columns only here), and output j stays off. At
    S < 1 two features are active together with weight (1 − S)², and a live column i with
    G_ij < 0 is then pulled down by x_j: L_S grows with t at a rate ~(1 − S)² while its
    curvature along the ray is of the same order, so no critical point of L_S lies near the
    one-hot length and the column collapses along the flat ray. Its limit W_j = 0 (a dead
    feature with the same bias) lies in the same one-hot critical set, and the branch is
    followed from there. A vertex is collapsed when L_S increases at every point of
    :data:`RAY`, one vertex at a time (each collapse changes the pull on the others).
    """
    m, n = W.shape
    model = TMSSparsePotential(n, m, sparsity=sparsity, importance=importance)
    changed = []
    while True:
        G = W.T @ W
        dead = [j for j in range(n)
                if not zero[j] and b[j] + float(np.maximum(G[:, j], 0.0).sum()) <= 0]
        pulled = None
        for j in dead:
            values = []
            for t in (0.0, *RAY):
                V = W.copy()
                V[:, j] *= t
                values.append(float(model.loss(model.flatten(V, b))))
            if all(later > earlier for earlier, later in pairwise(values)):
                pulled = (j, values)
                break
        if pulled is None:
            return changed
        j, values = pulled
        norm = float(np.linalg.norm(W[:, j]))
        changed.append({"column": j, "from": norm, "to": 0.0, "quantity": "norm",
                        "loss_drop": values[-1] - values[0],
                        "why": "dead vertex: the one-hot potential is flat along its ray and "
                               "L_S increases along it: the column collapses"})
        W[:, j] = 0.0
        zero[j] = True


#: Gradient norm at which a branch point is accepted (float64).
GTOL = 1e-11
#: The one-hot potential is read off L_S at S = 1 − LIMIT_GAP (module :func:`one_hot_limit`).
LIMIT_GAP = 1e-7
#: A start found off θ̃ must keep θ̃'s one-hot loss to within this many times 1 − S.
IN_SET = 10.0
#: A start found off θ̃ is checked again at 1 − S shrunk by this factor: the one-hot gradient
#: of the critical point of L_S must shrink with 1 − S (at least by half this factor).
CLOSER = 10.0


def one_hot_limit(theta: np.ndarray, n: int, m: int, importance: Any = None
                  ) -> tuple[float, np.ndarray]:
    """The one-hot potential (with importances I) and its gradient at θ, as the limit
    (L_S − Sⁿ Σ_j I_j ReLU(b_j)²)/(n(1 − S)) read at S = 1 − :data:`LIMIT_GAP` (error
    O(LIMIT_GAP), ~5·10⁻⁸ on the gradient at n = 6)."""
    S = 1.0 - LIMIT_GAP
    model = TMSSparsePotential(n, m, sparsity=S, importance=importance)
    loss, gradient = model.loss_and_gradient(theta)
    weights = np.ones(n) if importance is None else np.asarray(importance, dtype=float)
    bias = np.maximum(np.asarray(theta, dtype=float)[m * n:], 0.0)
    gradient = np.array(gradient, dtype=float)
    gradient[m * n:] -= S**n * 2 * weights * bias
    scale = n * LIMIT_GAP
    return (float(loss) - S**n * float(weights @ bias**2)) / scale, gradient / scale


@dataclass(frozen=True)
class FlatSetStart:
    """A branch start sought off θ̃ inside its one-hot critical set (:func:`flat_set_start`):
    the critical points of L_S found at ``sparsities`` (S, then 1 − (1 − S)/CLOSER), and
    their one-hot gradient norms and loss changes from θ̃."""

    theta: np.ndarray  # free coordinates of the start (at the first sparsity)
    sparsities: tuple[float, float]
    nearer: np.ndarray  # free coordinates of the critical point found at the second sparsity
    gradient_norms: tuple[float, float]  # ‖∇L_S‖ reached
    moved: float  # ‖θ − θ̃‖ at the first sparsity
    one_hot_gradient_norms: tuple[float, float]
    one_hot_loss_changes: tuple[float, float]
    accepted: bool

    def to_json(self) -> dict:
        return {"method": "levenberg-marquardt on ∇L_S from θ̃",
                "sparsities": list(self.sparsities),
                "gradient_norms": list(self.gradient_norms), "moved": self.moved,
                "one_hot_gradient_norms": list(self.one_hot_gradient_norms),
                "one_hot_loss_changes": list(self.one_hot_loss_changes),
                "accepted": self.accepted}


def _levenberg_marquardt(family: FixedCoordinates, theta: np.ndarray) -> tuple[np.ndarray, float]:
    """A zero of ∇L from θ, as near as Levenberg–Marquardt gets; (θ, ‖∇L‖).

    :func:`critpoints.solve.newton.find_critical_points` with no gradient tolerance: it runs
    until ‖∇L‖ cannot be reduced (λ ≥ 10¹²), an accepted step is below 10⁻¹⁶‖θ‖, or after 400
    Hessians. (Not scipy's MINPACK ``least_squares(method="lm")``: that returned different points
    from the same input in one process, 1.4·10⁻⁸ apart at the flat start of n = 6 `4++~1`, so a
    branch depended on what the process had run before.)"""
    search = find_critical_points(family, np.array(theta, dtype=float), gtol=0.0,
                                  max_iter=400, damping=1e-3, min_step=1e-16)
    return search.theta, float(search.grad_norm)


def flat_set_start(family_at: Callable[[float], FixedCoordinates], theta: np.ndarray,
                   sparsity: float, importance: Any = None,
                   one_hot_biases: dict | None = None) -> FlatSetStart:
    """Where the branch of a non-isolated one-hot critical point starts.

    Where θ̃ lies in a positive-dimensional one-hot critical set (two columns of a triangle
    whose angle can open to 90° at no one-hot cost, …), L_S is flat along the set to order
    1 − S and its (1 − S)² part selects the member that the branch tends to: Newton from θ̃
    then fails (its step along the set is O(1)). A Levenberg–Marquardt solve of ∇L_S = 0
    from θ̃ finds a critical point θ_S, and a second one at S' = 1 − (1 − S)/:data:`CLOSER`
    from θ_S finds θ_S'. θ_S is the start when both converged (‖∇L‖ ≤ :data:`GTOL`), θ_S' keeps
    θ̃'s one-hot loss, and the one-hot gradient shrinks with 1 − S (θ_S' ≤ θ_S's /
    (CLOSER/2), or both ≤ 10⁻⁹): the branch then tends into θ̃'s one-hot critical set.
    ``family_at(S)``: the potential L_S on the free coordinates. ``one_hot_biases``
    ({column: bias}): the limits as S → 1 of the zero columns' biases, put in before the
    one-hot comparison (a ``+`` column's critical bias (1 − S)/2 tends to 0: the branch of a
    σ-pattern tends to the pattern without its ``+`` columns, module doc).
    """
    closer = 1.0 - (1.0 - sparsity) / CLOSER
    family = family_at(sparsity)
    n, m = family.potential.n, family.potential.m

    def one_hot(x: np.ndarray) -> tuple[float, np.ndarray]:
        full = family.full(x)
        for j, bias in (one_hot_biases or {}).items():
            full[m * n + j] = bias
        return one_hot_limit(full, n, m, importance)

    loss_start, _ = one_hot(theta)
    # An exactly symmetric θ̃ (the catalogs store exact zeros) keeps Levenberg–Marquardt on its
    # symmetric subspace, where the member the (1 − S)² part selects need not lie (`4++~1` of
    # n = 6 stalled at ‖∇L_S‖ ≈ 1e-7 there): a fixed relative perturbation of 1e-12 (seed 0)
    # breaks the symmetry and nothing else.
    scale = max(float(np.abs(theta).max()), 1.0)
    theta = theta + 1e-12 * scale * np.random.default_rng(0).standard_normal(theta.shape)
    found, gradient_norm = _levenberg_marquardt(family, theta)
    nearer, gradient_norm_nearer = _levenberg_marquardt(family_at(closer), found)
    checks = [one_hot(x) for x in (found, nearer)]
    one_hot_gradients = tuple(float(np.linalg.norm(g)) for _, g in checks)
    loss_changes = tuple(loss - loss_start for loss, _ in checks)
    converged = max(gradient_norm, gradient_norm_nearer) <= GTOL
    shrinks = (one_hot_gradients[1] <= one_hot_gradients[0] / (CLOSER / 2)
               or max(one_hot_gradients) <= 1e-9)
    same_level = abs(loss_changes[1]) <= IN_SET * (1.0 - closer)
    return FlatSetStart(found, (sparsity, closer), nearer, (gradient_norm, gradient_norm_nearer),
                        float(np.linalg.norm(found - theta)), one_hot_gradients, loss_changes,
                        bool(converged and shrinks and same_level))


def _free(n: int, m: int, zero_columns: list[int]) -> np.ndarray:
    fixed = {r * n + j for r in range(m) for j in zero_columns}
    return np.array([i for i in range(m * n + n) if i not in fixed])


def follow_entry(entry: dict, n: int, m: int = 2, *, stop_sparsity: float = 0.0,
                 certify: tuple = CERTIFY, dps: int = 60, importance: Any = None) -> dict:
    """The branch of one catalogued one-hot point from S = 1 − 10⁻³ to ``stop_sparsity``: the
    JSON record of ``catalog/tms-nN-mM.sparsity.json`` (see its schema).
    """
    start = start_point(entry["W"], entry["b"], START_SPARSITY, importance)
    record: dict = {"id": entry["id"], "label": entry["label"],
                    "one_hot_loss": entry["loss"], "one_hot_verdict": entry["verdict"],
                    "start": {k: v for k, v in start.items() if k not in ("W", "b")}}
    if start["status"] != "followed":
        record.update(points=[], events=[], end={"kind": "no-branch", "sparsity": 1.0,
                                                "reason": start["reason"]})
        return record
    theta0 = TMSSparsePotential(n, m).flatten(start["W"], start["b"])
    free = _free(n, m, start["zero_columns"])
    models: dict[float, TMSSparsePotential] = {}

    def model_at(p: float) -> TMSSparsePotential:
        if p not in models:
            models[p] = TMSSparsePotential(n, m, sparsity=sparsity_of(p), importance=importance)
        return models[p]

    def family(p: float) -> FixedCoordinates:
        return FixedCoordinates(model_at(p), theta0, free)

    def spectrum(p: float, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return kink_spectrum(model_at(p), FixedCoordinates(model_at(p), theta0, free).full(theta),
                             free)

    start_family = family(parameter_of(START_SPARSITY))
    if newton_correct(start_family, theta0[free], GTOL, 10, [0]) is None:
        # the zero columns' biases as S → 1: a + column's (1 − S)/2 tends to 0
        one_hot_biases = {j: min(float(entry["b"][j]), 0.0) for j in start["zero_columns"]}
        slide = flat_set_start(lambda S: family(parameter_of(S)), theta0[free],
                               START_SPARSITY, importance, one_hot_biases)
        record["start"]["flat_set"] = slide.to_json()
        if slide.accepted:
            theta0 = start_family.full(slide.theta)
    stop = parameter_of(stop_sparsity) if stop_sparsity > 0 else 0.0
    settings = {"certify": [parameter_of(s) for s in certify], "dps": dps, "grid": GRID,
                "spectrum": spectrum, "gtol": GTOL}
    branch, passage = follow_through(family, theta0[free], parameter_of(START_SPARSITY), stop,
                                     **settings)
    fold = None
    if passage is not None:
        beyond = None
        if passage.passed:  # the far side, back towards S = 1
            far = passage.arc[-1]
            beyond = follow_branch(family, far.theta, far.parameter,
                                   parameter_of(START_SPARSITY), grid=GRID, spectrum=spectrum,
                                   gtol=GTOL)
        fold = (passage, beyond)
    slide = record["start"].get("flat_set")
    if not branch.points and slide is not None and not slide["accepted"]:
        branch.end_reason += (
            "; Levenberg–Marquardt from θ̃ reached "
            + (f"a critical point {slide['moved']:.3g} away whose one-hot gradient norm "
               f"does not shrink with 1 − S ({slide['one_hot_gradient_norms'][0]:.3g} → "
               f"{slide['one_hot_gradient_norms'][1]:.3g} at S = "
               f"{slide['sparsities'][0]:g} → {slide['sparsities'][1]:g}; one-hot loss change "
               f"{slide['one_hot_loss_changes'][1]:.3g}): not in θ̃'s one-hot critical set"
               if max(slide["gradient_norms"]) <= GTOL else
               f"only ‖∇L_S‖ = {max(slide['gradient_norms']):.3g}"))
    record.update(branch_json(branch, theta0, free, n))
    if fold is not None:
        record["fold"] = fold_json(*fold, theta0, free, n)
    return record


#: A bias is moved this far off the kinks it sits on to read the Hessian on either side (the
#: branch points sit on them to rounding, ~10⁻¹⁵; the Hessian is continuous on each closed side).
KINK_SHIFT = 1e-10
#: Switching values within this of zero count as kinks the point sits on.
KINK_ATOL = 1e-9


def kink_spectrum(model: TMSSparsePotential, theta: np.ndarray, free: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The Hessian eigenvalues that decide a branch point's index, and its Hessian on ``free``.

    Off the kinks: those of ∇²L_S. On a kink where the Hessian jumps (a bias b_j = 0, a
    one-hot block with G_ij + b_j = 0: :meth:`TMSSparsePotential.hessian_jumps`) a single
    evaluation reads one side, chosen by the sign of rounding (measured: along `4++~1`'s
    stretch on b₁ = 0, b₁ = ±10⁻¹⁵ read index 0 or 4 by its sign). Each side is read
    (those biases moved by ±:data:`KINK_SHIFT`, every sign pattern for up to three of them,
    all-minus and all-plus beyond) and the spectrum with the most negative eigenvalues is
    returned: negative curvature on one closed side is a descent, so no side may hide it."""
    H = np.asarray(model.hessian(theta), dtype=float)
    values = np.linalg.eigvalsh(H)
    columns = sorted({jump[1] for jump in model.hessian_jumps(theta, KINK_ATOL)})
    if columns:
        n, m = model.n, model.m
        patterns = (itertools.product((-1.0, 1.0), repeat=len(columns)) if len(columns) <= 3
                    else ((-1.0,) * len(columns), (1.0,) * len(columns)))

        def negative(v):
            return int((v < -1e-9 * max(1.0, float(np.abs(v).max()))).sum())

        for signs in patterns:
            shifted = np.array(theta, dtype=float)
            for j, sign in zip(columns, signs):
                shifted[m * n + j] += sign * KINK_SHIFT
            side = np.linalg.eigvalsh(np.asarray(model.hessian(shifted), dtype=float))
            if negative(side) > negative(values):
                values = side
    return values, H[np.ix_(free, free)]


def fold_json(passage: ArcPassage, beyond: Branch | None, theta0: np.ndarray,
              free: np.ndarray, n: int) -> dict:
    """The fold a branch ended at (:func:`critpoints.solve.continuation.continue_by_arclength`)
    and the branch beyond it, followed back towards S = 1 (``beyond``: its points as the
    branch's own, on the common grid; ``partner`` is filled in by :func:`fold_partners`)."""
    theta = np.array(theta0, dtype=float)
    theta[free] = passage.fold_theta
    out = {"sparsity": _round(sparsity_of(passage.fold_parameter), 12),
           "bracket": [_round(sparsity_of(p), 12) for p in reversed(passage.fold_bracket)],
           "loss": passage.fold_loss,
           "theta": theta.tolist(),
           "arc_points": len(passage.arc),
           "passed": passage.passed,
           "reason": passage.reason,
           "index_beyond": passage.arc[-1].index if passage.passed else None}
    if beyond is not None:
        out["beyond"] = branch_json(beyond, theta0, free, n)
    out["partner"] = None
    return out


#: Two branch points (W, b) are the same critical point when one lies within this of the
#: other's orbit (max norm; float64 branch points are accepted at ‖∇L‖ ≤ GTOL).
SAME_POINT = 1e-6


def fold_partners(records: list[dict], n: int, m: int) -> None:
    """Name, in place, the branch each fold's far side is: the followed branch whose points on
    the common grid coincide with the far side's (up to O(m) × S_n) at every grid sparsity
    both hold, at least one. A far side that matches none is another branch of L_S, one that
    no catalogued one-hot point starts (``partner`` stays None)."""
    from critpoints.tms.symmetry import same_orbit

    def grid_points(points):
        return {point["sparsity"]: point for point in points
                if any(point["sparsity"] == _round(sparsity_of(p), 12) for p in GRID)}

    def parameters(point):
        theta = np.asarray(point["theta"], dtype=float)
        return theta[:m * n].reshape(m, n), theta[m * n:]

    for record in records:
        fold = record.get("fold")
        if not fold or "beyond" not in fold:
            continue
        mine = grid_points(fold["beyond"]["points"])
        for other in records:
            if other is record or not other["points"]:
                continue
            theirs = grid_points(other["points"])
            common = sorted(set(mine) & set(theirs))
            if common and all(
                    abs(mine[S]["loss"] - theirs[S]["loss"]) <= 1e-9
                    and same_orbit(*parameters(mine[S]), *parameters(theirs[S]),
                                   atol=SAME_POINT) for S in common):
                fold["partner"] = {"id": other["id"], "grid_points": len(common)}
                break


def branch_json(branch: Branch, theta0: np.ndarray, free: np.ndarray, n: int) -> dict:
    points = []
    certified = []
    for point in branch.points:
        theta = np.array(theta0, dtype=float)
        theta[free] = point.theta
        values = np.abs(point.eigenvalues)
        tolerance = 1e-9 * max(1.0, float(values.max()))
        nonzero = values[values > tolerance]
        points.append({
            "sparsity": _round(sparsity_of(point.parameter), 12),
            "loss": point.loss,
            "grad_norm": point.grad_norm,
            "index": point.index,
            "zero_modes": point.zero,
            "smallest_eigenvalue": float(point.eigenvalues[0]),
            "smallest_nonzero_abs_eigenvalue": float(nonzero.min()) if nonzero.size else 0.0,
            "theta": theta.tolist(),
        })
        if point.certified is not None:
            certified.append({"sparsity": _round(sparsity_of(point.parameter), 12),
                              **point.certified})
    events = []
    for event in branch.events:
        out = {"kind": event["kind"],
               "between": [_round(sparsity_of(p), 12) for p in event["between"]]}
        if event["kind"] == "index-change":
            out["index"] = event["index"]
            out["crossing"] = (None if event["crossing"] is None
                               else _round(sparsity_of(event["crossing"]), 8))
        elif event["kind"] == "boundary-crossing":
            # switching functions: the vertex values b_j + Σ_{i∈V} G_ij, V = ∅ first (n of
            # them: the biases), then the sets of one, two, … features
            changed = event["switching_functions"]
            out["biases_through_zero"] = [k for k in changed if k < n]
            out["vertex_values_through_zero"] = len(changed)
        events.append(out)
    last = branch.points[-1] if branch.points else None
    end = {"kind": branch.end,
           "sparsity": _round(sparsity_of(last.parameter), 12) if last else None,
           "reason": branch.end_reason}
    return {"points": points, "certified": certified, "events": events, "end": end,
            "corrector_failures": branch.corrector_failures}


def _round(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}")


def exact_gradient_norm(record_point: dict, n: int, m: int, sparsity: float, dps: int,
                        importance: Any = None):
    """‖∇L_S‖ at ``dps`` digits at a certified point's stored decimal strings (for re-checks)."""
    model = TMSSparsePotential(n, m, sparsity=sparsity, importance=importance)
    with mpmath.workdps(dps):
        theta = np.array([mpmath.mpf(v) for v in record_point["theta_exact"]], dtype=object)
        _, grad = model.loss_and_gradient(theta, dps=dps)
        return mpmath.sqrt(mpmath.fsum(g * g for g in grad))


def _follow_job(job) -> dict:
    entry, n, m, stop, certify, dps, importance = job
    return follow_entry(entry, n, m, stop_sparsity=stop, certify=certify, dps=dps,
                        importance=importance)


def follow_catalog(entries: list[dict], n: int, m: int = 2, *, stop_sparsity: float = 0.0,
                   certify: tuple = CERTIFY, dps: int = 60, importance: Any = None,
                   workers: int = 1, progress=None, on_record=None,
                   certify_ids=None) -> list[dict]:
    """:func:`follow_entry` for every entry (in ``workers`` processes; the same records for
    any number), in the entries' order; ``on_record(records so far)`` after each one. Only the
    branches of ``certify_ids`` (default: all) are refined at the ``certify`` sparsities."""
    jobs = [(entry, n, m, stop_sparsity,
             tuple(certify) if certify_ids is None or entry["id"] in certify_ids else (), dps,
             importance) for entry in entries]
    return mapped(_follow_job, jobs, workers, progress or (lambda stage, done, total: None),
                  "branches", on_record)


def global_minimum(branches: list[dict]) -> list[dict]:
    """At every grid sparsity: the branch with the lowest loss among those alive there, and
    its Hessian index (a grid point of a branch is hit exactly by the continuation)."""
    out = []
    for p in GRID:
        S = _round(sparsity_of(p), 12)
        best = None
        for branch in branches:
            for point in branch["points"]:
                if point["sparsity"] == S and (best is None or point["loss"] < best[1]["loss"]):
                    best = (branch["id"], point)
        if best is not None:
            out.append({"sparsity": S, "id": best[0], "loss": best[1]["loss"],
                        "index": best[1]["index"]})
    return out


def branches_document(branches: list[dict], *, n: int, m: int, catalog_file: str,
                      catalog_command: str, entries: int, command: str,
                      stop_sparsity: float = 0.0, certify: tuple = CERTIFY, dps: int = 60,
                      importance: Any = None, certify_ids=None) -> dict:
    """The ``critpoints.sparsity-branches`` document of :func:`follow_catalog`'s records."""
    from critpoints import __version__
    from critpoints.documents import SPARSITY_BRANCHES, new_document

    fold_partners(branches, n, m)
    return new_document(SPARSITY_BRANCHES, {
        "generator": {"package": "critpoints", "version": __version__, "command": command},
        "catalog": {"file": catalog_file, "command": catalog_command, "entries": entries},
        "model": {"kind": "tms-finite-sparsity", "n": n, "m": m,
                  "importance": [float(v) for v in importance] if importance is not None
                  else [1.0] * n},
        "settings": {"parameter": "p = log10(1 - S), followed from p = -3 (S = 0.999) upward",
                     "start_sparsity": START_SPARSITY, "stop_sparsity": stop_sparsity,
                     "grid": [_round(sparsity_of(p), 12) for p in GRID],
                     "certify": list(certify), "dps": dps, "gradient_tolerance": 1e-11,
                     "certified_branches": "all" if certify_ids is None else list(certify_ids)},
        "branches": branches,
        "global_minimum": global_minimum(branches),
    })
