"""The data distributions of the TMS and the empirical loss on a finite sample.

- :func:`sample_high_sparsity`: the high-sparsity limit of SPEC §2, x = mu e_i with i uniform on
  {0..n-1} and mu ~ U[0, 1]; its population loss is :func:`critpoints.tms.loss`.
- :func:`sample_sparse`: finite sparsity S (seed ``000`` §2.1), x_i = chi_i xi_i with
  chi_i ~ Bernoulli(1 - S) and xi_i ~ U[0, 1] independent.

Seeds are explicit: pass a ``numpy.random.Generator`` or an integer seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["empirical_loss", "empirical_loss_and_gradient", "sample_high_sparsity", "sample_sparse"]


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def sample_high_sparsity(n: int, size: int | tuple[int, ...], seed: Any = None) -> np.ndarray:
    """Samples x = mu e_i of the high-sparsity limit, shape ``(*size, n)``.

    Examples
    --------
    >>> x = sample_high_sparsity(6, 4, seed=0)
    >>> x.shape, int((x != 0).sum(axis=-1).max())
    ((4, 6), 1)
    """
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}")
    rng = _rng(seed)
    size = (size,) if np.isscalar(size) else tuple(size)
    feature = rng.integers(0, n, size=size)
    magnitude = rng.random(size=size)
    x = np.zeros(size + (n,))
    np.put_along_axis(x, feature[..., None], magnitude[..., None], axis=-1)
    return x


def sample_sparse(
    n: int, size: int | tuple[int, ...], sparsity: float, seed: Any = None
) -> np.ndarray:
    """Samples of the finite-sparsity distribution, shape ``(*size, n)``.

    Each coordinate is nonzero with probability 1 - ``sparsity`` and then uniform on [0, 1].
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must lie in [0, 1]; got {sparsity}")
    rng = _rng(seed)
    size = (size,) if np.isscalar(size) else tuple(size)
    present = rng.random(size=size + (n,)) >= sparsity
    return present * rng.random(size=size + (n,))


def _reconstruction(W: np.ndarray, b: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    G = np.swapaxes(W, -1, -2) @ W  # (..., n, n), symmetric
    pre = x @ G + b[..., None, :]  # row-vector x: (WᵀW x)ᵀ = x G
    return pre, np.maximum(pre, 0.0)


def empirical_loss(W: Any, b: Any, x: Any) -> np.ndarray:
    """Mean over samples of ‖x - ReLU(WᵀW x + b)‖², batched.

    Parameters
    ----------
    W : array_like, shape (..., m, n)
    b : array_like, shape (..., n)
    x : array_like, shape (..., N, n)
        Samples; leading axes broadcast against those of W and b.
    """
    W, b, x = (np.asarray(v, dtype=float) for v in (W, b, x))
    _, out = _reconstruction(W, b, x)
    return np.mean(np.sum((x - out) ** 2, axis=-1), axis=-1)


def empirical_loss_and_gradient(W: Any, b: Any, x: Any):
    """``(loss, dW, db)`` of :func:`empirical_loss`, by backpropagation (ReLU'(0) = 0)."""
    W, b, x = (np.asarray(v, dtype=float) for v in (W, b, x))
    N = x.shape[-2]
    pre, out = _reconstruction(W, b, x)
    residual = out - x
    value = np.mean(np.sum(residual**2, axis=-1), axis=-1)
    d_pre = (2.0 / N) * residual * (pre > 0)  # (..., N, n)
    db = d_pre.sum(axis=-2)
    dG = np.swapaxes(x, -1, -2) @ d_pre  # dL/dG_kj = Σ_t x_tk d_pre_tj
    dW = W @ (dG + np.swapaxes(dG, -1, -2))
    return value, dW, db
