"""The JSON catalog of critical points: write (atomically), load and validate.

A catalog is one JSON object (see ``docs/catalog.md`` and the JSON Schema
``catalog/catalog.schema.json``, the same file as the packaged ``critpoints/schema/``):

    {"schema_name": "critpoints.catalog", "schema_version": 1,
     "generator": {"package": "critpoints", "version": ..., "command": ...},
     "model": {"kind": "tms-high-sparsity" | "linear-autoencoder", "n": ..., "m": ...},
     "critical_points": [ ... sorted by loss ... ]}

Loading checks, in order, that the file parses as strict JSON (no NaN or Infinity), that it
names this schema and its version, and that it satisfies the JSON Schema; the first failure
raises :class:`CatalogError` with a message that names the file and the offending field.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from importlib import resources
from typing import Any

from critpoints.io import dumps_json, write_text_atomic

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

SCHEMA_NAME = "critpoints.catalog"
SCHEMA_VERSION = 1


class CatalogError(ValueError):
    """A catalog file or document that cannot be used; the message says why."""


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema (draft 2020-12) of catalog documents of this version."""
    text = resources.files("critpoints.schema").joinpath("catalog.schema.json").read_text("utf-8")
    return json.loads(text)


def new_document(model: dict, critical_points: list[dict], command: str) -> dict:
    """A catalog document with the header fields filled in and the points sorted by loss."""
    from critpoints import __version__

    return {
        "schema_name": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "generator": {"package": "critpoints", "version": __version__, "command": command},
        "model": model,
        "critical_points": sorted(critical_points, key=lambda p: (p["loss"], p["label"])),
    }


def validate(document: Any, source: str = "catalog") -> None:
    """Raise :class:`CatalogError` unless ``document`` is a valid catalog of this version."""
    if not isinstance(document, dict):
        raise CatalogError(f"{source}: a catalog is a JSON object, not {type(document).__name__}")
    name = document.get("schema_name")
    if name != SCHEMA_NAME:
        raise CatalogError(f"{source}: schema_name is {name!r}, expected {SCHEMA_NAME!r}")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CatalogError(
            f"{source}: schema_version {version!r} is not supported "
            f"(this critpoints reads version {SCHEMA_VERSION})"
        )
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise CatalogError(f"{source}: invalid at {where}: {error.message}")


def _reject_constant(name: str):
    raise CatalogError(f"{name} is not allowed in a catalog (strict JSON numbers only)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # e.g. 1e400, which json would read as inf
        raise CatalogError(f"the number {text} overflows a double (finite numbers only)")
    return value


def load_catalog(path: str | os.PathLike) -> dict:
    """Read and validate a catalog file.

    Raises
    ------
    CatalogError
        The file is unreadable, not strict JSON, of another schema or version, or invalid.
    """
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle, parse_constant=_reject_constant,
                                 parse_float=_finite_float)
    except OSError as exc:
        raise CatalogError(f"{source}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{source}: not UTF-8 text (a catalog is a UTF-8 JSON file)") from None
    except RecursionError:
        raise CatalogError(f"{source}: nested too deeply to be a catalog") from None
    except CatalogError as exc:
        raise CatalogError(f"{source}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{source}: not valid JSON: {exc}") from None
    validate(document, source)
    return document


def write_catalog(path: str | os.PathLike, document: dict) -> None:
    """Validate ``document`` and write it atomically (temp file + rename) to ``path``."""
    validate(document, os.fspath(path))
    write_text_atomic(path, dumps_json(document))
