"""``critpoints transitions``: SGD sweep on the TMS → plateaus → transition graph next to the
catalog."""

from __future__ import annotations

import argparse
import os
import sys
import time

from critpoints.cli import UsageError
from critpoints.cli.options import (
    MAX_FEATURES,
    MAX_RUN_STEPS,
    MAX_SAMPLES,
    check_output_file,
    check_scheduler,
    integer,
    output_file,
    real,
    seed,
)

#: Runs of one sweep: each keeps its checkpoints (≈ 400 × 3n floats) until the graph is built.
MAX_RUNS = 1_000_000


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "transitions",
        help="SGD sweep: plateaus, their critical points and the transition graph",
        description="Train many TMS models with minibatch SGD (vectorised over runs), detect "
        "loss plateaus, identify each with a catalogued critical point, and write the "
        "transition graph as node-link JSON and GraphML. Defaults follow the paper: "
        "N = 1000 samples, batch 20, lr 0.005, 225000 steps (4500 epochs).",
    )
    parser.add_argument("--n", type=integer(2, MAX_FEATURES), required=True,
                        help="number of features")
    parser.add_argument("--runs", type=integer(1, MAX_RUNS), default=500,
                        help=f"number of SGD runs (runs × steps ≤ {MAX_RUN_STEPS:,}; default 500)")
    parser.add_argument("--seed", type=seed, default=0, help="sweep seed (default 0)")
    parser.add_argument("--steps", type=integer(1, MAX_RUN_STEPS), default=225_000,
                        help="SGD steps per run")
    parser.add_argument("--batch", type=integer(1, MAX_SAMPLES), default=20,
                        help="minibatch size (≤ --samples)")
    parser.add_argument("--lr", type=real(0, lo_open=True), default=0.005, help="learning rate")
    parser.add_argument("--samples", type=integer(1, MAX_SAMPLES), default=1000, metavar="N",
                        help="number of samples N: the data-set size of each run (at most "
                        f"{MAX_SAMPLES:,} in memory over the runs trained together, 100 per "
                        "worker; default 1000)")
    parser.add_argument(
        "--diverged", choices=("stop", "drop"), default="stop",
        help="a run whose parameters become inf/NaN (too large --lr): stop with an error naming "
        "the run and step, or drop it and go on (default stop)",
    )
    parser.add_argument(
        "--init", default="4-gon",
        help="'4-gon' (the paper's start: the catalog's first 4++- entry), 'random', or a "
        "catalog id (default 4-gon)",
    )
    parser.add_argument(
        "--init-scale",
        type=real(0, 10, why="the critical points have parameters of order 1"),
        default=None,
        help="std of the Gaussian init ('random', default sqrt(2/(n+2)), Xavier) or of the "
        "noise added to a catalog start (default 0.01)",
    )
    parser.add_argument("--workers", type=integer(1, 1024), default=1,
                        help="local processes (default 1)")
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address (optional)"
    )
    parser.add_argument(
        "--catalog", default=None, metavar="PATH",
        help="catalog (default catalog/tms-n{n}-m2.json if present in the working directory, "
        "else the one shipped with critpoints)",
    )
    parser.add_argument(
        "--out", type=output_file, default=None, metavar="PATH",
        help="output JSON, GraphML beside it (default: catalog/tms-n{n}-m2.transitions.json, "
        "-random for --init random, or beside --catalog)",
    )
    parser.add_argument(
        "--landscape", default=None, metavar="PATH",
        help="landscape graph the transitions are mapped onto (default: the .landscape.json "
        "beside the catalog if it is the catalog's, else computed from the catalog)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _check(args) -> None:
    """Checks that involve several options (each option is range-checked by its type)."""
    if args.batch > args.samples:
        raise UsageError(f"--batch ({args.batch}) cannot exceed --samples ({args.samples})")
    if args.runs * args.steps > MAX_RUN_STEPS:
        raise UsageError(f"--runs × --steps = {args.runs * args.steps:.3g} exceeds "
                         f"{MAX_RUN_STEPS:,} run-steps (about a day at 1.2e5 run-steps/s)")
    from critpoints.dynamics.sweep import MAX_CHUNK

    # Runs are trained in chunks of at most MAX_CHUNK, one chunk per worker at a time: only
    # those runs' data sets are in memory together.
    together = min(args.runs, MAX_CHUNK * args.workers)
    if together * args.samples > MAX_SAMPLES:
        raise UsageError(f"{together} runs × --samples {args.samples} in memory together "
                         f"exceed {MAX_SAMPLES:,} samples: lower --samples (or --workers)")


def _resolve_init(init: str, catalog) -> str:
    from critpoints.dynamics.sweep import PAPER_START_LABEL, resolve_init

    resolved = resolve_init(init, catalog)
    if resolved is not None:
        return resolved
    if init == "4-gon":
        raise UsageError(f"{catalog.source} has no entry labelled {PAPER_START_LABEL!r} for "
                         "--init 4-gon")
    ids = catalog.ids
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
    from critpoints.catalog import Catalog, CatalogModel
    from critpoints.dynamics.sgd import DivergedRuns, SGDProtocol
    from critpoints.dynamics.sweep import SweepConfig, default_init_scale, sweep, sweep_graph
    from critpoints.dynamics.transitions import graph_summary
    from critpoints.store import default_catalog_path
    from critpoints.transition_store import default_graph_path, write_transition_graph

    _check(args)
    catalog_path = str(args.catalog or default_catalog_path(args.n))
    catalog = Catalog.load(catalog_path)
    if catalog.model != CatalogModel("tms-high-sparsity", args.n, 2):
        raise UsageError(f"{catalog_path} is not a TMS catalog for n = {args.n}, m = 2")
    init = _resolve_init(args.init, catalog)
    scale = default_init_scale(args.n, init) if args.init_scale is None else args.init_scale
    out = str(args.out or default_graph_path(args.catalog, args.n, random=init == "random"))
    if not out.endswith(".json"):
        raise UsageError(f"--out must end in .json (the GraphML goes beside it); got {out}")
    check_output_file(out)
    check_output_file(out[:-5] + ".graphml", "the GraphML file")
    check_scheduler(args.scheduler)
    from critpoints.cli.landscape import landscape_of_catalog

    landscape, landscape_source = landscape_of_catalog(catalog, catalog_path, args.n,
                                                       args.landscape, args.quiet)
    protocol = SGDProtocol(args.samples, args.batch, args.lr, args.steps)
    config = SweepConfig(args.n, args.runs, args.seed, protocol, init, scale, catalog,
                         drop_diverged=args.diverged == "drop")
    progress = _Progress(args.runs * args.steps, enabled=not args.quiet)
    started = time.monotonic()
    try:
        histories = sweep(config, args.workers, args.scheduler, progress)
    except DivergedRuns as exc:
        raise UsageError(f"{exc} with --lr {args.lr:g}, --init-scale {scale:g}; lower them, or "
                         "pass --diverged drop to leave such runs out") from None
    finally:
        progress.close()
    if diverged := [h for h in histories if h.diverged_at is not None]:
        shown = ", ".join(f"run {h.run} at step {h.diverged_at}" for h in diverged[:20])
        print(f"critpoints transitions: warning: {len(diverged)} of {args.runs} runs diverged "
              f"and were dropped: {shown}" + (", ..." if len(diverged) > 20 else ""),
              file=sys.stderr)
    wall = time.monotonic() - started
    command = (
        f"python -m critpoints transitions --n {args.n} --runs {args.runs} --seed {args.seed} "
        f"--steps {args.steps} --batch {args.batch} --lr {args.lr} --samples {args.samples} "
        f"--init {args.init} --init-scale {scale}"
        + (f" --landscape {args.landscape}" if args.landscape else "")
    )
    G = sweep_graph(config, histories, {"catalog": os.path.basename(catalog_path),
                                        "command": command, "landscape": landscape_source},
                    landscape)
    # Everything is computed before the files are touched; each is replaced atomically.
    json_path, graphml_path = write_transition_graph(G, out)
    print(graph_summary(G))
    print(f"wrote {json_path} and {graphml_path} ({wall:.1f} s, "
          f"{args.runs * args.steps / max(wall, 1e-9):,.0f} run-steps/s)")
    return 0
