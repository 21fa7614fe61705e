"""The Catalog record (critpoints.catalog.Catalog) and the split of the pure documents from the
file store (critpoints.store)."""

from __future__ import annotations

import ast
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from critpoints.catalog import (
    Catalog,
    CatalogError,
    CatalogModel,
    UnknownEntryError,
    entry_id,
)
from critpoints.io import dumps_json

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_CATALOGS = sorted(
    path for path in (ROOT / "catalog").glob("*.json")
    if json.loads(path.read_text(encoding="utf-8")).get("schema_name") == "critpoints.catalog"
)


@pytest.fixture(scope="module")
def catalog6() -> Catalog:
    return Catalog.load(ROOT / "catalog" / "tms-n6-m2.json")


def test_every_committed_catalog_is_found():
    names = {path.name for path in COMMITTED_CATALOGS}
    assert {"tms-n2-m2.json", "tms-n6-m2.json", "tms-n12-m2.json"} <= names
    assert any(name.startswith("linear-") for name in names)


@pytest.mark.parametrize("path", COMMITTED_CATALOGS, ids=lambda p: p.name)
def test_round_trip_gives_the_committed_bytes(path):
    catalog = Catalog.load(path)
    assert dumps_json(catalog.to_json()) == path.read_text(encoding="utf-8")
    # from_document (validating) of the same document: the same record and bytes again
    again = Catalog.from_document(catalog.to_json(), source=path.name)
    assert again.ids == catalog.ids and again.model == catalog.model
    assert dumps_json(again.to_json()) == path.read_text(encoding="utf-8")


def test_model_points_and_iteration_follow_the_file(catalog6):
    document = json.loads((ROOT / "catalog" / "tms-n6-m2.json").read_text(encoding="utf-8"))
    points = document["critical_points"]
    assert catalog6.model == CatalogModel("tms-high-sparsity", 6, 2)
    assert len(catalog6) == len(points)
    assert list(catalog6) == points  # file order (sorted by loss)
    assert list(catalog6.points) == points
    assert catalog6.ids == tuple(p["id"] for p in points)
    assert list(catalog6.items()) == [(p["id"], p) for p in points]
    losses = [p["loss"] for p in catalog6]
    assert losses == sorted(losses)


def test_entry_lookup(catalog6):
    # "5+" is the pentagon with one extra positive bias of the paper's n = 6 table
    entry = catalog6.entry("5+")
    assert entry["id"] == "5+" and entry["label"] == "5+"
    assert "5+" in catalog6 and "no-such-id" not in catalog6 and ["unhashable"] not in catalog6
    assert catalog6.get("no-such-id") is None
    assert catalog6.entries(["6", "5+"]) == [catalog6.entry("6"), catalog6.entry("5+")]
    W, b = catalog6.parameters("5+")
    assert W.shape == (2, 6) and b.shape == (6,) and W.dtype == float
    # an id with dead-vertex positions (docs/catalog.md: label + positions)
    with_positions = [pid for pid in catalog6.ids if "{" in pid]
    assert with_positions and catalog6.entry(with_positions[0])["id"] == with_positions[0]


def test_unknown_entry_names_the_id_and_the_catalog(catalog6):
    with pytest.raises(KeyError) as raised:
        catalog6.entry("7-gon")
    error = raised.value
    assert isinstance(error, UnknownEntryError)
    assert error.id == "7-gon" and error.source.endswith("tms-n6-m2.json")
    message = str(error)
    assert message.startswith("no entry with id '7-gon' in ") and "tms-n6-m2.json" in message
    assert "ids: 6, 5+, 5" in message  # the first ids, to show what ids look like
    with pytest.raises(UnknownEntryError, match="in my catalog"):
        Catalog.of(catalog6.to_json(), source="my catalog").entry("7-gon")


def test_minima_and_verdicts(catalog6):
    minima = catalog6.minima()
    assert minima == catalog6.by_verdict("minimum")
    assert [p["id"] for p in minima][:3] == ["6", "5+", "5"]  # the paper's n = 6 minima
    assert all(p["verdict"] == "minimum" for p in minima)
    counts = {v: len(catalog6.by_verdict(v)) for v in ("minimum", "saddle", "undecided")}
    assert sum(counts.values()) == len(catalog6)


def test_linear_catalog_entries_are_found_by_label():
    path = next(p for p in COMMITTED_CATALOGS if p.name.startswith("linear-"))
    catalog = Catalog.load(path)
    assert catalog.model.kind == "linear-autoencoder"
    first = catalog.points[0]
    assert "id" not in first and entry_id(first) == first["label"]
    assert catalog.entry(first["label"]) is first
    # no verdict field: the classification decides; the global minimum is the first point
    assert catalog.minima()[0] is first


def test_from_document_validates_and_refuses_duplicate_ids(catalog6):
    document = catalog6.to_json()
    del document["critical_points"][3]["loss"]
    with pytest.raises(CatalogError, match=r"critical_points/3.*'loss'"):
        Catalog.from_document(document, source="broken.json")
    document = catalog6.to_json()
    document["critical_points"][1]["id"] = document["critical_points"][0]["id"]
    with pytest.raises(CatalogError, match="critical_points/1: the id '6' is also that of "
                                           "critical_points/0"):
        Catalog.from_document(document)


def test_the_record_is_read_only_and_to_json_is_a_copy(catalog6):
    with pytest.raises(AttributeError):
        catalog6.model = None
    document = catalog6.to_json()
    document["critical_points"].clear()
    assert len(catalog6) > 0 and len(catalog6.to_json()["critical_points"]) == len(catalog6)
    assert Catalog.of(catalog6) is catalog6


def test_pickles(catalog6):
    # SweepConfig carries its catalog to worker processes and dask workers; errors come back
    again = pickle.loads(pickle.dumps(catalog6))
    assert again.ids == catalog6.ids and again.source == catalog6.source
    with pytest.raises(UnknownEntryError) as raised:
        catalog6.entry("7-gon")
    error = pickle.loads(pickle.dumps(raised.value))
    assert str(error) == str(raised.value) and error.id == "7-gon"


def test_builtin_from_another_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./catalog here
    catalog = Catalog.builtin(6)
    assert catalog.model == CatalogModel("tms-high-sparsity", 6, 2)
    assert "5+" in catalog
    with pytest.raises(CatalogError, match="built-in catalogs: "):
        Catalog.builtin(99)


def test_old_names_still_import():
    from critpoints import store
    from critpoints.catalog import (  # noqa: F401
        SCHEMA_NAME,
        SCHEMA_VERSION,
        CatalogError,
        builtin_path,
        default_catalog_path,
        load_builtin,
        load_catalog,
        new_document,
        validate,
        write_catalog,
    )
    from critpoints.documents import load_document, read_json, write_document

    assert load_catalog is store.load_catalog and load_builtin is store.load_builtin
    assert (load_document, read_json, write_document) == (
        store.load_document, store.read_json, store.write_document)
    assert (SCHEMA_NAME, SCHEMA_VERSION) == ("critpoints.catalog", 1)


# ----------------------------------------------------------------------------------------------
# The mathematics does no file I/O

MATHEMATICS = ("tms", "solve", "kgon", "proofs", "slt", "dynamics", "linear", "landscape",
               "census")
#: Modules of those packages allowed to do I/O, and why.
IO_MODULES: dict[str, str] = {}
FILE_MODULES = ("critpoints.store", "critpoints.io")


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("package", MATHEMATICS)
def test_mathematics_imports_neither_the_store_nor_io(package):
    for path in sorted((ROOT / "critpoints" / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in IO_MODULES:
            continue
        assert not _imported_modules(path) & set(FILE_MODULES), relative


def test_importing_the_mathematics_loads_no_file_module():
    modules = [
        f"critpoints.{path.relative_to(ROOT / 'critpoints').with_suffix('').as_posix()}"
        .replace("/", ".").removesuffix(".__init__")
        for package in MATHEMATICS
        for path in sorted((ROOT / "critpoints" / package).rglob("*.py"))
        if path.relative_to(ROOT).as_posix() not in IO_MODULES
        and not path.name.startswith("_generated")
    ] + ["critpoints.catalog", "critpoints.documents"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted(set(sys.modules) & set({list(FILE_MODULES)!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"
