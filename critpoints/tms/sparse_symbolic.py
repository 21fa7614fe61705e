"""Symbolic derivation of the cube integrals of the finite-sparsity TMS potential (SPEC §8).

At sparsity S the input is x_i = χ_i ξ_i with χ_i ~ Bernoulli(1 − S), ξ_i ~ U[0, 1]. Given the
active set A (the features with χ_i = 1, d = |A|), output j sees the pre-activation
z = c + a·ξ with a_i = G_ij (i ∈ A), c = b_j, ξ ~ U[0, 1]^d, and every term of the potential and
of its derivatives up to order two is a weighted cube moment

    μ_p^α(a, c) = E_{ξ ~ U[0,1]^d}[ ξ^α · φ_p(c + a·ξ) ],     φ_p(x) = ReLU(x)^p / p!,

with φ_0 = H (the Heaviside step, H(0) = 0) and φ_{−1} = δ (its derivative). Differentiation
under the integral gives ∂_c μ_p^α = μ_{p−1}^α and ∂_{a_i} μ_p^α = μ_{p−1}^{α+e_i}, and

    E[ReLU(z)²] = 2 μ_2^0,   E[ξ_j ReLU(z)] = μ_1^{e_j},   E[ξ_j²] = 1/3.

The closed form (a box-spline identity). One dimension first: for t^k-weighted integrals,
integrating by parts k + 1 times,

    ∫₀¹ t^k g(u + a t) dt = Σ_{l=0}^{k} (−1)^l k!/(k−l)! · g^{(−l−1)}(u + a) / a^{l+1}
                            − (−1)^k k! · g^{(−k−1)}(u) / a^{k+1}       (a ≠ 0),

where g^{(−r)} is the r-th antiderivative; for g = φ_p it is φ_{p+r} (φ is closed under
antiderivatives vanishing at −∞). :func:`interval_rule` derives this with sympy (the
recursion done symbolically on undefined functions) and :func:`check_interval_rule` proves it
on polynomials. Applying it in each coordinate (Fubini) turns μ_p^α into a sum over the
vertices v ∈ {0, 1}^d of the cube:

    μ_p^α(a, c) = Σ_{choices} Π_i [coefficient_i / a_i^{r_i}] · φ_{p + Σ r_i}(c + a·v),

with, in coordinate i, one term per (bit v_i, antiderivative order r_i) of the rule of
k = α_i. Unweighted (α = 0) this is the classical identity

    ∫_{[0,1]^d} ReLU(c + a·x)^p dx = p!/(p+d)! · Σ_v (−1)^{d−|v|} ReLU(c + a·v)^{p+d} / Π a_i.

A coefficient a_i = 0 is not allowed in the rule; the coordinate then drops out exactly:
E[ξ_i^k] = 1/(k + 1) times the moment in the other coordinates.

:func:`generated_source` writes the rules for k = 0..3 (all the Hessian needs) to
``critpoints/tms/_sparse_generated.py`` (checked by ``critpoints derive``); the numeric
evaluators in :mod:`critpoints.tms.sparse` assemble the vertex sums from that table only.
"""

from __future__ import annotations

import itertools
from functools import cache

import sympy as sp

__all__ = [
    "MAX_WEIGHT",
    "check_interval_rule",
    "cube_moment_closed_form",
    "cube_moment_definition",
    "generated_source",
    "interval_rule",
    "phi",
]

#: Largest exponent k of a weight t^k that the potential's derivatives need: the Hessian of the
#: reconstruction term E[ξ_j ReLU(z)] in (a_j, a_j) gives ξ_j³.
MAX_WEIGHT = 3

a, u, t, x = sp.symbols("a u t x", real=True)


def phi(argument: sp.Expr, p: int) -> sp.Expr:
    """φ_p(x) = ReLU(x)^p / p! as a sympy Piecewise (φ_0 = H with H(0) = 0)."""
    return sp.Piecewise((argument**p / sp.factorial(p), argument > 0), (0, True))


@cache
def interval_rule(k: int) -> tuple[tuple[int, int, sp.Integer], ...]:
    """The t^k-weighted one-dimensional rule, derived by repeated integration by parts.

    ∫₀¹ t^k g(u + a t) dt = Σ (numerator / a^r) · g^{(−r)}(u + a·bit) over the returned terms
    ``(bit, r, numerator)``, r ≥ 1 the order of the antiderivative.

    The recursion is carried out on undefined sympy functions G_r (the antiderivatives of g),
    with ∫₀¹ t^k G_r'(u + a t) dt = [t^k G_r(u + a t)/a]₀¹ − (k/a) ∫₀¹ t^(k−1) G_r(u + a t) dt.

    Examples
    --------
    >>> interval_rule(0)
    ((0, 1, -1), (1, 1, 1))
    >>> interval_rule(1)
    ((0, 2, 1), (1, 1, 1), (1, 2, -1))
    """
    antiderivative = [sp.Function(f"G{r}") for r in range(k + 3)]
    # ∫₀¹ t^κ G_r(u + a t) dt, kept unevaluated as a symbol until expanded
    integral = sp.Function("I")

    def by_parts(kappa: int, r: int) -> sp.Expr:
        upper = antiderivative[r + 1](u + a) / a  # t^κ = 1 at t = 1
        lower = antiderivative[r + 1](u) / a if kappa == 0 else sp.Integer(0)
        rest = -sp.Integer(kappa) / a * integral(kappa - 1, r + 1) if kappa else sp.Integer(0)
        return upper - lower + rest

    expr = integral(k, 0)
    while expr.has(integral):
        expr = expr.replace(lambda e: e.func == integral, lambda e: by_parts(*map(int, e.args)))
        expr = sp.expand(expr)
    terms = []
    for r in range(1, k + 2):
        for bit, point in ((0, u), (1, u + a)):
            coefficient = sp.expand(expr.coeff(antiderivative[r](point)) * a**r)
            assert not coefficient.has(a), coefficient
            if coefficient != 0:
                terms.append((bit, r, sp.Integer(coefficient)))
    return tuple(sorted(terms))


def check_interval_rule(k: int, max_degree: int = 5) -> bool:
    """The rule of :func:`interval_rule` integrates t^k (u + a t)^N exactly for N ≤ max_degree.

    With g = x^N, g^{(−r)} = N!/(N + r)! x^{N + r}; both sides are compared by sympy exactly.
    Since the rule is linear in g and uses g only through antiderivatives at the ends, it then
    holds for every piecewise polynomial g with continuous antiderivatives (such as φ_p, p ≥ 0).
    """
    for degree in range(max_degree + 1):
        exact = sp.integrate(t**k * (u + a * t) ** degree, (t, 0, 1))
        rule = sum(
            numerator / a**r * sp.factorial(degree) / sp.factorial(degree + r)
            * (u + a * bit) ** (degree + r)
            for bit, r, numerator in interval_rule(k)
        )
        if sp.simplify(exact - rule) != 0:
            return False
    return True


def cube_moment_closed_form(alpha: tuple[int, ...], p: int) -> tuple[sp.Expr, tuple[sp.Symbol, ...],
                                                                      sp.Symbol]:
    """μ_p^α(a, c) as the vertex sum (sympy, Piecewise φ's), all a_i assumed non-zero.

    Returns ``(expr, (a_1, …, a_d), c)``.
    """
    d = len(alpha)
    coefficients = sp.symbols(f"a1:{d + 1}", real=True) if d else ()
    c_sym = sp.Symbol("c", real=True)
    total = sp.Integer(0)
    for choice in itertools.product(*(interval_rule(k) for k in alpha)):
        weight, order, point = sp.Integer(1), p, c_sym
        for coefficient, (bit, r, numerator) in zip(coefficients, choice):
            weight *= numerator / coefficient**r
            order += r
            point += bit * coefficient
        total += weight * phi(point, order)
    return total, coefficients, c_sym


def cube_moment_definition(alpha: tuple[int, ...], p: int, a_values, c_value) -> sp.Expr:
    """μ_p^α at rational (a, c) integrated from the definition by sympy, one coordinate at a time
    (p ≥ 0): the independent exact check of the closed form in low dimension."""
    d = len(alpha)
    xi = sp.symbols(f"xi1:{d + 1}", real=True) if d else ()
    integrand = phi(c_value + sum(sp.nsimplify(ai) * s for ai, s in zip(a_values, xi)), p)
    for s, k in zip(xi, alpha):
        integrand = s**k * integrand
    for s in xi:
        integrand = sp.integrate(sp.piecewise_fold(integrand), (s, 0, 1))
    return sp.nsimplify(sp.simplify(integrand))


def generated_source() -> str:
    """The full text of ``critpoints/tms/_sparse_generated.py``: the rules of
    :func:`interval_rule` for k = 0..MAX_WEIGHT, as exact integers."""
    lines = [
        '"""One-dimensional rules of the cube moments of the finite-sparsity TMS potential.',
        "",
        "INTERVAL_RULES[k] lists (bit, r, numerator): the integral over t in [0, 1] of",
        "t^k g(u + a t) is the sum of numerator / a^r * (r-th antiderivative of g)(u + a*bit).",
        "",
        "GENERATED by critpoints.tms.sparse_symbolic.generated_source(); do not edit.",
        "Regenerate with: python -m critpoints derive --write",
        '"""',
        "# fmt: off",
        "",
        "INTERVAL_RULES = {",
    ]
    for k in range(MAX_WEIGHT + 1):
        rendered = ", ".join(f"({bit}, {r}, {int(numerator)})"
                             for bit, r, numerator in interval_rule(k))
        lines.append(f"    {k}: ({rendered},),")
    lines += ["}", ""]
    return "\n".join(lines)
