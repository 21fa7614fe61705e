"""``critpoints certify CATALOG``: re-check every claim a catalog makes about its points."""

from __future__ import annotations

import argparse
import sys
import time

from critpoints.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "certify",
        help="re-check everything a catalog claims: points, losses, classifications, proofs",
        description="Re-check every entry of a TMS catalog from its own exact numbers: the "
        "float copies against the exact values, loss and gradient at the stored precision, "
        "the classification, verdict, Hessian index and λ (by classifying the point again), "
        "the stored descent, the interval certificate and the exact algebraic form; and that "
        "ids are unique and the list is non-empty and sorted. Exit status 0 if everything "
        "re-checks, 1 if anything fails (one line per failure: entry, field, what), 2 if the "
        "file is unreadable or not a valid catalog.",
    )
    parser.add_argument("catalog", metavar="CATALOG", help="catalog JSON file")
    parser.add_argument("--verbose", action="store_true", help="one line per entry")
    parser.add_argument("--no-classify", action="store_true",
                        help="skip re-classifying the points (fast: checks numbers, proofs and "
                        "the internal consistency of the classification fields only)")
    parser.add_argument("--workers", type=int, default=1, metavar="K",
                        help="re-check entries in K processes (default 1; the result does not "
                        "depend on K)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from critpoints.cli.options import tms_catalog
    from critpoints.proofs.recheck import recheck_document

    # entries with a W or b of the wrong shape are reported one by one, not refused at load
    _, document = tms_catalog(args.catalog, None, check_parameters=False)
    if not 1 <= args.workers <= 64:
        raise UsageError(f"--workers must be between 1 and 64; got {args.workers}")
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"  certify: {done}/{total}", end="\n" if done == total else "\r",
                  file=sys.stderr, flush=True)

    failures = recheck_document(document, classify_points=not args.no_classify,
                                progress=progress, workers=args.workers)
    points = document["critical_points"]
    if args.verbose:
        failed = {f.entry for f in failures}
        for entry in points:
            cert = entry.get("certificate") or {}
            status = "FAIL" if entry["id"] in failed else "ok"
            print(f"{entry['id']:20s} {status:4s} {cert.get('method', '-')}: "
                  f"{cert.get('claim') or cert.get('reason', '')}"[:160])
    for failure in failures:
        print(f"FAIL {failure}")
    proved = sum(bool((entry.get("certificate") or {}).get("proved")) for entry in points)
    print(f"{len(points)} entries: {proved} with a proved certificate, {len(points) - proved} "
          f"with a recorded reason; {len(failures)} failure(s); "
          f"{time.perf_counter() - start:.1f} s")
    return 1 if failures else 0
