"""``critpoints llc --n 6 --label 5+``: λ̂ at a catalog critical point by SGLD."""

from __future__ import annotations

import argparse
import sys

from critpoints.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "llc",
        help="estimate the local learning coefficient λ̂ at a catalog point (SGLD)",
        description="Estimate λ̂ = Nβ(E[L] − L(w*)), Nβ = N/log N, by SGLD chains localised at a "
        "catalog critical point, and compare with the theoretical λ.",
    )
    parser.add_argument("--n", type=int, required=True, help="number of features")
    parser.add_argument("--label", required=True, help="catalog id, e.g. 6, 5+, 5, 4+")
    parser.add_argument("--catalog", default=None, help="catalog file (default catalog/tms-nN-m2.json)")
    parser.add_argument("--samples", type=float, default=1e6, metavar="N",
                        help="sample size N in Nβ = N/log N (default 1e6)")
    parser.add_argument("--data", choices=("population", "empirical"), default="population",
                        help="population potential L, or the empirical loss on N drawn samples")
    parser.add_argument("--batch-size", type=int, default=1000,
                        help="minibatch size for --data empirical (default 1000)")
    parser.add_argument("--chains", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30000)
    parser.add_argument("--burn-in", type=int, default=None, help="default steps/4")
    parser.add_argument("--epsilon", type=float, default=None,
                        help="SGLD step (default 0.1/(Nβ h_max), h_max the largest Hessian eigenvalue)")
    parser.add_argument("--gamma", type=float, default=100.0, help="localisation (default 100)")
    parser.add_argument("--dead-bias", type=float, default=-0.5,
                        help="representative bias for dead features inside their flat interval "
                        "b ≤ 0 (default −0.5, deep enough that chains do not cross b = 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, metavar="PATH", help="write the result as JSON")
    parser.set_defaults(func=run)


def _load(args):
    from critpoints.catalog import CatalogError, load_catalog

    path = args.catalog or f"catalog/tms-n{args.n}-m2.json"
    try:
        document = load_catalog(path)
    except (OSError, CatalogError) as exc:
        raise UsageError(f"cannot load catalog {path}: {exc}") from None
    if document["model"].get("n") != args.n:
        raise UsageError(f"{path} is for n = {document['model'].get('n')}, not {args.n}")
    return document


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from critpoints.documents import LLC, new_document, write_document
    from critpoints.slt.coefficients import theoretical_learning_coefficient
    from critpoints.slt.llc import default_nbeta
    from critpoints.slt.potentials import TMSEmpirical, TMSPopulation
    from critpoints.slt.sgld import sgld_llc

    if args.n < 2:
        raise UsageError(f"--n must be at least 2; got {args.n}")
    if not args.samples > 1:
        raise UsageError(f"--samples must exceed 1; got {args.samples}")
    if args.chains < 2 or args.steps < 10:
        raise UsageError("need --chains ≥ 2 and --steps ≥ 10")
    burn_in = args.steps // 4 if args.burn_in is None else args.burn_in
    if not 0 <= burn_in < args.steps - 1:
        raise UsageError(f"--burn-in must lie in [0, steps − 1); got {burn_in}")
    if args.gamma < 0 or (args.epsilon is not None and args.epsilon <= 0):
        raise UsageError("--gamma must be ≥ 0 and --epsilon > 0")
    if args.dead_bias > 0:
        raise UsageError(f"--dead-bias must be ≤ 0 (the flat interval); got {args.dead_bias}")
    document = _load(args)
    entries = {e["id"]: e for e in document["critical_points"]}
    if args.label not in entries:
        raise UsageError(f"unknown label {args.label!r}; catalog ids: {', '.join(entries)}")
    entry = entries[args.label]
    W, b = np.asarray(entry["W"], float), np.asarray(entry["b"], float)
    zero = np.linalg.norm(W, axis=0) < 1e-12
    b = np.where(zero & (b <= 0), args.dead_bias, b)
    if args.data == "population":
        potential = TMSPopulation(args.n, W.shape[0])
    else:
        from critpoints.tms.data import sample_high_sparsity

        if args.samples != int(args.samples) or args.samples > 5e6:
            raise UsageError("--data empirical needs an integer --samples ≤ 5e6")
        x = sample_high_sparsity(args.n, int(args.samples), seed=args.seed)
        potential = TMSEmpirical(x, W.shape[0])
    nbeta = default_nbeta(args.samples)
    h_max = max(float(np.max(entry["hessian"]["eigenvalues"])), 1e-3)
    epsilon = args.epsilon if args.epsilon is not None else 0.1 / (nbeta * h_max)
    theta = potential.flatten(W, b)

    def progress(step, steps):
        print(f"llc {args.label}: step {step}/{steps}", file=sys.stderr)

    result = sgld_llc(
        potential, theta, args.samples, chains=args.chains, steps=args.steps, burn_in=burn_in,
        epsilon=epsilon, gamma=args.gamma, seed=args.seed,
        batch_size=args.batch_size if args.data == "empirical" else None, progress=progress,
    )
    theory = theoretical_learning_coefficient(entry)
    print(f"point       {args.label} (n = {args.n}), L(w*) = {result.init_loss:.8g} ({args.data})")
    print(f"sampler     SGLD, N = {args.samples:g}, Nβ = {nbeta:.6g}, ε = {epsilon:.3g}, "
          f"γ = {args.gamma:g}, {args.chains} chains × {args.steps} steps (burn-in {burn_in})")
    print(f"λ̂           {result.llc_mean:.3f} ± {result.llc_std:.3f} (mean ± sd over chains)")
    print(f"theory λ    {theory.value if theory.value is not None else 'none'}: {theory.reason}")
    print(f"escaped     {int(result.escaped.sum())} of {args.chains} chains; "
          f"stationarity z = {result.stationarity_z:+.2f}")
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    if args.out:
        write_document(args.out, new_document(LLC, {
            "command": "llc", "n": args.n, "label": args.label, "data": args.data,
            "samples": args.samples, "chains": args.chains, "steps": args.steps,
            "burn_in": burn_in, "epsilon": epsilon, "gamma": args.gamma,
            "dead_bias": args.dead_bias, "seed": args.seed,
            "theory": {"value": theory.value, "reason": theory.reason},
            **result.summary(),
            "trace_mean_per_chain": [float(v) for v in result.trace.mean(axis=1)],
        }))
    return 0
