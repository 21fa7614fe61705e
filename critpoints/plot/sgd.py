"""A small, seeded SGD sweep for the loss-curve figure (no matplotlib here)."""

from __future__ import annotations

from dataclasses import dataclass

from critpoints.catalog import Catalog
from critpoints.dynamics.plateaus import CatalogMatcher
from critpoints.dynamics.sgd import (
    SGDProtocol,
    Trajectory,
    checkpoint_steps,
    gaussian_init,
    perturbed_init,
    run_sgd,
    sample_datasets,
)
from critpoints.dynamics.transitions import RunHistory, run_histories

__all__ = ["SmallSweep", "small_sweep"]


@dataclass
class SmallSweep:
    """Trajectories of a few runs and their identified plateaus."""

    trajectory: Trajectory
    histories: list[RunHistory]


def small_sweep(
    catalog: Catalog | dict,
    runs: int = 6,
    steps: int = 60_000,
    seed: int = 0,
    init: str = "4++-",
    init_scale: float = 0.01,
    protocol: SGDProtocol | None = None,
) -> SmallSweep:
    """Run ``runs`` SGD runs of the paper's protocol (shortened) and identify their plateaus.

    Run r uses ``SeedSequence(seed, spawn_key=(r,))`` exactly as
    ``python -m critpoints transitions`` does, so these runs are the first runs of that sweep
    (truncated to ``steps``).

    Parameters
    ----------
    catalog : Catalog or dict
        The catalog of this n, or its loaded document (plateaus are matched to its entries).
    runs, steps, seed : int
    init : str
        ``"random"`` or the id of the catalog entry the runs start from (default ``"4++-"``, the
        paper's developmental start).
    init_scale : float
        Standard deviation of the initial noise (or of W for ``"random"``).
    protocol : SGDProtocol, optional
        Default: N = 1000, batch 20, lr 0.005 (the paper's) with ``steps`` steps.
    """
    catalog = Catalog.of(catalog)
    n = catalog.model.n
    protocol = protocol or SGDProtocol(steps=steps)
    indices = list(range(runs))
    features, magnitudes = sample_datasets(n, protocol.samples, seed, indices)
    if init == "random":
        W0, b0 = gaussian_init(n, 2, init_scale, seed, indices)
    else:
        W0, b0 = perturbed_init(*catalog.parameters(init), init_scale, seed, indices)
    trajectory = run_sgd(W0, b0, features, magnitudes, protocol, seed, indices,
                         checkpoints=checkpoint_steps(protocol.steps))
    return SmallSweep(trajectory, run_histories(trajectory, CatalogMatcher(catalog)))
