"""Time to annotate (certify + exact forms) and re-check whole catalogs (n = 6 and n = 12).

Usage: python bench/certify.py [CATALOG ...]  (default: catalog/tms-n6-m2.json and, if present,
catalog/tms-n12-m2.json; an n = 12 catalog is generated in memory when none is committed).
Goal: each under 10 s on the 2-core machine. Timings are cold (fresh caches) per catalog.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from critpoints.proofs import annotate, check_entry  # noqa: E402


def _entries(path: Path | None, n: int):
    if path is not None and path.exists():
        document = json.loads(path.read_text())
        return document["model"]["n"], document["critical_points"]
    from critpoints.kgon import enumerate_critical_points

    start = time.perf_counter()
    entries, _ = enumerate_critical_points(n)
    print(f"(generated the n = {n} catalog in {time.perf_counter() - start:.1f} s, not timed)")
    return n, entries


def main(paths: list[str]) -> None:
    targets = [(Path(p), None) for p in paths] or [
        (ROOT / "catalog" / "tms-n6-m2.json", 6),
        (ROOT / "catalog" / "tms-n12-m2.json", 12),
    ]
    for path, n in targets:
        n, entries = _entries(path, n)
        start = time.perf_counter()
        proved = 0
        for entry in entries:
            entry["certificate"], entry["exact"] = annotate(
                entry, n, entry.get("precision_digits", 60)
            )
            proved += entry["certificate"]["proved"]
        annotate_time = time.perf_counter() - start
        start = time.perf_counter()
        failures = sum(len(check_entry(entry, n)) for entry in entries)
        check_time = time.perf_counter() - start
        print(f"n = {n:2d}: {len(entries)} entries, {proved} proved; "
              f"annotate {annotate_time:.2f} s, "
              f"re-check {check_time:.2f} s, failures {failures}")


if __name__ == "__main__":
    main(sys.argv[1:])
