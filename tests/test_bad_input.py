"""The bad-input corpus: every bad invocation ends with one line on stderr, no traceback, the
documented exit status (2 for usage and input errors, 130 for Ctrl-C) and no file written.

The classes follow issue 18 (found from a fresh clone by trying 269 bad invocations): output
paths that cannot be written, negative seeds, non-finite numbers, sizes beyond the documented
limits, inputs accepted without complaint and misleading messages. Cases run in-process through
``critpoints.cli.main``; those whose computation could exhaust memory or never end if the check
regressed run in a subprocess with a timeout and an address-space limit instead.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from critpoints.cli import main
from critpoints.store import MAX_INPUT_BYTES

ROOT = Path(__file__).resolve().parents[1]
#: The catalog files the cases read by default (copied: a regression that writes must not touch
#: the committed ones).
CATALOG_FILES = ("tms-n2-m2.json", "tms-n4-m3.json", "tms-n6-m2.json", "tms-n6-m2.phases.json",
                 "tms-n6-m2.transitions.json")
TIMEOUT = 60  # s: a case that has not ended by then "never ends"
MEMORY_LIMIT = 3 * 2**30  # bytes of address space for a subprocess case
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

# Fast, valid options for each command, so that only the option under test is wrong.
ENUMERATE = ["enumerate", "--n", "2", "--random-starts", "0", "--quiet"]
PHASES = ["phases", "--n", "6", "--sample-range", "100:200"]
LLC = ["llc", "--n", "6", "--label", "5", "--chains", "2", "--steps", "20"]
TRANSITIONS = ["transitions", "--n", "6", "--runs", "1", "--steps", "10", "--quiet"]
KGON = ["kgon-existence", "--min-n", "5", "--max-n", "5"]
LINEAR = ["linear", "--n", "3", "--hidden", "1"]
PLOT = ["plot", "catalog"]
LANDSCAPE = ["landscape", "--n", "3", "--quiet"]


def case(argv, fragment=None, *, subprocess=False, code=2, root_skips=False, id=None):
    marks = [pytest.mark.skipif(IS_ROOT, reason="root may write anywhere")] if root_skips else []
    return pytest.param(argv, fragment, subprocess, code, marks=marks, id=id)


# Output paths: DIR is an existing directory, FILE a regular file, RO a read-only directory.
OUTPUT_COMMANDS = {
    "enumerate": (ENUMERATE, ".json"),
    "phases": (PHASES, ".json"),
    "llc": (LLC, ".json"),
    "transitions": (TRANSITIONS, ".json"),
    "kgon-existence": (KGON, ".json"),
    "linear": (LINEAR, ".json"),
    "plot": (PLOT, ".png"),
    "landscape": (LANDSCAPE, ".json"),
}
OUTPUT_CASES = []
for name, (argv, suffix) in OUTPUT_COMMANDS.items():
    OUTPUT_CASES += [
        case([*argv, "--out", "DIR"], "is a directory", id=f"{name}-out-directory"),
        case([*argv, "--out", f"FILE/x{suffix}"], "is a file, not a directory",
             id=f"{name}-out-under-file"),
        case([*argv, "--out", f"RO/x{suffix}"], "no permission", root_skips=True,
             id=f"{name}-out-read-only"),
        case([*argv, "--out", ""], "empty", id=f"{name}-out-empty"),
        # root passes every permission check, but /proc refuses new files to root too: the
        # check tries a file, not the permission bits
        pytest.param([*argv, "--out", f"/proc/critpoints-x{suffix}"], "cannot be created",
                     False, 2, id=f"{name}-out-in-proc",
                     marks=pytest.mark.skipif(not os.path.isdir("/proc/self"),
                                              reason="no /proc")),
    ]
OUTPUT_CASES += [
    case(["plot", "all", "--out", "FILE"], "not a directory", id="plot-all-out-file"),
    case(["docs", "--file", "DIR"], "DIR", id="docs-file-directory"),
]

SEED_CASES = [
    case([*argv, "--seed", seed], "--seed", id=f"{argv[0]}-seed{seed}")
    for argv in (ENUMERATE, LLC, PHASES, LINEAR, TRANSITIONS, ["plot", "sgd"])
    for seed in ("-1", "-5")
] + [
    case([*ENUMERATE, "--seed", "1.5"], "integer", id="enumerate-seed-float"),
    case([*LLC, "--seed", str(2**64)], "at most", id="llc-seed-2**64"),
]

NONFINITE_CASES = [
    case([*LLC, "--samples", value], "--samples", id=f"llc-samples-{value}")
    for value in ("inf", "nan", "1.5", "1", "-3", "1e300")
] + [
    case([*LLC, "--epsilon", value], "--epsilon", id=f"llc-epsilon-{value}")
    for value in ("nan", "inf", "0", "-1")
] + [
    case([*LLC, "--gamma", value], "--gamma", id=f"llc-gamma-{value}")
    for value in ("nan", "inf", "-1")
] + [
    case([*LLC, "--dead-bias", value], "--dead-bias", id=f"llc-dead-bias-{value}")
    for value in ("nan", "0.5")
] + [
    case([*LLC, "--dead-bias", "-inf"], "--option=VALUE", id="llc-dead-bias--inf"),
    case([*LLC, "--dead-bias=-inf"], "finite", id="llc-dead-bias=-inf"),
] + [
    case([*TRANSITIONS, "--lr", value], "--lr", id=f"transitions-lr-{value}")
    for value in ("nan", "inf", "0", "-1")
] + [
    case([*TRANSITIONS, "--init-scale", "nan"], "--init-scale", id="transitions-init-scale-nan"),
    case([*LINEAR, "--sparsity", "nan"], "--sparsity", id="linear-sparsity-nan"),
    case([*LINEAR, "--sparsity", "1"], "--sparsity", id="linear-sparsity-1"),
    case(["transitions", "--n", "6", "--runs", "2", "--steps", "50", "--lr", "1e10", "--quiet",
          "--out", "out.json"], "run 0 at step", id="transitions-lr-1e10-diverges"),
    case([*TRANSITIONS, "--init-scale", "1e300"], "--init-scale", id="transitions-init-1e300"),
    # --steps 100: the first progress line (every 10 %) would come after the divergence.
    # Checked against the stability limit ε (Nβ h_max + γ) < 4 before sampling.
    case([*LLC, "--steps", "100", "--epsilon", "1e10"], "SGLD would diverge",
         id="llc-epsilon-1e10-diverges"),
    case([*LLC, "--steps", "100", "--gamma", "1e300"], "at most 1e+12",
         id="llc-gamma-1e300-absurd"),
    # A fixed ε that is stable alone but not with the fixed γ: the chains do diverge.
    case([*LLC, "--steps", "100", "--epsilon", "1e-5", "--gamma", "1e6"], "SGLD would diverge",
         id="llc-epsilon-gamma-diverge"),
] + [
    case([*PHASES, "--nll-scale", value], "--nll-scale", id=f"phases-nll-scale-{value}")
    for value in ("nan", "inf", "0", "-1", "x", "1e-300", "1/0")
] + [
    case([*PHASES, "--lambda", value], "--lambda", id=f"phases-lambda-{value}")
    for value in ("5=nan", "5=inf", "5=-1", "5", "=3")
] + [
    case(["evaluate", "--params", "HUGE_ENTRIES"], "overflows", id="evaluate-entries-1e300"),
    case(["evaluate", "--params", "INF_ENTRIES"], "overflows a double",
         id="evaluate-entries-1e400"),
] + [
    case(["evaluate", "--params", "POINT", "--sparsity", value], "--sparsity",
         id=f"evaluate-sparsity-{value}")
    for value in ("nan", "inf", "-0.1", "1.5", "x")
] + [
    case(["evaluate", "--params", "POINT", "--sparsity", "0.5", "--importance", value],
         "--importance", id=f"evaluate-importance-{value}")
    for value in ("1,0", "1,-2", "1,nan", "1,inf", "1,x", "", "1,2,3", "1,1e308", "1,1e-320")
] + [
    # 1e308 overflowed the search's sums into a traceback
    case([*ENUMERATE[:1], "--n", "3", "--sparsity", "0.5", "--importance", "1,2,1e308"],
         "--importance", id="enumerate-importance-1e308"),
] + [
    case(["evaluate", "--params", "POINT", "--importance", "1,1"], "--sparsity",
         id="evaluate-importance-without-sparsity"),
    case(["evaluate", "--params", "ELEVEN", "--sparsity", "0.5"], "n = 11",
         id="evaluate-sparsity-n11"),
]

BATCH_CASES = [
    case([*LLC, "--batch-size", "0"], "--batch-size", id="llc-batch-0"),
    case([*LLC, "--batch-size", "-5"], "--batch-size", id="llc-batch-negative"),
    case([*LLC, "--data", "empirical", "--samples", "1000", "--batch-size", "5000"],
         "--batch-size", id="llc-batch-above-samples"),
    case([*TRANSITIONS, "--batch", "2000", "--samples", "1000"], "--batch", id="sgd-batch-above"),
]

DIGITS_CASES = [
    case([*KGON, "--digits", value], "--digits", id=f"kgon-digits-{value}")
    for value in ("0", "-5", "100000")
] + [
    case([*ENUMERATE, "--digits", "10"], "--digits", id="enumerate-digits-10"),
    case([*LINEAR, "--digits", "0"], "--digits", id="linear-digits-0"),
    case(["evaluate", "--params", "POINT", "--dps", "0"], "--dps", id="evaluate-dps-0"),
    case(["evaluate", "--params", "POINT", "--dps", "100000"], "--dps", id="evaluate-dps-1e5"),
]

SIZE_CASES = [
    case(["evaluate", "--params", "WIDE"], "parameters", subprocess=True,
         id="evaluate-2x20000"),
    case([*PHASES[:3], "--sample-range", "100:1e9", "--data-sets", "16"], "data sets",
         subprocess=True, id="phases-data-sets-1e9"),
    case([*PHASES[:3], "--sample-range", "100:1e13"], "--sample-range", id="phases-range-1e13"),
    case([*LLC, "--chains", "100000000"], "--chains", subprocess=True, id="llc-chains-1e8"),
    case([*LLC, "--chains", "10000", "--steps", "100000"], "--chains", subprocess=True,
         id="llc-chains-times-steps"),
    case([*LLC, "--data", "empirical", "--samples", "1e9"], "empirical", subprocess=True,
         id="llc-empirical-samples-1e9"),
    case([*TRANSITIONS, "--samples", "1000000000"], "--samples", subprocess=True,
         id="transitions-samples-1e9"),
    case([*TRANSITIONS[:3], "--runs", "100000000"], "--runs", subprocess=True,
         id="transitions-runs-1e8"),
    case([*TRANSITIONS[:3], "--runs", "200", "--samples", "100000"], "--samples",
         subprocess=True, id="transitions-runs-times-samples"),
    case([*TRANSITIONS[:3], "--runs", "1000", "--steps", "1000000000"], "run-steps",
         subprocess=True, id="transitions-runs-times-steps"),
    case(["linear", "--n", "1000000"], "--n", subprocess=True, id="linear-n-1e6"),
    case(["linear", "--n", "1000000", "--hidden", "1"], "--n", subprocess=True,
         id="linear-n-1e6-hidden-1"),
    case(["enumerate", "--n", "64"], "--n", subprocess=True, id="enumerate-n-64"),
    case(["enumerate", "--n", "49"], "--n", subprocess=True, id="enumerate-n-49"),
    case(["enumerate", "--n", "21"], "--max-dead-vertices", subprocess=True,
         id="enumerate-n-21-without-budget"),
    case(["kgon-existence", "--max-n", "1000000"], "--max-n", subprocess=True,
         id="kgon-max-n-1e6"),
    case(["plot", "sgd", "--runs", "100000"], "--runs", subprocess=True, id="plot-sgd-runs"),
]

RANGE_CASES = [
    case([*ENUMERATE[:1], "--n", "0"], "--n", id="enumerate-n-0"),
    case([*ENUMERATE, "--hidden", "4"], "--hidden", id="enumerate-hidden-4"),
    case([*ENUMERATE, "--hidden", "0"], "--hidden", id="enumerate-hidden-0"),
    case(["census", "--n", "3", "--hidden", "7"], "--hidden", id="census-hidden-7"),
    case(["census", "--n", "3", "--hidden", "3"], "--no-landscape", id="census-hidden-3-landscape"),
    case(["census", "--n", "3", "--closure-descents", "5"], "--descent-closure",
         id="census-closure-budget-without-closure"),
    case(["census", "--n", "3", "--descent-closure", "--closure-descents", "0"],
         "--closure-descents", id="census-closure-budget-zero"),
    case([*ENUMERATE, "--random-starts", "-1"], "--random-starts", id="enumerate-starts-neg"),
    case([*KGON[:1], "--min-n", "3"], "--min-n", id="kgon-min-n-3"),
    case([*KGON[:1], "--min-n", "10", "--max-n", "5"], "--min-n", id="kgon-min-above-max"),
    case([*LLC, "--n", "1"], "--n", id="llc-n-1"),
    case([*LLC, "--steps", "5"], "--steps", id="llc-steps-5"),
    case([*LLC, "--burn-in", "19"], "--burn-in", id="llc-burn-in-19"),
    case([*LLC[:5], "--label", "nope"], "unknown label", id="llc-unknown-label"),
    case([*PHASES, "--mcmc-steps", "-1"], "--mcmc-steps", id="phases-mcmc-negative"),
    case([*PHASES, "--mcmc-steps", "50"], "--mcmc-steps", id="phases-mcmc-50"),
    case([*PHASES, "--ensembles", "0"], "--ensembles", id="phases-ensembles-0"),
    case([*PHASES, "--hot-levels", "-1"], "--hot-levels", id="phases-hot-levels-negative"),
    case([*TRANSITIONS, "--runs", "0"], "--runs", id="transitions-runs-0"),
    case([*TRANSITIONS, "--workers", "0"], "--workers", id="transitions-workers-0"),
    case([*TRANSITIONS, "--init", "nope"], "--init", id="transitions-init-unknown"),
    case([*TRANSITIONS, "--out", "x.txt"], ".json", id="transitions-out-not-json"),
    case([*LINEAR[:1], "--n", "1"], "--n", id="linear-n-1"),
    case([*LINEAR[:3], "--hidden", "0"], "--hidden", id="linear-hidden-0"),
    case([*LINEAR[:3], "--hidden", "3"], "--hidden", id="linear-hidden-n"),
    case(["plot", "catalog", "--top", "0"], "--top", id="plot-top-0"),
    case(["plot", "catalog", "--out", "x.gif"], "suffix", id="plot-out-suffix"),
]

ACCEPTED_CASES = [
    case(["phases", "--n", "5", "--sample-range", "100:200", "--catalog", "catalog/tms-n6-m2.json"],
         "not a TMS catalog for --n 5", id="phases-n-mismatch"),
    case([*LLC[:1], "--n", "5", *LLC[3:], "--catalog", "catalog/tms-n6-m2.json"],
         "not a TMS catalog for --n 5", id="llc-n-mismatch"),
    case([*TRANSITIONS[:1], "--n", "5", *TRANSITIONS[3:], "--catalog", "catalog/tms-n6-m2.json"],
         "not a TMS catalog", id="transitions-n-mismatch"),
    case([*PHASES[:3], "--sample-range", "1.5:2"], "whole numbers", id="phases-range-1.5"),
    case([*PHASES[:3], "--sample-range", "100:1e300"], "--sample-range", id="phases-range-1e300"),
    case([*PHASES[:3], "--sample-range", "100:inf"], "--sample-range", id="phases-range-inf"),
    case([*PHASES[:3], "--sample-range", "5:2"], "LO < HI", id="phases-range-reversed"),
    case([*PHASES[:3], "--sample-range", "100:200:1"], "COUNT", id="phases-range-count-1"),
    case([*PHASES[:3], "--sample-range", "100"], "LO:HI", id="phases-range-one-number"),
    case([*PHASES, "--nll-scale", "1/200"], "--nll-scale", id="phases-scale-times-lo"),
    case(["enumerate", "--n", "2", "--out", ""], "empty", id="enumerate-out-empty-string"),
]

MESSAGE_CASES = [
    # a scheduler address is tried before the run (it was a traceback, or one after 30 s)
    case(["census", "--n", "2", "--budget", "20", "--round-starts", "20", "--no-landscape",
          "--scheduler", "nonsense"], "--scheduler 'nonsense': cannot connect",
         id="census-scheduler-nonsense"),
    case([*TRANSITIONS[:3], "--init", "random", *TRANSITIONS[3:], "--scheduler", "nonsense"],
         "--scheduler 'nonsense': cannot connect", id="transitions-scheduler-nonsense"),
    case([*TRANSITIONS[:5], "--steps", "0", "--quiet"], "--steps", id="transitions-zero-steps"),
    # its ends are matched up to O(2): an m = 3 catalog was a traceback from the matcher
    case(["landscape", "--n", "4", "--catalog", "catalog/tms-n4-m3.json", "--quiet"],
         "m = 2 only", id="landscape-of-m3-catalog"),
    case(["sparsity-branches", "--n", "2", "--certify-ids", "nosuch", "--quiet"],
         "not among the followed entries", id="sparsity-branches-certify-unknown-id"),
    case(["sparsity-branches", "--n", "2", "--certify", "0.1", "--stop", "0.5", "--quiet"],
         "below --stop", id="sparsity-branches-certify-below-stop"),
    # checked before the run (the suffix was a traceback after the whole diagram)
    case(["phase-diagram", "--n", "2", "--hidden", "1", "--grid", "3", "--figure", "x.gif"],
         "the suffix must be", id="phase-diagram-figure-gif"),
    case(["plot", "sgd", "catalog/tms-n6-m2.json", "--init-scale", "1e300"], "--init-scale",
         id="plot-sgd-init-scale-huge"),
    case(["--bogus"], "--bogus", id="bogus-option"),
    case([], "COMMAND", id="no-command"),
    case(["bogus"], "invalid choice", id="bogus-command"),
    case([*PHASES[:3], "--samples", "100:2000"], "--sample-range", id="phases-samples-renamed"),
    case(["plot", "graph", "catalog/tms-n6-m2.json", "--out", "g.png"],
         "expected 'critpoints.transitions'", id="plot-graph-of-a-catalog"),
    case(["plot", "phases", "catalog/tms-n6-m2.json", "--out", "p.png"],
         "expected 'critpoints.phases'", id="plot-phases-of-a-catalog"),
    case(["plot", "catalog", "catalog/tms-n6-m2.transitions.json", "--out", "c.png"],
         "schema_name", id="plot-catalog-of-a-graph"),
    case(["linear", "--sigma-file", "BAD_JSON", "--hidden", "1"], "not valid JSON",
         id="linear-sigma-file-not-json"),
    case(["linear", "--sigma-file", "DIR", "--hidden", "1"], "directory",
         id="linear-sigma-file-directory"),
    case(["evaluate", "--params", "DIR"], "directory", id="evaluate-params-directory"),
]

# Catalog files with one defect each, read by llc, phases and transitions (certify: the lead's).
BAD_CATALOGS = {
    "missing": (None, "cannot read"),
    "directory": ("DIR", "directory"),
    "not-json": ("{", "not valid JSON"),
    "nan": ('{"schema_name": NaN}', "NaN"),
    "latin-1": (b"\xff\xfe{", "UTF-8"),
    "array": ("[]", "JSON object"),
    "other-schema": ('{"schema_name": "x", "schema_version": 1}', "schema_name"),
    "version-string": ('{"schema_name": "critpoints.catalog", "schema_version": "1"}',
                       "must be a non-negative integer"),
    "version-2": ('{"schema_name": "critpoints.catalog", "schema_version": 2}', "version 2"),
    "no-points": ('{"schema_name": "critpoints.catalog", "schema_version": 1}', "invalid at"),
    # refused before reading: a FIFO would block, a device like /dev/zero never ends
    "fifo": ("FIFO", "not a regular file"),
    "device": ("DEVICE", "not a regular file"),
    "too-large": ("TOO_LARGE", "larger than"),
    # valid against the schema, but W is not the model's m×n, or a parameter is 1e300
    "wrong-shape": ("WRONG_SHAPE", "not an 2×6 matrix"),
    "huge-parameter": ("HUGE_PARAMETER", "magnitude at most"),
}
SPECIAL_FILES = ("DIR", "FIFO", "DEVICE", "TOO_LARGE", "WRONG_SHAPE", "HUGE_PARAMETER")
CATALOG_CASES = [
    case([*argv, "--catalog", f"CATALOG:{kind}"], fragment, id=f"{argv[0]}-catalog-{kind}")
    for argv in (LLC, PHASES, TRANSITIONS)
    for kind, (_, fragment) in BAD_CATALOGS.items()
] + [
    case(["certify", f"CATALOG:{kind}"], BAD_CATALOGS[kind][1], id=f"certify-{kind}")
    for kind in ("fifo", "device", "too-large")
] + [
    # the atomic write would replace the device by a regular file (as root it can)
    case([*ENUMERATE, "--out", "/dev/null"], "not a regular file", id="enumerate-out-device"),
]

CORPUS = (OUTPUT_CASES + SEED_CASES + NONFINITE_CASES + BATCH_CASES + DIGITS_CASES + SIZE_CASES
          + RANGE_CASES + ACCEPTED_CASES + MESSAGE_CASES + CATALOG_CASES)


@pytest.fixture(scope="module")
def catalog_copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalog")
    for name in CATALOG_FILES:
        shutil.copy(ROOT / "catalog" / name, folder / name)
    return folder


def make_inputs(folder: Path) -> None:
    """DIR, FILE, RO and the input files the cases name, in ``folder``."""
    (folder / "DIR").mkdir()
    (folder / "FILE").write_text("a regular file\n", encoding="utf-8")
    (folder / "RO").mkdir()
    (folder / "RO").chmod(0o555)
    point = {"W": [[1.0, 0.0], [0.0, 1.0]], "b": [0.0, 0.0]}
    (folder / "POINT").write_text(json.dumps(point), encoding="utf-8")
    (folder / "HUGE_ENTRIES").write_text(json.dumps({"W": [[1e300, 1.0], [1.0, 1e300]],
                                                     "b": [0.0, 0.0]}), encoding="utf-8")
    (folder / "INF_ENTRIES").write_text('{"W": [[1e400, 1], [1, 1]], "b": [0, 0]}',
                                        encoding="utf-8")
    (folder / "ELEVEN").write_text(json.dumps({"W": [[0.5] * 11] * 2, "b": [0.0] * 11}),
                                   encoding="utf-8")
    (folder / "WIDE").write_text(json.dumps({"W": [[0.5] * 20000] * 2, "b": [0.0] * 20000}),
                                 encoding="utf-8")
    (folder / "BAD_JSON").write_text("[[1, 0], [0, 1]", encoding="utf-8")
    for kind, (content, _) in BAD_CATALOGS.items():
        target = folder / f"catalog-{kind}.json"
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif content == "FIFO":
            os.mkfifo(target)
        elif content == "DEVICE":
            target.symlink_to("/dev/zero")
        elif content in ("WRONG_SHAPE", "HUGE_PARAMETER"):
            document = json.loads((ROOT / "catalog" / "tms-n6-m2.json").read_text("utf-8"))
            point = document["critical_points"][-1]
            if content == "WRONG_SHAPE":
                point["W"] = [row[:-1] for row in point["W"]]
            else:
                point["W"][0][0] = 1e300
            target.write_text(json.dumps(document), encoding="utf-8")
        elif content == "TOO_LARGE":
            with open(target, "wb") as handle:  # sparse: nothing is written to the disk
                handle.truncate(MAX_INPUT_BYTES + 1)
        elif content is not None and content not in SPECIAL_FILES:
            target.write_text(content, encoding="utf-8")


@pytest.fixture
def workdir(tmp_path, catalog_copy, monkeypatch):
    """A working directory with ./catalog (copies) and the inputs of :func:`make_inputs`."""
    (tmp_path / "catalog").symlink_to(catalog_copy, target_is_directory=True)
    make_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    (tmp_path / "RO").chmod(0o755)


def _resolve(argv: list[str]) -> list[str]:
    out = []
    for arg in argv:
        if arg.startswith("CATALOG:"):
            kind = arg.split(":", 1)[1]
            content = BAD_CATALOGS[kind][0]
            arg = "DIR" if content == "DIR" else f"catalog-{kind}.json"
        out.append(arg)
    return out


def _snapshot(folder: Path) -> dict:
    """Every file under ``folder`` (following the catalog link) with its size and mtime."""
    state = {}
    for base, _, files in os.walk(folder, followlinks=True):
        for name in files:
            stat = os.stat(os.path.join(base, name))
            state[os.path.join(base, name)] = (stat.st_size, stat.st_mtime_ns)
    return state


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(argv: list[str], in_subprocess: bool, capsys) -> tuple[int, str]:
    """(exit status, stderr) of ``critpoints ARGV`` in the working directory."""
    if in_subprocess:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        result = subprocess.run([sys.executable, "-m", "critpoints", *argv], env=env,
                                capture_output=True, text=True, timeout=TIMEOUT, check=False,
                                preexec_fn=_limit_memory)
        return result.returncode, result.stderr
    return main(argv), capsys.readouterr().err


@pytest.mark.parametrize("argv, fragment, in_subprocess, code", CORPUS)
def test_bad_input(argv, fragment, in_subprocess, code, workdir, capsys):
    argv = _resolve(argv)
    before = _snapshot(workdir)
    status, err = run_cli(argv, in_subprocess, capsys)
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert status == code, err
    assert len(lines) == 1 and lines[0].startswith("critpoints"), err
    if fragment:
        assert fragment in lines[0], lines[0]
    assert _snapshot(workdir) == before, "a file was written or changed"


def test_paths_are_named_once(workdir, capsys):
    # "cannot load catalog X: X: cannot read" named the file twice.
    status, err = run_cli([*LLC, "--catalog", "nowhere.json"], False, capsys)
    assert status == 2 and err.count("nowhere.json") == 1, err


def test_ctrl_c_exits_130_without_traceback(monkeypatch, capsys):
    import critpoints.cli.derive

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(critpoints.cli.derive, "run", interrupted)
    assert main(["derive"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip() == "critpoints: interrupted"


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_real_ctrl_c_stops_a_parallel_sweep_with_130(tmp_path):
    import signal
    import time

    # Ctrl-C reaches the whole process group: the command and its worker processes.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [*TRANSITIONS[:3], "--runs", "4", "--steps", "300000", "--workers", "2", "--quiet",
            "--out", str(tmp_path / "t.json")]
    process = subprocess.Popen(
        [sys.executable, "-m", "critpoints", *argv], env=env, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: (signal.signal(signal.SIGINT, signal.SIG_DFL), os.setpgrp()),
    )
    time.sleep(6)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130 and err.strip() == "critpoints: interrupted", err
    assert not (tmp_path / "t.json").exists()


def test_every_option_shows_its_default_and_no_markup(capsys):
    from critpoints.cli import COMMANDS

    for command in COMMANDS:
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "``" not in text, command
    assert main(["llc", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--chains CHAINS number of SGLD chains (default: 16)" in text


def test_builtin_catalogs_load_from_any_directory(tmp_path, monkeypatch):
    from critpoints.catalog import CatalogError, builtin_path, default_catalog_path, load_builtin

    monkeypatch.chdir(tmp_path)  # no ./catalog here
    assert load_builtin(6)["model"]["n"] == 6
    assert default_catalog_path(6) == builtin_path("tms-n6-m2.json")
    with pytest.raises(CatalogError, match="built-in catalogs: "):
        load_builtin(99)


def test_packages_listed_in_pyproject_match_the_source_tree():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    listed = set(config["setuptools"]["packages"])
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "critpoints").rglob("__init__.py")
        if "__pycache__" not in path.parts
    }
    assert listed == found | {"critpoints._catalogs"}
    assert config["setuptools"]["package-dir"] == {"critpoints._catalogs": "catalog"}


def test_diverged_runs_are_dropped_on_request(tmp_path, capsys):
    # lr 3 is stable for some runs and not others (run 1 of 3 diverges at step 22 with seed 0).
    argv = [*TRANSITIONS[:3], "--runs", "3", "--steps", "300", "--lr", "3", "--quiet", "--out"]
    assert main([*argv, str(tmp_path / "stop.json")]) == 2
    assert "run 1 at step" in capsys.readouterr().err
    assert not (tmp_path / "stop.json").exists()
    assert main([*argv, str(tmp_path / "drop.json"), "--diverged", "drop"]) == 0
    assert "1 of 3 runs diverged and were dropped: run 1 at step" in capsys.readouterr().err
    graph = json.loads((tmp_path / "drop.json").read_text(encoding="utf-8"))["graph"]
    assert graph["runs"] == 2 and list(graph["diverged_runs"]) == ["1"]


def test_minus_zero_is_zero():
    """``--sparsity -0`` names the catalog ``S0``, not ``S-0`` (the parsed 0.0 carries no sign)."""
    from critpoints.cli.enumerate import sparse_catalog_name
    from critpoints.cli.options import real

    value = real(0.0, 1.0, hi_open=True)("-0")
    assert value == 0.0 and str(value) == "0.0"
    assert sparse_catalog_name(3, value, None) == sparse_catalog_name(3, 0.0, None)
    assert "S-0" not in sparse_catalog_name(3, value, None)


def test_plot_sgd_that_diverges_is_one_line(workdir, capsys, monkeypatch):
    """A sweep that diverges inside ``plot sgd`` is reported like ``transitions`` reports it."""
    from critpoints import plot
    from critpoints.dynamics.sgd import DivergedRuns

    def diverges(*args, **kwargs):
        raise DivergedRuns({0: 3})

    monkeypatch.setattr(plot, "small_sweep", diverges)
    status, err = run_cli(["plot", "sgd", "catalog/tms-n6-m2.json", "--out", "s.png"], False,
                          capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err
    assert "run 0 at step 3" in lines[0] and "--init-scale" in lines[0]
    assert not (workdir / "s.png").exists()
