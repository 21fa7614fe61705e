"""Is a committed finite-sparsity catalog closed under the census's moves? From every entry:
kicks along ± each Hessian eigendirection (two amplitudes), gentlest ascent along ± each
eigendirection of the entries without an unstable direction, steepest descent along ± each
unstable direction (:mod:`critpoints.census.strategies`, :func:`critpoints.landscape.descent.
steepest_descent`), each end finished by the Levenberg–Marquardt search of
``enumerate --sparsity``'s random starts; every converged end at or below the all-dead level
is identified with the known critical sets (:func:`critpoints.census.census.same_critical_set`),
and a new set is expanded in turn, until a round finds nothing new.

    python bench/sparsity_moves.py --n 3 [--sparsity 0.9] [--catalog FILE]

``enumerate --sparsity --random-starts`` has the random starts only; this measures what the
moves would add. Prints one line per round and strategy (starts, converged, new sets) and the
new sets' losses; exit status 1 if a new set was found.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from critpoints.census import strategies
from critpoints.census.census import DESCENT_KICK, critical_set_key
from critpoints.kgon.sparsity import RANDOM_SEARCH_ITERATIONS, all_dead_level, identify_ends
from critpoints.landscape.descent import steepest_descent
from critpoints.solve.newton import find_critical_points
from critpoints.tms import TMSSparsePotential

ROOT = Path(__file__).resolve().parents[1]


def move_starts(model, representatives) -> dict[str, np.ndarray]:
    """The starts of the three moves from each representative θ."""
    kicks, ascent_theta, ascent_direction, descent = [], [], [], []
    for theta in representatives:
        directions = strategies.eigendirections(model, theta)
        kicks.append(strategies.eigendirection_kicks(theta, directions))
        if len(directions.unstable) == 0:
            for v in directions.vectors:
                for sign in (1.0, -1.0):
                    ascent_theta.append(theta)
                    ascent_direction.append(sign * v)
        for v in directions.unstable:
            for sign in (1.0, -1.0):
                descent.append(theta + sign * DESCENT_KICK * v)
    starts = {"kick": np.concatenate(kicks)}
    if ascent_theta:
        starts["ascent"] = strategies.gentlest_ascent(model, np.array(ascent_theta),
                                                      np.array(ascent_direction))
    if descent:
        starts["descent"] = steepest_descent(model, np.array(descent), finish=False).theta
    return starts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--catalog", default=None,
                        help="finite-S catalog (default catalog/tms-nN-m2-S<S>.json)")
    args = parser.parse_args(argv)
    path = Path(args.catalog or ROOT / "catalog" / f"tms-n{args.n}-m2-S{args.sparsity}.json")
    document = json.loads(path.read_text("utf-8"))
    model = TMSSparsePotential(args.n, 2, sparsity=args.sparsity)
    level = all_dead_level(model)
    known, representatives = [], []
    for entry in document["critical_points"]:
        W, b = np.array(entry["W"]), np.array(entry["b"])
        theta = model.flatten(W, b)
        known.append((float(model.loss(theta)), critical_set_key(W, b)))
        representatives.append(theta)
    print(f"{path.name}: {len(known)} entries, all-dead level {level:.6f}")
    start, expanded, rounds, found = time.process_time(), 0, 0, []
    while expanded < len(representatives):
        rounds += 1
        batches = move_starts(model, representatives[expanded:])
        expanded = len(representatives)
        for name, starts in batches.items():
            search = find_critical_points(model, starts, gtol=1e-11,
                                          max_iter=RANDOM_SEARCH_ITERATIONS)
            converged = new = 0
            for theta, j in identify_ends(model, search, level, known):
                converged += 1
                if j == len(representatives):  # a new critical set (appended to known)
                    representatives.append(theta)
                    found.append((name, known[j][0]))
                    new += 1
            print(f"round {rounds} {name}: {len(starts)} starts, {converged} converged at or "
                  f"below the level, {new} new sets ({time.process_time() - start:.0f} CPU s)",
                  flush=True)
    for name, loss in found:
        print(f"new set (by {name}): L = {loss:.10f}")
    print(f"{len(found)} new critical sets; {len(known)} in all")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
