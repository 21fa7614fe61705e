"""Landscape graph files: node-link JSON and GraphML, written atomically, read back checked.

The graph is :func:`critpoints.landscape.landscape_graph`'s (a :class:`networkx.MultiDiGraph`);
the document is ``critpoints.landscape`` version 1 (``catalog/landscape.schema.json``): the
header, then ``networkx.node_link_data`` with explicit keys (``nodes``, ``edges``, ``source``,
``target``, ``id``, ``key``). The GraphML beside it (same name, ``.graphml``) stores lists and
dicts as JSON strings, as the transition graphs do (:mod:`critpoints.dynamics.graph_format`).
Every reader goes through :mod:`critpoints.documents` and raises one
:class:`~critpoints.documents.DocumentError` naming the file and the field.
"""

from __future__ import annotations

import os

import networkx as nx

from critpoints.documents import LANDSCAPE
from critpoints.dynamics.graph_format import graph_to_document
from critpoints.io import dumps_json
from critpoints.transition_store import read_graph_graphml, read_graph_json, write_graph_files

__all__ = [
    "default_landscape_path",
    "landscape_to_json_text",
    "read_landscape_graphml",
    "read_landscape_json",
    "write_landscape",
]


def default_landscape_path(catalog_path: str | os.PathLike | None, n: int) -> str:
    """Beside the catalog: ``<stem>.landscape.json``; for the default catalog (``None``) under
    ./catalog, never into the installed package."""
    base = os.fspath(catalog_path) if catalog_path else os.path.join("catalog", f"tms-n{n}-m2.json")
    return base.removesuffix(".json") + ".landscape.json"


def landscape_to_json_text(G: nx.MultiDiGraph) -> str:
    """Node-link JSON text of the landscape graph (deterministic bytes, trailing newline)."""
    return dumps_json(graph_to_document(G, LANDSCAPE))


def read_landscape_json(path: str | os.PathLike) -> nx.MultiDiGraph:
    """Load a landscape graph (JSON form), checked against ``landscape.schema.json``.

    Raises
    ------
    DocumentError
        Unreadable, not strict JSON, not a landscape graph, or invalid.
    """
    return read_graph_json(path, LANDSCAPE)


def read_landscape_graphml(path: str | os.PathLike) -> nx.MultiDiGraph:
    """Load a landscape graph (GraphML form): JSON strings decoded, None values restored, checked
    against the same schema.

    Raises
    ------
    DocumentError
        Unreadable, not GraphML, or not a valid landscape graph.
    """
    return read_graph_graphml(path, LANDSCAPE)


def write_landscape(G: nx.MultiDiGraph, json_path: str | os.PathLike) -> tuple[str, str]:
    """Write the landscape graph as JSON at ``json_path`` and GraphML beside it (validated
    first, each file replaced atomically).

    Returns
    -------
    (json_path, graphml_path)
    """
    return write_graph_files(G, json_path, LANDSCAPE)
