"""``critpoints sparsity-branches --n 6``: every catalogued one-hot critical point followed in
sparsity S from S = 1 − 10⁻³ toward S = 0 (docs/sparsity.md), as
``catalog/tms-nN-mM.sparsity.json``."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from critpoints.cli import UsageError
from critpoints.cli.enumerate import DEFAULT_WORKERS, progress_printer
from critpoints.cli.options import (
    MAX_DIGITS,
    MAX_SPARSE_FEATURES,
    check_output_file,
    id_list,
    integer,
    missing_ids,
    number_list,
    output_file,
    path,
    real,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sparsity-branches",
        help="follow every catalogued critical point in sparsity S (predictor–corrector)",
        description="Follow every critical point of the one-hot catalog catalog/tms-nN-mM.json "
        "from S = 0.999 toward S = 0 (steps in log10(1 − S) with step control), refine the "
        "branch points at the --certify sparsities to --dps digits, detect where a Hessian "
        "eigenvalue passes through zero or a bias/vertex value crosses an activation boundary "
        "and where a branch ends, and write catalog/tms-nN-mM.sparsity.json. Points with a "
        "positive bias on a nonzero column are critical points of the one-hot model only: they "
        "get no branch (the record says why).",
    )
    parser.add_argument("--n", type=integer(1, MAX_SPARSE_FEATURES), default=6,
                        help=f"number of features, n ≤ {MAX_SPARSE_FEATURES} (default 6)")
    parser.add_argument("--hidden", type=integer(1, 3), default=2, metavar="M",
                        help="hidden dimension m (default 2)")
    parser.add_argument("--catalog", type=path, default=None, metavar="FILE",
                        help="one-hot catalog to follow (default: the shipped "
                        "catalog/tms-nN-mM.json)")
    parser.add_argument("--ids", type=id_list(), default=None,
                        metavar="ID,...", help="follow only these entries (default: all)")
    parser.add_argument("--stop", type=real(0.0, 0.999, hi_open=True), default=0.0, metavar="S",
                        help="follow down to this sparsity (default 0)")
    parser.add_argument("--certify", type=number_list(real(0.0, 0.999, hi_open=True)),
                        default=[0.9, 0.5], metavar="S,...",
                        help="sparsities at which branch points are refined to --dps digits "
                        "(default 0.9,0.5)")
    parser.add_argument("--certify-ids", type=id_list(), default=None,
                        metavar="ID,...", help="refine only these branches at the --certify "
                        "sparsities (default: every branch)")
    parser.add_argument("--dps", type=integer(30, MAX_DIGITS), default=60,
                        help="precision of the refined points (default 60)")
    parser.add_argument("--workers", type=integer(1, 64), default=DEFAULT_WORKERS, metavar="K",
                        help=f"processes (default {DEFAULT_WORKERS}); the file does not depend "
                        "on K")
    parser.add_argument("--out", type=output_file, metavar="PATH",
                        help="file to write (default catalog/tms-nN-mM.sparsity.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from critpoints.kgon.branches import branches_document, follow_catalog
    from critpoints.store import builtin_path, load_catalog, write_document

    source = args.catalog or builtin_path(f"tms-n{args.n}-m{args.hidden}.json")
    document = load_catalog(source)
    model = document["model"]
    if model["kind"] != "tms-high-sparsity" or (model["n"], model["m"]) != (args.n, args.hidden):
        raise UsageError(f"{source}: a {model['kind']} catalog with n = {model['n']}, "
                         f"m = {model['m']}; need the one-hot catalog with n = {args.n}, "
                         f"m = {args.hidden}")
    entries = document["critical_points"]
    if args.ids is not None:
        if unknown := missing_ids(args.ids, entries):
            raise UsageError(f"{source}: no entry {', '.join(map(repr, unknown))}")
        entries = [e for e in entries if e["id"] in set(args.ids)]
    if args.certify_ids is not None and (unknown := missing_ids(args.certify_ids, entries)):
        raise UsageError(f"--certify-ids: {', '.join(map(repr, unknown))} not among the "
                         f"followed entries of {source}")
    certify = tuple(sorted(set(args.certify), reverse=True))
    if below := [s for s in certify if s < args.stop]:
        raise UsageError(f"--certify {','.join(f'{s:g}' for s in below)} lies below --stop "
                         f"{args.stop:g}, where the branches are not followed")
    out = check_output_file(args.out or f"catalog/tms-n{args.n}-m{args.hidden}.sparsity.json")
    started = time.monotonic()
    if not args.quiet:
        print(f"following {len(entries)} critical points of {source} in sparsity",
              file=sys.stderr)
    # quoted: ids such as 4++--{0,1} would be brace-expanded by a shell
    ids = "" if args.ids is None else " --ids " + shlex.quote(",".join(args.ids))
    command = (f"python -m critpoints sparsity-branches --n {args.n}"
               f"{'' if args.hidden == 2 else f' --hidden {args.hidden}'}{ids} "
               f"--stop {args.stop:g} --certify {','.join(f'{s:g}' for s in certify)} "
               f"--dps {args.dps}"
               + ("" if args.certify_ids is None
                  else f" --certify-ids {shlex.quote(','.join(args.certify_ids))}"))

    def document_of(branches: list[dict], done: bool) -> dict:
        return branches_document(
            branches, n=args.n, m=args.hidden,
            catalog_file=f"catalog/{source.name}" if args.catalog is None else str(source),
            catalog_command=document["generator"]["command"],
            entries=len(document["critical_points"]),
            command=command if done else f"{command}  (interrupted: {len(branches)} of "
            f"{len(entries)} branches)", stop_sparsity=args.stop, certify=certify,
            dps=args.dps, certify_ids=args.certify_ids)

    # the branches so far are written after each one (atomically): a long run that is stopped
    # leaves a valid file that says it is partial
    branches = follow_catalog(entries, args.n, args.hidden, stop_sparsity=args.stop,
                              certify=certify, dps=args.dps, workers=args.workers,
                              progress=progress_printer(args.quiet),
                              certify_ids=args.certify_ids,
                              on_record=lambda done: write_document(out, document_of(done,
                                                                                     False)))
    result = document_of(branches, True)
    write_document(out, result)
    print(format_branches(result))
    print(f"\nwritten to {out}")
    if not args.quiet:
        print(f"done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


def format_branches(document: dict) -> str:
    """One line per branch: id, one-hot loss, what happened, index at S = 0.999 / 0.9 / 0.5 /
    0, where it ended."""
    header = (f"{'id':16s} {'L one-hot':>9s} {'start':10s} {'index at S=.999/.9/.5/0':>24s} "
              f"{'end':16s} {'at S':>8s}")
    lines = [header, "-" * len(header)]
    for branch in document["branches"]:
        by_s = {p["sparsity"]: p for p in branch["points"]}
        indices = "/".join(str(by_s[s]["index"]) if s in by_s else "-"
                           for s in (0.999, 0.9, 0.5, 0.0))
        end = branch["end"]
        at = "" if end["sparsity"] is None else f"{end['sparsity']:.4g}"
        lines.append(f"{branch['id']:16s} {branch['one_hot_loss']:9.6f} "
                     f"{branch['start']['status']:10s} {indices:>24s} {end['kind']:16s} {at:>8s}")
    lines.append("")
    lines.append("global minimum:")
    for row in document["global_minimum"]:
        lines.append(f"  S = {row['sparsity']:<14.10g} {row['id']:10s} L = {row['loss']:.6f}"
                     f"  index {row['index']}")
    return "\n".join(lines)
