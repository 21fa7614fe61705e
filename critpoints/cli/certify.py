"""``critpoints certify CATALOG``: re-check every certificate and exact form in a catalog file."""

from __future__ import annotations

import argparse
import time

from critpoints.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "certify",
        help="re-check the certificates and exact forms of a catalog",
        description="Recompute every entry's interval certificate / exact-gradient proof and "
        "exact algebraic form from the entry's own data and compare with what is stored. "
        "Exit status 0 if all pass, 1 if any fails, 2 if the file is unreadable or invalid.",
    )
    parser.add_argument("catalog", metavar="CATALOG", help="catalog JSON file")
    parser.add_argument("--verbose", action="store_true", help="one line per entry")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from critpoints.catalog import CatalogError, load_catalog
    from critpoints.proofs import check_entry

    try:
        document = load_catalog(args.catalog)
    except CatalogError as exc:
        raise UsageError(str(exc)) from None
    n = document["model"]["n"]
    start = time.perf_counter()
    failures: list[str] = []
    proved = unproved = 0
    for entry in document["critical_points"]:
        problems = check_entry(entry, n)
        failures.extend(problems)
        cert = entry.get("certificate") or {}
        proved += bool(cert.get("proved"))
        unproved += not cert.get("proved")
        if args.verbose:
            status = "FAIL" if problems else "ok"
            print(f"{entry['id']:20s} {status:4s} {cert.get('method', '-')}: "
                  f"{cert.get('claim') or cert.get('reason', '')}"[:160])
    for line in failures:
        print(f"FAIL {line}")
    elapsed = time.perf_counter() - start
    total = len(document["critical_points"])
    print(f"{total} entries: {proved} with a proved certificate, {unproved} with a recorded "
          f"reason; {len(failures)} failure(s); {elapsed:.1f} s")
    return 1 if failures else 0
