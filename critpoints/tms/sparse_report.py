"""The derivation of the finite-sparsity cube integrals rendered as Markdown, from sympy.

Everything here is printed from :mod:`critpoints.tms.sparse_symbolic`: the one-dimensional
integration-by-parts rules, the vertex sums they give in dimensions 1 and 2, and sympy's check
that the one-dimensional blocks are the one-hot blocks P and Q of :mod:`critpoints.tms.symbolic`
(so that the |A| = 1 terms of L_S are the one-hot potential). The text goes between the two
marker lines of ``docs/sparsity.md``; ``python -m critpoints docs --write`` rewrites it and
``python -m critpoints docs`` checks it. This module returns text only.
"""

from __future__ import annotations

import sympy as sp

from critpoints.tms import sparse_symbolic, symbolic

__all__ = ["BEGIN_MARKER", "END_MARKER", "sparsity_markdown", "update_document"]

BEGIN_MARKER = ("<!-- BEGIN GENERATED sparsity-derivation by `python -m critpoints docs --write`: "
                "do not edit -->")
END_MARKER = "<!-- END GENERATED sparsity-derivation -->"


def _rule_latex(k: int) -> str:
    a, u = sparse_symbolic.a, sparse_symbolic.u
    terms = []
    for bit, r, numerator in sparse_symbolic.interval_rule(k):
        point = u + a if bit else u
        g = sp.Function(f"g^{{(-{r})}}")(point)
        terms.append(numerator / a**r * g)
    return sp.latex(sp.Add(*terms, evaluate=False))


def one_hot_agreement() -> list[tuple[str, int, bool]]:
    """For every one-hot region (symbolic.REGIONS), whether sympy finds
    2 μ_2^0(a, c) = P(a, c) and 1/3 − 2 μ_1^{(1)}(a, c) + 2 μ_2^0(a, c) = Q(a, c) there."""
    formulas = symbolic.block_formulas()
    out = []
    p_closed, (a1,), c1 = sparse_symbolic.cube_moment_closed_form((0,), 2)
    r_closed, (a2,), c2 = sparse_symbolic.cube_moment_closed_form((1,), 1)
    a, c = symbolic.a, symbolic.c
    P = 2 * p_closed.subs({a1: a, c1: c})
    Q = sp.Rational(1, 3) - 2 * r_closed.subs({a2: a, c2: c}) + P
    # a point strictly inside each region, chosen by its sign pattern (c, a + c)
    samples = {0: (-1, -2), 1: (3, -1), 2: (-3, 1), 3: (1, 2)}
    for region in symbolic.REGIONS:
        a0, c0 = (sp.Rational(v, 2) for v in samples[region.code])
        values = {a: a0, c: c0}
        assert bool(region.condition.subs(values))
        for name, closed in (("P", P), ("Q", Q)):
            # the vertex sum is piecewise: compare on the region with a, c symbolic, as
            # polynomials in (a, c) fixed by the signs at the sample point
            pieces = closed.replace(
                lambda e: isinstance(e, sp.Piecewise),
                lambda e, values=values: next(expr for expr, cond in e.args
                                              if bool(cond.subs(values))))
            same = sp.simplify(pieces - formulas[name][region.code]) == 0
            out.append((name, region.code, same))
    return out


def sparsity_markdown() -> str:
    """The generated section of docs/sparsity.md."""
    lines = [
        BEGIN_MARKER,
        "",
        "One-dimensional rules (`critpoints.tms.sparse_symbolic.interval_rule`, derived by "
        "repeated integration by parts on undefined functions; $g^{(-r)}$ is the $r$-th "
        "antiderivative of $g$, $a \\ne 0$); each is checked by sympy to integrate "
        "$t^k (u + a t)^N$ exactly for $N \\le 5$:",
        "",
        "| $k$ | $\\int_0^1 t^k g(u + a t)\\,dt$ | exact on polynomials |",
        "|---|---|---|",
    ]
    for k in range(sparse_symbolic.MAX_WEIGHT + 1):
        lines.append(f"| {k} | ${_rule_latex(k)}$ | "
                     f"{'yes' if sparse_symbolic.check_interval_rule(k) else 'NO'} |")
    lines += [
        "",
        "With $g = \\varphi_p$ ($\\varphi_p(x) = \\mathrm{ReLU}(x)^p/p!$, whose antiderivatives "
        "are $\\varphi_{p+r}$), Fubini applies the rules coordinate by coordinate. In dimension 2 "
        "without weights ($\\alpha = 0$, written with $\\rho_v = \\mathrm{ReLU}(c + a\\cdot v)$):",
        "",
    ]
    expr, (a1, a2), c = sparse_symbolic.cube_moment_closed_form((0, 0), 2)
    # every φ_N(c + a·v) of the sympy vertex sum written as ρ_v^N / N!
    rho = {c + v1 * a1 + v2 * a2: sp.Symbol(f"rho_{v1}{v2}", positive=True)
           for v1 in (0, 1) for v2 in (0, 1)}

    def as_rho(piecewise):
        power, _ = piecewise.args[0]
        base, exponent = sp.Mul(*[f for f in power.as_ordered_factors() if f.is_Pow]).as_base_exp()
        return rho[sp.expand(base)] ** exponent / sp.factorial(exponent)

    readable = sp.factor(expr.replace(lambda e: isinstance(e, sp.Piecewise), as_rho))
    lines += [
        f"$$\\mu_2^{{0}}(a_1, a_2, c) = {sp.latex(readable)}$$",
        "",
        "(the identity $\\int_{[0,1]^d} \\mathrm{ReLU}(c + a\\cdot x)^p\\,dx = "
        "\\frac{p!}{(p+d)!} \\sum_{v} (-1)^{d-|v|} \\rho_v^{p+d} / \\prod_i a_i$ with $d = 2$, "
        "$p = 2$, divided by $p!$).",
        "",
        "The |A| = 1 blocks are the one-hot blocks of SPEC §2 (sympy, region by region of "
        "`critpoints.tms.symbolic.REGIONS`: $2\\mu_2^0 = P$ and "
        "$\\tfrac13 - 2\\mu_1^{(1)} + 2\\mu_2^0 = Q$):",
        "",
        "| block | dead | rising | falling | live |",
        "|---|---|---|---|---|",
    ]
    agreement = one_hot_agreement()
    for name in ("P", "Q"):
        cells = [("equal" if same else "DIFFERENT") for block, _, same in agreement
                 if block == name]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += ["", END_MARKER]
    return "\n".join(lines) + "\n"


def update_document(text: str) -> str:
    """``text`` with the part between the markers replaced by :func:`sparsity_markdown`."""
    start = text.find(BEGIN_MARKER)
    end = text.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError("the sparsity generated-section markers are missing or out of order")
    after = text[end + len(END_MARKER):].removeprefix("\n")
    return text[:start] + sparsity_markdown() + after
