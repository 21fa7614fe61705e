"""Learning coefficients, free-energy constants and predicted transitions (issue 7)."""

import math

import numpy as np
import pytest

from critpoints.catalog import Catalog
from critpoints.slt import coefficients as co
from critpoints.slt import freeenergy as fe


@pytest.fixture(scope="module")
def catalog6():
    return Catalog.builtin(6)


@pytest.fixture(scope="module")
def document(catalog6):
    return catalog6.to_json()


# Published λ (SPEC §5; seed 001 table): 6-gon 8.5, 5+ 8.5, 5-gon 7.
@pytest.mark.parametrize("cid, lam", [("6", 8.5), ("5+", 8.5), ("5", 7.0)])
def test_theoretical_lambda_matches_published(catalog6, cid, lam):
    assert co.theoretical_learning_coefficient(catalog6.entry(cid)).value == lam


def test_null_lambda_is_explained(catalog6):
    result = co.theoretical_learning_coefficient(catalog6.entry("3"))
    assert result.value is None and "non-smooth" in result.reason
    saddle = co.theoretical_learning_coefficient(catalog6.entry("0++++++"))
    assert saddle.value is None and "saddle" in saddle.reason


# Non-smooth minima with quadratic growth off their explained zero modes: λ = (18 − k)/2. The
# values come from the catalog's curvature test; the independent check is SGLD
# (test_slt_sampling.test_llc_tms_population, 4++ / 4+ / 4).
@pytest.mark.parametrize("cid, lam", [("4++", 8.5), ("4+", 8.0), ("4", 7.5)])
def test_non_smooth_minima_get_rank_over_two(catalog6, cid, lam):
    result = co.theoretical_learning_coefficient(catalog6.entry(cid))
    assert result.value == lam and "piecewise quadratic" in result.reason
    tampered = dict(catalog6.entry(cid), learning_coefficient=lam + 1)
    assert co.theoretical_learning_coefficient(tampered).value is None
    flat = dict(catalog6.entry(cid))
    flat["evidence"] = dict(flat["evidence"], directional_curvature=dict(
        flat["evidence"]["directional_curvature"],
        radii=[{"radius": 1e-3, "min_q": 1e-9}, {"radius": 1e-4, "min_q": 1e-9}]))
    assert co.theoretical_learning_coefficient(flat).value is None


def test_4plus_never_dominates_5_with_its_own_lambda(document):
    # From the catalog's own numbers λ(4+) = 8 > λ(5) = 7 and L(4+) > L(5): F_4+ − F_5 grows
    # with N, so there is no 4+ → 5 transition near the published N ≈ 380 (which needs λ ≈ 5).
    phases = {p.id: p for p in fe.phases_from_catalog(document, "prior",
                                                      include_dead_plateau=False)}
    p4, p5 = phases["4+"], phases["5"]
    assert p4.lam == 8.0
    N = np.geomspace(10, 1e5, 200)
    assert np.all(p4.free_energy(N) > p5.free_energy(N))


def test_inconsistent_catalog_lambda_is_reported(catalog6):
    entry = dict(catalog6.entry("6"), learning_coefficient=9.0)
    assert co.theoretical_learning_coefficient(entry).value is None


@pytest.mark.parametrize(
    "M, N, H, r, lam",
    [
        # y = a b x with true map 0: K = (ab)², RLCT 1/2 (the normal crossing a²b²).
        (1, 1, 1, 0, 0.5),
        # Regular case r = H: λ = (H(M + N) − H²)/2, the dimension of the rank-H matrices / 2.
        (2, 3, 2, 2, 3.0),
        (4, 4, 2, 2, 6.0),
        # Input too small to matter: λ = MN/2 (every M×N matrix reachable, regular).
        (1, 1, 3, 1, 0.5),
    ],
)
def test_reduced_rank_regression_independent_values(M, N, H, r, lam):
    assert co.reduced_rank_regression_lambda(M, N, H, r) == lam


def test_reduced_rank_regression_symmetric_in_input_output():
    # The model AB and its transpose BᵀAᵀ have the same K: λ(M, N) = λ(N, M).
    for M in range(1, 5):
        for N in range(1, 5):
            for H in range(1, 4):
                for r in range(min(M, N, H) + 1):
                    assert co.reduced_rank_regression_lambda(M, N, H, r) == (
                        co.reduced_rank_regression_lambda(N, M, H, r)
                    )


# Published constants (SPEC §5): 5-gon 3.62417, 5+ 3.62764, 6-gon 6.37767; ½‖w*‖² matches to
# 1e-6 (5-gons) and 3e-5 (6-gon) with flat biases at the top of their interval.
@pytest.mark.parametrize("cid, c, tol", [("5", 3.62417, 1e-5), ("5+", 3.62764, 1e-5),
                                         ("6", 6.37767, 4e-5)])
def test_prior_constant_reproduces_published(catalog6, cid, c, tol):
    W, b = np.array(catalog6.entry(cid)["W"]), np.array(catalog6.entry(cid)["b"])
    assert abs(fe.prior_constant(W, b, "top") - c) < tol


def test_catalog_dead_bias_does_not_reproduce_published(catalog6):
    # The stored dead bias −1/(2n) adds ½(1/12)² = 1/288 to the 5-gon's constant.
    W, b = np.array(catalog6.entry("5")["W"]), np.array(catalog6.entry("5")["b"])
    diff = fe.prior_constant(W, b, "catalog") - fe.prior_constant(W, b, "top")
    assert diff == pytest.approx(1 / 288, rel=1e-12)


def test_predicted_5_to_6_transition(document):
    # Published: N ≈ 601 (seed 001).
    phases = fe.phases_from_catalog(document, "prior", include_dead_plateau=False)
    found = {(t["from"], t["to"]): t["samples"] for t in fe.transitions(phases)}
    assert abs(found[("5", "6")] - 601) <= 5


def test_4plus_to_5_needs_lambda_near_5(document, catalog6):
    # Published: 4+ → 5 at N ≈ 380. Solve F_4+(380) = F_5(380) for λ(4+) independently of
    # crossing_sample_size: λ = 7 − (380 ΔL − Δc)/log 380.
    phases = {p.id: p for p in fe.phases_from_catalog(document, "prior", {"4+": 5.0},
                                                      include_dead_plateau=False)}
    p4, p5 = phases["4+"], phases["5"]
    lam = 7.0 - (380 * (p4.loss - p5.loss) - (p5.constant - p4.constant)) / math.log(380)
    assert abs(lam - 5.0) < 0.02
    assert abs(fe.crossing_sample_size(p4, p5) - 380) < 3


def test_crossing_agrees_with_grid_sign_change():
    a = fe.Phase("a", 0.1, 3.0, 1.0)
    b = fe.Phase("b", 0.05, 6.0, 2.0)
    N = fe.crossing_sample_size(a, b)
    grid = np.linspace(2, 5000, 200001)
    diff = a.free_energy(grid) - b.free_energy(grid)
    last = grid[np.flatnonzero(np.diff(np.sign(diff)))[-1]]
    assert abs(N - last) < 0.05
    assert fe.crossing_sample_size(a, fe.Phase("c", 0.1, 9.0, 0.0)) is None  # equal loss


def test_occupancy_is_a_distribution(document):
    phases = fe.phases_from_catalog(document, "prior", include_dead_plateau=False)
    occ = fe.theoretical_occupancy(phases, np.geomspace(10, 1e4, 50))
    assert np.allclose(occ.sum(axis=0), 1.0)
    ids = [p.id for p in phases]
    assert np.argmax(occ[:, -1]) == ids.index("6")


@pytest.mark.parametrize("cid, order", [("6", 12), ("5", 10), ("5+", 10)])
def test_stabiliser_is_dihedral(catalog6, cid, order):
    # A regular k-gon is fixed by its dihedral group of order 2k (each element a permutation).
    W, b = np.array(catalog6.entry(cid)["W"]), np.array(catalog6.entry(cid)["b"])
    assert fe.stabiliser_order(W, b) == order


def test_dead_feature_mass_matches_monte_carlo(catalog6):
    # Independent check: draw (u, β) from the prior, evaluate L, count exact flatness.
    from critpoints import tms

    W, b = np.array(catalog6.entry("5")["W"]), np.array(catalog6.entry("5")["b"])
    mass = fe.dead_feature_prior_mass(W, b, 5)
    rng = np.random.default_rng(3)
    k = 40000
    Ws = np.repeat(W[None], k, axis=0)
    bs = np.repeat(b[None], k, axis=0)
    Ws[:, :, 5] = rng.standard_normal((k, 2))
    bs[:, 5] = rng.standard_normal(k)
    flat = np.abs(tms.loss(Ws, bs) - catalog6.entry("5")["loss"]) < 1e-12
    p = flat.mean()
    assert abs(mass - p) < 4 * math.sqrt(p * (1 - p) / k)


def test_laplace_constants_finite_and_reported(document):
    phases = {p.id: p for p in fe.phases_from_catalog(document, "laplace",
                                                      include_dead_plateau=False)}
    for cid in ("6", "5", "5+"):
        assert phases[cid].constant_source == "Laplace / Morse–Bott"
        assert math.isfinite(phases[cid].constant)


def test_likelihood_scale_is_a_change_of_inverse_temperature(document):
    # F(N) with likelihood scale S equals the unscaled F at β = S·N.
    for p in fe.phases_from_catalog(document, "laplace", include_dead_plateau=False):
        q = p.with_nll_scale(1 / 6)
        N = np.array([50.0, 600.0, 3000.0])
        assert np.allclose(q.free_energy(N), p.free_energy(N / 6), rtol=1e-13)
    with pytest.raises(ValueError):
        p.with_nll_scale(0.0)


def test_data_set_shift_against_direct_sum_over_copies():
    # n = 3 toy phase: δ = −log mean over the 3! feature permutations of exp(−β(L_N(π·w) − L(w))),
    # recomputed here with the per-sample evaluator, one permuted point at a time.
    import itertools

    from critpoints import tms
    from critpoints.slt.potentials import TMSEmpirical, TMSEmpiricalSets
    from critpoints.tms.data import sample_high_sparsity

    rng = np.random.default_rng(5)
    W = np.array([[1.1, -0.5, 0.0], [0.0, 0.9, 0.1]])
    b = np.array([-0.2, -0.1, 0.05])
    loss = float(tms.loss(W, b))
    phase = fe.Phase("toy", loss, 1.0, 0.0, point=(W, b))
    sets = [sample_high_sparsity(3, N, seed=rng) for N in (20, 200)]
    potential = TMSEmpiricalSets(sets)
    beta = np.array([20.0, 200.0])
    shift = fe.data_set_shift(phase, potential, np.array([0, 1]), beta)
    for s, x in enumerate(sets):
        heights = np.array([
            TMSEmpirical(x).loss(potential.flatten(W[:, list(p)], b[list(p)])[None])[0]
            for p in itertools.permutations(range(3))
        ])
        direct = -math.log(np.mean(np.exp(-beta[s] * (heights - loss))))
        assert shift[s] == pytest.approx(direct, rel=1e-10, abs=1e-10)
        # Jensen: the log-mean-exp never exceeds the mean fluctuation.
        assert shift[s] <= beta[s] * np.mean(heights - loss) + 1e-12


def test_data_set_shift_of_symmetric_point_is_the_plain_fluctuation():
    # The all-dead point is S_n-invariant: δ = β(L_N − 1/3) = Σ mu² − N/3 exactly.
    from critpoints.slt.potentials import TMSEmpiricalSets
    from critpoints.tms.data import sample_high_sparsity

    x = sample_high_sparsity(6, 300, seed=1)
    dead = fe.Phase("dead", 1 / 3, 0.0, 0.0, point=(np.zeros((2, 6)), -np.ones(6)))
    shift = fe.data_set_shift(dead, TMSEmpiricalSets([x]), np.array([0]), np.array([300.0]))
    assert shift[0] == pytest.approx(np.sum(x**2) - 100.0, rel=1e-10)


def test_data_set_term_favours_the_symmetry_breaking_phase(document):
    # A 5-gon picks the worst-represented feature of the data set to drop: on average over data
    # sets its δ is negative and grows like √N, more than the 6-gon's (whose copies differ only
    # through which features are neighbours). This is what moves the 5 → 6 crossing of an
    # empirical posterior above the population prediction.
    from critpoints.slt.potentials import TMSEmpiricalSets
    from critpoints.tms.data import sample_high_sparsity

    phases = {p.id: p for p in fe.phases_from_catalog(document, "laplace",
                                                      include_dead_plateau=False)}
    rng = np.random.default_rng(2)
    sizes = [100, 1000]
    streams = [sample_high_sparsity(6, 1000, seed=rng) for _ in range(12)]
    potential = TMSEmpiricalSets.nested(streams, sizes)
    slots = potential.slot_grid
    beta = np.broadcast_to(np.array(sizes, float), slots.shape)
    d5 = fe.data_set_shift(phases["5"], potential, slots, beta).mean(axis=0)
    d6 = fe.data_set_shift(phases["6"], potential, slots, beta).mean(axis=0)
    assert d5[0] < d6[0] < 0.5 and d5[1] < d6[1] - 2.0
    assert d5[1] < 2 * d5[0]  # grows with N (√10 ≈ 3.2 for a pure √N law)
