"""``critpoints certify`` checks everything an entry claims: tampered catalogs fail, naming the
entry and the field; unreadable files exit 2; every committed catalog re-checks (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from critpoints.cli import main

ROOT = Path(__file__).resolve().parents[1]
# every hidden dimension (m = 2, and m = 3 of issue 15), by m then n
TMS_CATALOGS = sorted((ROOT / "catalog").glob("tms-n*-m[0-9].json"),
                      key=lambda p: (p.name.split("-m")[1],
                                     int(p.name.split("-n")[1].split("-")[0])))


@pytest.fixture(scope="module")
def small_document():
    """Three entries of the committed n = 3 catalog: a smooth minimum, a smooth saddle and a
    non-smooth point with a stored descent (so every kind of claim is present)."""
    document = json.loads((ROOT / "catalog" / "tms-n3-m2.json").read_text(encoding="utf-8"))
    points = document["critical_points"]
    chosen = [next(p for p in points if p["classification"] == "minimum"),
              next(p for p in points if p["classification"] == "saddle"),
              next(p for p in points if "descent" in p["evidence"])]
    document["critical_points"] = sorted(chosen, key=lambda p: p["loss"])
    return document


def _certify(tmp_path, document, capsys, *extra):
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    code = main(["certify", str(path), "--quiet", *extra])
    return code, capsys.readouterr()


def test_untampered_subset_certifies(tmp_path, small_document, capsys):
    code, out = _certify(tmp_path, small_document, capsys)
    assert code == 0, out.out


def _entry(document, kind):
    if kind == "descent":
        return next(p for p in document["critical_points"] if "descent" in p["evidence"])
    return next(p for p in document["critical_points"] if p["classification"] == kind)


TAMPERINGS = {
    # name: (edit, field the failure must name)
    "W moved by 0.1": (
        lambda d: _entry(d, "minimum")["W"][0].__setitem__(
            0, _entry(d, "minimum")["W"][0][0] + 0.1
        ),
        "W",
    ),
    "b moved by 0.1": (
        lambda d: _entry(d, "saddle")["b"].__setitem__(0, _entry(d, "saddle")["b"][0] + 0.1),
        "b",
    ),
    "W_exact moved": (lambda d: _entry(d, "minimum")["W_exact"][0].__setitem__(0, "0.7"), "W"),
    "loss edited": (
        lambda d: _entry(d, "minimum").__setitem__("loss", _entry(d, "minimum")["loss"] * 0.999),
        "loss",
    ),
    "loss_exact edited": (lambda d: _entry(d, "saddle").__setitem__("loss_exact", "0.2"), "loss"),
    "classification edited": (
        lambda d: _entry(d, "saddle").__setitem__("classification", "minimum"),
        "classification",
    ),
    "verdict edited": (lambda d: _entry(d, "descent").__setitem__("verdict", "minimum"), "verdict"),
    "index edited": (
        lambda d: _entry(d, "saddle").__setitem__(
            "hessian_index", _entry(d, "saddle")["hessian_index"] + 1
        ),
        "hessian_index",
    ),
    "n_neg edited": (
        lambda d: _entry(d, "saddle")["hessian"].__setitem__("n_neg", 0),
        "hessian.n_neg",
    ),
    "lambda edited": (
        lambda d: _entry(d, "minimum").__setitem__("learning_coefficient", 9.5),
        "learning_coefficient",
    ),
    "on_boundary edited": (
        lambda d: _entry(d, "descent").__setitem__("on_boundary", False),
        "on_boundary",
    ),
    "descent sign edited": (
        lambda d: _entry(d, "descent")["evidence"]["descent"].__setitem__(
            "delta_loss", [1e-9, 1e-11, 1e-13]
        ),
        "evidence.descent",
    ),
    "duplicate ids": (
        lambda d: d["critical_points"][1].__setitem__("id", d["critical_points"][0]["id"]),
        "id",
    ),
    "empty list": (lambda d: d.__setitem__("critical_points", []), "critical_points"),
}


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_tampered_catalog_fails(tmp_path, small_document, capsys, name):
    document = json.loads(json.dumps(small_document))
    edit, field = TAMPERINGS[name]
    edit(document)
    code, out = _certify(tmp_path, document, capsys)
    assert code == 1, (name, out.out)
    assert f": {field}" in out.out, (name, out.out)
    assert "Traceback" not in out.err


def test_failures_name_entry_and_field_in_fast_mode_too(tmp_path, small_document, capsys):
    document = json.loads(json.dumps(small_document))
    _entry(document, "saddle")["hessian_index"] += 1
    code, out = _certify(tmp_path, document, capsys, "--no-classify")
    assert code == 1
    entry_id = _entry(document, "saddle")["id"]
    assert f"FAIL {entry_id}: hessian_index" in out.out


@pytest.mark.parametrize("content", [
    b"\x00\x01\x02binary\xff\xfe",
    '{"schema_name": "critpoints.catalog"}'.encode("utf-16"),
    b'{"schema_name": "critpoints.catalog", "schema_version": 1, "loss": 1e400}',
    b"[" * 100000,
    b"{not json",
])
def test_unreadable_files_exit_2_with_one_line(tmp_path, capsys, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    assert main(["certify", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_overflowing_number_is_refused_at_load_time(tmp_path, small_document, capsys):
    text = json.dumps(small_document).replace(
        json.dumps(small_document["critical_points"][0]["loss"]), "1e400", 1)
    path = tmp_path / "inf.json"
    path.write_text(text, encoding="utf-8")
    assert main(["certify", str(path), "--quiet"]) == 2
    assert "1e400" in capsys.readouterr().err


def test_wrong_shapes_are_failures_not_crashes(tmp_path, small_document, capsys):
    document = json.loads(json.dumps(small_document))
    document["critical_points"][0]["W_exact"] = [row[:-1] for row in
                                                 document["critical_points"][0]["W_exact"]]
    code, out = _certify(tmp_path, document, capsys)
    assert code == 1 and ": W_exact: not an 2×3 matrix" in out.out
    document = json.loads(json.dumps(small_document))
    document["model"]["n"] = 4
    code, out = _certify(tmp_path, document, capsys)
    assert code == 1 and "the model says m = 2, n = 4" in out.out


def _first_proved(document):
    return next(p for p in document["critical_points"] if p["certificate"]["proved"])


def _set_point(document, key, value):
    point = _first_proved(document)
    if "point" not in point["certificate"]:
        point["certificate"]["point"] = {}
    point["certificate"]["point"][key] = value


TAMPERED_ENTRIES = {
    # each was a traceback (exit 1 without a FAIL line), a hang or a pass before
    "W_exact-nan": (lambda d: _first_proved(d)["W_exact"][0].__setitem__(0, "nan"),
                    "W_exact/b_exact"),
    "W_exact-1e100000000": (lambda d: _first_proved(d)["W_exact"][0].__setitem__(
        0, "1e100000000"), "W_exact/b_exact"),
    "precision-1e9": (lambda d: _first_proved(d).__setitem__("precision_digits", 10**9),
                      "precision_digits"),
    "dead_vertices-deleted": (lambda d: _first_proved(d).pop("dead_vertices"), None),
    "dead_vertices-99": (lambda d: _first_proved(d).__setitem__("dead_vertices", [99]),
                         "dead_vertices"),
    "certificate-point-edited": (lambda d: _set_point(d, "x", "1/0"), "certificate point"),
    "certificate-point-k": (lambda d: _set_point(d, "k", 10**12), "certificate point"),
    "certificate-scope-edited": (lambda d: _first_proved(d)["certificate"].__setitem__(
        "scope", "trust me"), "certificate scope"),
}


@pytest.mark.parametrize("tamper", TAMPERED_ENTRIES, ids=str)
def test_a_tampered_entry_is_a_failure_not_a_crash(tamper, tmp_path, small_document, capsys):
    """Fields edited by hand give FAIL lines and exit 1: no traceback, no hang."""
    change, field = TAMPERED_ENTRIES[tamper]
    document = json.loads(json.dumps(small_document))
    change(document)
    code, out = _certify(tmp_path, document, capsys)
    assert code == 1 and "Traceback" not in out.err, out.err
    failures = [line for line in out.out.splitlines() if line.startswith("FAIL")]
    assert failures, out.out
    if field is not None:
        assert any(field in line for line in failures), failures


def test_linear_catalog_is_refused_with_a_reason(capsys):
    path = ROOT / "catalog" / "linear-n6-m2-random-seed0.json"
    assert main(["certify", str(path), "--quiet"]) == 2
    assert "not a TMS catalog" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("path", TMS_CATALOGS, ids=lambda p: p.name)
def test_every_committed_catalog_recertifies(path, capsys):
    """Every committed entry re-verified and re-classified from its stored exact numbers: the
    stored classification, verdict, index, counts, on_boundary and λ are what the code derives,
    and the proofs re-check."""
    assert main(["certify", str(path), "--quiet", "--workers", "2"]) == 0, capsys.readouterr().out


def test_volume_check_budget_is_the_catalogs_own(tmp_path, capsys):
    """``enumerate --volume-check-max-dimension D`` leaves λ of the non-smooth minima above D
    parameters out, says why, and records D; certify re-classifies with the recorded D, so a
    budget edited into a catalog whose λ were confirmed (or out of one whose λ were left out)
    fails on λ, and a budget that is not a positive integer fails the document."""
    out = tmp_path / "tms-n4-m2.json"
    assert main(["enumerate", "--n", "4", "--random-starts", "0", "--volume-check-max-dimension",
                 "11", "--quiet", "--workers", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["model"]["conventions"]["volume_check_max_dimension"] == 11
    assert document["generator"]["command"].endswith(
        "--volume-check-max-dimension 11 --digits 60 --random-starts 0 --seed 0")
    square = next(p for p in document["critical_points"] if p["id"] == "4")
    # the square of n = 4 has (m + 1)·n = 12 parameters and one explained zero mode (the O(2)
    # rotation): straight lines suggest λ = (12 − 1)/2, which the committed catalog (no
    # budget) confirms by its volume check
    committed = json.loads((ROOT / "catalog" / "tms-n4-m2.json").read_text(encoding="utf-8"))
    assert next(p for p in committed["critical_points"]
                if p["id"] == "4")["learning_coefficient"] == 5.5
    assert square["verdict"] == "minimum" and square["learning_coefficient"] is None
    reason = square["evidence"]["learning_coefficient"]
    assert "not computed" in reason and "λ = 11/2 would follow" in reason
    assert "12 parameters" in reason
    assert "volume_scaling" not in square["evidence"]
    assert main(["certify", str(out), "--quiet", "--workers", "1"]) == 0, capsys.readouterr().out

    document["critical_points"] = [square]
    lifted = json.loads(json.dumps(document))
    del lifted["model"]["conventions"]["volume_check_max_dimension"]
    code, printed = _certify(tmp_path, lifted, capsys)
    assert code == 1 and "learning_coefficient" in printed.out
    for bad in ("11", 0, 11.5):
        document["model"]["conventions"]["volume_check_max_dimension"] = bad
        code, printed = _certify(tmp_path, document, capsys, "--no-classify")
        assert code == 1 and "volume_check_max_dimension" in printed.out, bad
