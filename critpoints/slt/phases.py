"""Classification of parameters (posterior draws) into catalog phases, for m = 2.

:func:`phase_label` is a cheap invariant of the O(2) × S_n orbit: it counts

- k: columns with ‖W_i‖ ≥ ``radius`` (polygon vertices),
- φ: those vertices whose own output is off for every input (dead vertices),
- σ: short columns with positive bias (the "+" zero columns),

and writes the catalog's label ``k`` + "+"·σ + "-"·φ; a point whose every output is off is the
all-dead plateau ``"dead"``. Short columns with b ≤ 0 are dead features (flat). The default
radius 0.5 lies between the dead-feature columns (‖u‖ ≲ 0.3 on the flat region next to a
5-gon, see ``freeenergy.dead_feature_prior_mass``) and the shortest vertex (l = 1 for 4-gons).
:func:`nearest_catalog_entry` is the exact alternative (orbit distance after moving flat biases
to the top of their interval); the tests check that both agree on posterior draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["classify_phase", "label_counts", "nearest_catalog_entry", "phase_label"]

DEFAULT_RADIUS = 0.5


def _label_parts(W: np.ndarray, b: np.ndarray, radius: float):
    from critpoints.tms.symmetry import dead_outputs

    long = np.linalg.norm(W, axis=-2) >= radius  # (..., n)
    dead = dead_outputs(W, b)  # (..., n)
    k = long.sum(axis=-1)
    phi = (long & dead).sum(axis=-1)
    sigma = (~long & (b > 0)).sum(axis=-1)
    all_dead = dead.all(axis=-1)
    return k, sigma, phi, all_dead


def phase_label(W: Any, b: Any, radius: float = DEFAULT_RADIUS) -> np.ndarray:
    """Labels (object array, shape of the batch axes) of points (W (..., 2, n), b (..., n)).

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[1.0, 0.0, -1.0, 0.0, 0.0], [0.0, 1.0, 0.0, -1.0, 0.0]])
    >>> str(phase_label(W, np.array([0.0, 0.0, 0.0, 0.0, 0.1])))
    '4+'
    """
    W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
    k, sigma, phi, all_dead = _label_parts(W, b, radius)
    out = np.empty(k.shape, dtype=object)
    for idx in np.ndindex(k.shape):
        if all_dead[idx]:
            out[idx] = "dead"
        else:
            out[idx] = f"{k[idx]}" + "+" * int(sigma[idx]) + "-" * int(phi[idx])
    return out


def classify_phase(W: Any, b: Any, known: set[str] | None = None,
                   radius: float = DEFAULT_RADIUS) -> np.ndarray:
    """Like :func:`phase_label`, with labels outside ``known`` mapped to ``"other"``."""
    labels = phase_label(W, b, radius)
    if known is None:
        return labels
    out = labels.copy()
    for idx in np.ndindex(labels.shape):
        if labels[idx] not in known:
            out[idx] = "other"
    return out


def nearest_catalog_entry(W: Any, b: Any, entries: list[dict]) -> tuple[str, float]:
    """Label of the catalog entry nearest to (W, b) up to O(2) × S_n, and the distance.

    Flat biases of both points are moved to the top of their flat interval first, so a dead
    feature's arbitrary bias does not count as distance.
    """
    from critpoints.tms.symmetry import normalise_flat_biases, orbit_distance

    W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
    b_n = normalise_flat_biases(W, b)
    best = ("", np.inf)
    for entry in entries:
        We, be = np.asarray(entry["W"], float), np.asarray(entry["b"], float)
        d = orbit_distance(We, normalise_flat_biases(We, be), W, b_n)
        if d < best[1]:
            best = (entry["label"], float(d))
    return best


def label_counts(labels: np.ndarray) -> dict[str, int]:
    """Counts of each label in an array of labels."""
    values, counts = np.unique(np.asarray(labels, dtype=object).ravel().astype(str),
                               return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}
