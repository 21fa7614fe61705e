"""``phase-diagram``: configuration types, type optima, boundaries, document, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from critpoints.cli import main
from critpoints.tms import loss, sparse
from critpoints.tms.phase_diagram import (
    configuration_types,
    optimise_type,
    phase_diagram,
)


def test_templates_map_variables_to_parameters():
    types = {t.name: t for t in configuration_types(3, 2)}
    triangle = types["triangle"]
    A = triangle.matrix()
    theta = A @ triangle.initial()
    W, b = theta[:6].reshape(2, 3), theta[6:]
    assert W[0, 0] == W[0, 1] and W[1, 0] == -W[1, 1] and W[1, 2] == 0
    assert b[0] == b[1]
    with pytest.raises(ValueError, match="no configuration types"):
        configuration_types(4, 3)


def test_type_optimum_is_a_critical_point_of_the_full_potential():
    """Dense data (S = 0), r = 1/2: feature 1 reconstructed exactly, feature 2 by its mean, so
    L = r·Var(x_2) = 1/24 (U[0, 1] moments), a minimum of the full potential. At S = 0.5,
    r = 1 the same type's optimum (L = 5/48) is a saddle of the full potential: the antipodal
    direction lowers it (the first version met a dead bias there and called it PSD)."""
    kind = {t.name: t for t in configuration_types(2, 1)}["feature-1"]
    optimum, _ = optimise_type(kind, 0.0, 0.5)
    assert optimum.in_type and optimum.gradient_norm <= 1e-9 and optimum.psd
    assert optimum.loss == pytest.approx(1 / 24, abs=1e-12)
    saddle, _ = optimise_type(kind, 0.5, 1.0)
    assert saddle.gradient_norm <= 1e-9 and not saddle.psd
    assert saddle.loss == pytest.approx(5 / 48, abs=1e-12)


def test_high_sparsity_winner_agrees_with_the_one_hot_potential():
    """At S → 1, I = 1: the one-hot potential (critpoints.tms.loss, no sparsity) ranks the
    candidates of n = 2, m = 1 independently: the antipodal pair (w, −w), b ≤ 0, represents both
    features and beats one dedicated feature."""
    from scipy.optimize import minimize

    def best(template):
        def f(p):
            W = np.array([template(p)])
            return float(loss(W, np.array(p[-2:])))

        return min(minimize(f, x0, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000}).fun
                   for x0 in ([1.0, 1.0, -0.1, -0.1], [0.8, 1.2, 0.0, -0.2]))

    antipodal = best(lambda p: [p[0], -p[1]])
    single = best(lambda p: [p[0], 0.0])
    assert antipodal < single
    types = configuration_types(2, 1)
    kinds = {t.name: t for t in types}
    at = {name: optimise_type(kinds[name], 0.99, 1.0)[0] for name in ("feature-1", "antipodal")}
    assert at["antipodal"].in_type and at["antipodal"].loss < at["feature-1"].loss


@pytest.mark.slow
def test_small_grid_document_validates_and_boundaries_are_equal_loss(tmp_path):
    from critpoints.store import load_document

    out = tmp_path / "pd.json"
    assert main(["phase-diagram", "--n", "2", "--hidden", "1", "--grid", "3",
                 "--boundary-points", "3", "--checks", "1", "--starts", "2",
                 "--out", str(out)]) == 0
    document = load_document(out, "critpoints.phase-diagram")
    assert len(document["winner"]) == 3
    equal_loss = 0
    for boundary in document["boundaries"]:
        assert boundary["kind"] in ("equal-loss", "type-ends")
        if boundary["kind"] == "equal-loss":
            equal_loss += 1
            assert boundary["max_loss_difference"] <= 1e-9
    assert equal_loss >= 1  # feature 1 | antipodal and feature 2 | antipodal on this grid


def test_dead_bias_of_a_dropped_feature_is_not_taken_for_the_optimum():
    """Regression (the first version's wrong cell, density 1, r = 10): "feature 2 only" from a
    bias −0.1 on the unrepresented feature 1 stays at the flat dead critical point L = 1/3 + …;
    its optimum has ReLU(b_1) = E[x_1] = 1/2 and L = Var(x_1) = 1/12 (feature 2 reconstructed
    exactly with w² = 1, b_2 = 0; independent: U[0, 1] moments)."""
    kind = {t.name: t for t in configuration_types(2, 1)}["feature-2"]
    optimum, _ = optimise_type(kind, 0.0, 10.0)
    assert optimum.loss == pytest.approx(1 / 12, abs=1e-12)
    assert optimum.gradient_norm <= 1e-9 and optimum.psd


def test_shape_of_a_parallel_pair_and_of_an_untied_pair():
    """A same-sign pair keeps its shape while both weights are ≥ 10⁻³: v → 0 is "1, 3
    dedicated, 2 dropped", v < 0 an antipodal pair. The unequal antipodal pair keeps its shape
    while its norms or its biases differ; with both equal it is the tied type listed earlier."""
    kinds = {t.name: t for t in configuration_types(3, 2)}
    parallel = kinds["3-dedicated-12-parallel"]  # φ = (u, v, w, b1, b2, b3)
    assert parallel.keeps_shape(np.array([0.9, 0.4, 1.0, -0.1, 0.3, 0.0]))
    assert not parallel.keeps_shape(np.array([0.9, 1e-4, 1.0, -0.1, 0.3, 0.0]))
    assert not parallel.keeps_shape(np.array([0.9, -0.4, 1.0, -0.1, 0.3, 0.0]))
    unequal = kinds["3-dedicated-12-antipodal-unequal"]
    assert unequal.keeps_shape(np.array([0.9, 0.4, 1.0, 0.2, 0.6, 0.0]))
    assert unequal.keeps_shape(np.array([0.7, 0.7, 1.0, 0.2, 0.6, 0.0]))
    assert not unequal.keeps_shape(np.array([0.7, 0.7, 1.0, 0.3, 0.3, 0.0]))


def test_dense_data_put_features_1_and_2_on_one_direction_with_unequal_norms():
    """Regression (docs/sparsity.md, n = 3, m = 2): at density 1, r = 10 the first type list's
    winner was "1, 3 dedicated, 2 dropped", L = Var(x_2) = 1/12 (U[0, 1] moments), and its
    multi-start check found L = 0.08325424290715988 (catalog/tms-n3-m2.phase-diagram.json,
    verification.checks[4].best_loss: L-BFGS over the full (W, b), independent of the types):
    feature 3 dedicated, features 1, 2 on one direction with norms 0.936, 0.367.

    Two configurations reach it: the same-sign pair of that check and the antipodal pair with
    unequal norms. At density 1, x_2 → 1 − x_2 preserves U[0, 1]; while output 2 is never cut
    by its ReLU it maps one onto the other (v → −v, b_1 → b_1 + uv, b_2 → 1 − b_2 − v²), so the
    losses are equal; the antipodal type, listed first, wins the tie."""
    result = phase_diagram(3, 2, [1.0], [10.0], [])
    names = [t.name for t in result.types]
    winner = names[result.winners[0, 0]]
    L = {name: result.losses[k, 0, 0] for k, name in enumerate(names)}
    assert winner == "3-dedicated-12-antipodal-unequal"
    assert L[winner] == pytest.approx(0.08325424290715988, abs=1e-12)
    assert result.gradient_norms[names.index(winner), 0, 0] <= 1e-9
    assert result.psd[names.index(winner), 0, 0]
    assert L["3-dedicated-2-dropped"] == pytest.approx(1 / 12, abs=1e-12)
    assert L["3-dedicated-2-dropped"] - L[winner] == pytest.approx(7.909e-5, abs=1e-8)

    parallel = names.index("3-dedicated-12-parallel")
    assert result.in_type[parallel, 0, 0] and result.psd[parallel, 0, 0]
    assert result.gradient_norms[parallel, 0, 0] <= 1e-9
    assert L["3-dedicated-12-parallel"] == pytest.approx(L[winner], abs=1e-12)
    optimum, phi = optimise_type(result.types[parallel], 0.0, 10.0)
    u, v, w, b1, b2, b3 = phi
    assert b2 > 0  # output 2 = ReLU(v (u x_1 + v x_2) + b_2) is never cut
    W = np.array([[u, -v, 0.0], [0.0, 0.0, w]])
    b = np.array([b1 + u * v, 1 - b2 - v * v, b3])
    importance = np.array([1.0, 1.0, 10.0])
    reflected = sparse.loss_and_gradient(W[None], b[None], sparsity=0.0,
                                         importance=importance)[0][0]
    assert reflected == pytest.approx(optimum.loss, abs=1e-14)
    assert reflected == pytest.approx(L[winner], abs=1e-12)


def test_unequal_antipodal_pair_becomes_symmetric_with_sparser_data():
    """At density 0.7, r = 10 the antipodal pair of features 1, 2 is symmetric (measured: the
    unequal type's optimum has u = v = 0.759, b_1 = b_2 = 0.329), so the unequal type has left
    its shape there and the tied type "3 dedicated; 1, 2 antipodal" is the one counted."""
    kind = {t.name: t for t in configuration_types(3, 2)}["3-dedicated-12-antipodal-unequal"]
    optimum, phi = optimise_type(kind, 0.3, 10.0)
    assert optimum.gradient_norm <= 1e-9 and not optimum.in_type
    assert abs(phi[0] - phi[1]) < 1e-3 and abs(phi[3] - phi[4]) < 1e-3


def test_the_antipodal_optimum_at_r_1_is_not_the_symmetric_saddle():
    """n = 2, density 0.8254, r = 1: the best symmetric antipodal pair (u = v, b1 = b2, where
    the symmetric starts' Newton stays), minimised here directly over (u, b) without the
    templates, is a saddle of the full potential (a negative eigenvalue of the finite-difference
    Hessian of the exact gradient); the type's optimum is an unequal pair below it, PSD, and
    nothing lower is found by L-BFGS over the full (W, b) from random starts."""
    from scipy.optimize import minimize

    S = 1 - 0.8254041852680182
    kind = {t.name: t for t in configuration_types(2, 1)}["antipodal"]
    optimum, phi = optimise_type(kind, S, 1.0)
    assert optimum.in_type and optimum.psd and optimum.gradient_norm <= 1e-9
    assert abs(phi[0] - phi[1]) > 0.1  # u ≠ v: the symmetry is broken

    def value_gradient(theta):
        L, dW, db = sparse.loss_and_gradient(theta[:2].reshape(1, 2), theta[2:],
                                             sparsity=S)
        return float(L), np.concatenate([np.ravel(dW), np.ravel(db)])

    def symmetric(x):  # (u, c) -> W = (u, −u), b = (c, c)
        return np.array([x[0], -x[0], x[1], x[1]])

    pair = minimize(lambda x: value_gradient(symmetric(x))[0], [0.9, 0.1], method="Nelder-Mead",
                    options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 4000})
    saddle = symmetric(pair.x)
    assert np.linalg.norm(value_gradient(saddle)[1]) < 1e-6  # critical by symmetry
    h = 1e-6
    hessian = np.array([(value_gradient(saddle + h * e)[1] - value_gradient(saddle - h * e)[1])
                        / (2 * h) for e in np.eye(4)])
    assert np.linalg.eigvalsh((hessian + hessian.T) / 2)[0] < -1e-3
    assert optimum.loss < pair.fun - 1e-4

    rng = np.random.default_rng(0)
    best = min(minimize(value_gradient, np.concatenate([rng.normal(0, 1, 2),
                                                        rng.normal(0, 0.3, 2)]),
                        jac=True, method="L-BFGS-B",
                        options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 5000}).fun
               for _ in range(12))
    assert optimum.loss <= best + 1e-12
    assert abs(optimum.loss - best) <= 1e-9


@pytest.mark.slow
def test_a_boundary_along_r_is_located_in_density():
    """Where feature 3 is dedicated the losses do not depend on r, so the boundary between the
    tied and the unequal antipodal pair runs along r and has no root in r: it is located as a
    root in density (an equal-loss crossing; both types exist and are PSD on either side,
    measured at densities 0.703 … 0.72), and the re-solved losses there are equal at another
    r too."""
    result = phase_diagram(3, 2, [0.70, 0.72], [10.0], [])
    pair = ("3-dedicated-12-antipodal", "3-dedicated-12-antipodal-unequal")
    (boundary,) = [b for b in result.boundaries if b.types == pair]
    assert boundary.kind == "equal-loss" and boundary.max_loss_difference <= 1e-12
    ((density, ratio),) = boundary.points
    assert ratio == 10.0 and 0.703 < density < 0.707
    kinds = {t.name: t for t in configuration_types(3, 2)}
    for r in (10.0, 2.0):
        tied, unequal = (optimise_type(kinds[name], 1 - density, r)[0] for name in pair)
        assert tied.in_type and unequal.in_type
        assert abs(tied.loss - unequal.loss) <= 1e-10


@pytest.mark.parametrize("argv, message", [
    (["--n", "3", "--hidden", "1"], "not supported"),
    (["--n", "2", "--hidden", "1", "--ratio-range", "5", "1"], "LO < HI"),
])
def test_bad_input_is_rejected_before_computing(argv, message, capsys):
    assert main(["phase-diagram", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_unsupported_sizes_are_usage_errors(capsys):
    assert main(["phase-diagram", "--n", "4", "--hidden", "3"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


COMMITTED = [("tms-n2-m1", 2, 1), ("tms-n3-m2", 3, 2)]


@pytest.mark.parametrize("name, n, m", COMMITTED)
def test_committed_document_rechecks_from_its_numbers(name, n, m):
    """The committed document validates against its schema, its templates are the library's,
    and sampled cells re-solved from scratch (cold starts, no warm start from the grid) give
    the stored type losses and winner; a point of each equal-loss boundary has equal re-solved
    losses. Independent of the grid run: only the stored numbers are used.

    A document may predate types added to the list later (its types are then the library's
    first ones): at the sampled cells the added types are re-solved too and must not beat the
    stored winner."""
    from pathlib import Path

    from critpoints.store import load_document

    path = Path(__file__).resolve().parents[1] / "catalog" / f"{name}.phase-diagram.json"
    document = load_document(path, "critpoints.phase-diagram")
    kinds = {t.name: t for t in configuration_types(n, m)}
    stored_names = [t["name"] for t in document["types"]]
    assert stored_names == list(kinds)[: len(stored_names)]
    added = [k for k in kinds if k not in stored_names]
    for stored in document["types"]:
        assert [tuple(row) for row in stored["W"]] == list(kinds[stored["name"]].W)
        assert tuple(stored["b"]) == kinds[stored["name"]].b
        assert [tuple(p) for p in stored.get("unequal", [])] == list(kinds[stored["name"]].unequal)
    assert document["verification"]["not_critical_in_type"] == 0
    assert document["verification"]["winners_not_psd"] == 0
    densities, ratios = document["densities"], document["ratios"]
    cells = [(len(ratios) // 3, len(densities) // 2), (len(ratios) - 2, len(densities) - 3)]
    for i, j in cells:
        S, r = 1.0 - densities[j], ratios[i]
        winner = document["winner"][i][j]
        optimum, _ = optimise_type(kinds[winner], S, r)
        assert optimum.in_type
        assert optimum.loss == pytest.approx(document["losses"][winner][i][j], abs=1e-10)
        for name_k, kind in kinds.items():
            if name_k != winner and (name_k in added or document["in_type"][name_k][i][j]):
                other, _ = optimise_type(kind, S, r)
                assert other.loss >= optimum.loss - 1e-10 or not other.in_type
    for boundary in document["boundaries"]:
        if boundary["kind"] != "equal-loss":
            continue
        x, r = boundary["points"][len(boundary["points"]) // 2]
        losses = [optimise_type(kinds[t], 1.0 - x, r)[0].loss for t in boundary["types"]]
        assert abs(losses[0] - losses[1]) <= 1e-9
