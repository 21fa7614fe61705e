"""The TMS population potential as a :class:`critpoints.potential.Potential`.

:class:`TMSPotential` is L(W, b) of SPEC §2 (the closed form of :mod:`critpoints.tms.potential`)
on θ = (W row-major, b), with the geometry of its critical sets: the O(m) orbit, the flat
coordinates of dead columns, the activation boundaries where its Hessian jumps (decided by the
one region rule of :mod:`critpoints.tms.regions`) and the flat-set exits. This is the only place
that turns (W, b) into θ and back.
"""

from __future__ import annotations

import itertools
from typing import Any

import mpmath
import numpy as np

from critpoints.mpfr import computed_through_mpfr
from critpoints.potential import significant
from critpoints.tms import potential
from critpoints.tms.potential import flatten, unflatten
from critpoints.tms.symmetry import dead_outputs

__all__ = [
    "TMSCoordinates",
    "TMSPotential",
    "TMSSparsePotential",
    "flat_coordinates",
    "flat_set_exits",
    "flatten",
    "jump_blocks",
    "switching_functions",
    "unflatten",
]


def flat_coordinates(W, b, margin: float = 1e-12) -> list[int]:
    """θ-indices of the coordinates along which L is locally constant (dead columns).

    A column whose output is strictly dead (b_j < 0 and W_i·W_j + b_j < 0 for every i) has a
    flat bias; if its input is strictly dead too (W_j·W_i + b_i < 0 and b_i < 0 for every
    i ≠ j) its m weights are flat as well.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    m, n = W.shape
    G = W.T @ W
    dead_output = dead_outputs(W, b, tol=-margin)
    flat = []
    for j in range(n):
        if not dead_output[j]:
            continue
        flat.append(m * n + j)  # its bias
        others = [i for i in range(n) if i != j]
        dead_input = all(b[i] < -margin and G[j, i] + b[i] < -margin for i in others)
        if dead_input:
            flat.extend(r * n + j for r in range(m))
    return flat


def jump_blocks(W, b, atol: float) -> list[tuple[int, int]]:
    """Blocks where the Hessian of L is discontinuous: a = c = 0, or i = j and a + c = 0 ≠ a,
    each decided within ``atol`` (W, b at any precision)."""
    W = np.asarray(W, dtype=object)
    b = np.asarray(b, dtype=object)
    G = W.T @ W
    n = b.shape[0]
    out = []
    for i in range(n):
        for j in range(n):
            a, c = G[i, j], b[j]
            on_kink = abs(a) <= atol and abs(c) <= atol
            on_diagonal_boundary = i == j and abs(a + c) <= atol and abs(a) > atol
            if on_kink or on_diagonal_boundary:
                out.append((i, j))
    return out


def _switching_values(W, b):
    """(b, G + b) row-major for one point of object arrays (MPFR or mpmath numbers)."""
    G = (W[:, :, None] * W[:, None, :]).sum(axis=0)
    return np.concatenate([b, (G + b[None, :]).ravel()])


def switching_functions(W, b, dps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The functions whose zero sets bound the smooth pieces of L, and their Jacobian in θ.

    Block (i, j) switches region where its pre-activation's end values c = b_j (at μ = 0) or
    a + c = G_ij + b_j (at μ = 1) vanish (:mod:`critpoints.tms.regions`). The values are
    ``s = (b_0, …, b_{n-1}, G_00 + b_0, G_01 + b_1, …, G_{n-1,n-1} + b_{n-1})``: c once per
    column j (it does not depend on i), then a + c row-major over (i, j), n + n² in all.
    Hessian jumps lie on some of these zero sets (:func:`jump_blocks`); the others are where L
    is C² but not C³, which slows Newton down just as much when a critical point sits there.

    Parameters
    ----------
    W, b : array_like
        One point (floats, strings or mpmath numbers).
    dps : int, optional
        Evaluate s at this many digits (mpmath numbers); float64 when None.

    Returns
    -------
    values : ndarray, shape (n + n²,)
    jacobian : ndarray of float, shape (n + n², m·n + n)
        ∂s/∂θ for θ = (W row-major, b), from W in float64.
    """
    Wf = np.asarray(W, dtype=float)
    m, n = Wf.shape
    if dps is None:
        bf = np.asarray(b, dtype=float)
        values = np.concatenate([bf, (Wf.T @ Wf + bf[None, :]).ravel()])
    else:
        with mpmath.workdps(dps):
            Wp = np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(W, dtype=object))
            bp = np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(b, dtype=object))
            values = computed_through_mpfr(_switching_values, Wp, bp)
    eye = np.eye(n)
    # ∂(G_ij + b_j)/∂W_rk = δ_ki W_rj + δ_kj W_ri, ∂/∂b_k = δ_kj; ∂b_j/∂b_k = δ_jk.
    dW = np.einsum("ki,rj->ijrk", eye, Wf) + np.einsum("kj,ri->ijrk", eye, Wf)
    db = np.broadcast_to(eye[None, :, :], (n, n, n))
    jacobian = np.zeros((n + n * n, m * n + n))
    jacobian[:n, m * n:] = eye
    jacobian[n:, : m * n] = dW.reshape(n * n, m * n)
    jacobian[n:, m * n:] = db.reshape(n * n, n)
    return values, jacobian


def flat_set_exits(W, b, step: float = 1e-4) -> list[dict]:
    """Where the flat critical set ends: each flat bias moved to the top of its flat interval.

    A dead output j keeps L constant for b_j ≤ top = -max(0, max_i W_i·W_j). The classification
    of a point holds for every representative strictly inside; at the top the set may touch a
    descent. For each dead output this reports the loss change from the top to top + ``step``
    (negative: L decreases as the feature switches on, so the critical set is not a strict
    local minimum set even if each interior point is a local minimum). Values are rounded to 8
    significant digits.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    G = W.T @ W
    out = []
    for j in np.flatnonzero(dead_outputs(W, b)):  # also the ones sitting at their top
        top = -max(0.0, float(G[:, j].max()))
        at_top, beyond = b.copy(), b.copy()
        at_top[j], beyond[j] = top, top + step
        delta = float(potential.loss(W, beyond) - potential.loss(W, at_top))
        out.append({"column": int(j), "top": significant(top, 10) if top else 0.0,
                    "step": step, "delta_loss": significant(delta, 8)})
    return out


class TMSCoordinates:
    """θ = (W row-major, b) for W ∈ R^{m×n}, b ∈ R^n, and the O(m) orbit through θ: what every
    loss of the TMS model shares (the population potential and the empirical losses of
    :mod:`critpoints.slt.potentials`, all functions of WᵀW and b).

    Parameters
    ----------
    n, m : int
        Number of features and hidden dimension.
    """

    def __init__(self, n: int, m: int = 2):
        self.n, self.m = int(n), int(m)
        self.dim = self.m * self.n + self.n

    @classmethod
    def of(cls, W: Any):
        """The potential whose parameter W has the shape of ``W`` (…, m, n)."""
        m, n = np.shape(W)[-2:]
        return cls(n, m)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, m={self.m})"

    # parameters ↔ θ
    def flatten(self, W: Any, b: Any) -> np.ndarray:
        return flatten(W, b)

    def unflatten(self, theta: Any) -> tuple[np.ndarray, np.ndarray]:
        return unflatten(theta, self.m, self.n)

    def orbit_tangents(self, theta: Any) -> np.ndarray:
        """flatten(J W, 0) for the generators J = e_p e_qᵀ − e_q e_pᵀ (p < q) of so(m); none
        at W = 0 (the orbit is a point)."""
        W, _ = self.unflatten(np.asarray(theta, dtype=float))
        rows = []
        if self.m >= 2 and np.abs(W).max() > 0:
            for p in range(self.m):
                for q in range(p + 1, self.m):
                    J = np.zeros((self.m, self.m))
                    J[p, q], J[q, p] = -1.0, 1.0
                    rows.append(flatten(J @ W, np.zeros(self.n)))
        return np.array(rows) if rows else np.zeros((0, self.dim))


class TMSPotential(TMSCoordinates):
    """The TMS population potential L(W, b) (SPEC §2) on θ = (W row-major, b).

    Parameters
    ----------
    n, m : int
        Number of features and hidden dimension.

    Examples
    --------
    >>> import numpy as np
    >>> tms = TMSPotential(n=3, m=2)
    >>> theta = tms.flatten(np.zeros((2, 3)), np.zeros(3))
    >>> round(float(tms.loss(theta)), 6)   # (1/n) Σ_i ∫ μ² dμ = 1/3
    0.333333
    """

    # values and derivatives
    def loss(self, theta: Any, dps: int | None = None):
        return potential.loss(*self.unflatten(theta), dps=dps)

    def loss_and_gradient(self, theta: Any, dps: int | None = None):
        value, dW, db = potential.loss_and_gradient(*self.unflatten(theta), dps)
        return value, flatten(dW, db)

    def gradient(self, theta: Any, dps: int | None = None) -> np.ndarray:
        return flatten(*potential.gradient(*self.unflatten(theta), dps=dps))

    def sublevel_walk(self, theta_star: Any, basis: Any):
        """The nested-sampling walk on the slice θ* + basis·z, compiled with this loss
        (:class:`critpoints.slt.volume.CompiledWalk`; used by
        :func:`critpoints.slt.volume.volume_scaling_of`)."""
        from critpoints.tms._compiled_local import TMSSublevelWalk

        return TMSSublevelWalk(np.ascontiguousarray(theta_star, dtype=float),
                               np.ascontiguousarray(basis, dtype=float), self.m, self.n)

    def quotient_descent(self, theta: Any, basis: Any, radii: Any, directions: Any,
                         reference_loss: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The descent of :func:`critpoints.solve.classify.directional_curvature` (q(v) =
        (L(θ + t·basis v) − L0)/t² on the unit sphere), compiled with this loss; the final
        directions and quotients."""
        from critpoints.tms._compiled_local import quotient_descent

        return quotient_descent(theta, basis, radii, directions, reference_loss, steps,
                                self.m, self.n)

    def hessian(self, theta: Any, dps: int | None = None, side: Any = None) -> np.ndarray:
        """∇²L; ``side`` is an array of block region codes (:meth:`hessian_side`)."""
        return potential.hessian(*self.unflatten(theta), dps=dps, regions=side)

    # geometry
    def hessian_side(self, theta: Any, atol: float) -> np.ndarray:
        """Region codes of every block with a block within ``atol`` of a boundary on the
        switched-off side (ReLU'(0) = 0), decided at the precision of θ."""
        return potential.block_regions(*self.unflatten(theta), atol=atol)

    def hessian_jumps(self, theta: Any, atol: float) -> list[tuple[int, int]]:
        return jump_blocks(*self.unflatten(np.asarray(theta, dtype=object)), atol)

    def switching_functions(self, theta: Any, dps: int | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
        """The block end values c and a + c and their Jacobian (:func:`switching_functions`)."""
        return switching_functions(*self.unflatten(np.asarray(theta, dtype=object)), dps=dps)

    def flat_coordinates(self, theta: Any, margin: float = 1e-12) -> list[int]:
        return flat_coordinates(*self.unflatten(np.asarray(theta, dtype=float)), margin)

    def extra_evidence(self, theta: Any) -> dict:
        exits = flat_set_exits(*self.unflatten(np.asarray(theta, dtype=float)))
        return {"flat_set_exits": exits} if exits else {}

    def ball_radius(self, theta: Any, fraction: float = 0.25) -> float:
        """Radius of a ball around θ crossing no activation boundary that misses θ
        (:func:`critpoints.slt.volume.tms_ball_radius`)."""
        from critpoints.slt.volume import tms_ball_radius

        return tms_ball_radius(*self.unflatten(np.asarray(theta, dtype=float)), fraction)


class TMSSparsePotential(TMSCoordinates):
    """The TMS potential at finite sparsity S with importances I (SPEC §8) on θ = (W row-major, b).

    The closed form of :mod:`critpoints.tms.sparse` (exact value, gradient and Hessian, float64
    batched or mpmath at ``dps`` digits), with the geometry the solvers need.

    Parameters
    ----------
    n, m : int
        Number of features and hidden dimension.
    sparsity : float
        S ∈ [0, 1] (each feature active with probability 1 − S).
    importance : array_like, shape (n,), optional
        I_j > 0 (default all ones).
    max_active : int, optional
        Keep the active sets with |A| ≤ max_active (default n: exact).
    symmetry : sequence of permutations, optional
        Generators of feature permutations under which every point this model is asked about
        is invariant (WᵀW, b, I): each orbit of blocks is evaluated once
        (:func:`critpoints.tms.sparse.loss`); a point that is not invariant raises ValueError.
        For reduced problems (the regular k-gon), not for searches that leave the symmetric
        subspace. :meth:`with_symmetry` gives such a model.

    Examples
    --------
    >>> import numpy as np
    >>> model = TMSSparsePotential(n=3, m=2, sparsity=0.5)
    >>> round(float(model.loss(np.zeros(model.dim))), 12)   # n(1 − S)·E[ξ²] = 3·0.5/3
    0.5
    """

    def __init__(self, n: int, m: int = 2, sparsity: float = 0.0, importance: Any = None,
                 max_active: int | None = None, symmetry: Any = None):
        from critpoints.tms import sparse

        super().__init__(n, m)
        self.sparsity = sparse._check_sparsity(sparsity)
        self.importance = sparse._check_importance(importance, self.n)
        self.max_active = sparse._check_max_active(max_active, self.n)
        self.symmetry = sparse._check_symmetry(symmetry, self.n) or None

    def __repr__(self) -> str:
        extra = "" if self.symmetry is None else f", symmetry={[list(g) for g in self.symmetry]}"
        return (f"{type(self).__name__}(n={self.n}, m={self.m}, sparsity={self.sparsity!r}, "
                f"importance={self.importance.tolist()!r}, max_active={self.max_active}"
                f"{extra})")

    def with_symmetry(self, symmetry: Any) -> TMSSparsePotential:
        """The same potential evaluated at points invariant under the permutations
        ``symmetry`` (generators), each orbit of blocks once (see the class docstring)."""
        return type(self)(self.n, self.m, self.sparsity, self.importance, self.max_active,
                          symmetry)

    def ball_radius(self, theta: Any, fraction: float = 0.25) -> float:
        """Radius of a ball around θ in which no cube vertex crosses an activation hyperplane
        that misses it (:func:`critpoints.slt.volume.tms_sparse_ball_radius`)."""
        from critpoints.slt.volume import tms_sparse_ball_radius

        return tms_sparse_ball_radius(*self.unflatten(np.asarray(theta, dtype=float)),
                                      fraction, max_active=self.max_active)

    def _keywords(self) -> dict:
        return {"sparsity": self.sparsity, "importance": self.importance,
                "max_active": self.max_active, "symmetry": self.symmetry}

    # values and derivatives
    def loss(self, theta: Any, dps: int | None = None):
        return potential.loss(*self.unflatten(theta), dps=dps, **self._keywords())

    def loss_and_gradient(self, theta: Any, dps: int | None = None):
        value, dW, db = potential.loss_and_gradient(*self.unflatten(theta), dps,
                                                    **self._keywords())
        return value, flatten(dW, db)

    def gradient(self, theta: Any, dps: int | None = None) -> np.ndarray:
        return self.loss_and_gradient(theta, dps)[1]

    def hessian(self, theta: Any, dps: int | None = None, side: Any = None) -> np.ndarray:
        """∇²L with the convention ReLU'(0) = 0 built in: the formulas take the switched-off
        side on every boundary. ``side`` (:meth:`hessian_side`) lists biases that count as on
        the all-zero input's kink b_j = 0: they are set to exactly 0 first."""
        if side:
            theta = np.array(theta, dtype=object if dps is not None else float, copy=True)
            for j in side:
                theta[..., self.m * self.n + j] = 0
        return potential.hessian(*self.unflatten(theta), dps=dps, **self._keywords())

    # geometry
    def _vertex_sets(self) -> list[tuple[int, ...]]:
        """The subsets V (|V| ≤ max_active) whose vertex values b_j + Σ_{i∈V} G_ij bound the
        smooth pieces; only V = ∅ at S = 1 (no feature is ever active)."""
        top = 0 if self.sparsity == 1.0 else self.max_active
        return [V for d in range(top + 1) for V in itertools.combinations(range(self.n), d)]

    def switching_functions(self, theta: Any, dps: int | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
        """The vertex values z_j(V) = b_j + Σ_{i∈V} G_ij (V over :meth:`_vertex_sets`, then
        j), whose zero sets bound the smooth pieces of L, and their Jacobian in θ (float64)."""
        W, b = self.unflatten(np.asarray(theta, dtype=object))
        Wf = W.astype(float)
        m, n = self.m, self.n
        sets = self._vertex_sets()
        if dps is None:
            G = Wf.T @ Wf
            bv = b.astype(float)
            values = np.array([bv[j] + sum(G[i, j] for i in V) for V in sets for j in range(n)])
        else:
            with mpmath.workdps(dps):
                Wp = np.vectorize(mpmath.mpf, otypes=[object])(W)
                bp = np.vectorize(mpmath.mpf, otypes=[object])(b)
                G = (Wp[:, :, None] * Wp[:, None, :]).sum(axis=0)
                values = np.array([bp[j] + mpmath.fsum(G[i, j] for i in V)
                                   for V in sets for j in range(n)], dtype=object)
        jacobian = np.zeros((len(sets) * n, m * n + n))
        row = 0
        for V in sets:
            for j in range(n):
                for i in V:  # ∂G_ij/∂W_rk = δ_ki W_rj + δ_kj W_ri
                    jacobian[row, np.arange(m) * n + i] += Wf[:, j]
                    jacobian[row, np.arange(m) * n + j] += Wf[:, i]
                jacobian[row, m * n + j] = 1.0
                row += 1
        return values, jacobian

    def hessian_side(self, theta: Any, atol: float) -> tuple[int, ...] | None:
        """The biases within ``atol`` of the all-zero input's kink b_j = 0 (S > 0), which
        :meth:`hessian` takes on the switched-off side whatever the sign of their rounding
        (measured: a polished b_j = ±1e-47 gave 1 or 2 negative eigenvalues by its sign). The
        one-hot blocks' kinks G_ij + b_j = 0 with G_ij ≠ 0 are left to the sign at θ."""
        if self.sparsity == 0:
            return None
        _, b = self.unflatten(np.asarray(theta, dtype=object))
        near = tuple(j for j in range(self.n) if abs(b[j]) <= atol)
        return near or None

    def hessian_jumps(self, theta: Any, atol: float) -> list[tuple]:
        """Where the Hessian jumps: ``("bias", j)`` where b_j = 0 (the all-zero input's
        I_j ReLU(b_j)², weight Sⁿ > 0), and the one-hot blocks (i, j) of :func:`jump_blocks`
        (the |A| = 1 blocks, weight (1 − S)S^{n−1} > 0). The blocks with |A| ≥ 2 are C² away from
        zero coefficients."""
        W, b = self.unflatten(np.asarray(theta, dtype=object))
        out: list[tuple] = []
        if self.sparsity > 0:
            out += [("bias", j) for j in range(self.n) if abs(b[j]) <= atol]
        if 0 < self.sparsity < 1 or (self.n == 1 and self.sparsity == 0):
            out += jump_blocks(W, b, atol)
        return out

    def flat_coordinates(self, theta: Any, margin: float = 1e-12) -> list[int]:
        """Biases of the strictly dead outputs (every vertex value < −margin); the weights too
        when every output is strictly dead (a weight moves the pre-activations of all outputs
        through the active sets containing its feature), or at S = 1 (L = Σ I_j ReLU(b_j)²)."""
        values, _ = self.switching_functions(np.asarray(theta, dtype=float))
        values = values.reshape(-1, self.n)
        dead = (values < -margin).all(axis=0)
        flat = [self.m * self.n + j for j in range(self.n) if dead[j]]
        if dead.all() or self.sparsity == 1.0:
            flat = list(range(self.m * self.n)) + flat
        return flat

    def extra_evidence(self, theta: Any) -> dict:
        return {}
