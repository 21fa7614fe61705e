"""Vectorised minibatch SGD on the empirical TMS loss, many independent runs at once.

Every array carries a leading *run* axis R; one Python iteration advances all runs by one SGD
step. Runs differ in their data set, their initialisation, their minibatch order and (optionally)
their learning rate; the data-set size N, the batch size and the number of steps are shared by
the runs of one call (group runs that differ in those into separate calls).

Sparse data
-----------
In the high-sparsity limit every sample is x = mu e_f (SPEC §2), stored as the pair
(feature f, magnitude mu). For one sample the pre-activations are

    pre_j = mu G_fj + b_j,    G = WᵀW,

so a minibatch step costs O(batch · n · m) instead of the O(batch · n²) of dense samples, and the
backward pass needs only column f of G. With d_j = dℓ/dpre_j = 2 (ReLU(pre_j) - x_j) [pre_j > 0]:

    dL/db_j   = (1/B) Σ_t d_tj
    dL/dW_i   = (1/B) Σ_t mu_t ( [f_t = i] Σ_j d_tj W_j  +  d_ti W_{f_t} ).

Reproducibility
---------------
Run r of a sweep with seed s draws everything from ``SeedSequence(s, spawn_key=(r,))`` (which is
child r of ``SeedSequence(s).spawn``): its data set, its initial noise and its minibatch order come
from three independent children of that sequence. A run's trajectory is therefore the same whether
it is advanced alone, in a batch of a thousand, or on another worker; the arithmetic is elementwise
or reduces over non-run axes only, so it is the same to the last bit as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from critpoints.tms import potential

__all__ = [
    "DivergedRuns",
    "SGDProtocol",
    "Trajectory",
    "checkpoint_steps",
    "gaussian_init",
    "minibatch_gradient",
    "minibatch_order",
    "perturbed_init",
    "run_seed_sequence",
    "run_sgd",
    "sample_datasets",
    "sparse_empirical_loss",
]

# Children of a run's SeedSequence, by purpose.
_DATA, _INIT, _ORDER = 0, 1, 2
# Epochs of minibatch order drawn per call of the generator. Fixed so that the stream of a run never
# depends on how the steps are split (changing it changes every trajectory: it is part of the
# protocol).
_EPOCHS_PER_DRAW = 4


@dataclass(frozen=True)
class SGDProtocol:
    """The training protocol shared by the runs of a sweep.

    Defaults are the paper's (Chen et al. 2023, §5): N = 1000 samples, batch 20, learning rate
    0.005, 4500 epochs = 225 000 steps.

    Attributes
    ----------
    samples : int
        N, the size of each run's data set.
    batch : int
        Minibatch size. Each epoch visits the data in a fresh random order in ``samples // batch``
        minibatches (the remainder of the shuffled order is dropped, as ``drop_last=True``).
    lr : float
        Learning rate of plain SGD (no momentum, no weight decay).
    steps : int
        SGD steps per run.
    """

    samples: int = 1000
    batch: int = 20
    lr: float = 0.005
    steps: int = 225_000

    def __post_init__(self):
        if self.samples < 1 or self.batch < 1 or self.steps < 0:
            raise ValueError("samples and batch must be positive and steps non-negative")
        if self.batch > self.samples:
            raise ValueError(f"batch ({self.batch}) exceeds the data-set size ({self.samples})")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"the learning rate must be positive; got {self.lr}")

    @property
    def steps_per_epoch(self) -> int:
        return self.samples // self.batch


@dataclass
class Trajectory:
    """Checkpoints of R runs (arrays have the run axis first).

    Attributes
    ----------
    runs : ndarray of int, shape (R,)
        Run indices (the r of ``SeedSequence(seed, spawn_key=(r,))``).
    steps : ndarray of int, shape (K,)
        Step counts of the checkpoints (0 = initialisation).
    W : ndarray, shape (R, K, m, n)
    b : ndarray, shape (R, K, n)
    empirical_loss : ndarray, shape (R, K)
        Loss on the run's own N samples.
    population_loss : ndarray, shape (R, K)
        The population potential L(W, b) of SPEC §2.
    """

    runs: np.ndarray
    steps: np.ndarray
    W: np.ndarray
    b: np.ndarray
    empirical_loss: np.ndarray
    population_loss: np.ndarray


# ----------------------------------------------------------------------------------------------
# Seeds, data and initialisation


class DivergedRuns(FloatingPointError):
    """Runs whose parameters became non-finite (inf or NaN): ``steps`` maps run → step."""

    def __init__(self, steps: dict[int, int]):
        self.steps = dict(steps)
        shown = ", ".join(f"run {r} at step {s}" for r, s in sorted(self.steps.items()))
        super().__init__(f"SGD diverged (non-finite parameters): {shown}")

    def __reduce__(self):  # rebuilt from ``steps`` when sent back from a worker process
        return (type(self), (self.steps,))


def run_seed_sequence(seed: int, run: int) -> np.random.SeedSequence:
    """The SeedSequence of run ``run`` of a sweep with seed ``seed`` (child ``run`` of ``seed``)."""
    return np.random.SeedSequence(seed, spawn_key=(int(run),))


def _child_rng(seed: int, run: int, purpose: int) -> np.random.Generator:
    parent = run_seed_sequence(seed, run)
    child = np.random.SeedSequence(parent.entropy, spawn_key=parent.spawn_key + (purpose,))
    return np.random.default_rng(child)


def sample_datasets(
    n: int, samples: int, seed: int, runs: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Each run's data set in sparse form: features (R, N) ints and magnitudes (R, N).

    Run r's samples are ``critpoints.tms.data.sample_high_sparsity(n, samples, rng)`` for the same
    generator ``rng`` (feature indices drawn first, then magnitudes), in sparse form.
    """
    features = np.empty((len(runs), samples), dtype=np.intp)
    magnitudes = np.empty((len(runs), samples))
    for row, r in enumerate(runs):
        rng = _child_rng(seed, r, _DATA)
        features[row] = rng.integers(0, n, size=samples)
        magnitudes[row] = rng.random(size=samples)
    return features, magnitudes


def gaussian_init(
    n: int, m: int, scale: float, seed: int, runs: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """W with i.i.d. N(0, scale²) entries and b = 0, for each run: shapes (R, m, n), (R, n)."""
    W = np.empty((len(runs), m, n))
    for row, r in enumerate(runs):
        W[row] = scale * _child_rng(seed, r, _INIT).standard_normal((m, n))
    return W, np.zeros((len(runs), n))


def perturbed_init(
    W0, b0, noise: float, seed: int, runs: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """A fixed point (W0, b0) plus i.i.d. N(0, noise²) on every entry of W and b, for each run."""
    W0 = np.asarray(W0, dtype=float)
    b0 = np.asarray(b0, dtype=float)
    m, n = W0.shape
    W = np.empty((len(runs), m, n))
    b = np.empty((len(runs), n))
    for row, r in enumerate(runs):
        z = _child_rng(seed, r, _INIT).standard_normal(m * n + n)
        W[row] = W0 + noise * z[: m * n].reshape(m, n)
        b[row] = b0 + noise * z[m * n :]
    return W, b


def minibatch_order(
    samples: int, batch: int, steps: int, seed: int, runs: Sequence[int]
) -> _OrderStream:
    """Per-run minibatch sample indices, drawn epoch by epoch: see :class:`_OrderStream`."""
    return _OrderStream(samples, batch, steps, seed, runs)


class _OrderStream:
    """Yields blocks of minibatch sample indices, shape (R, steps_in_block, batch).

    Each epoch is an independent uniform permutation of the run's N samples (numpy's
    ``Generator.permuted``, ``_EPOCHS_PER_DRAW`` epochs per call); the first
    ``(N // batch) · batch`` entries of the permutation make the epoch's minibatches.
    """

    def __init__(self, samples, batch, steps, seed, runs):
        self.samples, self.batch, self.steps = samples, batch, steps
        self.per_epoch = samples // batch
        self.rngs = [_child_rng(seed, r, _ORDER) for r in runs]

    def __iter__(self):
        done = 0
        R, N, E = len(self.rngs), self.samples, _EPOCHS_PER_DRAW
        base = np.broadcast_to(np.arange(N), (E, N))
        used = self.per_epoch * self.batch
        order = np.empty((R, E, N), dtype=np.intp)
        while done < self.steps:
            for row, rng in enumerate(self.rngs):
                rng.permuted(base, axis=1, out=order[row])
            block = order[:, :, :used].reshape(R, E * self.per_epoch, self.batch)
            take = min(block.shape[1], self.steps - done)
            yield block[:, :take]
            done += take


# ----------------------------------------------------------------------------------------------
# Loss and gradient on sparse samples


def _column_gram(W: np.ndarray, f: np.ndarray) -> np.ndarray:
    """G_{f_t j} = W_{f_t}·W_j for every sample: W (R, m, n), f (R, B) → (R, B, n)."""
    Wf = np.take_along_axis(W, f[:, None, :], axis=2)  # (R, m, B)
    return np.swapaxes(Wf, 1, 2) @ W


def sparse_empirical_loss(W, b, features, magnitudes) -> np.ndarray:
    """Mean of ‖x - ReLU(WᵀW x + b)‖² over each run's samples x = mu e_f.

    Parameters
    ----------
    W : array_like, shape (R, m, n)
    b : array_like, shape (R, n)
    features, magnitudes : array_like, shape (R, N)

    Returns
    -------
    ndarray, shape (R,)
        Equal to ``critpoints.tms.data.empirical_loss`` on the dense samples.
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    f = np.asarray(features)
    mu = np.asarray(magnitudes, dtype=float)
    out = np.maximum(mu[..., None] * _column_gram(W, f) + b[:, None, :], 0.0)
    own = np.take_along_axis(out, f[..., None], axis=2)[..., 0]
    # ‖out - mu e_f‖² = ‖out‖² - out_f² + (out_f - mu)²
    per_sample = (out**2).sum(axis=2) - own**2 + (own - mu) ** 2
    return per_sample.mean(axis=1)


class _Minibatch:
    """Index arrays of one minibatch, shared by the forward and backward pass.

    ``feature_rows`` indexes row f_t of run r in an (R·n, ·) array; ``own`` indexes entry
    (r, t, f_t) of an (R, B, n) array.
    """

    __slots__ = ("B", "R", "feature_rows", "mu", "n", "own")

    def __init__(self, features: np.ndarray, magnitudes: np.ndarray, n: int):
        R, B = features.shape
        self.R, self.B, self.n = R, B, n
        self.mu = np.ascontiguousarray(magnitudes)
        run = np.arange(R)[:, None]
        self.feature_rows = (run * n + features).reshape(-1)
        self.own = ((run * B + np.arange(B)) * n + features).reshape(-1)


def _stacked_gradient(P: np.ndarray, batch: _Minibatch) -> np.ndarray:
    """Minibatch gradient with respect to P = [W; b] (shape (R, m+1, n)), in the layout of Pᵀ.

    With u_t = (mu_t W_{f_t}, 1) the pre-activations are pre_t = u_t P, so the forward pass
    and the gradient's "seen" part Σ_t d_t u_tᵀ (which contains db in its last slot) are two
    small batched matrix products; the "pulled" part Σ_j d_tj W_j goes back to column f_t by
    a bincount (a deterministic scatter-add).
    """
    R, B, n = batch.R, batch.B, batch.n
    m1 = P.shape[1]
    Pt = np.ascontiguousarray(np.swapaxes(P, 1, 2))  # (R, n, m+1): rows (W_i, b_i)
    u = np.take(Pt.reshape(R * n, m1), batch.feature_rows, axis=0).reshape(R, B, m1)
    u *= batch.mu[..., None]
    u[..., -1] = 1.0
    d = u @ P  # pre-activations (R, B, n)
    np.maximum(d, 0.0, out=d)
    # d_tj = ReLU(pre_tj) - x_tj on the active outputs; only j = f_t has a target x = mu.
    flat = d.reshape(-1)
    own = flat[batch.own]
    flat[batch.own] = np.where(own > 0.0, own - batch.mu.reshape(-1), 0.0)
    grad = np.swapaxes(d, 1, 2) @ u  # (R, n, m+1): Σ_t d_ti (mu_t W_{f_t}, 1)
    pulled = d @ Pt  # (R, B, m+1): Σ_j d_tj (W_j, b_j); the bias slot is unused
    pulled *= batch.mu[..., None]
    for a in range(m1 - 1):
        grad[:, :, a] += np.bincount(
            batch.feature_rows, weights=pulled[..., a].reshape(-1), minlength=R * n
        ).reshape(R, n)
    grad *= 2.0 / B
    return grad


def minibatch_gradient(W, b, features, magnitudes) -> tuple[np.ndarray, np.ndarray]:
    """Gradient ``(dW, db)`` of the mean loss over a minibatch of sparse samples, per run.

    Parameters
    ----------
    W : array_like, shape (R, m, n)
    b : array_like, shape (R, n)
    features : array_like of int, shape (R, B)
    magnitudes : array_like, shape (R, B)

    Returns
    -------
    dW : ndarray, shape (R, m, n)
    db : ndarray, shape (R, n)
        Equal to the gradient of ``critpoints.tms.data.empirical_loss_and_gradient`` on the dense
        samples (the ReLU'(0) = 0 convention included).
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    _, m, n = W.shape
    P = np.concatenate([W, b[:, None, :]], axis=1)
    batch = _Minibatch(np.asarray(features, dtype=np.intp), np.asarray(magnitudes, float), n)
    grad = _stacked_gradient(P, batch)
    return np.swapaxes(grad[..., :m], 1, 2), grad[..., m]


# ----------------------------------------------------------------------------------------------
# The SGD loop


def checkpoint_steps(steps: int, log_points: int = 200, regular_points: int = 200) -> np.ndarray:
    """Checkpoint steps: 0, about ``log_points`` log-spaced steps in [1, steps] and
    ``regular_points`` evenly spaced ones (log spacing resolves early plateaus, even spacing the
    late ones)."""
    if steps == 0:
        return np.zeros(1, dtype=np.int64)
    log = np.rint(np.logspace(0, np.log10(steps), max(log_points, 2)))
    regular = np.rint(np.linspace(0, steps, max(regular_points, 2)))
    return np.unique(np.concatenate([[0, steps], log, regular]).astype(np.int64))


def run_sgd(
    W0,
    b0,
    features,
    magnitudes,
    protocol: SGDProtocol,
    seed: int,
    runs: Sequence[int],
    *,
    lr=None,
    checkpoints: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> Trajectory:
    """Advance R runs of minibatch SGD together and record them at checkpoints.

    Parameters
    ----------
    W0 : array_like, shape (R, m, n)
    b0 : array_like, shape (R, n)
        Initial parameters, one per run.
    features, magnitudes : array_like, shape (R, N)
        Each run's data set (see :func:`sample_datasets`).
    protocol : SGDProtocol
        Batch size and number of steps (N must equal ``features.shape[1]``).
    seed : int
        Sweep seed; run r's minibatch order comes from ``run_seed_sequence(seed, r)``.
    runs : sequence of int
        The run indices r of the R rows.
    lr : float or array_like of shape (R,), optional
        Per-run learning rates; default ``protocol.lr`` for all.
    checkpoints : array of int, optional
        Steps at which to record; default :func:`checkpoint_steps`.
    progress : callable, optional
        Called with the number of steps just completed (for progress bars).

    Returns
    -------
    Trajectory

    Raises
    ------
    DivergedRuns
        At the first step after which some run's parameters are not finite (the learning rate
        is too large for it); it names those runs and the step.
    """
    W0 = np.asarray(W0, dtype=float)
    b0 = np.asarray(b0, dtype=float)
    features = np.asarray(features, dtype=np.intp)
    magnitudes = np.asarray(magnitudes, dtype=float)
    R, m = W0.shape[:2]
    if features.shape != (R, protocol.samples) or magnitudes.shape != features.shape:
        raise ValueError(
            f"data must have shape (R, N) = ({R}, {protocol.samples}); got {features.shape}"
        )
    if len(runs) != R:
        raise ValueError(f"{len(runs)} run indices for {R} runs")
    eta = np.broadcast_to(np.asarray(protocol.lr if lr is None else lr, dtype=float), (R,))
    eta = eta[:, None, None].copy()
    # P stacks the parameters of a run as rows (W_1 … W_m, b): one update covers both.
    P = np.concatenate([W0, b0[:, None, :]], axis=1)
    if checkpoints is None:
        checkpoints = checkpoint_steps(protocol.steps)
    recorder = _CheckpointRecorder(np.asarray(checkpoints, dtype=np.int64), P)
    _advance(P, eta, features, magnitudes, protocol, seed, runs, recorder, progress)
    W_rec = np.ascontiguousarray(recorder.P_rec[:, :, :m])
    b_rec = np.ascontiguousarray(recorder.P_rec[:, :, m])
    K = recorder.checkpoints.size
    empirical = np.stack(
        [sparse_empirical_loss(W_rec[:, j], b_rec[:, j], features, magnitudes) for j in range(K)],
        axis=1,
    )
    population = potential.loss(W_rec, b_rec)
    return Trajectory(np.asarray(runs), recorder.checkpoints, W_rec, b_rec, empirical,
                      population)


class _CheckpointRecorder:
    """Copies of the stacked parameters P (R, m + 1, n) at the checkpoint steps."""

    def __init__(self, checkpoints: np.ndarray, P: np.ndarray):
        self.checkpoints = checkpoints
        self.P_rec = np.empty((P.shape[0], checkpoints.size, *P.shape[1:]))
        self.next = 0
        self.record(0, P)

    def record(self, step: int, P: np.ndarray) -> None:
        """Record P for every checkpoint equal to ``step`` (checkpoints are sorted)."""
        K = self.checkpoints.size
        while self.next < K and self.checkpoints[self.next] == step:
            self.P_rec[:, self.next] = P
            self.next += 1


def _advance(P: np.ndarray, eta: np.ndarray, features: np.ndarray, magnitudes: np.ndarray,
             protocol: SGDProtocol, seed: int, runs: Sequence[int],
             recorder: _CheckpointRecorder, progress: Callable[[int], None] | None) -> None:
    """All SGD steps of the protocol on P (in place), recording at the checkpoints."""
    n = P.shape[2]
    run_offset = (np.arange(P.shape[0]) * protocol.samples)[:, None, None]
    flat_features, flat_magnitudes = features.reshape(-1), magnitudes.reshape(-1)
    step = 0
    # Overflow is not warned about: a diverging run is detected and reported as DivergedRuns.
    with np.errstate(over="ignore", invalid="ignore"):
        for block in minibatch_order(protocol.samples, protocol.batch, protocol.steps, seed, runs):
            flat = block + run_offset  # (R, S, batch) indices into the flattened data sets
            f_block = np.take(flat_features, flat)
            mu_block = np.take(flat_magnitudes, flat)
            for s in range(block.shape[1]):
                grad = _stacked_gradient(P, _Minibatch(f_block[:, s], mu_block[:, s], n))
                P -= eta * np.swapaxes(grad, 1, 2)
                step += 1
                if not np.isfinite(P.sum()):  # one reduction per step; inf/NaN anywhere shows here
                    bad = np.flatnonzero(~np.isfinite(P).all(axis=(1, 2)))
                    raise DivergedRuns({int(runs[i]): step for i in bad})
                recorder.record(step, P)
            if progress is not None:
                progress(block.shape[1])
