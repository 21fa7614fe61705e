"""Where the census starts its searches: random parameterisations and moves from known points.

Every strategy returns starting points θ (rows, flattened (W, b)) that the census hands to the
Levenberg–Marquardt search on ‖∇L‖² (:func:`critpoints.solve.find_critical_points`), which
converges to critical points of any index. The strategies differ in which basins of that search
they sample:

- random starts in three parameterisations (:func:`random_starts`): Gaussian weights at several
  scales; polar columns (uniform angles, uniform norms, some columns zeroed) with biases spread
  over the live and dead ranges; sparse configurations with few live columns and the rest zero
  with positive or negative bias (the σ and φ columns of the pattern language);
- eigendirection kicks (:func:`eigendirection_kicks`): from a known critical point, ± each
  Hessian eigendirection off the zero modes at two amplitudes — the neighbours of a point, and
  from a saddle its higher- and lower-index neighbours;
- gentlest ascent (:func:`gentlest_ascent`): from a minimum, the gentlest-ascent dynamics of
  E & Zhou (2011) along each Hessian eigendirection climbs to the index-1 saddle at the end of
  that valley (the eigenvector-following of energy-landscape codes, for a batch at once);
- descent from a saddle along ± each unstable direction is steepest descent
  (:func:`critpoints.landscape.descent.steepest_descent`), used by the census directly.

Everything is pure, seeded and vectorised over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from critpoints.potential import Potential, complement_basis

__all__ = [
    "PARAMETERISATIONS",
    "Eigendirections",
    "eigendirection_kicks",
    "eigendirections",
    "gentlest_ascent",
    "random_starts",
]

#: The random parameterisations, in the order a batch cycles through them.
PARAMETERISATIONS = ("gaussian", "polar", "sparse")

#: Kick amplitudes (Euclidean, in θ) along an eigendirection: steps into the neighbouring
#: basins of the gradient-norm search and longer ones past them. At n = 6 with 60 000 random
#: starts, four amplitudes find 171 orbits where (0.05, 0.25) found 163 (an independent census
#: of 600 000 starts finds 178).
KICK_AMPLITUDES = (0.05, 0.1, 0.25, 0.5)


def random_starts(n: int, m: int, count: int, parameterisation: str,
                  rng: np.random.Generator) -> np.ndarray:
    """``count`` random starts θ (shape (count, m·n + n)) in one parameterisation.

    Parameters
    ----------
    n, m : int
        Features and hidden dimension.
    count : int
    parameterisation : {"gaussian", "polar", "sparse"}
        ``gaussian``: W ~ N(0, s²) with s cycling through 0.3, 0.6, 1.0, 1.5 and b ~ N(0, 0.3²).
        ``polar``: columns at uniform random directions with norms ~ U[0, 1.6], each zeroed with
        probability 1/4; biases ~ U[-1.2, 0.3].
        ``sparse``: k ~ U{1..n} live columns of norm ~ U[0.7, 1.4] at random directions; the
        other columns zero, with bias ~ U[0, 0.25] (a positive-bias zero column) or
        ~ U[-0.5, 0] (a dead feature) with equal probability; live biases ~ U[-1, 0.2].
    rng : numpy.random.Generator
    """
    if parameterisation == "gaussian":
        scales = np.array([0.3, 0.6, 1.0, 1.5])[np.arange(count) % 4]
        W = rng.normal(size=(count, m, n)) * scales[:, None, None]
        b = rng.normal(size=(count, n)) * 0.3
    elif parameterisation == "polar":
        directions = _unit_columns(rng, count, m, n)
        norms = rng.uniform(0, 1.6, size=(count, 1, n)) * (rng.random((count, 1, n)) >= 0.25)
        W = directions * norms
        b = rng.uniform(-1.2, 0.3, size=(count, n))
    elif parameterisation == "sparse":
        live_count = rng.integers(1, n + 1, size=count)
        live = np.argsort(rng.random((count, n)), axis=1) < live_count[:, None]
        norms = rng.uniform(0.7, 1.4, size=(count, 1, n)) * live[:, None, :]
        W = _unit_columns(rng, count, m, n) * norms
        positive = rng.random((count, n)) < 0.5
        zero_bias = np.where(positive, rng.uniform(0, 0.25, (count, n)),
                             rng.uniform(-0.5, 0, (count, n)))
        b = np.where(live, rng.uniform(-1, 0.2, (count, n)), zero_bias)
    else:
        raise ValueError(f"unknown parameterisation {parameterisation!r}; "
                         f"choose from {', '.join(PARAMETERISATIONS)}")
    return np.concatenate([W.reshape(count, m * n), b], axis=1)


def _unit_columns(rng: np.random.Generator, count: int, m: int, n: int) -> np.ndarray:
    columns = rng.normal(size=(count, m, n))
    return columns / np.maximum(np.linalg.norm(columns, axis=1, keepdims=True), 1e-300)


@dataclass(frozen=True)
class Eigendirections:
    """The Hessian eigendirections of a point off its explained zero modes.

    Attributes
    ----------
    values : ndarray, shape (r,)
        Eigenvalues of the Hessian restricted to the complement of the symmetry orbit,
        ascending.
    vectors : ndarray, shape (r, dim)
        Matching unit eigenvectors in θ.
    """

    values: np.ndarray
    vectors: np.ndarray

    @property
    def unstable(self) -> np.ndarray:
        """Eigenvectors with a negative eigenvalue (below -1e-9 of the largest |eigenvalue|)."""
        scale = max(float(np.abs(self.values).max(initial=0.0)), 1e-300)
        return self.vectors[self.values < -1e-9 * scale]


def eigendirections(potential: Potential, theta: np.ndarray) -> Eigendirections:
    """Eigendirections of the Hessian at θ on the complement of the symmetry orbit's tangents
    (:func:`critpoints.potential.complement_basis`): moving along the orbit finds the same
    point again. The flat coordinates of dead columns stay: along them one side is flat, but
    the other leaves the critical set (a dead bias raised until the feature fires)."""
    theta = np.asarray(theta, dtype=float)
    basis = complement_basis(potential.orbit_tangents(theta), potential.dim)
    H = potential.hessian(theta)
    reduced = basis.T @ H @ basis
    values, vectors = np.linalg.eigh((reduced + reduced.T) / 2)
    return Eigendirections(values, (basis @ vectors).T)


def eigendirection_kicks(theta: np.ndarray, directions: Eigendirections,
                         amplitudes: tuple[float, ...] = KICK_AMPLITUDES) -> np.ndarray:
    """θ ± a·v for every eigendirection v and amplitude a (rows in the order v, a, sign)."""
    rows = [theta + sign * a * v for v in directions.vectors for a in amplitudes
            for sign in (1.0, -1.0)]
    return np.array(rows).reshape(-1, theta.shape[-1])


def gentlest_ascent(potential: Potential, theta: np.ndarray, direction: np.ndarray, *,
                    kick: float = 0.02, step: float = 0.2, iterations: int = 400,
                    gtol: float = 1e-7) -> np.ndarray:
    """Gentlest-ascent dynamics from a batch of (point, direction) pairs.

    θ' = -∇L + 2 (v·∇L) v,   v' = -H v + (v·H v) v   (E & Zhou, Nonlinearity 24, 2011),

    integrated with explicit Euler steps of size ``step`` (relative to the largest Hessian
    eigenvalue of each start, so a step is stable for the stiffest direction) from θ + kick·v.
    Along v the dynamics ascends, across it descends: it climbs out of a minimum's valley to an
    index-1 saddle. Returns the end points; the census finishes them with the gradient-norm
    search (rows that leave the region of validity end anywhere, and the search says where).

    Parameters
    ----------
    potential : Potential
    theta, direction : ndarray, shape (B, dim)
        Start points and unit directions (rows).
    kick : float
        Initial displacement along the direction.
    step : float
        Euler step times the largest |eigenvalue| of the Hessian at the start.
    iterations : int
    gtol : float
        Rows whose gradient norm falls below this stop moving.
    """
    theta = np.array(theta, dtype=float) + kick * np.asarray(direction, dtype=float)
    v = np.array(direction, dtype=float)
    H = potential.hessian(theta)
    dt = step / np.maximum(np.abs(np.linalg.eigvalsh(H)).max(axis=1), 1e-6)
    active = np.ones(len(theta), dtype=bool)
    for _ in range(iterations):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        _, g = potential.loss_and_gradient(theta[idx])
        gnorm = np.linalg.norm(g, axis=1)
        still = gnorm > gtol
        active[idx[~still]] = False
        idx, g = idx[still], g[still]
        if idx.size == 0:
            break
        H = potential.hessian(theta[idx])
        vi = v[idx]
        Hv = np.einsum("bij,bj->bi", H, vi)
        along = np.einsum("bi,bi->b", vi, g)
        theta[idx] += dt[idx, None] * (-g + 2 * along[:, None] * vi)
        vi = vi - dt[idx, None] * (Hv - np.einsum("bi,bi->b", vi, Hv)[:, None] * vi)
        v[idx] = vi / np.maximum(np.linalg.norm(vi, axis=1, keepdims=True), 1e-300)
        diverged = ~np.isfinite(theta[idx]).all(axis=1) | (np.abs(theta[idx]).max(axis=1) > 10)
        active[idx[diverged]] = False
    return theta
