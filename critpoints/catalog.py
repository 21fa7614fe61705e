"""The catalog of critical points: the document (built, validated) and the :class:`Catalog` record.

A catalog is one JSON object (see ``docs/catalog.md`` and the JSON Schema
``catalog/catalog.schema.json``, the same file as the packaged ``critpoints/schema/``):

    {"schema_name": "critpoints.catalog", "schema_version": 1,
     "generator": {"package": "critpoints", "version": ..., "command": ...},
     "model": {"kind": "tms-high-sparsity" | "linear-autoencoder", "n": ..., "m": ...},
     "critical_points": [ ... sorted by loss ... ]}

Everything here is pure: :func:`new_document` builds a document, :func:`validate` checks it
against the schema, and :class:`Catalog` is the record every reader uses (entries by id, in file
order, the model, the minima) instead of walking ``document["critical_points"]`` by hand.
Files are :mod:`critpoints.store`'s: ``store.load_catalog`` reads and validates a file (strict
JSON, this schema and version, the JSON Schema; the first failure raises :class:`CatalogError`
naming the file and the field), ``store.write_catalog`` writes one atomically, and
``store.load_builtin`` / ``store.builtin_path`` find the catalogs shipped with the package.
Those names (and ``default_file``, ``default_catalog_path``) are still importable from here,
forwarded to the store on first use, so that importing this module imports no file code.

Examples
--------
>>> from critpoints.catalog import Catalog
>>> catalog = Catalog.builtin(6)
>>> catalog.model
CatalogModel(kind='tms-high-sparsity', n=6, m=2)
>>> catalog.entry("5+")["label"]
'5+'
>>> [p["id"] for p in catalog.minima()][:3]
['6', '5+', '5']
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from critpoints import documents
from critpoints.documents import DocumentError

__all__ = [
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "Catalog",
    "CatalogError",
    "CatalogModel",
    "UnknownEntryError",
    "check_tms_parameters",
    "entry_id",
    "new_document",
    "schema",
    "validate",
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


# ----------------------------------------------------------------------------------------------
# The record


def entry_id(point: dict) -> str:
    """The id of a catalog entry: its ``id`` (TMS entries), else its ``label`` (the entries of a
    linear-autoencoder catalog have no ``id``; their label, the subset, is unique)."""
    return point["id"] if "id" in point else point["label"]


#: Largest |parameter| a TMS catalog entry may hold: the critical points have parameters of
#: order one; a tampered 1e300 overflows every evaluator.
MAX_PARAMETER = 1e6


def check_tms_parameters(points, m: int, n: int, source: str) -> None:
    """CatalogError unless every entry's W is an m×n matrix and b has n entries, of numbers of
    magnitude at most :data:`MAX_PARAMETER` (the schema cannot tie shapes to the model)."""
    for position, point in enumerate(points):
        where = f"{source}: invalid at critical_points/{position}"
        W, b = point.get("W"), point.get("b")
        if not (isinstance(W, list) and len(W) == m
                and all(isinstance(row, list) and len(row) == n for row in W)):
            raise CatalogError(f"{where}/W: not an {m}×{n} matrix (the model's m and n)")
        if not (isinstance(b, list) and len(b) == n):
            raise CatalogError(f"{where}/b: not a list of n = {n} numbers")
        for value in (*(v for row in W for v in row), *b):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not abs(value) <= MAX_PARAMETER:
                raise CatalogError(f"{where}: a parameter {value!r} is not a number of "
                                   f"magnitude at most {MAX_PARAMETER:g}")


class UnknownEntryError(KeyError):
    """No entry with this id in the catalog (a :class:`KeyError`; the message names the id, the
    catalog and some of its ids)."""

    def __init__(self, entry: str, source: str, ids: tuple[str, ...]):
        shown = ", ".join(ids[:8]) + (", ..." if len(ids) > 8 else "")
        super().__init__(f"no entry with id {entry!r} in {source} (ids: {shown})")
        self.id, self.source, self.ids = entry, source, tuple(ids)

    def __str__(self) -> str:  # KeyError's own str() would quote the message
        return str(self.args[0])

    def __reduce__(self):  # raised in a worker process, it travels back pickled
        return (UnknownEntryError, (self.id, self.source, self.ids))


@dataclass(frozen=True)
class CatalogModel:
    """The model a catalog describes.

    Attributes
    ----------
    kind : str
        ``"tms-high-sparsity"`` or ``"linear-autoencoder"``.
    n : int
        Number of features (input dimension).
    m : int
        Hidden dimension.
    """

    kind: str
    n: int
    m: int


class Catalog:
    """A catalog of critical points: its entries by id and in file order, read-only.

    Build one from a document (:meth:`from_document`), a file (:meth:`load`) or a catalog shipped
    with critpoints (:meth:`builtin`). Iterating gives the entries (plain dicts, in file order:
    sorted by loss); ``len`` counts them; ``id in catalog`` asks for an id; :meth:`entry` finds
    one. The entries are the document's own dicts: read them, do not change them
    (:meth:`to_json` gives a copy to change).

    Parameters
    ----------
    document : dict
        A catalog document, taken as valid (:meth:`from_document` validates first).
    source : str
        What error messages call the catalog (its file name).

    Raises
    ------
    CatalogError
        Two entries share an id (the schema cannot say that ids are unique).
    """

    __slots__ = ("_document", "_index", "_model", "_points", "_source")

    def __init__(self, document: dict, source: str = "catalog"):
        points = tuple(document["critical_points"])
        index: dict[str, int] = {}
        for position, point in enumerate(points):
            pid = entry_id(point)
            if pid in index:
                raise CatalogError(f"{source}: invalid at critical_points/{position}: the id "
                                   f"{pid!r} is also that of critical_points/{index[pid]}")
            index[pid] = position
        model = document["model"]
        for name, value in (("_document", document), ("_source", source),
                            ("_model", CatalogModel(model["kind"], model["n"], model["m"])),
                            ("_points", points), ("_index", index)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Catalog is read-only (to_json() gives a document to change)")

    def __reduce__(self):  # pickling (e.g. to dask workers): rebuilt from its document
        return (Catalog, (self._document, self._source))

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_document(cls, document: dict, source: str = "catalog", *,
                      validate: bool = True) -> Catalog:
        """The record of a catalog document.

        Parameters
        ----------
        document : dict
            A catalog document (as :func:`new_document` builds and ``json.load`` reads).
        source : str
            What error messages call it.
        validate : bool
            Check it against the schema first (:func:`validate`), and a TMS catalog's W and b
            against its model (:func:`check_tms_parameters`); ``False`` for a document
            validated already (one :func:`critpoints.store.load_catalog` returned).

        Raises
        ------
        CatalogError
            Invalid, or two entries share an id.
        """
        if validate:
            documents.validate(document, source, SCHEMA_NAME)
            model = document["model"]
            if str(model["kind"]).startswith("tms"):
                check_tms_parameters(document["critical_points"], model["m"], model["n"], source)
        return cls(document, source)

    @classmethod
    def of(cls, catalog: Catalog | dict, source: str = "catalog") -> Catalog:
        """``catalog`` itself if it is a :class:`Catalog`, else the record of the (loaded, hence
        valid: not validated again) document: for functions that accept either."""
        return catalog if isinstance(catalog, Catalog) else cls(catalog, source)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Catalog:
        """Read, validate and index the catalog file ``path`` (through
        :func:`critpoints.store.load_catalog`).

        Raises
        ------
        CatalogError
            The file is unreadable, not strict JSON, of another schema or version, or invalid.
        """
        from critpoints import store

        return cls(store.load_catalog(path), os.fspath(path))

    @classmethod
    def builtin(cls, n: int, m: int = 2) -> Catalog:
        """The committed TMS catalog for ``n`` features and hidden dimension ``m``, shipped with
        critpoints (found from any working directory: :func:`critpoints.store.builtin_path`).

        Raises
        ------
        CatalogError
            No such catalog ships with critpoints (the message lists those that do).
        """
        from critpoints import store

        return cls.load(store.builtin_path(f"tms-n{n}-m{m}.json"))

    # -- contents -------------------------------------------------------------------------------

    @property
    def source(self) -> str:
        """What messages call the catalog: its file, or ``"catalog"``."""
        return self._source

    @property
    def model(self) -> CatalogModel:
        """The model: ``kind``, ``n``, ``m``."""
        return self._model

    @property
    def points(self) -> tuple[dict, ...]:
        """The entries in file order (sorted by loss)."""
        return self._points

    @property
    def ids(self) -> tuple[str, ...]:
        """The entries' ids (see :func:`entry_id`) in file order."""
        return tuple(self._index)

    def items(self) -> Iterator[tuple[str, dict]]:
        """``(id, entry)`` pairs in file order."""
        return zip(self._index, self._points)

    def entry(self, entry: str) -> dict:
        """The entry with id ``entry``.

        Raises
        ------
        UnknownEntryError
            No such id (a :class:`KeyError` whose message names the id and the catalog).
        """
        try:
            return self._points[self._index[entry]]
        except (KeyError, TypeError):  # TypeError: an unhashable "id"
            raise UnknownEntryError(entry, self._source, self.ids) from None

    def get(self, entry: str, default: Any = None) -> dict | Any:
        """The entry with id ``entry``, or ``default``."""
        return self.entry(entry) if entry in self else default

    def entries(self, ids: Iterable[str]) -> list[dict]:
        """The entries with these ids, in the order given (:class:`UnknownEntryError` for the
        first id not in the catalog)."""
        return [self.entry(entry) for entry in ids]

    def parameters(self, entry: str):
        """``(W, b)`` of a TMS entry as float arrays (W of shape m × n, b of length n)."""
        import numpy as np

        point = self.entry(entry)
        return np.asarray(point["W"], dtype=float), np.asarray(point["b"], dtype=float)

    def by_verdict(self, verdict: str) -> tuple[dict, ...]:
        """The entries with this final verdict (``"minimum"``, ``"saddle"``, ``"undecided"``), in
        file order. Entries without a ``verdict`` (the linear autoencoder's: second-order
        information decides there) count by their ``classification``."""
        return tuple(p for p in self._points if p.get("verdict", p["classification"]) == verdict)

    def minima(self) -> tuple[dict, ...]:
        """The local minima, in file order (``by_verdict("minimum")``)."""
        return self.by_verdict("minimum")

    def to_json(self) -> dict:
        """The document (a deep copy), which :func:`critpoints.io.dumps_json` writes as the same
        bytes it was read from."""
        return copy.deepcopy(self._document)

    # -- container protocol ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict]:
        return iter(self._points)

    def __len__(self) -> int:
        return len(self._points)

    def __contains__(self, entry: object) -> bool:
        try:
            return entry in self._index
        except TypeError:
            return False

    def __repr__(self) -> str:
        m = self._model
        return (f"<Catalog {m.kind} n={m.n} m={m.m}: {len(self)} entries from "
                f"{self._source}>")


# ----------------------------------------------------------------------------------------------
# Files: critpoints.store's, still importable from here

_MOVED_TO_STORE = ("load_catalog", "write_catalog", "load_builtin", "builtin_path",
                   "default_file", "default_catalog_path")


def __getattr__(name: str):
    # Imported on first use, so that importing this (pure) module, as the mathematics does to
    # build documents, never imports the store or critpoints.io.
    if name in _MOVED_TO_STORE:
        from critpoints import store

        return getattr(store, name)
    raise AttributeError(f"module 'critpoints.catalog' has no attribute {name!r}")
