"""Plateaus of SGD loss curves and their identification with catalogued critical points.

Plateau rule
------------
A run's population loss L_k = L(W_k, b_k) at its checkpoints t_k is cut greedily into *bands*:
a band starts at a checkpoint k0 and extends while every L_k stays within
``atol + rtol · L_k0`` of its first value. A band is a **plateau** if it lasts at least
``min_steps`` steps and at least ``min_fraction`` of the time elapsed at its end
(t_end - t_start ≥ min_fraction · t_end), so that the slow descent of the first few hundred steps
does not make plateaus on a log-time axis, while a late plateau must persist for a fixed share of
the run. The band that reaches the last checkpoint is cut short by the end of the run, so it only
needs to last ``min_steps``. A plateau's representative is its last checkpoint (the most settled
point).

Identification
--------------
From the representative, a Levenberg–Marquardt search for a zero of the gradient of the
*population* potential (:func:`critpoints.solve.find_critical_points`) finds the critical point
the plateau sits near (at distance O(N^-1/2): SGD settles at a critical point of its finite-sample
loss). The result is matched to the catalog up to O(2) × permutations after removing the flat
directions of dead features (:func:`effective_form`). A plateau is identified when

- the search converged (gradient norm ≤ ``gtol``),
- the critical point's loss is within ``level_rtol`` (relative) of the plateau's median loss
  (SGD plateaus sit slightly above their critical point: the finite-sample minimiser is O(N^-1/2)
  away from it, which costs O(1/N) in population loss),
- its loss is within ``loss_tol`` of a catalog entry and its effective form within
  ``match_tol`` of that entry's.

When the search does not converge (it can stall on the non-smooth, flat critical sets of the
4-gons, where L is C¹ but not C²), the representative itself is compared with the catalog: it is
identified with the nearest entry (effective forms, with a looser test for inert columns, and
orbit distance) if that entry's loss is within
``level_rtol`` of the plateau's and the distance is at most ``near_tol`` (several times the
O(N^-1/2) ≈ 0.03 scatter of SGD plateaus for N = 1000). ``method`` records which way a plateau
was identified. A search that converges to a critical point missing from the catalog never falls
back: that plateau is unidentified.

The distance from the representative to the critical point is recorded (``drift``) but not used:
along flat directions (inert columns, see :func:`effective_form`) it is not a meaningful measure.

Otherwise it is kept as *unidentified*, with its parameters and the critical point found.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from critpoints.catalog import Catalog
from critpoints.solve import find_critical_points
from critpoints.tms import potential
from critpoints.tms.model import TMSPotential
from critpoints.tms.symmetry import dead_outputs, normalise_flat_biases, orbit_distance

__all__ = [
    "CatalogMatcher",
    "Identification",
    "Plateau",
    "PlateauRule",
    "detect_plateaus",
    "effective_form",
    "identify",
]


@dataclass(frozen=True)
class PlateauRule:
    """Parameters of the plateau rule (see the module docstring).

    Attributes
    ----------
    rtol, atol : float
        A band holds the checkpoints with |L_k - L_k0| ≤ atol + rtol · L_k0.
    min_steps : int
        Shortest plateau, in SGD steps.
    min_fraction : float
        Shortest plateau as a fraction of the step count at its end.
    """

    rtol: float = 0.02
    atol: float = 1e-4
    min_steps: int = 1000
    min_fraction: float = 0.25


@dataclass
class Plateau:
    """A plateau of one run: checkpoints ``first..last`` (inclusive), steps and median loss."""

    first: int
    last: int
    start_step: int
    end_step: int
    loss: float


def detect_plateaus(steps, loss, rule: PlateauRule = PlateauRule()) -> list[Plateau]:
    """The plateaus of one loss curve, in time order.

    Parameters
    ----------
    steps : array_like of int, shape (K,)
        Checkpoint steps, increasing.
    loss : array_like, shape (K,)
        Population loss at the checkpoints.
    rule : PlateauRule

    Returns
    -------
    list of Plateau
    """
    steps = np.asarray(steps)
    loss = np.asarray(loss, dtype=float)
    plateaus = []
    k0, K = 0, len(steps)
    while k0 < K:
        width = rule.atol + rule.rtol * abs(loss[k0])
        k1 = k0
        while k1 + 1 < K and abs(loss[k1 + 1] - loss[k0]) <= width:
            k1 += 1
        duration = int(steps[k1] - steps[k0])
        censored = k1 == K - 1  # the run ended during this band
        if duration >= rule.min_steps and (censored or duration >= rule.min_fraction * steps[k1]):
            plateaus.append(
                Plateau(k0, k1, int(steps[k0]), int(steps[k1]), float(np.median(loss[k0 : k1 + 1])))
            )
        k0 = k1 + 1
    return plateaus


def effective_form(
    W, b, inert_tol: float = 1e-9, zero_column: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) with the flat directions of dead features moved to a fixed representative.

    A feature i is *inert* when its output is dead for every input (b_i ≤ tol and
    W_j·W_i + b_i ≤ tol for all j) and its input reaches no output through W_i (for every j ≠ i
    with ‖W_j‖ > ``zero_column``: b_j ≤ 0 and W_i·W_j + b_j ≤ tol), with tol = ``inert_tol``:
    L does not depend on W_i nearby, so W_i is set to 0; then every flat bias goes to the top of
    its flat interval (:func:`critpoints.tms.symmetry.normalise_flat_biases`). Two points of the
    same flat critical set have equal effective forms. Loose tolerances make the same reduction
    for noisy points near such a set.
    """
    W = np.array(W, dtype=float)
    b = np.asarray(b, dtype=float)
    for _ in range(W.shape[-1]):  # zeroing one column can make another inert
        G = W.T @ W
        dead = dead_outputs(W, b, inert_tol)
        present = np.linalg.norm(W, axis=0) > zero_column
        # reaches[i, j]: output j depends on W_i (it is live for some mu and W_j ≠ 0)
        reaches = ((b[None, :] > 0) | (G + b[None, :] > inert_tol)) & present[None, :]
        np.fill_diagonal(reaches, False)
        inert = dead & ~reaches.any(axis=1) & present
        if not inert.any():
            break
        W[:, inert] = 0.0
    return W, normalise_flat_biases(W, b)


@dataclass
class _Entry:
    id: str
    loss: float
    W: np.ndarray
    b: np.ndarray
    W_eff: np.ndarray
    b_eff: np.ndarray


class CatalogMatcher:
    """Matches critical points to the entries of a TMS catalog up to O(2) × permutations and
    flat directions.

    Parameters
    ----------
    catalog : Catalog or dict
        The catalog (a loaded document is taken as it is: :meth:`Catalog.of`); its entries need
        ``W``, ``b`` and ``loss``.
    loss_tol : float
        Entries whose loss differs by more than this are not compared.
    match_tol : float
        Largest orbit distance (max norm) between effective forms for a match.
    """

    def __init__(self, catalog: Catalog | dict, loss_tol: float = 1e-6, match_tol: float = 1e-4):
        self.loss_tol, self.match_tol = loss_tol, match_tol
        self.entries = []
        catalog = Catalog.of(catalog)
        for pid, point in catalog.items():
            W, b = catalog.parameters(pid)
            W_eff, b_eff = effective_form(W, b)
            self.entries.append(_Entry(pid, float(point["loss"]), W, b, W_eff, b_eff))
        self.losses = np.array([entry.loss for entry in self.entries])

    def nearest(self, W, b, loss: float, rtol: float) -> tuple[str | None, float]:
        """The entry whose effective form is nearest (W, b)'s among those with loss within
        ``rtol`` (relative) of ``loss``, and that distance.

        (W, b) is a noisy SGD point, so its inert columns are found with loose tolerances (reach
        at most min(0.05, 1/(4n)), below the bias 1/(2n) of a live zero column; columns shorter
        than 0.1 count as zero): SGD noise lets a dead column wander along its flat set."""
        n = np.shape(W)[-1]
        W_eff, b_eff = effective_form(W, b, inert_tol=min(0.05, 1 / (4 * n)), zero_column=0.1)
        best = (np.inf, None)
        for i in np.flatnonzero(np.abs(self.losses - loss) <= rtol * abs(loss)):
            entry = self.entries[i]
            best = min(best, (orbit_distance(W_eff, b_eff, entry.W_eff, entry.b_eff), entry.id),
                       key=lambda x: x[0])
        return best[1], float(best[0])

    def match(self, W, b, loss: float | None = None) -> tuple[str | None, float]:
        """The id of the entry (W, b) matches, or None; and the orbit distance to the nearest
        candidate (inf when no entry has a close enough loss)."""
        W = np.asarray(W, dtype=float)
        b = np.asarray(b, dtype=float)
        if loss is None:
            loss = float(potential.loss(W, b))
        W_eff, b_eff = effective_form(W, b)
        matches, nearest = [], np.inf
        for i in np.flatnonzero(np.abs(self.losses - loss) <= self.loss_tol):
            entry = self.entries[i]
            d_eff = orbit_distance(W_eff, b_eff, entry.W_eff, entry.b_eff)
            nearest = min(nearest, d_eff)
            if d_eff <= self.match_tol:
                matches.append((orbit_distance(W, b, entry.W, entry.b), d_eff, entry.id))
        if not matches:
            return None, float(nearest)
        # Entries of one flat critical set tie on the effective form: take the nearest
        # representative (then the first in catalog order).
        _d_raw, d_eff, entry_id = min(matches, key=lambda match: match[0])
        return entry_id, float(d_eff)


@dataclass
class Identification:
    """Where a plateau representative leads.

    Attributes
    ----------
    id : str or None
        The catalog entry, or None (unidentified).
    W, b : ndarray
        The critical point found from the representative.
    loss, grad_norm : float
        Its population loss and gradient norm.
    drift : float
        Orbit distance from the representative to the critical point found (flat biases
        normalised).
    distance : float
        Orbit distance (effective forms) to the matched or nearest candidate entry.
    reason : str
        Why the plateau is unidentified ("" when identified).
    method : str
        "search" (the critical point found matched), "nearest" (the search stalled and the
        representative is near the entry), or "" (unidentified).
    """

    id: str | None
    W: np.ndarray
    b: np.ndarray
    loss: float
    grad_norm: float
    drift: float
    distance: float
    reason: str = field(default="")
    method: str = field(default="")


def identify(
    W,
    b,
    plateau_loss,
    matcher: CatalogMatcher,
    *,
    gtol: float = 1e-10,
    level_rtol: float = 0.04,
    near_tol: float = 0.15,
) -> list[Identification]:
    """Identify a batch of plateau representatives.

    Parameters
    ----------
    W : array_like, shape (P, m, n)
    b : array_like, shape (P, n)
        The representatives.
    plateau_loss : array_like, shape (P,)
        The plateaus' median population losses.
    matcher : CatalogMatcher
    gtol : float
        Gradient norm at which the critical point search counts as converged.
    level_rtol : float
        Largest relative gap between the plateau's loss and the critical point's.
    near_tol : float
        Largest distance for the fallback match of a stalled search.

    Notes
    -----
    Each start's search is independent of the others in the batch, so the result for a plateau
    does not depend on which plateaus it is batched with.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    plateau_loss = np.asarray(plateau_loss, dtype=float)
    if W.shape[0] == 0:
        return []
    tms = TMSPotential.of(W)
    search = find_critical_points(tms, tms.flatten(W, b), gtol=gtol)
    found_W, found_b = search.parameters
    losses = potential.loss(found_W, found_b)
    found = []
    for p in range(W.shape[0]):
        Wc, bc = found_W[p], found_b[p]
        drift = orbit_distance(
            W[p], normalise_flat_biases(W[p], b[p]), Wc, normalise_flat_biases(Wc, bc)
        )
        entry, distance = matcher.match(Wc, bc, float(losses[p]))
        gap = abs(losses[p] - plateau_loss[p])
        reason, method = "", "search"
        if not search.converged[p]:
            near, near_distance = matcher.nearest(W[p], b[p], plateau_loss[p], level_rtol)
            if near is not None and near_distance <= near_tol:
                entry, distance, method = near, near_distance, "nearest"
            else:
                reason = f"search did not converge (gradient norm {search.grad_norm[p]:.1e})"
        elif gap > level_rtol * abs(plateau_loss[p]):
            reason = f"critical point found is {gap:.2g} away from the plateau's loss"
        elif entry is None:
            reason = "no catalog entry matches the critical point found"
        found.append(
            Identification(
                entry if not reason else None,
                Wc,
                bc,
                float(losses[p]),
                float(search.grad_norm[p]),
                float(drift),
                distance,
                reason,
                method if not reason else "",
            )
        )
    return found
