"""Phase diagrams of the TMS at finite sparsity, from the exact potential (SPEC §8, issue 16).

Elhage et al. (2022, "Toy Models of Superposition", Fig. "phase diagram") train n = 2, m = 1 and
n = 3, m = 2 models over the plane (feature density 1 − S, relative importance r of the last
feature; the other importances 1) and colour each point by how the last feature is stored. Here
the same plane is computed from the exact potential L_{S,I} of :mod:`critpoints.tms.sparse`:

1. each candidate *configuration type* is a linear family θ = A φ of parameters (zeros pinned,
   entries tied by a symmetry of the type), written as a template of named entries
   (:class:`ConfigurationType`);
2. its optimum at (S, r) minimises L_{S,I}(A φ) over φ (damped Newton with the exact
   gradient and Hessian, batched over r, warm-started from a neighbouring point), and is
   checked on the *full* potential: ‖∇L‖ (the pinned and tied directions included) and the
   smallest eigenvalue of the full Hessian (:class:`TypeOptimum`);
3. the winner at a point is the lowest type whose optimum still has the type's shape (every
   template variable of W ≥ :data:`SHAPE_TOLERANCE`, and for a type that unties a symmetric
   pair, the pair still unequal; a type that collapsed onto a smaller one is not counted twice);
   exact ties go to the type listed first;
4. a boundary between neighbouring winners A, B is the root in r of L*_A(S, r) − L*_B(S, r) at
   each S of a fine grid (``brentq``), checked against every other type at the root;
5. a sample of grid points is checked by multi-start minimisation over the full (W, b).

Pure mathematics: no I/O; ``progress`` is a callback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "SHAPE_TOLERANCE",
    "SUPPORTED",
    "Boundary",
    "ConfigurationType",
    "MultiStartCheck",
    "PhaseDiagram",
    "TypeOptimum",
    "configuration_types",
    "importances",
    "optimise_type",
    "phase_diagram",
]

#: A template variable of W below this (in the type's sign convention) means the optimum left
#: the type: a column vanished or turned round. Also the least difference of an untied pair
#: (:attr:`ConfigurationType.unequal`) that keeps the type apart from its tied version.
SHAPE_TOLERANCE = 1e-3
#: The (n, m) pairs with configuration types: the two diagrams of Elhage et al. (2022).
SUPPORTED = ((2, 1), (3, 2))
#: Gradient tolerance of a type optimum on the full potential.
GRADIENT_TOLERANCE = 1e-9
#: Relative tolerance of "positive semidefinite" on the full Hessian (× its largest |eigenvalue|).
PSD_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ConfigurationType:
    """A family of configurations θ = (W row-major, b) = A φ given by templates.

    Each entry of ``W`` (m × n) and ``b`` (n) is ``"0"``, a variable name ``"u"`` or its negative
    ``"-u"``; equal names are tied. W's variables are positive inside the type. ``start`` gives
    starting values of variables (default: 1 for W's, −0.1 for b's); a type whose optimum may
    break a symmetry (two features of equal importance with unequal norms) needs an unequal
    start, since Newton from a symmetric start stays symmetric. ``unequal`` lists pairs of
    variables of which at least one must differ by ≥ :data:`SHAPE_TOLERANCE` inside the type:
    with every pair equal the optimum is that of the type with the pairs tied, listed earlier,
    and is not counted twice. ``breaking`` lists further starts (values over the template's
    start) for a type whose untied variables can take unequal values: where the importances
    make its two features alike (r = 1), Newton from the symmetric start stays on the
    symmetric configuration, which can be a saddle of the full potential with a lower,
    unequal optimum of the same type beside it.
    """

    name: str
    label: str
    W: tuple[tuple[str, ...], ...]
    b: tuple[str, ...]
    start: dict = field(default_factory=dict)
    unequal: tuple[tuple[str, str], ...] = ()
    breaking: tuple[dict, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.W), len(self.b)

    def variables(self) -> list[str]:
        names: list[str] = []
        for entry in [e for row in self.W for e in row] + list(self.b):
            name = entry.lstrip("-")
            if name != "0" and name not in names:
                names.append(name)
        return names

    def weight_variables(self) -> list[str]:
        return [v for v in self.variables() if any(e.lstrip("-") == v for row in self.W
                                                     for e in row)]

    def matrix(self) -> np.ndarray:
        """A with θ = A φ, φ ordered as :meth:`variables`."""
        names = self.variables()
        entries = [e for row in self.W for e in row] + list(self.b)
        A = np.zeros((len(entries), len(names)))
        for k, entry in enumerate(entries):
            if entry != "0":
                A[k, names.index(entry.lstrip("-"))] = -1.0 if entry.startswith("-") else 1.0
        return A

    def initial(self) -> np.ndarray:
        return np.array([self.start.get(v, 1.0 if v in self.weight_variables() else -0.1)
                         for v in self.variables()])

    def unrepresented_biases(self) -> list[str]:
        """Bias variables that sit only on features whose column is pinned at zero."""
        represented = set(self.represented())
        names = {e.lstrip("-") for e in self.b if e != "0"}
        return [v for v in self.variables() if v in names and all(
            i not in represented for i, e in enumerate(self.b) if e.lstrip("-") == v)]

    def cold_starts(self, sparsity: float) -> np.ndarray:
        """Starting points of the globalised type solve, shape (3 + breaking, variables): the
        template's start, then with every unrepresented feature's bias at its optimum
        (1 − S)/2 (the output of a zero column is the constant ReLU(b_j), best at
        E[x_j] = (1 − S)/2; a bias ≤ 0 there is a flat, dead critical point: the non-converged
        cell of the first version), then also with the represented biases at +0.05 (out of a
        dead bias), then the symmetry-breaking starts."""
        names = self.variables()
        weights = set(self.weight_variables())
        dropped = set(self.unrepresented_biases())
        first = self.initial()
        second = np.array([(1.0 - sparsity) / 2 if v in dropped else x
                           for v, x in zip(names, first)])
        third = np.array([x if v in weights or v in dropped else 0.05
                          for v, x in zip(names, second)])
        broken = [np.array([values.get(v, x) for v, x in zip(names, first)])
                  for values in self.breaking]
        return np.array([first, second, third, *broken])

    def represented(self) -> list[int]:
        """Features (0-based) whose column is not pinned at zero."""
        return [i for i in range(self.shape[1]) if any(row[i] != "0" for row in self.W)]

    def keeps_shape(self, phi: np.ndarray) -> bool:
        """Whether φ is inside the type: every weight variable ≥ :data:`SHAPE_TOLERANCE` (no
        column vanished or turned round) and, if the type unties pairs, some pair still
        differs by ≥ :data:`SHAPE_TOLERANCE`."""
        names = self.variables()
        if any(phi[names.index(v)] < SHAPE_TOLERANCE for v in self.weight_variables()):
            return False
        return not self.unequal or any(
            abs(phi[names.index(a)] - phi[names.index(b)]) >= SHAPE_TOLERANCE
            for a, b in self.unequal)


def configuration_types(n: int, m: int) -> tuple[ConfigurationType, ...]:
    """The candidate types of the (n, m) diagram, simplest first, then those added after a
    multi-start check found them missing (exact ties go to the earlier)."""
    if (n, m) == (2, 1):
        return (
            ConfigurationType("none", "neither feature", (("0", "0"),), ("b1", "b2")),
            ConfigurationType("feature-1", "feature 1 only (feature 2 not represented)",
                              (("w", "0"),), ("b1", "b2")),
            ConfigurationType("feature-2", "feature 2 only (dedicated dimension)",
                              (("0", "w"),), ("b1", "b2")),
            # the unequal starts: at r = 1 the symmetric pair (u = v, b1 = b2) is a saddle of
            # the full potential at density 0.83, beside an unequal pair 6e-4 lower
            ConfigurationType("antipodal", "both, antipodal superposition",
                              (("u", "-v"),), ("b1", "b2"),
                              breaking=({"u": 0.9, "v": 0.4, "b1": 0.2, "b2": 0.6},
                                        {"u": 0.4, "v": 0.9, "b1": 0.6, "b2": 0.2})),
        )
    if (n, m) == (3, 2):
        return (
            ConfigurationType("3-dropped", "1, 2 dedicated; 3 not represented",
                              (("w", "0", "0"), ("0", "w", "0")), ("b", "b", "c")),
            ConfigurationType("3-dedicated-2-dropped", "1, 3 dedicated; 2 not represented",
                              (("u", "0", "0"), ("0", "0", "v")), ("b1", "b2", "b3")),
            ConfigurationType("3-dedicated-12-antipodal", "3 dedicated; 1, 2 antipodal",
                              (("u", "-u", "0"), ("0", "0", "v")), ("b", "b", "c")),
            ConfigurationType("3-antipodal-with-1", "2 dedicated; 1, 3 antipodal",
                              (("u", "0", "-v"), ("0", "w", "0")), ("b1", "b2", "b3"),
                              breaking=({"u": 0.9, "v": 0.4, "b1": 0.2, "b3": 0.6},
                                        {"u": 0.4, "v": 0.9, "b1": 0.6, "b3": 0.2})),
            ConfigurationType("triangle", "all three in superposition (triangle)",
                              (("a", "a", "-c"), ("d", "-d", "0")), ("b", "b", "e"),
                              {"a": 0.5, "d": 0.87, "c": 1.0}),
            # The same-sign ("parallel") pairs and the unequal antipodal pair were missing: a
            # multi-start check at density 1, r = 10 found L = 0.083254 < 1/12 (docs/
            # sparsity.md). At density 1 (x_j uniform on [0, 1]) a parallel pair whose second
            # output is never cut by the ReLU is an exact image of an unequal antipodal pair
            # under x_j → 1 − x_j (equal loss); below density 1 the antipodal pair is lower.
            # The antipodal pairs come first, so at those exact ties they are the winners.
            ConfigurationType("3-dedicated-12-antipodal-unequal",
                              "3 dedicated; 1, 2 antipodal, unequal norms",
                              (("u", "-v", "0"), ("0", "0", "w")), ("b1", "b2", "b3"),
                              {"u": 0.9, "v": 0.4, "b1": 0.2, "b2": 0.6},
                              unequal=(("u", "v"), ("b1", "b2"))),
            ConfigurationType("3-dedicated-12-parallel", "3 dedicated; 1, 2 parallel",
                              (("u", "v", "0"), ("0", "0", "w")), ("b1", "b2", "b3"),
                              {"u": 0.9, "v": 0.4, "b1": -0.1, "b2": 0.25}),
            ConfigurationType("2-dedicated-13-parallel", "2 dedicated; 1, 3 parallel",
                              (("u", "0", "v"), ("0", "w", "0")), ("b1", "b2", "b3"),
                              {"u": 0.9, "v": 0.4, "b1": -0.1, "b3": 0.25}),
        )
    raise ValueError(f"no configuration types for n = {n}, m = {m}; supported (n, m): "
                     + ", ".join(f"({a}, {b})" for a, b in SUPPORTED))


def importances(n: int, ratio: float) -> np.ndarray:
    """(1, …, 1, r): the last feature's importance relative to the others."""
    values = np.ones(n)
    values[-1] = ratio
    return values


@dataclass
class TypeOptimum:
    """The optimum of one type at one (S, r), checked on the full potential."""

    type: str
    loss: float
    theta: np.ndarray
    gradient_norm: float
    min_hessian_eigenvalue: float
    psd: bool
    in_type: bool


def _evaluator(m: int, n: int, S: float, order: int):
    """θ (B, dim), ratios (B,) → L (B,), ∇L (B, dim)[, ∇²L (B, dim, dim)] at importances
    (1, …, 1, r_k) per row: L is linear in I, so L_I = (2 − r) L_1 + (r − 1) L_{1 + e_n}
    (one batched evaluation of the blocks for both importances, whatever the batch; both are
    valid, positive)."""
    from critpoints.tms import sparse

    vectors = np.array([np.ones(n), importances(n, 2.0)])

    def both(theta):
        # the blocks once for both importances (the same bits as a call per importance)
        W, b = theta[:, : m * n].reshape(-1, m, n), theta[:, m * n:]
        return [[L, np.concatenate([dW.reshape(len(theta), -1), db], axis=1), *H]
                for L, dW, db, *H in sparse.with_importances(W, b, S, vectors, order=order)]

    def evaluate(theta, ratios):
        theta = np.atleast_2d(theta)
        r = np.asarray(ratios, dtype=float).reshape(-1)
        base, extra = both(theta)
        return [(2 - r).reshape((-1,) + (1,) * (x.ndim - 1)) * x
                + (r - 1).reshape((-1,) + (1,) * (x.ndim - 1)) * y for x, y in zip(base, extra)]

    return evaluate


def _newton(kind: ConfigurationType, S: float, ratios: np.ndarray, phi: np.ndarray,
            iterations: int = 60) -> np.ndarray:
    """Damped Newton on φ for a batch of ratios at one sparsity: the exact Hessian AᵀHA with
    its eigenvalues replaced by max(|λ|, 10⁻⁸) (a descent direction at saddles), a backtracking
    line search per point, until ‖Aᵀ∇L‖ ≤ 10⁻¹² or no step helps (at most 60 steps)."""
    m, n = kind.shape
    A = kind.matrix()
    evaluate = _evaluator(m, n, S, 2)
    value = _evaluator(m, n, S, 1)
    phi = np.array(phi, dtype=float)
    active = np.ones(len(phi), dtype=bool)
    for _ in range(iterations):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        L, g, H = evaluate(phi[idx] @ A.T, ratios[idx])
        g = g @ A
        H = np.einsum("pi,bpq,qj->bij", A, H, A)
        gnorm = np.linalg.norm(g, axis=1)
        done = gnorm <= 1e-12
        lam, V = np.linalg.eigh(H)
        lam = np.maximum(np.abs(lam), 1e-8)
        step = -np.einsum("bij,bj,bkj,bk->bi", V, 1 / lam, V, g)
        t = np.ones(idx.size)
        accepted = done.copy()
        for _ in range(20):
            trial = np.flatnonzero(~accepted)
            if trial.size == 0:
                break
            candidate = phi[idx[trial]] + t[trial, None] * step[trial]
            L_new, g_new = value(candidate @ A.T, ratios[idx[trial]])
            slope = np.einsum("bi,bi->b", g[trial], step[trial])
            ok = (L_new <= L[trial] + 1e-4 * t[trial] * slope) | (
                (L_new <= L[trial] + 1e-15 * np.abs(L[trial]))
                & (np.linalg.norm(g_new @ A, axis=1) < gnorm[trial]))
            phi[idx[trial[ok]]] = candidate[ok]
            accepted[trial[ok]] = True
            t[trial[~ok]] /= 2
        stuck = ~accepted
        active[idx[done | stuck]] = False
    return phi


def _check(kind: ConfigurationType, S: float, ratios: np.ndarray,
           phi: np.ndarray) -> list[TypeOptimum]:
    """The type optima θ = A φ judged on the full potential: loss, full gradient, Hessian."""
    m, n = kind.shape
    A = kind.matrix()
    theta = phi @ A.T
    L, g, H = _evaluator(m, n, S, 2)(theta, ratios)
    out = []
    for k in range(len(theta)):
        eigenvalues = np.linalg.eigvalsh(H[k])
        scale = max(1.0, float(np.abs(eigenvalues).max()))
        out.append(TypeOptimum(kind.name, float(L[k]), theta[k], float(np.linalg.norm(g[k])),
                               float(eigenvalues[0]),
                               bool(eigenvalues[0] >= -PSD_TOLERANCE * scale),
                               kind.keeps_shape(phi[k])))
    return out


def optimise_type(kind: ConfigurationType, sparsity: float, ratio: float,
                  start: np.ndarray | None = None) -> tuple[TypeOptimum, np.ndarray]:
    """Minimise L_{S,I} over the type's variables φ (θ = A φ); returns the optimum and φ.

    Globalised: damped Newton with the exact gradient Aᵀ∇L and Hessian AᵀHA from every start
    of :meth:`ConfigurationType.cold_starts` (and ``start``), the lowest optimum that keeps the
    type's shape and is critical on the full potential wins; then the full gradient and the
    full Hessian's spectrum at θ = A φ (:class:`TypeOptimum`).
    """
    starts = kind.cold_starts(sparsity)
    if start is not None:
        starts = np.vstack([np.asarray(start, dtype=float)[None, :], starts])
    ratios = np.full(len(starts), float(ratio))
    phi = _newton(kind, sparsity, ratios, starts)
    optima = _check(kind, sparsity, ratios, phi)
    best = _best_of(optima)
    return optima[best], phi[best]


def _acceptable(o: TypeOptimum) -> bool:
    return o.in_type and o.gradient_norm <= GRADIENT_TOLERANCE


def _best_of(optima: Sequence[TypeOptimum]) -> int:
    """The lowest optimum that is in the type and critical on the full potential; else the
    lowest critical one; else the lowest."""
    for rule in (_acceptable, lambda o: o.gradient_norm <= GRADIENT_TOLERANCE, lambda o: True):
        chosen = [k for k, o in enumerate(optima) if rule(o)]
        if chosen:
            return min(chosen, key=lambda k: optima[k].loss)
    raise ValueError("no optima")


def _winner(optima: Sequence[TypeOptimum], tolerance: float = 1e-12) -> int:
    candidates = [k for k, o in enumerate(optima) if _acceptable(o)] or [
        k for k, o in enumerate(optima) if o.in_type]
    best = min(optima[k].loss for k in candidates)
    return next(k for k in candidates if optima[k].loss <= best + tolerance)


@dataclass
class Boundary:
    """A boundary curve between two winners, as points (density 1 − S, r): a root in r at each
    density of the fine grid where the winner changes along r, and a root in density at each
    grid ratio where it changes along the density (ordered by density, then r). One pair and
    kind can have pieces in several places of the plane.

    ``kind`` is ``"equal-loss"`` (L*_A = L*_B, both types exist on both sides: a first-order
    change) or ``"type-ends"`` (one of the two, ``ended``, ceases to exist there — its optimum
    collapses onto the other type — so the winner changes where it ends;
    ``max_loss_difference`` then says whether the loss is continuous across it).
    """

    types: tuple[str, str]
    points: list[tuple[float, float]]
    max_loss_difference: float
    kind: str = "equal-loss"
    ended: str | None = None


@dataclass
class MultiStartCheck:
    """Random multi-start minimisation of the full (W, b) at one grid point."""

    density: float
    ratio: float
    starts: int
    best_loss: float
    winner_loss: float
    violation: bool
    best_theta: list[float] = field(default_factory=list)


@dataclass
class PhaseDiagram:
    """Everything :func:`phase_diagram` computes; :meth:`to_json` gives the document body."""

    n: int
    m: int
    types: tuple[ConfigurationType, ...]
    densities: np.ndarray
    ratios: np.ndarray
    losses: np.ndarray  # (types, ratios, densities)
    in_type: np.ndarray
    gradient_norms: np.ndarray
    psd: np.ndarray
    winners: np.ndarray  # (ratios, densities) index into types
    boundaries: list[Boundary]
    checks: list[MultiStartCheck]
    evaluations: int

    def to_json(self) -> dict:
        names = [t.name for t in self.types]
        return {
            "n": self.n,
            "hidden": self.m,
            "importance": f"(1, …, 1, r): feature {self.n} has importance r",
            "types": [{"name": t.name, "label": t.label, "W": [list(r) for r in t.W],
                       "b": list(t.b), **({"unequal": [list(p) for p in t.unequal]}
                                          if t.unequal else {})} for t in self.types],
            "densities": [float(x) for x in self.densities],
            "ratios": [float(y) for y in self.ratios],
            "winner": [[names[k] for k in row] for row in self.winners],
            "losses": {name: [[float(v) for v in row] for row in self.losses[k]]
                       for k, name in enumerate(names)},
            "in_type": {name: [[bool(v) for v in row] for row in self.in_type[k]]
                        for k, name in enumerate(names)},
            "boundaries": [{"types": list(b.types), "kind": b.kind, "ended": b.ended,
                            "points": [[float(x), float(y)] for x, y in b.points],
                            "max_loss_difference": b.max_loss_difference}
                           for b in self.boundaries],
            "verification": {
                "type_optima": int(self.losses.size),
                "max_gradient_norm": float(self.gradient_norms.max()),
                "gradient_tolerance": GRADIENT_TOLERANCE,
                "not_critical": int((self.gradient_norms > GRADIENT_TOLERANCE).sum()),
                # the ones that could win: an optimum outside its type (collapsed onto
                # another, e.g. a weight → 0 with a bias on a kink) is degenerate there, and
                # Newton may stall above the tolerance without it mattering to the diagram
                "not_critical_in_type": int(((self.gradient_norms > GRADIENT_TOLERANCE)
                                             & self.in_type).sum()),
                "winners_not_psd": int(sum(not self.psd[k, i, j]
                                           for (i, j), k in np.ndenumerate(self.winners))),
                "type_optima_not_psd": int((~self.psd).sum()),
                "multistart_points": len(self.checks),
                "multistart_starts": int(sum(c.starts for c in self.checks)),
                "multistart_violations": int(sum(c.violation for c in self.checks)),
                "checks": [{"density": c.density, "ratio": c.ratio, "starts": c.starts,
                            "best_loss": c.best_loss, "winner_loss": c.winner_loss,
                            "violation": c.violation,
                            "best_theta": [float(v) for v in c.best_theta]}
                           for c in self.checks],
            },
            "evaluations": self.evaluations,
        }


class _Solver:
    """Type optima, batched over ratios at one density, warm-started from the nearest solved
    point of the same type (and from the type's own start where that fails)."""

    def __init__(self, types):
        self.types = types
        self.solved: dict[int, list[tuple[float, float, np.ndarray]]] = {
            k: [] for k in range(len(types))}
        self.cache: dict[tuple[int, float, float], TypeOptimum] = {}
        self.cold: set[tuple[int, float, float]] = set()  # solved from the cold starts too

    def _start(self, k: int, density: float, ratio: float) -> np.ndarray:
        near = self.solved[k]
        if not near:
            return self.types[k].initial()
        x, y = math.log(density), math.log(ratio)
        d = [(math.log(a) - x) ** 2 + (math.log(b) - y) ** 2 for a, b, _ in near]
        return near[int(np.argmin(d))][2]

    def column(self, k: int, density: float, ratios: Sequence[float],
               cold: bool = True) -> list[TypeOptimum]:
        """Type k's optima at these ratios: from the warm start and, with ``cold``, also
        from the type's cold starts (the grid, and the checks of boundary points; inside a
        boundary bracket the warm start from the nearest point is tried first). A point solved
        warm is solved again when asked for cold."""
        ratios = np.asarray(ratios, dtype=float)
        todo = [i for i, r in enumerate(ratios)
                if (k, density, float(r)) not in (self.cold if cold else self.cache)]
        if todo:
            kind, S = self.types[k], 1.0 - density
            rs = ratios[todo]
            extra = kind.cold_starts(S) if cold else np.zeros((0, len(kind.variables())))
            starts = np.concatenate([np.array([self._start(k, density, r) for r in rs])[:, None],
                                     np.broadcast_to(extra, (len(rs),) + extra.shape)], axis=1)
            per = starts.shape[1]  # warm start + cold starts, all batched
            flat = _newton(kind, S, np.repeat(rs, per), starts.reshape(len(rs) * per, -1))
            candidates = _check(kind, S, np.repeat(rs, per), flat)
            optima, phi = [], np.zeros((len(rs), flat.shape[1]))
            for t in range(len(rs)):
                best = t * per + _best_of(candidates[t * per:(t + 1) * per])
                optima.append(candidates[best])
                phi[t] = flat[best]
            for t, i in enumerate(todo):
                self.cache[(k, density, float(ratios[i]))] = optima[t]
                if cold:
                    self.cold.add((k, density, float(ratios[i])))
                if _acceptable(optima[t]):
                    self.solved[k].append((density, float(ratios[i]), phi[t]))
        return [self.cache[(k, density, float(r))] for r in ratios]

    def __call__(self, k: int, density: float, ratio: float, cold: bool = True) -> TypeOptimum:
        return self.column(k, density, [ratio], cold)[0]

    def all(self, density: float, ratio: float, cold: bool = True) -> list[TypeOptimum]:
        return [self(k, density, ratio, cold) for k in range(len(self.types))]

    def winners(self, density: float, ratios: Sequence[float], cold: bool = True) -> list[int]:
        columns = [self.column(k, density, ratios, cold) for k in range(len(self.types))]
        return [_winner([c[i] for c in columns]) for i in range(len(ratios))]


def _transition(solver: _Solver, line: Callable[[float], tuple[float, float]], lo: float,
                hi: float, a: int, b: int, rtol: float = 1e-8, cold: bool = False):
    """The change of winner a (at t = lo) → b (at t = hi) along a line t ↦ (density, ratio)
    of the plane (r at one density, or the density at one r; t > 0).

    If both types keep their shape (and are critical) at both ends and L*_a − L*_b changes
    sign, the boundary point is its root (``brentq``, t to 10⁻¹³ relative): kind
    ``"equal-loss"``. Otherwise one of the two types ceases to exist inside the bracket (its
    optimum collapses onto the other type or leaves its shape), and the point is found by
    bisection on which of the two is lower among those that exist, to ``rtol`` in t: kind
    ``"type-ends"`` with the type that ends — unless both exist on either side of the change
    so located and their losses cross there (the type ended elsewhere in the bracket): then
    the root of L*_a − L*_b in that last bisection bracket, ``"equal-loss"``. Returns (kind,
    ended type or None, t, |L*_a − L*_b| at t), or None if a third type wins inside.
    """
    from scipy.optimize import brentq

    def at(k, t):
        return solver(k, *line(t), cold)

    def g(t):
        return at(a, t).loss - at(b, t).loss

    ends = [[_acceptable(at(k, t)) for k in (a, b)] for t in (lo, hi)]
    if all(ends[0]) and all(ends[1]) and g(lo) <= 0 <= g(hi):
        root = brentq(g, lo, hi, xtol=1e-300, rtol=1e-13)
        kind, ended = "equal-loss", None
    else:
        def lower(t):  # a, b or None (neither exists: cannot happen between two winners)
            okay = [k for k in (a, b) if _acceptable(at(k, t))]
            return min(okay, key=lambda k: at(k, t).loss) if okay else None
        x, y = math.log(lo), math.log(hi)
        while y - x > rtol:
            mid = (x + y) / 2
            if lower(math.exp(mid)) == b:
                y = mid
            else:
                x = mid
        root = math.exp((x + y) / 2)
        kind = "type-ends"
        gone = [k for k, at_lo, at_hi in zip((a, b), *ends) if at_lo != at_hi]
        ended = gone[0] if gone else None
        # A type that ends inside the bracket need not end where the winner changes: if both
        # exist on either side of the located change and their losses cross there, it is an
        # equal-loss point (the type ended elsewhere in the bracket).
        lo, hi = math.exp(x), math.exp(y)
        if (all(_acceptable(at(k, t)) for k in (a, b) for t in (lo, hi))
                and g(lo) <= 0 <= g(hi)):
            root = brentq(g, lo, hi, xtol=1e-300, rtol=1e-13)
            kind, ended = "equal-loss", None
    at_root = solver.all(*line(root), cold=cold)
    existing = [o.loss for o in at_root if _acceptable(o)]
    if existing and min(at_root[a].loss, at_root[b].loss) > min(existing) + 1e-11:
        return None
    return kind, ended, root, abs(g(root))


def _boundary_points(solver: _Solver, line: Callable[[float], tuple[float, float]],
                     grid: np.ndarray, winners: list[int],
                     winners_at: Callable[[np.ndarray], list[int]], subdivisions: int = 4,
                     rtol: float = 1e-8) -> list[tuple]:
    """Boundary points along one line of the plane (see :func:`_transition`) sampled at
    ``grid`` (ascending t) with these winners: each change of winner between grid points is
    narrowed on a sub-grid (``winners_at(sub)``: batched along r), then located by
    :func:`_transition`. Returns ``((a, b, kind, ended), (density, ratio), gap)`` per
    point."""
    found = []
    for i in range(len(grid) - 1):
        if winners[i] == winners[i + 1]:
            continue
        sub = np.geomspace(grid[i], grid[i + 1], subdivisions + 1)
        sub_winners = winners_at(sub)
        for s in range(subdivisions):
            a, b = sub_winners[s], sub_winners[s + 1]
            if a == b:
                continue
            lo, hi = float(sub[s]), float(sub[s + 1])
            point = _transition(solver, line, lo, hi, a, b, rtol)
            if point is not None and not _confirmed(solver, line, point[2], a, b, rtol):
                # the warm starts followed another branch somewhere in the bracket (e.g. the
                # mirror image of an unequal pair): locate the change again from cold starts
                a, b = (_winner(solver.all(*line(t), cold=True)) for t in (lo, hi))
                point = None if a == b else _transition(solver, line, lo, hi, a, b, rtol,
                                                        cold=True)
            if point is not None:
                kind, ended, root, gap = point
                found.append(((min(a, b), max(a, b), kind, ended), line(root), gap))
    return found


def _confirmed(solver: _Solver, line: Callable[[float], tuple[float, float]], root: float,
               a: int, b: int, rtol: float) -> bool:
    """Whether every type solved from its cold starts too puts winner a just below the located
    point and b just above it (offsets of max(10·rtol, 10⁻⁶) in log t)."""
    offset = max(10 * rtol, 1e-6)
    below, above = root * math.exp(-offset), root * math.exp(offset)
    return (_winner(solver.all(*line(below), cold=True)) == a
            and _winner(solver.all(*line(above), cold=True)) == b)


def phase_diagram(n: int, m: int, densities: Sequence[float], ratios: Sequence[float],
                  boundary_densities: Sequence[float] = (), multistart_points: int = 0,
                  multistart_starts: int = 8, seed: int = 0,
                  progress: Callable[[str], None] | None = None,
                  boundary_rtol: float = 1e-8) -> PhaseDiagram:
    """The phase diagram of the (n, m) TMS over densities × ratios.

    Parameters
    ----------
    n, m : int
        Features and hidden dimensions; (2, 1) or (3, 2).
    densities : sequence of float
        Feature densities 1 − S in (0, 1].
    ratios : sequence of float
        Importances r > 0 of the last feature.
    boundary_densities : sequence of float
        The fine density grid of the boundary curves: at each of these densities the
        boundary points are roots in r, and at each ratio of ``ratios`` roots in density
        between these densities (boundaries along r, which have no root in r).
    multistart_points : int
        How many grid points (evenly spread) to check by multi-start over the full (W, b).
    multistart_starts : int
        Random starts per checked point.
    seed : int
    progress : callable, optional
    boundary_rtol : float
        Relative accuracy (in r, or in density) of the "type-ends" boundary points
        (bisection); equal-loss points are roots to 10⁻¹³.

    Returns
    -------
    PhaseDiagram
    """
    from scipy.optimize import minimize

    types = configuration_types(n, m)
    say = progress or (lambda message: None)
    densities = np.asarray(densities, dtype=float)
    ratios = np.asarray(ratios, dtype=float)
    solver = _Solver(types)
    T, R, D = len(types), len(ratios), len(densities)
    losses = np.zeros((T, R, D))
    in_type = np.zeros((T, R, D), dtype=bool)
    gradients = np.zeros((T, R, D))
    psd = np.zeros((T, R, D), dtype=bool)
    winners = np.zeros((R, D), dtype=int)
    for j in range(D - 1, -1, -1):  # dense first, each column warm-started from the last
        for k in range(T):
            for i, o in enumerate(solver.column(k, float(densities[j]), ratios)):
                losses[k, i, j], in_type[k, i, j] = o.loss, o.in_type
                gradients[k, i, j], psd[k, i, j] = o.gradient_norm, o.psd
        for i in range(R):
            winners[i, j] = _winner([solver(k, float(densities[j]), ratios[i])
                                     for k in range(T)])
        say(f"phase-diagram: density {densities[j]:.4g} ({D - j}/{D}): winners "
            + ", ".join(sorted({types[k].name for k in winners[:, j]})))

    curves: dict[tuple, list[tuple[float, float, float]]] = {}
    fine = sorted({float(x) for x in boundary_densities} | {float(x) for x in densities},
                  reverse=True)
    along_density = np.zeros((R, len(fine)), dtype=int)
    for step, x in enumerate(fine):
        column = solver.winners(x, ratios)
        along_density[:, step] = column
        for pair, (_, root), gap in _boundary_points(
                solver, lambda r, x=x: (x, r), ratios, column,
                lambda sub, x=x: solver.winners(x, sub, cold=False), rtol=boundary_rtol):
            curves.setdefault(pair, []).append((x, root, gap))
        if (step + 1) % 10 == 0 or step + 1 == len(fine):
            say(f"phase-diagram: boundaries at {step + 1}/{len(fine)} densities")
    # Boundaries that run along r (the losses of both types independent of r, e.g. where the
    # last feature is dedicated) have no root in r: they are roots in density at each ratio.
    ascending = np.array(fine[::-1])
    for i, r in enumerate(ratios):
        for pair, (x, _), gap in _boundary_points(
                solver, lambda d, r=float(r): (d, r), ascending, list(along_density[i, ::-1]),
                lambda sub, r=float(r): [_winner(solver.all(float(d), r, cold=False))
                                         for d in sub], rtol=boundary_rtol):
            curves.setdefault(pair, []).append((x, float(r), gap))
    say(f"phase-diagram: boundaries in density at {R} ratios")
    # ordered by density, and along r where the density agrees (a boundary along r)
    boundaries = [Boundary((types[a].name, types[b].name),
                           [(x, r) for x, r, _ in sorted(points,
                                                         key=lambda p: (round(p[0], 9), p[1]))],
                           max(gap for *_, gap in points), kind,
                           None if ended is None else types[ended].name)
                  for (a, b, kind, ended), points in sorted(curves.items(), key=str)]

    checks = []
    rng = np.random.default_rng(seed)
    cells = [(i, j) for i in range(R) for j in range(D)]
    chosen = np.linspace(0, len(cells) - 1, multistart_points).round().astype(int) \
        if multistart_points else []
    for c in chosen:
        i, j = cells[c]
        evaluate = _evaluator(m, n, 1.0 - float(densities[j]), 1)

        def value_gradient(theta, evaluate=evaluate, r=ratios[i]):
            L, g = evaluate(theta, [r])
            return float(L[0]), g[0]

        best, best_theta = math.inf, np.zeros(m * n + n)
        for _ in range(multistart_starts):
            theta0 = np.concatenate([rng.normal(0, 1, m * n), rng.normal(0, 0.2, n)])
            result = minimize(value_gradient, theta0, jac=True, method="L-BFGS-B",
                              options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-10})
            if float(result.fun) < best:
                best, best_theta = float(result.fun), result.x
        winner_loss = float(losses[winners[i, j], i, j])
        checks.append(MultiStartCheck(float(densities[j]), float(ratios[i]), multistart_starts,
                                      best, winner_loss, bool(best < winner_loss - 1e-9),
                                      list(best_theta)))
    if checks:
        say(f"phase-diagram: multi-start at {len(checks)} points, "
            f"{sum(c.violation for c in checks)} lower than the winning type")
    return PhaseDiagram(n, m, types, densities, ratios, losses, in_type, gradients, psd,
                        winners, boundaries, checks, len(solver.cache))
