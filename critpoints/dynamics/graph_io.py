"""Transition graph files: node-link JSON and GraphML, written atomically, read back with networkx.

- JSON: ``networkx.node_link_data(G, edges="edges", nodes="nodes", source="source",
  target="target", key="key", name="id", link=...)`` with the keys passed explicitly, written with
  a fixed indent and key order so the bytes depend only on the graph. Read it back with
  :func:`read_transition_json` or ``networkx.node_link_graph(data, edges="edges")``.
- GraphML cannot hold lists, dicts or None: every list or dict value (``steps``, ``runs``, the
  graph's ``protocol``, ``unidentified``, ...) is stored as its JSON text, and None values are left
  out. :func:`read_transition_graphml` undoes this (``json.loads`` on the attributes listed in
  the graph attribute ``json_attributes``).
"""

from __future__ import annotations

import io
import json
import os

import networkx as nx

from critpoints.io import InputFileError, read_json, write_text_atomic

__all__ = [
    "NODE_LINK_KEYS",
    "graph_to_json_text",
    "graph_to_graphml_text",
    "write_transition_graph",
    "read_transition_json",
    "read_transition_graphml",
]

#: The node-link keys, explicit so that files stay readable across networkx versions.
NODE_LINK_KEYS = {"source": "source", "target": "target", "name": "id", "key": "key"}


def graph_to_json_text(G: nx.DiGraph) -> str:
    """Node-link JSON text of the graph (deterministic bytes, strict JSON, trailing newline)."""
    data = nx.node_link_data(G, edges="edges", nodes="nodes", **NODE_LINK_KEYS)
    return json.dumps(data, indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def read_transition_json(path: str | os.PathLike) -> nx.DiGraph:
    """Load a graph written by :func:`write_transition_graph` (JSON form).

    Raises
    ------
    critpoints.io.InputFileError
        The file is unreadable, not strict JSON, or not a node-link transition graph.
    """
    data = read_json(path)
    source = os.fspath(path)
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), list) for key in ("nodes", "edges")
    ):
        raise InputFileError(f"{source}: not a transition graph (expected a JSON object with "
                             "'nodes' and 'edges' lists, as written by critpoints transitions)")
    for where, items, keys in (("nodes", data["nodes"], ("id",)),
                               ("edges", data["edges"], ("source", "target"))):
        for index, item in enumerate(items):
            if not isinstance(item, dict) or any(key not in item for key in keys):
                raise InputFileError(f"{source}: {where}/{index} needs the key(s) "
                                     f"{', '.join(keys)}")
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


def graph_to_graphml_text(G: nx.DiGraph) -> str:
    """GraphML text of the graph, lists and dicts as JSON strings (see the module docstring)."""
    json_keys: set[str] = set()
    H = nx.DiGraph()
    for node, data in G.nodes(data=True):
        H.add_node(node, **_graphml_attributes(data, "node", json_keys))
    for u, v, data in G.edges(data=True):
        H.add_edge(u, v, **_graphml_attributes(data, "edge", json_keys))
    H.graph.update(_graphml_attributes(G.graph, "graph", json_keys))
    H.graph["json_attributes"] = json.dumps(sorted(json_keys), separators=(",", ":"))
    buffer = io.BytesIO()
    nx.write_graphml(H, buffer, encoding="utf-8", prettyprint=True)
    return buffer.getvalue().decode("utf-8")


def read_transition_graphml(path: str | os.PathLike) -> nx.DiGraph:
    """Load a GraphML file written by :func:`write_transition_graph`, decoding its JSON strings."""
    G = nx.read_graphml(path)
    json_keys = set(json.loads(G.graph.pop("json_attributes", "[]")))

    def decode(attributes: dict, prefix: str) -> None:
        for k, v in attributes.items():
            if f"{prefix}:{k}" in json_keys:
                attributes[k] = json.loads(v)

    for _, data in G.nodes(data=True):
        decode(data, "node")
    for _, _, data in G.edges(data=True):
        decode(data, "edge")
    decode(G.graph, "graph")
    return G


def write_transition_graph(G: nx.DiGraph, json_path: str | os.PathLike) -> tuple[str, str]:
    """Write ``G`` as node-link JSON at ``json_path`` and as GraphML beside it (same name,
    ``.graphml`` instead of ``.json``). Both texts are built before either file is touched, and
    each file is replaced atomically.

    Returns
    -------
    (json_path, graphml_path)
    """
    json_path = os.fspath(json_path)
    stem = json_path[: -len(".json")] if json_path.endswith(".json") else json_path
    graphml_path = stem + ".graphml"
    json_text = graph_to_json_text(G)
    graphml_text = graph_to_graphml_text(G)
    write_text_atomic(json_path, json_text)
    write_text_atomic(graphml_path, graphml_text)
    return json_path, graphml_path
