"""``critpoints phases --n 6 --sample-range 100:2000``: Bayesian phases, transitions, occupancy."""

from __future__ import annotations

import argparse
import sys

from critpoints.cli import UsageError
from critpoints.cli.options import (
    MAX_FEATURES,
    MAX_SAMPLES,
    fraction,
    integer,
    label_value,
    output_file,
    renamed,
    sample_range,
    seed,
    tms_catalog,
)

#: HI of --sample-range: the free energies are formulas in N, but past 10¹² the predicted
#: crossings (N of a few hundred) are far off the grid and float64 N·L loses the constants.
MAX_SAMPLE_SIZE = 10**12


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "phases",
        help="free energies of catalog phases, predicted transitions, occupancy curves",
        description="Predict Bayesian phase transitions F_N = N L + λ log N + c between catalog "
        "phases and, with --mcmc-steps > 0, check the occupancy curves by sampling the posterior "
        "exp(−N L_N) φ(w) on drawn data sets (MALA with replica exchange over the N grid).",
    )
    parser.add_argument("--n", type=integer(2, MAX_FEATURES), required=True,
                        help="number of features")
    parser.add_argument("--catalog", default=None,
                        help="catalog file (default catalog/tms-nN-m2.json if present in the "
                        "working directory, else the one shipped with critpoints)")
    parser.add_argument("--sample-range", dest="sample_range", required=True,
                        type=sample_range(2, MAX_SAMPLE_SIZE, 500), metavar="LO:HI[:COUNT]",
                        help="range of sample sizes N, whole numbers 2 ≤ LO < HI ≤ 1e12 "
                        "(geometric grid of COUNT ≤ 500 points, default 16)")
    parser.add_argument("--samples", type=renamed("--samples", "--sample-range", "LO:HI[:COUNT]"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--lambda", dest="lam", action="append", type=label_value, default=[],
                        metavar="ID=VALUE",
                        help="λ for a catalog entry without one (e.g. 4+=5); repeatable")
    parser.add_argument("--convention", choices=("prior", "laplace"), default="prior",
                        help="constant c used for the 'transitions' list (both are reported)")
    parser.add_argument("--mcmc-steps", type=integer(0, 10**7), default=0,
                        help="MALA steps per replica, 0 or ≥ 100 (default 0: theory only)")
    parser.add_argument("--ensembles", type=integer(1, 1000), default=8,
                        help="replica-exchange ensembles (each with data sets of its own)")
    parser.add_argument("--data", choices=("empirical", "population"), default="empirical",
                        help="likelihood of the sampled posterior: the empirical loss L_N on a "
                        "drawn data set of size N (nested over the ladder; default), or the "
                        "population potential L (the N → ∞ proxy the free-energy formula uses)")
    parser.add_argument("--data-sets", type=integer(0, 1000), default=0, metavar="D",
                        help="without sampling: also predict the occupancy on D drawn data sets "
                        "of each N (the free energy plus its data-set term; default 0 = off; "
                        "with --mcmc-steps and --data empirical it is computed on the sampler's "
                        "own data sets)")
    parser.add_argument("--nll-scale", type=fraction(1e-6, 1e6), default="1", metavar="S",
                        help="per-sample negative log-likelihood S·‖x − f(x)‖², so the posterior "
                        "is exp(−S·N·L_N): 1 (default) matches the potential; 1/2 is unit-variance "
                        "Gaussian noise; 1/n an MSE averaged over the n outputs. Applies to the "
                        "theory too (β = S·N); S·LO must exceed 1")
    parser.add_argument("--hot-levels", type=integer(0, 100), default=8,
                        help="extra levels below LO (down to N = 5) that help mixing")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the data sets and chains")
    parser.add_argument("--out", type=output_file, default=None, metavar="PATH",
                        help="write results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from critpoints.documents import write_document
    from critpoints.slt.experiment import run_phases, sample_size_grid

    lo, hi, count = args.sample_range
    overrides = dict(args.lam)
    scale = args.nll_scale
    if 0 < args.mcmc_steps < 100:
        raise UsageError("--mcmc-steps must be 0 or at least 100")
    if scale * lo <= 1:
        raise UsageError(f"--nll-scale × LO = {scale * lo:g} must exceed 1 (β = S·N enters "
                         "log(S·N))")
    streams = args.ensembles if args.mcmc_steps else args.data_sets
    if (args.data_sets or args.mcmc_steps) and args.data == "empirical" \
            and streams * hi > MAX_SAMPLES:
        raise UsageError(f"drawing {streams} data sets of up to N = {hi} samples exceeds "
                         f"{MAX_SAMPLES:,} samples in memory: lower HI of --sample-range, "
                         "--data-sets or --ensembles")
    path, document = tms_catalog(args.catalog, args.n)
    unknown = sorted(set(overrides) - {e["id"] for e in document["critical_points"]})
    if unknown:
        raise UsageError(f"unknown label(s) {', '.join(unknown)} in --lambda")
    grid = sample_size_grid(lo, hi, count)
    print(f"phases: n = {args.n}, N grid {grid[0]:g}..{grid[-1]:g} ({len(grid)} points)"
          + (f", likelihood scale {scale:g}" if scale != 1 else ""), file=sys.stderr)
    result = run_phases(
        document, grid, source=str(path), convention=args.convention, lambda_overrides=overrides,
        nll_scale=scale, mcmc_steps=args.mcmc_steps, ensembles=args.ensembles, data=args.data,
        data_sets=args.data_sets, hot_levels=args.hot_levels, seed=args.seed,
        progress=lambda message: print(message, file=sys.stderr),
    )
    _print_theory(result)
    if result.with_data is not None:
        for conv, curves in result.with_data.items():
            print(f"with the data-set term ({conv}, {args.data_sets} data sets): dominant phase "
                  "changes " + (_changes(curves.dominant_changes) or "none"))
    if result.sampled is not None:
        _print_sampled(result.sampled)
    if args.out:
        write_document(args.out, result.to_json())
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _changes(changes: list[dict], digits: int = 0) -> str:
    return ", ".join(f"{c['from']}→{c['to']} at {c['samples']:.{digits}f}" for c in changes)


def _print_theory(result) -> None:
    theory = result.theory
    print(f"{'phase':8}{'L':>12}{'λ':>7}{'c prior':>11}{'c laplace':>11}  λ from")
    laplace_c = {p.id: p.constant for p in theory["laplace"].phases}
    for p in theory["prior"].phases:
        print(f"{p.id:8}{p.loss:12.6f}{p.lam:7.2f}{p.constant:11.5f}"
              f"{laplace_c[p.id]:11.5f}  {p.lam_source[:60]}")
    print(f"\ntransitions ({result.convention} constant), Type A marked *:")
    for t in result.transitions:
        star = "*" if t["type"] == "A" else " "
        print(f"  {star} {t['from']:>5} → {t['to']:<5} N = {t['samples']:10.2f}")
    print("dominant phase changes:",
          _changes(theory[result.convention].dominant_transitions, 1) or "none")


def _print_sampled(sampled) -> None:
    def fmt(value):
        return "none" if value is None else f"{value:.0f}"

    likelihood = ("empirical loss L_N on drawn data sets" if sampled.data == "empirical"
                  else "population potential L")
    print(f"\nempirical occupancy ({sampled.draws_per_level} draws per N; {likelihood}):")
    occ, show = sampled.occupancy, sampled.catalogued
    print(f"{'N':>7}" + "".join(f"{lab:>8}" for lab in show) + f"{'other':>8}")
    for i, N in enumerate(sampled.grid):
        other = 1 - sum(occ[lab][i] for lab in show)
        print(f"{N:7.0f}" + "".join(f"{occ[lab][i]:8.3f}" for lab in show) + f"{other:8.3f}")
    print("dominant phase changes (sampled, catalogued phases): "
          + (_changes(sampled.dominant_changes) or "none"))
    a, b = sampled.pair
    print(f"{a} → {b} occupancy crossing: sampled {fmt(sampled.crossing)}; theory prior "
          f"{fmt(sampled.theory_crossing['prior'])}, Laplace "
          f"{fmt(sampled.theory_crossing['laplace'])}"
          + "".join(f"; {conv} with data-set term {fmt(c.crossing)}"
                    for conv, c in sampled.with_data.items()))
