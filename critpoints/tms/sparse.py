"""The TMS potential at finite sparsity S with feature importances I, exactly (SPEC §8).

    L_{S,I}(W, b) = E_x[Σ_j I_j (x_j − ReLU((WᵀW x)_j + b_j))²],   x_i = χ_i ξ_i,
    χ_i ~ Bernoulli(1 − S), ξ_i ~ U[0, 1], all independent,

written as a sum over the active set A = {i : χ_i = 1}, P(A) = (1 − S)^{|A|} S^{n−|A|}
(A = ∅, the all-zero input, included). With G = WᵀW, output j of active set A sees
z = b_j + Σ_{i∈A} G_ij ξ_i, and its block is

    F_{A,j} = E[ReLU(z)²] = 2 μ_2^0                                   (j ∉ A: interference)
    F_{A,j} = E[(ξ_j − ReLU(z))²] = 1/3 − 2 μ_1^{e_j} + 2 μ_2^0        (j ∈ A: reconstruction)

in the weighted cube moments μ_p^α(a, c) of :mod:`critpoints.tms.cube` (a = (G_ij)_{i∈A},
c = b_j), whose derivatives are again cube moments: ∂_c μ_p^α = μ_{p−1}^α,
∂_{a_i} μ_p^α = μ_{p−1}^{α+e_i}. So value, gradient and Hessian are exact (closed forms, no
finite differences); the gradient and Hessian in (W, b) follow by the chain rule through G.

Relation to the one-hot potential (SPEC §2). The |A| = 1 blocks are exactly the blocks P and Q
of the high-sparsity model, so with I = 1

    L_S = Sⁿ Σ_j ReLU(b_j)² + n(1 − S) S^{n−1} L_onehot + O((1 − S)²),

and (L_S − Sⁿ Σ_j I_j ReLU(b_j)²)/(n(1 − S)) → L_onehot as S → 1 with error O(1 − S).
Catalogued points with a positive bias (5⁺, 4⁺⁺, …) are critical points of L_onehot, not limits
of critical points of L_S: the Sⁿ ReLU(b_j)² term dominates and pushes b_j to ≤ 0.

Cost. Value: Σ_A n·2^{|A|} = n·3ⁿ vertex terms (n = 12: 6.4·10⁶); the gradient multiplies it
by about |A| + 2 and the Hessian by about |A|²/2 more moments per block (all vectorised over
blocks; measured timings in docs/sparsity.md). ``max_active=K`` keeps the sets with |A| ≤ K:
on a cube of dimension d every block's integrand lies in [0, max(1, ReLU(t_{j,d})²)], t_{j,d} =
b_j + the d largest max(G_ij, 0), so the omitted part is at most
Σ_{d>K} C(n, d)(1 − S)^d S^{n−d} Σ_j I_j max(1, ReLU(t_{j,d})²) (:func:`truncation_bound`).

Precision: ``dps=None`` is float64, batched over leading axes (W (..., m, n), b (..., n));
each cube moment has relative rounding error ≤ :data:`critpoints.tms.cube.RTOL` by the
condition rule of :mod:`critpoints.tms.cube` (ill-conditioned vertex sums are recomputed with
mpmath automatically). ``dps=D`` evaluates one point with mpmath, every moment to D digits.

The Hessian takes H(0) = 0 (ReLU'(0) = 0) where it jumps: on b_j = 0 (the A = ∅ term), and on
the activation boundaries of the |A| = 1 blocks inherited from the one-hot model.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from functools import cache
from typing import Any

import mpmath
import numpy as np

from critpoints.tms.cube import CubeBatch

__all__ = [
    "active_set_probabilities",
    "gradient",
    "hessian",
    "loss",
    "loss_and_gradient",
    "truncation_bound",
    "vertex_terms",
    "with_importances",
]


# ----------------------------------------------------------------------------------------------
# Inputs


def _check_sparsity(sparsity: Any) -> float:
    try:
        value = float(sparsity)
    except (TypeError, ValueError):
        raise ValueError(f"sparsity must be a number in [0, 1]; got {sparsity!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"sparsity must be a finite number in [0, 1]; got {sparsity!r}")
    return value


def _check_importance(importance: Any, n: int) -> np.ndarray:
    if importance is None:
        return np.ones(n)
    values = np.asarray(importance, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"importance must have one entry per feature (n = {n}); "
                         f"got shape {values.shape}")
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError(f"importances must be finite and positive; got {values.tolist()}")
    return values


def _check_max_active(max_active: Any, n: int) -> int:
    if max_active is None:
        return n
    if isinstance(max_active, bool) or not isinstance(max_active, (int, np.integer)) \
            or not 0 <= max_active:
        raise ValueError(f"max_active must be a non-negative integer; got {max_active!r}")
    return min(int(max_active), n)


def _check_symmetry(symmetry: Any, n: int) -> tuple[tuple[int, ...], ...]:
    """The generators of a permutation group of the features, as tuples (() for none)."""
    if symmetry is None:
        return ()
    try:
        generators = tuple(tuple(int(i) for i in permutation) for permutation in symmetry)
    except (TypeError, ValueError):
        raise ValueError("symmetry must be a sequence of permutations of range(n), each a "
                         f"sequence of n integers; got {symmetry!r}") from None
    for permutation in generators:
        if sorted(permutation) != list(range(n)):
            raise ValueError(f"symmetry: {list(permutation)} is not a permutation of "
                             f"0..{n - 1}")
    return tuple(g for g in generators if g != tuple(range(n)))


def _check_invariant(G, b, importance, generators, dps) -> None:
    """ValueError unless every point of the batch is invariant under the generators:
    G_{π(i)π(k)} = G_ik, b_π(i) = b_i, I_π(i) = I_i, to rounding (relative 10⁻¹² in float64,
    10^(5 − dps) with mpmath)."""
    tolerance = 1e-12 if dps is None else mpmath.mpf(10) ** (5 - dps)
    for permutation in generators:
        p = np.array(permutation)
        if not np.array_equal(importance[p], importance):
            raise ValueError("symmetry: the importances are not invariant under "
                             f"{list(permutation)}")
        inverse = np.argsort(p)
        for name, value, image in (("G = WᵀW", G, G[:, inverse][:, :, inverse]),
                                   ("b", b, b[:, inverse])):
            # (np.abs and max work on mpmath object arrays too)
            gap, scale = np.abs(image - value).max(), max(1, np.abs(value).max())
            if gap > tolerance * scale:
                raise ValueError(f"symmetry: {name} is not invariant under {list(permutation)} "
                                 f"(largest change {float(gap):.3g})")


def _orbits(size: int, images: list[np.ndarray]) -> np.ndarray:
    """Orbit labels of the nodes 0..size−1 under the maps node → images[g][node] (one array
    per generator): the connected components of the graph they draw."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = np.arange(size)
    if not images:
        return nodes
    edges = coo_matrix((np.ones(len(images) * size),
                        (np.tile(nodes, len(images)), np.concatenate(images))),
                       shape=(size, size))
    return connected_components(edges, directed=False)[1]


@cache
def _orbit_labels(n: int, generators: tuple, arity: int) -> np.ndarray:
    """Orbit of every index tuple (i_1..i_arity) ∈ range(n)^arity under the group the
    generators span (acting on every index): a label per tuple, flattened row-major."""
    nodes = np.arange(n**arity)
    digits = [(nodes // n ** (arity - 1 - t)) % n for t in range(arity)]
    images = [sum(np.array(p)[digit] * n ** (arity - 1 - t) for t, digit in enumerate(digits))
              for p in generators]
    return _orbits(n**arity, images)


@cache
def _block_labels(n: int, generators: tuple) -> np.ndarray:
    """Orbit label of every block (output j, active set A), indexed j·2ⁿ + mask(A), under the
    group the generators span (π maps the block (j, A) to (π(j), π(A)))."""
    masks = np.arange(2**n)
    nodes = np.arange(n * 2**n)
    images = []
    for permutation in generators:
        p = np.array(permutation)
        image_mask = np.zeros_like(masks)
        for i in range(n):
            image_mask |= ((masks >> i) & 1) << p[i]
        images.append((p[nodes >> n] << n) + image_mask[nodes & (2**n - 1)])
    return _orbits(n * 2**n, images)


@cache
def _representatives(n: int, d: int, reconstruction: bool, generators: tuple):
    """One block per orbit among the blocks of :func:`_blocks_of_size` (``n``, ``d``, kind):
    (positions in that list, orbit sizes). Every orbit of the group lies inside one list (π
    keeps |A| and whether j ∈ A), so the count of a label in the list is its orbit's size."""
    rows, outs = _blocks_of_size(n, d)[1 if reconstruction else 0]
    masks = (np.left_shift(1, rows)).sum(axis=1) if d else np.zeros(len(outs), dtype=np.intp)
    labels = _block_labels(n, generators)[(outs << n) + masks]
    _, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")  # keep the list's order
    return first[order], counts[order]


def _orbit_mean(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """values (B, N) averaged over each orbit of the N index tuples (exactly equal along an
    orbit): the symmetrisation (1/|Γ|) Σ_π π·h of a tensor h."""
    if values.dtype == object:
        out = values.copy()
        for label in np.unique(labels):
            where = np.flatnonzero(labels == label)
            for row in range(values.shape[0]):
                mean = mpmath.fsum(values[row, where]) / len(where)
                out[row, where] = mean
        return out
    counts = np.bincount(labels)
    out = np.empty_like(values)
    for row in range(values.shape[0]):
        out[row] = (np.bincount(labels, weights=values[row]) / counts)[labels]
    return out


def _prepare(W, b, dps):
    from critpoints.tms.potential import _as_float_arrays, _as_mp_arrays

    return _as_float_arrays(W, b) if dps is None else _as_mp_arrays(W, b)


def active_set_probabilities(n: int, sparsity: float, dps: int | None = None) -> list:
    """P(|A| = d)/C(n, d) = (1 − S)^d S^{n−d} for d = 0..n (0⁰ = 1): the weight of each set."""
    S = _check_sparsity(sparsity) if dps is None else mpmath.mpf(sparsity)
    return [(1 - S) ** d * S ** (n - d) for d in range(n + 1)]


def truncation_bound(W: Any, b: Any, sparsity: float, importance: Any = None,
                     max_active: int | None = None) -> np.ndarray:
    """Upper bound on L_{S,I} minus its part from the active sets with |A| ≤ ``max_active``.

    On a cube of dimension d, output j's pre-activation is at most t_{j,d} = b_j + the sum of the
    d largest of max(G_ij, 0) over i, and each block's integrand lies in
    [0, max(1, ReLU(t_{j,d})²)] (x_j ∈ [0, 1]). So the remainder is at most

        Σ_{d > K} C(n, d) (1 − S)^d S^{n−d} Σ_j I_j max(1, ReLU(t_{j,d})²)

    (0 when K = n). Float64, batched; rounded up by a relative 1e-12.
    """
    W, b = _prepare(W, b, None)
    n = W.shape[-1]
    importance = _check_importance(importance, n)
    K = _check_max_active(max_active, n)
    G = np.einsum("...ri,...rj->...ij", W, W)
    # t[..., d, j] = b_j + the d largest positive G_ij (d = 0..n)
    largest_first = -np.sort(-np.maximum(G, 0.0), axis=-2)
    partial = np.concatenate([np.zeros_like(largest_first[..., :1, :]),
                              np.cumsum(largest_first, axis=-2)], axis=-2)
    top = np.maximum(b[..., None, :] + partial, 0.0)
    per_size = (importance * np.maximum(1.0, top**2)).sum(axis=-1)  # (..., n + 1)
    weights = active_set_probabilities(n, sparsity)
    tail = np.array([math.comb(n, d) * weights[d] if d > K else 0.0 for d in range(n + 1)])
    return (per_size * tail).sum(axis=-1) * (1 + 1e-12)


def vertex_terms(n: int, max_active: int | None = None) -> int:
    """Σ_{|A| ≤ K} n·2^{|A|}: the vertex terms of one evaluation of the value (n·3ⁿ at K = n)."""
    K = n if max_active is None else min(max_active, n)
    return sum(math.comb(n, d) * n * 2**d for d in range(K + 1))


# ----------------------------------------------------------------------------------------------
# Blocks


@cache
def _blocks_of_size(n: int, d: int):
    """Every (active set A with |A| = d, output j), split into interference (j ∉ A) and
    reconstruction (j ∈ A) blocks: (rows (P, d) of the coefficients G_{row, j}, outputs (P,)).
    Reconstruction rows start with j itself (the weight ξ_j is on coordinate 0)."""
    interference_rows, interference_out, recon_rows, recon_out = [], [], [], []
    for A in itertools.combinations(range(n), d):
        for j in range(n):
            if j in A:
                recon_rows.append((j,) + tuple(i for i in A if i != j))
                recon_out.append(j)
            else:
                interference_rows.append(A)
                interference_out.append(j)

    def pack(rows, outs):
        return (np.array(rows, dtype=np.intp).reshape(len(outs), d),
                np.array(outs, dtype=np.intp))

    return pack(interference_rows, interference_out), pack(recon_rows, recon_out)


def _unit(d: int, *positions: int) -> tuple[int, ...]:
    alpha = [0] * d
    for t in positions:
        alpha[t] += 1
    return tuple(alpha)


def _block_derivatives(cubes: CubeBatch, d: int, reconstruction: bool, order: int):
    """(F, F_a (N, d), F_c, F_aa (N, d, d), F_ac (N, d), F_cc) of one kind of block, as far as
    ``order`` asks (None beyond). Coordinate 0 carries the weight ξ_j of a reconstruction block."""
    mu = cubes.moment
    N = cubes.N
    zero = cubes.c * 0
    dtype = cubes.c.dtype
    if reconstruction:
        F = 2 * mu(2, _unit(d)) - 2 * mu(1, _unit(d, 0)) + (zero + 1) / 3
    else:
        F = 2 * mu(2, _unit(d))
    if order == 0:
        return F, None, None, None, None, None
    F_a = np.empty((N, d), dtype=dtype)
    for t in range(d):
        F_a[:, t] = 2 * mu(1, _unit(d, t))
        if reconstruction:
            F_a[:, t] -= 2 * mu(0, _unit(d, 0, t))
    F_c = 2 * mu(1, _unit(d)) - (2 * mu(0, _unit(d, 0)) if reconstruction else 0)
    if order == 1:
        return F, F_a, F_c, None, None, None
    F_aa = np.empty((N, d, d), dtype=dtype)
    F_ac = np.empty((N, d), dtype=dtype)
    for t in range(d):
        for s in range(t, d):
            value = 2 * mu(0, _unit(d, t, s))
            if reconstruction:
                value = value - 2 * mu(-1, _unit(d, 0, t, s))
            F_aa[:, t, s] = value
            F_aa[:, s, t] = value
        F_ac[:, t] = 2 * mu(0, _unit(d, t)) - (2 * mu(-1, _unit(d, 0, t)) if reconstruction
                                               else 0)
    F_cc = 2 * mu(0, _unit(d)) - (2 * mu(-1, _unit(d, 0)) if reconstruction else 0)
    return F, F_a, F_c, F_aa, F_ac, F_cc


def _add_at(target: np.ndarray, columns: np.ndarray, values: np.ndarray) -> None:
    """target[:, columns[k]] += values[:, k] with repeated columns accumulated."""
    if target.dtype == object:
        np.add.at(target, (slice(None), columns), values)
        return
    for row in range(target.shape[0]):
        target[row] += np.bincount(columns, weights=values[row], minlength=target.shape[1])


def _derivatives_in_gram(G, b, sparsity, importance, max_active, order, dps, generators=()):
    """Σ_A P(A) Σ_j I_j F_{A,j} and its derivatives in (G_ij, b_j) (G's entries independent).

    G (B, n, n), b (B, n). Returns (L (B,), D (B, n, n) = ∂L/∂G, Db (B, n),
    HGG (B, n, n, n) [j, i, k] = ∂²L/∂G_ij∂G_kj, HGb (B, n, n) [j, i] = ∂²L/∂G_ij∂b_j,
    Hbb (B, n) = ∂²L/∂b_j²), as far as ``order`` asks.

    With ``generators`` (permutations π under which every point is invariant: G_{π(i)π(k)} =
    G_ik, b_π(j) = b_j, I_π(j) = I_j) the block (π(j), π(A)) equals the block (j, A), so each
    orbit of blocks is evaluated once, weighted by its size; the derivatives are then
    equivariant, and the sums of the representatives' contributions h are symmetrised,
    (1/|Γ|) Σ_π π·h, which is the average of h over each orbit of index tuples.
    """
    B, n = b.shape
    dtype = b.dtype

    def zeros(*shape):
        out = np.zeros(shape, dtype=dtype)
        if dtype is np.dtype(object):
            out[...] = mpmath.mpf(0)
        return out

    # One set of sums per importance vector (importance (K, n): the blocks are evaluated once
    # and weighted K times, each set accumulated in the same order as a call with that vector)
    several = np.ndim(importance) == 2
    vectors = list(importance) if several else [importance]
    sums = [[zeros(B), zeros(B, n * n), zeros(B, n), zeros(B, n**3), zeros(B, n * n),
             zeros(B, n)] for _ in vectors]
    weights = active_set_probabilities(n, sparsity, dps)
    for d in range(max_active + 1):
        if weights[d] == 0:
            continue
        for (rows, outs), reconstruction in zip(_blocks_of_size(n, d), (False, True)):
            multiplicity = None
            if generators and len(outs):
                chosen, multiplicity = _representatives(n, d, reconstruction, generators)
                rows, outs = rows[chosen], outs[chosen]
            P = len(outs)
            if P == 0:
                continue
            a = G[:, rows, outs[:, None]].reshape(B * P, d)
            c = b[:, outs].reshape(B * P)
            cubes = CubeBatch(a, c, dps)
            F, F_a, F_c, F_aa, F_ac, F_cc = _block_derivatives(cubes, d, reconstruction, order)
            for vector, accumulated in zip(vectors, sums):
                _accumulate(accumulated, vector, weights[d], multiplicity, rows, outs, n, order,
                            F, F_a, F_c, F_aa, F_ac, F_cc)
    results = [_finished(accumulated, n, order, generators) for accumulated in sums]
    return results if several else results[0]


def _accumulate(sums, importance, weight, multiplicity, rows, outs, n, order,
                F, F_a, F_c, F_aa, F_ac, F_cc) -> None:
    """Add one list of blocks, weighted by P(A)·I_j (times the orbit sizes), to ``sums``
    (total, D, Db, HGG, HGb, Hbb; see :func:`_derivatives_in_gram`)."""
    B, P, d = len(sums[0]), len(outs), rows.shape[1]
    dtype = sums[0].dtype
    scale = weight * importance[outs]  # (P,)
    if dtype is np.dtype(object):
        scale = np.array([weight * mpmath.mpf(float(v)) for v in importance[outs]],
                         dtype=object)
    if multiplicity is not None:
        scale = scale * (multiplicity.astype(object) if dtype is np.dtype(object)
                         else multiplicity)
    total, D, Db, HGG, HGb, Hbb = sums
    sums[0] = total + (F.reshape(B, P) * scale).sum(axis=1)
    if order >= 1:
        F_a = F_a.reshape(B, P, d) * scale[None, :, None]
        _add_at(D, (rows * n + outs[:, None]).ravel(), F_a.reshape(B, P * d))
        _add_at(Db, outs, F_c.reshape(B, P) * scale)
    if order >= 2:
        F_aa = F_aa.reshape(B, P, d, d) * scale[None, :, None, None]
        target = (outs[:, None, None] * n + rows[:, :, None]) * n + rows[:, None, :]
        _add_at(HGG, target.ravel(), F_aa.reshape(B, P * d * d))
        F_ac = F_ac.reshape(B, P, d) * scale[None, :, None]
        _add_at(HGb, (outs[:, None] * n + rows).ravel(), F_ac.reshape(B, P * d))
        _add_at(Hbb, outs, F_cc.reshape(B, P) * scale)


def _finished(sums, n, order, generators):
    """The sums of :func:`_accumulate` symmetrised (with ``generators``) and shaped."""
    total, D, Db, HGG, HGb, Hbb = sums
    B = len(total)
    if generators and order >= 1:
        D, Db = _orbit_mean(D, _orbit_labels(n, generators, 2)), \
            _orbit_mean(Db, _orbit_labels(n, generators, 1))
    if generators and order >= 2:
        HGG = _orbit_mean(HGG, _orbit_labels(n, generators, 3))
        HGb = _orbit_mean(HGb, _orbit_labels(n, generators, 2))
        Hbb = _orbit_mean(Hbb, _orbit_labels(n, generators, 1))
    # D[i, j] was accumulated at i·n + j (row i of G, output j); HGb at j·n + i.
    return (total, D.reshape(B, n, n), Db, HGG.reshape(B, n, n, n), HGb.reshape(B, n, n), Hbb)


# ----------------------------------------------------------------------------------------------
# Public evaluators


def _evaluate(W, b, sparsity, importance, max_active, dps, order, symmetry=None,
              several=False):
    from critpoints.tms.potential import _gram_and_bias

    sparsity = _check_sparsity(sparsity)
    if dps is not None and (not isinstance(dps, int) or dps < 1):
        raise ValueError(f"dps must be a positive integer; got {dps!r}")
    with mpmath.workdps(dps) if dps is not None else contextlib.nullcontext():
        Wp, bp = _prepare(W, b, dps)
        n = Wp.shape[-1]
        if several:  # rows of importance vectors: see with_importances
            importance = np.array([_check_importance(row, n) for row in importance])
        else:
            importance = _check_importance(importance, n)
        K = _check_max_active(max_active, n)
        batch = Wp.shape[:-2]
        G, _ = _gram_and_bias(Wp, bp)
        G = G.reshape((-1, n, n))
        bf = bp.reshape((-1, n))
        generators = _check_symmetry(symmetry, n)
        if generators:
            _check_invariant(G, bf, importance, generators, dps)
        if dps is not None:
            importance = importance.astype(object)
        S = sparsity if dps is None else mpmath.mpf(sparsity)
        results = _derivatives_in_gram(G, bf, S, importance, K, order, dps, generators)
        return Wp, batch, results


def loss(W: Any, b: Any, sparsity: float, importance: Any = None, max_active: int | None = None,
         dps: int | None = None, symmetry: Any = None):
    """L_{S,I}(W, b), the exact population loss at sparsity S with importances I.

    Parameters
    ----------
    W : array_like, shape (..., m, n)
    b : array_like, shape (..., n)
    sparsity : float
        S ∈ [0, 1]: each feature is active with probability 1 − S.
    importance : array_like, shape (n,), optional
        I_j > 0 (default all ones).
    max_active : int, optional
        Keep only the active sets with |A| ≤ max_active (default n: exact); the omitted part is
        bounded by :func:`truncation_bound`.
    dps : int, optional
        Evaluate one point with mpmath at this many digits.
    symmetry : sequence of permutations, optional
        Generators of a group of feature permutations π under which the point is invariant
        (G_{π(i)π(k)} = G_ik for G = WᵀW, b_π(j) = b_j, I_π(j) = I_j: a regular k-gon's
        rotation and reflection, permutations of identical zero columns): each orbit of blocks
        is evaluated once (ValueError if the point is not invariant to rounding). The same
        value, gradient and Hessian to rounding, at a fraction of the cost.

    Returns
    -------
    float64 array over the batch axes, or an mpmath number with ``dps``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(loss(np.zeros((2, 3)), np.zeros(3), sparsity=0.5)), 12)  # n(1−S)E[ξ²]
    0.5
    """
    _, batch, (total, *_) = _evaluate(W, b, sparsity, importance, max_active, dps, 0, symmetry)
    return total[0] if dps is not None else total.reshape(batch)


def _gradient_in_W(Wp, D):
    """∂L/∂W = W (D + Dᵀ) for G = WᵀW."""
    M = D + np.swapaxes(D, -1, -2)
    if Wp.dtype == object:
        return (Wp[..., :, :, None] * M[..., None, :, :]).sum(axis=-2)
    return np.einsum("...ri,...ik->...rk", Wp, M)


def loss_and_gradient(W: Any, b: Any, sparsity: float, importance: Any = None,
                      max_active: int | None = None, dps: int | None = None,
                      symmetry: Any = None):
    """``(L, dL/dW, dL/db)`` in one pass; see :func:`loss`."""
    Wp, batch, results = _evaluate(W, b, sparsity, importance, max_active, dps, 1, symmetry)
    return _gradient_result(Wp, batch, results, dps)


def _gradient_result(Wp, batch, results, dps):
    """(L, dL/dW, dL/db) shaped like the input, from the sums in G."""
    total, D, Db, *_ = results
    m, n = Wp.shape[-2:]
    Wf = Wp.reshape((-1, m, n))
    dW = _gradient_in_W(Wf, D)
    if dps is not None:
        return total[0], dW[0], Db[0]
    return total.reshape(batch), dW.reshape(batch + (m, n)), Db.reshape(batch + (n,))


def with_importances(W: Any, b: Any, sparsity: float, importances: Any, order: int = 2,
                     max_active: int | None = None) -> list[tuple]:
    """The loss, gradient and (``order`` 2) Hessian for several importance vectors at once
    (float64, batched like :func:`loss`): one tuple ``(L, dL/dW, dL/db[, H])`` per row of
    ``importances`` (shape (K, n)). The blocks do not depend on I, so they are evaluated once
    and weighted K times; each result has the same bits as :func:`loss_and_gradient` and
    :func:`hessian` called with that vector."""
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2; got {order!r}")
    values = np.asarray(importances, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"importances must have shape (K, n); got {values.shape}")
    Wp, batch, results = _evaluate(W, b, sparsity, values, max_active, None, order,
                                   several=True)
    out = []
    for result in results:
        first = _gradient_result(Wp, batch, result, None)
        out.append(first + (_hessian_result(Wp, batch, result, None),) if order == 2 else first)
    return out


def gradient(W: Any, b: Any, sparsity: float, importance: Any = None,
             max_active: int | None = None, dps: int | None = None, symmetry: Any = None):
    """The gradient ``(dL/dW, dL/db)`` of :func:`loss`, shaped like ``(W, b)``."""
    _, dW, db = loss_and_gradient(W, b, sparsity, importance, max_active, dps, symmetry)
    return dW, db


def _gram_jacobian(W):
    """J[..., i, j, r·n + k] = ∂G_ij/∂W_rk = δ_ki W_rj + δ_kj W_ri."""
    m, n = W.shape[-2:]
    eye = np.eye(n, dtype=int)
    if W.dtype == object:
        eye = eye.astype(object)
    # axes (batch, r, i, j, k)
    J = (eye[None, None, :, None, :] * W[:, :, None, :, None]  # δ_ki W_rj
         + eye[None, None, None, :, :] * W[:, :, :, None, None])  # δ_kj W_ri
    # axes (..., r, i, j, k) → (..., i, j, r, k)
    J = np.moveaxis(J, -4, -2)
    return J.reshape(J.shape[:-2] + (m * n,))


def hessian(W: Any, b: Any, sparsity: float, importance: Any = None,
            max_active: int | None = None, dps: int | None = None, symmetry: Any = None):
    """The Hessian of :func:`loss` over θ = (W row-major, b), shape (..., m·n + n, m·n + n).

    Exact: the second derivatives of the closed form (cube moments of order down to the δ
    moment), assembled through G = WᵀW:

        ∇²_W L = Σ_j J_jᵀ H_j J_j + I_m ⊗ (D + Dᵀ),   ∂²L/∂W∂b_j = J_jᵀ h_j,

    with J_j = ∂G_{·j}/∂W, H_j = ∂²L/∂G_{·j}², h_j = ∂²L/∂G_{·j}∂b_j, D = ∂L/∂G.
    """
    Wp, batch, results = _evaluate(W, b, sparsity, importance, max_active, dps, 2, symmetry)
    return _hessian_result(Wp, batch, results, dps)


def _hessian_result(Wp, batch, results, dps):
    """∇²L over θ shaped like the input, from the sums in G (see :func:`hessian`)."""
    _, D, _, HGG, HGb, Hbb = results
    m, n = Wp.shape[-2:]
    Wf = Wp.reshape((-1, m, n))
    J = _gram_jacobian(Wf)  # (B, i, j, mn)
    B = Wf.shape[0]
    dim = m * n + n
    H = np.zeros((B, dim, dim), dtype=Wf.dtype)
    if Wf.dtype == object:
        H[...] = mpmath.mpf(0)
    H_WW = np.einsum("bijp,bjik,bkjq->bpq", J, HGG, J)
    M = D + np.swapaxes(D, -1, -2)
    for r in range(m):
        H_WW[:, r * n:(r + 1) * n, r * n:(r + 1) * n] += M
    H[:, : m * n, : m * n] = H_WW
    H_Wb = np.einsum("bijp,bji->bpj", J, HGb)
    H[:, : m * n, m * n:] = H_Wb
    H[:, m * n:, : m * n] = np.swapaxes(H_Wb, -1, -2)
    for j in range(n):
        H[:, m * n + j, m * n + j] = Hbb[:, j]
    # exactly symmetric (the two einsum orders of the W block round differently)
    H = (H + np.swapaxes(H, -1, -2)) / 2
    if dps is not None:
        return H[0]
    return H.reshape(batch + (dim, dim))
