"""Symbolic derivation of the TMS potential in the high-sparsity limit (SPEC §2).

The potential is assembled from two one-dimensional building blocks, the integrals over the
input magnitude mu ~ U[0, 1]

    P(a, c) = ∫₀¹ ReLU(a mu + c)² dmu              (interference of one feature on another)
    Q(a, c) = ∫₀¹ (mu - ReLU(a mu + c))² dmu       (reconstruction of a feature by itself)

and, with the Gram matrix G = WᵀW,

    L(W, b) = (1/n) Σ_i [ Q(G_ii, b_i) + Σ_{j≠i} P(G_ij, b_j) ].

The pre-activation a mu + c is affine in mu, so its sign pattern on [0, 1] is fixed by its two end
values c (at mu = 0) and a + c (at mu = 1). That gives four activation regions, each with its own
active interval; sympy integrates the definitions over that interval, and differentiates the
results. :func:`generated_source` turns the region formulas into the Python module
``critpoints/tms/_generated.py`` (committed; a test re-derives it and checks it is current), which
the numeric evaluators use. No formula of the potential is typed in anywhere else.

Region codes (``region = 2*[c > 0] + [a + c > 0]``):

=====  =========  =====================  ==========================
code   name       condition              active interval of mu
=====  =========  =====================  ==========================
0      dead       c ≤ 0, a + c ≤ 0       none
1      rising     c ≤ 0 < a + c          [-c/a, 1]   (then a > 0)
2      falling    a + c ≤ 0 < c          [0, -c/a]   (then a < 0)
3      live       c > 0, a + c > 0       [0, 1]
=====  =========  =====================  ==========================

The strict inequalities put every boundary point in the region where the ReLU is switched off
there (the convention ReLU'(0) = 0 of autograd frameworks); both sides agree on values and first
derivatives except at a = c = 0 for Q (see :mod:`critpoints.tms.potential`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp
from sympy.printing.str import StrPrinter

a, c, mu = sp.symbols("a c mu", real=True)
#: The switch point -c/a of the ReLU inside [0, 1] (partial regions only).
r = sp.Symbol("r", real=True)

#: The integrands of the two building blocks, straight from SPEC §2.
_RELU_PRE = a * mu + c


@dataclass(frozen=True)
class Region:
    code: int
    name: str
    condition: sp.Basic  # a sympy boolean in a, c
    active: tuple[sp.Expr, sp.Expr] | None  # active interval of mu, or None when dead


REGIONS: tuple[Region, ...] = (
    Region(0, "dead", sp.And(c <= 0, a + c <= 0), None),
    Region(1, "rising", sp.And(c <= 0, a + c > 0), (-c / a, sp.Integer(1))),
    Region(2, "falling", sp.And(a + c <= 0, c > 0), (sp.Integer(0), -c / a)),
    Region(3, "live", sp.And(c > 0, a + c > 0), (sp.Integer(0), sp.Integer(1))),
)

#: Names of the derivatives, in the order the generated functions return them.
DERIVATIVES: tuple[tuple[str, tuple[sp.Symbol, ...]], ...] = (
    ("", ()),
    ("_a", (a,)),
    ("_c", (c,)),
    ("_aa", (a, a)),
    ("_ac", (a, c)),
    ("_cc", (c, c)),
)


def _integral(integrand_live: sp.Expr, integrand_dead: sp.Expr, region: Region) -> sp.Expr:
    """∫₀¹ of a function equal to ``integrand_live`` where a mu + c > 0, else ``integrand_dead``."""
    if region.active is None:
        return sp.integrate(integrand_dead, (mu, 0, 1))
    lo, hi = region.active
    total = sp.integrate(integrand_live, (mu, lo, hi))
    # The dead parts of [0, 1] (empty intervals integrate to 0).
    total += sp.integrate(integrand_dead, (mu, 0, lo)) + sp.integrate(integrand_dead, (mu, hi, 1))
    return sp.factor(sp.simplify(total))


@cache
def block_formulas() -> dict[str, dict[int, sp.Expr]]:
    """Closed forms of P and Q and their derivatives up to order two, per region.

    Returns
    -------
    dict
        ``{"P": {code: expr}, "P_a": ..., "Q_cc": {...}}`` with one expression per region code.

    Examples
    --------
    >>> block_formulas()["P"][1]          # rising region
    (a + c)**3/(3*a)
    """
    base = {
        # ReLU(a mu + c)² : (a mu + c)² where active, 0 where not.
        "P": (_RELU_PRE**2, sp.Integer(0)),
        # (mu - ReLU(a mu + c))² : (mu - a mu - c)² where active, mu² where not.
        "Q": ((mu - _RELU_PRE) ** 2, mu**2),
    }
    out: dict[str, dict[int, sp.Expr]] = {}
    for block, (live, dead) in base.items():
        values = {r.code: _integral(live, dead, r) for r in REGIONS}
        for suffix, wrt in DERIVATIVES:
            out[block + suffix] = {
                code: sp.factor(sp.diff(expr, *wrt)) if wrt else expr
                for code, expr in values.items()
            }
    return out


def block_piecewise(name: str) -> sp.Piecewise:
    """One building block (e.g. ``"Q"`` or ``"P_ac"``) as a sympy Piecewise over the regions."""
    formulas = block_formulas()[name]
    return sp.Piecewise(*[(formulas[r.code], r.condition) for r in REGIONS])


def symbolic_loss(n: int, m: int) -> tuple[sp.Expr, sp.Matrix, sp.Matrix]:
    """The potential L(W, b) for n features and hidden dimension m as one sympy expression.

    Returns ``(L, W, b)`` with W an m×n matrix of symbols ``w_r_i`` and b a column of ``b_i``.
    Meant for tests and documentation: differentiating it gives the exact gradient and Hessian
    against which the generated evaluators are checked.
    """
    W = sp.Matrix(m, n, lambda r, i: sp.Symbol(f"w_{r}_{i}", real=True))
    b = sp.Matrix(n, 1, lambda i, _: sp.Symbol(f"b_{i}", real=True))
    P, Q = block_piecewise("P"), block_piecewise("Q")
    G = W.T * W
    total = sp.Integer(0)
    for i in range(n):
        total += Q.subs({a: G[i, i], c: b[i]}, simultaneous=True)
        for j in range(n):
            if j != i:
                total += P.subs({a: G[i, j], c: b[j]}, simultaneous=True)
    return total / n, W, b


class _ExactPrinter(StrPrinter):
    """Prints plain Python arithmetic in which every constant is exact.

    A bare rational such as 2/3 would be a float in Python; it is printed as ``(0*c + 2)/3`` so
    that it takes the type of the input (numpy array, mpmath number, interval) before dividing.
    """

    def _print_Rational(self, expr):
        if expr.q == 1:
            return str(expr.p)
        return f"((0*c + {expr.p})/{expr.q})"

    def _print_Integer(self, expr):
        return str(expr.p)

    def _print_Pow(self, expr, rational=False):
        # Small integer powers as products: numpy's power ufunc is several times slower.
        base, exponent = expr.as_base_exp()
        if exponent.is_Integer and 2 <= exponent <= 4:
            factor = self.parenthesize(base, 100)  # always bracket compound bases
            return "*".join([factor] * int(exponent))
        return super()._print_Pow(expr, rational)


def _pyexpr(expr: sp.Expr) -> str:
    return _ExactPrinter({"order": "none"}).doprint(expr)


def _region_function_source(block: str, order: int, code: int) -> str:
    """Python source of one function returning the block and its derivatives up to ``order``."""
    formulas = block_formulas()
    names = [block + suffix for suffix, wrt in DERIVATIVES if len(wrt) <= order]
    exprs = [formulas[name][code] for name in names]
    lines = [f"def {block.lower()}{order}_{REGIONS[code].name}(a, c):"]
    if REGIONS[code].active is not None and code != 3:
        # Partial regions: written in the switch point r = -c/a in [0, 1], which removes the
        # divisions by powers of a that underflow for tiny a (only genuine 1/a terms remain).
        exprs = [sp.factor(sp.simplify(e.subs(c, -r * a))) for e in exprs]
        lines.append("    r = -c/a")
    replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols("t"), optimizations="basic")
    for sym, expr in replacements:
        lines.append(f"    {sym} = {_pyexpr(expr)}")
    rendered = []
    for expr in reduced:
        text = _pyexpr(expr)
        # Constants must broadcast like the inputs (numpy arrays or mpmath scalars).
        rendered.append(text if expr.free_symbols or "0*c" in text else f"{text} + 0*c")
    lines.append(f"    return ({', '.join(rendered)},)")
    return "\n".join(lines)


def generated_source() -> str:
    """The full text of ``critpoints/tms/_generated.py``.

    Every function uses only + - * / and integer powers with integer constants, so the same
    code evaluates float64 numpy arrays, mpmath numbers at any precision and interval types.
    """
    header = [
        '"""Region formulas of the TMS building blocks P and Q and their derivatives.',
        "",
        "GENERATED by critpoints.tms.symbolic.generated_source(); do not edit.",
        "Regenerate with: python -m critpoints derive --write",
        '"""',
        "# fmt: off",
        "",
    ]
    body = []
    table = []
    for block in ("P", "Q"):
        for order in (0, 1, 2):
            for region in REGIONS:
                body.append(_region_function_source(block, order, region.code))
                body.append("")
                body.append("")
            names = ", ".join(f"{block.lower()}{order}_{r.name}" for r in REGIONS)
            table.append(f"    ({block!r}, {order}): ({names}),")
    footer = ["# (block, order) -> functions indexed by region code",
              "FUNCTIONS = {", *table, "}", ""]
    source = "\n".join(header + body + footer)
    return source.replace("\n\n\n# (block", "\n\n# (block")


# ----------------------------------------------------------------------------------------------
# The regular polygon reduction (SPEC §3): blocks with a = xκ, c = xs


#: Symbols of the polygon reduction: squared norm x, bias ratio s = b/x, block cosine κ.
x_sym, s_sym, kappa_sym = sp.symbols("x s kappa", real=True)


@cache
def polygon_block_parts() -> dict[tuple[str, int], tuple[tuple[sp.Expr, ...], tuple[sp.Expr, ...]]]:
    """Every block formula with a = xκ, c = xs, split into its parts of degree 1 and 2 in x.

    A block is homogeneous of degree 2 in (a, c) (Q: 1/3 - 2R + P with R of degree 1), so
    ``block(xκ, xs) = constant + x·F₁ part(s, κ) + x²·F₂ part(s, κ)``; the region depends on
    (κ, s) only. Each part is a polynomial in s whose coefficients are rational in κ (the
    denominators are powers of κ, from the switch point -c/a = -s/κ of the partial regions).

    Returns
    -------
    dict
        ``{(block, region code): (F₁ coefficients, F₂ coefficients)}``, each a tuple over the
        powers of s (lowest first) of sympy expressions in κ, already cancelled.
    """
    formulas = block_formulas()
    out = {}
    for block in ("P", "Q"):
        for region in REGIONS:
            expr = sp.expand(
                formulas[block][region.code].subs({a: x_sym * kappa_sym, c: x_sym * s_sym})
            )
            poly_x = sp.Poly(expr, x_sym)
            parts = []
            for power in (1, 2):
                poly_s = sp.Poly(sp.expand(poly_x.coeff_monomial(x_sym**power)), s_sym)
                degree = poly_s.degree() if not poly_s.is_zero else 0
                parts.append(tuple(sp.cancel(poly_s.coeff_monomial(s_sym**j))
                                   for j in range(degree + 1)))
            out[(block, region.code)] = tuple(parts)
    return out


class _KappaPrinter(_ExactPrinter):
    """:class:`_ExactPrinter` whose exact rationals take the type of ``kappa``."""

    def _print_Rational(self, expr):
        if expr.q == 1:
            return str(expr.p)
        sign = "-" if expr.p < 0 else "+"
        return f"((0*kappa {sign} {abs(expr.p)})/{expr.q})"


def _kappa_coefficient_source(expr: sp.Expr) -> str:
    """One coefficient, numerator(κ)/κ^p with the numerator in Horner form.

    Integer constants get ``+ 0*kappa`` so every coefficient has the type of κ (mpmath, Arb,
    Fraction or an exact field element), never a bare Python int.
    """
    numerator, denominator = sp.fraction(sp.together(expr))
    power = sp.degree(denominator, kappa_sym) if denominator.has(kappa_sym) else 0
    constant = sp.cancel(denominator / kappa_sym**power)
    numerator = sp.expand(numerator / constant)
    if numerator == 0:
        return "0*kappa"
    printer = _KappaPrinter({"order": "none"})
    text = printer.doprint(
        sp.horner(numerator, kappa_sym) if numerator.has(kappa_sym) else numerator
    )
    if not numerator.has(kappa_sym) and "0*kappa" not in text:
        text = f"{text} + 0*kappa"
    if power:
        text = f"({text})/({'*'.join(['kappa'] * int(power))})"
    return text


def polygon_generated_source() -> str:
    """The full text of ``critpoints/tms/_polygon_generated.py``.

    One function per (block, region code), ``kappa -> (F₁ coefficients, F₂ coefficients)`` (tuples
    over the powers of s, lowest first), written with + - * / and exact integer constants, so the
    same code runs on mpmath numbers, python-flint Arb balls, Fractions and exact field elements.
    """
    header = [
        '"""Blocks of the regular polygon reduction: a = xκ, c = xs, '
        'the parts of degree 1 and 2 in x.',
        "",
        "GENERATED by critpoints.tms.symbolic.polygon_generated_source(); do not edit.",
        "Regenerate with: python -m critpoints derive --write",
        '"""',
        "# fmt: off",
        "",
    ]
    body, table = [], []
    parts = polygon_block_parts()
    for block in ("P", "Q"):
        for region in REGIONS:
            name = f"{block.lower()}_{region.name}"
            first, second = parts[(block, region.code)]
            body.append(f"def {name}(kappa):")
            for label, coefficients in (("f1", first), ("f2", second)):
                rendered = ", ".join(_kappa_coefficient_source(v) for v in coefficients)
                body.append(f"    {label} = ({rendered},)")
            body.append("    return (f1, f2)")
            body.append("")
            body.append("")
        names = ", ".join(f"{block.lower()}_{r.name}" for r in REGIONS)
        table.append(f"    {block!r}: ({names}),")
    footer = ["# block -> functions indexed by region code", "PARTS = {", *table, "}", ""]
    source = "\n".join(header + body + footer)
    return source.replace("\n\n\n# block", "\n\n# block")
