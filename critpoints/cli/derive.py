"""``critpoints derive``: re-derive the generated code with sympy; check it is current or
rewrite it.

Three generated modules (derive once, read at run time without sympy), two from
:mod:`critpoints.tms.symbolic` and one from :mod:`critpoints.tms.sparse_symbolic`:

- ``critpoints/tms/_generated.py``: the region formulas of the building blocks P and Q and their
  derivatives (the potential's evaluators, the exact and the interval checks);
- ``critpoints/tms/_polygon_generated.py``: the same blocks with a = xκ, c = xs split into their
  parts of degree 1 and 2 in x (the reduced regular polygon problem: the enumerator and the
  proofs);
- ``critpoints/tms/_sparse_generated.py``: the one-dimensional integration-by-parts rules of the
  cube moments of the finite-sparsity potential (SPEC §8).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from critpoints.io import write_text_atomic


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "derive",
        help="re-derive the potential with sympy; check or rewrite the generated code",
        description="Derive the region formulas of the TMS building blocks P and Q, and their "
        "regular polygon reduction, and the cube-moment rules of the finite-sparsity potential "
        "with sympy and compare them with critpoints/tms/_generated.py, "
        "critpoints/tms/_polygon_generated.py and critpoints/tms/_sparse_generated.py "
        "(default: exit 1 "
        "naming every stale file), or rewrite those files.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the generated modules")
    parser.set_defaults(func=run)


def generated_sources() -> dict[Path, str]:
    """``{path of a generated module: its text derived now}`` for every generated module."""
    import critpoints.tms
    from critpoints.tms.sparse_symbolic import generated_source as sparse_generated_source
    from critpoints.tms.symbolic import generated_source, polygon_generated_source

    folder = Path(critpoints.tms.__file__).parent
    return {
        folder / "_generated.py": generated_source(),
        folder / "_polygon_generated.py": polygon_generated_source(),
        folder / "_sparse_generated.py": sparse_generated_source(),
    }


def stale_files() -> list[Path]:
    """The generated modules whose committed text differs from the derivation (or are missing)."""
    return [path for path, source in generated_sources().items()
            if not path.exists() or path.read_text(encoding="utf-8") != source]


def run(args: argparse.Namespace) -> int:
    stale = 0
    for path, source in generated_sources().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == source:
            print(f"{path} is up to date")
        elif args.write:
            write_text_atomic(path, source)
            print(f"wrote {path}")
        else:
            print(f"{path} differs from the derivation: run `python -m critpoints derive --write`",
                  file=sys.stderr)
            stale += 1
    return 1 if stale else 0
