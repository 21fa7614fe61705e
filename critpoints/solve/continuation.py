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
where the corrector fails for another reason (a non-smooth point ahead); the record guesses
which by the last eigenvalues. The points at the ``certify`` parameters are hit exactly and
refined at ``dps`` digits by :func:`critpoints.solve.newton.polish`.

That guess is not a verdict: :func:`follow_through` takes every early end on by
pseudo-arclength (:func:`continue_by_arclength`, in the unknowns (θ, p)), and a branch ends at a
fold only where the arc's parameter turns; where the arc crosses without turning the branch
goes on, and where it fails too the end is a corrector failure.

Everything takes the potential through the Potential protocol; the solvers know no model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from critpoints.solve.newton import polish

__all__ = [
    "ArcPassage",
    "Branch",
    "BranchPoint",
    "continue_by_arclength",
    "follow_branch",
    "follow_through",
]


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


#: The parameter must come back by this from its extreme along the arc before the arc counts as
#: turned (a fold): an arc squeezed against a bound of the family, with steps of 10⁻⁷, can
#: wander back by rounding amounts.
TURN = 1e-4


@dataclass
class ArcPassage:
    """The branch followed past where natural continuation stopped, by pseudo-arclength
    (:func:`continue_by_arclength`): round a fold, or through a singular point it could not
    step over (a bifurcation, a nearly singular Hessian).

    ``arc``: the accepted points in order of arclength (the first two are the natural branch's
    last two), ``events`` the index changes and boundary crossings between them (as
    :class:`Branch`'s). ``fold_parameter``, ``fold_theta``, ``fold_loss``: where the parameter
    turns, the arc point at which the tangent has no parameter component (``fold_bracket``:
    the parameters of the arc points on either side of the extreme).
    ``turned``: the parameter went through an extreme (the branch did end at a fold, whatever
    the natural continuation's guess from its eigenvalues); ``passed``: it then came back by
    ``back``, the index having changed by one, and ``arc[-1]`` starts the branch on the far
    side. ``crossed``: the arc went on in the same direction, by ``back`` past the natural
    end, without turning: no fold there, and ``arc[-1]`` continues the branch itself.
    """

    arc: list[BranchPoint] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    turned: bool = False
    passed: bool = False
    crossed: bool = False
    fold_parameter: float | None = None
    fold_bracket: tuple[float, float] | None = None
    fold_loss: float | None = None
    fold_theta: np.ndarray | None = None
    reason: str = ""
    potential_evaluations: int = 0


def _parameter_derivative(family: Callable[[float], Any], theta: np.ndarray, p: float,
                          counter: list, epsilon: float = 1e-5,
                          bounds: tuple[float, float] = (-np.inf, np.inf)) -> np.ndarray:
    """∂∇L_p/∂p at θ by central differences, one-sided at the ``bounds`` (the potentials here
    are smooth in p: the error is O(ε²), or O(ε) at a bound, far below what the corrector
    needs)."""
    high, low = min(p + epsilon, bounds[1]), max(p - epsilon, bounds[0])
    plus = np.asarray(family(high).loss_and_gradient(theta)[1], dtype=float)
    minus = np.asarray(family(low).loss_and_gradient(theta)[1], dtype=float)
    counter[0] += 2
    return (plus - minus) / (high - low)


def _arc_matrix(H: np.ndarray, gradient_p: np.ndarray) -> np.ndarray:
    """[[H, ∂_p g], [Zᵀ, 0]]: the Jacobian of ∇L in (θ, p), with rows that keep a step off the
    zero modes Z of H that ∂_p g does not see (symmetry orbit and flat directions: moving along
    them changes nothing; a fold's own null direction is seen by ∂_p g and is kept)."""
    values, vectors = np.linalg.eigh(H)
    scale = max(float(np.abs(values).max()), 1e-300)
    norm_p = max(float(np.linalg.norm(gradient_p)), 1e-300)
    zero = (np.abs(values) <= 1e-9 * scale) & (np.abs(vectors.T @ gradient_p) <= 1e-6 * norm_p)
    Z = vectors[:, zero]
    top = np.hstack([H, gradient_p[:, None]])
    bottom = np.hstack([Z.T, np.zeros((Z.shape[1], 1))])
    return np.vstack([top, bottom])


def _tangent(M: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """The unit null vector of M (its last right singular vector), oriented along ``previous``."""
    t = np.linalg.svd(M)[2][-1]
    return t if t @ previous >= 0 else -t


def continue_by_arclength(
    family: Callable[[float], Any],
    branch: Branch,
    *,
    gtol: float = 1e-10,
    first_step: float = 1e-3,
    max_step: float = 0.05,
    min_step: float = 1e-7,
    corrector_steps: int = 10,
    back: float = 0.01,
    max_points: int = 400,
    spectrum: Callable[[float, np.ndarray], np.ndarray] | None = None,
    bounds: tuple[float, float] = (-np.inf, np.inf),
) -> ArcPassage:
    """Follow a branch past where natural continuation stopped, by pseudo-arclength.

    Natural-parameter continuation cannot pass a fold: there the branch θ(p) turns back and
    the Hessian is singular along it (nor, often, a bifurcation, where it is singular too). In
    the unknowns x = (θ, p) the branch is a smooth curve through a fold: each step predicts
    x + h t along the unit tangent t (the null vector of the Jacobian [H, ∂_p ∇L], off the zero
    modes ∂_p ∇L does not see) and corrects by Gauss–Newton on ∇L_p(θ) = 0 with
    t·(x − x_pred) = 0. The passage ends once the parameter has come back by ``back`` from its
    extreme with the index changed by one (``passed``), or has gone ``back`` beyond the
    natural end (or half the way to the bound, if nearer) without turning (``crossed``), or
    after ``max_points`` points, or when the step falls below ``min_step``.

    ``branch``: a :func:`follow_branch` result that ended before its ``stop`` (its last two
    points give the tangent's orientation); whether that end was a fold is decided here, by
    the parameter turning (``turned``), not by the eigenvalues. ``spectrum`` as for
    :func:`follow_branch` (the index is read from it). ``bounds``: the parameters at which the
    family exists; a step that would leave them is shortened.
    """
    passage = ArcPassage()
    counter = [0]
    if len(branch.points) < 2:
        passage.reason = "fewer than two branch points before the fold"
        return passage
    before, last = branch.points[-2], branch.points[-1]
    x = np.append(last.theta, last.parameter)
    direction = np.append(last.theta - before.theta, last.parameter - before.parameter)
    scratch = Branch(points=[last])  # _accept's records and events, from the fold's near side
    step = first_step
    extreme = last.parameter
    heading = np.sign(last.parameter - before.parameter)
    turned = False
    while len(scratch.points) < max_points:
        p = float(x[-1])
        H = np.asarray(family(p).hessian(x[:-1]), dtype=float)
        counter[0] += 1
        gradient_p = _parameter_derivative(family, x[:-1], p, counter, bounds=bounds)
        t = _tangent(_arc_matrix(H, gradient_p), direction)
        corrected = None
        while step >= min_step:
            predicted = x + step * t
            corrected = _arc_correct(family, predicted, t, gtol, corrector_steps, counter,
                                     bounds)
            if corrected is not None and np.linalg.norm(corrected[0] - predicted) <= step / 2:
                break
            corrected = None
            step /= 2
        if corrected is None:
            passage.reason = (f"no corrected arc point beyond p = {p:.6g} with steps down to "
                              f"{min_step:g}")
            break
        direction = corrected[0] - x
        x = corrected[0]
        _accept(scratch, family, float(x[-1]), x[:-1], corrected[1], (), 0, None, counter,
                spectrum)
        point = scratch.points[-1]
        step = min(max_step, step * 1.5)
        if heading * (point.parameter - extreme) > 0:
            extreme = point.parameter
        elif heading * (extreme - point.parameter) >= TURN:
            turned = True
        # past by ``back``, or by half the way to the bound where that is nearer
        past = min(back, 0.5 * heading * (bounds[1 if heading > 0 else 0] - last.parameter))
        if not turned and heading * (point.parameter - last.parameter) >= past:
            passage.crossed = True
            break
        if turned and heading * (extreme - point.parameter) >= back:
            if abs(point.index - last.index) == 1:
                passage.passed = True
            else:
                passage.reason = (f"the parameter turned back, but the index went from "
                                  f"{last.index} to {point.index}")
            break
    else:
        passage.reason = f"{max_points} arc points without coming back by {back:g}"
    passage.arc = [before, *scratch.points]
    passage.events = scratch.events
    passage.turned = turned
    if turned:
        _locate_fold(family, passage, heading, gtol, corrector_steps, counter, bounds)
    passage.potential_evaluations = counter[0]
    return passage


def _arc_correct(family, x: np.ndarray, t: np.ndarray, gtol: float, steps: int,
                 counter: list, bounds: tuple[float, float] = (-np.inf, np.inf)
                 ) -> tuple[np.ndarray, float] | None:
    """Gauss–Newton on (∇L_p(θ) = 0, t·(x − x₀) = 0) from x₀ = x; (point, ‖∇L‖) or None (also
    when an iterate leaves the parameter ``bounds``)."""
    anchor = x.copy()
    for _ in range(steps + 1):
        p = float(x[-1])
        if not bounds[0] <= p <= bounds[1]:
            return None
        g = np.asarray(family(p).loss_and_gradient(x[:-1])[1], dtype=float)
        counter[0] += 1
        if not np.all(np.isfinite(g)):
            return None
        norm = float(np.linalg.norm(g))
        if norm <= gtol:
            return x, norm
        H = np.asarray(family(p).hessian(x[:-1]), dtype=float)
        counter[0] += 1
        M = _arc_matrix(H, _parameter_derivative(family, x[:-1], p, counter, bounds=bounds))
        d = len(g)
        A = np.vstack([M[:d], t[None, :], M[d:]])
        rhs = np.concatenate([-g, [-(t @ (x - anchor))], np.zeros(len(M) - d)])
        x = x + np.linalg.lstsq(A, rhs, rcond=None)[0]
    return None


def _locate_fold(family, passage: ArcPassage, heading: float, gtol: float,
                 corrector_steps: int, counter: list, bounds: tuple[float, float]) -> None:
    """The fold: where the tangent's parameter component t_p changes sign along the arc.

    Between the arc points on either side of the parameter's extreme, secant steps on t_p(s)
    (s the arclength from the near point) land on the arc by the corrector; the loss is read
    there. (A parabola through the arc points would leave an error of the order of the cube of
    their spacing: along the arc L − L_fold grows like s² from ∂_p L and like s³ from the third
    derivative along the fold's null direction.)"""
    arc = passage.arc
    k = max(range(len(arc)), key=lambda i: heading * arc[i].parameter)
    k = min(max(k, 1), len(arc) - 2)

    def state(point_theta, parameter):
        x = np.append(point_theta, parameter)
        H = np.asarray(family(parameter).hessian(point_theta), dtype=float)
        counter[0] += 1
        M = _arc_matrix(H, _parameter_derivative(family, point_theta, parameter, counter,
                                                  bounds=bounds))
        return x, M

    near, M_near = state(arc[k - 1].theta, arc[k - 1].parameter)
    far, M_far = state(arc[k + 1].theta, arc[k + 1].parameter)
    forward = far - near
    t_near, t_far = _tangent(M_near, forward), _tangent(M_far, forward)
    passage.fold_bracket = tuple(sorted((float(near[-1]), float(far[-1]))))
    best = (near, t_near)
    for _ in range(8):
        span = float(np.linalg.norm(far - near))
        if t_near[-1] == t_far[-1] or span <= 1e-14:
            break
        s = span * t_near[-1] / (t_near[-1] - t_far[-1])
        corrected = _arc_correct(family, near + s * t_near, t_near, gtol, corrector_steps,
                                 counter, bounds)
        if corrected is None:
            break
        x, M = state(corrected[0][:-1], float(corrected[0][-1]))
        t = _tangent(M, forward)
        best = (x, t)
        if abs(t[-1]) <= 1e-12:
            break
        if np.sign(t[-1]) == np.sign(t_near[-1]):
            near, t_near = x, t
        else:
            far, t_far = x, t
    x = best[0]
    if heading * (x[-1] - arc[k].parameter) < -1e-12:
        # the turn lies beyond every arc point in p: the secant went astray, keep the extreme
        x = np.append(arc[k].theta, arc[k].parameter)
    passage.fold_parameter = float(x[-1])
    passage.fold_loss = float(family(float(x[-1])).loss(x[:-1]))
    passage.fold_theta = x[:-1]


#: Times a branch is taken past a point natural continuation could not step over.
MAX_PASSAGES = 8


def follow_through(family: Callable[[float], Any], theta0: Any, start: float, stop: float,
                   max_passages: int = MAX_PASSAGES, **settings: Any
                   ) -> tuple[Branch, ArcPassage | None]:
    """:func:`follow_branch`, taken on by :func:`continue_by_arclength` wherever it stops
    before ``stop``; (the branch, the passage of the fold it ends at or None).

    Where the arc crosses without turning, the branch goes on from the arc's end (an
    ``arclength`` event records the stretch; at most ``max_passages`` times); where it turns,
    the branch ends at a fold (``end`` "fold"); otherwise "corrector-failed" with the arc's
    reason. A fold is what an arc shows: the eigenvalue-trend guess of :func:`follow_branch`
    never stands alone. ``settings``: :func:`follow_branch`'s keywords (``gtol`` and
    ``spectrum`` are used by the arc as well); the arc stays between ``start`` and ``stop``.
    """
    branch = follow_branch(family, theta0, start, stop, **settings)
    arc_settings = {k: settings[k] for k in ("gtol", "spectrum") if k in settings}
    bounds = (min(start, stop), max(start, stop))
    fold = None
    for _ in range(max_passages):
        if branch.end == "reached" or len(branch.points) < 2:
            break
        passage = continue_by_arclength(family, branch, bounds=bounds, **arc_settings)
        if passage.crossed:
            resumed = follow_branch(family, passage.arc[-1].theta, passage.arc[-1].parameter,
                                    stop, **settings)
            _extend(branch, passage, resumed)
            continue
        if passage.turned:
            branch.end = "fold"
            fold = passage
        else:
            branch.end = "corrector-failed"
            branch.end_reason += "; the arc did not get past it either: " + passage.reason
        break
    if branch.end == "fold" and fold is None:
        branch.end = "corrector-failed"
        branch.end_reason += "; not examined by arclength"
    return branch, fold


def _extend(branch: Branch, passage: ArcPassage, resumed: Branch) -> None:
    """Append, in place, the arc past the natural end and the branch resumed from its last
    point (whose first point is that arc point again)."""
    new = passage.arc[2:]  # the first two are the natural branch's last two
    branch.events.append({"kind": "arclength",
                          "between": [passage.arc[1].parameter, new[-1].parameter]})
    branch.events += passage.events
    branch.points += new + resumed.points[1:]
    branch.events += resumed.events
    branch.end, branch.end_reason = resumed.end, resumed.end_reason
    branch.corrector_failures += resumed.corrector_failures
    branch.potential_evaluations += passage.potential_evaluations + resumed.potential_evaluations
