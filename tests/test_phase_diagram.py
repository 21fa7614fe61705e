"""``phase-diagram``: configuration types, type optima, boundaries, document, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from critpoints.cli import main
from critpoints.tms import loss
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
    kind = {t.name: t for t in configuration_types(2, 1)}["feature-1"]
    optimum, _ = optimise_type(kind, 0.5, 1.0)
    assert optimum.in_type and optimum.gradient_norm <= 1e-9 and optimum.psd


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
    for boundary in document["boundaries"]:
        assert boundary["max_loss_difference"] <= 1e-9


@pytest.mark.slow
def test_boundary_point_has_equal_losses():
    result = phase_diagram(2, 1, [0.3, 1.0], [0.1, 1.0, 10.0], [])
    for boundary in result.boundaries:
        assert boundary.max_loss_difference <= 1e-9


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
