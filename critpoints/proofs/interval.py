"""Rigorous interval (Arb ball) arithmetic for the TMS potential: certificates (issue 4, part 2).

Every quantity here is a python-flint ``arb`` ball, so each computed ball contains the exact
value for every point of its input balls (outward rounding is Arb's). The generated region
formulas of :mod:`critpoints.tms._generated` are plain arithmetic and evaluate on balls; the
region of every block is decided from the balls of its end values c and a + c, and an evaluation
fails (:class:`RegionUndetermined`) when a ball touches 0: then the box is not inside one
activation region and no smooth formula may be used.

Tools
-----
- :func:`reduced_krawczyk`: Krawczyk test for the reduced regular k-gon problem in (x, s).
- :func:`full_gradient_hessian`: gradient and Hessian enclosures of L over a box of parameters.
- :func:`full_krawczyk`: Krawczyk test in full space with the rotation gauge and the flat
  coordinates removed.
- :func:`inertia`: certified signs of the Hessian on the complement of given null directions
  (congruence by a numerical eigenbasis, then Gershgorin discs).

Krawczyk's theorem: for g: ℝᵈ → ℝᵈ C¹ on a box X with midpoint m, any nonsingular Y, and
K = m - Y g(m) + (I - Y J(X))(X - m) with J(X) ⊇ {g'(ξ): ξ ∈ X}: if K ⊂ int X then g has exactly
one zero in X (and Y, J(ξ) are nonsingular).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import flint
import numpy as np

from critpoints.tms import potential
from critpoints.tms._generated import FUNCTIONS
from critpoints.tms.polygon import Breakpoint, Interval, reduced_polynomials
from critpoints.tms.regions import region_of

__all__ = [
    "RegionUndetermined",
    "breakpoint_ball",
    "cosine_ball",
    "full_gradient_hessian",
    "full_krawczyk",
    "inertia",
    "poly_derivative",
    "poly_eval",
    "precision",
    "reduced_krawczyk",
    "reduced_polynomials_ball",
]

#: Working precision in bits (≈ 77 decimal digits): catalog points carry 60 digits.
PREC = 256


class RegionUndetermined(ArithmeticError):
    """Some block's end value ball contains 0: the box touches an activation boundary."""


_working_bits = PREC


def bits_for_digits(digits: int) -> int:
    """The Arb precision for points known to ``digits`` digits: :data:`PREC` up to 60 digits
    (the catalogs'), above it 56 bits (≈ 17 digits) beyond the points' own, so that the
    certificate box of radius 10^-(2·digits/3) is resolved (at 256 bits a box of 10^-133 was
    below the arithmetic's resolution: no proof above ≈ 100 digits)."""
    return max(PREC, math.ceil(digits * math.log2(10)) + 56)


@contextmanager
def working_digits(digits: int):
    """Make :func:`precision` default to :func:`bits_for_digits` (``digits``) in the block."""
    global _working_bits
    old, _working_bits = _working_bits, bits_for_digits(digits)
    try:
        yield
    finally:
        _working_bits = old


def working_bits() -> int:
    """The precision :func:`precision` sets by default (see :func:`working_digits`)."""
    return _working_bits


@contextmanager
def precision(bits: int | None = None):
    """Set python-flint's global working precision for the block (default
    :func:`working_bits`), restoring it after."""
    old = flint.ctx.prec
    flint.ctx.prec = _working_bits if bits is None else bits
    try:
        yield
    finally:
        flint.ctx.prec = old


def ball(text: str, radius=0) -> flint.arb:
    """A ball with exact binary midpoint nearest ``text`` (decimal string) and given radius."""
    mid = flint.arb(text).mid()
    return flint.arb(mid, radius) if radius else mid


def breakpoint_ball(point: Breakpoint) -> flint.arb | None:
    """Enclosure of -cos(2π·fraction) (None for +∞)."""
    if point.infinite:
        return None
    f = point.fraction
    return -flint.arb.cos_pi_fmpq(flint.fmpq(2 * f.numerator, f.denominator))


def poly_eval(coeffs, value):
    """Horner evaluation of a polynomial (ball coefficients, lowest degree first) at a ball."""
    out = flint.arb(0)
    for v in reversed(coeffs):
        out = out * value + v
    return out


def poly_derivative(coeffs):
    """Coefficients of the derivative (lowest degree first)."""
    return [i * coeffs[i] for i in range(1, len(coeffs))] or [flint.arb(0)]


def cosine_ball(fraction) -> flint.arb:
    """Enclosure of cos(2π·fraction) for a Fraction (0 for None: the zero columns' κ)."""
    if fraction is None:
        return flint.arb(0)
    if fraction == 0:
        return flint.arb(1)
    return flint.arb.cos_pi_fmpq(flint.fmpq(2 * fraction.numerator, fraction.denominator))


def reduced_polynomials_ball(n: int, k: int, interval: Interval) -> tuple[list, list]:
    """Ball coefficients (lowest degree first) of F₁ and F₂ on an activation interval
    (:func:`critpoints.tms.polygon.reduced_polynomials` in Arb)."""
    return reduced_polynomials(n, k, interval, cosine_ball)


def reduced_krawczyk(
    n: int, k: int, interval: Interval, x_mid: str, s_mid: str, radius: str
) -> dict:
    """Krawczyk test: exactly one critical point of F(x, s) in the box, which lies in ``interval``.

    The equations are ∂F/∂x = F₁ + 2xF₂ = 0 and (1/x)∂F/∂s = F₁' + xF₂' = 0 (x > 0 on the box).

    Returns
    -------
    dict
        ``proved`` (bool), ``in_region`` (box strictly inside the open interval and x > 0),
        ``contraction`` (the largest ratio rad(K_i)/rad(X_i)), ``reason`` when not proved.
    """
    with precision():
        F1, F2 = reduced_polynomials_ball(n, k, interval)
        dF1, dF2 = poly_derivative(F1), poly_derivative(F2)
        ddF1, ddF2 = poly_derivative(dF1), poly_derivative(dF2)
        r = flint.arb(radius)
        mid = [ball(x_mid), ball(s_mid)]
        box = [flint.arb(v, r) for v in mid]
        lo, hi = breakpoint_ball(interval.lower), breakpoint_ball(interval.upper)
        s_box = box[1]
        in_region = bool(s_box > lo) and (hi is None or bool(s_box < hi)) and bool(box[0] > 0)
        if not in_region:
            return {"proved": False, "in_region": False,
                    "reason": "box not strictly inside the activation interval with x > 0"}

        def g(x, s):
            return [poly_eval(F1, s) + 2 * x * poly_eval(F2, s),
                    poly_eval(dF1, s) + x * poly_eval(dF2, s)]

        def jac(x, s):
            return [
                [2 * poly_eval(F2, s), poly_eval(dF1, s) + 2 * x * poly_eval(dF2, s)],
                [poly_eval(dF2, s), poly_eval(ddF1, s) + x * poly_eval(ddF2, s)],
            ]

        J_mid = np.array([[float(v.mid()) for v in row] for row in jac(*mid)])
        Y = np.linalg.inv(J_mid)
        Yb = [[flint.arb(float(v)) for v in row] for row in Y]
        return _krawczyk_step(mid, box, g(*mid), jac(*box), Yb)


def _radius_ratio(image, box) -> float:
    """rad(image)/rad(box); in Arb where the box radius underflows float64 (a box of radius
    1e-400 at 500 digits divided 0 by 0)."""
    if float(box.rad()) > 0:
        return float(image.rad()) / float(box.rad())
    return float(image.rad() / box.rad())


def _krawczyk_step(mid, box, g_mid, J_box, Y) -> dict:
    d = len(mid)
    K = []
    for i in range(d):
        value = mid[i] - sum((Y[i][j] * g_mid[j] for j in range(d)), flint.arb(0))
        for j in range(d):
            coefficient = (1 if i == j else 0) - sum(
                (Y[i][l] * J_box[l][j] for l in range(d)), flint.arb(0)
            )
            value += coefficient * (box[j] - mid[j])
        K.append(value)
    inside = all(box[i].contains_interior(K[i]) for i in range(d))
    contraction = max(_radius_ratio(K[i], box[i]) for i in range(d))
    out = {"proved": bool(inside), "in_region": True, "contraction": contraction}
    if not inside:
        out["reason"] = "Krawczyk image not inside the box"
    return out


# ----------------------------------------------------------------------------------------------
# Full space


def _region(a, c) -> int:
    """Region code 2·[c > 0] + [a + c > 0], certain for every point of the balls, else raise."""
    if c > 0:
        start = True
    elif c < 0:
        start = False
    else:
        raise RegionUndetermined("a block's c = b_j ball touches 0")
    end_value = a + c
    if end_value > 0:
        end = True
    elif end_value < 0:
        end = False
    else:
        raise RegionUndetermined("a block's a + c = G_ij + b_j ball touches 0")
    return region_of(start, end)


def _blocks_ball(W, b, order: int):
    n = b.shape[0]
    G = W.T @ W
    outs = [np.empty((n, n), dtype=object) for _ in range((1, 3, 6)[order])]
    for i in range(n):
        for j in range(n):
            a, c = G[i, j], b[j]
            code = _region(a, c)
            values = FUNCTIONS[("Q" if i == j else "P", order)][code](a, c)
            for out, value in zip(outs, values):
                out[i, j] = value if isinstance(value, flint.arb) else flint.arb(value)
    return outs


def full_gradient_hessian(W, b) -> tuple[np.ndarray, np.ndarray]:
    """Ball enclosures of ∇L (θ order) and the Hessian over the box of balls (W, b).

    Uses the chain-rule assembly of :mod:`critpoints.tms.potential` on object arrays of balls.
    Raises :class:`RegionUndetermined` when the box is not inside one activation region.
    """
    W = np.asarray(W, dtype=object)
    b = np.asarray(b, dtype=object)
    _, F_a, F_c, F_aa, F_ac, F_cc = _blocks_ball(W, b, 2)
    dW, db = potential.gradient_from_blocks(W, F_a, F_c)
    H = potential.assemble_hessian(W, F_a, F_aa, F_ac, F_cc)
    H = np.vectorize(lambda v: v if isinstance(v, flint.arb) else flint.arb(v), otypes=[object])(H)
    return potential.flatten(dW, db), H


def full_krawczyk(W_mid, b_mid, variables: list[int], radius: str) -> dict:
    """Krawczyk test for ∂L/∂θ_i = 0 (i ∈ ``variables``) in the box θ_i ∈ mid_i ± radius.

    The coordinates not in ``variables`` stay at their midpoint values (the gauge-fixed slice).
    Proves: exactly one zero of those gradient components in the box. The caller explains why
    the other components vanish there (rotation identity, flat coordinates).
    """
    m, n = np.asarray(W_mid).shape
    with precision():
        theta_mid = [ball(v) if isinstance(v, str) else flint.arb(v) for v in
                     [*np.asarray(W_mid, dtype=object).ravel(), *np.asarray(b_mid, dtype=object)]]
        r = flint.arb(radius)
        theta_box = list(theta_mid)
        for i in variables:
            theta_box[i] = flint.arb(theta_mid[i], r)
        try:
            g_mid, _ = full_gradient_hessian(*_unflatten(theta_mid, m, n))
            _, H_box = full_gradient_hessian(*_unflatten(theta_box, m, n))
        except RegionUndetermined as exc:
            return {"proved": False, "in_region": False,
                    "reason": f"box not inside one region: {exc}"}
        J_box = [[H_box[i, j] for j in variables] for i in variables]
        J_mid = np.array([[float(v.mid()) for v in row] for row in J_box])
        if np.linalg.cond(J_mid) > 1e12:
            return {"proved": False, "in_region": True,
                    "reason": "reduced Jacobian singular (degenerate zero modes beyond the gauge "
                              "and flat directions): Krawczyk cannot isolate the point"}
        Y = np.linalg.inv(J_mid)
        Yb = [[flint.arb(float(v)) for v in row] for row in Y]
        return _krawczyk_step([theta_mid[i] for i in variables], [theta_box[i] for i in variables],
                              [g_mid[i] for i in variables], J_box, Yb)


def _unflatten(theta, m, n):
    arr = np.array(theta, dtype=object)
    return arr[: m * n].reshape(m, n), arr[m * n:]


def inertia(H: np.ndarray, null_vectors: np.ndarray | None) -> dict:
    """Certified inertia of the Hessian enclosure ``H`` on a complement of ``null_vectors``.

    ``null_vectors`` (rows, balls or floats) must be exact null vectors of the true Hessian
    (symmetry generators and flat coordinates at the true critical point: H v = 0 there). With B
    an orthonormal float basis of their numerical complement and [V B] proved nonsingular,
    inertia(H) = inertia(BᵀHB) + dim V zeros (congruence). BᵀHB is brought near diagonal by a
    float eigenbasis Q (proved nonsingular) and Gershgorin discs are counted per sign: a disc
    component avoiding 0 holds as many eigenvalues as discs (Sylvester's law of inertia).

    Returns
    -------
    dict
        ``n_pos``, ``n_neg`` (proved counts), ``n_undetermined`` (eigenvalues in disc components
        touching 0), ``n_null`` (dim V), ``min_positive_lower`` / ``max_negative_upper`` bounds,
        ``proved`` (True when nothing is undetermined).
    """
    with precision():
        d = H.shape[0]
        if null_vectors is not None and len(null_vectors) >= d:
            # every direction is an exact null direction (L locally constant)
            return {"proved": True, "n_pos": 0, "n_neg": 0, "n_undetermined": 0,
                    "n_null": len(null_vectors), "min_positive_lower": None,
                    "max_negative_upper": None}
        Hf = np.array([[float(v.mid()) for v in row] for row in H])
        if null_vectors is not None and len(null_vectors):
            Vb = [[v if isinstance(v, flint.arb) else flint.arb(v) for v in row]
                  for row in null_vectors]
            Vf = np.array([[float(v.mid()) for v in row] for row in Vb])
            norms = np.linalg.norm(Vf, axis=1)
            Vb = [[v / flint.arb(float(nv)) for v in row] for row, nv in zip(Vb, norms)]
            Vf = Vf / norms[:, None]
            _, _, vt = np.linalg.svd(Vf)
            B = vt[len(Vf):].T
            full = flint.arb_mat(d, d)
            for i in range(d):
                for j in range(len(Vb)):
                    full[i, j] = Vb[j][i]
                for j in range(B.shape[1]):
                    full[i, len(Vb) + j] = flint.arb(float(B[i, j]))
            if not _gershgorin_nonsingular(full.transpose() * full):
                return {"proved": False, "reason": "could not prove [V B] nonsingular"}
        else:
            Vf = np.zeros((0, d))
            B = np.eye(d)
        Bm = flint.arb_mat(B.tolist())
        M = Bm.transpose() * flint.arb_mat(H.tolist()) * Bm
        Mf = B.T @ Hf @ B
        _, Q = np.linalg.eigh((Mf + Mf.T) / 2)
        Qm = flint.arb_mat(Q.tolist())
        if not _gershgorin_nonsingular(Qm.transpose() * Qm):
            return {"proved": False, "reason": "could not prove the eigenbasis nonsingular"}
        N = Qm.transpose() * M * Qm
        size = N.nrows()
        centres, radii = [], []
        for i in range(size):
            centres.append(N[i, i])
            radii.append(sum((abs(N[i, j]) for j in range(size) if j != i), flint.arb(0)))
        lows = [float((centres[i] - radii[i]).lower()) for i in range(size)]
        highs = [float((centres[i] + radii[i]).upper()) for i in range(size)]
        # connected components of the union of discs [low, high]
        order = sorted(range(size), key=lambda i: lows[i])
        components, current, reach = [], [], -np.inf
        for i in order:
            if current and lows[i] > reach:
                components.append(current)
                current, reach = [], -np.inf
            current.append(i)
            reach = max(reach, highs[i])
        if current:
            components.append(current)
        n_pos = n_neg = n_und = 0
        min_pos, max_neg = None, None
        for comp in components:
            lo, hi = min(lows[i] for i in comp), max(highs[i] for i in comp)
            if lo > 0:
                n_pos += len(comp)
                min_pos = lo if min_pos is None else min(min_pos, lo)
            elif hi < 0:
                n_neg += len(comp)
                max_neg = hi if max_neg is None else max(max_neg, hi)
            else:
                n_und += len(comp)
        out = {
            "proved": n_und == 0,
            "n_pos": n_pos,
            "n_neg": n_neg,
            "n_undetermined": n_und,
            "n_null": len(Vf),
            "min_positive_lower": min_pos,
            "max_negative_upper": max_neg,
        }
        return out


def _gershgorin_nonsingular(M: flint.arb_mat) -> bool:
    size = M.nrows()
    for i in range(size):
        radius = sum((abs(M[i, j]) for j in range(size) if j != i), flint.arb(0))
        if not bool(abs(M[i, i]) > radius):
            return False
    return True
