"""Wall time of a cold ``python -m critpoints enumerate`` for several n, its growth exponent,
and the ratio to a previous implementation measured in the same run.

Each run is a fresh interpreter (cold: imports, screening, searches, classification, all).
The growth exponent is the slope of log(time) against log(n) over the measured n. With
``--baseline REF`` the tree of that git commit is exported (``git archive``) to a temporary
folder and, for every n, the two implementations run in turn (new, old, new, old, ...), so
that the ratio holds on a shared machine whose speed drifts; the two catalogs of the last
repetition are compared (``bench/compare_catalogs.py``: ids, losses, classifications).

    python bench/enumerate.py [N ...] [--baseline REF] [--repeat R] [--workers K]
    (default n: 4 6 8 12 16)

Both trees run once, untimed, at the smallest n before the figures (numba compiles its kernels
into a fresh tree's cache on its first run: ≈ 6 s of CPU that would otherwise count against
the exported baseline). The machine's load average is printed before and after: quote it with
the figures. Besides the wall time each run's CPU time (user + sys of the command and its worker
processes) is printed: on a loaded machine it moves far less than the wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_catalogs import compare  # noqa: E402


def _export(ref: str, folder: Path) -> Path:
    """The tree of commit ``ref`` unpacked into ``folder``."""
    archive = folder / "baseline.tar"
    with open(archive, "wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=out, check=True)
    tree = folder / "baseline"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(tree: Path, n: int, out: Path, workers: int | None) -> tuple[float, float]:
    """(wall, CPU) seconds of one cold run."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", "critpoints", "enumerate", "--n", str(n), "--quiet",
               "--out", str(out)]
    if workers is not None:
        command += ["--workers", str(workers)]
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=tree)
    return time.perf_counter() - start, _children_cpu() - cpu


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _exponent(sizes: list[int], times: list[float]) -> float:
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[4, 6, 8, 12, 16])
    parser.add_argument("--baseline", metavar="REF",
                        help="git commit to time against in the same run (e.g. 9313e17)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per n and implementation "
                        "(the median is reported)")
    parser.add_argument("--workers", type=int, help="--workers for both (default: theirs)")
    args = parser.parse_args(argv)
    print(f"load average (1, 5, 15 min) before: {_load()}; cores: {os.cpu_count()}", flush=True)
    new_times, old_times = [], []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        baseline = _export(args.baseline, folder) if args.baseline else None
        # numba compiles its kernels into a tree's cache on the tree's first run (≈ 6 s of
        # CPU): one untimed run of each tree first, so that neither pays it in the figures
        for tree in [ROOT] + ([baseline] if baseline is not None else []):
            _run(tree, min(args.sizes), folder / "warm-up.json", args.workers)
        for n in args.sizes:
            runs_new, runs_old = [], []
            for _ in range(args.repeat):
                runs_new.append(_run(ROOT, n, folder / f"new-{n}.json", args.workers))
                if baseline is not None:
                    runs_old.append(_run(baseline, n, folder / f"old-{n}.json", args.workers))
            new_times.append(float(np.median([wall for wall, _ in runs_new])))
            new_cpu = float(np.median([cpu for _, cpu in runs_new]))
            line = f"n = {n:>3}: {new_times[-1]:8.2f} s (CPU {new_cpu:8.2f} s)"
            if baseline is not None:
                old_times.append(float(np.median([wall for wall, _ in runs_old])))
                old_cpu = float(np.median([cpu for _, cpu in runs_old]))
                ratios = [a[0] / b[0] for a, b in zip(runs_new, runs_old)]
                cpu_ratios = [a[1] / b[1] for a, b in zip(runs_new, runs_old)]
                _, report = compare(str(folder / f"old-{n}.json"),
                                    str(folder / f"new-{n}.json"))
                line += (f"   baseline {old_times[-1]:8.2f} s (CPU {old_cpu:8.2f} s)"
                         f"   new/old wall {np.median(ratios):.3f} CPU {np.median(cpu_ratios):.3f}"
                         f"   catalogs: {report.splitlines()[0]}")
            print(line, flush=True)
    if len(args.sizes) > 1:
        print(f"growth exponent (time ~ n^p): p = {_exponent(args.sizes, new_times):.2f}"
              + (f" (baseline {_exponent(args.sizes, old_times):.2f})" if old_times else ""))
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
