"""Speed of the closed-form TMS potential against quadrature of its definition.

Prints, measured in this run: batched float64 evaluations per second of the loss and of the
loss + gradient for n = 6 and n = 32 (m = 2, one core: set OMP/OPENBLAS threads to 1 yourself if
you want to be strict), and the ratio to evaluating SPEC §2's integrals term by term with scipy
quad (ReLU switch points passed as breakpoints) at the same accuracy (1e-10 relative).

    python bench/potential.py
"""

from __future__ import annotations

import time

import numpy as np

from critpoints import tms
from critpoints.tms.reference import quad_loss


def rate(function, *args, batch, min_time=1.0):
    function(*args)  # warm up
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        function(*args)
        calls += 1
    return batch * calls / (time.perf_counter() - start)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'n':>3} {'batch':>6} {'loss/s':>12} {'loss+grad/s':>12} {'quad loss/s':>12} "
          f"{'ratio (loss)':>13} {'ratio (l+g)':>12}")
    for n, batch in ((6, 20_000), (32, 2_000)):
        W = rng.normal(size=(batch, 2, n))
        b = rng.normal(size=(batch, n)) * 0.5
        loss_rate = rate(tms.loss, W, b, batch=batch)
        grad_rate = rate(tms.loss_and_gradient, W, b, batch=batch)
        samples = 30 if n == 6 else 3
        start = time.perf_counter()
        for k in range(samples):
            value = quad_loss(W[k], b[k], epsabs=1e-13, epsrel=1e-11)
            assert abs(value - tms.loss(W[k], b[k])) <= 1e-10 * max(1.0, abs(value))
        quad_rate = samples / (time.perf_counter() - start)
        print(f"{n:>3} {batch:>6} {loss_rate:>12.3g} {grad_rate:>12.3g} {quad_rate:>12.3g} "
              f"{loss_rate / quad_rate:>12.0f}x {grad_rate / quad_rate:>11.0f}x")


if __name__ == "__main__":
    main()
