"""Natural-parameter continuation of a critical point through a family of potentials.

A family ``family(p) -> Potential`` (here p = log₁₀(1 − S) for the TMS potential at sparsity
S, but nothing in this module knows that) and a critical point θ₀ of ``family(p₀)``: the branch
θ(p) with ∇L_p(θ(p)) = 0 is followed with predictor–corrector steps in p,

* predictor: the secant through the last two accepted points (the point itself at the first
  step);
* corrector: Newton steps −H⁺g (H⁺ the float64 pseudo-inverse with eigenvalues below 10⁻¹⁰ of
  the largest dropped: the symmetry orbit and flat directions; chord steps with the Hessian of
  the last accepted point while they gain 30× a step), accepted when ‖g‖ ≤ ``gtol``
  within ``corrector_steps`` steps and the correction is no longer than ``max_jump``;
* step control: a step that needs ≤ 4 corrections grows by 1.5 (at most ``max_step``), one
  that fails is halved; below ``min_step`` the branch ends there.

At every accepted point the Hessian spectrum is stored, and between consecutive points the
events are detected: the number of negative eigenvalues changes (an eigenvalue through zero: a
bifurcation or, where the branch then ends, a fold), or a switching function of the potential
(``potential.switching_functions``: where an activation boundary lies) changes sign. A branch
that ends before ``stop`` ends either at a fold (the smallest |eigenvalue| falls towards zero
as the step shrinks: the branch turns back, natural-parameter continuation cannot pass it) or
where the corrector fails for another reason (a non-smooth point ahead); the record says which
by the last eigenvalues. The points at the ``certify`` parameters are hit exactly and refined at
``dps`` digits by :func:`critpoints.solve.newton.polish`.

Everything takes the potential through the Potential protocol; the solvers know no model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from critpoints.solve.newton import polish

__all__ = ["Branch", "BranchPoint", "follow_branch"]


@dataclass
class BranchPoint:
    """One accepted point of a branch."""

    parameter: float
    theta: np.ndarray
    loss: float
    grad_norm: float
    eigenvalues: np.ndarray  # ascending
    index: int  # eigenvalues below −tolerance
    zero: int  # |eigenvalue| ≤ tolerance
    switching_signs: np.ndarray | None = None
    certified: dict | None = None  # {"dps", "theta_exact" (strings), "grad_norm"}
    hessian: np.ndarray | None = None  # of the family's potential (the next chord matrix)


@dataclass
class Branch:
    """A followed branch: its points in order of the parameter, the events between them and
    how it ended (``end``: "reached" or "fold" or "corrector-failed", with ``end_reason``)."""

    points: list[BranchPoint] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    end: str = "reached"
    end_reason: str = ""
    corrector_failures: int = 0
    potential_evaluations: int = 0


def _pseudo_inverse(H: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(H)
    keep = np.abs(values) > 1e-10 * max(np.abs(values).max(), 1e-300)
    return (vectors[:, keep] / values[keep]) @ vectors[:, keep].T


def newton_correct(potential: Any, theta: np.ndarray, gtol: float, steps: int, counter: list,
                   H: np.ndarray | None = None):
    """Newton with the pseudo-inverse, (θ, ‖g‖, corrections) or None if it fails.

    With ``H`` (the Hessian at the last accepted point) the first corrections are chord steps
    with it; the Hessian is re-evaluated at the current point when a step gains less than 30×.
    """
    inverse = _pseudo_inverse(H) if H is not None else None
    previous = np.inf
    for done in range(steps + 1):
        _, g = potential.loss_and_gradient(theta)
        counter[0] += 1
        g = np.asarray(g, dtype=float)
        norm = float(np.sqrt(g @ g))
        if not np.isfinite(norm):
            return None
        if norm <= gtol:
            return theta, norm, done
        if done == steps:
            return None
        if inverse is None or norm > previous / 30:
            inverse = _pseudo_inverse(potential.hessian(theta))
            counter[0] += 1
        previous = norm
        theta = theta - inverse @ g
    return None


def follow_branch(
    family: Callable[[float], Any],
    theta0: Any,
    start: float,
    stop: float,
    *,
    first_step: float = 0.125,
    max_step: float = 0.25,
    min_step: float = 1e-3,
    gtol: float = 1e-10,
    corrector_steps: int = 10,
    max_jump: float = 0.05,
    certify: Sequence[float] = (),
    dps: int = 60,
    exact: Callable[[float, np.ndarray], Any] | None = None,
    grid: Sequence[float] = (),
    spectrum: Callable[[float, np.ndarray], np.ndarray] | None = None,
) -> Branch:
    """Follow the critical point ``theta0`` of ``family(start)`` to ``stop`` (either direction).

    Parameters
    ----------
    family : callable
        ``family(p)`` is the Potential at parameter p (float64 ``loss_and_gradient`` and
        ``hessian`` on θ; ``switching_functions`` if it has activation boundaries).
    theta0 : array_like
        A point near a critical point of ``family(start)`` (corrected first).
    start, stop : float
        The parameter range.
    first_step, max_step, min_step : float
        Step control in the parameter (absolute values).
    gtol : float
        Gradient norm at which a corrector accepts (float64).
    corrector_steps : int
        Newton corrections per step at most.
    max_jump : float
        Largest ‖θ_corrected − θ_predicted‖ / (1 + ‖θ‖) accepted: a longer correction has
        probably jumped to another branch, and the step is retried shorter.
    certify : sequence of float
        Parameters at which the branch point is hit exactly and refined at ``dps`` digits.
    dps : int
        Precision of the certified points.
    exact : callable, optional
        ``exact(p, θ)``: the potential on which the certified point is polished (the family's
        own by default); lets a caller pin coordinates exactly.
    grid : sequence of float
        Parameters hit exactly as well (not certified): common abscissae for several branches.
    spectrum : callable, optional
        ``spectrum(p, θ) -> (eigenvalues, H)``: the Hessian eigenvalues that decide the index
        and the family's Hessian at θ (default: both of ``family(p)``); lets a caller
        restricted to some coordinates see the full Hessian's spectrum.

    Returns
    -------
    Branch
    """
    direction = 1.0 if stop >= start else -1.0
    certify = [p for p in certify if min(start, stop) <= p <= max(start, stop)]
    targets = sorted({*certify, *(p for p in grid if min(start, stop) <= p <= max(start, stop))},
                     key=lambda p: direction * p)
    counter = [0]
    branch = Branch()
    corrected = newton_correct(family(start), np.array(theta0, dtype=float), gtol,
                               corrector_steps, counter)
    if corrected is None:
        branch.end = "corrector-failed"
        branch.end_reason = f"no critical point at the start {start}"
        branch.potential_evaluations = counter[0]
        return branch
    _accept(branch, family, start, corrected[0], corrected[1], certify, dps, exact, counter,
            spectrum)
    step = first_step
    p = start
    while direction * (stop - p) > 1e-12:
        h = min(step, direction * (stop - p))
        ahead = [t for t in targets if direction * (t - p) > 1e-12]
        if ahead and direction * (ahead[0] - p) < h + 1e-12:
            h = direction * (ahead[0] - p)
        clipped = h < step  # shortened to land on a target: the step size is kept
        p_new = p + direction * h
        last = branch.points[-1]
        if len(branch.points) >= 2:
            prev = branch.points[-2]
            slope = (last.theta - prev.theta) / (last.parameter - prev.parameter)
            predicted = last.theta + slope * (p_new - last.parameter)
        else:
            predicted = last.theta
        result = newton_correct(family(p_new), predicted, gtol, corrector_steps, counter,
                                last.hessian)
        jump = (np.linalg.norm(result[0] - predicted) / (1 + np.linalg.norm(predicted))
                if result is not None else np.inf)
        if result is None or jump > max_jump:
            branch.corrector_failures += 1
            step = h / 2
            if step < min_step:
                branch.end = "fold" if _near_fold(branch) else "corrector-failed"
                branch.end_reason = (
                    f"no corrected point beyond {p:.6g} with steps down to {min_step:g}"
                    + (" (smallest |eigenvalue| falling towards 0)" if branch.end == "fold"
                       else ""))
                break
            continue
        _accept(branch, family, p_new, result[0], result[1], certify, dps, exact, counter,
                spectrum)
        p = p_new
        if not clipped:
            step = min(max_step, h * 1.5) if result[2] <= 4 else h
    branch.potential_evaluations = counter[0]
    return branch


def _near_fold(branch: Branch) -> bool:
    """Whether the smallest nonzero |eigenvalue| (the zero modes set aside) has fallen by 3×
    over the last accepted points: the branch is turning back."""
    if len(branch.points) < 3:
        return False
    smallest = []
    for point in branch.points[-3:]:
        values = np.abs(point.eigenvalues)
        tolerance = 1e-9 * max(1.0, values.max())
        nonzero = values[values > tolerance]
        smallest.append(nonzero.min() if nonzero.size else 0.0)
    return smallest[-1] < smallest[0] / 3


def _accept(branch: Branch, family, p: float, theta: np.ndarray, grad_norm: float, targets,
            dps: int, exact, counter: list, spectrum=None) -> None:
    potential = family(p)
    if spectrum is None:
        H = potential.hessian(theta)
        eigenvalues = np.linalg.eigvalsh(H)
    else:
        eigenvalues, H = spectrum(p, theta)
        eigenvalues = np.sort(np.asarray(eigenvalues, dtype=float))
    counter[0] += 1
    tolerance = 1e-9 * max(1.0, float(np.abs(eigenvalues).max()))
    loss = float(potential.loss(theta))
    signs = None
    if hasattr(potential, "switching_functions"):
        values, _ = potential.switching_functions(theta)
        signs = np.sign(np.where(np.abs(values) <= 1e-12, 0.0, values)).astype(int)
    point = BranchPoint(p, np.array(theta, dtype=float), loss, grad_norm, eigenvalues,
                        int((eigenvalues < -tolerance).sum()),
                        int((np.abs(eigenvalues) <= tolerance).sum()), signs, hessian=H)
    if any(abs(p - t) <= 1e-12 for t in targets):
        target = exact(p, theta) if exact is not None else potential
        # θ is in the family's coordinates; a restricted potential (``full``) reports the
        # refined point with its fixed coordinates
        result = polish(target, np.asarray(theta, dtype=float), dps=dps,
                        tol=mpmath.mpf(10) ** (20 - dps))
        full = target.full(result.theta) if hasattr(target, "full") else result.theta
        with mpmath.workdps(dps):
            point.certified = {
                "dps": dps,
                "success": bool(result.success),
                "grad_norm": float(result.grad_norm),
                "theta_exact": [mpmath.nstr(v, dps, min_fixed=-5, max_fixed=5) for v in full],
            }
    if branch.points:
        last = branch.points[-1]
        if point.index != last.index:
            branch.events.append(_index_event(last, point))
        if signs is not None and last.switching_signs is not None:
            changed = np.flatnonzero(signs != last.switching_signs)
            if changed.size:
                branch.events.append({
                    "kind": "boundary-crossing",
                    "between": [last.parameter, p],
                    "switching_functions": changed.tolist(),
                })
    branch.points.append(point)


def _index_event(before: BranchPoint, after: BranchPoint) -> dict:
    """An eigenvalue through zero between two points, located by linear interpolation of the
    eigenvalue that changed sign (sorted spectra: the ``index``-th one)."""
    i = min(before.index, after.index)
    j = max(before.index, after.index) - 1
    # the eigenvalues that crossed are those between the two indices in the sorted spectra
    crossing = []
    for r in range(i, j + 1):
        a, b = before.eigenvalues[r], after.eigenvalues[r]
        if a != b:
            crossing.append(before.parameter + (after.parameter - before.parameter) * a / (a - b))
    return {
        "kind": "index-change",
        "between": [before.parameter, after.parameter],
        "index": [before.index, after.index],
        "crossing": float(np.mean(crossing)) if crossing else None,
    }
