"""Transition graph files: node-link JSON and GraphML, written atomically, read back with networkx.

- JSON: ``networkx.node_link_data(G, edges="edges", nodes="nodes", source="source",
  target="target", key="key", name="id", link=...)`` with the keys passed explicitly, written with
  a fixed indent and key order so the bytes depend only on the graph. Read it back with
  :func:`read_transition_json` or ``networkx.node_link_graph(data, edges="edges")``.
- GraphML cannot hold lists, dicts or None: every list or dict value (``steps``, ``runs``, the
  graph's ``protocol``, ``unidentified``, ...) is stored as its JSON text, and None values are left
  out. :func:`read_transition_graphml` undoes this (``json.loads`` on the attributes listed in
  the graph attribute ``json_attributes``).

Both files carry ``schema_name = "critpoints.transitions"`` and ``schema_version`` (the JSON as its
first two keys, the GraphML as graph attributes); both readers go through
:mod:`critpoints.documents`: strict JSON numbers, files from before the header fields migrated,
validation against ``transitions.schema.json``, and one :class:`~critpoints.documents.DocumentError`
naming the file and the field for any problem.
"""

from __future__ import annotations

import io
import json
import os
from xml.etree.ElementTree import ParseError

import networkx as nx

from critpoints import documents
from critpoints.documents import TRANSITIONS, DocumentError
from critpoints.io import dumps_json, write_text_atomic

__all__ = [
    "NODE_LINK_KEYS",
    "graph_to_document",
    "graph_to_json_text",
    "graph_to_graphml_text",
    "write_transition_graph",
    "read_transition_json",
    "read_transition_graphml",
]

#: The node-link keys, explicit so that files stay readable across networkx versions.
NODE_LINK_KEYS = {"source": "source", "target": "target", "name": "id", "key": "key"}


def graph_to_document(G: nx.DiGraph) -> dict:
    """The ``critpoints.transitions`` document of the graph: header, then node-link data."""
    data = nx.node_link_data(G, edges="edges", nodes="nodes", **NODE_LINK_KEYS)
    return documents.new_document(TRANSITIONS, data)


def graph_to_json_text(G: nx.DiGraph) -> str:
    """Node-link JSON text of the graph (deterministic bytes, strict JSON, trailing newline)."""
    return dumps_json(graph_to_document(G))


def _document_to_graph(document: dict) -> nx.DiGraph:
    data = {k: v for k, v in document.items() if k not in documents.HEADER_KEYS}
    return nx.node_link_graph(data, directed=True, edges="edges", nodes="nodes", **NODE_LINK_KEYS)


def read_transition_json(path: str | os.PathLike) -> nx.DiGraph:
    """Load a graph written by :func:`write_transition_graph` (JSON form), checked and migrated
    by :func:`critpoints.documents.load_document`.

    Raises
    ------
    DocumentError
        Unreadable, not strict JSON, not a transition graph, or invalid.
    """
    return _document_to_graph(documents.load_document(path, TRANSITIONS))


def _graphml_value(value, key: str, json_keys: set) -> object:
    if isinstance(value, (list, dict)):
        json_keys.add(key)
        return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return value


def _graphml_attributes(attributes: dict, prefix: str, json_keys: set) -> dict:
    return {
        k: _graphml_value(v, f"{prefix}:{k}", json_keys)
        for k, v in attributes.items()
        if v is not None
    }


def graph_to_graphml_text(G: nx.DiGraph) -> str:
    """GraphML text of the graph, lists and dicts as JSON strings (see the module docstring)."""
    json_keys: set[str] = set()
    H = nx.DiGraph()
    for node, data in G.nodes(data=True):
        H.add_node(node, **_graphml_attributes(data, "node", json_keys))
    for u, v, data in G.edges(data=True):
        H.add_edge(u, v, **_graphml_attributes(data, "edge", json_keys))
    H.graph.update(documents.header(TRANSITIONS))
    H.graph.update(_graphml_attributes(G.graph, "graph", json_keys))
    H.graph["json_attributes"] = json.dumps(sorted(json_keys), separators=(",", ":"))
    buffer = io.BytesIO()
    nx.write_graphml(H, buffer, encoding="utf-8", prettyprint=True)
    return buffer.getvalue().decode("utf-8")


def _restore_nulls(G: nx.DiGraph) -> None:
    """GraphML has no null and the writer leaves None values out: the attributes the schema
    requires of the graph and of every node and edge that a file lacks were None."""
    definitions = documents.schema(TRANSITIONS)["$defs"]
    for key in definitions["graph"]["required"]:
        nullable = "null" in (definitions["graph"]["properties"].get(key, {}).get("type") or [])
        if nullable:
            G.graph.setdefault(key, None)
    for kind, items in (("node", G.nodes.values()), ("edge", (d for _, _, d in G.edges(data=True)))):
        required = [k for k in definitions[kind]["required"] if k not in ("id", "source", "target")]
        for attributes in items:
            for key in required:
                attributes.setdefault(key, None)


def read_transition_graphml(path: str | os.PathLike) -> nx.DiGraph:
    """Load a GraphML file written by :func:`write_transition_graph`, decoding its JSON strings
    (strict numbers), restoring its None values, and checking it as a ``critpoints.transitions``
    document (files from before the header attributes are accepted, as version 0).

    Raises
    ------
    DocumentError
        Unreadable, not GraphML, or not a valid transition graph.
    """
    source = os.fspath(path)
    try:
        G = nx.read_graphml(path)
    except OSError as exc:
        raise DocumentError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except (ParseError, nx.NetworkXError, ValueError, KeyError) as exc:
        raise DocumentError(f"{source}: not valid GraphML: {exc}") from None
    if not isinstance(G, nx.DiGraph) or isinstance(G, nx.MultiDiGraph):
        raise DocumentError(f"{source}: a transition graph is a directed simple graph")
    # networkx's GraphML reader adds these; they are not attributes of the graph written.
    G.graph.pop("node_default", None)
    G.graph.pop("edge_default", None)
    json_keys = set(documents.loads_strict(G.graph.pop("json_attributes", "[]"),
                                           f"{source}: graph attribute json_attributes"))

    def decode(attributes: dict, prefix: str) -> None:
        for k, v in attributes.items():
            if f"{prefix}:{k}" in json_keys:
                attributes[k] = documents.loads_strict(v, f"{source}: {prefix} attribute {k}")

    for _, data in G.nodes(data=True):
        decode(data, "node")
    for _, _, data in G.edges(data=True):
        decode(data, "edge")
    decode(G.graph, "graph")
    _restore_nulls(G)
    header = {k: G.graph.pop(k) for k in documents.HEADER_KEYS if k in G.graph}
    data = nx.node_link_data(G, edges="edges", nodes="nodes", **NODE_LINK_KEYS)
    document = documents.migrate({**header, **data}, source)
    documents.validate(document, source, TRANSITIONS)
    return G


def write_transition_graph(G: nx.DiGraph, json_path: str | os.PathLike) -> tuple[str, str]:
    """Write ``G`` as node-link JSON at ``json_path`` and as GraphML beside it (same name,
    ``.graphml`` instead of ``.json``). The document is validated and both texts are built
    before either file is touched, and each file is replaced atomically.

    Returns
    -------
    (json_path, graphml_path)
    """
    json_path = os.fspath(json_path)
    stem = json_path[: -len(".json")] if json_path.endswith(".json") else json_path
    graphml_path = stem + ".graphml"
    document = graph_to_document(G)
    documents.validate(document, json_path, TRANSITIONS)
    json_text = dumps_json(document)
    graphml_text = graph_to_graphml_text(G)
    write_text_atomic(json_path, json_text)
    write_text_atomic(graphml_path, graphml_text)
    return json_path, graphml_path
