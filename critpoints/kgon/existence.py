"""The k = n existence question (issue 4, part 3): regular n-gon critical points, counted
rigorously.

The k-gon layer: it uses the enumerator's reduced solver (:mod:`critpoints.kgon.reduced`) and the
tools of :mod:`critpoints.proofs` (public names only).

For a regular n-gon with every output live (s = b/x > -1) the critical points of the reduced loss
are the roots s of h = 2F₁'F₂ - F₁F₂' with x = -F₁/(2F₂) > 0, one polynomial per activation
interval of s (:mod:`critpoints.kgon.reduced`). The count per interval is certified:

- first interval (-1, -cos(2π/n)): every P block is dead (s < -κ_d and s < 0) and Q is rising, so
  F₁ = (s-2)(1+s)²/3, F₂ = (1+s)³/3 and h = s(1+s)⁴/3 exactly: no root inside.
- last interval (max breakpoint, ∞): every block is live, F₁ = -(2+3s)/3 and
  F₂ = (Σκ_d² + 3sΣκ_d + 3ns²)/3 with Σ_{d<n} cos(2πd/n) = 0 and Σ cos² = n/2 (n ≥ 3), so
  h = n(4s - 1)/3 exactly: its root 1/4 lies below the interval (for n ≥ 4 the last breakpoint is
  ≥ cos(π/n) > 1/4).
- every other (bounded) interval: rigorous root isolation of h with Arb balls — bisection where
  the mean-value enclosure h(m) + h'(I)(I - m) excludes 0 (no root) or h'(I) excludes 0 and the
  end values have opposite certified signs (exactly one root); the end points of the interval are
  checked to be non-roots. The ball coefficients of the first/last intervals are checked to
  contain the exact forms above.

Each root is then certified with the reduced Krawczyk test, x > 0 is certified, and the full-space
Hessian over the certified box gives the index (:func:`critpoints.proofs.interval.inertia`).
By symmetric criticality each is a critical point of L in full space (all columns nonzero and
live, L analytic near it).
"""

from __future__ import annotations

import flint
import mpmath
import numpy as np

from critpoints.kgon.reduced import solve_regular_polygon
from critpoints.proofs import certificate_radius, hessian_certificate, reduced_box_point
from critpoints.proofs import interval as iv
from critpoints.tms import potential
from critpoints.tms.polygon import intervals

__all__ = ["existence_row", "isolate_roots", "paper_style_roots"]


def _h_coefficients(F1, F2):
    d1, d2 = iv.poly_derivative(F1), iv.poly_derivative(F2)
    size = max(len(d1) + len(F2), len(F1) + len(d2))
    h = [flint.arb(0)] * size
    for i, u in enumerate(d1):
        for j, v in enumerate(F2):
            h[i + j] += 2 * u * v
    for i, u in enumerate(F1):
        for j, v in enumerate(d2):
            h[i + j] -= u * v
    return h


def _enclose(h, dh, lo, hi):
    I = flint.arb.union(lo, hi)
    m = (lo + hi) / 2
    return iv.poly_eval(h, m) + iv.poly_eval(dh, I) * (I - m)


def isolate_roots(h, lo: flint.arb, hi: flint.arb, max_depth: int = 60) -> list[tuple] | None:
    """Certified isolation of the roots of h (ball coefficients) in the open interval (lo, hi).

    Returns a list of (a, b) balls bracketing exactly one simple root each, or None when the
    isolation could not be certified (a root at or too close to an end point, or a multiple root).
    """
    dh = iv.poly_derivative(h)
    for end in (lo, hi):
        if iv.poly_eval(h, end).contains(0):
            return None
    # start strictly inside: the end points themselves are certified non-roots
    inner_lo = lo.mid() if lo.rad() == 0 else lo.upper()
    inner_hi = hi.mid() if hi.rad() == 0 else hi.lower()
    stack = [(inner_lo, inner_hi, 0)]
    roots = []
    while stack:
        a, b, depth = stack.pop()
        a, b = flint.arb(a), flint.arb(b)
        value = _enclose(h, dh, a, b)
        if not value.contains(0):
            continue
        slope = iv.poly_eval(dh, flint.arb.union(a, b))
        ha, hb = iv.poly_eval(h, a), iv.poly_eval(h, b)
        if not slope.contains(0) and not ha.contains(0) and not hb.contains(0):
            if (ha > 0) != (hb > 0):
                roots.append((a, b))
            continue
        if depth >= max_depth:
            return None
        # split slightly off-centre so that a split point is not a root by accident
        mid = (a + (b - a) * flint.arb(0.4990234375)).mid()
        stack.append((a.mid(), mid, depth + 1))
        stack.append((mid, b.mid(), depth + 1))
    return sorted(roots, key=lambda r: float(r[0].mid()))


def _check_exact_first_last(n, F1, F2, which: str) -> bool:
    """The ball coefficients of h contain the exact closed forms of the first/last intervals."""
    h = _h_coefficients(F1, F2)
    if which == "first":  # s(1+s)^4/3
        exact = [0, 1, 4, 6, 4, 1]
        exact = [flint.arb(v) / 3 for v in exact]
    else:  # n(4s - 1)/3
        exact = [flint.arb(-n) / 3, flint.arb(4 * n) / 3]
    exact += [flint.arb(0)] * (len(h) - len(exact))
    return all(hv.contains(ev) for hv, ev in zip(h, exact)) and len(h) >= len(exact)


def existence_row(n: int, digits: int = 60) -> dict:
    """All regular n-gon (k = n) critical points with live outputs, with certificates.

    Returns
    -------
    dict
        ``n``, ``solutions`` (count), ``points`` (``l``, ``b_v``, ``x``, ``s``, ``loss``,
        ``classification``, ``hessian_index``, ``certificate``), ``intervals`` (per activation
        interval: its description and the certified number of roots of h in it and how).
    """
    if n < 4:
        raise ValueError("the existence analysis is written for n ≥ 4")
    numeric = solve_regular_polygon(n, n, digits + 20)
    radius = certificate_radius(digits)
    rows, points = [], []
    with iv.working_digits(digits), iv.precision():
        all_intervals = intervals(n)
        for index, interval in enumerate(all_intervals):
            F1, F2 = iv.reduced_polynomials_ball(n, n, interval)
            lo, hi = iv.breakpoint_ball(interval.lower), iv.breakpoint_ball(interval.upper)
            record = {"interval": interval.describe()}
            if index == 0:
                ok = _check_exact_first_last(n, F1, F2, "first")
                record.update(roots=0 if ok else None,
                              method="exact: h = s(1+s)^4/3, root 0 outside")
                rows.append(record)
                continue
            if interval.upper.infinite:
                ok = _check_exact_first_last(n, F1, F2, "last") and bool(lo > flint.arb(1) / 4)
                record.update(roots=0 if ok else None,
                              method="exact: h = n(4s-1)/3, root 1/4 outside")
                rows.append(record)
                continue
            h = _h_coefficients(F1, F2)
            brackets = isolate_roots(h, lo, hi)
            if brackets is None:
                record.update(roots=None, method="arb root isolation failed")
                rows.append(record)
                continue
            record.update(roots=len(brackets), method="arb root isolation (bisection, certified)")
            record["brackets"] = [[str(a.mid()), str(b.mid())] for a, b in brackets]
            rows.append(record)
            for a, b in brackets:
                match = [sol for sol in numeric
                         if float(a.mid()) - 1e-12 <= float(sol.s) <= float(b.mid()) + 1e-12]
                if len(match) != 1:
                    record["mismatch"] = "numeric solver disagrees with the isolation"
                    continue
                points.append(_point(n, interval, match[0], a, b, F1, F2, digits, radius))
    live = [p for p in points if p["x_positive"]]
    return {
        "n": n,
        "solutions": len(live) if all(r["roots"] is not None for r in rows) else None,
        "points": live,
        "intervals": rows,
        "numeric_solver_count": len(numeric),
    }


def _smallest_magnitude(eigenvalues: np.ndarray) -> float:
    """min |μ| of a float64 spectrum as stored: 0.0 within the zero tolerance 1e-9·max(1, |μ|max)
    (the O(2) zero mode; its float64 value is LAPACK rounding, different on every machine),
    else 4 significant digits."""
    smallest = float(np.abs(eigenvalues).min())
    if smallest <= 1e-9 * max(1.0, float(np.abs(eigenvalues).max())):
        return 0.0
    return float(f"{smallest:.3e}")


def _point(n, interval, solution, a, b, F1, F2, digits, radius):
    with mpmath.workdps(digits + 20):
        x_text = mpmath.nstr(solution.x, digits + 10)
        s_text = mpmath.nstr(solution.s, digits + 10)
    # x = -F₁/(2F₂) > 0 over the whole bracket: certified sign
    bracket = flint.arb.union(a, b)
    x_ball = -iv.poly_eval(F1, bracket) / (2 * iv.poly_eval(F2, bracket))
    cert = iv.reduced_krawczyk(n, n, interval, x_text, s_text, radius)
    entry_like = {"k": n, "sigma": 0}
    W, bb = reduced_box_point(entry_like, n, x_text, s_text, radius)
    hess = hessian_certificate(W, bb, "unknown")
    hess.pop("agrees_with_classification", None)
    # numeric cross-check: 60-digit Hessian eigenvalues
    with mpmath.workdps(digits):
        Wm = np.array([[mpmath.mpf(v.mid().str(75, radius=False)) for v in row] for row in W],
                      dtype=object)
        bm = np.array([mpmath.mpf(v.mid().str(75, radius=False)) for v in bb], dtype=object)
        H = potential.hessian(Wm, bm, dps=digits).astype(float)
        loss = potential.loss(Wm, bm, dps=digits)
    eig = np.linalg.eigvalsh(H)
    numeric_index = int((eig < -1e-9).sum())
    if hess.get("proved") and hess["n_neg"] == 0:
        label, index = "minimum", 0
    elif hess.get("n_neg", 0) > 0:
        label, index = "saddle", hess["n_neg"] if hess.get("n_undetermined", 1) == 0 else None
    else:
        label, index = "undecided", None
    with mpmath.workdps(digits):
        x = mpmath.mpf(x_text)
        l_value = mpmath.sqrt(x)
        b_value = x * mpmath.mpf(s_text)
    return {
        "l": mpmath.nstr(l_value, 20),
        "b_v": mpmath.nstr(b_value, 20),
        "x": mpmath.nstr(x, 20),
        "s": mpmath.nstr(mpmath.mpf(s_text), 20),
        "loss": mpmath.nstr(loss, 20),
        "x_positive": bool(x_ball > 0),
        "classification": label,
        "hessian_index": index,
        "numeric_index": numeric_index,
        "min_abs_eigenvalue": _smallest_magnitude(eig),
        "certificate": {
            "method": "krawczyk-reduced",
            "proved": cert["proved"],
            "box": {"center": [x_text, s_text], "radius": radius},
            "region": {"s_interval": interval.describe()},
            "hessian": hess,
        },
    }


def paper_style_roots(n: int, dps: int = 40) -> list[dict]:
    """Real roots of each interval's h taken alone, with x = -F₁/(2F₂), flagging those outside
    their interval (spurious if a single-region polynomial system is solved without checking
    its region's inequalities)."""
    out = []
    with iv.precision():
        for interval in intervals(n):
            F1, F2 = iv.reduced_polynomials_ball(n, n, interval)
            h = [float(v.mid()) for v in _h_coefficients(F1, F2)]
            while len(h) > 1 and abs(h[-1]) < 1e-12 * max(abs(v) for v in h):
                h.pop()
            if len(h) < 2:
                continue
            lo = iv.breakpoint_ball(interval.lower)
            hi = iv.breakpoint_ball(interval.upper)
            lo_f = float(lo.mid())
            hi_f = np.inf if hi is None else float(hi.mid())
            for root in np.roots(h[::-1]):
                if abs(root.imag) > 1e-9:
                    continue
                s = float(root.real)
                if abs(s + 1) < 1e-6:
                    continue
                f1 = sum(float(v.mid()) * s**i for i, v in enumerate(F1))
                f2 = sum(float(v.mid()) * s**i for i, v in enumerate(F2))
                if f2 == 0:
                    continue
                x = -f1 / (2 * f2)
                out.append({"interval": interval.describe(), "s": s, "x": x,
                            "inside": lo_f < s < hi_f, "x_positive": x > 0,
                            "l": float(np.sqrt(x)) if x > 0 else None,
                            "b_v": x * s})
    return out
