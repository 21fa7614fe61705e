"""``critpoints enumerate --n N``: the k-gon critical points of the TMS potential, as a catalog."""

from __future__ import annotations

import argparse
import os
import sys
import time

from critpoints.cli import UsageError
from critpoints.cli.options import (
    MAX_DIGITS,
    MAX_ENUMERATE_FEATURES,
    MAX_FULL_LANGUAGE_FEATURES,
    MAX_SPARSE_FEATURES,
    check_output_file,
    importance_list,
    integer,
    output_file,
    real,
    seed,
)

#: Above this many parameters the progress output says what the volume checks cost.
SLOW_VOLUME_CHECK_DIMENSION = 64

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
        help=f"number of input features, 1 ≤ n ≤ {MAX_ENUMERATE_FEATURES} (above "
        f"{MAX_FULL_LANGUAGE_FEATURES} with --max-dead-vertices)",
    )
    parser.add_argument(
        "--max-dead-vertices", type=integer(0, 4), metavar="PHI",
        help="search only the patterns with at most PHI dead vertices (required above n = "
        f"{MAX_FULL_LANGUAGE_FEATURES}: the language has ≈ Σ_k (n−k+1)·2^k/(2k) patterns, "
        "2.9·10⁸ at n = 32); the catalog records how many patterns were left out")
    parser.add_argument(
        "--volume-check-max-dimension", type=integer(1, 10_000), metavar="D",
        help="confirm λ of non-smooth and degenerate minima by the volume-scaling check only "
        "at points of at most D parameters ((m+1)·n); above it their λ is left out, the reason "
        "recorded (the check costs ≈ dim³: 2–8 min per point at n = 32). Default: every "
        "point; certify re-classifies with the catalog's value")
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
        default=None,
        metavar="R",
        help="also search for critical points from R random starts (default 300; 0 = only "
        "the pattern language; with --sparsity default 0: each start costs n·3ⁿ per "
        "evaluation there), with a Chao1 estimate of what they did not reach at --sparsity",
    )
    parser.add_argument(
        "--sparsity", type=real(0.0, 1.0, hi_open=True), default=None, metavar="S",
        help="the k-gon patterns of the exact potential at sparsity S in [0, 1) (each feature "
        f"active with probability 1 − S; m = 2, n ≤ {MAX_SPARSE_FEATURES}; docs/sparsity.md); "
        "default: the high-sparsity (one-hot) limit. Writes catalog/tms-nN-m2-S<S>.json",
    )
    parser.add_argument(
        "--importance", type=importance_list, default=None, metavar="I1,...,In",
        help="feature importances (n positive numbers; with --sparsity; default all 1)",
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


def sparsity_options(args: argparse.Namespace) -> None:
    """Check --sparsity, --importance against the other options (a UsageError, exit 2, before
    any computation)."""
    if args.sparsity is None:
        if args.importance is not None:
            raise UsageError("--importance weighs the finite-sparsity potential: give --sparsity")
        return
    if args.hidden != 2:
        raise UsageError(f"--sparsity enumerates the k-gon patterns of hidden dimension 2; got "
                         f"--hidden {args.hidden}")
    if args.n > MAX_SPARSE_FEATURES:
        raise UsageError(f"--sparsity: n = {args.n}; the finite-sparsity potential costs n·3ⁿ "
                         f"and is evaluated for n ≤ {MAX_SPARSE_FEATURES}")
    if args.importance is not None and len(args.importance) != args.n:
        raise UsageError(f"--importance has {len(args.importance)} entries; need n = {args.n}")


def sparse_catalog_name(n: int, sparsity: float, importance) -> str:
    """``catalog/tms-nN-m2-S<S>.json`` (``-I<I1>,...`` appended for non-uniform importance)."""
    name = f"catalog/tms-n{n}-m2-S{sparsity:g}"
    if importance is not None and len(set(importance)) > 1:
        name += "-I" + ",".join(f"{v:g}" for v in importance)
    return name + ".json"


def run_sparse(args: argparse.Namespace) -> int:
    """``enumerate --sparsity S``: the k-gon patterns of the finite-sparsity potential."""
    from critpoints.kgon import catalog_document
    from critpoints.kgon.sparsity import enumerate_at_sparsity
    from critpoints.store import write_catalog
    from critpoints.tms import TMSSparsePotential

    out = check_output_file(args.out or sparse_catalog_name(args.n, args.sparsity,
                                                             args.importance))
    started = time.monotonic()
    model = TMSSparsePotential(args.n, 2, sparsity=args.sparsity, importance=args.importance)
    if not args.quiet:
        print(f"enumerating k-gon critical points for n = {args.n}, m = 2 at sparsity "
              f"S = {args.sparsity:g}", file=sys.stderr)
    random_starts = args.random_starts or 0
    enumeration = enumerate_at_sparsity(model, digits=args.digits,
                                        progress=progress_printer(args.quiet), seed=args.seed,
                                        workers=args.workers, random_starts=random_starts)
    entries = [entry.to_json() for entry in enumeration.entries]
    importance = (" --importance " + ",".join(f"{v:g}" for v in args.importance)
                  if args.importance is not None else "")
    starts = f" --random-starts {random_starts}" if random_starts else ""
    command = (f"python -m critpoints enumerate --n {args.n} --sparsity {args.sparsity:g}"
               f"{importance}{starts} --digits {args.digits} --seed {args.seed}")
    document = catalog_document(args.n, entries, enumeration.unrealised, command,
                                enumeration.random_search,
                                seed=args.seed, m=2, sparsity=args.sparsity,
                                importance=model.importance.tolist())
    write_catalog(out, document)
    print(format_table(document["critical_points"]))
    search = enumeration.random_search
    found = ("" if search is None else
             f"; {search['new_points']} of them from {search['starts']} random starts, which "
             f"hit {search['orbits_hit']} critical sets (Chao1 estimate of sets they did not "
             f"reach: {search['unseen_estimate']:g})")
    print(f"\n{len(entries)} critical points at S = {args.sparsity:g} "
          f"({len(enumeration.unrealised)} patterns without one{found}); written to {out}"
          f"\n\n{LEGEND}")
    if not args.quiet:
        print(f"done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from critpoints.kgon import catalog_document, enumerate_critical_points
    from critpoints.store import write_catalog

    sparsity_options(args)
    if args.sparsity is not None:
        if args.max_dead_vertices is not None:
            from critpoints.cli import UsageError

            raise UsageError("--max-dead-vertices applies to the one-hot enumeration (at "
                             f"finite sparsity n ≤ {MAX_SPARSE_FEATURES}: every pattern)")
        if args.volume_check_max_dimension is not None:
            from critpoints.cli import UsageError

            raise UsageError("--volume-check-max-dimension applies to the one-hot enumeration "
                             f"(at finite sparsity n ≤ {MAX_SPARSE_FEATURES}: every point "
                             "is checked)")
        return run_sparse(args)
    if args.random_starts is None:
        args.random_starts = 300
    m = args.hidden
    if args.n > MAX_FULL_LANGUAGE_FEATURES and args.max_dead_vertices is None:
        from critpoints.cli import UsageError
        from critpoints.kgon.patterns import pattern_count

        raise UsageError(
            f"n = {args.n} has {pattern_count(args.n)} patterns; "
            f"above n = {MAX_FULL_LANGUAGE_FEATURES} pass --max-dead-vertices PHI (PHI = 2: "
            f"{pattern_count(args.n, 2)} patterns)")
    out = check_output_file(args.out or f"catalog/tms-n{args.n}-m{m}.json")
    started = time.monotonic()
    if not args.quiet:
        print(f"enumerating {'k-gon' if m == 2 else 'pattern'} critical points for n = "
              f"{args.n}, m = {m}", file=sys.stderr)
        dimension = (m + 1) * args.n
        if dimension > SLOW_VOLUME_CHECK_DIMENSION and args.volume_check_max_dimension is None:
            print(f"  note: at {dimension} parameters the volume-scaling check that confirms λ "
                  "of a non-smooth minimum takes minutes per point (2–8 min at 96); "
                  "--volume-check-max-dimension D skips it above D parameters", file=sys.stderr)
    enumeration = enumerate_critical_points(
        args.n,
        digits=args.digits,
        progress=progress_printer(args.quiet),
        seed=args.seed,
        random_starts=args.random_starts,
        workers=args.workers,
        m=m,
        max_dead_vertices=args.max_dead_vertices,
        descent_closure=args.descent_closure,
        volume_check_max_dimension=args.volume_check_max_dimension,
    )
    entries = [entry.to_json() for entry in enumeration.entries]
    unrealised = enumeration.unrealised
    hidden = "" if m == 2 else f" --hidden {m}"
    budget = ("" if args.max_dead_vertices is None
              else f" --max-dead-vertices {args.max_dead_vertices}")
    if args.volume_check_max_dimension is not None:
        budget += f" --volume-check-max-dimension {args.volume_check_max_dimension}"
    closure = ""
    if args.descent_closure is not None and args.descent_closure != (m >= 3):
        closure = " --descent-closure" if args.descent_closure else " --no-descent-closure"
    command = (
        f"python -m critpoints enumerate --n {args.n}{hidden}{budget} --digits {args.digits} "
        f"--random-starts {args.random_starts} --seed {args.seed}{closure}"
    )
    document = catalog_document(args.n, entries, unrealised, command, enumeration.random_search,
                                seed=args.seed, m=m,
                                pattern_language=enumeration.pattern_language.to_json(),
                                descent_closure=enumeration.descent_closure,
                                volume_check_max_dimension=args.volume_check_max_dimension)
    write_catalog(out, document)
    print(format_table(document["critical_points"]))
    print(
        f"\n{len(entries)} critical points ({len(unrealised)} patterns without one); "
        f"written to {out}\n\n{LEGEND}"
    )
    if not args.quiet:
        print(f"done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0
