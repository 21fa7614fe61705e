"""Independent jobs in worker processes, results in job order (so the output does not depend on
how many workers ran them)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["mapped"]


def mapped(function: Callable, jobs: list, workers: int,
           tick: Callable[[str, int, int], None], stage: str,
           on_result: Callable[[list], None] | None = None) -> list:
    """``[function(job) for job in jobs]``, in ``workers`` processes when > 1, in order;
    ``tick(stage, done, total)`` and ``on_result(results so far)`` after each result."""
    out: list = []

    def collect(result) -> None:
        out.append(result)
        tick(stage, len(out), len(jobs))
        if on_result is not None:
            on_result(out)

    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(function, jobs):
                collect(result)
    else:
        for job in jobs:
            collect(function(job))
    return out
