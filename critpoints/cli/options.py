"""Typed, range-checked command-line values: every argparse ``type=`` of the commands lives here.

Each factory returns a function ``str → value`` that raises :class:`argparse.ArgumentTypeError`
with a one-line reason; argparse turns it into ``critpoints COMMAND: error: argument --x: ...``
and exit status 2 before any computation starts. Numbers are finite (no ``nan``, ``inf``),
seeds are non-negative, and every size has an upper limit chosen so that a run within it fits
in memory and ends; the limits are named constants below, each with the reason for its value.

Output paths are checked here too (:func:`output_file`, :func:`check_output_file`): a path that
names a directory, lies under a regular file or in a folder that cannot be written is refused
before the computation, not after it.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from fractions import Fraction
from pathlib import Path

__all__ = [
    "FIGURE_SUFFIXES",
    "IMPORTANCE_RANGE",
    "MAX_CHAIN_STEPS",
    "MAX_DIGITS",
    "MAX_ENUMERATE_FEATURES",
    "MAX_FEATURES",
    "MAX_FULL_LANGUAGE_FEATURES",
    "MAX_RUN_STEPS",
    "MAX_SAMPLES",
    "MAX_SEED",
    "MAX_SPARSE_FEATURES",
    "check_output_file",
    "check_scheduler",
    "figure_file",
    "fraction",
    "importance_list",
    "integer",
    "label_value",
    "missing_ids",
    "output_directory",
    "output_file",
    "path",
    "real",
    "renamed",
    "sample_range",
    "seed",
    "whole",
]

#: numpy's ``default_rng`` takes any non-negative integer; 2**63 − 1 keeps seeds printable
#: and storable as a JSON integer every reader understands.
MAX_SEED = 2**63 - 1
#: Features n of the TMS commands (llc, phases, transitions): the catalogs and the SGD sweep are
#: built for small models; 64 keeps one run's parameters (3n) and data (N·n) small.
MAX_FEATURES = 64
#: ``enumerate --n``: measured 36 s at n = 12 and 451 s at n = 16 (docs/kgons.md, "Speed"), a
#: factor ≈ 1.9 per feature; n = 20 extrapolates to ≈ 1.5 h, n = 24 to a day, so 20 is the
#: largest n that ends in reasonable time.
MAX_ENUMERATE_FEATURES = 48
#: Above this n the whole pattern language is too large to list: --max-dead-vertices is required.
MAX_FULL_LANGUAGE_FEATURES = 20
#: Data-set sizes / sample sizes N that are drawn (n floats each): 5·10⁶ samples of n = 64
#: features are 2.6 GB of float64, the most a laptop holds.
MAX_SAMPLES = 5_000_000
#: Runs × steps of a transitions sweep: measured 1.2·10⁵ run-steps/s (100 runs, n = 6, one
#: worker, shared 2-core machine), so 10¹⁰ run-steps take about a day (the paper's sweep,
#: 500 × 225 000, is 1.1·10⁸: a quarter of an hour).
MAX_RUN_STEPS = 10**10
#: llc keeps a trace of chains × steps floats: 10⁸ of them are 800 MB.
MAX_CHAIN_STEPS = 10**8
#: Features n of the finite-sparsity potential (``evaluate --sparsity``): its cost grows like
#: n·3ⁿ; measured (docs/sparsity.md, CPU seconds) the Hessian takes 2 s at n = 8 and 29 s at
#: n = 10, and grows about 15× per two features (n = 12: some 7 minutes), so 10 is the largest
#: n evaluated.
MAX_SPARSE_FEATURES = 10
#: mpmath digits of the verifications: 1000 digits already take minutes per point.
MAX_DIGITS = 1000


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def integer(lo: int | None = None, hi: int | None = None, why: str = ""):
    """An integer in ``[lo, hi]`` (either end may be open: ``None``); ``why`` explains ``hi``."""

    def parse(text: str) -> int:
        value = _int(text)
        if lo is not None and value < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {value}")
        if hi is not None and value > hi:
            reason = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(f"must be at most {hi}{reason}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in "invalid integer value" messages
    return parse


def whole(lo: int, hi: int, why: str = ""):
    """A whole number in ``[lo, hi]`` that may be written as a float (``1e6``, ``2000.0``)."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            number = _finite(text)
            if number != int(number):
                raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
            value = int(number)
        return integer(lo, hi, why)(str(value))

    parse.__name__ = "whole number"
    return parse


def _finite(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    # -0 is 0: a file name or a generated command must not say "S-0"
    return value + 0.0


def real(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    why: str = "",
):
    """A finite float in the interval from ``lo`` to ``hi`` (closed ends unless ``*_open``)."""

    def parse(text: str) -> float:
        value = _finite(text)
        if lo is not None and (value <= lo if lo_open else value < lo):
            bound = "greater than" if lo_open else "at least"
            raise argparse.ArgumentTypeError(f"must be {bound} {lo:g}, got {text}")
        if hi is not None and (value >= hi if hi_open else value > hi):
            bound = "less than" if hi_open else "at most"
            reason = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(f"must be {bound} {hi:g}{reason}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def number_list(item, *, limit: int = 16):
    """A comma-separated list of values parsed by ``item`` (at most ``limit`` of them)."""

    def parse(text: str) -> list:
        parts = [p.strip() for p in text.split(",")]
        if not text.strip() or any(not p for p in parts):
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        if len(parts) > limit:
            raise argparse.ArgumentTypeError(f"at most {limit} values, got {len(parts)}")
        return [item(p) for p in parts]

    parse.__name__ = "list"
    return parse


def missing_ids(requested, entries) -> list[str]:
    """The ids of ``requested`` (in order) that no entry of ``entries`` has."""
    known = {entry["id"] for entry in entries}
    return [i for i in requested if i not in known]


def split_ids(text: str) -> list[str]:
    """Catalog ids separated by commas outside braces: ids such as ``4++--{0,1}`` (which dead
    vertex pair) contain commas of their own."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        depth += (char == "{") - (char == "}")
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def id_list(*, limit: int = 1000):
    """A comma-separated list of catalog ids (commas inside braces belong to the id)."""

    def parse(text: str) -> list[str]:
        parts = split_ids(text)
        if not text.strip() or any(not p for p in parts):
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        if len(parts) > limit:
            raise argparse.ArgumentTypeError(f"at most {limit} values, got {len(parts)}")
        return parts

    parse.__name__ = "list"
    return parse


def real_or_auto(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False):
    """``auto`` (returned as None) or a finite number in the interval from ``lo`` to ``hi``."""
    number = real(lo, hi, lo_open=lo_open)

    def parse(text: str) -> float | None:
        return None if text.strip() == "auto" else number(text)

    parse.__name__ = "number or auto"
    return parse


def fraction(lo: float, hi: float):
    """A number or a fraction such as ``1/6`` in ``[lo, hi]``, returned as a float."""

    def parse(text: str) -> float:
        try:
            value = float(Fraction(text.strip()))
        except (ValueError, ZeroDivisionError, OverflowError):
            raise argparse.ArgumentTypeError(
                f"expected a number or a fraction such as 1/6, got {text!r}"
            ) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must lie in [{lo:g}, {hi:g}], got {text}")
        return value

    parse.__name__ = "fraction"
    return parse


#: Feature importances are weights of order one (the paper's decays reach 0.7¹⁹ ≈ 1e-3 at
#: n = 20); beyond this range the float64 sums overflow or the small weights vanish under the
#: others' rounding.
IMPORTANCE_RANGE = (1e-6, 1e6)


def importance_list(text: str) -> tuple[float, ...]:
    """``X1,X2,...``: a non-empty comma-separated list of finite numbers in
    :data:`IMPORTANCE_RANGE` (the feature importances)."""
    lo, hi = IMPORTANCE_RANGE
    parts = text.split(",")
    values = []
    for part in parts:
        value = _finite(part.strip())
        if not value > 0:
            raise argparse.ArgumentTypeError(f"every entry must be positive, got {part.strip()!r}")
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"every entry must lie in [{lo:g}, {hi:g}] (importances are weights of order one),"
                f" got {part.strip()!r}")
        values.append(value)
    return tuple(values)


importance_list.__name__ = "list"


#: A random seed: a non-negative integer.
seed = integer(0, MAX_SEED)


def sample_range(lo_min: float, hi_max: float, count_max: int, default_count: int = 16):
    """``LO:HI[:COUNT]`` → (lo, hi, count): integers ``lo_min ≤ LO < HI ≤ hi_max``, COUNT in
    [2, count_max] (default ``default_count``)."""

    def parse(text: str) -> tuple[int, int, int]:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise argparse.ArgumentTypeError(f"expected LO:HI or LO:HI:COUNT, got {text!r}")
        values = []
        for part in parts:
            try:
                number = float(part)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected numbers in {text!r}") from None
            if not math.isfinite(number) or number != int(number):
                raise argparse.ArgumentTypeError(
                    f"LO, HI and COUNT are whole numbers (sample sizes), got {part!r} in {text!r}"
                )
            values.append(int(number))
        lo, hi = values[:2]
        count = values[2] if len(values) == 3 else default_count
        if not lo_min <= lo < hi <= hi_max:
            raise argparse.ArgumentTypeError(
                f"needs {lo_min:g} ≤ LO < HI ≤ {hi_max:g}, got {text!r}"
            )
        if not 2 <= count <= count_max:
            raise argparse.ArgumentTypeError(f"COUNT must lie in [2, {count_max}], got {count}")
        return lo, hi, count

    parse.__name__ = "range"
    return parse


def renamed(old: str, new: str, metavar: str):
    """The ``type=`` of a retired option spelling: always refuses, naming the new one."""

    def parse(text: str):
        raise argparse.ArgumentTypeError(f"{old} was renamed: use {new} {metavar}")

    parse.__name__ = "renamed"
    return parse


def label_value(text: str) -> tuple[str, float]:
    """``ID=VALUE`` with a non-negative finite VALUE → (ID, VALUE)."""
    key, sep, value = text.partition("=")
    try:
        number = _finite(value)
    except argparse.ArgumentTypeError:
        number = math.nan
    if not sep or not key or not number >= 0:
        raise argparse.ArgumentTypeError(f"expected ID=VALUE with a finite VALUE ≥ 0, got {text!r}")
    return key, number


def _nearest_existing(path: Path) -> Path:
    current = path.parent
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def output_problem(path: Path, *, directory: bool = False) -> str | None:
    """Why ``path`` cannot be written (as a file, or as a directory to write into), or None.

    The reason does not repeat ``path``; callers name it once."""
    if directory:
        if path.exists() and not path.is_dir():
            return "exists and is not a directory"
        target = path if path.is_dir() else _nearest_existing(path)
    else:
        if path.is_dir():
            return "is a directory"
        if path.exists() and not path.is_file():
            # the atomic write would replace a device or FIFO by a regular file
            return "exists and is not a regular file"
        if path.exists() and not os.access(path, os.W_OK):
            return "exists and is not writable"
        target = _nearest_existing(path)
    if not target.is_dir():
        return f"cannot be created: {target} is a file, not a directory"
    if not os.access(target, os.W_OK | os.X_OK):
        return f"cannot be created: no permission to write in {target}"
    # os.access trusts the permission bits, which root passes everywhere: a read-only mount or
    # /proc only refuses the file itself, so try one (the atomic write's own temporary name).
    try:
        handle, probe = tempfile.mkstemp(dir=target, prefix=".critpoints-", suffix=".tmp")
    except OSError as exc:
        return f"cannot be created in {target}: {exc.strerror or exc}"
    os.close(handle)
    os.unlink(probe)
    return None


def path(text: str) -> Path:
    """A non-empty path (``Path("")`` would silently mean the working directory)."""
    if not text:
        raise argparse.ArgumentTypeError("the path is empty")
    return Path(text)


def output_file(text: str) -> Path:
    """An output file path that can be written (checked before the computation starts)."""
    if not text:  # Path("") is ".", the working directory
        raise argparse.ArgumentTypeError("the path is empty")
    path = Path(text)
    problem = output_problem(path)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r} {problem}")
    return path


#: The formats a figure is written in (critpoints.plot.save_figure).
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def figure_file(text: str) -> Path:
    """An output file for a figure: writable, and ending in one of :data:`FIGURE_SUFFIXES`."""
    path = output_file(text)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the suffix must be {', '.join(FIGURE_SUFFIXES[:-1])} or "
            f"{FIGURE_SUFFIXES[-1]}")
    return path


figure_file.__name__ = "figure path"


def output_directory(text: str) -> Path:
    """A directory to write files into (created if missing)."""
    if not text:
        raise argparse.ArgumentTypeError("the path is empty")
    path = Path(text)
    problem = output_problem(path, directory=True)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r} {problem}")
    return path


def check_output_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """Raise :class:`~critpoints.cli.UsageError` unless ``path`` (a default output, not parsed
    by argparse) can be written; call it before the computation."""
    from critpoints.cli import UsageError

    path = Path(path)
    problem = output_problem(path)
    if problem:
        raise UsageError(f"{option} {str(path)!r} {problem}")
    return path


def tms_catalog(path, n: int | None, m: int | None = None, *, check_parameters: bool = True):
    """The TMS catalog document at ``path`` (default: the built-in one for n features, m = 2),
    refused with a one-line usage error if it is another kind or, when ``n`` is given,
    another n (or, when ``m`` is given, another hidden dimension); returns
    ``(path, document)``. Unreadable or invalid files raise the loader's DocumentError, which
    the commands report in one line too."""
    from critpoints.catalog import default_catalog_path, load_catalog
    from critpoints.cli import UsageError

    path = path or default_catalog_path(n)
    document = load_catalog(path, check_parameters=check_parameters)
    model = document["model"]
    if n is None and model.get("kind") != "tms-high-sparsity":
        raise UsageError(f"{path} is a {model.get('kind')} catalog, not a TMS catalog "
                         "(kind tms-high-sparsity)")
    if n is not None and (model.get("kind") != "tms-high-sparsity" or model.get("n") != n):
        raise UsageError(f"{path} is a {model.get('kind')} catalog for n = {model.get('n')}, "
                         f"not a TMS catalog for --n {n}")
    if m is not None and model.get("m") != m:
        raise UsageError(f"{path} is a catalog for m = {model.get('m')}, not for --hidden {m}")
    return path, document


#: How long --scheduler may take to answer before the command gives up (seconds).
SCHEDULER_TIMEOUT = 10


def check_scheduler(address: str | None) -> None:
    """Check that dask is installed and that a client connects to the Dask scheduler at
    ``address`` (if not None) within :data:`SCHEDULER_TIMEOUT` seconds: a bad address or an
    absent scheduler is a one-line usage error before the computation, not a traceback after
    a 30-second wait."""
    from critpoints.cli import UsageError

    if address is None:
        return
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs dask: pip install 'critpoints[dask]'") from None
    try:
        with Client(address, timeout=SCHEDULER_TIMEOUT):
            pass
    except (OSError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"--scheduler {address!r}: cannot connect: {reason}") from None

