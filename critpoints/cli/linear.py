"""``critpoints linear``: enumerate, verify and classify the linear autoencoder's critical
points."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from critpoints.cli import UsageError
from critpoints.cli.options import (
    MAX_DIGITS,
    check_output_file,
    integer,
    output_file,
    path,
    real,
    seed,
)

#: Refuse enumerations larger than this (the count Σ_{r≤m} C(n, r) grows exponentially).
MAX_POINTS = 2000
#: S of --sigma sparse when --sparsity is not given.
DEFAULT_SPARSITY = 0.95
#: Largest input dimension n: every critical point is verified at 60 digits with n×n mpmath
#: matrices; with hidden = 1 (n + 1 orbits, so MAX_POINTS alone does not bound n) n = 24 took
#: 7 s of CPU and n = 64 had not ended after 6 minutes.
MAX_DIMENSION = 32


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "linear",
        help="linear autoencoder (Baldi–Hornik): all critical points, verified and classified",
        description="Enumerate, verify and classify the critical points of the linear "
        "autoencoder (Baldi–Hornik) for a covariance Σ, and write them as a catalog.",
    )
    parser.add_argument("--n", type=integer(2, MAX_DIMENSION),
                        help="input dimension (implied by --sigma-file)")
    parser.add_argument("--hidden", type=integer(1, MAX_DIMENSION - 1), default=2,
                        help="hidden size m (default 2)")
    parser.add_argument("--sigma", choices=("random", "sparse"), default="random",
                        help="covariance: random SPD (--seed) or sparse-data E[xxᵀ] (--sparsity)")
    parser.add_argument("--seed", type=seed, default=0, help="seed for --sigma random (default 0)")
    parser.add_argument("--sparsity", type=real(0, 1, hi_open=True), default=None,
                        help="S for --sigma sparse, in [0, 1) (default 0.95)")
    parser.add_argument("--sigma-file", type=path,
                        help="JSON file holding Σ as an n×n nested list (overrides --sigma)")
    parser.add_argument("--allow-repeated", action="store_true",
                        help="accept repeated eigenvalues of a --sigma-file/random Σ: catalogue "
                             "one representative per continuous family")
    parser.add_argument("--out", type=output_file, help="catalog path "
                        "(default catalog/linear-n{n}-m{m}-{source}.json)")
    parser.add_argument("--digits", type=integer(1, MAX_DIGITS), default=60,
                        help="mpmath digits for the gradient check and loss_exact (default 60)")
    parser.add_argument("--isotropy-table", action="store_true",
                        help="print the Σ-vs-σ²I comparison table for --n, --hidden and exit")
    parser.set_defaults(func=run)


def _read_sigma_file(path: Path):
    from critpoints.documents import DocumentError
    from critpoints.store import read_json

    try:
        data = read_json(path)
    except DocumentError as exc:
        raise UsageError(f"--sigma-file {exc}") from None
    if not (isinstance(data, list) and data and all(isinstance(row, list) for row in data)):
        raise UsageError(f"--sigma-file {path} must hold an n×n nested list of numbers")
    if any(len(row) != len(data) for row in data):
        raise UsageError(f"--sigma-file {path} must hold a square n×n nested list")
    if not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for row in data for x in row
    ):
        raise UsageError(f"--sigma-file {path} has non-numeric entries")
    if len(data) > MAX_DIMENSION:
        raise UsageError(f"--sigma-file {path} is {len(data)}×{len(data)}; at most "
                         f"{MAX_DIMENSION}×{MAX_DIMENSION} is supported")
    return data


def _source(args) -> tuple[object, str, str, list[str]]:
    """(Σ, sigma_source, file-name tag, canonical command options)."""
    import numpy as np

    from critpoints.linear.covariance import CovarianceError, random_covariance, sparse_covariance

    if args.sparsity is not None and (args.sigma_file is not None or args.sigma != "sparse"):
        raise UsageError("--sparsity is the S of --sigma sparse; it has no effect with "
                         + ("--sigma-file" if args.sigma_file is not None else "--sigma random"))
    if args.sparsity is None:
        args.sparsity = DEFAULT_SPARSITY
    if args.sigma_file is not None:
        data = _read_sigma_file(args.sigma_file)
        if args.n is not None and args.n != len(data):
            raise UsageError(
                f"--n {args.n} does not match the {len(data)}×{len(data)} --sigma-file"
            )
        return (np.array(data, dtype=float), f"file {args.sigma_file}",
                f"file-{args.sigma_file.stem}", ["--sigma-file", str(args.sigma_file)])
    if args.n is None:
        raise UsageError("--n is required unless --sigma-file is given")
    if args.n < 2:
        raise UsageError(f"--n must be at least 2, got {args.n}")
    if args.sigma == "random":
        return (random_covariance(args.n, args.seed), f"random seed={args.seed}",
                f"random-seed{args.seed}", ["--sigma", "random", "--seed", str(args.seed)])
    if not (math.isfinite(args.sparsity) and 0.0 <= args.sparsity < 1.0):
        raise UsageError(f"--sparsity must lie in [0, 1), got {args.sparsity}")
    try:
        sigma = sparse_covariance(args.n, args.sparsity)
    except CovarianceError as exc:
        raise UsageError(str(exc)) from None
    return (sigma, f"sparse S={args.sparsity:g}", f"sparse-S{args.sparsity:g}",
            ["--sigma", "sparse", "--sparsity", f"{args.sparsity:g}"])


def _print_isotropy_table(args) -> int:
    from critpoints.linear.isotropy import format_isotropy_table, isotropy_table

    if args.n is None or args.n < 2:
        raise UsageError("--isotropy-table needs --n ≥ 2")
    if not 1 <= args.hidden < args.n:
        raise UsageError(f"--hidden must satisfy 1 ≤ hidden < n = {args.n}, got {args.hidden}")
    print(format_isotropy_table(isotropy_table(args.n, args.hidden), args.n, args.hidden))
    return 0


def run(args: argparse.Namespace) -> int:
    from critpoints.catalog import CatalogError
    from critpoints.linear.covariance import (
        CovarianceError,
        RepeatedEigenvalueError,
        canonical_eigensystem,
        validate_covariance,
    )
    from critpoints.linear.document import MIN_DIGITS, build_catalog_document
    from critpoints.store import write_catalog

    if args.isotropy_table:
        return _print_isotropy_table(args)
    if args.digits < MIN_DIGITS or args.digits > 1000:
        raise UsageError(f"--digits must lie in [{MIN_DIGITS}, 1000], got {args.digits}")
    sigma, sigma_source, tag, options = _source(args)
    try:
        sigma = validate_covariance(sigma)
    except CovarianceError as exc:
        raise UsageError(str(exc)) from None
    n, m = len(sigma), args.hidden
    if not 1 <= m < n:
        raise UsageError(f"--hidden must satisfy 1 ≤ hidden < n = {n}, got {m}")
    if sum(math.comb(n, r) for r in range(m + 1)) > MAX_POINTS:
        raise UsageError(f"n = {n}, hidden = {m} has more than {MAX_POINTS} critical orbits")
    out = check_output_file(args.out or Path("catalog") / f"linear-n{n}-m{m}-{tag}.json")
    eig = canonical_eigensystem(sigma)
    allow_repeated = args.allow_repeated or (args.sigma_file is None and args.sigma == "sparse")
    if not eig.distinct:
        if not allow_repeated:
            raise UsageError(
                f"Σ has a repeated eigenvalue ({eig.repeated_description()}): its critical points "
                "form continuous families; pass --allow-repeated to catalogue one per family"
            )
        print(f"critpoints linear: warning: Σ has a repeated eigenvalue "
              f"({eig.repeated_description()}); critical points form continuous families "
              f"(Grassmannians), the minimum is not a single orbit; one representative per "
              f"family is catalogued", file=sys.stderr)
    command = " ".join(["critpoints", "linear", "--n", str(n), "--hidden", str(m), *options,
                        "--digits", str(args.digits)] + (["--allow-repeated"]
                                                         if args.allow_repeated else []))
    try:
        document = build_catalog_document(
            sigma, m, sigma_source=sigma_source, command=command,
            digits=args.digits, require_distinct=False,
        )
    except RepeatedEigenvalueError as exc:
        raise UsageError(str(exc)) from None
    _print_table(document)
    try:
        write_catalog(out, document)
    except CatalogError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {len(document['critical_points'])} critical points to {out}")
    return 0


def _print_table(document: dict) -> None:
    header = f"{'subset':<18} {'rank':>4} {'loss':>14} {'index':>5} {'zeros':>5}  classification"
    print(f"linear autoencoder n={document['model']['n']} m={document['model']['m']} "
          f"Σ: {document['model']['sigma_source']}")
    print(header)
    print("-" * len(header))
    for point in document["critical_points"]:
        print(f"{point['label']:<18} {point['rank']:>4} {point['loss']:>14.8g} "
              f"{point['hessian_index']:>5} {point['hessian']['n_zero']:>5}  "
              f"{point['classification']}")
