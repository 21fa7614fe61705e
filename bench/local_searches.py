"""Speed of the classification's two local searches: compiled with the TMS loss against numpy.

For catalogued non-smooth minima (default: 4⁺⁺ of n = 6 and 4⁺⁺⁺⁺⁺⁺⁺⁺ of n = 12) the same
volume-scaling λ̂ (``volume_scaling_of``, same seed) and the same directional-curvature descent
(``directional_curvature``, same seed) run twice in turn: through ``TMSPotential``, which has the
compiled members ``sublevel_walk`` and ``quotient_descent``, and through a view of it without
them, which takes the numpy code. Prints seconds, the ratio measured in this run, and the two
λ̂ and evaluation counts (equal counts: the walks took the same decisions).

    python bench/local_searches.py [--entries 6:4++ 12:4++++++++] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import time

from critpoints.catalog import Catalog
from critpoints.slt.volume import volume_scaling_of
from critpoints.solve.classify import directional_curvature
from critpoints.tms.model import TMSPotential


class NumpyOnly:
    """The potential without its compiled members: the generic numpy code runs."""

    def __init__(self, potential: TMSPotential):
        self._potential = potential

    def __getattr__(self, name: str):
        if name in ("sublevel_walk", "quotient_descent"):
            raise AttributeError(name)
        return getattr(self._potential, name)


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def report(n: str, ident: str, potential: TMSPotential, theta) -> None:
    """Time both searches through both paths at one point and print the ratios."""
    numpy_only = NumpyOnly(potential)
    fast_t, fast = timed(lambda: volume_scaling_of(potential, theta, seed=0))
    slow_t, slow = timed(lambda: volume_scaling_of(numpy_only, theta, seed=0))
    print(f"n = {n} {ident}: λ̂ compiled {fast_t:.2f} s (λ̂ {fast.lam:.3f}, "
          f"{fast.evaluations} evaluations), numpy {slow_t:.2f} s (λ̂ {slow.lam:.3f}, "
          f"{slow.evaluations}); ratio {fast_t / slow_t:.3f}")
    fast_t, _ = timed(lambda: directional_curvature(potential, theta, seed=0))
    slow_t, _ = timed(lambda: directional_curvature(numpy_only, theta, seed=0))
    print(f"n = {n} {ident}: directional curvature compiled {fast_t:.3f} s, numpy "
          f"{slow_t:.3f} s; ratio {fast_t / slow_t:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", nargs="+", default=["6:4++", "12:4++++++++"],
                        help="n:id of catalogued non-smooth minima (m = 2)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for item in args.entries:
        n, ident = item.split(":", 1)
        catalog = Catalog.builtin(int(n))
        W, b = catalog.parameters(ident)
        potential = TMSPotential.of(W)
        theta = potential.flatten(W, b)
        for _ in range(args.repeat):
            report(n, ident, potential, theta)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
