"""Direct, slow evaluations of the TMS potentials from their definitions (SPEC §2 and §8).

:func:`quad_loss`: each of the n² one-dimensional integrals of the one-hot potential by scipy's
adaptive quadrature, with the ReLU's switch point passed as a breakpoint.
:func:`quad_cube_moment`, :func:`quad_sparse_loss`: the cube integrals of the finite-sparsity
potential by nested adaptive quadrature (one coordinate at a time, the points where the
hyperplane c + a·ξ = 0 meets the inner faces' vertices passed as breakpoints, so every piece
is a polynomial integrated to rounding); practical for cubes of dimension ≤ 3.
:func:`qmc_sparse_loss`: the same expectation by randomised quasi-Monte Carlo (scrambled Sobol
points), with a standard error from independent scramblings, for any dimension.

They share no code with the closed forms and serve as the independent references in the tests
and as the baseline in ``bench/potential.py``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.integrate import quad

__all__ = ["qmc_sparse_loss", "quad_cube_moment", "quad_loss", "quad_sparse_loss"]


def quad_loss(W, b, epsabs: float = 1e-15, epsrel: float = 1e-13) -> float:
    """L(W, b) = (1/n) Σ_i [∫(μ − ReLU(μ|W_i|² + b_i))² + Σ_{j≠i} ∫ReLU(μ W_i·W_j + b_j)²]."""
    W, b = np.asarray(W, float), np.asarray(b, float)
    n = W.shape[1]
    G = W.T @ W
    total = 0.0
    for i in range(n):
        for j in range(n):
            a, c = G[i, j], b[j]
            # the switch point -c/a when it lies inside (0, 1), tested without dividing
            points = [-c / a] if 0 < -c * np.sign(a) < abs(a) else None
            if i == j:
                def integrand(mu, a=a, c=c):
                    return (mu - max(0.0, a * mu + c)) ** 2
            else:
                def integrand(mu, a=a, c=c):
                    return max(0.0, a * mu + c) ** 2
            value, _ = quad(integrand, 0.0, 1.0, points=points, epsabs=epsabs, epsrel=epsrel,
                            limit=200)
            total += value
    return total / n


def _nested_quad(integrand, a, c, epsabs: float, epsrel: float) -> float:
    """∫_{[0,1]^d} integrand(ξ) dξ for an integrand smooth except on c + a·ξ = 0."""
    a = [float(v) for v in a]
    d = len(a)

    def level(t: int, prefix: tuple, offset: float) -> float:
        if t == d:
            return integrand(prefix)
        rest = a[t + 1:]
        points = set()
        if a[t] != 0:
            for v in itertools.product((0, 1), repeat=len(rest)):
                x = -(offset + sum(r * bit for r, bit in zip(rest, v))) / a[t]
                if 0 < x < 1:
                    points.add(x)

        def f(x):
            return level(t + 1, prefix + (x,), offset + a[t] * x)

        value, _ = quad(f, 0.0, 1.0, points=sorted(points) or None, epsabs=epsabs,
                        epsrel=epsrel, limit=200)
        return value

    return level(0, (), float(c))


def quad_cube_moment(a, c, p: int, alpha=None, epsabs: float = 1e-15,
                     epsrel: float = 1e-13) -> float:
    """E_{ξ ~ U[0,1]^d}[ξ^α ReLU(c + a·ξ)^p / p!] (p ≥ 0; p = 0 is the step, 0 at 0) by nested
    quadrature (d ≤ 3 in reasonable time)."""
    alpha = tuple(alpha) if alpha is not None else (0,) * len(a)

    def integrand(xi):
        z = float(c) + sum(float(ai) * x for ai, x in zip(a, xi))
        weight = math.prod(x**k for x, k in zip(xi, alpha))
        if z <= 0:
            return 0.0
        return weight * z**p / math.factorial(p)

    return _nested_quad(integrand, a, c, epsabs, epsrel)


def _blocks(W, b):
    W, b = np.asarray(W, float), np.asarray(b, float)
    return W.T @ W, b, W.shape[1]


def quad_sparse_loss(W, b, sparsity: float, importance=None, epsabs: float = 1e-15,
                     epsrel: float = 1e-13) -> float:
    """L_{S,I}(W, b) = Σ_A (1−S)^|A| S^(n−|A|) Σ_j I_j E[(x_j − ReLU(b_j + Σ_{i∈A} G_ij ξ_i))²]
    with every expectation by nested quadrature (n ≤ 3 in reasonable time)."""
    G, b, n = _blocks(W, b)
    importance = np.ones(n) if importance is None else np.asarray(importance, float)
    S = float(sparsity)
    total = 0.0
    for d in range(n + 1):
        weight = (1 - S) ** d * S ** (n - d)
        if weight == 0:
            continue
        for A in itertools.combinations(range(n), d):
            for j in range(n):
                a = [G[i, j] for i in A]

                def integrand(xi, A=A, j=j, a=a):
                    z = b[j] + sum(ai * x for ai, x in zip(a, xi))
                    x_j = xi[A.index(j)] if j in A else 0.0
                    return (x_j - max(z, 0.0)) ** 2

                total += weight * importance[j] * _nested_quad(integrand, a, b[j], epsabs, epsrel)
    return total


def qmc_sparse_loss(W, b, sparsity: float, importance=None, points: int = 2**12,
                    scramblings: int = 8, seed: int = 0) -> tuple[float, float]:
    """L_{S,I}(W, b) by randomised quasi-Monte Carlo: for every active set A, ``scramblings``
    independently scrambled Sobol sequences of ``points`` points in [0,1]^|A|.

    Returns
    -------
    (estimate, standard error) : the mean over the scramblings and its standard error.
    """
    from scipy.stats import qmc

    G, b, n = _blocks(W, b)
    importance = np.ones(n) if importance is None else np.asarray(importance, float)
    S = float(sparsity)
    rng = np.random.default_rng(seed)
    estimates = np.zeros(scramblings)
    for d in range(n + 1):
        weight = (1 - S) ** d * S ** (n - d)
        if weight == 0:
            continue
        for A in itertools.combinations(range(n), d):
            for r in range(scramblings):
                xi = qmc.Sobol(d, scramble=True, seed=rng).random(points) if d else \
                    np.zeros((1, 0))
                x = np.zeros((len(xi), n))
                x[:, list(A)] = xi
                out = np.maximum(x @ G + b, 0.0)  # (x Gᵀ)_j = Σ_i G_ij x_i, G symmetric
                estimates[r] += weight * float(((x - out) ** 2 @ importance).mean())
    return float(estimates.mean()), float(estimates.std(ddof=1) / math.sqrt(scramblings))
