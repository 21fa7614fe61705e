"""Speed of the empirical TMS loss for posterior sampling: prefix sums against the per-sample loop.

The replica-exchange sampler of ``critpoints phases --data empirical`` evaluates L_N and its
gradient for every (ensemble, level) replica at every step, each on its own data set. This prints,
measured in this run, chain-evaluations per second of loss + gradient for

- ``TMSEmpirical`` (the per-sample evaluator, O(N n) per chain; one call per data set), and
- ``TMSEmpiricalSets`` (prefix sums over sorted magnitudes, O(n² log N) per chain; one call for
  all data sets),

on the ladder the committed phases file uses (16 ensembles × 28 levels, N = 5 … 2000, n = 6),
and the ratio. One core.

    python bench/empirical.py
"""

from __future__ import annotations

import time

import numpy as np

from critpoints.slt.potentials import TMSEmpirical, TMSEmpiricalSets
from critpoints.tms.data import sample_high_sparsity


def per_second(function, evaluations, min_time=2.0):
    function()  # warm up
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        function()
        calls += 1
    return evaluations * calls / (time.perf_counter() - start)


def main() -> None:
    n, ensembles = 6, 16
    grid = np.unique(np.round(np.geomspace(100, 2000, 20)))
    levels = np.unique(np.concatenate([np.round(np.geomspace(5, 100, 9)[:-1]), grid]))
    rng = np.random.default_rng(0)
    streams = [sample_high_sparsity(n, int(levels[-1]), seed=rng) for _ in range(ensembles)]
    sets = [s[: int(N)] for s in streams for N in levels]
    theta = rng.standard_normal((len(sets), 3 * n))
    slots = np.arange(len(sets))

    prefix = TMSEmpiricalSets(sets)
    loops = [TMSEmpirical(x) for x in sets]

    def with_prefix_sums():
        prefix.loss_and_gradient(theta, slots)

    def per_sample():
        for s, potential in enumerate(loops):
            potential.loss_and_gradient(theta[s : s + 1])

    fast = per_second(with_prefix_sums, len(sets))
    slow = per_second(per_sample, len(sets))
    print(f"ladder: {ensembles} ensembles × {len(levels)} levels = {len(sets)} replicas, "
          f"N = {int(levels[0])} … {int(levels[-1])}, Σ N = {sum(len(x) for x in sets):,}")
    print(f"per-sample loop (TMSEmpirical):  {slow:12,.0f} chain-evaluations/s")
    print(f"prefix sums (TMSEmpiricalSets): {fast:12,.0f} chain-evaluations/s")
    print(f"ratio: {fast / slow:.1f}x")
    for N in (100, 2000, 20000):
        x = sample_high_sparsity(n, N, seed=1)
        one = TMSEmpiricalSets([x])
        direct = TMSEmpirical(x)
        batch = rng.standard_normal((256, 3 * n))
        a = per_second(lambda one=one, batch=batch: one.loss_and_gradient(batch, 0), 256, 1.0)
        b = per_second(lambda direct=direct, batch=batch: direct.loss_and_gradient(batch), 256, 1.0)
        print(f"one data set, N = {N:6d}, 256 chains: prefix {a:10,.0f}/s, per-sample "
              f"{b:10,.0f}/s, ratio {a / b:6.1f}x")


if __name__ == "__main__":
    main()
