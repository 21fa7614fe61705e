"""Every JSON document critpoints writes: its schema, its version, loading and migration.

Each document type has a name and an integer version, stored as the first two keys of the
document (``"schema_name": "critpoints.phases", "schema_version": 1``), and a JSON Schema
(draft 2020-12) shipped as ``critpoints/schema/<type>.schema.json`` and published as
``catalog/<type>.schema.json`` (the same bytes):

=============================  =======  ====================================================
name                           version  written by
=============================  =======  ====================================================
``critpoints.catalog``         1        ``enumerate``, ``linear`` (catalogs of critical points)
``critpoints.transitions``     3        ``transitions`` (node-link JSON; the GraphML beside it
                                        carries the two fields as graph attributes)
``critpoints.phases``          1        ``phases --out``
``critpoints.llc``             2        ``llc --out``
``critpoints.llc-sweep``       1        ``llc --sweep --out``
``critpoints.kgon-existence``  1        ``kgon-existence --out``
``critpoints.landscape``       1        ``landscape`` (node-link JSON of the saddles' descent
                                        paths; the GraphML beside it as for transitions)
``critpoints.sparsity-branches`` 1      ``continue`` (catalogued points followed in sparsity S)
``critpoints.limits``          1        ``limits`` (KKT points of the one-hot potential on b ≤ 0:
                                        the limits S → 1 of finite-sparsity critical points)
``critpoints.families``        1        ``family --out`` (the dimension of the flat family
                                        through a catalog's entries, linked to the catalog)
=============================  =======  ====================================================

This module is pure: it knows the types, parses and checks text and documents, and touches no
file. Reading and writing files is :mod:`critpoints.store`'s (``read_json``, ``load_document`` and
``write_document`` are still importable from here, and forwarded there).

Loading (:func:`critpoints.store.load_document`) checks, in order, that the file is readable,
that it is strict JSON (no ``NaN``/``Infinity``, and no number literal such as ``1e400`` that
overflows a double, which Python's :mod:`json` would otherwise read as ``inf``), brings a file of
an older version up to date with :func:`migrate`, and validates it against its JSON Schema.
Every failure raises :class:`DocumentError` (also importable as
:class:`critpoints.catalog.CatalogError`) with one message that names the file and the offending
field.

Migration: files written before the header fields existed (everything but the catalogs) are
*version 0*. :func:`migrate` recognises each of them by its shape, and version 0 → 1 adds the
two header fields in front, leaving every other byte of the document as it was; a later format
change adds one step to ``_MIGRATIONS`` and a test on the frozen copies under ``tests/data/``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "CATALOG",
    "DOCUMENT_TYPES",
    "FAMILIES",
    "HEADER_KEYS",
    "KGON_EXISTENCE",
    "LANDSCAPE",
    "LIMITS",
    "LLC",
    "LLC_SWEEP",
    "PHASES",
    "PHASE_DIAGRAM",
    "PHASE_LINE",
    "SPARSITY_BRANCHES",
    "TRANSITIONS",
    "DocumentError",
    "DocumentType",
    "check_document",
    "header",
    "identify",
    "loads_strict",
    "migrate",
    "new_document",
    "schema",
    "validate",
]

CATALOG = "critpoints.catalog"
TRANSITIONS = "critpoints.transitions"
PHASES = "critpoints.phases"
LLC = "critpoints.llc"
LLC_SWEEP = "critpoints.llc-sweep"
KGON_EXISTENCE = "critpoints.kgon-existence"
LANDSCAPE = "critpoints.landscape"
SPARSITY_BRANCHES = "critpoints.sparsity-branches"
PHASE_DIAGRAM = "critpoints.phase-diagram"
PHASE_LINE = "critpoints.phase-line"
LIMITS = "critpoints.limits"
FAMILIES = "critpoints.families"


@dataclass(frozen=True)
class DocumentType:
    """One kind of JSON document: its ``schema_name``, current ``schema_version`` and schema
    file."""

    name: str
    version: int
    schema_file: str
    description: str


#: Every document type the package writes, by ``schema_name``.
DOCUMENT_TYPES: dict[str, DocumentType] = {
    t.name: t
    for t in (
        DocumentType(CATALOG, 1, "catalog.schema.json", "catalog of critical points"),
        DocumentType(TRANSITIONS, 3, "transitions.schema.json",
                     "SGD transition graph (networkx node-link JSON)"),
        DocumentType(PHASES, 1, "phases.schema.json",
                     "free energies, Bayesian phase transitions and occupancy curves"),
        DocumentType(LLC, 2, "llc.schema.json", "SGLD estimate of a local learning coefficient"),
        DocumentType(LLC_SWEEP, 1, "llc-sweep.schema.json",
                     "λ̂ over a grid of SGLD step, localisation and sample size"),
        DocumentType(KGON_EXISTENCE, 1, "kgon-existence.schema.json",
                     "certified regular n-gon critical points for a range of n"),
        DocumentType(LANDSCAPE, 1, "landscape.schema.json",
                     "landscape graph: where the saddles' steepest-descent paths lead "
                     "(networkx node-link JSON)"),
        DocumentType(SPARSITY_BRANCHES, 1, "sparsity-branches.schema.json",
                     "catalogued critical points followed in sparsity S (branches, events)"),
        DocumentType(PHASE_DIAGRAM, 1, "phase-diagram.schema.json",
                     "exact TMS phase diagram over feature density and importance"),
        DocumentType(PHASE_LINE, 1, "phase-line.schema.json",
                     "lowest minimum of the exact TMS potential along sparsity S"),
        DocumentType(LIMITS, 1, "limits.schema.json",
                     "limits S → 1 of finite-sparsity critical points: KKT points of the "
                     "one-hot potential on b ≤ 0"),
        DocumentType(FAMILIES, 1, "families.schema.json",
                     "dimension of the flat family through a catalog's entries"),
    )
}

HEADER_KEYS = ("schema_name", "schema_version")


class DocumentError(ValueError):
    """A document or file that cannot be used; the message names the file and the field."""


def _document_type(name: str, source: str) -> DocumentType:
    try:
        return DOCUMENT_TYPES[name]
    except (KeyError, TypeError):
        known = ", ".join(DOCUMENT_TYPES)
        raise DocumentError(f"{source}: schema_name is {name!r}, not one of {known}") from None


@cache
def _schema_text(name: str) -> str:
    filename = _document_type(name, "schema").schema_file
    return resources.files("critpoints.schema").joinpath(filename).read_text("utf-8")


def schema(name: str) -> dict:
    """The JSON Schema (draft 2020-12) of the current version of document type ``name``."""
    return json.loads(_schema_text(name))


@cache
def _validator(name: str):
    import jsonschema

    return jsonschema.Draft202012Validator(schema(name))


def header(name: str) -> dict:
    """``{"schema_name": name, "schema_version": <current>}``."""
    return {"schema_name": name, "schema_version": _document_type(name, "header").version}


def new_document(name: str, body: dict) -> dict:
    """``body`` with the header of document type ``name`` in front (a new dict)."""
    clash = [key for key in HEADER_KEYS if key in body]
    if clash:
        raise ValueError(f"the body already has {', '.join(clash)}")
    return {**header(name), **body}


# ----------------------------------------------------------------------------------------------
# Identification and migration


def _is_node_link(document: dict) -> bool:
    return {"directed", "multigraph", "graph", "nodes", "edges"} <= document.keys()


def _is_kgon_existence(document: dict) -> bool:
    command = document.get("command")
    return (
        "rows" in document
        and isinstance(command, str)
        and command.startswith("python -m critpoints kgon-existence")
    )


#: How a version-0 (unversioned) document is recognised, per type. The catalog had its header
#: from its first version, so an unversioned catalog is not a critpoints file.
_VERSION_0: dict[str, Callable[[dict], bool]] = {
    TRANSITIONS: _is_node_link,
    PHASES: lambda d: d.get("command") == "phases",
    LLC: lambda d: d.get("command") == "llc",
    KGON_EXISTENCE: _is_kgon_existence,
}


def _add_header(name: str) -> Callable[[dict], dict]:
    """Version 0 → 1: the two header fields in front; the rest unchanged."""

    def step(document: dict) -> dict:
        return {"schema_name": name, "schema_version": 1, **document}

    return step


def _transitions_1_to_2(document: dict) -> dict:
    """Transitions 1 → 2: each half of the published claim is null ("untested") when no edge can
    test it (version 1 wrote true for a claim tested on nothing), with the count of edges that
    test the λ half."""
    graph = dict(document["graph"])
    changes = [edge.get("learning_coefficient_change") for edge in document.get("edges", [])]
    tested = sum(change is not None for change in changes)
    if tested == 0:
        graph["every_edge_raises_learning_coefficient"] = None
    if not document.get("edges"):
        graph["every_edge_lowers_loss"] = None
    graph["edges_tested_for_learning_coefficient"] = tested
    return {**document, "schema_version": 2, "graph": graph}


#: Catalog classifications that are their own verdict (a non-smooth point's is not recorded in
#: a version-2 transition graph).
_SMOOTH_VERDICTS = ("minimum", "saddle", "maximum")


def _transitions_2_to_3(document: dict) -> dict:
    """Transitions 2 → 3: the fields a version-2 sweep did not compute are null, never guessed —
    each edge's landscape connection, the bands failing the trend test (version 2 had none: its
    plateau rule counted them as plateaus), the published claim on minimum-to-minimum
    transitions; a node's verdict is its classification when smooth, else null."""
    graph = {
        **document["graph"],
        "unsettled_tails_count": None,
        "unsettled_bands": None,
        "edges_explained_by_landscape": None,
        "edges_unexplained_by_landscape": [],
        "edges_outside_landscape": [],
        "published_claim": None,
    }
    nodes = []
    for node in document.get("nodes", []):
        verdict = node.get("classification") if node.get("classification") in _SMOOTH_VERDICTS \
            else None
        items = list(node.items())
        at = next((i for i, (k, _) in enumerate(items) if k == "hessian_index"), len(items))
        nodes.append(dict(items[:at] + [("verdict", verdict)] + items[at:]))
    landscape = {"landscape_connection": None, "landscape_path": None, "landscape_saddle": None,
                 "landscape_barrier": None, "explained_by_landscape": None}
    edges = [{**edge, **landscape} for edge in document.get("edges", [])]
    return {**document, "schema_version": 3, "graph": graph, "nodes": nodes, "edges": edges}


def _llc_1_to_2(document: dict) -> dict:
    """llc 1 → 2: the calibration and the per-chain diagnostics did not exist; the chains were
    dropped by the fraction rule (over half the draws below L(w*)), and used whole otherwise."""
    below = document.get("fraction_below_init", [])
    dropped = [fraction > 0.5 for fraction in below]
    draws = document.get("steps", 0) - document.get("burn_in", 0)
    return {
        **document, "schema_version": 2, "batch_size": None, "centre": "catalog",
        "centre_shift": 0.0, "calibration": None, "predicted_bias": None, "llc_corrected": None,
        "escape_rule": "fraction of draws below L(w*) above 50% (no basin test)",
        "chain_action": ["dropped" if d else "kept" for d in dropped],
        "draws_used": [0 if d else draws for d in dropped],
        "first_exit_draw": [None] * len(below), "exit_labels": [None] * len(below),
        "rhat": None, "acceptance": None, "trace_blocks": None, "running_llc": None,
    }


#: (name, from_version) → function returning the document at from_version + 1.
_MIGRATIONS: dict[tuple[str, int], Callable[[dict], dict]] = {
    **{(name, 0): _add_header(name) for name in _VERSION_0},
    (TRANSITIONS, 1): _transitions_1_to_2,
    (TRANSITIONS, 2): _transitions_2_to_3,
    (LLC, 1): _llc_1_to_2,
}


def identify(document: Any, source: str = "document") -> tuple[str, int]:
    """``(schema_name, schema_version)`` of ``document``; version 0 for a recognised file that
    predates the header fields.

    Raises
    ------
    DocumentError
        Not a JSON object, or neither headed nor recognisable.
    """
    if not isinstance(document, dict):
        raise DocumentError(
            f"{source}: a critpoints document is a JSON object, not {_json_type(document)}"
        )
    if "schema_name" in document or "schema_version" in document:
        name = document.get("schema_name")
        version = document.get("schema_version")
        _document_type(name, source)
        if type(version) is not int or version < 0:
            raise DocumentError(
                f"{source}: schema_version must be a non-negative integer, not {version!r}"
            )
        return name, version
    for name, recognise in _VERSION_0.items():
        if recognise(document):
            return name, 0
    raise DocumentError(
        f"{source}: no schema_name and not a recognised unversioned critpoints file"
    )


def migrate(document: Any, source: str = "document") -> dict:
    """Upgrade ``document`` to the current version of its type (a new dict; input unchanged).

    A document already at the current version is returned as it is (the same object). Files
    written before the header fields existed (version 0: transition graphs, phases, llc and
    k-gon-existence results) get ``schema_name`` and ``schema_version`` in front, every other
    key and value left as it was.

    Raises
    ------
    DocumentError
        Unrecognised, or of a version newer than this critpoints reads.

    Examples
    --------
    >>> migrate({"command": "phases", "n": 6})
    {'schema_name': 'critpoints.phases', 'schema_version': 1, 'command': 'phases', 'n': 6}
    """
    name, version = identify(document, source)
    current = DOCUMENT_TYPES[name].version
    if version > current:
        raise DocumentError(
            f"{source}: schema_version {version} is not supported "
            f"(this critpoints reads {name} up to version {current})"
        )
    while version < current:
        step = _MIGRATIONS.get((name, version))
        if step is None:
            raise DocumentError(
                f"{source}: schema_version {version} of {name} is not supported "
                f"(no migration to version {version + 1})"
            )
        document = step(document)
        version += 1
    return document


# ----------------------------------------------------------------------------------------------
# Validation


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _where(path) -> str:
    return "/".join(str(part) for part in path) or "(top level)"


def _first_leaf(value: Any, is_bad: Callable[[Any], bool], path: tuple = ()) -> tuple | None:
    """(path, leaf) of the first leaf of a parsed document for which ``is_bad`` holds, or None."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return (path, value) if is_bad(value) else None
    for key, item in items:
        found = _first_leaf(item, is_bad, (*path, key))
        if found is not None:
            return found
    return None


def _non_finite_path(value: Any) -> tuple | None:
    """The path of the first float that is not finite (NaN, ±inf), or None."""
    found = _first_leaf(value, lambda v: isinstance(v, float) and not math.isfinite(v))
    return None if found is None else found[0]


def validate(document: Any, source: str = "document", name: str | None = None) -> None:
    """Raise :class:`DocumentError` unless ``document`` is a valid document of the current
    version of its type (of type ``name`` when given).

    No migration here: an older version is an error (:func:`load_document` migrates first).
    """
    _validate(document, source, name, check_finite=True)


def _validate(document: Any, source: str, name: str | None, check_finite: bool) -> None:
    found, version = identify(document, source)
    if name is not None and found != name:
        raise DocumentError(f"{source}: schema_name is {found!r}, expected {name!r}")
    if version == 0:
        raise DocumentError(
            f"{source}: no schema_name/schema_version (an unversioned {found} file: "
            "critpoints.documents.migrate upgrades it)"
        )
    current = DOCUMENT_TYPES[found].version
    if version != current:
        raise DocumentError(
            f"{source}: schema_version {version!r} is not supported "
            f"(this critpoints reads version {current})"
        )
    # JSON Schema calls inf and nan numbers; strict JSON has neither. (A document parsed by
    # loads_strict has none: load_document skips this walk over every value.)
    bad = _non_finite_path(document) if check_finite else None
    if bad is not None:
        raise DocumentError(f"{source}: invalid at {_where(bad)}: a non-finite number "
                            "(strict JSON numbers only)")
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(found).iter_errors(document))
    if error is not None:
        raise DocumentError(f"{source}: invalid at {_where(error.absolute_path)}: {error.message}")


# ----------------------------------------------------------------------------------------------
# Strict JSON text


class _Refused:
    """Stands in for a number literal strict JSON refuses, so that its path can be reported."""

    __slots__ = ("literal",)

    def __init__(self, literal: str):
        self.literal = literal


def _strict_hooks() -> tuple[list, dict]:
    """json.loads hooks that put a :class:`_Refused` marker in place of each refused literal
    (NaN, ±Infinity, a float or integer literal beyond the double range), and their list."""
    refused: list[_Refused] = []

    def mark(literal: str) -> _Refused:
        marker = _Refused(literal)
        refused.append(marker)
        return marker

    def parse_float(literal: str):
        value = float(literal)
        return value if math.isfinite(value) else mark(literal)

    def parse_int(literal: str):
        value = int(literal)
        # An integer beyond the double range reads as Infinity in JavaScript and most readers.
        return value if abs(value) < 2**1024 else mark(literal)

    return refused, {"parse_float": parse_float, "parse_int": parse_int, "parse_constant": mark}


def _refused_path(value: Any) -> tuple[tuple, _Refused] | None:
    """(path, marker) of the first refused literal in a parsed document, or None."""
    return _first_leaf(value, lambda v: isinstance(v, _Refused))


def _refusal(literal: str) -> str:
    if literal in ("NaN", "Infinity", "-Infinity"):
        return f"{literal} is not allowed"
    shown = literal if len(literal) <= 40 else f"{literal[:20]}… ({len(literal)} characters)"
    return f"the number {shown} overflows a double and is not allowed"


def loads_strict(text: str, source: str = "document") -> Any:
    """Parse strict JSON: ``NaN``, ``Infinity`` and number literals that overflow a double
    (``1e400``) are refused with the JSON path of the field.

    Raises
    ------
    DocumentError
        Not valid JSON, or a refused number (the message names ``source`` and the field).
    """
    refused, hooks = _strict_hooks()
    try:
        document = json.loads(text, **hooks)
    except json.JSONDecodeError as exc:
        if refused:  # the refused literal comes first in the file: report it
            raise DocumentError(
                f"{source}: {_refusal(refused[0].literal)} (strict JSON numbers only; "
                f"the text is also not valid JSON further on: {exc})"
            ) from None
        raise DocumentError(f"{source}: not valid JSON: {exc}") from None
    except ValueError as exc:  # int literals longer than Python's int_max_str_digits
        raise DocumentError(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise DocumentError(f"{source}: nested too deeply to be a critpoints document") from None
    found = _refused_path(document) if refused else None
    if found is not None:
        path, marker = found
        raise DocumentError(
            f"{source}: {_refusal(marker.literal)} at {_where(path)} (strict JSON numbers only)"
        )
    return document


# ----------------------------------------------------------------------------------------------
# Reading a parsed document; the files themselves are critpoints.store's


def check_document(document: Any, source: str = "document", name: str | None = None, *,
                   parsed_strict: bool = False) -> dict:
    """``document`` at the current version of its type: identified, migrated, validated.

    What :func:`critpoints.store.load_document` does to the JSON it has read.

    Parameters
    ----------
    document : Any
        A parsed JSON value.
    source : str
        The name errors give the document (a file name).
    name : str, optional
        The expected ``schema_name``; any known type when omitted.
    parsed_strict : bool
        ``document`` came from :func:`loads_strict`, so it holds no non-finite number and the
        walk looking for one is skipped.

    Raises
    ------
    DocumentError
        Of another type, of an unknown version, or invalid.
    """
    found, _ = identify(document, source)
    if name is not None and found != name:
        raise DocumentError(f"{source}: schema_name is {found!r}, expected {name!r}")
    document = migrate(document, source)
    _validate(document, source, name, check_finite=not parsed_strict)
    return document


#: The file functions that lived here before critpoints.store; still importable from here.
_MOVED_TO_STORE = ("read_json", "load_document", "write_document")


def __getattr__(name: str):
    # Imported on first use, so that importing this (pure) module never imports the store
    # or critpoints.io.
    if name in _MOVED_TO_STORE:
        from critpoints import store

        return getattr(store, name)
    raise AttributeError(f"module 'critpoints.documents' has no attribute {name!r}")
