"""Wall time of a cold ``python -m critpoints enumerate`` for several n, and its growth exponent.

Each run is a fresh interpreter (cold: imports, sympy derivation of the reduced problem, all).
The growth exponent is the slope of log(time) against log(n) over the measured n.

    python bench/enumerate.py [N ...]        (default 4 6 8 12 16)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(sizes: list[int]) -> None:
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            out = Path(folder) / f"tms-n{n}.json"
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "critpoints", "enumerate", "--n", str(n), "--quiet",
                 "--out", str(out)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            print(f"n = {n:>3}: {elapsed:8.2f} s", flush=True)
    if len(sizes) > 1:
        slope = np.polyfit(np.log(sizes), np.log(times), 1)[0]
        print(f"growth exponent (time ~ n^p): p = {slope:.2f}")


if __name__ == "__main__":
    main([int(v) for v in sys.argv[1:]] or [4, 6, 8, 12, 16])
