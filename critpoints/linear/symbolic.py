"""Symbolic derivation of the linear-autoencoder loss, gradient and Hessian (sympy).

The loss of the linear autoencoder x ↦ A B x on data with (uncentred, summed) covariance
Σ = Σ_t x_t x_tᵀ is

    E(A, B) = Σ_t ‖x_t − A B x_t‖² = tr[(I − A B) Σ (I − A B)ᵀ].

Everything here is derived by sympy from that one line, in matrix form (``MatrixSymbol`` of
symbolic size n × m), and turned into numeric code by :func:`sympy.lambdify` with a NumPy printer.
The generated functions use only ``.dot``, ``.T``, ``+`` and ``numpy.trace``, so they evaluate both
float64 arrays and NumPy object arrays of :class:`mpmath.mpf` (arbitrary precision) unchanged.

Derivations are cached (:func:`functools.lru_cache`) and run on first use: importing
:mod:`critpoints.linear` imports neither sympy nor runs a derivation.

The matrix-form results are cross-checked entrywise on explicit symbolic matrices for small n, m
by :func:`verify_gradient_entrywise` and :func:`verify_hessian_entrywise`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = [
    "MatrixDerivation",
    "TiedDerivation",
    "derive",
    "derive_tied",
    "evaluators",
    "symbolic_hessian_spectrum",
    "verify_gradient_entrywise",
    "verify_hessian_entrywise",
    "verify_isotropic_energy",
    "verify_tied_gradient_entrywise",
]


@dataclass(frozen=True)
class MatrixDerivation:
    """Matrix-form results of the derivation (sympy matrix expressions).

    Attributes
    ----------
    symbols : dict
        ``{"A", "B", "Sigma", "a", "b", "t", "n", "m"}``: the matrix symbols (A n×m decoder, B m×n
        encoder, Σ n×n, (a, b) a perturbation direction) and the scalar symbols.
    loss : sympy expression
        E(A, B) = tr[(I − AB) Σ (I − AB)ᵀ], expanded.
    grad_A, grad_B : sympy matrix expressions
        ∂E/∂A (n×m) and ∂E/∂B (m×n), with Σ = Σᵀ imposed.
    hessian_vector : tuple of sympy matrix expressions
        The Hessian applied to (a, b): the t¹ Taylor coefficient of the gradient at
        (A + t a, B + t b).
    hessian_quadratic_form : sympy expression
        ½ (a, b)ᵀ H (a, b): the t² Taylor coefficient of E(A + t a, B + t b).
    critical_equations : tuple of sympy matrix expressions
        The two equations ``lhs = rhs`` as (lhs − rhs) with the factor 2 removed:
        A B Σ Bᵀ − Σ Bᵀ and Aᵀ A B Σ − Aᵀ Σ.
    """

    symbols: dict
    loss: Any
    grad_A: Any
    grad_B: Any
    hessian_vector: tuple
    hessian_quadratic_form: Any
    critical_equations: tuple


@dataclass(frozen=True)
class TiedDerivation:
    """Tied weights A = Bᵀ = W (W n×m, rows w_i = hidden representation of feature i).

    Attributes
    ----------
    loss : sympy expression
        F(W) = E(W, Wᵀ) = tr[(I − W Wᵀ) Σ (I − W Wᵀ)ᵀ].
    flow : sympy matrix expression
        −(∂E/∂A + (∂E/∂B)ᵀ) at A = Bᵀ = W: the right-hand side of dW/dt (seed 000 §2.2),
        2[(I − WWᵀ)ΣW + Σ(I − WWᵀ)W].
    grad_F : sympy matrix expression
        ∂F/∂W, derived directly from F (the chain rule says flow = −grad_F).
    """

    symbols: dict
    loss: Any
    flow: Any
    grad_F: Any


def _sympy():
    import sympy

    return sympy


def _impose_symmetric(expr, sigma):
    """Replace Σᵀ by Σ (Σ is a covariance) and evaluate pending matrix operations."""
    return expr.subs(sigma.T, sigma).doit()


def _taylor_coefficient(matrix_expr, t, order: int):
    """Coefficient of t**order in an expanded matrix expression polynomial in the scalar t."""
    sp = _sympy()
    expanded = sp.expand(matrix_expr.doit())
    terms = expanded.args if isinstance(expanded, sp.MatAdd) else (expanded,)
    kept = []
    for term in terms:
        coeff, matrix = term.as_coeff_mmul() if isinstance(term, sp.MatMul) else (1, term)
        coeff = sp.sympify(coeff)
        if sp.Poly(coeff, t).degree() == order if coeff.has(t) else order == 0:
            kept.append((coeff / t**order) * matrix)
    return sp.MatAdd(*kept).doit() if kept else sp.ZeroMatrix(*matrix_expr.shape)


@cache
def derive() -> MatrixDerivation:
    """Derive gradient, critical equations and Hessian of E(A, B) in matrix form.

    Returns
    -------
    MatrixDerivation
        The sympy expressions. Derived once per process (cached).

    Examples
    --------
    >>> d = derive()
    >>> print(d.grad_A)
    2*A*B*Sigma*B.T - 2*Sigma*B.T
    """
    sp = _sympy()
    n, m, t = sp.symbols("n m t", integer=True, positive=True)
    A = sp.MatrixSymbol("A", n, m)
    B = sp.MatrixSymbol("B", m, n)
    sigma = sp.MatrixSymbol("Sigma", n, n)
    a = sp.MatrixSymbol("a", n, m)
    b = sp.MatrixSymbol("b", m, n)
    residual = sp.Identity(n) - A * B
    residual_covariance = residual * sigma * residual.T
    loss = sp.Trace(sp.expand(residual_covariance.doit()))
    grad_A = sp.expand(_impose_symmetric(sp.Trace(residual_covariance).diff(A), sigma))
    grad_B = sp.expand(_impose_symmetric(sp.Trace(residual_covariance).diff(B), sigma))
    # Why Taylor coefficients: sympy's matrix calculus cannot differentiate twice reliably, but
    # a directional derivative is just the t¹ coefficient of a polynomial in t.
    shift = {A: A + t * a, B: B + t * b}
    hessian_vector = tuple(
        _taylor_coefficient(_impose_symmetric(g.subs(shift), sigma), t, 1) for g in (grad_A, grad_B)
    )
    shifted_covariance = _impose_symmetric(residual_covariance.subs(shift), sigma)
    hessian_quadratic_form = sp.Trace(_taylor_coefficient(shifted_covariance, t, 2))
    critical_equations = (
        sp.expand(A * B * sigma * B.T - sigma * B.T),
        sp.expand(A.T * A * B * sigma - A.T * sigma),
    )
    symbols = {"A": A, "B": B, "Sigma": sigma, "a": a, "b": b, "t": t, "n": n, "m": m}
    return MatrixDerivation(
        symbols, loss, grad_A, grad_B, hessian_vector, hessian_quadratic_form, critical_equations
    )


@cache
def derive_tied() -> TiedDerivation:
    """Derive the tied-weights loss F(W) = E(W, Wᵀ), its gradient and the seed's flow.

    Returns
    -------
    TiedDerivation
    """
    sp = _sympy()
    d = derive()
    n, m = d.symbols["n"], d.symbols["m"]
    sigma = d.symbols["Sigma"]
    W = sp.MatrixSymbol("W", n, m)
    tie = {d.symbols["A"]: W, d.symbols["B"]: W.T}
    residual = sp.Identity(n) - W * W.T
    loss = sp.Trace(sp.expand((residual * sigma * residual.T).doit()))
    flow = sp.expand(_impose_symmetric(-(d.grad_A.subs(tie) + d.grad_B.subs(tie).T), sigma))
    grad_F = sp.expand(_impose_symmetric(sp.Trace(residual * sigma * residual.T).diff(W), sigma))
    return TiedDerivation({"W": W, "Sigma": sigma, "n": n, "m": m}, loss, flow, grad_F)


def _printer():
    from sympy.printing.numpy import NumPyPrinter

    class _TracePrinter(NumPyPrinter):
        """NumPy printer that also knows ``Trace`` (sympy 1.14's does not)."""

        def _print_Trace(self, expr):
            return f"{self._module_format('numpy.trace')}({self._print(expr.arg)})"

    return _TracePrinter


@dataclass(frozen=True)
class Evaluators:
    """Numeric functions generated from :func:`derive` by ``lambdify``.

    Each works on float64 arrays and on NumPy object arrays of ``mpmath.mpf``.

    Attributes
    ----------
    loss : callable (A, B, Sigma) -> scalar
    gradient : callable (A, B, Sigma) -> (∂E/∂A, ∂E/∂B)
    hessian_vector : callable (A, B, Sigma, a, b) -> (H(a,b)_A, H(a,b)_B)
    hessian_quadratic_form : callable (A, B, Sigma, a, b) -> ½ (a,b)ᵀ H (a,b)
    tied_loss : callable (W, Sigma) -> F(W)
    tied_flow : callable (W, Sigma) -> dW/dt
    source : dict of str
        The generated source of each function (for inspection).
    """

    loss: Callable
    gradient: Callable
    hessian_vector: Callable
    hessian_quadratic_form: Callable
    tied_loss: Callable
    tied_flow: Callable
    source: dict


@cache
def evaluators() -> Evaluators:
    """Generate (once) the numeric evaluators from the symbolic derivation.

    Returns
    -------
    Evaluators
    """
    import inspect

    sp = _sympy()
    d = derive()
    tied = derive_tied()
    A, B, sigma, a, b = (d.symbols[k] for k in ("A", "B", "Sigma", "a", "b"))
    W = tied.symbols["W"]
    printer = _printer()
    generated = {
        "loss": sp.lambdify([A, B, sigma], d.loss, printer=printer),
        "gradient": sp.lambdify([A, B, sigma], [d.grad_A, d.grad_B], printer=printer),
        "hessian_vector": sp.lambdify([A, B, sigma, a, b], list(d.hessian_vector), printer=printer),
        "hessian_quadratic_form": sp.lambdify(
            [A, B, sigma, a, b], d.hessian_quadratic_form, printer=printer
        ),
        "tied_loss": sp.lambdify([W, sigma], tied.loss, printer=printer),
        "tied_flow": sp.lambdify([W, sigma], tied.flow, printer=printer),
    }
    source = {name: inspect.getsource(f) for name, f in generated.items()}

    def gradient(A_, B_, sigma_):
        gA, gB = generated["gradient"](A_, B_, sigma_)
        return gA, gB

    def hessian_vector(A_, B_, sigma_, a_, b_):
        hA, hB = generated["hessian_vector"](A_, B_, sigma_, a_, b_)
        return hA, hB

    return Evaluators(
        loss=generated["loss"],
        gradient=gradient,
        hessian_vector=hessian_vector,
        hessian_quadratic_form=generated["hessian_quadratic_form"],
        tied_loss=generated["tied_loss"],
        tied_flow=generated["tied_flow"],
        source=source,
    )


# --- entrywise checks on explicit symbolic matrices -------------------------------------------


def _explicit_symbols(n: int, m: int):
    sp = _sympy()
    A = sp.Matrix(n, m, lambda i, j: sp.Symbol(f"A_{i}{j}"))
    B = sp.Matrix(m, n, lambda i, j: sp.Symbol(f"B_{i}{j}"))
    sigma = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"s_{min(i, j)}{max(i, j)}"))  # symmetric
    return A, B, sigma


def _substitute_explicit(matrix_expr, mapping):
    sp = _sympy()
    return sp.Matrix(matrix_expr.subs(mapping).doit().as_explicit())


def verify_gradient_entrywise(n: int, m: int) -> bool:
    """Check ∂E/∂A, ∂E/∂B of :func:`derive` entry by entry on explicit n×m symbolic matrices.

    E is written out as a polynomial in the entries of A, B and a symmetric symbolic Σ; each
    partial derivative ∂E/∂A_ij, ∂E/∂B_ij is taken by sympy and compared with the matrix formula.

    Parameters
    ----------
    n, m : int
        Sizes (keep small: n ≤ 4).

    Returns
    -------
    bool
        True iff every entry agrees identically (the difference expands to 0).
    """
    sp = _sympy()
    d = derive()
    A, B, sigma = _explicit_symbols(n, m)
    residual = sp.eye(n) - A * B
    E = sp.expand((residual * sigma * residual.T).trace())
    mapping = {
        d.symbols["A"]: A, d.symbols["B"]: B, d.symbols["Sigma"]: sigma,
        d.symbols["n"]: n, d.symbols["m"]: m,
    }
    grad_A = _substitute_explicit(d.grad_A, mapping)
    grad_B = _substitute_explicit(d.grad_B, mapping)
    loss_matrix_form = sp.expand(d.loss.subs(mapping).doit())
    ok = sp.expand(loss_matrix_form - E) == 0
    for i, j in itertools.product(range(n), range(m)):
        ok &= sp.expand(sp.diff(E, A[i, j]) - grad_A[i, j]) == 0
        ok &= sp.expand(sp.diff(E, B[j, i]) - grad_B[j, i]) == 0
    return bool(ok)


def verify_hessian_entrywise(n: int, m: int) -> bool:
    """Check the Hessian-vector product and quadratic form of :func:`derive` entrywise.

    The explicit Hessian ∂²E/∂θ_k∂θ_l (θ = entries of A then B) is contracted with a symbolic
    direction (a, b) and compared with the matrix-form Hessian-vector product, and ½ vᵀHv with the
    matrix-form quadratic form.

    Parameters
    ----------
    n, m : int
        Sizes (keep small: n ≤ 3).

    Returns
    -------
    bool
    """
    sp = _sympy()
    d = derive()
    A, B, sigma = _explicit_symbols(n, m)
    a = sp.Matrix(n, m, lambda i, j: sp.Symbol(f"a_{i}{j}"))
    b = sp.Matrix(m, n, lambda i, j: sp.Symbol(f"b_{i}{j}"))
    residual = sp.eye(n) - A * B
    E = sp.expand((residual * sigma * residual.T).trace())
    theta = list(A) + list(B)
    direction = list(a) + list(b)
    hessian = sp.hessian(E, theta)
    Hv = hessian * sp.Matrix(direction)
    mapping = {
        d.symbols["A"]: A, d.symbols["B"]: B, d.symbols["Sigma"]: sigma,
        d.symbols["a"]: a, d.symbols["b"]: b, d.symbols["n"]: n, d.symbols["m"]: m,
    }
    hA = _substitute_explicit(d.hessian_vector[0], mapping)
    hB = _substitute_explicit(d.hessian_vector[1], mapping)
    formula = list(hA) + list(hB)
    ok = all(sp.expand(Hv[k] - formula[k]) == 0 for k in range(len(theta)))
    quadratic = sp.expand(d.hessian_quadratic_form.subs(mapping).doit())
    ok &= sp.expand((sp.Matrix(direction).T * Hv)[0, 0] / 2 - quadratic) == 0
    return bool(ok)


def verify_tied_gradient_entrywise(n: int, m: int) -> bool:
    """Check the tied flow equals −∂F/∂W (chain rule) and the matrix form of ∂F/∂W, entrywise.

    Parameters
    ----------
    n, m : int
        Sizes (keep small: n ≤ 4).

    Returns
    -------
    bool
    """
    sp = _sympy()
    tied = derive_tied()
    _, _, sigma = _explicit_symbols(n, m)
    W = sp.Matrix(n, m, lambda i, j: sp.Symbol(f"W_{i}{j}"))
    residual = sp.eye(n) - W * W.T
    F = sp.expand((residual * sigma * residual.T).trace())
    mapping = {tied.symbols["W"]: W, tied.symbols["Sigma"]: sigma,
               tied.symbols["n"]: n, tied.symbols["m"]: m}
    flow = _substitute_explicit(tied.flow, mapping)
    grad_F = _substitute_explicit(tied.grad_F, mapping)
    ok = sp.expand(tied.loss.subs(mapping).doit() - F) == 0
    for i, j in itertools.product(range(n), range(m)):
        partial = sp.diff(F, W[i, j])
        ok &= sp.expand(partial - grad_F[i, j]) == 0
        ok &= sp.expand(partial + flow[i, j]) == 0
    return bool(ok)


def verify_isotropic_energy(n: int, m: int) -> bool:
    """Check F(W) at Σ = σ² I equals σ²‖I − WWᵀ‖²_F = σ²[Σ_i (1 − ‖w_i‖²)² + Σ_{i≠j} (w_i·w_j)²].

    The first sum is the "feature benefit" term, the second the "interference" term (rows w_i of W
    are the hidden representations of the features).

    Parameters
    ----------
    n, m : int
        Sizes (keep small).

    Returns
    -------
    bool
    """
    sp = _sympy()
    tied = derive_tied()
    s2 = sp.Symbol("sigma2", positive=True)
    W = sp.Matrix(n, m, lambda i, j: sp.Symbol(f"W_{i}{j}"))
    rows = [W.row(i) for i in range(n)]
    mapping = {tied.symbols["W"]: W, tied.symbols["Sigma"]: s2 * sp.eye(n),
               tied.symbols["n"]: n, tied.symbols["m"]: m}
    F = sp.expand(tied.loss.subs(mapping).doit())
    residual = sp.eye(n) - W * W.T
    frobenius = sum(residual[i, j] ** 2 for i in range(n) for j in range(n))
    benefit = sum((1 - rows[i].dot(rows[i])) ** 2 for i in range(n))
    interference = sum(rows[i].dot(rows[j]) ** 2 for i in range(n) for j in range(n) if i != j)
    return bool(
        sp.expand(F - s2 * frobenius) == 0 and sp.expand(F - s2 * (benefit + interference)) == 0
    )


def symbolic_hessian_spectrum(n: int, m: int, subset: tuple[int, ...]) -> dict:
    """Exact Hessian spectrum at A = [E_J, 0], B = Aᵀ for Σ = diag(λ_1, …, λ_n) (symbolic λ).

    Working in the eigenbasis loses nothing: E(A, B; Σ) = E(UᵀA, BU; Λ). The Hessian is built
    entrywise from the explicit polynomial E, split into its connected blocks (networkx on the
    sparsity graph) and each block's eigenvalues are computed by sympy.

    Parameters
    ----------
    n, m : int
        Sizes (keep small, 2nm ≤ 40 or so).
    subset : tuple of int
        0-based eigen-indices J (|J| ≤ m); hidden unit k < |J| carries direction J[k], the rest
        are 0.

    Returns
    -------
    dict
        ``{"lambdas": (λ_1..λ_n),
        "blocks": [(variables, block matrix, {eigenvalue: multiplicity})]}``.
    """
    import networkx as nx

    sp = _sympy()
    lambdas = sp.symbols(f"lambda1:{n + 1}", positive=True)
    A, B, _ = _explicit_symbols(n, m)
    residual = sp.eye(n) - A * B
    E = sp.expand((residual * sp.diag(*lambdas) * residual.T).trace())
    point = {}
    for k in range(m):
        for i in range(n):
            value = 1 if (k < len(subset) and subset[k] == i) else 0
            point[A[i, k]] = value
            point[B[k, i]] = value
    theta = list(A) + list(B)
    H = sp.hessian(E, theta).subs(point)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(theta)))
    graph.add_edges_from((k, l) for k in range(len(theta)) for l in range(k) if H[k, l] != 0)
    blocks = []
    for component in sorted(nx.connected_components(graph), key=min):
        idx = sorted(component)
        block = H.extract(idx, idx)
        blocks.append(([theta[k] for k in idx], block, block.eigenvals()))
    return {"lambdas": lambdas, "blocks": blocks}
