"""Re-check everything a TMS catalog entry claims about itself, from its exact numbers.

``critpoints certify`` runs :func:`recheck_document`. For every entry it recomputes, from the
stored 60-digit representative (``W_exact``, ``b_exact``) alone:

- the shapes against the model block (W is m×n, b has n entries) and the float copies ``W``,
  ``b``, ``loss``, ``grad_norm`` and ``geometry`` against the exact values (float64 rounding of
  the exact numbers: the relative tolerance is 1e-15);
- the loss (to 10^(15 − digits)) and the gradient (≤ 10^(20 − digits)) at ``digits`` digits;
- the classification, verdict, Hessian index and counts, ``on_boundary`` and λ, by classifying
  the point again (:func:`critpoints.solve.classify.classify`, with the catalog's seed and
  ``volume_check_max_dimension``, the budget it was classified with); the
  stored descent direction, if any, is re-evaluated at ``digits`` digits at its stored radii;
- the certificate and the exact algebraic form (:func:`critpoints.proofs.check_entry`);

and for the document: a non-empty list of points, unique ids, sorted by loss. Numbers are
known to be finite: :func:`critpoints.catalog.load_catalog` refuses NaN, ±Infinity and literals
that overflow a double. Pure computation: nothing here reads files or prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import mpmath
import numpy as np

from critpoints.catalog import MAX_PARAMETER

__all__ = ["Failure", "recheck_document", "recheck_entry"]

#: Relative agreement of a stored float with the float64 rounding of its exact value.
FLOAT_RTOL = 1e-15

#: The precisions a catalog entry may be re-checked at (enumerate's --digits range): a
#: precision_digits of 10⁹ edited into a file would never finish.
MIN_DIGITS, MAX_DIGITS = 30, 1000


@dataclass(frozen=True)
class Failure:
    """One claim of a catalog that does not re-check."""

    entry: str  # the entry's id, or "(document)"
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.entry}: {self.field}: {self.message}"


def recheck_document(document: dict, classify_points: bool = True,
                     progress: Callable[[int, int], None] | None = None,
                     workers: int = 1) -> list[Failure]:
    """Every failure of a (schema-valid) TMS catalog document; an empty list if all re-check.

    Parameters
    ----------
    document : dict
        A catalog document of kind ``tms-high-sparsity`` (already validated by its schema).
    classify_points : bool
        Re-classify every point (the expensive part: sphere and curvature searches for the
        non-smooth points). Without it the classification fields are checked for internal
        consistency only.
    progress : callable, optional
        Called as ``progress(done, total)`` after each entry.
    workers : int
        Re-check entries in this many processes (the result does not depend on it: every
        entry is re-checked on its own, with the catalog's seed).
    """
    model = document["model"]
    if model["kind"] != "tms-high-sparsity":
        return [Failure("(document)", "model.kind",
                        f"{model['kind']!r}: certify re-checks tms-high-sparsity catalogs")]
    points = document["critical_points"]
    failures: list[Failure] = []
    if not points:
        failures.append(Failure("(document)", "critical_points", "no critical points"))
    seen: set[str] = set()
    for entry in points:
        if entry["id"] in seen:
            failures.append(Failure(entry["id"], "id", "duplicate id"))
        seen.add(entry["id"])
    losses = [entry.get("loss") for entry in points]
    if any(a is not None and b is not None and b < a for a, b in pairwise(losses)):
        failures.append(Failure("(document)", "critical_points", "not sorted by loss"))
    conventions = model.get("conventions") or {}
    seed = int(conventions.get("classification_seed", 0))
    # the classification's budget, as the catalog was made with it
    max_dimension = conventions.get("volume_check_max_dimension")
    if max_dimension is not None and (type(max_dimension) is not int or max_dimension < 1):
        return [Failure("(document)", "model.conventions.volume_check_max_dimension",
                        f"{max_dimension!r} is not a positive integer")]
    arguments = [(entry, model["n"], model["m"], seed, classify_points, max_dimension)
                 for entry in points]
    if workers > 1 and len(points) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = pool.map(_recheck_arguments, arguments, chunksize=4)
            for done, found in enumerate(results, 1):
                failures.extend(found)
                if progress is not None:
                    progress(done, len(points))
        return failures
    for done, item in enumerate(arguments, 1):
        failures.extend(_recheck_arguments(item))
        if progress is not None:
            progress(done, len(points))
    return failures


def _recheck_arguments(arguments: tuple) -> list[Failure]:
    return recheck_entry(*arguments)


def recheck_entry(entry: dict, n: int, m: int, seed: int = 0,
                  classify_point: bool = True,
                  volume_check_max_dimension: int | None = None) -> list[Failure]:
    """Every failure of one TMS entry (see the module docstring). An entry that cannot be
    re-checked at all (a field of the wrong type or size, edited by hand) is one failure that
    says why, not an exception."""
    ident = entry["id"]
    digits = entry.get("precision_digits", 60)
    if type(digits) is not int or not MIN_DIGITS <= digits <= MAX_DIGITS:
        return [Failure(ident, "precision_digits",
                        f"{digits!r} is not a precision of {MIN_DIGITS}..{MAX_DIGITS} digits")]
    shape = _shape_failures(entry, n, m)
    if shape:
        return [Failure(ident, field, message) for field, message in shape]
    try:
        return _recheck_entry(entry, n, digits, seed, classify_point, volume_check_max_dimension)
    except Exception as exc:  # whatever a tampered field makes the checks raise
        reason = str(exc).splitlines()[0][:200] if str(exc) else ""
        return [Failure(ident, "entry", f"cannot be re-checked: {type(exc).__name__}: {reason}")]


def _recheck_entry(entry: dict, n: int, digits: int, seed: int, classify_point: bool,
                   volume_check_max_dimension: int | None) -> list[Failure]:
    ident = entry["id"]
    failures: list[Failure] = []
    dead = entry.get("dead_vertices")
    if dead is not None and not (
            isinstance(dead, list) and len(dead) == entry.get("phi")
            and all(type(v) is int and 0 <= v < entry.get("k", 0) for v in dead)
            and len(set(dead)) == len(dead)):
        failures.append(Failure(ident, "dead_vertices", f"{dead!r} is not φ = "
                                f"{entry.get('phi')!r} distinct vertices of the k-gon"))

    def fail(field: str, message: str) -> None:
        failures.append(Failure(ident, field, message))

    with mpmath.workdps(digits):
        try:
            W = np.array([[mpmath.mpf(v) for v in row] for row in entry["W_exact"]], dtype=object)
            b = np.array([mpmath.mpf(v) for v in entry["b_exact"]], dtype=object)
        except (ValueError, TypeError) as exc:
            return [Failure(ident, "W_exact/b_exact", f"not decimal numbers ({exc})")]
        if not all(mpmath.isfinite(v) and abs(v) <= MAX_PARAMETER for v in [*W.ravel(), *b]):
            return [Failure(ident, "W_exact/b_exact",
                            f"not finite numbers of magnitude at most {MAX_PARAMETER:g}")]
        _check_floats(entry, W, b, digits, fail)
        _check_loss_and_gradient(entry, W, b, digits, fail)
    if classify_point:
        _check_classification(entry, W, b, digits, seed, fail, volume_check_max_dimension)
    else:
        _check_consistency(entry, fail)
    if "certificate" in entry or "exact" in entry:
        from critpoints.proofs.annotate import check_entry

        for line in check_entry(entry, n, digits):
            fail("certificate", line.split(": ", 1)[-1])
    return failures


def _shape_failures(entry: dict, n: int, m: int) -> list[tuple[str, str]]:
    out = []
    for field in ("W", "W_exact"):
        rows = entry.get(field)
        if not isinstance(rows, list) or len(rows) != m or any(
                not isinstance(row, list) or len(row) != n for row in rows):
            out.append((field, f"not an {m}×{n} matrix (the model says m = {m}, n = {n})"))
    for field in ("b", "b_exact"):
        values = entry.get(field)
        if not isinstance(values, list) or len(values) != n:
            out.append((field, f"not a vector of {n} entries (the model says n = {n})"))
    for field in ("loss_exact", "loss", "hessian", "classification"):
        if field not in entry:
            out.append((field, "missing"))
    return out


def _close(stored: float, exact, rtol: float = FLOAT_RTOL) -> bool:
    value = float(exact)
    return abs(stored - value) <= rtol * max(abs(value), 1e-300) or stored == value


def _check_floats(entry, W, b, digits, fail) -> None:
    for name, stored, exact in (("W", entry["W"], W), ("b", [entry["b"]], b[None, :])):
        for row_stored, row_exact in zip(stored, exact):
            for i, (x, y) in enumerate(zip(row_stored, row_exact)):
                if not _close(x, y):
                    fail(name, f"float {x!r} at column {i} is not the exact value {float(y)!r}")
                    return
    if not _close(entry["loss"], mpmath.mpf(entry["loss_exact"])):
        fail("loss", f"{entry['loss']!r} is not loss_exact rounded ({entry['loss_exact']})")
    geometry = entry.get("geometry")
    if geometry is not None and W.shape[0] == 2:
        from critpoints.tms.symmetry import polar_geometry

        for key, value in polar_geometry(W, b, digits).items():
            if geometry.get(key) != value:
                fail(f"geometry.{key}", "is not what the exact point gives")
    elif geometry is not None:
        from critpoints.tms.polytope import column_geometry

        for key, value in column_geometry(W, b, digits).items():
            if geometry.get(key) != value:
                fail(f"geometry.{key}", "is not what the exact point gives")
    if "symmetry" in entry:  # m ≠ 2: the point group, re-identified from the float copy
        from critpoints.tms.polytope import point_group
        from critpoints.tms.symmetry import normalise_flat_biases

        Wf, bf = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
        recomputed = point_group(Wf, normalise_flat_biases(Wf, bf)).to_json()
        for key, value in recomputed.items():
            if entry["symmetry"].get(key) != value:
                fail(f"symmetry.{key}", f"stored {entry['symmetry'].get(key)!r}, the point "
                     f"gives {value!r}")


def _check_loss_and_gradient(entry, W, b, digits, fail) -> None:
    from critpoints.tms import potential

    value = potential.loss(W, b, dps=digits)
    if abs(value - mpmath.mpf(entry["loss_exact"])) > mpmath.mpf(10) ** (15 - digits):
        fail("loss_exact", f"re-evaluates to {mpmath.nstr(value, 20)}")
    norm = potential.gradient_norm(W, b, digits)
    if norm > mpmath.mpf(10) ** (20 - digits):
        fail("grad_norm", f"the gradient re-evaluates to {mpmath.nstr(norm, 3)}: not critical")
    stored = entry.get("grad_norm")
    if stored is not None and not (stored <= 10.0 ** (20 - digits) and
                                   abs(stored - float(norm)) <= 10.0 ** (20 - digits)):
        fail("grad_norm", f"stored {stored!r}, re-evaluated {mpmath.nstr(norm, 3)}")


#: Fields of an entry that classification decides, compared one by one.
_DECIDED = ("classification", "verdict", "hessian_index", "on_boundary", "learning_coefficient")
_COUNTS = ("n_pos", "n_neg", "n_zero", "n_zero_symmetry")


def _check_classification(entry, W, b, digits, seed, fail,
                          volume_check_max_dimension=None) -> None:
    from critpoints.solve.classify import classify, probe_descent
    from critpoints.tms.model import TMSPotential

    tms = TMSPotential(W.shape[1], W.shape[0])
    theta = tms.flatten(W, b)
    result = classify(tms, theta, dps=digits, seed=seed,
                      volume_check_max_dimension=volume_check_max_dimension)
    for field in _DECIDED:
        if entry.get(field) != getattr(result, field):
            fail(field, f"stored {entry.get(field)!r}, re-derived {getattr(result, field)!r}")
    for field in _COUNTS:
        if entry["hessian"].get(field) != getattr(result, field):
            fail(f"hessian.{field}", f"stored {entry['hessian'].get(field)!r}, re-derived "
                 f"{getattr(result, field)!r}")
    probe = (entry.get("evidence") or {}).get("descent")
    if probe is not None and not _is_probe(probe):
        fail("evidence.descent", "not a descent probe record (direction, radii, delta_loss, "
             "confirmed)")
    elif probe is not None:
        # the stored direction and radii, evaluated again: the stored numbers must be these
        again = probe_descent(tms, theta, probe["direction"], probe["radii"][0], digits)
        signs = [v < 0 for v in again["delta_loss"]]
        if (signs != [v < 0 for v in probe["delta_loss"]]
                or again["confirmed"] != probe["confirmed"]):
            fail("evidence.descent", f"stored ΔL {probe['delta_loss']}, re-evaluated "
                 f"{again['delta_loss']}")
    _check_consistency(entry, fail)


def _is_probe(probe) -> bool:
    return (isinstance(probe, dict) and isinstance(probe.get("direction"), list)
            and isinstance(probe.get("radii"), list) and len(probe["radii"]) == 3
            and isinstance(probe.get("delta_loss"), list) and len(probe["delta_loss"]) == 3
            and isinstance(probe.get("confirmed"), bool))


def _check_consistency(entry, fail) -> None:
    """Claims that must agree with each other whatever the search found."""
    from critpoints.solve.classify import decide_verdict

    hessian, evidence = entry["hessian"], entry.get("evidence") or {}
    if sum(hessian[k] for k in ("n_pos", "n_neg", "n_zero")) != len(hessian["eigenvalues"]):
        fail("hessian", "eigenvalue counts do not add up to the dimension")
    if evidence.get("method") not in ("second-order", "local-search"):
        fail("evidence.method", f"{evidence.get('method')!r} is not a method of this version")
    elif evidence.get("descent") is None or _is_probe(evidence["descent"]):
        verdict, _ = decide_verdict(evidence, hessian["n_neg"])
        if verdict != entry["verdict"]:
            fail("verdict", f"{entry['verdict']!r} but the stored evidence gives {verdict!r}")
    lam = entry.get("learning_coefficient")
    if lam is not None and entry["verdict"] != "minimum":
        fail("learning_coefficient", f"λ = {lam} stored for a {entry['verdict']}")
    if entry["classification"] == "minimum" and lam != hessian["n_pos"] / 2:
        fail("learning_coefficient", f"λ = {lam} but the Hessian gives {hessian['n_pos']}/2")
    if entry["classification"] == "saddle" and entry.get("hessian_index") != hessian["n_neg"]:
        fail("hessian_index", f"{entry.get('hessian_index')} but {hessian['n_neg']} negative "
             "eigenvalues")
