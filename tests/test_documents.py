"""Every JSON output: versioned, with a schema that strict validators accept, and a migration path.

The frozen copies under tests/data/ are the committed files as they were before the header
fields existed (the catalog already had them: version 1; the transition graph and the phases
file are version 0). The committed files must stay what ``migrate`` makes of them.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import jsonschema
import networkx as nx
import pytest

from critpoints import documents
from critpoints.catalog import CatalogError, load_catalog
from critpoints.cli import main
from critpoints.documents import (
    DOCUMENT_TYPES,
    DocumentError,
    identify,
    load_document,
    loads_strict,
    migrate,
    validate,
    write_document,
)
from critpoints.dynamics.graph_format import graph_to_graphml_text
from critpoints.io import dumps_json
from critpoints.transition_store import (
    read_transition_graphml,
    read_transition_json,
    write_transition_graph,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
PACKAGED = ROOT / "critpoints" / "schema"
PUBLISHED = ROOT / "catalog"
COMMITTED = sorted(p for p in PUBLISHED.glob("*.json") if not p.name.endswith(".schema.json"))

#: frozen copy in tests/data → the committed file it became.
FROZEN = {
    "tms-n6-m2.json": "tms-n6-m2.json",
    "tms-n6-m2.transitions.json": "tms-n6-m2.transitions.json",
    "tms-n6-m2.phases.json": "tms-n6-m2.phases.json",
}


def _read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------------
# Schemas: one per document type, packaged and published identically, valid draft 2020-12


@pytest.mark.parametrize("name", DOCUMENT_TYPES)
def test_every_document_type_has_its_schema_packaged_and_published(name):
    filename = DOCUMENT_TYPES[name].schema_file
    packaged, published = PACKAGED / filename, PUBLISHED / filename
    assert packaged.read_bytes() == published.read_bytes()
    schema = _read(published)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema_name"] == {"const": name}
    assert schema["properties"]["schema_version"] == {"const": DOCUMENT_TYPES[name].version}
    assert {"schema_name", "schema_version"} <= set(schema["required"])
    assert documents.schema(name) == schema


def test_no_schema_file_without_a_document_type():
    files = {t.schema_file for t in DOCUMENT_TYPES.values()}
    assert {p.name for p in PACKAGED.glob("*.schema.json")} == files
    assert {p.name for p in PUBLISHED.glob("*.schema.json")} == files


# ----------------------------------------------------------------------------------------------
# Committed files: headed, current, valid (plain jsonschema, no critpoints), loadable


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_file_validates_with_plain_jsonschema(path):
    document = _read(path)
    name = document["schema_name"]
    assert list(document)[:2] == ["schema_name", "schema_version"]
    assert document["schema_version"] == DOCUMENT_TYPES[name].version
    schema = _read(PUBLISHED / DOCUMENT_TYPES[name].schema_file)
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_file_loads_unchanged_and_is_written_as_the_writer_would(path):
    document = load_document(path)
    assert migrate(document) is document  # already current
    assert dumps_json(document) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("stem", ["tms-n6-m2.transitions", "tms-n6-m2.transitions-random"])
def test_committed_graphml_holds_the_json_graph(stem):
    raw = nx.read_graphml(PUBLISHED / f"{stem}.graphml")
    assert raw.graph["schema_name"] == "critpoints.transitions"
    assert raw.graph["schema_version"] == DOCUMENT_TYPES["critpoints.transitions"].version
    from_json = read_transition_json(PUBLISHED / f"{stem}.json")
    from_graphml = read_transition_graphml(PUBLISHED / f"{stem}.graphml")
    assert dict(from_graphml.nodes(data=True)) == dict(from_json.nodes(data=True))
    assert list(from_graphml.edges(data=True)) == list(from_json.edges(data=True))
    assert from_graphml.graph == from_json.graph
    # and the GraphML is what the writer makes of that graph
    text = (PUBLISHED / f"{stem}.graphml").read_text(encoding="utf-8")
    assert graph_to_graphml_text(from_json) == text


# ----------------------------------------------------------------------------------------------
# Migration, on the frozen copies


@pytest.mark.parametrize("frozen", FROZEN, ids=str)
def test_committed_files_are_the_migrated_frozen_copies(frozen):
    """The committed files were re-emitted as migrate(frozen copy): the path stays honest."""
    old_text = (DATA / frozen).read_text(encoding="utf-8")
    old = loads_strict(old_text, frozen)
    kept = copy.deepcopy(old)
    new = migrate(old, frozen)
    assert old == kept  # the input is not modified
    validate(new, frozen)
    if frozen == "tms-n6-m2.json":
        # version 1 from the start: nothing to migrate (the lead may regenerate the catalog,
        # so only the migration is pinned, not the committed bytes)
        assert new is old and identify(old) == ("critpoints.catalog", 1)
        return
    assert identify(old) == (new["schema_name"], 0)
    if new["schema_name"] == "critpoints.transitions":
        # 0 → 1 → 2 → 3: the header, then the λ claim of version 1 (true on no tested edge)
        # becomes null, "untested", then the version-3 fields are null (not computed then); the
        # committed graphs were since re-run by the CLI (new catalog)
        assert new["schema_version"] == 3
        assert new["graph"]["edges_tested_for_learning_coefficient"] == 0
        assert new["graph"]["every_edge_raises_learning_coefficient"] is None
        assert old["graph"]["every_edge_raises_learning_coefficient"] is True
        assert new["graph"]["published_claim"] is None
        assert all(e["explained_by_landscape"] is None for e in new["edges"])
        rest = {k: v for k, v in new.items()
                if k not in (*documents.HEADER_KEYS, "graph", "nodes", "edges")}
        assert rest == {k: v for k, v in old.items() if k not in ("graph", "nodes", "edges")}
        return
    assert {k: v for k, v in new.items() if k not in documents.HEADER_KEYS} == old
    committed = PUBLISHED / FROZEN[frozen]
    assert dumps_json(new) == committed.read_text(encoding="utf-8")
    # byte for byte: the two header lines are the only difference
    new_lines = committed.read_text(encoding="utf-8").splitlines()
    assert new_lines[1:3] == [f' "schema_name": "{new["schema_name"]}",', ' "schema_version": 1,']
    assert new_lines[:1] + new_lines[3:] == old_text.splitlines()


def test_transitions_version_2_migrates_to_3_without_guessing():
    """The frozen version-2 copy (the committed random-start sweep before version 3): every
    version-3 field is null (not computed by that sweep), a node's verdict is its
    classification when smooth, and nothing else changes."""
    frozen = "tms-n6-m2.transitions-random.v2.json"
    old = loads_strict((DATA / frozen).read_text(encoding="utf-8"), frozen)
    kept = copy.deepcopy(old)
    new = migrate(old, frozen)
    assert old == kept and identify(old) == ("critpoints.transitions", 2)
    validate(new, frozen)
    assert new["schema_version"] == 3
    for key in ("unsettled_tails_count", "unsettled_bands", "edges_explained_by_landscape",
                "published_claim"):
        assert new["graph"][key] is None
    assert {k: v for k, v in new["graph"].items() if k in old["graph"]} == old["graph"]
    for before, after in zip(old["nodes"], new["nodes"], strict=True):
        smooth = before["classification"] in ("minimum", "saddle")
        assert after["verdict"] == (before["classification"] if smooth else None)
        assert {k: v for k, v in after.items() if k != "verdict"} == before
    for before, after in zip(old["edges"], new["edges"], strict=True):
        assert after["explained_by_landscape"] is None and after["landscape_path"] is None
        assert {k: v for k, v in after.items() if not k.startswith(("landscape_", "explained"))
                } == before


@pytest.mark.parametrize("frozen", FROZEN, ids=str)
def test_frozen_copies_load_through_the_readers(frozen, tmp_path):
    path = tmp_path / frozen
    shutil.copy(DATA / frozen, path)
    document = load_document(path)
    assert document["schema_version"] == DOCUMENT_TYPES[document["schema_name"]].version
    if document["schema_name"] == "critpoints.transitions":
        G = read_transition_json(path)
        assert G.number_of_nodes() == len(document["nodes"]) and "schema_name" not in G.graph
    if document["schema_name"] == "critpoints.catalog":
        assert load_catalog(path) == document


@pytest.mark.parametrize("name", ["critpoints.llc", "critpoints.kgon-existence"])
def test_unversioned_llc_and_kgon_existence_results_are_recognised(name):
    body = (
        {"command": "llc", "n": 6, "label": "5"} if name == "critpoints.llc"
        else {"description": "", "command": "python -m critpoints kgon-existence --min-n 5 "
              "--max-n 6", "rows": []}
    )
    assert identify(body) == (name, 0)
    migrated = migrate(body)
    assert {k: migrated[k] for k in ("schema_name", "schema_version", *body)} == {
        "schema_name": name, "schema_version": DOCUMENT_TYPES[name].version, **body}
    if name == "critpoints.llc":  # then 1 → 2: the diagnostics it did not record are null
        assert migrated["calibration"] is None and migrated["acceptance"] is None


def test_committed_kgon_existence_is_its_unversioned_body_migrated():
    text = (PUBLISHED / "kgon-existence.json").read_text(encoding="utf-8")
    document = loads_strict(text)
    body = {k: v for k, v in document.items() if k not in documents.HEADER_KEYS}
    assert dumps_json(migrate(body)) == text


def test_migrate_refuses_what_it_does_not_know():
    with pytest.raises(DocumentError, match="not a recognised unversioned"):
        migrate({"rows": []}, "x.json")
    with pytest.raises(DocumentError, match="JSON object, not an array"):
        migrate([1, 2], "x.json")
    with pytest.raises(DocumentError, match=r"schema_name is 'other\.thing'"):
        migrate({"schema_name": "other.thing", "schema_version": 1})
    with pytest.raises(DocumentError, match="up to version 1"):
        migrate({"schema_name": "critpoints.phases", "schema_version": 2})
    with pytest.raises(DocumentError, match="no migration"):
        migrate({"schema_name": "critpoints.catalog", "schema_version": 0})
    with pytest.raises(DocumentError, match="non-negative integer"):
        migrate({"schema_name": "critpoints.phases", "schema_version": "1"})


def test_validate_does_not_migrate():
    frozen = _read(DATA / "tms-n6-m2.phases.json")
    with pytest.raises(DocumentError, match="migrate upgrades it"):
        validate(frozen, "phases.json")


def test_unversioned_graphml_is_read_as_version_0(tmp_path):
    G = read_transition_json(DATA / "tms-n6-m2.transitions.json")
    path = tmp_path / "old.graphml"
    path.write_text(graph_to_graphml_text(G), encoding="utf-8")
    raw = nx.read_graphml(path)
    for key in documents.HEADER_KEYS:
        raw.graph.pop(key)
    nx.write_graphml(raw, path)
    old = read_transition_graphml(path)
    assert old.graph == G.graph and list(old.edges(data=True)) == list(G.edges(data=True))
    raw.graph["schema_name"], raw.graph["schema_version"] = "critpoints.transitions", 7
    nx.write_graphml(raw, path)
    with pytest.raises(DocumentError, match="schema_version 7 is not supported"):
        read_transition_graphml(path)


# ----------------------------------------------------------------------------------------------
# Strict JSON numbers and one message naming the file and the field


@pytest.mark.parametrize(
    "literal, message",
    [
        ("NaN", "NaN is not allowed"),
        ("Infinity", "Infinity is not allowed"),
        ("-Infinity", "-Infinity is not allowed"),
        ("1e400", "1e400 overflows a double"),
        ("-1.5E+309", "-1.5E+309 overflows a double"),
        ("1" + "0" * 400, "overflows a double"),
    ],
)
def test_non_finite_and_overflowing_numbers_are_refused_with_their_field(tmp_path, literal,
                                                                        message):
    text = (PUBLISHED / "tms-n6-m2.phases.json").read_text(encoding="utf-8")
    text = text.replace('"nll_scale": 1.0', f'"nll_scale": {literal}', 1)
    path = tmp_path / "bad.phases.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value) and "at nll_scale" in str(caught.value)


def test_a_number_deep_in_a_list_is_located():
    with pytest.raises(DocumentError, match=r"at theory/prior/occupancy/5/3 "):
        loads_strict('{"theory": {"prior": {"occupancy": {"5": [0.1, 0.2, 0.3, 1e999]}}}}')


def test_underflow_and_large_finite_numbers_are_fine():
    assert loads_strict("[1e-400, 1.7976931348623157e308, -0.0]") == [0.0, 1.7976931348623157e308,
                                                                      -0.0]


def test_in_memory_non_finite_number_is_refused_with_its_field():
    document = _read(PUBLISHED / "tms-n6-m2.phases.json")
    document["N"][2] = float("inf")
    with pytest.raises(DocumentError, match=r"out\.json: invalid at N/2: a non-finite number"):
        write_document("out.json", document)


@pytest.mark.parametrize(
    "path, edit, where",
    [
        ("tms-n6-m2.phases.json", lambda d: d["theory"]["laplace"].pop("occupancy"),
         "theory/laplace.*'occupancy' is a required property"),
        ("tms-n6-m2.transitions.json", lambda d: d["edges"][1].update(count=0),
         "edges/1/count"),
        ("kgon-existence.json", lambda d: d["rows"][4]["points"][0].update(loss="0.1x"),
         "rows/4/points/0/loss"),
        ("tms-n6-m2.json", lambda d: d.update(schema_name="critpoints.phases"),
         "critical_points|'command' is a required property"),
    ],
)
def test_invalid_documents_name_the_file_and_the_field(tmp_path, path, edit, where):
    document = _read(PUBLISHED / path)
    edit(document)
    bad = tmp_path / path
    bad.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(DocumentError, match=f"^{bad}: invalid at .*({where})"):
        load_document(bad)


def test_wrong_type_expected_by_the_reader(tmp_path):
    with pytest.raises(CatalogError, match=r"schema_name is 'critpoints\.phases', expected "
                                           r"'critpoints\.catalog'"):
        load_catalog(PUBLISHED / "tms-n6-m2.phases.json")
    with pytest.raises(DocumentError, match=r"expected 'critpoints\.transitions'"):
        read_transition_json(PUBLISHED / "tms-n6-m2.json")
    with pytest.raises(DocumentError, match="cannot read"):
        read_transition_graphml(tmp_path / "missing.graphml")
    broken = tmp_path / "broken.graphml"
    broken.write_text("<graphml><graph", encoding="utf-8")
    with pytest.raises(DocumentError, match="not valid GraphML"):
        read_transition_graphml(broken)


def test_plot_refuses_a_bad_phases_file_with_one_line(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    bad = tmp_path / "p.json"
    bad.write_text('{"command": "phases", "n": 6, "N": [1e400]}', encoding="utf-8")
    assert main(["plot", "phases", str(bad), "--out", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err
    assert "1e400 overflows a double" in err and "at N/0" in err and "Traceback" not in err


# ----------------------------------------------------------------------------------------------
# Every writer writes a headed, valid document


def test_llc_out_is_a_valid_llc_document(tmp_path):
    out = tmp_path / "llc.json"
    assert main(["llc", "--n", "6", "--label", "5", "--chains", "2", "--steps", "20",
                 "--out", str(out)]) == 0
    document = load_document(out, "critpoints.llc")
    assert (document["label"], document["chains"]) == ("5", 2)


def test_kgon_existence_out_is_a_valid_document(tmp_path):
    out = tmp_path / "kgon.json"
    assert main(["kgon-existence", "--min-n", "5", "--max-n", "5", "--out", str(out)]) == 0
    document = load_document(out, "critpoints.kgon-existence")
    assert [row["n"] for row in document["rows"]] == [5]


def test_phases_out_is_a_valid_phases_document(tmp_path):
    out = tmp_path / "phases.json"
    assert main(["phases", "--n", "6", "--sample-range", "100:2000:4", "--out", str(out)]) == 0
    assert load_document(out, "critpoints.phases")["N"][0] == 100


def test_an_invalid_graph_is_not_written(tmp_path):
    G = read_transition_json(PUBLISHED / "tms-n6-m2.transitions.json")
    G.graph["runs"] = -1
    with pytest.raises(DocumentError, match="invalid at graph/runs"):
        write_transition_graph(G, tmp_path / "g.json")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# ajv (JavaScript) in strict mode: every schema compiles, every committed file validates

AJV_DIR = Path(tempfile.gettempdir()) / "critpoints-test-ajv8"


@pytest.fixture(scope="session")
def ajv_node_path():
    """A folder with ajv@8 installed (once per machine; reused while it is complete)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node or npm not on PATH: the ajv strict check needs them")
    modules = AJV_DIR / "node_modules"
    if not (modules / "ajv" / "dist" / "2020.js").exists():
        staging = Path(tempfile.mkdtemp(prefix="critpoints-ajv-"))
        try:
            run = subprocess.run(
                ["npm", "install", "--prefix", str(staging), "--no-audit", "--no-fund",
                 "--loglevel=error", "ajv@8"],
                check=False, capture_output=True, text=True, timeout=300,
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.skip("npm install ajv@8 timed out (offline?)")
        if run.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            pytest.skip(f"npm install ajv@8 failed (offline?): {run.stderr.strip()[-300:]}")
        try:
            os.replace(staging, AJV_DIR)  # atomic: a parallel run sees all of it or nothing
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another run got there first
    return str(modules)


def test_every_schema_compiles_under_ajv_strict_and_validates_the_committed_files(
    ajv_node_path, tmp_path
):
    extra = tmp_path / "llc.json"
    assert main(["llc", "--n", "6", "--label", "6", "--chains", "2", "--steps", "20",
                 "--out", str(extra)]) == 0
    files = [str(p) for p in COMMITTED] + [str(extra)]
    run = subprocess.run(
        ["node", str(Path(__file__).with_name("ajv_strict.js")), str(PACKAGED), *files],
        check=False, capture_output=True, text=True,
        env={**os.environ, "NODE_PATH": ajv_node_path},
        timeout=300,
    )
    results = [json.loads(line) for line in run.stdout.splitlines()]
    failures = [r for r in results if not r["ok"]]
    assert not failures and run.returncode == 0, failures or run.stderr
    compiled = {Path(r["file"]).name for r in results if r["kind"] == "schema"}
    assert compiled == {t.schema_file for t in DOCUMENT_TYPES.values()}
    assert len([r for r in results if r["kind"] == "document"]) == len(files)


def test_the_ajv_check_catches_a_schema_strict_mode_refuses(ajv_node_path, tmp_path):
    # The catalog schema's old conditional: `properties` under `if` without `"type": "object"`
    # (ajv strictTypes), as it was before the strict-mode fix.
    (tmp_path / "old.schema.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "allOf": [{"if": {"properties": {"model": {"properties": {"kind": {"const": "x"}}}}},
                   "then": {"required": ["a"]}}],
    }), encoding="utf-8")
    run = subprocess.run(
        ["node", str(Path(__file__).with_name("ajv_strict.js")), str(tmp_path)],
        check=False, capture_output=True, text=True,
        env={**os.environ, "NODE_PATH": ajv_node_path}, timeout=60,
    )
    (result,) = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.returncode == 1 and not result["ok"]
    assert "strictTypes" in result["errors"][0]
