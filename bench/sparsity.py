"""Cost of the exact finite-sparsity potential (docs/sparsity.md, "Cost").

Prints a Markdown table, measured in this run on one random point per n (W normal·0.8 with
m = 2, b normal·0.3, S = 0.5): the vertex terms n·3ⁿ of one value, the CPU seconds of this
process (time.process_time: the machines are shared; numpy runs single-threaded here) for the loss,
the loss + gradient and the Hessian (Hessian up to n = 10 only), the number of cube moments
evaluated and how many of them needed the double-double and the mpmath fallbacks.

    python bench/sparsity.py [n ...]      (default: 4 6 8 10 12)
"""

from __future__ import annotations

import sys
import time

import numpy as np

from critpoints.tms import cube, sparse

COUNTS = {"moments": 0, "double-double": 0, "mpmath": 0}


def _instrument() -> None:
    moment, vertex_sum_dd, precise = cube.CubeBatch.moment, cube._vertex_sum_dd, cube._precise

    def counted_moment(self, p, alpha):
        COUNTS["moments"] += len(self.regular) if self.d else 0
        return moment(self, p, alpha)

    def counted_dd(a, *args):
        COUNTS["double-double"] += len(a)
        return vertex_sum_dd(a, *args)

    def counted_precise(*args):
        COUNTS["mpmath"] += 1
        return precise(*args)

    cube.CubeBatch.moment = counted_moment
    cube._vertex_sum_dd = counted_dd
    cube._precise = counted_precise


def _timed(function, *args, **keywords) -> tuple[float, str]:
    for key in COUNTS:
        COUNTS[key] = 0
    start = time.process_time()
    function(*args, **keywords)
    seconds = time.process_time() - start
    return seconds, f"{COUNTS['moments']} / {COUNTS['double-double']} / {COUNTS['mpmath']}"


def main(sizes: list[int]) -> None:
    _instrument()
    rng = np.random.default_rng(0)
    print("| n | vertex terms n·3ⁿ | loss (s) | loss + gradient (s) | Hessian (s) | "
          "moments / double-double / mpmath (Hessian, else gradient) |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        W, b = rng.normal(size=(2, n)) * 0.8, rng.normal(size=n) * 0.3
        t_loss, _ = _timed(sparse.loss, W, b, 0.5)
        t_grad, counts = _timed(sparse.loss_and_gradient, W, b, 0.5)
        t_hess = "–"
        if n <= 10:
            seconds, counts = _timed(sparse.hessian, W, b, 0.5)
            t_hess = f"{seconds:.2f}"
        print(f"| {n} | {sparse.vertex_terms(n):.3g} | {t_loss:.3f} | {t_grad:.2f} | {t_hess} | "
              f"{counts} |", flush=True)


if __name__ == "__main__":
    main([int(v) for v in sys.argv[1:]] or [4, 6, 8, 10, 12])
