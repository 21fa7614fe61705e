"""``critpoints limits --n N [--hidden M]``: the limits S → 1 of critical points of the
finite-sparsity potential, as KKT points of the one-hot potential on b ≤ 0."""

from __future__ import annotations

import argparse
import shlex
import sys

from critpoints.cli import UsageError
from critpoints.cli.options import MAX_DIGITS, integer, output_file, seed

#: n of ``limits``: its searches run on every face size (n + 1 of them) and refine every limit
#: found (126 at n = 6, ~0.2 s each); 10 keeps a run within minutes.
MAX_LIMIT_FEATURES = 10


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "limits",
        help="limits S → 1 of finite-sparsity critical points (KKT points on b ≤ 0)",
        description="Every limit S → 1 of critical points of the exact finite-sparsity "
        "potential L_S is a KKT point of the one-hot potential L̃ on the orthant b ≤ 0: "
        "critical in every coordinate but the biases pinned at 0 (the face), where the "
        "derivative from b > 0 is ≤ 0 (docs/sparsity.md). Searches (Levenberg–Marquardt on "
        "each face, from random starts, from the catalogued points with positive biases set "
        "to 0, and from bounded descents), refinement to --digits on the face and "
        "classification on b ≤ 0. Writes catalog/tms-nN-mM.limits.json (versioned, "
        "catalog/limits.schema.json).",
    )
    parser.add_argument("--n", type=integer(1, MAX_LIMIT_FEATURES), required=True,
                        help=f"features (≤ {MAX_LIMIT_FEATURES})")
    parser.add_argument("--hidden", type=integer(1, 3), default=2, metavar="M",
                        help="hidden dimensions m")
    parser.add_argument("--random-starts", type=integer(1, 100_000), default=200, metavar="K",
                        help="random starts per face size, and bounded descents from random "
                        "starts")
    parser.add_argument("--catalog", type=str, default=None, metavar="FILE",
                        help="catalog whose points (positive biases set to 0) start searches "
                        "and name the limits that are its critical points (default: the "
                        "shipped catalog/tms-nN-mM.json when there is one; 'none' for no "
                        "catalog)")
    parser.add_argument("--digits", type=integer(30, MAX_DIGITS), default=60,
                        help="precision of the refinement")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the random starts")
    parser.add_argument("--workers", type=integer(1, 64), default=1, metavar="K",
                        help="processes for the searches (the result does not depend on it)")
    parser.add_argument("--out", type=output_file, default=None, metavar="FILE",
                        help="output JSON (default catalog/tms-nN-mM.limits.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from critpoints.catalog import CatalogError
    from critpoints.cli.options import output_problem, tms_catalog
    from critpoints.store import builtin_path, write_document
    from critpoints.tms.limits import limits_document, search_limits

    n, m = args.n, args.hidden
    out = args.out or Path(f"catalog/tms-n{n}-m{m}.limits.json")
    problem = output_problem(Path(out))
    if problem:
        raise UsageError(f"cannot write {out}: {problem} (give --out FILE)")
    catalog_path = args.catalog
    if catalog_path is None:  # the shipped catalog of (n, m), from any working directory
        try:
            catalog_path = str(builtin_path(f"tms-n{n}-m{m}.json"))
        except CatalogError:
            catalog_path = "none"
    entries = []
    if catalog_path != "none":
        entries = tms_catalog(catalog_path, n, m)[1]["critical_points"]

    def progress(stage: str, done: int, total: int) -> None:
        if not args.quiet and (done == total or done % 25 == 0):
            print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)

    search = search_limits(n, m, random_starts=args.random_starts, seed=args.seed,
                           catalog_points=[(e["id"], e["W"], e["b"]) for e in entries],
                           workers=args.workers, progress=progress)
    words = ["python", "-m", "critpoints", "limits", "--n", str(n), "--hidden", str(m),
             "--random-starts", str(args.random_starts), "--digits", str(args.digits),
             "--seed", str(args.seed)]
    if args.catalog is not None:
        words += ["--catalog", args.catalog]
    document = limits_document(search, n, m, args.digits, args.seed, shlex.join(words),
                               entries, progress)
    write_document(out, document, "critpoints.limits")
    summary = document["summary"]
    print(f"{summary['limits']} limits S → 1 (KKT points of the one-hot potential on b ≤ 0) "
          f"with L̃ ≤ 1/3 for n = {n}, m = {m}: {summary['minimum']} minima, "
          f"{summary['saddle']} saddles, {summary['undecided']} undecided, "
          f"{summary['unrefined']} unrefined; Chao1 estimate of limits not reached by the "
          f"random starts: {document['search']['chao1_unseen']}")
    print("| id | face | L̃ | multipliers | verdict | catalog ids |")
    print("|---|---|---|---|---|---|")
    for point in document["limits"]:
        if point["verdict"] == "minimum" or point["loss"] < 0.1:
            multipliers = ", ".join(f"{v:.6g}" for v in point["multipliers"]) or "–"
            print(f"| {point['id']} | {point['face']} | {point['loss']:.10f} | {multipliers} "
                  f"| {point['verdict']} | {', '.join(point['catalog_ids']) or '–'} |")
    print(f"wrote {out}")
    return 0
