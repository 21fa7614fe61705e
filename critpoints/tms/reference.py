"""A direct, slow evaluation of the TMS potential from its definition (SPEC §2).

Each of the n² one-dimensional integrals is computed by scipy's adaptive quadrature, with the
ReLU's switch point passed as a breakpoint. It shares no code with the closed form and serves
as the independent reference in the tests and as the baseline in ``bench/potential.py``.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import quad

__all__ = ["quad_loss"]


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
