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
    import numpy as np

    from critpoints.catalog import default_catalog_path, load_catalog
    from critpoints.documents import PHASES, new_document, write_document
    from critpoints.slt import freeenergy as fe

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
    path = args.catalog or default_catalog_path(args.n)
    document = load_catalog(path)
    model = document["model"]
    if model.get("kind") != "tms-high-sparsity" or model.get("n") != args.n:
        raise UsageError(f"{path} is a {model.get('kind')} catalog for n = {model.get('n')}, "
                         f"not a TMS catalog for --n {args.n}")
    ids = {e["id"] for e in document["critical_points"]}
    unknown = sorted(set(overrides) - ids)
    if unknown:
        raise UsageError(f"unknown label(s) {', '.join(unknown)} in --lambda")
    grid = np.unique(np.round(np.geomspace(lo, hi, count)))
    print(f"phases: n = {args.n}, N grid {grid[0]:g}..{grid[-1]:g} ({len(grid)} points)"
          + (f", likelihood scale {scale:g}" if scale != 1 else ""), file=sys.stderr)
    theory, phase_lists = {}, {}
    for convention in ("prior", "laplace"):
        unscaled = phase_lists[convention] = fe.phases_from_catalog(document, convention, overrides)
        phases = [p.with_nll_scale(scale) for p in unscaled]
        theory[convention] = {
            "phases": [
                {"id": p.id, "loss": p.loss, "lambda": p.lam, "constant": p.constant,
                 "lambda_source": p.lam_source, "constant_source": p.constant_source,
                 "details": p.details}
                for p in unscaled
            ],
            "transitions": fe.transitions(phases),
            "dominant_transitions": fe.dominant_transitions(phases, (lo, hi)),
            "occupancy": {
                p.id: [float(v) for v in row]
                for p, row in zip(phases, fe.theoretical_occupancy(phases, grid))
            },
        }
    chosen = theory[args.convention]
    print(f"{'phase':8}{'L':>12}{'λ':>7}{'c prior':>11}{'c laplace':>11}  λ from")
    laplace_c = {p["id"]: p["constant"] for p in theory["laplace"]["phases"]}
    for p in theory["prior"]["phases"]:
        print(f"{p['id']:8}{p['loss']:12.6f}{p['lambda']:7.2f}{p['constant']:11.5f}"
              f"{laplace_c[p['id']]:11.5f}  {p['lambda_source'][:60]}")
    print(f"\ntransitions ({args.convention} constant), Type A marked *:")
    for t in chosen["transitions"]:
        star = "*" if t["type"] == "A" else " "
        print(f"  {star} {t['from']:>5} → {t['to']:<5} N = {t['samples']:10.2f}")
    print("dominant phase changes:", ", ".join(
        f"{t['from']}→{t['to']} at {t['samples']:.1f}" for t in chosen["dominant_transitions"]
    ) or "none")

    result = new_document(PHASES, {
        "command": "phases", "n": args.n, "catalog": str(path), "convention": args.convention,
        "lambda_overrides": overrides, "nll_scale": scale,
        "transitions": [
            {"from": t["from"], "to": t["to"], "samples": t["samples"], "type": t["type"]}
            for t in chosen["transitions"]
        ],
        "N": [float(v) for v in grid],
        "theory": theory,
    })
    if args.data_sets and not args.mcmc_steps:
        potential = _drawn_data_sets(args.n, grid, args.data_sets,
                                     np.random.default_rng(args.seed), document["model"].get("m", 2))
        with_data = _theory_with_data(phase_lists, potential, potential.slot_grid, grid, scale)
        result["theory_with_data"] = dict(with_data, data_sets=args.data_sets, seed=args.seed)
        for conv in phase_lists:
            print(f"with the data-set term ({conv}, {args.data_sets} data sets): dominant phase "
                  "changes " + (", ".join(
                      f"{c['from']}→{c['to']} at {c['samples']:.0f}"
                      for c in with_data[conv]["dominant_changes"]) or "none"))
    if args.mcmc_steps:
        result["empirical"] = _sample(args, document, grid, theory, scale, phase_lists)
    if args.out:
        write_document(args.out, result)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _drawn_data_sets(n, sizes, count, rng, m):
    """``count`` streams of high-sparsity samples; data set (d, k) is stream d's first sizes[k]."""
    from critpoints.slt.potentials import TMSEmpiricalSets
    from critpoints.tms.data import sample_high_sparsity

    streams = [sample_high_sparsity(n, int(max(sizes)), seed=rng) for _ in range(count)]
    return TMSEmpiricalSets.nested(streams, sizes, m)


def _theory_with_data(phase_lists, potential, slots, grid, scale) -> dict:
    """Occupancy, 5 → 6 crossing and dominant changes of F + δ on the data sets ``slots``."""
    from critpoints.slt import freeenergy as fe
    from critpoints.slt.mcmc import dominant_changes, occupancy_crossing

    print("phases: data-set terms of the free energies", file=sys.stderr)
    out = {}
    for conv, phases in phase_lists.items():
        mean, _ = fe.data_set_occupancy(phases, potential, slots, grid, scale)
        occ = {p.id: [float(v) for v in row] for p, row in zip(phases, mean)}
        out[conv] = {
            "occupancy": occ,
            "crossing_5_to_6": occupancy_crossing(
                grid, occ.get("5", [0] * len(grid)), occ.get("6", [0] * len(grid))),
            "dominant_changes": dominant_changes(grid, occ),
        }
    return out


def _sample(args, document, grid, theory, scale, phase_lists) -> dict:
    import numpy as np

    from critpoints.slt.mcmc import dominant_changes, occupancy_crossing, sample_posterior_ladder
    from critpoints.slt.phases import phase_label
    from critpoints.slt.potentials import TMSPopulation

    m = document["model"].get("m", 2)
    hot = np.geomspace(5.0, grid[0], args.hot_levels + 1)[:-1] if args.hot_levels else []
    levels = np.unique(np.concatenate([np.round(hot), grid]))
    rng = np.random.default_rng(args.seed)
    slots = None
    if args.data == "empirical":
        potential = _drawn_data_sets(args.n, levels, args.ensembles, rng, m)
        slots = potential.slot_grid
    else:
        potential = TMSPopulation(args.n, m)

    def classify(theta):
        W, b = potential.unflatten(theta)
        return phase_label(W, b)

    def progress(step, steps):
        print(f"phases: MCMC step {step}/{steps}", file=sys.stderr)

    burn_in = args.mcmc_steps // 4
    res = sample_posterior_ladder(
        potential, scale * levels, ensembles=args.ensembles, steps=args.mcmc_steps,
        burn_in=burn_in, thin=10, slots=slots, classify=classify, seed=rng, progress=progress,
    )
    keep = np.isin(levels, grid)
    labels = sorted({lab for c in res.counts for lab in c})
    occ = {lab: [float(v) for v in np.asarray(vals)[keep]]
           for lab, vals in res.occupancy(labels).items()}
    crossing = occupancy_crossing(grid, occ.get("5", [0] * len(grid)), occ.get("6", [0] * len(grid)))
    theory_cross = {
        conv: occupancy_crossing(grid, theory[conv]["occupancy"].get("5", [0] * len(grid)),
                                 theory[conv]["occupancy"].get("6", [0] * len(grid)))
        for conv in theory
    }
    with_data = {}
    if args.data == "empirical":
        # The same data sets through the free energy with its data-set term δ (see
        # freeenergy.data_set_shift): the theory the sampler should agree with at finite N.
        with_data = _theory_with_data(phase_lists, potential, slots[:, keep], grid, scale)
    likelihood = ("empirical loss L_N on drawn data sets" if args.data == "empirical"
                  else "population potential L")
    print(f"\nempirical occupancy ({res.draws} draws per N; {likelihood}):")
    catalogued = [p["id"] for p in theory["prior"]["phases"]]
    show = [lab for lab in sorted(occ, key=lambda lab: (lab not in catalogued, lab))
            if lab in catalogued]
    print(f"{'N':>7}" + "".join(f"{lab:>8}" for lab in show) + f"{'other':>8}")
    for i, N in enumerate(grid):
        other = 1 - sum(occ[lab][i] for lab in show)
        print(f"{N:7.0f}" + "".join(f"{occ[lab][i]:8.3f}" for lab in show) + f"{other:8.3f}")
    def fmt(value):
        return "none" if value is None else f"{value:.0f}"

    sampled_changes = dominant_changes(grid, occ, show)
    print("dominant phase changes (sampled, catalogued phases): " + (", ".join(
        f"{c['from']}→{c['to']} at {c['samples']:.0f}" for c in sampled_changes) or "none"))

    print(f"5 → 6 occupancy crossing: sampled {fmt(crossing)}; theory prior "
          f"{fmt(theory_cross['prior'])}, Laplace {fmt(theory_cross['laplace'])}"
          + "".join(f"; {conv} with data-set term {fmt(v['crossing_5_to_6'])}"
                    for conv, v in with_data.items()))
    return {
        "method": "MALA with replica exchange over the N ladder (exact MH), standard normal "
        f"prior, log-likelihood −{scale:g}·N·({'L_N' if args.data == 'empirical' else 'L'})",
        "data": args.data, "nll_scale": scale,
        "levels": [float(v) for v in levels],
        "ensembles": args.ensembles, "steps": args.mcmc_steps, "burn_in": burn_in, "thin": 10,
        "draws_per_level": res.draws, "seed": args.seed,
        "occupancy": occ,
        "mean_loss": [float(v) for v in res.mean_loss[keep]],
        "acceptance": [float(v) for v in res.acceptance],
        "swap_acceptance": [float(v) for v in res.swap_acceptance],
        "crossing_5_to_6": crossing,
        "theory_crossing_5_to_6": theory_cross,
        "theory_with_data": with_data,
        "dominant_changes": sampled_changes,
    }
