"""A sweep: many SGD runs split into chunks, run here, on local processes or on a Dask cluster.

Each chunk is simulated and analysed where it runs (:func:`simulate_runs`), and only the plateau
histories come back. Run r's history depends only on (config, r), never on the chunking or on the
worker, so any split gives the same result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field

import numpy as np

from critpoints.catalog import Catalog
from critpoints.dynamics.plateaus import CatalogMatcher, PlateauRule
from critpoints.dynamics.sgd import (
    DivergedRuns,
    SGDProtocol,
    checkpoint_steps,
    gaussian_init,
    perturbed_init,
    run_sgd,
    sample_datasets,
)
from critpoints.dynamics.transitions import RunHistory, run_histories, transition_graph

__all__ = [
    "PAPER_START_LABEL",
    "SweepConfig",
    "chunk_runs",
    "default_init_scale",
    "resolve_init",
    "simulate_runs",
    "sweep",
    "sweep_graph",
]

#: Most runs advanced together in one chunk (enough to amortise numpy's per-call overhead).
MAX_CHUNK = 100
#: ``init="4-gon"`` starts where the paper's developmental-stages run starts (SPEC §4): the
#: first catalog entry with this label.
PAPER_START_LABEL = "4++-"
#: Noise added to a catalog start (std of every parameter).
CATALOG_START_NOISE = 0.01


def resolve_init(init: str, catalog) -> str | None:
    """The start of a sweep: ``"random"``, ``"4-gon"`` (the paper's start, the first entry
    labelled :data:`PAPER_START_LABEL`) or a catalog id; the entry id (or ``"random"``), or
    None if the catalog (a :class:`~critpoints.catalog.Catalog` or its document) has no such
    entry."""
    from critpoints.catalog import Catalog

    if init == "random":
        return init
    catalog = Catalog.of(catalog)
    if init == "4-gon":
        return next((pid for pid, p in catalog.items() if p.get("label") == PAPER_START_LABEL),
                    None)
    return init if init in catalog else None


def default_init_scale(n: int, init: str) -> float:
    """Std of the start: Xavier sqrt(2/(n + 2)) for a random start (fan-in n, fan-out 2), else
    :data:`CATALOG_START_NOISE` around the catalog point."""
    return float(np.sqrt(2 / (n + 2))) if init == "random" else CATALOG_START_NOISE


@dataclass(frozen=True)
class SweepConfig:
    """Everything that determines a sweep's result.

    Attributes
    ----------
    n : int
        Number of features (m = 2 hidden dimensions).
    runs : int
        Number of runs R; run r uses ``SeedSequence(seed, spawn_key=(r,))``.
    seed : int
    protocol : SGDProtocol
    init : str
        ``"random"`` (W with i.i.d. N(0, init_scale²) entries, b = 0) or the id of the catalog
        entry the runs start from, plus N(0, init_scale²) noise on every parameter.
    init_scale : float
    catalog : Catalog
        The catalog (plateaus are matched to its entries); a loaded document is turned into
        its record (:meth:`Catalog.of`).
    rule : PlateauRule
    drop_diverged : bool
        False (default): a run whose parameters become non-finite stops the sweep with
        :class:`~critpoints.dynamics.sgd.DivergedRuns`. True: such runs are left out (their
        history has only ``diverged_at``) and the others go on unchanged.
    """

    n: int
    runs: int
    seed: int
    protocol: SGDProtocol
    init: str
    init_scale: float
    catalog: Catalog = field(repr=False, compare=False, hash=False)
    rule: PlateauRule = PlateauRule()
    drop_diverged: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "catalog", Catalog.of(self.catalog))

    def start_point(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(W, b) of the catalog entry ``init``, or None for ``"random"``.

        Raises
        ------
        critpoints.catalog.UnknownEntryError
            ``init`` is not an id of the catalog (a KeyError).
        """
        if self.init == "random":
            return None
        return self.catalog.parameters(self.init)

    def attributes(self) -> dict:
        """Graph attributes describing the protocol."""
        return {
            "model": {"kind": "tms-high-sparsity", "n": self.n, "m": 2},
            "seed": self.seed,
            "protocol": asdict(self.protocol),
            "init": self.init,
            "init_scale": self.init_scale,
            "plateau_rule": asdict(self.rule),
        }


def simulate_runs(config: SweepConfig, runs: list[int], progress=None) -> list[RunHistory]:
    """Train and analyse the given runs of a sweep (one vectorised call).

    With ``config.drop_diverged``, runs that diverge are recorded (``diverged_at``) and the
    chunk is trained again without them; each run's data, start and minibatches depend only on
    (seed, run), so the other runs' histories do not change.
    """
    dropped: dict[int, int] = {}
    while True:
        try:
            # A retry is not reported to the progress bar: those steps were counted already.
            histories = _simulate(config, [r for r in runs if r not in dropped],
                                  None if dropped else progress)
            break
        except DivergedRuns as exc:
            if not config.drop_diverged:
                raise
            dropped.update(exc.steps)
    histories += [RunHistory(r, [], [], None, diverged_at=s) for r, s in dropped.items()]
    return sorted(histories, key=lambda history: history.run)


def _simulate(config: SweepConfig, runs: list[int], progress=None) -> list[RunHistory]:
    if not runs:
        return []
    n, m = config.n, 2
    features, magnitudes = sample_datasets(n, config.protocol.samples, config.seed, runs)
    start = config.start_point()
    if start is None:
        W0, b0 = gaussian_init(n, m, config.init_scale, config.seed, runs)
    else:
        W0, b0 = perturbed_init(*start, config.init_scale, config.seed, runs)
    trajectory = run_sgd(
        W0,
        b0,
        features,
        magnitudes,
        config.protocol,
        config.seed,
        runs,
        checkpoints=checkpoint_steps(config.protocol.steps),
        progress=progress,
    )
    return run_histories(trajectory, CatalogMatcher(config.catalog), config.rule)


def chunk_runs(runs: int, workers: int) -> list[list[int]]:
    """Consecutive chunks of run indices: at least one per worker, at most MAX_CHUNK runs each."""
    size = max(1, min(MAX_CHUNK, math.ceil(runs / max(workers, 1))))
    return [list(range(start, min(start + size, runs))) for start in range(0, runs, size)]


def sweep(
    config: SweepConfig,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[RunHistory]:
    """Run a sweep and return the histories in run order.

    Parameters
    ----------
    config : SweepConfig
    workers : int
        Local processes (``ProcessPoolExecutor``); 1 runs in this process.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``); the chunks are then
        submitted to that cluster and ``workers`` only sets the chunking.
    progress : callable, optional
        Called with a number of run-steps just completed.
    """
    chunks = chunk_runs(config.runs, workers)
    steps = config.protocol.steps
    results: dict[int, list[RunHistory]] = {}
    if scheduler is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = {
                client.submit(simulate_runs, config, chunk, pure=False): i
                for i, chunk in enumerate(chunks)
            }
            for future in dask_completed(futures):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(len(chunks[futures[future]]) * steps)
    elif workers <= 1:
        for i, chunk in enumerate(chunks):
            size = len(chunk)
            results[i] = simulate_runs(
                config,
                chunk,
                progress=None if progress is None else (lambda s, k=size: progress(s * k)),
            )
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {
                pool.submit(simulate_runs, config, chunk): i for i, chunk in enumerate(chunks)
            }
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(len(chunks[futures[future]]) * steps)
    return [history for i in range(len(chunks)) for history in results[i]]


def sweep_graph(config: SweepConfig, histories: list[RunHistory], extra: dict | None = None,
                landscape=None):
    """The transition graph of a finished sweep (see :func:`transition_graph`), its edges
    mapped onto ``landscape`` (the catalog's landscape graph) when given."""
    attributes = config.attributes()
    attributes.update(extra or {})
    diverged = {h.run: h.diverged_at for h in histories if h.diverged_at is not None}
    if diverged:  # only then: the files of sweeps without divergence stay as they were
        attributes["diverged_runs"] = {str(r): s for r, s in sorted(diverged.items())}
    trained = [h for h in histories if h.diverged_at is None]
    return transition_graph(trained, config.catalog, attributes, landscape)
