"""The ``llc`` and ``phases`` commands: results files, likelihood scale, bad input."""

import json

import pytest

from critpoints.cli import main


def _phases(tmp_path, *extra):
    out = tmp_path / "phases.json"
    args = ["phases", "--n", "6", "--sample-range", "100:2000", "--out", str(out), *extra]
    assert main(args) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_phases_theory_lists_transitions_with_catalog_labels(tmp_path):
    result = _phases(tmp_path)
    found = {(t["from"], t["to"]): t["samples"] for t in result["transitions"]}
    assert abs(found[("5", "6")] - 601) <= 5
    # The non-smooth 4-gons enter with their own λ; 4+ has higher λ than 5, so it loses to 5
    # only through the constant, at small N (no 4+ → 5 transition near 380).
    assert found[("4+", "5")] < 20
    ids = {p["id"] for p in result["theory"]["prior"]["phases"]}
    assert {"6", "5+", "5", "4++", "4+", "4", "dead"} <= ids
    assert result["nll_scale"] == 1.0 and "empirical" not in result


def test_likelihood_scale_divides_every_critical_sample_size(tmp_path):
    # F_S(N) = F(S·N) exactly, so each crossing moves from N₁ to N₁/S.
    plain = {(t["from"], t["to"]): t["samples"] for t in _phases(tmp_path)["transitions"]}
    scaled = _phases(tmp_path, "--nll-scale", "1/6")
    assert scaled["nll_scale"] == pytest.approx(1 / 6)
    for t in scaled["transitions"]:
        assert t["samples"] / 6 == pytest.approx(plain[(t["from"], t["to"])], rel=1e-8)


def test_phases_sampling_on_data_sets_is_reproducible(tmp_path):
    args = ["--sample-range", "150:600:3", "--mcmc-steps", "200", "--ensembles", "2",
            "--hot-levels", "1", "--seed", "3"]
    first = _phases(tmp_path, *args)
    second = _phases(tmp_path, *args)
    assert first == second
    empirical = first["empirical"]
    assert empirical["data"] == "empirical" and empirical["steps"] == 200
    assert set(empirical["theory_with_data"]) == {"prior", "laplace"}
    for occupancy in empirical["theory_with_data"]["laplace"]["occupancy"].values():
        assert len(occupancy) == len(first["N"])
    total = [sum(v[i] for v in empirical["occupancy"].values()) for i in range(len(first["N"]))]
    assert total == pytest.approx([1.0] * len(total))
    population = _phases(tmp_path, *args, "--data", "population")["empirical"]
    assert population["data"] == "population" and population["theory_with_data"] == {}


def test_phases_predicts_on_data_sets_without_sampling(tmp_path):
    # The data-set term moves the predicted 5 → 6 change far below the population prediction
    # (Laplace 111 there; docs/slt.md: 242–269 on the sampler's data sets).
    result = _phases(tmp_path, "--data-sets", "6", "--seed", "2")
    with_data = result["theory_with_data"]
    assert with_data["data_sets"] == 6 and "empirical" not in result
    change = with_data["laplace"]["dominant_changes"][-1]
    assert (change["from"], change["to"]) == ("5", "6") and 150 < change["samples"] < 450
    assert _phases(tmp_path, "--data-sets", "6", "--seed", "2") == result


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sample-range", "5:2"], "LO < HI"),
        (["--sample-range", "100:2000", "--nll-scale", "0"], "--nll-scale"),
        (["--sample-range", "100:2000", "--nll-scale", "x"], "--nll-scale"),
        (["--sample-range", "100:2000", "--lambda", "nope=3"], "unknown label"),
        (["--sample-range", "100:2000", "--mcmc-steps", "50"], "--mcmc-steps"),
        (["--sample-range", "100:2000", "--data-sets", "-1"], "--data-sets"),
    ],
)
def test_phases_rejects_bad_input(tmp_path, capsys, args, message):
    out = tmp_path / "never.json"
    assert main(["phases", "--n", "6", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_llc_writes_estimate_and_theory(tmp_path):
    out = tmp_path / "llc.json"
    assert main(["llc", "--n", "6", "--label", "4+", "--chains", "2", "--steps", "200",
                 "--seed", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["theory"]["value"] == 8.0 and "piecewise quadratic" in result["theory"]["reason"]
    assert len(result["llc_per_chain"]) == 2 and result["chains_escaped"] == 0
    assert result["init_loss"] == pytest.approx(0.104166666666, rel=1e-9)
