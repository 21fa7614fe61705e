"""``critpoints census --n N``: the census of the landscape — every critical orbit below the
all-dead level, found by several strategies, with an estimate of what is still missing — written
as the catalog (entries plus the ``census`` record)."""

from __future__ import annotations

import argparse
import sys
import time

from critpoints.cli.enumerate import DEFAULT_WORKERS, format_table, progress_printer
from critpoints.cli.options import (
    MAX_DIGITS,
    check_output_file,
    check_scheduler,
    integer,
    output_file,
    seed,
    tms_catalog,
)

#: The census covers n ≤ this (the pattern language and moves grow fast; n = 8 takes minutes).
MAX_CENSUS_FEATURES = 12
#: Hidden dimensions the census takes (the search is in (m + 1)·n coordinates).
MAX_CENSUS_HIDDEN = 6


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "census",
        help="census of the landscape: every critical orbit with L ≤ 1/3 and a completeness "
        "estimate",
        description="Find every critical orbit of the TMS potential (hidden dimension M, default "
        "2) with L ≤ 1/3: the k-gon pattern language (embedded in R^M for M > 2), random starts "
        "in three parameterisations, and moves from "
        "every orbit found (Hessian-eigendirection kicks, gentlest ascent from minima, steepest "
        "descent from saddles), in rounds until the Chao1 estimate of the orbits the random "
        "starts have not reached is below 1 or the budget is spent. Writes the catalog "
        "(default catalog/tms-nN-mM.json) with a 'census' record of the statistics, and for "
        "M = 2 the landscape graph beside it (tms-nN-m2.landscape.json and .graphml).",
    )
    parser.add_argument("--n", type=integer(1, MAX_CENSUS_FEATURES, "n = 8 takes minutes"),
                        required=True, help=f"number of features, 1 ≤ n ≤ {MAX_CENSUS_FEATURES}")
    parser.add_argument("--hidden", type=integer(1, MAX_CENSUS_HIDDEN), default=2, metavar="M",
                        help=f"hidden dimension m, 1 ≤ M ≤ {MAX_CENSUS_HIDDEN} (default 2)")
    parser.add_argument("--budget", type=integer(3, 10_000_000), default=60_000, metavar="R",
                        help="random starts at most, all rounds together")
    parser.add_argument("--round-starts", type=integer(3, 1_000_000), default=6_000,
                        metavar="R", help="random starts per round")
    parser.add_argument("--digits", type=integer(30, MAX_DIGITS), default=60,
                        help=f"verification precision, 30..{MAX_DIGITS} digits")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the starts and tests")
    parser.add_argument("--workers", type=integer(1, 64), default=DEFAULT_WORKERS, metavar="K",
                        help="processes for the searches and the classification (default: "
                        f"this machine's cores, at most 4: {DEFAULT_WORKERS}); the catalog does "
                        "not depend on K")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler address: run the searches there (optional)")
    parser.add_argument("--compare", metavar="CATALOG", default=None,
                        help="also list the orbits with L ≤ 1/3 that this catalog and the census "
                        "disagree on (an independent check of a committed catalog)")
    parser.add_argument("--out", type=output_file, metavar="PATH",
                        help="catalog file to write (default catalog/tms-nN-mM.json)")
    parser.add_argument("--no-landscape", action="store_true",
                        help="do not write the landscape graph beside the catalog (by default "
                        "the census ends with 'critpoints landscape' on the catalog it wrote; "
                        "only for M = 2)")
    parser.add_argument("--descent-closure", action="store_true",
                        help="close the catalog under descent after the census (as enumerate "
                        "--hidden 3 does): steepest descent from every catalogued saddle along "
                        "± each descent direction, including the stored descents of non-smooth "
                        "saddles that the census's moves do not follow, until no new point "
                        "appears")
    parser.add_argument("--closure-descents", type=integer(1, 10_000_000), default=None,
                        metavar="D", help="descents the closure may follow, all rounds together "
                        "(default 20000; with --descent-closure)")
    parser.add_argument("--no-moves", action="store_true",
                        help="random starts only, no moves from the orbits found: a sample of "
                        "the random starts' basins, cheaper (at n = 7, 8 in m = 3 the moves do "
                        "not finish in an hour); with --compare an independent check of a "
                        "catalog's low-lying points")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from critpoints.census import CensusBudget, compare_catalogs, run_census
    from critpoints.cli import UsageError
    from critpoints.cli.landscape import landscape_output, write_landscape_of
    from critpoints.kgon import catalog_document
    from critpoints.kgon.enumerate import ClosureBudget
    from critpoints.landscape_store import default_landscape_path
    from critpoints.store import write_catalog

    if args.round_starts > args.budget:
        raise UsageError(f"--round-starts ({args.round_starts}) exceeds --budget "
                         f"({args.budget})")
    if args.closure_descents is not None and not args.descent_closure:
        raise UsageError("--closure-descents budgets the descent closure: give "
                         "--descent-closure")
    check_scheduler(args.scheduler)
    m = args.hidden
    out = check_output_file(args.out or f"catalog/tms-n{args.n}-m{m}.json")
    if not args.no_landscape and m != 2:
        raise UsageError(f"the landscape graph is built for m = 2 only; add --no-landscape for "
                         f"--hidden {m}")
    landscape_out = None if args.no_landscape else landscape_output(
        default_landscape_path(str(out), args.n))
    compared = tms_catalog(args.compare, args.n, m) if args.compare is not None else None
    started = time.monotonic()
    if not args.quiet:
        print(f"census of the critical points for n = {args.n}, m = {m}", file=sys.stderr)
    census = run_census(
        args.n,
        m,
        budget=CensusBudget(args.budget, args.round_starts, moves=not args.no_moves),
        digits=args.digits,
        seed=args.seed,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=progress_printer(args.quiet),
        descent_closure=args.descent_closure,
        closure_budget=(ClosureBudget() if args.closure_descents is None
                        else ClosureBudget(descents=args.closure_descents)),
    )
    enumeration = census.enumeration
    entries = [entry.to_json() for entry in enumeration.entries]
    hidden = "" if m == 2 else f" --hidden {m} --no-landscape"
    command = (f"python -m critpoints census --n {args.n}{hidden} --budget {args.budget} "
               f"--round-starts {args.round_starts} --digits {args.digits} --seed {args.seed}"
               + (" --descent-closure" if args.descent_closure else "")
               + (f" --closure-descents {args.closure_descents}"
                  if args.closure_descents is not None else "")
               + (" --no-moves" if args.no_moves else ""))
    document = catalog_document(args.n, entries, enumeration.unrealised, command, seed=args.seed,
                                m=m, descent_closure=enumeration.descent_closure)
    document["census"] = census.record
    write_catalog(out, document)
    print(format_table(document["critical_points"]))
    print(f"\n{format_census(census.record)}\nwritten to {out}")
    if compared is not None:
        print(format_comparison(compare_catalogs(document, compared[1]), out, compared[0]))
    if landscape_out is not None:
        print()
        write_landscape_of(document, out, args.n, args.seed, landscape_out, args.quiet,
                           args.workers)
    if not args.quiet:
        print(f"done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


def format_census(record: dict) -> str:
    """The census statistics as a table: orbits per strategy, and the completeness estimate."""
    lines = [f"{'strategy':10s} {'starts':>8s} {'converged':>9s} {'orbits hit':>10s} "
             f"{'found first':>11s}"]
    for name, row in record["strategies"].items():
        starts = "-" if row["starts"] is None else str(row["starts"])
        converged = "-" if row["converged"] is None else str(row["converged"])
        lines.append(f"{name:10s} {starts:>8s} {converged:>9s} {row['orbits_hit']:>10d} "
                     f"{row['orbits_first_found']:>11d}")
    sample = record["random_sample"]
    lines.append(
        f"\n{record['orbits']} orbits with L ≤ 1/3 ({record['orbits_catalogued']} catalogued, "
        f"{len(record['unrefined'])} unrefined) in {record['rounds']} rounds.\n"
        f"random starts: {sample['starts']}, orbits hit {sample['orbits_hit']} "
        f"(singletons {sample['singletons']}, doubletons {sample['doubletons']}); "
        f"new in the last 20 %: {sample['new_in_last_20_percent']}; "
        f"Chao1 estimate of unseen orbits: {sample['unseen_estimate']:g}; "
        f"orbits no random start hit: {sample['orbits_never_hit']}.\n"
        f"stopped: {record['stop_reason']}."
    )
    return "\n".join(lines)


def format_comparison(comparison, first, second) -> str:
    """The orbits each of two catalogs lacks, one line each."""
    lines = [f"\ncompared with {second}: {comparison.common} orbits in both; "
             f"{len(comparison.only_in_first)} only in {first}, "
             f"{len(comparison.only_in_second)} only in {second}"]
    for where, rows in ((first, comparison.only_in_first), (second, comparison.only_in_second)):
        for row in rows:
            lines.append(f"  only in {where}: {row['id']:16s} L = {row['loss']:.9f} "
                         f"{row['classification']} ({row['verdict']})")
    return "\n".join(lines)
