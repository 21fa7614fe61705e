"""``critpoints plot``: figures of a catalog, a transition graph, an SGD sweep, the phases, the
disconnectivity graph of a landscape.

Needs the optional extra ``plot`` (matplotlib); without it the command says how to install it and
exits with status 2. ``plot all`` regenerates every committed n = 6 figure under docs/figures/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from critpoints.cli import UsageError
from critpoints.cli.options import (
    FIGURE_SUFFIXES,
    check_output_file,
    integer,
    output_problem,
    path,
    real,
    seed,
)

#: Default inputs and outputs of ``plot all`` (and of each kind when no path is given): the
#: files of this name under ./catalog, else the ones shipped with critpoints.
FIGURES_DIR = Path("docs/figures")
DEFAULT_INPUTS = {
    "catalog": "tms-n6-m2.json",
    "graph": "tms-n6-m2.transitions.json",
    "sgd": "tms-n6-m2.json",
    "phases": "tms-n6-m2.phases.json",
    "landscape": "tms-n6-m2.landscape.json",
    "polytopes": "tms-n6-m3.json",
    "sparsity": "tms-n6-m2.sparsity.json",
}
KINDS = tuple(DEFAULT_INPUTS)
#: Kinds drawn only from a file the user names (no committed input).
USER_KINDS = ("llc",)


def default_input(kind: str) -> Path:
    from critpoints.store import default_file

    return default_file(DEFAULT_INPUTS[kind])


def default_output(kind: str, source: Path, suffix: str = ".png") -> Path:
    """Deterministic file name: docs/figures/<stem of the input>-<kind>.png.

    ``catalog/tms-n6-m2.json`` → ``docs/figures/tms-n6-catalog.png`` (the ``-m2`` of hidden
    dimension 2 is dropped), ``tms-n6-m2.transitions.json`` → ``tms-n6-graph.png``.
    """
    stem = source.name.split(".")[0].removesuffix("-m2")
    return FIGURES_DIR / f"{stem}-{kind}{suffix}"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="figures: energy levels, transition graph, SGD loss curves, phases (needs [plot])",
        description="Draw a figure with matplotlib (pip install 'critpoints[plot]'). KIND is "
        "catalog (energy levels with polygon glyphs), graph (transition graph on the (λ, loss) "
        "plane), sgd (loss curves of a small seeded SGD sweep, plateaus labelled), phases "
        "(posterior occupancy against N), landscape (the disconnectivity graph of a landscape "
        "graph: minima joined at their lowest saddle), polytopes (an m = 3 catalog: energy "
        "levels with point groups and 3-D glyphs of its minima and lowest saddles), sparsity (the "
        "branches of `sparsity-branches`: L_S/(n(1 − S)) against 1 − S), llc (running "
        "λ̂ and traces per chain of an `llc --out` file) or all (every n = 6 figure into "
        "docs/figures/, PNG and SVG). The suffix of --out (.png, .svg, .pdf) chooses the format.",
    )
    parser.add_argument("kind", choices=(*KINDS, *USER_KINDS, "all"), help="which figure")
    parser.add_argument("path", nargs="?", type=path,
                        help="input file (catalog, transitions, phases or landscape JSON; sgd: the "
                        "catalog); default the n = 6 file in catalog/")
    parser.add_argument("--out", type=path, metavar="PATH",
                        help="output file (default docs/figures/<name>-<kind>.png); for all: "
                        "the output directory (default docs/figures)")
    parser.add_argument(
        "--irregular",
        action="store_true",
        help="catalog: also show the irregular points of the full-space searches",
    )
    parser.add_argument("--top", type=integer(1, 1000), default=18, metavar="K",
                        help="catalog: show the K lowest critical points (default 18)")
    parser.add_argument("--runs", type=integer(1, 100), default=8,
                        help="sgd: number of runs, at most 100 drawn (default 8)")
    parser.add_argument("--steps", type=integer(1, 10**7), default=150_000,
                        help="sgd: SGD steps per run (default 150000)")
    parser.add_argument("--seed", type=seed, default=0, help="sgd: sweep seed (default 0)")
    parser.add_argument("--init", default="4++-",
                        help="sgd: catalog id to start from, or random (default 4++-)")
    parser.add_argument("--init-scale",
                        type=real(0, 10, why="the critical points have parameters of order 1"),
                        default=0.01,
                        help="sgd: initial noise scale (default 0.01)")
    parser.set_defaults(func=run)


def _figure(kind: str, source: Path, args: argparse.Namespace):
    """Load ``source`` and draw the figure of ``kind`` (matplotlib imported inside)."""
    from critpoints import plot
    from critpoints.store import load_catalog

    if kind == "catalog":
        return plot.catalog_figure(
            load_catalog(source), top=args.top, patterns_only=not args.irregular
        )
    if kind == "graph":
        from critpoints.transition_store import read_transition_json

        return plot.transition_figure(read_transition_json(source))
    if kind == "polytopes":
        return plot.polytope_figure(load_catalog(source), top=max(args.top, 30))
    if kind == "landscape":
        from critpoints.landscape_store import read_landscape_json

        return plot.disconnectivity_figure(read_landscape_json(source))
    if kind == "llc":
        from critpoints.documents import LLC
        from critpoints.store import load_document

        return plot.llc_figure(load_document(source, LLC))
    if kind == "sparsity":
        from critpoints.documents import SPARSITY_BRANCHES
        from critpoints.store import load_document

        return plot.sparsity_branches_figure(load_document(source, SPARSITY_BRANCHES))
    if kind == "phases":
        from critpoints.documents import PHASES
        from critpoints.store import load_document

        return plot.phases_figure(load_document(source, PHASES))
    from critpoints.catalog import Catalog
    from critpoints.dynamics.sgd import DivergedRuns

    document = load_catalog(source)  # plot.sgd_figure reads the document
    try:
        sweep = plot.small_sweep(Catalog.of(document, str(source)), runs=args.runs,
                                 steps=args.steps, seed=args.seed,
                                 init=args.init, init_scale=args.init_scale)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    except DivergedRuns as exc:
        raise UsageError(f"{exc} with --init-scale {args.init_scale:g}; lower it") from None
    return plot.sgd_figure(sweep.trajectory, sweep.histories, document)


def run(args: argparse.Namespace) -> int:
    try:
        from critpoints.plot import pyplot_available

        pyplot_available()
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    from critpoints.plot import save_figure

    if args.kind == "all":
        if args.path is not None:
            raise UsageError("plot all takes no input path (it uses the n = 6 files)")
        directory = args.out or FIGURES_DIR
        problem = output_problem(directory, directory=True)
        if problem:
            raise UsageError(f"--out {str(directory)!r} {problem}")
        for kind in KINDS:
            source = default_input(kind)
            fig = _figure(kind, source, args)
            png = directory / default_output(kind, source).name
            save_figure(fig, png, close=False)
            save_figure(fig, png.with_suffix(".svg"))
            print(f"wrote {png} and {png.with_suffix('.svg')}")
        return 0
    if args.kind in USER_KINDS and args.path is None:
        raise UsageError(f"plot {args.kind} needs the input file (written by `critpoints "
                         f"{args.kind} --out`)")
    source = args.path or default_input(args.kind)
    out = args.out or default_output(args.kind, source)
    check_output_file(out)
    if out.suffix.lower() not in FIGURE_SUFFIXES:
        raise UsageError(f"--out {out}: the suffix must be .png, .svg or .pdf")
    from critpoints.documents import DocumentError
    from critpoints.plot.figures import NothingToDraw

    try:
        fig = _figure(args.kind, source, args)
    except DocumentError:
        raise  # its message names the file already
    except NothingToDraw as exc:
        raise UsageError(f"{source}: {exc}") from None
    except (KeyError, IndexError, TypeError, ValueError) as exc:  # a field missing, mistyped
        # or of the wrong length
        raise UsageError(f"{source}: malformed ({type(exc).__name__}: {exc})") from None
    print(f"wrote {save_figure(fig, out)}")
    return 0
