"""Numeric evaluators of the TMS potential L(W, b), its gradient and Hessian (SPEC §2).

All three are assembled from the generated region formulas of the building blocks P and Q
(:mod:`critpoints.tms._generated`, derived by :mod:`critpoints.tms.symbolic`) by the chain rule
through the Gram matrix G = WᵀW. Block (i, j) is Q(G_ii, b_i) when i = j and P(G_ij, b_j)
otherwise, so that

    L = (1/n) Σ_ij F_ij(G_ij, b_j).

Precision
---------
With ``dps=None`` (default) everything is float64 and vectorised over any leading batch axes:
W of shape (..., m, n), b of shape (..., n). With ``dps=D`` the same code runs at D significant
digits (a single point, not batched) and returns mpmath numbers in numpy object arrays; the
results are exact up to the rounding of D-digit arithmetic. The arithmetic itself runs in MPFR
at mpmath's precision (:mod:`critpoints.mpfr`): the same bits as mpmath's own, faster.

Smoothness and the conventions on boundaries
--------------------------------------------
L is C¹ except where a column and its own bias both vanish (W_i = 0, b_i = 0): there Q(0, c) has a
kink in c, and :func:`gradient` returns the one-sided derivative from b_i < 0 (the ReLU'(0) = 0
convention of autograd frameworks: the output of feature i counts as switched off). The right
derivative in b_i is smaller by 1/n (see :func:`kink_jumps`).

The Hessian is discontinuous where a block crosses between activation regions (see
:mod:`critpoints.tms.symbolic`), i.e. where c_ij = 0 or G_ij + c_ij = 0. Every point is assigned to
the region with the ReLU switched off on the boundary (``region = 2*[c > 0] + [G + c > 0]``); pass
``regions=`` to :func:`hessian` to choose another adjacent region per block, and use
:func:`adjacent_regions` to list which regions touch a point. Only the jumps of Q's Hessian at
G_ii + b_i = 0 and of P's and Q's at G_ij = b_j = 0 are real: elsewhere adjacent formulas agree to
second order.

Parameter order of the Hessian
------------------------------
θ = (W[0, 0], …, W[0, n-1], W[1, 0], …, W[m-1, n-1], b[0], …, b[n-1]): W flattened row-major,
then b. Use :func:`flatten` / :func:`unflatten` to convert.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

import mpmath
import numpy as np

from critpoints.mpfr import computed_through_mpfr
from critpoints.tms._generated import FUNCTIONS
from critpoints.tms.regions import REGION_NAMES, block_region

__all__ = [
    "REGION_NAMES",
    "adjacent_regions",
    "assemble_hessian",
    "block_regions",
    "flatten",
    "gradient",
    "gradient_from_blocks",
    "gradient_norm",
    "hessian",
    "kink_jumps",
    "loss",
    "loss_and_gradient",
    "unflatten",
]


# ----------------------------------------------------------------------------------------------
# Input handling


def _as_float_arrays(W: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    _check_shapes(W, b)
    if not (np.isfinite(W).all() and np.isfinite(b).all()):
        raise ValueError("W and b must be finite (found NaN or infinity)")
    return W, b


def _as_mp_arrays(W: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Object arrays of mpf at the current working precision (strings are parsed exactly)."""
    W = np.asarray(W, dtype=object)
    b = np.asarray(b, dtype=object)
    _check_shapes(W, b)
    if W.ndim != 2:
        raise ValueError("high-precision evaluation takes a single point: W of shape (m, n)")
    W = np.vectorize(mpmath.mpf, otypes=[object])(W)
    b = np.vectorize(mpmath.mpf, otypes=[object])(b)
    if not all(mpmath.isfinite(x) for x in [*W.ravel(), *b.ravel()]):
        raise ValueError("W and b must be finite (found NaN or infinity)")
    return W, b


def _check_shapes(W: np.ndarray, b: np.ndarray) -> None:
    if W.ndim < 2:
        raise ValueError(f"W must have shape (..., m, n); got shape {W.shape}")
    if b.shape != W.shape[:-2] + W.shape[-1:]:
        raise ValueError(
            f"b must have shape {W.shape[:-2] + W.shape[-1:]} to match W of shape {W.shape}; "
            f"got {b.shape}"
        )
    if W.shape[-1] < 1 or W.shape[-2] < 1:
        raise ValueError(f"W must have at least one row and one column; got shape {W.shape}")


# ----------------------------------------------------------------------------------------------
# Blocks


def _gram_and_bias(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Products summed over the m rows in order instead of a BLAS matmul (BLAS kernels, FMA or
    # not, differ between machines in the last bit, and the searches would inherit it); the
    # compiled blocks form G_ij in the same order, so both give the same bits.
    G = W[..., 0, :, None] * W[..., 0, None, :]
    for r in range(1, W.shape[-2]):
        G = G + W[..., r, :, None] * W[..., r, None, :]
    C = np.broadcast_to(b[..., None, :], G.shape)  # c_ij = b_j
    return G, C


def _float_blocks(Wp: np.ndarray, bp: np.ndarray, order: int, regions: Any):
    """:func:`_blocks` of the point (Wp, bp), through the compiled loop when it is float64."""
    if Wp.dtype == np.float64 and bp.dtype == np.float64:
        from critpoints.tms import _compiled_blocks

        return _compiled_blocks.blocks(Wp, bp, order, regions)
    G, C = _gram_and_bias(Wp, bp)
    return _blocks(G, C, order, regions)


def block_regions(W: Any, b: Any, atol: float = 0.0) -> np.ndarray:
    """Activation region code (0 dead, 1 rising, 2 falling, 3 live) of every block (i, j).

    Block (i, j) has a = G_ij = W_i·W_j and c = b_j; its region is
    ``2*[c > atol] + [a + c > atol]``. With ``atol`` > 0 a block within ``atol`` of a boundary
    counts as on it and takes the side where the ReLU is off (the convention ReLU'(0) = 0).
    """
    W = np.asarray(W)
    b = np.asarray(b)
    G, C = _gram_and_bias(W, b)
    return _regions_of(G, C, atol)


def _regions_of(G: np.ndarray, C: np.ndarray, atol: float = 0.0) -> np.ndarray:
    return block_region(G, C, atol)


@lru_cache(maxsize=64)
def _kind_offsets(shape: tuple[int, ...]) -> np.ndarray:
    """4 on the diagonal blocks (Q), 0 elsewhere (P), flat: region code + offset indexes
    :data:`_REGION_FORMULAS`."""
    n = shape[-1]
    offsets = np.zeros(shape, dtype=np.int8)
    offsets[..., np.arange(n), np.arange(n)] = 4
    offsets = offsets.reshape(-1)
    offsets.flags.writeable = False
    return offsets


#: order -> the eight formulas: P's four regions, then Q's.
_REGION_FORMULAS = {order: FUNCTIONS[("P", order)] + FUNCTIONS[("Q", order)]
                    for order in (0, 1, 2)}


def _blocks(G: np.ndarray, C: np.ndarray, order: int, regions: np.ndarray | None):
    """Values of F_ij and its derivatives up to ``order`` in (a, c) for every block.

    Returns a tuple of arrays shaped like G: (F,), (F, F_a, F_c) or (F, F_a, F_c, F_aa, F_ac, F_cc).
    Each block is evaluated once, by the formula of its kind (P or Q) and region. float64
    evaluators go through :func:`_float_blocks` instead (the same formulas and bits, compiled).
    The blocks are sorted once by (kind, region), each formula runs on a contiguous slice, and
    the values are put back in place (elementwise the same operations as any other grouping,
    so the same bits).
    """
    if regions is None:
        regions = _regions_of(G, C)
    else:
        regions = np.broadcast_to(np.asarray(regions, dtype=np.int8), G.shape)
    key = regions.reshape(-1) + _kind_offsets(G.shape)
    by_formula = np.argsort(key, kind="stable")
    stops = np.cumsum(np.bincount(key, minlength=8))
    a = G.reshape(-1)[by_formula]
    c = np.ascontiguousarray(C).reshape(-1)[by_formula]
    n_out = (1, 3, 6)[order]
    values_sorted = [np.empty(a.shape, dtype=G.dtype) for _ in range(n_out)]
    functions = _REGION_FORMULAS[order]
    start = 0
    for code, stop in enumerate(stops):
        if stop > start:
            for out, value in zip(values_sorted, functions[code](a[start:stop], c[start:stop])):
                out[start:stop] = value
        start = stop
    outs = []
    for sorted_values in values_sorted:
        out = np.empty_like(sorted_values)
        out[by_formula] = sorted_values
        outs.append(out.reshape(G.shape))
    return tuple(outs)


# ----------------------------------------------------------------------------------------------
# Public evaluators


def _evaluate(W, b, dps, formula):
    """``formula(W, b)`` on float64 arrays, or at ``dps`` digits on mpmath numbers.

    At ``dps`` digits the arithmetic runs in MPFR at mpmath's precision
    (:func:`critpoints.mpfr.computed_through_mpfr`: the formulas, the chain rule and the sums
    use only +, −, ×, ÷ and comparisons, so the results are the bits plain mpmath gives, 2–4×
    faster for L and ∇L and up to 13× for ∇²L at n = 12–16; ``tests/test_tms_potential.py``
    holds them to it) and come back as ``mpf``."""
    if dps is None:
        return formula(*_as_float_arrays(W, b))
    if not isinstance(dps, int) or dps < 1:
        raise ValueError(f"dps must be a positive integer; got {dps!r}")
    with mpmath.workdps(dps):
        return computed_through_mpfr(formula, *_as_mp_arrays(W, b))


def _evaluate_in_mpmath(W, b, dps, formula):
    """:func:`_evaluate` at ``dps`` digits in plain mpmath arithmetic: the reference of the
    MPFR path (tests only)."""
    with mpmath.workdps(dps):
        return formula(*_as_mp_arrays(W, b))


def _finite_sparsity(sparsity, importance, max_active, symmetry=None) -> bool:
    """Whether the call asks for the finite-sparsity potential (SPEC §8)."""
    if sparsity is None:
        if importance is not None or max_active is not None or symmetry is not None:
            raise ValueError("importance, max_active and symmetry apply to the finite-sparsity "
                             "potential: pass sparsity= as well")
        return False
    return True


def loss(W: Any, b: Any, dps: int | None = None, *, sparsity: float | None = None,
         importance: Any = None, max_active: int | None = None, symmetry: Any = None):
    """The potential L(W, b): the one-hot (high-sparsity) potential of SPEC §2, or with
    ``sparsity=S`` the exact potential at sparsity S with importances I (SPEC §8,
    :func:`critpoints.tms.sparse.loss`).

    Parameters
    ----------
    W : array_like, shape (..., m, n)
        Columns W_i are the embeddings of the n features in the m-dimensional hidden space.
    b : array_like, shape (..., n)
        Output biases.
    dps : int, optional
        Evaluate with mpmath at this many significant digits (single point only).
    sparsity : float, optional
        S ∈ [0, 1]; None (default) is the high-sparsity limit of SPEC §2.
    importance : array_like, shape (n,), optional
        Feature importances I_j > 0 (finite sparsity only; default all ones).
    max_active : int, optional
        Finite sparsity only: keep the active sets with |A| ≤ max_active
        (:func:`critpoints.tms.sparse.truncation_bound` bounds the rest).
    symmetry : sequence of permutations, optional
        Finite sparsity only: generators of feature permutations that leave the point
        invariant (WᵀW, b and I), to evaluate each orbit of blocks once
        (:func:`critpoints.tms.sparse.loss`).

    Returns
    -------
    float ndarray of shape (...) (float64), or an mpmath ``mpf`` when ``dps`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(loss(np.zeros((2, 3)), np.zeros(3))), 6)   # every output dead: E[mu²] = 1/3
    0.333333
    """
    if _finite_sparsity(sparsity, importance, max_active, symmetry):
        from critpoints.tms import sparse

        return sparse.loss(W, b, sparsity, importance, max_active, dps, symmetry)

    return _evaluate(W, b, dps, _loss_of)


def _loss_of(Wp, bp):
    (F,) = _float_blocks(Wp, bp, 0, None)
    return F.sum(axis=(-2, -1)) / Wp.shape[-1]


def gradient_from_blocks(Wp, F_a, F_c):
    n = Wp.shape[-1]
    S = F_a / n
    M = S + np.swapaxes(S, -1, -2)
    dW = np.einsum("...ri,...ik->...rk", Wp, M) if M.dtype != object else \
        (Wp[..., :, :, None] * M[..., None, :, :]).sum(axis=-2)
    db = F_c.sum(axis=-2) / n
    return dW, db


def loss_and_gradient(W: Any, b: Any, dps: int | None = None, *,
                      sparsity: float | None = None, importance: Any = None,
                      max_active: int | None = None, symmetry: Any = None):
    """``(L, dW, db)`` in one pass over the blocks; see :func:`loss` and :func:`gradient`."""
    if _finite_sparsity(sparsity, importance, max_active, symmetry):
        from critpoints.tms import sparse

        return sparse.loss_and_gradient(W, b, sparsity, importance, max_active, dps, symmetry)

    return _evaluate(W, b, dps, _loss_and_gradient_of)


def _loss_and_gradient_of(Wp, bp):
    F, F_a, F_c = _float_blocks(Wp, bp, 1, None)
    dW, db = gradient_from_blocks(Wp, F_a, F_c)
    return F.sum(axis=(-2, -1)) / Wp.shape[-1], dW, db


def gradient(W: Any, b: Any, dps: int | None = None, *, sparsity: float | None = None,
             importance: Any = None, max_active: int | None = None, symmetry: Any = None):
    """The gradient ``(dL/dW, dL/db)``, shaped like ``(W, b)`` (keywords as in :func:`loss`).

    At W_i = 0, b_i = 0 (where L is not differentiable in b_i) the derivative in b_i is the
    one-sided one from b_i < 0; see the module docstring and :func:`kink_jumps`.
    """
    _, dW, db = loss_and_gradient(W, b, dps, sparsity=sparsity, importance=importance,
                                  max_active=max_active, symmetry=symmetry)
    return dW, db


def gradient_norm(W: Any, b: Any, dps: int):
    """‖∇L‖ (Euclidean, over all of W and b) at ``dps`` digits, as an mpmath number: the
    verification figure of a critical point."""
    with mpmath.workdps(dps):
        dW, db = gradient(W, b, dps=dps)
        return mpmath.sqrt(mpmath.fsum(v * v for v in [*dW.ravel(), *db.ravel()]))


def hessian(W: Any, b: Any, dps: int | None = None, regions: Any = None, *,
            sparsity: float | None = None, importance: Any = None,
            max_active: int | None = None, symmetry: Any = None):
    """The Hessian of L over θ = (W flattened row-major, b), shape (..., m·n + n, m·n + n)
    (``sparsity``, ``importance``, ``max_active`` as in :func:`loss`; ``regions`` applies to
    the one-hot potential only: at finite sparsity the convention ReLU'(0) = 0 is built in).

    Parameters
    ----------
    regions : array_like of int, shape (n, n), optional
        Activation region of each block (i, j) to take the second derivatives from (codes of
        :data:`REGION_NAMES`). Defaults to :func:`block_regions` of the point. Choosing an adjacent
        region gives the one-sided Hessian of that side of an activation boundary.
    """
    if _finite_sparsity(sparsity, importance, max_active, symmetry):
        from critpoints.tms import sparse

        if regions is not None:
            raise ValueError("regions= chooses one-hot activation regions; not with sparsity=")
        return sparse.hessian(W, b, sparsity, importance, max_active, dps, symmetry)

    return _evaluate(W, b, dps, partial(_hessian_of, regions=regions))


def _hessian_of(Wp, bp, regions=None):
    _, F_a, _, F_aa, F_ac, F_cc = _float_blocks(Wp, bp, 2, regions)
    return assemble_hessian(Wp, F_a, F_aa, F_ac, F_cc)


def assemble_hessian(W, F_a, F_aa, F_ac, F_cc):
    """Chain rule through G_ij = W_i·W_j; derivation in docs/derivations.md.

    With G_ij = Σ_r W_ri W_rj, and A, S, C, D the block derivatives F_aa, F_a, F_ac, F_cc
    over n (A_sym = A + Aᵀ, S_sym = S + Sᵀ):

        ∂²L/∂W_rk ∂W_sl = δ_kl Σ_i A_sym[i,k] W_ri W_si + A_sym[k,l] W_rl W_sk + δ_rs S_sym[k,l]
        ∂²L/∂W_rk ∂b_l  = δ_kl Σ_i C[i,k] W_ri + C[k,l] W_rl
        ∂²L/∂b_j ∂b_l   = δ_jl Σ_i D[i,j]

    Each term is built with its Kronecker deltas as diagonals (O(m²n²) per point; the same
    products and sums, in the same order, as the one-einsum-per-term form, so the float64
    result is the same to the bit; measured 3–6× faster at n = 16). On object arrays
    (mpmath or MPFR numbers) the einsum form only adds exact zeros besides, so the values are
    the same too (tested); the entries no term reaches are zeros of the numbers' own type.
    """
    m, n = W.shape[-2:]
    S, A, Cx, D = F_a / n, F_aa / n, F_ac / n, F_cc / n
    batch = W.shape[:-2]
    dim = m * n + n
    A_sym = A + np.swapaxes(A, -1, -2)
    S_sym = S + np.swapaxes(S, -1, -2)
    # d²L/dW_rk dW_sl, axes (r, k, s, l)
    WW = (A_sym[..., None, :, None, :] * W[..., :, None, None, :]
          * np.swapaxes(W, -1, -2)[..., None, :, :, None])
    np.einsum("...rksk->...rsk", WW)[...] += np.einsum("...ik,...ri,...si->...rsk", A_sym, W, W)
    np.einsum("...rkrl->...rkl", WW)[...] += S_sym[..., None, :, :]
    H = np.zeros(batch + (dim, dim), dtype=W.dtype)
    if W.dtype == object:  # D's off-diagonal zeros as numbers, not Python ints
        H[...] = W.reshape(-1)[0] * 0
    H[..., : m * n, : m * n] = WW.reshape(batch + (m * n, m * n))
    # d²L/dW_rk db_l, axes (r, k, l)
    Wb = Cx[..., None, :, :] * W[..., :, None, :]
    np.einsum("...rkk->...rk", Wb)[...] += np.einsum("...ik,...ri->...rk", Cx, W)
    Wb = Wb.reshape(batch + (m * n, n))
    H[..., : m * n, m * n :] = Wb
    H[..., m * n :, : m * n] = np.swapaxes(Wb, -1, -2)
    # d²L/db_j db_l
    np.einsum("...jj->...j", H[..., m * n :, m * n :])[...] = D.sum(axis=-2)
    return H


def _assemble_hessian_einsum(W, F_a, F_aa, F_ac, F_cc):
    """:func:`assemble_hessian` as one einsum per term, with the Kronecker deltas as identity
    matrices: the reference the diagonal form is tested against."""
    m, n = W.shape[-2:]
    S, A, Cx, D = F_a / n, F_aa / n, F_ac / n, F_cc / n
    batch = W.shape[:-2]
    dim = m * n + n
    H = np.zeros(batch + (dim, dim), dtype=W.dtype)
    A_sym = A + np.swapaxes(A, -1, -2)
    S_sym = S + np.swapaxes(S, -1, -2)
    eye_n = np.eye(n, dtype=int)
    eye_m = np.eye(m, dtype=int)
    # d²L/dW_rk dW_sl
    WW = (
        np.einsum("...ik,...ri,...si,kl->...rksl", A_sym, W, W, eye_n)
        + np.einsum("...kl,...rl,...sk->...rksl", A_sym, W, W)
        + np.einsum("rs,...kl->...rksl", eye_m, S_sym)
    )
    H[..., : m * n, : m * n] = WW.reshape(batch + (m * n, m * n))
    # d²L/dW_rk db_l
    Wb = np.einsum("...ik,...ri,kl->...rkl", Cx, W, eye_n) + np.einsum("...kl,...rl->...rkl", Cx, W)
    Wb = Wb.reshape(batch + (m * n, n))
    H[..., : m * n, m * n :] = Wb
    H[..., m * n :, : m * n] = np.swapaxes(Wb, -1, -2)
    # d²L/db_j db_l
    H[..., m * n :, m * n :] = np.einsum("...ij,jl->...jl", D, eye_n)
    return H


def adjacent_regions(W: Any, b: Any, atol: float = 0.0) -> dict[tuple[int, int], tuple[int, ...]]:
    """Blocks on an activation boundary and the regions that touch the point there.

    A block is on a boundary when its end values c = b_j or a + c = G_ij + b_j are within
    ``atol`` of 0; each such end value can then be taken on either side.

    Returns
    -------
    dict
        ``{(i, j): (region codes, sorted)}`` for the boundary blocks only.
    """
    W = np.asarray(W)
    b = np.asarray(b)
    G, C = _gram_and_bias(W, b)
    out: dict[tuple[int, int], tuple[int, ...]] = {}
    n = G.shape[-1]
    for i in range(n):
        for j in range(n):
            start, end = C[i, j], G[i, j] + C[i, j]
            start_sides = (False, True) if abs(start) <= atol else (bool(start > 0),)
            end_sides = (False, True) if abs(end) <= atol else (bool(end > 0),)
            if len(start_sides) == len(end_sides) == 1:
                continue
            codes = {2 * s + e for s in start_sides for e in end_sides}
            out[(i, j)] = tuple(sorted(codes))
    return out


def kink_jumps(W: Any, b: Any, atol: float = 0.0) -> np.ndarray:
    """Jump of dL/db_i across b_i = 0 at every feature with W_i = 0 and b_i = 0 (else 0).

    There Q(0, c) = 1/3 for c ≤ 0 and 1/3 - c + c² for c > 0, so the right derivative of L in b_i
    is the returned gradient's plus this jump, which is -1/n (the generated formulas give it as
    the difference of the live and dead Q_c at a = c = 0).
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    n = b.shape[-1]
    q1 = FUNCTIONS[("Q", 1)]
    zero = np.zeros(1)
    jump = (q1[3](zero, zero)[2] - q1[0](zero, zero)[2])[0] / n
    at_kink = (np.linalg.norm(W, axis=-2) <= atol) & (np.abs(b) <= atol)
    return np.where(at_kink, jump, 0.0)


# ----------------------------------------------------------------------------------------------
# Parameter vectors


def flatten(W: Any, b: Any) -> np.ndarray:
    """θ = (W row-major, b), with any leading batch axes kept."""
    W = np.asarray(W)
    b = np.asarray(b)
    return np.concatenate([W.reshape(W.shape[:-2] + (-1,)), b], axis=-1)


def unflatten(theta: Any, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`flatten`."""
    theta = np.asarray(theta)
    if theta.shape[-1] != m * n + n:
        raise ValueError(f"θ must have last axis m·n + n = {m * n + n}; got {theta.shape[-1]}")
    W = theta[..., : m * n].reshape(theta.shape[:-1] + (m, n))
    return W, theta[..., m * n :]
