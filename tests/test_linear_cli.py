"""``critpoints linear`` through critpoints.cli.main."""

import json
import math

import numpy as np
import pytest

import critpoints.cli as cli
from critpoints.catalog import load_catalog


@pytest.fixture(autouse=True)
def scratch_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)


def _run(capsys, *argv):
    status = cli.main(["linear", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_random_table_and_catalog(capsys, tmp_path):
    status, out, err = _run(capsys, "--n", "5", "--hidden", "2")
    assert status == 0 and err == ""
    path = tmp_path / "catalog" / "linear-n5-m2-random-seed0.json"
    doc = load_catalog(path)  # the lead's strict validating loader (JSON Schema v1)
    points = doc["critical_points"]
    assert len(points) == 1 + 5 + 10  # C(5,0) + C(5,1) + C(5,2)
    assert doc["model"]["sigma_source"] == "random seed=0"
    assert doc["generator"]["command"].startswith("critpoints linear --n 5 --hidden 2")
    losses = [p["loss"] for p in points]
    assert losses == sorted(losses)
    for p in points:
        assert p["label"] in out
        assert p["grad_norm"] <= 1e-40 and p["precision_digits"] == 60
        assert len(p["loss_exact"].replace(".", "").lstrip("0")) >= 30
        assert float(p["loss_exact"]) == pytest.approx(p["loss"], rel=1e-15)
        assert len(p["hessian"]["eigenvalues"]) == 2 * 5 * 2
        assert p["hessian_index"] == p["hessian"]["n_neg"]
        assert np.allclose(np.array(p["A"]).T, np.array(p["B"]))
    assert [p["classification"] for p in points].count("minimum") == 1
    assert points[0]["subset"] == [1, 2]
    assert points[0]["learning_coefficient"] == 2 * (2 * 5 - 2) / 2


def test_same_command_same_bytes(capsys, tmp_path):
    _run(capsys, "--n", "4", "--hidden", "1", "--out", "a.json")
    _run(capsys, "--n", "4", "--hidden", "1", "--out", "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_sparse_warns_and_writes(capsys, tmp_path):
    status, _, err = _run(capsys, "--n", "6", "--sigma", "sparse", "--sparsity", "0.95")
    assert status == 0
    assert "repeated eigenvalue" in err and len(err.strip().splitlines()) == 1
    doc = load_catalog(tmp_path / "catalog" / "linear-n6-m2-sparse-S0.95.json")
    assert doc["critical_points"][0]["classification"] == "minimum"
    assert doc["critical_points"][0]["hessian"]["n_zero"] == 4 + 4  # GL(2) + Gr(1, 5)


def test_sigma_file(capsys, tmp_path):
    (tmp_path / "s.json").write_text(json.dumps([[3.0, 0.5, 0], [0.5, 2.0, 0], [0, 0, 1.0]]))
    status, _, _ = _run(capsys, "--sigma-file", "s.json", "--hidden", "1", "--out", "c.json")
    assert status == 0
    doc = json.loads((tmp_path / "c.json").read_text())
    top = (5 + math.sqrt(2)) / 2  # eigenvalue of [[3, .5], [.5, 2]] by hand
    assert doc["critical_points"][0]["loss"] == pytest.approx(6.0 - top, rel=1e-14)


@pytest.mark.parametrize("argv,needle", [
    (["--n", "4", "--hidden", "4"], "hidden"),
    (["--n", "1"], "--n"),
    (["--n", "4", "--sigma", "sparse", "--sparsity", "1.0"], "sparsity"),
    (["--n", "4", "--sigma", "sparse", "--sparsity", "nan"], "sparsity"),
    # it was silently ignored: the random Σ was used
    (["--n", "4", "--sparsity", "0.5"], "no effect with --sigma random"),
    (["--sigma-file", "missing.json"], "cannot read"),
    (["--sigma-file", "bad.json"], "not valid JSON"),
    (["--sigma-file", "ragged.json"], "square"),
    (["--sigma-file", "nan.json"], "NaN is not allowed"),
    (["--sigma-file", "asym.json"], "not symmetric"),
    (["--sigma-file", "indef.json"], "not positive definite"),
    (["--sigma-file", "repeated.json", "--hidden", "1"], "repeated eigenvalue"),
    (["--sigma-file", "repeated.json", "--n", "4"], "does not match"),
    (["--n", "4", "--digits", "10"], "--digits"),
])
def test_bad_input_exit_2_one_line_file_untouched(capsys, tmp_path, argv, needle):
    files = {"bad.json": "[[1, 0], [0, 1]", "ragged.json": "[[1, 0], [0]]",
             "nan.json": "[[1, NaN], [NaN, 1]]", "asym.json": "[[2, 1], [0, 2]]",
             "indef.json": "[[1, 2], [2, 1]]", "repeated.json": "[[3, 0, 0], [0, 2, 0], [0, 0, 2]]"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    target = tmp_path / "keep.json"
    target.write_text("precious")
    status, _, err = _run(capsys, *argv, "--out", "keep.json")
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err
    assert target.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*files, "keep.json"])


def test_isotropy_table_flag(capsys):
    status, out, _ = _run(capsys, "--n", "6", "--hidden", "2", "--isotropy-table")
    assert status == 0
    assert "54.736°" in out  # arccos(√(2/6)) in degrees
    assert len([line for line in out.splitlines() if line.startswith("| 0")]) == 6
