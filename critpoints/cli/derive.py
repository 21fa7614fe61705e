"""``critpoints derive``: re-derive the TMS building blocks with sympy and (re)write the code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from critpoints.io import write_text_atomic


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "derive",
        help="re-derive the potential with sympy; check or rewrite the generated code",
        description="Derive the region formulas of the TMS building blocks P and Q with sympy "
        "and compare them with critpoints/tms/_generated.py (default), or rewrite that file.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the generated module")
    parser.set_defaults(func=run)


def generated_path() -> Path:
    import critpoints.tms

    return Path(critpoints.tms.__file__).with_name("_generated.py")


def run(args: argparse.Namespace) -> int:
    from critpoints.tms.symbolic import generated_source

    source = generated_source()
    path = generated_path()
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if args.write:
        if current != source:
            write_text_atomic(path, source)
            print(f"wrote {path}")
        else:
            print(f"{path} is up to date")
        return 0
    if current == source:
        print(f"{path} is up to date")
        return 0
    print(f"{path} differs from the derivation: run `python -m critpoints derive --write`",
          file=sys.stderr)
    return 1
