"""Plateau detection and identification of plateaus with catalogued critical points."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_dynamics_catalog import build_catalog

from critpoints import tms
from critpoints.catalog import Catalog
from critpoints.dynamics.plateaus import (
    CatalogMatcher,
    PlateauRule,
    detect_bands,
    detect_plateaus,
    identify,
    loss_trend,
)
from critpoints.dynamics.sgd import checkpoint_steps
from critpoints.tms.symmetry import rotation

DOCUMENT = build_catalog(6)
CATALOG = Catalog.from_document(DOCUMENT)
#: The committed n = 6 catalog the sweeps are matched against.
N6 = Catalog.load(Path(__file__).parents[1] / "catalog" / "tms-n6-m2.json")
N6_MATCHER = CatalogMatcher(N6)
REGRESSIONS = json.loads((Path(__file__).parent / "data" / "plateaus-n6-regressions.json")
                         .read_text())


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


STEPS = checkpoint_steps(225_000)  # the paper protocol's checkpoints


@settings(max_examples=40, deadline=None)
@given(start=st.integers(100_000, 222_000), level=st.floats(0.05, 0.3),
       lifetime=st.floats(0.002, 0.2), noise=st.floats(0, 0.2), seed=st.integers(0, 2**32 - 1))
def test_a_loss_that_keeps_falling_to_the_end_is_never_a_plateau(start, level, lifetime, noise,
                                                                  seed):
    # A plateau at 2 × level until `start`, then a steady descent from `level` to the end of
    # the run, at a rate that crosses the band's width (1e-4 + 2 % of the level) in
    # `lifetime` × start steps (< min_fraction of the elapsed steps: were it not cut by the
    # end, the band would not last long enough to be a plateau), with Gaussian noise up to
    # 0.2 × the descent over one checkpoint interval (1125 steps). The loss falls by more than
    # 2 × trend_atol per interval: the descent over any band (≥ 2 checkpoints) is above the
    # test's resolution.
    rule = PlateauRule()
    rng = np.random.default_rng(seed)
    rate = (rule.atol + rule.rtol * level) / (lifetime * start)
    assume(rate * 1125 > 2 * rule.trend_atol)
    loss = np.where(STEPS < start, 2 * level, level - rate * (STEPS - start))
    loss = loss + noise * rate * 1125 * rng.standard_normal(STEPS.size)
    assert all(p.end_step < STEPS[-1] for p in detect_plateaus(STEPS, loss, rule))
    # the band cut by the end of the run, if long enough to count, is reported unsettled
    assert all(b.end_step < STEPS[-1] or not b.settled for b in detect_bands(STEPS, loss, rule))


@settings(max_examples=40, deadline=None)
@given(level=st.floats(0.03, 0.34), noise=st.floats(0, 0.004), start=st.integers(0, 224_000),
       seed=st.integers(0, 2**32 - 1))
def test_a_flat_noisy_band_is_always_a_plateau(level, noise, start, seed):
    # Flat at `level` from `start` to the end, with Gaussian noise up to 0.4 % of the level
    # (within the band's 2 %: the band holds every checkpoint), after a drop from 2 × level.
    rng = np.random.default_rng(seed)
    loss = np.where(STEPS < start, 2 * level, level)
    loss = loss * (1 + np.clip(noise * rng.standard_normal(STEPS.size), -0.0045, 0.0045))
    first = int(np.searchsorted(STEPS, start))
    if STEPS[-1] - STEPS[first] < PlateauRule().min_steps:
        return  # too short to be a plateau at all
    last = detect_plateaus(STEPS, loss)[-1]
    assert (last.start_step, last.end_step) == (STEPS[first], STEPS[-1])


def test_the_trend_test_can_be_switched_off():
    # a drop to 0.1 at step 215 000, then a fall of 2e-7 per step: the last band (width 2.1e-3)
    # would be left after 10 500 steps, < 25 % of the elapsed steps
    loss = np.where(STEPS < 215_000, 0.2, 0.1 - 2e-7 * (STEPS - 215_000))
    assert not detect_bands(STEPS, loss)[-1].settled
    assert detect_bands(STEPS, loss, PlateauRule(trend=False))[-1].settled


def test_the_tail_of_a_4gon_run_cut_by_the_end_is_unsettled():
    # Regression: run 9 of the committed 4-gon sweep (graph.command of
    # catalog/tms-n6-m2.transitions.json; its last 5 checkpoints, steps 220477-225000), counted
    # as an unidentified plateau before the trend test: the slow 4++- -> 4++ descent, falling
    # 2.0e-3 over these 4500 steps (the search from it did not converge, gradient 3.2e-4).
    steps = [220477, 221608, 222739, 223869, 225000]
    loss = [0.103342, 0.102797, 0.102284, 0.101812, 0.101293]
    rate, error, settled = loss_trend(steps, loss)
    assert not settled and rate < 0 and -rate > 3 * error


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


def test_a_dead_zero_column_matches_anywhere_in_its_flat_region():
    W, b = CATALOG.parameters("5")
    zero = int(np.argmin(np.linalg.norm(W, axis=0)))
    moved_W, moved_b = W.copy(), b.copy()
    moved_W[:, zero] = [0.01, -0.02]  # the dead feature's column: dead in and out, so flat
    moved_b[zero] = -0.7  # its bias: flat
    assert tms.loss(moved_W, moved_b) == pytest.approx(tms.loss(W, b), abs=1e-15)
    match = CatalogMatcher(CATALOG).match(moved_W, moved_b)
    assert match.id == "5" and match.distance <= 1e-12


def test_the_dead_vertex_at_bias_minus_1_997_matches_4pp_minus():
    # Regression: the committed 4-gon sweep (REGRESSIONS["command"]) left this critical point
    # unidentified ("no catalog entry matches"): 4++-'s dead vertex (norm 1) had bias -1.997
    # instead of the stored -2; both lie in its flat interval b <= -1.
    case = REGRESSIONS["flat_bias"]
    match = N6_MATCHER.match(case["critical_W"], case["critical_b"], case["critical_loss"])
    assert match.id == "4++-"
    assert match.distance <= 1e-7  # the search's accuracy at gradient norm 5e-11
    assert min(match.b) == pytest.approx(min(case["critical_b"]), abs=1e-7)  # Q keeps -1.997


def test_a_stalled_plateau_is_identified_from_an_earlier_checkpoint():
    # Regression: run 20's initial plateau (REGRESSIONS["command"]): the search from its last
    # checkpoint runs away along the dead vertex's kink (gradient 6e-5, as committed); the
    # search from an earlier checkpoint of the same plateau converges to 4++-.
    case = REGRESSIONS["stalled"]
    last, earlier = case["representative"], case["earlier"]
    (alone,) = identify(np.array([last["W"]]), np.array([last["b"]]), [case["plateau_loss"]],
                        N6_MATCHER)
    assert alone.id is None and alone.reason.startswith("search did not converge")
    W = np.array([[last["W"], earlier["W"]]])
    b = np.array([[last["b"], earlier["b"]]])
    (found,) = identify(W, b, [case["plateau_loss"]], N6_MATCHER)
    assert (found.id, found.method, found.start) == ("4++-", "search", 1)
    assert found.grad_norm <= 1e-10
    assert found.loss == pytest.approx(N6.entry("4++-")["loss"], abs=1e-12)


def test_a_converged_point_missing_from_the_catalog_is_not_passed_to_an_earlier_start():
    without = dict(DOCUMENT, critical_points=[p for p in CATALOG if p["id"] != "5+"])
    W5, b5 = CATALOG.parameters("5+")
    W6, b6 = CATALOG.parameters("6")
    W = np.stack([W5 + 0.01, W6])[None]
    b = np.stack([b5, b6])[None]
    (found,) = identify(W, b, [CATALOG.entry("5+")["loss"]], CatalogMatcher(without))
    assert found.id is None and "no catalog entry" in found.reason and found.start == 0


def _shares_a_flat_set(entry) -> bool:
    """Whether another entry of the same loss lies in ``entry``'s flat set or it in theirs."""
    return any(other.id != entry.id and abs(other.loss - entry.loss) <= 1e-6
               and min(N6_MATCHER.distance(other.W, other.b, entry).distance,
                       N6_MATCHER.distance(entry.W, entry.b, other).distance) <= 1e-9
               for other in N6_MATCHER.entries)


#: Entries of the committed n = 6 catalog with a flat bias and no other entry in their flat set
#: (entries of one flat set tie, and the match then names the nearest representative).
FLAT_ENTRIES = [e.id for e in N6_MATCHER.entries
                if e.flat_bias.any() and not e.flat_column.any() and not _shares_a_flat_set(e)]


@settings(max_examples=25, deadline=None)
@given(entry=st.sampled_from(FLAT_ENTRIES), depth=st.floats(0, 5), seed=st.integers(0, 2**32 - 1))
def test_any_point_of_a_flat_bias_interval_matches_and_a_moved_live_coordinate_does_not(
    entry, depth, seed
):
    rng = np.random.default_rng(seed)
    flat_set = next(e for e in N6_MATCHER.entries if e.id == entry)
    W, b = flat_set.W.copy(), flat_set.b.copy()
    top = -np.maximum((W.T @ W).max(axis=0), 0.0)  # the top of each dead output's interval
    for j in np.flatnonzero(flat_set.flat_bias):
        b[j] = top[j] - depth * rng.uniform()
    assert tms.loss(W, b) == pytest.approx(flat_set.loss, abs=1e-14)
    image = random_symmetry(W, b, rng)
    match = N6_MATCHER.match(*image)
    assert match.id == entry and match.distance <= 1e-9
    # a live coordinate moved by 1e-2 is off the set
    live = np.concatenate([np.tile(~flat_set.flat_column, 2), ~flat_set.flat_bias])
    theta = np.concatenate([W.ravel(), b])
    theta[rng.choice(np.flatnonzero(live))] += rng.choice([-1e-2, 1e-2])
    moved = random_symmetry(theta[:12].reshape(2, 6), theta[12:], rng)
    assert N6_MATCHER.match(*moved, loss=flat_set.loss).id != entry
