"""Data sampling, the empirical loss, and the ``evaluate`` / ``derive`` commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints import tms
from critpoints.cli import main
from critpoints.tms.data import (
    empirical_loss,
    empirical_loss_and_gradient,
    sample_high_sparsity,
    sample_sparse,
)


def test_high_sparsity_samples_are_one_hot_uniform():
    x = sample_high_sparsity(5, 200_000, seed=1)
    assert ((x != 0).sum(axis=1) == 1).all()
    magnitudes = x.max(axis=1)
    # U[0, 1]: mean 1/2, variance 1/12; feature index uniform: 1/5 each
    assert magnitudes.mean() == pytest.approx(0.5, abs=0.005)
    assert magnitudes.var() == pytest.approx(1 / 12, abs=0.002)
    np.testing.assert_allclose((x != 0).mean(axis=0), 0.2, atol=0.005)


def test_same_seed_same_samples():
    np.testing.assert_array_equal(
        sample_high_sparsity(4, 10, seed=3), sample_high_sparsity(4, 10, seed=3)
    )
    np.testing.assert_array_equal(
        sample_sparse(4, 10, 0.9, seed=3), sample_sparse(4, 10, 0.9, seed=3)
    )


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_sparse_second_moment_matches_seed_000(sparsity):
    # Seed 000 §2.1 / SPEC §1: E[x xᵀ] = ((1-S)/3) I + ((1-S)/2)² (J - I).
    n = 4
    x = sample_sparse(n, 400_000, sparsity, seed=2)
    expected = ((1 - sparsity) / 3) * np.eye(n) + ((1 - sparsity) / 2) ** 2 * (1 - np.eye(n))
    np.testing.assert_allclose(x.T @ x / len(x), expected, atol=4e-3)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_empirical_gradient_matches_finite_differences(n, m, seed):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(m, n)), rng.normal(size=n) * 0.3
    x = sample_sparse(n, 50, 0.5, seed=seed)
    value, dW, db = empirical_loss_and_gradient(W, b, x)
    assert value == pytest.approx(empirical_loss(W, b, x))
    theta = tms.flatten(W, b)
    h = 1e-6
    for k in range(theta.size):
        e = np.zeros(theta.size)
        e[k] = h
        plus = empirical_loss(*tms.unflatten(theta + e, m, n), x)
        minus = empirical_loss(*tms.unflatten(theta - e, m, n), x)
        # ReLU kinks inside the step would spoil the difference; they have probability ~0 here
        assert (plus - minus) / (2 * h) == pytest.approx(tms.flatten(dW, db)[k], abs=1e-5)


# ----------------------------------------------------------------------------------------------
# evaluate


def _params(tmp_path, content):
    path = tmp_path / "p.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def test_evaluate_prints_loss_gradient_and_spectrum(tmp_path, capsys):
    # The regular 6-gon of SPEC §2 (l = 1.32053, b = -0.61814): L = 0.04819
    angles = 2 * np.pi * np.arange(6) / 6
    W = (1.32053 * np.array([np.cos(angles), np.sin(angles)])).tolist()
    path = _params(tmp_path, {"W": W, "b": [-0.61814] * 6})
    assert main(["evaluate", "--params", path]) == 0
    out = capsys.readouterr().out
    loss_line = next(line for line in out.splitlines() if line.startswith("loss"))
    assert round(float(loss_line.split()[1]), 5) == 0.04819
    assert "18 eigenvalues" in out
    assert main(["evaluate", "--params", path, "--dps", "40"]) == 0
    out = capsys.readouterr().out
    loss_line = next(line for line in out.splitlines() if line.startswith("loss"))
    assert len(loss_line.split()[1]) > 35


def test_evaluate_retries_an_unconverged_spectrum_at_twice_the_digits(tmp_path, capsys,
                                                                     monkeypatch):
    """mpmath's QL iteration gives up on some highly degenerate spectra (150 equal columns at
    30 digits; 60 digits converge): evaluate retries at 2·dps, and says so in one line if that
    fails too."""
    import mpmath

    from critpoints import mpfr

    eigsy = mpfr.eigsy
    tried = []

    def fails_below(limit):
        def patched(H, eigvals_only=False):
            tried.append(mpmath.mp.dps)
            if mpmath.mp.dps < limit:
                raise RuntimeError("tridiag_eigen: no convergence")
            return eigsy(H, eigvals_only=eigvals_only)
        return patched

    path = _params(tmp_path, {"W": [[1.0, 0.0], [0.0, 1.0]], "b": [-0.1, 0.2]})
    assert main(["evaluate", "--params", path, "--dps", "30"]) == 0
    reference = capsys.readouterr().out
    monkeypatch.setattr(mpfr, "eigsy", fails_below(60))
    assert main(["evaluate", "--params", path, "--dps", "30"]) == 0
    assert tried == [30, 60]
    retried = capsys.readouterr().out
    # printed at 30 digits either way; the retry's eigenvalues are the more accurate ones
    assert len(retried.splitlines()) == len(reference.splitlines())
    for ours, theirs in zip(retried.splitlines(), reference.splitlines()):
        if ours != theirs:
            assert abs(mpmath.mpf(ours) - mpmath.mpf(theirs)) < mpmath.mpf("1e-27"), ours
    monkeypatch.setattr(mpfr, "eigsy", fails_below(1000))
    assert main(["evaluate", "--params", path, "--dps", "30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did not converge at 30 or 60 digits" in err[0]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"W": [[1, 2]], "b": [0]}', "b must be a list of n = 2"),
        ('{"W": [[1, 2]]}', "missing the key(s) 'b'"),
        ('{"W": [[1, NaN]], "b": [0, 0]}', "NaN"),
        ('{"W": [[1, 2], [3]], "b": [0, 0]}', "m×n nested list"),
        ('{"W": [[1, "x"]], "b": [0, 0]}', "numbers only"),
        ("[1, 2]", "must hold a JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_evaluate_rejects_bad_input(tmp_path, capsys, content, message):
    assert main(["evaluate", "--params", _params(tmp_path, content)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_evaluate_unreadable_file(tmp_path, capsys):
    assert main(["evaluate", "--params", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_potential_rejects_nan_and_bad_shapes():
    with pytest.raises(ValueError, match="finite"):
        tms.loss([[np.nan, 1.0]], [0.0, 0.0])
    with pytest.raises(ValueError, match="b must have shape"):
        tms.loss(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        tms.gradient([[1.0, 2.0]], ["nan", "0"], dps=30)


def test_derive_reports_the_generated_module_current(capsys):
    assert main(["derive"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_commands_hold_blas_to_one_thread_unless_the_user_chose(monkeypatch):
    """main() sets BLAS to one thread per process (worker processes already use every core),
    in the environment for worker processes and in an already-loaded BLAS; an explicit
    OPENBLAS_NUM_THREADS (or MKL/OMP) is left alone."""
    import os

    from threadpoolctl import threadpool_info, threadpool_limits

    from critpoints.cli import _BLAS_THREAD_VARIABLES, main

    for variable in _BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    with threadpool_limits(limits=2, user_api="blas"):
        assert main(["--version"]) == 0
        assert all(os.environ[variable] == "1" for variable in _BLAS_THREAD_VARIABLES)
        assert {pool["num_threads"] for pool in threadpool_info()
                if pool["user_api"] == "blas"} <= {1}
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
        threadpool_limits(limits=2, user_api="blas")
        assert main(["--version"]) == 0
        assert os.environ["OPENBLAS_NUM_THREADS"] == "2"
        assert {pool["num_threads"] for pool in threadpool_info()
                if pool["user_api"] == "blas"} <= {2}
