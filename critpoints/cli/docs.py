"""``critpoints docs``: check or regenerate the sympy-generated section of docs/potential.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from critpoints.cli import UsageError
from critpoints.cli.options import path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "docs",
        help="check (or with --write regenerate) the derivation section of docs/potential.md",
        description="Render the region formulas of the TMS building blocks P and Q and their "
        "boundary jumps from the sympy derivation as Markdown/LaTeX, and compare them with the "
        "generated section of docs/potential.md (exit 1 if it is stale), or rewrite it.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the generated section")
    parser.add_argument("--file", type=path, default=Path("docs/potential.md"),
                        help="the page to check or rewrite (default docs/potential.md)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from critpoints.io import write_text_atomic
    from critpoints.tms.report import update_document

    if not args.file.is_file():
        reason = "is a directory" if args.file.is_dir() else "no such file"
        raise UsageError(f"{args.file}: {reason}")
    try:
        current = args.file.read_text(encoding="utf-8")
        updated = update_document(current)
        if args.write:
            if updated != current:
                write_text_atomic(args.file, updated)
            print(f"wrote {args.file}" if updated != current else f"{args.file} is up to date")
            return 0
    except ValueError as exc:  # no generated section, or not UTF-8 text
        raise UsageError(f"{args.file}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot read or write: {exc.strerror or exc}") from None
    if updated != current:
        print(f"{args.file} differs from the derivation: run `python -m critpoints docs --write`",
              file=sys.stderr)
        return 1
    print(f"{args.file} is up to date")
    return 0
