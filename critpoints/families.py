"""The flat families of a catalog's entries, read back: the :class:`Families` record.

A catalog stores one entry per critical set. How large each set is — the dimension of the
family of critical points at the entry's loss beyond the zero modes its symmetry explains — is
measured by ``critpoints family CATALOG --all --out FILE`` and stored in a
``critpoints.families`` document beside the catalog (method and caveats:
:mod:`critpoints.tms.families`, :mod:`critpoints.solve.family`). That document names its catalog
by file name and the SHA-256 of its bytes; :meth:`Families.load` reads both and refuses a pair
that does not match, so a dimension is never read against another version of the catalog.

Every entry of the catalog gets an answer (:meth:`Families.family`):

- a measured record (``measured=True``): ``dimension`` k (``None``: untested, with the reason
  in ``note``), ``tangent_dimension`` k₁;
- an entry not measured whose Hessian has no zero eigenvalue beyond the explained ones (every
  selection skips those): isolated by its Hessian (``dimension=0``, ``measured=False``);
- an entry with unexplained zero modes that the selection did not cover (a saddle, when the
  document measured the minima only; an id not named by ``--id``): :class:`NotMeasuredError`,
  which says the command that measures it.

Examples
--------
>>> from critpoints.families import Families
>>> families = Families.builtin(8, 3)
>>> families.catalog.model.n, len(families) > 0
(8, True)
>>> families.family("4").dimension
8
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from critpoints.catalog import Catalog
from critpoints.documents import FAMILIES, DocumentError

__all__ = ["Families", "Family", "NotMeasuredError"]


class NotMeasuredError(KeyError):
    """The families document did not measure this entry (its selection left it out, and its
    Hessian does not show it isolated); the message says which command measures it."""

    def __str__(self) -> str:  # KeyError's own str() would quote the message
        return str(self.args[0])

    def __reduce__(self):
        return (NotMeasuredError, self.args)


@dataclass(frozen=True)
class Family:
    """What is known about the critical set through one catalog entry.

    Attributes
    ----------
    id : str
        The catalog entry.
    dimension : int or None
        k, the set's dimension beyond the explained zero modes: 0 isolated up to symmetry;
        ``None`` untested (``note`` says why).
    tangent_dimension : int or None
        k₁, the tangent cone's dimension at the entry (``None`` where ``dimension`` is).
    measured : bool
        True: sampled (``record`` holds the measurements); False: isolated by its Hessian,
        which has no zero eigenvalue beyond the explained ones.
    note : str or None
        Why a measured dimension is untested, if it is.
    record : dict or None
        The document's record of the entry (``None`` where it was not measured).
    """

    id: str
    dimension: int | None
    tangent_dimension: int | None
    measured: bool
    note: str | None = None
    record: dict | None = field(default=None, repr=False)

    @property
    def isolated(self) -> bool | None:
        """True: no other critical point at that loss near the entry up to symmetry; False: a
        family; None: untested."""
        return None if self.dimension is None else self.dimension == 0


class Families:
    """The families document of one catalog, read-only, linked to that catalog.

    Build one with :meth:`load` (a file, checked against its catalog) or :meth:`builtin`.
    Iterating gives the measured records as :class:`Family` (document order); ``len`` counts
    them; :meth:`family` answers for any entry of the catalog.
    """

    __slots__ = ("_by_id", "_catalog", "_document", "_source")

    def __init__(self, document: dict, catalog: Catalog, source: str = "families"):
        by_id = {record["id"]: record for record in document["families"]}
        for name, value in (("_document", document), ("_catalog", catalog),
                            ("_source", source), ("_by_id", by_id)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Families record is read-only")

    @classmethod
    def load(cls, path: str | os.PathLike,
             catalog: str | os.PathLike | None = None) -> Families:
        """Read the families file ``path`` and the catalog it was made from.

        Parameters
        ----------
        path : path
            A ``critpoints.families`` document.
        catalog : path, optional
            Its catalog; default the file the document names, in the same folder.

        Raises
        ------
        DocumentError
            Either file is unreadable or invalid, the catalog's bytes are not those the document
            was made from (stale: the message gives the command that regenerates it), or the
            models differ.
        """
        from critpoints.store import file_sha256, load_document

        document = load_document(path, FAMILIES)
        link = document["catalog"]
        catalog_path = Path(catalog) if catalog is not None else Path(path).parent / link["file"]
        loaded = Catalog.load(catalog_path)
        if file_sha256(catalog_path) != link["sha256"]:
            raise DocumentError(
                f"{os.fspath(path)}: made from another version of {link['file']} than "
                f"{os.fspath(catalog_path)} (SHA-256 differs); regenerate it: "
                f"`{document['generator']['command']}`")
        model, stored = loaded.model, document["model"]
        if (model.kind, model.n, model.m) != (stored["kind"], stored["n"], stored["m"]):
            raise DocumentError(f"{os.fspath(path)}: its model is not that of "
                                f"{os.fspath(catalog_path)}")
        return cls(document, loaded, os.fspath(path))

    @classmethod
    def builtin(cls, n: int, m: int = 3) -> Families:
        """The committed families file of the shipped catalog for ``n`` features and hidden
        dimension ``m`` (:class:`DocumentError` if none ships)."""
        from critpoints.store import builtin_path

        return cls.load(builtin_path(f"tms-n{n}-m{m}.families.json"))

    @property
    def catalog(self) -> Catalog:
        """The catalog the document was made from (its bytes checked)."""
        return self._catalog

    @property
    def source(self) -> str:
        return self._source

    @property
    def command(self) -> str:
        """The command that wrote the document."""
        return self._document["generator"]["command"]

    def to_json(self) -> dict:
        """The document (a deep copy)."""
        import copy

        return copy.deepcopy(self._document)

    def family(self, entry: str) -> Family:
        """What is known about the critical set through the catalog entry ``entry``.

        Raises
        ------
        UnknownEntryError
            The catalog has no such entry.
        NotMeasuredError
            The document did not measure it and its Hessian does not show it isolated.
        """
        from critpoints.tms.families import unexplained_zero_modes

        point = self._catalog.entry(entry)  # UnknownEntryError names the catalog
        record = self._by_id.get(entry)
        if record is not None:
            return Family(entry, record["dimension"], record["tangent_dimension"], True,
                          record["note"], record)
        if unexplained_zero_modes(point) == 0:
            return Family(entry, 0, 0, False)
        raise NotMeasuredError(
            f"{self._source} did not measure {entry!r} (selection: "
            f"{self._document['selection']['rule']}); measure it with `python -m critpoints "
            f"family {self._catalog.source} --id {entry}`")

    def __iter__(self) -> Iterator[Family]:
        return (self.family(ident) for ident in self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, entry: object) -> bool:
        return isinstance(entry, str) and entry in self._by_id

    def __repr__(self) -> str:
        m = self._catalog.model
        return (f"<Families n={m.n} m={m.m}: {len(self)} measured of {len(self._catalog)} "
                f"entries, from {self._source}>")

