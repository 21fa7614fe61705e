"""The λ̂ estimator, SGLD, MALA with replica exchange, phase classification."""

import math

import numpy as np
import pytest

from critpoints.catalog import Catalog
from critpoints.slt.llc import LLCEstimator, default_nbeta
from critpoints.slt.mcmc import dominant_changes, occupancy_crossing, sample_posterior_ladder
from critpoints.slt.phases import nearest_catalog_entry, phase_label
from critpoints.slt.potentials import ReducedRankRegression, TMSPopulation
from critpoints.slt.sgld import sgld_llc


class Quadratic:
    """L(θ) = ½ Σ h_i θ_i²: λ = (number of h_i > 0)/2, posterior variance 1/(N h + prior)."""

    def __init__(self, h):
        self.h = np.asarray(h, float)
        self.dim = len(self.h)

    def loss_and_gradient(self, theta):
        return 0.5 * np.sum(self.h * theta**2, axis=-1), self.h * theta


def test_estimator_finalize_formula_and_escape():
    est = LLCEstimator(3, 4, nbeta=10.0, init_loss=1.0, escape_fraction=0.5)
    traces = np.array([[1.1, 1.2, 1.3, 1.4], [1.0, 1.0, 1.2, 1.2], [0.5, 0.5, 0.5, 1.5]])
    for t in range(4):
        est.update(t, traces[:, t])
    res = est.finalize()
    assert np.allclose(res.llc_per_chain, 10.0 * (traces.mean(axis=1) - 1.0))
    assert list(res.escaped) == [False, False, True]
    assert res.llc_mean == pytest.approx(np.mean(res.llc_per_chain[:2]))
    assert any("left the basin" in w for w in res.warnings)


def test_estimator_warns_when_not_stationary():
    est = LLCEstimator(8, 100, nbeta=1.0, init_loss=0.0)
    rng = np.random.default_rng(0)
    for t in range(100):
        est.update(t, t / 10 + 0.01 * rng.standard_normal(8))  # drifting loss
    assert any("not stationary" in w for w in est.finalize().warnings)


def test_sgld_on_quadratic_gives_half_rank():
    # 3 curved directions, 2 flat: λ = 3/2 (localisation bias Nβh/(Nβh + γ) ≈ 0.999 here).
    potential = Quadratic([1.0, 2.0, 0.5, 0.0, 0.0])
    nbeta = default_nbeta(1e6)
    res = sgld_llc(potential, np.zeros(5), 1e6, chains=16, steps=6000, burn_in=1000,
                   epsilon=0.02 / nbeta, gamma=10.0, seed=0)
    assert abs(res.llc_mean - 1.5) < 0.1
    assert not res.warnings


def test_mala_ladder_samples_gaussian_posterior():
    # L = ½ h θ²: p_N ∝ exp(−(N h + 1) θ²/2), so E[L] = h/(2(N h + 1)) per coordinate.
    h = np.array([1.0, 0.3])
    levels = np.array([1.0, 4.0, 16.0, 64.0])
    for exchange in (True, False):
        res = sample_posterior_ladder(Quadratic(h), levels, ensembles=32, steps=3000,
                                      burn_in=500, thin=5, seed=1, exchange=exchange)
        expected = np.array([np.sum(h / (2 * (N * h + 1))) for N in levels])
        assert np.allclose(res.mean_loss, expected, rtol=0.08)
    assert np.all(res.acceptance > 0.3)


class SlottedQuadratic:
    """L_s(θ) = ½ Σ h_s θ²: a different curvature per slot (a stand-in for per-level data)."""

    slotted = True

    def __init__(self, curvatures):
        self.h = np.asarray(curvatures, dtype=float)  # (slots, dim)
        self.dim = self.h.shape[1]

    def loss_and_gradient(self, theta, slot):
        h = self.h[np.asarray(slot)]
        return 0.5 * np.sum(h * theta**2, axis=-1), h * theta


def test_mala_ladder_with_a_loss_per_level_is_exact():
    # Replica (c, k) sees L_k; p_k ∝ exp(−β_k L_k − ½θ²) gives E[L_k] = Σ h_k/(2(β_k h_k + 1)).
    # Swaps need the cross terms L_k(θ_{k+1}), L_{k+1}(θ_k): a shared-potential ratio is wrong.
    rng = np.random.default_rng(3)
    levels = np.array([1.0, 3.0, 9.0, 27.0])
    h = rng.uniform(0.2, 2.0, size=(len(levels), 2))
    ensembles = 32
    slots = np.tile(np.arange(len(levels)), (ensembles, 1))
    res = sample_posterior_ladder(SlottedQuadratic(h), levels, ensembles=ensembles, steps=4000,
                                  burn_in=500, thin=5, slots=slots, seed=4)
    expected = np.sum(h / (2 * (levels[:, None] * h + 1)), axis=1)
    assert np.allclose(res.mean_loss, expected, rtol=0.08)
    assert np.all(res.swap_acceptance > 0.2)
    with pytest.raises(ValueError, match="slots"):
        sample_posterior_ladder(SlottedQuadratic(h), levels, ensembles=2, steps=10, burn_in=1)


def test_occupancy_crossing_interpolates():
    N = np.array([100.0, 200.0, 400.0])
    assert occupancy_crossing(N, [0.8, 0.6, 0.2], [0.2, 0.4, 0.8]) == pytest.approx(
        math.exp(math.log(200) + 0.25 * math.log(2)))  # diff −0.2 → +0.6
    assert occupancy_crossing(N, [0.1, 0.1, 0.1], [0.9, 0.9, 0.9]) is None


def test_dominant_changes_follow_the_argmax():
    N = [100.0, 200.0, 400.0, 800.0]
    occupancy = {"a": [0.7, 0.5, 0.2, 0.1], "b": [0.2, 0.4, 0.7, 0.3], "c": [0.1, 0.1, 0.1, 0.6]}
    changes = dominant_changes(N, occupancy)
    assert [(c["from"], c["to"]) for c in changes] == [("a", "b"), ("b", "c")]
    assert 200 < changes[0]["samples"] < 400 and 400 < changes[1]["samples"] < 800
    assert dominant_changes(N, occupancy, ["a"]) == []
    assert dominant_changes(N, occupancy, ["missing"]) == []


def test_labels_of_catalog_entries():
    for entry in Catalog.builtin(6):
        if entry.get("origin", "pattern") != "pattern":
            continue  # irregular saddles of the searches: the cheap label is for polygon phases
        W, b = np.array(entry["W"]), np.array(entry["b"])
        label = str(phase_label(W, b))
        if entry["loss"] == pytest.approx(1 / 3) and entry["learning_coefficient"] == 0.0:
            assert label == "dead"
        elif entry["classification"] != "saddle" or "-" not in entry["label"]:
            assert label == entry["label"], entry["id"]


def test_label_invariant_agrees_with_orbit_matching():
    # Posterior draws at N = 1000 (MALA, exact): the cheap label equals the label of the
    # nearest catalog entry up to O(2) × S_n (flat biases normalised) for the phases 5, 5+, 6.
    entries = Catalog.builtin(6).entries(["6", "5+", "5", "4+"])
    potential = TMSPopulation(6)
    res_theta = []

    def keep(theta):
        res_theta.append(theta.copy())
        W, b = potential.unflatten(theta)
        return phase_label(W, b)

    sample_posterior_ladder(potential, np.array([300.0, 1000.0]), ensembles=12, steps=1500,
                            burn_in=1000, thin=100, classify=keep, seed=2)
    draws = np.concatenate(res_theta)
    W, b = potential.unflatten(draws)
    labels = phase_label(W, b)
    same_label, same_polygon, checked = 0, 0, 0
    for i in range(len(draws)):
        if labels[i] in ("6", "5", "5+"):
            nearest = nearest_catalog_entry(W[i], b[i], entries)[0]
            same_label += nearest == labels[i]
            same_polygon += nearest[0] == labels[i][0]
            checked += 1
    assert checked >= 20
    # The polygon (5 or 6) agrees on ≥ 90% (disagreements: diffuse draws at N = 300). 5 and 5+
    # differ only in the sign of one short column's bias (a difference of ≤ 1/12), which the
    # max-norm orbit distance can hide behind the posterior noise of the vertices (~0.1 at
    # N = 1000): the invariant reads the sign directly, so it is the sharper of the two there;
    # most draws still agree.
    assert same_polygon >= 0.9 * checked  # measured 105/110 (N = 300 and 1000, seed 2)
    assert same_label >= 0.75 * checked


# --- slow accuracy tests: λ̂ against theory (band stated in docs/slt.md) -------------------------

LAMBDA_BAND = 0.5  # |λ̂ − λ| over independent seeds; measured spread ≈ 0.2 (sd over chains)


@pytest.mark.slow
@pytest.mark.parametrize("cid, lam", [("6", 8.5), ("5+", 8.5), ("5", 7.0),
                                      ("4++", 8.5), ("4+", 8.0), ("4", 7.5)])
@pytest.mark.parametrize("seed", [11, 12])
def test_llc_tms_population(cid, lam, seed):
    # The 4-gons are non-smooth: their λ = r/2 comes from the directional-curvature test of the
    # catalog (no Hessian rank), so sampling is the independent check here.
    W, b = Catalog.builtin(6).parameters(cid)
    potential = TMSPopulation(6)
    b = np.where((np.linalg.norm(W, axis=0) < 1e-12) & (b <= 0), -0.5, b)  # deep in flat set
    nbeta = default_nbeta(1e6)
    res = sgld_llc(potential, potential.flatten(W, b), 1e6, chains=12, steps=16000,
                   burn_in=4000, epsilon=1.5e-6, gamma=20.0, seed=seed)
    assert abs(res.llc_mean - lam) < LAMBDA_BAND, res.summary()
    assert res.escaped.sum() == 0
    assert nbeta > 0


@pytest.mark.slow
@pytest.mark.parametrize("n, m, rank", [(4, 2, 2), (4, 2, 4), (5, 2, 1)])
def test_llc_linear_autoencoder_matches_aoyagi_watanabe(n, m, rank):
    from critpoints.slt.coefficients import linear_autoencoder_lambda

    rng = np.random.default_rng(n * 100 + m * 10 + rank)
    U = np.linalg.qr(rng.standard_normal((n, n)))[0]
    eig = np.linspace(1.0, 0.3, rank)
    cov = U[:, :rank] @ np.diag(eig) @ U[:, :rank].T
    potential = ReducedRankRegression(np.eye(n), m, cov)
    k = min(m, rank)
    A, B = U[:, :k], U[:, :k].T
    if k < m:  # extra hidden units: zero rows/columns, still a global minimum
        A = np.hstack([A, np.zeros((n, m - k))])
        B = np.vstack([B, np.zeros((m - k, n))])
    nbeta = default_nbeta(1e6)
    res = sgld_llc(potential, potential.flatten(A, B), 1e6, chains=16, steps=20000,
                   burn_in=5000, epsilon=0.05 / nbeta, gamma=100.0, seed=3)
    assert abs(res.llc_mean - linear_autoencoder_lambda(n, m, rank)) < 0.3, res.summary()


@pytest.mark.slow
def test_empirical_posterior_occupancy_follows_the_data_set_free_energy():
    # Exact posterior exp(−N L_N) φ on drawn data sets (nested per ensemble), n = 6: the sampled
    # 5 → 6 crossing agrees with the Laplace free energy plus its data-set term on the same data
    # sets, and both lie well above the population prediction (N ≈ 111; docs/slt.md).
    from critpoints.slt import freeenergy as fe
    from critpoints.slt.potentials import TMSEmpiricalSets
    from critpoints.tms.data import sample_high_sparsity

    catalog = Catalog.builtin(6)
    levels = np.array([5.0, 9, 16, 28, 50, 80, 120, 160, 210, 280, 370, 500, 700, 1000])
    grid = levels >= 120
    ensembles = 12
    rng = np.random.default_rng(7)
    streams = [sample_high_sparsity(6, int(levels[-1]), seed=rng) for _ in range(ensembles)]
    potential = TMSEmpiricalSets.nested(streams, levels)
    slots = potential.slot_grid

    def classify(theta):
        return phase_label(*potential.unflatten(theta))

    res = sample_posterior_ladder(potential, levels, ensembles=ensembles, steps=8000,
                                  burn_in=2000, thin=10, slots=slots, classify=classify, seed=rng)
    occ = res.occupancy(["5", "6"])
    sampled = occupancy_crossing(levels[grid], occ["5"][grid], occ["6"][grid])
    phases = fe.phases_from_catalog(catalog, "laplace")
    ids = [p.id for p in phases]
    mean, _ = fe.data_set_occupancy(phases, potential, slots[:, grid], levels[grid])
    predicted = occupancy_crossing(levels[grid], mean[ids.index("5")], mean[ids.index("6")])
    population = fe.crossing_sample_size(phases[ids.index("5")], phases[ids.index("6")])
    assert predicted > 1.6 * population
    assert 0.75 * predicted < sampled < 1.33 * predicted, (sampled, predicted)
    assert np.all(res.swap_acceptance > 0.2)  # measured 0.28–0.56 (seed 7)


# --- slow accuracy tests on finite data (issue 19; table in docs/slt.md) ----------------------

FINITE_DATA_BAND = 0.10  # |λ̂ − bias − λ| / λ with the calibrated defaults


@pytest.mark.slow
@pytest.mark.parametrize("cid, samples, seed", [("6", 1000, 21), ("5", 1000, 23),
                                                ("6", 5000, 24)])
def test_llc_on_finite_data_with_calibrated_defaults(cid, samples, seed):
    # Empirical loss on N drawn samples, every setting chosen by run_llc from the geometry; the
    # theoretical λ comes from the catalog's Hessian rank (an independent computation from the
    # sampled one only through the harmonic correction, which the discrete-chain test checks).
    from critpoints.catalog import load_builtin
    from critpoints.slt.experiment import run_llc

    result = run_llc(load_builtin(6), cid, samples=samples, data="empirical",
                     chains=6, steps=6000, seed=seed)
    lam = result.theory.value
    assert abs(result.corrected - lam) / lam < FINITE_DATA_BAND, (result.corrected, lam)
    assert result.estimate.kept.sum() >= 3
    assert result.calibration.prediction.bias < 0  # localisation dominates the step bias
