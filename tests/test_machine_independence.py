"""The same bits on any x86-64 machine: the evaluators give the same float64 and mpmath results
whatever SIMD instructions the CPU has.

numpy dispatches some float64 functions to SIMD code chosen at run time (on AVX512 machines
``power`` is a SIMD library's pow, which differs from the C library's in about 4 % of integer
powers), and numba compiles for the host CPU. Either would make the committed catalogs machine
dependent, and so would the C library's exp, pow, sin (FMA variants) and OpenBLAS's kernels if
they entered the evaluation. These tests evaluate the potentials twice, in two processes: once
as this machine runs them and once as an older x86-64 CPU would — numpy's dispatched SIMD
features switched off (``NPY_DISABLE_CPU_FEATURES``), numba compiling for a generic x86-64
(``NUMBA_CPU_NAME=generic``), glibc without its AVX/FMA paths (``GLIBC_TUNABLES``) and
OpenBLAS's generic kernels (``OPENBLAS_CORETYPE=Prescott``) — and compare the SHA-256 of the
bytes. (``bench/portability.py`` does the same for whole catalog commands.)
"""

import os
import subprocess
import sys
import textwrap

import pytest

from critpoints.portability import OLDER_CPU_SWITCHES, older_cpu

#: Loss, gradient and Hessian, float64 and 30 digits, one-hot and finite S (with and without
#: importances), at points chosen to reach every path of the cube moments: generic points, a
#: zero column, tiny columns (double-double and mpmath fallbacks, split quadrature), a polygon
#: with dead columns, S near 1 (the flat-set regime).
_EVALUATIONS = textwrap.dedent("""
    import hashlib, sys
    import mpmath, numpy as np
    from critpoints import tms

    rng = np.random.default_rng(11)
    out = []

    def record(value):
        if isinstance(value, (tuple, list)):
            for part in value:
                record(part)
            return
        array = np.asarray(value)
        if array.dtype == object:
            out.append(repr([mpmath.nstr(v, 40) for v in array.ravel()]).encode())
        else:
            out.append(np.ascontiguousarray(array, dtype=float).tobytes())

    for n, m in [(3, 2), (5, 2), (4, 3)]:
        for kind, S in enumerate([0.0, 0.3, 0.9, 0.999, 0.5, 0.7]):
            W = rng.normal(size=(m, n)) * rng.uniform(0.3, 1.5)
            b = rng.normal(size=n) * 0.3
            if kind == 1:
                W[:, 0] = 0.0
            elif kind == 2:
                W[:, 0] *= 1e-9
                b[1] = 1e-13
            elif kind == 3:
                W[:, :2] *= 1e-5
            elif kind == 4:
                angle = 2 * np.pi * np.arange(n - 1) / (n - 1)
                W = np.zeros((m, n))
                W[0, : n - 1], W[1, : n - 1] = np.cos(angle), np.sin(angle)
                b = np.full(n, -0.1)
            elif kind == 5:
                b[:] = -1e-7
            importance = np.linspace(1.0, 0.5, n)
            for evaluate in (tms.loss, tms.gradient, tms.hessian):
                record(evaluate(W, b))
                record(evaluate(W, b, sparsity=S))
                record(evaluate(W, b, sparsity=S, importance=importance))
            if kind in (0, 3) and n <= 4:
                record(tms.gradient(W, b, dps=30, sparsity=S))
                record(tms.hessian(W, b, dps=30))
    print(hashlib.sha256(b"".join(out)).hexdigest())
""")


def _evaluate(tmp_path, name: str, environment: dict[str, str]) -> str:
    env = {key: value for key, value in os.environ.items() if key not in OLDER_CPU_SWITCHES}
    env.update(NUMBA_CACHE_DIR=str(tmp_path / name), **environment)
    result = subprocess.run([sys.executable, "-c", _EVALUATIONS], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


@pytest.mark.slow
def test_the_evaluators_give_the_same_bits_on_an_older_cpu(tmp_path):
    native = _evaluate(tmp_path, "native", {})
    older = {key: value for switches in older_cpu().values() for key, value in switches.items()}
    generic = _evaluate(tmp_path, "generic", older)
    assert len(native) == 64
    assert native == generic, (
        f"the evaluators depend on the CPU: the bytes differ with {older}")
