"""Figures: each kind is drawn, files are reproducible, and the extra is optional."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from critpoints.cli import main

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "catalog/tms-n6-m2.json"


def test_feature_roles_of_catalog_labels():
    from critpoints.catalog import Catalog
    from critpoints.plot import feature_roles

    catalog = Catalog.load(CATALOG)
    for p in catalog.entries(["5+", "4++-", "4+-"]):
        roles = feature_roles(p["W"], p["b"])
        # The label counts: k vertices of which phi dead, sigma positive-bias zero columns.
        assert roles.count("live") + roles.count("dead_vertex") == p["k"]
        assert roles.count("dead_vertex") == p["phi"]
        assert roles.count("positive_bias") == p["sigma"]


@pytest.mark.parametrize("kind, source, suffix", [
    ("catalog", "catalog/tms-n6-m2.json", ".svg"),
    ("graph", "catalog/tms-n6-m2.transitions.json", ".png"),
    ("phases", "catalog/tms-n6-m2.phases.json", ".png"),
    ("polytopes", "catalog/tms-n5-m3.json", ".png"),
])
def test_plot_kinds(kind, source, suffix, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"figure{suffix}"
    assert main(["plot", kind, str(ROOT / source), "--out", str(out), "--top", "6"]) == 0
    assert out.stat().st_size > 5000


def test_svg_is_reproducible(tmp_path):
    pytest.importorskip("matplotlib")
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    for out in (first, second):
        assert main(["plot", "catalog", str(CATALOG), "--top", "4", "--out", str(out)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert b"<dc:date>" not in first.read_bytes()


def test_plot_sgd_small(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sgd.png"
    assert main(["plot", "sgd", str(CATALOG), "--runs", "2", "--steps", "3000",
                 "--out", str(out)]) == 0
    assert out.exists()


def test_plot_usage_errors(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["plot", "catalog", str(tmp_path / "missing.json")]) == 2
    assert main(["plot", "catalog", str(CATALOG), "--out", str(tmp_path / "x.txt")]) == 2
    assert main(["plot", "sgd", str(CATALOG), "--init", "nope", "--steps", "10",
                 "--out", str(tmp_path / "s.png")]) == 2


def test_default_output_names():
    from critpoints.cli.plot import default_output

    assert default_output("catalog", Path("catalog/tms-n6-m2.json")) == Path(
        "docs/figures/tms-n6-catalog.png")
    assert default_output("graph", Path("catalog/tms-n6-m2.transitions.json")) == Path(
        "docs/figures/tms-n6-graph.png")


def test_without_matplotlib(monkeypatch, tmp_path, capsys):
    """No matplotlib: `plot` prints the install hint and exits 2; the rest still works."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert main(["plot", "catalog", str(CATALOG), "--out", str(tmp_path / "x.png")]) == 2
    assert "pip install 'critpoints[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    # Importing the plot package and the CLI does not need matplotlib; other commands run.
    import critpoints.plot  # noqa: F401

    assert main(["docs", "--file", str(ROOT / "docs/potential.md")]) == 0
    with open(ROOT / "catalog/tms-n6-m2.phases.json", encoding="utf-8") as handle:
        assert json.load(handle)["n"] == 6


def test_polytope_glyph_draws_the_hull_of_a_tetrahedron_and_refuses_m2(tmp_path):
    """The regular tetrahedron's hull has its 6 edges; a square's polygon its 4; an m = 2
    catalog is not a polytope figure's input."""
    import numpy as np

    from critpoints.plot.polytope import _hull_edges

    tetrahedron = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    assert len(_hull_edges(tetrahedron)) == 6
    cube = np.array([[x, y, z] for x in (1, -1) for y in (1, -1) for z in (1, -1)], float)
    assert len(_hull_edges(cube)) == 12  # face diagonals are not edges
    square = np.array([[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], dtype=float)
    assert sorted(tuple(sorted(e)) for e in _hull_edges(square)) == [(0, 1), (0, 3), (1, 2),
                                                                       (2, 3)]
    pytest.importorskip("matplotlib")
    assert main(["plot", "polytopes", str(CATALOG), "--out", str(tmp_path / "x.png")]) == 2


def test_a_sweep_that_settled_nowhere_has_nothing_to_draw(tmp_path, capsys):
    """A valid transitions file whose runs never settled on a catalogued point (too few steps)
    and whose catalog has no minimum with λ > 0 to show: 'nothing to draw' (it said the valid
    file was malformed)."""
    pytest.importorskip("matplotlib")
    graph = tmp_path / "t.json"
    assert main(["transitions", "--n", "3", "--init", "random", "--runs", "2", "--steps", "200",
                 "--out", str(graph), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["plot", "graph", str(graph), "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing to draw" in err[0] and "malformed" not in err[0], err
