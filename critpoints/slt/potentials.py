"""Potentials on a flat parameter vector, vectorised over chains.

Every potential here implements :class:`critpoints.potential.Potential` for float64 use
(``dps`` other than None raises): ``dim``, ``flatten``/``unflatten``, ``loss(theta)`` and
``loss_and_gradient(theta)`` with ``theta`` of shape (C, dim), returning ``(loss (C,), gradient
(C, dim))``, a Hessian (finite differences of the exact gradient where no closed form is coded)
and the orbit tangents. The samplers in :mod:`critpoints.slt.sgld` and :mod:`critpoints.slt.mcmc`
only use ``dim`` and ``loss_and_gradient``. Extra data arguments (minibatch ``weights``, a data
set ``slot``) come before ``dps``, which callers pass by keyword.

- :class:`TMSPopulation`: the closed-form potential L(W, b) of SPEC §2, which is
  :class:`critpoints.tms.model.TMSPotential` (same class), θ = (W row-major, b).
- :class:`TMSEmpirical`: the empirical loss L_N on a sample x_t = mu_t e_{i_t}. It exploits the
  one-hot structure (the pre-activation of sample t is mu_t (WᵀW)[i_t, :] + b), which costs
  O(N n) per chain instead of the dense O(N n²); it is tested against
  :func:`critpoints.tms.data.empirical_loss_and_gradient`. Per-sample weights give minibatches.
- :class:`TMSEmpiricalSets`: the same empirical loss on many data sets at once (one per replica
  of the replica-exchange sampler), by prefix sums over sorted magnitudes: O(n² log N) per chain,
  tested against :class:`TMSEmpirical`.
- :class:`ReducedRankRegression`: K(A, B) = ½ tr((AB − C₀) Σ (AB − C₀)ᵀ), the population loss of
  y = C₀x + noise under the model y = ABx (minus the noise level); the linear autoencoder is
  C₀ = I.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from critpoints.potential import SmoothPotential, finite_difference_hessian
from critpoints.tms.model import TMSCoordinates, TMSPotential

__all__ = ["ReducedRankRegression", "TMSEmpirical", "TMSEmpiricalSets", "TMSPopulation"]

#: The TMS population potential (one class: :class:`critpoints.tms.model.TMSPotential`).
TMSPopulation = TMSPotential


def _float64_only(dps: int | None) -> None:
    if dps is not None:
        raise NotImplementedError("this potential evaluates in float64 only (dps=None)")


class _EmpiricalTMS(SmoothPotential, TMSCoordinates):
    """Protocol members shared by the empirical TMS losses (float64 only).

    The empirical loss is piecewise quadratic with a kink wherever a sample's pre-activation
    crosses zero; those places are not located here (``hessian_jumps`` is empty, ``hessian``
    the finite-difference Hessian at θ), so the smooth second-order rule of
    :func:`critpoints.solve.classify.classify` is only as good as θ's distance from a kink.
    """

    def hessian(self, theta: Any, dps: int | None = None, side: Any = None) -> np.ndarray:
        _float64_only(dps)
        return finite_difference_hessian(self, theta)


class TMSEmpirical(_EmpiricalTMS):
    """The empirical TMS loss L_N(W, b) = (1/N) Σ_t ‖x_t − ReLU(WᵀW x_t + b)‖² on one-hot data.

    Parameters
    ----------
    x : array_like, shape (N, n)
        Samples with at most one nonzero coordinate each (as from
        :func:`critpoints.tms.data.sample_high_sparsity`).
    m : int
        Hidden dimension.
    """

    def __init__(self, x: Any, m: int = 2):
        x = np.asarray(x, dtype=float)
        if x.ndim != 2:
            raise ValueError(f"x must have shape (N, n); got {x.shape}")
        if np.any((x != 0).sum(axis=1) > 1):
            raise ValueError("TMSEmpirical needs one-hot samples x = mu e_i")
        super().__init__(x.shape[1], m)
        feature = np.argmax(x != 0, axis=1)  # any index for an all-zero sample (mu = 0)
        # Samples sorted by feature: row gathers become np.repeat and the gradient with respect
        # to the Gram matrix a segment sum (np.add.reduceat), both O(N n) per chain.
        self.order = np.argsort(feature, kind="stable")
        self.x = x
        self.size = len(x)
        self._feature = feature[self.order]
        self._magnitude = x[self.order, self._feature]
        self._x = x[self.order]
        self._counts = np.bincount(self._feature, minlength=self.n)
        self._present = np.flatnonzero(self._counts)
        self._starts = np.concatenate([[0], np.cumsum(self._counts)[:-1]])[self._present]

    def minibatch(self, indices: Any) -> TMSEmpirical:
        """The empirical loss on the samples ``x[indices]`` (for SGLD minibatches)."""
        return TMSEmpirical(self.x[np.asarray(indices)], self.m)

    def _forward(self, theta):
        W, b = self.unflatten(theta)
        G = np.swapaxes(W, -1, -2) @ W  # (C, n, n)
        rows = np.repeat(G, self._counts, axis=-2)  # (C, N, n): row i_t of G for sample t
        pre = self._magnitude[:, None] * rows + b[..., None, :]
        residual = np.maximum(pre, 0.0) - self._x
        return W, pre, residual

    def _sorted_weights(self, weights):
        if weights is None:
            return np.full(self.size, 1.0 / self.size)
        return np.asarray(weights, dtype=float)[..., self.order]

    def per_sample_losses(self, theta: np.ndarray) -> np.ndarray:
        """ℓ_t(θ) = ‖x_t − ReLU(WᵀW x_t + b)‖², shape (C, N), samples in the order of ``x``."""
        sorted_losses = np.sum(self._forward(theta)[2] ** 2, axis=-1)
        losses = np.empty_like(sorted_losses)
        losses[..., self.order] = sorted_losses
        return losses

    def loss(self, theta: np.ndarray, weights: np.ndarray | None = None, *,
             dps: int | None = None) -> np.ndarray:
        """Σ_t w_t ℓ_t(θ); ``weights`` (N,) or (C, N) in the order of ``x``, default 1/N."""
        _float64_only(dps)
        losses = np.sum(self._forward(theta)[2] ** 2, axis=-1)
        return np.sum(losses * self._sorted_weights(weights), axis=-1)

    def loss_and_gradient(
        self, theta: np.ndarray, weights: np.ndarray | None = None, *, dps: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Σ_t w_t ℓ_t(θ) and its gradient; ``weights`` (N,) or (C, N), default 1/N (the mean).

        ReLU'(0) = 0, as in :func:`critpoints.tms.data.empirical_loss_and_gradient`.
        """
        _float64_only(dps)
        W, pre, residual = self._forward(theta)
        w = self._sorted_weights(weights)
        value = np.sum(np.sum(residual**2, axis=-1) * w, axis=-1)
        d_pre = 2.0 * residual * (pre > 0) * w[..., :, None]  # (C, N, n)
        db = d_pre.sum(axis=-2)
        # dL/dG_ij = Σ_{t: i_t = i} mu_t d_pre_tj: a segment sum over the sorted samples.
        dG = np.zeros(W.shape[:-2] + (self.n, self.n))
        dG[..., self._present, :] = np.add.reduceat(
            self._magnitude[:, None] * d_pre, self._starts, axis=-2
        )
        dW = W @ (dG + np.swapaxes(dG, -1, -2))
        return value, self.flatten(dW, db)

    def per_sample_gradients(self, theta: Any) -> np.ndarray:
        """∇ℓ_t(θ) for every sample at one point θ (dim,), shape (N, dim), in the order of ``x``.

        Only row i_t of ∂ℓ_t/∂G is non-zero (it is μ_t d_t, d_t = 2 r_t ∘ 1[pre > 0]), so
        ∂ℓ_t/∂W = μ_t (W[:, i_t] ⊗ d_t + (W d_t) ⊗ e_{i_t}): O(N n m) in all.
        """
        W, pre, residual = self._forward(np.asarray(theta, dtype=float)[None, :])
        W, d = W[0], (2.0 * residual * (pre > 0))[0]  # (m, n), (N, n) sorted by feature
        mu, feature = self._magnitude, self._feature
        dW = mu[:, None, None] * W[:, feature].T[:, :, None] * d[:, None, :]  # (N, m, n)
        dW[np.arange(self.size), :, feature] += mu[:, None] * (d @ W.T)
        grads = self.flatten(dW, d)
        out = np.empty_like(grads)
        out[self.order] = grads
        return out


class TMSEmpiricalSets(_EmpiricalTMS):
    """Empirical TMS losses on several one-hot data sets at once, in O(n² log N) per chain.

    For one-hot data x_t = mu_t e_{i_t} the loss splits into blocks (i, j): the samples of
    feature i with output j, each contributing ReLU(mu a + c)² (a = (WᵀW)_ij, c = b_j; the
    diagonal block uses the residual mu − ReLU(mu a + c)). The active samples {mu a + c > 0}
    form a contiguous range of the sorted magnitudes, so every block is a quadratic in (a, c)
    with coefficients Σ1, Σmu, Σmu² over a range: prefix sums plus one binary search. The cost
    no longer grows with N, which makes exact posterior sampling of exp(−N L_N) affordable for
    every N of a ladder (one data set per replica; nested data sets are prefixes of one stream).

    Parameters
    ----------
    datasets : sequence of array_like, each of shape (N_s, n)
        One-hot samples (at most one nonzero coordinate, magnitudes in [0, 1]).
    m : int
        Hidden dimension.

    ``loss_and_gradient(theta (B, dim), slot (B,))`` evaluates chain b on ``datasets[slot[b]]``;
    ReLU'(0) = 0 as in :class:`TMSEmpirical`, which it is tested against.
    """

    slotted = True

    def __init__(self, datasets: Any, m: int = 2):
        sets = [np.asarray(x, dtype=float) for x in datasets]
        if not sets or any(x.ndim != 2 or len(x) == 0 for x in sets):
            raise ValueError("datasets must be a non-empty list of non-empty (N, n) arrays")
        n = sets[0].shape[1]
        if any(x.shape[1] != n for x in sets):
            raise ValueError("all data sets must have the same number of features")
        if any(np.any((x != 0).sum(axis=1) > 1) for x in sets):
            raise ValueError("TMSEmpiricalSets needs one-hot samples x = mu e_i")
        if any(np.any((x < 0) | (x > 1)) for x in sets):
            raise ValueError("TMSEmpiricalSets needs magnitudes mu in [0, 1]")
        super().__init__(n, m)
        self.sizes = np.array([len(x) for x in sets])
        # Segment s·n + i holds the sorted magnitudes of feature i in data set s, stored as
        # 3(s·n + i) + mu: one increasing array, so one searchsorted serves every segment
        # (the gaps of width 2 keep clipped thresholds inside their own segment).
        keys, starts, ends, offset = [], [], [], 0
        for s, x in enumerate(sets):
            feature = np.argmax(x != 0, axis=1)
            magnitude = x[np.arange(len(x)), feature]
            for i in range(n):
                mu = np.sort(magnitude[feature == i])
                keys.append(3.0 * (s * n + i) + mu)
                starts.append(offset)
                offset += len(mu)
                ends.append(offset)
        self._keys = np.concatenate(keys)
        mu = self._keys - 3.0 * np.repeat(np.arange(len(keys)), [len(k) for k in keys])
        self._start, self._end = np.array(starts), np.array(ends)
        self._sum1 = np.concatenate([[0.0], np.cumsum(mu)])
        self._sum2 = np.concatenate([[0.0], np.cumsum(mu**2)])

    @classmethod
    def nested(cls, streams: Any, sizes: Any, m: int = 2) -> TMSEmpiricalSets:
        """Data sets ``stream[:N]`` for every stream and every N in ``sizes`` (a ladder's data).

        ``streams`` is one stream (N_max, n) or several (a sequence, or an array (D, N_max, n));
        the data set of stream d at ``sizes[k]`` is slot d·K + k, also available as
        ``slot_grid[d, k]`` (shape (D, K)).
        """
        streams = np.asarray(streams, dtype=float)
        if streams.ndim == 2:
            streams = streams[None]
        sizes = [int(N) for N in np.asarray(sizes).ravel()]
        if streams.ndim != 3 or min(sizes) < 1 or max(sizes) > streams.shape[1]:
            raise ValueError("need streams of shape (D, N_max, n) and sizes in [1, N_max]")
        potential = cls([stream[:N] for stream in streams for N in sizes], m)
        potential.slot_grid = np.arange(len(streams) * len(sizes)).reshape(len(streams), len(sizes))
        return potential

    def _check_slot(self, theta, slot):
        slot = np.broadcast_to(np.asarray(slot, dtype=int), theta.shape[:-1])
        if np.any((slot < 0) | (slot >= len(self.sizes))):
            raise ValueError(f"slot must index one of the {len(self.sizes)} data sets")
        return slot

    def loss(self, theta: np.ndarray, slot: Any = 0, *, dps: int | None = None) -> np.ndarray:
        return self.loss_and_gradient(theta, slot, dps=dps)[0]

    def loss_and_gradient(self, theta: np.ndarray, slot: Any = 0, *, dps: int | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
        """L_{N_s}(θ) on data set ``slot`` and its gradient; ``theta`` (..., dim)."""
        _float64_only(dps)
        theta = np.asarray(theta, dtype=float)
        slot = self._check_slot(theta, slot)
        W, b = self.unflatten(theta)
        n = self.n
        a = np.swapaxes(W, -1, -2) @ W  # (..., n, n): row i = input feature, column j = output
        c = np.broadcast_to(b[..., None, :], a.shape)
        segment = slot[..., None, None] * n + np.arange(n)[:, None]  # (..., n, 1)
        start, end = self._start[segment], self._end[segment]
        with np.errstate(divide="ignore", invalid="ignore"):
            threshold = np.clip(-c / a, -0.5, 1.5)  # active iff mu > t (a > 0), mu < t (a < 0)
        key = 3.0 * segment + np.where(np.isfinite(threshold), threshold, 0.0)
        rising = np.searchsorted(self._keys, key, side="right")
        falling = np.searchsorted(self._keys, key, side="left")
        constant_on = c > 0
        lo = np.where(a > 0, rising, np.where(a < 0, start, np.where(constant_on, start, end)))
        hi = np.where(a > 0, end, np.where(a < 0, falling, end))
        s0 = (hi - lo).astype(float)
        s1 = self._sum1[hi] - self._sum1[lo]
        s2 = self._sum2[hi] - self._sum2[lo]
        diagonal = np.eye(n, dtype=bool)
        # Off-diagonal blocks: Σ (mu a + c)²; diagonal: Σ mu² over inactive + Σ (mu(1−a) − c)².
        u = np.where(diagonal, 1.0 - a, a)
        v = np.where(diagonal, -c, c)
        block = u * u * s2 + 2.0 * u * v * s1 + v * v * s0
        total2 = (self._sum2[end] - self._sum2[start])
        block = np.where(diagonal, block + total2 - s2, block)
        du = 2.0 * (u * s2 + v * s1)
        dv = 2.0 * (u * s1 + v * s0)
        d_a = np.where(diagonal, -du, du)
        d_c = np.where(diagonal, -dv, dv)
        size = self.sizes[slot].astype(float)
        value = block.sum(axis=(-2, -1)) / size
        dG = d_a / size[..., None, None]
        db = d_c.sum(axis=-2) / size[..., None]
        dW = W @ (dG + np.swapaxes(dG, -1, -2))
        return value, self.flatten(dW, db)


class ReducedRankRegression(SmoothPotential):
    """K(A, B) = ½ tr((AB − C₀) Σ (AB − C₀)ᵀ) on θ = (A row-major, B row-major).

    Parameters
    ----------
    target : array_like, shape (N_out, M)
        The true map C₀.
    hidden : int
        H: A is N_out×H, B is H×M.
    covariance : array_like, shape (M, M), optional
        Σ = E[x xᵀ] (default identity). A singular Σ makes part of B exactly flat.
    """

    def __init__(self, target: Any, hidden: int, covariance: Any = None):
        self.target = np.asarray(target, dtype=float)
        self.N_out, self.M = self.target.shape
        self.H = int(hidden)
        self.covariance = np.eye(self.M) if covariance is None else np.asarray(covariance, float)
        self.dim = self.N_out * self.H + self.H * self.M

    def unflatten(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        k = self.N_out * self.H
        A = theta[..., :k].reshape(theta.shape[:-1] + (self.N_out, self.H))
        B = theta[..., k:].reshape(theta.shape[:-1] + (self.H, self.M))
        return A, B

    def flatten(self, A: Any, B: Any) -> np.ndarray:
        A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
        return np.concatenate(
            [A.reshape(A.shape[:-2] + (-1,)), B.reshape(B.shape[:-2] + (-1,))], axis=-1
        )

    def loss(self, theta: np.ndarray, dps: int | None = None) -> np.ndarray:
        return self.loss_and_gradient(theta, dps=dps)[0]

    def loss_and_gradient(self, theta: np.ndarray, dps: int | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
        _float64_only(dps)
        A, B = self.unflatten(theta)
        E = A @ B - self.target
        D = E @ self.covariance
        value = 0.5 * np.sum(D * E, axis=(-2, -1))
        dA = D @ np.swapaxes(B, -1, -2)
        dB = np.swapaxes(A, -1, -2) @ D
        return value, self.flatten(dA, dB)

    def hessian(self, theta: np.ndarray, dps: int | None = None, side: Any = None) -> np.ndarray:
        """Finite differences of the exact gradient (K is quartic: error O(h²) = 1e-12)."""
        _float64_only(dps)
        return finite_difference_hessian(self, theta)

    def orbit_tangents(self, theta: np.ndarray) -> np.ndarray:
        """Tangents of the GL(H) orbit (A, B) ↦ (A C⁻¹, C B): (−A E, E B) for E = e_p e_qᵀ."""
        A, B = self.unflatten(theta)
        rows = []
        for p in range(self.H):
            for q in range(self.H):
                E = np.zeros((self.H, self.H))
                E[p, q] = 1.0
                rows.append(self.flatten(-A @ E, E @ B))
        return np.array(rows)
