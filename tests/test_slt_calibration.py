"""λ̂ a user can trust: the harmonic bias model, the calibration, the diagnostics (acceptance,
split-R̂, escape detection over time), the llc document v2 and the sweep."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import solve_discrete_lyapunov

from critpoints import documents
from critpoints.catalog import load_builtin
from critpoints.cli import main
from critpoints.slt.basins import QuenchBasin, quench
from critpoints.slt.calibration import (
    calibrate_sgld,
    flat_extent,
    harmonic_llc,
    harmonic_probe,
)
from critpoints.slt.llc import LLCEstimator, split_rhat
from critpoints.slt.potentials import TMSEmpirical, TMSPopulation
from critpoints.slt.sgld import sgld_llc
from critpoints.tms.data import sample_high_sparsity

DATA = Path(__file__).parent / "data"


class Quadratic:
    """L = ½ θᵀHθ (+ q Σθ⁴), batched."""

    def __init__(self, H, quartic=0.0):
        self.H = np.asarray(H, float)
        self.dim = len(self.H)
        self.quartic = quartic

    def loss(self, theta):
        theta = np.atleast_2d(theta)
        return 0.5 * np.einsum("ki,ij,kj->k", theta, self.H, theta) + self.quartic * np.sum(
            theta**4, axis=1)

    def loss_and_gradient(self, theta):
        return self.loss(theta), theta @ self.H + 4 * self.quartic * theta**3


def _exact_discrete_llc(H, nbeta, gamma, epsilon, noise_cov):
    """λ of the discretised chain, independently: the stationary covariance Σ of
    θ' = Aθ + ξ, A = I − (ε/2)(NβH + γ), Cov ξ = εI + (εNβ/2)² C, solves Σ = AΣAᵀ + Q."""
    dim = len(H)
    A = np.eye(dim) - 0.5 * epsilon * (nbeta * H + gamma * np.eye(dim))
    Q = epsilon * np.eye(dim) + (0.5 * epsilon * nbeta) ** 2 * noise_cov
    sigma = solve_discrete_lyapunov(A, Q)
    return 0.5 * nbeta * np.trace(H @ sigma)


@settings(max_examples=40, deadline=None)
@given(
    curvatures=st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 3.0)), min_size=1, max_size=6),
    log_nbeta=st.floats(1.0, 5.0),
    log_gamma=st.floats(-2.0, 3.0),
    stiffness=st.floats(0.01, 3.0),
    noise_scale=st.floats(0.0, 1e-4),
    seed=st.integers(0, 2**31),
)
def test_harmonic_llc_is_the_discrete_chain_exactly(curvatures, log_nbeta, log_gamma, stiffness,
                                                     noise_scale, seed):
    # Rotated spectrum, noise diagonal in the eigenbasis: the closed form against the Lyapunov
    # solution of the same linear recursion.
    if not any(h > 0 for h in curvatures):
        curvatures = [*curvatures, 1.0]
    nbeta, gamma = 10.0**log_nbeta, 10.0**log_gamma
    h = np.array(curvatures)
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((len(h), len(h))))[0]
    H = V @ np.diag(h) @ V.T
    epsilon = stiffness / (nbeta * h.max() + gamma)
    noise = noise_scale * rng.uniform(0.5, 1.5, len(h))
    predicted = harmonic_llc(h, nbeta, gamma, epsilon, noise)
    exact = _exact_discrete_llc(H, nbeta, gamma, epsilon, V @ np.diag(noise) @ V.T)
    assert predicted.llc == pytest.approx(exact, rel=1e-9, abs=1e-12)
    assert predicted.half_rank == 0.5 * np.sum(h > 1e-7 * h.max())
    assert predicted.localisation_bias <= 0 and predicted.step_bias >= 0
    assert predicted.bias == pytest.approx(predicted.localisation_bias + predicted.step_bias
                                           + predicted.minibatch_bias)


def test_harmonic_llc_reports_instability_and_refuses_negative_curvature():
    assert not harmonic_llc([1.0], nbeta=10.0, gamma=0.0, epsilon=0.5).stable
    with pytest.raises(ValueError, match="not a minimum"):
        harmonic_llc([1.0, -0.5], nbeta=10.0, gamma=1.0, epsilon=1e-3)


def test_sgld_on_a_quadratic_matches_the_harmonic_prediction_at_a_large_step():
    # ε a_max = 1: a 33 % step bias in the stiffest direction, predicted and sampled alike.
    H = np.diag([1.0, 0.3, 0.05, 0.0])
    nbeta, gamma = 200.0, 5.0
    epsilon = 1.0 / (nbeta * 1.0 + gamma)
    predicted = harmonic_llc(np.diag(H), nbeta, gamma, epsilon)
    res = sgld_llc(Quadratic(H), np.zeros(4), 10.0, nbeta=nbeta, chains=64, steps=6000,
                   burn_in=1000, epsilon=epsilon, gamma=gamma, seed=5)
    stderr = res.llc_std / math.sqrt(64)
    assert abs(res.llc_mean - predicted.llc) < 4 * stderr + 0.01, (res.llc_mean, predicted)
    assert predicted.step_bias > 0.1  # the case is not trivially unbiased


def test_harmonic_probe_sees_quartic_terms_and_passes_a_quadratic():
    H = np.diag([1.0, 0.2])
    assert abs(harmonic_probe(Quadratic(H), np.zeros(2), H, 100.0, 1.0).relative_error) < 1e-9
    # With q θ⁴ the mean loss increase exceeds the quadratic one by 3q Σ v_i² / ½ Σ h_i v_i.
    probe = harmonic_probe(Quadratic(H, quartic=2.0), np.zeros(2), H, 100.0, 1.0, draws=200000)
    v = 1.0 / (100.0 * np.diag(H) + 1.0)
    expected = 3 * 2.0 * np.sum(v**2) / (0.5 * np.sum(np.diag(H) * v))
    assert probe.relative_error == pytest.approx(expected, rel=0.05)
    assert not probe.passed


def test_flat_extent_finds_where_the_flat_set_ends():
    class Hinge:
        dim = 2

        def loss(self, theta):
            theta = np.atleast_2d(theta)
            return np.maximum(theta[:, 0] - 0.7, 0.0) ** 2 + theta[:, 1] ** 2

    assert flat_extent(Hinge(), np.zeros(2), [0]) == pytest.approx(0.7, abs=5e-3)
    assert flat_extent(Hinge(), np.array([-5.0, 0.0]), [0]) == 4.0  # flat beyond the reach


def test_calibration_of_a_quadratic_meets_its_step_tolerance():
    H = np.diag([2.0, 0.5, 0.01, 0.0])
    cal = calibrate_sgld(Quadratic(H), np.zeros(4), H, nbeta=500.0, step_tolerance=0.01)
    p = cal.prediction
    assert p.step_bias + p.minibatch_bias <= 0.01 * p.half_rank + 1e-12
    assert cal.epsilon * (500.0 * 2.0 + cal.gamma) <= 0.4 + 1e-12
    # A quadratic passes the probe everywhere: the lowest rung of the ladder is chosen.
    assert cal.gamma == pytest.approx(500.0 * 0.01 * 2.0**-4)
    assert cal.relaxation_steps == pytest.approx(2 / (cal.epsilon * (500 * 0.01 + cal.gamma)))


def test_split_rhat_separates_agreeing_from_disagreeing_chains():
    rng = np.random.default_rng(0)
    same = [rng.standard_normal(2000) for _ in range(4)]
    assert split_rhat(same) == pytest.approx(1.0, abs=0.01)
    shifted = [c + 2.0 * k for k, c in enumerate(same)]
    assert split_rhat(shifted) > 1.5
    drifting = [np.linspace(0, 5, 2000) + 0.1 * c for c in same]  # halves disagree
    assert split_rhat(drifting) > 1.5


def test_mala_acceptance_is_near_one_for_small_steps_and_drops_for_large():
    H = np.diag([1.0, 0.2])
    small = sgld_llc(Quadratic(H), np.zeros(2), 10.0, nbeta=100.0, chains=8, steps=2000,
                     burn_in=200, epsilon=1e-4, gamma=1.0, seed=1)
    large = sgld_llc(Quadratic(H), np.zeros(2), 10.0, nbeta=100.0, chains=8, steps=2000,
                     burn_in=200, epsilon=3.0 / 101.0, gamma=1.0, seed=1)
    assert small.acceptance.min() > 0.99
    assert large.acceptance.mean() < 0.8
    assert any("acceptance" in w for w in large.warnings)


class PushedDoubleWell:
    """L = (x₀² − 1)² / 4 + ½ Σ_{i>0} θ_i², chains start at x₀ = −1. After ``push_at`` calls a
    force drives chain 0 across the barrier for ``push_for`` calls, then stops."""

    dim = 3

    def __init__(self, push_at, push_for=200):
        self.calls, self.push_at, self.push_for = 0, push_at, push_for

    def loss(self, theta):
        theta = np.atleast_2d(theta)
        return 0.25 * (theta[:, 0] ** 2 - 1) ** 2 + 0.5 * np.sum(theta[:, 1:] ** 2, axis=1)

    def loss_and_gradient(self, theta):
        grad = np.concatenate([(theta[:, :1] ** 2 - 1) * theta[:, :1], theta[:, 1:]], axis=1)
        if self.push_at <= self.calls < self.push_at + self.push_for:
            grad[0, 0] -= 5.0
        self.calls += 1
        return self.loss(theta), grad


def test_a_chain_pushed_across_a_barrier_mid_run_is_detected_and_truncated():
    potential = PushedDoubleWell(push_at=4000)

    def basin(theta):  # the quench of a double well ends at sign(x₀)
        inside = np.asarray(theta)[:, 0] < 0
        return inside, [None if ok else "right well" for ok in inside]

    res = sgld_llc(potential, np.array([-1.0, 0.0, 0.0]), 10.0, nbeta=50.0, chains=6,
                   steps=5000, burn_in=1000, epsilon=2e-3, gamma=0.0, seed=2, basin=basin,
                   acceptance_every=None)
    assert res.chain_action[0] == "truncated" and res.chain_action[1:] == ["kept"] * 5
    assert 3000 <= res.first_exit_draw[0] <= 3000 + 200 + 100  # pushed at draw 3000
    assert res.exit_labels[0] == "right well"
    assert 2800 <= res.draws_used[0] <= 3000
    # The pushed chain's λ̂ uses only its in-basin draws: it agrees with the others.
    others = res.llc_per_chain[1:]
    assert abs(res.llc_per_chain[0] - others.mean()) < 4 * others.std(ddof=1) + 0.2
    assert any("left the basin" in w and "1 truncated" in w for w in res.warnings)
    # Without the basin test the partly escaped chain is kept whole: the fraction rule cannot
    # see an escape into a well as deep as the first (the silent case the basin test closes).
    silent = sgld_llc(PushedDoubleWell(push_at=4000), np.array([-1.0, 0.0, 0.0]), 10.0,
                      nbeta=50.0, chains=6, steps=5000, burn_in=1000, epsilon=2e-3, gamma=0.0,
                      seed=2, acceptance_every=None)
    assert silent.chain_action == ["kept"] * 6


def test_a_chain_that_leaves_early_is_dropped():
    est = LLCEstimator(2, 100, nbeta=1.0, init_loss=0.0, min_kept=0.5)
    for t in range(100):
        est.update(t, np.array([0.1, 0.1]))
    from critpoints.slt.llc import BasinExits

    inside = np.array([[True, True], [False, True], [False, True]])
    labels = np.array([[None, None], ["x", None], ["y", None]], dtype=object)
    res = est.finalize(BasinExits(np.array([0, 50, 99]), inside, labels, "test"))
    assert res.chain_action == ["dropped", "kept"] and list(res.draws_used) == [0, 100]
    assert res.first_exit_draw == [50, None] and res.exit_labels == ["x", None]


def test_tms_quench_basin_tells_the_5gon_from_5plus():
    from critpoints.slt.experiment import _llc_start, _tms_basin

    catalog = load_builtin(6)
    entries = {e["id"]: e for e in catalog["critical_points"]}
    population = TMSPopulation(6)
    five = population.flatten(*_llc_start(entries["5"], -0.5))
    five_plus = population.flatten(*_llc_start(entries["5+"], -0.5))
    basin = _tms_basin(6, 2, five, catalog["critical_points"], 0.8)
    rng = np.random.default_rng(0)
    inside, labels = basin(np.stack([five + 1e-3 * rng.standard_normal(five.size),
                                     five_plus + 1e-3 * rng.standard_normal(five.size)]))
    assert list(inside) == [True, False] and labels == [None, "5+"]
    ends = quench(population, five_plus[None, :], step=0.8)
    assert np.max(np.abs(population.loss_and_gradient(ends)[1])) < 1e-8


def test_per_sample_gradients_sum_to_the_gradient():
    x = sample_high_sparsity(5, 200, seed=3)
    potential = TMSEmpirical(x, 2)
    theta = np.random.default_rng(1).standard_normal(potential.dim) * 0.7
    grads = potential.per_sample_gradients(theta)
    # Against the weighted gradient with one sample's weight at a time (an independent path).
    _, reference = potential.loss_and_gradient(np.repeat(theta[None], 200, 0), np.eye(200))
    assert np.allclose(grads, reference, atol=1e-14)
    assert np.allclose(grads.mean(axis=0), potential.loss_and_gradient(theta[None])[1][0])


def test_quench_basin_labels_come_from_identify():
    # Double well (x² − 1)²/4 centred at x = −1: a start at −0.4 descends back, one at 0.4
    # to the other well, which ``identify`` names by the sign of where it ended.
    class DoubleWell:
        def loss_and_gradient(self, theta):
            return 0.25 * (theta[:, 0] ** 2 - 1) ** 2, (theta**2 - 1) * theta

    def same(a, b):
        return abs(a[0] - b[0]) < 1e-3

    basin = QuenchBasin(DoubleWell(), np.array([-1.0]), same, step=0.5,
                        identify=lambda t: f"well at {t[0]:+.0f}")
    inside, labels = basin(np.array([[-0.4], [0.4]]))
    assert list(inside) == [True, False] and labels == [None, "well at +1"]


def test_run_llc_on_empirical_data_recentres_calibrates_and_writes_v2(tmp_path):
    from critpoints.slt.experiment import run_llc

    result = run_llc(load_builtin(6), "6", samples=1000, data="empirical", chains=2,
                     steps=400, seed=3)
    assert result.centre == "empirical minimum" and 0 < result.centre_shift < 0.2
    cal = result.calibration
    assert cal.prediction is not None and cal.probe.passed and cal.retention >= 0.99
    assert result.corrected == pytest.approx(result.estimate.llc_mean - cal.prediction.bias)
    document = result.to_json()
    documents.validate(document, "run_llc", documents.LLC)
    assert document["schema_version"] == 2 and len(document["running_llc"]) == 2


def test_llc_v1_file_migrates_to_v2():
    from critpoints.store import load_document

    document = load_document(DATA / "llc-v1.json", documents.LLC)
    assert document["schema_version"] == 2
    assert document["calibration"] is None and document["chain_action"] == ["kept", "kept"]
    assert document["draws_used"] == [150, 150]
    raw = json.loads((DATA / "llc-v1.json").read_text(encoding="utf-8"))
    assert raw["schema_version"] == 1  # the frozen file itself is untouched


def test_llc_sweep_prints_a_table_and_writes_its_document(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    assert main(["llc", "--n", "6", "--label", "6", "--chains", "2", "--steps", "300",
                 "--samples", "1e6", "--sweep", "--sweep-gamma", "100,1000",
                 "--sweep-epsilon", "1e-6", "--seed", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "λ̂ sweep at 6" in printed and printed.count("\n") >= 5
    document = json.loads(out.read_text(encoding="utf-8"))
    documents.validate(document, "sweep", documents.LLC_SWEEP)
    assert [r["calibrated"] for r in document["rows"]] == [True, False, False]
    assert [r["gamma"] for r in document["rows"][1:]] == [100.0, 1000.0]


@pytest.mark.parametrize("args, message", [
    (["--sweep-gamma", "1,x"], "expected a number"),
    (["--sweep-gamma", "10"], "need --sweep"),
    (["--gamma", "0"], "greater than 0"),
    (["--gamma", "1e5", "--refuse-bias"], "above the tolerance"),
    (["--step-tolerance", "0.9"], "at most 0.5"),
])
def test_llc_rejects_bad_calibration_options(tmp_path, capsys, args, message):
    out = tmp_path / "x.json"
    assert main(["llc", "--n", "6", "--label", "6", "--chains", "2", "--steps", "100",
                 "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_plot_llc_draws_the_diagnostics(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "llc.json"
    assert main(["llc", "--n", "6", "--label", "5+", "--chains", "2", "--steps", "200",
                 "--out", str(out)]) == 0
    png = tmp_path / "llc.png"
    assert main(["plot", "llc", str(out), "--out", str(png)]) == 0
    assert png.stat().st_size > 10000


def test_a_given_gamma_is_written_as_given(tmp_path, capsys):
    """``--gamma`` (and ``--epsilon``) given: the file says so, has no harmonic γ bound (null,
    not NaN) and validates against its schema."""
    out = tmp_path / "llc.json"
    assert main(["llc", "--n", "3", "--label", "3-", "--chains", "2", "--steps", "100",
                 "--gamma", "100", "--epsilon", "1e-6", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    document = documents.loads_strict(out.read_text(encoding="utf-8"), str(out))
    documents.validate(document, str(out))
    calibration = document["calibration"]
    assert calibration["gamma"] == 100.0 and calibration["epsilon"] == 1e-6
    assert calibration["gamma_harmonic"] is None
    assert "γ = 100 given" in calibration["basis"] and "ε = 1e-06 given" in calibration["basis"]


def test_an_unstable_step_has_a_null_prediction():
    """ε (Nβ h_max + γ) ≥ 4: the harmonic model diverges; its JSON has nulls where the
    prediction is infinite or undefined (strict JSON has neither inf nor NaN)."""
    H = np.diag([2.0, 0.5])
    cal = calibrate_sgld(Quadratic(H), np.zeros(2), H, nbeta=500.0, gamma=1.0, epsilon=0.1)
    assert not cal.prediction.stable
    record = cal.to_json()
    assert record["gamma_harmonic"] is None
    assert record["prediction"]["llc"] is None and record["prediction"]["bias"] is None
    assert record["prediction"]["stiffness"] == pytest.approx(0.1 * (500.0 * 2.0 + 1.0))
    json.dumps(record, allow_nan=False)


def test_plot_llc_of_a_file_with_uneven_chain_lists_is_one_line(tmp_path, capsys):
    """An llc file whose per-chain lists have different lengths (the schema cannot say they
    match) is 'malformed' in one line, not an IndexError."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "llc.json"
    assert main(["llc", "--n", "3", "--label", "3", "--chains", "2", "--steps", "100",
                 "--out", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    document["chain_action"] = []
    out.write_text(json.dumps(document), encoding="utf-8")
    capsys.readouterr()
    assert main(["plot", "llc", str(out), "--out", str(tmp_path / "llc.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "per-chain lists of different lengths" in err[0], err
