"""Small file helpers shared by the catalog and the CLI: atomic writes only."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class OutputError(OSError):
    """An output file could not be written (the commands report it in one line, exit 2)."""


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename.

    Readers see the old file or the new one, never half of one; on error nothing is left behind.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        # mkstemp creates files private (0600); a catalog is meant to be read by others.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise


def dumps_json(document: Any) -> str:
    """Deterministic JSON text: sorted keys off (the document's order is meaningful), 1-space
    indent, NaN refused, trailing newline."""
    return json.dumps(document, indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def write_json_atomic(path: str | os.PathLike, document: Any) -> None:
    write_text_atomic(path, dumps_json(document))
