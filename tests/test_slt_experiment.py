"""The experiments as library functions (a notebook user's path): ``run_phases``, ``run_llc``."""

import pytest

from critpoints import documents
from critpoints.catalog import load_builtin
from critpoints.slt.experiment import (
    DOCUMENT_PAIR,
    run_llc,
    run_phases,
    sample_size_grid,
    sampling_levels,
)


def _crossing(grid, occupancy, a, b):
    from critpoints.slt.mcmc import occupancy_crossing

    return occupancy_crossing(grid, occupancy[a], occupancy[b])


@pytest.fixture(scope="module")
def catalog():
    return load_builtin(6)


def test_run_phases_on_a_tiny_ladder_gives_a_valid_phases_document(catalog):
    messages = []
    result = run_phases(catalog, sample_size_grid(150, 600, 3), source="builtin n = 6",
                        mcmc_steps=100, ensembles=2, hot_levels=1, seed=3,
                        progress=messages.append)
    document = result.to_json()
    documents.validate(document, "run_phases", documents.PHASES)
    assert document["catalog"] == "builtin n = 6" and document["N"] == [150.0, 300.0, 600.0]
    sampled = result.sampled
    assert document["empirical"]["crossing_5_to_6"] == sampled.crossing
    assert sampled.crossing == sampled.crossing_of(*DOCUMENT_PAIR)
    assert set(sampled.with_data) == {"prior", "laplace"}
    assert any("MCMC step" in m for m in messages)
    # Occupancies are fractions of the draws at each N.
    for curve in sampled.occupancy.values():
        assert all(0 <= v <= 1 for v in curve)


def test_run_phases_reports_any_pair_of_phases(catalog):
    grid = sample_size_grid(100, 2000, 16)
    result = run_phases(catalog, grid, convention="laplace")
    # Two phases are equally occupied exactly where their free energies are equal (the
    # normalisation cancels), so each occupancy crossing (interpolated on the grid) is the root
    # of F_a − F_b found by the theory, for either convention; the prior-convention 5 → 6 root
    # is the published N ≈ 601 (Chen et al. 2023, SPEC §5).
    prior = {(t["from"], t["to"]): t["samples"] for t in result.theory["prior"].transitions}
    for pair in (("5", "6"), ("5+", "6")):
        assert result.crossing(*pair, "prior") == pytest.approx(prior[pair], rel=0.02)
    assert prior[("5", "6")] == pytest.approx(601, rel=0.01)
    laplace = {(t["from"], t["to"]): t["samples"] for t in result.theory["laplace"].transitions}
    assert result.crossing("5", "6") == pytest.approx(laplace[("5", "6")], rel=0.02)
    assert result.crossing("6", "5") is None  # 5 never overtakes 6 again as N grows
    assert result.transitions is result.theory["laplace"].transitions
    # Any pair is reported from the record; a version-1 document stores the 5 → 6 crossing only.
    other = run_phases(catalog, grid, pair=("5+", "6"), data_sets=1)
    assert other.with_data["prior"].crossing == pytest.approx(
        _crossing(grid, other.with_data["prior"].occupancy, "5+", "6"))
    with pytest.raises(ValueError, match="version-1"):
        other.to_json()
    documents.validate(result.to_json(), "run_phases", documents.PHASES)


def test_run_phases_rejects_what_the_command_rejects(catalog):
    with pytest.raises(ValueError, match="at least 100"):
        run_phases(catalog, [100.0], mcmc_steps=50)
    with pytest.raises(ValueError, match="unknown label"):
        run_phases(catalog, [100.0], lambda_overrides={"nope": 1.0})


def test_sampling_levels_add_hot_levels_below_the_grid():
    grid = sample_size_grid(100, 300, 3)
    assert list(sampling_levels(grid, 0)) == list(grid)
    levels = sampling_levels(grid, 2)
    assert levels[0] == 5 and len(levels) == 5 and list(levels[-3:]) == list(grid)


def test_run_llc_decides_the_method_defaults_and_validates(catalog):
    result = run_llc(catalog, "5+", chains=2, steps=200)
    assert result.burn_in == 50  # steps // 4
    # ε and γ are calibrated from the Hessian at the point (issue 19), not the former
    # 0.1/(Nβ h_max) and γ = 100: the step meets the 1 % step-bias budget.
    prediction = result.calibration.prediction
    assert result.epsilon == result.calibration.epsilon
    assert result.gamma == result.calibration.gamma
    assert prediction.step_bias <= 0.01 * prediction.half_rank + 1e-12
    documents.validate(result.to_json(), "run_llc", documents.LLC)
    with pytest.raises(KeyError):
        run_llc(catalog, "no such id", chains=2, steps=20)


def test_library_document_is_the_command_document(tmp_path):
    # The notebook path and the command write the same bytes (the command only parses,
    # calls run_phases and prints).
    from critpoints.catalog import default_catalog_path, load_catalog
    from critpoints.cli import main
    from critpoints.io import dumps_json

    path = default_catalog_path(6)
    out = tmp_path / "phases.json"
    assert main(["phases", "--n", "6", "--catalog", str(path), "--sample-range", "150:600:3",
                 "--mcmc-steps", "100", "--ensembles", "2", "--hot-levels", "1", "--seed", "3",
                 "--lambda", "4+=5", "--out", str(out)]) == 0
    result = run_phases(load_catalog(path), sample_size_grid(150, 600, 3), source=str(path),
                        lambda_overrides={"4+": 5.0}, mcmc_steps=100, ensembles=2,
                        hot_levels=1, seed=3)
    assert dumps_json(result.to_json()) == out.read_text(encoding="utf-8")
