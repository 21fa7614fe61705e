"""``critpoints evaluate --params FILE.json [--sparsity S [--importance I1,...,In]]``: loss,
gradient norm and Hessian spectrum at a point, of the one-hot potential or, with ``--sparsity``,
of the exact potential at finite sparsity (SPEC §8)."""

from __future__ import annotations

import argparse
import math

from critpoints.cli import UsageError
from critpoints.cli.options import MAX_DIGITS, MAX_SPARSE_FEATURES, importance_list, integer, real

#: Largest number of parameters (m + 1)·n: the float Hessian is P² doubles (8 MB at P = 1024);
#: the mpmath one (with --dps) takes minutes already at a few hundred.
MAX_PARAMETERS = 1024


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate the TMS potential at a point",
        description="Print the TMS potential L(W, b), the gradient norm and the Hessian "
        'eigenvalues at the point in FILE ({"W": m×n nested list, "b": list of n}).',
    )
    parser.add_argument("--params", required=True, metavar="FILE", help="JSON file with W and b")
    parser.add_argument(
        "--dps", type=integer(1, MAX_DIGITS), default=None, metavar="D",
        help="evaluate with mpmath at D digits (default: float64)",
    )
    parser.add_argument(
        "--sparsity", type=real(0.0, 1.0), default=None, metavar="S",
        help="the exact potential at sparsity S in [0, 1] (each feature active with probability "
        f"1 − S; n ≤ {MAX_SPARSE_FEATURES}); default: the high-sparsity (one-hot) limit",
    )
    parser.add_argument(
        "--importance", type=importance_list, default=None, metavar="I1,...,In",
        help="feature importances (n positive numbers; with --sparsity; default all 1)",
    )
    parser.set_defaults(func=run)


def read_params(path: str) -> tuple[list, list]:
    """W and b from a JSON file, or a UsageError naming what is wrong."""
    from critpoints.store import read_json

    data = read_json(path)
    if not isinstance(data, dict):
        raise UsageError(f'{path} must hold a JSON object {{"W": [[...]], "b": [...]}}')
    missing = [key for key in ("W", "b") if key not in data]
    if missing:
        raise UsageError(f"{path} is missing the key(s) {', '.join(map(repr, missing))}")
    W, b = data["W"], data["b"]
    if (
        not isinstance(W, list)
        or not W
        or not all(isinstance(row, list) and row for row in W)
        or len({len(row) for row in W}) != 1
    ):
        raise UsageError(f"{path}: W must be a non-empty m×n nested list of numbers")
    n = len(W[0])
    if not isinstance(b, list) or len(b) != n:
        raise UsageError(f"{path}: b must be a list of n = {n} numbers (one per column of W)")
    if (len(W) + 1) * n > MAX_PARAMETERS:
        raise UsageError(
            f"{path}: W is {len(W)}×{n}, {(len(W) + 1) * n} parameters; at most "
            f"{MAX_PARAMETERS} are supported (the Hessian has one row per parameter)"
        )
    for value in [*(v for row in W for v in row), *b]:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{path}: W and b must hold numbers only; found {value!r}")
        if abs(value) > 1e300 or not math.isfinite(value):
            raise UsageError(f"{path}: W and b must be finite numbers ≤ 1e300; found {value!r}")
    return W, b


def sparsity_keywords(args: argparse.Namespace, n: int) -> dict:
    """The keywords of the finite-sparsity potential, or a UsageError naming what is wrong."""
    if args.sparsity is None:
        if args.importance is not None:
            raise UsageError("--importance weighs the finite-sparsity potential: give --sparsity")
        return {}
    if n > MAX_SPARSE_FEATURES:
        raise UsageError(f"{args.params}: n = {n} features; the finite-sparsity potential costs "
                         f"n·3ⁿ and is evaluated for n ≤ {MAX_SPARSE_FEATURES}")
    if args.importance is not None and len(args.importance) != n:
        raise UsageError(f"--importance has {len(args.importance)} entries; {args.params} has "
                         f"n = {n} features")
    return {"sparsity": args.sparsity, "importance": args.importance}


def run(args: argparse.Namespace) -> int:
    import mpmath
    import numpy as np

    from critpoints import tms

    W, b = read_params(args.params)
    m, n = len(W), len(W[0])
    keywords = sparsity_keywords(args, n)
    if args.dps is None:
        with np.errstate(all="ignore"):  # overflow is reported below, not as warnings
            value, dW, db = tms.loss_and_gradient(W, b, **keywords)
            H = tms.hessian(W, b, **keywords)
            grad_norm = float(np.sqrt((dW**2).sum() + (db**2).sum()))
        if not (math.isfinite(value) and math.isfinite(grad_norm) and np.isfinite(H).all()):
            raise UsageError(
                f"{args.params}: the loss, gradient or Hessian overflows float64 at this point "
                "(entries too large); try --dps"
            )
        eigenvalues = np.linalg.eigvalsh(H)
        fmt = "{:.17g}".format
    else:
        with mpmath.workdps(args.dps):
            # Decimal strings of the JSON floats, so the point is the one written in the file.
            Ws = [[repr(float(v)) for v in row] for row in W]
            bs = [repr(float(v)) for v in b]
            value, dW, db = tms.loss_and_gradient(Ws, bs, dps=args.dps, **keywords)
            grad_norm = mpmath.sqrt(mpmath.fsum(v * v for v in [*dW.ravel(), *db.ravel()]))
            H = mpmath.matrix(tms.hessian(Ws, bs, dps=args.dps, **keywords).tolist())
            eigenvalues = sorted(_eigenvalues(H, args.dps, args.params))
            digits = args.dps

            def fmt(x):
                return mpmath.nstr(x, digits)

    if keywords:
        importance = ",".join(f"{v:g}" for v in args.importance) if args.importance else "1"
        print(f"model     TMS potential at sparsity S = {args.sparsity:g}, importances "
              f"{importance}, m = {m}, n = {n}")
    else:
        print(f"model     TMS high-sparsity potential, m = {m}, n = {n}")
    print(f"loss      {fmt(value)}")
    print(f"|grad|    {fmt(grad_norm)}")
    print(f"hessian   {len(eigenvalues)} eigenvalues (parameter order: W row-major, then b)")
    for eigenvalue in eigenvalues:
        print(f"  {fmt(eigenvalue)}")
    return 0


def _eigenvalues(H, dps: int, source) -> list:
    """mpmath.eigsy's eigenvalues of H (its bits, :func:`critpoints.mpfr.eigsy`) at ``dps``
    digits or, where its QL iteration stops unconverged (2·dps iterations per eigenvalue; a
    cluster of zero eigenvalues can stall its relative deflation test), at 2·dps digits."""
    import mpmath

    from critpoints import mpfr

    for working in (dps, 2 * dps):
        with mpmath.workdps(working):
            try:
                return mpfr.eigsy(mpmath.matrix(H), eigvals_only=True)
            except RuntimeError:
                continue
    raise UsageError(f"{source}: the Hessian's eigenvalues did not converge at {dps} or "
                     f"{2 * dps} digits (mpmath's QL iteration; the spectrum is highly "
                     "degenerate); try another --dps")

