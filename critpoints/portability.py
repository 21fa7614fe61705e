"""The environment of an older x86-64 CPU, for checking that results do not depend on the CPU.

Four libraries choose code by the CPU at run time, and each has a switch that makes it take the
code an older CPU would:

- numpy: ``NPY_DISABLE_CPU_FEATURES`` lists the dispatched SIMD features to ignore (its float64
  exp, log, power, tan, arctan, … differ from the AVX512 ones);
- glibc: ``GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,…`` (its exp, log, pow, sin without FMA
  differ in about 1 result in 1 500);
- OpenBLAS: ``OPENBLAS_CORETYPE=Prescott`` (generic kernels: matrix products and LAPACK's
  solvers sum in another order);
- numba: ``NUMBA_CPU_NAME=generic`` (the compiled kernels built for a generic x86-64).

Used by ``tests/test_machine_independence.py`` and ``bench/portability.py``.
"""

from __future__ import annotations

__all__ = ["OLDER_CPU_SWITCHES", "dispatched_features", "older_cpu"]

_GLIBC = ("glibc.cpu.hwcaps=-AVX2,-FMA,-AVX,-AVX512F,"
          "-AVX2_Usable,-FMA_Usable,-AVX_Usable,-AVX512F_Usable")


def dispatched_features() -> list[str]:
    """numpy's run-time dispatched SIMD features that this machine has."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    return [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]


def older_cpu() -> dict[str, dict[str, str]]:
    """Environment variables per library (``numpy``, ``glibc``, ``blas``, ``numba``) that make
    it run as on an older x86-64; set them in a child process's environment (they are read at
    start-up). numba's compiled kernels also need a cache directory of their own
    (``NUMBA_CACHE_DIR``), which the caller provides."""
    features = dispatched_features()
    return {
        "numpy": {"NPY_DISABLE_CPU_FEATURES": " ".join(features)} if features else {},
        "glibc": {"GLIBC_TUNABLES": _GLIBC},
        "blas": {"OPENBLAS_CORETYPE": "Prescott"},
        "numba": {"NUMBA_CPU_NAME": "generic"},
    }


#: Every variable :func:`older_cpu` may set (to clear them from an inherited environment).
OLDER_CPU_SWITCHES = ("NPY_DISABLE_CPU_FEATURES", "GLIBC_TUNABLES", "OPENBLAS_CORETYPE",
                      "NUMBA_CPU_NAME")
