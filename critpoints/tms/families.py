"""The flat families of a TMS catalog's entries: the ``critpoints.families`` document.

A catalog stores one entry per critical set (a flat family of non-congruent critical points at
one loss is deduplicated to one representative). This document says, for the entries whose
Hessian has more zero eigenvalues than their symmetry explains, how large that set is: the
dimension k of the critical set through the entry beyond the explained zero modes and the
tangent-cone dimension k₁ at the entry, measured from sampled members by
:func:`critpoints.solve.family.flat_family` (method and caveats there: k is numerical
evidence and a lower bound in practice). An entry without unexplained zero modes is isolated
by its Hessian and is not listed.

The document is linked to its catalog by the catalog's file name and the SHA-256 of its bytes,
so a families file made from another version of the catalog is recognised as stale.

Pure: the caller reads the catalog and computes the digest; nothing here touches a file.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from critpoints.solve import family as family_method
from critpoints.solve.family import flat_family
from critpoints.tms.model import TMSPotential
from critpoints.workers import mapped

__all__ = ["SELECTIONS", "families_document", "family_of_entry", "selected_entries",
           "unexplained_zero_modes"]

#: Which entries a families document covers by default, by name.
SELECTIONS = {
    "minima": "every entry with verdict minimum and unexplained zero modes",
    "all": "every entry with unexplained zero modes",
}

Progress = Callable[[str, int, int], None]


def unexplained_zero_modes(entry: dict) -> int:
    """Zero Hessian eigenvalues of a catalog entry beyond those its symmetry explains."""
    zero = entry["evidence"]["zero_modes"]
    return zero["observed"] - zero["explained"]


def selected_entries(entries: list[dict], selection: str, ids: list[str] | None = None
                     ) -> list[dict]:
    """The entries a document covers: those named by ``ids`` (in that order, each once), else
    those of the named ``selection`` (:data:`SELECTIONS`), in catalog order."""
    if ids is not None:
        by_id = {e["id"]: e for e in entries}
        return [by_id[i] for i in dict.fromkeys(ids)]
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {sorted(SELECTIONS)}; got {selection!r}")
    return [e for e in entries if unexplained_zero_modes(e) > 0
            and (selection == "all" or e["verdict"] == "minimum")]


def family_of_entry(entry: dict, seed: int = 0) -> dict:
    """The ``families`` record of one catalog entry (its float64 point is enough: the members
    are float64 searches).

    Where L is C² around the entry (not on an activation boundary) its Hessian bounds the
    family: a k-dimensional stratum of critical points through or up to the point puts k
    directions in the Hessian's kernel (rank is lower semicontinuous), so k is at most the
    catalog's unexplained zero modes (counted from the 60-digit eigenvalues). A sample above
    that bound has taken a direction of tiny but nonzero curvature κ for flat — the returns
    stop once ‖∇L‖ ≤ 10⁻¹², and a displacement t along it leaves only κt — so the record keeps
    the sampled numbers and says the dimension is untested, with the reason."""
    W, b = np.array(entry["W"], dtype=float), np.array(entry["b"], dtype=float)
    potential = TMSPotential.of(W[None])
    family = flat_family(potential, potential.flatten(W, b), seed=seed)
    zero = entry["evidence"]["zero_modes"]
    bound = None if entry["on_boundary"] else unexplained_zero_modes(entry)
    measured = family.to_json()
    dimension, tangent = measured["dimension"], measured["tangent_dimension"]
    note = None
    if bound is not None and dimension is not None and dimension > bound:
        note = (f"untested: the sampled dimension {dimension} exceeds the {bound} unexplained "
                "zero modes of the Hessian at this C² point (a direction of small nonzero "
                "curvature passed for flat at the sampling scales "
                f"{', '.join(f'{s:g}' for s in measured['at_point']['scales'])})")
        dimension = tangent = None
    return {"id": entry["id"], "loss": entry["loss"], "verdict": entry["verdict"],
            "on_boundary": entry["on_boundary"],
            "zero_modes": {"observed": zero["observed"], "explained": zero["explained"]},
            "hessian_bound": bound,
            "isolated": None if dimension is None else dimension == 0,
            "dimension": dimension, "tangent_dimension": tangent,
            "sampled_dimension": measured["dimension"],
            "sampled_tangent_dimension": measured["tangent_dimension"], "note": note,
            **{k: v for k, v in measured.items() if k not in ("dimension", "tangent_dimension")}}


def _family_job(job: tuple) -> dict:
    return family_of_entry(*job)


def families_document(catalog: dict, catalog_file: str, catalog_sha256: str, command: str, *,
                      selection: str = "minima", ids: list[str] | None = None, seed: int = 0,
                      workers: int = 1, progress: Progress | None = None) -> dict:
    """The ``critpoints.families`` document of a TMS catalog document.

    Parameters
    ----------
    catalog : dict
        The catalog document (validated).
    catalog_file, catalog_sha256 : str
        Its file name and the SHA-256 (hex) of its bytes: the link to it.
    command : str
        The command that writes this document (stored for regeneration).
    selection : str
        Which entries (:data:`SELECTIONS`) when ``ids`` is not given.
    ids : list of str, optional
        Entry ids to measure instead (each must exist).
    seed : int
        Seed of the random perturbations (the same for every entry).
    workers : int
        Processes, one entry each; the document does not depend on it.
    progress : callable, optional
        ``progress(stage, done, total)``.
    """
    from critpoints import __version__

    chosen = selected_entries(catalog["critical_points"], selection, ids)
    records = mapped(_family_job, [(entry, seed) for entry in chosen], workers,
                     progress or (lambda stage, done, total: None), "flat families")
    dimensions = [r["dimension"] for r in records]
    model = catalog["model"]
    return {
        "schema_name": "critpoints.families",
        "schema_version": 1,
        "generator": {"package": "critpoints", "version": __version__, "command": command},
        "model": {"kind": model["kind"], "n": model["n"], "m": model["m"]},
        "catalog": {"file": catalog_file, "sha256": catalog_sha256,
                    "entries": len(catalog["critical_points"])},
        "selection": ({"rule": "the entries named by --id", "ids": list(dict.fromkeys(ids))}
                      if ids is not None else {"rule": SELECTIONS[selection], "ids": None}),
        "seed": seed,
        "method": {"first_order": family_method.FIRST_ORDER,
                   "scale_agreement": family_method.SCALE_AGREEMENT,
                   "scales": list(family_method.SCALES),
                   "member_reach": family_method.MEMBER_REACH,
                   "members_remeasured": family_method.MEMBERS_REMEASURED,
                   "remeasure_floor": family_method.REMEASURE_FLOOR,
                   "loss_tolerance": family_method.LOSS_TOLERANCE},
        "summary": {"entries": len(records),
                    "isolated": sum(d == 0 for d in dimensions),
                    "families": sum(d is not None and d > 0 for d in dimensions),
                    "untested": sum(d is None for d in dimensions),
                    "contradicted_by_hessian": sum(r["note"] is not None for r in records),
                    "largest_dimension": max((d for d in dimensions if d is not None),
                                             default=None)},
        "families": records,
    }
