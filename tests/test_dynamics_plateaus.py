"""Plateau detection and identification of plateaus with catalogued critical points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dynamics_catalog import build_catalog

from critpoints import tms
from critpoints.catalog import Catalog
from critpoints.dynamics.plateaus import (
    CatalogMatcher,
    PlateauRule,
    detect_plateaus,
    effective_form,
    identify,
)
from critpoints.dynamics.sgd import checkpoint_steps
from critpoints.tms.symmetry import rotation

DOCUMENT = build_catalog(6)
CATALOG = Catalog.from_document(DOCUMENT)


def test_staircase_plateaus_are_found_with_their_spans():
    # A synthetic staircase: 0.30 until step 2000, 0.10 until 60000, then 0.05; the drops are
    # linear over 200 steps, and there is ±0.2% noise on the levels.
    steps = checkpoint_steps(200_000)
    levels = np.interp(steps, [0, 2000, 2200, 60_000, 60_200, 200_000],
                       [0.3, 0.3, 0.1, 0.1, 0.05, 0.05])
    noise = 1 + 0.002 * np.sin(steps)
    plateaus = detect_plateaus(steps, levels * noise, PlateauRule())
    assert [round(p.loss, 2) for p in plateaus] == [0.3, 0.1, 0.05]
    assert plateaus[0].start_step == 0 and plateaus[0].end_step <= 2000
    assert 2000 < plateaus[1].start_step <= 2400 and 57_000 <= plateaus[1].end_step <= 60_000
    assert plateaus[2].end_step == 200_000


def test_a_steady_descent_is_not_a_plateau():
    steps = checkpoint_steps(100_000)
    loss = 0.3 * (1 + steps) ** -0.5  # falls by more than 2% in every quarter of elapsed time
    plateaus = detect_plateaus(steps, loss)
    # only the band cut short by the end of the run may count (it needs only min_steps)
    assert len(plateaus) <= 1 and all(p.end_step == steps[-1] for p in plateaus)
    assert detect_plateaus(steps[:-40], loss[:-40])[:-1] == []


def random_symmetry(W, b, rng):
    """An O(2) × S_n image of (W, b)."""
    R = rotation(rng.uniform(0, 2 * np.pi)) @ np.diag([1.0, rng.choice([-1.0, 1.0])])
    perm = rng.permutation(W.shape[1])
    return (R @ W)[:, perm], b[perm]


@settings(max_examples=12, deadline=None)
@given(entry=st.sampled_from(["6", "5", "5+", "4++", "4+", "4"]), seed=st.integers(0, 2**32 - 1))
def test_identification_recovers_a_critical_point_from_a_perturbed_copy(entry, seed):
    rng = np.random.default_rng(seed)
    W, b = random_symmetry(*CATALOG.parameters(entry), rng)
    # noise of the size SGD leaves at a plateau (N = 1000: O(N^-1/2) ≈ 0.03)
    W = W + rng.normal(scale=0.01, size=W.shape)
    b = b + rng.normal(scale=0.01, size=b.shape)
    (found,) = identify(W[None], b[None], [float(tms.loss(W, b))], CatalogMatcher(CATALOG))
    assert found.id == entry, found.reason
    assert found.grad_norm <= 1e-10
    assert found.loss == pytest.approx(CATALOG.entry(entry)["loss"], abs=1e-9)


def test_a_critical_point_missing_from_the_catalog_stays_unidentified():
    without = dict(DOCUMENT, critical_points=[p for p in CATALOG if p["id"] != "5+"])
    W, b = CATALOG.parameters("5+")
    W = W + 0.01
    (found,) = identify(W[None], b[None], [CATALOG.entry("5+")["loss"]], CatalogMatcher(without))
    assert found.id is None and "no catalog entry" in found.reason
    assert found.loss == pytest.approx(CATALOG.entry("5+")["loss"], abs=1e-9)


def test_a_plateau_far_above_the_critical_point_found_is_not_identified():
    W, b = CATALOG.parameters("6")
    (found,) = identify(W[None], b[None], [0.07], CatalogMatcher(CATALOG))
    assert found.id is None and "loss" in found.reason


def test_effective_form_removes_flat_directions_of_dead_features():
    W, b = CATALOG.parameters("5")
    zero = int(np.argmin(np.linalg.norm(W, axis=0)))
    moved_W, moved_b = W.copy(), b.copy()
    moved_W[:, zero] = [0.01, -0.02]  # the dead feature's column: inert, so flat
    moved_b[zero] = -0.7  # its bias: flat
    assert tms.loss(moved_W, moved_b) == pytest.approx(tms.loss(W, b), abs=1e-15)
    for A, B in zip(effective_form(W, b), effective_form(moved_W, moved_b)):
        np.testing.assert_array_equal(A, B)
    matcher = CatalogMatcher(CATALOG)
    assert matcher.match(moved_W, moved_b)[0] == "5"
