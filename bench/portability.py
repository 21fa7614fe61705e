"""Do the committed catalogs come out the same on another CPU? Regenerate some of them by their
own commands as this machine would on an older x86-64 CPU, one numeric library at a time, and
compare with the committed files.

    python bench/portability.py [--cases NAME,...] [--cpus NAME,...] [--jobs J]

``--cpus``: ``numpy``, ``glibc``, ``blas``, ``numba`` — one library at a time switched to the code
an older CPU would run (:mod:`critpoints.portability` says how and what differs); ``all`` the
four together; ``native`` none (the committed bytes on this machine).

Per case and CPU it prints whether the file is the same bytes, else whether its content is the
same — ids, losses (to 1e-40), classifications, verdicts, Hessian indices and learning
coefficients — and which other fields differ (search statistics, the stored member of a flat
critical set, Monte Carlo evidence). Exit status 1 if any content differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mpmath

from critpoints.portability import OLDER_CPU_SWITCHES, older_cpu

ROOT = Path(__file__).resolve().parents[1]


def cpus(cache: Path) -> dict[str, dict[str, str]]:
    """The environment of each emulated CPU (:func:`critpoints.portability.older_cpu`)."""
    switches = older_cpu()
    switches["numba"] = dict(switches["numba"], NUMBA_CACHE_DIR=str(cache / "numba-generic"))
    combined: dict[str, str] = {}
    for environment in switches.values():
        combined.update(environment)
    return {"native": {}, **switches, "all": combined}


@dataclass(frozen=True)
class Case:
    name: str
    command: str  # as stored in the committed file, without --out
    files: tuple[str, ...]  # committed files it writes (the first is --out)


CASES = (
    Case("census-n3", "census --n 3 --budget 60000 --round-starts 6000 --digits 60 --seed 0",
         ("tms-n3-m2.json", "tms-n3-m2.landscape.json")),
    Case("census-n5", "census --n 5 --budget 60000 --round-starts 6000 --digits 60 --seed 0",
         ("tms-n5-m2.json", "tms-n5-m2.landscape.json")),
    Case("enumerate-n9", "enumerate --n 9 --digits 60 --random-starts 300 --seed 0",
         ("tms-n9-m2.json",)),
    Case("S0.9-n2", "enumerate --n 2 --sparsity 0.9 --random-starts 1000 --digits 60 --seed 0",
         ("tms-n2-m2-S0.9.json",)),
    Case("S0.9-n3", "enumerate --n 3 --sparsity 0.9 --random-starts 1000 --digits 60 --seed 0",
         ("tms-n3-m2-S0.9.json",)),
)

#: The fields of an entry that say what the point is; the rest is how it was found or checked.
IDENTITY = ("classification", "verdict", "hessian_index", "learning_coefficient")


def _loss(point: dict) -> mpmath.mpf:
    with mpmath.workdps(70):
        return mpmath.mpf(point.get("loss_exact") or point["loss"])


def compare_documents(committed: dict, regenerated: dict) -> tuple[bool, list[str]]:
    """(content the same, what else differs) for two catalog documents."""
    old = {p["id"]: p for p in committed.get("critical_points", [])}
    new = {p["id"]: p for p in regenerated.get("critical_points", [])}
    notes: list[str] = []
    same = list(old) == list(new)
    if not same:
        notes.append(f"ids only committed {sorted(set(old) - set(new))}, "
                     f"only regenerated {sorted(set(new) - set(old))}")
    fields: dict[str, int] = {}
    for ident in old.keys() & new.keys():
        a, b = old[ident], new[ident]
        with mpmath.workdps(70):
            if abs(_loss(a) - _loss(b)) > mpmath.mpf(10) ** -40:
                same = False
                notes.append(f"{ident}: loss {a['loss']} -> {b['loss']}")
        for key in IDENTITY:
            if a.get(key) != b.get(key):
                same = False
                notes.append(f"{ident}: {key} {a.get(key)!r} -> {b.get(key)!r}")
        for key in (a.keys() | b.keys()) - set(IDENTITY):
            if key == "evidence" and isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
                for part in a[key].keys() | b[key].keys():
                    if a[key].get(part) != b[key].get(part):
                        fields[f"evidence.{part}"] = fields.get(f"evidence.{part}", 0) + 1
            elif a.get(key) != b.get(key):
                fields[key] = fields.get(key, 0) + 1
    notes += [f"{key} ({count})" for key, count in sorted(fields.items())]
    for key in sorted((committed.keys() | regenerated.keys()) - {"critical_points", "generator"}):
        if committed.get(key) != regenerated.get(key):
            notes.append(f"document {key}")
    return same, notes


def run_case(case: Case, cpu: str, environment: dict[str, str], workdir: Path
             ) -> list[tuple[str, str, bool]]:
    """Regenerate ``case`` under ``environment``: per file (name, verdict, content same)."""
    out = workdir / f"{case.name}-{cpu}"
    out.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key not in OLDER_CPU_SWITCHES}
    env.update(environment)
    command = [sys.executable, "-m", "critpoints", *shlex.split(case.command), "--out",
               str(out / case.files[0]), "--quiet", "--workers", "1"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        return [(case.files[0], f"FAILED: {result.stderr.strip().splitlines()[-1:]}", False)]
    rows = []
    for name in case.files:
        committed, regenerated = ROOT / "catalog" / name, out / name
        if committed.read_bytes() == regenerated.read_bytes():
            rows.append((name, "same bytes", True))
            continue
        old, new = (json.loads(path.read_text("utf-8")) for path in (committed, regenerated))
        if "critical_points" not in old:
            rows.append((name, "differs (not a catalog: no content comparison)", True))
            continue
        same, notes = compare_documents(old, new)
        verdict = "content same" if same else "CONTENT DIFFERS"
        rows.append((name, f"{verdict}; differs: {', '.join(notes) or '-'}", same))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(c.name for c in CASES),
                        help="comma-separated: " + ", ".join(c.name for c in CASES))
    parser.add_argument("--cpus", default="native,numpy,glibc,blas,numba,all",
                        help="comma-separated emulated CPUs (default all six)")
    parser.add_argument("--jobs", type=int, default=2, help="regenerations at a time")
    args = parser.parse_args(argv)
    chosen = [c for c in CASES if c.name in args.cases.split(",")]
    from concurrent.futures import ThreadPoolExecutor

    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        environments = cpus(workdir)
        jobs = [(case, cpu) for case in chosen for cpu in args.cpus.split(",")]
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(
                lambda job: run_case(job[0], job[1], environments[job[1]], workdir), jobs))
        print("| case | CPU | file | result |\n|---|---|---|---|")
        for (case, cpu), rows in zip(jobs, results):
            for name, verdict, same in rows:
                print(f"| {case.name} | {cpu} | {name} | {verdict} |")
                status |= not same
    return status


if __name__ == "__main__":
    sys.exit(main())
