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
"""

from __future__ import annotations

import os
from typing import Any

from critpoints import documents
from critpoints.documents import DocumentError

__all__ = [
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "CatalogError",
    "schema",
    "validate",
    "write_catalog",
    "load_catalog",
    "new_document",
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
