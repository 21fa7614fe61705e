"""``critpoints phase-diagram --n 2 --hidden 1``: which configuration wins over (1 − S, r)."""

from __future__ import annotations

import argparse
import sys

from critpoints.cli import UsageError
from critpoints.cli.options import integer, output_file, real, seed


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "phase-diagram",
        help="exact phase diagram of the TMS over feature density and importance",
        description="For every configuration type of the (n, m) model (Elhage et al. 2022, "
        "n = 2, m = 1 and n = 3, m = 2), its optimum of the exact finite-sparsity potential "
        "over a grid of feature density 1 − S and importance r of the last feature; the winner "
        "per cell and the boundaries L*_A = L*_B by root finding in r.",
    )
    parser.add_argument("--n", type=integer(2, 3), required=True, help="features (2 or 3)")
    parser.add_argument("--hidden", type=integer(1, 2), required=True,
                        help="hidden dimensions m (1 with n = 2, 2 with n = 3)")
    parser.add_argument("--density-min", type=real(1e-4, 1.0), default=0.01,
                        help="smallest feature density 1 − S")
    parser.add_argument("--ratio-range", type=real(1e-3, 1e3), nargs=2, default=(0.1, 10.0),
                        metavar=("LO", "HI"), help="range of the last feature's importance r")
    parser.add_argument("--grid", type=integer(3, 101), default=13,
                        help="grid points per axis (log-spaced)")
    parser.add_argument("--boundary-points", type=integer(0, 1000), default=25,
                        help="densities of the fine grid of the boundary curves")
    parser.add_argument("--boundary-rtol", type=real(1e-12, 0.1), default=1e-8,
                        help="relative accuracy in r of boundary points where a type ends "
                        "(bisection; equal-loss points are roots to 1e-13)")
    parser.add_argument("--checks", type=integer(0, 10000), default=6,
                        help="grid points checked by multi-start over the full (W, b)")
    parser.add_argument("--starts", type=integer(1, 1000), default=8,
                        help="random starts per checked point")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the multi-start")
    parser.add_argument("--out", type=output_file, metavar="PATH", help="write JSON")
    parser.add_argument("--figure", type=output_file, metavar="PATH",
                        help="write the figure (PNG or SVG)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from critpoints.documents import PHASE_DIAGRAM, new_document
    from critpoints.store import write_document
    from critpoints.tms.phase_diagram import SUPPORTED, phase_diagram

    if (args.n, args.hidden) not in SUPPORTED:
        raise UsageError(f"--n {args.n} --hidden {args.hidden} is not supported; supported: "
                         + ", ".join(f"--n {a} --hidden {b}" for a, b in SUPPORTED))
    lo, hi = args.ratio_range
    if not lo < hi:
        raise UsageError(f"--ratio-range needs LO < HI; got {lo:g} ≥ {hi:g}")
    if not args.density_min < 1:
        raise UsageError("--density-min must be below 1")
    densities = np.geomspace(args.density_min, 1.0, args.grid)
    ratios = np.geomspace(lo, hi, args.grid)
    fine = np.geomspace(args.density_min, 1.0, args.boundary_points) \
        if args.boundary_points else []
    result = phase_diagram(args.n, args.hidden, densities, ratios, fine,
                           multistart_points=args.checks, multistart_starts=args.starts,
                           seed=args.seed, progress=lambda s: print(s, file=sys.stderr),
                           boundary_rtol=args.boundary_rtol)
    body = result.to_json()
    verification = body["verification"]
    print(f"n = {args.n}, m = {args.hidden}: {verification['type_optima']} type optima, "
          f"max ‖∇L‖ = {verification['max_gradient_norm']:.2e}, "
          f"{verification['winners_not_psd']} winners not PSD, "
          f"{verification['multistart_violations']} of {verification['multistart_points']} "
          "multi-start checks lower than the winner")
    for boundary in result.boundaries:
        how = "equal loss" if boundary.kind == "equal-loss" else f"{boundary.ended} ends"
        print(f"boundary {boundary.types[0]} | {boundary.types[1]} ({how}): "
              f"{len(boundary.points)} points, max |L*_A − L*_B| = "
              f"{boundary.max_loss_difference:.1e}")
    command = (f"python -m critpoints phase-diagram --n {args.n} --hidden {args.hidden} "
               f"--density-min {args.density_min:g} --ratio-range {lo:g} {hi:g} "
               f"--grid {args.grid} --boundary-points {args.boundary_points} "
               f"--boundary-rtol {args.boundary_rtol:g} "
               f"--checks {args.checks} --starts {args.starts} --seed {args.seed}")
    document = new_document(PHASE_DIAGRAM, {"description": "Exact TMS phase diagram over "
                                            "feature density and importance", "command": command,
                            **body})
    if args.out:
        write_document(args.out, document)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.figure:
        from critpoints.plot import save_figure
        from critpoints.plot.phase_diagram import phase_diagram_figure

        save_figure(phase_diagram_figure(document), args.figure)
        print(f"wrote {args.figure}", file=sys.stderr)
    return 0
