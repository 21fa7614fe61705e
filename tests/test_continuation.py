"""Continuation past folds and singular points
(:func:`critpoints.solve.continuation.continue_by_arclength`) on potentials whose branches are
known in closed form."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.solve.continuation import continue_by_arclength, follow_branch, follow_through


class SaddleNode:
    """L_p(θ) = a(θ₁³/3 − (p − p₀)θ₁) + c θ₂² + (θ₃ rotation-like: absent, a flat mode).

    For p > p₀ the critical points are θ₁ = ±√(p − p₀), θ₂ = 0, any θ₃: the minimum (+, index
    0) and the saddle (−, index 1) meet at the fold p = p₀ with loss 0; θ₃ is a zero mode that
    ∂_p∇L does not see (like a symmetry orbit)."""

    def __init__(self, a: float, c: float, p0: float, p: float):
        self.a, self.c, self.p0, self.p = a, c, p0, p

    def loss(self, theta):
        t1, t2 = theta[0], theta[1]
        return self.a * (t1**3 / 3 - (self.p - self.p0) * t1) + self.c * t2**2

    def loss_and_gradient(self, theta):
        t1, t2 = theta[0], theta[1]
        gradient = np.array([self.a * (t1**2 - (self.p - self.p0)), 2 * self.c * t2, 0.0])
        return self.loss(theta), gradient

    def hessian(self, theta):
        return np.diag([2 * self.a * theta[0], 2 * self.c, 0.0])


@settings(max_examples=25, deadline=None)
@given(a=st.floats(0.2, 5.0), c=st.floats(0.2, 5.0), p0=st.floats(-1.0, 1.0))
def test_the_fold_of_a_saddle_node_is_passed_onto_the_saddle_branch(a, c, p0):
    def family(p):
        return SaddleNode(a, c, p0, p)

    start = p0 + 1.0
    branch = follow_branch(family, np.array([1.0, 0.0, 0.3]), start, p0 - 1.0, gtol=1e-12)
    assert branch.end != "reached"
    assert p0 < branch.points[-1].parameter < p0 + 0.01
    passage = continue_by_arclength(family, branch, gtol=1e-12)
    assert passage.turned and passage.passed, passage.reason
    assert abs(passage.fold_parameter - p0) < 1e-5
    assert abs(passage.fold_loss) < 1e-9
    far = passage.arc[-1]
    assert far.index == 1 and branch.points[-1].index == 0
    assert far.theta[0] < 0 and abs(far.theta[0] + np.sqrt(far.parameter - p0)) < 1e-9
    assert abs(far.theta[2] - 0.3) < 1e-9  # never moved along the zero mode
    assert [e["index"] for e in passage.events if e["kind"] == "index-change"] == [[0, 1]]
    # the far side continues as an ordinary branch back to the start: the saddle
    back = follow_branch(family, far.theta, far.parameter, start, gtol=1e-12)
    assert back.end == "reached"
    assert abs(back.points[-1].theta[0] + 1.0) < 1e-9 and back.points[-1].index == 1


def test_a_branch_without_points_before_its_end_is_not_passed():
    family = lambda p: SaddleNode(1.0, 1.0, 0.0, p)  # noqa: E731
    branch = follow_branch(family, np.array([5.0, 0.0, 0.0]), 1.0, 0.5)
    branch.points = branch.points[:1]
    passage = continue_by_arclength(family, branch)
    assert not passage.passed and "fewer than two" in passage.reason


def test_follow_through_ends_at_the_fold_the_arc_shows():
    family = lambda p: SaddleNode(1.5, 0.5, 0.2, p)  # noqa: E731
    branch, fold = follow_through(family, np.array([1.0, 0.0, 0.0]), 1.2, -0.8, gtol=1e-12)
    assert branch.end == "fold" and fold is not None and fold.passed
    assert abs(fold.fold_parameter - 0.2) < 1e-9
    # stopped before the fold: reached, no passage
    branch, fold = follow_through(family, np.array([1.0, 0.0, 0.0]), 1.2, 0.5, gtol=1e-12)
    assert branch.end == "reached" and fold is None
