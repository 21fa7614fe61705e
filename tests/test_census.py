"""The census of the landscape: strategies, the completeness estimate, and the census itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.catalog import Catalog
from critpoints.census import CensusBudget, chao1_unseen, compare_catalogs, run_census
from critpoints.census.strategies import (
    PARAMETERISATIONS,
    eigendirection_kicks,
    eigendirections,
    gentlest_ascent,
    random_starts,
)
from critpoints.cli import main
from critpoints.potential import SmoothPotential
from critpoints.tms.model import TMSPotential

ROOT = Path(__file__).resolve().parents[1]


class DoubleWell(SmoothPotential):
    """L(x, y) = (x² − 1)² + 2 y²: minima (±1, 0), one index-1 saddle (0, 0) at L = 1."""

    dim = 2

    def flatten(self, theta):
        return np.asarray(theta)

    def unflatten(self, theta):
        return (np.asarray(theta),)

    def orbit_tangents(self, theta):
        return np.zeros((0, 2))

    def loss(self, theta, dps=None):
        x, y = np.moveaxis(np.asarray(theta, dtype=float), -1, 0)
        return (x**2 - 1) ** 2 + 2 * y**2

    def loss_and_gradient(self, theta, dps=None):
        theta = np.asarray(theta, dtype=float)
        x, y = np.moveaxis(theta, -1, 0)
        return self.loss(theta), np.stack([4 * x * (x**2 - 1), 4 * y], axis=-1)

    def hessian(self, theta, dps=None, side=None):
        x, _ = np.moveaxis(np.asarray(theta, dtype=float), -1, 0)
        H = np.zeros((*x.shape, 2, 2))
        H[..., 0, 0] = 12 * x**2 - 4
        H[..., 1, 1] = 4
        return H


# ----------------------------------------------------------------------------------------------
# The completeness estimate


@given(st.lists(st.integers(1, 50), max_size=60))
def test_chao1_is_the_bias_corrected_formula(counts):
    f1, f2 = counts.count(1), counts.count(2)
    assert chao1_unseen(counts) == pytest.approx(f1 * (f1 - 1) / (2 * (f2 + 1)))
    assert chao1_unseen(counts) >= 0


@settings(max_examples=20, deadline=None)
@given(st.integers(5, 40), st.integers(0, 2**32 - 1))
def test_chao1_sees_nothing_missing_once_every_species_is_hit_often(species, seed):
    """Sampling 200 draws per species from equally likely species: each is hit ~200 times, no
    singletons, and the estimate of the unseen is 0 (and it is exactly the truth)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(species, size=200 * species)
    assert chao1_unseen(np.bincount(draws, minlength=species)) == 0


def test_chao1_estimates_the_unseen_of_a_sparse_sample():
    """Many rare species sampled thinly: Chao1 is positive and, averaged over repetitions, a
    lower bound of the truth within a factor (Chao 1984: unbiased for equal abundances when the
    sample is large)."""
    rng = np.random.default_rng(7)
    species, draws = 100, 120
    estimates, truths = [], []
    for _ in range(200):
        counts = np.bincount(rng.integers(species, size=draws), minlength=species)
        seen = counts[counts > 0]
        estimates.append(chao1_unseen(seen))
        truths.append(species - len(seen))
    assert 0.6 * np.mean(truths) < np.mean(estimates) < 1.1 * np.mean(truths)


# ----------------------------------------------------------------------------------------------
# Strategies


@pytest.mark.parametrize("name", PARAMETERISATIONS)
def test_random_starts_are_seeded_finite_and_shaped(name):
    first = random_starts(5, 2, 40, name, np.random.default_rng(3))
    again = random_starts(5, 2, 40, name, np.random.default_rng(3))
    assert first.shape == (40, 15)
    assert np.isfinite(first).all()
    assert np.array_equal(first, again)


def test_sparse_starts_have_zero_columns_with_both_bias_signs():
    theta = random_starts(6, 2, 400, "sparse", np.random.default_rng(0))
    W = theta[:, :12].reshape(400, 2, 6)
    b = theta[:, 12:]
    zero = np.linalg.norm(W, axis=1) == 0
    assert zero.any() and (b[zero] > 0).any() and (b[zero] < 0).any()


def test_unknown_parameterisation_is_refused():
    with pytest.raises(ValueError, match="unknown parameterisation"):
        random_starts(3, 2, 3, "uniform", np.random.default_rng(0))


def test_gentlest_ascent_climbs_from_a_minimum_to_the_saddle():
    well = DoubleWell()
    start = np.array([[1.0, 0.0], [-1.0, 0.0]])
    direction = np.array([[-1.0, 0.0], [1.0, 0.0]])
    end = gentlest_ascent(well, start, direction, iterations=2000)
    assert np.abs(end).max() < 1e-6  # the saddle (0, 0)


def test_eigendirections_of_a_saddle_and_of_a_minimum():
    well = DoubleWell()
    assert len(eigendirections(well, np.array([0.0, 0.0])).unstable) == 1
    minimum = eigendirections(well, np.array([1.0, 0.0]))
    assert len(minimum.unstable) == 0
    kicks = eigendirection_kicks(np.array([1.0, 0.0]), minimum, amplitudes=(0.1,))
    assert kicks.shape == (4, 2)
    assert np.allclose(np.linalg.norm(kicks - [1.0, 0.0], axis=1), 0.1)


def test_eigendirections_leave_out_the_rotation_and_count_the_unstable_directions():
    """At a catalogued smooth saddle, the unstable directions are its negative eigenvalues
    (the catalog's own Hessian count), and none of them moves along the O(2) orbit."""
    catalog = Catalog.builtin(5)
    saddle = next(p for p in catalog if p["classification"] == "saddle")
    tms = TMSPotential(5)
    theta = tms.flatten(*catalog.parameters(saddle["id"]))
    directions = eigendirections(tms, theta)
    assert len(directions.unstable) == saddle["hessian"]["n_neg"]
    tangent = tms.orbit_tangents(theta)[0]
    assert np.abs(directions.vectors @ tangent).max() < 1e-8


# ----------------------------------------------------------------------------------------------
# The census


@pytest.fixture(scope="module")
def census_n3():
    return run_census(3, budget=CensusBudget(600, 300), workers=1)


def test_census_holds_every_committed_orbit(census_n3):
    """The census contains the pattern language, so every committed n = 3 orbit is in it."""
    document = {"schema_name": "critpoints.catalog", "schema_version": 1,
                "model": {"kind": "tms-high-sparsity", "n": 3, "m": 2},
                "critical_points": [e.to_json() for e in census_n3.enumeration.entries]}
    comparison = compare_catalogs(Catalog.builtin(3), Catalog.from_document(document,
                                                                            validate=False))
    assert comparison.only_in_first == []
    # every pattern keeps its entry, also where two patterns share a flat set (`1`, `2-`)
    patterns = {p["id"] for p in Catalog.builtin(3) if p["origin"] == "pattern"}
    assert {e.id for e in census_n3.enumeration.entries if e.origin == "pattern"} == patterns


def test_census_record_adds_up(census_n3):
    record = census_n3.record
    assert record["orbits"] == len(census_n3.orbits)
    assert record["orbits_catalogued"] == len(census_n3.enumeration.entries)
    assert record["orbits"] == record["orbits_catalogued"] + len(record["unrefined"])
    first_found = sum(row["orbits_first_found"] for row in record["strategies"].values())
    assert first_found == record["orbits"]
    sample = record["random_sample"]
    assert sample["starts"] == 600
    assert sample["orbits_hit"] + sample["orbits_never_hit"] == record["orbits"]
    assert set(record["hits"]) <= {e.id for e in census_n3.enumeration.entries}


def test_census_does_not_depend_on_the_number_of_workers(census_n3):
    parallel = run_census(3, budget=CensusBudget(600, 300), workers=2)
    assert parallel.record == census_n3.record
    assert [e.to_json() for e in parallel.enumeration.entries] == \
        [e.to_json() for e in census_n3.enumeration.entries]


def test_census_budget_is_validated():
    with pytest.raises(ValueError):
        CensusBudget(random_starts=100, round_starts=300)
    with pytest.raises(ValueError, match="m must be at least 1"):
        run_census(3, m=0)


def test_census_cli_writes_a_valid_catalog(tmp_path, capsys):
    out = tmp_path / "census.json"
    assert main(["census", "--n", "2", "--budget", "300", "--round-starts", "150",
                 "--workers", "1", "--quiet", "--out", str(out),
                 "--compare", str(tmp_path / "missing.json")]) == 2
    assert not out.exists()  # refused before computing
    assert main(["census", "--n", "2", "--budget", "300", "--round-starts", "150",
                 "--workers", "1", "--quiet", "--out", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["census"]["random_sample"]["starts"] == 300
    assert document["generator"]["command"].startswith("python -m critpoints census --n 2")
    Catalog.load(out)  # validates against the schema
    assert "Chao1" in capsys.readouterr().out


def test_census_without_moves_samples_the_random_starts_only(tmp_path, capsys):
    """--no-moves: no kick, ascent or descent start; the record says so; every orbit it
    catalogues is one of the census with moves (the same random starts, fewer expansions)."""
    out = tmp_path / "sample.json"
    assert main(["census", "--n", "3", "--budget", "600", "--round-starts", "300",
                 "--workers", "1", "--quiet", "--no-moves", "--no-landscape", "--out", str(out),
                 "--compare", str(ROOT / "catalog" / "tms-n3-m2.json")]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    record = document["census"]
    assert record["budget"]["moves"] is False
    assert all(record["strategies"][s]["starts"] == 0 for s in ("kick", "ascent", "descent"))
    assert document["generator"]["command"].endswith("--no-moves")
    Catalog.load(out)  # validates against the schema
    comparison = compare_catalogs(Catalog.from_document(document), Catalog.builtin(3))
    assert comparison.only_in_first == []
    assert "0 only in" in capsys.readouterr().out


def test_census_with_descent_closure_stores_its_record(tmp_path):
    """--descent-closure: the catalog carries the closure's record (the census once passed it
    into the wrong field and wrote none), and the record counts every catalogued saddle."""
    out = tmp_path / "closed.json"
    assert main(["census", "--n", "3", "--hidden", "3", "--no-landscape", "--budget", "300",
                 "--round-starts", "150", "--workers", "1", "--quiet", "--descent-closure",
                 "--out", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    record = document["descent_closure"]
    saddles = [p for p in document["critical_points"] if p["verdict"] == "saddle"]
    assert record["closed"] and record["saddles_descended"] == len(saddles) > 0
    assert record["descents"] >= record["converged"] >= record["in_catalogued_sets"] > 0
    assert document["generator"]["command"].endswith("--descent-closure")
    assert "pattern_language" not in document
    Catalog.load(out)  # validates against the schema


def test_census_cli_refuses_more_round_starts_than_budget(tmp_path, capsys):
    assert main(["census", "--n", "2", "--budget", "300", "--round-starts", "600",
                 "--out", str(tmp_path / "x.json")]) == 2
    assert "--round-starts" in capsys.readouterr().err


def test_dask_cluster_gives_the_same_census():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    budget = CensusBudget(300, 150)
    local = run_census(2, budget=budget, workers=1)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = run_census(2, budget=budget, scheduler=cluster.scheduler_address)
    assert remote.record == local.record
