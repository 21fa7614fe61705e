"""``critpoints family CATALOG [--id ID ...]``: the dimension of the flat family (continuum of
critical points at the same loss) through catalogued points, measured from sampled members."""

from __future__ import annotations

import argparse
import sys

from critpoints.cli import UsageError
from critpoints.cli.options import MAX_SEED, integer


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "family",
        help="dimension of the flat family through catalogued points",
        description="For each selected entry of a TMS catalog: the dimension of its critical "
        "set at the same loss beyond the zero modes the symmetry explains (orbit, strictly "
        "dead columns), measured by returning to the critical set from random perturbations "
        "(critpoints.solve.flat_family): the tangent-cone dimension at the point and the "
        "dimension (the largest tangent dimension at sampled members; a cusp's tangent cone is "
        "smaller). 0: isolated up to symmetry; 'untested': too few members returned. "
        "Default: every entry with more zero Hessian eigenvalues than explained (an entry "
        "without them is isolated by its Hessian).",
    )
    parser.add_argument("catalog", metavar="CATALOG", help="TMS catalog JSON file")
    parser.add_argument("--id", action="append", default=None, metavar="ID", dest="ids",
                        help="an entry id (repeatable; default: every entry with unexplained "
                        "zero modes)")
    parser.add_argument("--seed", type=integer(0, MAX_SEED), default=0, metavar="S",
                        help="seed of the random perturbations")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from critpoints.cli.options import tms_catalog
    from critpoints.solve.family import flat_family
    from critpoints.tms.model import TMSPotential

    _, document = tms_catalog(args.catalog, None)
    entries = document["critical_points"]
    if args.ids is None:
        chosen = [e for e in entries if _unexplained(e) > 0]
    else:
        by_id = {e["id"]: e for e in entries}
        unknown = [i for i in args.ids if i not in by_id]
        if unknown:
            raise UsageError(f"{args.catalog} has no entry {unknown[0]!r} "
                             f"({len(entries)} entries, ids such as {entries[0]['id']!r})")
        chosen = [by_id[i] for i in dict.fromkeys(args.ids)]
    model = document["model"]
    print(f"flat families of {args.catalog} (n = {model['n']}, m = {model['m']}): "
          f"{len(chosen)} of {len(entries)} entries")
    print("| id | L | verdict | zero modes observed / explained | tangent dimension at the "
          "point | family dimension | members kept at δ |")
    print("|---|---|---|---|---|---|---|")
    for done, entry in enumerate(chosen, 1):
        W, b = np.array(entry["W"], dtype=float), np.array(entry["b"], dtype=float)
        potential = TMSPotential.of(W[None])
        family = flat_family(potential, potential.flatten(W, b), seed=args.seed)
        zero = entry["evidence"]["zero_modes"]
        print(f"| `{entry['id']}` | {entry['loss']:.9f} | {entry['verdict']} | "
              f"{zero['observed']} / {zero['explained']} | {_shown(family.tangent_dimension)} | "
              f"{_shown(family.dimension)} | "
              f"{_kept(family.at_point)} |",
              flush=True)
        if not args.quiet:
            print(f"  family: {done}/{len(chosen)}", file=sys.stderr, flush=True)
    return 0


def _unexplained(entry: dict) -> int:
    zero = entry["evidence"]["zero_modes"]
    return zero["observed"] - zero["explained"]


def _kept(measurement) -> str:
    return ", ".join(f"{kept}/{measurement.starts} at {scale:g}"
                     for kept, scale in zip(measurement.members, measurement.scales))


def _shown(value: int | None) -> str:
    return "untested" if value is None else str(value)
