"""``critpoints llc --n 6 --label 5+``: λ̂ at a catalog critical point by SGLD."""

from __future__ import annotations

import argparse
import sys

from critpoints.cli import UsageError
from critpoints.cli.options import (
    MAX_CHAIN_STEPS,
    MAX_FEATURES,
    MAX_SAMPLES,
    integer,
    output_file,
    real,
    seed,
    tms_catalog,
    whole,
)

#: --samples with --data population only sets Nβ = N/log N; beyond 10¹⁵ the step size
#: 0.1/(Nβ h_max) falls below float64 resolution of the parameters.
MAX_POPULATION_SAMPLES = 10**15


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "llc",
        help="estimate the local learning coefficient λ̂ at a catalog point (SGLD)",
        description="Estimate λ̂ = Nβ(E[L] − L(w*)), Nβ = N/log N, by SGLD chains localised at a "
        "catalog critical point, and compare with the theoretical λ.",
    )
    parser.add_argument("--n", type=integer(2, MAX_FEATURES), required=True,
                        help="number of features")
    parser.add_argument("--label", required=True, help="catalog id, e.g. 6, 5+, 5, 4+")
    parser.add_argument("--catalog", default=None,
                        help="catalog file (default catalog/tms-nN-m2.json if present in the "
                        "working directory, else the one shipped with critpoints)")
    parser.add_argument("--samples", type=whole(2, MAX_POPULATION_SAMPLES), default=1_000_000,
                        metavar="N",
                        help="number of samples N: sets Nβ = N/log N, and with --data empirical "
                        f"the data-set size (≤ {MAX_SAMPLES:,} then; default 1e6)")
    parser.add_argument("--data", choices=("population", "empirical"), default="population",
                        help="population potential L, or the empirical loss on N drawn samples")
    parser.add_argument("--batch-size", type=integer(1, MAX_SAMPLES), default=1000,
                        help="minibatch size for --data empirical, at most --samples "
                        "(default 1000)")
    parser.add_argument("--chains", type=integer(2, MAX_CHAIN_STEPS // 10), default=16,
                        help="number of SGLD chains")
    parser.add_argument("--steps", type=integer(10, MAX_CHAIN_STEPS // 2), default=30000,
                        help=f"SGLD steps per chain (chains × steps ≤ {MAX_CHAIN_STEPS:,}, "
                        "the size of the stored trace; default 30000)")
    parser.add_argument("--burn-in", type=integer(0), default=None, help="default steps/4")
    parser.add_argument("--epsilon", type=real(0, lo_open=True), default=None,
                        help="SGLD step (default 0.1/(Nβ h_max), "
                             "h_max the largest Hessian eigenvalue)")
    parser.add_argument("--gamma", type=real(0), default=100.0, help="localisation (default 100)")
    parser.add_argument("--dead-bias", type=real(hi=0), default=-0.5,
                        help="representative bias for dead features inside their flat interval "
                        "b ≤ 0 (default −0.5, deep enough that chains do not cross b = 0)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the chains and data")
    parser.add_argument("--out", type=output_file, default=None, metavar="PATH",
                        help="write the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from critpoints.documents import write_document
    from critpoints.slt.experiment import run_llc
    from critpoints.slt.sgld import SGLDDiverged

    if args.chains * args.steps > MAX_CHAIN_STEPS:
        raise UsageError(f"--chains × --steps = {args.chains * args.steps:.3g} exceeds "
                         f"{MAX_CHAIN_STEPS:,} (the trace is kept in memory)")
    if args.data == "empirical" and args.samples > MAX_SAMPLES:
        raise UsageError(f"--data empirical draws --samples data points: at most "
                         f"{MAX_SAMPLES:,}; got {args.samples}")
    if args.data == "empirical" and args.batch_size > args.samples:
        raise UsageError(f"--batch-size ({args.batch_size}) cannot exceed --samples "
                         f"({args.samples})")
    burn_in = args.steps // 4 if args.burn_in is None else args.burn_in
    if not 0 <= burn_in < args.steps - 1:
        raise UsageError(f"--burn-in must lie in [0, steps − 1); got {burn_in}")
    _, document = tms_catalog(args.catalog, args.n)
    if args.label not in {e["id"] for e in document["critical_points"]}:
        raise UsageError(f"unknown label {args.label!r}; catalog ids: "
                         f"{', '.join(e['id'] for e in document['critical_points'])}")
    try:
        result = run_llc(
            document, args.label, samples=args.samples, data=args.data,
            batch_size=args.batch_size, chains=args.chains, steps=args.steps, burn_in=burn_in,
            epsilon=args.epsilon, gamma=args.gamma, dead_bias=args.dead_bias, seed=args.seed,
            progress=lambda message: print(message, file=sys.stderr),
        )
    except SGLDDiverged as exc:
        raise UsageError(f"{exc}; lower --epsilon or --gamma") from None
    estimate, theory = result.estimate, result.theory
    print(f"point       {args.label} (n = {args.n}), L(w*) = {estimate.init_loss:.8g} "
          f"({args.data})")
    print(f"sampler     SGLD, N = {args.samples:g}, Nβ = {estimate.nbeta:.6g}, "
          f"ε = {result.epsilon:.3g}, γ = {args.gamma:g}, {args.chains} chains × {args.steps} "
          f"steps (burn-in {burn_in})")
    print(f"λ̂           {estimate.llc_mean:.3f} ± {estimate.llc_std:.3f} (mean ± sd over chains)")
    print(f"theory λ    {theory.value if theory.value is not None else 'none'}: {theory.reason}")
    print(f"escaped     {int(estimate.escaped.sum())} of {args.chains} chains; "
          f"stationarity z = {estimate.stationarity_z:+.2f}")
    for line in estimate.warnings:
        print(f"warning: {line}", file=sys.stderr)
    if args.out:
        write_document(args.out, result.to_json())
    return 0
