"""``critpoints kgon-existence``: regular n-gon (k = n) critical points, counted with proofs."""

from __future__ import annotations

import argparse

from critpoints.cli import UsageError
from critpoints.cli.options import MAX_DIGITS, integer, output_file

#: Largest n: one row took 3.9 s at n = 64 and 50 s at n = 128 (×13 per doubling, measured on
#: a shared 2-core machine), so 5..128 ends in about half an hour and 256 would not in hours.
MAX_N = 128
MAX_N_REASON = "a row takes 50 s at n = 128, ≈ 13× more per doubling"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "kgon-existence",
        help="certified count and classification of the k = n regular polygon critical points",
        description="For every n in [--min-n, --max-n]: the regular n-gon critical points with "
        "live outputs in every activation interval, certified (exact forms at the ends, Arb root "
        "isolation inside, Krawczyk boxes, Hessian inertia), with the roots a single-region "
        "polynomial system would give outside its region.",
    )
    parser.add_argument("--min-n", type=integer(4, MAX_N, MAX_N_REASON), default=5,
                        help="smallest n (≥ 4; default 5)")
    parser.add_argument("--max-n", type=integer(4, MAX_N, MAX_N_REASON), default=64,
                        help=f"largest n (≤ {MAX_N}; default 64)")
    parser.add_argument("--digits", type=integer(30, MAX_DIGITS), default=60,
                        help=f"precision of the points, 30..{MAX_DIGITS} digits")
    parser.add_argument("--out", type=output_file, metavar="PATH", help="write the table as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from critpoints.documents import KGON_EXISTENCE, new_document
    from critpoints.kgon.existence import existence_row, paper_style_roots
    from critpoints.store import write_document

    if args.max_n < args.min_n:
        raise UsageError(f"need --min-n ≤ --max-n; got {args.min_n} > {args.max_n}")
    rows = []
    print(f"{'n':>3s} {'sol':>3s}  {'l':>12s} {'b_v':>13s} {'loss':>12s}  "
          f"{'class':8s} {'index':>5s} {'proved':6s} {'spurious':>8s}")
    for n in range(args.min_n, args.max_n + 1):
        row = existence_row(n, args.digits)
        spurious = [r for r in paper_style_roots(n) if not r["inside"] and r["x_positive"]]
        row["single_region_roots_outside"] = spurious
        rows.append(row)
        for p in row["points"] or [None]:
            if p is None:
                print(f"{n:3d} {row['solutions']!s:>3s}")
                continue
            index = "-" if p["hessian_index"] is None else str(p["hessian_index"])
            proved = p["certificate"]["proved"] and p["certificate"]["hessian"].get("proved")
            print(f"{n:3d} {row['solutions']!s:>3s}  {p['l'][:12]:>12s} {p['b_v'][:13]:>13s} "
                  f"{p['loss'][:12]:>12s}  {p['classification']:8s} {index:>5s} "
                  f"{proved!s:6s} {len(spurious):8d}")
    document = new_document(KGON_EXISTENCE, {
        "description": "Regular n-gon (k = n) critical points of the TMS potential (m = 2) with "
                       "live outputs, every activation interval of s = b/l², certified counts.",
        "command": f"python -m critpoints kgon-existence --min-n {args.min_n} --max-n {args.max_n}",
        "rows": rows,
    })
    if args.out:
        write_document(args.out, document)
        print(f"written to {args.out}")
    return 0
