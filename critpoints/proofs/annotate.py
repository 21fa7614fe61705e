"""Certificates and exact forms for catalog entries: :func:`annotate` and :func:`check_entry`.

Three routes, chosen from the entry's structure:

1. ``krawczyk-reduced``: regular k-gon (k ≥ 2) with every vertex live and s strictly inside an
   activation interval. Krawczyk in (x, s) proves exactly one reduced critical point in the box;
   symmetric criticality (Palais) lifts it to full space: the cyclic group C_k (rotation by 2π/k
   of the hidden plane with the cyclic shift of the vertices) acts orthogonally on parameters and
   L is invariant, so ∇L at a fixed point is fixed, i.e. tangent to the fixed subspace
   {W_i = R^i W_0, equal vertex biases, other columns zero, their biases free}; on it
   L = (1/n)[k F(|W_0|², b_v/|W_0|²) + Σ_j f(b_j)] with f(b) = Q(0, b) + (n-1)P(0, b): f' = 0
   exactly at b = 1/(2n) and f is constant for b < 0. L is C² (analytic) on the box (every block
   strictly inside one region, certified), so the point is a critical point in full space.
2. ``exact-rational-gradient``: regular points with rational x, s (the x = 1, s = 0 family and
   the all-dead polygons): ∇L = 0 exactly (:mod:`critpoints.proofs.exact_point`). Such points sit
   on activation boundaries or in flat critical sets: not isolated, Krawczyk does not apply.
3. ``krawczyk-full``: anything else that is smooth (irregular points from the full-space search):
   Krawczyk on the gradient with the rotation gauge (θ = W[1, f] of the first nonzero column f
   fixed at 0) and the flat coordinates fixed. The dropped equation ∂L/∂W[1,f] follows from the
   rotation identity Σ (Jθ)_i ∂_i L = 0 because (Jθ) at that coordinate is W[0,f] ≠ 0; the flat
   coordinates' equations vanish identically on the box (their blocks are strictly dead there).

Hessian signs (``certificate["hessian"]``) come from :func:`critpoints.proofs.interval.inertia` on
the Hessian enclosure over the certified box (the exact point lies in it), with the O(2)
generator Jθ and the flat coordinates as exact null vectors.
"""

from __future__ import annotations

import math
from fractions import Fraction

import flint
import mpmath
import numpy as np

from critpoints.proofs import interval as iv
from critpoints.proofs.algebraic import exact_form, parse_polynomial_text
from critpoints.proofs.exact_point import (
    exact_gradient_vanishes,
    matches_stored,
    point_balls,
    regular_exact_point,
)
from critpoints.tms.model import flat_coordinates
from critpoints.tms.polygon import interval_of
from critpoints.tms.polytope import pivot_columns, span_dimension

__all__ = [
    "annotate",
    "certificate_radius",
    "check_entry",
    "hessian_certificate",
    "reduced_box_point",
]

PALAIS = (
    "Krawczyk proves exactly one critical point of the reduced loss F(x, s) in the box; the box "
    "lies strictly inside one activation interval, so every block of L is strictly inside one "
    "region and L is analytic near the point. Symmetric criticality (Palais): the point is fixed "
    "by C_k acting orthogonally on parameters, L is invariant and C¹, so ∇L is tangent to the "
    "fixed subspace, where L = (1/n)[k F(x, b_v/x) + Σ_zero-columns f(b_j)] with f'(1/(2n)) = 0 "
    "exactly and f constant for b_j < 0: ∇L = 0 in full space."
)


def certificate_radius(digits: int) -> str:
    """Box radius used for points known to ``digits`` digits: 10^-(2·digits/3)."""
    return f"1e-{(2 * digits) // 3}"


def _fraction(text: str) -> Fraction:
    return Fraction(text)


def _route(entry: dict) -> str:
    reduced = entry.get("reduced")
    if entry.get("regular"):
        if reduced is None:
            return "exact"
        if mpmath.mpf(reduced["s"]) == 0:
            return "exact"
        if not entry.get("dead_vertices") and entry["k"] >= 2:
            return "reduced"
    return "full"


def annotate(entry: dict, n: int, digits: int = 60) -> tuple[dict | None, dict | None]:
    """Certificate and exact form of one catalog entry.

    Parameters
    ----------
    entry : dict
        A catalog entry as produced by :func:`critpoints.kgon.enumerate_critical_points`.
    n : int
        Number of features of the catalog.
    digits : int
        Precision of the entry's ``*_exact`` fields; the certificate box has radius
        10^-(2·digits/3).

    Returns
    -------
    (certificate, exact)
        ``certificate`` is always a dict with ``proved`` (criticality proved), ``method``,
        ``claim`` or ``reason``, ``hessian`` (sign certificate or why none); ``exact`` is the
        algebraic description (minimal polynomials and isolating intervals of x, s, vertex bias)
        for regular points with a reduced solution, else None. Deterministic.
    """
    route = _route(entry)
    radius = certificate_radius(digits)
    with iv.working_digits(digits):
        if route == "reduced":
            return _annotate_reduced(entry, n, digits, radius)
        if route == "exact":
            return _annotate_exact(entry, n, digits)
        return _annotate_full(entry, n, digits, radius), None


# ----------------------------------------------------------------------------------------------


def _null_vectors(W_balls, b_balls, W_float, b_float) -> np.ndarray:
    """Exact null vectors of the Hessian at the critical point: the so(m) generators Jθ that
    span the tangent of the O(m) orbit (if W ≠ 0) and the flat axes.

    For m = 2 the one generator J = e₁e₀ᵀ − e₀e₁ᵀ. For other m the point is in the echelon
    gauge (:mod:`critpoints.tms.polytope`): its columns span the first d coordinate axes, and
    the generators J_pq (p < q, p < d) are independent and span the orbit's tangent
    (their number is the orbit dimension m(m − 1)/2 − (m − d)(m − d − 1)/2)."""
    W_float = np.asarray(W_float, dtype=float)
    m, n = W_float.shape
    dim = (m + 1) * n
    rows = []
    if np.abs(W_float).max() > 0:
        d = span_dimension(W_float)
        for p in range(min(d, m)):
            for q in range(p + 1, m):
                # (J W) for J[p, q] = -1, J[q, p] = 1: row p is -W_q, row q is W_p
                gen = [flint.arb(0)] * dim
                for i in range(n):
                    gen[p * n + i] = -W_balls[q, i]
                    gen[q * n + i] = W_balls[p, i]
                rows.append(gen)
    for index in flat_coordinates(W_float, b_float):
        e = [flint.arb(0)] * dim
        e[index] = flint.arb(1)
        rows.append(e)
    return np.array(rows, dtype=object) if rows else np.zeros((0, dim), dtype=object)


def hessian_certificate(W_balls, b_balls, classification: str) -> dict:
    """Certified Hessian signs over a box of parameters (Arb balls ``W_balls``, ``b_balls``).

    The O(m) generators and the flat coordinates are the exact null vectors; the rest is
    :func:`critpoints.proofs.interval.inertia`. ``classification`` (``"minimum"``, ``"saddle"``,
    or anything else) is compared with the proved signs in ``agrees_with_classification``.

    Returns
    -------
    dict
        ``proved``, ``claim`` or ``reason``, ``n_pos``, ``n_neg``, ``n_undetermined``,
        ``n_null`` and outward-rounded eigenvalue bounds (absent when the box touches an
        activation boundary).
    """
    W_float = np.array([[float(v.mid()) for v in row] for row in W_balls])
    b_float = np.array([float(v.mid()) for v in b_balls])
    group = f"O({W_float.shape[0]})"
    try:
        _, H = iv.full_gradient_hessian(W_balls, b_balls)
    except iv.RegionUndetermined as exc:
        return {"proved": False, "reason": (
            f"on an activation boundary ({exc}): the Hessian is one-sided there, no second-order "
            "certificate; the classification rests on the sphere test (see evidence)")}
    result = iv.inertia(H, _null_vectors(W_balls, b_balls, W_float, b_float))
    if "reason" in result:
        return {"proved": False, "reason": result["reason"]}
    out = {
        "method": "arb Hessian enclosure over the box; congruence by a float eigenbasis on the "
                  f"complement of the {group} generator{'s' if group != 'O(2)' else ''} and "
                  "flat axes; Gershgorin disc components",
        "n_pos": result["n_pos"], "n_neg": result["n_neg"],
        "n_undetermined": result["n_undetermined"], "n_null": result["n_null"],
        # bounds rounded outward to 4 digits: still bounds, and free of the last bits of the
        # float eigenbasis (LAPACK differs between machines)
        "min_positive_lower": _outward(result["min_positive_lower"], up=False),
        "max_negative_upper": _outward(result["max_negative_upper"], up=True),
    }
    if result["proved"] and result["n_neg"] == 0:
        out.update(proved=True, claim=(
            f"local minimum: H ⪰ 0 with kernel exactly the {group}/flat directions "
            "(Morse–Bott)"))
    elif result["n_neg"] > 0 and result["proved"]:
        out.update(proved=True, claim=f"saddle of index exactly {result['n_neg']}")
    elif result["n_neg"] > 0:
        out.update(proved=True, claim=(
            f"saddle: at least {result['n_neg']} negative eigenvalues ≤ "
            f"{result['max_negative_upper']:.3g}; index in [{result['n_neg']}, "
            f"{result['n_neg'] + result['n_undetermined']}] ({result['n_undetermined']} "
            "unexplained near-zero eigenvalues not resolved)"))
    else:
        out.update(proved=False, reason=(
            f"{result['n_undetermined']} eigenvalues near 0 not explained by symmetry: "
            "second order cannot decide (degenerate)"))
    out["agrees_with_classification"] = _agrees(out, classification)
    return out


def _agrees(hess: dict, classification: str) -> bool | None:
    if not hess.get("proved"):
        return None
    if hess["n_neg"] > 0:
        return classification == "saddle"
    return classification == "minimum"


def _annotate_reduced(entry, n, digits, radius):
    k = entry["k"]
    x_text, s_text = entry["reduced"]["x"], entry["reduced"]["s"]
    with mpmath.workdps(digits):
        interval = interval_of(k, mpmath.mpf(s_text))
    exact = exact_form(n, k, x_text, s_text)
    result = iv.reduced_krawczyk(n, k, interval, x_text, s_text, radius)
    certificate = {
        "proved": result["proved"],
        "method": "krawczyk-reduced",
        "coordinates": ["x", "s"],
        "box": {"center": [x_text, s_text], "radius": radius},
        "region": {"s_interval": interval.describe(), "vertices": "all live", "k": k},
        "arithmetic": f"python-flint arb, {iv.working_bits()} bits",
        "contraction": _contraction_bound(result.get("contraction")),
    }
    if result["proved"]:
        certificate["claim"] = "unique critical point of the reduced problem in the box; " + \
            "critical point of L in full space"
        certificate["scope"] = PALAIS
    else:
        certificate["reason"] = result.get("reason", "Krawczyk failed")
        certificate["evidence"] = f"full gradient norm {entry.get('grad_norm')} at {digits} digits"
    _embedding_note(certificate, len(entry["W_exact"]))
    with iv.precision():
        W, b = reduced_box_point(entry, n, x_text, s_text, radius)
        W = _padded(W, len(entry["W_exact"]))
        certificate["hessian"] = hessian_certificate(W, b, entry["classification"])
    return certificate, exact


#: Why a planar critical point (rows 2.. of W zero) is critical in m > 2 dimensions.
EMBEDDING = ("The point is planar in R^m (rows 2, …, m−1 of W are zero): ∂L/∂W = 2 W M with M "
             "= ∂L/∂G symmetric, so the gradient along those rows vanishes identically and the "
             "critical point of the m = 2 problem is one in R^m.")


def _embedding_note(certificate: dict, m: int) -> None:
    if m != 2 and certificate.get("proved"):
        certificate["embedding"] = EMBEDDING


def _padded(W, m: int):
    """The balls of a planar W (2 rows) with zero rows up to m."""
    if W.shape[0] >= m:
        return W
    zeros = np.array([[flint.arb(0)] * W.shape[1] for _ in range(m - W.shape[0])], dtype=object)
    return np.vstack([W, zeros])


def reduced_box_point(entry: dict, n: int, x_text: str, s_text: str, radius: str):
    """Balls (W, b) of the full parameters of a regular polygon over the reduced box (x ± r, s ± r).

    ``entry`` needs ``k`` (vertices) and ``sigma`` (zero columns with bias 1/(2n)); the other
    zero columns get -1/(2n) (the catalog's representatives). Current flint precision.
    """
    k, sigma = entry["k"], entry["sigma"]
    r = flint.arb(radius)
    x = flint.arb(iv.ball(x_text), r)
    s = flint.arb(iv.ball(s_text), r)
    root = x.sqrt()
    W = np.array([[flint.arb(0)] * n for _ in range(2)], dtype=object)
    for i in range(k):
        angle = flint.fmpq(2 * i, k)
        W[0, i] = root * flint.arb.cos_pi_fmpq(angle)
        W[1, i] = root * flint.arb.sin_pi_fmpq(angle)
    half = flint.arb(1) / (2 * n)
    b = np.array([x * s] * k + [half] * sigma + [-half] * (n - k - sigma), dtype=object)
    return W, b


def _exact_xs(entry, n) -> tuple[Fraction, Fraction | None, dict | None]:
    reduced = entry.get("reduced")
    if reduced is None:
        return Fraction(1), None, None  # the catalog's representative of a flat norm
    exact = exact_form(n, entry["k"], reduced["x"], reduced["s"])
    coords = exact["coordinates"]
    if "value" not in coords["x"] or "value" not in coords["s"]:
        raise ValueError("s = 0 point with irrational x")
    return Fraction(coords["x"]["value"]), Fraction(coords["s"]["value"]), exact


def _annotate_exact(entry, n, digits):
    x, s, exact = _exact_xs(entry, n)
    point = regular_exact_point(entry, n, x, s if s is not None else Fraction(0))
    mismatch = matches_stored(point, entry, digits)  # an mpf: 10^-390 is 0.0 in float64
    result, detail = exact_gradient_vanishes(point)
    certificate = {
        "proved": bool(result) and mismatch < mpmath.mpf(10) ** (10 - digits),
        "method": "exact-rational-gradient",
        "point": {"x": str(x), "s": None if s is None else str(s),
                  "b": [str(v) for v in point.b], "k": point.k,
                  "stored_difference": float(mismatch)},
    }
    if certificate["proved"]:
        certificate["claim"] = ("exact critical point: " + detail + "; L is C¹ here (no column "
                                "with W_i = 0 = b_i), so this is a true critical point")
        certificate["isolated"] = False
        certificate["reason"] = _not_isolated_reason(entry)
    else:
        certificate["reason"] = (detail if result is not True
                                 else "stored point differs from the exact one")
        certificate["evidence"] = f"full gradient norm {entry.get('grad_norm')} at {digits} digits"
    if exact is None:
        exact = {"field": "Q",
                 "coordinates": {"x": {"value": "1", "note": "representative of a flat norm"}}}
    _embedding_note(certificate, len(entry["W_exact"]))
    with iv.precision():
        W, b = point_balls(point)
        W = _padded(W, len(entry["W_exact"]))
        certificate["hessian"] = hessian_certificate(W, b, entry["classification"])
    return certificate, exact


def _not_isolated_reason(entry) -> str:
    if entry.get("on_boundary"):
        return ("on an activation boundary (L is C¹ but not C² there): no Krawczyk box; the point "
                "lies in a non-isolated critical set or at a kink of the Hessian")
    group = f"O({len(entry['W_exact'])})"
    return (f"not isolated: flat or degenerate directions beyond the {group} orbit; criticality is "
            "proved exactly instead")


def _annotate_full(entry, n, digits, radius):
    W_text = entry["W_exact"]
    b_text = entry["b_exact"]
    m = len(W_text)
    W_float = np.array(entry["W"], dtype=float)
    b_float = np.array(entry["b"], dtype=float)
    flats = set(flat_coordinates(W_float, b_float))
    W_mid = [list(row) for row in W_text]
    # the gauge: the j-th pivot column p_j has W[r, p_j] = 0 for r > j (for m = 2: W[1, f] of
    # the first nonzero column f)
    gauges = [r * n + p for j, p in enumerate(pivot_columns(W_float)) for r in range(j + 1, m)]
    for index in gauges:
        W_mid[index // n][index % n] = "0"
    variables = [i for i in range((m + 1) * n) if i not in flats and i not in gauges]
    result = iv.full_krawczyk(W_mid, b_text, variables, radius)
    if m == 2:
        certificate = {
            "proved": result["proved"],
            "method": "krawczyk-full",
            "coordinates": "theta (W row-major, then b); gauge W[1,f] = 0 and flat coordinates "
                           "fixed",
            "gauge_index": gauges[0] if gauges else None,
        }
    else:
        certificate = {
            "proved": result["proved"],
            "method": "krawczyk-full",
            "coordinates": "theta (W row-major, then b); echelon gauge W[r, p_j] = 0 for r > j "
                           "at the pivot columns p_j, and flat coordinates fixed",
            "gauge_indices": gauges,
        }
    certificate.update({
        "fixed_flat": sorted(flats),
        "box": {"center": "W_exact, b_exact (gauge coordinate set to 0)", "radius": radius},
        "arithmetic": f"python-flint arb, {iv.working_bits()} bits",
        "contraction": _contraction_bound(result.get("contraction")),
    })
    if result["proved"]:
        certificate["claim"] = ("exactly one critical point of L in the box within the gauge "
                                "slice; the box lies inside one activation region (L analytic)")
        certificate["scope"] = (
            "the dropped equation ∂L/∂W[1,f] follows from rotation invariance since W[0,f] ≠ 0; "
            "flat coordinates' equations vanish identically (strictly dead blocks)" if m == 2
            else "the dropped equations ∂L/∂W[r, p_j] (r > j) follow from the rotation "
            "identities Σ_i (W[j,i] ∂L/∂W[r,i] − W[r,i] ∂L/∂W[j,i]) = 0, solved in the order "
            "j = 0, 1, … (echelon form: W[j, p_j] ≠ 0 and W[r, p_k] = 0 for r > k); flat "
            "coordinates' equations vanish identically (strictly dead blocks)")
    else:
        certificate["reason"] = result.get("reason", "Krawczyk failed")
        certificate["evidence"] = (f"full gradient norm {entry.get('grad_norm')} at {digits} "
                                   "digits (verified, not proved)")
    with iv.precision():
        r = flint.arb(radius)
        W = np.array([[iv.ball(v) for v in row] for row in W_mid], dtype=object)
        b = np.array([iv.ball(v) for v in b_text], dtype=object)
        # Over the box also where Krawczyk failed: at the bare stored point, a pre-activation
        # that is 0 at the critical point (a bias on a kink) is a residue of either sign below
        # the stored digits, and the one-sided Hessian it selects is an accident of rounding.
        theta = [*W.ravel(), *b]
        for i in variables:
            theta[i] = flint.arb(theta[i], r)
        W = np.array(theta[: m * n], dtype=object).reshape(m, n)
        b = np.array(theta[m * n:], dtype=object)
        certificate["hessian"] = hessian_certificate(W, b, entry["classification"])
        if not result["proved"]:
            certificate["hessian"]["note"] = ("evaluated over the box around the stored point "
                                              "(not proved to contain the critical point)")
            certificate["hessian"]["proved"] = False
    return certificate


# ----------------------------------------------------------------------------------------------


#: Krawczyk contractions are reported as at most this or a power of ten above it: below it the
#: ratio is the float64 preconditioner's rounding (1e-16..1e-10), which differs between machines.
CONTRACTION_FLOOR = 1e-6


def _contraction_bound(contraction: float | None) -> float | None:
    """An upper bound of the Krawczyk contraction max_i rad(K_i)/rad(X_i) that does not depend
    on the machine: :data:`CONTRACTION_FLOOR`, or the next power of ten above."""
    if contraction is None:
        return None
    if contraction <= CONTRACTION_FLOOR:
        return CONTRACTION_FLOOR
    return float(f"1e{math.ceil(math.log10(contraction))}")


def _outward(bound: float | None, up: bool, digits: int = 4) -> float | None:
    """``bound`` rounded to ``digits`` significant digits away from the side it bounds."""
    if bound is None or bound == 0:
        return bound
    exponent = math.floor(math.log10(abs(bound))) - digits + 1
    scaled = bound / 10.0**exponent
    rounded = (math.ceil(scaled) if up else math.floor(scaled)) * 10.0**exponent
    return float(f"{rounded:.{digits - 1}e}")


def check_entry(entry: dict, n: int, digits: int | None = None) -> list[str]:
    """Re-check an entry's stored certificate and exact form; returns the list of failures.

    The certificate is recomputed from the entry's own data (the stored box, the point) and its
    verdicts compared with the stored ones; exact forms are checked by evaluating each minimal
    polynomial at the stored decimal value and confirming its isolating interval contains it
    and holds exactly one root (certified root counting with Arb balls,
    :func:`critpoints.proofs.realroots.count_real_roots`).
    """
    from critpoints.proofs.realroots import count_real_roots

    digits = digits or entry.get("precision_digits", 60)
    failures: list[str] = []
    stored_cert, stored_exact = entry.get("certificate"), entry.get("exact")
    if stored_cert is None:
        return [f"{entry['id']}: no certificate"]
    certificate, exact = annotate(entry, n, digits)
    # every part of the certificate that is exact (not a rounded float, nor a sentence that
    # quotes one): a point, box or region edited in a file fails here
    for key in ("proved", "method", "coordinates", "box", "region", "arithmetic", "scope",
                "gauge_index", "fixed_flat", "point", "isolated"):
        if certificate.get(key) != stored_cert.get(key):
            failures.append(f"{entry['id']}: certificate {key} {stored_cert.get(key)!r} does not "
                            f"re-check (recomputed {certificate.get(key)!r})")
    for key in ("proved", "method", "n_pos", "n_neg", "n_undetermined", "n_null",
                "agrees_with_classification"):
        if certificate["hessian"].get(key) != (stored_cert.get("hessian") or {}).get(key):
            failures.append(f"{entry['id']}: hessian {key} does not re-check")
    if stored_exact != exact:
        failures.append(f"{entry['id']}: exact form differs from the re-derived one")
    if stored_exact and entry.get("reduced"):
        values = {"x": entry["reduced"]["x"], "s": entry["reduced"]["s"],
                  "vertex_bias": entry["reduced"]["vertex_bias"]}
        for name, number in stored_exact.get("coordinates", {}).items():
            if "minpoly" not in number:
                continue
            # read by its grammar, never evaluated: the file may have been tampered with
            try:
                coefficients = parse_polynomial_text(number["minpoly"], "t")
                lo, hi = (Fraction(v) for v in number["interval"])
            except (ValueError, TypeError, ZeroDivisionError) as exc:
                failures.append(f"{entry['id']}: exact form of {name} unreadable: {exc}")
                continue
            if any(v.denominator != 1 for v in coefficients) or len(coefficients) < 2:
                failures.append(f"{entry['id']}: minpoly of {name} is not an integer polynomial "
                                "of degree ≥ 1")
                continue
            integers = [int(v) for v in reversed(coefficients)]  # highest degree first
            with mpmath.workdps(digits):
                value = mpmath.mpf(values[name])
                coeffs = [mpmath.mpf(v) for v in integers]
                residual = abs(mpmath.polyval(coeffs, value))
                scale = sum(abs(v) for v in coeffs) * max(1, abs(value)) ** (len(integers) - 1)
                if residual > scale * mpmath.mpf(10) ** (15 - digits):
                    failures.append(f"{entry['id']}: stored {name} is not a root of its minpoly")
            if not lo <= Fraction(str(mpmath.nstr(value, 30))) <= hi and lo != hi:
                failures.append(f"{entry['id']}: isolating interval of {name} misses the value")
            if lo == hi:
                continue
            try:
                roots = count_real_roots(integers, lo, hi)
            except ArithmeticError as exc:  # a root too close to an end point to place
                failures.append(f"{entry['id']}: interval of {name}: {exc}")
                continue
            if roots != 1:
                failures.append(f"{entry['id']}: interval of {name} does not isolate one root")
    return failures
