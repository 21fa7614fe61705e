"""``critpoints family CATALOG [--id ID ...] [--all] [--out FILE]``: the dimension of the flat
family (continuum of critical points at the same loss) through catalogued points, measured from
sampled members; with ``--out`` the ``critpoints.families`` document linked to the catalog."""

from __future__ import annotations

import argparse
import shlex
import sys

from critpoints.cli import UsageError
from critpoints.cli.options import MAX_SEED, integer, missing_ids, output_file


def register(subparsers) -> None:
    from critpoints.cli.enumerate import DEFAULT_WORKERS

    parser = subparsers.add_parser(
        "family",
        help="dimension of the flat family through catalogued points",
        description="For each selected entry of a TMS catalog: the dimension of its critical "
        "set at the same loss beyond the zero modes the symmetry explains (orbit, strictly "
        "dead columns), measured by returning to the critical set from random perturbations "
        "(critpoints.solve.flat_family): the tangent-cone dimension at the point and the "
        "dimension (the largest tangent dimension at sampled members; a cusp's tangent cone is "
        "smaller). 0: isolated up to symmetry; 'untested': too few members returned. "
        "Default: every minimum with more zero Hessian eigenvalues than explained (an entry "
        "without them is isolated by its Hessian). With --out, writes the versioned "
        "critpoints.families document (catalog/families.schema.json), linked to the catalog by "
        "its SHA-256.",
    )
    parser.add_argument("catalog", metavar="CATALOG", help="TMS catalog JSON file")
    parser.add_argument("--id", action="append", default=None, metavar="ID", dest="ids",
                        help="an entry id (repeatable; default: every minimum with "
                        "unexplained zero modes)")
    parser.add_argument("--all", action="store_true",
                        help="every entry with unexplained zero modes, saddles included")
    parser.add_argument("--seed", type=integer(0, MAX_SEED), default=0, metavar="S",
                        help="seed of the random perturbations")
    parser.add_argument("--workers", type=integer(1, 64), default=DEFAULT_WORKERS, metavar="K",
                        help="processes, one entry each (the result does not depend on it)")
    parser.add_argument("--out", type=output_file, default=None, metavar="FILE",
                        help="write the critpoints.families document (e.g. "
                        "catalog/tms-nN-mM.families.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from critpoints.cli.options import tms_catalog
    from critpoints.store import file_sha256, write_document
    from critpoints.tms.families import families_document

    if args.ids is not None and args.all:
        raise UsageError("--id and --all exclude each other (--all selects by zero modes)")
    path, document = tms_catalog(args.catalog, None)
    entries = document["critical_points"]
    if args.ids is not None and (unknown := missing_ids(args.ids, entries)):
        raise UsageError(f"{args.catalog} has no entry {unknown[0]!r} "
                         f"({len(entries)} entries, ids such as {entries[0]['id']!r})")

    def progress(stage: str, done: int, total: int) -> None:
        if not args.quiet:
            print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)

    words = ["python", "-m", "critpoints", "family", str(args.catalog)]
    for ident in args.ids or []:
        words += ["--id", ident]
    if args.all:
        words.append("--all")
    words += ["--seed", str(args.seed)]
    if args.out is not None:
        words += ["--out", str(args.out)]
    result = families_document(document, Path(path).name, file_sha256(path), shlex.join(words),
                               selection="all" if args.all else "minima", ids=args.ids,
                               seed=args.seed, workers=args.workers, progress=progress)
    model = document["model"]
    families = result["families"]
    print(f"flat families of {args.catalog} (n = {model['n']}, m = {model['m']}): "
          f"{len(families)} of {len(entries)} entries ({result['selection']['rule']})")
    print("| id | L | verdict | zero modes observed / explained | tangent dimension at the "
          "point | family dimension | members kept at δ |")
    print("|---|---|---|---|---|---|---|")
    for record in families:
        zero = record["zero_modes"]
        print(f"| `{record['id']}` | {record['loss']:.9f} | {record['verdict']} | "
              f"{zero['observed']} / {zero['explained']} | "
              f"{_shown(record['tangent_dimension'])} | {_shown(record['dimension'])} | "
              f"{_kept(record['at_point'])} |")
    if args.out is not None:
        write_document(args.out, result, "critpoints.families")
        print(f"wrote {args.out}")
    return 0


def _kept(measurement: dict) -> str:
    return ", ".join(f"{kept}/{measurement['starts']} at {scale:g}"
                     for kept, scale in zip(measurement["members"], measurement["scales"]))


def _shown(value: int | None) -> str:
    return "untested" if value is None else str(value)
