"""Potentials on a flat parameter vector, vectorised over chains.

Every potential has ``dim`` and ``loss_and_gradient(theta)`` with ``theta`` of shape (C, dim),
returning ``(loss (C,), gradient (C, dim))``. The samplers in :mod:`critpoints.slt.sgld` and
:mod:`critpoints.slt.mcmc` only see this interface.

- :class:`TMSPopulation`: the closed-form potential L(W, b) of SPEC §2
  (:func:`critpoints.tms.loss_and_gradient`), θ = (W row-major, b) as in
  :func:`critpoints.tms.flatten`.
- :class:`TMSEmpirical`: the empirical loss L_N on a sample x_t = mu_t e_{i_t}. It exploits the
  one-hot structure (the pre-activation of sample t is mu_t (WᵀW)[i_t, :] + b), which costs
  O(N n) per chain instead of the dense O(N n²); it is tested against
  :func:`critpoints.tms.data.empirical_loss_and_gradient`. Per-sample weights give minibatches
  and the nested data sets of the replica-exchange sampler.
- :class:`ReducedRankRegression`: K(A, B) = ½ tr((AB − C₀) Σ (AB − C₀)ᵀ), the population loss of
  y = C₀x + noise under the model y = ABx (minus the noise level); the linear autoencoder is
  C₀ = I.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TMSPopulation", "TMSEmpirical", "ReducedRankRegression"]


class TMSPopulation:
    """The TMS population potential L(W, b) on θ = (W row-major, b).

    Parameters
    ----------
    n, m : int
        Number of features and hidden dimension.
    """

    def __init__(self, n: int, m: int = 2):
        self.n, self.m = int(n), int(m)
        self.dim = self.m * self.n + self.n

    def unflatten(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        W = theta[..., : self.m * self.n].reshape(theta.shape[:-1] + (self.m, self.n))
        return W, theta[..., self.m * self.n :]

    def flatten(self, W: Any, b: Any) -> np.ndarray:
        W, b = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
        return np.concatenate([W.reshape(W.shape[:-2] + (-1,)), b], axis=-1)

    def loss(self, theta: np.ndarray) -> np.ndarray:
        from critpoints import tms

        return np.asarray(tms.loss(*self.unflatten(theta)), dtype=float)

    def loss_and_gradient(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from critpoints import tms

        W, b = self.unflatten(theta)
        value, dW, db = tms.loss_and_gradient(W, b)
        return np.asarray(value, dtype=float), self.flatten(dW, db)


class TMSEmpirical(TMSPopulation):
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

    def loss(self, theta: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Σ_t w_t ℓ_t(θ); ``weights`` (N,) or (C, N) in the order of ``x``, default 1/N."""
        losses = np.sum(self._forward(theta)[2] ** 2, axis=-1)
        return np.sum(losses * self._sorted_weights(weights), axis=-1)

    def loss_and_gradient(
        self, theta: np.ndarray, weights: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Σ_t w_t ℓ_t(θ) and its gradient; ``weights`` (N,) or (C, N), default 1/N (the mean).

        ReLU'(0) = 0, as in :func:`critpoints.tms.data.empirical_loss_and_gradient`.
        """
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


class ReducedRankRegression:
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

    def loss(self, theta: np.ndarray) -> np.ndarray:
        return self.loss_and_gradient(theta)[0]

    def loss_and_gradient(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        A, B = self.unflatten(theta)
        E = A @ B - self.target
        D = E @ self.covariance
        value = 0.5 * np.sum(D * E, axis=(-2, -1))
        dA = D @ np.swapaxes(B, -1, -2)
        dB = np.swapaxes(A, -1, -2) @ D
        return value, self.flatten(dA, dB)
