"""The file store: reading and writing critpoints documents, and finding the shipped files.

Everything here touches the file system; the documents themselves (their types, schemas,
migration and validation, building a catalog, the :class:`~critpoints.catalog.Catalog` record)
are pure and live in :mod:`critpoints.documents` and :mod:`critpoints.catalog`. The mathematics
(``tms``, ``solve``, ``kgon``, ``proofs``, ``slt``, ``dynamics``, ``linear``) never imports this
module; the commands (``critpoints.cli``) and :mod:`critpoints.transition_store` do.

Reading (:func:`read_json`, :func:`load_document`, :func:`load_catalog`) checks, in order, that
the file is readable and UTF-8, that it is strict JSON (:func:`critpoints.documents.loads_strict`),
migrates an older version (:func:`critpoints.documents.migrate`) and validates the result; every
failure is one :class:`~critpoints.documents.DocumentError` naming the file and the field.
Writing (:func:`write_document`, :func:`write_catalog`) validates first and then replaces the
file atomically (:func:`critpoints.io.write_text_atomic`), so an invalid document or an
interruption leaves the old file as it was.

The committed files (the repository's ``catalog/`` folder) ship with the package as
``critpoints/_catalogs/`` (pyproject.toml maps the folder into the wheel; one copy of each file
in the repository): :func:`builtin_path` and :func:`load_builtin` find them from any working
directory, installed or run from a checkout; :func:`default_file` and
:func:`default_catalog_path` are what the commands read when no path is given.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from critpoints import documents
from critpoints.documents import CATALOG, DocumentError
from critpoints.io import dumps_json, write_text_atomic

__all__ = [
    "builtin_feature_counts",
    "builtin_path",
    "default_catalog_path",
    "default_file",
    "file_sha256",
    "load_builtin",
    "load_catalog",
    "load_document",
    "read_input_bytes",
    "read_json",
    "write_catalog",
    "write_document",
]


# ----------------------------------------------------------------------------------------------
# Any document


#: The largest input file read (the n = 32 catalog is 10 MB): a larger one is refused before
#: it is read, as is anything that is not a regular file (a FIFO would block, /dev/zero never
#: ends).
MAX_INPUT_BYTES = 256 * 2**20


def read_input_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of the input file ``path``, after checking that it is a regular file of at
    most :data:`MAX_INPUT_BYTES`.

    Raises
    ------
    DocumentError
        Missing, a directory or another non-regular file, too large, or unreadable.
    """
    source = os.fspath(path)
    try:
        status = os.stat(path)
    except OSError as exc:
        raise DocumentError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(status.st_mode):
        raise DocumentError(f"{source}: is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise DocumentError(f"{source}: is not a regular file (a device, FIFO or socket)")
    if status.st_size > MAX_INPUT_BYTES:
        raise DocumentError(f"{source}: {status.st_size / 2**20:.0f} MiB, larger than the "
                            f"{MAX_INPUT_BYTES // 2**20} MiB an input file may be")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise DocumentError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:  # it grew after the size check
        raise DocumentError(f"{source}: larger than the {MAX_INPUT_BYTES // 2**20} MiB an input "
                            "file may be")
    return data


def read_json(path: str | os.PathLike) -> Any:
    """The strict JSON (see :func:`critpoints.documents.loads_strict`) in the file ``path``, of
    any shape: the one reader of every input file, documents (:func:`load_document`) and plain
    inputs alike (the point of ``critpoints evaluate``, the Σ of ``critpoints linear``).

    Raises
    ------
    DocumentError
        Missing, a directory, unreadable, not UTF-8 or not strict JSON (the message names the
        file).
    """
    source = os.fspath(path)
    try:
        text = read_input_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{source}: not UTF-8 text: {exc.reason}") from None
    return documents.loads_strict(text, source)


def load_document(path: str | os.PathLike, name: str | None = None) -> dict:
    """Read a critpoints JSON file: strict JSON, migrated to the current version, validated.

    Parameters
    ----------
    path : path-like
        The file.
    name : str, optional
        The expected ``schema_name`` (e.g. :data:`critpoints.documents.PHASES`); any known type
        when omitted.

    Returns
    -------
    dict
        The document at the current version of its type (older files migrated in memory).

    Raises
    ------
    DocumentError
        Unreadable, not strict JSON, of another type, of an unknown version, or invalid.
    """
    return documents.check_document(read_json(path), os.fspath(path), name, parsed_strict=True)


def write_document(path: str | os.PathLike, document: dict, name: str | None = None) -> None:
    """Validate ``document`` (of type ``name`` when given) and write it atomically (temporary
    file + rename) to ``path``; an invalid document leaves the file as it was."""
    documents.validate(document, os.fspath(path), name)
    write_text_atomic(path, dumps_json(document))


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes: how a derived document names the exact catalog it was
    made from (a families file, :mod:`critpoints.tms.families`)."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------------------
# Catalogs


def load_catalog(path: str | os.PathLike, *, check_parameters: bool = True) -> dict:
    """Read and validate a catalog file (the document; :meth:`critpoints.catalog.Catalog.load`
    gives the record). With ``check_parameters`` (default) every TMS entry's W and b must also
    have the model's shape and finite entries of order one
    (:func:`critpoints.catalog.check_tms_parameters`); ``certify`` reads without it and reports
    such entries one by one.

    Raises
    ------
    DocumentError
        The file is unreadable, not strict JSON, of another schema or version, or invalid.
    """
    document = load_document(path, CATALOG)
    if check_parameters and str(document["model"]["kind"]).startswith("tms"):
        from critpoints.catalog import check_tms_parameters

        check_tms_parameters(document["critical_points"], document["model"]["m"],
                             document["model"]["n"], os.fspath(path))
    return document


def write_catalog(path: str | os.PathLike, document: dict) -> None:
    """Validate the catalog ``document`` and write it atomically (temp file + rename) to
    ``path``."""
    write_document(path, document, CATALOG)


# ----------------------------------------------------------------------------------------------
# Files shipped with the package


def _builtin_directory() -> Path:
    package = Path(__file__).resolve().parent
    # Installed from a wheel: the package data folder. From a checkout (editable install or
    # PYTHONPATH): the repository's catalog/ folder, which is what the wheel copies.
    for candidate in (package / "_catalogs", package.parent / "catalog"):
        if candidate.is_dir():
            return candidate
    raise DocumentError(f"no built-in catalogs found beside {package}")


def builtin_path(name: str) -> Path:
    """The path of the committed file ``name`` (e.g. ``"tms-n6-m2.json"``) shipped with critpoints.

    Raises
    ------
    DocumentError
        No such file ships with this installation (the message lists the catalogs that do).
    """
    directory = _builtin_directory()
    path = directory / name
    if Path(name).name != name or not path.is_file():
        shipped = sorted(p.name for p in directory.glob("tms-n*-m2.json"))
        raise DocumentError(f"no built-in file {name!r}; built-in catalogs: {', '.join(shipped)}")
    return path


def builtin_feature_counts(m: int = 2) -> list[int]:
    """The n of every committed one-hot TMS catalog ``tms-n{n}-m{m}.json`` shipped with
    critpoints, ascending."""
    pattern = re.compile(rf"tms-n(\d+)-m{m}\.json")
    found = (pattern.fullmatch(p.name) for p in _builtin_directory().glob(f"tms-n*-m{m}.json"))
    return sorted(int(match.group(1)) for match in found if match)


def load_builtin(n: int, m: int = 2) -> dict:
    """The committed TMS catalog document for ``n`` features and hidden dimension ``m``,
    validated (:meth:`critpoints.catalog.Catalog.builtin` gives the record).

    Examples
    --------
    >>> from critpoints.store import load_builtin
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
