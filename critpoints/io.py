"""Small file helpers shared by the catalog and the CLI: atomic writes, and one JSON reader.

Every input file is read through :func:`read_json`: any problem (unreadable, not UTF-8, not
strict JSON) becomes an :class:`InputFileError` whose one-line message names the file; shape
checks of the caller raise the same error with :func:`input_error`, naming the field.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class InputFileError(ValueError):
    """An input file that cannot be used; the message names the file (and field) and says why."""


class _NotStrictJSON(ValueError):
    pass


def _reject_constant(name: str):
    raise _NotStrictJSON(f"{name} is not allowed: strict JSON has no non-finite numbers")


def read_json(path: str | os.PathLike) -> Any:
    """The JSON document in ``path`` (strict: NaN and Infinity are refused).

    Raises
    ------
    InputFileError
        The file is missing, unreadable, a directory, not UTF-8 or not strict JSON.
    """
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle, parse_constant=_reject_constant)
    except IsADirectoryError:
        raise InputFileError(f"{source}: is a directory, not a file") from None
    except OSError as exc:
        raise InputFileError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except _NotStrictJSON as exc:
        raise InputFileError(f"{source}: {exc}") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{source}: not a UTF-8 text file") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{source}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InputFileError(f"{source}: not valid JSON ({exc})") from None


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename.

    Readers see the old file or the new one, never half of one; on error nothing is left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates files private (0600); a catalog is meant to be read by others.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_json(document: Any) -> str:
    """Deterministic JSON text: sorted keys off (the document's order is meaningful), 1-space
    indent, NaN refused, trailing newline."""
    return json.dumps(document, indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def write_json_atomic(path: str | os.PathLike, document: Any) -> None:
    write_text_atomic(path, dumps_json(document))
