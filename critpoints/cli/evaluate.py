"""``critpoints evaluate --params FILE.json``: loss, gradient norm and Hessian spectrum at a point."""

from __future__ import annotations

import argparse
import json
import math

from critpoints.cli import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate the TMS potential at a point",
        description="Print the TMS potential L(W, b), the gradient norm and the Hessian "
        'eigenvalues at the point in FILE ({"W": m×n nested list, "b": list of n}).',
    )
    parser.add_argument("--params", required=True, metavar="FILE", help="JSON file with W and b")
    parser.add_argument(
        "--dps", type=int, default=None, metavar="D", help="evaluate with mpmath at D digits"
    )
    parser.set_defaults(func=run)


def read_params(path: str) -> tuple[list, list]:
    """W and b from a JSON file, or a UsageError naming what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle, parse_constant=_reject_constant)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
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
    for value in [*sum(W, []), *b]:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{path}: W and b must hold numbers only; found {value!r}")
        if not math.isfinite(value):
            raise UsageError(f"{path}: W and b must be finite; found {value!r}")
    return W, b


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def run(args: argparse.Namespace) -> int:
    import mpmath
    import numpy as np

    from critpoints import tms

    if args.dps is not None and not 1 <= args.dps <= 10_000:
        raise UsageError(f"--dps must be between 1 and 10000; got {args.dps}")
    W, b = read_params(args.params)
    m, n = len(W), len(W[0])
    if args.dps is None:
        value = tms.loss(W, b)
        dW, db = tms.gradient(W, b)
        grad_norm = float(np.sqrt((dW**2).sum() + (db**2).sum()))
        eigenvalues = np.linalg.eigvalsh(tms.hessian(W, b))
        fmt = "{:.17g}".format
    else:
        with mpmath.workdps(args.dps):
            # Decimal strings of the JSON floats, so the point is the one written in the file.
            Ws = [[repr(float(v)) for v in row] for row in W]
            bs = [repr(float(v)) for v in b]
            value = tms.loss(Ws, bs, dps=args.dps)
            dW, db = tms.gradient(Ws, bs, dps=args.dps)
            grad_norm = mpmath.sqrt(mpmath.fsum(x * x for x in [*dW.ravel(), *db.ravel()]))
            H = mpmath.matrix(tms.hessian(Ws, bs, dps=args.dps).tolist())
            eigenvalues = sorted(mpmath.eigsy(H, eigvals_only=True))
            digits = args.dps

            def fmt(x):
                return mpmath.nstr(x, digits)

    print(f"model     TMS high-sparsity potential, m = {m}, n = {n}")
    print(f"loss      {fmt(value)}")
    print(f"|grad|    {fmt(grad_norm)}")
    print(f"hessian   {len(eigenvalues)} eigenvalues (parameter order: W row-major, then b)")
    for eigenvalue in eigenvalues:
        print(f"  {fmt(eigenvalue)}")
    return 0
