"""Transition graph files: node-link JSON and GraphML, written atomically, read back checked.

The conversions graph ↔ document ↔ GraphML text are pure (:mod:`critpoints.dynamics.graph_format`);
this module adds the files. The JSON is written with a fixed indent and key order
(:func:`critpoints.io.dumps_json`) so the bytes depend only on the graph; the GraphML goes beside
it (same name, ``.graphml``). Both readers go through :mod:`critpoints.documents`: strict JSON
numbers, files from before the header fields migrated, validation against
``transitions.schema.json``, and one :class:`~critpoints.documents.DocumentError` naming the file
and the field for any problem.
"""

from __future__ import annotations

import os

import networkx as nx

from critpoints import documents
from critpoints.documents import TRANSITIONS
from critpoints.dynamics.graph_format import (
    graph_from_document,
    graph_from_graphml_text,
    graph_to_document,
    graph_to_graphml_text,
)
from critpoints.io import dumps_json, write_text_atomic
from critpoints.store import read_input_bytes

__all__ = [
    "default_graph_path",
    "graph_to_json_text",
    "read_graph_graphml",
    "read_graph_json",
    "read_transition_graphml",
    "read_transition_json",
    "write_graph_files",
    "write_transition_graph",
]


def default_graph_path(catalog_path: str | os.PathLike | None, n: int, random: bool = False
                       ) -> str:
    """Where a sweep's graph goes by default: beside its catalog (``<stem>.transitions.json``,
    ``<stem>.transitions-random.json`` for random starts); for the default catalog
    (``catalog_path`` None) under ./catalog, never into the installed package."""
    base = os.fspath(catalog_path) if catalog_path else os.path.join("catalog", f"tms-n{n}-m2.json")
    return base.removesuffix(".json") + (".transitions-random.json" if random
                                         else ".transitions.json")


def graph_to_json_text(G: nx.DiGraph) -> str:
    """Node-link JSON text of the graph (deterministic bytes, strict JSON, trailing newline)."""
    return dumps_json(graph_to_document(G))


def read_transition_json(path: str | os.PathLike) -> nx.DiGraph:
    """Load a graph written by :func:`write_transition_graph` (JSON form), checked and migrated
    by :func:`critpoints.documents.load_document`.

    Raises
    ------
    DocumentError
        Unreadable, not strict JSON, not a transition graph, or invalid.
    """
    return read_graph_json(path, TRANSITIONS)


def read_graph_json(path: str | os.PathLike, name: str) -> nx.DiGraph:
    """Load the node-link JSON of a graph document of type ``name`` (checked and migrated by
    :func:`critpoints.documents.load_document`).

    Raises
    ------
    DocumentError
        Unreadable, not strict JSON, not a document of that type, or invalid.
    """
    return graph_from_document(documents.load_document(path, name))


def read_transition_graphml(path: str | os.PathLike) -> nx.DiGraph:
    """Load a GraphML file written by :func:`write_transition_graph`
    (:func:`~critpoints.dynamics.graph_format.graph_from_graphml_text` on its bytes).

    Raises
    ------
    DocumentError
        Unreadable, not GraphML, or not a valid transition graph.
    """
    return read_graph_graphml(path, TRANSITIONS)


def read_graph_graphml(path: str | os.PathLike, name: str) -> nx.DiGraph:
    """Load a GraphML file of a graph document of type ``name``
    (:func:`~critpoints.dynamics.graph_format.graph_from_graphml_text` on its bytes).

    Raises
    ------
    DocumentError
        Unreadable, not GraphML, or not a valid graph of that type.
    """
    return graph_from_graphml_text(read_input_bytes(path), os.fspath(path), name)


def write_transition_graph(G: nx.DiGraph, json_path: str | os.PathLike) -> tuple[str, str]:
    """Write ``G`` as node-link JSON at ``json_path`` and as GraphML beside it (same name,
    ``.graphml`` instead of ``.json``). The document is validated and both texts are built
    before either file is touched, and each file is replaced atomically.

    Returns
    -------
    (json_path, graphml_path)
    """
    return write_graph_files(G, json_path, TRANSITIONS)


def write_graph_files(G: nx.DiGraph, json_path: str | os.PathLike, name: str
                      ) -> tuple[str, str]:
    """Write the graph document of type ``name`` as node-link JSON at ``json_path`` and as
    GraphML beside it, both texts built and the document validated before either file is
    touched, each file replaced atomically (:func:`write_transition_graph` for any type)."""
    json_path = os.fspath(json_path)
    stem = json_path.removesuffix(".json")
    graphml_path = stem + ".graphml"
    document = graph_to_document(G, name)
    documents.validate(document, json_path, name)
    json_text = dumps_json(document)
    graphml_text = graph_to_graphml_text(G, name)
    write_text_atomic(json_path, json_text)
    write_text_atomic(graphml_path, graphml_text)
    return json_path, graphml_path
