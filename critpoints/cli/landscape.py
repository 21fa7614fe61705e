"""``critpoints landscape``: the saddles' steepest-descent paths → the landscape graph beside the
catalog."""

from __future__ import annotations

import argparse
import sys
import time

from critpoints.cli.enumerate import DEFAULT_WORKERS
from critpoints.cli.options import MAX_FEATURES, check_output_file, integer, output_file, seed


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "landscape",
        help="landscape graph: where the steepest-descent paths from each saddle lead",
        description="Descend from every catalogued saddle along each unstable direction (both "
        "sides: the negative-curvature eigenvectors of smooth saddles, the confirmed descent "
        "direction of non-smooth ones), land on the critical point reached, match it with the "
        "catalog, and write the graph saddle → end as node-link JSON and GraphML "
        "(docs/landscape.md). Prints the summary; progress on stderr.",
    )
    parser.add_argument("--n", type=integer(2, MAX_FEATURES), required=True,
                        help="number of features")
    parser.add_argument(
        "--catalog", default=None, metavar="PATH",
        help="catalog (default catalog/tms-n{n}-m2.json if present in the working directory, "
        "else the one shipped with critpoints)",
    )
    parser.add_argument(
        "--output", "--out", dest="output", type=output_file, default=None, metavar="PATH",
        help="output JSON, GraphML beside it (default: catalog/tms-n{n}-m2.landscape.json, or "
        "beside --catalog)",
    )
    parser.add_argument("--seed", type=seed, default=0,
                        help="seed of the bases of degenerate unstable eigenspaces (default 0)")
    parser.add_argument("--workers", type=integer(1, 64), default=DEFAULT_WORKERS, metavar="K",
                        help="processes for the descents (default: this machine's cores, at "
                        f"most 4: {DEFAULT_WORKERS}); the graph does not depend on K")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=run)


def summary(G) -> str:
    """The numbers of a landscape graph, one per line."""
    from critpoints.landscape import minimum_pathways

    g = G.graph
    lines = [
        f"saddles examined: {g['saddles_examined']} ({g['descents']} descents, "
        f"{len(g['sides_without_descent'])} sides without descent)",
        f"ends matched: {g['ends_matched']}, unmatched: {g['ends_unmatched']} "
        f"({len({u['candidate'] for u in g['unmatched_ends']})} distinct points)",
        f"index-1 saddles: {g['index1_saddles']}, both downhill ends at minima: "
        f"{g['index1_saddles_both_ends_minima']}",
        f"non-smooth saddles: {g['nonsmooth_saddles']}, every descent at a minimum: "
        f"{g['nonsmooth_saddles_every_end_minimum']}",
    ]
    searches = g.get("valley_searches")  # absent in files written before the valley search
    if searches:
        lines.append(
            f"sphere valleys: {sum(s['followed'] for s in searches)} followed from "
            f"{len(searches)} saddles ({sum(s['distinct'] for s in searches)} distinct beside "
            f"the stored directions, at most {g['settings']['sphere_valleys']['cap']} a saddle)")
    for s, data in G.nodes(data=True):
        if data["hessian_index"] == 1:
            ends = ", ".join(f"{d['side']}→{v} (barrier {d['barrier']:.4g})"
                             for _, v, d in G.out_edges(s, data=True))
            lines.append(f"  {s} (L = {data['loss']:.6g}): {ends or 'no catalogued end'}")
    pathways = minimum_pathways(G)
    lines.append(f"pairs of minima joined through saddles: {len(pathways)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from critpoints.cli import UsageError
    from critpoints.cli.options import tms_catalog
    from critpoints.landscape_store import default_landscape_path

    catalog_path, document = tms_catalog(args.catalog, args.n)
    if document["model"].get("m") != 2:
        # its ends are matched up to O(2) (critpoints.dynamics.plateaus.CatalogMatcher)
        raise UsageError(f"the landscape graph is built for m = 2 only; {catalog_path} is a "
                         f"catalog for m = {document['model'].get('m')}")
    out = landscape_output(args.output or default_landscape_path(args.catalog, args.n))
    write_landscape_of(document, catalog_path, args.n, args.seed, out, args.quiet, args.workers)
    return 0


def landscape_output(path) -> str:
    """The landscape JSON path, checked (with the GraphML beside it) before any computation."""
    from critpoints.cli import UsageError

    out = str(path)
    if not out.endswith(".json"):
        raise UsageError(f"--output must end in .json (the GraphML goes beside it); got {out}")
    check_output_file(out, "--output")
    check_output_file(out[:-5] + ".graphml", "the GraphML file")
    return out


def write_landscape_of(document: dict, catalog_path, n: int, seed: int, out: str,
                       quiet: bool, workers: int = 1) -> None:
    """Build the landscape graph of a catalog document, write it (JSON and GraphML) and print
    its summary: the ``landscape`` command, and the last step of ``census``."""
    from critpoints.catalog import Catalog
    from critpoints.landscape import landscape_graph
    from critpoints.landscape_store import write_landscape

    started = time.monotonic()

    def progress(line: str) -> None:
        if not quiet:
            print(f"[{time.monotonic() - started:6.1f} s] {line}", file=sys.stderr, flush=True)

    catalog = Catalog.of(document, str(catalog_path))
    G = landscape_graph(catalog, seed=seed, progress=progress, workers=workers)
    G.graph = {
        "model": {"kind": "tms-high-sparsity", "n": n, "m": 2},
        "catalog": str(catalog_path).replace("\\", "/").split("/")[-1],
        "command": f"python -m critpoints landscape --n {n} --seed {seed}",
        **G.graph,
    }
    json_path, graphml_path = write_landscape(G, out)
    print(summary(G))
    print(f"wrote {json_path} and {graphml_path} ({time.monotonic() - started:.1f} s)")


def landscape_of_catalog(catalog, catalog_path, n: int, path=None, quiet: bool = False):
    """The landscape graph to read a sweep's transitions on, and where it came from (the graph
    attribute ``landscape`` of the transition graph).

    ``path`` (``transitions --landscape``), else the landscape file beside the catalog when it
    exists: read and used if its nodes are the catalog's entries (ids and losses), computed
    afresh from the catalog otherwise (as ``python -m critpoints landscape --n N --seed 0``
    would, without writing it), with the reason stated.
    """
    import os

    from critpoints.cli import UsageError
    from critpoints.documents import DocumentError
    from critpoints.dynamics.landscape_paths import landscape_mismatch
    from critpoints.landscape import landscape_graph
    from critpoints.landscape_store import default_landscape_path, read_landscape_json

    given = path is not None
    path = str(path or default_landscape_path(catalog_path, n))
    name = os.path.basename(path)
    if os.path.exists(path) or given:
        try:
            G = read_landscape_json(path)
        except DocumentError as exc:
            raise UsageError(str(exc)) from None
        stale = landscape_mismatch(G, catalog)
        if stale is None:
            return G, {"source": "file", "file": name, "command": G.graph.get("command", "")}
        if given:
            raise UsageError(f"--landscape {path} is not the landscape of {catalog_path}: "
                             f"{stale}")
        reason = f"{name} is not the catalog's landscape: {stale}"
    else:
        reason = f"no {name} beside the catalog"
    if not quiet:
        print(f"critpoints transitions: {reason}; computing the landscape graph",
              file=sys.stderr, flush=True)
    G = landscape_graph(catalog, seed=0)
    return G, {"source": "computed", "reason": reason,
               "command": f"python -m critpoints landscape --n {n} --seed 0"}
