"""Classification of a critical point of any :class:`critpoints.potential.Potential` from its
Hessian and, where the Hessian cannot decide, from the loss around it.

The model enters only through the protocol: its orbit tangents and flat coordinates (the zero
modes explained), where its Hessian jumps and its one-sided convention, and any extra evidence.
The TMS wording below (columns, blocks) describes :class:`critpoints.tms.model.TMSPotential`.

Tolerance rule. The Hessian is evaluated at ``dps`` digits and its eigenvalues computed in
float64 (error ≲ 1e-15·‖H‖). An eigenvalue counts as zero when |λ| ≤ 1e-9·max(1, ‖H‖). If any
eigenvalue falls in the grey zone 1e-13·s < |λ| ≤ 1e-6·s, the eigenvalues are recomputed with
mpmath at ``dps`` digits and the rule becomes |λ| ≤ 10^(-dps/2)·s.

Zero modes explained. The O(2) orbit gives one zero mode when some column is nonzero. A column
whose blocks are all strictly dead (as output: b_j < 0 and W_i·W_j + b_j < 0 for every i; as
input: W_j·W_i + b_i < 0 and b_i < 0 for every i ≠ j) can move freely: its m + 1 coordinates are
flat. A column whose output alone is strictly dead has a flat bias. ``n_zero_symmetry`` is the
rank of these generators together.

Boundaries. Activation regions are decided at the ``dps``-digit representative with the
tolerance :data:`BOUNDARY_TOLERANCE` (1e-12): a block that close to a boundary is on it and takes
the switched-off side (ReLU'(0) = 0). Polished points are accurate to ~1e-20 in position, so the
decision does not depend on the last digits of the stored representative.

Labels (what the point is) and verdicts (minimum / saddle / undecided; one rule,
:func:`decide_verdict`, from the stored evidence only).
- ``minimum``: smooth there, no negative eigenvalue, every zero mode explained (Morse–Bott):
  verdict minimum.
- ``saddle``: smooth there and a negative eigenvalue (index = their number): verdict saddle.
- ``degenerate``: smooth there, no negative eigenvalue, unexplained zero modes.
- ``non-smooth``: some block sits where the Hessian jumps (a block with a = c = 0, or a diagonal
  block at G_ii + b_i = 0). The Hessian there is one-sided.
  For these two the verdict comes from a local search: the loss minimised on small spheres
  (:func:`sphere_test`, radii 1e-2..1e-4) and the directional curvature (below); every direction
  along which either search saw L go down is re-evaluated at ``dps`` digits at three radii
  t, t/10, t/100 (:func:`probe_descent`). L lower at the two smaller radii: a confirmed descent,
  verdict saddle (the direction is stored). Lower at one radius only: undecided. Never lower:
  minimum, as numerical evidence within the searches' recorded budget (not a proof).
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

from critpoints import mpfr
from critpoints.potential import (
    Potential,
    complement_basis,
    significant,
    sphere_descent_step,
    symmetry_generators,
)

__all__ = [
    "BOUNDARY_TOLERANCE",
    "Classification",
    "classify",
    "decide_verdict",
    "directional_curvature",
    "grows_quadratically",
    "probe_descent",
    "sphere_test",
    "volume_agrees",
]


#: A block within this distance of an activation boundary (a + c = 0 or c = 0) counts as on it.
BOUNDARY_TOLERANCE = 1e-12


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
    #: The float64 eigenvalues as computed (``eigenvalues`` is rounded for storage); not stored.
    raw_eigenvalues: np.ndarray | None = None


def _loss_noise(L0: float) -> float:
    """Float64 rounding level of a loss difference near L0 (~1e-17·L, with a wide margin)."""
    return 1e-14 * max(1.0, abs(L0))


def sphere_test(potential: Potential, theta, radii=(1e-2, 1e-3, 1e-4), samples: int = 1000,
                steps: int = 40, seed=0):
    """Look for lower loss on small spheres around θ.

    For each radius t, draws ``samples`` random unit directions d, evaluates L(θ + t d) - L(θ),
    then minimises it over the sphere (projected gradient steps) from the best 10 directions.

    Returns
    -------
    dict
        ``descent`` (bool: a decrease above float64 rounding), and per radius the smallest ΔL
        found (0 when within rounding), ΔL/t² and the direction reaching it.
    """
    rng = np.random.default_rng(seed)
    theta = np.asarray(theta).astype(float)
    L0 = float(potential.loss(theta))
    dim = theta.size
    noise = _loss_noise(L0)
    report = {"radii": [], "descent": False}
    for t in radii:
        d = rng.normal(size=(samples, dim))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        values = potential.loss(theta + t * d) - L0
        best = np.argsort(values)[:10]
        d = d[best]
        step = 0.1
        for _ in range(steps):
            value, grad = potential.loss_and_gradient(theta + t * d)
            grad = grad * t
            grad -= (grad * d).sum(axis=1, keepdims=True) * d  # tangent to the sphere
            trial = d - step * grad / max(np.abs(grad).max(), 1e-300)
            trial /= np.linalg.norm(trial, axis=1, keepdims=True)
            new = potential.loss(theta + t * trial)
            improve = new < value
            d[improve] = trial[improve]
            if not improve.any():
                step /= 2
        values = potential.loss(theta + t * d) - L0
        i = int(np.argmin(values))
        delta = float(values[i]) if abs(values[i]) > noise else 0.0
        entry = {
            "radius": t,
            "min_delta_loss": significant(delta, 4),
            "min_delta_over_t2": significant(delta / t**2, 4),
            "direction": d[i],
            "raw_delta_loss": float(values[i]),
        }
        if delta < 0:
            entry["descent"] = True
            report["descent"] = True
        report["radii"].append(entry)
    return report


def directional_curvature(potential: Potential, theta, radii=(1e-3, 1e-4), starts: int = 128,
                          steps: int = 200, seed=0) -> dict:
    """Smallest second-order growth of L around θ off its explained zero modes.

    Minimises q(v) = (L(θ + t v) − L(θ))/t² over unit vectors v orthogonal to the symmetry and
    flat-coordinate generators (projected gradient descent on that sphere from ``starts`` random
    directions per radius t, all radii in one batch). Near a minimum where L is piecewise
    quadratic, q tends to the smallest one-sided curvature; a flat or higher-order direction
    drives it to the rounding level (~1e-17·L/t²) or makes it shrink with t; a negative q above
    the rounding level is a descent.

    Returns
    -------
    dict
        ``explained`` (k, the rank of the generators), ``rank`` (dim − k), ``starts``, and per
        radius ``{"radius", "min_q"}`` (``min_q`` 0 when within float64 rounding, 4 significant
        digits otherwise); ``directions`` (not stored: the minimising unit vector in θ per
        radius) and ``raw_q``.
    """
    theta0 = np.asarray(theta).astype(float)
    L0 = float(potential.loss(theta0))
    basis = complement_basis(symmetry_generators(potential, theta0), theta0.size)
    k = theta0.size - basis.shape[1]
    rng = np.random.default_rng(seed)
    t = np.repeat(np.asarray(radii, dtype=float), starts)[:, None]  # (R·starts, 1)

    z = rng.standard_normal((len(t), basis.shape[1]))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    if hasattr(potential, "quotient_descent"):  # the same steps, compiled (TMS, faster)
        z, q = potential.quotient_descent(theta0, basis, t[:, 0], z, L0, steps)
    else:
        def q_and_grad(z):
            value, grad = potential.loss_and_gradient(theta0 + t * (z @ basis.T))
            return (value - L0) / t[:, 0] ** 2, grad @ basis / t

        q, g = q_and_grad(z)
        step = np.full(len(t), 0.1)
        for _ in range(steps):
            z, q, g, step = sphere_descent_step(z, q, g, step, q_and_grad)
    q = q.reshape(len(radii), starts)
    best = q.argmin(axis=1)
    noise = _loss_noise(L0)
    per_radius, directions, raw = [], [], []
    for r, radius in enumerate(radii):
        value = float(q[r, best[r]])
        raw.append(value)
        stored = value if abs(value) * radius**2 > noise else 0.0
        per_radius.append({"radius": float(radius), "min_q": significant(stored, 4)})
        directions.append(basis @ z[r * starts + best[r]])
    return {"explained": k, "rank": int(basis.shape[1]), "starts": starts,
            "radii": per_radius, "directions": directions, "raw_q": raw}


#: Radii of a descent probe, as multiples of the radius at which the direction was found.
PROBE_SCALES = (1, 0.1, 0.01)
#: Decimals kept of a probe direction: the stored direction is the one evaluated.
DIRECTION_DECIMALS = 8


def probe_descent(potential: Potential, theta, direction, radius: float, dps: int) -> dict:
    """ΔL = L(θ + t d) − L(θ) at ``dps`` digits along the (rounded) unit direction d, for
    t = radius·(1, 1/10, 1/100).

    The direction is rounded to :data:`DIRECTION_DECIMALS` decimals first and that rounded
    vector is what is evaluated and returned, so the record can be re-checked exactly.
    ``confirmed`` is True when L decreases at the two smaller radii: a descent that persists
    as t → 0, i.e. the point is not a local minimum (a second-order or lower descent along a
    straight line).
    """
    theta = np.asarray(theta, dtype=object)
    d = [round(float(v), DIRECTION_DECIMALS) for v in direction]
    radii = [significant(radius * s, 6) for s in PROBE_SCALES]
    with mpmath.workdps(dps):
        L0 = potential.loss(theta, dps=dps)
        theta = [mpmath.mpf(v) for v in theta]
        deltas = []
        for t in radii:
            moved = np.array([x + mpmath.mpf(t) * mpmath.mpf(v) for x, v in zip(theta, d)],
                             dtype=object)
            deltas.append(potential.loss(moved, dps=dps) - L0)
    return {
        "direction": d,
        "radii": radii,
        "delta_loss": [significant(float(v), 6) for v in deltas],
        "confirmed": bool(deltas[1] < 0 and deltas[2] < 0),
    }


def _descent_candidates(sphere: dict, curvature: dict) -> list[tuple[float, float, np.ndarray]]:
    """(ΔL/t² in float64, radius, direction) of every float64 search result that went down at
    all (even within rounding), most negative first."""
    out = [(e["raw_delta_loss"] / e["radius"] ** 2, e["radius"], e["direction"])
           for e in sphere["radii"] if e["raw_delta_loss"] < 0]
    out += [(q, entry["radius"], direction)
            for q, entry, direction in zip(curvature["raw_q"], curvature["radii"],
                                           curvature["directions"]) if q < 0]
    return sorted(out, key=lambda c: c[0])


def decide_verdict(evidence: dict, n_neg: int) -> tuple[str, str]:
    """The verdict and its reason, from the evidence record alone (the one rule).

    - second order (smooth point): a negative Hessian eigenvalue makes a saddle; no negative
      one and every zero mode explained makes a minimum (Morse–Bott);
    - local search (non-smooth or degenerate point): a descent probe that decreases L at 60
      digits at its two smaller radii makes a saddle; a probe that decreases L at some radius
      only leaves it undecided; no probe that decreases L — the float64 searches found no
      descent that survives exact re-evaluation — makes a minimum (numerical evidence within
      the searches' budget, recorded beside it).
    """
    if evidence["method"] == "second-order":
        if n_neg > 0:
            return "saddle", f"{n_neg} negative Hessian eigenvalue(s)"
        return "minimum", "Hessian positive off the explained zero modes"
    probe = evidence.get("descent")
    if probe is not None and probe["confirmed"]:
        return "saddle", "descent confirmed at 60 digits at two radii"
    if probe is not None and min(probe["delta_loss"]) < 0:
        return "undecided", "L decreases at one probe radius only"
    return "minimum", "no descent found by the sphere and curvature searches (budget recorded)"


#: Below this (relative to the Hessian's scale) an eigenvalue at a float64 point is zero: the
#: rounding of the point moves its zero modes by ~1e-16 × scale.
FLOAT_POINT_ZERO = 1e-12


def classify(potential: Potential, theta, dps: int = 60, seed: int = 0,
             determine_lambda: bool = True,
             volume_check_max_dimension: int | None = None) -> Classification:
    """Classify the critical point θ (mpmath numbers or floats) of ``potential``.

    Parameters
    ----------
    potential : Potential
    theta : array_like, shape (dim,)
        The point, at ``dps`` digits (object array of mpmath numbers or strings) or in float64.
    dps : int
        Precision of the grey-zone eigenvalues and of the descent probes.
    seed : int
        Seed of the random directions of the local searches.
    determine_lambda : bool
        Whether to determine λ of a non-smooth or degenerate minimum (its volume-scaling check
        is the costly part); False leaves it None with the reason "not computed".
    volume_check_max_dimension : int, optional
        Run that volume-scaling check only at points of at most this many parameters (its
        cost grows like dim³: 2–8 minutes per point at dim = 96); above it λ of such a minimum
        is None, and the reason states the λ = r/2 that straight lines suggest, unconfirmed.
        None (default): at every dimension.
    """
    theta = np.asarray(theta, dtype=object)
    theta_f = theta.astype(float)
    # Pieces decided at full precision with the boundary tolerance (a block within it takes the
    # switched-off side, the catalog's convention), the Hessian itself in float64 from the
    # rounded point: its entries are continuous inside the chosen pieces.
    side = potential.hessian_side(theta, atol=BOUNDARY_TOLERANCE)
    Hf = potential.hessian(theta_f, side=side)
    eigenvalues = np.linalg.eigvalsh(Hf)
    scale = max(1.0, float(np.abs(eigenvalues).max()))
    tolerance = 1e-9 * scale
    grey = (np.abs(eigenvalues) > 1e-13 * scale) & (np.abs(eigenvalues) <= 1e-6 * scale)
    if grey.any():
        H = potential.hessian(theta, dps=dps, side=side)
        with mpmath.workdps(dps):
            values = mpfr.eigsy(H.tolist(), eigvals_only=True)  # mpmath.eigsy's bits
            eigenvalues = np.array(sorted(float(v) for v in values))
        tolerance = 10.0 ** (-dps / 2) * scale
        if not any(isinstance(v, mpmath.mpf) for v in theta):
            # a point known to float64 only (the linear autoencoder's representatives): its
            # zero modes are ~1e-19, not 1e-30, at any working precision
            tolerance = FLOAT_POINT_ZERO * scale
    n_pos = int((eigenvalues > tolerance).sum())
    n_neg = int((eigenvalues < -tolerance).sum())
    n_zero = len(eigenvalues) - n_pos - n_neg
    generators = symmetry_generators(potential, theta_f)
    n_zero_symmetry = int(np.linalg.matrix_rank(generators, tol=1e-9)) if len(generators) else 0
    jumps = potential.hessian_jumps(theta, atol=BOUNDARY_TOLERANCE)
    on_boundary = bool(jumps)
    evidence: dict = {"zero_modes": {"observed": n_zero, "explained": n_zero_symmetry}}

    if not on_boundary and (n_neg > 0 or n_zero <= n_zero_symmetry):
        label = "saddle" if n_neg > 0 else "minimum"
        evidence["method"] = "second-order"
    else:
        label = "non-smooth" if on_boundary else "degenerate"
        evidence["method"] = "local-search"
        if on_boundary:
            evidence["jump_blocks"] = [list(block) for block in jumps]
        _local_search(potential, theta, dps, seed, evidence)
    verdict, reason = decide_verdict(evidence, n_neg)
    evidence["verdict_reason"] = reason
    index = n_neg if label in ("saddle", "minimum") else None  # one-sided Hessians: no index
    evidence.update(potential.extra_evidence(theta_f))
    if label == "minimum":
        learning_coefficient = n_pos / 2
    elif verdict == "minimum" and not determine_lambda:
        learning_coefficient, evidence["learning_coefficient"] = None, "not computed"
    elif verdict == "minimum":
        learning_coefficient, evidence["learning_coefficient"] = _piecewise_quadratic_lambda(
            potential, theta_f, label, seed, evidence, volume_check_max_dimension)
    else:
        learning_coefficient = None
        evidence["learning_coefficient"] = (
            "not defined: " + ("saddle" if verdict == "saddle" else f"verdict {verdict}")
            + (" (a descent exists)" if verdict == "saddle" else "")
        )
    return Classification(
        eigenvalues=[significant(float(v), 8) if abs(v) > tolerance else 0.0
                     for v in eigenvalues],
        n_pos=n_pos,
        n_neg=n_neg,
        n_zero=n_zero,
        n_zero_symmetry=n_zero_symmetry,
        zero_tolerance=significant(float(tolerance), 4),
        hessian_index=index,
        classification=label,
        verdict=verdict,
        on_boundary=on_boundary,
        learning_coefficient=learning_coefficient,
        evidence=evidence,
        raw_eigenvalues=eigenvalues,
    )


SPHERE_SAMPLES = 1000


def _local_search(potential: Potential, theta, dps, seed, evidence) -> None:
    """Sphere test, directional curvature and 60-digit descent probes; fills ``evidence``."""
    theta_f = theta.astype(float)
    sphere = sphere_test(potential, theta_f, samples=SPHERE_SAMPLES, seed=seed)
    curvature = directional_curvature(potential, theta_f, seed=seed)
    evidence["sphere_test"] = {
        "radii": [{k: e[k] for k in ("radius", "min_delta_loss", "min_delta_over_t2")}
                  for e in sphere["radii"]],
        "samples": SPHERE_SAMPLES,
    }
    evidence["directional_curvature"] = {k: curvature[k]
                                         for k in ("explained", "rank", "starts", "radii")}
    best, probed = None, 0
    for _, radius, direction in _descent_candidates(sphere, curvature):
        probe = probe_descent(potential, theta, direction, radius, dps)
        probed += 1
        if probe["confirmed"]:
            best = probe
            break
        if best is None or min(probe["delta_loss"]) < min(best["delta_loss"]):
            best = probe
    # how many float64 search results that went down were re-evaluated at dps digits
    evidence["descent_probes"] = probed
    if best is not None and min(best["delta_loss"]) < 0:
        evidence["descent"] = best


# q_min below this counts as "not quadratic" (rounding level ~1e-9 at t=1e-4)
CURVATURE_FLOOR = 1e-5


def grows_quadratically(report: dict) -> bool:
    """Whether a :func:`directional_curvature` report shows quadratic growth in every direction:
    q_min above ``CURVATURE_FLOOR`` at every radius, the radii agreeing to 5 %."""
    qs = [r["min_q"] for r in report["radii"]]
    return min(qs) > CURVATURE_FLOOR and max(qs) <= 1.05 * min(qs)


#: λ from the directional curvature is stored only if the volume-scaling estimate agrees within
#: max(3 standard errors, this): the seed-to-seed spread of that estimate at the n = 6 points is
#: 0.04–0.1 (docs/volume-scaling.md).
VOLUME_AGREEMENT_FLOOR = 0.2


def volume_agrees(candidate: float, record: dict) -> bool:
    """Whether a volume-scaling record supports λ = ``candidate`` (see the floor above)."""
    lam, se = record.get("lambda"), record.get("standard_error")
    if lam is None or se is None or record.get("descends") or not record.get("reached", True):
        return False
    return abs(lam - candidate) <= max(3 * se, VOLUME_AGREEMENT_FLOOR)


def _piecewise_quadratic_lambda(potential, theta_f, label, seed, evidence,
                                volume_check_max_dimension=None):
    """λ = r/2 of a non-smooth or degenerate minimum: quadratic growth along every straight line
    off the explained zero modes, confirmed by the volume-scaling exponent (independent of
    straight lines: a curved valley would lower it)."""
    from critpoints.slt.volume import volume_scaling_of

    report = evidence["directional_curvature"]
    q_min = min(r["min_q"] for r in report["radii"])
    r = report["rank"]
    if not grows_quadratically(report):
        return None, (
            f"{label} minimum, not determined: some direction off the {report['explained']} "
            f"explained zero modes grows slower than quadratically (min q = {q_min:.3g} at t = "
            f"1e-3/1e-4; flat set larger than explained, or higher order)"
        )
    if not hasattr(potential, "ball_radius"):  # no ball free of other activation changes
        return None, (
            f"{label} minimum, not determined: straight lines grow quadratically (min q = "
            f"{q_min:.4g}, λ = {r}/2 would follow), but this model has no volume-scaling check "
            "to confirm it (no ball radius: ball_radius is not defined for it)")
    if volume_check_max_dimension is not None and theta_f.size > volume_check_max_dimension:
        return None, (
            f"{label} minimum, not computed: straight lines grow quadratically (min q = "
            f"{q_min:.4g}, λ = {r}/2 would follow), but the volume-scaling check that confirms "
            f"it was not run: {theta_f.size} parameters, above the catalog's "
            f"volume_check_max_dimension {volume_check_max_dimension}")
    volume = volume_scaling_of(potential, theta_f, seed=seed).to_json()
    evidence["volume_scaling"] = _rounded_volume_record(volume)
    record = evidence["volume_scaling"]
    if not volume_agrees(r / 2, record):
        return None, (
            f"{label} minimum, not determined: straight lines grow quadratically (min q = "
            f"{q_min:.4g}, λ = {r}/2 would follow) but the volume-scaling exponent is "
            f"{record['lambda']} ± {record['standard_error']}: a curved path grows more slowly"
        )
    return r / 2, (
        f"{label} minimum, piecewise quadratic: L − L* ≥ {q_min:.4g}·|v|² along straight lines "
        f"off the {report['explained']} explained zero modes (numerical minimum over "
        f"{report['starts']} directions, t = 1e-3 and 1e-4): λ = {r}/2, confirmed by the "
        f"volume-scaling exponent {record['lambda']} ± {record['standard_error']}"
    )


def _rounded_volume_record(record: dict) -> dict:
    """The volume-scaling record with its floats rounded (3 decimals for exponents, 4 significant
    digits otherwise): a random walk in float64 carries machine-dependent last bits."""
    def rounded(key, value):
        if isinstance(value, float):
            if key in ("lambda", "slope", "log10_lower", "log10_upper"):
                return round(value, 3)
            return significant(value, 4)
        if isinstance(value, list):
            return [rounded(key, v) for v in value]
        if isinstance(value, dict):
            return {k: rounded(k, v) for k, v in value.items()}
        return value
    return {key: rounded(key, value) for key, value in record.items()}
