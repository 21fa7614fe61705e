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

Trend test
----------
That exemption lets in the last stretch of a slow descent cut off by the end of the run: a
band that lasted ``min_steps`` but whose loss is still falling (the 4-gon sweep's runs still
descending from 4++- towards 4++ when they stop, L ≈ 0.10–0.114). A band not cut by the end
shows by observation that its loss stayed within its width for ``min_fraction`` of the elapsed
time; the band cut by the end must show it by its trend (:func:`loss_trend`). A straight line
L ≈ α + β t is fitted to its checkpoints (least squares). The band is **still descending**, and
not a plateau, when

1. the fitted drop over the band, −β·(t_end − t_start), exceeds ``trend_atol`` (1e-4: below it
   no descent matters at the plateaus' resolution, the band width being ≥ 1e-4 + 2 %);
2. the descent is significant against the band's own fluctuation: −β > ``trend_sigmas`` (3)
   × its standard error from the residual scatter about the line (with two checkpoints there is
   no scatter to estimate, and (1) alone decides);
3. at the fitted rate the loss leaves the band (falls below L_first − (atol + rtol·L_first))
   after ``left`` more steps, before the band has lasted ``min_fraction`` of the steps elapsed
   by then: t_end − t_start + left < min_fraction · (t_end + left) — the condition every other
   band meets, extrapolated.

A band that already lasts ``min_fraction`` of the run (a long final plateau) passes whatever its
slope. Such bands are kept apart as *unsettled* (:func:`detect_bands` returns them with
``settled`` False; the sweep reports them as ``unsettled_bands``), never identified.

Identification
--------------
A plateau is searched from several of its checkpoints, in order: its representative, then up to
``earlier_starts`` earlier checkpoints of the band spread evenly back to its first, latest
first (a band can drift: the initial plateau of a run started at a saddle ends where the escape
has begun, with the loss still within the band). From each start a Levenberg–Marquardt search
for a zero of the gradient of the *population* potential
(:func:`critpoints.solve.find_critical_points`) finds the critical point the plateau sits near
(at distance O(N^-1/2): SGD settles at a critical point of its finite-sample loss).

**Search rule.** The first start whose search *converges* (gradient norm ≤ ``gtol``) to a point
whose loss is within ``level_rtol`` (relative) of the plateau's median loss decides the
plateau: it is identified with the catalog entry that point matches (``method`` "search"), or
stays unidentified when it matches none (a critical point missing from the catalog: such a
plateau never falls back to another start or to the nearest entry). SGD plateaus sit slightly
above their critical point: the finite-sample minimiser is O(N^-1/2) away from it, which costs
O(1/N) in population loss. Starts whose search stalls, or converges to another loss level (the
plateau is the start of a descent), pass to the next start.

**Match rule (flat critical sets).** A point matches a catalog entry when its loss is within
``loss_tol`` of the entry's and it lies within ``match_tol`` (max norm, up to O(2) × S_n) of
some point Q of the entry's *flat critical set* (:class:`FlatSet`), not only of the stored
representative: the set is the representative with every flat coordinate free in the region
where it stays flat,

- a dead output's bias (b_j ≤ 0 and W_i·W_j + b_j ≤ 0 for every i, at the representative) is
  free in (-∞, top_j], top_j = -max(0, max_i W_i·W_j) (so a dead vertex of norm l has
  b_j ≤ -l², a dead zero column b_j ≤ 0);
- a column whose weights are flat as well (:func:`critpoints.tms.model.flat_coordinates`:
  every other bias strictly negative and its input strictly dead) is free in the convex region
  |w|² + β ≤ 0, W_k·w + β ≤ 0 and W_k·w + b_k ≤ 0 for every other column k.

Q is the representative with those coordinates replaced by the point's own, projected onto
their region (after the optimal column assignment and O(2) alignment), and it is *verified*:
its loss is within ``loss_tol`` of the entry's and its gradient norm is at most ``gtol``, so an
identification is always a critical point within the tolerances (the weights of a dead column
that still feeds a live zero column with a positive bias, as in 4++-'s dead vertex, move the
gradient of that column: they are not flat, and such a Q would fail the check). Several entries
may lie in one flat set (e.g. the all-dead points at L = 1/3); the match is then the entry whose
representative is nearest (orbit distance), then the first in catalog order.

**Nearest rule.** When no start's search converges at the plateau's level (the search stalls
on a non-smooth set, e.g. at a dead vertex's kink W_j·W_j + b_j = 0 where L is C¹ but not C², or
runs away along it towards infinity), each start in order is compared with the entries whose
loss is within ``level_rtol`` of the plateau's: the plateau is identified with the entry whose
flat critical set has a verified point Q within ``near_tol`` of the start (several times the
O(N^-1/2) ≈ 0.03 scatter of SGD plateaus for N = 1000); ``method`` "nearest", and Q is
recorded as the critical point.

Otherwise the plateau is kept as *unidentified*, with the representative, the point the
search from it ended at and the reason. ``start`` records which start decided an
identification (0: the representative). The distance from the start to the critical point
(``drift``) is recorded but not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment, minimize

from critpoints.catalog import Catalog
from critpoints.solve import find_critical_points
from critpoints.tms import potential
from critpoints.tms.model import TMSPotential, flat_coordinates
from critpoints.tms.symmetry import (
    ZERO_COLUMN,
    dead_outputs,
    normalise_flat_biases,
    orbit_distance,
    rotation,
)

__all__ = [
    "PLATEAU_STARTS",
    "CatalogMatch",
    "CatalogMatcher",
    "FlatSet",
    "Identification",
    "Plateau",
    "PlateauRule",
    "detect_bands",
    "detect_plateaus",
    "identify",
    "loss_trend",
    "plateau_starts",
]

#: Starts searched per plateau: the representative and earlier checkpoints of its band.
PLATEAU_STARTS = 9


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
    trend : bool
        Apply the trend test to the band cut by the end of the run (False: the rule before
        the test existed).
    trend_sigmas : float
        The trend test's significance: the fitted descent must exceed this many standard
        errors (with three checkpoints or more).
    trend_atol : float
        ... and the fitted drop over the band must exceed this (no descent below it matters
        at the plateaus' resolution, however small the band's fluctuation).
    """

    rtol: float = 0.02
    atol: float = 1e-4
    min_steps: int = 1000
    min_fraction: float = 0.25
    trend: bool = True
    trend_sigmas: float = 3.0
    trend_atol: float = 1e-4


@dataclass
class Plateau:
    """A band of one run: checkpoints ``first..last`` (inclusive), steps and median loss, and its
    trend test (``rate``: the fitted dL/dt, ``rate_error`` its standard error, ``settled``:
    False when the test finds it still descending; see :func:`loss_trend`)."""

    first: int
    last: int
    start_step: int
    end_step: int
    loss: float
    rate: float = 0.0
    rate_error: float = 0.0
    settled: bool = True


def loss_trend(steps, loss, rule: PlateauRule = PlateauRule()) -> tuple[float, float, bool]:
    """The trend test of a band cut by the end of the run (module docstring, *trend test*).

    Parameters
    ----------
    steps : array_like of int, shape (K,)
        The band's checkpoint steps, the last one the run's last.
    loss : array_like, shape (K,)
        Its population losses.
    rule : PlateauRule

    Returns
    -------
    rate : float
        The least-squares slope dL/dt over the band (0 for a single checkpoint).
    rate_error : float
        Its standard error from the residual scatter about the line (0 for fewer than three
        checkpoints: no scatter to estimate).
    settled : bool
        False when the band is still descending: its fitted drop exceeds ``trend_atol``, its
        rate ``trend_sigmas`` standard errors (with three checkpoints or more), and at the
        fitted rate the loss leaves the band (falls below L_first − (atol + rtol·L_first))
        before the band lasts ``min_fraction`` of the steps elapsed by then.

    Examples
    --------
    >>> loss_trend([220000, 221000, 222000, 223000], [0.1030, 0.1025, 0.1020, 0.1015])[2]
    False
    >>> loss_trend([220000, 221000, 222000, 223000], [0.1030, 0.1031, 0.1029, 0.1030])[2]
    True
    """
    t = np.asarray(steps, dtype=float)
    y = np.asarray(loss, dtype=float)
    if not rule.trend or t.size < 2 or t[-1] == t[0]:
        return 0.0, 0.0, True
    slope, end = np.polyfit(t - t[-1], y, 1)  # end: the fitted loss at the last checkpoint
    error = 0.0
    if t.size >= 3:
        residual = y - (end + slope * (t - t[-1]))
        error = float(np.sqrt((residual**2).sum() / (t.size - 2) / ((t - t.mean())**2).sum()))
    duration = t[-1] - t[0]
    if not (-slope * duration > rule.trend_atol and -slope > rule.trend_sigmas * error):
        return float(slope), error, True
    floor = y[0] - (rule.atol + rule.rtol * abs(y[0]))
    left = max(end - floor, 0.0) / -slope  # steps until the loss leaves the band
    settled = duration + left >= rule.min_fraction * (t[-1] + left)
    return float(slope), error, bool(settled)


def detect_bands(steps, loss, rule: PlateauRule = PlateauRule()) -> list[Plateau]:
    """The bands of one loss curve long enough to be plateaus, in time order, each with its
    trend test (``settled``); :func:`detect_plateaus` keeps the settled ones.

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
    bands = []
    k0, K = 0, len(steps)
    while k0 < K:
        width = rule.atol + rule.rtol * abs(loss[k0])
        k1 = k0
        while k1 + 1 < K and abs(loss[k1 + 1] - loss[k0]) <= width:
            k1 += 1
        duration = int(steps[k1] - steps[k0])
        censored = k1 == K - 1  # the run ended during this band
        if duration >= rule.min_steps and (censored or duration >= rule.min_fraction * steps[k1]):
            # only the band cut by the end of the run is exempt from the persistence condition
            # (min_fraction), so only it must show that it has stopped descending
            rate, error, settled = (loss_trend(steps[k0:], loss[k0:], rule) if censored
                                    else (0.0, 0.0, True))
            bands.append(Plateau(k0, k1, int(steps[k0]), int(steps[k1]),
                                 float(np.median(loss[k0 : k1 + 1])), rate, error, settled))
        k0 = k1 + 1
    return bands


def detect_plateaus(steps, loss, rule: PlateauRule = PlateauRule()) -> list[Plateau]:
    """The plateaus of one loss curve, in time order: the bands of :func:`detect_bands` that
    pass the trend test.

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
    return [band for band in detect_bands(steps, loss, rule) if band.settled]


def plateau_starts(plateau: Plateau, count: int = PLATEAU_STARTS) -> np.ndarray:
    """Checkpoint indices to search a plateau from, in order: its representative (last
    checkpoint), then earlier checkpoints of its band spread evenly back to the first.

    Parameters
    ----------
    plateau : Plateau
    count : int
        Number of starts (fewer when the band has fewer checkpoints).

    Returns
    -------
    ndarray of int
        Distinct checkpoint indices, latest first.
    """
    spread = np.rint(np.linspace(plateau.last, plateau.first, count)).astype(int)
    return np.array(list(dict.fromkeys(spread.tolist())), dtype=int)


def _flat_bias_tops(W: np.ndarray) -> np.ndarray:
    """top_j = -max(0, max_i W_i·W_j): the upper end of a dead output's flat bias interval."""
    return -np.maximum((W.T @ W).max(axis=0), 0.0)


def _dead_column_constraints(w: np.ndarray, beta: float, others_W: np.ndarray,
                             others_b: np.ndarray) -> np.ndarray:
    """Constraint values (all ≤ 0 inside) of the region where a column (w, β) is dead in and
    out: its own output |w|² + β, its output on the other inputs W_k·w + β, and the others'
    outputs on its input W_k·w + b_k."""
    reach = others_W.T @ w
    return np.concatenate([[w @ w + beta], reach + beta, reach + others_b])


def _project_dead_column(w: np.ndarray, beta: float, others_W: np.ndarray,
                         others_b: np.ndarray) -> tuple[np.ndarray, float]:
    """The nearest point (Euclidean) to (w, β) of the convex region of
    :func:`_dead_column_constraints` (nonempty: w = 0, β ≤ 0 lies in it when every other bias
    is ≤ 0)."""
    if _dead_column_constraints(w, beta, others_W, others_b).max() <= 0:
        return w, beta
    m = w.size
    target = np.append(w, beta)
    result = minimize(
        lambda x: float(((x - target) ** 2).sum()),
        np.append(np.zeros(m), min(beta, 0.0)),
        jac=lambda x: 2 * (x - target),
        constraints=[{"type": "ineq", "fun": lambda x: -_dead_column_constraints(
            x[:m], x[m], others_W, others_b)}],
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 200},
    )
    return result.x[:m], float(result.x[m])


@dataclass(frozen=True)
class FlatSet:
    """The flat critical set of a catalog entry: its representative with every flat coordinate
    free in the region where it stays flat (see the module docstring).

    Attributes
    ----------
    id : str
    loss : float
    W, b : ndarray
        The stored representative.
    flat_bias : ndarray of bool, shape (n,)
        Dead outputs: their bias is free in (-∞, top_j].
    flat_column : ndarray of bool, shape (n,)
        Columns whose weights are flat too (strictly dead input and output).
    """

    id: str
    loss: float
    W: np.ndarray
    b: np.ndarray
    flat_bias: np.ndarray
    flat_column: np.ndarray

    @classmethod
    def of(cls, id: str, loss: float, W, b) -> FlatSet:
        """The flat set through the critical point (W, b) (an exact catalog representative:
        dead outputs are decided with tolerance 1e-12, flat columns by
        :func:`critpoints.tms.model.flat_coordinates`)."""
        W = np.asarray(W, dtype=float)
        b = np.asarray(b, dtype=float)
        m, n = W.shape
        flat = np.zeros(m * n + n, dtype=bool)
        flat[flat_coordinates(W, b)] = True
        flat_column = flat[:n].copy()  # the first row of W: flat for every row or none
        return cls(id, float(loss), W, b, dead_outputs(W, b, 1e-12), flat_column)

    def project(self, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The point Q of the set nearest (W, b) given in the entry's gauge and column order:
        the representative's live coordinates, (W, b)'s flat ones projected onto their region.
        """
        QW, Qb = self.W.copy(), self.b.copy()
        for j in np.flatnonzero(self.flat_column):
            others = np.arange(QW.shape[1]) != j
            QW[:, j], Qb[j] = _project_dead_column(W[:, j], b[j], QW[:, others], Qb[others])
        tops = _flat_bias_tops(QW)
        free = self.flat_bias & ~self.flat_column
        Qb[free] = np.minimum(b[free], tops[free])
        return QW, Qb

    def assignment_cost(self, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Squared cost of putting column k of (W, b) (in the entry's gauge) at the entry's
        column j, shape (n, n): the distance to the representative's live coordinates plus the
        squared violations of the flat regions (a proxy for the distance to them)."""
        tops = _flat_bias_tops(self.W)
        dW = ((W[:, :, None] - self.W[:, None, :]) ** 2).sum(axis=0)
        db = (b[:, None] - self.b[None, :]) ** 2
        above = np.maximum(b[:, None] - tops[None, :], 0.0) ** 2
        cost = dW + np.where(self.flat_bias[None, :], above, db)
        for j in np.flatnonzero(self.flat_column):
            others = np.arange(self.W.shape[1]) != j
            cost[:, j] = [
                (np.maximum(_dead_column_constraints(W[:, k], b[k], self.W[:, others],
                                                     self.b[others]), 0.0) ** 2).sum()
                for k in range(W.shape[1])
            ]
        return cost


def _procrustes_angle(V: np.ndarray, T: np.ndarray) -> float:
    """The rotation angle that best maps the columns of V onto those of T (least squares)."""
    cross = float((V[0] * T[1] - V[1] * T[0]).sum())
    dot = float((V * T).sum())
    return float(np.arctan2(cross, dot))


def _aligned(W: np.ndarray, b: np.ndarray, flat_set: FlatSet) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) mapped by the element of O(2) × S_n that puts it nearest the flat set: every
    nonzero column onto the direction of the set's largest live column, with and without a
    reflection, columns assigned optimally (:meth:`FlatSet.assignment_cost`), then the
    rotation refined on the live columns (Procrustes) and the assignment redone."""
    live = ~flat_set.flat_column
    norms_ref = np.linalg.norm(flat_set.W, axis=0) * live
    anchor = int(np.argmax(norms_ref))
    gauges = [(None, False)]
    if norms_ref[anchor] > ZERO_COLUMN:
        target = np.arctan2(flat_set.W[1, anchor], flat_set.W[0, anchor])
        nonzero = np.flatnonzero(np.linalg.norm(W, axis=0) > ZERO_COLUMN)
        gauges = [(k, reflect) for k in nonzero for reflect in (False, True)] or gauges
    best = (np.inf, W, b)
    for k, reflect in gauges:
        V = W * np.array([[1.0], [-1.0]]) if reflect else W
        if k is not None:
            V = rotation(target - np.arctan2(V[1, k], V[0, k])) @ V
        c = b
        for _ in range(2):
            rows, cols = linear_sum_assignment(flat_set.assignment_cost(V, c))
            order = rows[np.argsort(cols)]
            V, c = V[:, order], c[order]
            if k is None:
                break
            V = rotation(_procrustes_angle(V[:, live], flat_set.W[:, live])) @ V
        cost = flat_set.assignment_cost(V, c)[np.arange(c.size), np.arange(c.size)].sum()
        if cost < best[0]:
            best = (cost, V, c)
    return best[1], best[2]


@dataclass
class CatalogMatch:
    """The catalog entry nearest a point and the point of its flat critical set that is nearest.

    Attributes
    ----------
    id : str or None
        The entry (None: no entry within the tolerance).
    distance : float
        Max-norm distance from the point to Q, up to O(2) × S_n (inf when no entry had a close
        enough loss).
    W, b : ndarray or None
        Q, the verified point of the entry's flat critical set (None when ``id`` is None).
    """

    id: str | None
    distance: float
    W: np.ndarray | None = None
    b: np.ndarray | None = None


class CatalogMatcher:
    """Matches points to the flat critical sets of a TMS catalog's entries, up to
    O(2) × permutations (see the module docstring, *match rule*).

    Parameters
    ----------
    catalog : Catalog or dict
        The catalog (a loaded document is taken as it is: :meth:`Catalog.of`); its entries need
        ``W``, ``b`` and ``loss``.
    loss_tol : float
        Entries whose loss differs by more than this are not compared; also the largest gap
        between the loss of a point Q of a flat set and the entry's.
    match_tol : float
        Largest distance (max norm) to a point of an entry's flat set for a match.
    gtol : float
        Largest gradient norm of a point Q of a flat set (the verification of Q).
    """

    def __init__(self, catalog: Catalog | dict, loss_tol: float = 1e-6, match_tol: float = 1e-4,
                 gtol: float = 1e-10):
        self.loss_tol, self.match_tol, self.gtol = loss_tol, match_tol, gtol
        catalog = Catalog.of(catalog)
        self.entries = [FlatSet.of(pid, float(point["loss"]), *catalog.parameters(pid))
                        for pid, point in catalog.items()]
        self.losses = np.array([entry.loss for entry in self.entries])

    def distance(self, W, b, flat_set: FlatSet) -> CatalogMatch:
        """The distance from (W, b) to the flat set and its verified nearest point Q (id None
        and W, b None if Q fails the verification)."""
        W = np.asarray(W, dtype=float)
        b = np.asarray(b, dtype=float)
        if W.shape != flat_set.W.shape:
            return CatalogMatch(None, np.inf)
        V, c = _aligned(W, b, flat_set)
        QW, Qb = flat_set.project(V, c)
        distance = float(max(np.abs(V - QW).max(), np.abs(c - Qb).max()))
        value, dW, db = potential.loss_and_gradient(QW, Qb)
        verified = (abs(float(value) - flat_set.loss) <= self.loss_tol
                    and np.sqrt((dW**2).sum() + (db**2).sum()) <= self.gtol)
        if not verified:
            return CatalogMatch(None, distance)
        return CatalogMatch(flat_set.id, distance, QW, Qb)

    def _nearest(self, W, b, candidates, tol: float) -> CatalogMatch:
        matches, nearest = [], np.inf
        for i in candidates:
            entry = self.entries[i]
            found = self.distance(W, b, entry)
            nearest = min(nearest, found.distance)
            if found.id is not None and found.distance <= tol:
                matches.append((found.distance, orbit_distance(W, b, entry.W, entry.b), i, found))
        if not matches:
            return CatalogMatch(None, float(nearest))
        # Entries of one flat critical set tie on the distance: take the nearest representative
        # (then the first in catalog order).
        tied = [m for m in matches if m[0] <= min(m[0] for m in matches) + tol]
        return min(tied, key=lambda m: (m[1], m[2]))[3]

    def match(self, W, b, loss: float | None = None) -> CatalogMatch:
        """The entry whose flat critical set (W, b) lies on within ``match_tol``.

        Parameters
        ----------
        W, b : array_like
            A critical point.
        loss : float, optional
            Its loss (computed when not given).

        Returns
        -------
        CatalogMatch
            ``id`` None when no entry matches; ``distance`` is then the distance to the nearest
            candidate (inf when no entry has a loss within ``loss_tol``).
        """
        W = np.asarray(W, dtype=float)
        b = np.asarray(b, dtype=float)
        if loss is None:
            loss = float(potential.loss(W, b))
        candidates = np.flatnonzero(np.abs(self.losses - loss) <= self.loss_tol)
        return self._nearest(W, b, candidates, self.match_tol)

    def nearest(self, W, b, loss: float, rtol: float, tol: float) -> CatalogMatch:
        """The entry with loss within ``rtol`` (relative) of ``loss`` whose flat critical set
        has a verified point within ``tol`` of (W, b), a noisy SGD point.

        Returns
        -------
        CatalogMatch
            As :meth:`match`.
        """
        candidates = np.flatnonzero(np.abs(self.losses - loss) <= rtol * abs(loss))
        return self._nearest(np.asarray(W, dtype=float), np.asarray(b, dtype=float),
                             candidates, tol)


@dataclass
class Identification:
    """Where a plateau leads.

    Attributes
    ----------
    id : str or None
        The catalog entry, or None (unidentified).
    W, b : ndarray
        The critical point: found by the deciding search (for an unidentified plateau: a
        point missing from the catalog), the verified point of the entry's flat set
        ("nearest"), or, when nothing decided, the point the search from the representative
        ended at.
    loss, grad_norm : float
        Its population loss and gradient norm.
    drift : float
        Orbit distance from the start to the critical point (flat biases normalised).
    distance : float
        Distance to the matched or nearest candidate entry's flat set.
    reason : str
        Why the plateau is unidentified ("" when identified).
    method : str
        "search" (a search converged at the plateau's level and its point matched),
        "nearest" (no search converged; the start is near a verified point of the entry's flat
        set), or "" (unidentified).
    start : int
        Index of the start that decided (0: the representative).
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
    start: int = field(default=0)


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
    """Identify a batch of plateaus (see the module docstring for the rules).

    Parameters
    ----------
    W : array_like, shape (P, m, n) or (P, S, m, n)
    b : array_like, shape (P, n) or (P, S, n)
        Each plateau's starts in order of preference: its representative first, then earlier
        checkpoints (S starts per plateau; a start may repeat).
    plateau_loss : array_like, shape (P,)
        The plateaus' median population losses.
    matcher : CatalogMatcher
    gtol : float
        Gradient norm at which the critical point search counts as converged.
    level_rtol : float
        Largest relative gap between the plateau's loss and the critical point's.
    near_tol : float
        Largest distance to a flat set for the fallback match when no search converged.

    Returns
    -------
    list of Identification
        One per plateau.

    Notes
    -----
    Each start's search is independent of the others in the batch, so the result for a plateau
    does not depend on which plateaus it is batched with.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    if W.ndim == 3:
        W, b = W[:, None], b[:, None]
    plateau_loss = np.asarray(plateau_loss, dtype=float)
    P, S = W.shape[:2]
    if P == 0:
        return []
    tms = TMSPotential.of(W[0, 0])
    decided: list[Identification | None] = [None] * P
    first: list[Identification | None] = [None] * P  # the representative's search
    # a repeated start (the padding of a short band) is not searched again
    distinct = [[s for s in range(S) if not any(
        np.array_equal(W[p, s], W[p, r]) and np.array_equal(b[p, s], b[p, r]) for r in range(s))]
        for p in range(P)]
    for s in range(S):
        todo = [p for p in range(P) if decided[p] is None and s in distinct[p]]
        if not todo:
            continue
        search = find_critical_points(tms, tms.flatten(W[todo, s], b[todo, s]), gtol=gtol)
        found_W, found_b = search.parameters
        losses = potential.loss(found_W, found_b)
        for i, p in enumerate(todo):
            Wc, bc, loss = found_W[i], found_b[i], float(losses[i])
            drift = orbit_distance(W[p, s], normalise_flat_biases(W[p, s], b[p, s]), Wc,
                                   normalise_flat_biases(Wc, bc))
            gap = abs(loss - plateau_loss[p])
            if not search.converged[i]:
                reason = f"search did not converge (gradient norm {search.grad_norm[i]:.1e})"
                match = CatalogMatch(None, np.inf)
            elif gap > level_rtol * abs(plateau_loss[p]):
                reason = f"critical point found is {gap:.2g} away from the plateau's loss"
                match = CatalogMatch(None, np.inf)
            else:
                match = matcher.match(Wc, bc, loss)
                reason = "" if match.id is not None else (
                    "no catalog entry matches the critical point found")
            result = Identification(match.id, Wc, bc, loss, float(search.grad_norm[i]),
                                    float(drift), match.distance, reason,
                                    "search" if match.id is not None else "", s)
            if s == 0:
                first[p] = result
            if search.converged[i] and gap <= level_rtol * abs(plateau_loss[p]):
                decided[p] = result  # a converged search at the plateau's level decides
    for p in range(P):
        if decided[p] is not None:
            continue
        for s in distinct[p]:
            near = matcher.nearest(W[p, s], b[p, s], plateau_loss[p], level_rtol, near_tol)
            if near.id is not None:
                value, dW, db = potential.loss_and_gradient(near.W, near.b)
                drift = orbit_distance(W[p, s], normalise_flat_biases(W[p, s], b[p, s]), near.W,
                                       normalise_flat_biases(near.W, near.b))
                decided[p] = Identification(
                    near.id, near.W, near.b, float(value),
                    float(np.sqrt((dW**2).sum() + (db**2).sum())), float(drift), near.distance,
                    "", "nearest", s)
                break
        else:
            decided[p] = first[p]
            if len(distinct[p]) > 1:
                decided[p].reason += (f"; no search from {len(distinct[p]) - 1} earlier "
                                      "checkpoints of the plateau converged at its level")
    return decided
