"""Speed of λ̂ sampling: all chains advanced together (``sgld_llc``) against a loop over chains.

Both paths run the same SGLD (same ε, γ, steps, diagnostics off) at the 6-gon of n = 6; the
vectorised one evaluates the potential once per step for every chain, the loop once per step
per chain (what a per-chain sampler such as devinterp's does on a CPU). Prints seconds and the
ratio measured in this run, for the population potential and the empirical loss (N = 1000, full
batches).

    PYTHONPATH=. python bench/llc.py [--chains 16] [--steps 2000]
"""

from __future__ import annotations

import argparse
import time

from critpoints.catalog import load_builtin
from critpoints.slt.experiment import _llc_start
from critpoints.slt.potentials import TMSEmpirical, TMSPopulation
from critpoints.slt.sgld import sgld_llc
from critpoints.tms.data import sample_high_sparsity


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    entry = next(e for e in load_builtin(6)["critical_points"] if e["id"] == "6")
    W, b = _llc_start(entry, -0.5)
    settings = {"steps": args.steps, "burn_in": args.steps // 4, "epsilon": 1e-4,
                "gamma": 100.0, "acceptance_every": None}
    print(f"{'potential':<22} {'vectorised':>11} {'per-chain loop':>15} {'ratio':>7}")
    for name, potential, size in (
        ("population (N = 1e6)", TMSPopulation(6), 1e6),
        ("empirical (N = 1000)", TMSEmpirical(sample_high_sparsity(6, 1000, seed=0), 2), 1000),
    ):
        theta = potential.flatten(W, b)
        here = {**settings, "epsilon": 1e-6} if size == 1e6 else settings

        def together(potential=potential, theta=theta, size=size, here=here):
            sgld_llc(potential, theta, size, chains=args.chains, seed=0, **here)

        def looped(potential=potential, theta=theta, size=size, here=here):
            for c in range(args.chains):
                sgld_llc(potential, theta, size, chains=1, seed=c, **here)

        fast, slow = timed(together), timed(looped)
        print(f"{name:<22} {fast:>10.2f}s {slow:>14.2f}s {slow / fast:>6.1f}×")

if __name__ == "__main__":
    main()
