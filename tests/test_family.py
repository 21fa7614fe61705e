"""The flat family through a critical point (critpoints.solve.family): its dimension measured
from sampled members, against sets whose dimension is known independently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.cli import main
from critpoints.potential import SmoothPotential
from critpoints.solve.family import flat_family, tangent_dimension
from critpoints.tms.model import TMSPotential

ROOT = Path(__file__).resolve().parents[1]


class PlainCoordinates(SmoothPotential):
    """θ is the parameter vector itself; no symmetry declared."""

    def flatten(self, theta):
        return np.asarray(theta)

    def unflatten(self, theta):
        return (np.asarray(theta),)

    def orbit_tangents(self, theta):
        return np.zeros((0, self.dim))


class SphereValley(PlainCoordinates):
    """L = (|x_S|² − ρ²)² + Σ_{j∉S} c_j x_j² on R^D, S the first k + 1 coordinates: its minima
    form the k-sphere of radius ρ (k = 0: the two points ±ρ), with no symmetry declared. With
    ``saddle`` the last coordinate enters as −x² instead: the same sphere is then a family of
    saddles."""

    def __init__(self, k: int, extra: int, radius: float, saddle: bool = False):
        self.k, self.radius, self.saddle = k, radius, saddle
        self.dim = k + 1 + extra
        self.weights = np.linspace(1.0, 3.0, extra) if extra else np.zeros(0)
        if saddle:
            self.weights[-1] = -1.0

    def _split(self, theta):
        theta = np.asarray(theta, dtype=float)
        return theta[..., : self.k + 1], theta[..., self.k + 1:]

    def loss(self, theta, dps=None):
        x, y = self._split(theta)
        return ((x**2).sum(-1) - self.radius**2) ** 2 + (self.weights * y**2).sum(-1)

    def loss_and_gradient(self, theta, dps=None):
        x, y = self._split(theta)
        u = (x**2).sum(-1, keepdims=True) - self.radius**2
        return self.loss(theta), np.concatenate([4 * u * x, 2 * self.weights * y], axis=-1)

    def hessian(self, theta, dps=None, side=None):
        x, _ = self._split(theta)
        u = (x**2).sum(-1) - self.radius**2
        H = np.zeros((*x.shape[:-1], self.dim, self.dim))
        s = self.k + 1
        H[..., :s, :s] = 8 * x[..., :, None] * x[..., None, :] + 4 * u[..., None, None] * np.eye(s)
        H[..., s:, s:] = 2 * np.diag(self.weights)
        return H


@settings(max_examples=12, deadline=None)
@given(k=st.integers(0, 3), extra=st.integers(0, 3), radius=st.floats(0.5, 2.0),
       seed=st.integers(0, 2**16), saddle=st.booleans())
def test_dimension_of_a_sphere_of_critical_points(k, extra, radius, seed, saddle):
    """A k-sphere of minima (or of saddles) has dimension k at each of its points, and the
    Hessian's k zero modes there are the family's tangent."""
    saddle = saddle and extra > 0
    potential = SphereValley(k, extra, radius, saddle)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(k + 1)
    theta = np.concatenate([radius * x / np.linalg.norm(x), np.zeros(extra)])
    family = flat_family(potential, theta, seed=seed)
    assert family.tangent_dimension == k
    assert family.dimension == k
    assert family.isolated == (k == 0)


class QuarticWell(PlainCoordinates):
    """L = x⁴ + y² + 2z²: an isolated minimum with a zero Hessian eigenvalue."""

    dim = 3

    def loss(self, theta, dps=None):
        x, y, z = np.moveaxis(np.asarray(theta, dtype=float), -1, 0)
        return x**4 + y**2 + 2 * z**2

    def loss_and_gradient(self, theta, dps=None):
        x, y, z = np.moveaxis(np.asarray(theta, dtype=float), -1, 0)
        return self.loss(theta), np.stack([4 * x**3, 2 * y, 4 * z], axis=-1)

    def hessian(self, theta, dps=None, side=None):
        x = np.asarray(theta, dtype=float)[..., 0]
        H = np.zeros((*x.shape, 3, 3))
        H[..., 0, 0], H[..., 1, 1], H[..., 2, 2] = 12 * x**2, 2.0, 4.0
        return H


def test_a_degenerate_isolated_minimum_is_not_a_family():
    """The Hessian's zero mode is higher order, not a continuum: the searches stop where
    ‖∇L‖ reaches the tolerance, at a distance that does not scale with the perturbation."""
    family = flat_family(QuarticWell(), np.zeros(3))
    assert family.dimension == 0
    assert family.isolated


class CuspRegion(PlainCoordinates):
    """L = ReLU(y² − z⁴)² + x²: zero on the region |y| ≤ z², x = 0 — two-dimensional, but
    its tangent cone at the origin is the z-axis alone (a cusp). L is C¹ with a Hessian jump
    on y² = z⁴, like the ReLU terms of TMS."""

    dim = 3

    def _parts(self, theta):
        x, y, z = np.moveaxis(np.asarray(theta, dtype=float), -1, 0)
        u = y**2 - z**4
        return x, y, z, np.maximum(u, 0.0)

    def loss(self, theta, dps=None):
        x, _, _, r = self._parts(theta)
        return r**2 + x**2

    def loss_and_gradient(self, theta, dps=None):
        x, y, z, r = self._parts(theta)
        return self.loss(theta), np.stack([2 * x, 4 * r * y, -8 * r * z**3], axis=-1)

    def hessian(self, theta, dps=None, side=None):
        _, y, z, r = self._parts(theta)
        on = (r > 0).astype(float)
        du = np.stack([np.zeros_like(y), 2 * y, -4 * z**3], axis=-1)
        H = 2 * on[..., None, None] * du[..., :, None] * du[..., None, :]
        H[..., 1, 1] += 4 * r
        H[..., 2, 2] += -24 * r * z**2
        H[..., 0, 0] += 2.0
        return H


def test_a_cusp_is_measured_by_its_dimension_not_its_tangent_cone():
    family = flat_family(CuspRegion(), np.zeros(3))
    assert family.tangent_dimension == 1
    assert family.dimension == 2


def _entry(name: str, ident: str) -> dict:
    document = json.loads((ROOT / "catalog" / name).read_text(encoding="utf-8"))
    return next(e for e in document["critical_points"] if e["id"] == ident)


def _family_of(name: str, ident: str):
    entry = _entry(name, ident)
    W, b = np.array(entry["W"]), np.array(entry["b"])
    potential = TMSPotential.of(W[None])
    return entry, flat_family(potential, potential.flatten(W, b))


@pytest.mark.parametrize(("name", "ident", "dimension"), [
    # L = 0 iff unit columns, b = 0 and pairwise non-acute (docs/polytopes.md, derived by
    # hand): four such vectors in R³ up to O(3): 4·2 − 3 = 5; five: an antipodal pair and three
    # vectors in the plane orthogonal to it at angles ≥ 90° summing to 360°: 2; six: the
    # octahedron, rigid: 0.
    ("tms-n4-m3.json", "4", 5),
    ("tms-n5-m3.json", "5~1", 2),
    ("tms-n6-m3.json", "6~1", 0),
])
def test_zero_loss_families_of_m3_have_their_derived_dimension(name, ident, dimension):
    entry, family = _family_of(name, ident)
    assert entry["loss"] == 0.0
    assert family.dimension == dimension
    zero_modes = entry["evidence"]["zero_modes"]
    # the one-sided Hessians over-count: more unexplained zero modes than the family has
    assert zero_modes["observed"] - zero_modes["explained"] >= dimension


def test_a_family_of_dead_columns_beside_a_zero_loss_square():
    """n = 6, m = 3, `4`: the square (L = 1/9) with two dead columns (W_j = 0, b_j = −1/12:
    strictly dead outputs). Its largest stratum keeps one antipodal pair e, −e and turns the
    other pair in the plane ⊥ e to an obtuse angle (4 dimensions with the orbit); each dead
    column then moves in the 2-dimensional wedge ⊥ e polar to that pair, with its bias (3
    each): 4 + 6 = 10, less the 5 zero modes explained at the square (orbit 3, two flat
    biases): 5."""
    entry, family = _family_of("tms-n6-m3.json", "4")
    assert entry["loss"] == pytest.approx(1 / 9)
    assert family.dimension == 5


def test_the_planar_square_sits_at_a_cusp_of_its_family():
    """At the square the in-plane angles open only at second order (the tilts t_i must have
    t_i t_j ≤ 0 for neighbours first): the tangent cone is the two tilt patterns."""
    _, family = _family_of("tms-n4-m3.json", "4")
    assert family.tangent_dimension == 2


def test_a_morse_bott_minimum_is_isolated_up_to_symmetry():
    entry, family = _family_of("tms-n5-m2.json", "5")
    assert entry["classification"] == "minimum"
    assert family.dimension == 0
    assert family.at_members == []


def test_tangent_dimension_records_what_was_sampled():
    entry = _entry("tms-n4-m3.json", "4")
    W, b = np.array(entry["W"]), np.array(entry["b"])
    potential = TMSPotential.of(W[None])
    measured = tangent_dimension(potential, potential.flatten(W, b), starts=30, seed=3)
    record = measured.to_json()
    assert record["starts"] == 30
    assert record["complement"] == potential.dim - 3  # the O(3) orbit of a planar square
    assert len(record["members"]) == len(record["scales"]) == 2
    assert all(0 < kept <= 30 for kept in record["members"])
    assert record["dimension"] == 2


def test_family_command_prints_the_dimension(capsys):
    path = str(ROOT / "catalog" / "tms-n4-m3.json")
    assert main(["family", path, "--id", "4", "--id", "2++", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 of 39 entries" in out
    assert "| `4` | 0.000000000 | minimum | 8 / 3 | 2 | 5 |" in out
    assert "| `2++` |" in out and "| 0 | 0 |" in out  # isolated despite a zero mode


@pytest.mark.parametrize(("arguments", "message"), [
    (["--id", "nope"], "has no entry 'nope'"),
    (["--seed", "-1"], "must be at least 0"),
])
def test_family_command_rejects_bad_input(capsys, arguments, message):
    path = str(ROOT / "catalog" / "tms-n4-m3.json")
    assert main(["family", path, *arguments, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_family_command_refuses_a_linear_catalog(capsys):
    path = str(ROOT / "catalog" / "linear-n6-m2-random-seed0.json")
    assert main(["family", path]) == 2
    assert "not a TMS catalog" in capsys.readouterr().err
