"""Independent jobs in worker processes, results in job order (so the output does not depend on
how many workers ran them)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["mapped"]


def mapped(function: Callable, jobs: list, workers: int,
           tick: Callable[[str, int, int], None], stage: str) -> list:
    """``[function(job) for job in jobs]``, in ``workers`` processes when > 1, in order;
    ``tick(stage, done, total)`` after each result."""
    out = []
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for done, result in enumerate(pool.map(function, jobs), 1):
                out.append(result)
                tick(stage, done, len(jobs))
    else:
        for done, job in enumerate(jobs, 1):
            out.append(function(job))
            tick(stage, done, len(jobs))
    return out
