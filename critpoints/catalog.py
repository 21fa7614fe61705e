"""The JSON catalog of critical points: write (atomically), load and validate.

A catalog is one JSON object (see ``docs/catalog.md`` and the JSON Schema
``catalog/catalog.schema.json``, the same file as the packaged ``critpoints/schema/``):

    {"schema_name": "critpoints.catalog", "schema_version": 1,
     "generator": {"package": "critpoints", "version": ..., "command": ...},
     "model": {"kind": "tms-high-sparsity" | "linear-autoencoder", "n": ..., "m": ...},
     "critical_points": [ ... sorted by loss ... ]}

Loading checks, in order, that the file parses as strict JSON (no NaN or Infinity, no number
that overflows a double), that it names this schema and its version, and that it satisfies the
JSON Schema; the first failure raises :class:`CatalogError` with a message that names the file
and the offending field. The checks are those of every critpoints document
(:mod:`critpoints.documents`); :class:`CatalogError` is :class:`~critpoints.documents.DocumentError`.

The committed catalogs (the repository's ``catalog/`` folder) ship with the package as
``critpoints/_catalogs/`` (pyproject.toml maps that folder into the wheel; there is one copy of
each file in the repository). :func:`builtin_path` and :func:`load_builtin` find them from any
working directory, installed or run from a checkout; :func:`default_catalog_path` is what the
commands use when no ``--catalog`` is given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from critpoints import documents
from critpoints.documents import DocumentError

__all__ = [
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "CatalogError",
    "builtin_path",
    "default_catalog_path",
    "default_file",
    "load_builtin",
    "load_catalog",
    "new_document",
    "schema",
    "validate",
    "write_catalog",
]

SCHEMA_NAME = documents.CATALOG
SCHEMA_VERSION = documents.DOCUMENT_TYPES[SCHEMA_NAME].version

#: A catalog file or document that cannot be used; the message says why (the same class as
#: :class:`critpoints.documents.DocumentError`, raised for every critpoints document).
CatalogError = DocumentError


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of catalog documents of this version."""
    return documents.schema(SCHEMA_NAME)


def new_document(model: dict, critical_points: list[dict], command: str) -> dict:
    """A catalog document with the header fields filled in and the points sorted by loss."""
    from critpoints import __version__

    return documents.new_document(SCHEMA_NAME, {
        "generator": {"package": "critpoints", "version": __version__, "command": command},
        "model": model,
        "critical_points": sorted(critical_points, key=lambda p: (p["loss"], p["label"])),
    })


def validate(document: Any, source: str = "catalog") -> None:
    """Raise :class:`CatalogError` unless ``document`` is a valid catalog of this version."""
    documents.validate(document, source, SCHEMA_NAME)


def load_catalog(path: str | os.PathLike) -> dict:
    """Read and validate a catalog file.

    Raises
    ------
    CatalogError
        The file is unreadable, not strict JSON, of another schema or version, or invalid.
    """
    return documents.load_document(path, SCHEMA_NAME)


def write_catalog(path: str | os.PathLike, document: dict) -> None:
    """Validate ``document`` and write it atomically (temp file + rename) to ``path``."""
    documents.write_document(path, document, SCHEMA_NAME)


def _builtin_directory() -> Path:
    package = Path(__file__).resolve().parent
    # Installed from a wheel: the package data folder. From a checkout (editable install or
    # PYTHONPATH): the repository's catalog/ folder, which is what the wheel copies.
    for candidate in (package / "_catalogs", package.parent / "catalog"):
        if candidate.is_dir():
            return candidate
    raise CatalogError(f"no built-in catalogs found beside {package}")


def builtin_path(name: str) -> Path:
    """The path of the committed file ``name`` (e.g. ``"tms-n6-m2.json"``) shipped with critpoints.

    Raises
    ------
    CatalogError
        No such file ships with this installation (the message lists those that do).
    """
    directory = _builtin_directory()
    path = directory / name
    if Path(name).name != name or not path.is_file():
        shipped = sorted(p.name for p in directory.glob("tms-n*-m2.json"))
        raise CatalogError(f"no built-in file {name!r}; built-in catalogs: {', '.join(shipped)}")
    return path


def load_builtin(n: int, m: int = 2) -> dict:
    """The committed TMS catalog for ``n`` features and hidden dimension ``m``, validated.

    Examples
    --------
    >>> from critpoints.catalog import load_builtin
    >>> load_builtin(6)["model"]["n"]
    6
    """
    return load_catalog(builtin_path(f"tms-n{n}-m{m}.json"))


def default_file(name: str) -> Path:
    """``catalog/<name>`` under the working directory if it exists (e.g. just written by
    ``enumerate``), else the built-in file of that name: what commands read by default."""
    local = Path("catalog") / name
    if local.is_file():
        return local
    return builtin_path(name)


def default_catalog_path(n: int, m: int = 2) -> Path:
    """The catalog a command reads when no ``--catalog`` is given (see :func:`default_file`)."""
    return default_file(f"tms-n{n}-m{m}.json")
