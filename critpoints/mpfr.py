"""mpmath numbers computed through MPFR (gmpy2), to the same bits.

mpmath's ``mpf`` arithmetic runs in Python: at 60–80 digits one product or sum costs ≈ 2 µs,
most of it interpreter overhead, and the high-precision evaluators spend their time there. MPFR
rounds +, −, ×, ÷ and √ correctly, as mpmath does, so at the same precision in bits and the
same rounding (to nearest, ties to even) the same sequence of operations gives the same numbers,
bit for bit, at a fraction of the cost (gmpy2's ``mpfr`` in numpy object arrays).

:func:`computed_through_mpfr` runs a function of object arrays of ``mpf`` on ``mpfr`` copies and
returns ``mpf`` again, at mpmath's current working precision. Only for functions that use those
operations and comparisons (no ``mpmath`` functions, no transcendental functions, no division
by zero: MPFR returns ±inf where mpmath raises); the tests hold each user to the bits of plain
mpmath.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gmpy2
import mpmath
import numpy as np
from mpmath.libmp import from_man_exp

__all__ = ["computed_through_mpfr", "from_mpf", "to_mpf"]


def _context(prec: int) -> gmpy2.context:
    """MPFR at ``prec`` bits, rounding to nearest (ties to even: mpmath's ``"n"``), with
    exponents as wide as MPFR allows (mpmath's are unbounded) and no traps."""
    return gmpy2.context(precision=prec, round=gmpy2.RoundToNearest, subnormalize=False,
                         emax=gmpy2.get_emax_max(), emin=gmpy2.get_emin_min())


def from_mpf(x: Any) -> gmpy2.mpfr:
    """The ``mpfr`` equal to ``x`` (an ``mpf`` or an int): exact in a context of at least
    ``x``'s precision."""
    if isinstance(x, int):
        return gmpy2.mpfr(x)
    sign, man, exp, _ = x._mpf_
    if not man:
        if exp:  # mpmath's inf, -inf, nan: normalised with man = 0 and exp ≠ 0
            return gmpy2.mpfr(float(x))
        return gmpy2.mpfr(0)
    value = gmpy2.mul_2exp(gmpy2.mpfr(man), exp)
    return -value if sign else value


def to_mpf(x: Any) -> Any:
    """``x`` with every ``mpfr`` (alone, in an object array, a tuple or a list) made the equal
    ``mpf``; −0 becomes mpmath's only zero. Anything else is returned as it is."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        convert = _mpf_converter()
        out = np.empty(x.shape, dtype=object)
        out.reshape(-1)[:] = [convert(v) for v in x.reshape(-1)]
        return out
    if isinstance(x, tuple):
        return tuple(to_mpf(v) for v in x)
    if isinstance(x, list):
        return [to_mpf(v) for v in x]
    return _mpf_converter()(x)


def _mpf_converter() -> Callable[[Any], Any]:
    prec, make, mpfr, is_finite = mpmath.mp.prec, mpmath.mp.make_mpf, gmpy2.mpfr, gmpy2.is_finite

    def convert(v):
        if type(v) is not mpfr:
            return v
        if not is_finite(v):
            return mpmath.mpf(float(v))
        man, exp = v.as_mantissa_exp()
        return make(from_man_exp(man, int(exp), prec, "n"))  # exact: man has ≤ prec bits
    return convert


def _as_mpfr(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    flat_in, flat_out = array.reshape(-1), out.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = from_mpf(flat_in[i])
    return out


def computed_through_mpfr(function: Callable[..., Any], *arrays: np.ndarray) -> Any:
    """``function(*arrays)`` for object arrays of ``mpf``, evaluated on ``mpfr`` copies at
    mpmath's current precision; the result (numbers, object arrays, tuples of them) as ``mpf``.
    The same bits as ``function(*arrays)`` when ``function`` uses only +, −, ×, ÷, √ and
    comparisons (see the module docstring)."""
    with gmpy2.context(_context(mpmath.mp.prec)):
        result = function(*(_as_mpfr(np.asarray(a, dtype=object)) for a in arrays))
    return to_mpf(result)
