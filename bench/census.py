"""Wall time of ``python -m critpoints census`` for several n at one budget, by stage, and its
growth exponent.

Each run is a fresh interpreter; the stage times come from the census's own progress lines
(elapsed seconds at the end of the random starts and moves of every round, of the refinement and
of the classification), so the table says where the time goes. The growth exponent is the slope
of log(time) against log(n). The machine's load average is printed before and after: quote it
with the figures.

    python bench/census.py [N ...] [--budget R] [--round-starts R] [--workers K]
    (default n: 4 5 6; budget 12000, 6000 per round)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STAGE = re.compile(r"\[\s*([\d.]+) s\] (.+?): (\d+)/(\d+)\s*$", re.M)


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def run(n: int, budget: int, round_starts: int, workers: int, folder: Path
        ) -> tuple[float, dict[str, float]]:
    """Wall time of one census and the time spent per stage kind (search, refine, classify)."""
    command = [sys.executable, "-m", "critpoints", "census", "--n", str(n), "--budget",
               str(budget), "--round-starts", str(round_starts), "--workers", str(workers),
               "--no-landscape", "--out", str(folder / f"tms-n{n}-m2.json")]
    start = time.perf_counter()
    result = subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - start
    ends: dict[str, float] = {}
    for elapsed, stage, done, total in STAGE.findall(result.stderr.replace("\r", "\n")):
        if done == total:
            ends[stage] = float(elapsed)
    stages, last = {"patterns": 0.0, "search": 0.0, "refine": 0.0, "classify": 0.0}, 0.0
    for stage, elapsed in sorted(ends.items(), key=lambda item: item[1]):
        kind = ("classify" if stage == "classify" else "refine" if stage.startswith("refine")
                else "patterns" if stage in ("patterns", "search from broken ansatzes")
                else "search")
        stages[kind] += elapsed - last
        last = elapsed
    return wall, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[4, 5, 6])
    parser.add_argument("--budget", type=int, default=12_000)
    parser.add_argument("--round-starts", type=int, default=6_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"load average before: {_load()}")
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            wall, stages = run(n, args.budget, args.round_starts, args.workers, Path(folder))
            times.append(wall)
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
            print(f"n = {n:>2}: {wall:7.1f} s ({parts})", flush=True)
    if len(times) > 1:
        slope = np.polyfit(np.log(args.sizes), np.log(times), 1)[0]
        print(f"growth exponent (time ~ n^p): p = {slope:.2f}")
    print(f"load average after: {_load()}  ({time.strftime('%Y-%m-%d %H:%M')})")


if __name__ == "__main__":
    main()
