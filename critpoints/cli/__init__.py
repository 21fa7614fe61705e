"""Command-line interface: ``python -m critpoints COMMAND ...``.

Each command lives in its own module ``critpoints.cli.<name>`` exposing ``register(subparsers)``
(adds its parser and sets ``func``) and is imported only when the parser is built. The modules
parse, call the library and print; no mathematics lives here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Command modules, in the order ``--help`` lists them.
COMMANDS = (
    "enumerate",
    "census",
    "evaluate",
    "derive",
    "certify",
    "family",
    "kgon-existence",
    "sparsity-branches",
    "linear",
    "transitions",
    "landscape",
    "llc",
    "phases",
    "phase-diagram",
    "limits",
    "plot",
    "docs",
)


class UsageError(Exception):
    """Bad input from the user: reported as one line on stderr with exit status 2."""


class _HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default: ``(default: X)`` is appended unless the help text already
    names its default or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS))
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # argparse's own errors: one line, status 2
        if message.endswith("expected one argument"):
            # argparse reads a value such as -1e3 or -inf as an option name
            message += " (for a value starting with '-', write --option=VALUE)"
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from critpoints import __version__

    parser = _Parser(
        prog="critpoints",
        description="Find, prove and explain the critical points of small neural-network loss "
        "landscapes (python -m critpoints COMMAND --help for each command).",
    )
    parser.add_argument("--version", action="version", version=f"critpoints {__version__}")
    # Not `required=True`: argparse would then answer `critpoints --bogus` with "COMMAND is
    # required" instead of naming the unknown option; main() checks for the command itself.
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"critpoints.cli.{name.replace('-', '_')}").register(subparsers)
    return parser


#: BLAS thread pools (OpenBLAS, MKL, OpenMP) that the commands hold to one thread per process.
_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def _one_blas_thread() -> None:
    """BLAS and LAPACK on one thread per process, unless the user set a thread count.

    The commands' linear algebra is batches of small matrices (Hessians of dimension ≤ 3n), and
    the parallel commands already run one process per core: BLAS threads on top only contend
    (and spin). Measured on the 2-core machine under load: eigh of 490 symmetric matrices of
    dimension 96 took 20.5 s of CPU with OpenBLAS's default 2 threads, 0.65 s with one; the
    batched product H @ H 1.35 s against 0.05 s. The variables reach a BLAS not loaded yet and
    every worker process; threadpoolctl sets one already loaded (tests call main() in-process).
    """
    if any(variable in os.environ for variable in _BLAS_THREAD_VARIABLES):
        return
    for variable in _BLAS_THREAD_VARIABLES:
        os.environ[variable] = "1"
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status is 0 (success), 1 (a check failed), 2 (bad usage or
    input: one line on stderr, no traceback) or 130 (interrupted with Ctrl-C)."""
    _one_blas_thread()
    from critpoints.documents import DocumentError
    from critpoints.io import OutputError

    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
            if args.command is None:
                parser.error(f"a COMMAND is required, one of: {', '.join(COMMANDS)}")
        except SystemExit as exc:  # argparse: --help, --version or a usage error (printed)
            return exc.code if isinstance(exc.code, int) else 0
        return int(args.func(args) or 0)
    # DocumentError: any unusable input file; OutputError: an output that could not be written
    except (UsageError, DocumentError, OutputError) as exc:
        command = getattr(locals().get("args"), "command", None)
        print(f"critpoints {command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ncritpoints: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
