"""Classification of a critical point of the TMS potential from its Hessian and, where the
Hessian cannot decide, from the loss around it.

Tolerance rule. The Hessian is evaluated at ``dps`` digits and its eigenvalues computed in
float64 (error ≲ 1e-15·‖H‖). An eigenvalue counts as zero when |λ| ≤ 1e-9·max(1, ‖H‖). If any
eigenvalue falls in the grey zone 1e-13·s < |λ| ≤ 1e-6·s, the eigenvalues are recomputed with
mpmath at ``dps`` digits and the rule becomes |λ| ≤ 10^(-dps/2)·s.

Zero modes explained. The O(2) orbit gives one zero mode when some column is nonzero. A column
whose blocks are all strictly dead (as output: b_j < 0 and W_i·W_j + b_j < 0 for every i; as
input: W_j·W_i + b_i < 0 and b_i < 0 for every i ≠ j) can move freely: its m + 1 coordinates are
flat. A column whose output alone is strictly dead has a flat bias. ``n_zero_symmetry`` is the
rank of these generators together.

Labels.
- ``minimum``: smooth there, no negative eigenvalue, every zero mode explained.
- ``saddle``: smooth there and a negative eigenvalue (index = their number).
- ``degenerate``: smooth there, no negative eigenvalue, unexplained zero modes; decided by the
  loss on small spheres around the point (``evidence``).
- ``non-smooth``: some block sits where the Hessian jumps (a block with a = c = 0, or a diagonal
  block at G_ii + b_i = 0). The Hessian there is one-sided; minimum versus saddle is decided by
  minimising the loss on small spheres around the point, which follows every adjacent region.

Learning coefficient. λ = n_pos/2 for a ``minimum``. For a ``non-smooth`` or ``degenerate``
minimum the loss is piecewise quadratic to second order; :func:`directional_curvature` minimises
q(v) = (L(θ + t v) − L(θ))/t² over unit directions v orthogonal to the k explained zero modes.
If q_min > 1e-5 at t = 1e-3 and 1e-4 (agreeing to 5%), then q_min |v|² ≤ L − L* ≤ C |v|² near
the point, the posterior volume scales like that of a quadratic of full rank r = dim − k and
λ = r/2 (numerical evidence: a minimum over many starts, not a proof). Otherwise some direction
grows slower than quadratically (flat beyond the explained ones, or higher order) and λ stays
undetermined.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np

from critpoints.solve.symmetry import dead_outputs
from critpoints.tms import potential

__all__ = [
    "Classification",
    "classify",
    "directional_curvature",
    "flat_coordinates",
    "grows_quadratically",
    "flat_set_exits",
    "jump_blocks",
    "sphere_test",
]


@dataclass
class Classification:
    """Result of :func:`classify` (see the module docstring for the rules)."""

    eigenvalues: list[float]
    n_pos: int
    n_neg: int
    n_zero: int
    n_zero_symmetry: int
    zero_tolerance: float
    hessian_index: int | None
    classification: str
    verdict: str
    on_boundary: bool
    learning_coefficient: float | None
    evidence: dict = field(default_factory=dict)


def flat_coordinates(W, b, margin: float = 1e-12) -> list[int]:
    """θ-indices of the coordinates along which L is locally constant (dead columns)."""
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    m, n = W.shape
    G = W.T @ W
    dead_output = dead_outputs(W, b, tol=-margin)
    flat = []
    for j in range(n):
        if not dead_output[j]:
            continue
        flat.append(m * n + j)  # its bias
        others = [i for i in range(n) if i != j]
        dead_input = all(b[i] < -margin and G[j, i] + b[i] < -margin for i in others)
        if dead_input:
            flat.extend(r * n + j for r in range(m))
    return flat


def _symmetry_generators(W, b) -> np.ndarray:
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    m, n = W.shape
    dim = m * n + n
    rows = []
    if m == 2 and np.abs(W).max() > 0:
        J = np.array([[0.0, -1.0], [1.0, 0.0]])
        rows.append(potential.flatten(J @ W, np.zeros(n)))
    elif m > 2 and np.abs(W).max() > 0:
        for p in range(m):
            for q in range(p + 1, m):
                J = np.zeros((m, m))
                J[p, q], J[q, p] = -1.0, 1.0
                rows.append(potential.flatten(J @ W, np.zeros(n)))
    for index in flat_coordinates(W, b):
        e = np.zeros(dim)
        e[index] = 1.0
        rows.append(e)
    return np.array(rows) if rows else np.zeros((0, dim))


def jump_blocks(W, b, atol: float = 1e-30) -> list[tuple[int, int]]:
    """Blocks where the Hessian of L is discontinuous: a = c = 0, or i = j and a + c = 0 ≠ a."""
    W = np.asarray(W, dtype=object)
    b = np.asarray(b, dtype=object)
    G = W.T @ W
    n = b.shape[0]
    out = []
    for i in range(n):
        for j in range(n):
            a, c = G[i, j], b[j]
            if abs(a) <= atol and abs(c) <= atol:
                out.append((i, j))
            elif i == j and abs(a + c) <= atol and abs(a) > atol:
                out.append((i, j))
    return out


def sphere_test(W, b, radii=(1e-2, 1e-3, 1e-4), samples: int = 1000, steps: int = 40, seed=0):
    """Look for lower loss on small spheres around (W, b).

    For each radius t, draws ``samples`` random unit directions d, evaluates L(θ + t d) - L(θ),
    then minimises it over the sphere (projected gradient steps) from the best 10 directions.

    Returns
    -------
    dict
        ``descent`` (bool), and per radius the smallest ΔL found, ΔL/t² (a one-sided
        second derivative), and the direction reaching it.
    """
    rng = np.random.default_rng(seed)
    Wf = np.asarray(W, dtype=float)
    bf = np.asarray(b, dtype=float)
    m, n = Wf.shape
    theta = potential.flatten(Wf, bf)
    L0 = float(potential.loss(Wf, bf))
    dim = theta.size
    report = {"radii": [], "descent": False}
    for t in radii:
        d = rng.normal(size=(samples, dim))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        values = potential.loss(*potential.unflatten(theta + t * d, m, n)) - L0
        best = np.argsort(values)[:10]
        d = d[best]
        step = 0.1
        for _ in range(steps):
            value, dW, db = potential.loss_and_gradient(*potential.unflatten(theta + t * d, m, n))
            grad = potential.flatten(dW, db) * t
            grad -= (grad * d).sum(axis=1, keepdims=True) * d  # tangent to the sphere
            trial = d - step * grad / max(np.abs(grad).max(), 1e-300)
            trial /= np.linalg.norm(trial, axis=1, keepdims=True)
            new = potential.loss(*potential.unflatten(theta + t * trial, m, n))
            improve = new < value
            d[improve] = trial[improve]
            if not improve.any():
                step /= 2
        values = potential.loss(*potential.unflatten(theta + t * d, m, n)) - L0
        i = int(np.argmin(values))
        # Float64 rounding of L is ~1e-17·L: anything above that noise is a real decrease.
        noise = 1e-14 * max(1.0, abs(L0))
        entry = {
            "radius": t,
            "min_delta_loss": float(values[i]),
            "min_delta_over_t2": float(values[i] / t**2),
            "direction": d[i].tolist(),
        }
        if values[i] < -noise:
            entry["descent"] = True
            report["descent"] = True
        report["radii"].append(entry)
    return report


def directional_curvature(W, b, radii=(1e-3, 1e-4), starts: int = 128, steps: int = 200,
                          seed=0) -> dict:
    """Smallest second-order growth of L around (W, b) off its explained zero modes.

    Minimises q(v) = (L(θ + t v) − L(θ))/t² over unit vectors v orthogonal to the symmetry and
    flat-coordinate generators (projected gradient descent on that sphere from ``starts`` random
    directions per radius t, all radii in one batch). Near a minimum where L is piecewise
    quadratic, q tends to the smallest one-sided curvature; a flat or higher-order direction
    drives it to the rounding level (~1e-17·L/t²) or makes it shrink with t.

    Returns
    -------
    dict
        ``explained`` (k, the rank of the generators), ``rank`` (dim − k), ``starts``, and per
        radius ``{"radius", "min_q"}``.
    """
    Wf, bf = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
    m, n = Wf.shape
    theta0 = potential.flatten(Wf, bf)
    L0 = float(potential.loss(Wf, bf))
    generators = _symmetry_generators(Wf, bf)
    if len(generators):
        _, s, vt = np.linalg.svd(generators)
        k = int((s > 1e-9 * s.max()).sum())
        basis = vt[k:].T  # orthonormal complement of the generators
    else:
        k, basis = 0, np.eye(theta0.size)
    rng = np.random.default_rng(seed)
    t = np.repeat(np.asarray(radii, dtype=float), starts)[:, None]  # (R·starts, 1)

    def q_and_grad(z):
        value, dW, db = potential.loss_and_gradient(
            *potential.unflatten(theta0 + t * (z @ basis.T), m, n))
        return (value - L0) / t[:, 0] ** 2, potential.flatten(dW, db) @ basis / t

    z = rng.standard_normal((len(t), basis.shape[1]))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    q, g = q_and_grad(z)
    step = np.full(len(t), 0.1)
    for _ in range(steps):
        tangent = g - (g * z).sum(axis=1, keepdims=True) * z
        trial = z - step[:, None] * tangent
        trial /= np.linalg.norm(trial, axis=1, keepdims=True)
        q_trial, g_trial = q_and_grad(trial)
        better = q_trial < q
        z[better], q[better], g[better] = trial[better], q_trial[better], g_trial[better]
        step = np.where(better, step * 1.2, step * 0.5)
    per_radius = q.reshape(len(radii), starts).min(axis=1)
    return {"explained": k, "rank": int(basis.shape[1]), "starts": starts,
            "radii": [{"radius": float(r), "min_q": float(v)} for r, v in zip(radii, per_radius)]}


def flat_set_exits(W, b, step: float = 1e-4) -> list[dict]:
    """Where the flat critical set ends: each flat bias moved to the top of its flat interval.

    A dead output j keeps L constant for b_j ≤ top = -max(0, max_i W_i·W_j). The classification
    of a point holds for every representative strictly inside; at the top the set may touch a
    descent. For each dead output this reports the loss change from the top to top + ``step``
    (negative: L decreases as the feature switches on, so the critical set is not a strict
    local minimum set even if each interior point is a local minimum).
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    G = W.T @ W
    out = []
    for j in np.flatnonzero(dead_outputs(W, b)):  # also the ones sitting at their top
        top = -max(0.0, float(G[:, j].max()))
        at_top, beyond = b.copy(), b.copy()
        at_top[j], beyond[j] = top, top + step
        delta = float(potential.loss(W, beyond) - potential.loss(W, at_top))
        out.append({"column": int(j), "top": top, "step": step, "delta_loss": delta})
    return out


def _confirm_descent(W, b, direction, radius, dps):
    """Re-evaluate a descent found in float64 at ``dps`` digits; returns ΔL as a float."""
    m, n = np.asarray(W).shape
    with mpmath.workdps(dps):
        theta = np.array([mpmath.mpf(v) for v in potential.flatten(W, b)], dtype=object)
        moved = theta + np.array([mpmath.mpf(radius) * mpmath.mpf(v) for v in direction])
        L0 = potential.loss(*potential.unflatten(theta, m, n), dps=dps)
        L1 = potential.loss(*potential.unflatten(moved, m, n), dps=dps)
        return float(L1 - L0)


def classify(W, b, dps: int = 60, seed: int = 0) -> Classification:
    """Classify the critical point (W, b) (mpmath numbers or floats) of the TMS potential."""
    W = np.asarray(W, dtype=object)
    b = np.asarray(b, dtype=object)
    m, n = W.shape
    # Regions decided at full precision (a block exactly on a boundary stays on it), the
    # Hessian itself in float64 from the rounded point: its entries are continuous inside the
    # chosen regions, so rounding moves them by ~1e-16 relative.
    regions = potential.block_regions(W, b)
    Hf = potential.hessian(W.astype(float), b.astype(float), regions=regions)
    eigenvalues = np.linalg.eigvalsh(Hf)
    scale = max(1.0, float(np.abs(eigenvalues).max()))
    tolerance = 1e-9 * scale
    grey = (np.abs(eigenvalues) > 1e-13 * scale) & (np.abs(eigenvalues) <= 1e-6 * scale)
    if grey.any():
        H = potential.hessian(W, b, dps=dps)
        with mpmath.workdps(dps):
            values = mpmath.eigsy(mpmath.matrix(H.tolist()), eigvals_only=True)
            eigenvalues = np.array(sorted(float(v) for v in values))
        tolerance = 10.0 ** (-dps / 2) * scale
    n_pos = int((eigenvalues > tolerance).sum())
    n_neg = int((eigenvalues < -tolerance).sum())
    n_zero = len(eigenvalues) - n_pos - n_neg
    generators = _symmetry_generators(W.astype(float), b.astype(float))
    n_zero_symmetry = int(np.linalg.matrix_rank(generators, tol=1e-9)) if len(generators) else 0
    jumps = jump_blocks(W, b, atol=mpmath.mpf(10) ** (-(dps // 2)))
    on_boundary = bool(jumps)
    evidence: dict = {"zero_modes": {"observed": n_zero, "explained": n_zero_symmetry}}

    if not on_boundary and n_neg > 0:
        label, verdict, index = "saddle", "saddle", n_neg
        evidence["method"] = "second-order"
    elif not on_boundary and n_zero <= n_zero_symmetry:
        label, verdict, index = "minimum", "minimum", 0
        evidence["method"] = "second-order"
    else:
        label = "non-smooth" if on_boundary else "degenerate"
        probe = sphere_test(W, b, seed=seed)
        evidence["method"] = "sphere-minimisation"
        evidence["sphere_test"] = {
            "radii": [
                {k: v for k, v in entry.items() if k != "direction"} for entry in probe["radii"]
            ],
            "samples": 1000,
        }
        if on_boundary:
            evidence["jump_blocks"] = [list(block) for block in jumps]
        if probe["descent"]:
            entry = min(probe["radii"], key=lambda e: e["min_delta_over_t2"])
            confirmed = _confirm_descent(W, b, entry["direction"], entry["radius"], dps)
            evidence["descent"] = {
                "radius": entry["radius"],
                "delta_loss": confirmed,
                "direction": entry["direction"],
            }
            verdict = "saddle" if confirmed < 0 else "undecided"
        else:
            verdict = "minimum"
        index = n_neg if (not on_boundary and verdict == "saddle") else None
    exits = flat_set_exits(W.astype(float), b.astype(float))
    if exits:
        evidence["flat_set_exits"] = exits
    if label == "minimum":
        learning_coefficient = n_pos / 2
    elif verdict == "minimum":
        learning_coefficient, evidence["learning_coefficient"] = _piecewise_quadratic_lambda(
            W, b, label, seed, evidence)
    else:
        learning_coefficient = None
        evidence["learning_coefficient"] = (
            "not determined by the Hessian: "
            + ("saddle" if label == "saddle" else f"{label} point (rank/2 does not apply)")
        )
    return Classification(
        eigenvalues=[float(v) for v in eigenvalues],
        n_pos=n_pos,
        n_neg=n_neg,
        n_zero=n_zero,
        n_zero_symmetry=n_zero_symmetry,
        zero_tolerance=float(tolerance),
        hessian_index=index,
        classification=label,
        verdict=verdict,
        on_boundary=on_boundary,
        learning_coefficient=learning_coefficient,
        evidence=evidence,
    )


CURVATURE_FLOOR = 1e-5  # q_min below this counts as "not quadratic" (rounding level ~1e-9 at t=1e-4)


def grows_quadratically(report: dict) -> bool:
    """Whether a :func:`directional_curvature` report shows quadratic growth in every direction:
    q_min above ``CURVATURE_FLOOR`` at every radius, the radii agreeing to 5 %."""
    qs = [r["min_q"] for r in report["radii"]]
    return min(qs) > CURVATURE_FLOOR and max(qs) <= 1.05 * min(qs)


def _piecewise_quadratic_lambda(W, b, label, seed, evidence):
    """λ = r/2 of a non-smooth or degenerate minimum whose growth is quadratic off its zero modes."""
    report = directional_curvature(W.astype(float), b.astype(float), seed=seed)
    evidence["directional_curvature"] = report
    q_min = min(r["min_q"] for r in report["radii"])
    r = report["rank"]
    if grows_quadratically(report):
        return r / 2, (
            f"{label} minimum, piecewise quadratic: L − L* ≥ {q_min:.4g}·|v|² off the "
            f"{report['explained']} explained zero modes (numerical minimum over "
            f"{report['starts']} directions, t = 1e-3 and 1e-4): λ = {r}/2"
        )
    return None, (
        f"{label} minimum, not determined: some direction off the {report['explained']} "
        f"explained zero modes grows slower than quadratically (min q = {q_min:.3g} at t = "
        f"1e-3/1e-4; flat set larger than explained, or higher order)"
    )
