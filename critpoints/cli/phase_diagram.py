"""``critpoints phase-diagram --n 2 --hidden 1``: which configuration wins over (1 − S, r);
``--n 6 --hidden 2``: which critical point is the lowest minimum along S (the phase line)."""

from __future__ import annotations

import argparse
import shlex
import sys

from critpoints.cli import UsageError
from critpoints.cli.options import figure_file, integer, output_file, path, real, seed

#: The plane's options and their defaults (not used along S).
_PLANE_DEFAULTS = {"density_min": 0.01, "ratio_range": (0.1, 10.0), "grid": 13,
                   "boundary_points": 25, "boundary_rtol": 1e-8}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "phase-diagram",
        help="exact phase diagram of the TMS over feature density and importance",
        description="For every configuration type of the (n, m) model (Elhage et al. 2022, "
        "n = 2, m = 1 and n = 3, m = 2), its optimum of the exact finite-sparsity potential "
        "over a grid of feature density 1 − S and importance r of the last feature; the winner "
        "per cell and the boundaries L*_A = L*_B by root finding in r. For other (n, m) with a "
        "branches file (sparsity-branches), the phase line along S at uniform importance: the "
        "lowest minimum among the followed branches and the minima a multi-start finds below "
        "them (followed in S too), its changes located by root finding or bisection, and an "
        "independent multi-start check.",
    )
    parser.add_argument("--n", type=integer(2, 10), required=True,
                        help="features (2 or 3 for the plane; ≤ 10 along S)")
    parser.add_argument("--hidden", type=integer(1, 3), required=True,
                        help="hidden dimensions m (1 with n = 2, 2 with n = 3; any along S)")
    parser.add_argument("--density-min", type=real(1e-4, 1.0),
                        help="smallest feature density 1 − S (plane; default 0.01)")
    parser.add_argument("--ratio-range", type=real(1e-3, 1e3), nargs=2,
                        metavar=("LO", "HI"),
                        help="range of the last feature's importance r (plane; default 0.1 10)")
    parser.add_argument("--grid", type=integer(3, 101),
                        help="grid points per axis, log-spaced (plane; default 13)")
    parser.add_argument("--boundary-points", type=integer(0, 1000),
                        help="densities of the fine grid of the boundary curves (plane; "
                        "default 25)")
    parser.add_argument("--boundary-rtol", type=real(1e-12, 0.1),
                        help="relative accuracy in r of boundary points where a type ends "
                        "(plane; bisection; equal-loss points are roots to 1e-13; "
                        "default 1e-08)")
    parser.add_argument("--branches", type=path, metavar="FILE",
                        help="sparsity-branches document (along S; default the shipped "
                        "catalog/tms-nN-mM.sparsity.json)")
    parser.add_argument("--no-limits", action="store_true",
                        help="along S: do not start branches from the constrained minima of "
                        "the shipped limits S → 1 file (catalog/tms-nN-mM.limits.json)")
    parser.add_argument("--no-discovery", action="store_true",
                        help="along S: no multi-start at the grid sparsities (the line of the "
                        "followed branches only)")
    parser.add_argument("--workers", type=integer(1, 64), default=2,
                        help="processes for the multi-starts along S (the output does not "
                        "depend on it)")
    parser.add_argument("--checks", type=integer(0, 10000), default=6,
                        help="grid points (plane) or sparsities between the grid points "
                        "(along S) checked by multi-start over the full (W, b)")
    parser.add_argument("--starts", type=integer(1, 1000), default=8,
                        help="random starts per checked point (and per discovery sparsity)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the multi-start")
    parser.add_argument("--certify-dps", type=integer(0, 200), default=None,
                        help="along S: digits to which the branches are refined at the two "
                        "float sparsities bracketing each boundary (default 60; 0: none)")
    parser.add_argument("--out", type=output_file, metavar="PATH", help="write JSON")
    parser.add_argument("--figure", type=figure_file, metavar="PATH",
                        help="write the figure (.png, .svg or .pdf)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from critpoints.documents import PHASE_DIAGRAM, new_document
    from critpoints.store import write_document
    from critpoints.tms.phase_diagram import SUPPORTED, phase_diagram

    if (args.n, args.hidden) not in SUPPORTED:
        given = [f"--{k.replace('_', '-')}" for k in _PLANE_DEFAULTS
                 if getattr(args, k) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: only for the planes "
                             + ", ".join(f"--n {a} --hidden {b}" for a, b in SUPPORTED)
                             + "; along S the grid is the branches file's")
        return _run_line(args)
    if (args.branches is not None or args.no_discovery or args.no_limits
            or args.certify_dps is not None):
        raise UsageError("--branches, --no-discovery, --no-limits and --certify-dps are for "
                         "the phase line "
                         f"along S, not for --n {args.n} --hidden {args.hidden}")
    for key, value in _PLANE_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
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
          f"max ‖∇L‖ = {verification['max_gradient_norm']:.2e} "
          f"({verification['not_critical']} above {verification['gradient_tolerance']:g}, "
          f"{verification['not_critical_in_type']} of them in their type), "
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


def _certificate_text(certificate: dict | None) -> str:
    if certificate is None:
        return ""
    verdict = "certified" if certificate["certified"] else "NOT certified"
    return (f"; {verdict} in [{certificate['lower']!r}, {certificate['upper']!r}] at "
            f"{certificate['dps']} digits")


def _run_line(args: argparse.Namespace) -> int:
    """The phase line along S from a sparsity-branches document."""
    import json
    from itertools import pairwise

    import numpy as np

    from critpoints.documents import (
        LIMITS,
        PHASE_LINE,
        SPARSITY_BRANCHES,
        DocumentError,
        new_document,
    )
    from critpoints.kgon.branches import parameter_of, sparsity_of
    from critpoints.kgon.sparsity_line import phase_line
    from critpoints.store import builtin_path, load_document, write_document

    name = f"tms-n{args.n}-m{args.hidden}.sparsity.json"
    try:
        source = args.branches if args.branches is not None else builtin_path(name)
    except DocumentError:
        raise UsageError(f"--n {args.n} --hidden {args.hidden} is not supported: no shipped "
                         f"{name} for the phase line along S; run "
                         "`python -m critpoints sparsity-branches` first and pass --branches, "
                         "or use the planes --n 2 --hidden 1, --n 3 --hidden 2") from None
    try:
        branches = load_document(source, SPARSITY_BRANCHES)
    except DocumentError as exc:
        raise UsageError(str(exc)) from None
    model = branches["model"]
    if (model["n"], model["m"]) != (args.n, args.hidden):
        raise UsageError(f"{source}: the branches are of n = {model['n']}, m = {model['m']}, "
                         f"not --n {args.n} --hidden {args.hidden}")
    problem = _branches_problem(branches)
    if problem:
        raise UsageError(f"{source}: {problem}")
    catalog_ids: list[str] = []
    catalog_file = branches["catalog"]["file"]
    try:
        catalog = json.loads(builtin_path(catalog_file.rsplit("/", 1)[-1]).read_text())
        if catalog["generator"]["command"] == branches["catalog"]["command"]:
            catalog_ids = [e["id"] for e in catalog["critical_points"]]
    except (DocumentError, OSError, ValueError, KeyError):
        pass
    grid = [float(S) for S in branches["settings"]["grid"]]
    discovery = [] if args.no_discovery else grid
    ps = [parameter_of(S) for S in grid]
    middles = [sparsity_of(0.5 * (a + b)) for a, b in pairwise(ps)]
    chosen = (np.linspace(0, len(middles) - 1, min(args.checks, len(middles))).round()
              .astype(int) if args.checks else [])
    validation = [round(middles[k], 12) for k in sorted({int(k) for k in chosen})]
    certify_dps = 60 if args.certify_dps is None else args.certify_dps or None
    starts_from_limits = []
    uniform = model.get("importance") is None or len(set(model["importance"])) == 1
    if not args.no_limits and uniform:
        from critpoints.kgon.branches import START_SPARSITY
        from critpoints.kgon.sparsity_line import limit_starts_of

        try:
            limits = load_document(builtin_path(f"tms-n{args.n}-m{args.hidden}.limits.json"),
                                   LIMITS)
            starts_from_limits = limit_starts_of(limits, START_SPARSITY)
        except DocumentError:  # no shipped limits file for this (n, m)
            pass
    result = phase_line(branches, catalog_ids, discovery_sparsities=discovery,
                        validation_sparsities=validation, starts=args.starts, seed=args.seed,
                        workers=args.workers, certify_dps=certify_dps,
                        limit_starts=starts_from_limits,
                        progress=lambda s: print(s, file=sys.stderr))
    body = result.to_json()
    for interval in body["intervals"]:
        print(f"S in ({interval['to']:.10f}, {interval['from']:.10f}]: "
              f"{interval['id'] if interval['id'] is not None else 'no followed minimum'}")
    for boundary in body["boundaries"]:
        print(f"boundary {boundary['sparse']} | {boundary['dense']} at S = "
              f"{boundary['sparsity']:.10f} ({boundary['kind']}), loss gap "
              + ("–" if boundary["loss_gap"] is None else f"{boundary['loss_gap']:.2e}")
              + f", {len(boundary['lower_elsewhere'])} of "
              f"{boundary['checked_branches']} other branches lower"
              + _certificate_text(boundary["certificate"]))
    completeness = body["completeness"]
    print(f"{len(body['discovered'])} minima found by multi-start below the followed branches "
          f"(followed in S); check: {completeness['multistart_violations']} of "
          f"{completeness['multistart_points']} sparsities with a lower minimum")
    command = (f"python -m critpoints phase-diagram --n {args.n} --hidden {args.hidden}"
               + (f" --branches {shlex.quote(str(args.branches))}" if args.branches is not None
                  else "")
               + (" --no-discovery" if args.no_discovery else "")
               + (" --no-limits" if args.no_limits else "")
               + f" --checks {args.checks} --starts {args.starts} --seed {args.seed}"
               + ("" if args.certify_dps is None else f" --certify-dps {args.certify_dps}")
               # the outputs too: the stored command writes what it describes
               + (f" --out {shlex.quote(str(args.out))}" if args.out else "")
               + (f" --figure {shlex.quote(str(args.figure))}" if args.figure else ""))
    document = new_document(PHASE_LINE, {
        "description": "Lowest minimum of the exact TMS potential along sparsity S",
        "command": command,
        "branches": {"file": str(source) if args.branches is not None
                     else f"catalog/{name}",
                     "command": branches["generator"]["command"]},
        **body})
    if args.out:
        write_document(args.out, document)
        print(f"wrote {args.out}", file=sys.stderr)
    if args.figure:
        from critpoints.plot import save_figure
        from critpoints.plot.sparsity import phase_line_figure

        save_figure(phase_line_figure(document, branches), args.figure)
        print(f"wrote {args.figure}", file=sys.stderr)
    return 0


def _branches_problem(branches: dict) -> str | None:
    """What in a (schema-valid) branches document the schema cannot rule out and the phase
    line cannot use, or None: sparsities outside [0, 1], points θ of the wrong length or with
    entries beyond 1e6, importances that are not n numbers in their range."""
    from critpoints.catalog import MAX_PARAMETER
    from critpoints.cli.options import IMPORTANCE_RANGE

    n, m = branches["model"]["n"], branches["model"]["m"]
    importance = branches["model"].get("importance")
    lo, hi = IMPORTANCE_RANGE
    if importance is not None and (len(importance) != n
                                   or not all(lo <= v <= hi for v in importance)):
        return f"model.importance is not {n} numbers in [{lo:g}, {hi:g}]"
    if not all(0.0 <= S < 1.0 for S in branches["settings"]["grid"]):
        return "settings.grid has a sparsity outside [0, 1)"
    for b, branch in enumerate(branches["branches"]):
        for p, point in enumerate(branch["points"]):
            where = f"branches/{b}/points/{p}"
            if not 0.0 <= point["sparsity"] <= 1.0:
                return f"{where}: sparsity {point['sparsity']!r} outside [0, 1]"
            theta = point.get("theta")
            if theta is not None and (len(theta) != (m + 1) * n
                                      or not all(abs(v) <= MAX_PARAMETER for v in theta)):
                return (f"{where}: theta is not (m + 1)·n = {(m + 1) * n} numbers of magnitude "
                        f"at most {MAX_PARAMETER:g}")
    return None

