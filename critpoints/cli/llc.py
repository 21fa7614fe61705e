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
    number_list,
    output_file,
    real,
    real_or_auto,
    seed,
    tms_catalog,
    whole,
)

#: --samples with --data population only sets Nβ = N/log N; beyond 10¹⁵ the step size
#: 0.1/(Nβ h_max) falls below float64 resolution of the parameters.
MAX_POPULATION_SAMPLES = 10**15
#: Localisations beyond this leave λ̂ at rounding level (γ ≫ Nβ h_max for any catalogued point).
MAX_GAMMA = 1e12


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
    parser.add_argument("--epsilon", type=real_or_auto(0, lo_open=True), default=None,
                        help="SGLD step, or auto (default): the largest step whose predicted "
                        "step bias is ≤ --step-tolerance of ½ rank, from the Hessian at the centre")
    parser.add_argument("--gamma", type=real_or_auto(0, MAX_GAMMA, lo_open=True), default=None,
                        help="localisation, or auto (default): the smallest γ whose localised "
                        "posterior stays where the loss is quadratic and in the basin of the "
                        "point, and keeps flat coordinates in their flat set")
    parser.add_argument("--step-tolerance", type=real(0, 0.5, lo_open=True), default=0.01,
                        help="largest predicted step bias of the calibrated ε, as a fraction of "
                        "½ rank (default 0.01)")
    parser.add_argument("--bias-tolerance", type=real(0, lo_open=True), default=0.1,
                        help="warn when the predicted bias of a fixed --gamma/--epsilon exceeds "
                        "this fraction of ½ rank (default 0.1)")
    parser.add_argument("--refuse-bias", action="store_true",
                        help="refuse (exit 2) instead of warning when the predicted bias of a "
                        "fixed --gamma/--epsilon exceeds --bias-tolerance")
    parser.add_argument("--centre", choices=("auto", "catalog", "empirical"), default="auto",
                        help="localise at the catalog point or at the empirical loss's minimum "
                        "next to it (auto: the latter for --data empirical)")
    parser.add_argument("--sweep", action="store_true",
                        help="run a grid of (N, ε, γ) and print λ̂, predicted bias, acceptance, "
                        "R̂ and escapes per setting")
    parser.add_argument("--sweep-gamma", type=number_list(real(0, lo_open=True)), default=None,
                        metavar="G1,G2,...",
                        help="γ values of the sweep (default the calibrated γ × 0.1, 0.3, 1, "
                        "3, 10)")
    parser.add_argument("--sweep-epsilon", type=number_list(real(0, lo_open=True)),
                        default=None, metavar="E1,E2,...",
                        help="ε values of the sweep (default the calibrated ε × 0.25, 1, 4)")
    parser.add_argument("--sweep-samples", type=number_list(whole(2, MAX_POPULATION_SAMPLES)),
                        default=None, metavar="N1,N2,...",
                        help="sample sizes of the sweep (default --samples)")
    parser.add_argument("--dead-bias", type=real(hi=0), default=-0.5,
                        help="representative bias for dead features inside their flat interval "
                        "b ≤ 0 (default −0.5, deep enough that chains do not cross b = 0)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the chains and data")
    parser.add_argument("--out", type=output_file, default=None, metavar="PATH",
                        help="write the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from critpoints.documents import write_document
    from critpoints.slt.experiment import BiasTooLarge, run_llc
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
    if args.sweep:
        return _sweep(args, document, burn_in)
    if not (args.sweep_gamma is None and args.sweep_epsilon is None
            and args.sweep_samples is None):
        raise UsageError("--sweep-gamma, --sweep-epsilon and --sweep-samples need --sweep")
    try:
        result = run_llc(
            document, args.label, samples=args.samples, data=args.data,
            batch_size=args.batch_size, chains=args.chains, steps=args.steps, burn_in=burn_in,
            epsilon=args.epsilon, gamma=args.gamma, dead_bias=args.dead_bias, seed=args.seed,
            centre=args.centre, step_tolerance=args.step_tolerance,
            bias_tolerance=args.bias_tolerance, refuse_bias=args.refuse_bias,
            progress=lambda message: print(message, file=sys.stderr),
        )
    except SGLDDiverged as exc:
        raise UsageError(f"{exc}; lower --epsilon or --gamma") from None
    except BiasTooLarge as exc:
        raise UsageError(f"{exc}; use --gamma auto --epsilon auto"
                         + ("" if "diverge" in str(exc) else " or raise --bias-tolerance")
                         ) from None
    estimate, theory, calibration = result.estimate, result.theory, result.calibration
    fixed = args.gamma is not None or args.epsilon is not None
    bias, prediction = result.predicted_bias, calibration.prediction
    print(f"point       {args.label} (n = {args.n}), L(w*) = {estimate.init_loss:.8g} "
          f"({args.data}; centre {result.centre}, {result.centre_shift:.3g} from the catalog "
          "point)")
    source = "fixed" if fixed else "calibrated"
    print(f"sampler     SGLD, N = {args.samples:g}, Nβ = {estimate.nbeta:.6g}, "
          f"ε = {result.epsilon:.3g}, γ = {result.gamma:.4g} ({source}), {args.chains} chains × "
          f"{args.steps} steps (burn-in {burn_in}, relaxation ≈ "
          f"{calibration.relaxation_steps:.0f} steps)"
          + (f", minibatch {result.batch_size}" if result.batch_size else ""))
    print(f"λ̂           {estimate.llc_mean:.3f} ± {estimate.llc_std:.3f} (mean ± sd over "
          f"{int(estimate.kept.sum())} chains)")
    if prediction is not None:
        print(f"bias        {bias:+.3f} predicted by the harmonic model (localisation "
              f"{prediction.localisation_bias:+.3f}, step {prediction.step_bias:+.3f}, "
              f"minibatch {prediction.minibatch_bias:+.3f}); probe "
              f"{calibration.probe.relative_error:+.1%}")
        print(f"λ̂ − bias    {result.corrected:.3f}")
    else:
        print("bias        not predicted: " + calibration.basis)
    print(f"theory λ    {theory.value if theory.value is not None else 'none'}: {theory.reason}")
    actions = ", ".join(f"{estimate.chain_action.count(a)} {a}"
                        for a in ("kept", "truncated", "dropped"))
    acceptance = ("untested" if estimate.acceptance is None
                  else f"{float(estimate.acceptance.mean()):.3f}")
    print(f"chains      {actions} ({estimate.escape_rule}); acceptance {acceptance}; "
          f"split-R̂ {estimate.rhat:.3f}; stationarity z = {estimate.stationarity_z:+.2f}")
    for line in estimate.warnings + calibration.notes:
        print(f"warning: {line}", file=sys.stderr)
    if args.out:
        write_document(args.out, result.to_json())
    return 0


def _sweep(args: argparse.Namespace, document: dict, burn_in: int) -> int:
    from critpoints.documents import write_document
    from critpoints.slt.experiment import run_llc_sweep

    sweep = run_llc_sweep(
        document, args.label, samples=args.sweep_samples or [args.samples],
        gammas=args.sweep_gamma, epsilons=args.sweep_epsilon, data=args.data,
        batch_size=args.batch_size, chains=args.chains, steps=args.steps, burn_in=burn_in,
        dead_bias=args.dead_bias, seed=args.seed, centre=args.centre,
        step_tolerance=args.step_tolerance,
        progress=lambda message: print(message, file=sys.stderr),
    )
    theory = sweep.runs[0].theory
    print(f"λ̂ sweep at {args.label} (n = {args.n}, {args.data}); theory λ = {theory.value}; "
          "* = calibrated")
    print(f"{'N':>8} {'ε':>9} {'γ':>9}  {'λ̂':>7} {'sd':>6} {'bias':>7} {'λ̂−bias':>7} "
          f"{'accept':>6} {'R̂':>5} {'z':>5} {'esc':>3} {'drop':>4}")

    def cell(value, spec: str, width: int) -> str:
        return f"{'—':>{width}}" if value is None else f"{value:{width}{spec}}"

    for row in sweep.rows():
        mark = "*" if row["calibrated"] else " "
        print(f"{row['samples']:>8g} {row['epsilon']:>9.3g} {row['gamma']:>9.3g}{mark} "
              f"{row['llc_mean']:>7.3f} {row['llc_std']:>6.3f} "
              f"{cell(row['predicted_bias'], '.3f', 7)} {cell(row['llc_corrected'], '.3f', 7)} "
              f"{cell(row['acceptance'], '.3f', 6)} {cell(row['rhat'], '.3f', 5)} "
              f"{row['stationarity_z']:>5.1f} {row['chains_escaped']:>3d} "
              f"{row['chains_dropped']:>4d}")
    if args.out:
        write_document(args.out, sweep.to_json())
    return 0
