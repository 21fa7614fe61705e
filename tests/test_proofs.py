"""Tests of critpoints.proofs (exact forms, interval certificates) and of the k = n existence
question (critpoints.kgon.existence)."""

from __future__ import annotations

import copy
import json
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from critpoints.catalog import Catalog, validate
from critpoints.cli import main
from critpoints.kgon.existence import existence_row, isolate_roots
from critpoints.kgon.reduced import solve_regular_polygon
from critpoints.proofs import annotate, check_entry
from critpoints.proofs.algebraic import exact_form, reduced_polynomials_exact
from critpoints.proofs.exact_point import exact_gradient_vanishes, regular_exact_point
from critpoints.proofs.interval import precision, reduced_krawczyk
from critpoints.tms.polygon import intervals

ROOT = Path(__file__).resolve().parents[1]
CATALOG6 = ROOT / "catalog" / "tms-n6-m2.json"
t = sp.Symbol("t")

#: the variable of the reduced polynomials (critpoints.proofs.algebraic.S_VARIABLE)
s_sym = sp.Symbol("s")


def _catalog6():
    return json.loads(CATALOG6.read_text())


def _root_in(number: dict) -> float:
    """The root of a stored minimal polynomial in its isolating interval (exact sympy)."""
    poly = sp.Poly(sp.sympify(number["minpoly"]), t)
    lo, hi = (sp.Rational(v) for v in number["interval"])
    if lo == hi:
        return float(lo)
    roots = [r for r in poly.real_roots() if lo <= r <= hi]
    assert len(roots) == 1
    return float(roots[0].evalf(30))


# Published values (SPEC §2, from the paper / seed 001): (n, k, l, b_v)
PUBLISHED = [(6, 6, 1.32053, -0.61814), (6, 5, 1.17046, -0.28230), (7, 7, 1.44839, -0.96691),
             (8, 8, 1.55045, -1.29119)]


@pytest.mark.parametrize("n,k,l,b", PUBLISHED)
def test_minimal_polynomials_reproduce_published_points(n, k, l, b):
    (solution,) = solve_regular_polygon(n, k)
    form = exact_form(n, k, mpmath.nstr(solution.x, 60), mpmath.nstr(solution.s, 60))
    coords = form["coordinates"]
    # the algebraic numbers (exact roots in their isolating intervals) are the published point
    assert _root_in(coords["x"]) ** 0.5 == pytest.approx(l, abs=1e-5)
    assert _root_in(coords["vertex_bias"]) == pytest.approx(b, abs=2e-5)
    assert _root_in(coords["x"]) * _root_in(coords["s"]) == pytest.approx(b, abs=2e-5)


def test_exact_forms_rederived_for_small_n_and_stored_floats_are_roots():
    # every regular reduced point of the committed n = 6 catalog, re-derived from scratch
    for entry in _catalog6()["critical_points"]:
        if entry["reduced"] is None or entry["reduced"]["s"] == "0.0":
            continue
        form = exact_form(6, entry["k"], entry["reduced"]["x"], entry["reduced"]["s"])
        for name, key in (("x", "x"), ("s", "s"), ("vertex_bias", "vertex_bias")):
            poly = sp.Poly(sp.sympify(form["coordinates"][name]["minpoly"]), t)
            value = sp.Float(entry["reduced"][key], 60)
            scale = sum(abs(c) for c in poly.all_coeffs())
            assert abs(poly.eval(value)) < scale * 1e-45
            assert poly.is_irreducible


def test_six_gon_minimal_polynomial_degree_and_field():
    (solution,) = solve_regular_polygon(6, 6)
    form = exact_form(6, 6, mpmath.nstr(solution.x, 60), mpmath.nstr(solution.s, 60))
    # cos(2π/6) = 1/2 is rational: h has rational coefficients and s has degree ≤ deg h
    assert form["cos_minpoly"] == "c - 1/2"
    assert form["coordinates"]["s"]["degree"] <= 5


def test_first_interval_closed_form_exact():
    # docs/proofs.md: on (-1, -cos 2π/n) only Q is active, h = s(1+s)^4/3 for every n
    expected = [Fraction(v, 3) for v in sp.Poly(s_sym * (1 + s_sym) ** 4, s_sym).all_coeffs()[::-1]]
    for n in (5, 7, 12):
        _, _, h = reduced_polynomials_exact(n, n, intervals(n)[0])
        coefficients = [[Fraction(int(v.p), int(v.q)) for v in poly.coeffs()] for poly in h]
        assert all(len(c) <= 1 for c in coefficients)  # rational: no cos(2π/n) left
        values = [c[0] if c else Fraction(0) for c in coefficients]
        while values and values[-1] == 0:
            values.pop()
        assert values == expected


def test_real_root_isolation_matches_sympy():
    """critpoints.proofs.realroots follows sympy's continued-fraction isolation: the same end
    points as sympy's Poly.intervals(eps=10⁻¹²) on every minimal polynomial of the committed
    n = 5..8 catalogs and on random irreducible polynomials (sympy is the reference here)."""
    from critpoints.proofs.realroots import isolating_intervals

    t = sp.Symbol("t")
    polynomials = set()
    for n in (5, 6, 7, 8):
        document = json.loads((ROOT / f"catalog/tms-n{n}-m2.json").read_text())
        for entry in document["critical_points"]:
            for number in ((entry.get("exact") or {}).get("coordinates") or {}).values():
                if number.get("degree", 1) > 1:
                    polynomials.add(sp.Poly(sp.sympify(number["minpoly"]), t))
    rng = np.random.default_rng(13)
    for _ in range(60):
        degree = int(rng.integers(2, 9))
        coefficients = ([int(v) for v in rng.integers(-30, 31, degree)]
                        + [int(rng.choice([-3, -1, 1, 5]))])
        for factor, _ in sp.Poly(coefficients, t).factor_list()[1]:
            if factor.degree() >= 2:
                factor = factor.primitive()[1]
                polynomials.add(-factor if factor.LC() < 0 else factor)
    assert len(polynomials) > 40
    for poly in polynomials:
        expected = [(Fraction(int(a.p), int(a.q)), Fraction(int(b.p), int(b.q)))
                    for (a, b), _ in poly.intervals(eps=sp.Rational(1, 10**12))]
        ours = isolating_intervals([int(v) for v in poly.all_coeffs()], Fraction(1, 10**12))
        assert ours == expected


@settings(max_examples=150, deadline=None)
@given(roots=st.lists(st.fractions(min_value=-4, max_value=4, max_denominator=12), min_size=0,
                      max_size=5),
       quadratic=st.tuples(st.integers(-6, 6), st.integers(-9, 9)),
       ends=st.tuples(st.fractions(min_value=-5, max_value=5, max_denominator=12),
                      st.fractions(min_value=-5, max_value=5, max_denominator=12)),
       near=st.integers(0, 3))
def test_counting_real_roots_agrees_with_sympy(roots, quadratic, ends, near):
    """count_real_roots (Arb balls) against sympy's Sturm-sequence Poly.count_roots: rational
    roots (repeated, on the end points), a quadratic factor with real, double or complex roots,
    and an end point within 10⁻⁴⁰ of an irrational root."""
    from critpoints.proofs.realroots import count_real_roots

    poly = sp.Poly(t**2 + quadratic[0] * t + quadratic[1], t)
    for root in roots:
        poly *= sp.Poly(root.denominator * t - root.numerator, t)
    lo, hi = sorted(ends)
    if near and poly.degree() >= 2:
        real = poly.real_roots()
        if real and not real[0].is_Rational:  # an end point hugging an irrational root
            close = sp.Rational(sp.nsimplify(real[0].evalf(60), rational=True, tolerance=1e-45))
            lo, hi = (close, max(hi, close)) if near == 1 else (min(lo, close), close)
    coefficients = [int(v) for v in poly.primitive()[1].all_coeffs()]
    expected = sp.Poly(coefficients, t).count_roots(sp.Rational(lo), sp.Rational(hi))
    assert count_real_roots(coefficients, Fraction(str(lo)), Fraction(str(hi))) == expected


def test_counting_real_roots_of_the_catalogs_minimal_polynomials():
    """Every stored isolating interval of the n = 5..8 catalogs holds exactly one root, as
    count_real_roots says, and the interval's two halves' counts add up (no root lost or
    counted twice at the midpoint)."""
    from critpoints.proofs.realroots import count_real_roots

    checked = 0
    for n in (5, 6, 7, 8):
        document = json.loads((ROOT / f"catalog/tms-n{n}-m2.json").read_text())
        for entry in document["critical_points"]:
            for number in ((entry.get("exact") or {}).get("coordinates") or {}).values():
                if number.get("degree", 1) < 2:
                    continue
                coefficients = [int(v) for v in
                                sp.Poly(sp.sympify(number["minpoly"]), t).all_coeffs()]
                lo, hi = (Fraction(v) for v in number["interval"])
                assert count_real_roots(coefficients, lo, hi) == 1
                middle = (lo + hi) / 2
                assert (count_real_roots(coefficients, lo, middle)
                        + count_real_roots(coefficients, middle, hi)) == 1
                checked += 1
    assert checked > 40


def test_cos_minimal_polynomials_print_as_sympy():
    from critpoints.proofs.algebraic import cos_minimal_polynomial, polynomial_text

    c = sp.Symbol("c")
    for k in range(1, 40):
        ours = cos_minimal_polynomial(k)
        text = polynomial_text([Fraction(int(v.p), int(v.q)) for v in ours.coeffs()], "c")
        reference = sp.minimal_polynomial(sp.cos(2 * sp.pi / k), c, polys=True)
        assert text == str(reference.monic().as_expr())


def test_krawczyk_proves_six_gon_and_rejects_a_displaced_box():
    (solution,) = solve_regular_polygon(6, 6)
    x, s = mpmath.nstr(solution.x, 60), mpmath.nstr(solution.s, 60)
    interval = next(iv for iv in intervals(6) if iv.describe() == "(-cos(2*pi*1/6), 0)")
    assert reduced_krawczyk(6, 6, interval, x, s, "1e-40")["proved"]
    # a box of the same size 1e-30 away from the root contains no zero: must not be "proved"
    shifted = mpmath.nstr(solution.s + mpmath.mpf("1e-30"), 60)
    assert not reduced_krawczyk(6, 6, interval, x, shifted, "1e-40")["proved"]


def test_exact_gradient_square_and_a_non_critical_point():
    entry = Catalog.from_document(_catalog6()).entry("4+")
    point = regular_exact_point(entry, 6, Fraction(1), Fraction(0))
    assert exact_gradient_vanishes(point)[0] is True
    # x = 1, s = 1/10 is not critical: the exact evaluation must say so
    moved = regular_exact_point(entry, 6, Fraction(1), Fraction(1, 10))
    assert exact_gradient_vanishes(moved)[0] is False


def test_annotate_n6_catalog_every_entry_certified_and_consistent():
    document = _catalog6()
    for entry in document["critical_points"]:
        certificate, exact = annotate(entry, 6, 60)
        assert certificate["proved"] or certificate.get("reason")
        hessian = certificate["hessian"]
        assert hessian.get("proved") is not None
        if hessian.get("proved"):
            assert hessian["agrees_with_classification"] is True, entry["id"]
        if entry["id"] in ("6", "5", "5+"):
            assert certificate["method"] == "krawczyk-reduced" and certificate["proved"]
            assert hessian["proved"] and hessian["n_neg"] == 0
            assert exact["coordinates"]["x"]["degree"] > 1
        entry["certificate"], entry["exact"] = certificate, exact
    validate(document)
    # deterministic
    entry = document["critical_points"][0]
    assert annotate(entry, 6, 60) == (entry["certificate"], entry["exact"])


def test_check_entry_detects_tampering():
    entry = Catalog.from_document(_catalog6()).entry("6")
    entry["certificate"], entry["exact"] = annotate(entry, 6, 60)
    assert check_entry(entry, 6) == []
    bad = copy.deepcopy(entry)
    bad["exact"]["coordinates"]["s"]["minpoly"] = "t**2 - 2"
    assert check_entry(bad, 6)
    bad = copy.deepcopy(entry)
    bad["certificate"]["hessian"]["n_neg"] = 1
    assert check_entry(bad, 6)


@given(st.lists(st.fractions(max_denominator=50), min_size=1, max_size=12),
       st.sampled_from(["t", "c"]))
@settings(max_examples=200, deadline=None)
def test_polynomial_text_is_read_back_by_its_grammar(coefficients, variable):
    """parse_polynomial_text inverts polynomial_text (trailing zero coefficients aside), and
    sympy reads the same polynomial from the text."""
    from critpoints.proofs.algebraic import parse_polynomial_text, polynomial_text

    while len(coefficients) > 1 and coefficients[-1] == 0:
        coefficients = coefficients[:-1]
    text = polynomial_text(coefficients, variable)
    assert parse_polynomial_text(text, variable) == coefficients
    x = sp.Symbol(variable)
    assert sp.expand(sp.sympify(text) - sum(sp.Rational(v.numerator, v.denominator) * x**k
                                             for k, v in enumerate(coefficients))) == 0


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/critpoints-pwned') + t",
    "import os; (((", "t**100000000 - 2", "t**2 + t**2", "t^2 - 2", "2*t*t - 1", "t - 0",
    "t**2 -2", "", "sqrt(2)*t - 1", "t - 1e3",
])
def test_a_tampered_minimal_polynomial_is_not_evaluated(text, tmp_path):
    """certify reads a stored minimal polynomial by its grammar: code in it is not run, a
    degree of 10⁸ is not expanded, anything else is a named failure (it ran sympify on it)."""
    from critpoints.proofs.algebraic import parse_polynomial_text

    with pytest.raises(ValueError):
        parse_polynomial_text(text, "t")
    entry = Catalog.from_document(_catalog6()).entry("6")
    entry["certificate"], entry["exact"] = annotate(entry, 6, 60)
    entry = copy.deepcopy(entry)
    entry["exact"]["coordinates"]["s"]["minpoly"] = text
    failures = check_entry(entry, 6)
    assert any("exact form of s unreadable" in f for f in failures), failures
    assert not Path("/tmp/critpoints-pwned").exists()


def test_certify_cli_exit_statuses(tmp_path, capsys):
    document = _catalog6()
    document["critical_points"] = document["critical_points"][:6]
    for entry in document["critical_points"]:
        entry["certificate"], entry["exact"] = annotate(entry, 6, 60)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(document))
    assert main(["certify", str(good)]) == 0
    document["critical_points"][0]["certificate"]["proved"] = False
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    assert main(["certify", str(bad)]) == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["certify", str(broken)]) == 2


@pytest.mark.parametrize("n,l,b", [(5, 1.17046, -0.28230), (6, 1.32053, -0.61814),
                                   (7, 1.44839, -0.96691), (8, 1.55045, -1.29119)])
def test_existence_small_n_unique_minimum(n, l, b):
    row = existence_row(n)
    assert row["solutions"] == 1
    (point,) = row["points"]
    # published (SPEC §2): the k = n gons for n = 5..8 (5-gon: n = 5 from the 5-gon family)
    if n != 5:
        assert float(point["l"]) == pytest.approx(l, abs=1e-5)
        assert float(point["b_v"]) == pytest.approx(b, abs=2e-5)
    assert point["certificate"]["proved"]
    assert point["classification"] == "minimum" and point["numeric_index"] == 0


def test_existence_n12_one_root_saddle():
    row = existence_row(12)
    # the paper reports two roots for n = 12; the certified count over all intervals is 1
    assert row["solutions"] == 1
    (point,) = row["points"]
    assert point["classification"] == "saddle"
    assert point["hessian_index"] == point["numeric_index"] == 1


def test_isolate_roots_on_a_known_polynomial():
    import flint

    with precision():
        # (s - 1/3)(s - 1/2)(s + 2): two roots in (0, 1), none at the ends
        coeffs = [flint.arb(flint.fmpq(int(sp.Rational(c).p), int(sp.Rational(c).q))) for c in
                  sp.Poly((s_sym - sp.Rational(1, 3)) * (s_sym - sp.Rational(1, 2)) * (s_sym + 2),
                          s_sym).all_coeffs()[::-1]]
        brackets = isolate_roots(coeffs, flint.arb(0), flint.arb(1))
        assert len(brackets) == 2
        assert float(brackets[0][0].mid()) <= 1 / 3 <= float(brackets[0][1].mid())


def test_check_entry_finds_an_interval_that_does_not_isolate_one_root():
    """certify's root count on a stored exact form: an interval widened over a second real
    root of the minimal polynomial, or moved off the root, is named as a failure."""
    from critpoints.proofs.realroots import count_real_roots

    def real_roots(number: dict) -> int:
        if number.get("degree", 1) < 2:
            return 1
        poly = sp.Poly(sp.sympify(number["minpoly"]), t)
        return count_real_roots([int(v) for v in poly.all_coeffs()], Fraction(-100),
                                Fraction(100))

    entry, name = next((entry, name) for entry in _catalog6()["critical_points"]
                       for name, number in ((entry.get("exact") or {}).get("coordinates")
                                            or {}).items() if real_roots(number) > 1)
    number = entry["exact"]["coordinates"][name]
    assert check_entry(entry, 6) == []
    widened = copy.deepcopy(entry)
    widened["exact"]["coordinates"][name]["interval"] = ["-100", "100"]
    assert f"{entry['id']}: interval of {name} does not isolate one root" in check_entry(widened, 6)
    lo, hi = (Fraction(v) for v in number["interval"])
    moved = copy.deepcopy(entry)
    moved["exact"]["coordinates"][name]["interval"] = [str(hi + 1), str(hi + 1 + (hi - lo))]
    failures = check_entry(moved, 6)
    assert f"{entry['id']}: isolating interval of {name} misses the value" in failures


@settings(max_examples=200, deadline=None)
@given(f=st.lists(st.integers(-10**30, 10**30), min_size=0, max_size=40),
       a=st.integers(-10**6, 10**6))
def test_taylor_shift_is_the_horner_scheme(f, a):
    """realroots._shift (FLINT) gives the integers of the Horner scheme sympy's isolation uses,
    leading zeros kept."""
    from critpoints.proofs.realroots import _shift

    expected, n = list(f), len(f) - 1
    for i in range(n, 0, -1):
        for j in range(i):
            expected[j + 1] += a * expected[j]
    assert _shift(f, a) == expected


def test_certificates_hold_at_hundreds_of_digits(tmp_path, capsys):
    """--digits 400: the certificate box (radius 10^-266) is resolved by the Arb precision
    (interval.bits_for_digits), the exact points are compared in mpmath (10^-390 is 0.0 as a
    float), so every entry proved at 60 digits is proved at 400, and the file certifies. At
    400 digits every certificate failed before ("stored point differs from the exact one",
    Krawczyk above 200 digits) and 500 digits divided by zero."""
    from critpoints.proofs.interval import PREC, bits_for_digits

    assert bits_for_digits(60) == PREC and bits_for_digits(400) > 400 * 3.32 + 50
    proved = {}
    for digits in (60, 400):
        out = tmp_path / f"d{digits}.json"
        assert main(["enumerate", "--n", "5", "--digits", str(digits), "--random-starts", "0",
                     "--quiet", "--workers", "1", "--out", str(out)]) == 0
        document = json.loads(out.read_text(encoding="utf-8"))
        proved[digits] = {p["id"]: p["certificate"]["proved"]
                          for p in document["critical_points"]}
    assert proved[400] == proved[60] and sum(proved[60].values()) >= 40
    capsys.readouterr()
    assert main(["certify", str(tmp_path / "d400.json"), "--quiet", "--workers", "1"]) == 0
    out = tmp_path / "existence.json"
    assert main(["kgon-existence", "--min-n", "5", "--max-n", "5", "--digits", "500",
                 "--out", str(out)]) == 0
    assert '"proved": false' not in out.read_text(encoding="utf-8")


def test_the_linear_autoencoder_verifies_at_a_thousand_digits(tmp_path):
    """The gradient bound 10^(−2·digits/3) is an mpf: as a float it was 0 above 460 digits and
    every point failed its check."""
    out = tmp_path / "linear.json"
    assert main(["linear", "--n", "3", "--hidden", "1", "--digits", "1000",
                 "--out", str(out)]) == 0
    assert len(json.loads(out.read_text(encoding="utf-8"))["critical_points"]) == 4
