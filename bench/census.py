"""Wall time of ``python -m critpoints census`` for several n at one budget, by stage, its
growth exponent, and the ratio to a previous implementation measured in the same run.

Each run is a fresh interpreter; the stage times come from the census's own progress lines
(elapsed seconds at the end of the random starts and moves of every round, of the refinement and
of the classification), so the table says where the time goes. The growth exponent is the slope
of log(time) against log(n). With ``--baseline REF`` the tree of that git commit is exported
(``git archive``) and, for every n, the two implementations run in turn (new, old, new, ...),
so that the ratio holds on a shared machine whose speed drifts; the two catalogs of the last
repetition are compared byte for byte (and the landscape files with ``--landscape``). Each tree
first runs a tiny census (n = 2), so that numba's compilation of a fresh tree is not timed. The
machine's load average is printed before and after: quote it with the figures.

    python bench/census.py [N ...] [--budget R] [--round-starts R] [--workers K]
                           [--landscape] [--baseline REF] [--repeat R]
    (default n: 4 5 6; budget 12000, 6000 per round, no landscape)
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from enumerate import _children_cpu, _export  # noqa: E402

STAGE = re.compile(r"\[\s*([\d.]+) s\] (.+?): (\d+)/(\d+)\s*$", re.M)
KINDS = ("patterns", "search", "refine", "classify", "landscape")


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def run(tree: Path, n: int, budget: int, round_starts: int, workers: int, out: Path,
        landscape: bool) -> tuple[float, float, dict[str, float]]:
    """(wall, CPU, seconds per stage kind) of one census (with its landscape if asked)."""
    command = [sys.executable, "-m", "critpoints", "census", "--n", str(n), "--budget",
               str(budget), "--round-starts", str(round_starts), "--workers", str(workers),
               "--out", str(out)] + ([] if landscape else ["--no-landscape"])
    start, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=tree,
                            env={**os.environ, "PYTHONPATH": str(tree)})
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    ends: dict[str, float] = {}
    for elapsed, stage, done, total in STAGE.findall(result.stderr.replace("\r", "\n")):
        if done == total:
            ends[stage] = float(elapsed)
    stages, last = dict.fromkeys(KINDS, 0.0), 0.0
    for stage, elapsed in sorted(ends.items(), key=lambda item: item[1]):
        kind = ("classify" if stage == "classify" else "refine" if stage.startswith("refine")
                else "patterns" if stage in ("patterns", "search from broken ansatzes")
                else "search")
        stages[kind] += elapsed - last
        last = elapsed
    stages["landscape"] = wall - last if landscape else 0.0  # after the census's last stage
    return wall, cpu, stages


def _same_files(first: Path, second: Path, n: int, landscape: bool) -> str:
    names = [f"tms-n{n}-m2.json"] + ([f"tms-n{n}-m2.landscape.json",
                                      f"tms-n{n}-m2.landscape.graphml"] if landscape else [])
    differ = [name for name in names
              if not filecmp.cmp(first / name, second / name, shallow=False)]
    return "the same bytes" if not differ else "differ: " + ", ".join(differ)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[4, 5, 6])
    parser.add_argument("--budget", type=int, default=12_000)
    parser.add_argument("--round-starts", type=int, default=6_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--landscape", action="store_true",
                        help="also build the landscape graph (the census's default)")
    parser.add_argument("--baseline", metavar="REF",
                        help="git commit to time against in the same run (e.g. 087a99a)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per n and implementation (the median is reported)")
    args = parser.parse_args(argv)
    print(f"load average (1, 5, 15 min) before: {_load()}; cores: {os.cpu_count()}", flush=True)
    times = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        baseline = _export(args.baseline, folder) if args.baseline else None
        (folder / "new").mkdir()
        (folder / "old").mkdir()
        # a fresh tree compiles its numba kernels on first use (~6 s of CPU): warm both up
        for tree in [ROOT] + ([baseline] if baseline is not None else []):
            run(tree, 2, 6, 3, 1, folder / "warm-up.json", False)
        for n in args.sizes:
            runs_new, runs_old = [], []
            for _ in range(args.repeat):
                runs_new.append(run(ROOT, n, args.budget, args.round_starts, args.workers,
                                    folder / "new" / f"tms-n{n}-m2.json", args.landscape))
                if baseline is not None:
                    runs_old.append(run(baseline, n, args.budget, args.round_starts,
                                        args.workers, folder / "old" / f"tms-n{n}-m2.json",
                                        args.landscape))
            wall = float(np.median([r[0] for r in runs_new]))
            times.append(wall)
            stages = runs_new[len(runs_new) // 2][2]
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items() if v)
            line = (f"n = {n:>2}: {wall:7.1f} s (CPU {np.median([r[1] for r in runs_new]):.1f}"
                    f" s; {parts})")
            if baseline is not None:
                old = float(np.median([r[0] for r in runs_old]))
                ratio = np.median([a[0] / b[0] for a, b in zip(runs_new, runs_old)])
                old_stages = runs_old[len(runs_old) // 2][2]
                old_parts = ", ".join(f"{k} {v:.1f} s" for k, v in old_stages.items() if v)
                line += (f"\n        baseline {old:7.1f} s (CPU "
                         f"{np.median([r[1] for r in runs_old]):.1f} s; {old_parts})"
                         f"\n        new/old wall {ratio:.3f}; files: "
                         f"{_same_files(folder / 'new', folder / 'old', n, args.landscape)}")
            print(line, flush=True)
    if len(times) > 1:
        slope = np.polyfit(np.log(args.sizes), np.log(times), 1)[0]
        print(f"growth exponent (time ~ n^p): p = {slope:.2f}")
    print(f"load average after: {_load()}  ({time.strftime('%Y-%m-%d %H:%M')})")


if __name__ == "__main__":
    main()
