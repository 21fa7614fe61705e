"""Transition graphs as documents: node-link data and GraphML text (no files).

- Node-link: ``networkx.node_link_data(G, edges="edges", nodes="nodes", source="source",
  target="target", key="key", name="id", link=...)`` with the keys passed explicitly, under the
  ``critpoints.transitions`` header (:func:`graph_to_document`, :func:`graph_from_document`).
- GraphML cannot hold lists, dicts or None: every list or dict value (``steps``, ``runs``, the
  graph's ``protocol``, ``unidentified``, ...) is stored as its JSON text, and None values are left
  out. :func:`graph_from_graphml_text` undoes this (``json.loads`` on the attributes listed in
  the graph attribute ``json_attributes``).

Both forms carry ``schema_name = "critpoints.transitions"`` and ``schema_version`` (the JSON as its
first two keys, the GraphML as graph attributes) and are checked through
:mod:`critpoints.documents`. Reading and writing the files is :mod:`critpoints.transition_store`'s.

The same functions serve every graph document (``name``: ``critpoints.transitions``, a
:class:`networkx.DiGraph`; ``critpoints.landscape``, a :class:`networkx.MultiDiGraph` whose edge
keys are strings).
"""

from __future__ import annotations

import io
import json
from xml.etree.ElementTree import ParseError

import networkx as nx

from critpoints import documents
from critpoints.documents import TRANSITIONS, DocumentError

__all__ = [
    "NODE_LINK_KEYS",
    "graph_from_document",
    "graph_from_graphml_text",
    "graph_to_document",
    "graph_to_graphml_text",
]

#: The node-link keys, explicit so that files stay readable across networkx versions.
NODE_LINK_KEYS = {"source": "source", "target": "target", "name": "id", "key": "key"}


def graph_to_document(G: nx.DiGraph, name: str = TRANSITIONS) -> dict:
    """The document of type ``name`` (default ``critpoints.transitions``) of the graph: header,
    then node-link data."""
    data = nx.node_link_data(G, edges="edges", nodes="nodes", **NODE_LINK_KEYS)
    return documents.new_document(name, data)


def graph_from_document(document: dict) -> nx.DiGraph:
    """The graph of a (checked, migrated) graph document (directed; a multigraph when the
    document says so)."""
    data = {k: v for k, v in document.items() if k not in documents.HEADER_KEYS}
    return nx.node_link_graph(data, directed=True, edges="edges", nodes="nodes", **NODE_LINK_KEYS)


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


def graph_to_graphml_text(G: nx.DiGraph, name: str = TRANSITIONS) -> str:
    """GraphML text of the graph, lists and dicts as JSON strings (see the module docstring);
    ``name`` is the document type whose header it carries."""
    json_keys: set[str] = set()
    H = nx.MultiDiGraph() if G.is_multigraph() else nx.DiGraph()
    for node, data in G.nodes(data=True):
        H.add_node(node, **_graphml_attributes(data, "node", json_keys))
    if G.is_multigraph():
        for u, v, key, data in G.edges(keys=True, data=True):
            H.add_edge(u, v, key=key, **_graphml_attributes(data, "edge", json_keys))
    else:
        for u, v, data in G.edges(data=True):
            H.add_edge(u, v, **_graphml_attributes(data, "edge", json_keys))
    H.graph.update(documents.header(name))
    H.graph.update(_graphml_attributes(G.graph, "graph", json_keys))
    H.graph["json_attributes"] = json.dumps(sorted(json_keys), separators=(",", ":"))
    buffer = io.BytesIO()
    nx.write_graphml(H, buffer, encoding="utf-8", prettyprint=True)
    return buffer.getvalue().decode("utf-8")


def _restore_nulls(G: nx.DiGraph, name: str) -> None:
    """GraphML has no null and the writer leaves None values out: the attributes the schema
    requires of the graph and of every node and edge that a file lacks were None."""
    definitions = documents.schema(name)["$defs"]
    for key in definitions["graph"]["required"]:
        nullable = "null" in (definitions["graph"]["properties"].get(key, {}).get("type") or [])
        if nullable:
            G.graph.setdefault(key, None)
    edges = (d for _, _, d in G.edges(data=True))
    for kind, items in (("node", G.nodes.values()), ("edge", edges)):
        required = [k for k in definitions[kind]["required"]
                    if k not in ("id", "source", "target", "key")]
        for attributes in items:
            for key in required:
                attributes.setdefault(key, None)


def _decode_json_attributes(attributes: dict, prefix: str, json_keys: set, source: str) -> None:
    for k, v in attributes.items():
        if f"{prefix}:{k}" in json_keys:
            attributes[k] = documents.loads_strict(v, f"{source}: {prefix} attribute {k}")


def graph_from_graphml_text(text: str | bytes, source: str = "GraphML",
                            name: str = TRANSITIONS) -> nx.DiGraph:
    """The graph of GraphML text written by :func:`graph_to_graphml_text`, its JSON strings
    decoded (strict numbers), its None values restored, checked as a document of type ``name``
    (default ``critpoints.transitions``; transition graphs from before the header attributes
    are accepted, as version 0).

    Raises
    ------
    DocumentError
        Not GraphML, or not a valid graph of that type; the message starts with ``source``.
    """
    multigraph = name != TRANSITIONS
    try:
        G = nx.parse_graphml(text, edge_key_type=str, force_multigraph=multigraph)
    except (ParseError, nx.NetworkXError, ValueError, KeyError) as exc:
        raise DocumentError(f"{source}: not valid GraphML: {exc}") from None
    if not isinstance(G, nx.DiGraph) or G.is_multigraph() != multigraph:
        kind = "directed multigraph" if multigraph else "directed simple graph"
        raise DocumentError(f"{source}: a {name} graph is a {kind}")
    # networkx's GraphML reader adds these; they are not attributes of the graph written.
    G.graph.pop("node_default", None)
    G.graph.pop("edge_default", None)
    json_keys = set(documents.loads_strict(G.graph.pop("json_attributes", "[]"),
                                           f"{source}: graph attribute json_attributes"))
    for _, data in G.nodes(data=True):
        _decode_json_attributes(data, "node", json_keys, source)
    for _, _, data in G.edges(data=True):
        _decode_json_attributes(data, "edge", json_keys, source)
    _decode_json_attributes(G.graph, "graph", json_keys, source)
    _restore_nulls(G, name)
    header = {k: G.graph.pop(k) for k in documents.HEADER_KEYS if k in G.graph}
    data = nx.node_link_data(G, edges="edges", nodes="nodes", **NODE_LINK_KEYS)
    document = documents.migrate({**header, **data}, source)
    documents.validate(document, source, name)
    return G
