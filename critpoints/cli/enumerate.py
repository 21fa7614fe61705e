"""``critpoints enumerate --n N``: the k-gon critical points of the TMS potential, as a catalog."""

from __future__ import annotations

import argparse
import os
import sys
import time

from critpoints.cli.options import (
    MAX_DIGITS,
    MAX_ENUMERATE_FEATURES,
    check_output_file,
    integer,
    output_file,
    seed,
)

#: Classification runs in this many processes by default (the result does not depend on it).
DEFAULT_WORKERS = max(1, min(4, os.cpu_count() or 1))


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "enumerate",
        help="enumerate, verify and classify the k-gon critical points for n features",
        description="Enumerate every k^{σ,φ}-gon pattern for n features (hidden dimension M), "
        "verify each critical point at high precision, classify it, print a table sorted by "
        "loss and write the catalog (default catalog/tms-n{N}-m{M}.json). With --hidden 3 the "
        "k-gons are embedded in R^3 and the polytope patterns (Platonic solids by their reduced "
        "problem; prisms, antiprisms, bipyramids and pyramids as starts of the full-space "
        "search) are added.",
        epilog=LEGEND,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--n",
        type=integer(1, MAX_ENUMERATE_FEATURES, "n = 16 took 4 min; ≈ 1.6× more per feature"),
        required=True,
        help=f"number of input features, 1 ≤ n ≤ {MAX_ENUMERATE_FEATURES}",
    )
    parser.add_argument("--hidden", type=integer(1, 3, "m ≥ 4 through the census: "
                                                  "critpoints census --hidden M"), default=2,
                        metavar="M",
                        help="hidden dimension m: 2 (default) the k-gons; 3 the k-gons embedded "
                        "and the polytope patterns; 1 the collinear ones")
    parser.add_argument("--digits", type=integer(30, MAX_DIGITS), default=60,
                        help=f"verification precision, 30..{MAX_DIGITS} digits")
    parser.add_argument(
        "--random-starts",
        type=integer(0, 100_000),
        default=300,
        metavar="R",
        help="also search for critical points from R random starts (default 300; 0 = only "
        "the pattern language)",
    )
    parser.add_argument("--descent-closure", action=argparse.BooleanOptionalAction, default=None,
                        help="close the catalog under descent: steepest descent from every "
                        "saddle along ± each descent direction, new points verified and "
                        "classified, until no new point appears (default: on for --hidden 3, "
                        "off for 1 and 2)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the random starts and tests")
    parser.add_argument("--workers", type=integer(1, 64), default=DEFAULT_WORKERS, metavar="K",
                        help="processes that run the searches and classify the entries (default: "
                        f"this machine's cores, at most 4: {DEFAULT_WORKERS}); the catalog does "
                        "not depend on K")
    parser.add_argument("--out", type=output_file, metavar="PATH",
                        help="catalog file to write (default catalog/tms-nN-mM.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def progress_printer(quiet: bool):
    """The ``progress(stage, done, total)`` callback of the long commands: one updating line
    per stage on stderr with the elapsed time (None when ``quiet``)."""
    if quiet:
        return None
    state = {"stage": None, "last": 0.0, "start": time.monotonic()}

    def report(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != state["stage"] or done == total or now - state["last"] > 0.5:
            end = "\n" if done == total else "\r"
            print(f"  [{now - state['start']:7.1f} s] {stage}: {done}/{total}", end=end,
                  file=sys.stderr, flush=True)
            state["stage"], state["last"] = stage, now

    return report


LEGEND = """\
columns:
  id              pattern label k + '+'·σ + '-'·φ: k polygon vertices, σ zero columns with
                  positive bias, φ dead vertices; '#j' the j-th solution of one pattern;
                  '~j' the j-th irregular point of that shape found by the full-space search
  classification  what the point is: minimum / saddle (smooth, decided by the Hessian),
                  degenerate (smooth, unexplained zero modes) or non-smooth (on an activation
                  boundary, the Hessian is one-sided)
  verdict         minimum / saddle / undecided from the evidence: the Hessian for smooth points;
                  for the others a descent re-checked at 60 digits makes a saddle
  index           negative Hessian eigenvalues of a smooth point; '-' where the Hessian is
                  one-sided or degenerate (no index is defined)
  zero modes      zero eigenvalues explained by symmetry and flat dead columns / observed
  λ               learning coefficient of a minimum (rank/2); '-' for saddles and where it is
                  not determined (the entry's evidence says why)"""


def format_table(points: list[dict]) -> str:
    header = f"{'id':16s} {'loss':>10s}  {'classification':14s} {'verdict':9s} {'index':>5s} " \
             f"{'zero modes':>10s} {'λ':>5s}"
    lines = [header, "-" * len(header)]
    for p in points:
        zero = f"{p['hessian']['n_zero_symmetry']}/{p['hessian']['n_zero']}"
        index = "-" if p["hessian_index"] is None else str(p["hessian_index"])
        lam = "-" if p["learning_coefficient"] is None else f"{p['learning_coefficient']:g}"
        lines.append(
            f"{p['id']:16s} {p['loss']:10.6f}  {p['classification']:14s} {p['verdict']:9s} "
            f"{index:>5s} {zero:>10s} {lam:>5s}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from critpoints.kgon import catalog_document, enumerate_critical_points
    from critpoints.store import write_catalog

    m = args.hidden
    out = check_output_file(args.out or f"catalog/tms-n{args.n}-m{m}.json")
    started = time.monotonic()
    if not args.quiet:
        print(f"enumerating {'k-gon' if m == 2 else 'pattern'} critical points for n = "
              f"{args.n}, m = {m}", file=sys.stderr)
    enumeration = enumerate_critical_points(
        args.n,
        digits=args.digits,
        progress=progress_printer(args.quiet),
        seed=args.seed,
        random_starts=args.random_starts,
        workers=args.workers,
        m=m,
        descent_closure=args.descent_closure,
    )
    entries = [entry.to_json() for entry in enumeration.entries]
    unrealised = enumeration.unrealised
    hidden = "" if m == 2 else f" --hidden {m}"
    closure = ""
    if args.descent_closure is not None and args.descent_closure != (m >= 3):
        closure = " --descent-closure" if args.descent_closure else " --no-descent-closure"
    command = (
        f"python -m critpoints enumerate --n {args.n}{hidden} --digits {args.digits} "
        f"--random-starts {args.random_starts} --seed {args.seed}{closure}"
    )
    document = catalog_document(args.n, entries, unrealised, command, enumeration.random_search,
                                seed=args.seed, m=m, descent_closure=enumeration.descent_closure)
    write_catalog(out, document)
    print(format_table(document["critical_points"]))
    print(
        f"\n{len(entries)} critical points ({len(unrealised)} patterns without one); "
        f"written to {out}\n\n{LEGEND}"
    )
    if not args.quiet:
        print(f"done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0
