"""Command-line interface: ``python -m critpoints COMMAND ...``.

Each command lives in its own module ``critpoints.cli.<name>`` exposing ``register(subparsers)``
(adds its parser and sets ``func``) and is imported only when the parser is built. The modules
parse, call the library and print; no mathematics lives here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Command modules, in the order ``--help`` lists them.
COMMANDS = (
    "enumerate",
    "evaluate",
    "derive",
    "certify",
    "kgon-existence",
    "linear",
    "transitions",
    "llc",
    "phases",
    "plot",
    "docs",
)


class UsageError(Exception):
    """Bad input from the user: reported as one line on stderr with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from critpoints import __version__

    parser = _Parser(prog="critpoints", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"critpoints {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMANDS:
        importlib.import_module(f"critpoints.cli.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"critpoints {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
