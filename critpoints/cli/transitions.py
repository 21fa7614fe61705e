"""``critpoints transitions``: SGD sweep on the TMS → plateaus → transition graph next to the catalog."""

from __future__ import annotations

import argparse
import os
import sys
import time

from critpoints.cli import UsageError

#: ``--init 4-gon`` starts where the paper's developmental-stages run starts (SPEC §4).
PAPER_START_LABEL = "4++-"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "transitions",
        help="SGD sweep: plateaus, their critical points and the transition graph",
        description="Train many TMS models with minibatch SGD (vectorised over runs), detect "
        "loss plateaus, identify each with a catalogued critical point, and write the "
        "transition graph as node-link JSON and GraphML. Defaults follow the paper: "
        "N = 1000 samples, batch 20, lr 0.005, 225000 steps (4500 epochs).",
    )
    parser.add_argument("--n", type=int, required=True, help="number of features")
    parser.add_argument("--runs", type=int, default=500, help="number of SGD runs (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="sweep seed (default 0)")
    parser.add_argument("--steps", type=int, default=225_000, help="SGD steps per run")
    parser.add_argument("--batch", type=int, default=20, help="minibatch size")
    parser.add_argument("--lr", type=float, default=0.005, help="learning rate")
    parser.add_argument("--samples", type=int, default=1000, metavar="N", help="data-set size N")
    parser.add_argument(
        "--init",
        default="4-gon",
        help="'4-gon' (the paper's start: the catalog's first 4++- entry), 'random', or a "
        "catalog id (default 4-gon)",
    )
    parser.add_argument(
        "--init-scale",
        type=float,
        default=None,
        help="std of the Gaussian init ('random', default sqrt(2/(n+2)), Xavier) or of the "
        "noise added to a catalog start (default 0.01)",
    )
    parser.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address (optional)"
    )
    parser.add_argument(
        "--catalog", default=None, metavar="PATH", help="catalog (default catalog/tms-n{n}-m2.json)"
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="output JSON (default: the catalog's path with .transitions.json; GraphML beside it)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _check(args) -> None:
    if not 2 <= args.n <= 64:
        raise UsageError(f"--n must be between 2 and 64; got {args.n}")
    for name in ("runs", "steps", "batch", "samples", "workers"):
        value = getattr(args, name)
        if value < (0 if name == "steps" else 1):
            raise UsageError(f"--{name} must be positive; got {value}")
    if args.batch > args.samples:
        raise UsageError(f"--batch ({args.batch}) cannot exceed --samples ({args.samples})")
    if not (args.lr > 0 and args.lr < float("inf")):
        raise UsageError(f"--lr must be a positive number; got {args.lr}")
    if args.init_scale is not None and not (0 <= args.init_scale < float("inf")):
        raise UsageError(f"--init-scale must be a non-negative number; got {args.init_scale}")
    if not 0 <= args.seed < 2**63:
        raise UsageError(f"--seed must be a non-negative integer; got {args.seed}")


def _resolve_init(init: str, catalog: dict, path: str) -> str:
    if init == "random":
        return init
    points = catalog["critical_points"]
    if init == "4-gon":
        for point in points:
            if point.get("label") == PAPER_START_LABEL:
                return point["id"]
        raise UsageError(f"{path} has no entry labelled {PAPER_START_LABEL!r} for --init 4-gon")
    ids = [point["id"] for point in points]
    if init in ids:
        return init
    shown = ", ".join(ids[:8]) + (", ..." if len(ids) > 8 else "")
    raise UsageError(f"--init {init!r} is not 'random', '4-gon' or a catalog id ({shown})")


class _Progress:
    """A one-line progress bar on stderr (run-steps done, rate, time left)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.enabled = max(total, 1), 0, enabled
        self.start = time.monotonic()

    def __call__(self, count: int) -> None:
        self.done += count
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        filled = int(30 * self.done / self.total)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {100 * self.done / self.total:5.1f}%  "
            f"{rate:,.0f} run-steps/s  {left:,.0f} s left "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from critpoints.catalog import CatalogError, load_catalog
    from critpoints.dynamics.graph_io import write_transition_graph
    from critpoints.dynamics.sgd import SGDProtocol
    from critpoints.dynamics.sweep import SweepConfig, sweep, sweep_graph
    from critpoints.dynamics.transitions import graph_summary

    _check(args)
    catalog_path = args.catalog or os.path.join("catalog", f"tms-n{args.n}-m2.json")
    try:
        catalog = load_catalog(catalog_path)
    except CatalogError as exc:
        raise UsageError(str(exc)) from None
    model = catalog.get("model", {})
    if model.get("kind") != "tms-high-sparsity" or model.get("n") != args.n or model.get("m") != 2:
        raise UsageError(f"{catalog_path} is not a TMS catalog for n = {args.n}, m = 2")
    init = _resolve_init(args.init, catalog, catalog_path)
    scale = args.init_scale
    if scale is None:
        scale = float(np.sqrt(2 / (args.n + 2))) if init == "random" else 0.01
    out = args.out
    if out is None:
        stem = catalog_path[:-5] if catalog_path.endswith(".json") else catalog_path
        out = stem + (".transitions.json" if init != "random" else ".transitions-random.json")
    if not out.endswith(".json"):
        raise UsageError(f"--out must end in .json (the GraphML goes beside it); got {out}")
    if args.scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UsageError("--scheduler needs dask: pip install 'critpoints[dask]'") from None
    protocol = SGDProtocol(args.samples, args.batch, args.lr, args.steps)
    config = SweepConfig(args.n, args.runs, args.seed, protocol, init, scale, catalog)
    progress = _Progress(args.runs * args.steps, enabled=not args.quiet)
    started = time.monotonic()
    try:
        histories = sweep(config, args.workers, args.scheduler, progress)
    finally:
        progress.close()
    wall = time.monotonic() - started
    command = (
        f"python -m critpoints transitions --n {args.n} --runs {args.runs} --seed {args.seed} "
        f"--steps {args.steps} --batch {args.batch} --lr {args.lr} --samples {args.samples} "
        f"--init {args.init} --init-scale {scale}"
    )
    G = sweep_graph(
        config, histories, {"catalog": os.path.basename(catalog_path), "command": command}
    )
    # Everything is computed before the files are touched; each is replaced atomically.
    json_path, graphml_path = write_transition_graph(G, out)
    print(graph_summary(G))
    print(f"wrote {json_path} and {graphml_path} ({wall:.1f} s, "
          f"{args.runs * args.steps / max(wall, 1e-9):,.0f} run-steps/s)")
    return 0
