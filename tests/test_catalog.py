"""The JSON catalog: every committed entry re-verified from its stored numbers; the format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import mpmath
import numpy as np
import pytest

from critpoints import catalog, tms
from critpoints.cli import main

ROOT = Path(__file__).resolve().parents[1]
TMS_CATALOGS = sorted((ROOT / "catalog").glob("tms-n*-m2.json"))
#: Every hidden dimension's catalogs (m = 3: issue 15), re-verified like the m = 2 ones.
TMS_CATALOGS_ANY_M = sorted((ROOT / "catalog").glob("tms-n*-m[0-9].json"))


def test_committed_catalogs_exist():
    names = {path.name for path in TMS_CATALOGS}
    assert "tms-n6-m2.json" in names


@pytest.mark.parametrize("path", TMS_CATALOGS_ANY_M, ids=lambda p: p.name)
def test_committed_catalog_entries_reverify(path):
    """Recompute loss and gradient of every entry from its stored W, b (60-digit strings)."""
    document = catalog.load_catalog(path)
    n, m = document["model"]["n"], document["model"]["m"]
    assert path.name == f"tms-n{n}-m{m}.json"
    previous = -math.inf
    for entry in document["critical_points"]:
        assert entry["loss"] >= previous  # sorted by loss
        previous = entry["loss"]
        digits = entry["precision_digits"]
        with mpmath.workdps(digits):
            W = np.array(entry["W_exact"], dtype=object)
            b = np.array(entry["b_exact"], dtype=object)
            assert W.shape == (m, n)
            value = tms.loss(W, b, dps=digits)
            assert abs(value - mpmath.mpf(entry["loss_exact"])) < mpmath.mpf(10) ** (15 - digits)
            dW, db = tms.gradient(W, b, dps=digits)
            grad = mpmath.sqrt(mpmath.fsum(v * v for v in [*dW.ravel(), *db.ravel()]))
            assert grad <= mpmath.mpf(10) ** (20 - digits), entry["id"]
        # the float copies describe the same point
        assert tms.loss(entry["W"], entry["b"]) == pytest.approx(
            entry["loss"], rel=1e-12, abs=1e-15
        )
        hessian = entry["hessian"]
        assert hessian["n_pos"] + hessian["n_neg"] + hessian["n_zero"] == (m + 1) * n
        if entry["classification"] == "minimum":
            assert entry["learning_coefficient"] == hessian["n_pos"] / 2


def test_packaged_schema_is_the_published_one():
    packaged = json.loads(
        (ROOT / "critpoints" / "schema" / "catalog.schema.json").read_text(encoding="utf-8")
    )
    published = json.loads((ROOT / "catalog" / "catalog.schema.json").read_text(encoding="utf-8"))
    assert packaged == published
    jsonschema.Draft202012Validator.check_schema(published)


CATALOG_FILES = [
    path
    for path in sorted((ROOT / "catalog").glob("*.json"))
    if json.loads(path.read_text(encoding="utf-8")).get("schema_name") == "critpoints.catalog"
]


@pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda p: p.name)
def test_catalog_files_validate_with_plain_jsonschema(path):
    """Another tool needs only the JSON Schema file, not critpoints."""
    schema = json.loads((ROOT / "catalog" / "catalog.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), schema)


@pytest.mark.parametrize("n", [2, 3])
def test_catalog_command_reproduces_the_committed_bytes(tmp_path, n):
    """The catalog is current and machine-independent: the CLI's own command (the census for
    n = 2..8), run again, gives the committed file byte for byte (derived floats come from the
    exact values, ids and order from exact quantities). n = 4, 5, 6 are reproduced the same
    way, without sympy, by tests/test_kgon.py; n = 7, 8 (census) and 9..12 and 32 (enumerate)
    take minutes each: their entries are re-verified and re-classified by
    tests/test_certify.py."""
    committed = ROOT / "catalog" / f"tms-n{n}-m2.json"
    command = json.loads(committed.read_text(encoding="utf-8"))["generator"]["command"]
    arguments = command.split()[3:]  # after "python -m critpoints"
    out = tmp_path / committed.name
    assert main([*arguments, "--quiet", "--out", str(out)]) == 0
    assert out.read_bytes() == committed.read_bytes()


def test_linear_catalog_is_current(tmp_path):
    """The committed linear-autoencoder catalog is what its stored command writes today."""
    committed = ROOT / "catalog" / "linear-n6-m2-random-seed0.json"
    command = json.loads(committed.read_text(encoding="utf-8"))["generator"]["command"]
    out = tmp_path / committed.name
    assert main([*command.split()[1:], "--out", str(out)]) == 0
    assert out.read_bytes() == committed.read_bytes()


def test_kgon_existence_rows_are_current(tmp_path):
    """The committed existence table's rows for n = 5..12 are what the command computes today
    (the whole table, n = 5..64, takes minutes: its first rows stand for it)."""
    committed = json.loads((ROOT / "catalog" / "kgon-existence.json").read_text(encoding="utf-8"))
    out = tmp_path / "existence.json"
    assert main(["kgon-existence", "--min-n", "5", "--max-n", "12", "--out", str(out)]) == 0
    fresh = json.loads(out.read_text(encoding="utf-8"))
    assert fresh["rows"] == [row for row in committed["rows"] if row["n"] <= 12]


def test_regular_ngons_in_the_catalogs_agree_with_the_existence_table():
    """The k = n entries of every committed m = 2 catalog (n ≥ 5, including the budgeted
    large-n ones) are the existence table's row for that n: as many solutions, the same losses
    (to 1e-15), classifications and Hessian indices. Two independent routes: the catalog's
    pattern screen and full-space classification, the table's certified reduced problem."""
    table = json.loads((ROOT / "catalog" / "kgon-existence.json").read_text(encoding="utf-8"))
    rows = {row["n"]: row for row in table["rows"]}
    checked = 0
    for path in sorted((ROOT / "catalog").glob("tms-n*-m2.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        n = document["model"]["n"]
        if n < 5 or n not in rows:
            continue
        regular = sorted((p for p in document["critical_points"]
                          if p["id"].split("#")[0] == str(n)), key=lambda p: p["loss"])
        expected = sorted(rows[n]["points"], key=lambda q: float(q["loss"]))
        assert len(regular) == rows[n]["solutions"] == len(expected), path.name
        for point, row in zip(regular, expected):
            assert abs(point["loss"] - float(row["loss"])) < 1e-15, path.name
            assert point["classification"] == row["classification"], path.name
            assert point["hessian_index"] == row["hessian_index"], path.name
        checked += 1
    assert checked >= 8


def test_enumerate_bytes_do_not_depend_on_workers(tmp_path):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["enumerate", "--n", "4", "--quiet", "--workers", "1", "--out", str(one)]) == 0
    assert main(["enumerate", "--n", "4", "--quiet", "--workers", "2", "--out", str(two)]) == 0
    assert one.read_bytes() == two.read_bytes()


def test_same_command_same_bytes(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["enumerate", "--n", "3", "--quiet", "--out", str(first)]) == 0
    assert main(["enumerate", "--n", "3", "--quiet", "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()


# ----------------------------------------------------------------------------------------------
# Bad files get a clear error


@pytest.fixture()
def good_document():
    return json.loads((ROOT / "catalog" / "tms-n6-m2.json").read_text(encoding="utf-8"))


def _write(tmp_path, text):
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_wrong_schema_version(tmp_path, good_document):
    good_document["schema_version"] = 99
    path = _write(tmp_path, json.dumps(good_document))
    with pytest.raises(catalog.CatalogError, match="schema_version 99 is not supported"):
        catalog.load_catalog(path)


def test_missing_field_is_named(tmp_path, good_document):
    del good_document["critical_points"][3]["loss"]
    path = _write(tmp_path, json.dumps(good_document))
    with pytest.raises(catalog.CatalogError, match=r"critical_points/3.*'loss'"):
        catalog.load_catalog(path)


def test_nan_is_refused(tmp_path, good_document):
    text = json.dumps(good_document).replace('"loss": 0.04819', '"loss": NaN', 1)
    path = _write(tmp_path, text)
    with pytest.raises(catalog.CatalogError, match="NaN is not allowed"):
        catalog.load_catalog(path)


def test_truncated_file(tmp_path, good_document):
    path = _write(tmp_path, json.dumps(good_document)[:5000])
    with pytest.raises(catalog.CatalogError, match="not valid JSON"):
        catalog.load_catalog(path)


def test_unreadable_file(tmp_path):
    with pytest.raises(catalog.CatalogError, match="cannot read"):
        catalog.load_catalog(tmp_path / "missing.json")


def test_invalid_document_is_not_written(tmp_path, good_document):
    path = tmp_path / "out.json"
    path.write_text("previous contents", encoding="utf-8")
    good_document["critical_points"][0]["classification"] = "maybe"
    with pytest.raises(catalog.CatalogError, match="classification"):
        catalog.write_catalog(path, good_document)
    assert path.read_text(encoding="utf-8") == "previous contents"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_write_is_atomic_when_interrupted(tmp_path, good_document, monkeypatch):
    path = tmp_path / "out.json"
    catalog.write_catalog(path, good_document)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(KeyboardInterrupt):
        catalog.write_catalog(path, good_document)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_a_write_that_fails_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch, capsys):
    """A disk that refuses the file after the checks passed (full, read-only mount, quota):
    one line, exit 2, the previous catalog intact and no temporary file left."""
    import errno

    path = tmp_path / "tms-n2-m2.json"
    path.write_text("previous contents", encoding="utf-8")

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("os.replace", refuse)
    assert main(["enumerate", "--n", "2", "--random-starts", "0", "--quiet", "--workers", "1",
                 "--out", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write" in err[0] and "No space left" in err[0], err
    assert path.read_text(encoding="utf-8") == "previous contents"
    assert list(tmp_path.iterdir()) == [path]


# ----------------------------------------------------------------------------------------------
# CLI


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "0"], "at least 1"),
        (["--n", "6", "--hidden", "4"], "through the census"),
        (["--n", "six"], "expected an integer"),
        (["--n", "2.5"], "expected an integer"),
        (["--n", "6", "--digits", "10"], "--digits"),
        (["--n", "6", "--volume-check-max-dimension", "0"], "--volume-check-max-dimension"),
        (["--n", "6", "--volume-check-max-dimension", "nan"], "--volume-check-max-dimension"),
        (["--n", "6", "--sparsity", "0.9", "--volume-check-max-dimension", "20"],
         "applies to the one-hot enumeration"),
    ],
)
def test_enumerate_rejects_bad_arguments(tmp_path, capsys, args, message):
    out = tmp_path / "keep.json"
    out.write_text("keep me", encoding="utf-8")
    assert main(["enumerate", *args, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert out.read_text(encoding="utf-8") == "keep me"


def test_enumerate_prints_a_table(tmp_path, capsys):
    out = tmp_path / "n4.json"
    assert main(["enumerate", "--n", "4", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[:3] == ["id", "loss", "classification"]
    # the square is the n = 4 optimum: perfect reconstruction, L = 0 (SPEC §2: l = 1, b = 0)
    assert text.splitlines()[2].split()[:2] == ["4", "0.000000"]
    document = catalog.load_catalog(out)
    assert document["model"] == {**document["model"], "kind": "tms-high-sparsity", "n": 4, "m": 2}


@pytest.mark.parametrize(
    "graph_file",
    sorted((ROOT / "catalog").glob("tms-n*-m2.transitions*.json")),
    ids=lambda p: p.name,
)
def test_committed_transition_graphs_refer_to_the_committed_catalog(graph_file):
    """A regenerated catalog renumbers irregular ids: the graphs must be re-run with it."""
    n = graph_file.name.split("-")[1]
    entries = catalog.Catalog.load(ROOT / "catalog" / f"tms-{n}-m2.json")
    graph = json.loads(graph_file.read_text(encoding="utf-8"))
    assert {node["id"] for node in graph["nodes"]} == set(entries.ids)
    for node in graph["nodes"]:
        assert node["loss"] == pytest.approx(entries.entry(node["id"])["loss"], abs=1e-12)


def test_enumerate_says_what_the_volume_checks_cost_above_the_threshold(tmp_path, capsys,
                                                                         monkeypatch):
    """Above SLOW_VOLUME_CHECK_DIMENSION parameters the progress output names the cost of the
    volume checks and the option that skips them; not when the option is given."""
    from critpoints.cli import enumerate as enumerate_command

    monkeypatch.setattr(enumerate_command, "SLOW_VOLUME_CHECK_DIMENSION", 5)
    common = ["enumerate", "--n", "2", "--random-starts", "0", "--workers", "1"]
    assert main([*common, "--out", str(tmp_path / "a.json")]) == 0
    assert "--volume-check-max-dimension D skips it" in capsys.readouterr().err
    assert main([*common, "--volume-check-max-dimension", "5",
                 "--out", str(tmp_path / "b.json")]) == 0
    assert "note:" not in capsys.readouterr().err
