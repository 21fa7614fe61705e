"""critpoints.mpfr: mpmath's results computed in MPFR, held to mpmath's own bits."""

from __future__ import annotations

import mpmath
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints import mpfr


def _bits(matrix) -> list:
    return [matrix[i, j]._mpf_ for i in range(matrix.rows) for j in range(matrix.cols)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), dps=st.integers(15, 100), seed=st.integers(0, 2**32 - 1),
       structure=st.sampled_from(["dense", "zero rows", "repeated", "graded", "diagonal"]))
def test_eigsy_gives_the_bits_of_mpmath(n, dps, seed, structure):
    """Eigenvalues and eigenvectors equal to mpmath.eigsy's to the bit, for dense matrices,
    zero rows and columns (the Hessians' symmetry and flat modes), repeated eigenvalues,
    entries graded over 30 decades and diagonal matrices (tred2's early exits)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n))
    A = X + X.T
    if structure == "zero rows":
        for k in rng.choice(n, size=max(1, n // 3), replace=False):
            A[k, :] = A[:, k] = 0.0
    elif structure == "repeated":
        Q, _ = np.linalg.qr(X)
        A = (Q * np.repeat([1.0, -2.0, 0.0], n)[:n]) @ Q.T
        A = (A + A.T) / 2
    elif structure == "graded":
        scale = 10.0 ** rng.uniform(-15, 15, n)
        A = A * scale[:, None] * scale[None, :]
    elif structure == "diagonal":
        A = np.diag(np.diag(A))
    with mpmath.workdps(dps):
        # a third of each entry: the inputs carry every bit of the precision
        M = mpmath.matrix([[mpmath.mpf(v) / 3 for v in row] for row in A])
        values, vectors = mpmath.eigsy(M)
        ours, our_vectors = mpfr.eigsy(M)
        assert _bits(ours) == _bits(values)
        assert _bits(our_vectors) == _bits(vectors)
        assert _bits(mpfr.eigsy(M, eigvals_only=True)) == _bits(mpmath.eigsy(M, True))


def test_hypot_rounds_as_mpmath():
    """mpmath's hypot(x, 1) rounds x² + 1 toward zero at prec + 4 bits before the square root;
    a correctly rounded hypot differs from it in a few per cent of cases, so 4 000 random
    arguments at several precisions tell the two apart."""

    rng = np.random.default_rng(0)
    for dps in (15, 30, 60, 80):
        with mpmath.workdps(dps):
            prec = mpmath.mp.prec
            for _ in range(1000):
                x = mpmath.mpf(float(rng.standard_normal())) * mpmath.mpf(10) ** int(
                    rng.integers(-3, 4)) / 7
                with mpfr._context(prec):
                    ours = mpfr.to_mpf(mpfr._hypot_one(mpfr.from_mpf(x), prec))
                assert ours._mpf_ == mpmath.hypot(x, 1)._mpf_


def test_division_by_zero_raises_as_in_mpmath():
    import pytest

    with mpmath.workdps(30):
        one = np.array([mpmath.mpf(1)], dtype=object)
        with pytest.raises(ZeroDivisionError):
            mpfr.computed_through_mpfr(lambda a: a / (a - a), one)
        with pytest.raises(ZeroDivisionError):
            _ = one[0] / (one[0] - one[0])


def test_inputs_with_more_bits_than_the_precision_are_used_exactly():
    """mpmath rounds the results of operations, not its inputs: a matrix of 300-bit numbers
    diagonalised at 100 bits gives mpmath's bits (the 1 × 1 case returns its entry untouched),
    and a function of such numbers through MPFR too."""
    with mpmath.workprec(300):
        wide = [[mpmath.mpf(1) / 3, mpmath.mpf(2) / 7], [mpmath.mpf(2) / 7, -mpmath.mpf(5) / 11]]
    with mpmath.workprec(100):
        for A in (wide, [[wide[0][0]]]):
            values, vectors = mpmath.eigsy(mpmath.matrix(A))
            ours, our_vectors = mpfr.eigsy(A)
            assert _bits(ours) == _bits(values) and _bits(our_vectors) == _bits(vectors)
        x = np.array([wide[0][0], wide[0][1]], dtype=object)
        for function in (lambda a: a, lambda a: a * 3 + a[::-1]):
            assert [v._mpf_ for v in mpfr.computed_through_mpfr(function, x)] == \
                [v._mpf_ for v in function(x)]


def test_mpfr_conversions_are_exact():
    """mpf -> mpfr -> mpf returns the same number at any precision (signs, zero, huge and tiny
    exponents), and MPFR's -0 comes back as mpmath's zero."""
    import gmpy2

    for dps in (15, 60, 200):
        with mpmath.workdps(dps):
            values = [mpmath.mpf(0), mpmath.mpf(1) / 3, -mpmath.mpf(2) ** -1000,
                      mpmath.mpf(10) ** 300 + 1, -mpmath.pi, mpmath.mpf("1e-400")]
            back = mpfr.computed_through_mpfr(lambda a: a, np.array(values, dtype=object))
            assert [x._mpf_ for x in back] == [x._mpf_ for x in values]
            negative_zero = mpfr.computed_through_mpfr(
                lambda a: a * -1, np.array([mpmath.mpf(0)], dtype=object))[0]
            assert negative_zero._mpf_ == mpmath.mpf(0)._mpf_
            with mpfr._context(mpmath.mp.prec):
                assert mpfr.to_mpf(gmpy2.mpfr(1) / 3)._mpf_ == (mpmath.mpf(1) / 3)._mpf_
