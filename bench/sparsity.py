"""Cost of the exact finite-sparsity potential (docs/sparsity.md, "Cost").

Prints a Markdown table, measured in this run on one random point per n (W normal·0.8 with
m = 2, b normal·0.3, S = 0.5): the vertex terms n·3ⁿ of one value, the CPU seconds of this
process (time.process_time: the machines are shared; numpy runs single-threaded here) for the loss,
the loss + gradient and the Hessian (Hessian up to n = 10 only), the number of cube moments
evaluated and how many of them needed the double-double and the mpmath fallbacks.

    python bench/sparsity.py [n ...]      (default: 4 6 8 10 12)
    python bench/sparsity.py --tiny       tiny coefficients: split quadrature against the
                                          double-double / mpmath fallbacks, in this run
    python bench/sparsity.py --symmetric [n ...]   regular polygons: one block per orbit
                                          (symmetry=) against every block, in this run
                                          (default n: 6 8 10 12)
    python bench/sparsity.py --paths      the compiled double-double sum and the raw-libmp
                                          mpmath sum against their references
                                          (cube._vertex_sum_dd_numpy, _vertex_sum_reference),
                                          in this run, at points near the one-hot flat set

The ``--tiny`` table times the gradient and Hessian at points with tiny but non-zero Gram
entries (where the vertex sums cancel) twice in the same run: with the stable split quadrature
of ``cube._split_moment`` (the default) and with it switched off (``cube.SPLIT = -1``: the
former double-double → mpmath route, the baseline), and prints the ratio and the largest
relative difference of the two Hessians.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from critpoints.tms import cube, sparse

COUNTS = {"moments": 0, "double-double": 0, "mpmath": 0}


def _instrument() -> None:
    moment, vertex_sum_dd, precise = cube.CubeBatch.moment, cube._vertex_sum_dd, cube._precise

    def counted_moment(self, p, alpha):
        COUNTS["moments"] += len(self.regular) if self.d else 0
        return moment(self, p, alpha)

    def counted_dd(a, *args):
        COUNTS["double-double"] += len(a)
        return vertex_sum_dd(a, *args)

    def counted_precise(*args):
        COUNTS["mpmath"] += 1
        return precise(*args)

    cube.CubeBatch.moment = counted_moment
    cube._vertex_sum_dd = counted_dd
    cube._precise = counted_precise


def _timed(function, *args, **keywords) -> tuple[float, str]:
    for key in COUNTS:
        COUNTS[key] = 0
    start = time.process_time()
    function(*args, **keywords)
    seconds = time.process_time() - start
    return seconds, f"{COUNTS['moments']} / {COUNTS['double-double']} / {COUNTS['mpmath']}"


def main(sizes: list[int]) -> None:
    _instrument()
    rng = np.random.default_rng(0)
    print("| n | vertex terms n·3ⁿ | loss (s) | loss + gradient (s) | Hessian (s) | "
          "moments / double-double / mpmath (Hessian, else gradient) |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        W, b = rng.normal(size=(2, n)) * 0.8, rng.normal(size=n) * 0.3
        t_loss, _ = _timed(sparse.loss, W, b, 0.5)
        t_grad, counts = _timed(sparse.loss_and_gradient, W, b, 0.5)
        t_hess = "–"
        if n <= 10:
            seconds, counts = _timed(sparse.hessian, W, b, 0.5)
            t_hess = f"{seconds:.2f}"
        print(f"| {n} | {sparse.vertex_terms(n):.3g} | {t_loss:.3f} | {t_grad:.2f} | {t_hess} | "
              f"{counts} |", flush=True)


def _tiny_points():
    """(name, W, b, S): points whose Gram matrix has tiny non-zero entries."""
    angles = np.pi / 2 * np.arange(4)
    square = np.zeros((2, 6))
    square[:, :4] = 1.0000622 * np.array([np.cos(angles), np.sin(angles)])  # 6e-17 entries
    return [
        ("n=2 m=1, antipodal at its collapse (W = (1, 6e-11))",
         np.array([[1.0000000001183467, -6.215409658062117e-11]]),
         np.array([-6.832988688245929e-11, -0.1]), 0.5),
        ("n=3 m=2, 1 & 2 nearly orthogonal (G_12 = 1e-9)",
         np.array([[1.0, 1e-9, 0.3], [0.0, 1.0, -0.8]]), np.array([-0.2, -0.1, 0.05]), 0.3),
        ("n=6 m=2, the square of docs/sparsity.md (cos/sin entries 6e-17)",
         square, np.array([1.1e-5] * 4 + [-0.1, -0.1]), 0.99),
    ]


def tiny() -> None:
    _instrument()
    print("| point | S | gradient + Hessian, baseline (s) | split (s) | speed-up | "
          "mpmath calls baseline / split | max rel. difference of the Hessians |")
    print("|---|---|---|---|---|---|---|")
    for name, W, b, S in _tiny_points():
        results = {}
        for label, split in (("baseline", -1.0), ("split", cube.SPLIT)):
            saved, cube.SPLIT = cube.SPLIT, split
            try:
                for key in COUNTS:
                    COUNTS[key] = 0
                start = time.process_time()
                sparse.loss_and_gradient(W, b, S)
                H = sparse.hessian(W, b, S)
                results[label] = (time.process_time() - start, COUNTS["mpmath"], H)
            finally:
                cube.SPLIT = saved
        (t0, m0, H0), (t1, m1, H1) = results["baseline"], results["split"]
        difference = float(np.max(np.abs(H1 - H0)) / np.max(np.abs(H0)))
        print(f"| {name} | {S} | {t0:.2f} | {t1:.2f} | {t0 / t1:.1f}× | {m0} / {m1} | "
              f"{difference:.1e} |", flush=True)


def symmetric(sizes: list[int]) -> None:
    """Regular polygons (k = n, and k = n/2 with the other columns zero) at S = 0.9: loss +
    gradient (and the Hessian up to n = 10) with the polygon's symmetry and without it, in
    this run, the ratio and the largest difference of the results."""
    from critpoints.kgon.profile import polygon_symmetry, polygon_theta
    from critpoints.tms import TMSSparsePotential

    print("| n | k | loss + gradient: all blocks (s) | one per orbit (s) | ratio | Hessian: all "
          "blocks (s) | one per orbit (s) | ratio | largest difference |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for k in (n, n // 2):
            model = TMSSparsePotential(n, 2, sparsity=0.9)
            shared = model.with_symmetry(polygon_symmetry(n, k))
            theta = polygon_theta(model, k, 1.1, -0.2, dead_feature_bias=-0.05)
            shared.loss_and_gradient(theta[None])  # the orbit tables are cached per (n, group)
            rows, difference = [], 0.0
            for order in ("gradient", "hessian"):
                if order == "hessian" and n > 10:
                    rows += ["–", "–", "–"]
                    continue
                times = []
                for potential in (model, shared):
                    start = time.process_time()
                    value = (potential.loss_and_gradient(theta)[1] if order == "gradient"
                             else potential.hessian(theta))
                    times.append(time.process_time() - start)
                    if potential is model:
                        reference = value
                difference = max(difference, float(np.abs(value - reference).max()))
                rows += [f"{times[0]:.2f}", f"{times[1]:.3f}", f"{times[0] / times[1]:.1f}×"]
            print(f"| {n} | {k} | {' | '.join(rows)} | {difference:.1e} |", flush=True)


def _near_flat_points():
    """(name, W, b, S, dps): n = 6 points with zero and nearly-zero columns at S close to 1 and
    a random one, where many cut cubes have a tiny coefficient."""
    rng = np.random.default_rng(0)
    angles = 2 * np.pi * np.arange(4) / 4
    W = np.zeros((2, 6))
    W[:, :4] = np.array([np.cos(angles), np.sin(angles)]) * 1.02
    W[:, 4] = 1e-7 * rng.normal(size=2)
    b = np.array([-0.01] * 4 + [-1e-3, 0.0])
    return [("n=6, square with a 1e-7 and a zero column, S = 0.999", W, b, 0.999),
            ("n=6, random W (normal·0.8), b (normal·0.2), S = 0.9",
             rng.normal(size=(2, 6)) * 0.8, rng.normal(size=6) * 0.2, 0.9)]


def paths(repeat: int = 3) -> None:
    """Each evaluation timed with the current vertex sums and with their references swapped in,
    alternately, ``repeat`` times; the ratio of the medians; whether the results are the same
    bits."""
    import mpmath

    current = cube._vertex_sum, cube._vertex_sum_dd
    references = cube._vertex_sum_reference, cube._vertex_sum_dd_numpy
    print("| point | evaluation | reference (s) | current (s) | ratio | same bits |")
    print("|---|---|---|---|---|---|")
    for name, W, b, S in _near_flat_points():
        with mpmath.workdps(60):
            W60 = np.array([[mpmath.mpf(float(v)) for v in row] for row in W], dtype=object)
            b60 = np.array([mpmath.mpf(float(v)) for v in b], dtype=object)
        cases = [("float64 loss + gradient + Hessian",
                  lambda W=W, b=b, S=S: (sparse.loss_and_gradient(W, b, S),
                                         sparse.hessian(W, b, S))),
                 ("60-digit loss + gradient",
                  lambda W60=W60, b60=b60, S=S: sparse.loss_and_gradient(W60, b60, S, dps=60))]
        for label, evaluate in cases:
            times = {"reference": [], "current": []}
            results = {}
            for _ in range(repeat):
                for key, (vertex_sum, vertex_sum_dd) in (("reference", references),
                                                         ("current", current)):
                    cube._vertex_sum, cube._vertex_sum_dd = vertex_sum, vertex_sum_dd
                    try:
                        start = time.process_time()
                        results[key] = evaluate()
                        times[key].append(time.process_time() - start)
                    finally:
                        cube._vertex_sum, cube._vertex_sum_dd = current
            same = all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in
                       zip(_flat(results["reference"]), _flat(results["current"])))
            old, new = (float(np.median(times[key])) for key in ("reference", "current"))
            print(f"| {name} | {label} | {old:.2f} | {new:.2f} | {old / new:.1f}× | "
                  f"{'yes' if same else 'NO'} |", flush=True)


def _flat(value):
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


if __name__ == "__main__":
    if sys.argv[1:] == ["--tiny"]:
        tiny()
    elif sys.argv[1:] == ["--paths"]:
        paths()
    elif sys.argv[1:2] == ["--symmetric"]:
        symmetric([int(v) for v in sys.argv[2:]] or [6, 8, 10, 12])
    else:
        main([int(v) for v in sys.argv[1:]] or [4, 6, 8, 10, 12])
